"""``gallery-widgets serve`` as the tests start it: the real command in its own process group
on a free loopback port, over a SQLite gallery; its standard error is kept as the log."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

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
