"""SPEC §6: the wheel enables the gallery's REST extension in every Jupyter server, which then
serves the embedded gallery to its own authenticated user; a widget works over REST; the
OpenAPI document holds against the live server (schemathesis)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

import gallery_widgets as gw
from server_process import GalleryServer


def test_t6_jupyter_server_extension_list_shows_the_extension_enabled():
    result = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"],
                            capture_output=True, text=True, timeout=120)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # no colours
    assert re.search(r"gallery_widgets\.server\s+enabled", output), output
    assert re.search(r"gallery_widgets\.server\s+OK", output), output


def test_t6_wheel_ships_the_jupyter_config_into_etc_jupyter():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    shared = config["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared["jupyter-config/jupyter_server_config.d"] == "etc/jupyter/jupyter_server_config.d"
    enabled = (root / "jupyter-config/jupyter_server_config.d/gallery_widgets.json").read_text()
    assert '"gallery_widgets.server": true' in enabled


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def jupyter_server(tmp_path):
    port = _free_port()
    env = {**os.environ, "GALLERY_HOME": str(tmp_path / "home"), "GALLERY_USER": "sam",
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "jupyter.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--ServerApp.port={port}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.token=jupyter-secret", "--ServerApp.port_retries=0",
         f"--ServerApp.root_dir={tmp_path}", *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/gallery/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.3)
        else:
            pytest.fail((tmp_path / "jupyter.log").read_text())
        yield base
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def test_t6_inside_jupyter_the_embedded_gallery_is_served_to_its_authenticated_user(jupyter_server):
    api = jupyter_server + "/gallery/api/v1"
    anonymous = httpx.get(api + "/me")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthenticated"
    me = httpx.get(api + "/me", headers={"Authorization": "token jupyter-secret"})
    assert me.status_code == 200 and me.json()["username"] == "sam"
    categories = httpx.get(api + "/categories", headers={"Authorization": "token jupyter-secret"})
    assert "Scenario/Smart Home" in categories.json()


@pytest.fixture
def server(tmp_path):
    s = GalleryServer(f"sqlite:///{tmp_path / 'gallery.db'}", tmp_path / "artifacts", tmp_path / "server.log")
    yield s
    s.stop()


def test_s1_a_widget_works_over_rest(server, make_source, tmp_path, monkeypatch):
    from gallery_widgets.widgets.detail import AssetDetail
    from gallery_widgets.widgets.market import MarketBrowser

    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / "kernel-home"))
    server.token_for("admin", admin=True)
    alice = gw.open(server.url, token=server.token_for("alice"))
    bob = gw.open(server.url, token=server.token_for("bob"))
    asset = alice.publish(make_source("churn"), title="Churn forecaster", visibility="public", agree=True)
    alice.publish(make_source("secret"), title="Secret", visibility="private", agree=True)
    browser = MarketBrowser(bob)
    assert [card.content_id for card in browser.cards] == [asset.content_id]
    detail = AssetDetail(bob, content_id=asset.content_id)
    detail.favorite_button.click()
    assert detail.favorite_button.description == "★ 1"
    detail.subscribe_button.click()
    panel = detail.subscribe_panel
    panel.accept_agreements.value = True
    if not panel.accept_constraints.disabled:
        panel.accept_constraints.value = True
    panel.continue_button.click()
    assert detail.subscribe_button.description == "Subscribed"
    assert [s.content_id for s in bob.subscriptions()] == [asset.content_id]
    assert bob.import_algorithm(asset.content_id).title == "Churn forecaster"


def test_t4_schemathesis_finds_no_server_error_in_the_openapi_document(server, make_source):
    """A bounded property-based run over every operation: no 5xx, and every error in the T4 shape."""
    import schemathesis
    from hypothesis import HealthCheck, settings

    token = server.token_for("alice")
    alice = gw.open(server.url, token=token)
    alice.publish(make_source(), title="Fuzzed", visibility="public", agree=True)
    headers = {"Authorization": f"Bearer {token}"}
    document = httpx.get(server.api + "/openapi.json", headers=headers).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.base_url = server.api
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:
        strategy = operation.as_strategy()

        @settings(max_examples=8, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case):
            response = case.call(base_url=server.api, headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append((operation.label, response.status_code, response.text[:200]))
            elif response.status_code >= 400:
                body = response.json()
                assert set(body["error"]) == {"code", "message", "details"}, body

        from hypothesis import given

        given(strategy)(check)()
    assert not failures, failures
