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

    Parameters
    ----------
    a : array_like
        The value to check (strings, bytes and None are refused).
    name : str
        The argument's name in error messages.
    ndim : int, optional
        The required number of dimensions; any when omitted.
    allow_empty : bool, default False
        Accept an array with no entries.
    allow_nonfinite : bool, default False
        Accept NaN/inf (for iterates of a diverging run that are evaluated as they are).

    Returns
    -------
    ndarray of float64
        ``numpy.asarray(a, dtype=float64)``.

    Raises
    ------
    TypeError
        If ``a`` is not numeric.
    ValueError
        If ``a`` has the wrong number of dimensions, is empty (unless ``allow_empty``) or holds
        NaN/inf (unless ``allow_nonfinite``).
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
    """A finite, non-empty 2-D float64 array (:func:`as_array` with ``ndim=2``).

    Parameters
    ----------
    a : array_like
        The value to check.
    name : str
        The argument's name in error messages.

    Returns
    -------
    ndarray of float64, shape (m, k)

    Raises
    ------
    TypeError
        If ``a`` is not numeric.
    ValueError
        If ``a`` is not 2-D, is empty or holds NaN/inf.
    """
    return as_array(a, name, ndim=2)


def as_vector(a, name: str, *, length: int | None = None) -> np.ndarray:
    """A finite, non-empty 1-D float64 array, optionally of a given length.

    Parameters
    ----------
    a : array_like
        The value to check.
    name : str
        The argument's name in error messages.
    length : int, optional
        The required length.

    Returns
    -------
    ndarray of float64, shape (k,)

    Raises
    ------
    TypeError
        If ``a`` is not numeric.
    ValueError
        If ``a`` is not 1-D, is empty, holds NaN/inf or has another length than ``length``.
    """
    v = as_array(a, name, ndim=1)
    if length is not None and v.shape[0] != length:
        raise ValueError(f"{name} must have length {length} to match, got length {v.shape[0]}")
    return v


def real_scalar(x, name: str) -> float:
    """A finite real number as a Python float.

    Parameters
    ----------
    x : float
        A Python or numpy real number (booleans are refused).
    name : str
        The argument's name in error messages.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``x`` is a bool or not a real number (a 0-d array is refused too).
    ValueError
        If ``x`` is NaN or infinite.
    """
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    return x


_real_scalar = real_scalar  # the former private name, still used by older modules


def positive_float(x, name: str, *, allow_zero: bool = False) -> float:
    """A finite real number ``> 0`` (or ``>= 0`` with ``allow_zero``) as a Python float.

    Parameters
    ----------
    x : float
        The value to check (:func:`real_scalar`).
    name : str
        The argument's name in error messages.
    allow_zero : bool, default False
        Accept 0.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``x`` is a bool or not a real number.
    ValueError
        If ``x`` is not finite, negative, or 0 without ``allow_zero``.
    """
    x = _real_scalar(x, name)
    if x < 0 or (x == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {x}")
    return x


def positive_int(n, name: str, *, minimum: int = 1) -> int:
    """An integer ``>= minimum`` as a Python int (booleans are rejected).

    Parameters
    ----------
    n : int
        A Python or numpy integer.
    name : str
        The argument's name in error messages.
    minimum : int, default 1
        The smallest accepted value (0 for a number of steps).

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``n`` is a bool or not an integer (``2.0`` is refused).
    ValueError
        If ``n < minimum``.
    """
    if isinstance(n, bool) or not isinstance(n, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}")
    n = int(n)
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return n


def probability(p, name: str, *, closed_right: bool = False) -> float:
    """A probability in ``[0, 1)`` (or ``[0, 1]`` with ``closed_right``) as a Python float.

    Parameters
    ----------
    p : float
        The value to check (:func:`real_scalar`).
    name : str
        The argument's name in error messages.
    closed_right : bool, default False
        Accept 1.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``p`` is a bool or not a real number.
    ValueError
        If ``p`` is not finite or outside the interval.
    """
    p = _real_scalar(p, name)
    if p < 0 or p > 1 or (p == 1 and not closed_right):
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {p}")
    return p


def check_blowup_factor(blowup_factor, name: str = "blowup_factor") -> float:
    """A divergence factor: a finite real number ``>= 1``.

    The bound of the divergence policy of :func:`ibcore.descent.iterate` is
    ``blowup_factor * max(1, |value at step 0|)``.

    Parameters
    ----------
    blowup_factor : float
        The value to check.
    name : str, default "blowup_factor"
        The argument's name in error messages.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``blowup_factor`` is a bool or not a real number.
    ValueError
        If it is not finite or ``< 1``.
    """
    blowup_factor = positive_float(blowup_factor, name)
    if blowup_factor < 1:
        raise ValueError(f"{name} must be >= 1, got {blowup_factor}")
    return blowup_factor


def check_rng(seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed or an existing generator.

    ``None`` is refused on purpose: every experiment of the course is seeded. An int gives
    ``numpy.random.default_rng(seed)``; a generator is returned as it is (not copied: drawing from
    the result advances the caller's generator).

    Parameters
    ----------
    seed : int or numpy.random.Generator
        A non-negative integer, or a generator.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        If ``seed`` is None, a bool, or neither an integer nor a ``Generator``.
    ValueError
        If ``seed`` is a negative integer.
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

    Parameters
    ----------
    y : array_like, shape (n,)
        The labels.
    name : str, default "y"
        The argument's name in error messages.
    n : int, optional
        The required number of labels (the rows of the data).

    Returns
    -------
    ndarray of float64, shape (n,)

    Raises
    ------
    TypeError
        If ``y`` is not numeric.
    ValueError
        If ``y`` is not a finite non-empty vector, has another length than ``n``, or holds a
        value other than -1 and +1.
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

    Parameters
    ----------
    a : array_like, shape (d,) or (k, d)
        One point or a batch.
    name : str
        The argument's name in error messages.
    d : int, optional
        The required number of coordinates.

    Returns
    -------
    A : ndarray of float64, shape (k, d)
    single : bool
        Whether ``a`` was one point.

    Raises
    ------
    TypeError
        If ``a`` is not numeric.
    ValueError
        If ``a`` is not 1-D or 2-D, is empty, holds NaN/inf, or has another number of coordinates
        than ``d``.
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
    """A time or a grid of times: a finite, non-negative 1-D float64 array (a scalar gives one).

    The order is not checked (callers that need increasing times check it).

    Parameters
    ----------
    t : float or array_like, shape (k,)
        The times.
    name : str, default "times"
        The argument's name in error messages.

    Returns
    -------
    ndarray of float64, shape (k,)
        ``(1,)`` for a scalar.

    Raises
    ------
    TypeError
        If ``t`` is None, a string or not numeric.
    ValueError
        If ``t`` is empty, has more than one dimension, holds NaN/inf or a negative time.
    """
    if isinstance(t, (str, bytes)) or t is None:
        raise TypeError(f"{name} must be a number or a 1-D array of times, got {type(t).__name__}")
    arr = as_array(np.atleast_1d(as_array(t, name, allow_empty=True)), name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a number or a 1-D array of times, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got a minimum of {arr.min():.6g}")
    return arr


def as_symmetric(M, name: str, *, d: int | None = None) -> np.ndarray:
    """A square float64 matrix, symmetric to :data:`SYMMETRY_RTOL`, returned as ``(M + M^T)/2``.

    The test is ``max |M - M^T| <= SYMMETRY_RTOL * max(1, max |M|)``.

    Parameters
    ----------
    M : array_like, shape (d, d)
        The matrix.
    name : str
        The argument's name in error messages.
    d : int, optional
        The required size.

    Returns
    -------
    ndarray of float64, shape (d, d)
        The symmetrized matrix.

    Raises
    ------
    TypeError
        If ``M`` is not numeric.
    ValueError
        If ``M`` is not a finite non-empty square matrix (of size ``d``), or not symmetric.
    """
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

    Returns ``(M, lam, V)``: the symmetrized matrix (:func:`as_symmetric`) and its
    eigen-decomposition ``M = V diag(lam) V^T`` with ascending ``lam``; eigenvalues within rounding
    of 0 (``>= -SYMMETRY_RTOL * max(1, max|lam|)``) are clipped to 0. ``definite`` requires
    ``lam_min > 0`` (before clipping).

    Parameters
    ----------
    M : array_like, shape (d, d)
        The matrix.
    name : str
        The argument's name in error messages.
    d : int, optional
        The required size.
    definite : bool, default False
        Require positive definiteness.

    Returns
    -------
    M : ndarray, shape (d, d)
        The symmetrized matrix.
    lam : ndarray, shape (d,)
        Its eigenvalues, ascending, clipped at 0.
    V : ndarray, shape (d, d)
        The eigenvectors, as columns.

    Raises
    ------
    TypeError
        If ``M`` is not numeric.
    ValueError
        If ``M`` is not a finite symmetric square matrix (of size ``d``), has an eigenvalue below
        ``-SYMMETRY_RTOL * max(1, max|lam|)``, or (with ``definite``) one ``<= 0``.
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
    """``value`` if it is one of ``choices`` (strings).

    Parameters
    ----------
    value : str
        The choice to check.
    name : str
        The argument's name in error messages.
    choices : iterable of str
        The accepted values.

    Returns
    -------
    str
        ``value``.

    Raises
    ------
    TypeError
        If ``value`` is not a string.
    ValueError
        If ``value`` is not in ``choices`` (the message lists them).
    """
    choices = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
