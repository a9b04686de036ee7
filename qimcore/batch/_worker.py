"""Execute one run of a batch in its own process: ``python -m qimcore.batch._worker SPEC``.

``SPEC`` is a JSON file with ``notebook``, ``output_notebook``, ``parameters``,
``kernel_name`` and ``error_file``. On failure the error message goes to ``error_file`` and
the exit status is 1. SIGTERM stops the run and its kernel (jupyter starts kernels in their
own session, so a signal to this process group does not reach them). The worker ends the
same way when its parent (the sweep, pid ``parent`` in ``SPEC``) dies, also by SIGKILL: on
Linux the kernel sends it SIGTERM then (``prctl(PR_SET_PDEATHSIG)``), and a watchdog thread
checking the parent pid covers the rest.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path


def _terminate(signum: int, frame: object = None) -> None:
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        child.terminate()
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        child.kill()
    os._exit(128 + signum)


def _die_with(parent: int) -> None:
    """End this worker and its kernel when process ``parent`` ends."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        _terminate(signal.SIGTERM)

    if os.getppid() != parent:  # the parent died before the signal was set
        _terminate(signal.SIGTERM)
    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def run(spec_file: str) -> int:
    """Execute the notebook described by ``spec_file``; return the exit status."""
    signal.signal(signal.SIGTERM, _terminate)
    spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    if spec.get("parent"):
        _die_with(int(spec["parent"]))
    # jsonschema (via nbformat) imports rfc3987_syntax when installed, which builds a parser
    # for seconds; notebook schemas never check IRIs, so each run skips it.
    sys.modules.setdefault("rfc3987_syntax", None)
    try:
        import papermill

        papermill.execute_notebook(spec["notebook"], spec["output_notebook"],
                                   parameters=spec["parameters"],
                                   kernel_name=spec["kernel_name"], progress_bar=False)
    except Exception as err:  # noqa: BLE001 - any failure of the run is recorded, not raised
        message = f"{type(err).__name__}: {err}".strip()
        if hasattr(err, "ename"):  # papermill.PapermillExecutionError: the notebook's error
            message = f"{err.ename}: {err.evalue}"
        Path(spec["error_file"]).write_text(message, encoding="utf-8")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1]))
