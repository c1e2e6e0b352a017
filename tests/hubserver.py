"""A real JupyterHub on loopback for the service-mode tests (SPEC T7), configured with the
README's admin snippet (read from the README itself, so the documented configuration is the
tested one) plus what only a test needs: loopback ports, a dummy authenticator with a known
password, and a ``test-admin`` service whose token creates users and their tokens.

The proxy is configurable-http-proxy installed from npm into ``.ci/hub`` (``.ci/run`` does
``npm install`` there). Without it the tests are skipped, unless ``GALLERY_REQUIRE_HUB=1``."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from s3server import free_port

REPO = Path(__file__).resolve().parents[1]
PROXY = REPO / ".ci" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "hub-test-password"
SNIPPET_START = "# --- jupyterhub_config.py: the gallery as a managed service ---"


def readme_snippet() -> str:
    """The Hub admin's configuration block of the README, verbatim."""
    text = (REPO / "README.md").read_text()
    match = re.search(r"```python\n(" + re.escape(SNIPPET_START) + r".*?)```", text, re.S)
    assert match, "the README lost its JupyterHub configuration snippet"
    return match.group(1)


def require_hub() -> None:
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        pytest.skip("jupyterhub is not installed (pip install -e '.[test]')")
    if not PROXY.exists():
        if os.environ.get("GALLERY_REQUIRE_HUB") == "1":
            pytest.fail(f"{PROXY} is missing: run `npm install` in .ci/hub (.ci/run does)")
        pytest.skip("configurable-http-proxy is not installed: `cd .ci/hub && npm install`")


class Hub:
    """A running JupyterHub whose settings (the README's ``edit these`` lines) are ``values``."""

    def __init__(self, folder: Path, values: dict[str, str], users=("alice", "bob", "carol")):
        require_hub()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port, hub_port, proxy_api = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/hub/api"
        self.admin_token = secrets.token_hex(16)
        values = {"public_url": self.url, **values}
        snippet = readme_snippet()
        for name, value in values.items():  # the admin's own values, on the snippet's lines
            snippet, count = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", snippet, flags=re.M)
            assert count == 1, f"the README snippet has no `{name} = …` line"
        self.config = snippet + f"""
# --- the test's additions: loopback ports, a known password, an admin service ---
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {self.port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
c.ConfigurableHTTPProxy.pid_file = {str(folder / 'proxy.pid')!r}
c.JupyterHub.db_url = {'sqlite:///' + str(folder / 'hub.sqlite')!r}
c.JupyterHub.cookie_secret_file = {str(folder / 'cookie_secret')!r}
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allowed_users = {set(users)!r}
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {self.admin_token!r}}})
c.JupyterHub.load_roles.append({{"name": "test-admin", "scopes": ["admin:users", "tokens", "read:roles"],
                                 "services": ["test-admin"]}})
"""
        (folder / "jupyterhub_config.py").write_text(self.config)
        self.log = open(folder / "hub.log", "wb")
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", "jupyterhub_config.py"],
                                        cwd=folder, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        self._wait()  # the allowed users exist from the start

    def _wait(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterHub exited:\n{self.logs()[-3000:]}")
            try:
                if httpx.get(f"{self.api}/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterHub did not start:\n{self.logs()[-3000:]}")

    def logs(self) -> str:
        return (self.folder / "hub.log").read_text(errors="replace")

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = httpx.request(method, f"{self.api}{path}", timeout=30,
                                 headers={"Authorization": f"token {self.admin_token}"}, **kwargs)
        response.raise_for_status()
        return response

    def token(self, user: str, scopes: list[str] | None = None) -> str:
        """A new API token of ``user`` (with the user's own scopes, or only ``scopes``)."""
        body = {"note": "test"} | ({"scopes": scopes} if scopes is not None else {})
        return self.request("POST", f"/users/{user}/tokens", json=body).json()["token"]

    def spawner_environment(self) -> dict[str, str]:
        """What the README's configuration sets in every spawned server (``c.Spawner.environment``)."""
        from traitlets.config import Config

        c = Config()
        exec(compile(self.config, "jupyterhub_config.py", "exec"), {"c": c, "get_config": lambda: c})
        return dict(c.Spawner.environment)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def dump(value) -> str:
    return json.dumps(value, indent=2)
