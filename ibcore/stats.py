"""Small statistics used to read experiments: power-law fits.

A rate ``y ~ C x^s`` (kernel movement against width, error against step size, a residual
against time) is read off as the least-squares slope ``s`` of ``log y`` against ``log x``.
"""

from __future__ import annotations

import math

import numpy as np

from .validation import as_vector

__all__ = ["loglog_slope"]


def loglog_slope(x, y) -> tuple[float, float]:
    """Least-squares slope ``s`` of ``log y`` against ``log x`` (the fit ``y ~ C x^s``) and its
    standard error.

    The ordinary least-squares line ``log y = s log x + log C`` (``numpy.linalg.lstsq``); the
    standard error is the usual OLS one,
    ``sqrt(sum resid^2 / (m - 2) / sum (log x - mean log x)^2)``, from the ``m`` residuals.

    Parameters
    ----------
    x : array_like, shape (m,)
        At least two positive abscissae, not all equal.
    y : array_like, shape (m,)
        Positive ordinates.

    Returns
    -------
    slope : float
        ``s``.
    stderr : float
        Its standard error (``nan`` with only two points).

    Raises
    ------
    ValueError
        With fewer than two points, all ``x`` equal, a non-positive entry, mismatched lengths
        or non-finite input.
    TypeError
        If an input is not numeric.
    """
    x = as_vector(x, "x")
    y = as_vector(y, "y", length=x.size)
    if x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y need at least two entries, all > 0, for a log-log fit")
    if np.ptp(np.log(x)) == 0:
        raise ValueError("x must hold at least two different values for a log-log fit")
    lx, ly = np.log(x), np.log(y)
    A = np.column_stack([lx, np.ones_like(lx)])
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    if x.size == 2:
        return float(coef[0]), float("nan")
    resid = ly - A @ coef
    s2 = float(resid @ resid) / (x.size - 2)
    se = math.sqrt(s2 / float(np.sum((lx - lx.mean()) ** 2)))
    return float(coef[0]), se
