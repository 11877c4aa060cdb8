"""The implicit bias of gradient noise: label-noise and mini-batch SGD on the diagonal network
``w = u*u - v*v`` (whose loss ``L = (1/2n) |X w - y|^2`` has ``Tr grad^2 L = (4/n) sum_j |X_j|^2
(u_j^2 + v_j^2)``), the limit of gradient flow, the limiting label-noise flow on the manifold of
interpolants (Li, Wang & Arora 2022) and SGD with weight decay on a scale-invariant loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..descent import iterate
from ..errors import SolverError
from ..validation import (
    as_array,
    as_matrix,
    as_symmetric,
    as_vector,
    check_rng,
    positive_float,
    positive_int,
)
from .gradient_noise import _checkpoints
from .paths import PathEnsemble, _run_ensemble, _start

__all__ = [
    "DiagonalFlowLimit",
    "LabelNoisePath",
    "SphereRun",
    "diagonal_flow_limit",
    "diagonal_hessian_trace",
    "diagonal_sgd_paths",
    "label_noise_flow",
    "sphere_sgd_paths",
]


def _check_diag(X, y, theta0, n_paths: int | None):
    X = as_matrix(X, "X")
    y = as_vector(y, "y", length=X.shape[0])
    d = X.shape[1]
    theta0 = as_array(theta0, "theta0")
    if theta0.ndim == 1:
        if theta0.shape[0] != 2 * d:
            raise ValueError(f"theta0 must have length 2d = {2 * d} (u then v), got "
                             f"{theta0.shape[0]}")
        P = 1 if n_paths is None else positive_int(n_paths, "n_paths")
        theta0 = np.tile(theta0, (P, 1))
    elif theta0.ndim == 2 and theta0.shape[1] == 2 * d:
        if n_paths is not None and positive_int(n_paths, "n_paths") != theta0.shape[0]:
            raise ValueError(f"n_paths={n_paths} does not match theta0's {theta0.shape[0]} rows")
    else:
        raise ValueError(f"theta0 must have shape (2d,) or (n_paths, 2d) with 2d = {2 * d}, "
                         f"got {theta0.shape}")
    return X, y, theta0.copy()


def diagonal_hessian_trace(X, theta) -> np.ndarray:
    """``Tr grad^2 L(u, v)`` of ``L = (1/2n) |X (u*u - v*v) - y|^2``, exactly, at any ``theta``.

    ``= (4/n) sum_j |X_j|^2 (u_j^2 + v_j^2)``: the residual terms ``+-(2/n) sum_i r_i x_ij`` of
    the ``u``- and ``v``-blocks cancel, so the value does not depend on ``y``. ``theta`` is
    ``(2d,)`` or ``(..., 2d)``; returns a float array of the leading shape.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Design matrix.
    theta : array_like, shape (2d,) or (..., 2d)
        Parameters ``(u, v)``.

    Returns
    -------
    ndarray of float64
        The trace, with the leading shape of ``theta``.

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    X = as_matrix(X, "X")
    theta = as_array(theta, "theta")
    d = X.shape[1]
    if theta.shape[-1] != 2 * d:
        raise ValueError(f"theta must have last dimension 2d = {2 * d}, got {theta.shape}")
    col = np.sum(X * X, axis=0)
    u, v = theta[..., :d], theta[..., d:]
    return 4.0 / X.shape[0] * np.sum(col * (u * u + v * v), axis=-1)


def diagonal_sgd_paths(
    X,
    y,
    theta0,
    eta,
    n_steps: int,
    *,
    seed,
    n_paths: int | None = None,
    batch_size: int | None = None,
    label_noise: float = 0.0,
    checkpoints=None,
) -> PathEnsemble:
    """SGD on the diagonal network ``w = u*u - v*v`` with mini-batch and/or label noise.

    Loss ``L(u, v) = (1/2n) |X (u*u - v*v) - y|^2``. Each step and path: draw a batch of
    ``batch_size`` i.i.d. examples (``None``: the full batch), perturb their labels by
    independent ``N(0, label_noise^2)`` (fresh at every step: label-noise SGD, Blanc et al.
    2020; Damian, Ma & Lee 2021), and step ``u <- u - 2 eta u * g``, ``v <- v + 2 eta v * g``,
    ``g = X_B^T (X_B w - y_B - eps) / |B|``. ``theta0`` is ``(2d,)`` (repeated ``n_paths``
    times) or ``(n_paths, 2d)`` (one start per path, e.g. different initialization scales).
    The ensemble's ``x`` holds ``theta``; ``times`` are ``k eta``. Blow-ups are tested at every
    step (:func:`ibcore.descent.iterate`), so ``diverged_at`` is the first step past the bound.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Design matrix.
    y : array_like, shape (n,)
        Targets.
    theta0 : array_like, shape (2d,) or (n_paths, 2d)
        Start(s) ``(u, v)``.
    eta : float
        Step size.
    n_steps : int
        Number of steps.
    seed : int or numpy.random.Generator
        Keyword-only, required.
    n_paths : int, optional
        Number of paths (default 1 for a single ``theta0``, else its number of rows).
    batch_size : int, optional
        Examples per step (``None``: the full batch).
    label_noise : float
        Standard deviation of the label noise (0: none).
    checkpoints : array_like of int, optional
        Steps to record.

    Returns
    -------
    PathEnsemble
        ``x`` holds ``theta``; ``diverged_at`` per path.

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    X, y, TH = _check_diag(X, y, theta0, n_paths)
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    delta = positive_float(label_noise, "label_noise", allow_zero=True)
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size")
    rng = check_rng(seed)
    with np.errstate(over="ignore", invalid="ignore"):  # judged by the divergence test
        return _run_ensemble(_diagonal_step(X, y, TH, eta, delta, batch_size, rng), TH, n_steps,
                             _checkpoints(checkpoints, n_steps), float(np.abs(y).max()), eta,
                             eta)


def _diagonal_step(X, y, TH, eta, delta, batch_size, rng):
    """The SGD step on ``theta = (u, v)`` (in place), written for few numpy calls per step.

    With ``S = [X^T; -X^T]`` (2d, n): ``X w = (theta * theta) S`` and the update
    ``theta <- theta * (1 - [2 eta g, -2 eta g])`` with ``[g, -g] = r [X, -X] / n``.
    """
    n, d = X.shape
    P = TH.shape[0]
    S = np.ascontiguousarray(np.concatenate([X.T, -X.T], axis=0))  # (2d, n)
    M = np.ascontiguousarray(np.concatenate([X, -X], axis=1))  # (n, 2d)
    Q, GT = np.empty((P, 2 * d)), np.empty((P, 2 * d))
    R, E = np.empty((P, n)), np.empty((P, n))
    Ms = M * (2.0 * eta / n)

    def advance(TH, _k):
        np.multiply(TH, TH, out=Q)
        if batch_size is None:  # full batch: preallocated buffers, no temporaries
            np.dot(Q, S, out=R)
            np.subtract(R, y, out=R)
            if delta > 0:
                rng.standard_normal(out=E)
                np.multiply(E, delta, out=E)
                np.subtract(R, E, out=R)
            np.dot(R, Ms, out=GT)
        else:
            idx = rng.integers(0, n, size=(P, batch_size))
            Xb = X[idx]  # (P, B, d)
            W = Q[:, :d] - Q[:, d:]
            Rb = np.einsum("pbd,pd->pb", Xb, W) - y[idx]
            if delta > 0:
                Rb -= delta * rng.standard_normal((P, batch_size))
            g = np.einsum("pb,pbd->pd", Rb, Xb) * (2.0 * eta / batch_size)
            GT[:, :d], GT[:, d:] = g, -g
        np.multiply(TH, GT, out=Q)
        TH -= Q
        return TH

    return advance


@dataclass(frozen=True)
class DiagonalFlowLimit:
    """The limit of :func:`~.diagonal_flow_limit`: the interpolant ``w`` (d,) and the parameters
    ``theta = (u, v)`` (2d,) with ``u, v > 0``, ``u v = alpha^2`` and ``u*u - v*v = w``."""

    w: np.ndarray
    theta: np.ndarray


@dataclass(frozen=True)
class LabelNoisePath:
    """The limiting label-noise flow of :func:`~.label_noise_flow` at the times ``tau`` (k,):
    ``theta`` (k, 2d) on the manifold of interpolants."""

    tau: np.ndarray
    theta: np.ndarray


def diagonal_flow_limit(X, y, scales, *, tol: float = 1e-12,
                        max_iter: int = 200) -> DiagonalFlowLimit:
    """The limit of gradient flow on ``w = u*u - v*v`` from coordinate-wise scales ``alpha_j``.

    The flow from ``u_j(0) = v_j(0) = alpha_j`` keeps ``u_j v_j = alpha_j^2 =: p_j`` and
    ``log(u_j / v_j)`` in the row space of ``X``, so its limit (if it interpolates) is
    ``w = 2 p * sinh(X^T mu)`` with ``X w = y``: the minimizer of the weighted potential
    ``sum_j p_j q(w_j / p_j) / 4`` of :mod:`ibcore.interpolants` over interpolants
    (``alpha_j = alpha`` gives :func:`ibcore.interpolants.min_ralpha_interpolant`). Solved by
    damped Newton on the convex dual ``sum_j 2 p_j cosh((X^T mu)_j) - y^T mu``. ``scales`` is a
    float (all coordinates) or ``(d,)``; returns a :class:`~ibcore.sde.DiagonalFlowLimit`
    ``(w, theta)`` with ``theta = (u, v)``, ``u, v > 0``, ``u v = p``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Wide design matrix (``n < d``, full row rank).
    y : array_like, shape (n,)
        Targets.
    scales : float or array_like, shape (d,)
        Initial scales ``alpha_j > 0``.
    tol : float
        Newton stops at ``||X w - y|| <= tol (1 + ||y||)``.
    max_iter : int
        Maximum number of Newton steps.

    Returns
    -------
    DiagonalFlowLimit

    Raises
    ------
    ValueError
        If ``X`` is not wide with full row rank or a scale is not positive.
    ibcore.SolverError
        If Newton does not converge in ``max_iter`` steps.
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y", length=X.shape[0])
    n, d = X.shape
    if n >= d or np.linalg.matrix_rank(X) < n:
        raise ValueError("X must be wide (n < d) with full row rank, so that X w = y is solvable")
    a = np.broadcast_to(as_array(scales, "scales"), (d,)).astype(float)
    if np.any(a <= 0):
        raise ValueError("scales must be positive")
    tol = positive_float(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    p = a * a
    mu = np.zeros(n)
    target = tol * (1.0 + np.linalg.norm(y))
    for _ in range(max_iter):
        z = X.T @ mu
        w = 2.0 * p * np.sinh(z)
        grad = X @ w - y
        if np.linalg.norm(grad) <= target:
            break
        step = np.linalg.solve((X * (2.0 * p * np.cosh(z))) @ X.T, grad)
        # the dual is exponential in z = X^T mu: change z by at most 2 per step
        mu = mu - min(1.0, 2.0 / max(float(np.abs(X.T @ step).max()), 1e-300)) * step
    else:
        raise SolverError(f"diagonal_flow_limit: damped Newton did not converge in {max_iter} "
                          "steps; raise max_iter or tol")
    big = np.sqrt((np.sqrt(w * w + 4.0 * p * p) + np.abs(w)) / 2.0)
    small = p / big  # no cancellation: u v = p to rounding
    pos = w >= 0
    theta = np.concatenate([np.where(pos, big, small), np.where(pos, small, big)])
    return DiagonalFlowLimit(w=w, theta=theta)


def label_noise_flow(X, y, theta0, times, *, label_noise, rtol: float = 1e-9,
                     atol: float = 1e-12) -> LabelNoisePath:
    """Limiting flow of label-noise SGD on the manifold of interpolants of the diagonal network.

    On ``Gamma = {theta : X (u*u - v*v) = y}`` the label noise has covariance
    ``(delta^2 / n) grad^2 L`` per unit step, and in the time ``tau = k eta^2`` (``eta -> 0``)
    label-noise SGD follows (Li, Wang & Arora 2022, label-noise case)

        d theta / d tau = -(delta^2 / 4n) P_T(theta) grad Tr grad^2 L(theta),

    with ``P_T`` the orthogonal projection onto the tangent space of ``Gamma`` and
    ``grad Tr grad^2 L = (8/n) (|X_j|^2 u_j, |X_j|^2 v_j)``. ``theta0`` must lie on ``Gamma``
    (relative residual below 1e-6). Integrated by :func:`scipy.integrate.solve_ivp` (LSODA,
    ``rtol``, ``atol``); returns a :class:`~.LabelNoisePath` ``(tau, theta)`` with ``theta``
    (k, 2d).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Design matrix.
    y : array_like, shape (n,)
        Targets.
    theta0 : array_like, shape (2d,)
        Start ``(u, v)`` on ``Gamma``.
    times : array_like, shape (k,)
        Times ``tau`` (non-negative, increasing).
    label_noise : float
        Standard deviation ``delta`` of the label noise.
    rtol, atol : float
        Tolerances of the ODE solver.

    Returns
    -------
    LabelNoisePath

    Raises
    ------
    ValueError
        If ``theta0`` is not on ``Gamma`` or the times are invalid.
    ibcore.errors.SolverError
        If the ODE solver fails.
    """
    from scipy.integrate import solve_ivp

    X, y, th = _check_diag(X, y, theta0, None)
    th = th[0]
    n, d = X.shape
    delta = positive_float(label_noise, "label_noise")
    tau = as_vector(times, "times")
    if tau[0] < 0 or np.any(np.diff(tau) <= 0):
        raise ValueError("times must be non-negative and strictly increasing")
    w0 = th[:d] ** 2 - th[d:] ** 2
    if np.linalg.norm(X @ w0 - y) > 1e-6 * max(1.0, np.linalg.norm(y)):
        raise ValueError("theta0 must be an interpolant (|X w - y| <= 1e-6 |y|): start on the "
                         "manifold, e.g. from the limit of gradient descent")
    col = np.sum(X * X, axis=0)
    speed = delta**2 / (4.0 * n)

    def rhs(_t, z):
        u, v = z[:d], z[d:]
        grad = 8.0 / n * np.concatenate([col * u, col * v])
        J = np.hstack([X * (2 * u), X * (-2 * v)])  # Jacobian of the constraint, (n, 2d)
        coef = np.linalg.solve(J @ J.T, J @ grad)
        return -speed * (grad - J.T @ coef)

    if tau[-1] == 0.0:
        return LabelNoisePath(tau=tau.copy(), theta=th[None].copy())
    sol = solve_ivp(rhs, (0.0, float(tau[-1])), th, method="LSODA", t_eval=tau, rtol=rtol,
                    atol=atol)
    if not sol.success:
        raise SolverError(f"label_noise_flow: the ODE solver (LSODA) failed: {sol.message}; "
                          "loosen rtol/atol or shorten the horizon")
    return LabelNoisePath(tau=tau.copy(), theta=sol.y.T.copy())


@dataclass(frozen=True)
class SphereRun:
    """SGD with weight decay on a scale-invariant loss: ``norm`` (n_steps + 1, P) and ``angle``
    (n_steps, P), the angle (radians) between consecutive directions ``w_k / |w_k|``."""

    norm: np.ndarray
    angle: np.ndarray


def sphere_sgd_paths(Q, w0, eta, weight_decay, noise_std, n_steps: int, *, n_paths: int,
                     seed) -> SphereRun:
    """SGD with weight decay on the scale-invariant losses ``L_xi(w) = u^T Q u / 2 + s xi^T u``.

    ``u = w / |w|``, ``xi ~ N(0, I)`` fresh at every step, ``s = noise_std`` (``E L_xi`` is the
    Rayleigh quotient ``u^T Q u / 2``). The stochastic gradient ``(I - u u^T)(Q u + s xi) / |w|``
    is orthogonal to ``w``, so ``w <- (1 - eta mu) w - eta g`` obeys the norm recursion of the
    normalization chapter with ``G^2 = |(I - u u^T)(Q u + s xi)|^2``. Vectorized over paths,
    on :func:`ibcore.descent.iterate`: a norm that becomes 0, non-finite or larger than ``1e12``
    times its start raises :class:`ibcore.DivergenceError`.

    Parameters
    ----------
    Q : array_like, shape (d, d)
        Symmetric matrix of the Rayleigh quotient.
    w0 : array_like, shape (d,) or (n_paths, d)
        Start(s), non-zero.
    eta : float
        Step size.
    weight_decay : float
        Weight decay ``mu >= 0``.
    noise_std : float
        Gradient noise level ``s >= 0``.
    n_steps : int
        Number of steps.
    n_paths : int
        Number of paths.
    seed : int or numpy.random.Generator
        Keyword-only, required.

    Returns
    -------
    SphereRun

    Raises
    ------
    ibcore.errors.DivergenceError
        If a norm becomes 0, non-finite or exceeds ``1e12`` times its start.
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    Q = as_symmetric(Q, "Q")
    d = Q.shape[0]
    eta = positive_float(eta, "eta")
    mu = positive_float(weight_decay, "weight_decay")
    if eta * mu >= 1:
        raise ValueError(f"eta * weight_decay must be < 1, got {eta * mu:g}")
    s = positive_float(noise_std, "noise_std", allow_zero=True)
    n_steps = positive_int(n_steps, "n_steps")
    n_paths = positive_int(n_paths, "n_paths")
    rng = check_rng(seed)
    W = _start(w0, d, n_paths, "w0")
    if np.any(np.linalg.norm(W, axis=1) == 0):
        raise ValueError("w0 must be non-zero (the loss is scale-invariant)")
    r = np.linalg.norm(W, axis=1)

    def measure(state):
        r = state[1]
        return float(np.max(r)) if np.all(r > 0) else np.inf  # a zero norm is a breakdown too

    def advance(state, _k):
        W, r, Uk, _ = state
        g = Uk @ Q
        if s > 0:
            g = g + s * rng.standard_normal((n_paths, d))
        g -= np.sum(g * Uk, axis=1, keepdims=True) * Uk
        W = (1.0 - eta * mu) * W - eta * g / r[:, None]
        r = np.linalg.norm(W, axis=1)
        Un = W / r[:, None]
        angle = 2.0 * np.arcsin(np.clip(0.5 * np.linalg.norm(Un - Uk, axis=1), 0.0, 1.0))
        return W, r, Un, angle

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # judged by measure
        run = iterate(advance, (W, r, W / r[:, None], np.zeros(n_paths)), n_steps,
                      measure=measure, checkpoints=np.arange(n_steps + 1),
                      record=lambda st: {"norm": st[1], "angle": st[3]}, quantity="max norm |w|",
                      hint="use a smaller step size eta (or a larger weight decay)")
    norms, angles = run.records["norm"], run.records["angle"][1:]
    return SphereRun(norm=norms, angle=angles)
