"""What a server process shares between requests: the gallery context (connection pool and
artifact store), the worker threads the synchronous gallery runs in, the credential
resolvers, the limits, and a few things kept to save work per request: one gallery object
per user (with the statements it built) and a short-lived cache of checked tokens
(``auth.TokenCache``; its bound is ``token_cache_seconds``). None of it is the gallery's
state: several processes on one database serve the same gallery."""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MAX_BODY = 8 * 1024 * 1024  # a JSON request: covers and avatars (≤ 1 MiB) travel base64 inside
MAX_UPLOAD = 1024 * 1024 * 1024  # one archive
# Worker threads per process for gallery calls. The calls are mostly Python and short database
# waits: more threads on the same cores only add GIL and database contention (bench_server on
# 2 cores: 8 threads 322 requests/s, 4 threads 349, 3 threads 365). Raise it (--threads) when
# calls wait on a slow remote object store.
THREADS = 4
TOKEN_CACHE_SECONDS = 5.0  # how long a checked token is trusted without asking the database again
POOL_OVERFLOW = 2  # connections beyond one per worker thread (a call that holds two at once)
_GALLERIES_KEPT = 1024


class ServerState:
    def __init__(self, context_factory, *, resolvers=(), max_body: int = MAX_BODY, max_upload: int = MAX_UPLOAD,
                 threads: int = THREADS, clock=None, token_cache_seconds: float = TOKEN_CACHE_SECONDS):
        from ..core.base import utc_now
        from .auth import TokenCache

        self._context_factory = context_factory
        self._context = None
        self._lock = threading.Lock()
        self.resolvers = list(resolvers)
        self.max_body = max_body
        self.max_upload = max_upload
        self.clock = clock if clock is not None else utc_now
        self.threads = threads
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gallery")
        self.tokens = TokenCache(token_cache_seconds)
        self._galleries: dict = {}

    @property
    def context(self):
        """The gallery context, opened on first use (a Jupyter server starts even when the
        gallery cannot be opened; its requests then answer with the reason)."""
        if self._context is None:
            with self._lock:
                if self._context is None:
                    self._context = self._context_factory()
        return self._context

    def gallery(self, identity):
        """The SQL gallery acting as ``identity``, kept between that user's requests: it is
        stateless except for the statements it builds once per user (``_visibility_query``),
        which a new object per request would build again every time. Market pages, details
        and comments trust the user's role for as long as this server trusts a checked token
        (``ServiceBase.who_ttl``); every other call reads it from the database."""
        key = (identity.user_id, identity.username)
        gallery = self._galleries.get(key)
        if gallery is None:
            from ..core.sql_gallery import SqlGallery

            gallery = SqlGallery(self.context, identity.user_id, identity.username, self.clock)
            gallery.who_ttl = self.tokens.seconds
            if len(self._galleries) >= _GALLERIES_KEPT:
                self._galleries.clear()
            self._galleries[key] = gallery
        return gallery

    def upload_folder(self) -> Path:
        """Where verified uploads wait for the publish that names them: the artifact store's
        temp folder, shared by every server process on the same store, and swept of stale
        files like any upload temp file (``gallery-widgets gc``)."""
        folder = getattr(self.context.artifacts, "temp_folder", None)
        folder = Path(folder) if folder is not None else Path(tempfile.gettempdir()) / "gallery-uploads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def upload_path(self, user_id: int, digest: str) -> Path:
        from ..artifacts import TEMP_PREFIX

        return self.upload_folder() / f"{TEMP_PREFIX}upload-{user_id}-{digest}"

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._context is not None:
            self._context.db.dispose()


def server_pool(threads: int) -> tuple[int | None, int | None]:
    """(pool_size, max_overflow) of a server process's PostgreSQL pool: one connection per
    worker thread (a call holds one at a time) plus ``POOL_OVERFLOW``, so that under load no
    connection is opened and closed per request (a new PostgreSQL backend costs more CPU than
    a market query). ``GALLERY_DB_POOL_SIZE`` / ``GALLERY_DB_MAX_OVERFLOW`` still decide when set."""
    from ..store.engine import MAX_OVERFLOW_ENV, POOL_SIZE_ENV

    return (None if os.environ.get(POOL_SIZE_ENV) else threads,
            None if os.environ.get(MAX_OVERFLOW_ENV) else POOL_OVERFLOW)


def sql_state(url: str, artifacts: str | os.PathLike | None, **options) -> ServerState:
    """A server state over the gallery at ``url`` with its artifact folder."""
    pool_size, max_overflow = server_pool(options.get("threads", THREADS))

    def factory():
        from ..core.sql_gallery import sql_context
        from ..gallery import artifact_folder

        return sql_context(url, artifact_folder(url, artifacts), pool_size=pool_size, max_overflow=max_overflow)

    return ServerState(factory, **options)
