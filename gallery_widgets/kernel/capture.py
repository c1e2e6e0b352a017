"""``gw.Algorithm.from_function``: a function written in a notebook cell becomes a
publishable algorithm. Its source is captured with the imports, constants and
helper functions of the notebook that it uses, so it runs the same way after publishing.
"""

from __future__ import annotations

import dis
import inspect
import textwrap
import types

from ..errors import InvalidInput

_SIMPLE = (int, float, str, bool, bytes, type(None))


_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})  # LOAD_NAME: globals read in a class body


def _global_names(code: types.CodeType) -> set[str]:
    """The global names ``code`` reads. ``co_names`` also lists attribute names (``path.write_text``),
    which must not pull in a notebook variable that merely shares the name."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname in _GLOBAL_LOADS}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _is_simple(value) -> bool:
    if isinstance(value, _SIMPLE):
        return True
    if isinstance(value, (tuple, list, frozenset, set)):
        return all(_is_simple(v) for v in value)
    if isinstance(value, dict):
        return all(_is_simple(k) and _is_simple(v) for k, v in value.items())
    return False


def _source_of(obj, what: str) -> str:
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        raise InvalidInput(
            f"The source of {what} cannot be read; define it in a notebook cell or a .py file "
            "(functions typed at a plain Python prompt have no source)."
        ) from None


def capture_function(fn) -> str:
    """One module's source: the imports, constants and helpers ``fn`` uses, then ``fn``."""
    if not inspect.isfunction(fn):
        raise InvalidInput(f"from_function needs a Python function, not {type(fn).__name__}.")
    if fn.__name__ == "<lambda>":
        raise InvalidInput("from_function needs a function defined with def, not a lambda.")
    imports: list[str] = []
    constants: list[str] = []
    helpers: list[str] = []
    seen: set[int] = {id(fn)}
    problems: list[str] = []

    def visit(function):
        for name in sorted(_global_names(function.__code__)):
            if name not in function.__globals__:
                continue  # a builtin, or an attribute name (obj.name): nothing to capture
            value = function.__globals__[name]
            if isinstance(value, types.ModuleType):
                line = f"import {value.__name__}" if value.__name__ == name else f"import {value.__name__} as {name}"
                imports.append(line)
            elif (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == function.__module__:
                if id(value) not in seen:
                    seen.add(id(value))
                    helpers.append(_source_of(value, name))
                    if inspect.isfunction(value):
                        visit(value)
                    else:  # a helper class: what its methods use is needed too
                        for method in _methods(value):
                            visit(method)
            elif hasattr(value, "__module__") and hasattr(value, "__qualname__") and value.__module__ not in (None, "__main__"):
                qualname = value.__qualname__
                if "." in qualname or "<" in qualname:
                    problems.append(name)
                    continue
                line = f"from {value.__module__} import {qualname}"
                imports.append(line if qualname == name else f"{line} as {name}")
            elif _is_simple(value):
                constants.append(f"{name} = {value!r}")
            else:
                problems.append(name)

    visit(fn)
    if problems:
        raise InvalidInput(
            f"{fn.__name__} uses notebook variable(s) {', '.join(sorted(set(problems)))} that cannot be packed "
            "with it; pass them as hyperparameters or inputs, or define them inside the function."
        )
    parts = [
        f'"""Captured from the notebook function {fn.__name__} by gallery_widgets."""',
        "\n".join(sorted(set(imports))),
        "\n".join(sorted(set(constants))),
        *helpers,
        _source_of(fn, fn.__name__),
    ]
    return "\n\n".join(p for p in parts if p.strip()) + "\n"


def _methods(cls) -> list:
    """The plain functions behind a class's methods, static/class methods and properties."""
    found = []
    for member in vars(cls).values():
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property):
            found.extend(f for f in (member.fget, member.fset, member.fdel) if inspect.isfunction(f))
        elif inspect.isfunction(member):
            found.append(member)
    return found


def hyperparameters_from(spec) -> list:
    """Accept the manifest's list form, or a dict of name -> default (type inferred)."""
    if spec is None or isinstance(spec, list):
        return spec or []
    if isinstance(spec, dict):
        result = []
        for name, default in spec.items():
            kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(default))
            if kind is None:
                raise InvalidInput(
                    f"hyperparameter {name!r}: a default of type {type(default).__name__} cannot be inferred; "
                    "use the list form [{name, type, default, ...}]."
                )
            result.append({"name": name, "type": kind, "default": default})
        return result
    raise InvalidInput("hyperparameters must be a list of {name, type, default, ...} or a dict of name -> default.")
