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
    """Least-squares slope of ``log y`` against ``log x`` and its standard error.

    Returns ``(slope, stderr)``; ``stderr`` is the usual OLS standard error from the residuals
    (``nan`` with only two points).
    """
    x = as_vector(x, "x")
    y = as_vector(y, "y", length=x.size)
    if x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y need at least two entries, all > 0, for a log-log fit")
    lx, ly = np.log(x), np.log(y)
    A = np.column_stack([lx, np.ones_like(lx)])
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    if x.size == 2:
        return float(coef[0]), float("nan")
    resid = ly - A @ coef
    s2 = float(resid @ resid) / (x.size - 2)
    se = math.sqrt(s2 / float(np.sum((lx - lx.mean()) ** 2)))
    return float(coef[0]), se
