"""What a server process shares between requests: the gallery context (connection pool and
artifact store), the worker threads the synchronous gallery runs in, the credential
resolvers and the limits. Nothing in it outlives the process: servers are stateless."""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..core.base import utc_now

MAX_BODY = 8 * 1024 * 1024  # a JSON request: covers and avatars (≤ 1 MiB) travel base64 inside
MAX_UPLOAD = 1024 * 1024 * 1024  # one archive


class ServerState:
    def __init__(self, context_factory, *, resolvers=(), max_body: int = MAX_BODY, max_upload: int = MAX_UPLOAD,
                 threads: int = 16, clock=utc_now):
        self._context_factory = context_factory
        self._context = None
        self._lock = threading.Lock()
        self.resolvers = list(resolvers)
        self.max_body = max_body
        self.max_upload = max_upload
        self.clock = clock
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gallery")

    @property
    def context(self):
        """The gallery context, opened on first use (a Jupyter server starts even when the
        gallery cannot be opened; its requests then answer with the reason)."""
        if self._context is None:
            with self._lock:
                if self._context is None:
                    self._context = self._context_factory()
        return self._context

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


def sql_state(url: str, artifacts: str | os.PathLike | None, **options) -> ServerState:
    """A server state over the gallery at ``url`` with its artifact folder."""
    def factory():
        from ..core.sql_gallery import sql_context
        from ..gallery import artifact_folder

        return sql_context(url, artifact_folder(url, artifacts))

    return ServerState(factory, **options)
