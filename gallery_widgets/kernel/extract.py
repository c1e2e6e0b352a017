"""Verified, safe unpacking of published archives into the local cache (SPEC U7).

An archive is read through ``read_archive(digest)``, which checks its sha256 first; every
entry is checked to stay inside its folder before anything is written.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

from ..errors import InvalidInput
from ..packing import MANIFEST_ENTRY, safe_members

_COMPLETE = ".gallery-complete"
_lock = threading.Lock()
_extracted: dict[tuple[str, str], Path] = {}  # (cache root, digest) -> folder, for warm imports


def extract(data: bytes, digest: str, cache_root: Path) -> Path:
    """Unpack verified archive bytes into ``cache_root/digest`` once; return the folder."""
    key = (str(cache_root), digest)
    with _lock:
        known = _extracted.get(key)
        if known is not None and (known / _COMPLETE).exists():
            return known
        target = cache_root / digest
        if not (target / _COMPLETE).exists():
            cache_root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=cache_root, prefix=".unpack-"))
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    for info in safe_members(archive):
                        destination = (staging / info.filename).resolve()
                        if staging.resolve() not in destination.parents and destination != staging.resolve():
                            raise InvalidInput(f"Archive entry {info.filename!r} escapes its folder.")
                        if info.is_dir():
                            destination.mkdir(parents=True, exist_ok=True)
                            continue
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        with archive.open(info) as source, open(destination, "wb") as sink:
                            shutil.copyfileobj(source, sink)
                (staging / _COMPLETE).write_text(digest)
                if target.exists():  # a half-written folder from a crash: replace it
                    shutil.rmtree(target, ignore_errors=True)
                os.replace(staging, target)
            except FileExistsError:
                shutil.rmtree(staging, ignore_errors=True)  # another process finished first
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        _extracted[key] = target
        return target


def fetch(digest: str, cache_root: Path, read_archive) -> Path:
    """The unpacked folder of artifact ``digest`` in ``cache_root``: from the cache, or read
    with ``read_archive(digest)`` (which returns bytes verified against the digest) and unpacked.

    Raises:
        InvalidInput: ``digest`` is not a sha256 digest; an entry would land outside its folder.
    """
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(f"{digest!r} is not a sha256 digest (64 lower-case hex digits).")
    folder = cached_folder(digest, cache_root)
    if folder is None:
        folder = extract(read_archive(digest), digest, cache_root)
    return folder


def cached_folder(digest: str, cache_root: Path) -> Path | None:
    """The folder of an archive this process already verified and unpacked, if any."""
    folder = _extracted.get((str(cache_root), digest))
    return folder if folder is not None and (folder / _COMPLETE).exists() else None


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_ENTRY).read_text("utf-8"))
