"""Reading and checking manifests: ``algorithm.yaml``, ``model.yaml`` and a packed
workflow's steps (SPEC §4, P6), and hyperparameters against them (U2).

Both sides use it: the kernel when it packs a local source or starts a job, the
gallery when it receives a packed source it must not trust. Every error names the
file and the field, so a publisher can fix it at once.
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
STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
REFERENCE = re.compile(r"^([A-Za-z0-9_-]{6,64})@(\d+\.\d+\.\d+)$")  # a gallery algorithm version
MAX_STEPS = 100
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}


def amount(text) -> float | None:
    """A resource amount as a number: '4GiB' → 4294967296.0, '2' → 2.0; None if unreadable."""
    match = _SIZE.match(str(text))
    if not match:
        return None
    unit = (match.group(2) or "").upper().rstrip("B")
    return float(match.group(1)) * _UNITS.get(unit, 1)


def load_yaml(path: Path) -> dict:
    """The manifest file as a mapping: UTF-8 YAML whose strings are all valid text.

    Raises:
        InvalidInput: the file is missing, unreadable, not UTF-8, not YAML, not a mapping,
            or holds a NUL, control character or unpaired surrogate (the field is named).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path} is missing; a source folder needs it (see the README's manifest format).") from None
    except OSError as exc:
        raise InvalidInput(f"{path} cannot be read ({exc.strerror or exc}); check its permissions.") from None
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save it as UTF-8 in your "
            "editor (it was probably written as Latin-1 or Windows-1252)."
        ) from None
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a mapping of fields (name, entrypoint, ...).")
    return data


def _check_strings(where: str, data: dict) -> None:
    """Every string in a manifest (keys too) must be storable text (no NUL, no control
    characters, no unpaired surrogates: YAML escapes such as "\\0" or "\\ud800" make them)."""
    from .core.validate import plain_data

    try:
        plain_data("manifest", data)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from None


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
        if not isinstance(name, str) or not _IDENT.fullmatch(name):
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
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not _IDENT.fullmatch(item["name"]):
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
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        _fail(where, "name", f"must be 1-100 letters, digits, '_', '-', '.' or spaces, not {value!r}.")
    return value


def entrypoint(where: str, field: str, value) -> str:
    if not isinstance(value, str) or not _ENTRY.fullmatch(value):
        _fail(where, field, f"must be 'module:function' (for example 'train:main'), not {value!r}.")
    return value


def algorithm_manifest(data: dict, where: str) -> dict:
    _check_strings(where, data)
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
    _check_strings(where, data)
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


def local_name(what: str, value) -> str:
    """A workflow's local name or a workspace: 1-64 letters, digits, '_' or '-', starting with a letter or '_'."""
    if not isinstance(value, str) or not STEP_NAME.fullmatch(value):
        raise InvalidInput(f"{what} {value!r} must be 1-64 letters, digits, '_' or '-', starting with a letter or '_'.")
    return value


def check_params(manifest: dict, params) -> dict:
    """The full hyperparameters (defaults filled in), or InvalidInput naming the bad field."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidInput("params must be a dict of hyperparameter name -> value.")
    declared = {p["name"]: p for p in manifest.get("hyperparameters", [])}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise InvalidInput(
            f"Unknown hyperparameter(s) {', '.join(map(str, unknown))} for {manifest['name']}; "
            f"it takes: {', '.join(declared) or 'none'}."
        )
    result = {}
    for name, spec in declared.items():
        if name in params and params[name] is not None:
            result[name] = check_value("hyperparameters", name, spec, params[name])
        elif spec.get("default") is not None:
            result[name] = spec["default"]
        elif spec.get("required"):
            raise InvalidInput(f"hyperparameters: field '{name}' is required ({spec['type']}); pass params={{'{name}': …}}.")
        else:
            result[name] = None
    return result


def step_order(steps, depends_on) -> list:
    """Steps in dependency order, or InvalidInput naming a cycle. ``depends_on(step)`` → names;
    a step is anything with a ``name`` attribute or a ``"name"`` key."""
    def name_of(step):
        return step["name"] if isinstance(step, dict) else step.name

    by_name = {name_of(s): s for s in steps}
    order, state = [], {}

    def visit(step, path):
        name = name_of(step)
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join(path[path.index(name):] + [name])
            raise InvalidInput(f"The workflow's steps form a cycle: {cycle}. Remove one of these wires.")
        state[name] = "visiting"
        for other in depends_on(step):
            visit(by_name[other], path + [name])
        state[name] = "done"
        order.append(step)

    for step in steps:
        visit(step, [])
    return order


def workflow_manifest(data, where: str, local_keys=()) -> dict:
    """A packed workflow's manifest, checked: ``{"kind": "workflow", "name", "steps"}`` with
    the steps in dependency order. Each step is ``{"name", "algorithm", "params", "inputs"}``:
    ``algorithm`` a gallery reference ``"content_id@x.y.z"`` or ``{"local": key}`` with
    ``key`` in ``local_keys``; each input ``{"step": name, "output": name}`` (an earlier
    step's output) or ``{"path": text}``."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{where} must be a mapping with kind, name and steps.")
    unknown = set(data) - {"kind", "name", "steps"}
    if unknown:
        raise InvalidInput(f"{where}: unknown fields {sorted(map(str, unknown))}; known fields are kind, name, steps.")
    if data.get("kind", "workflow") != "workflow":
        _fail(where, "kind", f"must be 'workflow', not {data.get('kind')!r}.")
    workflow_name = name(where, data.get("name"))
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InvalidInput(f"Workflow {workflow_name!r} needs at least one step.")
    if len(steps) > MAX_STEPS:
        _fail(where, "steps", f"holds {len(steps)} steps; a workflow has at most {MAX_STEPS}.")
    checked = [_step(where, index, step, set(local_keys)) for index, step in enumerate(steps)]
    names = [s["name"] for s in checked]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"Workflow {workflow_name!r} repeats step name(s) {', '.join(duplicates)}; names must be unique.")
    for step in checked:
        for key, value in step["inputs"].items():
            if "step" in value and value["step"] not in names:
                raise InvalidInput(
                    f"Step {step['name']!r}: input {key!r} is wired to step {value['step']!r}, which is not in this workflow."
                )
    ordered = step_order(checked, lambda s: [v["step"] for v in s["inputs"].values() if "step" in v])
    return {"kind": "workflow", "name": workflow_name, "steps": ordered}


def _step(where: str, index: int, step, local_keys: set) -> dict:
    here = f"steps[{index}]"
    if not isinstance(step, dict):
        _fail(where, here, "must be a mapping with name, algorithm, params and inputs.")
    unknown = set(step) - {"name", "algorithm", "params", "inputs"}
    if unknown:
        _fail(where, here, f"has unknown keys {sorted(map(str, unknown))}.")
    step_name = step.get("name")
    if not isinstance(step_name, str) or not STEP_NAME.fullmatch(step_name):
        raise InvalidInput(f"Step name {step_name!r} must be an identifier-like name (letters, digits, _ or -).")
    algorithm = step.get("algorithm")
    if isinstance(algorithm, dict) and set(algorithm) == {"local"}:
        if algorithm["local"] not in local_keys:
            raise InvalidInput(f"Step {step_name!r}: local algorithm {algorithm['local']!r} was not packed with the workflow.")
        algorithm = {"local": algorithm["local"]}
    elif not isinstance(algorithm, str) or not REFERENCE.fullmatch(algorithm):
        raise InvalidInput(
            f"Step {step_name!r}: algorithm {algorithm!r} must be a gw.Algorithm or a gallery reference 'content_id@x.y.z'."
        )
    params, inputs = step.get("params", {}), step.get("inputs", {})
    if not isinstance(params, dict) or not isinstance(inputs, dict):
        raise InvalidInput(f"Step {step_name!r}: params and inputs must be dicts.")
    checked_inputs = {}
    for key, value in inputs.items():
        if isinstance(value, dict) and set(value) == {"step", "output"} and all(isinstance(v, str) for v in value.values()):
            checked_inputs[str(key)] = {"step": value["step"], "output": value["output"]}
        elif isinstance(value, dict) and set(value) == {"path"} and isinstance(value["path"], str):
            checked_inputs[str(key)] = {"path": value["path"]}
        else:
            raise InvalidInput(
                f"Step {step_name!r}: input {key!r} must be a path or other_step.output('name'), not {value!r}."
            )
    return {"name": step_name, "algorithm": algorithm, "params": dict(params), "inputs": checked_inputs}
