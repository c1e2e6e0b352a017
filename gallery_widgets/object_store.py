"""The artifact store at an fsspec URL: ``s3://bucket/prefix`` (through s3fs) or any other
filesystem fsspec knows (``memory://``, ``gcs://`` …). Same layout and rules as the local
folder (``artifacts.LocalArtifactStore``): a blob lives at ``<prefix>/sha256/ab/cdef…``
under its sha256, and every read is verified against it (SPEC U7, §6 Artifacts).

How a blob is written so that nobody ever reads half of it:

- On an object store (S3, GCS, Azure) a single PUT, or a multipart upload once it is
  completed, appears whole or not at all, and there is no cheap rename. A blob whose digest
  is known is therefore uploaded straight to its key; a failed or refused upload is aborted
  (never completed), so it leaves no object behind. An upload whose digest is not known in
  advance goes to ``tmp/`` first and is copied into place once hashed.
- On other filesystems the blob is written to ``tmp/`` and moved into place.

Large blobs are streamed a chunk at a time both ways, so memory stays flat.

Credentials and endpoint come from the usual places: fsspec storage options given by the
caller or as JSON in ``GALLERY_ARTIFACTS_OPTIONS``; otherwise s3fs and botocore read the
standard AWS settings (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL_S3``,
``AWS_DEFAULT_REGION``, ``AWS_PROFILE``, instance roles).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from datetime import datetime
from typing import BinaryIO

from .artifacts import (
    CHUNK,
    STALE_AFTER_S,
    TEMP_PREFIX,
    ArtifactStore,
    StoredFile,
    VerifyingReader,
    _check_digest,
    sha256,
    tampered,
)
from .errors import InvalidInput, NotFound, StorageError

OPTIONS_ENV = "GALLERY_ARTIFACTS_OPTIONS"
# Filesystems whose writes appear atomically (one PUT / a completed multipart upload).
ATOMIC_PUT_PROTOCOLS = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}


def storage_options(options: dict | None) -> dict:
    """The caller's options, else the JSON object in ``GALLERY_ARTIFACTS_OPTIONS``, else none."""
    if options is not None:
        if not isinstance(options, dict):
            raise InvalidInput("Artifact storage options must be a dict of fsspec options (endpoint_url, key, …).")
        return dict(options)
    text = os.environ.get(OPTIONS_ENV, "").strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{OPTIONS_ENV} is not valid JSON ({exc}); set it to an object such as "
                           '{"endpoint_url": "https://s3.example.com"}.') from None
    if not isinstance(parsed, dict):
        raise InvalidInput(f"{OPTIONS_ENV} must be a JSON object of fsspec storage options.")
    return parsed


class FsspecArtifactStore(ArtifactStore):
    """Blobs at an fsspec URL; see the module docstring."""

    def __init__(self, url: str, options: dict | None = None):
        import fsspec

        self.location = url
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options(options))
        except (ImportError, ValueError) as exc:
            protocol = url.split("://", 1)[0]
            hint = " (pip install 'gallery_widgets[s3]')" if protocol in ("s3", "s3a") else ""
            raise InvalidInput(f"Cannot use the artifact store {url}: {exc}{hint}.") from None
        self.root = root.rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, (tuple, list)) else (self.fs.protocol,)
        self.atomic_put = bool(ATOMIC_PUT_PROTOCOLS.intersection(protocols))

    # -- keys ------------------------------------------------------------------------------
    def key(self, digest: str) -> str:
        _check_digest(digest)
        return f"{self.root}/sha256/{digest[:2]}/{digest[2:]}"

    @property
    def temp_prefix(self) -> str:
        return f"{self.root}/tmp"

    def _temp_key(self) -> str:
        return f"{self.temp_prefix}/{TEMP_PREFIX}{uuid.uuid4().hex}"

    # -- writing ---------------------------------------------------------------------------
    def put(self, data: bytes) -> tuple[str, bool]:
        import io

        return self.put_stream(io.BytesIO(data), sha256(data))

    def put_stream(self, stream: BinaryIO, expected_digest: str | None = None) -> tuple[str, bool]:
        if expected_digest is not None:
            _check_digest(expected_digest)
            if self._refresh(expected_digest):
                return expected_digest, False
        try:
            if expected_digest is not None and self.atomic_put:
                self._upload(stream, self.key(expected_digest), expected_digest)
                return expected_digest, True
            temp = self._temp_key()
            try:
                found = self._upload(stream, temp, expected_digest)
                if self._refresh(found):
                    return found, False
                self.fs.mv(temp, self.key(found))
            finally:
                self._remove_quietly(temp)
            return found, True
        except (InvalidInput, StorageError):
            raise
        except _SourceFailed as failed:  # the sender's stream broke: its own error, nothing stored
            raise failed.error from None
        except Exception as exc:  # botocore / aiohttp / OSError: the store is down or refuses us
            raise StorageError(self._failure("Writing to", exc)) from None

    def _upload(self, stream: BinaryIO, key: str, expected: str | None) -> str:
        """Copy ``stream`` to ``key`` a chunk at a time; commit only if it hashes to ``expected``."""
        digest = hashlib.sha256()
        target = self.fs.open(key, "wb", block_size=max(CHUNK * 8, 5 * 2**20))
        try:
            while chunk := _read(stream):
                digest.update(chunk)
                target.write(chunk)
            found = digest.hexdigest()
            if expected is not None and found != expected:
                raise InvalidInput(
                    f"The bytes received hash to {found[:12]}…, not the declared sha256 {expected[:12]}…: the upload "
                    "was damaged or the digest is wrong; nothing was stored. Send it again.")
        except BaseException:
            _discard(target)
            raise
        target.close()
        return found

    def _refresh(self, digest: str) -> bool:
        """True if ``digest`` is stored; its modification time is renewed, so a collector
        running now keeps it (see ``artifacts``)."""
        key = self.key(digest)
        try:
            self.fs.invalidate_cache(key)  # ask the store itself, never a listing cached earlier
            if not self.fs.exists(key):
                return False
            if hasattr(self.fs, "setxattr") and self.atomic_put:
                # S3 keeps no writable mtime: copying the object onto itself renews LastModified.
                self.fs.setxattr(key, gallery_refreshed=str(int(time.time())))
            else:
                self.fs.touch(key, truncate=False)
        except NotImplementedError:
            pass  # this filesystem cannot renew times; the grace period still covers a live publish
        except Exception as exc:
            raise StorageError(self._failure("Writing to", exc)) from None
        return True

    def delete(self, digest: str) -> None:
        try:
            self.fs.rm_file(self.key(digest))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise StorageError(self._failure("Deleting from", exc)) from None

    def _remove_quietly(self, key: str) -> None:
        try:
            self.fs.rm_file(key)
        except Exception:
            pass  # already moved, or the store is down: gc removes a stale temp object later

    # -- reading ---------------------------------------------------------------------------
    def get(self, digest: str) -> bytes:
        key = self.key(digest)
        try:
            data = self.fs.cat_file(key)
        except FileNotFoundError:
            raise self._missing(digest) from None
        except Exception as exc:
            raise StorageError(self._failure("Reading from", exc)) from None
        if sha256(data) != digest:
            raise tampered(digest, self._where(key))
        return data

    def open(self, digest: str) -> BinaryIO:
        import io

        key = self.key(digest)
        try:
            raw = self.fs.open(key, "rb", block_size=CHUNK * 8)
        except FileNotFoundError:
            raise self._missing(digest) from None
        except Exception as exc:
            raise StorageError(self._failure("Reading from", exc)) from None
        return io.BufferedReader(VerifyingReader(raw, digest, self._where(key)), CHUNK)

    def exists(self, digest: str) -> bool:
        try:
            self.fs.invalidate_cache(self.key(digest))
            return self.fs.exists(self.key(digest))
        except Exception as exc:
            raise StorageError(self._failure("Reading from", exc)) from None

    def reachable(self) -> str | None:
        try:
            self.fs.invalidate_cache()
            self.fs.ls(self.root.split("/", 1)[0] if self.atomic_put else self.root, detail=False)
        except FileNotFoundError:
            return None if not self.atomic_put else f"the bucket of {self.location} does not exist"
        except Exception as exc:
            return f"{self.location} does not answer ({type(exc).__name__}: {_short(exc)})"
        return None

    # -- housekeeping (``gallery-widgets gc``) ----------------------------------------------
    def _listing(self, prefix: str):
        try:
            self.fs.invalidate_cache(prefix)
            return self.fs.find(prefix, detail=True)
        except FileNotFoundError:
            return {}
        except Exception as exc:
            raise StorageError(self._failure("Listing", exc)) from None

    def blobs(self):
        base = f"{self.root}/sha256/"
        for key, info in sorted(self._listing(f"{self.root}/sha256").items()):
            digest = key[len(base):].replace("/", "") if key.startswith(base) else ""
            if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
                yield StoredFile(key, int(info.get("size") or 0), _mtime(info), digest)

    def temp_files(self):
        for key, info in sorted(self._listing(self.temp_prefix).items()):
            if key.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
                yield StoredFile(key, int(info.get("size") or 0), _mtime(info))

    def remove_stale_temp_files(self, older_than_s: float = STALE_AFTER_S) -> list[StoredFile]:
        try:
            cutoff = time.time() - older_than_s
            return [f for f in self.temp_files() if f.mtime < cutoff and self.remove_temp(f)]
        except Exception:
            return []  # never fails: this runs when a gallery is opened

    def collect(self, blob: StoredFile, older_than_s: float) -> bool:
        """Delete an unreferenced ``blob`` unless it was stored again meanwhile.

        An object store has no atomic rename to set the blob aside first (as the local store
        does), so its time is read again right before deleting: a publish that re-stored it
        since the listing renewed that time and keeps it.
        """
        try:
            self.fs.invalidate_cache(blob.path)  # the listing's time may be stale by now
            info = self.fs.info(blob.path)
        except FileNotFoundError:
            return False
        if _mtime(info) >= time.time() - older_than_s:
            return False
        self.fs.rm_file(blob.path)
        return True

    def recover_trash(self, referenced: set[str], older_than_s: float) -> list[str]:
        return []  # nothing is ever set aside here (see ``collect``)

    def relative(self, item: StoredFile) -> str:
        return str(item.path)[len(self.root) + 1:]

    def remove_temp(self, item: StoredFile) -> bool:
        try:
            self.fs.rm_file(item.path)
            return True
        except FileNotFoundError:
            return False

    # -- messages --------------------------------------------------------------------------
    def _where(self, key: str) -> str:
        protocol = self.location.split("://", 1)[0]
        return f"{protocol}://{key}"

    def _missing(self, digest: str) -> NotFound:
        return NotFound(f"Artifact {digest[:12]}… is missing from {self.location}; re-publish the version.")

    def _failure(self, verb: str, exc: Exception) -> str:
        return (f"{verb} the artifact store {self.location} failed ({type(exc).__name__}: {_short(exc)}); nothing "
                "was changed. Check that the store is reachable and that the credentials may read and write it.")


class _SourceFailed(Exception):
    def __init__(self, error: BaseException):
        self.error = error


def _read(stream: BinaryIO) -> bytes:
    try:
        return stream.read(CHUNK)
    except Exception as exc:
        raise _SourceFailed(exc) from exc


def _discard(handle) -> None:
    """Drop a half-written upload without committing it (``close`` would complete it)."""
    try:
        if hasattr(handle, "discard"):
            handle.discard()  # s3fs / fsspec buffered files: aborts a multipart upload
            handle.closed = True
        else:
            handle.close()
    except Exception:
        pass


def _mtime(info: dict) -> float:
    value = info.get("LastModified") or info.get("mtime") or info.get("created") or 0
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
