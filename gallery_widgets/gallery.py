"""``gw.open()``: the gallery a notebook talks to (SPEC §1, §4).

A notebook's gallery is a ``GalleryService`` implementation with the kernel-side layer
(``gallery_widgets.kernel``) mixed in: here the SQL gallery, embedded (SQLite under
``GALLERY_HOME``) or on PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

from .artifacts import is_url
from .core import validate
from .core.base import Clock, utc_now
from .core.sql_gallery import SqlGallery, ensure_user, sql_context
from .errors import InvalidInput, StorageError
from .kernel.facade import KernelSide, current, remember
from .paths import default_home, default_user

__all__ = ["LocalGallery", "open", "current", "default_home", "default_user"]


class LocalGallery(KernelSide, SqlGallery):
    """A SQL gallery opened by one user in this kernel: the whole API of SPEC §4.

    Every method acts as ``self.username``. Publishing takes local sources
    (``gw.Algorithm`` …), importing returns objects that run here.
    """

    @property
    def home(self) -> str | None:
        return self._ctx.home

    @property
    def kernel_home(self) -> Path:
        """The gallery's folder: its artifact cache, job folders and workflow runs live there."""
        return Path(self._ctx.home) if self._ctx.home else default_home()

    def _worker_fetcher(self, digest: str):
        """Dask workers read the archive from this gallery's artifact folder (they must see it
        at the same path) and verify it themselves."""
        from .artifacts import LocalArtifactStore
        from .kernel.cluster import FolderFetcher

        # Only a folder can be shared this way; an object store's blobs travel with the task.
        if isinstance(self._ctx.artifacts, LocalArtifactStore):
            return FolderFetcher(self._ctx.artifacts.root)
        return super()._worker_fetcher(digest)


def _context(url: str | None, artifacts: str | os.PathLike | None, **pool):
    home = default_home()
    if url is None:
        # The default home is the one folder created on demand; any other sqlite:/// path
        # must name an existing folder (a typo is refused, not turned into an empty gallery).
        _create_home(home)
        url = f"sqlite:///{home / 'gallery.db'}"
    return sql_context(url, artifact_folder(url, artifacts), **pool)


def artifact_folder(url: str, artifacts: str | os.PathLike | None = None) -> Path | str:
    """Where the blobs of the gallery at ``url`` live: ``artifacts`` if given, else
    ``GALLERY_ARTIFACTS``, else ``artifacts/`` beside a SQLite file, else ``$GALLERY_HOME/artifacts``.
    A folder comes back as a ``Path``, an fsspec URL (``s3://bucket/prefix``) as the string."""
    chosen = artifacts if artifacts is not None else os.environ.get("GALLERY_ARTIFACTS") or None
    if chosen is not None:
        if not isinstance(chosen, (str, os.PathLike)):
            raise InvalidInput("artifacts must be a folder or an fsspec URL such as 's3://bucket/prefix'.")
        return chosen if is_url(chosen) else Path(chosen)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):]).expanduser().parent / "artifacts"
    return default_home() / "artifacts"


def _create_home(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if not home.is_dir():
            raise StorageError(
                f"Cannot create the gallery home {home} ({exc.strerror or exc}); set GALLERY_HOME to a folder you "
                "can write."
            ) from None


def open(
    url: str | None = None,
    user: str | None = None,
    token: str | None = None,
    clock: Clock | None = None,
    *,
    artifacts: str | os.PathLike | None = None,
    pool_size: int | None = None,
    max_overflow: int | None = None,
) -> "LocalGallery | RemoteGallery":
    """Open a gallery as ``user``.

    With no ``url``: the embedded gallery under ``GALLERY_HOME`` (default: the Jupyter
    data dir's ``gallery`` folder), shared safely by every kernel on this machine.
    ``url`` may be a SQLAlchemy URL (``sqlite:///…``, ``postgresql://…``), or a team
    server's ``http(s)://host[:port][/prefix]`` with ``token`` (default ``GALLERY_TOKEN``,
    else ``JUPYTERHUB_API_TOKEN``); with no ``url``, ``GALLERY_URL`` is used when set.
    ``artifacts`` (a database URL only) is where the blobs live: a folder, or an fsspec URL
    such as ``s3://bucket/prefix`` (see ``gallery_widgets.object_store`` for its credentials). ``user``
    defaults to ``GALLERY_USER`` or your login name; the first user of a new gallery is
    its admin. ``clock`` returns an aware UTC datetime (tests move time with it).
    ``pool_size`` and ``max_overflow`` size the PostgreSQL connection pool of this process
    (default ``GALLERY_DB_POOL_SIZE`` / ``GALLERY_DB_MAX_OVERFLOW``, else 5 and 10); the first
    ``open`` of a URL in a process sizes it.

    Raises:
        InvalidInput: a bad URL, user name or pool size, or an artifact store that cannot be used.
        DatabaseUnavailable: the database server cannot be reached or refused the
            connection (a ``StorageError`` and a ``ConnectionError``).
        SchemaOutdated: the database needs ``gallery-widgets upgrade`` (or is newer than
            this gallery_widgets).
        StorageError: the database file is damaged, or the gallery is read-only here and
            has no account ``user`` yet.
        Conflict: an account differing only in letter case already exists.
    """
    if url is not None and not isinstance(url, str):
        raise InvalidInput(f"url must be a string such as 'sqlite:///gallery.db', not {type(url).__name__}.")
    if url is None and os.environ.get("GALLERY_URL"):
        url = os.environ["GALLERY_URL"]
    if url is not None and url.startswith(("http://", "https://")):
        from .opening import open_remote

        return open_remote(url, user, token, clock, artifacts)
    if token is not None:
        raise InvalidInput("token is used by team (REST) galleries only; leave it out for a database URL.")
    if clock is not None and not callable(clock):
        raise InvalidInput("clock must be a function returning an aware UTC datetime.")
    username = validate.username(user if user is not None else default_user(), "user")
    context = _context(url, artifacts, pool_size=pool_size, max_overflow=max_overflow)
    user_id = ensure_user(context, username, clock or utc_now)
    return remember(LocalGallery(context, user_id, username, clock or utc_now))
