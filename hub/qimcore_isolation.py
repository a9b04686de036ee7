"""Hub run as root: every user's server runs as a dedicated unprivileged Unix account.

``jupyterhub_config.py`` uses this module when the hub runs as root (``local`` spawner; the
interpreter and the home folders for ``systemd`` too):

- ``UnixAccountSpawner`` starts the server of hub user ``<name>`` as the system account
  ``<account_prefix><name>`` (default ``qim-<name>``), created with ``useradd --system`` at the
  first start, home ``<users_dir>/<name>`` (mode 0700, owned by the account). The account has
  no password (it cannot log in) and no groups besides its own.
- ``server_python`` gives those accounts an interpreter they can run: when the hub's Python
  lives where they cannot read it (e.g. pyenv in root's home, mode 0700), the interpreter and
  its standard library are copied once into a root-owned folder readable by all, with a venv
  that loads the hub venv's packages.
- ``make_private`` and ``make_read_only`` enforce the modes of the state folder and the data.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Dict, Unicode


def make_folder(path: Path, mode: int) -> None:
    """Create ``path`` with ``mode`` (also when it exists); missing parents get 0755, so that
    every account can pass through them whatever the umask."""
    missing = [p for p in (*reversed(path.parents), path) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        folder.chmod(0o755)
    path.chmod(mode)


def _nobody() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def run_unprivileged(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``cmd`` as the account ``nobody`` (no groups) from ``/``; capture its output
    (return code 126 when it cannot even be executed)."""
    uid, gid = _nobody()
    try:
        return subprocess.run(cmd, env=env, cwd="/", user=uid, group=gid, extra_groups=[],
                              capture_output=True, text=True, timeout=120)
    except OSError as e:
        return subprocess.CompletedProcess(cmd, 126, "", f"{cmd[0]}: {e}")


def server_python(folder: Path) -> tuple[Path, dict[str, str]]:
    """An interpreter with the hub venv's packages that any account may run.

    Parameters
    ----------
    folder : Path
        Where to build the copy when the hub's own interpreter is not readable by others.

    Returns
    -------
    python : Path
        The interpreter for the user servers.
    env : dict of str to str
        Environment it needs: ``LD_LIBRARY_PATH`` for a copied shared ``libpython``, and the
        hub venv's Jupyter folders (server extensions such as JupyterLab, kernel specs).
    """
    probe = [sys.executable, "-c", "import jupyterhub.singleuser"]
    if run_unprivileged(probe, {"PATH": "/usr/bin:/bin"}).returncode == 0:
        return Path(sys.executable), {}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    packages = sysconfig.get_paths()["purelib"]
    base, venv = folder / "base", folder / "venv"
    marker = folder / "built-from.json"
    origin = json.dumps({"base": sys.base_prefix, "version": sys.version, "packages": packages})
    env = {"LD_LIBRARY_PATH": str(base / "lib"),
           "JUPYTER_CONFIG_PATH": str(Path(sys.prefix) / "etc" / "jupyter"),
           "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}
    if not (marker.exists() and marker.read_text() == origin):
        shutil.rmtree(folder, ignore_errors=True)
        make_folder(folder, 0o755)
        source = Path(sys.base_prefix)
        shutil.copytree(source / "lib" / version, base / "lib" / version, symlinks=True,
                        ignore=shutil.ignore_patterns("site-packages", "test", "tests"))
        for lib in source.glob("lib/libpython*.so*"):
            shutil.copy2(lib, base / "lib", follow_symlinks=False)
        (base / "bin").mkdir()
        shutil.copy2(Path(sys.executable).resolve(), base / "bin" / version)
        subprocess.run([str(base / "bin" / version), "-m", "venv", "--without-pip", str(venv)],
                       env=dict(os.environ, LD_LIBRARY_PATH=env["LD_LIBRARY_PATH"]), check=True)
        site = venv / "lib" / version / "site-packages"
        (site / "qimcore_hub_packages.pth").write_text(
            f"import site; site.addsitedir({packages!r})\n")
        for path in (folder, *folder.rglob("*")):
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
        marker.write_text(origin)
    return venv / "bin" / "python3", env


def writable_by_others(paths: list[Path]) -> list[Path]:
    """The paths that an account other than root owns or may write (group/other write bit)."""
    return [p for p in paths if p.exists() and (p.stat().st_uid != 0 or p.stat().st_mode & 0o022)]


def make_private(folder: Path) -> None:
    """``folder`` 0700 and every file directly in it 0600 (database, secrets, pid files)."""
    folder.chmod(0o700)
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o600)


def make_read_only(folder: Path) -> None:
    """Make the data in ``folder`` read-only on disk, not following links.

    Hub as root: everything becomes owned by root, files lose their write bits and folders
    become 0755, so no other account can change them. Hub as an ordinary user: only the files
    it owns lose their write bits (a guard against accidents, which the owner can undo).
    """
    if not folder.is_dir():
        return
    uid = os.geteuid()
    for path in (folder, *folder.rglob("*")):
        info = path.lstat()
        if path.is_symlink() or (uid != 0 and info.st_uid != uid):
            continue
        if uid == 0 and (info.st_uid != 0 or info.st_gid != 0):
            os.lchown(path, 0, 0)
        mode = 0o755 if stat.S_ISDIR(info.st_mode) else stat.S_IMODE(info.st_mode) & ~0o222 | 0o444
        if stat.S_IMODE(info.st_mode) != mode:
            path.chmod(mode)


def ensure_account(account: str, home: Path) -> pwd.struct_passwd:
    """The system account ``account`` with home ``home`` (created when missing; never root)."""
    try:
        entry = pwd.getpwnam(account)
    except KeyError:
        shell = "/bin/bash" if Path("/bin/bash").exists() else "/bin/sh"
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", str(home), "--shell", shell,
                        "--comment", "qimcore hub user", account],
                       check=True, capture_output=True, text=True)
        entry = pwd.getpwnam(account)
    if entry.pw_uid == 0 or entry.pw_gid == 0 or Path(entry.pw_dir) != home:
        raise RuntimeError(f"account {account!r} exists with uid {entry.pw_uid}, gid "
                           f"{entry.pw_gid}, home {entry.pw_dir}: not a qimcore hub account")
    return entry


def users_folder(state: Path) -> Path:
    """``$QIMCORE_HUB_USERS_DIR``, else ``<state>-users`` for a hub run as root (the state
    folder is 0700: the users' accounts cannot enter it), else ``<state>/users``."""
    default = state.parent / f"{state.name}-users" if os.geteuid() == 0 else state / "users"
    return Path(os.environ.get("QIMCORE_HUB_USERS_DIR", default)).resolve()


def prepare_home(home: Path, account: pwd.struct_passwd, python: str, seed: dict,
                 env: dict[str, str]) -> None:
    """Hub as root: make ``home`` (mode 0700, owned by ``account``), then fill it with
    ``qimcore_seed`` run as ``account``, so that links planted in it lead nowhere."""
    if account.pw_uid == 0 or account.pw_gid == 0:
        raise RuntimeError(f"refusing to run a user server as root ({account.pw_name!r})")
    if home.is_symlink():
        raise RuntimeError(f"{home} is a symbolic link")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if home.stat().st_uid != account.pw_uid:  # new, or from a hub that ran servers as root
        for top, dirs, files in os.walk(home):
            for name in (".", *dirs, *files):
                os.lchown(os.path.join(top, name), account.pw_uid, account.pw_gid)
    home.chmod(0o700)
    subprocess.run([python, str(Path(__file__).with_name("qimcore_seed.py")),
                    json.dumps(dict(seed, home=str(home)))],
                   user=account.pw_uid, group=account.pw_gid, extra_groups=[], cwd=home, env=env,
                   check=True, capture_output=True, timeout=120)


class UnixAccountSpawner(LocalProcessSpawner):
    """Start each server as the hub user's own unprivileged system account."""

    account_prefix = Unicode("qim-", config=True, help="Prefix of the system account names.")
    users_dir = Unicode(config=True, help="Folder holding one home folder per user.")
    seed_python = Unicode(config=True, help="Interpreter that runs qimcore_seed as the user.")
    seed_sources = Dict(config=True, help="Home sub-folder -> folder of notebooks to copy.")
    seed_links = Dict(config=True, help="Link name in the home -> shared folder.")

    @property
    def account(self) -> str:
        return self.account_prefix + self.user.name

    @property
    def home(self) -> Path:
        return Path(self.users_dir) / self.user.name

    def make_preexec_fn(self, name):
        return set_user_setuid(self.account)

    def user_env(self, env):
        entry = pwd.getpwnam(self.account)
        env.update(USER=self.account, LOGNAME=self.account, HOME=str(self.home),
                   SHELL=entry.pw_shell)
        return env

    def prepare_home(self) -> None:
        """Create the account and its home, then fill the home as the account."""
        env = {k: v for k, v in self.environment.items() if isinstance(v, str)}
        prepare_home(self.home, ensure_account(self.account, self.home), self.seed_python,
                     {"sources": self.seed_sources, "links": self.seed_links}, env)

    async def start(self):
        self.prepare_home()
        return await super().start()
