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
        extra = yaml.safe_load(Path(extra_path).read_text("utf-8")) or {}
        for dimension, leaves in extra.items():
            known = tree.setdefault(str(dimension), [])
            known.extend(str(leaf) for leaf in leaves if str(leaf) not in known)
    return {k: tuple(v) for k, v in tree.items()}


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
