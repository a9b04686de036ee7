"""Dask clusters for chunked qimcore functions: a local one and SLURM jobs (dask-jobqueue).

Every chunked qimcore function (``fibres.orientation``, ``segment``'s ``predict_proba``,
:func:`qimcore.batch.slab_statistics`, ...) returns a lazy dask array or computes with
``dask.compute``, which runs on whatever scheduler is active. qimcore never sets a global
scheduler itself: you start a cluster here and connect a ``distributed.Client`` to it, in a
``with`` block::

    from distributed import Client
    from qimcore.cluster import local_cluster

    with local_cluster(n_workers=4, memory_limit="2GB") as cluster, Client(cluster):
        table = porosity_by_slab(qimcore.io.load("scan.zarr"), threshold=100)

See ``docs/cluster.md`` for SLURM settings and the dask config file.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from . import _validate

if TYPE_CHECKING:
    from dask_jobqueue import SLURMCluster
    from distributed import LocalCluster

__all__ = ["local_cluster", "slurm_cluster"]


def local_cluster(n_workers: int = 2, *, memory_limit: str | int = "2GB",
                  threads_per_worker: int = 1, processes: bool = True,
                  dashboard_address: str | None = None, **kwargs: Any) -> LocalCluster:
    """Start a ``distributed.LocalCluster`` sized for out-of-core volume processing.

    Each worker holds at most ``memory_limit``; the dask nanny spills to disk above 60 %,
    pauses at 80 % and restarts the worker at 95 % (dask's defaults), so a pipeline whose
    chunks fit the limit processes volumes larger than the machine's memory.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes (or threads of one process when ``processes=False``).
    memory_limit : str or int, optional
        Memory per worker, e.g. ``"2GB"``, or bytes.
    threads_per_worker : int, optional
        Threads per worker; numpy/scipy kernels release the GIL, so more threads use more
        cores but also hold more chunks in memory at once.
    processes : bool, optional
        Workers in separate processes (real memory limits) or threads of this process.
    dashboard_address : str, optional
        Address of the dask dashboard, e.g. ``":8787"``; off by default.
    **kwargs
        Passed on to ``distributed.LocalCluster``.

    Returns
    -------
    distributed.LocalCluster
        Use it in a ``with`` block and connect ``distributed.Client(cluster)`` to it.

    Raises
    ------
    ValueError, TypeError
        If ``n_workers`` or ``threads_per_worker`` is not a positive integer.

    Examples
    --------
    >>> import dask.array as da
    >>> from distributed import Client
    >>> with local_cluster(1, processes=False) as cluster, Client(cluster):
    ...     int(da.ones((8, 8, 8), chunks=4).sum().compute())
    512
    """
    n_workers = _validate.positive(n_workers, "n_workers", integer=True)
    threads_per_worker = _validate.positive(threads_per_worker, "threads_per_worker",
                                            integer=True)
    from distributed import LocalCluster

    if dashboard_address is None:  # the scheduler's HTTP endpoints: a free port, not 8787
        kwargs["scheduler_kwargs"] = {"dashboard": False, "dashboard_address": "127.0.0.1:0",
                                      **kwargs.get("scheduler_kwargs", {})}
    return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                        memory_limit=memory_limit, processes=processes,
                        dashboard_address=dashboard_address, **kwargs)


def slurm_cluster(*, cores: int | None = None, memory: str | None = None,
                  processes: int | None = None, walltime: str | None = None,
                  queue: str | None = None, account: str | None = None,
                  python: str | None = None, **kwargs: Any) -> SLURMCluster:
    """Describe SLURM jobs that run dask workers (``dask_jobqueue.SLURMCluster``).

    Nothing is submitted until you call ``cluster.scale(jobs=n)`` or ``cluster.adapt(...)``;
    ``cluster.job_script()`` shows the ``sbatch`` script. Options left ``None`` come from the
    ``jobqueue.slurm`` section of the dask config (``~/.config/dask/jobqueue.yaml``, see
    ``docs/cluster.md``). Each job runs ``processes`` workers that share its ``cores`` and
    ``memory``, so each worker's memory limit is ``memory / processes``.

    Parameters
    ----------
    cores : int, optional
        CPU cores per job (``--cpus-per-task``).
    memory : str, optional
        Memory per job, e.g. ``"16GB"`` (``--mem``).
    processes : int, optional
        Worker processes per job; default: one per core, one thread each.
    walltime : str, optional
        Job time limit, ``"HH:MM:SS"``.
    queue, account : str, optional
        SLURM partition (``-p``) and account (``-A``).
    python : str, optional
        Python that runs the workers; default this interpreter, so jobs use the same
        environment (it must be visible on the compute nodes).
    **kwargs
        Passed on to ``SLURMCluster``, e.g. ``job_extra_directives=["--gres=gpu:1"]``,
        ``job_script_prologue=["module load cuda"]``, ``local_directory="$TMPDIR"``.

    Returns
    -------
    dask_jobqueue.SLURMCluster
        Use it in a ``with`` block and connect ``distributed.Client(cluster)`` to it.

    Raises
    ------
    ImportError
        If dask-jobqueue is not installed.
    ValueError, TypeError
        If ``cores`` or ``processes`` is not a positive integer.

    Examples
    --------
    >>> no_dashboard = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
    >>> with slurm_cluster(cores=4, memory="8GB", walltime="00:10:00",
    ...                    scheduler_options=no_dashboard) as cluster:
    ...     print([line for line in cluster.job_script().splitlines()
    ...            if line.startswith("#SBATCH --")])
    ['#SBATCH --cpus-per-task=4', '#SBATCH --mem=8G']
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("qimcore.cluster.slurm_cluster needs dask-jobqueue: "
                          "pip install dask-jobqueue") from err
    if cores is not None:
        cores = _validate.positive(cores, "cores", integer=True)
    if processes is None and cores is not None:
        processes = cores
    if processes is not None:
        processes = _validate.positive(processes, "processes", integer=True)
    options = {"cores": cores, "memory": memory, "processes": processes,
               "walltime": walltime, "queue": queue, "account": account}
    options = {k: v for k, v in options.items() if v is not None}
    return SLURMCluster(python=python or sys.executable, **options, **kwargs)
