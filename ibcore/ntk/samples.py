"""Random inputs and labels for the NTK experiments: points on the sphere, corrupted labels."""

from __future__ import annotations

import numpy as np

from ..validation import as_labels, check_rng, positive_int, probability

__all__ = ["corrupt_labels", "unit_sphere_points"]


def unit_sphere_points(n: int, d: int, *, seed) -> np.ndarray:
    """``n`` points drawn uniformly on the unit sphere of ``R^d``: ``x_i = z_i / |z_i|``, with
    ``z_i`` the rows of one ``(n, d)`` draw of standard normals.

    Parameters
    ----------
    n : int
        Number of points, ``>= 1``.
    d : int
        Ambient dimension, ``>= 2``.
    seed : int or numpy.random.Generator, keyword-only
        Required.

    Returns
    -------
    ndarray of float64, shape (n, d)
        Rows of unit Euclidean norm.

    Raises
    ------
    TypeError
        If ``n`` or ``d`` is not an integer, or ``seed`` is neither an int nor a Generator.
    ValueError
        If ``n < 1``, ``d < 2`` or ``seed`` is negative.
    """
    n = positive_int(n, "n")
    d = positive_int(d, "d", minimum=2)
    rng = check_rng(seed)
    Z = rng.standard_normal((n, d))
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def corrupt_labels(y, fraction: float, *, seed) -> np.ndarray:
    """Replace a fraction of the labels by independent uniform random signs.

    The corrupted indices are the first ``round(fraction * n)`` entries of one random
    permutation drawn from ``seed``, and the random signs are drawn once for all indices, so for
    a fixed seed the corrupted sets are *nested* as ``fraction`` grows (about half of the
    corrupted labels keep their value by chance, as in Zhang et al.'s random-label experiments).

    Parameters
    ----------
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    fraction : float
        Fraction in ``[0, 1]`` of the labels to redraw.
    seed : int or numpy.random.Generator, keyword-only
        Required.

    Returns
    -------
    ndarray of float64, shape (n,)
        A copy of ``y`` with the redrawn labels.

    Raises
    ------
    TypeError
        If ``fraction`` is not a real number or ``seed`` is neither an int nor a Generator.
    ValueError
        For labels outside ``{-1, +1}`` (0/1 labels: use ``2 y - 1``), a fraction outside
        ``[0, 1]`` or a negative seed.
    """
    y = as_labels(y, "y")
    fraction = probability(fraction, "fraction", closed_right=True)
    rng = check_rng(seed)
    order = rng.permutation(y.size)
    signs = rng.choice(np.array([-1.0, 1.0]), size=y.size)
    out = y.copy()
    k = round(fraction * y.size)
    out[order[:k]] = signs[order[:k]]
    return out
