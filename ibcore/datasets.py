"""Seeded synthetic data sets of the course.

Every generator takes a keyword-only ``seed`` (an int or a ``numpy.random.Generator``) and
returns float64 arrays; labels of binary problems are in ``{-1, +1}``.
"""

from __future__ import annotations

import numpy as np

from .validation import as_vector, check_rng, positive_float, positive_int

__all__ = ["circle_data", "multiclass_clouds", "separable_clouds", "sparse_regression"]


def separable_clouds(n: int = 100, *, seed, center=(2.0, 2.0), scale=1.0, min_margin=0.0):
    """Two Gaussian clouds ``N(+center, scale^2 I)`` (label +1) and ``N(-center, ...)`` (-1).

    The classic illustration of the theorem (n = 100, centre (2, 2), unit variance), made
    separable through the origin by redrawing the (rare) points with
    ``y_i <x_i, center> / ||center|| <= min_margin``.

    Parameters
    ----------
    n : int
        Number of points (``>= 2``): ``n // 2`` of class +1 (first), the rest of class -1.
    seed : int or numpy.random.Generator
        Keyword-only and required.
    center : array_like, shape (d,)
        The mean ``c`` of the +1 class; its dimension is the dimension of the data.
    scale : float
        Standard deviation of every coordinate (``> 0``).
    min_margin : float
        Every point has ``y_i <x_i, c> / ||c|| > min_margin`` (``>= 0``; 0: separable through
        the origin by the direction of ``c``).

    Returns
    -------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
        Labels in ``{-1, +1}``.

    Raises
    ------
    TypeError
        If ``seed`` is missing or not an int / Generator.
    ValueError
        For ``n < 2``, a non-positive ``scale``, a negative ``min_margin``, or one so large
        (``>= ||c|| + 3 scale``) that almost every draw would be rejected.
    """
    n = positive_int(n, "n", minimum=2)
    rng = check_rng(seed)
    c = as_vector(center, "center")
    scale = positive_float(scale, "scale")
    min_margin = positive_float(min_margin, "min_margin", allow_zero=True)
    if not np.linalg.norm(c) > 0:
        raise ValueError("center must be non-zero (else the clouds N(+c), N(-c) coincide)")
    if min_margin >= np.linalg.norm(c) + 3 * scale:
        raise ValueError("min_margin is so large that almost every draw would be rejected")
    u = c / np.linalg.norm(c)
    half = n // 2
    y = np.concatenate([np.ones(half), -np.ones(n - half)])
    X = np.empty((n, c.size))
    for i in range(n):
        while True:
            x = y[i] * c + scale * rng.standard_normal(c.size)
            if y[i] * (x @ u) > min_margin:
                X[i] = x
                break
    return X, y


def multiclass_clouds(
    n: int = 90, n_classes: int = 3, *, seed, radius: float = 3.0, scale: float = 1.0
):
    """``K`` Gaussian clouds ``N(c_k, scale^2 I)`` in 2-D, centres ``c_k`` on a circle.

    ``c_k = radius (cos 2 pi k / K, sin 2 pi k / K)``; points not classified correctly by
    ``argmax_k <c_k, x>`` are redrawn, so the classes are separable by a linear multiclass
    classifier without intercepts.

    Parameters
    ----------
    n : int
        Number of points requested (``>= n_classes``); ``n // n_classes`` are drawn per class.
    n_classes : int
        ``K >= 2``.
    seed : int or numpy.random.Generator
        Keyword-only and required.
    radius : float
        Distance of the centres from the origin (``> 0``).
    scale : float
        Standard deviation of every coordinate (``> 0``).

    Returns
    -------
    X : ndarray, shape (K * (n // K), 2)
    labels : ndarray of int, shape (K * (n // K),)
        Class indices ``0, ..., K - 1`` in blocks (class 0 first); ``argmax_k <c_k, x_i>`` is
        ``labels[i]`` for every point.

    Raises
    ------
    TypeError
        If ``seed`` is missing or not an int / Generator.
    ValueError
        For ``n_classes < 2``, ``n < n_classes`` or a non-positive ``radius`` / ``scale``.
    """
    n_classes = positive_int(n_classes, "n_classes", minimum=2)
    n = positive_int(n, "n", minimum=n_classes)
    rng = check_rng(seed)
    radius = positive_float(radius, "radius")
    scale = positive_float(scale, "scale")
    ang = 2 * np.pi * np.arange(n_classes) / n_classes
    C = radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    per = n // n_classes
    labels = np.repeat(np.arange(n_classes), per)
    X = np.empty((labels.size, 2))
    for i, k in enumerate(labels):
        while True:
            x = C[k] + scale * rng.standard_normal(2)
            if int(np.argmax(C @ x)) == k:
                X[i] = x
                break
    return X, labels


def circle_data(n: int, *, frequency: int = 3, seed) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on the unit circle at sorted random angles ``phi``, labels
    ``sign(sin(frequency * phi))``.

    The angles are i.i.d. uniform on ``[0, 2 pi)``, sorted; a label is ``+1`` where
    ``sin(frequency * phi) > 0`` and ``-1`` otherwise. Separable by a bias-free two-layer ReLU
    network of width ``>= 2 * frequency`` (no two points share a ray).

    Parameters
    ----------
    n : int
        Number of points (``>= 2``).
    frequency : int
        Number of label periods around the circle (``>= 1``).
    seed : int or numpy.random.Generator
        Keyword-only and required.

    Returns
    -------
    X : ndarray, shape (n, 2)
        ``(cos phi, sin phi)``, in increasing ``phi``.
    y : ndarray, shape (n,)
        Labels in ``{-1, +1}``.

    Raises
    ------
    TypeError
        If ``seed`` is missing or not an int / Generator.
    ValueError
        For ``n < 2`` or ``frequency < 1``.
    """
    n = positive_int(n, "n", minimum=2)
    frequency = positive_int(frequency, "frequency")
    rng = check_rng(seed)
    phi = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
    y = np.where(np.sin(frequency * phi) > 0, 1.0, -1.0)
    return np.stack([np.cos(phi), np.sin(phi)], axis=1), y


def sparse_regression(n: int, d: int, k: int, *, seed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sparse-recovery problem: Gaussian ``X`` (n, d), ``k``-sparse ``w_star``, ``y = X w_star``.

    ``X`` has i.i.d. ``N(0, 1)`` entries; the support of ``w_star`` is ``k`` coordinates drawn
    without replacement, its non-zero entries have random signs and magnitudes uniform in
    ``[1, 2]``; the targets are noise-free.

    Parameters
    ----------
    n, d : int
        Number of measurements and dimension, ``n < d`` (an underdetermined problem).
    k : int
        Sparsity, ``1 <= k <= n``.
    seed : int or numpy.random.Generator
        Keyword-only and required.

    Returns
    -------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
        ``X @ w_star``.
    w_star : ndarray, shape (d,)
        The ``k``-sparse truth.

    Raises
    ------
    TypeError
        If ``seed`` is missing or not an int / Generator.
    ValueError
        Unless ``1 <= k <= n < d``.
    """
    n = positive_int(n, "n")
    d = positive_int(d, "d")
    k = positive_int(k, "k")
    if not k <= n < d:
        raise ValueError(f"need k <= n < d for a sparse-recovery problem, got k={k}, n={n}, d={d}")
    rng = check_rng(seed)
    X = rng.standard_normal((n, d))
    w_star = np.zeros(d)
    support = rng.choice(d, k, replace=False)
    w_star[support] = rng.choice([-1.0, 1.0], k) * rng.uniform(1.0, 2.0, k)
    return X, X @ w_star, w_star
