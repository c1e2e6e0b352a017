"""Headless publishing for pipelines and CI (issue 10): the real ``gallery-widgets`` command run
as a subprocess — ``publish`` (and a new version with ``--content-id``), ``search``,
``subscribe``, ``subscriptions``, ``import`` — with ``--json`` output, and exit codes that tell a
refused scan, a missing agreement, a permission error, a missing subscription, not found and bad
input apart (the table in the README)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import write_algorithm

REPO = Path(__file__).resolve().parents[1]

OK, BAD_INPUT, NOT_FOUND, PERMISSION, SUBSCRIPTION, AGREEMENT, SCAN, CONFLICT = 0, 2, 3, 4, 5, 6, 7, 8


@pytest.fixture
def cli(gallery_url, tmp_path):
    """``cli(user, *args)`` runs ``gallery-widgets ARGS --url … --user USER`` and returns
    (exit code, parsed JSON or stdout text, stderr)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "GALLERY_HOME": str(tmp_path / "home")}
    env.pop("GALLERY_URL", None)

    def _run(user: str, *args: str, as_json: bool = True):
        command = [sys.executable, "-m", "gallery_widgets", *args, "--url", gallery_url, "--user", user,
                   "--artifacts", str(tmp_path / "artifacts")]
        if as_json:
            command.append("--json")
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        out = json.loads(done.stdout) if as_json and done.stdout.strip() else done.stdout
        return done.returncode, out, done.stderr

    _run("admin", "search")  # the first account is the gallery's admin
    return _run


def test_headless_publish_search_subscribe_import_as_json(cli, tmp_path):
    folder = write_algorithm(tmp_path / "src" / "churn", "churn-cli")
    code, asset, err = cli("alice", "publish", str(folder), "--title", "Churn from CI", "--summary", "nightly build",
                           "--visibility", "public", "--duration", "30", "--auto-renew", "--agree")
    assert code == OK, err
    assert asset["title"] == "Churn from CI" and asset["visibility"] == "public"
    assert asset["versions"][0]["version"] == "1.0.0" and asset["duration"] == {"days": 30, "auto_renew": True}
    cid = asset["content_id"]

    (folder / "train.py").write_text("def main(params, inputs, outputs):\n    return {'loss': 0.25}\n")
    code, newer, err = cli("alice", "publish", str(folder), "--content-id", cid, "--description", "better", "--agree")
    assert code == OK, err
    assert [v["version"] for v in newer["versions"]] == ["1.0.1", "1.0.0"]  # newest first

    code, page, _ = cli("bob", "search", "churn")
    assert code == OK and page["total"] == 1 and page["items"][0]["content_id"] == cid

    code, sub, err = cli("bob", "subscribe", cid, "--accept-agreements")
    assert code == OK, err
    assert sub["status"] == "active" and sub["remaining_days"] == 30
    code, subs, _ = cli("bob", "subscriptions", "--status", "active")
    assert code == OK and [s["content_id"] for s in subs] == [cid]

    code, imported, err = cli("bob", "import", cid)
    assert code == OK, err
    assert imported["version"] == "1.0.1" and imported["kind"] == "algorithm" and "folder" not in imported

    code, text, _ = cli("bob", "search", "churn", as_json=False)  # the human summary
    assert code == OK and f"{cid}  Churn from CI  by alice" in text


def test_headless_exit_codes_tell_the_failures_apart(cli, tmp_path):
    folder = write_algorithm(tmp_path / "src" / "algo", "codes")
    code, out, err = cli("alice", "publish", str(folder), "--title", "No agreement", "--visibility", "public")
    assert code == AGREEMENT and out["error"]["code"] == "agreement_required"
    assert out["error"]["details"]["missing"] == ["publishing-agreement"] and "agree" in err

    shelly = write_algorithm(tmp_path / "src" / "shelly", "shelly")
    (shelly / "train.py").write_text(textwrap.dedent("""\
        import subprocess


        def main(params, inputs, outputs):
            subprocess.call(params.get("cmd", "ls"), shell=True)
            return {}
    """))
    code, out, _ = cli("alice", "publish", str(shelly), "--title", "Shell", "--agree")
    assert code == SCAN and out["error"]["code"] == "scan_failed"
    assert any(f["rule"] == "B602" and f["severity"] == "high" for f in out["error"]["details"]["findings"])

    code, asset, err = cli("alice", "publish", str(folder), "--title", "Codes", "--visibility", "public", "--agree")
    assert code == OK, err
    cid = asset["content_id"]

    code, out, _ = cli("bob", "publish", str(folder), "--content-id", cid, "--agree")  # not bob's asset
    assert code == PERMISSION and out["error"]["code"] == "permission_denied"
    code, out, _ = cli("bob", "import", cid)  # not subscribed
    assert code == SUBSCRIPTION and "subscribe" in out["error"]["message"]
    code, out, _ = cli("bob", "import", "no-such-asset")
    assert code == NOT_FOUND and out["error"]["code"] == "not_found"
    code, out, _ = cli("alice", "publish", str(folder), "--title", "Codes", "--version", "1.0", "--agree")
    assert code == BAD_INPUT and "1.0" in out["error"]["message"]
    code, out, _ = cli("alice", "publish", str(tmp_path / "missing"), "--title", "X", "--agree")
    assert code == BAD_INPUT and "not a folder" in out["error"]["message"]
    code, out, _ = cli("alice", "publish", str(folder), "--title", "Codes", "--agree")  # title taken
    assert code == CONFLICT
    code, _, err = cli("alice", "search", "--kind", "spaceship")  # argparse's usage error: bad input too
    assert code == BAD_INPUT and "spaceship" in err


def test_headless_import_to_a_folder_needs_open_code(cli, tmp_path, gallery_url):
    import gallery_widgets as gw

    folder = write_algorithm(tmp_path / "src" / "open", "open-algo")
    code, asset, err = cli("alice", "publish", str(folder), "--title", "Open code", "--visibility", "public",
                           "--agree")
    assert code == OK, err
    cid = asset["content_id"]
    code, _, err = cli("bob", "subscribe", cid, "--accept-agreements")
    assert code == OK, err

    code, out, _ = cli("bob", "import", cid, "--to", str(tmp_path / "closed"))
    assert code == PERMISSION and "not open" in out["error"]["message"]
    assert not (tmp_path / "closed").exists()

    gw.open(gallery_url, user="alice", artifacts=tmp_path / "artifacts").edit_asset(cid, code_open=True)
    code, out, err = cli("bob", "import", cid, "--to", str(tmp_path / "copy"))
    assert code == OK, err
    assert (Path(out["folder"]) / "train.py").read_text().startswith("def main")


def test_headless_commands_work_over_a_team_server_with_gallery_url_and_token(tmp_path):
    """The same commands against ``gallery-widgets serve``: the backend is GALLERY_URL and the
    user is whoever GALLERY_TOKEN belongs to."""
    from served import Served

    server = Served(tmp_path, str(tmp_path / "artifacts"))
    try:
        tokens = {user: server.token(user) for user in ("alice", "bob")}

        def cli(user, *args):
            env = {**server.env, "GALLERY_URL": server.url.rsplit("/gallery/api/v1", 1)[0],
                   "GALLERY_TOKEN": tokens[user], "GALLERY_HOME": str(tmp_path / f"home-{user}")}
            done = subprocess.run([sys.executable, "-m", "gallery_widgets", *args, "--json"], capture_output=True,
                                  text=True, env=env, timeout=300)
            return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None, done.stderr

        folder = write_algorithm(tmp_path / "src" / "remote", "remote-algo")
        code, asset, err = cli("alice", "publish", str(folder), "--title", "Over REST", "--visibility", "public",
                               "--agree")
        assert code == OK, err
        assert asset["publisher"] == "alice"
        cid = asset["content_id"]
        code, out, _ = cli("bob", "import", cid)
        assert code == SUBSCRIPTION and out["error"]["code"] == "subscription_required"
        assert cli("bob", "subscribe", cid, "--accept-agreements")[0] == OK
        code, imported, err = cli("bob", "import", cid)
        assert code == OK and imported["digest"] == asset["versions"][0]["digest"], err
        code, out, _ = cli("bob", "publish", str(folder), "--content-id", cid, "--agree")
        assert code == PERMISSION
        code, out, _ = cli("bob", "search", "--user", "alice")  # a user name means nothing on a server
        assert code == BAD_INPUT and "token" in out["error"]["message"]
    finally:
        server.stop()
