"""The category taxonomy, shipped as data and extensible by config (SPEC §2)."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from ..errors import InvalidInput


@lru_cache(maxsize=None)
def _load(extra_path: str | None) -> dict[str, tuple[str, ...]]:
    text = resources.files("gallery_widgets.data").joinpath("taxonomy.yaml").read_text("utf-8")
    tree: dict[str, list[str]] = {k: list(v) for k, v in yaml.safe_load(text).items()}
    if extra_path:
        for dimension, leaves in _extra(Path(extra_path)).items():
            known = tree.setdefault(dimension, [])
            known.extend(leaf for leaf in leaves if leaf not in known)
    return {k: tuple(v) for k, v in tree.items()}


def _extra(path: Path) -> dict[str, list[str]]:
    """The categories of the ``GALLERY_TAXONOMY`` file, checked: a mapping of
    ``Dimension: [Leaf, …]`` in UTF-8 YAML whose names are plain one-line text."""
    from .validate import characters

    where = f"GALLERY_TAXONOMY file {str(path)!r}"
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
    except OSError as exc:
        raise InvalidInput(f"The {where} cannot be read ({exc.strerror or exc}); fix or unset GALLERY_TAXONOMY.") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"The {where} is not UTF-8 text; save it as UTF-8.") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"The {where} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise InvalidInput(f"The {where} must map each dimension to a list of leaves, like 'Industry: [Mining]'.")
    result: dict[str, list[str]] = {}
    for dimension, leaves in data.items():
        names = [str(dimension), *(str(leaf) for leaf in leaves)]
        for name in names:
            characters(f"A category name in the {where}", name)
            if "/" in name or "\n" in name or not name.strip():
                raise InvalidInput(f"The {where} has the category name {name!r}: use one line without '/'.")
        result[names[0]] = names[1:]
    return result


def taxonomy() -> dict[str, tuple[str, ...]]:
    """Dimensions and their leaves; ``GALLERY_TAXONOMY`` names a YAML file that adds more."""
    return _load(os.environ.get("GALLERY_TAXONOMY") or None)


def all_categories() -> tuple[str, ...]:
    return tuple(f"{dim}/{leaf}" for dim, leaves in taxonomy().items() for leaf in leaves)


def validate_categories(categories) -> tuple[str, ...]:
    """Return the categories de-duplicated in order, or raise naming the unknown ones."""
    if isinstance(categories, str):
        categories = (categories,)
    known = set(all_categories())
    result: list[str] = []
    for category in categories or ():
        if not isinstance(category, str):
            raise InvalidInput(f"A category must be a string like 'Scenario/Robot', not {category!r}.")
        category = category.strip()
        if category not in known:
            dims = ", ".join(taxonomy())
            raise InvalidInput(
                f"Unknown category {category!r}. Use 'Dimension/Leaf' from the taxonomy "
                f"(dimensions: {dims}); gw.categories() lists them all."
            )
        if category not in result:
            result.append(category)
    if len(result) > 20:
        raise InvalidInput("An asset can have at most 20 categories; pick the ones that describe it best.")
    return tuple(result)
