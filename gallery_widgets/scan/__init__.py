"""The publish-time security scan (SPEC P5): Python code, pickled files and archives.

Nothing of the source is run, unpickled or unpacked to disk. Formats are told by
content, not by name, at every level of nesting:

- Python (``.py``, or a ``#!...python`` script) goes through bandit (``python_code``);
- pickles (protocol 2+ by their header, older ones by a pickle suffix), compressed
  pickles (joblib), object arrays in ``.npy`` files, and pickles inside zip containers
  (``.npz``, torch ``.pt`` zips) are walked opcode by opcode (``pickles``); each callable
  they import is judged by ``pickle_policy`` and recorded, so subscribers see it;
- zip and tar archives (also compressed, also inside other archives, up to
  ``MAX_NESTING`` levels and ``MAX_ARCHIVE_BYTES`` unpacked) are checked for traversal,
  links, bombs and name clashes, and their entries are scanned like any other file;
- safetensors files hold only tensors and a JSON header, so they pass as they are.

Every finding is reported; only the high-severity ones fail a publish (``blocking``).
A file inside an archive or container is named ``outer.zip::inner/path``.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zipfile
from dataclasses import dataclass, field

from ..entities import Finding
from ..errors import InvalidInput
from . import archives, common, pickle_policy, pickles, python_code
from .common import MAX_NESTING, MAX_PICKLE_BYTES, READ_ERRORS, SEVERITIES, Budget, OverBudget, Reader
from .pickle_policy import SAFE_PICKLE_GLOBALS
from .pickles import PICKLE_SUFFIXES
from .python_code import PYTHON_SUFFIXES

ARCHIVE_SUFFIXES = (".zip", ".whl", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
NESTED = "::"  # between an archive's path and the path of an entry inside it


@dataclass(frozen=True)
class ScanReport:
    """What the scan of one source found."""

    findings: tuple[Finding, ...]  # sorted by file and line
    # (file, "module.name") for every callable a pickled file imports when loaded, sorted
    pickle_imports: tuple[tuple[str, str], ...] = ()

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return blocking(self.findings)


def scan_source(files: dict[str, bytes]) -> ScanReport:
    """Scan every file of a source (posix relative path -> bytes).

    Raises:
        InvalidInput: ``files`` is not a mapping of path strings to bytes.
    """
    if not isinstance(files, dict):
        raise InvalidInput(f"scan_files takes a dict of path -> bytes, not {type(files).__name__}.")
    scan = _Scan()
    for name, data in files.items():
        if not isinstance(name, str) or not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidInput(f"scan_files takes str paths and bytes contents; got {name!r}: {type(data).__name__}.")
        try:
            scan.file(name, bytes(data), depth=0, budget=Budget(common.MAX_ARCHIVE_BYTES))
        except OverBudget:
            scan.findings.append(_too_large(name))
    scan.findings += python_code.scan_python(scan.python)
    return ScanReport(tuple(sorted(scan.findings, key=_order)), tuple(sorted(scan.imports)))


def scan_files(files: dict[str, bytes]) -> tuple[Finding, ...]:
    """The findings of ``scan_source(files)``, sorted by file and line.

    Raises:
        InvalidInput: ``files`` is not a mapping of path strings to bytes.
    """
    return scan_source(files).findings


def blocking(findings) -> tuple[Finding, ...]:
    """The high-severity findings: any of them fails a publish (SPEC P5)."""
    return tuple(f for f in findings if f.severity == "high")


def _order(finding: Finding):
    return (finding.file, finding.line or 0, -SEVERITIES.index(finding.severity), finding.rule, finding.message)


def is_safetensors(data: bytes) -> bool:
    """An 8-byte little-endian header size, then that many bytes of a JSON object."""
    if len(data) < 10 or data[8:9] != b"{":
        return False
    (size,) = struct.unpack("<Q", data[:8])
    if size > len(data) - 8 or size > 100 * common.MiB:
        return False
    try:
        return isinstance(json.loads(data[8:8 + size]), dict)
    except ValueError:
        return False


@dataclass
class _Scan:
    findings: list[Finding] = field(default_factory=list)
    python: dict[str, bytes] = field(default_factory=dict)
    imports: set[tuple[str, str]] = field(default_factory=set)

    def file(self, path: str, data: bytes, *, depth: int, budget: Budget) -> None:
        """Scan one file by what its bytes are; ``budget`` bounds what it may unpack."""
        lower = path.lower()
        if python_code.is_python(lower, data[:200]):
            self.python[path] = data
        elif is_safetensors(data):
            self._safetensors(path, data)
        elif archives.is_zip(data) or lower.endswith((".zip", ".whl")):
            self._archive(path, data, "zip", depth, budget)
        elif archives.is_tar(data) or lower.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")):
            self._archive(path, data, "tar", depth, budget)
        elif data.startswith(pickles.NPY_MAGIC):
            self._npy(path, data)
        elif pickles.has_pickle_header(data) or (lower.endswith(PICKLE_SUFFIXES) and not common.compression(data)):
            self._pickle(path, lambda: io.BytesIO(data), "")
        elif lower.endswith(pickles.MAYBE_PICKLE_SUFFIXES) and not common.compression(data):
            self._pickle(path, lambda: io.BytesIO(data), "", sniff=True)
        elif common.compression(data):
            self._compressed(path, data, depth, budget)

    def _compressed(self, path: str, data: bytes, depth: int, budget: Budget) -> None:
        head = common.decompressed_head(data)
        if not head:
            if path.lower().endswith(PICKLE_SUFFIXES):  # said to be a pickle, but not readable
                self._pickle(path, lambda: io.BytesIO(data), "")
            return
        if archives.is_tar(head):
            self._archive(path, data, "tar", depth, budget)
        elif pickles.has_pickle_header(head) or path.lower().endswith(PICKLE_SUFFIXES):
            # joblib's compressed pickles: walked as a stream, never decompressed whole
            self._pickle(path, lambda: Reader(common.decompressing(data), MAX_PICKLE_BYTES), " (compressed)")
        elif self._interesting(path, head):
            if self._too_deep(path, depth):
                return
            reader = Reader(common.decompressing(data), max(budget.left, 0) + 1)
            try:
                inner = reader.read()
            except READ_ERRORS as exc:
                self.findings.append(_unreadable_archive(path, "compressed file", exc))
                return
            if reader.exhausted:
                self.findings.append(_too_large(path))
                return
            budget.take(len(inner))
            self.file(path, inner, depth=depth + 1, budget=budget)

    def _safetensors(self, path: str, data: bytes) -> None:
        """Tensors and a JSON header: nothing to run. Only a header size whose bytes also read as
        a pickle header makes it worth walking, for a file that would be both."""
        if pickles.has_pickle_header(data):
            result = pickles.scan_pickle(path, lambda: io.BytesIO(data))
            if result.imports or any(f.severity == "high" for f in result.findings):
                self.findings += result.findings
                self.imports |= {(path, name) for name in result.imports}

    def _pickle(self, path: str, open_stream, where: str, sniff: bool = False) -> None:
        result = pickles.scan_pickle(path, open_stream, where=where, sniff=sniff)
        self.findings += result.findings
        self.imports |= {(path, name) for name in result.imports}

    def _npy(self, path: str, data: bytes) -> None:
        try:
            start = pickles.npy_object_offset(data)
        except (ValueError, SyntaxError, RecursionError, MemoryError) as exc:
            # numpy reads some headers this scan does not (Python 2 era spellings); an object
            # array behind one would be unpickled unchecked, so it does not pass.
            self.findings.append(Finding(
                path, None, "npy-unreadable", "high",
                f"looks like a numpy .npy file but its header cannot be read ({exc}), so it was not checked; "
                "re-save it with a current numpy.save.",
            ))
            return
        if start is None:
            return  # plain numbers: numpy.load reads them without unpickling anything
        # numpy.load(allow_pickle=True) unpickles exactly one pickle after the header.
        result = pickles.scan_pickle(path, lambda: io.BytesIO(data[start:]), where=" (an object array)",
                                     back_to_back=False)
        self.findings += result.findings
        self.imports |= {(path, name) for name in result.imports}

    def _archive(self, path: str, data: bytes, kind: str, depth: int, budget: Budget) -> None:
        if self._too_deep(path, depth):
            return
        try:
            if kind == "zip":
                listing = archives.list_zip(data)
                problems = archives.check(path, listing, len(data))
                if not any(f.rule in ("archive-too-large", "archive-too-many-files") for f in problems):
                    listing.extracted = archives.extract_zip(data, budget, self._interesting)
            else:
                listing = archives.list_tar(data, budget, self._interesting)
                problems = archives.check(path, listing, len(data))
        except OverBudget:
            self.findings.append(_too_large(path))
            return
        except (zipfile.BadZipFile, tarfile.TarError, *READ_ERRORS) as exc:
            self.findings.append(_unreadable_archive(path, f"{kind} archive", exc))
            return
        self.findings += problems
        for name, content in listing.extracted:
            try:
                self.file(f"{path}{NESTED}{name}", content, depth=depth + 1, budget=budget)
            except OverBudget:
                self.findings.append(_too_large(path))
                return

    def _too_deep(self, path: str, depth: int) -> bool:
        if depth < MAX_NESTING:
            return False
        self.findings.append(Finding(
            path, None, "archive-too-deep", "high",
            f"is nested inside {depth} archives or compressed files; the scan reads {MAX_NESTING} levels at most, "
            "so its content was not checked. Publish the files themselves instead of archives of archives.",
        ))
        return True

    @staticmethod
    def _interesting(name: str, head: bytes) -> bool:
        """Whether an archive entry is worth reading whole: something the scan checks."""
        lower = name.lower()
        return (
            python_code.is_python(lower, head)
            or lower.endswith(PICKLE_SUFFIXES + pickles.MAYBE_PICKLE_SUFFIXES + ARCHIVE_SUFFIXES)
            or pickles.has_pickle_header(head)
            or head.startswith(pickles.NPY_MAGIC)
            or archives.is_zip(head)
            or archives.is_tar(head)
            or common.compression(head) is not None
        ) and not is_safetensors_head(head)


def is_safetensors_head(head: bytes) -> bool:
    """The start of a safetensors file that is not also the start of a pickle."""
    if len(head) < 10 or head[8:9] != b"{" or pickles.has_pickle_header(head):
        return False
    (size,) = struct.unpack("<Q", head[:8])
    return size <= 100 * common.MiB and head[9:10] in (b'"', b"}", b" ", b"\n")


def _too_large(path: str) -> Finding:
    limit = common.MAX_ARCHIVE_BYTES // common.MiB
    return Finding(
        path, None, "archive-too-large",
        "high",
        f"unpacks to more than {limit} MiB (counting every archive inside it), over the {limit} MiB limit; "
        "keep data sets out of the source and publish code and small assets only.",
    )


def _unreadable_archive(path: str, what: str, exc: Exception) -> Finding:
    return Finding(
        path, None, "archive-unreadable", "high",
        f"could not be read as a {what} ({exc or type(exc).__name__}), so what it holds was not checked, and "
        "what was not checked cannot be published; re-create it, or leave it out of the source.",
    )


__all__ = [
    "Finding", "ScanReport", "scan_source", "scan_files", "blocking", "SAFE_PICKLE_GLOBALS", "SEVERITIES",
    "PYTHON_SUFFIXES", "PICKLE_SUFFIXES", "ARCHIVE_SUFFIXES", "pickle_policy",
]
