"""SystemdSpawner: each server is a transient systemd unit with memory/CPU limits.

Loaded by ``jupyterhub_config.py`` when ``QIMCORE_HUB_SPAWNER=systemd``. The hub runs as root
on a systemd host; every hub user must have a Unix account of the same name (the server runs
as that account). Its folder ``$QIMCORE_HUB_USERS_DIR/<name>`` is created and chowned by the
hub. The sample data and the shared data folder are ``ReadOnlyPaths=`` of the unit: the kernel
cannot write there whatever the file permissions, root included.

======================== ====================================== =========
variable                 meaning                                default
======================== ====================================== =========
QIMCORE_HUB_MEM_LIMIT    memory per user server (MemoryMax=)    8G
QIMCORE_HUB_CPU_LIMIT    CPUs per user server (CPUQuota=)       2
======================== ====================================== =========
"""

import os
from pathlib import Path

from qimcore_isolation import users_folder  # hub/ is on sys.path (jupyterhub_config.py)

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by JupyterHub)

REPO = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("QIMCORE_HUB_STATE", REPO / ".hub")).resolve()
USERS = users_folder(STATE)
READ_ONLY = [str(REPO / "data_samples")]
if os.environ.get("QIMCORE_SHARED_DATA"):
    READ_ONLY.append(str(Path(os.environ["QIMCORE_SHARED_DATA"]).resolve()))

c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
c.SystemdSpawner.user_workingdir = str(USERS / "{USERNAME}")
c.SystemdSpawner.mem_limit = os.environ.get("QIMCORE_HUB_MEM_LIMIT", "8G")
c.SystemdSpawner.cpu_limit = float(os.environ.get("QIMCORE_HUB_CPU_LIMIT", "2"))
c.SystemdSpawner.readonly_paths = READ_ONLY
c.SystemdSpawner.isolate_tmp = True
c.SystemdSpawner.isolate_devices = True
c.SystemdSpawner.disable_user_sudo = True
# The servers run as the users, not root: no --allow-root.
c.Spawner.args = ["--ServerApp.contents_manager_class=qimcore_readonly.ReadOnlyDataContentsManager"]
