"""Costs for :func:`detect_surfaces` from intensities, regions and class probabilities.

The builders work on any array whose axis 0 is the depth searched in every column: a
volume ``(Z, Y, X)`` (terrain), or the samples of a grid (:class:`PolarGrid`,
:class:`CurveNormalGrid`, ...). Lower cost = more likely a boundary. A surface at height
``h`` lies between samples ``h - 1`` and ``h``, the region convention of
:func:`detect_surfaces` (a surface voxel belongs to the region above it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .. import _chunk, _validate

__all__ = ["edge_cost", "probability_cost", "region_cost"]

_POLARITIES = ("dark-to-bright", "bright-to-dark", "any")


def _float(a: Any) -> Any:
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float32)


def _sigmas(sigma: Any, ndim: int) -> tuple[float, ...]:
    sig = (sigma,) * ndim if np.ndim(sigma) == 0 else tuple(np.ravel(sigma).tolist())
    if len(sig) != ndim:
        raise ValueError(f"sigma must be one number or one per axis ({ndim}); got {sigma!r}")
    return tuple(float(_validate.positive(s, "sigma", allow_zero=True)) for s in sig)


def _edges(block: np.ndarray, sigma: tuple[float, ...], polarity: str,
           clip: bool) -> np.ndarray:
    s = ndi.gaussian_filter(block, sigma, mode="nearest") if any(sigma) else block
    rise = np.diff(s, axis=0, prepend=s[:1])       # rise[h] = s[h] - s[h - 1], rise[0] = 0
    if polarity == "any":
        return -np.abs(rise)
    step = rise if polarity == "dark-to-bright" else -rise
    return -np.clip(step, 0, None) if clip else -step


def edge_cost(image: Any, sigma: Any = 1.0, polarity: str = "dark-to-bright", *,
              clip: bool = False) -> Any:
    """Edge cost from intensities: minus the step between consecutive depth samples.

    The image is smoothed by a Gaussian of ``sigma`` (all axes; the nearest edge value
    continues the image outside, so no edge appears at its ends) and
    ``cost[h] = -(I[h] - I[h - 1])`` for a dark-to-bright edge (``+`` for bright-to-dark,
    ``-|.|`` for any), ``cost[0] = 0``: a step between samples ``h - 1`` and ``h`` makes
    ``h`` the cheapest height, the first sample of the region above the surface.

    Parameters
    ----------
    image : (K, ...) array_like or dask array
        Intensities with the depth along axis 0: a ``(Z, Y, X)`` volume or ``(Z, X)`` image,
        or samples of a grid (``grid.sample(volume)``).
    sigma : float or sequence of float
        Gaussian smoothing in samples, one for all axes or one per axis; 0 = none.
    polarity : {"dark-to-bright", "bright-to-dark", "any"}
        The intensity change along increasing depth that makes a boundary.
    clip : bool, keyword-only
        Count only edges of the chosen polarity: a step the other way costs 0 instead of
        a positive penalty.

    Returns
    -------
    cost : ndarray (dask array for dask input), ``image.shape``
        float32 (float64 for float64 input); <= 0 at edges of the chosen polarity.

    Raises
    ------
    ValueError
        For an unknown ``polarity``, a negative ``sigma`` or non-finite values.

    Examples
    --------
    >>> from qimcore.surfaces import detect_surfaces
    >>> column = np.array([0, 0, 0, 1, 1], np.float32)[:, None]
    >>> edge_cost(column, sigma=0)[:, 0].tolist()
    [-0.0, -0.0, -0.0, -1.0, -0.0]
    >>> detect_surfaces(edge_cost(column, sigma=0)).ravel().tolist()
    [3]
    >>> edge_cost(column, sigma=0, polarity="bright-to-dark")[:, 0].tolist()
    [0.0, 0.0, 0.0, 1.0, 0.0]
    """
    img = _float(_validate.array(image, "image"))
    sig = _sigmas(sigma, img.ndim)
    _validate.choice(polarity, "polarity", _POLARITIES)
    return _chunk.apply(_edges, img, depth=_chunk.gaussian_depth(max(sig)) + 1,
                        dtype=img.dtype, sigma=sig, polarity=polarity, clip=bool(clip))


def region_cost(image: Any, means: Sequence[float | None], weight: float = 1.0) -> Any:
    """Region cost from intensities (Chan-Vese): each region pays its distance to a mean.

    Sample ``(h, p)`` in region ``k`` pays ``weight * (image[h, p] - means[k]) ** 2``; the
    result is the ``region_cost`` of :func:`detect_surfaces` for ``len(means) - 1`` surfaces
    (region 0 below surface 0, region ``k`` between surfaces ``k - 1`` and ``k``).

    Parameters
    ----------
    image : (K, ...) array_like or dask array
        Intensities with the depth along axis 0 (a volume or the samples of a grid).
    means : sequence of float or None
        Expected intensity of each region from depth 0 upwards; None = no term (0).
    weight : float
        Factor of all terms, against the edge costs they are added to.

    Returns
    -------
    cost : (len(means),) + image.shape ndarray (dask array for dask input)
        float32 (float64 for float64 input).

    Examples
    --------
    >>> from qimcore.surfaces import detect_surfaces
    >>> image = np.array([[0.0, 0.0, 1.0, 1.0, 0.0]], np.float32).T     # one column
    >>> cost = region_cost(image, [0.0, 1.0, 0.0])
    >>> detect_surfaces(np.zeros(image.shape), n_surfaces=2, region_cost=cost).ravel().tolist()
    [2, 4]
    """
    img = _float(_validate.array(image, "image"))
    if isinstance(means, str) or not isinstance(means, Sequence) or len(means) < 2:
        raise ValueError(f"means must be a sequence of at least 2 region means (or None); "
                         f"got {means!r}")
    _validate.positive(weight, "weight", allow_zero=True)
    terms = [np.zeros_like(img) if m is None
             else weight * (img - float(_validate.array(m, "means"))) ** 2 for m in means]
    return np.stack(terms)


def probability_cost(probabilities: Any, labels: Sequence[int], sigma: Any = 0.0) -> list[Any]:
    """Edge costs from class probabilities: one surface between each two consecutive classes.

    Surface ``i`` separates class ``labels[i]`` (below) from ``labels[i + 1]`` (above); its
    cost is the dark-to-bright :func:`edge_cost` of ``(P_above - P_below) / 2``: -1 where the
    classification switches from certainly ``below`` to certainly ``above`` between two
    samples, 0 where it does not change. A segmentation thus feeds :func:`detect_surfaces`
    directly.

    Parameters
    ----------
    probabilities : (C, K, ...) array_like or dask array
        Class probabilities with the depth along axis 1 (e.g. of
        :class:`qimcore.segment.DictionarySegmenter`, or each class sampled on a grid).
    labels : sequence of int
        Class label (1..C, the index along axis 0 plus one) of each region from depth 0
        upwards; at least 2.
    sigma : float or sequence of float
        Gaussian smoothing of the probabilities in samples (per axis of ``(K, ...)``).

    Returns
    -------
    costs : list of ``len(labels) - 1`` arrays ``(K, ...)``
        One cost per surface: a valid ``cost`` sequence for :func:`detect_surfaces`.

    Examples
    --------
    >>> from qimcore.surfaces import detect_surfaces
    >>> p_top = np.array([0, 0, 0.1, 0.9, 1, 1])[:, None]     # class 2 from depth 3 on
    >>> probabilities = np.stack([1 - p_top, p_top])
    >>> cost = probability_cost(probabilities, [1, 2])
    >>> np.round(cost[0][:, 0], 2).tolist()
    [-0.0, -0.0, -0.1, -0.8, -0.1, -0.0]
    >>> detect_surfaces(cost).ravel().tolist()
    [3]
    """
    p = _validate.array(probabilities, "probabilities")
    if p.ndim < 3:
        raise ValueError(f"probabilities must be (C, K, ...) with at least one column axis; "
                         f"got shape {p.shape}")
    if isinstance(labels, str) or not isinstance(labels, Sequence) or len(labels) < 2:
        raise ValueError(f"labels must be a sequence of at least 2 class labels; got {labels!r}")
    for lab in labels:
        if isinstance(lab, bool) or not isinstance(lab, int | np.integer) \
                or not 1 <= lab <= p.shape[0]:
            raise ValueError(f"labels must be class labels in 1..{p.shape[0]}; got {labels!r}")
    p = _float(p)
    return [edge_cost((p[above - 1] - p[below - 1]) / 2, sigma)
            for below, above in zip(labels[:-1], labels[1:])]
