"""The store: schema revisions, migrations, SQLite tuning, transactions, errors and a light import."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

import gallery_widgets as gw
from gallery_widgets.store import migrate
from gallery_widgets.store.engine import Database, head_revision, normalise_url

CORE_TABLES = {
    "users", "assets", "asset_categories", "versions", "version_whitelist", "version_dependencies",
    "favorites", "comments", "subscriptions", "acceptances", "notifications", "imports",
}


@pytest.fixture
def raw_engine(gallery_url):
    """A plain SQLAlchemy engine on the test database, outside the gallery's own code."""
    engine = create_engine(normalise_url(gallery_url))
    yield engine
    engine.dispose()


def revisions(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def table_names(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def reopen(gallery_url, clock, tmp_path, user="alice"):
    return gw.open(gallery_url, user=user, clock=clock, artifacts=tmp_path / "artifacts")


# -- schema revisions --------------------------------------------------------------------------


def test_fresh_database_is_created_at_head_revision(admin, raw_engine):
    assert revisions(raw_engine) == [head_revision()]
    assert CORE_TABLES <= table_names(raw_engine)
    assert admin.me.role == "admin"


def test_head_revision_is_the_newest_migration(admin):
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate._config(admin._db))
    assert script.get_heads() == [head_revision()]


def test_schema_matches_the_models(admin, raw_engine):
    """The migrations build exactly the tables, columns and indexes the code maps."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gallery_widgets.store.schema import Base

    with raw_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Full-text machinery (FTS5 tables, expression indexes) is created by raw DDL on purpose.
    def is_search_ddl(diff) -> bool:
        thing = diff[1] if len(diff) > 1 else None
        name = getattr(thing, "name", "") or ""
        return "fts" in name or name.endswith("_search")

    assert [d for d in diffs if not is_search_ddl(d)] == []


@pytest.mark.parametrize("revision", ["0000", "ffffffffffff"], ids=["older", "unknown"])
def test_outdated_schema_is_refused_with_upgrade_advice(admin, raw_engine, gallery_url, clock, tmp_path, revision):
    admin.close()
    with raw_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    with pytest.raises(gw.SchemaOutdated) as info:
        reopen(gallery_url, clock, tmp_path)
    message = str(info.value)
    assert repr(revision) in message and repr(head_revision()) in message
    assert "upgrade" in message
    assert "gallery-widgets upgrade" in message
    assert isinstance(info.value, gw.GalleryError)
    # Refusing changed nothing, and refusing again gives the same answer.
    assert revisions(raw_engine) == [revision]
    with pytest.raises(gw.SchemaOutdated):
        reopen(gallery_url, clock, tmp_path, user="admin")
    with raw_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": head_revision()})
    assert reopen(gallery_url, clock, tmp_path).username == "alice"


def test_migrations_downgrade_to_base_and_upgrade_to_head(admin, alice, publish, gallery_url, raw_engine, clock,
                                                          tmp_path):
    publish(alice, "Before the round trip", description="aardvark")
    admin.close()
    database = Database(gallery_url)
    try:
        migrate.downgrade(database, "base")
        assert table_names(raw_engine) <= {"alembic_version"}
        assert database.current_revision() is None
        migrate.upgrade(database, "head")
        assert revisions(raw_engine) == [head_revision()]
        assert CORE_TABLES <= table_names(raw_engine)
        migrate.downgrade(database, "base")
        migrate.upgrade(database, "head")
        assert revisions(raw_engine) == [head_revision()]
    finally:
        database.dispose()
    # The rebuilt database works end to end, keyword search included.
    g = reopen(gallery_url, clock, tmp_path, user="carol")
    assert g.me.role == "admin"  # the first user of the (now empty) gallery
    asset = g.publish(gw.Algorithm.from_dir(tmp_path / "src" / "demo-algo-0"), title="After",
                      description="", visibility="public", agree=True)
    g.edit_asset(asset.content_id, description="a quokka appears")
    assert [a.content_id for a in g.search(kind="algorithm", query="quokka")] == [asset.content_id]
    assert g.search(kind="algorithm", query="aardvark").total == 0


def test_open_recreates_a_database_downgraded_to_base(admin, gallery_url, raw_engine, clock, tmp_path):
    admin.close()
    database = Database(gallery_url)
    try:
        migrate.downgrade(database, "base")
    finally:
        database.dispose()
    g = reopen(gallery_url, clock, tmp_path, user="dave")
    assert revisions(raw_engine) == [head_revision()]
    assert g.me.role == "admin"


# -- SQLite tuning ----------------------------------------------------------------------------------


def test_sqlite_runs_in_wal_mode_with_foreign_keys(backend, admin, gallery_url, tmp_path):
    if backend != "sqlite":
        pytest.skip("SQLite only")
    # WAL is a property of the file: any connection sees it.
    with sqlite3.connect(tmp_path / "gallery.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    # Foreign keys and the busy timeout are per connection: check the gallery's own.
    database = Database(gallery_url)
    try:
        for transaction in (database.read, database.write):
            with transaction() as s:
                assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
                assert s.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
                assert s.execute(text("PRAGMA journal_mode")).scalar().lower() == "wal"
    finally:
        database.dispose()


def test_foreign_keys_are_enforced(admin, gallery_url):
    from gallery_widgets.store.schema import FavoriteRow

    database = Database(gallery_url)
    try:
        with pytest.raises(IntegrityError):
            with database.write() as s:
                s.execute(FavoriteRow.__table__.insert().values(user_id=1, asset_id=987654, created_at=admin._now()))
    finally:
        database.dispose()


def test_deleting_an_asset_leaves_no_orphan_rows(admin, alice, bob, publish, make_source, raw_engine):
    asset = publish(alice, "Orphans", visibility="group", group_users=["bob"])
    cid = asset.content_id
    alice.add_version(cid, make_source(), agree=True)
    alice.edit_asset(cid, categories=["Scenario/Robot"], description="text")
    bob.favorite(cid)
    bob.comment(cid, "hello")
    alice.delete(cid)
    with raw_engine.connect() as conn:
        for table in ("assets", "versions", "version_whitelist", "asset_categories", "favorites", "comments"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
        assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 3


# -- transactions ------------------------------------------------------------------------------------


def test_write_transaction_is_all_or_nothing(admin, gallery_url, raw_engine):
    from gallery_widgets.store.schema import UserRow

    database = Database(gallery_url)
    try:
        with pytest.raises(RuntimeError):
            with database.write() as s:
                s.add(UserRow(username="ghost", nickname="ghost", email="", description="", role="user",
                              created_at=admin._now()))
                s.flush()
                assert s.scalar(select(UserRow.id).where(UserRow.username == "ghost")) is not None
                raise RuntimeError("boom")
        with database.read() as s:
            assert s.scalar(select(UserRow.id).where(UserRow.username == "ghost")) is None
    finally:
        database.dispose()
    with raw_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users WHERE username = 'ghost'")).scalar() == 0


def test_concurrent_writers_keep_counters_exact(admin, alice, publish, open_as):
    asset = publish(alice, "Popular")
    users = [open_as(f"user{i}") for i in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(users))

    def work(g):
        try:
            start.wait()
            for _ in range(3):
                g.favorite(asset.content_id)
                g.unfavorite(asset.content_id)
                g.favorite(asset.content_id)
            g.comment(asset.content_id, f"from {g.username}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(g,)) for g in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    seen = alice.asset(asset.content_id)
    assert seen.favorites == len(users)
    assert alice.comments(asset.content_id).total == len(users)


def test_concurrent_publishes_of_one_title_create_one_asset(admin, alice, open_as, make_source):
    twins = [open_as("alice") for _ in range(4)]
    sources = [make_source(f"twin{i}") for i in range(len(twins))]
    results: list = []
    start = threading.Barrier(len(twins))

    def work(g, source):
        start.wait()
        try:
            results.append(g.publish(source, title="Twin", agree=True))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=work, args=pair) for pair in zip(twins, sources)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    published = [r for r in results if isinstance(r, gw.Asset)]
    refused = [r for r in results if not isinstance(r, gw.Asset)]
    assert len(published) == 1
    assert all(isinstance(r, gw.Conflict) for r in refused), refused
    assert [a.title for a in alice.publishes()] == ["Twin"]


# -- errors -------------------------------------------------------------------------------------------


def test_errors_subclass_builtins_and_gallery_error():
    assert issubclass(gw.NotFound, LookupError)
    assert issubclass(gw.InvalidInput, ValueError)
    assert issubclass(gw.PermissionDenied, PermissionError)
    for error in (gw.NotFound, gw.PermissionDenied, gw.InvalidInput, gw.Conflict, gw.SubscriptionRequired,
                  gw.AgreementRequired, gw.ScanFailed, gw.SchemaOutdated):
        assert issubclass(error, gw.GalleryError), error
        assert issubclass(error, Exception)
    assert not issubclass(gw.GalleryError, (LookupError, ValueError, PermissionError))
    assert gw.AgreementRequired("accept it", missing=("a",)).missing == ("a",)
    assert gw.ScanFailed("bad", findings=("x",)).findings == ("x",)


def test_errors_are_caught_by_builtin_handlers(alice):
    with pytest.raises(LookupError):
        alice.asset("nosuchasset")
    with pytest.raises(ValueError):
        alice.search(kind="spaceship")


# -- a light import --------------------------------------------------------------------------------


def _run(code: str, tmp_path) -> str:
    env = dict(os.environ, GALLERY_HOME=str(tmp_path / "home"), GALLERY_USER="someone")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_does_not_load_widgets_or_the_database_layer(tmp_path):
    out = _run(
        """
        import sys
        import gallery_widgets as gw
        gw.Duration(3); gw.InvalidInput; gw.Asset
        heavy = ("ipywidgets", "sqlalchemy", "alembic", "psycopg")
        print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))
        """,
        tmp_path,
    )
    assert out == "[]"


def test_service_core_does_not_import_ipywidgets(tmp_path):
    out = _run(
        """
        import sys
        import gallery_widgets as gw
        g = gw.open()
        g.search(kind="algorithm")
        print("sqlalchemy" in sys.modules, "ipywidgets" in sys.modules)
        """,
        tmp_path,
    )
    assert out == "True False"
