"""Operating ``gallery-widgets serve`` (issue 10, SPEC T6): one log line per request (user,
route, status, ms) without credentials, ``/health`` reporting the database and the artifact
store, and ``SIGTERM`` letting a request in flight finish. The real command, as a subprocess."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import threading
import time
import uuid

import httpx
import pytest
from s3server import MotoS3
from served import API, Served


@pytest.fixture
def served(tmp_path):
    running = Served(tmp_path, str(tmp_path / "artifacts"))
    yield running
    running.stop()


def test_t6_serve_logs_one_line_per_request_without_credentials(served):
    token = served.token("alice")
    assert httpx.get(f"{served.url}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert httpx.get(f"{served.url}/me").status_code == 401
    assert httpx.get(f"{served.url}/assets?kind=spaceship&query=secret",
                     headers={"Authorization": f"Bearer {token}"}).status_code == 400
    time.sleep(0.3)
    log = served.logs()
    assert re.search(rf"alice GET {API}/me 200 [\d.]+ms", log)
    assert re.search(rf" - GET {API}/me 401 [\d.]+ms", log)
    assert re.search(rf"alice GET {API}/assets 400 [\d.]+ms", log)
    assert token not in log and "secret" not in log  # no credential, no query string


def test_t6_health_reports_database_and_artifact_store(served, tmp_path):
    health = httpx.get(f"{served.url}/health")
    assert health.status_code == 200
    assert {k: health.json()[k] for k in ("status", "database", "artifacts")} == {
        "status": "ok", "database": "ok", "artifacts": "ok"}

    s3 = MotoS3()
    (tmp_path / "b").mkdir()
    broken = Served(tmp_path / "b", f"s3://missing-{uuid.uuid4().hex[:8]}/x", env=s3.env)
    try:
        answer = httpx.get(f"{broken.url}/health", timeout=60)
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "unavailable" and body["database"] == "ok"
        assert body["artifacts"].startswith("unreachable") and "does not exist" in body["artifacts"]
        assert "testing" not in answer.text  # no credentials in the answer
    finally:
        broken.stop()
        s3.stop()


def test_t6_sigterm_lets_the_request_in_flight_finish(served):
    token = served.token("alice")
    chunk = os.urandom(256 * 1024)
    body = chunk * 8
    digest = hashlib.sha256(body).hexdigest()
    started = threading.Event()
    outcome = {}

    def slow_body():
        for index in range(8):
            yield chunk
            if index == 1:
                started.set()
                time.sleep(1.5)  # SIGTERM arrives now, halfway through the upload

    def upload():
        try:
            outcome["response"] = httpx.put(f"{served.url}/uploads/{digest}", content=slow_body(), timeout=60,
                                            headers={"Authorization": f"Bearer {token}"})
        except Exception as exc:  # noqa: BLE001
            outcome["error"] = exc

    sender = threading.Thread(target=upload)
    sender.start()
    assert started.wait(30)
    time.sleep(0.3)
    served.process.send_signal(signal.SIGTERM)
    sender.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["response"].status_code == 201, outcome["response"].text
    assert outcome["response"].json()["sha256"] == digest
    assert served.process.wait(timeout=30) == 0
    assert "waiting for 1 request(s) in flight" in served.logs()
    with pytest.raises(httpx.ConnectError):  # and then it is gone
        httpx.get(f"{served.url}/health", timeout=5)
