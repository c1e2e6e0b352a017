"""What crashes leave in the artifact store, and ``gallery-widgets gc`` (rule O6 in docs/rules.md):
a publish killed with SIGKILL after storing its blob, or halfway through writing it; the
collector's dry run, ``--apply``, its grace period, and its safety against a publish in flight."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import PNG_1PX, JPEG_HEADER, write_algorithm
from snapshot import database_rows, gallery_state

import gallery_widgets as gw
from gallery_widgets.artifacts import LocalArtifactStore

REPO = Path(__file__).resolve().parents[1]
HOUR = 3600

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX processes")

PUBLISHER = textwrap.dedent(
    """
    import sys
    import gallery_widgets as gw

    url, artifacts, folder, title = sys.argv[1:]
    g = gw.open(url, user="publisher", artifacts=artifacts)
    asset = g.publish(gw.Algorithm.from_dir(folder), title=title, visibility="public", agree=True)
    print(asset.content_id, flush=True)
    """
)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def gc(*args, url: str, artifacts: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "gallery_widgets", "gc", "--url", url, "--artifacts",
                             str(artifacts), *args], capture_output=True, text=True, env=_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def blobs(artifacts: Path) -> set[Path]:
    return {p for p in (artifacts / "sha256").rglob("*") if p.is_file() and not p.name.startswith(".")}


def age(path: Path, seconds: float) -> None:
    """Make ``path`` look last written ``seconds`` ago (the passage of time, not a fake of our code)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def wait_for(condition, what: str, proc=None, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the publisher ended before {what}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.fixture
def shared(tmp_path):
    """An embedded gallery with the publisher's account and one published asset."""
    url, artifacts = f"sqlite:///{tmp_path / 'gallery.db'}", tmp_path / "artifacts"
    with gw.open(url, user="admin", artifacts=artifacts) as admin:
        publisher = gw.open(url, user="publisher", artifacts=artifacts)
        kept = publisher.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / "kept", "kept")), title="Kept",
                                 visibility="public", agree=True)
    script = tmp_path / "publisher.py"
    script.write_text(PUBLISHER)
    return {"url": url, "artifacts": artifacts, "db": tmp_path / "gallery.db", "script": script,
            "kept": kept.versions[0].digest, "tmp": tmp_path}


def start_publisher(shared, folder: Path, title: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(shared["script"]), shared["url"], str(shared["artifacts"]),
                             str(folder), title], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


class WriteLock:
    """Hold the gallery's SQLite write lock, as a long write in another notebook would: a publish
    then stores its blob and waits for its transaction."""

    def __init__(self, db: Path):
        self.conn = sqlite3.connect(db, isolation_level=None, timeout=60)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


# -- crashes ---------------------------------------------------------------------------------------


def test_o6_a_publish_killed_after_storing_its_blob_leaves_an_orphan_that_gc_collects(shared):
    before_rows, before_blobs = database_rows(shared["url"]), blobs(shared["artifacts"])
    lock = WriteLock(shared["db"])
    try:
        proc = start_publisher(shared, write_algorithm(shared["tmp"] / "doomed", "doomed"), "Doomed")
        (orphan,) = wait_for(lambda: blobs(shared["artifacts"]) - before_blobs, "its blob", proc)
        time.sleep(0.2)  # it is now waiting for the write lock
        kill(proc)
    finally:
        lock.release()
    assert database_rows(shared["url"]) == before_rows  # the crash left no row

    fresh = gc(url=shared["url"], artifacts=shared["artifacts"])
    assert "would remove 0 unreferenced blob(s)" in fresh.stdout
    assert "kept 1 unreferenced blob(s) written in the last 1 h" in fresh.stdout

    age(orphan, 2 * HOUR)
    state = gallery_state(shared["url"], shared["artifacts"])
    dry = gc(url=shared["url"], artifacts=shared["artifacts"])
    relative = str(orphan.relative_to(shared["artifacts"]))
    size = orphan.stat().st_size
    assert f"blob  {relative}" in dry.stdout
    assert f"would remove 1 unreferenced blob(s) and 0 stale temp file(s)" in dry.stdout
    assert f"({size:,} bytes)" in dry.stdout and "--apply" in dry.stdout
    assert gallery_state(shared["url"], shared["artifacts"]) == state  # a dry run deletes nothing

    applied = gc("--apply", url=shared["url"], artifacts=shared["artifacts"])
    assert f"removed 1 unreferenced blob(s) and 0 stale temp file(s): " in applied.stdout
    assert blobs(shared["artifacts"]) == before_blobs
    assert database_rows(shared["url"]) == before_rows
    with gw.open(shared["url"], user="publisher", artifacts=shared["artifacts"]) as g:
        assert g._ctx.artifacts.get(shared["kept"])  # what a row names is kept, and verifies
        again = g.publish(gw.Algorithm.from_dir(shared["tmp"] / "doomed"), title="Doomed", agree=True)
        assert g._ctx.artifacts.get(again.versions[0].digest)


def test_o6_an_upload_killed_midway_leaves_a_temp_file_removed_once_stale(shared):
    temp_folder = shared["artifacts"] / "tmp"
    leftover = None
    for attempt in range(6):
        folder = write_algorithm(shared["tmp"] / f"big{attempt}", f"big{attempt}",
                                 extra_files={"weights.bin": b"GW-NOISE" + os.urandom(40_000_000)})
        before_rows = database_rows(shared["url"])
        proc = start_publisher(shared, folder, f"Big {attempt}")
        temp = wait_for(lambda: list(temp_folder.glob(".incoming-*")) if temp_folder.is_dir() else [],
                        "its upload", proc, timeout=300)
        kill(proc)
        if temp[0].exists():
            leftover = temp[0]
            assert database_rows(shared["url"]) == before_rows
            break
    assert leftover is not None, "the upload was never caught halfway"
    assert leftover.stat().st_size < 40_000_000 + 1_000_000

    # A temp file of an upload that may still run is left alone, by opening and by gc.
    with gw.open(shared["url"], user="publisher", artifacts=shared["artifacts"]):
        assert leftover.exists()
    assert "0 stale temp file(s)" in gc("--apply", url=shared["url"], artifacts=shared["artifacts"]).stdout
    assert leftover.exists()

    age(leftover, 2 * HOUR)
    dry = gc(url=shared["url"], artifacts=shared["artifacts"])
    assert f"temp  tmp/{leftover.name}" in dry.stdout and "1 stale temp file(s)" in dry.stdout
    state = gallery_state(shared["url"], shared["artifacts"])
    with gw.open(shared["url"], user="publisher", artifacts=shared["artifacts"]) as g:
        assert not leftover.exists()  # opening the gallery cleaned it
        assert {k: v for k, v in gallery_state(shared["url"], shared["artifacts"])["files"].items()} == {
            k: v for k, v in state["files"].items() if k != f"tmp/{leftover.name}"}
        assert g.search(kind="algorithm").total >= 1


# -- safety against a concurrent publish -----------------------------------------------------------


def test_o6_gc_keeps_the_blob_of_a_publish_in_flight(shared):
    before_blobs = blobs(shared["artifacts"])
    lock = WriteLock(shared["db"])
    try:
        proc = start_publisher(shared, write_algorithm(shared["tmp"] / "inflight", "inflight"), "In flight")
        (blob,) = wait_for(lambda: blobs(shared["artifacts"]) - before_blobs, "its blob", proc)
        applied = gc("--apply", url=shared["url"], artifacts=shared["artifacts"])
        assert "removed 0 unreferenced blob(s)" in applied.stdout and "kept 1" in applied.stdout
        assert blob.exists()
    finally:
        lock.release()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    with gw.open(shared["url"], user="bob", artifacts=shared["artifacts"]) as bob:
        cid = out.strip()
        bob.subscribe(cid, accept_agreements=True)
        assert bob.import_algorithm(cid).manifest["name"] == "inflight"


def test_o6_an_old_orphan_stored_again_by_a_publish_in_flight_is_kept(shared):
    folder = write_algorithm(shared["tmp"] / "again", "again")
    store = LocalArtifactStore(shared["artifacts"])
    digest, new = store.put(gw.Algorithm.from_dir(folder).pack())  # the orphan of an earlier crash
    assert new
    age(store.path(digest), 2 * HOUR)
    stale_mtime = store.path(digest).stat().st_mtime
    lock = WriteLock(shared["db"])
    try:
        proc = start_publisher(shared, folder, "Again")  # the same bytes: the same blob
        wait_for(lambda: store.path(digest).stat().st_mtime > stale_mtime, "the blob stored again", proc)
        assert "removed 0 unreferenced blob(s)" in gc("--apply", url=shared["url"], artifacts=shared["artifacts"]).stdout
    finally:
        lock.release()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    with gw.open(shared["url"], user="publisher", artifacts=shared["artifacts"]) as g:
        assert g.asset(out.strip()).versions[0].digest == digest
        assert g._ctx.artifacts.get(digest)


def test_o6_a_blob_stored_again_between_listing_and_deleting_is_put_back(tmp_path):
    """The collector's last check: it moves a blob aside, reads its time again, and restores it
    when a publish stored the same bytes after the listing."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    digest, _ = store.put(b"model weights")
    age(store.path(digest), 2 * HOUR)
    (listed,) = list(store.blobs())  # what the collector saw: old and unreferenced
    assert store.put(b"model weights") == (digest, False)  # a publish stores it again
    assert store.collect(listed, HOUR) is False
    assert store.get(digest) == b"model weights"
    age(store.path(digest), 2 * HOUR)
    assert store.collect(next(iter(store.blobs())), HOUR) is True
    assert not store.path(digest).exists()


def test_o6_gc_puts_back_what_an_interrupted_run_moved_aside(shared):
    store = LocalArtifactStore(shared["artifacts"])
    kept = store.path(shared["kept"])
    (shared["artifacts"] / "tmp").mkdir(exist_ok=True)
    os.replace(kept, shared["artifacts"] / "tmp" / f".gc-{shared['kept']}-4242")  # killed mid-collection
    result = gc("--apply", url=shared["url"], artifacts=shared["artifacts"])
    assert f"restored blob {shared['kept'][:12]}" in result.stdout
    assert store.get(shared["kept"])


# -- any backend ---------------------------------------------------------------------------------


def test_o6_gc_collects_replaced_covers_and_keeps_every_named_blob(alice, bob, publish, gallery_url, tmp_path):
    artifacts = tmp_path / "artifacts"
    asset = publish(alice, "Covered")
    alice.edit_asset(asset.content_id, cover=PNG_1PX)
    alice.edit_asset(asset.content_id, cover=JPEG_HEADER)  # the PNG cover is now named by no row
    bob.update_profile(avatar=PNG_1PX)  # ... until bob's avatar names the same bytes
    alice.update_profile(avatar=JPEG_HEADER + b"alice")
    alice.update_profile(avatar=None)
    store = alice._ctx.artifacts
    orphan = store.path(store.put(JPEG_HEADER + b"alice")[0])
    for blob in blobs(artifacts):
        age(blob, 2 * HOUR)
    rows = database_rows(gallery_url)
    named = blobs(artifacts) - {orphan}

    dry = gc(url=gallery_url, artifacts=artifacts)
    assert "would remove 1 unreferenced blob(s)" in dry.stdout
    assert str(orphan.relative_to(artifacts)) in dry.stdout
    applied = gc("--apply", url=gallery_url, artifacts=artifacts)
    assert "removed 1 unreferenced blob(s)" in applied.stdout
    assert blobs(artifacts) == named
    assert database_rows(gallery_url) == rows
    assert bob.cover_image(asset.content_id) == JPEG_HEADER
    assert alice.avatar_image("bob") == PNG_1PX
    assert alice.import_algorithm(asset.content_id).manifest["name"] == "demo-algo"
