"""A real team server for tests: ``gallery-widgets serve`` in its own process on loopback,
with tokens made on the host side (SPEC T1, T6)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path


class GalleryServer:
    def __init__(self, url: str, artifacts: Path, log: Path, *, extra_args=(), env=None):
        self.db_url = url
        self.artifacts = Path(artifacts)
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.log_path = Path(log)
        self._tokens: dict[str, str] = {}
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gallery_widgets", "serve", "--url", url, "--artifacts", str(self.artifacts),
             "--host", "127.0.0.1", "--port", "0", *extra_args],
            stdout=subprocess.PIPE, stderr=self._log, text=True, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line or self.process.poll() is not None:
                break
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"gallery-widgets serve did not start: {line!r}\n{self.log_path.read_text()}")
        self.url = found.group(1)
        self.api = self.url + "/gallery/api/v1"

    def context(self):
        from gallery_widgets.core.sql_gallery import sql_context

        return sql_context(self.db_url, self.artifacts)

    def token_for(self, user: str, *, admin: bool = False, name: str = "test", expires_days=None) -> str:
        """A token for ``user`` made as the host's CLI does (the account is created when missing)."""
        if user not in self._tokens:
            from gallery_widgets.core.tokens import create_token_for, ensure_account

            context = self.context()
            identity = ensure_account(context, user, admin=admin)
            self._tokens[user] = create_token_for(context, identity, name, expires_days).secret
        return self._tokens[user]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self._log.close()
        from gallery_widgets.core import sql_gallery

        for key, context in list(sql_gallery._contexts.items()):
            if key[0] == self.db_url:
                context.db.dispose()
                del sql_gallery._contexts[key]
