"""Gradient noise, stochastic differential equations (SDEs) for SGD, and the implicit bias of noise.

Conventions
    Parameters are ``x`` (a row vector of length ``d``); an *ensemble* of SGD paths stores them
    as an array ``(n_paths, d)``, so that every statistic over paths is one vectorized numpy
    operation per step. Losses follow the course: a finite sum ``L(x) = (1/m) sum_i f_i(x)``
    with, for least squares, ``f_i(x) = (a_i^T x - y_i)^2 / 2`` (``A`` is ``(m, d)``, one example
    per row), so ``grad L(x) = A^T (A x - y) / m`` and ``H = A^T A / m``.

Gradient noise
    A mini-batch of size ``B`` averages ``B`` per-example gradients. With ``Sigma(x)`` the
    *population* covariance of the per-example gradients (divided by ``m``, not ``m - 1``), the
    mini-batch mean gradient has covariance ``c_B Sigma(x)`` with

        c_B = 1 / B                       (i.i.d. indices, with replacement),
        c_B = (m - B) / ((m - 1) B)       (B distinct indices, without replacement),

    (:func:`minibatch_factor`). More generally, for per-example vectors ``u_i, v_i`` with batch
    means ``u_B, v_B``: ``E[u_B v_B^T] = c_B S + (1 - c_B) u_bar v_bar^T`` with
    ``S = (1/m) sum_i u_i v_i^T``; this one identity gives every moment recursion below.

SGD and its canonical SDE
    SGD ``x_{k+1} = x_k - eta g_k`` with ``E g_k = grad L(x_k)`` and ``Cov g_k = Sigma_B(x_k)`` is
    compared at step ``k`` with the SDE at time ``t = k eta``,

        dX_t = -grad L(X_t) dt + sqrt(eta) Sigma_B(X_t)^{1/2} dW_t        (canonical SDE),

    (Li, Tai & E 2017, 2019). On the linear model ``theta <- theta - eta (H theta - b + xi)``
    with a constant noise covariance ``Cov xi = Sigma`` both have closed-form moments (for any
    noise law) (:func:`quadratic_moments`) and stationary covariances solving

        C = (I - eta H) C (I - eta H) + eta^2 Sigma         (SGD, exact),
        H C + C H = eta Sigma                               (SDE),

    (:func:`sgd_stationary_covariance`, :func:`sde_stationary_covariance`). For least squares
    with mini-batch noise (state-dependent ``Sigma(x)``) the first two moments are still closed:
    :func:`least_squares_moments` (SGD and SVAG, exact recursion) and
    :func:`least_squares_sde_moments` (the SDE, exact linear ODE solved by a matrix exponential).

SVAG (Li, Malladi & Arora 2021)
    ``g_hat = a g_1 + c g_2`` with two independent mini-batch gradients, ``(a, c) =
    ((1 + sqrt(2l - 1)) / 2, (1 - sqrt(2l - 1)) / 2)`` (:func:`svag_coefficients`, ``a + c = 1``,
    ``a^2 + c^2 = l``) and learning rate ``eta / l``: same mean gradient, ``l`` times the noise
    covariance, hence the same canonical SDE, reached with error ``O(eta / l)``.

Implicit bias of noise
    :func:`diagonal_sgd_paths` runs SGD (mini-batch and/or label noise) on the diagonal network
    ``w = u*u - v*v`` of :mod:`ibcore.diagonal`; :func:`diagonal_hessian_trace` is the exact
    ``Tr grad^2 L(u, v)``; :func:`label_noise_flow` integrates the limiting flow of label-noise
    SGD on the manifold of interpolants (Li, Wang & Arora 2022, label-noise case),
    ``d theta / dtau = -(delta^2 / 4n) P_T grad Tr grad^2 L(theta)`` in ``tau = k eta^2``.
    :func:`sphere_sgd_paths` runs SGD with weight decay on a scale-invariant loss (the
    equilibrium of the normalization chapter, sustained by gradient noise).

Divergence policy (as :mod:`ibcore.descent`)
    An ensemble *diverges at step k* when some path has ``|x| > 1e12 * max(1, |x_0|, scale)``
    or a non-finite entry; the run then stops and reports ``diverged_at = k`` (arrays hold only
    the checkpoints before ``k``). Moment recursions diverge when the expected loss (or
    ``E|x|^2``) exceeds ``1e12`` times its bound. No NaN is returned.

Every public function validates its arguments (``ValueError``/``TypeError`` naming the
argument); randomness comes from an explicit ``seed``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .validation import as_array, as_matrix, as_vector, check_rng, positive_float, positive_int

__all__ = [
    "Moments",
    "PathEnsemble",
    "SphereRun",
    "batch_means",
    "brownian_paths",
    "diagonal_flow_limit",
    "diagonal_hessian_trace",
    "diagonal_sgd_paths",
    "label_noise_flow",
    "least_squares_moments",
    "least_squares_noise_covariance",
    "least_squares_sde_moments",
    "least_squares_sgd_paths",
    "minibatch_covariance",
    "minibatch_factor",
    "per_example_gradients",
    "quadratic_moments",
    "quadratic_sgd_paths",
    "sde_stationary_covariance",
    "sgd_stationary_covariance",
    "sphere_sgd_paths",
    "svag_coefficients",
]

#: A path (or an expected loss) beyond this factor times its initial scale counts as diverged.
BLOWUP_FACTOR = 1e12


# -- small helpers -----------------------------------------------------------------------------


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def _symmetric(M, name: str, *, d: int | None = None) -> np.ndarray:
    M = as_matrix(M, name)
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {M.shape}")
    if d is not None and M.shape[0] != d:
        raise ValueError(f"{name} must be {d} x {d} to match, got shape {M.shape}")
    scale = max(1.0, float(np.abs(M).max()))
    if np.abs(M - M.T).max() > 1e-10 * scale:
        raise ValueError(f"{name} must be symmetric (|{name} - {name}^T| > 1e-10 |{name}|)")
    return (M + M.T) / 2


def _psd(M, name: str, *, d: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric positive semi-definite ``M`` and its eigen-decomposition (clipped at 0)."""
    M = _symmetric(M, name, d=d)
    lam, V = np.linalg.eigh(M)
    scale = max(1.0, float(np.abs(lam).max()))
    if lam[0] < -1e-10 * scale:
        raise ValueError(
            f"{name} must be positive semi-definite, its smallest eigenvalue is {lam[0]:.3g}"
        )
    return M, np.clip(lam, 0.0, None), V


def _step_size(eta, lam_max: float, *, name: str = "eta") -> float:
    eta = positive_float(eta, name)
    if lam_max > 0 and eta * lam_max >= 2.0:
        raise ValueError(
            f"{name} = {eta:g} is not stable: SGD on this quadratic needs 0 < {name} < "
            f"2/λ_max = {2.0 / lam_max:.6g}"
        )
    return eta


def _check_H_Sigma_eta(H, Sigma, eta):
    H = _symmetric(H, "H")
    lam, V = np.linalg.eigh(H)
    if lam[0] <= 0:
        raise ValueError(
            f"H must be positive definite (a strict minimum), its smallest eigenvalue is "
            f"{lam[0]:.3g}"
        )
    Sigma, _, _ = _psd(Sigma, "Sigma", d=H.shape[0])
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


def _checkpoints(checkpoints, n_steps: int) -> np.ndarray:
    from .descent import as_checkpoints

    if checkpoints is None:
        return np.array([0, n_steps], dtype=np.int64) if n_steps else np.zeros(1, np.int64)
    return as_checkpoints(checkpoints, n_steps)


# -- mini-batch noise --------------------------------------------------------------------------


def minibatch_factor(m: int, batch_size: int, replace: bool = True) -> float:
    """``c_B`` with ``Cov(mean of a batch) = c_B * Sigma`` for a population of ``m`` vectors.

    ``1 / B`` with replacement (i.i.d. indices) and ``(m - B) / ((m - 1) B)`` without (``B``
    distinct indices; ``0`` at ``B = m``, where the batch is the whole population).
    """
    m = positive_int(m, "m")
    batch_size = positive_int(batch_size, "batch_size")
    replace = _flag(replace, "replace")
    if replace:
        return 1.0 / batch_size
    if batch_size > m:
        raise ValueError(
            f"batch_size={batch_size} exceeds the number of examples m={m}: without "
            "replacement a batch has at most m distinct examples"
        )
    if m == 1:
        return 0.0
    return (m - batch_size) / ((m - 1) * batch_size)


def minibatch_covariance(G, batch_size: int, replace: bool = True) -> np.ndarray:
    """Covariance of the mini-batch mean gradient, ``c_B * Sigma`` (see :func:`minibatch_factor`).

    ``G`` is ``(m, d)``: the per-example gradients at one point. ``Sigma = (1/m) sum_i
    (g_i - g_bar)(g_i - g_bar)^T`` is their population covariance (divided by ``m``).
    """
    G = as_matrix(G, "G")
    c = minibatch_factor(G.shape[0], batch_size, replace)
    D = G - G.mean(axis=0)
    return c * (D.T @ D) / G.shape[0]


def batch_means(G, batch_size: int, replace: bool = True, *, max_batches: int = 1_000_000):
    """Every possible mini-batch mean of the rows of ``G``, each equally likely.

    Without replacement: one row per subset of ``batch_size`` distinct indices (``C(m, B)``
    rows); with replacement: one row per ordered tuple of i.i.d. indices (``m^B`` rows). The
    exact covariance of the mini-batch gradient is the population covariance of these rows, an
    enumeration that checks :func:`minibatch_covariance` without any sampling. Refuses more than
    ``max_batches`` batches.
    """
    from itertools import combinations

    G = as_matrix(G, "G")
    m = G.shape[0]
    batch_size = positive_int(batch_size, "batch_size")
    replace = _flag(replace, "replace")
    max_batches = positive_int(max_batches, "max_batches")
    if not replace and batch_size > m:
        raise ValueError(
            f"batch_size={batch_size} exceeds m={m}: without replacement a batch has at most m "
            "distinct examples"
        )
    count = m**batch_size if replace else math.comb(m, batch_size)
    if count > max_batches:
        raise ValueError(
            f"there are {count} batches, more than max_batches={max_batches}: use a smaller "
            "problem (or raise max_batches)"
        )
    if replace:
        idx = np.indices((m,) * batch_size).reshape(batch_size, -1).T
    else:
        idx = np.array(list(combinations(range(m), batch_size)), dtype=np.int64)
    return G[idx].mean(axis=1)


# -- stationary covariances of the linear model ------------------------------------------------


def sgd_stationary_covariance(H, Sigma, eta) -> np.ndarray:
    """Exact stationary covariance of ``theta <- theta - eta (H theta + xi)``, ``Cov xi = Sigma``.

    Solves ``C = (I - eta H) C (I - eta H) + eta^2 Sigma``: in the eigenbasis ``H = V diag(l) V^T``,
    ``C~_ij = eta Sigma~_ij / (l_i + l_j - eta l_i l_j)`` with ``Sigma~ = V^T Sigma V``. Needs
    ``H`` symmetric positive definite and ``0 < eta < 2 / l_max`` (else no stationary law).
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
    in the eigenbasis of ``H``. Same checks as :func:`sgd_stationary_covariance` (the SDE is the
    one of SGD with that ``eta``, so ``0 < eta < 2 / l_max`` is required too).
    """
    lam, V, Sigma, eta = _check_H_Sigma_eta(H, Sigma, eta)
    S = V.T @ Sigma @ V
    C = eta * S / (lam[:, None] + lam[None, :])
    C = V @ C @ V.T
    return (C + C.T) / 2


def svag_coefficients(l) -> tuple[float, float]:  # noqa: E741 (the issue's API name)
    """SVAG weights ``(a, c) = ((1 + sqrt(2l - 1)) / 2, (1 - sqrt(2l - 1)) / 2)``, ``l >= 1``.

    ``a + c = 1`` keeps the mean gradient and ``a^2 + c^2 = l`` multiplies the noise covariance
    by ``l`` (Li, Malladi & Arora 2021). ``l = 1`` is plain SGD (``c = 0``). The weights are
    real only for ``l >= 1/2``; below 1 SVAG would take *larger* steps than SGD, so ``l < 1``
    is refused.
    """
    if isinstance(l, bool) or not isinstance(l, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"l must be a real number >= 1, got {type(l).__name__}")
    ell = float(l)
    if not math.isfinite(ell) or ell < 1.0:
        raise ValueError(f"l must be a finite number >= 1 (l = 1 is plain SGD), got {ell}")
    r = math.sqrt(2.0 * ell - 1.0)
    return (1.0 + r) / 2.0, (1.0 - r) / 2.0


# -- moments -----------------------------------------------------------------------------------


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
    """
    if process not in ("sgd", "sde"):
        raise ValueError(f"process must be 'sgd' or 'sde', got {process!r}")
    H, lam, V = _psd(H, "H")
    d = H.shape[0]
    Sigma, _, _ = _psd(Sigma, "Sigma", d=d)
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


# -- path ensembles ----------------------------------------------------------------------------


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


class _EnsembleRecorder:
    def __init__(self, checkpoints: np.ndarray, x0: np.ndarray, scale: float):
        self.checkpoints = checkpoints
        self.x = np.empty((checkpoints.size, *x0.shape))
        self.n = 0
        self.bound = BLOWUP_FACTOR * max(1.0, float(np.abs(x0).max()), scale)

    def blown_up(self, X: np.ndarray) -> bool:
        top = float(np.max(np.abs(X)))
        return not (top <= self.bound)  # also catches NaN

    def record(self, k: int, X: np.ndarray) -> None:
        if self.n < self.checkpoints.size and self.checkpoints[self.n] == k:
            self.x[self.n] = X
            self.n += 1

    def ensemble(self, time_per_step: float, eta: float, diverged_at) -> PathEnsemble:
        n = self.n
        steps = self.checkpoints[:n].copy()
        return PathEnsemble(
            steps=steps,
            times=steps * time_per_step,
            x=self.x[:n].copy(),
            eta=eta,
            diverged_at=diverged_at,
        )


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
    """
    H, lam, _ = _psd(H, "H")
    d = H.shape[0]
    Sigma, sl, sv = _psd(Sigma, "Sigma", d=d)
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
    rec = _EnsembleRecorder(_checkpoints(checkpoints, n_steps), X, math.sqrt(sl[-1]))
    Z = np.empty((n_paths, d))
    G = np.empty((n_paths, d))
    N = np.empty((n_paths, d))
    rec.record(0, X)
    for k in range(n_steps):
        if noise == "gaussian":
            rng.standard_normal(out=Z)
        else:
            np.multiply(rng.integers(0, 2, size=(n_paths, d), dtype=np.int8), 2.0, out=Z)
            Z -= 1.0
        np.matmul(X, P_mat, out=G)
        np.matmul(Z, ST, out=N)
        np.subtract(G, N, out=X)
        if shift:
            X += eb
        if rec.blown_up(X):
            return rec.ensemble(eta, eta, k + 1)
        rec.record(k + 1, X)
    return rec.ensemble(eta, eta, None)


def brownian_paths(sigma, x0, times, *, n_paths: int, seed, drift=None) -> PathEnsemble:
    """Exact samples of ``dX = drift dt + sigma dW`` (constant ``drift`` (d,), ``sigma`` (d, q)).

    ``X_t = x0 + drift t + sigma W_t`` with ``W`` a standard ``q``-dimensional Wiener process,
    sampled by independent Gaussian increments between the increasing ``times`` (no
    discretization error). Returns a :class:`PathEnsemble` with ``steps`` ``0, 1, ...`` indexing
    ``times`` and ``eta = nan``-free ``0.0``.
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


# -- least squares with mini-batch noise -------------------------------------------------------


def _check_ls(A, y) -> tuple[np.ndarray, np.ndarray]:
    A = as_matrix(A, "A")
    y = as_vector(y, "y", length=A.shape[0])
    return A, y


def per_example_gradients(A, y, x) -> np.ndarray:
    """``g_i(x) = a_i (a_i^T x - y_i)``: (m, d) for ``x`` (d,), (P, m, d) for ``x`` (P, d)."""
    A, y = _check_ls(A, y)
    x = as_array(x, "x")
    if x.ndim not in (1, 2) or x.shape[-1] != A.shape[1]:
        raise ValueError(f"x must have shape ({A.shape[1]},) or (P, {A.shape[1]}), got {x.shape}")
    r = x @ A.T - y  # (m,) or (P, m)
    return r[..., :, None] * A


def least_squares_noise_covariance(A, y, x) -> np.ndarray:
    """``Sigma(x)``: population covariance of the per-example gradients at ``x`` (one example).

    The mini-batch gradient's covariance is ``minibatch_factor(m, B, replace) * Sigma(x)``.
    """
    G = per_example_gradients(A, y, as_vector(x, "x"))
    return minibatch_covariance(G, 1)


def _svag_l(ell) -> tuple[float, float, float]:
    a, c = svag_coefficients(ell)
    return float(ell), a, c


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
    (SGD) or ``a g_1 + c g_2`` over two independent batches (SVAG, :func:`svag_coefficients`).
    Records at ``checkpoints`` (SVAG step indices); times ``k eta / ell``.
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
    rec = _EnsembleRecorder(_checkpoints(checkpoints, n_steps), X, float(np.abs(y).max()))

    def batch_grad():
        if replace:
            idx = rng.integers(0, m, size=(n_paths, batch_size))
        else:
            idx = np.argpartition(rng.random((n_paths, m)), batch_size - 1, axis=1)
            idx = idx[:, :batch_size]
        Ab = A[idx]  # (P, B, d)
        r = np.einsum("pbd,pd->pb", Ab, X) - y[idx]
        return np.einsum("pb,pbd->pd", r, Ab) / batch_size

    rec.record(0, X)
    for k in range(n_steps):
        g = batch_grad()
        if ell > 1.0:
            g = a * g + c * batch_grad()
        X = X - step * g
        if rec.blown_up(X):
            return rec.ensemble(step, eta, k + 1)
        rec.record(k + 1, X)
    return rec.ensemble(step, eta, None)


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
    mu, C = x0.copy(), np.zeros((d, d))
    means, covs, losses = np.empty((ck.size, d)), np.empty((ck.size, d, d)), np.empty(ck.size)
    rho = _expected_sq_residuals(A, y, mu, C)
    bound = BLOWUP_FACTOR * max(1.0, rho.mean() / 2)
    n = 0
    diverged = None
    for k in range(n_steps + 1):
        rho = _expected_sq_residuals(A, y, mu, C)
        loss = rho.mean() / 2
        if not (np.isfinite(loss) and loss <= bound):
            diverged = k
            break
        if n < ck.size and ck[n] == k:
            means[n], covs[n], losses[n] = mu, C, loss
            n += 1
        if k == n_steps:
            break
        g = H @ mu - bbar
        with np.errstate(over="ignore", invalid="ignore"):
            C_new = P @ C @ P + noise * ((A.T * rho) @ A / m - H @ C @ H - np.outer(g, g))
            mu = mu - h * g
            C = (C_new + C_new.T) / 2
    steps = ck[:n].copy()
    return Moments(steps=steps, times=steps * h, mean=means[:n].copy(), cov=covs[:n].copy(),
                   loss=losses[:n].copy(), diverged_at=diverged)


def least_squares_sde_moments(
    A, y, x0, eta, times, *, batch_size: int = 1, replace: bool = True
) -> Moments:
    """Exact mean and covariance of the canonical SDE of mini-batch SGD on least squares.

    ``dX = -g(X) dt + sqrt(eta) (c Sigma(X))^{1/2} dW`` with ``g``, ``c`` and ``Sigma`` as in
    :func:`least_squares_moments`. By Ito's lemma the mean ``mu`` and second moment
    ``M = E X X^T`` solve the *linear* ODE

        dmu/dt = b - H mu,
        dM/dt  = -(H M + M H) + mu b^T + b mu^T + eta c [E S(X) - E g(X) g(X)^T],

    with ``E S = (1/m) A^T diag(rho) A``, ``rho_i = a_i^T M a_i - 2 y_i a_i^T mu + y_i^2`` and
    ``E g g^T = H M H - H mu b^T - b mu^T H + b b^T``. The ODE is solved exactly by the matrix
    exponential of its ``(d^2 + d + 1)``-dimensional generator (use small ``d``). ``times``
    must be non-negative and increasing; ``steps`` in the result count the times.
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
        raise RuntimeError("least_squares_sde_moments: the moments overflowed")
    return Moments(steps=np.arange(t.size), times=t.copy(), mean=means, cov=covs, loss=losses)


# -- diagonal networks: label noise and mini-batch noise ---------------------------------------


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
    The ensemble's ``x`` holds ``theta``; ``times`` are ``k eta``. Blow-ups are tested at the
    checkpoints and every 64 steps, so ``diverged_at`` is the step of detection.
    """
    X, y, TH = _check_diag(X, y, theta0, n_paths)
    d = X.shape[1]
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    delta = positive_float(label_noise, "label_noise", allow_zero=True)
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size")
    rng = check_rng(seed)
    rec = _EnsembleRecorder(_checkpoints(checkpoints, n_steps), TH, float(np.abs(y).max()))
    rec.record(0, TH)
    with np.errstate(over="ignore", invalid="ignore"):  # caught by the blow-up test
        return _diagonal_loop(X, y, TH[:, :d], TH[:, d:], eta, n_steps, delta, batch_size, rng,
                              rec)


def _diagonal_loop(X, y, U, V, eta, n_steps, delta, batch_size, rng, rec):
    """The SGD loop on ``theta = (u, v)``, written for few numpy calls per step.

    With ``S = [X^T; -X^T]`` (2d, n): ``X w = (theta * theta) S`` and the update
    ``theta <- theta * (1 - [2 eta g, -2 eta g])`` with ``[g, -g] = r [X, -X] / n``.
    """
    n, d = X.shape
    TH = np.concatenate([U, V], axis=1)
    P = TH.shape[0]
    S = np.ascontiguousarray(np.concatenate([X.T, -X.T], axis=0))  # (2d, n)
    M = np.ascontiguousarray(np.concatenate([X, -X], axis=1))  # (n, 2d)
    Q, GT = np.empty((P, 2 * d)), np.empty((P, 2 * d))
    R, E = np.empty((P, n)), np.empty((P, n))
    Ms = M * (2.0 * eta / n)
    for k in range(n_steps):
        np.multiply(TH, TH, out=Q)
        if batch_size is None:  # full batch: preallocated buffers, no temporaries
            np.dot(Q, S, out=R)
            R -= y
            if delta > 0:
                rng.standard_normal(out=E)
                E *= delta
                R -= E
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
        at = rec.n < rec.checkpoints.size and rec.checkpoints[rec.n] == k + 1
        if at or (k & 63) == 63 or k == n_steps - 1:
            if rec.blown_up(TH):
                return rec.ensemble(eta, eta, k + 1)
            rec.record(k + 1, TH)
    return rec.ensemble(eta, eta, None)


def diagonal_flow_limit(X, y, scales, *, tol: float = 1e-12, max_iter: int = 200):
    """The limit of gradient flow on ``w = u*u - v*v`` from coordinate-wise scales ``alpha_j``.

    The flow from ``u_j(0) = v_j(0) = alpha_j`` keeps ``u_j v_j = alpha_j^2 =: p_j`` and
    ``log(u_j / v_j)`` in the row space of ``X``, so its limit (if it interpolates) is
    ``w = 2 p * sinh(X^T mu)`` with ``X w = y``: the minimizer of the weighted potential
    ``sum_j p_j q(w_j / p_j) / 4`` of :mod:`ibcore.interpolants` over interpolants
    (``alpha_j = alpha`` gives :func:`ibcore.interpolants.min_ralpha_interpolant`). Solved by
    damped Newton on the convex dual ``sum_j 2 p_j cosh((X^T mu)_j) - y^T mu``. ``scales`` is a
    float (all coordinates) or ``(d,)``; returns ``(w, theta)`` with ``theta = (u, v)``,
    ``u, v > 0``, ``u v = p``.
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
        raise RuntimeError(f"diagonal_flow_limit: no convergence in {max_iter} Newton steps")
    big = np.sqrt((np.sqrt(w * w + 4.0 * p * p) + np.abs(w)) / 2.0)
    small = p / big  # no cancellation: u v = p to rounding
    pos = w >= 0
    theta = np.concatenate([np.where(pos, big, small), np.where(pos, small, big)])
    return w, theta


def label_noise_flow(X, y, theta0, times, *, label_noise, rtol: float = 1e-9,
                     atol: float = 1e-12):
    """Limiting flow of label-noise SGD on the manifold of interpolants of the diagonal network.

    On ``Gamma = {theta : X (u*u - v*v) = y}`` the label noise has covariance
    ``(delta^2 / n) grad^2 L`` per unit step, and in the time ``tau = k eta^2`` (``eta -> 0``)
    label-noise SGD follows (Li, Wang & Arora 2022, label-noise case)

        d theta / d tau = -(delta^2 / 4n) P_T(theta) grad Tr grad^2 L(theta),

    with ``P_T`` the orthogonal projection onto the tangent space of ``Gamma`` and
    ``grad Tr grad^2 L = (8/n) (|X_j|^2 u_j, |X_j|^2 v_j)``. ``theta0`` must lie on ``Gamma``
    (relative residual below 1e-6). Integrated by :func:`scipy.integrate.solve_ivp` (LSODA,
    ``rtol``, ``atol``); returns ``(tau, theta)`` with ``theta`` (k, 2d).
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
        return tau.copy(), th[None].copy()
    sol = solve_ivp(rhs, (0.0, float(tau[-1])), th, method="LSODA", t_eval=tau, rtol=rtol,
                    atol=atol)
    if not sol.success:
        raise RuntimeError(f"label_noise_flow: the ODE solver failed: {sol.message}")
    return tau.copy(), sol.y.T.copy()


# -- scale invariance: the weight-decay equilibrium with gradient noise ------------------------


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
    normalization chapter with ``G^2 = |(I - u u^T)(Q u + s xi)|^2``. Vectorized over paths.
    """
    Q = _symmetric(Q, "Q")
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
    norms = np.empty((n_steps + 1, n_paths))
    angles = np.empty((n_steps, n_paths))
    r = np.linalg.norm(W, axis=1)
    Uk = W / r[:, None]
    norms[0] = r
    for k in range(n_steps):
        g = Uk @ Q
        if s > 0:
            g = g + s * rng.standard_normal((n_paths, d))
        g -= np.sum(g * Uk, axis=1, keepdims=True) * Uk
        W = (1.0 - eta * mu) * W - eta * g / r[:, None]
        r = np.linalg.norm(W, axis=1)
        Un = W / r[:, None]
        angles[k] = 2.0 * np.arcsin(np.clip(0.5 * np.linalg.norm(Un - Uk, axis=1), 0.0, 1.0))
        norms[k + 1] = r
        Uk = Un
    if not (np.all(np.isfinite(norms)) and np.all(norms > 0)):
        raise RuntimeError("sphere_sgd_paths: the norm under- or overflowed")
    return SphereRun(norm=norms, angle=angles)
