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
    "SYMMETRY_RTOL",
    "as_array",
    "as_batch",
    "as_labels",
    "as_matrix",
    "as_psd",
    "as_symmetric",
    "as_times",
    "as_vector",
    "check_blowup_factor",
    "check_rng",
    "one_of",
    "positive_float",
    "positive_int",
    "probability",
    "real_scalar",
]

#: Relative tolerance of the symmetry and positive-semidefiniteness checks (of the largest entry
#: or eigenvalue, at least 1): rounding in a Gram matrix or Hessian of float64 data stays far
#: below it, a genuinely indefinite input far above.
SYMMETRY_RTOL = 1e-10


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


def real_scalar(x, name: str) -> float:
    """A finite real number as a Python float (booleans and non-numbers are a ``TypeError``)."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    return x


_real_scalar = real_scalar  # the former private name, still used by older modules


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


def check_blowup_factor(blowup_factor, name: str = "blowup_factor") -> float:
    """A divergence factor: a finite real number ``>= 1`` (the bound of the divergence policy of
    :func:`ibcore.descent.iterate` is ``blowup_factor * max(1, |value at step 0|)``)."""
    blowup_factor = positive_float(blowup_factor, name)
    if blowup_factor < 1:
        raise ValueError(f"{name} must be >= 1, got {blowup_factor}")
    return blowup_factor


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


def as_labels(y, name: str = "y", *, n: int | None = None) -> np.ndarray:
    """Binary labels in ``{-1, +1}`` as a float64 vector, optionally one per row of an ``(n, d)``
    data matrix.

    0/1 labels are refused with the hint ``2 * y - 1`` (the course's losses assume ``y = +-1``).
    """
    y = as_vector(y, name)
    if n is not None and y.shape[0] != n:
        raise ValueError(
            f"{name} has {y.shape[0]} labels but the data have {n} rows: give one label per example"
        )
    bad = ~np.isin(y, (-1.0, 1.0))
    if np.any(bad):
        found = np.unique(y[bad])[:5]
        hint = " (0/1 labels? use 2*y - 1)" if np.all(np.isin(y, (0.0, 1.0))) else ""
        raise ValueError(f"labels {name} must be -1 or +1, found {found}{hint}")
    return y


def as_batch(a, name: str, *, d: int | None = None) -> tuple[np.ndarray, bool]:
    """A point ``(d,)`` or a batch of points ``(k, d)`` as a 2-D float64 array.

    Returns ``(A, single)`` with ``A`` of shape ``(k, d)`` (``k = 1`` for a single point) and
    ``single = True`` when the input was one point, so a caller returns ``out[0]`` for it.
    """
    arr = as_array(a, name)
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be a point (d,) or a batch of points (k, d), got shape {arr.shape}"
        )
    single = arr.ndim == 1
    arr = arr[None, :] if single else arr
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name} must have {d} coordinates per point to match, got {arr.shape[1]}")
    return arr, single


def as_times(t, name: str = "times") -> np.ndarray:
    """A time or a grid of times: a finite, non-negative 1-D float64 array (a scalar gives one)."""
    if isinstance(t, (str, bytes)) or t is None:
        raise TypeError(f"{name} must be a number or a 1-D array of times, got {type(t).__name__}")
    arr = as_array(np.atleast_1d(as_array(t, name, allow_empty=True)), name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a number or a 1-D array of times, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got a minimum of {arr.min():.6g}")
    return arr


def as_symmetric(M, name: str, *, d: int | None = None) -> np.ndarray:
    """A square float64 matrix, symmetric to :data:`SYMMETRY_RTOL`, returned as ``(M + M^T)/2``."""
    M = as_matrix(M, name)
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {M.shape}")
    if d is not None and M.shape[0] != d:
        raise ValueError(f"{name} must be {d} x {d} to match, got shape {M.shape}")
    scale = max(1.0, float(np.abs(M).max()))
    if np.abs(M - M.T).max() > SYMMETRY_RTOL * scale:
        raise ValueError(f"{name} must be symmetric (|{name} - {name}^T| > 1e-10 max|{name}|)")
    return (M + M.T) / 2


def as_psd(
    M, name: str, *, d: int | None = None, definite: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A symmetric positive semi-definite (or, with ``definite``, positive definite) matrix.

    Returns ``(M, lam, V)``: the symmetrized matrix and its eigen-decomposition ``M = V diag(lam)
    V^T`` with ascending ``lam``, eigenvalues within rounding of 0 (``>= -SYMMETRY_RTOL *
    max(1, max|lam|)``) clipped to 0. ``definite`` requires ``lam_min > 0``.
    """
    M = as_symmetric(M, name, d=d)
    lam, V = np.linalg.eigh(M)
    scale = max(1.0, float(np.abs(lam).max()))
    if lam[0] < -SYMMETRY_RTOL * scale:
        raise ValueError(
            f"{name} must be positive semi-definite, its smallest eigenvalue is {lam[0]:.3g}"
        )
    if definite and lam[0] <= 0:
        raise ValueError(
            f"{name} must be positive definite, its smallest eigenvalue is {lam[0]:.3g}"
        )
    return M, np.clip(lam, 0.0, None), V


def one_of(value, name: str, choices) -> str:
    """``value`` if it is one of ``choices`` (strings), else a ``ValueError`` listing them."""
    choices = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
