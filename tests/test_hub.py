"""A real JupyterHub with configurable-http-proxy: sign up, log in, spawn, reach the server."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.hub, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, log: Path):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            result = predicate()
            if result:
                return result
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; hub log:\n{log.read_text()[-4000:]}")


class Hub:
    def __init__(self, tmp: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = tmp / "state"
        self.log = tmp / "hub.log"
        self.admin = "qimadmin"
        env = dict(os.environ,
                   QIMCORE_HUB_PORT=str(self.port),
                   QIMCORE_HUB_API_PORT=str(_free_port()),
                   QIMCORE_PROXY_API_PORT=str(_free_port()),
                   QIMCORE_HUB_ADMIN=self.admin,
                   QIMCORE_HUB_STATE=str(self.state))
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        jhub = Path(sys.executable).parent / "jupyterhub"
        with self.log.open("w") as logf:
            self.proc = subprocess.Popen(
                [str(jhub), "-f", str(REPO / "jupyterhub_config.py")], cwd=self.state.parent,
                env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        _wait(lambda: requests.get(f"{self.url}/hub/api/", timeout=5).status_code == 200,
              60, "the hub API through the proxy", self.log)

    def session(self) -> requests.Session:
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=10)
        return s

    @staticmethod
    def xsrf(s: requests.Session) -> str:
        """The hub's xsrf token (each single-user server sets its own under /user/...)."""
        return next(c.value for c in s.cookies if c.name == "_xsrf" and c.path.startswith("/hub"))

    def form(self, s: requests.Session, path: str, **data) -> requests.Response:
        data["_xsrf"] = self.xsrf(s)
        return s.post(f"{self.url}{path}", data=data, timeout=30, allow_redirects=False)

    def api(self, s: requests.Session, method: str, path: str) -> requests.Response:
        return s.request(method, f"{self.url}/hub/api{path}", timeout=30,
                         headers={"X-XSRFToken": self.xsrf(s)})

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp("hub"))
    yield h
    h.stop()


def test_secrets_are_private_and_outside_the_repo(hub):
    for name in ("cookie_secret", "proxy_token"):
        path = hub.state / name
        assert path.exists()
        assert path.stat().st_mode & 0o777 == 0o600
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout
    assert "cookie_secret" not in tracked and "proxy_token" not in tracked


def test_anonymous_requests_are_refused(hub):
    r = requests.get(f"{hub.url}/hub/api/users", timeout=10)
    assert r.status_code == 403
    r = requests.get(f"{hub.url}/user/{hub.admin}/lab", timeout=10, allow_redirects=False)
    assert r.status_code == 302 and "/hub/" in r.headers["Location"]


def test_sign_up_log_in_spawn_and_reach_the_server(hub):
    password = secrets.token_urlsafe(16)
    s = hub.session()
    s.get(f"{hub.url}/hub/signup", timeout=10)
    r = hub.form(s, "/hub/signup", username=hub.admin, email="admin@example.org",
                 signup_password=password, signup_password_confirmation=password)
    assert r.status_code == 200, r.text[:500]

    bad = hub.form(hub.session(), "/hub/login", username=hub.admin, password=password + "x")
    assert bad.status_code != 302

    r = hub.form(s, "/hub/login", username=hub.admin, password=password)
    assert r.status_code == 302, r.text[:500]

    r = hub.api(s, "POST", f"/users/{hub.admin}/server")
    assert r.status_code in (201, 202), r.text
    # Opening the server in the browser runs the OAuth hand-shake that sets the server's cookie.
    _wait(lambda: s.get(f"{hub.url}/user/{hub.admin}/lab", timeout=30).status_code == 200,
          120, "the single-user server", hub.log)
    status = s.get(f"{hub.url}/user/{hub.admin}/api/status", timeout=10)
    assert status.status_code == 200
    assert "started" in status.json()

    listing = s.get(f"{hub.url}/user/{hub.admin}/api/contents/notebooks", timeout=10).json()
    names = {item["name"] for item in listing["content"]}
    assert "getting_started.ipynb" in names
    data = s.get(f"{hub.url}/user/{hub.admin}/api/contents/data_samples", timeout=10).json()
    assert any(re.match(r"NT_128x128x128\.tif", item["name"]) for item in data["content"])

    r = hub.api(s, "DELETE", f"/users/{hub.admin}/server")
    assert r.status_code in (202, 204)


def test_stop_shuts_down_proxy(hub):
    pid_file = hub.state / "proxy.pid"
    proxy_pid = int(pid_file.read_text()) if pid_file.exists() else None
    hub.stop()
    assert hub.proc.returncode is not None
    if proxy_pid is not None:
        time.sleep(1)
        with pytest.raises(ProcessLookupError):
            os.kill(proxy_pid, 0)
