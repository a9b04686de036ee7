"""The JupyterHub: its configuration, and a real hub with configurable-http-proxy and real spawns.

One hub serves the whole module (fixture ``hub``); the tests that use it run in file order and
share its users, created on demand by ``Hub.user``.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")
websocket = pytest.importorskip("websocket")

REPO = Path(__file__).resolve().parents[2]
CONTENTS_MANAGER = "--ServerApp.contents_manager_class=qimcore_readonly.ReadOnlyDataContentsManager"
real_hub = [pytest.mark.hub, pytest.mark.slow]


# --- configuration only (no hub started) ---------------------------------------------------------

def _load_config(monkeypatch, tmp_path, **env):
    """The configuration as the hub would load it when run by an ordinary user (the root-only
    steps, building the servers' interpreter and checking it, are left to the real hubs)."""
    from traitlets.config.loader import PyFileConfigLoader

    for name in [k for k in os.environ if k.startswith(("QIMCORE_HUB", "QIMCORE_SLURM"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("QIMCORE_HUB_STATE", str(tmp_path / "state"))
    monkeypatch.setattr(os, "geteuid", lambda: 4321)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    umask = os.umask(0o022)
    try:
        return PyFileConfigLoader("jupyterhub_config.py", path=str(REPO)).load_config()
    finally:
        os.umask(umask)


def _fake_user(name: str) -> types.SimpleNamespace:
    """What a spawner reads of its hub user, without a hub database."""
    return types.SimpleNamespace(name=name, escaped_name=name, id=1, url=f"/user/{name}/",
                                 server=None, settings={}, spawners={})


def test_config_needs_an_admin_and_has_no_passwords(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="QIMCORE_HUB_ADMIN"):
        _load_config(monkeypatch, tmp_path)
    cfg = _load_config(monkeypatch, tmp_path, QIMCORE_HUB_ADMIN="Boss, deputy")
    assert cfg.Authenticator.admin_users == {"boss", "deputy"}  # normalised like logins
    assert cfg.JupyterHub.authenticator_class == "qimcore_auth.QimcoreAuthenticator"
    assert len(cfg.QimcoreAuthenticator.admin_signup_token) >= 32  # no admin yet
    assert cfg.NativeAuthenticator.open_signup is False
    assert cfg.Authenticator.allow_all is True  # approval by an admin is NativeAuthenticator's check
    assert CONTENTS_MANAGER in cfg.Spawner.args
    assert "--timeout=3600" in cfg.JupyterHub.services[0]["command"]
    assert cfg.JupyterHub.tornado_settings["cookie_options"] == {"samesite": "Lax"}
    assert cfg.JupyterHub.bind_url == "http://127.0.0.1:8000"
    for name in ("cookie_secret", "proxy_token", "jupyterhub.sqlite"):
        assert (tmp_path / "state" / name).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    for path in [REPO / "jupyterhub_config.py", *sorted((REPO / "hub").glob("*.py"))]:
        assert not re.search(r"(password|secret|token)\w*\s*=\s*[\"']", path.read_text(), re.I)


def test_config_refuses_admin_names_that_are_not_account_names(monkeypatch, tmp_path):
    for name in ("qim admin", "q\u0430dmin", "\uff51admin", "admin\u200b", "9lives", "a" * 29):
        with pytest.raises(SystemExit, match="lower-case ASCII"):
            _load_config(monkeypatch, tmp_path, QIMCORE_HUB_ADMIN=name)


def test_one_time_admin_link_only_for_admins_without_an_account(monkeypatch, tmp_path):
    secret = tmp_path / "admin-password"
    secret.write_text("correct horse battery\n")
    secret.chmod(0o600)
    cfg = _load_config(monkeypatch, tmp_path, QIMCORE_HUB_ADMIN="boss",
                       QIMCORE_HUB_ADMIN_PASSWORD_FILE=str(secret))
    assert cfg.QimcoreAuthenticator.admin_password_file == str(secret)
    assert "admin_signup_token" not in cfg.QimcoreAuthenticator  # boss is made at start
    cfg = _load_config(monkeypatch, tmp_path, QIMCORE_HUB_ADMIN="boss,deputy",
                       QIMCORE_HUB_ADMIN_PASSWORD_FILE=str(secret))
    assert len(cfg.QimcoreAuthenticator.admin_signup_token) >= 32  # deputy signs up with it


def test_tls_option_serves_https_with_secure_cookies(monkeypatch, tmp_path):
    cfg = _load_config(monkeypatch, tmp_path, QIMCORE_HUB_ADMIN="boss",
                       QIMCORE_HUB_SSL_CERT="/etc/ssl/hub.crt", QIMCORE_HUB_SSL_KEY="/etc/ssl/hub.key")
    assert cfg.JupyterHub.bind_url == "https://127.0.0.1:8000"
    assert (cfg.JupyterHub.ssl_cert, cfg.JupyterHub.ssl_key) == ("/etc/ssl/hub.crt", "/etc/ssl/hub.key")
    assert cfg.JupyterHub.tornado_settings["cookie_options"] == {"samesite": "Lax", "secure": True}
    with pytest.raises(SystemExit, match="QIMCORE_HUB_SSL_KEY"):
        _load_config(monkeypatch, tmp_path, QIMCORE_HUB_ADMIN="boss",
                     QIMCORE_HUB_SSL_CERT="/etc/ssl/hub.crt")


def test_name_rule_throttle_password_file_and_folders(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(REPO / "hub"))
    from qimcore_auth import Throttle, read_password_file, valid_name

    assert all(valid_name(n) for n in ("alice", "bo", "a", "x-1_y", "a" * 28))
    for name in ("Alice", "1abc", "-a", "a b", "al.ice", "a" * 29, "", "\u0430lice", "\uff41lice",
                 "alice\u200b", "ali\u0307ce", "alice\n", "root/..", "\u212alvin"):
        assert not valid_name(name), name
    now = [100.0]
    monkeypatch.setattr("qimcore_auth.time.monotonic", lambda: now[0])
    throttle = Throttle(3, 60)
    for _ in range(3):
        assert not throttle.full(("10.0.0.1", "alice"))
        throttle.add(("10.0.0.1", "alice"))
    assert throttle.full(("10.0.0.1", "alice")) and not throttle.full(("10.0.0.2", "alice"))
    now[0] += 61  # the window has passed
    assert not throttle.full(("10.0.0.1", "alice"))
    from qimcore_isolation import make_folder

    umask = os.umask(0o077)
    try:
        make_folder(tmp_path / "srv" / "qimcore" / "state", 0o700)
    finally:
        os.umask(umask)
    modes = [(tmp_path / p).stat().st_mode & 0o777 for p in ("srv", "srv/qimcore", "srv/qimcore/state")]
    assert modes == [0o755, 0o755, 0o700]  # a users folder next to the state stays reachable
    secret = tmp_path / "admin-password"
    secret.write_text("correct horse battery\nignored\n")
    secret.chmod(0o600)
    assert read_password_file(str(secret)) == "correct horse battery"
    secret.chmod(0o640)
    with pytest.raises(ValueError, match="0600"):
        read_password_file(str(secret))


def test_course_mode_allows_only_the_participants(monkeypatch, tmp_path):
    participants = tmp_path / "participants.txt"
    participants.write_text("ana\nbo\n\n  cy \n")
    cfg = _load_config(monkeypatch, tmp_path, QIMCORE_HUB_ADMIN="boss",
                       QIMCORE_HUB_COURSE_USERS=str(participants))
    assert cfg.Authenticator.allow_all is False
    assert cfg.Authenticator.allowed_users == {"ana", "bo", "cy"}


def test_systemd_profile_sets_limits_and_read_only_data(monkeypatch, tmp_path):
    pytest.importorskip("systemdspawner")
    cfg = _load_config(monkeypatch, tmp_path, QIMCORE_HUB_ADMIN="boss",
                       QIMCORE_HUB_SPAWNER="systemd", QIMCORE_HUB_MEM_LIMIT="4G",
                       QIMCORE_SHARED_DATA=str(tmp_path))
    assert cfg.JupyterHub.spawner_class == "systemdspawner.SystemdSpawner"
    from systemdspawner import SystemdSpawner

    spawner = SystemdSpawner(config=cfg, user=_fake_user("ana"))
    assert spawner.mem_limit == 4 * 1024**3 and spawner.cpu_limit == 2.0
    assert spawner.readonly_paths == [str(REPO / "data_samples"), str(tmp_path.resolve())]
    assert spawner.disable_user_sudo and "--allow-root" not in spawner.args


def test_slurm_profile_renders_a_batch_script(monkeypatch, tmp_path):
    pytest.importorskip("batchspawner")
    cfg = _load_config(monkeypatch, tmp_path, QIMCORE_HUB_ADMIN="boss",
                       QIMCORE_HUB_SPAWNER="slurm", QIMCORE_SLURM_ACCOUNT="lu2026-2-17",
                       QIMCORE_SLURM_PARTITION="lu48", QIMCORE_SLURM_GRES="gpu:1",
                       QIMCORE_HUB_CONNECT_IP="login1.example.org")
    assert cfg.JupyterHub.spawner_class == "batchspawner.SlurmSpawner"
    assert cfg.JupyterHub.hub_connect_ip == "login1.example.org"
    from batchspawner import SlurmSpawner
    from jupyterhub.objects import Hub

    spawner = SlurmSpawner(config=cfg, user=_fake_user("ana"), hub=Hub(),
                           req_homedir="/home/ana", req_keepvars="PATH")
    subvars = spawner.get_req_subvars()
    subvars["cmd"] = spawner.cmd_formatted_for_batch()
    script = asyncio.run(spawner._get_batch_script(**subvars))
    for line in ("#SBATCH --partition=lu48", "#SBATCH --time=04:00:00", "#SBATCH --mem=16G",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --gres=gpu:1",
                 "#SBATCH --account=lu2026-2-17"):
        assert line in script.splitlines()
    assert "batchspawner-singleuser" in script and "jupyterhub-singleuser" in script
    assert CONTENTS_MANAGER in script and "--allow-root" not in script
    assert spawner.exec_prefix == "sudo -E -u {username}"
    assert spawner.format_string(spawner.notebook_dir).endswith("/users/ana")


# --- a real hub ----------------------------------------------------------------------------------

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


class _SourceAddress(requests.adapters.HTTPAdapter):
    """Connect from a given local address (127.0.0.x: a different client for the hub)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Hub:
    """A real hub started by ``jupyterhub -f jupyterhub_config.py``.

    Run as root (as in CI) it starts every server as an unprivileged account ``<prefix><name>``
    with a unique prefix; ``stop`` deletes those accounts and the hub's folder. The admin is
    created at start from a password file, or (``admin_password_file=False``) signs up with the
    one-time link the hub prints. ``before_start(state_folder)`` runs before the hub starts.
    """

    def __init__(self, tmp: Path, admin_password_file: bool = True, before_start=None,
                 **extra_env: str):
        if os.geteuid() == 0:  # the unprivileged accounts must reach their folders
            tmp = Path(tempfile.mkdtemp(prefix="qimcore-hub-"))
            tmp.chmod(0o755)
            self.folder = tmp
        else:
            self.folder = None
        self.account_prefix = f"qt{secrets.token_hex(2)}-"
        self.port = _free_port()
        self.api_port = _free_port()
        self.proxy_api_port = _free_port()
        self.verify = extra_env.get("QIMCORE_HUB_SSL_CERT", True)  # https with our certificate
        self.url = f"http{'s' if self.verify is not True else ''}://127.0.0.1:{self.port}"
        self.state = tmp / "state"
        self.homes = tmp / "state-users" if os.geteuid() == 0 else self.state / "users"
        self.shared = tmp / "shared"
        self.shared.mkdir()
        (self.shared / "calibration.txt").write_text("mu = 0.21\n")
        self.log = tmp / "hub.log"
        self.admin = "qimadmin"
        self.users: dict[str, tuple] = {}
        env = dict(os.environ,
                   QIMCORE_HUB_PORT=str(self.port),
                   QIMCORE_HUB_API_PORT=str(self.api_port),
                   QIMCORE_PROXY_API_PORT=str(self.proxy_api_port),
                   QIMCORE_HUB_ADMIN=self.admin,
                   QIMCORE_HUB_STATE=str(self.state),
                   QIMCORE_HUB_ACCOUNT_PREFIX=self.account_prefix,
                   QIMCORE_HUB_SERVER_PYTHON=str(tmp / "server-python"),
                   QIMCORE_SHARED_DATA=str(self.shared), **extra_env)
        if admin_password_file:
            password = secrets.token_urlsafe(16)
            fd = os.open(tmp / "admin-password", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
            env["QIMCORE_HUB_ADMIN_PASSWORD_FILE"] = str(tmp / "admin-password")
            self.admin_password = password
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        if before_start is not None:
            before_start(self.state)
        jhub = Path(sys.executable).parent / "jupyterhub"
        with self.log.open("w") as logf:
            self.proc = subprocess.Popen(
                [str(jhub), "-f", str(REPO / "jupyterhub_config.py")], cwd=self.state.parent,
                env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait(lambda: self.session(login=False).get(f"{self.url}/hub/api/", timeout=5).ok,
                  120, "the hub API through the proxy", self.log)
        except BaseException:
            self.stop()
            raise

    def admin_signup_link(self) -> str:
        """The one-time link to create the admin, as printed by the hub at start."""
        return re.search(r"(/hub/signup\?admin_token=\S+)", self.log.read_text()).group(1)

    # forms and APIs with the hub's xsrf protection
    def session(self, source: str | None = None, headers: dict | None = None,
                login: bool = True) -> requests.Session:
        s = requests.Session()
        s.verify, s.trust_env = self.verify, self.verify is True
        s.headers.update(headers or {})
        if source:
            s.mount("http://", _SourceAddress(source))
        if login:
            s.get(f"{self.url}/hub/login", timeout=10)
        return s

    @staticmethod
    def xsrf(s: requests.Session) -> str:
        """The hub's xsrf token (each single-user server sets its own under /user/...)."""
        return next(c.value for c in s.cookies if c.name == "_xsrf" and c.path.startswith("/hub"))

    def form(self, s: requests.Session, path: str, **data) -> requests.Response:
        data["_xsrf"] = self.xsrf(s)
        return s.post(f"{self.url}{path}", data=data, timeout=30, allow_redirects=False)

    def api(self, s: requests.Session, method: str, path: str, **kw) -> requests.Response:
        return s.request(method, f"{self.url}/hub/api{path}", timeout=30,
                         headers={"X-XSRFToken": self.xsrf(s)}, **kw)

    def sign_up(self, name: str, password: str, path: str = "/hub/signup",
                source: str | None = None) -> requests.Response:
        s = self.session(source)
        s.get(f"{self.url}{path}", timeout=10)
        return self.form(s, path, username=name, email=f"{name}@example.org",
                         signup_password=password, signup_password_confirmation=password)

    def log_in(self, name: str, password: str,
               source: str | None = None) -> tuple[requests.Session, requests.Response]:
        s = self.session(source)
        return s, self.form(s, "/hub/login", username=name, password=password)

    def approve(self, name: str) -> requests.Response:
        admin, _ = self.user(self.admin)
        return self.form(admin, f"/hub/authorize/{name}")

    def user(self, name: str) -> tuple[requests.Session, str]:
        """An approved, logged-in user: (browser-like session, API token); made once."""
        if name not in self.users:
            if name == self.admin:
                password = self.admin_password
                r = self.sign_up(name, password)  # the admin exists: same password, success
                assert r.status_code == 200 and "successful" in r.text, r.text[-2000:]
            else:
                password = secrets.token_urlsafe(16)
                assert self.sign_up(name, password).status_code == 200
                assert self.approve(name).status_code == 302
            s, r = self.log_in(name, password)
            assert r.status_code == 302, r.text[:500]
            token = self.api(s, "POST", f"/users/{name}/tokens", json={"note": "test"}).json()
            self.users[name] = (s, token["token"], password)
        return self.users[name][:2]

    def account(self, name: str):
        """The Unix account that runs ``name``'s server (hub as root)."""
        return pwd.getpwnam(self.account_prefix + name)

    def spawn(self, name: str) -> None:
        """Start ``name``'s server and wait until it answers through the proxy."""
        s, _ = self.user(name)
        r = self.api(s, "POST", f"/users/{name}/server")
        assert r.status_code in (201, 202, 400), r.text  # 400: already running

        def started() -> bool:  # the hub answers for a server still starting
            r = self.server_api(name, "GET", "/status")
            return r.ok and "started" in r.json()

        _wait(started, 120, f"{name}'s server", self.log)

    def stop_server(self, name: str) -> None:
        s, _ = self.user(name)
        assert self.api(s, "DELETE", f"/users/{name}/server").status_code in (202, 204)
        _wait(lambda: self.api(s, "GET", f"/users/{name}").json()["servers"] == {}, 60,
              f"{name}'s server to stop", self.log)

    def server_api(self, name: str, method: str, path: str, **kw) -> requests.Response:
        _, token = self.user(name)
        return requests.request(method, f"{self.url}/user/{name}/api{path}", timeout=30,
                                headers={"Authorization": f"token {token}"}, **kw)

    def run_cells(self, name: str, notebook: str, cells: list[str]) -> list[str]:
        """Execute ``cells`` in a kernel of ``name``'s server (a session on ``notebook``, so the
        kernel starts in its folder) over the websocket; return one output text per cell."""
        _, token = self.user(name)
        r = self.server_api(name, "POST", "/sessions", json={
            "path": notebook, "type": "notebook", "kernel": {"name": "python3"}})
        assert r.status_code == 201, r.text
        kernel = r.json()["kernel"]["id"]
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/user/{name}/api/kernels/{kernel}/channels",
            header=[f"Authorization: token {token}"], timeout=120)
        try:
            return [_execute(ws, code) for code in cells]
        finally:
            ws.close()
            self.server_api(name, "DELETE", f"/sessions/{r.json()['id']}")

    def server_pids(self) -> list[int]:
        """Single-user servers and kernels started by this hub (found by their environment)."""
        marker = f"JUPYTERHUB_API_URL=http://127.0.0.1:{self.api_port}/".encode()
        pids = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker in (proc / "environ").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                pass
        return pids

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.cleanup()

    def cleanup(self) -> None:
        """Delete the accounts this hub created and its folder (hub as root)."""
        for entry in pwd.getpwall():
            if entry.pw_name.startswith(self.account_prefix):
                for proc in Path("/proc").iterdir():
                    try:
                        if proc.name.isdigit() and proc.stat().st_uid == entry.pw_uid:
                            os.kill(int(proc.name), signal.SIGKILL)
                    except OSError:
                        pass
                subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _execute(ws, code: str) -> str:
    """One execute_request on a kernel websocket; the cell's text output (errors raise)."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False}}))
    text, idle, replied = [], False, False
    while not (idle and replied):
        msg = json.loads(ws.recv())
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            raise AssertionError(f"cell failed: {content['ename']}: {content['evalue']}\n{code}")
        if kind == "stream":
            text.append(content["text"])
        elif kind in ("execute_result", "display_data"):
            text.append(content["data"].get("text/plain", ""))
        idle |= kind == "status" and content["execution_state"] == "idle"
        replied |= kind == "execute_reply"
    return "".join(text)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    h = Hub(tmp_path_factory.mktemp("hub"))
    yield h
    h.stop()


@pytest.mark.hub
@pytest.mark.slow
def test_secrets_are_private_and_outside_the_repo(hub):
    for name in ("cookie_secret", "proxy_token"):
        path = hub.state / name
        assert path.exists()
        assert path.stat().st_mode & 0o777 == 0o600
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout
    assert "cookie_secret" not in tracked and "proxy_token" not in tracked


@pytest.mark.hub
@pytest.mark.slow
def test_anonymous_requests_are_refused(hub):
    r = requests.get(f"{hub.url}/hub/api/users", timeout=10)
    assert r.status_code == 403
    r = requests.get(f"{hub.url}/user/{hub.admin}/lab", timeout=10, allow_redirects=False)
    assert r.status_code == 302 and "/hub/" in r.headers["Location"]


@pytest.mark.hub
@pytest.mark.slow
def test_wrong_password_and_unapproved_sign_up_are_refused(hub):
    hub.user(hub.admin)  # the admin is approved at sign-up
    _, bad = hub.log_in(hub.admin, "not-the-password-at-all")
    assert bad.status_code != 302

    password = secrets.token_urlsafe(16)
    assert hub.sign_up("mallory", password).status_code == 200
    _, r = hub.log_in("mallory", password)
    assert r.status_code != 302  # signed up, not approved
    requests.get(f"{hub.url}/hub/authorize/mallory", timeout=10)  # only an admin approves
    _, r = hub.log_in("mallory", password)
    assert r.status_code != 302


@pytest.mark.hub
@pytest.mark.slow
def test_spawn_runs_a_tutorial_through_the_kernel_api(hub):
    hub.spawn("alice")
    assert "started" in hub.server_api("alice", "GET", "/status").json()
    listing = hub.server_api("alice", "GET", "/contents").json()
    assert {"notebooks", "tutorials", "data_samples", "shared_data"} <= {
        item["name"] for item in listing["content"]}

    notebook = "tutorials/01_load_and_view.ipynb"
    nb = hub.server_api("alice", "GET", f"/contents/{notebook}").json()["content"]
    cells = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
             for c in nb["cells"] if c["cell_type"] == "code"]
    outputs = hub.run_cells("alice", notebook, cells)
    assert "(128, 128, 128) uint8" in "".join(outputs)


@pytest.mark.hub
@pytest.mark.slow
def test_shared_data_is_read_only_through_the_server(hub):
    hub.spawn("alice")
    file = {"type": "file", "format": "text", "content": "overwritten"}
    for folder in ("data_samples", "shared_data", "notebooks/../shared_data"):
        r = hub.server_api("alice", "PUT", f"/contents/{folder}/new.txt", json=file)
        assert r.status_code == 403, (folder, r.text)
    assert hub.server_api("alice", "PUT", "/contents/shared_data/calibration.txt",
                          json=file).status_code == 403
    assert hub.server_api("alice", "DELETE",
                          "/contents/shared_data/calibration.txt").status_code == 403
    assert hub.server_api("alice", "PATCH", "/contents/shared_data/calibration.txt",
                          json={"path": "stolen.txt"}).status_code == 403
    assert hub.server_api("alice", "POST", "/contents",
                          json={"copy_from": "tutorials/01_load_and_view.ipynb"}
                          ).status_code == 201  # writing in the own folder works
    assert hub.server_api("alice", "POST", "/contents/shared_data",
                          json={"type": "directory"}).status_code == 403
    assert (hub.shared / "calibration.txt").read_text() == "mu = 0.21\n"
    assert sorted(p.name for p in hub.shared.iterdir()) == ["calibration.txt"]
    data = hub.server_api("alice", "GET", "/contents/shared_data/calibration.txt").json()
    assert data["content"] == "mu = 0.21\n"  # reading works


@pytest.mark.hub
@pytest.mark.slow
def test_users_cannot_reach_each_other(hub):
    hub.spawn("alice")
    r = requests.get(f"{hub.url}/user/alice/api/contents", timeout=10)
    assert r.status_code == 403  # anonymous, to a running server
    r = requests.get(f"{hub.url}/user/alice/lab", timeout=10, allow_redirects=False)
    assert r.status_code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]
    bob, bob_token = hub.user("bob")
    r = bob.get(f"{hub.url}/user/alice/api/contents", timeout=10)
    assert r.status_code == 403
    r = requests.get(f"{hub.url}/user/alice/api/contents/notebooks", timeout=10,
                     headers={"Authorization": f"token {bob_token}"})
    assert r.status_code == 403
    r = bob.get(f"{hub.url}/user/alice/lab", timeout=30)  # the OAuth hand-shake refuses bob
    assert r.status_code == 403
    assert hub.api(bob, "GET", "/users/alice").status_code == 404
    assert hub.api(bob, "POST", "/users/alice/server").status_code in (403, 404)
    r = hub.server_api("alice", "GET", "/contents/..%2Fbob")
    assert r.status_code in (400, 403, 404)


@pytest.mark.hub
@pytest.mark.slow
def test_own_notebook_copies_survive_a_restart(hub):
    hub.spawn("alice")
    path = "/contents/notebooks/getting_started.ipynb"
    model = hub.server_api("alice", "GET", path).json()
    model["content"]["cells"][0]["source"] = "# alice's notes"
    r = hub.server_api("alice", "PUT", path, json={
        "type": "notebook", "format": "json", "content": model["content"]})
    assert r.status_code == 200, r.text
    hub.stop_server("alice")
    hub.spawn("alice")
    mine = hub.server_api("alice", "GET", path).json()["content"]["cells"][0]["source"]
    assert mine == "# alice's notes"
    original = json.loads((REPO / "notebooks" / "getting_started.ipynb").read_text())
    assert "".join(original["cells"][0]["source"]).startswith("# Getting started")


@pytest.mark.hub
@pytest.mark.slow
def test_five_users_spawn_and_run_a_notebook_at_once(hub, record_property):
    names = [f"student{i}" for i in range(5)]
    for name in names:
        hub.user(name)

    def work(name: str) -> str:
        hub.spawn(name)
        return hub.run_cells(name, "notebooks/getting_started.ipynb", [
            "import numpy as np\nimport qimcore",
            f"print({name!r}, int(np.arange(10).sum()), qimcore.__version__)"])[1]

    start = time.monotonic()
    with ThreadPoolExecutor(len(names)) as pool:
        outputs = list(pool.map(work, names))
    seconds = time.monotonic() - start
    record_property("five_users_seconds", round(seconds, 1))
    print(f"\n5 users spawned and ran a notebook concurrently in {seconds:.1f} s")
    assert outputs == [f"{name} 45 0.1.0\n" for name in names]


@pytest.mark.hub
@pytest.mark.slow
def test_browser_logs_in_and_sees_the_notebooks(hub):
    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs {CHROMIUM}")
    hub.user("alice")
    password = hub.users["alice"][2]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{hub.url}/hub/login", timeout=30_000)
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", password)
            page.click("#login_submit, input[type=submit], button[type=submit]")
            # the server opens on the welcome notebook
            page.get_by_role("heading", name="Start here").first.wait_for(timeout=120_000)
            assert page.url.startswith(f"{hub.url}/user/alice/lab/tree/notebooks/START_HERE")
            listing = page.request.get(f"{hub.url}/user/alice/api/contents").json()
            names = {item["name"] for item in listing["content"]}
            assert {"notebooks", "tutorials", "data_samples", "shared_data"} <= names
        finally:
            browser.close()


@pytest.mark.hub
@pytest.mark.slow
def test_make_hub_stop_shuts_down_the_proxy_and_every_server(hub):
    # `make hub-stop` sends SIGTERM; Ctrl-C sends SIGINT: JupyterHub handles both alike.
    hub.spawn("alice")
    assert hub.server_api("alice", "POST", "/kernels", json={"name": "python3"}).status_code == 201
    pids = _wait(lambda: len(hub.server_pids()) >= 2 and hub.server_pids(), 30,
                 "alice's kernel process", hub.log)  # her server and her kernel
    proxy_pid = int((hub.state / "proxy.pid").read_text())
    make = subprocess.Popen(["make", "-s", "hub-stop"], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ, QIMCORE_HUB_STATE=str(hub.state)))
    assert hub.proc.wait(60) == 0  # reap the hub, so that make sees it gone
    out, _ = make.communicate(timeout=30)
    assert make.returncode == 0 and "hub stopped" in out, out
    time.sleep(1)
    assert [pid for pid in [proxy_pid, *pids] if _alive(pid)] == []
    assert not (hub.state / "jupyterhub.pid").exists()


@pytest.mark.hub
@pytest.mark.slow
def test_course_mode_admits_only_the_listed_participants(tmp_path):
    (tmp_path / "participants.txt").write_text("ana\nben\n")
    hub = Hub(tmp_path, QIMCORE_HUB_COURSE_USERS=str(tmp_path / "participants.txt"))
    try:
        password = secrets.token_urlsafe(16)
        assert hub.sign_up("ana", password).status_code == 200
        _, r = hub.log_in("ana", password)
        assert r.status_code == 302  # listed: approved at sign-up
        assert hub.sign_up("eve", password).status_code == 200
        hub.user(hub.admin)  # the admin logs in too
        assert hub.approve("eve").status_code == 302  # even if approved ...
        _, r = hub.log_in("eve", password)
        assert r.status_code != 302  # ... not on the list: refused
    finally:
        hub.stop()


def _alive(pid: int) -> bool:
    """True for a running process (a zombie waiting to be reaped counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
