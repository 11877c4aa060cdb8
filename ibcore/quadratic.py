"""Quadratic losses, where gradient descent and gradient flow are solved in closed form.

A quadratic loss is ``L(w) = 1/2 w^T H w - b^T w + c`` with a symmetric positive semi-definite
Hessian ``H = V diag(lambda) V^T`` and ``b`` in the range of ``H`` (otherwise ``L`` is unbounded
below). With ``w* = H^+ b`` (the minimiser of smallest norm) and the mode coordinates
``z = V^T (w0 - w*)``:

* gradient flow ``dw/dt = -grad L``:      ``w(t) = w* + V diag(exp(-lambda t)) z``;
* gradient descent with step ``eta``:     ``w_k  = w* + V diag((1 - eta lambda)^k) z``;
* loss gap of either:                      ``L - L* = 1/2 sum_i lambda_i z_i^2 f_i^2`` with the
  per-mode factor ``f_i = exp(-lambda_i t)`` or ``(1 - eta lambda_i)^k``.

GD is therefore stable iff ``|1 - eta lambda_i| < 1`` for every ``lambda_i > 0``, i.e.
``eta < 2 / lambda_max``; modes with ``lambda_i = 0`` (directions of the null space of ``H``)
are never changed. Eigenvalues below ``d * eps * lambda_max`` are treated as exact zeros.

Step-size tuning on the range of ``H`` (``lambda_min+`` the smallest positive eigenvalue,
``kappa = lambda_max / lambda_min+``): the worst-case error factor of one GD step,
``max_i |1 - eta lambda_i|`` (:meth:`Quadratic.gd_contraction`), is smallest at the step
``2 / (lambda_min+ + lambda_max)`` (:attr:`Quadratic.optimal_step`), where it equals
``(kappa - 1) / (kappa + 1)``; Polyak's heavy-ball tuning (:meth:`Quadratic.heavy_ball_tuning`)
reaches ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)``. :meth:`Quadratic.heavy_ball_iterates` runs the
heavy-ball method mode by mode, :meth:`Quadratic.steps_to_error` counts GD steps to a relative
error (:meth:`Quadratic.heavy_ball_steps_to_error` the heavy ball's) and
:meth:`Quadratic.steps_to_accuracy` GD steps to a relative loss gap, all exactly.

Least squares in the course's normalisation ``L(w) = (1/2n) ||X w - y||^2 + (reg/2) ||w||^2`` is
:meth:`Quadratic.from_least_squares`: ``H = X^T X / n + reg I``, ``b = X^T y / n``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .descent import DEFAULT_BLOWUP_FACTOR, Trajectory, as_checkpoints
from .errors import SolverError
from .flow import FlowPath
from .validation import (
    as_array,
    as_matrix,
    as_vector,
    check_blowup_factor,
    positive_float,
    positive_int,
    probability,
    real_scalar,
)

__all__ = ["HeavyBallTuning", "Quadratic"]


class HeavyBallTuning(NamedTuple):
    """Polyak's tuning of the heavy-ball method on a quadratic, see
    :meth:`Quadratic.heavy_ball_tuning`."""

    eta: float
    """Step size ``4 / (sqrt(lambda_max) + sqrt(lambda_min+))^2``."""
    momentum: float
    """Momentum coefficient ``rate^2``."""
    rate: float
    """Spectral radius of the iteration, ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)``."""


class Quadratic:
    """``L(w) = 1/2 w^T H w - b^T w + c`` with ``H`` symmetric PSD and ``b`` in range(H).

    Parameters
    ----------
    H : array_like, shape (d, d)
        Symmetric positive semi-definite Hessian.
    b : array_like, shape (d,), optional
        Linear term (default 0); must lie in the range of ``H``.
    c : float
        Constant term.

    Calling the object, ``q(w)``, returns ``(L(w), grad L(w))``, so it can be passed to
    :func:`ibcore.descent.run_gd`.
    """

    def __init__(self, H, b=None, c: float = 0.0):
        H = as_matrix(H, "H")
        d = H.shape[0]
        if H.shape != (d, d):
            raise ValueError(f"H must be a square matrix, got shape {H.shape}")
        scale = max(float(np.max(np.abs(H))), np.finfo(float).tiny)
        if np.max(np.abs(H - H.T)) > 1e-12 * scale:
            raise ValueError("H must be symmetric (got max |H - H^T| > 1e-12 max |H|)")
        H = 0.5 * (H + H.T)
        lam, V = np.linalg.eigh(H)
        if lam[0] < -1e-10 * max(lam[-1], 0.0) or lam[-1] <= 0:
            raise ValueError(
                "H must be positive semi-definite and non-zero, got eigenvalues in "
                f"[{lam[0]:.3g}, {lam[-1]:.3g}]"
            )
        lam = np.where(lam <= d * np.finfo(float).eps * lam[-1], 0.0, lam)
        b = np.zeros(d) if b is None else as_vector(b, "b", length=d)
        bz = V.T @ b
        off_range = np.linalg.norm(bz[lam == 0.0])
        if off_range > 1e-10 * max(np.linalg.norm(b), 1.0):
            raise ValueError(
                "b must lie in the range of H (its component in the null space of H has norm "
                f"{off_range:.3g}); otherwise the loss is unbounded below"
            )
        self.H, self.b, self.c = H, b, real_scalar(c, "c")
        self.d = d
        self.eigvals, self.eigvecs = lam, V
        inv = np.divide(bz, lam, out=np.zeros(d), where=lam > 0)
        self.minimizer = V @ inv
        """The minimiser of smallest Euclidean norm, ``H^+ b``."""
        self.loss_min = float(self.c - 0.5 * self.b @ self.minimizer)

    @classmethod
    def from_least_squares(cls, X, y, reg: float = 0.0) -> Quadratic:
        """``L(w) = (1/2n) ||X w - y||^2 + (reg/2) ||w||^2`` for ``X`` of shape (n, d)."""
        X = as_matrix(X, "X")
        n, d = X.shape
        y = as_vector(y, "y", length=n)
        reg = positive_float(reg, "reg", allow_zero=True)
        H = X.T @ X / n + reg * np.eye(d)
        return cls(H, X.T @ y / n, float(y @ y) / (2 * n))

    # -- basic quantities --------------------------------------------------------------------
    @property
    def lambda_max(self) -> float:
        return float(self.eigvals[-1])

    @property
    def lambda_min(self) -> float:
        return float(self.eigvals[0])

    @property
    def lambda_min_positive(self) -> float:
        return float(self.eigvals[self.eigvals > 0][0])

    @property
    def condition_number(self) -> float:
        """``lambda_max / lambda_min`` (``inf`` if ``H`` is singular)."""
        return np.inf if self.lambda_min == 0 else self.lambda_max / self.lambda_min

    @property
    def stability_limit(self) -> float:
        """``2 / lambda_max``: GD converges for every start iff ``eta`` is below this."""
        return 2.0 / self.lambda_max

    @property
    def optimal_step(self) -> float:
        """``2 / (lambda_min+ + lambda_max)``, the constant step size that minimises
        :meth:`gd_contraction` (``lambda_min+`` is the smallest positive eigenvalue)."""
        return 2.0 / (self.lambda_min_positive + self.lambda_max)

    def gd_contraction(self, eta) -> float:
        """Worst-case factor ``max_i |1 - eta lambda_i|`` over the positive eigenvalues.

        This is the spectral norm of ``I - eta H`` on the range of ``H``: one GD step with
        step ``eta`` multiplies the error ``||w - w*||`` (its part in the range of ``H``; the
        null-space part is never changed) by at most this factor, with equality for a start
        along the eigenvector that attains the maximum. Since ``|1 - eta lambda|`` is convex in
        ``lambda``, the maximum is attained at ``lambda_min+`` or ``lambda_max``. Values ``>= 1``
        mean that GD does not converge.
        """
        eta = positive_float(eta, "eta")
        lam = self.eigvals[self.eigvals > 0]
        return float(np.max(np.abs(1.0 - eta * lam)))

    def heavy_ball_tuning(self) -> HeavyBallTuning:
        """Polyak's step size and momentum for the heavy-ball method on this quadratic.

        With ``a = sqrt(lambda_max)``, ``c = sqrt(lambda_min+)`` and ``kappa = (a / c)^2``:
        ``eta = 4 / (a + c)^2``, ``momentum = rate^2`` and ``rate = (a - c) / (a + c) =
        (sqrt(kappa) - 1) / (sqrt(kappa) + 1)``. With these, every mode with ``lambda_i`` in
        ``[lambda_min+, lambda_max]`` has an iteration matrix whose two eigenvalues have modulus
        exactly ``rate`` (Polyak, 1964), so the error of :func:`ibcore.descent.run_heavy_ball`
        (started at rest) satisfies ``||w_k - w*|| <= (2k + 1) rate^k ||w_0 - w*||``.
        """
        a = np.sqrt(self.lambda_max)
        c = np.sqrt(self.lambda_min_positive)
        rate = float((a - c) / (a + c))
        return HeavyBallTuning(eta=float(4.0 / (a + c) ** 2), momentum=rate * rate, rate=rate)

    def _w(self, w, name="w") -> np.ndarray:
        # no finiteness check: iterates of a diverging run may overflow and are evaluated as is
        w = as_array(w, name, allow_nonfinite=True)
        if w.shape[-1:] != (self.d,) or w.ndim > 2:
            raise ValueError(
                f"{name} must have shape (d,) or (k, d) with d={self.d}, got {w.shape}"
            )
        return w

    def loss(self, w) -> np.ndarray | float:
        """``L(w)``; ``w`` of shape (d,) gives a float, (k, d) an array of k losses."""
        w = self._w(w)
        val = 0.5 * np.einsum("...i,ij,...j->...", w, self.H, w) - w @ self.b + self.c
        return float(val) if w.ndim == 1 else val

    def grad(self, w) -> np.ndarray:
        """``grad L(w) = H w - b`` (row-wise for a (k, d) array)."""
        w = self._w(w)
        return w @ self.H - self.b

    def __call__(self, w):
        return self.loss(w), self.grad(w)

    def modes(self, w0) -> np.ndarray:
        """Mode coordinates ``z = V^T (w0 - w*)`` of a starting point."""
        return self.eigvecs.T @ (as_vector(w0, "w0", length=self.d) - self.minimizer)

    # -- step sizes --------------------------------------------------------------------------
    def check_step_size(self, eta) -> float:
        """Return ``eta`` if ``0 < eta < 2/lambda_max``; otherwise raise ``ValueError``."""
        eta = positive_float(eta, "eta")
        if eta >= self.stability_limit:
            raise ValueError(
                f"eta = {eta:.6g} is at or past the stability threshold 2/λ_max = "
                f"{self.stability_limit:.6g} (λ_max = {self.lambda_max:.6g}): GD does not "
                f"converge along the top eigenvector. Use eta < {self.stability_limit:.6g}, or "
                "pass require_stable=False to study the divergence"
            )
        return eta

    # -- closed forms ------------------------------------------------------------------------
    def flow(self, w0, times) -> np.ndarray:
        """Exact gradient flow ``w(t)`` at ``times`` (shape (k,)); returns shape (k, d)."""
        t = np.atleast_1d(as_vector(np.atleast_1d(times), "times"))
        if np.any(t < 0):
            raise ValueError("times must be non-negative")
        z = self.modes(w0)
        return self.minimizer + (np.exp(-np.outer(t, self.eigvals)) * z) @ self.eigvecs.T

    def exact_flow(self, w0, times) -> FlowPath:
        """The gradient flow from ``w0`` at ``times`` with its losses, as a
        :class:`ibcore.flow.FlowPath` (:meth:`flow`; what
        :func:`ibcore.flow.gradient_flow` returns for a quadratic)."""
        w0 = as_vector(w0, "w0")
        t = as_vector(times, "times")
        w = self.flow(w0, t)
        return FlowPath(t=t.copy(), w=w, loss=self.loss(w))

    @staticmethod
    def _steps(steps) -> np.ndarray:
        """Validate step indices: non-negative integers, returned as a 1-D int64 array."""
        k = np.atleast_1d(np.asarray(steps))
        integer = np.issubdtype(k.dtype, np.integer)
        if k.ndim != 1 or not integer or np.any(k < 0):
            raise ValueError(
                "steps must be a 1-D array of non-negative integers (step indices), got "
                f"dtype {k.dtype}, shape {k.shape}"
                + (f", min {k.min()}" if k.size and integer else "")
            )
        return k.astype(np.int64)

    def _factors(self, eta: float, steps: np.ndarray) -> np.ndarray:
        r = 1.0 - eta * self.eigvals
        with np.errstate(over="ignore"):
            return np.power(r[None, :], steps[:, None].astype(np.float64))

    def gd_iterates(self, w0, eta, steps) -> np.ndarray:
        """Exact GD iterates ``w_k`` for the step indices ``steps``; shape (len(steps), d).

        No stability check: past ``2/lambda_max`` the values grow and may overflow to inf;
        use :meth:`gd` for a divergence-aware run.
        """
        eta = positive_float(eta, "eta")
        k = self._steps(steps)
        z = self.modes(w0)
        on = z != 0  # a mode absent from w0 stays absent, even if its factor overflows
        with np.errstate(over="ignore", invalid="ignore"):
            return self.minimizer + (self._factors(eta, k)[:, on] * z[on]) @ self.eigvecs[:, on].T

    def heavy_ball_iterates(self, w0, eta, momentum, steps) -> np.ndarray:
        """Exact heavy-ball iterates ``w_k`` at the step indices ``steps``; shape (len(steps), d).

        The iteration is :func:`ibcore.descent.run_heavy_ball` (``w_{k+1} = w_k - eta grad L(w_k)
        + momentum (w_k - w_{k-1})``, started at rest, ``w_{-1} = w_0``). On the quadratic it
        decouples into one scalar recursion per mode, ``z_{k+1} = (1 + momentum - eta lambda_i)
        z_k - momentum z_{k-1}`` with ``z_{-1} = z_0``, which is run for all modes at once up to
        ``max(steps)`` (cost ``O(max(steps) d)``, no evaluation of the loss or the gradient).
        Modes with ``lambda_i = 0`` never move. No stability check: with a step or momentum
        outside the stable region the values grow and may overflow to inf; use
        ``run_heavy_ball`` for a divergence-aware run.
        """
        eta = positive_float(eta, "eta")
        momentum = probability(momentum, "momentum")
        k = self._steps(steps)
        z = self.modes(w0)
        out = np.empty((k.size, self.d))
        wanted = np.zeros(int(k.max()) + 1 if k.size else 0, dtype=bool)
        wanted[k] = True
        coef = 1.0 + momentum - eta * self.eigvals
        rows = {}
        z_prev, z_cur = z.copy(), z.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            for j in range(wanted.size):
                if wanted[j]:
                    rows[j] = z_cur.copy()
                if j + 1 < wanted.size:
                    z_prev, z_cur = z_cur, coef * z_cur - momentum * z_prev
            for i, j in enumerate(k):
                out[i] = self.minimizer + self.eigvecs @ rows[int(j)]
        return out

    def partial_neumann_sum(self, eta, k) -> np.ndarray:
        """``N_k = eta * sum_{j=0}^{k-1} (I - eta H)^j``, in closed form; shape (d, d).

        GD from ``w0`` is ``w_k = (I - eta H)^k w0 + N_k b``. In the eigenbasis ``N_k`` is
        diagonal with entries ``(1 - (1 - eta lambda_i)^k) / lambda_i`` for ``lambda_i > 0``
        (tending to ``1 / lambda_i``, so ``N_k H -> H^+ H``) and ``k eta`` for ``lambda_i = 0``
        (growing without bound: the series diverges on the null space of ``H``). Requires
        ``eta < 2/lambda_max``, like every converging run.
        """
        eta = self.check_step_size(eta)
        k = positive_int(k, "k", minimum=0)
        lam = self.eigvals
        x = eta * lam
        s = np.full(self.d, k * eta)
        small = (lam > 0) & (x < 1.0)  # 1 - (1 - x)^k without cancellation for tiny x
        s[small] = -np.expm1(k * np.log1p(-x[small])) / lam[small]
        big = (lam > 0) & ~small  # 1 <= x < 2: 1 - x lies in (-1, 0], no cancellation
        s[big] = (1.0 - np.power(1.0 - x[big], k)) / lam[big]
        return (self.eigvecs * s) @ self.eigvecs.T

    def loss_gap(self, w0, eta, steps) -> np.ndarray:
        """``L(w_k) - L* = 1/2 sum_i lambda_i z_i^2 (1 - eta lambda_i)^(2k)`` of GD at the step
        indices ``steps`` (non-negative integers), from the mode formula; shape (len(steps),)."""
        eta = positive_float(eta, "eta")
        k = self._steps(steps)
        z = self.modes(w0)
        weight = 0.5 * self.eigvals * z * z
        active = weight > 0  # a mode with no weight contributes 0, even if its factor overflows
        f = self._factors(eta, k)[:, active]
        with np.errstate(over="ignore"):
            return (f * f) @ weight[active]

    def gd(
        self,
        w0,
        eta,
        n_steps: int,
        *,
        checkpoints=None,
        require_stable: bool = True,
        blowup_factor: float = DEFAULT_BLOWUP_FACTOR,
    ) -> Trajectory:
        """Divergence-aware GD run, evaluated exactly by the closed form at the checkpoints.

        With ``require_stable=True`` (default) a step size ``eta >= 2/lambda_max`` raises a
        ``ValueError`` naming the threshold. With ``require_stable=False`` the run follows the
        divergence policy of :mod:`ibcore.descent`: ``diverged_at`` is the first step ``k <=
        n_steps`` at which ``L(w_k) > blowup_factor * max(1, |L(w0)|)``, found exactly from the
        mode formula, and only checkpoints before it are returned. (Since ``L >= L*`` this is the
        ``|L(w_k)|`` test of :func:`ibcore.descent.run_gd`, except in the edge case
        ``L* < -blowup_factor * max(1, |L(w0)|)``, where only ``run_gd`` flags the approach to a
        very negative minimum.) The cost does not depend on
        ``n_steps`` (``n_steps = 10**9`` is fine), only on the number of checkpoints.
        """
        w0 = as_vector(w0, "w0", length=self.d)
        eta = self.check_step_size(eta) if require_stable else positive_float(eta, "eta")
        n_steps = positive_int(n_steps, "n_steps", minimum=0)
        cps = as_checkpoints(checkpoints, n_steps)
        blowup_factor = check_blowup_factor(blowup_factor)
        diverged_at = None
        if eta >= self.stability_limit:
            diverged_at = self._first_blowup(w0, eta, n_steps, blowup_factor)
        if diverged_at is not None:
            cps = cps[cps < diverged_at]
        w = self.gd_iterates(w0, eta, cps)
        return Trajectory(steps=cps, w=w, loss=self.loss(w), eta=eta, diverged_at=diverged_at)

    def _first_blowup(self, w0, eta, n_steps, blowup_factor) -> int | None:
        """First k <= n_steps with L(w_k) > bound, or None (exact, from the mode formula)."""
        loss0 = self.loss(w0)
        excess = blowup_factor * max(1.0, abs(loss0)) - self.loss_min  # bound on L - L*
        z = self.modes(w0)
        r = np.abs(1.0 - eta * self.eigvals)
        weight = 0.5 * self.eigvals * z * z
        grow = (r > 1.0) & (weight > 0)
        if not np.any(grow):
            return None
        # L - L* = D(k) + G(k): D (modes with r <= 1) is non-increasing, G (r > 1) increasing.
        # G(k) > excess forces a blow-up; G(k) <= excess - D(0) excludes one.
        log_w, log_r = np.log(weight[grow]), np.log(r[grow])
        d0 = float(np.sum(weight[~grow]))

        def first_g_above(level):  # first k with G(k) > level (G increasing), or None
            if level <= 0:
                return 0
            lo = 0
            hi = int(np.min(np.ceil((np.log(level) - log_w) / (2 * log_r)))) + 1
            hi = max(hi, 0)
            while lo < hi:
                mid = (lo + hi) // 2
                if np.sum(np.exp(np.minimum(log_w + 2 * mid * log_r, 700.0))) > level:
                    hi = mid
                else:
                    lo = mid + 1
            return lo

        k_hi = first_g_above(excess)
        k_lo = first_g_above(excess - d0)
        for start in range(k_lo, min(k_hi, n_steps) + 1, 4096):
            k = np.arange(start, min(start + 4096, k_hi + 1, n_steps + 1))
            above = np.flatnonzero(~(self.loss_gap(w0, eta, k) <= excess))
            if above.size:
                return int(k[above[0]])
        return None

    def steps_to_error(self, w0, eta, eps) -> int:
        """Smallest ``k`` with ``||e_k|| <= eps ||e_0||`` for GD with step ``eta``.

        ``e_k`` is the distance of ``w_k`` to GD's limit ``w* + P_null (w0 - w*)`` (the
        component of ``w_k - w*`` in the range of ``H``; the null-space component never
        changes), ``||e_k||^2 = sum_{lambda_i > 0} z_i^2 (1 - eta lambda_i)^(2k)``. Requires
        ``eta < 2/lambda_max``: then every factor has modulus below 1, the error is
        non-increasing in ``k``, and the answer is found exactly by bisection on the mode
        formula (the error of :meth:`steps_to_accuracy` is the loss gap instead).
        """
        eta = self.check_step_size(eta)
        eps = positive_float(eps, "eps")
        if eps >= 1:
            raise ValueError(f"eps must be < 1 (a relative error), got {eps}")
        z = self.modes(w0)
        on = (self.eigvals > 0) & (z != 0)
        z2, r = z[on] ** 2, np.abs(1.0 - eta * self.eigvals[on])
        target = eps * eps * float(np.sum(z2))
        if target == 0:
            return 0

        def err2(k: int) -> float:
            return float(np.sum(z2 * r ** (2.0 * k)))

        hi = 1
        while err2(hi) > target:
            hi *= 2
            if hi > 2**62:
                raise SolverError("steps_to_error: no convergence within 2^62 steps")
        lo = hi // 2 if hi > 1 else 0
        while lo < hi:
            mid = (lo + hi) // 2
            if err2(mid) > target:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def heavy_ball_steps_to_error(self, w0, eps) -> int:
        """Heavy ball with Polyak's tuning: the first ``k`` from which ``||e_j|| <= eps ||e_0||``
        at every step ``j >= k``.

        ``e_j`` is the error of :meth:`heavy_ball_iterates` with the step and momentum of
        :meth:`heavy_ball_tuning`, in the range of ``H`` (as in :meth:`steps_to_error`). The
        error of the heavy ball is not monotone, so the count is "from which step on": the
        bound ``||e_j|| <= (2j + 1) rate^j ||e_0||`` is below ``eps`` for every ``j`` past a
        horizon ``J`` (``(2j + 1) rate^j`` decreases after its peak), the iterates up to ``J``
        are computed exactly, and the answer is one past the last step above ``eps`` (``0`` if
        there is none).
        """
        eps = positive_float(eps, "eps")
        if eps >= 1:
            raise ValueError(f"eps must be < 1 (a relative error), got {eps}")
        tune = self.heavy_ball_tuning()
        z = self.modes(w0)
        on = (self.eigvals > 0) & (z != 0)
        norm0 = float(np.linalg.norm(z[on]))
        if norm0 == 0:
            return 0
        if tune.rate == 0:  # kappa = 1: one GD step of size 1/lambda reaches the minimiser
            return 1
        log_r = np.log(tune.rate)

        def bound_above(j: int) -> bool:
            return np.log(2 * j + 1) + j * log_r > np.log(eps)

        # (2j + 1) rate^j >= 1 > eps up to its peak at j = -1/log(rate) - 1/2, then decreases
        lo = max(0, int(np.floor(-0.5 - 1.0 / log_r)))
        hi = max(lo, 1)
        while bound_above(hi):
            hi *= 2
        while lo < hi:  # first j past the peak with the bound below eps
            mid = (lo + hi) // 2
            if bound_above(mid):
                lo = mid + 1
            else:
                hi = mid
        steps = np.arange(lo + 1)
        w = self.heavy_ball_iterates(w0, tune.eta, tune.momentum, steps)
        e = (w - self.minimizer) @ self.eigvecs[:, self.eigvals > 0]
        above = np.flatnonzero(np.linalg.norm(e, axis=1) > eps * norm0)
        return int(above[-1]) + 1 if above.size else 0

    def steps_to_accuracy(self, w0, eta, eps) -> int:
        """Smallest ``k`` with ``L(w_k) - L* <= eps (L(w0) - L*)`` for GD with step ``eta``.

        Requires ``eta < 2/lambda_max`` (then the gap is non-increasing in ``k``, so the answer
        is found exactly by bisection on the mode formula).
        """
        eta = self.check_step_size(eta)
        eps = positive_float(eps, "eps")
        if eps >= 1:
            raise ValueError(f"eps must be < 1 (a relative accuracy), got {eps}")
        gap0 = float(self.loss_gap(w0, eta, [0])[0])
        if gap0 == 0:
            return 0
        target = eps * gap0
        hi = 1
        while float(self.loss_gap(w0, eta, [hi])[0]) > target:
            hi *= 2
            if hi > 2**62:
                raise SolverError("steps_to_accuracy: no convergence within 2^62 steps")
        lo = hi // 2 if hi > 1 else 0
        while lo < hi:
            mid = (lo + hi) // 2
            if float(self.loss_gap(w0, eta, [mid])[0]) > target:
                lo = mid + 1
            else:
                hi = mid
        return lo
