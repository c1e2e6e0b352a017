"""``RemoteGallery``: a team server's gallery in a notebook (SPEC §6) — the REST client with the
kernel-side layer mixed in, exactly as ``LocalGallery`` mixes it into the SQL gallery."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .client import RestClient
from .kernel.facade import KernelSide


class RemoteGallery(KernelSide, RestClient):
    """A gallery on a team server opened with a token: the whole API of SPEC §4.

    Publishing packs local sources here and uploads them with their sha256 (T5);
    importing downloads an artifact by its digest once, keeps it in this machine's cache
    (``<GALLERY_HOME>/cache/archives``) and verifies it against the digest every time
    before it is unpacked (U7), so a second import transfers nothing.
    """

    @property
    def archive_cache(self) -> Path:
        return self.cache_root / "archives"

    def _verified_archive(self, digest: str) -> bytes:
        cached = self.archive_cache / digest[:2] / digest
        try:
            data = cached.read_bytes()
        except OSError:
            data = None
        if data is not None and hashlib.sha256(data).hexdigest() == digest:
            return data
        data = super()._verified_archive(digest)  # downloaded and verified
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            temp = cached.with_name(f".{digest}.{os.getpid()}.tmp")
            temp.write_bytes(data)
            os.replace(temp, cached)
        except OSError:
            pass  # a read-only or full cache costs a download next time, nothing else
        return data


__all__ = ["RemoteGallery"]
