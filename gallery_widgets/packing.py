"""Turning a source folder into one deterministic archive (same files → same sha256).

File and folder names must be unique ignoring case (SPEC P4): such code breaks
on macOS and Windows checkouts, so a clash is refused and named.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path, PurePosixPath

from .errors import InvalidInput

MANIFEST_ENTRY = ".gallery/manifest.json"
IGNORED_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", ".mypy_cache", ".pytest_cache", ".venv"}
IGNORED_SUFFIXES = {".pyc", ".pyo"}
MAX_FILES = 10_000
MAX_TOTAL_BYTES = 200 * 1024 * 1024
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


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
        if path.is_symlink():
            raise InvalidInput(f"{rel.as_posix()} in {root} is a symbolic link; copy the real file in instead.")
        if path.is_file():
            data = path.read_bytes()
            total += len(data)
            files[rel.as_posix()] = data
            if len(files) > MAX_FILES or total > MAX_TOTAL_BYTES:
                raise InvalidInput(
                    f"{root} holds more than {MAX_FILES:,} files or {MAX_TOTAL_BYTES // 2**20} MiB; "
                    "publish code and small assets only and keep data sets out of the folder."
                )
    return files


def check_unique_names(paths) -> None:
    """SPEC P4: refuse two entries that differ only in case, or a file and a folder of one name."""
    seen: dict[str, tuple[str, str]] = {}  # lower-cased path -> (original, "file"|"folder")
    clashes: list[str] = []
    for path in sorted(paths):
        parts = PurePosixPath(path).parts
        for depth in range(1, len(parts) + 1):
            entry = "/".join(parts[:depth])
            what = "file" if depth == len(parts) else "folder"
            key = entry.lower()
            if key in seen:
                original, kind = seen[key]
                if original != entry or kind != what:
                    clashes.append(f"{original!r} ({kind}) and {entry!r} ({what})")
            else:
                seen[key] = (entry, what)
    if clashes:
        raise InvalidInput(
            "File and folder names must be unique ignoring letter case; rename one of each pair: "
            + "; ".join(dict.fromkeys(clashes))
        )


def pack(files: dict[str, bytes], manifest: dict) -> bytes:
    """A zip with sorted entries, fixed times and modes, and the manifest inside."""
    check_unique_names(files)
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
