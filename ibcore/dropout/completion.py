"""Dropout for matrix completion: the sample and the population regularizers.

On a given sample ``Omega`` of entries the expected dropout objective has the **sample**
regularizer ``lam (1/n) sum_{(a,b) in Omega} sum_j U_aj^2 V_bj^2``
(:func:`~.completion_dropout_objective`, :func:`~.minimize_dropout_completion`,
:func:`~ibcore.dropout.projected_dropout_completion`, the rank-one closed form
:func:`~.rank_one_dropout_completion`); its expectation over entries drawn from ``pi_r x pi_c`` is
the **population** regularizer, a weighted nuclear norm squared
(:func:`~.minimize_completion_objective`; the equivalent convex problem in ``X`` is solved and
certified in :mod:`ibcore.dropout.trace_norm`).
``p`` is the drop probability, ``lam = p/(1-p)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..descent import iterate
from ..validation import (
    as_matrix,
    as_vector,
    positive_float,
    positive_int,
)
from .regularizer import (
    DropoutLoss,
    FactorizationFit,
    _distribution,
    _factors,
    dropout_lambda,
)

__all__ = [
    "CompletionOptimum",
    "completion_dropout_objective",
    "completion_risk",
    "minimize_completion_objective",
    "minimize_dropout_completion",
    "projected_dropout_completion",
    "rank_one_dropout_completion",
]


def minimize_completion_objective(M, mask, p, U0, V0, *, pi_r=None, pi_c=None):
    """Minimize the **population-regularized** completion objective from given factors (L-BFGS).

    With ``Omega`` the ``n`` entries where ``mask`` is true and ``lam = p/(1-p)``, minimizes

        F_pop(U, V) = (1/n) sum_{(a,b) in Omega} (M_ab - (U V^T)_ab)^2
                      + lam sum_j ||sqrt(pi_r) * u_j||^2 ||sqrt(pi_c) * v_j||^2 ,

    the (unhalved, example-averaged) plain loss on ``Omega`` plus the *population* regularizer
    ``R = E R_hat`` of :func:`~ibcore.dropout.completion_regularizer`, the
    expectation of the sample regularizer over entries drawn from ``pi_r x pi_c`` (the object
    analysed by Arora et al., 2021). This is
    **not** the expected dropout objective on the fixed set ``Omega``: that one has the sample
    regularizer ``lam (1/n) sum_{(a,b) in Omega} sum_j U_aj^2 V_bj^2`` (see
    :func:`~.completion_dropout_objective` and :func:`~.minimize_dropout_completion`); the two agree
    in expectation when the entries are drawn i.i.d. from ``pi_r x pi_c``, not for a given
    ``Omega``. ``pi_r`` and ``pi_c`` default to the row and column frequencies of ``Omega``
    (``mask.sum(1) / n`` and ``mask.sum(0) / n``). The run starts at ``(U0, V0)`` (width ``m`` =
    their number of columns), uses the analytic gradient and is deterministic. Entries of ``M``
    outside ``Omega`` are never read. Returns a
    :class:`~ibcore.dropout.FactorizationFit` ``(U, V, value)``. For width
    ``m >= rank``, its minimum value is that of the convex problem solved by
    :func:`~ibcore.dropout.minimize_weighted_trace_norm_completion`.

    Parameters
    ----------
    M : array_like, shape (d2, d0)
        The matrix (read on ``mask`` only).
    mask : ndarray of bool, shape (d2, d0)
        The observed entries ``Omega``.
    p : float
        Drop probability in ``[0, 1)``.
    U0, V0 : array_like, shape (d2, m) and (d0, m)
        Starting factors.
    pi_r, pi_c : array_like, optional
        Row and column distributions (default: the frequencies of ``Omega``).

    Returns
    -------
    FactorizationFit

    Raises
    ------
    ValueError
        If ``mask`` is not boolean of the shape of ``M``, is empty, or the factors or
        distributions do not match.
    """
    from scipy.optimize import minimize

    M = as_matrix(M, "M")
    U0, V0 = _factors(U0, V0)
    lam = dropout_lambda(p)
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != M.shape:
        raise ValueError(f"mask must be a boolean array of shape {M.shape}, got "
                         f"{mask.dtype} of shape {mask.shape}")
    if (U0.shape[0], V0.shape[0]) != M.shape:
        raise ValueError(f"U0 and V0 must have {M.shape[0]} and {M.shape[1]} rows to match M, "
                         f"got {U0.shape} and {V0.shape}")
    n = int(mask.sum())
    if n == 0:
        raise ValueError("mask must mark at least one observed entry")
    pi_r = mask.sum(axis=1) / n if pi_r is None else _distribution(pi_r, "pi_r", M.shape[0])
    pi_c = mask.sum(axis=0) / n if pi_c is None else _distribution(pi_c, "pi_c", M.shape[1])
    Mo = np.where(mask, M, 0.0)
    (d2, r), d0 = U0.shape, V0.shape[0]

    def fun(z):
        U = z[: d2 * r].reshape(d2, r)
        V = z[d2 * r :].reshape(d0, r)
        R = mask * (Mo - U @ V.T)
        wu, wv = pi_r @ U**2, pi_c @ V**2
        f = np.sum(R**2) / n + lam * np.sum(wu * wv)
        gU = -2.0 / n * R @ V + 2.0 * lam * pi_r[:, None] * U * wv
        gV = -2.0 / n * R.T @ U + 2.0 * lam * pi_c[:, None] * V * wu
        return f, np.concatenate([gU.ravel(), gV.ravel()])

    res = minimize(fun, np.concatenate([U0.ravel(), V0.ravel()]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-13, "ftol": 1e-16})
    return FactorizationFit(U=res.x[: d2 * r].reshape(d2, r), V=res.x[d2 * r :].reshape(d0, r),
                            value=float(res.fun))


def _entry_indices(entries, shape) -> np.ndarray:
    """Validate ``entries``: an (n, 2) integer array of (row, column) indices of a ``shape``
    matrix."""
    if isinstance(entries, (str, bytes)) or entries is None:
        raise TypeError(f"entries must be an (n, 2) integer array, got {type(entries).__name__}")
    E = np.asarray(entries)
    if E.dtype == bool or not np.issubdtype(E.dtype, np.integer):
        raise TypeError(f"entries must be an (n, 2) array of integer indices, got dtype {E.dtype}")
    if E.ndim != 2 or E.shape[1] != 2 or E.shape[0] == 0:
        raise ValueError(f"entries must have shape (n, 2) with n >= 1, got {E.shape}")
    if np.any(E < 0) or np.any(E[:, 0] >= shape[0]) or np.any(E[:, 1] >= shape[1]):
        raise ValueError(f"entries must be valid (row, column) indices of a {shape} matrix")
    return E.astype(np.int64)


def _entries(entries, values, shape) -> tuple[np.ndarray, np.ndarray]:
    """Validated sampled entries ``(E, y)``: ``E`` (n, 2) indices, ``y`` (n,) observed values."""
    E = _entry_indices(entries, shape)
    return E, as_vector(values, "values", length=E.shape[0])


def _entry_stats(E, y, shape):
    """Counts ``N_ab``, sums ``S_ab = sum of values at (a, b)`` and ``sum y^2`` of the sample."""
    N = np.zeros(shape)
    S = np.zeros(shape)
    np.add.at(N, (E[:, 0], E[:, 1]), 1.0)
    np.add.at(S, (E[:, 0], E[:, 1]), y)
    return N, S, float(np.sum(y**2))


def completion_dropout_objective(U, V, entries, values, p) -> DropoutLoss:
    """Expected dropout objective of matrix completion on a **given** sample of entries.

    Each sampled entry ``(a_i, b_i)`` with value ``y_i`` is one example with its own mask; by the
    master identity (module docstring, ``c_ij = U[a_i, j] V[b_i, j]``)

        E_B (1/n) sum_i (y_i - sum_j B_ij U_{a_i j} V_{b_i j})^2
            = (1/n) sum_i (y_i - (U V^T)_{a_i b_i})^2
              + lam (1/n) sum_i sum_j U_{a_i j}^2 V_{b_i j}^2,

    the plain loss plus the **sample** regularizer (``lam = p/(1-p)``). ``entries`` is an (n, 2)
    integer array of (row, column) indices (repeats allowed), ``values`` the n observed values.
    Returns ``DropoutLoss(plain, regularizer, per_example_regularizer)``.

    Parameters
    ----------
    U, V : array_like, shape (d2, m) and (d0, m)
        Factors of ``U V^T`` (same number of columns ``m``).
    entries : array_like of int, shape (n, 2)
        Sampled (row, column) indices.
    values : array_like, shape (n,)
        Observed values.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    DropoutLoss

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    U, V = _factors(U, V)
    E, y = _entries(entries, values, (U.shape[0], V.shape[0]))
    lam = dropout_lambda(p)
    Ua, Vb = U[E[:, 0]], V[E[:, 1]]
    per_ex = lam * np.sum(Ua**2 * Vb**2, axis=1)
    return DropoutLoss(
        plain=float(np.mean((y - np.sum(Ua * Vb, axis=1)) ** 2)),
        regularizer=float(np.mean(per_ex)),
        per_example_regularizer=per_ex,
    )


def _dropout_completion_fun(N, S, yy, n, lam, d2, d0, m):
    """Value and gradient of :func:`~ibcore.dropout.completion_dropout_objective` in dense form:
    ``(1/n) (sum y^2 - 2 <S, X> + <N, X*X>) + (lam/n) sum_j (U^2)^T N (V^2)``."""

    def fun(z):
        U = z[: d2 * m].reshape(d2, m)
        V = z[d2 * m :].reshape(d0, m)
        X = U @ V.T
        NV2, NtU2 = N @ V**2, N.T @ U**2
        f = (yy - 2.0 * np.sum(S * X) + np.sum(N * X**2)) / n + lam / n * np.sum(U**2 * NV2)
        GX = 2.0 / n * (N * X - S)
        gU = GX @ V + 2.0 * lam / n * U * NV2
        gV = GX.T @ U + 2.0 * lam / n * V * NtU2
        return f, np.concatenate([gU.ravel(), gV.ravel()])

    return fun


def minimize_dropout_completion(entries, values, p, U0, V0):
    """Minimize :func:`~.completion_dropout_objective` (the expected dropout objective on the given
    sample of entries) from the factors ``(U0, V0)`` by L-BFGS with the analytic gradient.

    The sample regularizer only involves the sampled pairs, so it is not a weighted nuclear norm
    of ``U V^T`` and the problem has no convex reformulation; the run is deterministic and
    returns a local minimizer as a :class:`~ibcore.dropout.FactorizationFit`
    ``(U, V, value)`` (compare :func:`~ibcore.dropout.rank_one_dropout_completion`).

    Parameters
    ----------
    entries : array_like of int, shape (n, 2)
        Sampled (row, column) indices.
    values : array_like, shape (n,)
        Observed values at the entries.
    p : float
        Drop probability in ``[0, 1)``.
    U0, V0 : array_like, shape (d2, m) and (d0, m)
        Starting factors (their rows index the rows and columns of the matrix).

    Returns
    -------
    FactorizationFit

    Raises
    ------
    ValueError
        If an entry is out of range of the factors or ``p`` is out of range.
    """
    from scipy.optimize import minimize

    U0, V0 = _factors(U0, V0)
    (d2, m), d0 = U0.shape, V0.shape[0]
    E, y = _entries(entries, values, (d2, d0))
    lam = dropout_lambda(p)
    N, S, yy = _entry_stats(E, y, (d2, d0))
    fun = _dropout_completion_fun(N, S, yy, E.shape[0], lam, d2, d0, m)
    res = minimize(fun, np.concatenate([U0.ravel(), V0.ravel()]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-13, "ftol": 1e-16})
    return FactorizationFit(U=res.x[: d2 * m].reshape(d2, m), V=res.x[d2 * m :].reshape(d0, m),
                            value=float(res.fun))


def _connected(E, shape) -> bool:
    """Is the bipartite row-column graph of the entries connected and spanning all rows and
    columns?"""
    d2, d0 = shape
    parent = list(range(d2 + d0))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in E:
        parent[find(int(a))] = find(d2 + int(b))
    return len({find(i) for i in range(d2 + d0)}) == 1


@dataclass(frozen=True)
class CompletionOptimum:
    """The global minimum of :func:`~.rank_one_dropout_completion`: ``product = U V^T`` of every
    global minimizer and the minimum ``value`` of the objective."""

    product: np.ndarray
    value: float


def rank_one_dropout_completion(M, entries, p, m, *, rtol: float = 1e-10) -> CompletionOptimum:
    """Closed-form global minimum of the expected dropout objective of completion, rank-one ``M``.

    For ``M`` of rank one and ``n`` sampled entries ``Omega`` (values ``M_ab``) whose bipartite
    row-column graph is connected and touches every row and column, with ``M_ab != 0`` on
    ``Omega``: every example obeys ``(M_ab - sum_j c_j)^2 + lam sum_j c_j^2 >=
    lam M_ab^2 / (m + lam)`` (Cauchy-Schwarz, then a scalar minimization), with equality iff
    ``c_j = U_aj V_bj = M_ab / (m + lam)`` for all ``j``. The all-columns-equal factorization of
    ``M`` attains this on every entry, and connectivity then forces ``U V^T = m M / (m + lam)``
    for every global minimizer when ``p > 0`` (at ``p = 0`` it is one of many minimizers).

    Parameters
    ----------
    M : array_like, shape (d1, d2)
        Rank-one matrix to complete.
    entries : array_like of int, shape (n, 2)
        Sampled (row, column) indices.
    p : float
        Drop probability in ``[0, 1)``.
    m : int
        Width of the factorization.
    rtol : float
        Relative tolerance on ``s_2 / s_1`` for rank one.

    Returns
    -------
    CompletionOptimum
        ``product = m M / (m + lam)`` and ``value = lam / (m + lam) * mean_{Omega} M_ab^2``
        (repeated entries counted with multiplicity).

    Raises
    ------
    ValueError
        If ``M`` is not of rank one, if the graph is not connected and spanning, or if ``M``
        vanishes on a sampled entry.
    """
    M = as_matrix(M, "M")
    m = positive_int(m, "m")
    lam = dropout_lambda(p)
    E = _entry_indices(entries, M.shape)
    s = np.linalg.svd(M, compute_uv=False)
    if s[0] == 0 or (s.size > 1 and s[1] > rtol * s[0]):
        raise ValueError(f"M must have rank one (s_2 / s_1 <= {rtol}), got singular values "
                         f"{np.round(s[:3], 6)}")
    if not _connected(E, M.shape):
        raise ValueError("entries must form a connected row-column graph touching every row and "
                         "column; otherwise the unobserved entries are not determined")
    vals = M[E[:, 0], E[:, 1]]
    if np.any(vals == 0):
        raise ValueError("M must be non-zero on every sampled entry")
    return CompletionOptimum(product=m / (m + lam) * M,
                             value=float(lam / (m + lam) * np.mean(vals**2)))


def projected_dropout_completion(entries, values, p, U0, V0, *, max_norm, eta, n_steps: int):
    """Dropout training of matrix completion with a **max-norm** constraint (projected GD).

    Full-batch gradient descent on :func:`~.completion_dropout_objective` (the expected dropout
    objective of the sample), each step followed by the projection of every row of ``U`` and of
    ``V`` onto the ball ``||row||^2 <= max_norm`` (the max-norm constraint used with dropout by
    Srivastava et al., 2014, and assumed by the capacity bound of Arora et al., 2021): step
    ``eta``, ``n_steps`` steps from ``(U0, V0)`` (projected first), on
    :func:`ibcore.descent.iterate` with the objective as the monitored quantity.

    Parameters
    ----------
    entries : array_like of int, shape (n, 2)
        Sampled (row, column) indices.
    values : array_like, shape (n,)
        Observed values.
    p : float
        Drop probability in ``[0, 1)``.
    U0, V0 : array_like, shape (d2, m) and (d0, m)
        Starting factors.
    max_norm : float
        Bound on the squared norm of every row of ``U`` and ``V`` (> 0).
    eta : float
        Step size (> 0).
    n_steps : int
        Number of projected steps.

    Returns
    -------
    (U, V) : tuple of ndarray
        The factors after ``n_steps`` projected steps.

    Raises
    ------
    ibcore.DivergenceError
        If the objective becomes non-finite or exceeds ``1e12`` times its value at the start
        (lower ``eta``).
    """
    U, V = _factors(U0, V0)
    (d2, m), d0 = U.shape, V.shape[0]
    E, y = _entries(entries, values, (d2, d0))
    lam = dropout_lambda(p)
    max_norm = positive_float(max_norm, "max_norm")
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps")
    N, S, yy = _entry_stats(E, y, (d2, d0))
    fun = _dropout_completion_fun(N, S, yy, E.shape[0], lam, d2, d0, m)
    radius = np.sqrt(max_norm)

    def project(A):
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        return A * np.minimum(1.0, radius / np.maximum(norms, np.finfo(float).tiny))

    grad = {}  # the gradient computed with the objective at the current point

    def measure(z):
        f, grad["z"] = fun(z)
        return f

    def advance(z, _k):
        with np.errstate(over="ignore", invalid="ignore"):  # caught by the divergence test
            z = z - eta * grad["z"]
            return np.concatenate([project(z[: d2 * m].reshape(d2, m)).ravel(),
                                   project(z[d2 * m :].reshape(d0, m)).ravel()])

    z0 = np.concatenate([project(U).ravel(), project(V).ravel()])
    run = iterate(advance, z0, n_steps, measure=measure, checkpoints=[n_steps],
                  quantity="dropout completion objective",
                  hint=f"use a smaller step size than eta = {eta:g}")
    z = run.state
    return z[: d2 * m].reshape(d2, m), z[d2 * m :].reshape(d0, m)


def completion_risk(X, M, pi_r=None, pi_c=None) -> float:
    """Population risk of a completion ``X`` of ``M`` for entries drawn from ``pi_r x pi_c``:
    ``sum_ab pi_r[a] pi_c[b] (M_ab - X_ab)^2`` (uniform ``pi_r``, ``pi_c`` by default: the mean
    squared error over all entries). Add the noise variance for noisy observations.

    Parameters
    ----------
    X : array_like, shape (d1, d2)
        The completion.
    M : array_like, shape (d1, d2)
        The true matrix.
    pi_r, pi_c : array_like, optional
        Row and column distributions (default: uniform).

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    X = as_matrix(X, "X")
    M = as_matrix(M, "M")
    if X.shape != M.shape:
        raise ValueError(f"X must have the shape of M, {M.shape}, got {X.shape}")
    d2, d0 = M.shape
    pi_r = np.full(d2, 1 / d2) if pi_r is None else _distribution(pi_r, "pi_r", d2)
    pi_c = np.full(d0, 1 / d0) if pi_c is None else _distribution(pi_c, "pi_c", d0)
    return float(pi_r @ (M - X) ** 2 @ pi_c)
