"""The widgets over a team server (SPEC §6): they only use the service interface, so the same
widgets drive a RemoteGallery (REST client) against a real `gallery-widgets serve` on loopback.
Import (W2), the Train form (W3), the publisher's confirmation (W4), the bell (W5, N3) and the
code download (W6)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

import gallery_widgets as gw

WAIT = 120


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def server(gallery_url, tmp_path, admin, alice, bob):
    """`gallery-widgets serve` over the test gallery; yields (base URL, {user: token})."""
    tokens = {name: g.create_token("widgets").secret for name, g in (("alice", alice), ("bob", bob))}
    env = {**os.environ, "GALLERY_HOME": str(tmp_path / "server-home")}
    process = subprocess.Popen(
        [sys.executable, "-m", "gallery_widgets", "serve", "--url", gallery_url, "--artifacts",
         str(tmp_path / "artifacts"), "--port", "0", "--threads", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, f"the server did not start: {line}{process.stdout.read() if process.poll() is not None else ''}"
        base = f"http://127.0.0.1:{match.group(1)}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/gallery/api/v1/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base, tokens
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def remote(server, user, tmp_path, monkeypatch):
    base, tokens = server
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / f"{user}-home"))
    return gw.open(base, token=tokens[user])


def test_w2_w3_w5_widgets_work_over_the_rest_client(server, alice, bob, publish, make_source, tmp_path,
                                                    monkeypatch):
    from gallery_widgets.widgets.detail import AssetDetail
    from gallery_widgets.widgets.market import MarketBrowser

    asset = publish(alice, "Churn forecaster", source=make_source("churn"))
    alice.edit_asset(asset.content_id, code_open=True)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    alice.add_version(asset.content_id, make_source("churn"), agree=True)
    rbob = remote(server, "bob", tmp_path, monkeypatch)
    assert type(rbob).__name__ == "RemoteGallery"

    # the bell and mark read, over REST (N3's ids travel as a list of numbers)
    market = MarketBrowser(rbob)
    assert market.bell.unread == 1
    market.bell.button.value = True
    (note_id,) = market.bell.read_buttons
    market.bell.read_buttons[note_id].click()
    assert market.bell.unread == 0 and bob.notifications(unread_only=True) == ()

    # import straight into the kernel, then the Train form of what was imported
    namespace = {}
    detail = AssetDetail(rbob, content_id=asset.content_id, namespace=namespace)
    detail.import_button.click()
    panel = detail.import_panel
    panel.version.value = "1.0.0"
    panel.import_button.click()
    panel.wait(WAIT)
    assert panel.import_state == "imported", panel.messages.text
    algo = namespace["churn_forecaster"]
    assert algo.version == "1.0.0"
    data = tmp_path / "data.csv"
    data.write_text("1\n2\n")
    form = panel.train_form
    form.params_form.input_paths["data"].value = str(data)
    form.start_button.click()
    assert form.job_view.wait(WAIT).job.status == "succeeded"

    # the code download
    tab = detail.code_tab
    tab.download_dir = tmp_path / "notebook"
    tab.download_dir.mkdir()
    tab.download_button.click()
    tab.download_thread.join(WAIT)
    assert tab.downloaded is not None and tab.downloaded.name == "churn-forecaster-1.0.1.zip", detail.messages.text


def test_w4_publisher_confirms_over_the_rest_client(server, alice, bob, publish, make_source, tmp_path, monkeypatch):
    from gallery_widgets.widgets.detail import AssetDetail

    asset = publish(alice, "Churn forecaster", source=make_source("churn"))
    alice.add_version(asset.content_id, make_source("churn"), agree=True)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    detail = AssetDetail(remote(server, "alice", tmp_path, monkeypatch), content_id=asset.content_id)
    detail.edit_buttons["Versions"].click()
    detail.versions_tab.discontinue_buttons["1.0.0"].click()
    confirm = detail.versions_tab.confirm
    assert "The 1 subscriber keeps access" in confirm.text.value
    confirm.ok_button.click()
    assert "discontinued" in detail.messages.text
    assert {v.version: v.status for v in alice.asset(asset.content_id, count_view=False).versions}["1.0.0"] == \
        "discontinued"
