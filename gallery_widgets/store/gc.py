"""``gallery-widgets gc``: find (and with ``apply``, delete) what crashes leave in the
artifact store: blobs no row refers to and upload temp files.

Safe while others publish: a blob is only collected when no row names it *and* it was
last stored longer ago than the grace period (default one hour). An in-flight publish
writes or re-stores its blob (which refreshes its time) before its transaction, and
that transaction ends within the database's busy timeout (a minute), far inside the
grace period; ``LocalArtifactStore.collect`` re-checks the time after moving the blob
aside, so a publish racing with the collector keeps its blob.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select, union

from ..artifacts import STALE_AFTER_S, ArtifactStore, StoredFile
from ..errors import StorageError
from .engine import Database
from .schema import DIGEST_COLUMNS


@dataclass
class Collection:
    """What one run found (and removed, when ``applied``)."""

    blobs: list[StoredFile] = field(default_factory=list)  # unreferenced and older than the grace period
    temp_files: list[StoredFile] = field(default_factory=list)  # stale upload temp files
    young_blobs: list[StoredFile] = field(default_factory=list)  # unreferenced but recent: kept
    restored: list[str] = field(default_factory=list)  # blobs an interrupted run had moved aside
    applied: bool = False

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.blobs) + sum(f.size for f in self.temp_files)


def referenced_digests(database: Database) -> set[str]:
    """Every digest a row of the gallery names."""
    query = union(*(select(column.label("digest")).where(column.is_not(None)) for column in DIGEST_COLUMNS))
    with database.read() as s:
        return set(s.scalars(query))


def collect_garbage(database: Database, store: ArtifactStore, *, apply: bool = False,
                    older_than_s: float = STALE_AFTER_S) -> Collection:
    """List (``apply=False``) or delete the store's unreferenced blobs and stale temp files
    older than ``older_than_s`` seconds.

    Raises:
        StorageError: the database cannot be read, or the store cannot be written with ``apply``.
    """
    # The references are read before the files are looked at: a blob published after
    # this read is younger than the grace period, so it is never a candidate.
    referenced = referenced_digests(database)
    result = Collection(applied=apply)
    if apply:
        result.restored = store.recover_trash(referenced, older_than_s)
    cutoff = time.time() - older_than_s
    for blob in store.blobs():
        if blob.digest in referenced:
            continue
        (result.young_blobs if blob.mtime >= cutoff else result.blobs).append(blob)
    result.temp_files = [f for f in store.temp_files() if f.mtime < cutoff]
    if apply:
        try:
            result.blobs = [blob for blob in result.blobs if store.collect(blob, older_than_s)]
            result.temp_files = [temp for temp in result.temp_files if store.remove_temp(temp)]
        except OSError as exc:
            raise StorageError(
                f"Cannot delete from the artifact store {store.location} ({exc.strerror or exc}); run gc as a user "
                "who may write it."
            ) from None
    return result
