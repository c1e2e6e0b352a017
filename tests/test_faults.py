"""Faults of the machine under a gallery: a full disk, a read-only gallery home, a damaged
database file, a database from a newer version, a mistyped sqlite:/// path. Each is a
clear GalleryError naming what to do, and the gallery is exactly as it was (rules O1-O5
in docs/rules.md).

The full disk and the read-only home are real: a small tmpfs mounted for the test (as
root), remounted read-only for the second; without root the disk test uses RLIMIT_FSIZE
in a subprocess and the read-only test takes the write permission away.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import PNG_1PX, write_algorithm
from snapshot import database_rows, gallery_state

import gallery_widgets as gw
from gallery_widgets.core import sql_gallery

REPO = Path(__file__).resolve().parents[1]


def cli(*args, env=None) -> subprocess.CompletedProcess:
    """``gallery-widgets ARGS`` in a fresh process, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "gallery_widgets", *args], capture_output=True, text=True,
                          env=env or _env(), timeout=300)


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _forget_galleries_under(folder: Path) -> None:
    """Close this process's connections to galleries under ``folder`` (so it can be unmounted)."""
    for key, context in list(sql_gallery._contexts.items()):
        if str(folder) in key[0] or str(folder) in key[1]:
            context.db.dispose()
            del sql_gallery._contexts[key]


@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(name, size)``: a real, small file system mounted at ``tmp_path / name``."""
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        path = tmp_path / name
        path.mkdir()
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(path)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        _forget_galleries_under(path)
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Write a filler file until ``disk`` has at most ``leave`` bytes free."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "ab") as handle:
        try:
            while os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize > leave:
                handle.write(chunk)
                handle.flush()
            if leave == 0:
                while True:  # the last blocks, byte by byte
                    handle.write(b"\0" * 512)
                    handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def temp_files(artifacts: Path) -> list[Path]:
    return [p for p in artifacts.rglob(".incoming-*")]


def noise(size: int) -> bytes:
    """Incompressible bytes that no scanner takes for a pickle or an archive (raw random bytes
    sometimes start like one)."""
    return b"GW-NOISE" + os.urandom(size)


def big_source(tmp_path: Path, name: str, size: int) -> gw.Algorithm:
    return gw.Algorithm.from_dir(write_algorithm(tmp_path / name, name, extra_files={"weights.bin": noise(size)}))


# -- O1: a full disk --------------------------------------------------------------------------------


def test_o1_a_full_disk_while_storing_a_publish_keeps_the_gallery_unchanged(tmpfs, tmp_path):
    disk = tmpfs("disk", "4m")
    url, artifacts = f"sqlite:///{disk / 'gallery.db'}", disk / "artifacts"
    g = gw.open(url, user="alice", artifacts=artifacts)
    g.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / "small")), title="Small", agree=True)
    filler = fill(disk, leave=256 * 1024)
    big = big_source(tmp_path, "big", 1_000_000)
    before = gallery_state(url, artifacts)

    with pytest.raises(gw.StorageError, match="is full; nothing was stored. Free some space") as info:
        g.publish(big, title="Too big for the disk", agree=True)
    assert isinstance(info.value, OSError)
    assert gallery_state(url, artifacts) == before
    assert temp_files(artifacts) == []
    with pytest.raises(gw.StorageError, match="is full"):
        g.edit_asset(g.publishes()[0].content_id, cover=_big_png(400_000))
    assert gallery_state(url, artifacts) == before

    filler.unlink()  # space again: the same publish goes through
    assert g.publish(big, title="Too big for the disk", agree=True).title == "Too big for the disk"
    g.close()


def _big_png(size: int) -> bytes:
    return PNG_1PX + noise(size)  # a PNG signature is all the cover check reads


def test_o1_a_full_disk_under_the_database_refuses_the_write_and_keeps_it_unchanged(tmpfs, tmp_path):
    disk = tmpfs("dbdisk", "3m")
    url, artifacts = f"sqlite:///{disk / 'gallery.db'}", tmp_path / "artifacts"  # blobs elsewhere
    g = gw.open(url, user="alice", artifacts=artifacts)
    asset = g.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / "src")), title="Growing", agree=True)
    filler = fill(disk)
    # The write-ahead log may still have room for a few changes; the first one that needs a new
    # block fails, and that one must leave nothing behind.
    for attempt in range(30):
        before = gallery_state(url, artifacts)
        try:
            g.edit_asset(asset.content_id, description=f"{attempt} " + "word " * 9_000)
        except gw.StorageError as exc:
            assert "is full; nothing of this change was saved" in str(exc)
            break
        assert attempt < 29, "the database never ran out of space"
    assert gallery_state(url, artifacts) == before
    assert g.search(kind="algorithm").total == 1  # reading still works on the full disk
    filler.unlink()
    assert g.edit_asset(asset.content_id, description="room again").description == "room again"
    g.close()


RLIMIT_PUBLISHER = textwrap.dedent(
    """
    import json, resource, signal, sys
    import gallery_widgets as gw

    url, artifacts, folder, limit = sys.argv[1:]
    g = gw.open(url, user="alice", artifacts=artifacts)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
    try:
        g.publish(gw.Algorithm.from_dir(folder), title="Over the limit", agree=True)
        print(json.dumps({"raised": None}))
    except BaseException as exc:
        print(json.dumps({"raised": type(exc).__name__, "gallery_error": isinstance(exc, gw.GalleryError),
                          "message": str(exc)}))
    """
)


def test_o1_a_file_size_limit_while_publishing_is_a_storage_error(tmp_path):
    """The same fault without root: RLIMIT_FSIZE makes the artifact write fail as a full disk would."""
    url, artifacts = f"sqlite:///{tmp_path / 'gallery.db'}", tmp_path / "artifacts"
    with gw.open(url, user="alice", artifacts=artifacts) as g:
        g.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / "small")), title="Small", agree=True)
    folder = write_algorithm(tmp_path / "big", extra_files={"weights.bin": noise(3_000_000)})
    before = gallery_state(url, artifacts)
    script = tmp_path / "publisher.py"
    script.write_text(RLIMIT_PUBLISHER)
    result = subprocess.run([sys.executable, str(script), url, str(artifacts), str(folder), str(2_000_000)],
                            capture_output=True, text=True, env=_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["raised"] == "StorageError" and outcome["gallery_error"], outcome
    assert "nothing was stored" in outcome["message"]
    assert gallery_state(url, artifacts) == before
    assert temp_files(artifacts) == []


# -- O2: a read-only gallery home ------------------------------------------------------------------


@pytest.fixture
def read_only_gallery(tmp_path, tmpfs):
    """A gallery with content, then made read-only for this process: a tmpfs remounted read-only
    (as root, where permissions do not bind) or a folder without write permission."""
    home = tmpfs("ro-home", "16m") if os.geteuid() == 0 else tmp_path / "ro-home"
    home.mkdir(exist_ok=True)
    url, artifacts = f"sqlite:///{home / 'gallery.db'}", home / "artifacts"
    alice = gw.open(url, user="alice", artifacts=artifacts)
    bob = gw.open(url, user="bob", artifacts=artifacts)
    source = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src"))
    asset = alice.publish(source, title="Read me", summary="readable", visibility="public", agree=True)
    alice.edit_asset(asset.content_id, cover=PNG_1PX)
    bob.subscribe(asset.content_id, accept_agreements=True)
    bob.comment(asset.content_id, "before the freeze")
    alice.close()
    _forget_galleries_under(home)
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True)
    else:
        for path in [home, *home.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
    yield {"url": url, "artifacts": artifacts, "home": home, "cid": asset.content_id, "source": source}
    _forget_galleries_under(home)
    if os.geteuid() != 0:
        for path in [home, *home.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


def test_o2_a_read_only_gallery_can_be_read(read_only_gallery):
    ro = read_only_gallery
    before = gallery_state(ro["url"], ro["artifacts"])
    bob = gw.open(ro["url"], user="bob", artifacts=ro["artifacts"])
    page = bob.search(kind="algorithm", query="read")
    assert [a.content_id for a in page.items] == [ro["cid"]] and page.total == 1
    detail = bob.asset(ro["cid"])  # not counted: nothing can be written
    assert detail.title == "Read me" and detail.subscription_status == "active"
    assert [c.text for c in bob.comments(ro["cid"]).items] == ["before the freeze"]
    assert bob.cover_image(ro["cid"]) == PNG_1PX
    assert [s.title for s in bob.subscriptions()] == ["Read me"]
    assert bob.me.username == "bob"
    assert bob.publishes() == ()
    assert gallery_state(ro["url"], ro["artifacts"]) == before
    assert not (ro["home"] / "gallery.db.lock").exists()


def test_o2_writes_to_a_read_only_gallery_say_so_and_change_nothing(read_only_gallery, tmp_path):
    ro = read_only_gallery
    before = gallery_state(ro["url"], ro["artifacts"])
    alice = gw.open(ro["url"], user="alice", artifacts=ro["artifacts"])
    bob = gw.open(ro["url"], user="bob", artifacts=ro["artifacts"])
    writes = {
        "favorite": lambda: bob.favorite(ro["cid"]),
        "comment": lambda: bob.comment(ro["cid"], "after the freeze"),
        "cancel": lambda: bob.cancel_subscription(ro["cid"]),
        "profile": lambda: bob.update_profile(nickname="Bobby"),
        "edit": lambda: alice.edit_asset(ro["cid"], summary="changed"),
        "republish": lambda: alice.publish(ro["source"], title="Again", agree=True),
        "new source": lambda: alice.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / "new", "new")),
                                            title="New", agree=True),
    }
    for name, write in writes.items():
        with pytest.raises(gw.StorageError, match="read-only") as info:
            write()
        assert "write access" in str(info.value), name
    with pytest.raises(gw.StorageError, match="no account 'carol' yet"):
        gw.open(ro["url"], user="carol", artifacts=ro["artifacts"])
    assert gallery_state(ro["url"], ro["artifacts"]) == before


def test_o2_operator_commands_read_a_read_only_gallery(read_only_gallery):
    ro = read_only_gallery
    info = cli("info", "--url", ro["url"])
    assert info.returncode == 0, info.stderr
    assert "schema:" in info.stdout
    dry = cli("gc", "--url", ro["url"])
    assert dry.returncode == 0, dry.stderr
    assert "would remove 0 unreferenced blob(s)" in dry.stdout


# -- O3: a damaged database file -------------------------------------------------------------------


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_o3_a_file_that_is_not_a_database_is_refused_untouched(tmp_path):
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "gallery.db").write_bytes(b"name,score\nalice,3\n" * 300)  # a CSV saved under the wrong name
    before = _files(folder)
    with pytest.raises(gw.StorageError, match="is not a gallery database") as info:
        gw.open(f"sqlite:///{folder / 'gallery.db'}", user="alice")
    assert "restore the file from a backup" in str(info.value)
    for command in ("info", "upgrade", "gc"):
        result = cli(command, "--url", f"sqlite:///{folder / 'gallery.db'}")
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "is not a gallery database" in result.stderr and "Traceback" not in result.stderr
    assert _files(folder) == before  # not rebuilt, not journaled, no lock file left


def test_o3_a_damaged_gallery_database_is_reported_not_rebuilt(tmp_path):
    folder = tmp_path / "home"
    folder.mkdir()
    url = f"sqlite:///{folder / 'gallery.db'}"
    with gw.open(url, user="alice", artifacts=folder / "artifacts") as g:
        for i in range(5):
            g.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / f"src{i}")), title=f"Asset {i}", agree=True)
    with sqlite3.connect(folder / "gallery.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray((folder / "gallery.db").read_bytes())
    for offset in range(page_size, len(data), page_size):  # every page after the header page
        data[offset:offset + page_size] = os.urandom(page_size)
    (folder / "gallery.db").write_bytes(bytes(data))
    before = _files(folder)
    with pytest.raises(gw.StorageError, match="is damaged") as info:
        gw.open(url, user="alice", artifacts=folder / "artifacts")
    assert ".recover" in str(info.value)
    assert {k: v for k, v in _files(folder).items() if k == "gallery.db"} == {"gallery.db": before["gallery.db"]}
    assert not (folder / "gallery.db.lock").exists()


# -- O4: a database from a newer gallery_widgets --------------------------------------------------


def test_o4_a_database_from_a_newer_version_is_refused_by_open_and_upgrade(admin, gallery_url, tmp_path):
    from sqlalchemy import create_engine, text

    from gallery_widgets.store.engine import normalise_url

    admin.close()
    engine = create_engine(normalise_url(gallery_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    engine.dispose()
    before = database_rows(gallery_url)

    with pytest.raises(gw.SchemaOutdated, match="a newer gallery_widgets wrote it") as info:
        gw.open(gallery_url, user="alice", artifacts=tmp_path / "artifacts")
    assert "pip install -U gallery_widgets" in str(info.value)
    result = cli("upgrade", "--url", gallery_url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "a newer gallery_widgets wrote it" in result.stderr and "Traceback" not in result.stderr
    assert database_rows(gallery_url) == before
    shown = cli("info", "--url", gallery_url)
    assert "0099_from_the_future" in shown.stdout


# -- O5: a mistyped sqlite:/// path ---------------------------------------------------------------


def test_o5_a_sqlite_url_naming_a_missing_folder_is_refused(tmp_path):
    typo = tmp_path / "galery" / "gallery.db"
    with pytest.raises(gw.InvalidInput, match="There is no folder .*galery.* four slashes"):
        gw.open(f"sqlite:///{typo}", user="alice")
    with pytest.raises(gw.InvalidInput, match="host part"):
        gw.open(f"sqlite://{tmp_path.name}/gallery.db", user="alice")
    for command in ("info", "upgrade", "gc"):
        result = cli(command, "--url", f"sqlite:///{typo}")
        assert result.returncode == 2 and "Traceback" not in result.stderr, (command, result.stderr)
    assert list(tmp_path.iterdir()) == []  # no folder, no database, no artifacts


def test_o5_operator_commands_never_create_a_database(tmp_path):
    missing = tmp_path / "gallery.db"
    for command in ("info", "upgrade", "gc"):
        result = cli(command, "--url", f"sqlite:///{missing}")
        assert result.returncode == 2, (command, result.stdout)
        assert "There is no gallery database at" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_o5_the_default_home_is_created_when_missing(tmp_path, monkeypatch):
    home = tmp_path / "new" / "gallery-home"
    monkeypatch.setenv("GALLERY_HOME", str(home))
    monkeypatch.delenv("GALLERY_ARTIFACTS", raising=False)
    g = gw.open(user="alice")
    try:
        assert (home / "gallery.db").is_file()
        assert g.me.role == "admin"
    finally:
        g.close()
