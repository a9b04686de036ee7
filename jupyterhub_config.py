"""JupyterHub configuration for qimcore: serves ``notebooks/`` and read-only sample data.

Started by ``make hub``. Everything is set by environment variables, so tests and facilities can
run several hubs side by side without editing this file:

========================== ================================================ =====================
variable                   meaning                                          default
========================== ================================================ =====================
QIMCORE_HUB_IP             address the public proxy listens on              127.0.0.1
QIMCORE_HUB_PORT           public port (the URL users open)                 8000
QIMCORE_HUB_API_PORT       port of the hub process itself (internal)        8081
QIMCORE_PROXY_API_PORT     REST API port of configurable-http-proxy         8001
QIMCORE_HUB_ADMIN          admin user name(s), comma separated              admin
QIMCORE_HUB_STATE          folder for secrets, database, user folders       <repo>/.hub
QIMCORE_SHARED_DATA        extra read-only data folder shown to every user  (none)
========================== ================================================ =====================

Authentication is NativeAuthenticator: people sign up at ``/hub/signup`` and an admin approves
them at ``/hub/authorize``. The admin account is *not* created with a password from this repo:
the admin signs up under the name in ``QIMCORE_HUB_ADMIN`` with a password of their choice and is
approved automatically. Cookie secret and proxy token are generated on first start into
``QIMCORE_HUB_STATE`` with mode 0600.
"""

import os
import secrets
import shutil
import sys
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by JupyterHub)

REPO = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("QIMCORE_HUB_STATE", REPO / ".hub")).resolve()
STATE.mkdir(parents=True, exist_ok=True, mode=0o700)
IP = os.environ.get("QIMCORE_HUB_IP", "127.0.0.1")
PORT = int(os.environ.get("QIMCORE_HUB_PORT", "8000"))


def _secret_file(name: str, nbytes: int = 32) -> Path:
    """Create a random secret file with mode 0600 once; keep it across restarts."""
    path = STATE / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(nbytes))
    os.chmod(path, 0o600)
    return path


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
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- authentication: sign-up with admin approval -------------------------------------------
c.JupyterHub.authenticator_class = "nativeauthenticator.NativeAuthenticator"
c.Authenticator.admin_users = {
    u.strip() for u in os.environ.get("QIMCORE_HUB_ADMIN", "admin").split(",") if u.strip()
}
# Only users approved by an admin can log in (NativeAuthenticator checks that itself).
c.Authenticator.allow_all = True
c.NativeAuthenticator.open_signup = False
c.NativeAuthenticator.minimum_password_length = 10
c.NativeAuthenticator.check_common_password = True
c.NativeAuthenticator.allowed_failed_logins = 5
c.NativeAuthenticator.seconds_before_next_try = 60
c.JupyterHub.template_paths = [
    str(Path(__import__("nativeauthenticator").__file__).parent / "templates")
]

# --- spawning: one process per user, own folder with a copy of the notebooks ---------------
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "users" / "{username}")
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.environment = {
    "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "QIMCORE_DATA": str(REPO / "data_samples"),
}
if os.geteuid() == 0:  # a container or a course VM run as root
    c.Spawner.args = ["--allow-root"]


def _prepare_user_folder(spawner) -> None:
    """Give each user their own copy of the notebooks (never overwriting their edits) and
    links to the shared, read-only data."""
    home = Path(spawner.home_dir_template.format(username=spawner.user.name))
    home.mkdir(parents=True, exist_ok=True)
    for folder in ("notebooks", "tutorials"):
        src = REPO / folder
        if not src.is_dir():
            continue
        for path in src.rglob("*.ipynb"):
            if ".ipynb_checkpoints" in path.parts:
                continue
            target = home / folder / path.relative_to(src)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    links = {"data_samples": REPO / "data_samples"}
    if os.environ.get("QIMCORE_SHARED_DATA"):
        links["shared_data"] = Path(os.environ["QIMCORE_SHARED_DATA"])
    for name, target in links.items():
        link = home / name
        if not link.exists() and target.exists():
            link.symlink_to(target, target_is_directory=True)


c.Spawner.pre_spawn_hook = _prepare_user_folder

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
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
    }
]
