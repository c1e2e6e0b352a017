"""Operating ``gallery-widgets serve`` (issue 10, SPEC T6): one log line per request (user,
route, status, ms) without credentials, ``/health`` reporting the database and the artifact
store, and ``SIGTERM`` letting a request in flight finish. The real command, as a subprocess."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from s3server import MotoS3

REPO = Path(__file__).resolve().parents[1]
API = "/gallery/api/v1"


def _env(extra=None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**env, **(extra or {})}


class Served:
    """``gallery-widgets serve`` on a free loopback port; its standard error is the log."""

    def __init__(self, tmp_path: Path, artifacts: str, env=None):
        self.database = f"sqlite:///{tmp_path / 'gallery.db'}"
        self.env = _env(env)
        self.log_path = tmp_path / "serve.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gallery_widgets", "serve", "--url", self.database, "--artifacts", artifacts,
             "--port", "0", "--drain", "20"],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=self.env, start_new_session=True)
        line = self.process.stdout.readline()
        match = re.search(r"http://[\d.]+:(\d+)", line)
        assert match, f"serve did not start: {line}{self.logs()}"
        self.url = f"http://127.0.0.1:{match.group(1)}{API}"

    def token(self, user: str) -> str:
        done = subprocess.run([sys.executable, "-m", "gallery_widgets", "token", "create", user, "--url",
                               self.database], capture_output=True, text=True, env=self.env, timeout=120)
        assert done.returncode == 0, done.stderr
        return re.search(r"gw_\S+", done.stdout).group(0)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


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
