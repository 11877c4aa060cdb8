"""When a run steps and when it is looked at: step-size schedules and checkpoint grids.

A step size is a positive float or a schedule ``eta(k)`` evaluated for ``k = 0, ..., n - 1``
(:func:`step_sizes`). Runs of the course are long (10^4-10^6 steps) and their phenomena spread
over decades of time, so iterates are stored at *checkpoints*: by default about 100 log-spaced
step indices, always with 0 and ``n_steps`` (:func:`log_checkpoints`); :func:`as_checkpoints`
validates a given grid. :mod:`ibcore.descent` re-exports the three (``descent.log_checkpoints``
etc. keep working).
"""

from __future__ import annotations

import numpy as np

from .validation import positive_float, positive_int

__all__ = ["as_checkpoints", "log_checkpoints", "step_sizes"]


def log_checkpoints(n_steps: int, n_points: int = 100) -> np.ndarray:
    """Unique sorted step indices in ``[0, n_steps]``, log-spaced, always with 0 and ``n_steps``.

    The result has at most ``n_points + 1`` entries (fewer when ``n_steps`` is small, since
    log-spaced values round to the same integers).

    Parameters
    ----------
    n_steps : int
        Last step (>= 0).
    n_points : int
        Number of log-spaced points (>= 2).

    Returns
    -------
    ndarray of int64
        Sorted unique step indices.
    """
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    n_points = positive_int(n_points, "n_points", minimum=2)
    if n_steps == 0:
        return np.zeros(1, dtype=np.int64)
    grid = np.rint(np.logspace(0.0, np.log10(n_steps), n_points)).astype(np.int64)
    # 10^log10(n) can round to n +- 1 beyond ~1e15 steps: the last grid point IS n_steps
    grid = np.minimum(grid, n_steps)
    grid[-1] = n_steps
    return np.unique(np.concatenate([[0], grid, [n_steps]]))


def as_checkpoints(checkpoints, n_steps: int) -> np.ndarray:
    """Validate ``checkpoints`` (None -> :func:`log_checkpoints`) as sorted unique int64 in
    ``[0, n_steps]``.

    Parameters
    ----------
    checkpoints : array_like of int or None
        Step indices to record.
    n_steps : int
        Last step (>= 0).

    Returns
    -------
    ndarray of int64

    Raises
    ------
    ValueError, TypeError
        If the array is empty, not 1-D, not integer or out of ``[0, n_steps]``.
    """
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    if checkpoints is None:
        return log_checkpoints(n_steps)
    arr = np.asarray(checkpoints)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"checkpoints must be a non-empty 1-D array of step indices, got shape {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"checkpoints must hold integers (step indices), got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() > n_steps:
        raise ValueError(
            f"checkpoints must lie in [0, n_steps={n_steps}], got range "
            f"[{arr.min()}, {arr.max()}]"
        )
    return np.unique(arr.astype(np.int64))


def step_sizes(eta, n_steps: int) -> float | np.ndarray:
    """Validate a step size: a positive float, or a schedule ``eta(k)`` evaluated for
    ``k = 0, ..., n_steps - 1`` into an array of positive floats.

    Parameters
    ----------
    eta : float or callable
        Step size, or a schedule ``eta(k) -> float``.
    n_steps : int
        Number of steps of the schedule.

    Returns
    -------
    float or ndarray of float64, shape (n_steps,)

    Raises
    ------
    ValueError
        If a step size is not a positive finite float.
    """
    if callable(eta):
        values = np.empty(n_steps)
        for k in range(n_steps):
            values[k] = positive_float(eta(k), f"eta({k}) (the step-size schedule)")
        return values
    return positive_float(eta, "eta")
