"""Pickled files, walked opcode by opcode and never loaded.

A small model of the unpickler follows the stack and the memo closely enough to name
every callable a pickle imports, including names built from memoized strings
(STACK_GLOBAL) and ``getattr(SomeClass, "name")`` calls, which is how pickle spells
class methods such as ``ZoneInfo._unpickle``. Each import is then judged by
``pickle_policy``.

joblib files hold numpy arrays inline: after the BUILD of a ``NumpyArrayWrapper``
joblib reads the array bytes (or a nested pickle, for object arrays) and only then goes
on with the pickle. The model knows the wrapper's shape and dtype, so it skips exactly
those bytes and walks on; it also walks the file the way ``pickle.load`` would (which
reads those bytes as opcodes), so a file cannot hide a call from either loader.
"""

from __future__ import annotations

import ast
import io
import pickletools
import re
import struct
from dataclasses import dataclass, field

from ..entities import Finding
from . import pickle_policy
from .common import MAX_PICKLE_BYTES, MiB, READ_ERRORS, Reader

# Names that say "pickle" whatever the bytes (protocols 0 and 1 have no header). Names that
# may also hold raw tensors (.bin, .pt, .pth, .ckpt) are pickles when their bytes say so.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".pck")
# Names of model files that are often protocol 0/1 pickles, and as often raw bytes: walked as
# pickles, and reported only when the walk shows they are (they import something).
MAYBE_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".p", ".sav", ".dat", ".data", ".model", ".mdl")
NPY_MAGIC = b"\x93NUMPY"


def has_pickle_header(data: bytes) -> bool:
    """Protocol 2 and later start with PROTO n."""
    return len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5


@dataclass
class PickleScan:
    """What one pickled file (or stream inside one) imports, and what that means."""

    findings: list[Finding] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)  # "module.name" of every resolved import


def scan_pickle(file: str, open_stream, *, where: str = "", back_to_back: bool = True,
                sniff: bool = False) -> PickleScan:
    """Walk the pickle(s) that ``open_stream()`` reads; it is called once more for joblib files.

    ``where`` says which part of ``file`` this is, for messages ("(compressed)", ...).
    ``sniff``: the file may not be a pickle at all; say nothing unless it imports something.
    """
    plain = _Walk(open_stream(), joblib=False, back_to_back=back_to_back)
    plain.run()
    if sniff and not plain.imports and not plain.saw_wrapper:
        return PickleScan()
    walks = [plain]
    if plain.saw_wrapper:
        # A joblib file: joblib.load reads array bytes where pickle.load reads opcodes.
        joblib = _Walk(open_stream(), joblib=True, back_to_back=back_to_back)
        joblib.run()
        walks.append(joblib)
    result = PickleScan()
    seen: set[str] = set()
    for walk in walks:
        for offset, module, name in walk.imports:
            what = f"{module}.{name}" if module is not None else name
            # Past joblib's first array, pickle.load reads array bytes (or a nested pickle,
            # against the wrong memo) as opcodes: only what would be dangerous there counts.
            late = walk is plain and plain.saw_wrapper and offset > plain.wrapper_offset
            if late and not plain.late_evidence(offset, module, name):
                continue
            finding = _judge(file, where, offset, module, name, what)
            if module is not None:
                result.imports.add(".".join(pickle_policy.normalise(module, name)))
            if what in seen:
                continue
            seen.add(what)
            if finding is not None:
                result.findings.append(finding)
    # pickle.load stops at a corrupt opcode, so a plain walk that fails after joblib's
    # first array is expected; the joblib walk must then get through the whole file.
    failed = walks[-1]
    if failed.error is not None:
        result.findings.append(_unreadable(file, where, failed))
    return result


def _judge(file, where, offset, module, name, what) -> Finding | None:
    if module is None:
        level, why = pickle_policy.BLOCKED, "what it imports cannot be known without running the file"
    else:
        level, why = pickle_policy.verdict(module, name)
    if level == pickle_policy.SAFE:
        return None
    if level == pickle_policy.UNREVIEWED:
        return Finding(
            file, None, "pickle-unreviewed", "medium",
            f"the pickle{where} imports {what} (byte {offset}), which the gallery has not reviewed: loading the "
            "file runs that library's code, so it is as safe as the library. Subscribers are shown this import; "
            "if the library is not needed to load the file, save plain data (arrays, tensors, dicts) instead.",
        )
    return Finding(
        file, None, "pickle-global", "high",
        f"the pickle{where} imports {what} (byte {offset}) and loading the file calls it: {why}. "
        "Save weights and data as arrays or tensors (safetensors, .npy, a torch state_dict, joblib of plain "
        "estimators) instead of pickled objects that call such functions.",
    )


def _unreadable(file: str, where: str, walk: "_Walk") -> Finding:
    exhausted = getattr(walk.stream, "exhausted", False)
    if exhausted:
        reason = (f"the scan stops after {MAX_PICKLE_BYTES // MiB} MiB decompressed; save it uncompressed, "
                  "whose arrays the scan skips without reading them")
    else:
        reason = str(walk.error) or type(walk.error).__name__
    if walk.imports or walk.saw_wrapper:
        # It imports things, so it is a pickle; what follows the error may call anything when
        # loaded by a loader that reads on (joblib, torch), and was not checked.
        return Finding(
            file, None, "pickle-unreadable", "high",
            f"the pickle{where} could not be read to its end ({reason}), so what follows was not checked. "
            "Re-save it with pickle, joblib or torch (better: as safetensors or .npy); a file that cannot be "
            "checked cannot be published.",
        )
    return Finding(
        file, None, "pickle-unreadable", "medium",
        f"could not be read as a pickle{where} ({reason}); nothing in it is imported before that point, so "
        "pickle.load cannot run anything from it. If it is a pickle, re-save it; if it is not, give it a name "
        "that does not end in " + ", ".join(PICKLE_SUFFIXES) + ".",
    )


# --- npy ------------------------------------------------------------------------------------------------------


def npy_object_offset(data: bytes) -> int | None:
    """Where the pickle of an object array starts in an .npy file, or None when it holds no objects.

    ``numpy.load(allow_pickle=True)`` unpickles what follows the header when the dtype
    holds Python objects. Raises ValueError when the header cannot be read.
    """
    if not data.startswith(NPY_MAGIC) or len(data) < 10:
        raise ValueError("not an .npy file")
    major = data[6]
    if major == 1:
        (length,), start = struct.unpack("<H", data[8:10]), 10
    elif major in (2, 3):
        (length,), start = struct.unpack("<I", data[8:12]), 12
    else:
        raise ValueError(f"unknown .npy format version {major}")
    if length > 1 * MiB or start + length > len(data):
        raise ValueError("the .npy header is cut off")
    header = ast.literal_eval(data[start:start + length].decode("utf-8" if major == 3 else "latin1"))
    if not isinstance(header, dict) or "descr" not in header:
        raise ValueError("the .npy header has no dtype")
    return start + length if _holds_objects(header["descr"]) else None


def _holds_objects(descr) -> bool:
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(_holds_objects(part[1]) for part in descr if isinstance(part, (list, tuple)) and len(part) > 1)
    raise ValueError(f"unknown .npy dtype {descr!r}")


# --- the walk ----------------------------------------------------------------------------------------------------


class _Unknown:
    """A stack or memo value the model does not track."""


_UNKNOWN = _Unknown()
_NOT_STR = _Unknown()  # ... but that is known not to be a string (a list, bytes, a set ...)
_MARK = object()


class _Global:
    def __init__(self, module: str | None, name: str):
        self.module = module
        self.name = name


class _Getattr:
    """``builtins.getattr`` on the stack: fine when it is called on (a reviewed class, a constant
    name), which names a class method; anything else is reported as an import of getattr."""

    def __init__(self, offset: int):
        self.offset = offset


class _Obj:
    """An object the pickle builds: an instance of ``cls`` or, when ``returned``, whatever
    calling ``cls`` returns."""

    def __init__(self, cls, args, returned: bool = False, offset: int = -1):
        self.cls = cls
        self.args = args
        self.returned = returned
        self.offset = offset  # where the call that returned it is
        self.state = None


class _Dict(dict):
    pass


_STRINGS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"}
_NUMBERS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT"}
_TUPLES = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}


def _generic_effects() -> dict:
    """opcode name -> (pops to a mark first?, further pops, values pushed), from pickletools."""
    effects = {}
    for op in pickletools.opcodes:
        before = op.stack_before
        to_mark = pickletools.markobject in before
        below = before.index(pickletools.markobject) if to_mark else len(before)
        pushed = tuple(
            _MARK if item is pickletools.markobject else _UNKNOWN if item.name in ("any", "str", "bytes_or_str")
            else _NOT_STR
            for item in op.stack_after
        )
        effects[op.name] = (to_mark, below, pushed)
    return effects


_EFFECTS = _generic_effects()
_WRAPPERS = {("joblib.numpy_pickle", "NumpyArrayWrapper")}
_DTYPE_CLASSES = {("numpy", "dtype")}
_RECONSTRUCTORS = {("copyreg", "_reconstructor")}
_DTYPE_SIZE = re.compile(r"^[<>|=]?[a-zA-Z]+(\d+)")


class _Walk:
    def __init__(self, stream, *, joblib: bool, back_to_back: bool):
        self.stream = stream
        self.joblib = joblib
        self.back_to_back = back_to_back
        self.imports: list[tuple[int, str | None, str]] = []
        self.saw_wrapper = False
        self.wrapper_offset = -1  # where the first joblib array wrapper was built
        self.checked: dict[int, tuple] = {}  # tuples already looked into by _escapes
        self.computed_from: dict[int, int] = {}  # STACK_GLOBAL offset -> offset of the call that fed it
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            while True:
                self._one_pickle()
                if not self.back_to_back:
                    return
                head = self.stream.read(2)
                if not has_pickle_header(head):
                    return  # end of file, or raw data (legacy torch storages) that pickle.load never reads
                self._unread(head)
        # pickletools reports bad data as ValueError; the others come from decompressing.
        except READ_ERRORS as exc:
            self.error = exc

    def _unread(self, data: bytes) -> None:
        if isinstance(self.stream, io.BytesIO):
            self.stream.seek(-len(data), io.SEEK_CUR)
        else:
            self.stream.unread(data)

    # The stack and memo hold the few values that matter (strings, numbers, tuples, dicts,
    # imported globals, built objects) and _UNKNOWN for everything else.
    def _one_pickle(self) -> None:
        stack: list = []
        memo: dict = {}
        self.stack = stack

        for op, arg, offset in pickletools.genops(self.stream):
            name = op.name
            if name in _STRINGS:
                stack.append(arg if isinstance(arg, str) else _UNKNOWN)
            elif name in _NUMBERS:
                stack.append(arg)
            elif name in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
                stack.append(_NOT_STR)
            elif name in ("NEWTRUE", "NEWFALSE", "NONE"):
                stack.append({"NEWTRUE": True, "NEWFALSE": False, "NONE": None}[name])
            elif name == "MEMOIZE":
                memo[len(memo)] = self._top()
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = self._top()
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                if arg not in memo:  # the unpickler stops here too
                    raise ValueError(f"memo entry {arg} is read before it is written")
                stack.append(memo[arg])
            elif name == "DUP":
                stack.append(self._pop(1, check=False)[0])
                stack.append(stack[-1])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name in _TUPLES:
                items = self._pop(_TUPLES[name], check=False)
                stack.append(tuple(items))
            elif name == "TUPLE":
                stack.append(tuple(self._pop_mark(check=False)))
            elif name == "EMPTY_DICT":
                stack.append(_Dict())
            elif name == "DICT":
                items = self._pop_mark()
                stack.append(_pairs_into(_Dict(), items))
            elif name == "SETITEM":
                items = self._pop(2)
                if stack and isinstance(stack[-1], _Dict):
                    _pairs_into(stack[-1], items)
            elif name == "SETITEMS":
                items = self._pop_mark()
                if stack and isinstance(stack[-1], _Dict):
                    _pairs_into(stack[-1], items)
            elif name in ("GLOBAL", "INST"):
                module, _, attr = arg.partition(" ")
                value = self._import(offset, module, attr)
                if name == "INST":
                    stack.append(_Obj(value, tuple(self._pop_mark())))
                else:
                    stack.append(value)
            elif name == "STACK_GLOBAL":
                module, attr = self._pop(2, check=False)
                if isinstance(module, str) and isinstance(attr, str):
                    stack.append(self._import(offset, module, attr))
                else:
                    if _may_be_str(module) and _may_be_str(attr):  # else the unpickler refuses it
                        self.imports.append(
                            (offset, None, "a callable whose name is computed while loading (STACK_GLOBAL)"))
                        self.computed_from[offset] = max(
                            (v.offset for v in (module, attr) if isinstance(v, _Obj)), default=-1)
                    stack.append(_UNKNOWN)
            elif name in ("EXT1", "EXT2", "EXT4"):
                self.imports.append((offset, None, f"a callable registered as copyreg extension code {arg}"))
                stack.append(_UNKNOWN)
            elif name == "REDUCE":
                func, args = self._pop(2, check=False)
                stack.append(self._call(func, args, offset))
            elif name == "NEWOBJ":
                args = self._pop(1)[0]
                cls = self._pop(1)[0]
                stack.append(_Obj(cls, args))
            elif name == "NEWOBJ_EX":
                self._pop(2)
                cls = self._pop(1)[0]
                stack.append(_Obj(cls, ()))
            elif name == "OBJ":
                items = self._pop_mark()
                stack.append(_Obj(items[0], tuple(items[1:])) if items else _UNKNOWN)
            elif name == "BUILD":
                state = self._pop(1, check=False)[0]
                if stack and isinstance(stack[-1], _Obj):
                    stack[-1].state = state
                    if self.joblib and _class_of(stack[-1]) in _WRAPPERS:
                        self._read_joblib_array(stack.pop())
                        stack.append(_UNKNOWN)
                    elif _class_of(stack[-1]) in _WRAPPERS and not self.saw_wrapper:
                        self.saw_wrapper = True
                        self.wrapper_offset = offset
                else:
                    self._escapes([state])
            else:
                to_mark, below, pushed = _EFFECTS[name]
                if to_mark:
                    self._pop_mark()
                if below:
                    self._pop(below)
                stack.extend(pushed)
        self._escapes(stack)  # what the pickle returns

    def late_evidence(self, offset: int, module: str | None, name: str) -> bool:
        """Past the first joblib array, pickle.load reads joblib's array bytes as opcodes, against
        a memo that belongs to the outer pickle: names built there are mostly noise. What counts
        is a name known to execute, or a computed name fed by a call made there."""
        if module is None:
            return self.computed_from.get(offset, -1) > self.wrapper_offset
        return pickle_policy.known_dangerous(module, name)

    def _top(self):
        if not self.stack or self.stack[-1] is _MARK:
            raise ValueError("the pickle stores a value it never pushed")
        return self.stack[-1]

    def _import(self, offset: int, module: str, name: str):
        if not all(part.isidentifier() for part in (*module.split("."), *name.split("."))):
            return _UNKNOWN  # the unpickler cannot import it, so loading fails there and calls nothing
        if pickle_policy.normalise(module, name) == ("builtins", "getattr"):
            return _Getattr(offset)  # judged where it is called
        self.imports.append((offset, module, name))
        return _Global(module, name)

    def _call(self, func, args, offset: int):
        if isinstance(func, _Getattr):
            if (isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], _Global)
                    and args[0].module is not None and isinstance(args[1], str)):
                target = args[0]
                return self._import(func.offset, target.module, f"{target.name}.{args[1]}")
            self.imports.append((func.offset, "builtins", "getattr"))
            self._escapes([args])
            return _UNKNOWN
        self._escapes([args])
        if isinstance(func, _Global) and (func.module, func.name) in _RECONSTRUCTORS and isinstance(args, tuple) and args:
            return _Obj(args[0], ())  # copyreg._reconstructor(cls, base, state): an instance of cls
        return _Obj(func, args, returned=True, offset=offset)

    # Like the unpickler, which keeps marked items on a stack of their own, the walk stops
    # where a pop would reach below the stack or below the topmost mark.
    def _pop(self, count: int, *, check: bool = True) -> list:
        stack = self.stack
        items = stack[-count:]
        if len(items) < count or any(item is _MARK for item in items):
            raise ValueError("the pickle pops more than it pushed")
        del stack[-count:]
        if check:
            self._escapes(items)
        return items

    def _pop_mark(self, *, check: bool = True) -> list:
        stack = self.stack
        items = []
        while True:
            if not stack:
                raise ValueError("the pickle pops to a mark it never set")
            item = stack.pop()
            if item is _MARK:
                break
            items.append(item)
        items.reverse()
        if check:
            self._escapes(items)
        return items

    def _escapes(self, values) -> None:
        """A getattr that ends up as data (in a tuple, a state, the result) may be called later by
        the object that holds it, with arguments nobody checked."""
        todo = list(values)
        while todo:
            value = todo.pop()
            if isinstance(value, _Getattr):
                self.imports.append((value.offset, "builtins", "getattr"))
            elif isinstance(value, tuple) and id(value) not in self.checked:
                # Tuples never change, so each is looked into once (kept alive so its id stays its own).
                self.checked[id(value)] = value
                todo.extend(value)

    # --- joblib arrays ---------------------------------------------------------------------------

    def _read_joblib_array(self, wrapper: _Obj) -> None:
        """Skip the array joblib writes after a NumpyArrayWrapper, or walk its nested pickle."""
        state = wrapper.state if isinstance(wrapper.state, dict) else {}
        shape = state.get("shape")
        dtype = state.get("dtype")
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ValueError("a joblib array with a shape the scan cannot read")
        itemsize, objects = _dtype_layout(dtype)
        if objects:
            # An object array is a complete pickle of its own, read by a plain pickle.Unpickler.
            inner = _Walk(self.stream, joblib=False, back_to_back=False)
            inner._one_pickle()
            self.imports += inner.imports
            return
        count = 1
        for n in shape:
            count *= n
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = self.stream.read(1)
            if len(padding) != 1 or not self._skip(padding[0]):
                raise ValueError("a joblib array is cut off")
        if not self._skip(count * itemsize):
            raise ValueError("a joblib array is cut off")

    def _skip(self, size: int) -> bool:
        if isinstance(self.stream, io.BytesIO):
            start = self.stream.tell()
            end = self.stream.seek(0, io.SEEK_END)
            if end - start < size:
                return False
            self.stream.seek(start + size)
            return True
        return self.stream.skip(size)


def _may_be_str(value) -> bool:
    """Whether ``value`` may be an exact str, which is all STACK_GLOBAL accepts."""
    if isinstance(value, _Obj):
        return value.returned or _class_of(value) == ("builtins", "str")
    return value is _UNKNOWN or isinstance(value, str)


def _class_of(obj: _Obj):
    cls = obj.cls
    if isinstance(cls, _Global):
        return pickle_policy.normalise(cls.module, cls.name)
    return None


def _pairs_into(target: _Dict, items: list) -> _Dict:
    for key, value in zip(items[0::2], items[1::2]):
        if isinstance(key, (str, int)):
            target[key] = value
    return target


def _dtype_layout(dtype) -> tuple[int, bool]:
    """(item size in bytes, holds objects) of a pickled ``numpy.dtype(spec, align, copy)`` + state."""
    if not isinstance(dtype, _Obj) or _class_of(dtype) not in _DTYPE_CLASSES:
        raise ValueError("a joblib array whose dtype the scan cannot read")
    spec = dtype.args[0] if isinstance(dtype.args, tuple) and dtype.args else None
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    if not isinstance(spec, str):
        raise ValueError("a joblib array whose dtype the scan cannot read")
    if spec.lstrip("<>|=").startswith("O"):
        return 8, True
    fields = state[4] if len(state) > 4 else None
    if isinstance(fields, _Dict) and any(_field_has_objects(value) for value in fields.values()):
        return 0, True
    # The state's element size is set for strings, voids and records; the spec says the rest.
    if len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        return state[5], False
    size = _DTYPE_SIZE.match(spec)
    if size is None or int(size.group(1)) <= 0:
        raise ValueError(f"a joblib array of dtype {spec!r}, which the scan cannot size")
    return int(size.group(1)), False


def _field_has_objects(value) -> bool:
    if isinstance(value, tuple) and value:
        try:
            return _dtype_layout(value[0])[1]
        except ValueError:
            return True
    return True
