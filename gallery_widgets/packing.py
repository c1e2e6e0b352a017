"""The archive format of published code: one deterministic zip (same files → same
sha256) with the manifest inside, written by the kernel and read back by the gallery.

File and folder names must be unique ignoring case and Unicode normalization (SPEC P4):
such code breaks on macOS and Windows checkouts, so a clash is refused and named. Names
must also survive every checkout and the importer: no backslash or colon, no control
characters, valid UTF-8.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .errors import InvalidInput

MANIFEST_ENTRY = ".gallery/manifest.json"
IGNORED_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", ".mypy_cache", ".pytest_cache", ".venv"}
IGNORED_SUFFIXES = {".pyc", ".pyo"}
# The marker an unpacked artifact carries in its top folder (kernel/extract.py): it is the cache's
# bookkeeping, not the asset's, so a source made from an unpacked folder packs back to the same archive.
CACHE_MARKER = ".gallery-complete"
MAX_FILES = 10_000
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_ARCHIVE_BYTES = MAX_TOTAL_BYTES + 16 * 1024 * 1024  # a packed archive: its files plus zip overhead
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


# Backslash and colon mean "folder" and "drive" on Windows (and the importer refuses them);
# control characters are never part of a name a person typed.
_BAD_NAME_CHARS = re.compile(r'[\\:\x00-\x1f\x7f]')


def check_entry_name(path: str) -> str:
    """One relative posix path of a source: refuse what cannot be checked out everywhere
    or imported again.

    Raises:
        InvalidInput: the name holds a backslash, a colon or a control character, is not
            valid UTF-8, or has an empty, '.' or '..' part.
    """
    if not isinstance(path, str) or not path:
        raise InvalidInput(f"{path!r} is not a file name.")
    shown = path.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"The file name {shown!r} is not valid UTF-8 (it was probably made on a system with another "
            "encoding); rename it."
        ) from None
    bad = _BAD_NAME_CHARS.search(path)
    if bad:
        char = {"\\": "a backslash", ":": "a colon"}.get(bad.group(), f"the control character {bad.group()!r}")
        raise InvalidInput(
            f"The file name {shown!r} contains {char}, which Windows checkouts and the gallery's importer refuse; "
            "rename it (use '/' between folders)."
        )
    if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        raise InvalidInput(f"The file name {shown!r} must be a relative path without empty, '.' or '..' parts.")
    return path


def _same_name_key(name: str) -> str:
    """Canonical caseless form: what macOS (normalization- and case-insensitive) and Windows
    (case-insensitive) treat as one name, e.g. 'Café' written with 'é' or with 'e' + U+0301."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).lower())


def collect_files(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (minus caches) as {posix relative path: bytes}."""
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder.")
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in IGNORED_DIRS for part in rel.parts) or path.suffix in IGNORED_SUFFIXES:
            continue
        if rel.as_posix() == CACHE_MARKER:
            continue
        if path.is_symlink():
            raise InvalidInput(f"{rel.as_posix()} in {root} is a symbolic link; copy the real file in instead.")
        if path.is_file():
            name = check_entry_name(rel.as_posix())
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise InvalidInput(f"{name} in {root} cannot be read ({exc.strerror or exc}); check its permissions.") from None
            total += len(data)
            files[name] = data
            if len(files) > MAX_FILES or total > MAX_TOTAL_BYTES:
                raise InvalidInput(
                    f"{root} holds more than {MAX_FILES:,} files or {MAX_TOTAL_BYTES // 2**20} MiB; "
                    "publish code and small assets only and keep data sets out of the folder."
                )
    return files


def check_names(paths) -> None:
    """Every rule on the file names of a source (SPEC P4): each name on its own
    (``check_entry_name``), then all of them together (``check_unique_names``)."""
    for path in paths:
        check_entry_name(path)
    check_unique_names(paths)


def check_unique_names(paths) -> None:
    """SPEC P4: refuse two entries that differ only in case or Unicode normalization, or a
    file and a folder of one name."""
    seen: dict[str, tuple[str, str]] = {}  # canonical caseless path -> (original, "file"|"folder")
    clashes: list[str] = []
    for path in sorted(paths):
        parts = PurePosixPath(path).parts
        for depth in range(1, len(parts) + 1):
            entry = "/".join(parts[:depth])
            what = "file" if depth == len(parts) else "folder"
            key = _same_name_key(entry)
            if key in seen:
                original, kind = seen[key]
                if original != entry or kind != what:
                    clashes.append(f"{original!r} ({kind}) and {entry!r} ({what})")
            else:
                seen[key] = (entry, what)
    if clashes:
        raise InvalidInput(
            "File and folder names must be unique ignoring letter case and accents' encoding; rename one of each "
            "pair: "
            + "; ".join(dict.fromkeys(clashes))
        )


def pack(files: dict[str, bytes], manifest: dict) -> bytes:
    """A zip with sorted entries, fixed times and modes, and the manifest inside."""
    check_names(files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = dict(files)
        entries[MANIFEST_ENTRY] = json.dumps(manifest, sort_keys=True, indent=1).encode()
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def safe_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Every entry, refusing absolute paths, '..', drive letters and links."""
    members = []
    for info in archive.infolist():
        name = info.filename
        path = PurePosixPath(name)
        if name.startswith(("/", "\\")) or ".." in path.parts or ":" in path.parts[0] or "\\" in name:
            raise InvalidInput(f"Archive entry {name!r} would land outside its folder; the artifact is refused.")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise InvalidInput(f"Archive entry {name!r} is a symbolic link; the artifact is refused.")
        members.append(info)
    return members


def read_limited(stream: BinaryIO, limit: int = MAX_ARCHIVE_BYTES) -> bytes:
    """All of ``stream``, refusing more than ``limit`` bytes."""
    data = stream.read(limit + 1)
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidInput("The archive must be read as bytes (open it in binary mode).")
    if len(data) > limit:
        raise InvalidInput(f"The archive is larger than {limit // 2**20} MiB; publish code and small assets only.")
    return bytes(data)


def unpack_in_memory(data: bytes) -> tuple[dict | None, dict[str, bytes]]:
    """The manifest inside a packed archive (None when it has none) and its other files,
    read without writing anything, within the limits ``collect_files`` packs."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InvalidInput(f"The archive is not a zip file ({exc}); pack the source with gallery_widgets.") from None
    manifest, files, total = None, {}, 0
    with archive:
        members = [m for m in safe_members(archive) if not m.is_dir()]
        if len(members) > MAX_FILES + 1:
            raise InvalidInput(f"The archive holds {len(members):,} files; the limit is {MAX_FILES:,}.")
        for info in members:
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise InvalidInput(f"The archive unpacks to more than {MAX_TOTAL_BYTES // 2**20} MiB; "
                                   "publish code and small assets only.")
            try:
                content = archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
                raise InvalidInput(f"Archive entry {info.filename!r} cannot be read ({exc}).") from None
            if info.filename == MANIFEST_ENTRY:
                try:
                    manifest = json.loads(content.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    raise InvalidInput(f"The archive's {MANIFEST_ENTRY} is not JSON.") from None
            elif info.filename in files:
                raise InvalidInput(f"The archive holds {info.filename!r} twice.")
            else:
                files[info.filename] = content
    return manifest, files
