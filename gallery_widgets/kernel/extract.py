"""Verified, safe unpacking of published archives into the local cache (SPEC U7).

An archive is read through ``read_archive(digest)``, which checks its sha256 first; every
entry is checked to stay inside its folder before anything is written.

The unpacked tree is never trusted just because it is there: training jobs and other
processes of the same user could change it. So the sha256 of every file the archive
holds (its *file list*) is taken from the verified archive bytes, and the tree is
compared with it before each import and each job start (``fetch``); a tree that differs
in any way (a changed, added or removed file) is unpacked again from the archive.
Files are written read-only, and a job never runs from the cache: ``start_job`` copies
the checked files into the job's own folder (see ``copy_checked``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import stat
import tempfile
import threading
import zipfile
from pathlib import Path

from ..errors import InvalidInput
from ..packing import CACHE_MARKER, MANIFEST_ENTRY, safe_members

_COMPLETE = CACHE_MARKER
_lock = threading.Lock()
# (cache root, digest) -> (folder, {relative path: sha256}) of archives this process verified
_extracted: dict[tuple[str, str], tuple[Path, dict[str, str]]] = {}


def file_list(data: bytes) -> dict[str, str]:
    """``{relative path: sha256}`` of every file in verified archive bytes."""
    files = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in safe_members(archive):
            if not info.is_dir():
                files[info.filename] = hashlib.sha256(archive.read(info)).hexdigest()
    return files


def tree_differences(folder: Path, expected: dict[str, str]) -> list[str]:
    """How ``folder`` differs from ``expected`` (empty when it holds exactly those files)."""
    found = {}
    if folder.is_symlink():
        return [f"{folder} was replaced by a link"]
    for path in folder.rglob("*"):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[name] = "symlink"
        elif path.is_file() and name != _COMPLETE:  # only our marker at the top is not the archive's
            found[name] = _sha256_file(path)
    problems = [f"{name} was added" for name in sorted(set(found) - set(expected))]
    problems += [f"{name} is missing" for name in sorted(set(expected) - set(found))]
    problems += [f"{name} was changed" for name in sorted(set(found) & set(expected)) if found[name] != expected[name]]
    return problems


def extract(data: bytes, digest: str, cache_root: Path) -> Path:
    """Unpack verified archive bytes into ``cache_root/digest`` unless a tree that matches
    them file by file is already there; return the folder."""
    cache_root.mkdir(parents=True, exist_ok=True)
    expected = file_list(data)
    with _lock:
        target = cache_root / digest
        for _attempt in range(3):  # another process may swap in its tree at the same moment
            if (target / _COMPLETE).exists() and not tree_differences(target, expected):
                break
            _unpack(data, digest, target)
        else:
            from ..artifacts import TamperedArtifact

            raise TamperedArtifact(f"The unpacked copy of artifact {digest[:12]}… in {target} keeps changing; "
                                   f"stop whatever writes to the gallery's cache, then import again.")
        _extracted[(str(cache_root), digest)] = (target, expected)
        return target


def fetch(digest: str, cache_root: Path, read_archive) -> Path:
    """The unpacked folder of artifact ``digest`` in ``cache_root``, checked file by file
    against the archive: taken from the cache when it matches, else read with
    ``read_archive(digest)`` (bytes verified against the digest) and unpacked again.

    Raises:
        InvalidInput: ``digest`` is not a sha256 digest; an entry would land outside its folder.
    """
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(f"{digest!r} is not a sha256 digest (64 lower-case hex digits).")
    known = _extracted.get((str(cache_root), digest))
    if known is not None and (known[0] / _COMPLETE).exists() and not tree_differences(*known):
        return known[0]
    return extract(read_archive(digest), digest, cache_root)


def checked_files(folder: Path) -> dict[str, str] | None:
    """The file list a tree in the cache was checked against in this process, if any."""
    for known_folder, files in list(_extracted.values()):
        if known_folder == folder:
            return dict(files)
    return None


def cached_folder(digest: str, cache_root: Path) -> Path | None:
    """The folder of an archive this process already verified and unpacked, if it still matches."""
    known = _extracted.get((str(cache_root), digest))
    if known is None or not (known[0] / _COMPLETE).exists() or tree_differences(*known):
        return None
    return known[0]


def copy_checked(source: Path, files: dict[str, str], target: Path) -> None:
    """Copy exactly ``files`` (relative path -> sha256) from ``source`` into the new folder
    ``target``, checking each file's sha256 on the bytes written, and make the copy read-only.

    Raises:
        TamperedArtifact: a file changed after it was checked (another process writes to the cache).
    """
    from ..artifacts import TamperedArtifact

    target.mkdir(parents=True)
    for name, digest in files.items():
        data = (source / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise TamperedArtifact(f"{name} in {source} changed after it was checked; it will not run. Import the "
                                   f"algorithm again, and stop whatever writes to the gallery's cache.")
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
    make_read_only(target)


def make_read_only(folder: Path) -> None:
    """Files 0444 and folders 0555: a careless write fails instead of changing the code."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.is_symlink():
            path.chmod(0o555 if path.is_dir() else 0o444)
    folder.chmod(0o555)


def remove_tree(folder: Path) -> None:
    """Remove a folder written by ``make_read_only`` (its folders must be writable first)."""
    if not folder.exists():
        return
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_ENTRY).read_text("utf-8"))


def _unpack(data: bytes, digest: str, target: Path) -> None:
    """Unpack into a staging folder, then swap it in (a stale or changed tree is moved aside
    first, so readers see the old tree or the new one, never a mixture)."""
    cache_root = target.parent
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
        make_read_only(staging)
        if target.exists() or target.is_symlink():
            stale = cache_root / f".stale-{digest[:12]}-{secrets.token_hex(4)}"
            try:
                os.replace(target, stale)
            except FileNotFoundError:
                stale = None  # another process moved it first
            if stale is not None:
                remove_tree(stale)
        try:
            os.replace(staging, target)
        except OSError:  # another process put a fresh tree there first: ours is not needed
            remove_tree(staging)
    except BaseException:
        remove_tree(staging)
        raise


# path -> ((inode, size, mtime, ctime), sha256): a file whose status is unchanged is not hashed
# again. The change time (ctime) cannot be set back by an ordinary process, so a rewrite that
# restores the modification time is still noticed.
_hashed: dict[str, tuple[tuple[int, int, int, int], str]] = {}


def _sha256_file(path: Path) -> str:
    status = path.stat()
    key = (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
    known = _hashed.get(str(path))
    if known is not None and known[0] == key:
        return known[1]
    digest = _hash(path)
    _hashed[str(path)] = (key, digest)
    return digest


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
