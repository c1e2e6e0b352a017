"""SPEC T7: the gallery as a JupyterHub service, against a real JupyterHub on loopback started
with the README's admin configuration (tests/hubserver.py). The Hub starts
``gallery-widgets serve --jupyterhub`` itself; users reach it through the Hub's proxy.

Each user is a process with that user's Hub token and the environment the Hub sets in spawned
servers (``GALLERY_URL`` from ``c.Spawner.environment``, ``JUPYTERHUB_API_TOKEN``): ``gw.open()``
with no arguments acts as that user."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from conftest import write_algorithm
from hubserver import PASSWORD, Hub
from s3server import free_port

REPO = Path(__file__).resolve().parents[1]
SCOPE = "access:services!service=gallery"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub")
    (folder / "gallery").mkdir()
    running = Hub(folder, {"gallery_port": str(free_port()),
                           "database_url": f"sqlite:///{folder / 'gallery' / 'gallery.db'}",
                           "artifacts_url": str(folder / "gallery" / "artifacts")})
    try:
        httpx.get(running.spawner_environment()["GALLERY_URL"] + "/gallery/api/v1/health", timeout=30)
        yield running
    finally:
        running.stop()


def as_user(hub: Hub, token: str, code: str, tmp_path: Path, *args: str) -> dict:
    """Run ``code`` in a fresh process the way a Hub kernel runs: the user's Hub token and the
    spawner's environment, no gallery settings of its own. It prints one JSON document."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GALLERY_", "JUPYTERHUB_"))}
    env.update(hub.spawner_environment())
    env["JUPYTERHUB_API_TOKEN"] = token
    env["GALLERY_HOME"] = str(tmp_path / f"home-{token[:6]}")  # each user's own kernel cache
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    prelude = "import json, sys\nimport gallery_widgets as gw\nfrom gallery_widgets.errors import GalleryError\n"
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code), *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_t7_hub_users_publish_whitelist_subscribe_and_import_as_themselves(hub, tmp_path):
    alice, bob = hub.token("alice"), hub.token("bob")
    folder = write_algorithm(tmp_path / "src" / "hub-algo", "hub-algo")

    published = as_user(hub, alice, """
        g = gw.open()
        asset = g.publish(gw.Algorithm.from_dir(sys.argv[1]), title="Hub churn", visibility="group",
                          group_users=["carol"], agree=True)
        print(json.dumps({"me": g.username, "cid": asset.content_id}))
    """, tmp_path, str(folder))
    assert published["me"] == "alice"
    cid = published["cid"]

    hidden = as_user(hub, bob, """
        g = gw.open()
        try:
            g.asset(sys.argv[1]); seen = "visible"
        except GalleryError as e:
            seen = type(e).__name__
        print(json.dumps({"me": g.username, "total": g.search(query="churn").total, "seen": seen}))
    """, tmp_path, cid)
    assert hidden == {"me": "bob", "total": 0, "seen": "NotFound"}

    refused = as_user(hub, bob, """
        g = gw.open()
        try:
            g.add_whitelist_users(sys.argv[1], "1.0.0", ["bob"]); print(json.dumps("changed"))
        except GalleryError as e:
            print(json.dumps(type(e).__name__))
    """, tmp_path, cid)
    assert refused == "NotFound"  # bob cannot whitelist himself on alice's asset he may not see

    as_user(hub, alice, """
        g = gw.open()
        g.add_whitelist_users(sys.argv[1], "1.0.0", ["bob"])
        print(json.dumps("ok"))
    """, tmp_path, cid)

    imported = as_user(hub, bob, """
        g = gw.open()
        g.subscribe(sys.argv[1], accept_constraints=True, accept_agreements=True)
        algo = g.import_algorithm(sys.argv[1])
        print(json.dumps({"total": g.search(query="churn").total, "name": algo.manifest["name"],
                          "subscriptions": [s.content_id for s in g.subscriptions()]}))
    """, tmp_path, cid)
    assert imported == {"total": 1, "name": "hub-algo", "subscriptions": [cid]}


def test_t7_a_hub_token_cannot_act_as_another_user(hub, tmp_path):
    bob = hub.token("bob")
    outcome = as_user(hub, bob, """
        try:
            gw.open(user="alice"); print(json.dumps("opened as alice"))
        except GalleryError as e:
            print(json.dumps(str(e)))
    """, tmp_path)
    assert "belongs to 'bob'" in outcome
    url = hub.spawner_environment()["GALLERY_URL"] + "/gallery/api/v1/me"
    me = httpx.get(url, headers={"Authorization": f"token {bob}", "X-Gallery-User": "alice"}, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == "bob"
    service = httpx.get(url, headers={"Authorization": f"token {hub.admin_token}"}, timeout=30)
    assert service.status_code == 401 and "service" in service.json()["error"]["message"]


def test_t7_a_token_without_the_access_scope_is_refused_naming_it(hub, tmp_path):
    narrow = hub.token("carol", ["read:users:name!user"])
    url = hub.spawner_environment()["GALLERY_URL"] + "/gallery/api/v1/me"
    answer = httpx.get(url, headers={"Authorization": f"token {narrow}"}, timeout=30)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated" and SCOPE in answer.json()["error"]["message"]
    outcome = as_user(hub, narrow, """
        try:
            gw.open(); print(json.dumps("opened"))
        except GalleryError as e:
            print(json.dumps(str(e)))
    """, tmp_path)
    assert SCOPE in outcome
    garbage = httpx.get(url, headers={"Authorization": "token not-a-hub-token"}, timeout=30)
    assert garbage.status_code == 401


def test_t7_hub_oauth_browser_session_and_gallery_tokens_alongside(hub, tmp_path):
    gallery_url = hub.spawner_environment()["GALLERY_URL"]
    with httpx.Client(base_url=hub.url, follow_redirects=True, timeout=30) as browser:
        page = browser.get("/hub/login")
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
        form = {"username": "alice", "password": PASSWORD, "_xsrf": xsrf}
        # Signed in to the Hub (it would go on to spawn a server, which this test needs not).
        assert browser.post("/hub/login", data=form, follow_redirects=False).status_code == 302
        me = browser.get(gallery_url + "/login")  # → Hub OAuth → callback → signed in
        assert me.status_code == 200 and me.json()["username"] == "alice", me.text
        assert browser.get(gallery_url + "/gallery/api/v1/subscriptions").status_code == 200
        forged = browser.post(gallery_url + "/gallery/api/v1/assets/x/comments", content=b'{"text": "hi"}',
                              headers={"Content-Type": "text/plain"})
        assert forged.status_code == 401 and "JSON" in forged.json()["error"]["message"]

    database = re.search(r"^database_url = '(.*)'$", hub.config, re.M).group(1)
    created = subprocess.run([sys.executable, "-m", "gallery_widgets", "token", "create", "dave", "--url", database],
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    assert created.returncode == 0, created.stderr
    token = re.search(r"gw_\S+", created.stdout).group(0)
    me = httpx.get(gallery_url + "/gallery/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == "dave"

    health = httpx.get(gallery_url + "/gallery/api/v1/health", timeout=30).json()
    assert health["database"] == "ok" and health["artifacts"] == "ok"
    assert re.search(r"alice GET /services/gallery/gallery/api/v1/me 200 [\d.]+ms", hub.logs())
    assert token not in hub.logs()
