"""The embedded (SQLite) gallery shared by several real OS processes (SPEC §1 "Several kernels and
processes on one machine share it safely", F1, SUB6), and a writer killed halfway through."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import gallery_widgets as gw
from conftest import write_algorithm

REPO = Path(__file__).resolve().parents[1]
WORKERS = 4
ROUNDS = 30

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX processes")


# A worker acts as one user on one asset, starting when the test says "go". It keeps its own model of
# what it did last and checks every answer of the gallery against it; whatever goes wrong (an
# exception, a wrong answer) is reported in its JSON result instead of a traceback.
WORKER = textwrap.dedent(
    '''
    import json, random, sys, time, traceback
    from pathlib import Path

    import gallery_widgets as gw

    url, artifacts, user, cid, rounds, seed, mode, ready, go, out = sys.argv[1:]
    rounds, rng = int(rounds), random.Random(int(seed))
    errors, done = [], []
    state = {"sub": None, "fav": False}

    def check(what, ok):
        if not ok:
            errors.append(f"{user}: {what}")

    def act(g, op):
        if op == "subscribe":
            if state["sub"] == "cancelled":
                op = "retrieve"
            else:
                sub = g.subscribe(cid, accept_agreements=True)
                state["sub"] = "active"
                check(f"subscribe returned {sub.status}", sub.status == "active")
        if op == "cancel" and state["sub"] is not None:
            sub = g.cancel_subscription(cid)
            state["sub"] = "cancelled"
            check(f"cancel returned {sub.status}", sub.status == "cancelled")
        if op == "retrieve" and state["sub"] is not None:
            sub = g.retrieve_subscription(cid)
            state["sub"] = "active"
            check(f"retrieve returned {sub.status}", sub.status == "active")
        if op == "favorite":
            asset = g.favorite(cid)
            state["fav"] = True
            check("favorite not shown as favorited", asset.favorited)
            check(f"favorites counter {asset.favorites} out of range", 1 <= asset.favorites <= {workers})
        if op == "unfavorite":
            asset = g.unfavorite(cid)
            state["fav"] = False
            check("unfavorite still shown as favorited", not asset.favorited)
            check(f"favorites counter {asset.favorites} out of range", 0 <= asset.favorites <= {workers} - 1)
        done.append(op)

    try:
        g = gw.open(url, user=user, artifacts=artifacts)
        Path(ready).touch()
        deadline = time.monotonic() + 120
        while not Path(go).exists():
            if time.monotonic() > deadline:
                raise TimeoutError("never told to go")
            time.sleep(0.005)
        for _ in range(rounds):
            if mode == "favorites":
                ops = [rng.choice(["favorite", "unfavorite"]) for _ in range(4)]
            else:
                ops = ["subscribe", "favorite", "unfavorite", "cancel", "retrieve"]
                rng.shuffle(ops)
                ops += rng.sample(["cancel", "unfavorite", "favorite", "subscribe"], 2)
            for op in ops:
                act(g, op)
            # reads in between, as a notebook would do
            detail = g.asset(cid)
            check(f"asset shows favorited={detail.favorited}", detail.favorited == state["fav"])
            if state["sub"] is not None:
                check(f"asset shows subscription {detail.subscription_status}",
                      detail.subscription_status == state["sub"])
                mine = g.subscriptions()
                check(f"my subscriptions {[s.status for s in mine]}",
                      [s.status for s in mine] == [state["sub"]])
            check(f"subscriptions counter {detail.subscriptions} out of range",
                  0 <= detail.subscriptions <= {workers})
        g.close()
    except BaseException:
        errors.append(traceback.format_exc())
    Path(out).write_text(json.dumps({"user": user, "fav": state["fav"], "sub": state["sub"],
                                     "errors": errors, "done": len(done)}))
    '''
).replace("{workers}", str(WORKERS))


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["GALLERY_HOME"] = str(tmp_path / "home")
    env.pop("GALLERY_USER", None)
    return env


def _run_workers(tmp_path: Path, url: str, artifacts: Path, cid: str, mode: str) -> list[dict]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / "go"
    users = [f"worker{i}" for i in range(WORKERS)]
    procs = []
    for i, user in enumerate(users):
        args = [sys.executable, str(script), url, str(artifacts), user, cid, str(ROUNDS), str(1000 + i), mode,
                str(tmp_path / f"ready-{user}"), str(go), str(tmp_path / f"out-{user}.json")]
        procs.append(subprocess.Popen(args, cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready-{u}").exists() for u in users):
            assert all(p.poll() is None for p in procs), "a worker died before starting"
            assert time.monotonic() < deadline, "workers did not open the gallery in time"
            time.sleep(0.01)
        go.touch()  # every worker starts at the same moment
        outputs = [p.communicate(timeout=540) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    results = []
    for user, proc, (stdout, stderr) in zip(users, procs, outputs):
        assert "database is locked" not in stderr + stdout
        assert proc.returncode == 0, f"{user} exited with {proc.returncode}:\n{stderr}"
        result = json.loads((tmp_path / f"out-{user}.json").read_text())
        assert result["errors"] == [], "\n".join(result["errors"])
        assert result["done"] >= ROUNDS * 4
        results.append(result)
    return results


def _rows(db_path: Path, sql: str, *params):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def shared(tmp_path):
    """An embedded gallery file with one public, unlimited algorithm published by the admin."""
    db_path = tmp_path / "gallery.db"
    url = f"sqlite:///{db_path}"
    artifacts = tmp_path / "artifacts"
    with gw.open(url, user="admin", artifacts=artifacts) as g:
        asset = g.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "shared")), title="Shared",
                          visibility="public", agree=True)
    return db_path, url, artifacts, asset.content_id


def test_sub6_counters_exact_under_four_processes(shared, tmp_path):
    db_path, url, artifacts, cid = shared
    results = _run_workers(tmp_path, url, artifacts, cid, "mixed")

    favorites_expected = {r["user"] for r in results if r["fav"]}
    active_expected = {r["user"] for r in results if r["sub"] == "active"}
    cancelled_expected = {r["user"] for r in results if r["sub"] == "cancelled"}
    assert {r["user"] for r in results if r["sub"] is None} == set()  # every worker subscribed at least once

    favorite_rows = {u for (u,) in _rows(db_path, "SELECT u.username FROM favorites f JOIN users u ON u.id = f.user_id "
                                                  "JOIN assets a ON a.id = f.asset_id WHERE a.content_id = ?", cid)}
    subscription_rows = dict(_rows(db_path, "SELECT u.username, s.status FROM subscriptions s "
                                            "JOIN users u ON u.id = s.user_id JOIN assets a ON a.id = s.asset_id "
                                            "WHERE a.content_id = ?", cid))
    assert favorite_rows == favorites_expected
    assert {u for u, s in subscription_rows.items() if s == "active"} == active_expected
    assert {u for u, s in subscription_rows.items() if s == "cancelled"} == cancelled_expected
    assert len(subscription_rows) == WORKERS  # one row per user, never a duplicate

    ((favorites, subscriptions, views),) = _rows(
        db_path, "SELECT favorites, subscriptions, views FROM assets WHERE content_id = ?", cid)
    assert favorites == len(favorites_expected)
    assert subscriptions == len(active_expected)
    assert views == WORKERS * ROUNDS  # every g.asset() of every worker counted exactly once (S3)

    with gw.open(url, user="admin", artifacts=artifacts) as g:
        detail = g.asset(cid)
        assert (detail.favorites, detail.subscriptions) == (len(favorites_expected), len(active_expected))
    assert _rows(db_path, "PRAGMA integrity_check") == [("ok",)]


def test_f1_favorites_counter_exact_under_four_processes(shared, tmp_path):
    db_path, url, artifacts, cid = shared
    results = _run_workers(tmp_path, url, artifacts, cid, "favorites")

    expected = {r["user"] for r in results if r["fav"]}
    rows = {u for (u,) in _rows(db_path, "SELECT u.username FROM favorites f JOIN users u ON u.id = f.user_id")}
    assert rows == expected
    ((favorites,),) = _rows(db_path, "SELECT favorites FROM assets WHERE content_id = ?", cid)
    assert favorites == len(expected)
    for result in results:
        with gw.open(url, user=result["user"], artifacts=artifacts) as g:
            tab = g.search(kind="algorithm", tab="favorites")
            assert [a.content_id for a in tab.items] == ([cid] if result["fav"] else [])
            if result["fav"]:
                assert tab.items[0].favorites == len(expected)


def test_concurrent_first_open_creates_each_user_once(tmp_path):
    """Four processes opening a brand-new gallery at once: one schema, one admin, four users."""
    db_path = tmp_path / "fresh" / "gallery.db"
    db_path.parent.mkdir()  # a sqlite:/// URL must name an existing folder
    url = f"sqlite:///{db_path}"
    script = tmp_path / "opener.py"
    script.write_text(textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        go = Path(sys.argv[3])
        while not go.exists():
            time.sleep(0.002)
        import gallery_widgets as gw
        g = gw.open(sys.argv[1], user=sys.argv[2], artifacts=sys.argv[4])
        print(g.me.username)
        """
    ))
    go = tmp_path / "go-open"
    procs = [
        subprocess.Popen([sys.executable, str(script), url, f"user{i}", str(go), str(tmp_path / "artifacts")],
                         env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(WORKERS)
    ]
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (stdout, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stderr
    assert sorted(out.strip() for out, _ in outputs) == [f"user{i}" for i in range(WORKERS)]
    assert sorted(_rows(db_path, "SELECT username FROM users")) == [(f"user{i}",) for i in range(WORKERS)]
    assert len(_rows(db_path, "SELECT id FROM users WHERE role = 'admin'")) == 1


# -- a writer killed with SIGKILL halfway ----------------------------------------------------------------

PUBLISHER = textwrap.dedent(
    '''
    import os, sys
    from pathlib import Path

    import gallery_widgets as gw

    url, artifacts, work = sys.argv[1:]
    g = gw.open(url, user="publisher", artifacts=artifacts)
    tag = os.getpid()
    manifest = (
        "name: {name}\\n"
        "entrypoint: train:main\\n"
        "hyperparameters:\\n"
        "  - {{name: lr, type: float, default: 0.1}}\\n"
    )
    for i in range(100_000):
        root = Path(work) / f"src-{tag}-{i}"
        root.mkdir(parents=True)
        (root / "algorithm.yaml").write_text(manifest.format(name=f"algo-{tag}-{i}"))
        (root / "train.py").write_text(f"def main(params, inputs, outputs):\\n    return {{'run': {i}}}\\n" + "#" * 20_000)
        asset = g.publish(gw.Algorithm.from_dir(root), title=f"Killed {tag} {i}", visibility="public",
                          summary="published in a loop", description="x " * 500, agree=True)
        (root / "train.py").write_text(f"def main(params, inputs, outputs):\\n    return {{'run': {i}, 'v': 2}}\\n")
        g.add_version(asset.content_id, gw.Algorithm.from_dir(root), agree=True)
        g.edit_asset(asset.content_id, summary=f"edited {i}", categories=["Scenario/Smart Home"])
    '''
)


def _count_assets(db_path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute("SELECT count(*) FROM assets").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigkill_during_publishing_leaves_the_database_consistent(tmp_path):
    db_path = tmp_path / "gallery.db"
    url = f"sqlite:///{db_path}"
    artifacts = tmp_path / "artifacts"
    with gw.open(url, user="admin", artifacts=artifacts):
        pass
    script = tmp_path / "publisher.py"
    script.write_text(PUBLISHER)
    rng = random.Random(7)
    for attempt in range(5):
        before = _count_assets(db_path)
        proc = subprocess.Popen([sys.executable, str(script), url, str(artifacts), str(tmp_path / f"work{attempt}")],
                                env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while _count_assets(db_path) < before + 3:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the publisher made no progress"
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.08))  # somewhere in the middle of a publish
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL

    assert _rows(db_path, "PRAGMA integrity_check") == [("ok",)]
    assert _rows(db_path, "PRAGMA foreign_key_check") == []
    # every asset row has at least one version row, every version its artifact
    assert _rows(db_path, "SELECT id FROM assets WHERE NOT EXISTS "
                          "(SELECT 1 FROM versions v WHERE v.asset_id = assets.id)") == []
    store = gw.open(url, user="admin", artifacts=artifacts)
    try:
        for (digest,) in _rows(db_path, "SELECT digest FROM versions"):
            assert store._ctx.artifacts.exists(digest), digest
        # the keyword index agrees with the assets table
        with sqlite3.connect(db_path) as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'assets_fts'").fetchone():
                conn.execute("INSERT INTO assets_fts(assets_fts) VALUES ('integrity-check')")
        total = _count_assets(db_path)
        assert total >= 15
        assert store.search(kind="algorithm", page_size=100).total == total
        found = store.search(kind="algorithm", query="killed", page_size=100)
        assert found.total == total, (found.total, total, _rows(db_path, "SELECT title FROM assets"))
        # and the gallery is still writable: nothing was left locked
        asset = store.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / "after")), title="After the kill",
                              visibility="public", agree=True)
        assert store.asset(asset.content_id).versions[0].version == "1.0.0"
        assert _count_assets(db_path) == total + 1
    finally:
        store.close()
