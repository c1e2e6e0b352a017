"""Content-addressed artifact store: every blob is kept under its sha256.

Publishing writes packed sources and images here; reading verifies the digest
again, so a file changed on disk is refused instead of loaded (SPEC U7).

A blob is written to ``tmp/`` first and renamed into place, so a crash leaves at
most a temp file (removed when a gallery is opened once it is stale) or a blob no
row refers to yet (collected by ``gallery-widgets gc``). Storing bytes that already
exist refreshes the blob's modification time: a blob an in-flight publish relies
on is always younger than the collector's grace period.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidInput, NotFound, StorageError, TamperedArtifact

TEMP_PREFIX = ".incoming-"
TRASH_PREFIX = ".gc-"
STALE_AFTER_S = 3600  # a temp file or an unreferenced blob older than this is a crash's leftover


# TamperedArtifact lives in errors.py (it travels over the wire, SPEC T4) and is re-exported here.


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_digest(digest: str) -> str:
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(f"{digest!r} is not a sha256 digest (64 lower-case hex digits).")
    return digest


CHUNK = 1024 * 1024  # streamed copies move this much at a time


class ArtifactStore(ABC):
    """Where blobs live: a local folder (``LocalArtifactStore``) or any fsspec URL such as
    ``s3://bucket/prefix`` (``object_store.FsspecArtifactStore``); ``open_store`` picks one."""

    location: str  # the folder or URL, for messages (never holds credentials)

    @abstractmethod
    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; return its digest and whether it was new."""

    @abstractmethod
    def put_stream(self, stream: BinaryIO, expected_digest: str | None = None) -> tuple[str, bool]:
        """Store what ``stream`` holds, a chunk at a time (memory stays flat for any size).

        With ``expected_digest``, bytes that hash differently are refused (``InvalidInput``) and
        nothing is stored. Returns the digest and whether it was new."""

    def put_file(self, path: str | os.PathLike) -> tuple[str, bool]:
        """Store the file at ``path``, streamed; its digest is computed first."""
        digest = file_sha256(path)
        with open(path, "rb") as handle:
            return self.put_stream(handle, digest)

    @abstractmethod
    def get(self, digest: str) -> bytes:
        """The verified bytes of ``digest``; ``TamperedArtifact`` if they changed."""

    @abstractmethod
    def open(self, digest: str) -> BinaryIO:
        """A stream of ``digest``'s bytes that raises ``TamperedArtifact`` at the end when they
        no longer match (read it to the end before trusting it)."""

    @abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abstractmethod
    def delete(self, digest: str) -> None: ...

    def reachable(self) -> str | None:
        """None when the store answers, else why not (for a health check)."""
        return None


class VerifyingReader(io.RawIOBase):
    """Reads an underlying stream and checks its sha256 once the end is reached."""

    def __init__(self, raw: BinaryIO, digest: str, where: str):
        self._raw, self._digest, self._where = raw, digest, where
        self._hash = hashlib.sha256()
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._raw.read(len(buffer))
        if not chunk:
            self._check()
            return 0
        self._hash.update(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def _check(self) -> None:
        if not self._checked:
            self._checked = True
            if self._hash.hexdigest() != self._digest:
                raise tampered(self._digest, self._where)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def tampered(digest: str, where: str) -> "TamperedArtifact":
    return TamperedArtifact(
        f"Artifact {digest[:12]}… at {where} does not match its sha256 digest: it was changed "
        "after publishing and will not be used. Ask the publisher to publish it again."
    )


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_url(location) -> bool:
    """An fsspec URL (``s3://…``, ``memory://…``) rather than a folder; ``file://`` counts as a folder."""
    return isinstance(location, str) and "://" in location and not location.startswith("file://")


def open_store(location: str | os.PathLike, options: dict | None = None) -> ArtifactStore:
    """The artifact store at ``location``: a folder, or an fsspec URL (``s3://bucket/prefix``).

    ``options`` are fsspec storage options for a URL (``endpoint_url``, ``key``, …); without them
    ``GALLERY_ARTIFACTS_OPTIONS`` (a JSON object) is used, and s3fs reads the usual AWS settings
    (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL_S3``, ``AWS_PROFILE``, …).

    Raises:
        InvalidInput: a URL whose protocol is unknown or whose library is not installed, or
            options that are not a JSON object.
    """
    if isinstance(location, str) and location.startswith("file://"):
        location = location[len("file://"):]
    if is_url(location):
        from .object_store import FsspecArtifactStore

        return FsspecArtifactStore(location, options)
    if options:
        raise InvalidInput("Storage options apply to an fsspec URL (s3://…), not to a local artifact folder.")
    return LocalArtifactStore(location)


@dataclass(frozen=True)
class StoredFile:
    """A file of the local store as the collector sees it."""

    path: Path | str  # a str key in an object store
    size: int
    mtime: float
    digest: str | None = None  # None for temp files


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.location = str(self.root)

    def path(self, digest: str) -> Path:
        _check_digest(digest)
        return self.root / "sha256" / digest[:2] / digest[2:]

    @property
    def temp_folder(self) -> Path:
        return self.root / "tmp"

    def put(self, data: bytes) -> tuple[str, bool]:
        digest = sha256(data)
        target = self.path(digest)
        existed = False
        try:
            try:
                os.utime(target)  # already stored: mark it as in use now (see the module docstring)
                return digest, False
            except FileNotFoundError:
                pass
            except PermissionError:
                # Another user's blob in a shared folder: store our own copy of the same bytes
                # over it, which renews its time just the same (and is not ours to discard).
                existed = target.exists()
                if not existed:
                    raise
            target.parent.mkdir(parents=True, exist_ok=True)
            self.temp_folder.mkdir(parents=True, exist_ok=True)
            # Write aside then rename: a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=self.temp_folder, prefix=TEMP_PREFIX)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(_write_failure(self.root, exc)) from None
        return digest, not existed

    def put_stream(self, stream: BinaryIO, expected_digest: str | None = None) -> tuple[str, bool]:
        if expected_digest is not None:
            _check_digest(expected_digest)
            target = self.path(expected_digest)
            try:
                os.utime(target)  # already stored: no need to read the stream at all
                return expected_digest, False
            except OSError:
                pass
        try:
            self.temp_folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.temp_folder, prefix=TEMP_PREFIX)
            try:
                digest = hashlib.sha256()
                with os.fdopen(fd, "wb") as handle:
                    while chunk := stream.read(CHUNK):
                        digest.update(chunk)
                        handle.write(chunk)
                    handle.flush()
                    os.fsync(handle.fileno())
                found = digest.hexdigest()
                if expected_digest is not None and found != expected_digest:
                    raise InvalidInput(
                        f"The bytes received hash to {found[:12]}…, not the declared sha256 {expected_digest[:12]}…: "
                        "the upload was damaged or the digest is wrong; nothing was stored. Send it again.")
                target = self.path(found)
                existed = target.exists()
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(_write_failure(self.root, exc)) from None
        return found, not existed

    def open(self, digest: str) -> BinaryIO:
        target = self.path(digest)
        try:
            raw = open(target, "rb")
        except FileNotFoundError:
            raise NotFound(f"Artifact {digest[:12]}… is missing from {self.root}; re-publish the version.") from None
        except OSError as exc:
            raise StorageError(f"Artifact {digest[:12]}… at {target} cannot be read ({exc.strerror or exc}).") from None
        return io.BufferedReader(VerifyingReader(raw, digest, str(target)), CHUNK)

    def reachable(self) -> str | None:
        if self.root.is_dir() or not self.root.exists():
            return None if os.access(self.root if self.root.exists() else self.root.parent, os.R_OK) else (
                f"the artifact folder {self.root} cannot be read")
        return f"{self.root} is not a folder"

    def get(self, digest: str) -> bytes:
        target = self.path(digest)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"Artifact {digest[:12]}… is missing from {self.root}; re-publish the version.") from None
        except OSError as exc:
            raise StorageError(
                f"Artifact {digest[:12]}… at {target} cannot be read ({exc.strerror or exc}); check the disk and the "
                "permissions of the gallery's artifact folder."
            ) from None
        if sha256(data) != digest:
            raise tampered(digest, str(target))
        return data

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def delete(self, digest: str) -> None:
        try:
            self.path(digest).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(_write_failure(self.root, exc)) from None

    # -- housekeeping (``gallery-widgets gc``) -------------------------------------------
    def blobs(self):
        """Every stored blob (a file under ``sha256/`` named by a digest)."""
        base = self.root / "sha256"
        for folder in sorted(base.iterdir()) if base.is_dir() else ():
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for entry in sorted(folder.iterdir()):
                digest = folder.name + entry.name
                if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
                    info = _stat(entry)
                    if info is not None:
                        yield StoredFile(entry, info.st_size, info.st_mtime, digest)

    def temp_files(self):
        """Temp files of uploads (and of an interrupted collection), in ``tmp/`` and, from
        older versions, beside the blobs."""
        places = [self.temp_folder]
        base = self.root / "sha256"
        if base.is_dir():
            places += sorted(f for f in base.iterdir() if f.is_dir())
        for folder in places:
            for entry in sorted(folder.glob(TEMP_PREFIX + "*")) if folder.is_dir() else ():
                info = _stat(entry)
                if info is not None:
                    yield StoredFile(entry, info.st_size, info.st_mtime)

    def remove_stale_temp_files(self, older_than_s: float = STALE_AFTER_S) -> list[StoredFile]:
        """Delete upload temp files older than ``older_than_s`` (leftovers of a crash: a live
        upload renames its temp file within seconds). Runs when a gallery is opened; never fails."""
        if not self.temp_folder.is_dir():
            return []
        removed, cutoff = [], time.time() - older_than_s
        for entry in self.temp_folder.glob(TEMP_PREFIX + "*"):
            info = _stat(entry)
            if info is not None and info.st_mtime < cutoff:
                try:
                    entry.unlink()
                    removed.append(StoredFile(entry, info.st_size, info.st_mtime))
                except OSError:
                    pass  # another process removed it, or the folder is read-only: harmless
        return removed

    def collect(self, blob: StoredFile, older_than_s: float) -> bool:
        """Delete an unreferenced ``blob`` unless it was stored again meanwhile; True if deleted.

        The blob is first renamed aside; its modification time is then read again, and a
        ``put`` of the same bytes that happened in between (it refreshes the time) brings it
        back. A ``put`` after the rename writes the file anew.
        """
        self.temp_folder.mkdir(parents=True, exist_ok=True)
        trash = self.temp_folder / f"{TRASH_PREFIX}{blob.digest}-{os.getpid()}"
        try:
            os.replace(blob.path, trash)
        except FileNotFoundError:
            return False
        info = _stat(trash)
        if info is not None and info.st_mtime >= time.time() - older_than_s:
            self._restore(trash, blob.path)
            return False
        trash.unlink(missing_ok=True)
        return True

    def recover_trash(self, referenced: set[str], older_than_s: float) -> list[str]:
        """Put back blobs a collection crashed on (renamed aside, not yet deleted) when they
        are referenced or fresh; return their digests."""
        restored = []
        for entry in self.temp_folder.glob(TRASH_PREFIX + "*") if self.temp_folder.is_dir() else ():
            digest = entry.name[len(TRASH_PREFIX):].split("-")[0]
            info = _stat(entry)
            if len(digest) != 64 or info is None:
                continue
            if digest in referenced or info.st_mtime >= time.time() - older_than_s:
                self._restore(entry, self.path(digest))
                restored.append(digest)
        return restored

    def relative(self, item: StoredFile) -> str:
        """The name of ``item`` inside the store, for listings."""
        return str(Path(item.path).relative_to(self.root))

    def remove_temp(self, item: StoredFile) -> bool:
        """Delete a stale temp file; False if it was already gone."""
        try:
            Path(item.path).unlink()
            return True
        except FileNotFoundError:
            return False

    @staticmethod
    def _restore(trash: Path, target: Path) -> None:
        if target.exists():  # stored anew meanwhile: the same bytes
            trash.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(trash, target)


def _stat(path: Path):
    try:
        info = path.stat()
    except OSError:
        return None
    return info if path.is_file() else None


def _write_failure(root: Path, exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"The disk holding the gallery's artifacts ({root}) is full; nothing was stored. Free some space (or "
            "move GALLERY_HOME to a bigger disk) and try again."
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"The gallery's artifact folder {root} is read-only here ({exc.strerror}); this change needs write "
            "access to it. Ask its owner for write access, or use a gallery you can write (GALLERY_HOME)."
        )
    if exc.errno == errno.EFBIG:
        return f"The file is too large for the disk or the limits of this process at {root}; nothing was stored."
    return f"Writing to the gallery's artifact folder {root} failed ({exc.strerror or exc}); nothing was stored."
