"""Equally spaced points on the circle and their Fourier modes.

The functions of this module are documented under :mod:`ibcore.ntk`, which re-exports them.

A kernel that depends only on the angle between two points has a circulant Gram matrix on
``n`` equally spaced circle points (:func:`ibcore.ntk.circle_points`), so the real Fourier modes
(:func:`ibcore.ntk.fourier_basis`) are its eigenvectors and its eigenvalues are a cosine
transform of one row (:func:`ibcore.ntk.circulant_spectrum`).
"""

from __future__ import annotations

import numpy as np

from ..validation import as_symmetric, positive_int

__all__ = ["circle_points", "circulant_spectrum", "fourier_basis"]


def circle_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` equally spaced points on the unit circle: ``phi_j = 2 pi j / n``,
    ``X[j] = (cos phi_j, sin phi_j)``, ``j = 0..n-1``.

    Parameters
    ----------
    n : int
        Number of points, ``>= 3``.

    Returns
    -------
    phi, X : tuple of ndarray of float64, shapes (n,) and (n, 2)
        The angles and the points.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n < 3``.
    """
    n = positive_int(n, "n", minimum=3)
    phi = 2 * np.pi * np.arange(n) / n
    return phi, np.column_stack([np.cos(phi), np.sin(phi)])


def fourier_basis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal real Fourier basis on ``n`` equally spaced circle points ``phi_j = 2 pi j / n``.

    The columns are ``1 / sqrt(n)``, then ``sqrt(2/n) cos(k phi)`` and ``sqrt(2/n) sin(k phi)`` for
    ``k = 1..(n-1)//2``, and for even ``n`` finally ``cos(n/2 phi) / sqrt(n)``: each of unit
    Euclidean norm, so ``F^T F = I``.

    Parameters
    ----------
    n : int
        Number of points, ``>= 3``.

    Returns
    -------
    freq, F : tuple of ndarray, shapes (n,) (int) and (n, n) (float64)
        ``freq[j] = k`` is the frequency of column ``j`` of ``F``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n < 3``.
    """
    n = positive_int(n, "n", minimum=3)
    phi = 2 * np.pi * np.arange(n) / n
    cols, freq = [np.ones(n) / np.sqrt(n)], [0]
    for k in range(1, (n - 1) // 2 + 1):
        cols += [np.cos(k * phi) * np.sqrt(2 / n), np.sin(k * phi) * np.sqrt(2 / n)]
        freq += [k, k]
    if n % 2 == 0:
        cols.append(np.cos(n // 2 * phi) / np.sqrt(n))
        freq.append(n // 2)
    return np.array(freq), np.column_stack(cols)


def circulant_spectrum(K) -> np.ndarray:
    """Eigenvalues ``lambda_k = sum_j K[0, j] cos(2 pi j k / n)``, ``k = 0..n//2``.

    For a kernel that depends only on the angle between points, the Gram matrix on equally
    spaced circle points is circulant and symmetric, so the Fourier modes ``cos(k phi)`` and
    ``sin(k phi)`` (:func:`ibcore.ntk.fourier_basis`) are eigenvectors with eigenvalue
    ``lambda_k`` (not normalised by ``n``: the eigenvalues of ``K`` itself).

    Parameters
    ----------
    K : array_like, shape (n, n)
        A symmetric circulant matrix (``K[i] = roll(K[0], i)`` up to ``1e-10 max|K|``).

    Returns
    -------
    ndarray of float64, shape (n // 2 + 1,)

    Raises
    ------
    TypeError
        If ``K`` is not a numeric array.
    ValueError
        If ``K`` is not a finite, square, symmetric, circulant matrix.
    """
    K = as_symmetric(K, "K")
    n = K.shape[0]
    rolled = np.stack([np.roll(K[0], i) for i in range(n)])
    if not np.allclose(K, rolled, atol=1e-10 * max(1.0, float(np.abs(K).max()))):
        raise ValueError(
            "K must be circulant (a rotation-invariant kernel on equally spaced points)"
        )
    k = np.arange(n // 2 + 1)
    j = np.arange(n)
    return np.cos(2 * np.pi * np.outer(k, j) / n) @ K[0]
