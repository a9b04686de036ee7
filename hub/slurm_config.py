"""batchspawner SlurmSpawner: each server is a Slurm job on a compute node (LUNARC-style HPC).

Loaded by ``jupyterhub_config.py`` when ``QIMCORE_HUB_SPAWNER=slurm``. The hub runs on a login
or service node as root (it submits ``sbatch`` as the user through ``sudo -E -u <user>``); the
repository with its ``.venv`` and ``QIMCORE_HUB_USERS_DIR`` must lie on a file system that the
compute nodes mount (e.g. ``/projects/...``), and the compute nodes must reach the hub's API
port. Each user needs a cluster account of the same name. The job runs as that user, so the
data is protected by its file permissions (0444/0555, or a read-only mount) as well.

=========================== =============================================== =============
variable                    meaning                                         default
=========================== =============================================== =============
QIMCORE_SLURM_ACCOUNT       project to charge (``-A``, e.g. lu2026-2-17)    (cluster's)
QIMCORE_SLURM_PARTITION     partition (e.g. lu48 on COSMOS)                 (cluster's)
QIMCORE_SLURM_RUNTIME       wall time of one server                         04:00:00
QIMCORE_SLURM_MEMORY        memory of one server                            16G
QIMCORE_SLURM_CPUS          CPUs of one server                              4
QIMCORE_SLURM_GRES          generic resources, e.g. gpu:1                   (none)
QIMCORE_SLURM_PROLOGUE      shell lines run before the server               (none)
QIMCORE_HUB_CONNECT_IP      address of the hub that compute nodes can reach this host's name
=========================== =============================================== =============
"""

import os
import socket
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (provided by JupyterHub)

REPO = Path(__file__).resolve().parents[1]

c.JupyterHub.spawner_class = "batchspawner.SlurmSpawner"
# Compute nodes talk to the hub API; the proxy talks to the servers on the nodes.
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_connect_ip = os.environ.get("QIMCORE_HUB_CONNECT_IP", socket.getfqdn())
c.SlurmSpawner.batchspawner_singleuser_cmd = str(REPO / ".venv" / "bin" / "batchspawner-singleuser")
c.SlurmSpawner.exec_prefix = "sudo -E -u {username}"
c.SlurmSpawner.req_account = os.environ.get("QIMCORE_SLURM_ACCOUNT", "")
c.SlurmSpawner.req_partition = os.environ.get("QIMCORE_SLURM_PARTITION", "")
c.SlurmSpawner.req_runtime = os.environ.get("QIMCORE_SLURM_RUNTIME", "04:00:00")
c.SlurmSpawner.req_memory = os.environ.get("QIMCORE_SLURM_MEMORY", "16G")
c.SlurmSpawner.req_nprocs = os.environ.get("QIMCORE_SLURM_CPUS", "4")
c.SlurmSpawner.req_gres = os.environ.get("QIMCORE_SLURM_GRES", "")
c.SlurmSpawner.req_prologue = os.environ.get("QIMCORE_SLURM_PROLOGUE", "")
if c.SlurmSpawner.req_account:
    c.SlurmSpawner.req_options = f"--account={c.SlurmSpawner.req_account}"
c.Spawner.http_timeout = 300  # waiting in the queue
c.Spawner.start_timeout = 900
# Jobs run as the users, not root: no --allow-root.
c.Spawner.args = ["--ServerApp.contents_manager_class=qimcore_readonly.ReadOnlyDataContentsManager"]
