"""Archives (zip, tar, compressed tar), listed entry by entry and never unpacked to disk.

Each archive is checked for path traversal, links, device files, bombs and name clashes;
the entries whose first bytes show a format worth scanning (Python, pickles, .npy, other
archives) are read into memory, within the budget of the file they came in, and handed
back to be scanned like any file of the source.
"""

from __future__ import annotations

import io
import re
import stat
import tarfile
import zipfile
from collections import Counter
from dataclasses import dataclass

from ..entities import Finding
from ..errors import InvalidInput
from ..packing import check_unique_names
from . import common
from .common import HEAD_BYTES, MiB, Budget, OverBudget, Reader, some

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    kind: str  # "file" | "dir" | "link" | "special"
    encrypted: bool = False


@dataclass
class Listing:
    entries: list[Entry]
    unpacked: int  # bytes the archive unpacks to (as declared, or as read for a tar stream)
    stopped: bool  # the budget ended the listing
    extracted: list[tuple[str, bytes]]  # the entries worth scanning, with their bytes


def is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def is_tar(data: bytes) -> bool:
    return data[257:262] == b"ustar"


def list_zip(data: bytes) -> Listing:
    """The entries of a zip as its directory declares them (nothing is decompressed)."""
    entries: list[Entry] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            mode = info.external_attr >> 16  # unix mode bits, where the zip was made on unix
            kind = "link" if stat.S_ISLNK(mode) else "dir" if info.is_dir() else "file"
            entries.append(Entry(info.filename, info.file_size, kind, bool(info.flag_bits & 0x1)))
    return Listing(entries, sum(entry.size for entry in entries), False, [])


def extract_zip(data: bytes, budget: Budget, wanted) -> list[tuple[str, bytes]]:
    """The entries that ``wanted(name, head) -> bool`` picks from their first bytes, read whole."""
    extracted: list[tuple[str, bytes]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir() or info.flag_bits & 0x1 or stat.S_ISLNK(info.external_attr >> 16):
                continue
            with archive.open(info) as raw:
                head = raw.read(HEAD_BYTES)
                if wanted(info.filename, head):
                    budget.take(info.file_size)
                    extracted.append((info.filename, head + raw.read()))
    return extracted


def list_tar(data: bytes, budget: Budget, wanted) -> Listing:
    """A compressed tar has no index, so listing it means decompressing it; the stream is read
    through the budget so that a bomb stops the scan instead of filling memory or time."""
    raw = common.decompressing(data) if common.compression(data) in ("gzip", "bz2", "xz") else None
    reader = Reader(raw if raw is not None else io.BytesIO(data), max(budget.left, 0) + 1)
    entries: list[Entry] = []
    extracted: list[tuple[str, bytes]] = []
    try:
        with tarfile.open(fileobj=reader, mode="r|") as archive:
            for member in archive:
                if member.issym() or member.islnk():
                    kind = "link"
                elif member.ischr() or member.isblk() or member.isfifo():
                    kind = "special"
                else:
                    kind = "dir" if member.isdir() else "file"
                entries.append(Entry(member.name, member.size, kind))
                if len(entries) > common.MAX_ARCHIVE_ENTRIES:
                    break
                if kind == "file":
                    content = archive.extractfile(member)
                    head = content.read(HEAD_BYTES)
                    if wanted(member.name, head):
                        extracted.append((member.name, head + content.read()))
    except tarfile.ReadError:
        if not reader.exhausted:
            raise
    # An exhausted budget may also just end the listing quietly (tarfile reads a short
    # stream as the end of the archive), so it is checked either way.
    unpacked = max(reader.tell(), sum(e.size for e in entries))
    stopped = reader.exhausted
    if not stopped:
        try:
            budget.take(reader.tell())
        except OverBudget:
            stopped = True
    return Listing(entries, unpacked, stopped, extracted)


def check(name: str, listing: Listing, packed_size: int) -> list[Finding]:
    """The high findings about an archive's entries themselves."""
    entries, unpacked = listing.entries, listing.unpacked
    findings: list[Finding] = []

    def high(rule: str, message: str) -> None:
        findings.append(Finding(name, None, rule, "high", message))

    traversal = [e.name for e in entries if _escapes(e.name)]
    if traversal:
        high(
            "archive-traversal",
            f"entries would unpack outside the target folder: {some(traversal)}; "
            "rebuild the archive with relative paths and no '..' parts.",
        )
    links = [e.name for e in entries if e.kind == "link"]
    if links:
        high(
            "archive-link",
            f"entries are symbolic or hard links, which can point anywhere on the user's machine: {some(links)}; "
            "put the real files in the archive instead.",
        )
    special = [e.name for e in entries if e.kind == "special"]
    if special:
        high("archive-special-file", f"entries are device files or FIFOs: {some(special)}; leave them out of the archive.")
    encrypted = [e.name for e in entries if e.encrypted]
    if encrypted:
        high(
            "archive-encrypted",
            f"entries are encrypted, so they cannot be checked: {some(encrypted)}; publish them unencrypted.",
        )
    limit = common.MAX_ARCHIVE_BYTES
    if listing.stopped or unpacked > limit:
        size = f"more than {limit // MiB} MiB" if listing.stopped else f"{unpacked / MiB:,.0f} MiB"
        high(
            "archive-too-large",
            f"unpacks to {size}, over the {limit // MiB} MiB limit; "
            "keep data sets out of the source and publish code and small assets only.",
        )
    elif unpacked > common.BOMB_MIN_BYTES and unpacked > common.BOMB_RATIO * max(packed_size, 1):
        high(
            "archive-too-large",
            f"unpacks to {unpacked / MiB:,.0f} MiB from {packed_size / MiB:,.2f} MiB "
            f"(over {common.BOMB_RATIO}:1), which is how decompression bombs look; leave it out of the source.",
        )
    if len(entries) > common.MAX_ARCHIVE_ENTRIES:
        high("archive-too-many-files", f"holds more than {common.MAX_ARCHIVE_ENTRIES:,} entries; publish fewer, larger files.")
    clash = _name_clashes([e.name for e in entries if e.kind != "dir"])
    if clash:
        high("archive-name-collision", clash)
    return findings


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
        problems.append(f"entries stored more than once: {some(twice)}")
    try:
        check_unique_names(set(paths))
    except InvalidInput as exc:
        problems.append(str(exc))
    if not problems:
        return None
    return "names clash when unpacked: " + "; ".join(problems) + ". Rebuild the archive with unique names."
