"""Command line: ``python -m qimcore.batch NOTEBOOK GRID --output DIR [--workers N]``."""

from __future__ import annotations

import argparse
import signal
import sys

from ._runner import run_batch


def _sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds run_batch, which stops its runs


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m qimcore.batch`` and the ``qimcore-batch`` script.

    Returns the exit status: 0 when every run finished, 1 when some failed, 2 for bad input
    (reported before anything runs) or an output folder in use by another sweep. The last
    line printed counts the runs done, failed and skipped and names the summary file. SIGTERM stops the running runs and their kernels;
    finished runs stay and a rerun continues with the others.
    """
    parser = argparse.ArgumentParser(
        prog="qimcore-batch", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run a notebook with papermill once per parameter set of a YAML/CSV grid; "
                    "rerunning skips finished runs.")
    parser.add_argument("notebook", help="notebook with a cell tagged 'parameters'")
    parser.add_argument("grid", help="YAML ('runs:' list and/or 'grid:' mapping) or CSV file")
    parser.add_argument("--output", "-o", required=True, default=argparse.SUPPRESS,
                        help="output folder (one sweep at a time may use it)")
    parser.add_argument("--workers", "-j", type=int, default=1, help="runs at the same time")
    parser.add_argument("--kernel", default=argparse.SUPPRESS,
                        help="Jupyter kernel name (default: the notebook's own)")
    parser.add_argument("--format", dest="table_format", choices=("csv", "parquet"),
                        default="csv", help="format of the merged tables")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        default=argparse.SUPPRESS, help="hide the progress bar")
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        summary = run_batch(args.notebook, args.grid, args.output, workers=args.workers,
                            kernel_name=getattr(args, "kernel", None),
                            table_format=args.table_format,
                            progress=getattr(args, "progress", True))
    except (ValueError, TypeError, BlockingIOError) as err:
        parser.exit(2, f"qimcore-batch: error: {err}\n")
    finally:
        signal.signal(signal.SIGTERM, previous)
    failed = summary[summary["status"] != "done"]
    for row in failed.itertuples():
        print(f"run {row.run_id} {row.status}: {row.error}", file=sys.stderr)
    counts = summary.attrs
    print(f"{counts['done']} done, {counts['failed']} failed, {counts['skipped']} skipped; "
          f"summary at {counts['path']}")
    return 1 if len(failed) else 0
