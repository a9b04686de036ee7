"""JupyterHub configuration for qimcore: serves ``notebooks/``, ``tutorials/`` and read-only data.

Started by ``make hub`` (``docs/hub.md`` is the operator's guide). Everything is set by environment
variables, so tests and facilities run several hubs side by side without editing this file:

=========================== ============================================== ======================
variable                    meaning                                        default
=========================== ============================================== ======================
QIMCORE_HUB_ADMIN           admin user name(s), comma separated (required) (none: refuses to start)
QIMCORE_HUB_IP              address the public proxy listens on            127.0.0.1
QIMCORE_HUB_PORT            public port (the URL users open)               8000
QIMCORE_HUB_API_PORT        port of the hub process itself (internal)      8081
QIMCORE_PROXY_API_PORT      REST API port of configurable-http-proxy       8001
QIMCORE_HUB_STATE           folder for secrets and the database            <repo>/.hub
QIMCORE_HUB_USERS_DIR       one folder per user (shared FS for Slurm)      <state>/users
QIMCORE_SHARED_DATA         extra read-only data folder shown to everyone  (none)
QIMCORE_HUB_COURSE_USERS    file of participant names, one a line: course  (none: facility mode)
                            mode, only these (and the admins) may log in
QIMCORE_HUB_SPAWNER         ``local``, ``systemd`` or ``slurm``            local
                            (their own variables: hub/*_config.py)
QIMCORE_HUB_CULL_TIMEOUT    seconds of inactivity before a server stops    3600
=========================== ============================================== ======================

Authentication is NativeAuthenticator. Facility mode: people sign up at ``/hub/signup`` and an
admin approves them at ``/hub/authorize``. Course mode: the listed participants are approved
when they sign up, nobody else can log in. No password is stored in this repository: the admin
signs up under the name in ``QIMCORE_HUB_ADMIN`` with a password of their choice and is approved
automatically. Cookie secret and proxy token are generated on first start into
``QIMCORE_HUB_STATE`` with mode 0600.
"""

import os
import pwd
import secrets
import shutil
import stat
import sys
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by JupyterHub)

REPO = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("QIMCORE_HUB_STATE", REPO / ".hub")).resolve()
STATE.mkdir(parents=True, exist_ok=True, mode=0o700)
IP = os.environ.get("QIMCORE_HUB_IP", "127.0.0.1")
PORT = int(os.environ.get("QIMCORE_HUB_PORT", "8000"))
SPAWNER = os.environ.get("QIMCORE_HUB_SPAWNER", "local")
SHARED = {"data_samples": REPO / "data_samples"}
if os.environ.get("QIMCORE_SHARED_DATA"):
    SHARED["shared_data"] = Path(os.environ["QIMCORE_SHARED_DATA"]).resolve()


def _names(text: str) -> set[str]:
    return {n.strip() for n in text.replace(",", "\n").splitlines() if n.strip()}


def _secret_file(name: str, nbytes: int = 32) -> Path:
    """Create a random secret file with mode 0600 once; keep it across restarts."""
    path = STATE / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(nbytes))
    os.chmod(path, 0o600)
    return path


def _make_read_only(folder: Path) -> None:
    """Data files we own become 0444, so no server, not even one of ours, overwrites them by
    accident (root ignores this: see docs/hub.md for what protects the data in each setup)."""
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_uid == os.geteuid():
            if stat.S_IMODE(path.stat().st_mode) != 0o444:
                path.chmod(0o444)


# --- network -------------------------------------------------------------------------------
c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("QIMCORE_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('QIMCORE_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [str(REPO / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.auth_token = _secret_file("proxy_token").read_text().strip()
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

# --- state and secrets ---------------------------------------------------------------------
c.JupyterHub.cookie_secret_file = str(_secret_file("cookie_secret"))
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
# Ctrl-C / SIGTERM (make hub-stop) stop every single-user server and the proxy.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- authentication ------------------------------------------------------------------------
ADMINS = _names(os.environ.get("QIMCORE_HUB_ADMIN", ""))
if not ADMINS:
    sys.exit("QIMCORE_HUB_ADMIN is not set: name the admin account, e.g. "
             "'QIMCORE_HUB_ADMIN=alice make hub', then sign up as alice at /hub/signup.")
c.JupyterHub.authenticator_class = "nativeauthenticator.NativeAuthenticator"
c.Authenticator.admin_users = ADMINS
c.NativeAuthenticator.open_signup = False
c.NativeAuthenticator.minimum_password_length = 10
c.NativeAuthenticator.check_common_password = True
c.NativeAuthenticator.allowed_failed_logins = 5
c.NativeAuthenticator.seconds_before_next_try = 60
c.JupyterHub.template_paths = [
    str(Path(__import__("nativeauthenticator").__file__).parent / "templates")
]
if os.environ.get("QIMCORE_HUB_COURSE_USERS"):
    # Course mode: a fixed list of participants; each is approved when signing up.
    c.Authenticator.allow_all = False
    c.Authenticator.allowed_users = _names(Path(os.environ["QIMCORE_HUB_COURSE_USERS"]).read_text())
else:
    # Facility mode: anyone may sign up; only users an admin approved can log in
    # (NativeAuthenticator checks the approval itself).
    c.Authenticator.allow_all = True

# --- spawning: one server per user, own folder with a copy of the notebooks ----------------
USERS = Path(os.environ.get("QIMCORE_HUB_USERS_DIR", STATE / "users")).resolve()
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(USERS / "{username}")
c.Spawner.notebook_dir = str(USERS / "{username}")
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.environment = {
    "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "PYTHONPATH": str(REPO / "hub"),  # the read-only contents manager
    "QIMCORE_DATA": str(REPO / "data_samples"),
    "QIMCORE_READ_ONLY_DIRS": os.pathsep.join(SHARED),
}
c.Spawner.args = ["--ServerApp.contents_manager_class=qimcore_readonly.ReadOnlyDataContentsManager"]
if os.geteuid() == 0:  # a container or a course VM run as root
    c.Spawner.args.append("--allow-root")
_make_read_only(REPO / "data_samples")


def _prepare_user_folder(spawner) -> None:
    """Give each user their own copy of the notebooks and tutorials (never overwriting their
    edits: a file already there is kept) and links to the shared, read-only data."""
    home = USERS / spawner.user.name
    home.mkdir(parents=True, exist_ok=True)
    for folder in ("notebooks", "tutorials"):
        src = REPO / folder
        for path in sorted(src.rglob("*.ipynb")) if src.is_dir() else ():
            target = home / folder / path.relative_to(src)
            if ".ipynb_checkpoints" not in path.parts and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    for name, target in SHARED.items():
        link = home / name
        if not link.is_symlink() and target.is_dir():
            link.symlink_to(target, target_is_directory=True)
    if SPAWNER != "local" and os.geteuid() == 0:  # servers run as the user's Unix account
        account = pwd.getpwnam(spawner.user.name)
        for path in (home, *home.rglob("*")):
            os.lchown(path, account.pw_uid, account.pw_gid)
        home.chmod(0o700)  # other users cannot read it


c.Spawner.pre_spawn_hook = _prepare_user_folder

# Memory/CPU limits (systemd) and HPC clusters (Slurm): see docs/hub.md.
if SPAWNER != "local":
    extra = REPO / "hub" / f"{SPAWNER}_config.py"
    if not extra.exists():
        sys.exit(f"QIMCORE_HUB_SPAWNER must be local, systemd or slurm; got {SPAWNER!r}")
    load_subconfig(str(extra))  # type: ignore[name-defined]  # noqa: F821

# --- idle culler: stop servers idle for an hour ---------------------------------------------
c.JupyterHub.load_roles = [
    {
        "name": "jupyterhub-idle-culler-role",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["jupyterhub-idle-culler-service"],
    }
]
c.JupyterHub.services = [
    {
        "name": "jupyterhub-idle-culler-service",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                    f"--timeout={int(os.environ.get('QIMCORE_HUB_CULL_TIMEOUT', '3600'))}",
                    "--cull-every=300"],
    }
]
