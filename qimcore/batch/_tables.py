"""Write result tables the way every notebook and the batch runner expect them."""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import pandas as pd

from .._files import atomic_file

FORMATS = ("csv", "parquet")


def atomic_write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` (CSV or Parquet by suffix) through a temporary file.

    The temporary file sits in the same folder and is renamed over ``path``, so a reader
    (or an interrupted run) sees the old file or the complete new one, never a partial one.
    """
    with atomic_file(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)


def save_tables(tables: Mapping[str, pd.DataFrame], output_dir: str | PathLike,
                formats: tuple[str, ...] = ("csv",)) -> dict[str, list[Path]]:
    """Save named result tables into ``output_dir``, one file per table and format.

    This is the convention :func:`qimcore.batch.run_batch` relies on: a notebook declares an
    ``output_dir`` parameter and saves its tables with this function; the runner then merges
    the tables of all runs by name. Each file is written atomically.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Table name (the file stem, e.g. ``"nerves"``) to table.
    output_dir : str or path
        Folder for the files; created when missing.
    formats : tuple of str, optional
        Any of ``"csv"`` and ``"parquet"``.

    Returns
    -------
    dict of str to list of pathlib.Path
        The files written for each table.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> files = save_tables({"summary": pd.DataFrame({"n": [3]})}, folder)
    >>> [f.name for f in files["summary"]]
    ['summary.csv']
    """
    if isinstance(formats, str):
        formats = (formats,)
    unknown = sorted(set(formats) - set(FORMATS))
    if not formats or unknown:
        raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {formats!r}")
    if not isinstance(tables, Mapping):
        raise TypeError(f"tables must be a mapping of name to DataFrame, got {type(tables).__name__}")
    for name, frame in tables.items():
        if not isinstance(name, str) or not name or Path(name).name != name or name.startswith("."):
            raise ValueError(f"tables: {name!r} is not a plain file name")
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"tables[{name!r}] must be a pandas DataFrame, got "
                            f"{type(frame).__name__}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for name, frame in tables.items():
        written[name] = []
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            atomic_write_table(frame, path)
            written[name].append(path)
    return written
