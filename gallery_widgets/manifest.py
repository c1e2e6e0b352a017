"""Reading and checking ``algorithm.yaml`` and ``model.yaml`` (SPEC §4).

Every error names the file and the field, so a publisher can fix it at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .errors import InvalidInput

PARAM_TYPES = {"int": int, "float": float, "str": str, "bool": bool}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-. ]{0,99}$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{path} is missing; a source folder needs it (see the README's manifest format).") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a mapping of fields (name, entrypoint, ...).")
    return data


def _fail(where: str, field: str, message: str):
    raise InvalidInput(f"{where}: field '{field}' {message}")


def check_value(where: str, field: str, spec: dict, value: Any) -> Any:
    """Check one hyperparameter value against its declaration; return it converted."""
    kind = PARAM_TYPES[spec["type"]]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is not bool and isinstance(value, bool) or not isinstance(value, kind):
        _fail(where, field, f"must be of type {spec['type']}, not {value!r}.")
    if spec.get("range") is not None:
        lo, hi = spec["range"]
        if not lo <= value <= hi:
            _fail(where, field, f"must be between {lo} and {hi}, not {value!r}.")
    if spec.get("choices") is not None and value not in spec["choices"]:
        _fail(where, field, f"must be one of {spec['choices']!r}, not {value!r}.")
    return value


def _hyperparameters(where: str, items) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list):
        _fail(where, "hyperparameters", "must be a list of {name, type, default, ...}.")
    result, seen = [], set()
    for index, item in enumerate(items):
        here = f"hyperparameters[{index}]"
        if not isinstance(item, dict):
            _fail(where, here, "must be a mapping with name and type.")
        unknown = set(item) - {"name", "type", "default", "required", "range", "choices", "description"}
        if unknown:
            _fail(where, here, f"has unknown keys {sorted(unknown)}.")
        name = item.get("name")
        if not isinstance(name, str) or not _IDENT.match(name):
            _fail(where, f"{here}.name", f"must be a Python identifier, not {name!r}.")
        if name in seen:
            _fail(where, f"{here}.name", f"repeats {name!r}; hyperparameter names must be unique.")
        seen.add(name)
        ptype = item.get("type")
        if ptype not in PARAM_TYPES:
            _fail(where, f"{name}.type", f"must be one of int, float, str, bool, not {ptype!r}.")
        if not isinstance(item.get("required", False), bool):
            _fail(where, f"{name}.required", f"must be true or false, not {item['required']!r}.")
        spec = {
            "name": name,
            "type": ptype,
            "required": bool(item.get("required", False)),
            "description": str(item.get("description") or ""),
            "range": None,
            "choices": None,
            "default": None,
        }
        if item.get("range") is not None:
            rng = item["range"]
            if (
                ptype not in ("int", "float")
                or not isinstance(rng, list)
                or len(rng) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in rng)
                or rng[0] > rng[1]
            ):
                _fail(where, f"{name}.range", "must be [low, high] numbers (low <= high) on an int or float.")
            spec["range"] = list(rng)
        if item.get("choices") is not None:
            choices = item["choices"]
            if not isinstance(choices, list) or not choices:
                _fail(where, f"{name}.choices", "must be a non-empty list.")
            spec["choices"] = [check_value(where, f"{name}.choices", {**spec, "choices": None}, c) for c in choices]
        if item.get("default") is not None:
            spec["default"] = check_value(where, f"{name}.default", spec, item["default"])
        result.append(spec)
    return result


def _ports(where: str, field: str, items) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list):
        _fail(where, field, "must be a list of {name, description}.")
    result, seen = [], set()
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not _IDENT.match(item["name"]):
            _fail(where, f"{field}[{index}].name", "must be an identifier.")
        if item["name"] in seen:
            _fail(where, f"{field}[{index}].name", f"repeats {item['name']!r}.")
        seen.add(item["name"])
        result.append({"name": item["name"], "description": str(item.get("description") or "")})
    return result


def requirements(where: str, items) -> list[str]:
    if items is None:
        return []
    if isinstance(items, str) or not isinstance(items, list):
        _fail(where, "requirements", "must be a list of pip requirement strings like 'numpy>=1.24'.")
    result = []
    for item in items:
        try:
            result.append(str(Requirement(str(item))))
        except InvalidRequirement as exc:
            _fail(where, "requirements", f"holds {item!r}, which is not a pip requirement: {exc}")
    return result


def python_spec(where: str, value) -> str | None:
    if value is None or value == "":
        return None
    try:
        return str(SpecifierSet(str(value)))
    except InvalidSpecifier:
        _fail(where, "python", f"must be a version specifier like '>=3.10', not {value!r}.")


def resources(where: str, value) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(where, "resources", "must be a mapping like {cpu: 2, memory: 4GiB}.")
    return {str(k): str(v) for k, v in value.items()}


def name(where: str, value) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        _fail(where, "name", f"must be 1-100 letters, digits, '_', '-', '.' or spaces, not {value!r}.")
    return value


def entrypoint(where: str, field: str, value) -> str:
    if not isinstance(value, str) or not _ENTRY.match(value):
        _fail(where, field, f"must be 'module:function' (for example 'train:main'), not {value!r}.")
    return value


def algorithm_manifest(data: dict, where: str) -> dict:
    known = {"name", "entrypoint", "hyperparameters", "inputs", "outputs", "requirements", "python",
             "resources", "description"}
    unknown = set(data) - known
    if unknown:
        raise InvalidInput(f"{where}: unknown fields {sorted(unknown)}; known fields are {sorted(known)}.")
    return {
        "kind": "algorithm",
        "name": name(where, data.get("name")),
        "entrypoint": entrypoint(where, "entrypoint", data.get("entrypoint")),
        "hyperparameters": _hyperparameters(where, data.get("hyperparameters")),
        "inputs": _ports(where, "inputs", data.get("inputs")),
        "outputs": _ports(where, "outputs", data.get("outputs")),
        "requirements": requirements(where, data.get("requirements")),
        "python": python_spec(where, data.get("python")),
        "resources": resources(where, data.get("resources")),
        "description": str(data.get("description") or ""),
    }


def model_manifest(data: dict, where: str) -> dict:
    known = {"name", "loader", "requirements", "python", "resources", "description"}
    unknown = set(data) - known
    if unknown:
        raise InvalidInput(f"{where}: unknown fields {sorted(unknown)}; known fields are {sorted(known)}.")
    return {
        "kind": "model",
        "name": name(where, data.get("name")),
        "loader": entrypoint(where, "loader", data.get("loader")),
        "requirements": requirements(where, data.get("requirements")),
        "python": python_spec(where, data.get("python")),
        "resources": resources(where, data.get("resources")),
        "description": str(data.get("description") or ""),
    }
