"""The publish-time security scan (SPEC P5): Python code, pickled files and archives.

Nothing of the source is run, unpickled or unpacked:

- Python files go through bandit, used as a library on a private temporary copy;
- pickled files are walked opcode by opcode, and every callable they would import
  when loaded is checked against a short allow-list (plain containers, numpy and
  torch tensor rebuilders), as the big model hubs do;
- archives are listed entry by entry for path traversal, links, bombs and name clashes.

Every finding is reported; only the high-severity ones fail a publish (``blocking``).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import logging
import lzma
import os
import pickletools
import re
import stat
import sys
import tarfile
import tempfile
import threading
import warnings
import zipfile
import zlib
from collections import Counter, OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import InvalidInput
from .packing import check_unique_names

SEVERITIES = ("low", "medium", "high")

PYTHON_SUFFIXES = (".py", ".pyw")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt")
ARCHIVE_SUFFIXES = (".zip", ".whl", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

MiB = 2**20
MAX_ARCHIVE_BYTES = 500 * MiB  # total uncompressed size of one archive
BOMB_RATIO = 100  # uncompressed / compressed ...
BOMB_MIN_BYTES = 50 * MiB  # ... above this size is a decompression bomb
MAX_ARCHIVE_ENTRIES = 10_000
MAX_PICKLE_BYTES = 256 * MiB  # decompressed bytes walked per compressed or zipped pickle

# The callables a pickle may import. Everything else — sklearn, pandas, any class of
# the publisher's own code — runs arbitrary code on load and is flagged, as on the
# big model hubs: publish weights as tensors/arrays, not as pickled objects.
SAFE_PICKLE_GLOBALS = frozenset(
    {
        ("collections", "OrderedDict"),
        *(
            ("builtins", name)
            for name in ("set", "frozenset", "dict", "list", "tuple", "bytes", "bytearray", "complex", "slice", "range")
        ),
        # Protocol 2 spells every bytes object as _codecs.encode(str, "latin1"), so
        # numpy arrays pickled with protocol 2 (and legacy torch files) need it.
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        *(
            (module, name)
            for module in ("numpy.core.multiarray", "numpy._core.multiarray")  # numpy 1 / numpy 2
            for name in ("_reconstruct", "scalar")
        ),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        *(
            ("torch._utils", name)
            for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state")
        ),
        ("torch", "UntypedStorage"),
        *(
            ("torch", f"{kind}Storage")
            for kind in (
                "Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
                "ComplexFloat", "ComplexDouble",
            )
        ),
    }
)
# Protocols 0-2 write Python 2 module names; the unpickler maps them back (fix_imports).
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


@dataclass(frozen=True)
class Finding:
    """One problem the scan found in one file of a source."""

    file: str  # posix path inside the source
    line: int | None  # 1-based, for Python files
    rule: str  # a bandit test id ("B602") or one of this module's rules ("pickle-global", ...)
    severity: str  # "low" | "medium" | "high"
    message: str  # what is wrong and what to do

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} [{self.severity} {self.rule}] {self.message}"


def scan_files(files: dict[str, bytes]) -> tuple[Finding, ...]:
    """Scan every file of a source (posix relative path -> bytes); findings sorted by file and line.

    Raises:
        InvalidInput: ``files`` is not a mapping of path strings to bytes.
    """
    if not isinstance(files, dict):
        raise InvalidInput(f"scan_files takes a dict of path -> bytes, not {type(files).__name__}.")
    python: dict[str, bytes] = {}
    findings: list[Finding] = []
    for name, data in files.items():
        if not isinstance(name, str) or not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInput(f"scan_files takes str paths and bytes contents; got {name!r}: {type(data).__name__}.")
        data = bytes(data)
        lower = name.lower()
        if lower.endswith(PYTHON_SUFFIXES):
            python[name] = data
        elif lower.endswith(ARCHIVE_SUFFIXES):
            findings += _scan_archive(name, data)
        elif lower.endswith(PICKLE_SUFFIXES) or _has_pickle_header(data):
            findings += _scan_pickled(name, data)
    findings += _scan_python(python)
    return tuple(sorted(findings, key=_order))


def blocking(findings) -> tuple[Finding, ...]:
    """The high-severity findings: any of them fails a publish (SPEC P5)."""
    return tuple(f for f in findings if f.severity == "high")


def _order(finding: Finding):
    return (finding.file, finding.line or 0, -SEVERITIES.index(finding.severity), finding.rule, finding.message)


# --- Python code: bandit -------------------------------------------------------------

_BANDIT_SEVERITY = {"LOW": "low", "MEDIUM": "medium", "HIGH": "high"}
_BANDIT_LOCK = threading.Lock()  # bandit keeps module-level state, and we flip its loggers
# Bandit's verdict depends only on a file's bytes, so it is cached by content: a new
# version of an asset re-scans only the files that changed. (line, rule, severity, message)
_BANDIT_CACHE: OrderedDict[bytes, tuple[tuple[int | None, str, str, str], ...]] = OrderedDict()
_BANDIT_CACHE_SIZE = 4096


def _scan_python(sources: dict[str, bytes]) -> list[Finding]:
    names_by_digest: dict[bytes, list[str]] = {}
    contents: dict[bytes, bytes] = {}
    for name, data in sources.items():
        digest = hashlib.sha256(data).digest()
        names_by_digest.setdefault(digest, []).append(name)
        contents[digest] = data
    with _BANDIT_LOCK:
        todo = {digest: data for digest, data in contents.items() if digest not in _BANDIT_CACHE}
        if todo:
            _BANDIT_CACHE.update(_run_bandit(todo))
        issues = {digest: _BANDIT_CACHE[digest] for digest in contents}
        for digest in contents:
            _BANDIT_CACHE.move_to_end(digest)
        while len(_BANDIT_CACHE) > _BANDIT_CACHE_SIZE:
            _BANDIT_CACHE.popitem(last=False)
    return [
        Finding(name, line, rule, severity, message)
        for digest, names in names_by_digest.items()
        for name in names
        for line, rule, severity, message in issues[digest]
    ]


def _run_bandit(sources: dict[bytes, bytes]) -> dict[bytes, tuple]:
    """Bandit over {digest: source}; the files get neutral names in a private folder so a
    hostile path such as ``../x.py`` in the source can never be written outside it."""
    found: dict[bytes, list] = {digest: [] for digest in sources}
    with _quiet_bandit(), tempfile.TemporaryDirectory(prefix="gallery-scan-") as folder:
        # Imported here: bandit loads its plugins on import, which a notebook opening
        # the gallery should not pay for.
        from bandit.core import config as b_config
        from bandit.core import docs_utils
        from bandit.core import manager as b_manager

        digest_of: dict[str, bytes] = {}
        for number, (digest, data) in enumerate(sources.items()):
            path = os.path.join(folder, f"{number}.py")
            with open(path, "wb") as out:
                out.write(data)
            digest_of[f"{number}.py"] = digest
        # ignore_nosec: a "# nosec" comment is the publisher's word, not a reason to trust the code.
        manager = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True, ignore_nosec=True)
        manager.discover_files(sorted(os.path.join(folder, name) for name in digest_of))
        manager.run_tests()
        for issue in manager.results:
            severity = _BANDIT_SEVERITY.get(str(issue.severity).upper(), "low")
            advice = "Rewrite or remove this code" if severity == "high" else "Check that this is safe here"
            message = (
                f"{issue.text.strip()} (bandit {issue.test}, confidence {str(issue.confidence).lower()}). "
                f"{advice}; {docs_utils.get_url(issue.test_id)} explains the risk and the safer alternative."
            )
            found[digest_of[os.path.basename(issue.fname)]].append((issue.lineno, issue.test_id, severity, message))
        for fname, reason in manager.get_skipped():
            found[digest_of[os.path.basename(fname)]].append(
                (
                    None,
                    "python-unparsed",
                    "medium",
                    f"bandit could not read this file ({reason}), so it was not checked; "
                    f"make it valid Python {sys.version_info[0]}.{sys.version_info[1]} source "
                    "(UTF-8, no syntax errors).",
                )
            )
    return {digest: tuple(issues) for digest, issues in found.items()}


@contextmanager
def _quiet_bandit():
    """Keep bandit's (and its plugin loader's) log lines and warnings out of the user's notebook."""
    loggers = [logging.getLogger(name) for name in ("bandit", "stevedore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            # Compiling user code may warn (invalid escape sequences, ...); not ours to show.
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


# --- Pickled files -------------------------------------------------------------------

_UNKNOWN = object()  # a stack or memo value the model does not track
_MARK = object()


def _stack_effects() -> dict:
    """opcode name -> what the model does with it: a few named actions, else the generic
    (pops to a mark first?, further pops, values pushed) from pickletools' description."""
    special = {
        **dict.fromkeys(
            ("STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"),
            "string",
        ),
        "MEMOIZE": "memoize",
        **dict.fromkeys(("PUT", "BINPUT", "LONG_BINPUT"), "put"),
        **dict.fromkeys(("GET", "BINGET", "LONG_BINGET"), "get"),
        "DUP": "dup",
    }
    effects = {}
    for op in pickletools.opcodes:
        if op.name in special:
            effects[op.name] = special[op.name]
            continue
        before = op.stack_before
        to_mark = pickletools.markobject in before
        below = before.index(pickletools.markobject) if to_mark else len(before)
        pushed = tuple(_MARK if item is pickletools.markobject else _UNKNOWN for item in op.stack_after)
        effects[op.name] = (to_mark, below, pushed)
    return effects


_EFFECTS = _stack_effects()
_IMPORT_OPS = {"GLOBAL", "INST", "STACK_GLOBAL", "EXT1", "EXT2", "EXT4"}

def _has_pickle_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5


def _scan_pickled(name: str, data: bytes) -> list[Finding]:
    """A pickle, a compressed pickle (joblib), or a zip of pickles (torch.save)."""
    if data[:4] == b"PK\x03\x04":
        findings: list[Finding] = []
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    if info.is_dir() or not info.filename.lower().endswith(PICKLE_SUFFIXES):
                        continue
                    with archive.open(info) as raw:
                        findings += _scan_pickle_stream(name, _Reader(raw, MAX_PICKLE_BYTES), f" (entry {info.filename})")
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, lzma.LZMAError, NotImplementedError) as exc:
            findings.append(_unreadable_pickle(name, "", exc))
        return findings
    raw = _decompressing(data)
    if raw is None:
        return _scan_pickle_stream(name, io.BytesIO(data), "")  # in memory already: no budget needed
    return _scan_pickle_stream(name, _Reader(raw, MAX_PICKLE_BYTES), " (compressed)")


def _decompressing(data: bytes):
    """A reader of the decompressed stream when ``data`` is compressed the way joblib does it, else None."""
    if data[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=io.BytesIO(data))
    if data[:3] == b"BZh":
        return bz2.BZ2File(io.BytesIO(data))
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(io.BytesIO(data))
    if data[:3] == b"]\x00\x00":  # raw lzma ("lzma" in joblib); no pickle starts so
        return lzma.LZMAFile(io.BytesIO(data), format=lzma.FORMAT_ALONE)
    if len(data) >= 2 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0:  # zlib, joblib's default
        return _ZlibReader(data)
    return None


def _scan_pickle_stream(file: str, reader, where: str) -> list[Finding]:
    findings: list[Finding] = []
    seen: set = set()
    try:
        for offset, module, name in _pickle_imports(reader):
            if module is not None and (_PY2_MODULES.get(module, module), name) in SAFE_PICKLE_GLOBALS:
                continue
            what = f"{module}.{name}" if module is not None else name
            if what in seen:
                continue
            seen.add(what)
            findings.append(
                Finding(
                    file, None, "pickle-global", "high",
                    f"the pickle{where} imports {what} (byte {offset}); loading the file calls it, and any "
                    "callable besides plain containers and numpy/torch tensor rebuilders can run arbitrary code. "
                    "Save weights as tensors or arrays (safetensors, .npy, torch state_dict of tensors), "
                    "not as pickled objects.",
                )
            )
    # pickletools reports bad data as ValueError; the others come from decompressing.
    except (ValueError, EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as exc:
        findings.append(_unreadable_pickle(file, where, exc, getattr(reader, "exhausted", False)))
    return findings


def _unreadable_pickle(file: str, where: str, exc: Exception, exhausted: bool = False) -> Finding:
    reason = f"the scan stopped after {MAX_PICKLE_BYTES // MiB} MiB" if exhausted else str(exc) or type(exc).__name__
    return Finding(
        file, None, "pickle-unreadable", "medium",
        f"could not be read as a pickle{where} ({reason}), so it was not fully checked. If it is a pickle, "
        "re-save it (better: as safetensors or .npy); if it is not, give it an extension other than "
        + ", ".join(PICKLE_SUFFIXES) + ".",
    )


def _pickle_imports(stream):
    """Yield (byte offset, module, name) for every callable the pickle stream imports.

    ``module`` is None when the name cannot be known without running the pickle (a
    STACK_GLOBAL fed by computed values, an extension code); ``name`` then says what it is.
    Pickles written back to back (legacy torch files) are all walked.
    """
    while True:
        yield from _one_pickle(stream)
        head = stream.read(2)
        if not _has_pickle_header(head):
            return  # end of file, or raw data (legacy torch storages) that pickle.load never reads
        if isinstance(stream, io.BytesIO):
            stream.seek(-2, io.SEEK_CUR)
        else:
            stream.unread(head)


def _one_pickle(stream):
    # A small model of the unpickler: the stack holds the strings that were pushed
    # (everything else is _UNKNOWN) and the memo holds whatever was stored, so a
    # STACK_GLOBAL fed by BINGETs of memoized strings still resolves to its real name.
    stack: list = []
    memo: dict = {}
    for op, arg, offset in pickletools.genops(stream):
        name = op.name
        effect = _EFFECTS[name]
        if effect == "string":
            stack.append(arg if isinstance(arg, str) else _UNKNOWN)
        elif effect == "memoize":
            memo[len(memo)] = stack[-1] if stack else _UNKNOWN
        elif effect == "put":
            memo[arg] = stack[-1] if stack else _UNKNOWN
        elif effect == "get":
            stack.append(memo.get(arg, _UNKNOWN))
        elif effect == "dup":
            stack.append(stack[-1] if stack else _UNKNOWN)
        else:
            if name in _IMPORT_OPS:
                yield _imported(name, arg, offset, stack)
            to_mark, below, pushed = effect
            if to_mark:  # everything above the topmost mark goes, then the mark
                while stack and stack.pop() is not _MARK:
                    pass
            if below:
                del stack[-below:]
            stack.extend(pushed)


def _imported(name: str, arg, offset: int, stack: list) -> tuple[int, str | None, str]:
    if name in ("GLOBAL", "INST"):
        module, _, attr = arg.partition(" ")
        return offset, module, attr
    if name == "STACK_GLOBAL":
        module, attr = (stack[-2], stack[-1]) if len(stack) > 1 else (_UNKNOWN, _UNKNOWN)
        if isinstance(module, str) and isinstance(attr, str):
            return offset, module, attr
        return offset, None, "a callable whose name is computed while loading (STACK_GLOBAL)"
    return offset, None, f"a callable registered as copyreg extension code {arg}"


class _Reader:
    """A file view that reads at most ``limit`` bytes (a compression bomb runs out of budget,
    not memory) and can push bytes back, which is how the next pickle in a file is sniffed."""

    def __init__(self, raw, limit: int):
        self._raw = raw
        self._left = limit
        self._pending = b""
        self._pos = 0

    @property
    def exhausted(self) -> bool:
        """Whether the whole budget was read (so the stream may go on past what was scanned)."""
        return self._left <= 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = len(self._pending) + self._left
        out, self._pending = self._pending[:n], self._pending[n:]
        want = min(n - len(out), self._left)
        if want > 0:
            chunk = self._raw.read(want)
            self._left -= len(chunk)
            out += chunk
        self._pos += len(out)
        return out

    def readline(self, n: int = -1) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            if not self._pending:
                self._pending = self.read(64 * 1024)
                self._pos -= len(self._pending)
                if not self._pending:
                    break
            cut = self._pending.find(b"\n") + 1 or len(self._pending)
            line, self._pending = line + self._pending[:cut], self._pending[cut:]
        self._pos += len(line)
        return line

    def unread(self, data: bytes) -> None:
        self._pending = data + self._pending
        self._pos -= len(data)

    def tell(self) -> int:
        return self._pos


class _ZlibReader:
    """The ``read`` of a zlib stream (the stdlib has file objects for gzip, bz2 and xz only)."""

    def __init__(self, data: bytes):
        self._source = io.BytesIO(data)
        self._inflate = zlib.decompressobj()

    def read(self, n: int) -> bytes:
        out = b""
        while len(out) < n and not self._inflate.eof:
            compressed = self._inflate.unconsumed_tail or self._source.read(64 * 1024)
            if not compressed:
                break
            out += self._inflate.decompress(compressed, n - len(out))
        return out


# --- Archives --------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class _Entry:
    name: str
    size: int
    kind: str  # "file" | "dir" | "link" | "special"


def _scan_archive(name: str, data: bytes) -> list[Finding]:
    is_zip = name.lower().endswith((".zip", ".whl"))
    try:
        if is_zip:
            entries, unpacked, stopped = _zip_entries(data), None, False
        else:
            entries, unpacked, stopped = _tar_entries(data)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        return [
            Finding(
                name, None, "archive-unreadable", "medium",
                f"could not be read as a {'zip' if is_zip else 'tar'} archive ({exc}), so it was not checked; "
                "re-create it, or leave it out of the source.",
            )
        ]
    if unpacked is None:
        unpacked = sum(entry.size for entry in entries)
    findings: list[Finding] = []

    def high(rule: str, message: str) -> None:
        findings.append(Finding(name, None, rule, "high", message))

    traversal = [e.name for e in entries if _escapes(e.name)]
    if traversal:
        high(
            "archive-traversal",
            f"entries would unpack outside the target folder: {_some(traversal)}; "
            "rebuild the archive with relative paths and no '..' parts.",
        )
    links = [e.name for e in entries if e.kind == "link"]
    if links:
        high(
            "archive-link",
            f"entries are symbolic or hard links, which can point anywhere on the user's machine: {_some(links)}; "
            "put the real files in the archive instead.",
        )
    special = [e.name for e in entries if e.kind == "special"]
    if special:
        high(
            "archive-special-file",
            f"entries are device files or FIFOs: {_some(special)}; leave them out of the archive.",
        )
    if stopped or unpacked > MAX_ARCHIVE_BYTES:
        size = f"more than {MAX_ARCHIVE_BYTES // MiB} MiB" if stopped else f"{unpacked / MiB:,.0f} MiB"
        high(
            "archive-too-large",
            f"unpacks to {size}, over the {MAX_ARCHIVE_BYTES // MiB} MiB limit; "
            "keep data sets out of the source and publish code and small assets only.",
        )
    elif unpacked > BOMB_MIN_BYTES and unpacked > BOMB_RATIO * max(len(data), 1):
        high(
            "archive-too-large",
            f"unpacks to {unpacked / MiB:,.0f} MiB from {len(data) / MiB:,.2f} MiB "
            f"(over {BOMB_RATIO}:1), which is how decompression bombs look; leave it out of the source.",
        )
    if len(entries) > MAX_ARCHIVE_ENTRIES:
        high(
            "archive-too-many-files",
            f"holds more than {MAX_ARCHIVE_ENTRIES:,} entries; publish fewer, larger files.",
        )
    clash = _name_clashes([e.name for e in entries if e.kind != "dir"])
    if clash:
        high("archive-name-collision", clash)
    return findings


def _zip_entries(data: bytes) -> list[_Entry]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    entries = []
    for info in infos:
        mode = info.external_attr >> 16  # unix mode bits, where the zip was made on unix
        kind = "link" if stat.S_ISLNK(mode) else "dir" if info.is_dir() else "file"
        entries.append(_Entry(info.filename, info.file_size, kind))
    return entries


def _tar_entries(data: bytes) -> tuple[list[_Entry], int, bool]:
    """(entries, bytes unpacked, whether the size budget stopped the listing).

    A compressed tar has no index, so listing it means decompressing it; the stream is
    read through a budget so that a bomb stops the scan instead of filling memory or time.
    """
    raw = _decompressing(data) if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00" else None
    reader = _Reader(raw if raw is not None else io.BytesIO(data), MAX_ARCHIVE_BYTES + 1)
    entries: list[_Entry] = []
    try:
        with tarfile.open(fileobj=reader, mode="r|") as archive:
            for member in archive:
                if member.issym() or member.islnk():
                    kind = "link"
                elif member.ischr() or member.isblk() or member.isfifo():
                    kind = "special"
                else:
                    kind = "dir" if member.isdir() else "file"
                entries.append(_Entry(member.name, member.size, kind))
                if len(entries) > MAX_ARCHIVE_ENTRIES:
                    break
    except tarfile.ReadError:
        if not reader.exhausted:
            raise
    # An exhausted budget may also just end the listing quietly (tarfile reads a short
    # stream as the end of the archive), so it is checked either way.
    return entries, max(reader.tell(), sum(e.size for e in entries)), reader.exhausted


def _escapes(name: str) -> bool:
    path = name.replace("\\", "/")  # Windows tools split on either
    return path.startswith("/") or bool(_DRIVE.match(path)) or ".." in path.split("/")


def _name_clashes(names: list[str]) -> str | None:
    """The P4 name rule applied to an archive's entries, plus exact duplicates (a zip may
    hold one name twice, and unpackers disagree on which one wins)."""
    paths = [name.replace("\\", "/").rstrip("/") for name in names]
    problems = []
    twice = sorted(name for name, count in Counter(paths).items() if count > 1)
    if twice:
        problems.append(f"entries stored more than once: {_some(twice)}")
    try:
        check_unique_names(set(paths))
    except InvalidInput as exc:
        problems.append(str(exc))
    if not problems:
        return None
    return "names clash when unpacked: " + "; ".join(problems) + ". Rebuild the archive with unique names."


def _some(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


__all__ = ["Finding", "scan_files", "blocking", "SAFE_PICKLE_GLOBALS"]
