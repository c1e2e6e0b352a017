"""Reaching the gallery database: a clear error when it is unreachable (O7) and a
connection pool a team server sizes (O8). Real servers only: a closed loopback port,
the test PostgreSQL with a database name that does not exist."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

import gallery_widgets as gw
from gallery_widgets.core import sql_gallery
from gallery_widgets.errors import DatabaseUnavailable
from gallery_widgets.store import engine as engine_module

from conftest import POSTGRES_URL, gw_url

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="PostgreSQL tests need GALLERY_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1/test)"
)


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_o7_closed_port_raises_database_unavailable(tmp_path):
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/gallery"
    with pytest.raises(gw.DatabaseUnavailable) as caught:
        gw.open(url, user="alice", artifacts=tmp_path / "artifacts")
    error = caught.value
    assert isinstance(error, gw.StorageError) and isinstance(error, ConnectionError)
    assert "cannot be reached" in str(error) and "refused" in str(error).lower()
    assert "PostgreSQL is running" in str(error)
    assert not [key for key in sql_gallery._contexts if str(make_url(url).port) in key[0]]


@needs_postgres
def test_o7_unknown_database_name_raises_database_unavailable(tmp_path):
    url = make_url(POSTGRES_URL).set(database="gw_no_such_database").render_as_string(hide_password=False)
    with pytest.raises(gw.DatabaseUnavailable) as caught:
        gw.open(url, user="alice", artifacts=tmp_path / "artifacts")
    assert 'database "gw_no_such_database" does not exist' in str(caught.value)
    assert "database name" in str(caught.value)


@needs_postgres
def test_o7_unknown_role_raises_database_unavailable(tmp_path):
    url = make_url(POSTGRES_URL).set(username="gw_no_such_role").render_as_string(hide_password=False)
    with pytest.raises(gw.DatabaseUnavailable) as caught:
        gw.open(url, user="alice", artifacts=tmp_path / "artifacts")
    assert "gw_no_such_role" in str(caught.value)


@pytest.fixture
def postgres_url(backend, gallery_url):
    if backend != "postgres":
        pytest.skip("connection pools are sized for PostgreSQL")
    return gallery_url


def test_o8_pool_is_sized_by_open_arguments(postgres_url, tmp_path):
    g = gw.open(postgres_url, user="alice", artifacts=tmp_path / "a", pool_size=3, max_overflow=7)
    try:
        assert g._db.engine.pool.size() == 3
        assert g._db.engine.pool._max_overflow == 7
        assert g.search(kind="algorithm").total == 0
    finally:
        g.close()


def test_o8_pool_is_sized_by_environment(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("GALLERY_DB_POOL_SIZE", "2")
    monkeypatch.setenv("GALLERY_DB_MAX_OVERFLOW", "0")
    g = gw.open(postgres_url, user="alice", artifacts=tmp_path / "a")
    try:
        assert g._db.engine.pool.size() == 2
        assert g._db.engine.pool._max_overflow == 0
    finally:
        g.close()


@pytest.mark.parametrize(
    "options, env, named",
    [
        ({"pool_size": 0}, {}, "pool_size"),
        ({"pool_size": "many"}, {}, "pool_size"),
        ({"max_overflow": -1}, {}, "max_overflow"),
        ({"pool_size": 2.5}, {}, "pool_size"),
        ({}, {"GALLERY_DB_POOL_SIZE": "ten"}, "GALLERY_DB_POOL_SIZE"),
        ({}, {"GALLERY_DB_MAX_OVERFLOW": "-3"}, "GALLERY_DB_MAX_OVERFLOW"),
    ],
)
def test_o8_bad_pool_size_is_refused(tmp_path, monkeypatch, options, env, named):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(gw.InvalidInput, match=named):
        gw.open(f"sqlite:///{tmp_path / 'gallery.db'}", user="alice", **options)
    assert not (tmp_path / "gallery.db").exists()


def _terminate_backend_of(g) -> int:
    """Kill, from another connection, the server process behind ``g``'s one pooled connection."""
    with g._db.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    killer = sqlalchemy.create_engine(gw_url(POSTGRES_URL))
    try:
        with killer.begin() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar()
    finally:
        killer.dispose()
    return pid


def test_o7_a_pooled_connection_dropped_while_idle_is_replaced_before_use(postgres_url, tmp_path, monkeypatch):
    g = gw.open(postgres_url, user="alice", artifacts=tmp_path / "a", pool_size=1, max_overflow=0)
    try:
        g.search(kind="algorithm")
        killed = _terminate_backend_of(g)
        monkeypatch.setattr(engine_module, "IDLE_PING_S", 0.0)  # every pooled connection counts as idle
        assert g.search(kind="algorithm").total == 0
        with g._db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != killed
    finally:
        g.close()


def test_o7_a_connection_dropped_in_steady_use_fails_one_call_cleanly_then_calls_work(postgres_url, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.setattr(engine_module, "IDLE_PING_S", 3600.0)  # no ping: the call itself meets the dead connection
    g = gw.open(postgres_url, user="alice", artifacts=tmp_path / "a", pool_size=1, max_overflow=0)
    try:
        g.search(kind="algorithm")
        _terminate_backend_of(g)
        with pytest.raises(DatabaseUnavailable, match="cannot be reached"):
            g.search(kind="algorithm")
        assert g.search(kind="algorithm").total == 0
    finally:
        g.close()


def test_o8_postgresql_reads_run_without_a_transaction_writes_within_one(postgres_url, tmp_path):
    g = gw.open(postgres_url, user="alice", artifacts=tmp_path / "a")
    try:
        with g._db.read() as session:
            assert session.connection().connection.driver_connection.autocommit is True
        with g._db.write() as session:
            assert session.connection().connection.driver_connection.autocommit is False
        with g._db.read() as session:  # the pool hands the connection back in the state each needs
            assert session.connection().connection.driver_connection.autocommit is True
    finally:
        g.close()
