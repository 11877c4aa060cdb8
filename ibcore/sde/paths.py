"""Ensembles of SGD paths on linear models and exact Brownian paths, vectorized over paths.

An ensemble stores ``x`` as ``(k, n_paths, d)`` at the recorded steps; every simulator runs on
:func:`ibcore.descent.iterate` with the rule ``max |x| > 1e12 max(1, |x_0|, scale)`` and
``on_divergence="stop"`` (``diverged_at``, records before it, no NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..descent import iterate
from ..validation import (
    as_array,
    as_matrix,
    as_psd,
    as_vector,
    check_rng,
    positive_float,
    positive_int,
)
from .gradient_noise import BLOWUP_FACTOR, _check_ls, _checkpoints, _svag_l, minibatch_factor
from .moments import _step_size

__all__ = [
    "PathEnsemble",
    "brownian_paths",
    "least_squares_sgd_paths",
    "quadratic_sgd_paths",
]


@dataclass(frozen=True)
class PathEnsemble:
    """``n_paths`` independent runs recorded at ``steps`` (k,): ``x`` is (k, n_paths, d).

    ``times`` (k,) are the SDE times of the records (``k eta`` for SGD, ``k eta / l`` for SVAG,
    ``k eta^2`` is *not* used here). ``diverged_at`` as in :mod:`ibcore.descent`.
    """

    steps: np.ndarray
    times: np.ndarray
    x: np.ndarray
    eta: float
    diverged_at: int | None = None

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def final(self) -> np.ndarray:
        """The last recorded iterates, (n_paths, d)."""
        return self.x[-1]

    def mean(self) -> np.ndarray:
        """Mean over paths at every record, (k, d)."""
        return self.x.mean(axis=1)

    def cov(self) -> np.ndarray:
        """Covariance over paths (divided by ``n_paths - 1``) at every record, (k, d, d)."""
        D = self.x - self.x.mean(axis=1, keepdims=True)
        return np.einsum("kpi,kpj->kij", D, D) / max(1, self.x.shape[1] - 1)


def _run_ensemble(advance, X0, n_steps, checkpoints, scale, time_per_step, eta) -> PathEnsemble:
    """Run ``X_{k+1} = advance(X_k, k)`` on :func:`ibcore.descent.iterate` and record ``X``.

    The monitored quantity is ``max |X| / max(1, max |x_0|, scale)``, so the policy of
    ``iterate`` (a value past ``BLOWUP_FACTOR`` times ``max(1, value_0) = 1``) is the module's
    rule ``max |X| > 1e12 max(1, |x_0|, scale)``; a divergence stops the ensemble and is
    reported as ``diverged_at`` (the records stop before it).
    """
    ref = max(1.0, float(np.max(np.abs(X0))), scale)

    def measure(X):
        return float(np.max(np.abs(X))) / ref

    run = iterate(advance, X0, n_steps, measure=measure, checkpoints=checkpoints,
                  record=lambda X: {"x": X}, blowup_factor=BLOWUP_FACTOR, on_divergence="stop",
                  quantity="max |x| / max(1, |x_0|, scale)", hint="use a smaller step size eta")
    steps = run.steps
    x = run.records.get("x", np.empty((0, *X0.shape)))
    return PathEnsemble(steps=steps, times=steps * time_per_step, x=x, eta=eta,
                        diverged_at=run.diverged_at)


def _start(x0, d: int, n_paths: int, name: str = "x0") -> np.ndarray:
    x0 = as_array(x0, name)
    if x0.ndim == 1:
        if x0.shape[0] != d:
            raise ValueError(f"{name} must have length {d} to match, got length {x0.shape[0]}")
        return np.tile(x0, (n_paths, 1))
    if x0.ndim == 2 and x0.shape == (n_paths, d):
        return x0.copy()
    raise ValueError(f"{name} must have shape ({d},) or (n_paths, {d}) = ({n_paths}, {d}), "
                     f"got {x0.shape}")


def quadratic_sgd_paths(
    H,
    Sigma,
    eta,
    x0,
    n_steps: int,
    *,
    n_paths: int,
    seed,
    b=None,
    noise: str = "gaussian",
    checkpoints=None,
) -> PathEnsemble:
    """``n_paths`` SGD paths ``x <- x - eta (H x - b + xi)`` on the linear model, vectorized.

    ``xi = S z`` with ``S S^T = Sigma`` (eigen square root, so a singular ``Sigma`` is fine) and
    ``z`` standard Gaussian (``noise="gaussian"``) or Rademacher ``+-1`` entries
    (``noise="rademacher"``: same covariance, a different law, cheaper to draw). ``x0`` is
    ``(d,)`` (every path starts there) or ``(n_paths, d)``. Records at ``checkpoints`` (default:
    the first and last step); times ``k eta``.

    Parameters
    ----------
    H : array_like, shape (d, d)
        Symmetric positive semi-definite Hessian.
    Sigma : array_like, shape (d, d)
        Noise covariance (positive semi-definite).
    eta : float
        Step size.
    x0 : array_like, shape (d,) or (n_paths, d)
        Start(s).
    n_steps : int
        Number of steps.
    n_paths : int
        Number of paths.
    seed : int or numpy.random.Generator
        Keyword-only, required.
    b : array_like, shape (d,), optional
        Linear term (default 0).
    noise : {"gaussian", "rademacher"}
        Law of ``z``.
    checkpoints : array_like of int, optional
        Steps to record (default: first and last).

    Returns
    -------
    PathEnsemble

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    H, lam, _ = as_psd(H, "H")
    d = H.shape[0]
    Sigma, sl, sv = as_psd(Sigma, "Sigma", d=d)
    eta = _step_size(eta, float(lam[-1]))
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    n_paths = positive_int(n_paths, "n_paths")
    if noise not in ("gaussian", "rademacher"):
        raise ValueError(f"noise must be 'gaussian' or 'rademacher', got {noise!r}")
    b = np.zeros(d) if b is None else as_vector(b, "b", length=d)
    rng = check_rng(seed)
    X = _start(x0, d, n_paths)
    # x <- x (I - eta H) - z (eta S^T) + eta b: two products and one subtraction per step
    P_mat = np.ascontiguousarray(np.eye(d) - eta * H)
    ST = np.ascontiguousarray(eta * (sv * np.sqrt(sl)).T)  # rows of z @ ST are eta S z
    eb = eta * b
    shift = bool(np.any(eb != 0))
    Z = np.empty((n_paths, d))
    G = np.empty((n_paths, d))
    N = np.empty((n_paths, d))

    def advance(X, _k):
        if noise == "gaussian":
            rng.standard_normal(out=Z)
        else:
            np.multiply(rng.integers(0, 2, size=(n_paths, d), dtype=np.int8), 2.0, out=Z)
            np.subtract(Z, 1.0, out=Z)
        np.matmul(X, P_mat, out=G)
        np.matmul(Z, ST, out=N)
        np.subtract(G, N, out=X)
        if shift:
            X += eb
        return X

    with np.errstate(over="ignore", invalid="ignore"):  # judged by the divergence test
        return _run_ensemble(advance, X, n_steps, _checkpoints(checkpoints, n_steps),
                             math.sqrt(sl[-1]), eta, eta)


def brownian_paths(sigma, x0, times, *, n_paths: int, seed, drift=None) -> PathEnsemble:
    """Exact samples of ``dX = drift dt + sigma dW`` (constant ``drift`` (d,), ``sigma`` (d, q)).

    ``X_t = x0 + drift t + sigma W_t`` with ``W`` a standard ``q``-dimensional Wiener process,
    sampled by independent Gaussian increments between the increasing ``times`` (no
    discretization error). Returns a :class:`~.PathEnsemble` with ``steps`` ``0, 1, ...`` indexing
    ``times`` and ``eta = nan``-free ``0.0``.

    Parameters
    ----------
    sigma : array_like, shape (d, q)
        Diffusion matrix.
    x0 : array_like, shape (d,)
        Start.
    times : array_like, shape (k,)
        Non-negative, increasing times.
    n_paths : int
        Number of paths.
    seed : int or numpy.random.Generator
        Keyword-only, required.
    drift : array_like, shape (d,), optional
        Constant drift (default 0).

    Returns
    -------
    PathEnsemble

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    sigma = as_matrix(sigma, "sigma")
    d, q = sigma.shape
    x0 = as_vector(x0, "x0", length=d)
    t = as_vector(times, "times")
    if t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("times must be non-negative and strictly increasing")
    n_paths = positive_int(n_paths, "n_paths")
    mu = np.zeros(d) if drift is None else as_vector(drift, "drift", length=d)
    rng = check_rng(seed)
    dt = np.diff(np.concatenate([[0.0], t]))
    dW = rng.standard_normal((t.size, n_paths, q)) * np.sqrt(dt)[:, None, None]
    W = np.cumsum(dW, axis=0)
    x = x0 + t[:, None, None] * mu + W @ sigma.T
    return PathEnsemble(steps=np.arange(t.size), times=t.copy(), x=x, eta=0.0)


def least_squares_sgd_paths(
    A,
    y,
    x0,
    eta,
    n_steps: int,
    *,
    n_paths: int,
    seed,
    batch_size: int = 1,
    replace: bool = True,
    ell=1,
    checkpoints=None,
) -> PathEnsemble:
    """``n_paths`` SGD (``ell = 1``) or SVAG (``ell > 1``) paths on least squares, vectorized.

    Each step draws, independently for every path, a batch of ``batch_size`` indices (i.i.d. or
    distinct) and takes ``x <- x - (eta / ell) g_hat`` with ``g_hat`` the batch gradient
    (SGD) or ``a g_1 + c g_2`` over two independent batches (SVAG,
    :func:`~ibcore.sde.svag_coefficients`).
    Records at ``checkpoints`` (SVAG step indices); times ``k eta / ell``.

    Parameters
    ----------
    A : array_like, shape (m, d)
        Design matrix.
    y : array_like, shape (m,)
        Targets.
    x0 : array_like, shape (d,)
        Start of every path.
    eta : float
        Step size (SGD's; SVAG steps ``eta / ell``).
    n_steps : int
        Number of (SVAG) steps.
    n_paths : int
        Number of paths.
    seed : int or numpy.random.Generator
        Keyword-only, required.
    batch_size : int
        Batch size ``B``.
    replace : bool
        I.i.d. indices (default) or ``B`` distinct ones.
    ell : float
        SVAG factor (1: SGD).
    checkpoints : array_like of int, optional
        Steps to record.

    Returns
    -------
    PathEnsemble
        With ``diverged_at`` for the paths that blew up.

    Raises
    ------
    ValueError, TypeError
        If an argument has the wrong shape or is out of range.
    """
    A, y = _check_ls(A, y)
    m, d = A.shape
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    n_paths = positive_int(n_paths, "n_paths")
    batch_size = positive_int(batch_size, "batch_size")
    minibatch_factor(m, batch_size, replace)  # validates replace and the batch size
    ell, a, c = _svag_l(ell)
    rng = check_rng(seed)
    X = _start(x0, d, n_paths)
    step = eta / ell

    def batch_grad(X):
        if replace:
            idx = rng.integers(0, m, size=(n_paths, batch_size))
        else:
            idx = np.argpartition(rng.random((n_paths, m)), batch_size - 1, axis=1)
            idx = idx[:, :batch_size]
        Ab = A[idx]  # (P, B, d)
        r = np.einsum("pbd,pd->pb", Ab, X) - y[idx]
        return np.einsum("pb,pbd->pd", r, Ab) / batch_size

    def advance(X, _k):
        g = batch_grad(X)
        if ell > 1.0:
            g = a * g + c * batch_grad(X)
        return X - step * g

    with np.errstate(over="ignore", invalid="ignore"):  # judged by the divergence test
        return _run_ensemble(advance, X, n_steps, _checkpoints(checkpoints, n_steps),
                             float(np.abs(y).max()), step, eta)
