"""The population problem of dropout matrix completion, convex in ``X``: a weighted trace norm.

Over factorizations of width ``m >= rank``, the population-regularized completion objective
(:func:`~ibcore.dropout.minimize_completion_objective`) has the minimum value of

    f(X) = (1/n) ||P_Omega(M - X)||_F^2 + (lam/m) ||D_r^(1/2) X D_c^(1/2)||_*^2,

``D_r = diag(pi_r)``, ``D_c = diag(pi_c)``, ``lam = p/(1-p)`` with ``p`` the drop probability.
:func:`~ibcore.dropout.minimize_weighted_trace_norm_completion` solves it by proximal gradient (no
factorization), :func:`~.weighted_trace_norm_certificate` checks the optimality conditions of a
candidate ``X`` (built on :func:`ibcore.sensing.tangent_projection`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sensing import tangent_projection
from ..validation import as_matrix, positive_float, positive_int
from .landscape import _shrink
from .regularizer import _distribution, dropout_lambda, nuclear_norm

__all__ = [
    "TraceNormCertificate",
    "TraceNormSolution",
    "minimize_weighted_trace_norm_completion",
    "weighted_trace_norm_certificate",
]


@dataclass(frozen=True)
class TraceNormSolution:
    """The solution ``X`` of :func:`~.minimize_weighted_trace_norm_completion` and the objective
    ``value`` at it."""

    X: np.ndarray
    value: float


def minimize_weighted_trace_norm_completion(M, mask, p, m, *, pi_r=None, pi_c=None,
                                            tol: float = 1e-14, max_iter: int = 100000):
    """Solve the convex problem behind
    :func:`~ibcore.dropout.minimize_completion_objective` directly in ``X``.

    Minimizes ``f(X) = (1/n) ||P_Omega(M - X)||_F^2 + (lam/m) ||D_r^(1/2) X D_c^(1/2)||_*^2``
    (``lam = p/(1-p)``, ``D_r = diag(pi_r)``, ``D_c = diag(pi_c)``, ``pi_r``/``pi_c`` defaulting
    to the row/column frequencies of ``Omega`` as there), which by the induced-regularizer
    theorem has the same minimum value as the factorized ``F_pop`` of width ``m >= rank``.
    Method: proximal gradient in ``Y = D_r^(1/2) X D_c^(1/2)`` with step ``1/L`` (``L`` the
    Lipschitz constant of the smooth part); the proximal map of ``c ||Y||_*^2`` shrinks the
    singular values by a common amount and thresholds them (the same scalar problem as
    :func:`~ibcore.dropout.dropout_optimum`). No factorization and no line search: an
    independent solver.
    Stops when an iterate moves by less than ``tol`` (Frobenius) and returns a
    :class:`~ibcore.dropout.TraceNormSolution` ``(X, value)``.

    Parameters
    ----------
    M : array_like, shape (d1, d2)
        The matrix (read on ``mask`` only).
    mask : ndarray of bool, shape (d1, d2)
        The observed entries ``Omega``.
    p : float
        Drop probability in ``[0, 1)``.
    m : int
        Width of the factorized problem it stands for.
    pi_r, pi_c : array_like, optional
        Row and column distributions (default: the frequencies of ``Omega``).
    tol : float
        Stopping tolerance on the Frobenius step.
    max_iter : int
        Maximum number of proximal steps.

    Returns
    -------
    TraceNormSolution
        ``X`` and ``value = f(X)``.

    Raises
    ------
    ValueError
        If ``mask`` is not boolean of the shape of ``M``, is empty or misses a row or column.
    """
    M, mask, n, pi_r, pi_c = _weighted_problem(M, mask, pi_r, pi_c)
    m = positive_int(m, "m")
    lam = dropout_lambda(p)
    tol = positive_float(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    sm, sn = np.sqrt(pi_r)[:, None], np.sqrt(pi_c)[None, :]
    Mo = np.where(mask, M, 0.0)
    c = lam / m
    # 1 / L with L = (2/n) max over Omega of 1 / (pi_r[a] pi_c[b])
    step = n / 2.0 * np.min(np.outer(pi_r, pi_c)[mask])

    def f(X):
        return float(np.sum((mask * (Mo - X)) ** 2) / n
                     + c * nuclear_norm(sm * X * sn) ** 2)

    Y = np.zeros(M.shape)
    for _ in range(max_iter):
        X = Y / (sm * sn)
        G = -2.0 / n * mask * (Mo - X) / (sm * sn)  # gradient in Y
        W, s, Yt = np.linalg.svd(Y - step * G, full_matrices=False)
        x, _, _ = _shrink(s, 2.0 * step * c, s.size)  # prox of step * c ||.||_*^2
        Y_new = (W * x) @ Yt
        if np.linalg.norm(Y_new - Y) < tol:
            Y = Y_new
            break
        Y = Y_new
    X = Y / (sm * sn)
    return TraceNormSolution(X=X, value=f(X))


def _weighted_problem(M, mask, pi_r, pi_c):
    """Validated ``(M, mask, n, pi_r, pi_c)`` of the weighted trace-norm problem (``pi_r``,
    ``pi_c`` default to the row/column frequencies of the observed entries)."""
    M = as_matrix(M, "M")
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != M.shape:
        raise ValueError(f"mask must be a boolean array of shape {M.shape}, got "
                         f"{mask.dtype} of shape {mask.shape}")
    n = int(mask.sum())
    if n == 0:
        raise ValueError("mask must mark at least one observed entry")
    pi_r = mask.sum(axis=1) / n if pi_r is None else _distribution(pi_r, "pi_r", M.shape[0])
    pi_c = mask.sum(axis=0) / n if pi_c is None else _distribution(pi_c, "pi_c", M.shape[1])
    if np.any(pi_r <= 0) or np.any(pi_c <= 0):
        raise ValueError("every row and column must be observed (or pass positive pi_r and pi_c)")
    return M, mask, n, pi_r, pi_c


@dataclass(frozen=True)
class TraceNormCertificate:
    """The optimality conditions of the weighted trace-norm completion problem at a point ``X``
    (:func:`~ibcore.dropout.weighted_trace_norm_certificate`).

    Attributes
    ----------
    stationarity : float
        ``max |P_T(G) - s U V^T| / s``: 0 at a minimizer.
    dual_norm : float
        ``||P_T^perp(G)||_op / s``: at most 1 at a minimizer.
    scale : float
        ``s = (lam/m) ||Y||_*``, the size of the subgradient.
    rank : int
        The rank ``r`` of ``Y`` used for the tangent space.
    """

    stationarity: float
    dual_norm: float
    scale: float
    rank: int


def weighted_trace_norm_certificate(X, M, mask, p, m, *, pi_r=None, pi_c=None,
                                    rank: int | None = None) -> TraceNormCertificate:
    """Check that ``X`` minimizes the convex problem of
    :func:`~ibcore.dropout.minimize_weighted_trace_norm_completion`.

    In ``Y = D_r^(1/2) X D_c^(1/2)`` the problem is
    ``min (1/n) ||P_Omega(M - X)||_F^2 + c ||Y||_*^2`` with ``c = lam/m``, ``lam = p/(1-p)``.
    With ``Y = U S V^T`` (rank ``r``), the tangent space ``T`` of the rank-``r`` matrices at
    ``Y`` (:func:`ibcore.sensing.tangent_projection`) and
    ``G = D_r^(-1/2) P_Omega(M - X) D_c^(-1/2) / n`` (minus half the gradient of the data term
    in ``Y``), ``X`` is a minimizer iff ``G = s (U V^T + W)`` with ``s = c ||Y||_*``,
    ``P_T(W) = 0`` and ``||W||_op <= 1``, that is iff ``P_T(G) = s U V^T`` and
    ``||P_T^perp(G)||_op <= s``. The function returns both sides, relative to ``s``.

    Parameters
    ----------
    X : array_like, shape (d1, d2)
        The candidate minimizer (not zero).
    M : array_like, shape (d1, d2)
        The matrix to complete (its entries off ``mask`` are unused).
    mask : ndarray of bool, shape (d1, d2)
        The observed entries ``Omega``.
    p : float
        Drop probability in ``(0, 1)``.
    m : int
        Width of the factorization (``>= 1``).
    pi_r, pi_c : array_like, optional
        Row and column distributions (default: the frequencies of ``Omega``).
    rank : int, optional
        Rank of the tangent space (default: the singular values of ``Y`` above
        ``1e-6 sigma_1``, for a solver's approximate minimizer).

    Returns
    -------
    TraceNormCertificate
        ``stationarity`` (0 at a minimizer), ``dual_norm`` (<= 1 at a minimizer), ``scale``,
        ``rank``.

    Raises
    ------
    ValueError
        If the shapes do not match, ``mask`` is not boolean or misses a row or column, ``X``
        is zero (``0`` is a minimizer iff ``||G||_op = 0``) or ``rank`` exceeds
        ``min(d1, d2)``.
    """
    M, mask, n, pi_r, pi_c = _weighted_problem(M, mask, pi_r, pi_c)
    X = as_matrix(X, "X")
    if X.shape != M.shape:
        raise ValueError(f"X must have the shape {M.shape} of M, got {X.shape}")
    m = positive_int(m, "m")
    c = dropout_lambda(p) / m
    w = np.sqrt(pi_r)[:, None] * np.sqrt(pi_c)[None, :]
    U, sv, Vt = np.linalg.svd(w * X)
    if sv[0] == 0.0:
        raise ValueError("X is zero: the tangent space is undefined (check ||G||_op = 0 instead)")
    r = int(np.sum(sv > 1e-6 * sv[0])) if rank is None else positive_int(rank, "rank")
    if r > sv.size:
        raise ValueError(f"rank={r} exceeds min(d1, d2) = {sv.size}")
    U, V = U[:, :r], Vt[:r].T
    G = np.where(mask, M - X, 0.0) / n / w
    scale = c * float(np.sum(sv[:r]))
    tangent = tangent_projection(G, U, V)
    return TraceNormCertificate(
        stationarity=float(np.abs(tangent - scale * U @ V.T).max() / scale),
        dual_norm=float(np.linalg.norm(G - tangent, 2) / scale),
        scale=scale,
        rank=r,
    )
