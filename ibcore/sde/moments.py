"""Exact first two moments of SGD and of its canonical SDE on linear models.

The linear model ``theta <- theta - eta (H theta - b + xi)`` with constant noise covariance
``Sigma`` (:func:`~ibcore.sde.quadratic_moments`, stationary covariances solving ``C = (I - eta H) C
(I - eta H) + eta^2 Sigma`` and ``H C + C H = eta Sigma``), and least squares with mini-batch
noise, whose state-dependent covariance still closes the recursion of the first two moments
(:func:`~.least_squares_moments`, SGD and SVAG, on :func:`ibcore.descent.iterate`) and the linear
ODE of the SDE's moments (:func:`~ibcore.sde.least_squares_sde_moments`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..descent import iterate
from ..errors import DivergenceError
from ..validation import (
    as_psd,
    as_symmetric,
    as_vector,
    positive_float,
    positive_int,
)
from .gradient_noise import BLOWUP_FACTOR, _check_ls, _checkpoints, _svag_l, minibatch_factor

__all__ = [
    "Moments",
    "least_squares_moments",
    "least_squares_sde_moments",
    "quadratic_moments",
    "sde_stationary_covariance",
    "sgd_stationary_covariance",
]


def _step_size(eta, lam_max: float, *, name: str = "eta") -> float:
    eta = positive_float(eta, name)
    if lam_max > 0 and eta * lam_max >= 2.0:
        raise ValueError(
            f"{name} = {eta:g} is not stable: SGD on this quadratic needs 0 < {name} < "
            f"2/λ_max = {2.0 / lam_max:.6g}"
        )
    return eta


def _check_H_Sigma_eta(H, Sigma, eta):
    H = as_symmetric(H, "H")
    lam, V = np.linalg.eigh(H)
    if lam[0] <= 0:
        raise ValueError(
            f"H must be positive definite (a strict minimum), its smallest eigenvalue is "
            f"{lam[0]:.3g}"
        )
    Sigma, _, _ = as_psd(Sigma, "Sigma", d=H.shape[0])
    eta = _step_size(eta, float(lam[-1]))
    return lam, V, Sigma, eta


def _geometric(rho: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``sum_{l<k} rho^l`` elementwise, stable near ``rho = 1`` (``k`` broadcasts)."""
    rho, k = np.broadcast_arrays(np.asarray(rho, float), np.asarray(k, float))
    out = np.empty(rho.shape)
    one = rho == 1.0
    pos = (rho > 0) & ~one
    out[one] = k[one]
    out[pos] = -np.expm1(k[pos] * np.log(rho[pos])) / (1.0 - rho[pos])
    rest = ~(one | pos)
    out[rest] = (1.0 - rho[rest] ** k[rest]) / (1.0 - rho[rest])
    return out


def _relax(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(1 - exp(-s t)) / s`` elementwise with the limit ``t`` at ``s = 0``."""
    s, t = np.broadcast_arrays(np.asarray(s, float), np.asarray(t, float))
    out = np.empty(s.shape)
    zero = s == 0.0
    out[zero] = t[zero]
    out[~zero] = -np.expm1(-s[~zero] * t[~zero]) / s[~zero]
    return out


def sgd_stationary_covariance(H, Sigma, eta) -> np.ndarray:
    """Exact stationary covariance of ``theta <- theta - eta (H theta + xi)``, ``Cov xi = Sigma``.

    Solves ``C = (I - eta H) C (I - eta H) + eta^2 Sigma``: in the eigenbasis ``H = V diag(l) V^T``,
    ``C~_ij = eta Sigma~_ij / (l_i + l_j - eta l_i l_j)`` with ``Sigma~ = V^T Sigma V``. Needs
    ``H`` symmetric positive definite and ``0 < eta < 2 / l_max`` (else no stationary law).

    Parameters
    ----------
    H : array_like, shape (d, d)
        Symmetric positive definite Hessian (no stationary law otherwise).
    Sigma : array_like, shape (d, d)
        Noise covariance (positive semi-definite).
    eta : float
        Step size.

    Returns
    -------
    ndarray of float64, shape (d, d)

    Raises
    ------
    ValueError
        If ``H`` is not positive definite or ``eta >= 2 / l_max``.
    """
    lam, V, Sigma, eta = _check_H_Sigma_eta(H, Sigma, eta)
    S = V.T @ Sigma @ V
    li, lj = lam[:, None], lam[None, :]
    C = eta * S / (li + lj - eta * li * lj)
    C = V @ C @ V.T
    return (C + C.T) / 2


def sde_stationary_covariance(H, Sigma, eta) -> np.ndarray:
    """Stationary covariance of ``dX = -H X dt + sqrt(eta) Sigma^{1/2} dW`` (Ornstein-Uhlenbeck).

    Solves the Lyapunov equation ``H C + C H = eta Sigma``: ``C~_ij = eta Sigma~_ij / (l_i + l_j)``
    in the eigenbasis of ``H``. Same checks as :func:`~.sgd_stationary_covariance` (the SDE is the
    one of SGD with that ``eta``, so ``0 < eta < 2 / l_max`` is required too).

    Parameters
    ----------
    H : array_like, shape (d, d)
        Symmetric positive definite Hessian (no stationary law otherwise).
    Sigma : array_like, shape (d, d)
        Noise covariance (positive semi-definite).
    eta : float
        Step size.

    Returns
    -------
    ndarray of float64, shape (d, d)

    Raises
    ------
    ValueError
        If ``H`` is not positive definite or ``eta >= 2 / l_max``.
    """
    lam, V, Sigma, eta = _check_H_Sigma_eta(H, Sigma, eta)
    S = V.T @ Sigma @ V
    C = eta * S / (lam[:, None] + lam[None, :])
    C = V @ C @ V.T
    return (C + C.T) / 2


@dataclass(frozen=True)
class Moments:
    """Exact first two moments of a process at recorded steps.

    ``steps`` (k,) are iteration indices (SGD, SVAG) or ``None``-free integers for an SDE sampled
    at ``times``; ``times`` (k,) are the matching SDE times (``t = k * eta`` for SGD,
    ``k * eta / l`` for SVAG); ``mean`` (k, d); ``cov`` (k, d, d); ``loss`` (k,) the expected loss
    ``E L(x)`` when the loss is known (least squares), else ``None``; ``diverged_at`` as in
    :mod:`ibcore.descent`.
    """

    steps: np.ndarray
    times: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    loss: np.ndarray | None = None
    diverged_at: int | None = None

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def expected_sq_norm(self, center=None) -> np.ndarray:
        """``E |x - center|^2 = |mean - center|^2 + Tr cov`` at every record (center 0)."""
        c = 0.0 if center is None else as_vector(center, "center", length=self.mean.shape[1])
        return np.sum((self.mean - c) ** 2, axis=1) + np.trace(self.cov, axis1=1, axis2=2)


def quadratic_moments(H, Sigma, eta, x0, steps, *, b=None, process: str = "sgd") -> Moments:
    """Exact mean and covariance of SGD or its SDE on the linear model ``grad = H x - b``.

    ``process="sgd"``: ``x_{k+1} = x_k - eta (H x_k - b + xi_k)`` with i.i.d. noise of
    covariance ``Sigma`` (any law), at the integer ``steps`` ``k``; ``process="sde"``:
    ``dX = -(H X - b) dt + sqrt(eta) Sigma^{1/2} dW`` at times ``t = k eta``. Both start at the
    deterministic ``x0``. In the eigenbasis of ``H`` (eigenvalues ``l_i >= 0``):

        SGD: m_i(k) = (1 - eta l_i)^k x0_i + eta b_i G(1 - eta l_i, k),
             C_ij(k) = eta^2 Sigma_ij G((1 - eta l_i)(1 - eta l_j), k),  G(r, k) = sum_{l<k} r^l;
        SDE: m_i(t) = e^{-l_i t} x0_i + b_i R(l_i, t),
             C_ij(t) = eta Sigma_ij R(l_i + l_j, t),                   R(s, t) = (1 - e^{-st})/s.

    ``H`` must be symmetric positive semi-definite (``H = 0`` is the fixed-gradient example);
    ``eta < 2 / l_max`` is required for ``process="sgd"``.

    Parameters
    ----------
    H : array_like, shape (d, d)
        Symmetric positive semi-definite Hessian.
    Sigma : array_like, shape (d, d)
        Noise covariance (positive semi-definite).
    eta : float
        Step size.
    x0 : array_like, shape (d,)
        Deterministic start.
    steps : array_like of int
        Steps ``k`` (times ``k eta`` for the SDE).
    b : array_like, shape (d,), optional
        Linear term (default 0).
    process : {"sgd", "sde"}
        Which process.

    Returns
    -------
    Moments

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    if process not in ("sgd", "sde"):
        raise ValueError(f"process must be 'sgd' or 'sde', got {process!r}")
    H, lam, V = as_psd(H, "H")
    d = H.shape[0]
    Sigma, _, _ = as_psd(Sigma, "Sigma", d=d)
    eta = _step_size(eta, float(lam[-1])) if process == "sgd" else positive_float(eta, "eta")
    x0 = as_vector(x0, "x0", length=d)
    b = np.zeros(d) if b is None else as_vector(b, "b", length=d)
    k = np.asarray(steps)
    if k.ndim != 1 or k.size == 0 or not np.issubdtype(k.dtype, np.integer) or k.min() < 0:
        raise ValueError("steps must be a non-empty 1-D array of non-negative integers")
    k = k.astype(np.int64)
    z0, bt, S = V.T @ x0, V.T @ b, V.T @ Sigma @ V
    kk = k[:, None].astype(float)
    if process == "sgd":
        r = 1.0 - eta * lam
        mean_t = r[None, :] ** kk * z0 + eta * bt * _geometric(r[None, :], kk)
        rho = (r[:, None] * r[None, :])[None]
        cov_t = eta**2 * S[None] * _geometric(rho, k[:, None, None])
    else:
        t = kk * eta
        mean_t = np.exp(-lam[None, :] * t) * z0 + bt * _relax(lam[None, :], t)
        s = (lam[:, None] + lam[None, :])[None]
        cov_t = eta * S[None] * _relax(s, (k * eta)[:, None, None])
    mean = mean_t @ V.T
    cov = V[None] @ cov_t @ V.T[None]
    cov = (cov + np.swapaxes(cov, 1, 2)) / 2
    return Moments(steps=k, times=k * eta, mean=mean, cov=cov)


def _ls_pieces(A, y):
    m = A.shape[0]
    H = A.T @ A / m
    bbar = A.T @ y / m
    return H, bbar


def _expected_sq_residuals(A, y, mu, C):
    # rho_i = E (a_i^T x - y_i)^2 = a_i^T C a_i + (a_i^T mu - y_i)^2
    return np.einsum("id,de,ie->i", A, C, A) + (A @ mu - y) ** 2


def least_squares_moments(
    A,
    y,
    x0,
    eta,
    n_steps: int,
    *,
    batch_size: int = 1,
    replace: bool = True,
    ell=1,
    checkpoints=None,
) -> Moments:
    """Exact mean and covariance of mini-batch SGD (or SVAG) on least squares, from ``x0``.

    With ``c = minibatch_factor(m, B, replace)``, the batch gradient at ``x`` has mean
    ``g(x) = H x - b`` (``b = A^T y / m``) and covariance ``c (S(x) - g g^T)``, ``S(x) = (1/m)
    sum_i r_i(x)^2 a_i a_i^T``. SVAG with ``l`` multiplies that covariance by ``l`` and the step
    by ``1/l``. Taking expectations over ``x`` (mean ``mu``, covariance ``C``), one step gives
    exactly, with ``h = eta / l``,

        mu' = mu - h g(mu),
        C'  = (I - h H) C (I - h H) + h^2 l c [(1/m) A^T diag(rho) A - H C H - g(mu) g(mu)^T],

    ``rho_i = a_i^T C a_i + r_i(mu)^2``, and ``E L(x) = (1/2m) sum_i rho_i``. No sampling.
    Records at ``checkpoints`` (default: every step); ``times = k h``.

    Parameters
    ----------
    A : array_like, shape (m, d)
        Design matrix.
    y : array_like, shape (m,)
        Targets.
    x0 : array_like, shape (d,)
        Deterministic start.
    eta : float
        Step size (SGD's; SVAG steps ``eta / ell``).
    n_steps : int
        Number of steps.
    batch_size : int
        Batch size ``B``.
    replace : bool
        I.i.d. indices (default) or ``B`` distinct ones.
    ell : float
        SVAG factor (1: SGD).
    checkpoints : array_like of int, optional
        Steps to record (default: every step).

    Returns
    -------
    Moments
        Stopped before the first step whose expected loss exceeds ``1e12 max(1, E L_0)``
        (``diverged_at``).

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    A, y = _check_ls(A, y)
    m, d = A.shape
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    batch_size = positive_int(batch_size, "batch_size")
    c = minibatch_factor(m, batch_size, replace)
    ell, _, _ = _svag_l(ell)
    x0 = as_vector(x0, "x0", length=d)
    ck = np.arange(n_steps + 1) if checkpoints is None else _checkpoints(checkpoints, n_steps)
    H, bbar = _ls_pieces(A, y)
    h = eta / ell
    noise = h * h * ell * c
    P = np.eye(d) - h * H
    cache = {}  # rho at the current moments, computed with the expected loss

    def measure(state):
        mu, C = state
        cache["rho"] = _expected_sq_residuals(A, y, mu, C)
        return cache["rho"].mean() / 2

    def advance(state, _k):
        mu, C = state
        g = H @ mu - bbar
        with np.errstate(over="ignore", invalid="ignore"):
            C_new = P @ C @ P + noise * ((A.T * cache["rho"]) @ A / m - H @ C @ H - np.outer(g, g))
            mu = mu - h * g
            C = (C_new + C_new.T) / 2
        return mu, C

    run = iterate(advance, (x0.copy(), np.zeros((d, d))), n_steps, measure=measure,
                  checkpoints=ck, record=lambda st: {"mean": st[0], "cov": st[1]},
                  blowup_factor=BLOWUP_FACTOR, on_divergence="stop",
                  quantity="expected loss E L(x)", hint="use a smaller step size eta")
    steps = run.steps
    if steps.size == 0:  # diverged before the first checkpoint
        empty = np.empty((0, d))
        return Moments(steps=steps, times=steps * h, mean=empty, cov=np.empty((0, d, d)),
                       loss=np.empty(0), diverged_at=run.diverged_at)
    return Moments(steps=steps, times=steps * h, mean=run.records["mean"],
                   cov=run.records["cov"], loss=run.values, diverged_at=run.diverged_at)


def least_squares_sde_moments(
    A, y, x0, eta, times, *, batch_size: int = 1, replace: bool = True
) -> Moments:
    """Exact mean and covariance of the canonical SDE of mini-batch SGD on least squares.

    ``dX = -g(X) dt + sqrt(eta) (c Sigma(X))^{1/2} dW`` with ``g``, ``c`` and ``Sigma`` as in
    :func:`~ibcore.sde.least_squares_moments`. By Ito's lemma the mean ``mu`` and second moment
    ``M = E X X^T`` solve the *linear* ODE

        dmu/dt = b - H mu,
        dM/dt  = -(H M + M H) + mu b^T + b mu^T + eta c [E S(X) - E g(X) g(X)^T],

    with ``E S = (1/m) A^T diag(rho) A``, ``rho_i = a_i^T M a_i - 2 y_i a_i^T mu + y_i^2`` and
    ``E g g^T = H M H - H mu b^T - b mu^T H + b b^T``. The ODE is solved exactly by the matrix
    exponential of its ``(d^2 + d + 1)``-dimensional generator (use small ``d``). ``times``
    must be non-negative and increasing; ``steps`` in the result count the times.

    Parameters
    ----------
    A : array_like, shape (m, d)
        Design matrix.
    y : array_like, shape (m,)
        Targets.
    x0 : array_like, shape (d,)
        Deterministic start.
    eta : float
        Step size (SGD's; SVAG steps ``eta / ell``).
    times : array_like, shape (k,)
        Non-negative, increasing times.
    batch_size : int
        Batch size ``B``.
    replace : bool
        I.i.d. indices (default) or ``B`` distinct ones.

    Returns
    -------
    Moments

    Raises
    ------
    ibcore.errors.DivergenceError
        If the expected loss overflows.
    ValueError, TypeError
        If an argument has the wrong shape or is out of range, or ``d`` is too large.
    """
    from scipy.linalg import expm

    A, y = _check_ls(A, y)
    m, d = A.shape
    eta = positive_float(eta, "eta")
    batch_size = positive_int(batch_size, "batch_size")
    c = minibatch_factor(m, batch_size, replace)
    x0 = as_vector(x0, "x0", length=d)
    t = as_vector(times, "times")
    if t[0] < 0 or np.any(np.diff(t) < 0):
        raise ValueError("times must be non-negative and non-decreasing")
    if d > 30:
        raise ValueError(f"d = {d} is too large for the exact generator (d^2 + d + 1 states)")
    H, b = _ls_pieces(A, y)
    ec = eta * c

    def rhs(M, mu, s):
        rho = np.einsum("id,de,ie->i", A, M, A) - 2 * y * (A @ mu) + s * y * y
        ES = (A.T * rho) @ A / m
        Egg = H @ M @ H - np.outer(H @ mu, b) - np.outer(b, H @ mu) + s * np.outer(b, b)
        dM = -(H @ M + M @ H) + np.outer(mu, b) + np.outer(b, mu) + ec * (ES - Egg)
        dmu = s * b - H @ mu
        return dM, dmu

    n = d * d + d + 1
    K = np.zeros((n, n))
    for j in range(n):
        z = np.zeros(n)
        z[j] = 1.0
        dM, dmu = rhs(z[: d * d].reshape(d, d), z[d * d : d * d + d], z[-1])
        K[: d * d, j] = dM.ravel()
        K[d * d : d * d + d, j] = dmu
    z = np.concatenate([np.outer(x0, x0).ravel(), x0, [1.0]])
    means, covs, losses = np.empty((t.size, d)), np.empty((t.size, d, d)), np.empty(t.size)
    prev, cache = 0.0, {}
    for i, ti in enumerate(t):
        dt = float(ti - prev)
        if dt > 0:
            if dt not in cache:
                cache[dt] = expm(K * dt)
            z = cache[dt] @ z
        prev = float(ti)
        M, mu = z[: d * d].reshape(d, d), z[d * d : d * d + d]
        C = M - np.outer(mu, mu)
        C = (C + C.T) / 2
        means[i], covs[i] = mu, C
        losses[i] = _expected_sq_residuals(A, y, mu, C).mean() / 2
    if not np.all(np.isfinite(losses)):
        bad = int(np.flatnonzero(~np.isfinite(losses))[0])
        raise DivergenceError(bad, float(losses[bad]), quantity=f"expected loss at t = {t[bad]:g}",
                              hint="the moments overflowed: use a smaller eta or shorter times")
    return Moments(steps=np.arange(t.size), times=t.copy(), mean=means, cov=covs, loss=losses)
