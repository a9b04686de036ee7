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
QIMCORE_HUB_USERS_DIR       one folder per user (shared FS for Slurm)      <state>/users, or
                                                                           <state>-users as root
QIMCORE_SHARED_DATA         extra read-only data folder shown to everyone  (none)
QIMCORE_HUB_COURSE_USERS    file of participant names, one a line: course  (none: facility mode)
                            mode, only these (and the admins) may log in
QIMCORE_HUB_SPAWNER         ``local``, ``systemd`` or ``slurm``            local
                            (their own variables: hub/*_config.py)
QIMCORE_HUB_CULL_TIMEOUT    seconds of inactivity before a server stops    3600
QIMCORE_HUB_ADMIN_PASSWORD_ file (mode 0600) with the first admin's        (none: one-time
FILE                        password: the admin is created at start        sign-up link)
QIMCORE_HUB_SSL_CERT, _KEY  TLS certificate and key: the hub serves https  (none: http)
QIMCORE_HUB_ACCOUNT_PREFIX  hub as root: prefix of the users' accounts     qim-
QIMCORE_HUB_SERVER_PYTHON   hub as root: folder for an interpreter all     <venv>/qimcore-
                            accounts can run (built when needed)           server-python
=========================== ============================================== ======================

Authentication is NativeAuthenticator with the rules of ``hub/qimcore_auth.py`` (user names,
approval by POST only, throttling). Facility mode: people sign up at ``/hub/signup`` and an
admin approves them at ``/hub/authorize``. Course mode: the listed participants are approved
when they sign up, nobody else can log in. No password is stored in this repository: the admin
is created from ``QIMCORE_HUB_ADMIN_PASSWORD_FILE``, or signs up under the name in
``QIMCORE_HUB_ADMIN`` with the one-time link the hub prints while no admin exists. Cookie
secret, proxy token and database live in ``QIMCORE_HUB_STATE`` (0700, files 0600, enforced at
every start). Run as root, every user's server runs as its own unprivileged account
(``hub/qimcore_isolation.py``); ``docs/hub.md`` has the threat model of each mode.
"""

import contextlib
import os
import pwd
import secrets
import sqlite3
import sys
import sysconfig
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by JupyterHub)

REPO = Path(__file__).resolve().parent
if str(REPO / "hub") not in sys.path:
    sys.path.insert(0, str(REPO / "hub"))
from qimcore_auth import NAME_RULE, valid_name  # noqa: E402
from qimcore_isolation import (  # noqa: E402
    make_folder,
    make_private,
    make_read_only,
    prepare_home,
    run_unprivileged,
    server_python,
    users_folder,
    writable_by_others,
)
from qimcore_seed import seed_home  # noqa: E402

os.umask(0o077)  # whatever the hub writes is private unless made otherwise on purpose
ROOT = os.geteuid() == 0
VENV_BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("QIMCORE_HUB_STATE", REPO / ".hub")).resolve()
make_folder(STATE, 0o700)
IP = os.environ.get("QIMCORE_HUB_IP", "127.0.0.1")
PORT = int(os.environ.get("QIMCORE_HUB_PORT", "8000"))
SPAWNER = os.environ.get("QIMCORE_HUB_SPAWNER", "local")
SHARED = {"data_samples": REPO / "data_samples"}
if os.environ.get("QIMCORE_SHARED_DATA"):
    SHARED["shared_data"] = Path(os.environ["QIMCORE_SHARED_DATA"]).resolve()
SSL = (os.environ.get("QIMCORE_HUB_SSL_CERT", ""), os.environ.get("QIMCORE_HUB_SSL_KEY", ""))
SCHEME = "https" if any(SSL) else "http"


def _names(text: str) -> set[str]:
    return {n.strip() for n in text.replace(",", "\n").splitlines() if n.strip()}


def _secret_file(name: str, nbytes: int = 32) -> Path:
    """Create a random secret file with mode 0600 once; keep it across restarts."""
    path = STATE / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(nbytes))
    return path


# --- network -------------------------------------------------------------------------------
c.JupyterHub.bind_url = f"{SCHEME}://{IP}:{PORT}"
if any(SSL):
    if not all(SSL):
        sys.exit("set both QIMCORE_HUB_SSL_CERT and QIMCORE_HUB_SSL_KEY (PEM files) for https")
    c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key = SSL
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("QIMCORE_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('QIMCORE_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [str(REPO / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.auth_token = _secret_file("proxy_token").read_text().strip()
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
# Session and XSRF cookies of the hub and of every server: SameSite=Lax, so a browser does not
# send them with cross-site POSTs, images or frames (cross-site links still carry them, which is
# why the approval actions refuse GET), and Secure when the hub serves https.
c.JupyterHub.tornado_settings = {
    "cookie_options": {"samesite": "Lax", **({"secure": True} if any(SSL) else {})}}

# --- state and secrets: folder 0700, files 0600, at every start ----------------------------
c.JupyterHub.cookie_secret_file = str(_secret_file("cookie_secret"))
DB = STATE / "jupyterhub.sqlite"
os.close(os.open(DB, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite keeps the mode (journals too)
c.JupyterHub.db_url = f"sqlite:///{DB}"
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
make_private(STATE)
# Ctrl-C / SIGTERM (make hub-stop) stop every single-user server and the proxy.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- authentication ------------------------------------------------------------------------
ADMINS = {n.lower() for n in _names(os.environ.get("QIMCORE_HUB_ADMIN", ""))}
if not ADMINS:
    sys.exit("QIMCORE_HUB_ADMIN is not set: name the admin account, e.g. "
             "'QIMCORE_HUB_ADMIN=alice make hub'.")
if not all(valid_name(n) for n in ADMINS):
    sys.exit(f"QIMCORE_HUB_ADMIN: user names have {NAME_RULE}; got {sorted(ADMINS)}")
c.JupyterHub.authenticator_class = "qimcore_auth.QimcoreAuthenticator"
c.Authenticator.admin_users = ADMINS
c.NativeAuthenticator.open_signup = False
c.NativeAuthenticator.minimum_password_length = 10
c.NativeAuthenticator.check_common_password = True
c.JupyterHub.template_paths = [
    str(REPO / "hub" / "templates"),
    str(Path(__import__("nativeauthenticator").__file__).parent / "templates"),
]
if os.environ.get("QIMCORE_HUB_COURSE_USERS"):
    # Course mode: a fixed list of participants; each is approved when signing up.
    c.Authenticator.allow_all = False
    c.Authenticator.allowed_users = _names(Path(os.environ["QIMCORE_HUB_COURSE_USERS"]).read_text())
else:
    # Facility mode: anyone may sign up; only users an admin approved can log in
    # (NativeAuthenticator checks the approval itself).
    c.Authenticator.allow_all = True


def _admins_without_account() -> set[str]:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{DB}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT username FROM users_info").fetchall()
    except sqlite3.Error:  # a new, empty database
        rows = []
    return ADMINS - {name for (name,) in rows}


PUBLIC_URL = f"{SCHEME}://{IP}:{PORT}"
MISSING_ADMINS = _admins_without_account()
if os.environ.get("QIMCORE_HUB_ADMIN_PASSWORD_FILE"):  # creates the first admin at start
    c.QimcoreAuthenticator.admin_password_file = os.environ["QIMCORE_HUB_ADMIN_PASSWORD_FILE"]
    MISSING_ADMINS.discard(sorted(ADMINS)[0])
if MISSING_ADMINS:
    # Only whoever sees this terminal (or the hub's log) can create an admin account.
    c.QimcoreAuthenticator.admin_signup_token = token = secrets.token_urlsafe(24)
    print(f"\nCreate the admin account now: open\n  {PUBLIC_URL}/hub/signup?admin_token={token}\n"
          f"and sign up as {' or '.join(sorted(MISSING_ADMINS))} with a password of your choice "
          "(>= 10 characters).\nThe link works until this hub stops; the admin approves "
          "other sign-ups at /hub/authorize.\n", file=sys.stderr, flush=True)

# --- spawning: one server per user, own folder with a copy of the notebooks ----------------
USERS = users_folder(STATE)
if ROOT and (STATE / "users").is_dir() and not USERS.exists():
    (STATE / "users").rename(USERS)  # folders of a hub that kept them in its state folder
SEED = {"sources": {f: str(REPO / f) for f in ("notebooks", "tutorials")},
        "links": {name: str(target) for name, target in SHARED.items()}}
c.Spawner.notebook_dir = str(USERS / "{username}")
c.Spawner.default_url = "/lab/tree/notebooks/START_HERE.ipynb"  # the welcome notebook
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.args = ["--ServerApp.contents_manager_class=qimcore_readonly.ReadOnlyDataContentsManager"]
SERVER_ENV = {
    "PYTHONPATH": str(REPO / "hub"),  # the read-only contents manager
    "QIMCORE_DATA": str(REPO / "data_samples"),
    "QIMCORE_READ_ONLY_DIRS": os.pathsep.join(SHARED),
}
for folder in SHARED.values():
    make_read_only(folder)
if ROOT and SPAWNER != "slurm":  # servers on this machine, each as its own unprivileged account
    SERVER_PYTHON, python_env = server_python(Path(os.environ.get(
        "QIMCORE_HUB_SERVER_PYTHON", Path(sys.prefix) / "qimcore-server-python")))
    make_folder(USERS, 0o711)  # accounts reach their own folder, cannot list the others
    c.Spawner.environment = dict(SERVER_ENV, **python_env, PATH=os.pathsep.join(
        [str(SERVER_PYTHON.parent), "/usr/local/bin", "/usr/bin", "/bin"]))
    c.Spawner.cmd = [str(SERVER_PYTHON), "-m", "jupyterhub.singleuser"]
    code = [REPO, REPO / "hub", Path(__file__).resolve(), *(REPO / "hub").glob("*.py"),
            Path(sys.prefix), Path(sysconfig.get_paths()["purelib"])]
    for path in writable_by_others(code):  # code the hub runs as root
        print(f"WARNING: {path} can be changed by an account other than root, which could then "
              "run code as root: make it root-owned and not group/other-writable.",
              file=sys.stderr, flush=True)
    probe = run_unprivileged([str(SERVER_PYTHON), "-c", "import os, sys, jupyterhub.singleuser, "
                              "qimcore, qimcore_readonly; os.stat(sys.argv[1])", str(USERS)],
                             c.Spawner.environment)
    if probe.returncode:
        sys.exit("Unprivileged accounts cannot run the user servers (is the repository in a "
                 "folder only root can enter, such as root's home? Move it, e.g. to /opt or "
                 f"/srv):\n{probe.stderr[-2000:]}")
else:  # an ordinary user's hub, or Slurm jobs (the venv is on the cluster's shared file system)
    SERVER_PYTHON = Path(sys.executable)
    c.Spawner.environment = dict(SERVER_ENV, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]

if SPAWNER == "local" and ROOT:
    c.JupyterHub.spawner_class = "qimcore_isolation.UnixAccountSpawner"
    c.UnixAccountSpawner.account_prefix = os.environ.get("QIMCORE_HUB_ACCOUNT_PREFIX", "qim-")
    c.UnixAccountSpawner.users_dir = str(USERS)
    c.UnixAccountSpawner.seed_python = str(SERVER_PYTHON)
    c.UnixAccountSpawner.seed_sources = SEED["sources"]
    c.UnixAccountSpawner.seed_links = SEED["links"]
elif SPAWNER == "local":
    print("\nThe hub runs as an ordinary user: every user's server runs as this same account, "
          "so code in one user's kernel can read and change the other users' folders and the "
          "hub's state. Fine for one person or trusted colleagues; for users who must not "
          "trust each other run it as root (see docs/hub.md).\n", file=sys.stderr, flush=True)
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(USERS / "{username}")


def _prepare_user_folder(spawner) -> None:
    """Give each user their own copy of the notebooks and tutorials (never overwriting their
    edits: a file already there is kept) and links to the shared, read-only data. As root,
    the folder belongs to the user's Unix account (0700) and is filled by that account."""
    home = USERS / spawner.user.name
    if ROOT:
        env = {k: v for k, v in c.Spawner.environment.items() if isinstance(v, str)}
        prepare_home(home, pwd.getpwnam(spawner.user.name), str(SERVER_PYTHON), SEED, env)
    else:
        home.mkdir(parents=True, exist_ok=True)
        seed_home(str(home), **SEED)


if not (SPAWNER == "local" and ROOT):  # UnixAccountSpawner prepares its folders itself
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
