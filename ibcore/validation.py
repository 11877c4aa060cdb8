"""Argument checks shared by the public functions of ``ibcore``.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, bad value)
with a message that names the argument and says how to fix it. The helpers return the validated
value converted to the canonical type (float64 arrays, Python floats/ints), so callers write::

    X = as_matrix(X, "X")
    eta = positive_float(eta, "eta")
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_array",
    "as_matrix",
    "as_vector",
    "check_rng",
    "positive_float",
    "positive_int",
    "probability",
]


def as_array(
    a,
    name: str,
    *,
    ndim: int | None = None,
    allow_empty: bool = False,
    allow_nonfinite: bool = False,
) -> np.ndarray:
    """Return ``a`` as a finite float64 array, checking its number of dimensions.

    Raises ``TypeError`` if ``a`` is not numeric and ``ValueError`` if it has the wrong number
    of dimensions, is empty (unless ``allow_empty``) or holds NaN/inf (unless
    ``allow_nonfinite``, for iterates of a diverging run that are evaluated as they are).
    """
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}")
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from exc
    if ndim is not None and arr.ndim != ndim:
        shape_word = {0: "a scalar", 1: "a 1-D vector", 2: "a 2-D matrix"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"{name} must be {shape_word}, got an array of shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty (shape {arr.shape})")
    if not allow_nonfinite and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); pass finite numbers")
    return arr


def as_matrix(a, name: str) -> np.ndarray:
    """A finite, non-empty 2-D float64 array."""
    return as_array(a, name, ndim=2)


def as_vector(a, name: str, *, length: int | None = None) -> np.ndarray:
    """A finite, non-empty 1-D float64 array, optionally of a given length."""
    v = as_array(a, name, ndim=1)
    if length is not None and v.shape[0] != length:
        raise ValueError(f"{name} must have length {length} to match, got length {v.shape[0]}")
    return v


def _real_scalar(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    return x


def positive_float(x, name: str, *, allow_zero: bool = False) -> float:
    """A finite real number > 0 (or >= 0 with ``allow_zero``)."""
    x = _real_scalar(x, name)
    if x < 0 or (x == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {x}")
    return x


def positive_int(n, name: str, *, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (booleans are rejected)."""
    if isinstance(n, bool) or not isinstance(n, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}")
    n = int(n)
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return n


def probability(p, name: str, *, closed_right: bool = False) -> float:
    """A probability in [0, 1) (or [0, 1] with ``closed_right``)."""
    p = _real_scalar(p, name)
    if p < 0 or p > 1 or (p == 1 and not closed_right):
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {p}")
    return p


def check_rng(seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed or an existing generator.

    ``None`` is refused on purpose: every experiment of the course is seeded.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise TypeError(
            "seed must be an int or a numpy.random.Generator (experiments are always seeded), "
            f"got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return np.random.default_rng(int(seed))
