"""Connecting to a gallery database: engines, transactions and the schema check.

SQLite is tuned for several kernels sharing one file: WAL (readers never wait),
a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for writes so two writers
queue instead of failing with "database is locked" halfway through.

A SQLite gallery whose folder this process may not write is opened read-only:
reading works, every write is refused with ``StorageError``. Faults of the file
(full disk, damaged file, read-only) become ``StorageError`` too, never a raw
driver error.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, event, func, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session

from ..errors import DatabaseUnavailable, InvalidInput, SchemaOutdated, StorageError

BUSY_TIMEOUT_S = 60
# A PostgreSQL pool: ``pool_size`` connections kept open, ``max_overflow`` more opened under
# load and closed again. A team server sizes them (gw.open arguments or these variables);
# PostgreSQL's own max_connections must cover every process's pool_size + max_overflow.
POOL_SIZE_ENV, MAX_OVERFLOW_ENV = "GALLERY_DB_POOL_SIZE", "GALLERY_DB_MAX_OVERFLOW"
DEFAULT_POOL_SIZE, DEFAULT_MAX_OVERFLOW = 5, 10
CONNECT_TIMEOUT_S = 10
# A pooled PostgreSQL connection idle this long is pinged before use (a restarted server or a
# firewall may have dropped it); one in steady use is not: a ping per call is a round trip.
IDLE_PING_S = 10.0
_MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def _revisions() -> dict[str, str | None]:
    """Every migration shipped in ``store/migrations/versions``: revision -> down_revision.

    Read from the revision files themselves (their ``revision`` and ``down_revision``
    lines), so adding a migration is the only step; importing Alembic just for this
    would add ~0.1 s to every ``gw.open``.
    """
    revisions: dict[str, str | None] = {}
    for path in _MIGRATIONS.glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions[_literal(found["revision"])] = _literal(found.get("down_revision", "None"))
    return revisions


def known_revisions() -> set[str]:
    """The schema revisions this gallery_widgets knows; any other was written by a newer one."""
    return set(_revisions())


def head_revision() -> str:
    """The newest migration in ``store/migrations/versions``; a database at any other
    revision is refused (or upgraded by ``gallery-widgets upgrade``)."""
    revisions = _revisions()
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
    if parsed.get_backend_name() == "sqlite" and (parsed.host or parsed.port):
        # sqlite://gallery.db reads as a host name and would open a throw-away in-memory database.
        raise InvalidInput(
            f"{url!r} has a host part, which SQLite URLs do not: use three slashes before a relative path "
            "(sqlite:///gallery.db) and four before an absolute one (sqlite:////home/me/gallery.db)."
        )
    return parsed.render_as_string(hide_password=False)


PREPARE_ENV, DEFAULT_PREPARE = "GALLERY_DB_PREPARE", 2


def _prepare_threshold() -> int | None:
    """How many runs on a connection before psycopg prepares a statement (GALLERY_DB_PREPARE,
    default 2: prepared for its third); None (never) for 0.

    Raises:
        InvalidInput: the variable is not a whole number of at least 0.
    """
    value = os.environ.get(PREPARE_ENV, "").strip() or str(DEFAULT_PREPARE)
    if not (value.isascii() and value.isdigit()):
        raise InvalidInput(f"{PREPARE_ENV}={value!r} must be a whole number of runs (0: never prepare).")
    return int(value) or None


def pool_settings(pool_size=None, max_overflow=None) -> tuple[int, int]:
    """(pool_size, max_overflow): the arguments when given, else GALLERY_DB_POOL_SIZE and
    GALLERY_DB_MAX_OVERFLOW, else 5 and 10.

    Raises:
        InvalidInput: a size that is not a whole number (at least 1; overflow at least 0).
    """

    def read(name, given, env, default, least):
        source = f"{env}={os.environ[env]!r}" if given is None and os.environ.get(env) else name
        value = given if given is not None else os.environ.get(env) or default
        try:
            number = int(value) if not isinstance(value, (bool, float)) else None
        except (TypeError, ValueError):
            number = None
        if number is None or number < least:
            raise InvalidInput(f"{source} must be a whole number of connections, at least {least}; got {value!r}.")
        return number

    return (
        read("pool_size", pool_size, POOL_SIZE_ENV, DEFAULT_POOL_SIZE, 1),
        read("max_overflow", max_overflow, MAX_OVERFLOW_ENV, DEFAULT_MAX_OVERFLOW, 0),
    )


def make_engine(url: str, *, pool_size=None, max_overflow=None) -> Engine:
    url = normalise_url(url)
    size, overflow = pool_settings(pool_size, max_overflow)  # checked for SQLite too: a typo shows at once
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # A statement a connection has run twice is prepared server-side (parsed once: ~0.2 ms of
    # PostgreSQL's CPU a market page), but every run is still planned with its real values
    # (plan_cache_mode=force_custom_plan in _PLANNER_SETTINGS): a generic plan cannot tell a
    # rare word or category from a common one (230 ms instead of 4.5 ms for "model" + a
    # category). GALLERY_DB_PREPARE=0 turns preparing off (a pooler that cannot keep them).
    connect_args = {"prepare_threshold": _prepare_threshold()}
    if "connect_timeout" not in make_url(url).query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(url, pool_size=size, max_overflow=overflow, connect_args=connect_args)
    _unavailable_as_gallery_error(engine)
    event.listen(engine, "connect", _tune_postgres_planner)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for a connection that sat in the pool for
    ``IDLE_PING_S``: a dead one is replaced before the call uses it (the pool retries on
    ``DisconnectionError``). A connection that dies while in steady use fails its call with
    ``DatabaseUnavailable`` and the pool drops every connection opened before."""

    @event.listens_for(engine, "checkin")
    def _note_idle(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError(str(exc)) from exc
            raise


# The gallery's statements read a page, a row or a capped count: a few hundred rows over
# indexes. Planner settings for that, per connection (docs/benchmarks.md has the profiles):
# - no hash or merge joins: they read a word's or category's whole posting list (30,000-
#   90,000 rows) to join what a nested loop over an index finds in a few hundred probes;
# - no parallel workers and no JIT: starting either costs about a millisecond, more than a
#   whole market page, and on a busy server the cores are better spent on other requests;
# - random_page_cost 1.1 (the usual value for SSDs and cached data): at 4, the default for
#   spinning disks, a 300-row users table is scanned whole for every page row instead of
#   being read by its primary key.
_PLANNER_SETTINGS = {
    "plan_cache_mode": "force_custom_plan",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
    "random_page_cost": "1.1",
}


def _tune_postgres_planner(dbapi_connection, _record) -> None:
    settings = ", ".join(f"set_config('{name}', '{value}', false)" for name, value in _PLANNER_SETTINGS.items())
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SELECT {settings}")
    dbapi_connection.commit()


def _unavailable_as_gallery_error(engine: Engine) -> None:
    """A server that cannot be reached, refuses us, or drops the connection raises
    ``DatabaseUnavailable`` (a ``GalleryError``) instead of the driver's OperationalError."""
    where = engine.url.render_as_string(hide_password=True)

    @event.listens_for(engine, "handle_error")
    def _on_error(context):
        # No connection yet: connecting failed. is_disconnect: the server went away mid-call.
        if context.connection is not None and not context.is_disconnect:
            return None
        said = " ".join(str(context.original_exception).split())
        return DatabaseUnavailable(
            f"The gallery database at {where} cannot be reached (the server says: {said}). Check that "
            "PostgreSQL is running and that the URL's host, port, database name, user and password are "
            "right; nothing was changed."
        )


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for an in-memory one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _sqlite_engine(url: str) -> Engine:
    """An engine on the file of ``url``. The folder must exist: a mistyped path is refused
    instead of silently becoming a new, empty gallery (``gw.open()`` creates its default home
    itself). A file this process may not write is opened read-only."""
    path = sqlite_path(url)
    read_only = False
    if path is not None:
        if not path.parent.is_dir():
            raise InvalidInput(
                f"There is no folder {str(path.parent)!r} for the gallery database {path.name!r}: check the path in "
                f"{url!r} (an absolute path needs four slashes, as in sqlite:////home/me/gallery.db), or create "
                "the folder first."
            )
        read_only = not _writable(path)
        if read_only:
            if not path.is_file():
                raise StorageError(
                    f"Cannot create a gallery database in {str(path.parent)!r}: the folder is read-only here. Open "
                    "a gallery in a folder you can write (GALLERY_HOME), or ask for write access."
                )
            # Without the -shm file of a running writer, SQLite reads a read-only WAL database
            # only as "immutable": nobody can be writing it, since nobody has it open for writing.
            immutable = not Path(f"{path}-shm").exists()
            query = {"mode": "ro", "uri": "true", **({"immutable": "1"} if immutable else {})}
            url = make_url(url).set(database=f"file:{quote(str(path.resolve()))}", query=query).render_as_string()
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})
    _tune_sqlite(engine, read_only=read_only)
    return engine


def _writable(path: Path) -> bool:
    """Whether this process may write the database file and the journal files beside it."""
    if not os.access(path.parent, os.W_OK):
        return False
    return all(not f.exists() or os.access(f, os.W_OK) for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")))


def _tune_sqlite(engine: Engine, *, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        if not read_only:
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

    def __init__(self, url: str, *, pool_size=None, max_overflow=None):
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size, max_overflow=max_overflow)
        self.dialect = self.engine.dialect.name
        self.read_only = self.dialect == "sqlite" and self.engine.url.query.get("mode") == "ro"
        self._writer = self.engine.execution_options(gallery_write=True)
        # PostgreSQL reads run in autocommit: READ COMMITTED gives every statement its own
        # snapshot anyway, so a read transaction only added a BEGIN and a COMMIT round trip.
        self._reader = (self.engine.execution_options(isolation_level="AUTOCOMMIT")
                        if self.dialect == "postgresql" else self.engine)

    @contextlib.contextmanager
    def read(self):
        """A session for reading only: on PostgreSQL each statement commits on its own."""
        with self.faults():
            with Session(self._reader, expire_on_commit=False, autoflush=False) as session:
                with session.begin():
                    yield session

    @contextlib.contextmanager
    def write(self):
        """One all-or-nothing transaction: on any exception nothing of it stays.

        Raises:
            StorageError: the gallery is read-only here, its disk is full or its file is damaged.
        """
        if self.read_only:
            raise StorageError(self._read_only_message())
        with self.faults():
            with Session(self._writer, expire_on_commit=False) as session:
                with session.begin():
                    yield session

    def dispose(self) -> None:
        self.engine.dispose()

    # -- faults -------------------------------------------------------------
    @contextlib.contextmanager
    def faults(self):
        """Turn a driver error about the database file itself into a ``StorageError``."""
        try:
            yield
        except DBAPIError as exc:
            error = self._sqlite_fault(exc) if self.dialect == "sqlite" else None
            if error is None:
                raise
            raise error from None

    def _sqlite_fault(self, exc: DBAPIError) -> StorageError | None:
        name = getattr(exc.orig, "sqlite_errorname", "") or ""
        said = str(exc.orig)
        where = str(sqlite_path(self.url) or self.url_for_humans)
        if name == "SQLITE_FULL":
            return StorageError(
                f"The disk holding the gallery database {where} is full; nothing of this change was saved. Free "
                "some space (or move GALLERY_HOME to a bigger disk) and try again."
            )
        if name.startswith("SQLITE_READONLY"):
            return StorageError(self._read_only_message())
        if name == "SQLITE_NOTADB":
            return StorageError(
                f"{where} is not a gallery database (SQLite says: {said}). Check that the URL names the gallery's "
                "database file, or restore the file from a backup."
            )
        if name.startswith("SQLITE_CORRUPT"):
            return StorageError(
                f"The gallery database {where} is damaged (SQLite says: {said}). Stop every notebook using it, keep "
                "a copy of the file, then restore it from a backup (or salvage it with "
                "`sqlite3 gallery.db .recover | sqlite3 recovered.db`)."
            )
        if name.startswith("SQLITE_CANTOPEN") or name.startswith("SQLITE_PERM"):
            return StorageError(
                f"The gallery database {where} cannot be opened (SQLite says: {said}). Check that the file and "
                "its folder exist and that you may read them."
            )
        if name.startswith("SQLITE_IOERR"):
            return StorageError(
                f"Reading or writing the gallery database {where} failed (SQLite says: {said}): its disk may be "
                "full, failing or read-only. Nothing of this change was saved; fix the disk and try again."
            )
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return StorageError(
                f"The gallery database {where} stayed locked by another process for {BUSY_TIMEOUT_S} s; nothing of "
                "this change was saved. Try again (a long-running write in another notebook holds it)."
            )
        return None

    def _read_only_message(self) -> str:
        path = sqlite_path(self.url)
        folder = path.parent if path is not None else self.url_for_humans
        return (
            f"The gallery at {folder} is read-only here: searching and reading work, but this change needs write "
            "access to that folder (and its gallery.db files). Ask its owner for write access, or use a gallery "
            "you can write (GALLERY_HOME)."
        )

    # -- schema -----------------------------------------------------------
    def current_revision(self) -> str | None:
        """The Alembic revision of the database, or None when it has no schema yet."""
        with self.faults():
            with self.engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def ensure_schema(self) -> None:
        """Create a fresh database at the head revision; refuse one at another revision.

        Raises:
            SchemaOutdated: the database is older (run ``gallery-widgets upgrade``) or newer
                (upgrade gallery_widgets) than this gallery_widgets.
            StorageError: an empty database in a read-only folder, or a damaged file.
        """
        revision = self.current_revision()
        if revision == head_revision():
            return
        if revision is None and self.read_only:
            raise StorageError(f"{sqlite_path(self.url)} holds no gallery yet. " + self._read_only_message())
        # Another process may be creating this gallery right now (its tables part-way through
        # the migrations): wait for it, then look again.
        with self._creation_lock():
            revision = self.current_revision()
            if revision is None:
                from .migrate import upgrade

                upgrade(self)
                return
        if revision != head_revision():
            raise SchemaOutdated(schema_mismatch_message(self, revision))

    @property
    def url_for_humans(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @contextlib.contextmanager
    def _creation_lock(self):
        """Only one process creates the tables of a new gallery."""
        if self.dialect == "sqlite":
            import fcntl

            # Lock the folder rather than a lock file: a lock file removed by one process while
            # another waits on it lets a third lock a new file, and two creators meet.
            path = sqlite_path(self.url)
            if path is None:  # in memory: no other process can see it
                yield
                return
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                fcntl.flock(folder, fcntl.LOCK_EX)
                yield
            finally:
                os.close(folder)
        else:
            # On a connection of its own, outside the pool: the migrations under the lock need
            # pooled connections, and a pool of one would wait for itself.
            from sqlalchemy.pool import NullPool

            timeout = {} if "connect_timeout" in self.engine.url.query else {"connect_timeout": CONNECT_TIMEOUT_S}
            locker = create_engine(self.engine.url, poolclass=NullPool, connect_args=timeout)
            _unavailable_as_gallery_error(locker)
            try:
                with locker.connect() as conn:
                    conn.execute(text("SELECT pg_advisory_lock(72815301)"))
                    try:
                        yield
                    finally:
                        conn.execute(text("SELECT pg_advisory_unlock(72815301)"))
                        conn.commit()
            finally:
                locker.dispose()


# An UPDATE that returns this column lets PostgreSQL commit its transaction without waiting for
# the WAL flush (about 4 ms of fdatasync here): ``SET LOCAL synchronous_commit TO OFF``
# without a round trip of its own. For writes whose loss after a *server* crash (the last
# ~0.6 s) costs nothing: view counters and favorites. The database stays consistent either
# way; SQLite (WAL, synchronous=NORMAL) already commits without a sync.
RELAXED_COMMIT = func.set_config("synchronous_commit", "off", True)


def schema_mismatch_message(database: Database, revision: str) -> str:
    """What to do about a database at ``revision``: upgrade the database when this
    gallery_widgets knows the revision (it is older), else upgrade gallery_widgets."""
    where = database.url_for_humans
    if revision not in known_revisions():
        return (
            f"The gallery database at {where} is at schema revision {revision!r}, which this gallery_widgets "
            f"(schema {head_revision()!r}) does not know: a newer gallery_widgets wrote it. Upgrade gallery_widgets in "
            "this environment (pip install -U gallery_widgets); `gallery-widgets upgrade` cannot take a database "
            "back to an older schema. Nothing was changed."
        )
    return (
        f"The gallery database at {where} is at schema revision {revision!r}, but this gallery_widgets needs "
        f"{head_revision()!r}. Back it up, then run `gallery-widgets upgrade --url '{where}'`."
    )
