"""qimcore chunked functions on dask.distributed clusters; SLURM job scripts (not submitted)."""

from __future__ import annotations

import sys

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
from distributed import Client, get_task_stream

from qimcore.batch import porosity_by_slab
from qimcore.cluster import local_cluster, slurm_cluster
from qimcore.fibres import orientation

# the scheduler's HTTP endpoints on a free port: port 8787 may be held by a running cluster
NO_DASHBOARD = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}


@pytest.fixture
def volume(rng):
    return rng.integers(0, 1000, size=(19, 16, 14)).astype(np.uint16)


@pytest.mark.parametrize("processes", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_chunked_functions_on_local_cluster(volume, processes):
    lazy = da.from_array(volume, chunks=(7, 9, 5))
    expected_orientation = orientation(volume.astype(np.float32), 1.0, 1.5)
    expected_table = porosity_by_slab(volume, threshold=400, slab=7)
    with local_cluster(2, processes=processes, memory_limit="1GB") as cluster, \
            Client(cluster) as client, get_task_stream(client) as stream:
        table = porosity_by_slab(lazy, threshold=400)
        directions = orientation(lazy.astype(np.float32), 1.0, 1.5).compute()
        addresses = set(client.scheduler_info()["workers"])
    assert len(stream.data) > 50  # the chunks ran as tasks on the cluster's workers
    assert {task["worker"] for task in stream.data} <= addresses
    pd.testing.assert_frame_equal(table, expected_table)
    np.testing.assert_allclose(directions, expected_orientation, atol=1e-6)
    assert dask.config.get("scheduler", None) is None  # nothing global was set


def test_local_cluster_checks_arguments():
    with pytest.raises(ValueError, match="n_workers"):
        local_cluster(0)
    with pytest.raises(TypeError, match="threads_per_worker"):
        local_cluster(1, threads_per_worker=1.5)


def test_slurm_job_script_is_built_without_submitting():
    with slurm_cluster(cores=8, memory="16GB", processes=4, walltime="00:30:00", queue="short",
                       account="qim", job_extra_directives=["--gres=gpu:1"],
                       job_script_prologue=["module load python"],
                       scheduler_options=NO_DASHBOARD) as cluster:
        script = cluster.job_script()
        assert cluster.workers == {}  # nothing submitted
    lines = script.splitlines()
    for directive in ("#SBATCH -p short", "#SBATCH -A qim", "#SBATCH --cpus-per-task=8",
                      "#SBATCH --mem=15G", "#SBATCH -t 00:30:00", "#SBATCH --gres=gpu:1"):
        assert directive in lines
    assert "module load python" in lines
    worker = lines[-1]
    assert worker.startswith(f"{sys.executable} -m distributed.cli.dask_worker")
    assert "--nworkers 4" in worker and "--nthreads 2" in worker
    assert "--memory-limit 3.73GiB" in worker  # 16 GB / 4 workers


def test_slurm_cluster_defaults_one_process_per_core():
    with slurm_cluster(cores=3, memory="3GB", scheduler_options=NO_DASHBOARD
                       ) as cluster:
        worker = cluster.job_script().splitlines()[-1]
    assert "--nworkers 3" in worker and "--nthreads 1" in worker
    with pytest.raises(ValueError, match="cores"):
        slurm_cluster(cores=0)


def test_two_local_clusters_side_by_side_claim_no_fixed_port():
    """Without a dashboard, no cluster takes port 8787 (a second one would warn: an error here)."""
    with local_cluster(1, processes=False) as first, local_cluster(1, processes=False) as second:
        assert first.scheduler_address != second.scheduler_address
