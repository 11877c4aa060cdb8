"""Mini-batch gradient noise: the covariance factor ``c_B``, exhaustive batch means, per-example
gradients of least squares and the SVAG weights.

With ``Sigma(x)`` the *population* covariance of the per-example gradients (divided by ``m``), the
mini-batch mean gradient has covariance ``c_B Sigma(x)`` with ``c_B = 1/B`` (i.i.d. indices) or
``(m - B) / ((m - 1) B)`` (``B`` distinct indices). Least squares is ``L(x) = (1/m) sum_i
(a_i^T x - y_i)^2 / 2`` (``A`` of shape ``(m, d)``). SVAG (Li, Malladi & Arora 2021) mixes two
batch gradients with weights ``(a, c)``, ``a + c = 1``, ``a^2 + c^2 = l``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..descent import as_checkpoints
from ..validation import (
    as_array,
    as_matrix,
    as_vector,
    positive_int,
)

__all__ = [
    "BLOWUP_FACTOR",
    "batch_means",
    "least_squares_noise_covariance",
    "minibatch_covariance",
    "minibatch_factor",
    "per_example_gradients",
    "svag_coefficients",
]


#: A path (or an expected loss) beyond this factor times its initial scale counts as diverged.
BLOWUP_FACTOR = 1e12


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def _checkpoints(checkpoints, n_steps: int) -> np.ndarray:
    if checkpoints is None:
        return np.array([0, n_steps], dtype=np.int64) if n_steps else np.zeros(1, np.int64)
    return as_checkpoints(checkpoints, n_steps)


def minibatch_factor(m: int, batch_size: int, replace: bool = True) -> float:
    """``c_B`` with ``Cov(mean of a batch) = c_B * Sigma`` for a population of ``m`` vectors.

    ``1 / B`` with replacement (i.i.d. indices) and ``(m - B) / ((m - 1) B)`` without (``B``
    distinct indices; ``0`` at ``B = m``, where the batch is the whole population).

    Parameters
    ----------
    m : int
        Population size.
    batch_size : int
        Batch size ``B``.
    replace : bool
        I.i.d. indices (default) or ``B`` distinct ones.

    Returns
    -------
    float
        ``c_B``.

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    m = positive_int(m, "m")
    batch_size = positive_int(batch_size, "batch_size")
    replace = _flag(replace, "replace")
    if replace:
        return 1.0 / batch_size
    if batch_size > m:
        raise ValueError(
            f"batch_size={batch_size} exceeds the number of examples m={m}: without "
            "replacement a batch has at most m distinct examples"
        )
    if m == 1:
        return 0.0
    return (m - batch_size) / ((m - 1) * batch_size)


def minibatch_covariance(G, batch_size: int, replace: bool = True) -> np.ndarray:
    """Covariance of the mini-batch mean gradient, ``c_B * Sigma`` (see :func:`~.minibatch_factor`).

    ``G`` is ``(m, d)``: the per-example gradients at one point. ``Sigma = (1/m) sum_i
    (g_i - g_bar)(g_i - g_bar)^T`` is their population covariance (divided by ``m``).

    Parameters
    ----------
    G : array_like, shape (m, d)
        Per-example gradients at one point.
    batch_size : int
        Batch size ``B``.
    replace : bool
        I.i.d. indices (default) or ``B`` distinct ones.

    Returns
    -------
    ndarray of float64, shape (d, d)

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    G = as_matrix(G, "G")
    c = minibatch_factor(G.shape[0], batch_size, replace)
    D = G - G.mean(axis=0)
    return c * (D.T @ D) / G.shape[0]


def batch_means(G, batch_size: int, replace: bool = True, *, max_batches: int = 1_000_000):
    """Every possible mini-batch mean of the rows of ``G``, each equally likely.

    Without replacement: one row per subset of ``batch_size`` distinct indices (``C(m, B)``
    rows); with replacement: one row per ordered tuple of i.i.d. indices (``m^B`` rows). The
    exact covariance of the mini-batch gradient is the population covariance of these rows, an
    enumeration that checks :func:`~.minibatch_covariance` without any sampling. Refuses more than
    ``max_batches`` batches.

    Parameters
    ----------
    G : array_like, shape (m, d)
        Per-example gradients.
    batch_size : int
        Batch size ``B``.
    replace : bool
        I.i.d. indices (default) or ``B`` distinct ones.
    max_batches : int
        Largest enumeration allowed.

    Returns
    -------
    ndarray of float64, shape (n_batches, d)

    Raises
    ------
    ValueError
        If there are more than ``max_batches`` batches.
    """
    from itertools import combinations

    G = as_matrix(G, "G")
    m = G.shape[0]
    batch_size = positive_int(batch_size, "batch_size")
    replace = _flag(replace, "replace")
    max_batches = positive_int(max_batches, "max_batches")
    if not replace and batch_size > m:
        raise ValueError(
            f"batch_size={batch_size} exceeds m={m}: without replacement a batch has at most m "
            "distinct examples"
        )
    count = m**batch_size if replace else math.comb(m, batch_size)
    if count > max_batches:
        raise ValueError(
            f"there are {count} batches, more than max_batches={max_batches}: use a smaller "
            "problem (or raise max_batches)"
        )
    if replace:
        idx = np.indices((m,) * batch_size).reshape(batch_size, -1).T
    else:
        idx = np.array(list(combinations(range(m), batch_size)), dtype=np.int64)
    return G[idx].mean(axis=1)


def svag_coefficients(l) -> tuple[float, float]:  # noqa: E741 (the issue's API name)
    """SVAG weights ``(a, c) = ((1 + sqrt(2l - 1)) / 2, (1 - sqrt(2l - 1)) / 2)``, ``l >= 1``.

    ``a + c = 1`` keeps the mean gradient and ``a^2 + c^2 = l`` multiplies the noise covariance
    by ``l`` (Li, Malladi & Arora 2021). ``l = 1`` is plain SGD (``c = 0``). The weights are
    real only for ``l >= 1/2``; below 1 SVAG would take *larger* steps than SGD, so ``l < 1``
    is refused.

    Parameters
    ----------
    l : float
        The SVAG factor ``l >= 1``.

    Returns
    -------
    tuple of float
        ``(a, c)``.

    Raises
    ------
    ValueError
        If ``l < 1``.
    """
    if isinstance(l, bool) or not isinstance(l, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"l must be a real number >= 1, got {type(l).__name__}")
    ell = float(l)
    if not math.isfinite(ell) or ell < 1.0:
        raise ValueError(f"l must be a finite number >= 1 (l = 1 is plain SGD), got {ell}")
    r = math.sqrt(2.0 * ell - 1.0)
    return (1.0 + r) / 2.0, (1.0 - r) / 2.0


def _check_ls(A, y) -> tuple[np.ndarray, np.ndarray]:
    A = as_matrix(A, "A")
    y = as_vector(y, "y", length=A.shape[0])
    return A, y


def per_example_gradients(A, y, x) -> np.ndarray:
    """``g_i(x) = a_i (a_i^T x - y_i)``: (m, d) for ``x`` (d,), (P, m, d) for ``x`` (P, d).

    Parameters
    ----------
    A : array_like, shape (m, d)
        Design matrix (rows ``a_i``).
    y : array_like, shape (m,)
        Targets.
    x : array_like, shape (d,) or (P, d)
        Point(s).

    Returns
    -------
    ndarray of float64, shape (m, d) or (P, m, d)

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    A, y = _check_ls(A, y)
    x = as_array(x, "x")
    if x.ndim not in (1, 2) or x.shape[-1] != A.shape[1]:
        raise ValueError(f"x must have shape ({A.shape[1]},) or (P, {A.shape[1]}), got {x.shape}")
    r = x @ A.T - y  # (m,) or (P, m)
    return r[..., :, None] * A


def least_squares_noise_covariance(A, y, x) -> np.ndarray:
    """``Sigma(x)``: population covariance of the per-example gradients at ``x`` (one example).

    The mini-batch gradient's covariance is ``minibatch_factor(m, B, replace) * Sigma(x)``.

    Parameters
    ----------
    A : array_like, shape (m, d)
        Design matrix (rows ``a_i``).
    y : array_like, shape (m,)
        Targets.
    x : array_like, shape (d,)
        Point.

    Returns
    -------
    ndarray of float64, shape (d, d)

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    G = per_example_gradients(A, y, as_vector(x, "x"))
    return minibatch_covariance(G, 1)


def _svag_l(ell) -> tuple[float, float, float]:
    a, c = svag_coefficients(ell)
    return float(ell), a, c
