"""Content-addressed artifact store: every blob is kept under its sha256.

Publishing writes packed sources and images here; reading verifies the digest
again, so a file changed on disk is refused instead of loaded (SPEC U7).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

from .errors import GalleryError, InvalidInput, NotFound


class TamperedArtifact(GalleryError):
    """An artifact's bytes no longer match its digest."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_digest(digest: str) -> str:
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(f"{digest!r} is not a sha256 digest (64 lower-case hex digits).")
    return digest


class ArtifactStore(ABC):
    """Where blobs live; the local folder is the first of these, fsspec URLs may follow."""

    @abstractmethod
    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; return its digest and whether it was new."""

    @abstractmethod
    def get(self, digest: str) -> bytes:
        """The verified bytes of ``digest``; ``TamperedArtifact`` if they changed."""

    @abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abstractmethod
    def delete(self, digest: str) -> None: ...


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        _check_digest(digest)
        return self.root / "sha256" / digest[:2] / digest[2:]

    def put(self, data: bytes) -> tuple[str, bool]:
        digest = sha256(data)
        target = self.path(digest)
        if target.exists():
            return digest, False
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write aside then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, True

    def get(self, digest: str) -> bytes:
        target = self.path(digest)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"Artifact {digest[:12]}… is missing from {self.root}; re-publish the version.") from None
        if sha256(data) != digest:
            raise TamperedArtifact(
                f"Artifact {digest[:12]}… at {target} does not match its sha256 digest: it was changed "
                "after publishing and will not be used. Ask the publisher to publish it again."
            )
        return data

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)
