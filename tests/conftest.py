"""Shared fixtures: a real gallery database per test (SQLite file, and PostgreSQL
when GALLERY_TEST_POSTGRES_URL is set), a movable clock and source folders."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import gallery_widgets as gw

POSTGRES_URL = os.environ.get("GALLERY_TEST_POSTGRES_URL")
# "rest": a real `gallery-widgets serve` process on loopback (over PostgreSQL when
# GALLERY_TEST_POSTGRES_URL is set, else a SQLite file) and the REST client, one token per
# user. It runs for the modules that set REST_BACKEND = True, and for those that set
# REST_BACKEND = "full" when GALLERY_TEST_REST=all (see pytest_collection_modifyitems).
BACKENDS = ["sqlite", "postgres", "rest"]


class MovableClock:
    """The gallery's clock for tests: starts at a fixed instant, moved by ``advance``."""

    def __init__(self):
        self.now = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def _postgres_schema_url(schema: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_URL)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def pytest_terminal_summary(terminalreporter):
    """Why tests were skipped, once per reason with a count (``-rs`` still lists every one)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("skipped tests, by reason")
        for reason, count in reasons.most_common():
            terminalreporter.line(f"{count:5d}  {reason}")


def pytest_collection_modifyitems(config, items):
    """The rest backend runs where a module opts in (``REST_BACKEND = True``): a server process
    per test costs one to several seconds, so the whole suite over REST would be too slow for
    every run. Modules marked ``REST_BACKEND = "full"`` (the largest rule suites, whose answers
    come from the same core) run over REST too when ``GALLERY_TEST_REST=all``."""
    everything = os.environ.get("GALLERY_TEST_REST") == "all"
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        over_rest = callspec is not None and callspec.params.get("backend") == "rest"
        opted = getattr(item.module, "REST_BACKEND", False)
        wanted = opted is True or (opted == "full" and everything)
        (drop if over_rest and not wanted else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need GALLERY_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1/test)")
    return request.param


@pytest.fixture
def gallery_url(backend, tmp_path):
    """A fresh, empty gallery database; dropped afterwards."""
    if backend == "sqlite" or (backend == "rest" and not POSTGRES_URL):
        yield f"sqlite:///{tmp_path / 'gallery.db'}"
        return
    import sqlalchemy

    schema = f"gw_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(gw_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _postgres_schema_url(schema)
    finally:
        from gallery_widgets.core import sql_gallery

        for key, context in list(sql_gallery._contexts.items()):
            if schema in key[0]:
                context.db.dispose()
                del sql_gallery._contexts[key]
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def gw_url(url: str) -> str:
    from gallery_widgets.store.engine import normalise_url

    return normalise_url(url)


class ServerClock:
    """The clock of a rest-backend test: the server process keeps real time, so a test that
    moves the gallery's clock cannot run over REST and says so."""

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc)

    @property
    def now(self) -> datetime:
        pytest.skip("compares with the gallery's clock, which a server process keeps to itself (rest backend)")

    def advance(self, **delta) -> None:
        pytest.skip("moves the gallery's clock, which a server process does not share (rest backend)")


@pytest.fixture
def clock(request):
    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "rest":
        return ServerClock()
    return MovableClock()


@pytest.fixture
def rest_server(gallery_url, tmp_path):
    """A real ``gallery-widgets serve`` process on loopback over ``gallery_url``."""
    from server_process import GalleryServer

    server = GalleryServer(gallery_url, tmp_path / "artifacts", tmp_path / "server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def open_as(request, backend, gallery_url, tmp_path, clock):
    """``open_as("alice")`` opens the test gallery as that user. The first one opened is admin
    (on the rest backend: the host made the first account an admin, and each user has a token)."""
    opened = []
    server = request.getfixturevalue("rest_server") if backend == "rest" else None

    def _open(user: str):
        if server is not None:
            g = gw.open(server.url, token=server.token_for(user, admin=not opened))
            g._db = server.context().db  # tests that check the store read what the server wrote
        else:
            g = gw.open(gallery_url, user=user, clock=clock, artifacts=tmp_path / "artifacts")
        opened.append(g)
        return g

    yield _open
    if opened:
        opened[0].close()


@pytest.fixture
def admin(open_as):
    return open_as("admin")


@pytest.fixture
def alice(admin, open_as):
    return open_as("alice")


@pytest.fixture
def bob(admin, open_as):
    return open_as("bob")


@pytest.fixture
def carol(admin, open_as):
    return open_as("carol")


def write_algorithm(root: Path, name: str = "demo-algo", *, extra_files: dict | None = None, manifest: str | None = None,
                    python: str | None = None, requirements=()) -> Path:
    """A source folder with a valid ``algorithm.yaml`` and ``train.py``."""
    root.mkdir(parents=True, exist_ok=True)
    if manifest is None:
        lines = [
            f"name: {name}",
            "entrypoint: train:main",
            "hyperparameters:",
            "  - {name: lr, type: float, default: 0.1, range: [0.0, 1.0], description: learning rate}",
            "  - {name: epochs, type: int, default: 2, required: true}",
            "  - {name: optimizer, type: str, default: sgd, choices: [sgd, adam]}",
            "inputs: [{name: data, description: training data}]",
            "outputs: [{name: model}]",
        ]
        if python:
            lines.append(f"python: '{python}'")
        if requirements:
            lines.append("requirements: [" + ", ".join(f"'{r}'" for r in requirements) + "]")
        manifest = "\n".join(lines) + "\n"
    (root / "algorithm.yaml").write_text(textwrap.dedent(manifest))
    (root / "train.py").write_text("def main(params, inputs, outputs):\n    return {'loss': 0.5}\n")
    for rel, content in (extra_files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content) if isinstance(content, str) else path.write_bytes(content)
    return root


@pytest.fixture
def algo_dir(tmp_path) -> Path:
    return write_algorithm(tmp_path / "src" / "demo-algo")


@pytest.fixture
def make_source(tmp_path):
    """``make_source("name", **write_algorithm_options)`` → a loaded ``gw.Algorithm``."""
    counter = iter(range(10_000))

    def _make(name: str = "demo-algo", **options):
        return gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / f"{name}-{next(counter)}", name, **options))

    return _make


@pytest.fixture
def publish(make_source):
    """``publish(g, "Title", visibility="public", ...)`` → the published ``Asset``."""

    def _publish(g, title: str = "Demo algorithm", **options):
        options.setdefault("visibility", "public")
        options.setdefault("agree", True)
        source = options.pop("source", None) or make_source()
        return g.publish(source, title=title, **options)

    return _publish


# Smallest valid images, for covers and avatars.
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
JPEG_HEADER = b"\xff\xd8\xff\xe0" + b"\x00" * 100 + b"\xff\xd9"


class SmtpInbox:
    """An aiosmtpd handler that keeps every message it accepts (for a real SMTP server on loopback)."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        import email
        import email.policy

        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]


def only_embedded(gallery, why: str) -> None:
    """Skip a rest-backend run of a test that reaches inside the SQL gallery (``why`` says what)."""
    from gallery_widgets.client import RestClient

    if isinstance(gallery, RestClient):
        pytest.skip(f"embedded only: {why}")
