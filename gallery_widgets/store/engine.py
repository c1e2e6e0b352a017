"""Connecting to a gallery database: engines, transactions and the schema check.

SQLite is tuned for several kernels sharing one file: WAL (readers never wait),
a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for writes so two writers
queue instead of failing with "database is locked" halfway through.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from ..errors import InvalidInput, SchemaOutdated

BUSY_TIMEOUT_S = 60
_MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration in ``store/migrations/versions``; a database at any other
    revision is refused (or upgraded by ``gallery-widgets upgrade``).

    Read from the revision files themselves (their ``revision`` and ``down_revision``
    lines), so adding a migration is the only step; importing Alembic just for this
    would add ~0.1 s to every ``gw.open``.
    """
    revisions: dict[str, str | None] = {}
    for path in _MIGRATIONS.glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions[_literal(found["revision"])] = _literal(found.get("down_revision", "None"))
    heads = set(revisions) - set(revisions.values())
    if len(heads) != 1:
        raise RuntimeError(f"store/migrations/versions must have exactly one head revision, not {sorted(heads)}")
    return heads.pop()


def _literal(source: str) -> str | None:
    import ast

    return ast.literal_eval(source)


def normalise_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except Exception:
        raise InvalidInput(
            f"{url!r} is not a database URL; use sqlite:///path/to/gallery.db or postgresql://user@host/db."
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(f"Unsupported database {parsed.drivername!r}: use sqlite:/// or postgresql://.")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA cache_size = -32000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        write = connection.get_execution_options().get("gallery_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """One gallery database: an engine plus read and write transactions."""

    def __init__(self, url: str):
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name
        self._writer = self.engine.execution_options(gallery_write=True)

    @contextlib.contextmanager
    def read(self):
        with Session(self.engine, expire_on_commit=False, autoflush=False) as session:
            with session.begin():
                yield session

    @contextlib.contextmanager
    def write(self):
        """One all-or-nothing transaction: on any exception nothing of it stays."""
        with Session(self._writer, expire_on_commit=False) as session:
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()

    # -- schema -----------------------------------------------------------
    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError):
            return None

    def ensure_schema(self) -> None:
        """Create a fresh database at the head revision; refuse one at another revision."""
        revision = self.current_revision()
        if revision == head_revision():
            return
        if revision is None:
            with self._creation_lock():
                if self.current_revision() is None:
                    from .migrate import upgrade

                    upgrade(self)
            return
        raise SchemaOutdated(
            f"The gallery database at {self.url_for_humans} is at schema revision {revision!r}, "
            f"but this gallery_widgets needs {head_revision()!r}. Back it up, then run "
            f"`gallery-widgets upgrade --url '{self.url_for_humans}'` (or upgrade gallery_widgets "
            "if the database is newer)."
        )

    @property
    def url_for_humans(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @contextlib.contextmanager
    def _creation_lock(self):
        """Only one process creates the tables of a new gallery."""
        if self.dialect == "sqlite":
            import fcntl

            lock_path = (make_url(self.url).database or "gallery") + ".lock"
            with open(lock_path, "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            with contextlib.suppress(OSError):
                os.unlink(lock_path)
        else:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(72815301)"))
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(72815301)"))
                    conn.commit()
