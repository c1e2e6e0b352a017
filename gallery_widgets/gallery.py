"""``gw.open()``: the gallery a notebook talks to (SPEC §1, §4)."""

from __future__ import annotations

import getpass
import os
import threading
from pathlib import Path

from sqlalchemy import func, select

from .artifacts import LocalArtifactStore
from .core import validate
from .core.accounts import Accounts
from .core.base import Clock, Context, utc_now
from .core.market import Market
from .core.publishing import Publishing
from .core.reference import ReferenceData
from .core.subscriptions import Subscriptions
from .core.using import Using
from .core.workflows import Workflows
from .errors import Conflict, InvalidInput, StorageError
from .service import GalleryService
from .store.engine import Database
from .store.schema import UserRow
from .store.search import insert_ignore


class LocalGallery(Accounts, Market, Subscriptions, Publishing, Workflows, Using, ReferenceData, GalleryService):
    """A gallery opened by one user, over a SQL database and a local artifact folder.

    Every method acts as ``self.username``; it implements ``GalleryService`` (SPEC §4, §6).
    """

    def __repr__(self) -> str:
        return f"<gallery {self._db.url_for_humans} as {self.username!r}>"

    @property
    def url(self) -> str:
        return self._db.url_for_humans

    @property
    def home(self) -> str | None:
        return self._ctx.home

    def close(self) -> None:
        """Close the database connections this process holds for this gallery's URL
        (every gallery opened on the same URL here shares them)."""
        with _contexts_lock:
            for key, context in list(_contexts.items()):
                if context is self._ctx:
                    del _contexts[key]
        self._db.dispose()



_contexts: dict[tuple[str, str], Context] = {}
_contexts_lock = threading.Lock()
_current: LocalGallery | None = None


def default_home() -> Path:
    """``GALLERY_HOME``, else ``<jupyter data dir>/gallery``."""
    if os.environ.get("GALLERY_HOME"):
        return Path(os.environ["GALLERY_HOME"]).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "gallery"


def default_user() -> str:
    return os.environ.get("GALLERY_USER") or getpass.getuser()


def _context(url: str | None, artifacts: str | os.PathLike | None) -> Context:
    home = default_home()
    if url is None:
        # The default home is the one folder created on demand; any other sqlite:/// path
        # must name an existing folder (a typo is refused, not turned into an empty gallery).
        _create_home(home)
        url = f"sqlite:///{home / 'gallery.db'}"
    artifacts = artifact_folder(url, artifacts)
    key = (url, str(artifacts))
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            database = Database(url)
            try:
                database.ensure_schema()
            except BaseException:
                database.dispose()
                raise
            store = LocalArtifactStore(artifacts)
            if not database.read_only:
                store.remove_stale_temp_files()
            context = Context(db=database, artifacts=store, home=str(Path(artifacts).parent))
            _contexts[key] = context
    return context


def artifact_folder(url: str, artifacts: str | os.PathLike | None = None) -> Path:
    """Where the blobs of the gallery at ``url`` live: ``artifacts`` if given, else
    ``GALLERY_ARTIFACTS``, else ``artifacts/`` beside a SQLite file, else ``$GALLERY_HOME/artifacts``."""
    if artifacts is not None:
        return Path(artifacts)
    if os.environ.get("GALLERY_ARTIFACTS"):
        return Path(os.environ["GALLERY_ARTIFACTS"])
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
) -> LocalGallery:
    """Open a gallery as ``user``.

    With no ``url``: the embedded gallery under ``GALLERY_HOME`` (default: the Jupyter
    data dir's ``gallery`` folder), shared safely by every kernel on this machine.
    ``url`` may be a SQLAlchemy URL (``sqlite:///…``, ``postgresql://…``). ``user``
    defaults to ``GALLERY_USER`` or your login name; the first user of a new gallery is
    its admin. ``clock`` returns an aware UTC datetime (tests move time with it).

    Raises:
        InvalidInput: a bad URL or user name.
        SchemaOutdated: the database needs ``gallery-widgets upgrade`` (or is newer than
            this gallery_widgets).
        StorageError: the database file is damaged, or the gallery is read-only here and
            has no account ``user`` yet.
        Conflict: an account differing only in letter case already exists.
    """
    global _current
    if url is not None and not isinstance(url, str):
        raise InvalidInput(f"url must be a string such as 'sqlite:///gallery.db', not {type(url).__name__}.")
    if url is not None and url.startswith(("http://", "https://")):
        raise InvalidInput(
            "This version of gallery_widgets opens SQLite and PostgreSQL galleries; the team REST server is "
            "not available yet. Use gw.open() for the embedded gallery or a postgresql:// URL."
        )
    if token is not None:
        raise InvalidInput("token is used by team (REST) galleries only; leave it out for a database URL.")
    if clock is not None and not callable(clock):
        raise InvalidInput("clock must be a function returning an aware UTC datetime.")
    username = validate.username(user if user is not None else default_user(), "user")
    context = _context(url, artifacts)
    user_id = _ensure_user(context, username, clock or utc_now)
    gallery = LocalGallery(context, user_id, username, clock or utc_now)
    _current = gallery
    return gallery


def _ensure_user(context: Context, username: str, clock: Clock) -> int:
    with context.db.read() as s:
        user_id = s.scalar(select(UserRow.id).where(UserRow.username == username))
    if user_id is not None:
        return user_id
    if context.db.read_only:
        raise StorageError(
            f"The gallery at {context.db.url_for_humans} is read-only here and has no account {username!r} yet: open "
            "it once with write access (or as an existing user) to create the account."
        )
    with context.db.write() as s:
        # User names are ASCII (see validate.username); 'Alice' and 'alice' would be two
        # accounts for one person, so a second spelling is refused.
        other = s.scalar(select(UserRow.username).where(func.lower(UserRow.username) == username.lower()))
        if other is not None and other != username:
            raise Conflict(
                f"This gallery already has the account {other!r}; user names ignore letter case, so open it as "
                f"{other!r} (GALLERY_USER={other})."
            )
        first = not s.scalar(select(func.count()).select_from(UserRow))
        insert_ignore(
            s,
            UserRow.__table__,
            {
                "username": username,
                "nickname": username,
                "email": "",
                "description": "",
                "role": "admin" if first else "user",
                "created_at": clock(),
            },
        )
        return s.scalar(select(UserRow.id).where(UserRow.username == username))


def current() -> LocalGallery:
    """The gallery most recently opened in this process (or the embedded default)."""
    return _current if _current is not None else open()
