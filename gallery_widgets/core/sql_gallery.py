"""The SQL gallery: the service core over a SQLAlchemy database and an artifact store (SPEC §1, §6).

``SqlGallery`` implements ``GalleryService`` and never runs published code: it stores,
scans and serves. ``gw.open()`` adds the kernel-side layer on top of it for a notebook;
a server serves it as it is. Galleries opened on one URL in a process share one
``Context`` (connection pool and artifact store).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sqlalchemy import func, select

from ..artifacts import is_url, open_store
from ..errors import Conflict, StorageError
from ..service import GalleryService
from ..store.engine import Database
from ..store.schema import UserRow
from ..store.search import insert_ignore
from . import validate
from .accounts import Accounts
from .base import Clock, Context, utc_now
from .market import Market
from .publishing import Publishing
from .reference import ReferenceData
from .subscriptions import Subscriptions
from .tokens import Tokens
from .using import Using
from .workflows import Workflows


class SqlGallery(Accounts, Tokens, Market, Subscriptions, Publishing, Workflows, Using, ReferenceData,
                 GalleryService):
    """A gallery opened by one user, over a SQL database and an artifact store.

    Every method acts as ``self.username``; see ``GalleryService`` for the calls.
    """

    def __repr__(self) -> str:
        return f"<gallery {self._db.url_for_humans} as {self.username!r}>"

    @property
    def url(self) -> str:
        return self._db.url_for_humans

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


def sql_context(url: str, artifacts: str | os.PathLike, *, pool_size=None, max_overflow=None) -> Context:
    """The shared context of a database URL and an artifact store (a folder or an fsspec URL
    such as ``s3://bucket/prefix``), created (and the schema checked) on first use in this
    process. ``pool_size``/``max_overflow`` size a PostgreSQL connection pool when it is created
    (see ``store.engine.pool_settings``).

    Raises:
        InvalidInput: a bad URL or pool size, or an artifact store URL that cannot be used.
        SchemaOutdated: the database needs ``gallery-widgets upgrade``.
        DatabaseUnavailable: the database server cannot be reached or refused the connection.
    """
    key = (url, str(artifacts))
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            database = Database(url, pool_size=pool_size, max_overflow=max_overflow)
            try:
                database.ensure_schema()
            except BaseException:
                database.dispose()
                raise
            try:
                store = open_store(artifacts)
            except BaseException:
                database.dispose()
                raise
            if not database.read_only:
                store.remove_stale_temp_files()
            # The kernel's cache and job folders sit beside a local artifact folder; with an
            # object store they stay under the default home.
            home = None if is_url(artifacts) else str(Path(artifacts).parent)
            context = Context(db=database, artifacts=store, home=home)
            _contexts[key] = context
    return context


def ensure_user(context: Context, username: str, clock: Clock = utc_now) -> int:
    """The id of ``username``'s account, created on first use; the first account is the admin."""
    username = validate.username(username, "user")
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
