"""Normalization layers, scale invariance, effective learning rates and weight decay.

Conventions
    A loss ``L`` is *scale-invariant* in ``w`` if ``L(c w) = L(w)`` for every ``c > 0``. Then

    * ``<grad L(w), w> = 0`` and ``grad L(c w) = grad L(w) / c``;
    * the *spherical gradient* ``G(w) = ||grad L(w / ||w||)|| = ||w|| ||grad L(w)||`` depends on
      the direction only;
    * gradient descent with weight decay ``mu`` (``0 <= eta mu < 1``),
      ``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``, obeys the exact norm recursion
      (Pythagoras, the two terms are orthogonal)

          ||w_{t+1}||^2 = (1 - eta mu)^2 ||w_t||^2 + eta^2 G(w_t)^2 / ||w_t||^2,

    * and moves the direction ``w / ||w||`` like a step of size
      ``eta_eff = eta / ((1 - eta mu) ||w||^2)`` on the unit sphere (the *effective learning rate*;
      :class:`NormRun` records ``eta / ||w||^2``, the same up to the factor ``1 - eta mu``).

Contents
    * :class:`NormalizedLinear`: a numpy scale-invariant regression loss
      ``L(w) = (1/2n) ||g X w / ||w|| - y||^2`` (a weight-normalised linear unit with a frozen
      gain ``g``), with its gradient, Hessian, and the same model without normalisation.
    * :class:`RotationLoss`: the 2-D toy ``L(w) = c * angle(w)`` whose spherical gradient norm is
      the constant ``c`` (the norm equilibrium is then exact).
    * :class:`NormalizedProduct`: the 3-D toy ``L(w) = (1/2)(u_1 u_2 - y)^2``, ``u = w/||w||``,
      whose minimisers on the sphere form a curve of varying *spherical sharpness*
      ``S(u) = lambda_max(Hess L(u))``; with its sharpness-reduction flow (Lyu, Li & Arora, 2022)
      on the intrinsic clock and on the weight-decay clock ``eta mu t``.
      :func:`effective_sharpness` gives ``eta_eff_t S`` along a run (the edge of stability is 2),
      :func:`angular_clock` the intrinsic clock (accumulated squared angular step) of a run.
    * :func:`turning_angles`, :func:`kick_starts`, :func:`kick_onset_sharpness`: the intermittent
      motion of the direction at the weight-decay equilibrium (rest, then kicks once
      ``eta_eff S`` has passed 2); :func:`first_hit`: first step below a threshold.
    * :func:`run_scale_invariant_gd`: GD (+ weight decay) recording norms, spherical gradients and
      effective learning rates at every step, for one or a batch of initial points.
    * :func:`exponential_schedule`, :func:`equivalence_scale`: the weight-decay <-> exponential
      learning-rate schedule conversion of Li & Arora (2020); :func:`with_weight_decay` adds the
      decay to any ``fun(w) -> (loss, grad)`` so that plain GD runners do GD with weight decay.
    * :func:`equilibrium_norm`: the fixed point of the norm recursion.
    * :func:`sphere_smoothness`, :func:`convergence_count_bound`, :func:`wd_convergence_time_bound`:
      the constants of the convergence theorems of the chapter.
    * :func:`product_gd` (a :class:`ProductRun`), :func:`product_blowup_threshold`: GD on the
      overparametrised 1-D logistic regression ``W = w_1 ... w_k`` of the motivation.
    * torch (float64): :class:`ScaleInvariantMLP` (with :meth:`ScaleInvariantMLP.module`, the
      network as a ``torch.nn.Module`` for :func:`ibcore.ntk.empirical_ntk`),
      :class:`BNClassifier`, :func:`torch_objective`, :func:`train_bn_classifier`;
      :func:`one_hidden_layer_ntk_limit`, the infinite-width kernel of a one-hidden-layer
      :class:`ScaleInvariantMLP`.

All numpy arrays are float64 and every public function validates its arguments.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .descent import DEFAULT_BLOWUP_FACTOR, iterate, run_gd
from .ntk import two_layer_ntk
from .sharpness import hvp as _hvp
from .validation import (
    _real_scalar,
    as_array,
    as_matrix,
    as_vector,
    check_rng,
    positive_float,
    positive_int,
)

__all__ = [
    "BNClassifier",
    "NormRun",
    "NormalizedLinear",
    "NormalizedProduct",
    "ProductRun",
    "RotationLoss",
    "ScaleInvariantMLP",
    "angular_clock",
    "convergence_count_bound",
    "effective_sharpness",
    "equilibrium_norm",
    "equivalence_scale",
    "exponential_schedule",
    "first_hit",
    "kick_onset_sharpness",
    "kick_starts",
    "one_hidden_layer_ntk_limit",
    "product_blowup_threshold",
    "product_gd",
    "run_scale_invariant_gd",
    "sphere_smoothness",
    "torch_objective",
    "train_bn_classifier",
    "turning_angles",
    "wd_convergence_time_bound",
    "with_weight_decay",
]


# -- weight decay and learning rates ----------------------------------------------------------


def _check_eta_mu(eta, weight_decay) -> tuple[float, float]:
    eta = positive_float(eta, "eta")
    mu = positive_float(weight_decay, "weight_decay", allow_zero=True)
    if eta * mu >= 1.0:
        raise ValueError(
            f"eta * weight_decay = {eta * mu:.4g} must be < 1: the decay factor 1 - eta*mu "
            "would be <= 0 (the update would flip or erase w); lower eta or weight_decay so "
            "that eta * weight_decay < 1"
        )
    return eta, mu


def exponential_schedule(eta, weight_decay, n_steps) -> np.ndarray:
    """Learning rates ``eta_t = eta (1 - eta mu)^{-(2t + 1)}``, ``t = 0, ..., n_steps - 1``.

    With a scale-invariant loss, GD with weight decay ``mu`` and constant rate ``eta``,
    ``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``, and plain GD with this schedule,
    ``v_{t+1} = v_t - eta_t grad L(v_t)``, started at the same point, satisfy
    ``v_t = w_t / (1 - eta mu)^t`` (Li & Arora, 2020); see :func:`equivalence_scale`.

    Raises ``ValueError`` if ``eta * weight_decay >= 1`` or if the schedule overflows float64.
    """
    eta, mu = _check_eta_mu(eta, weight_decay)
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    t = np.arange(n_steps, dtype=np.float64)
    log_rates = math.log(eta) - (2.0 * t + 1.0) * math.log1p(-eta * mu)
    if n_steps and log_rates[-1] > 700.0:
        raise ValueError(
            f"the schedule overflows float64 after {n_steps} steps (eta_t reaches "
            f"exp({log_rates[-1]:.0f})); use fewer steps or a smaller eta * weight_decay"
        )
    return eta * np.exp(-(2.0 * t + 1.0) * math.log1p(-eta * mu))


def equivalence_scale(eta, weight_decay, t) -> np.ndarray:
    """The factor ``(1 - eta mu)^{-t}`` with ``v_t = w_t * equivalence_scale(eta, mu, t)``.

    ``w_t``: GD with weight decay; ``v_t``: GD with :func:`exponential_schedule`. ``t`` may be an
    int or an array of non-negative step indices.
    """
    eta, mu = _check_eta_mu(eta, weight_decay)
    t = as_array(t, "t")
    if np.any(t < 0):
        raise ValueError("t must hold non-negative step indices")
    return np.exp(-t * math.log1p(-eta * mu))


def with_weight_decay(fun, weight_decay):
    """``fun(w) -> (L(w), grad L(w))`` turned into the weight-decayed objective
    ``w -> (L(w) + (mu/2) ||w||^2, grad L(w) + mu w)``.

    Plain GD with step ``eta`` on the result, e.g. :func:`ibcore.descent.run_gd`, is GD with
    weight decay, ``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``. The returned loss includes
    the decay term; evaluate ``fun`` itself for the loss without it.
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable fun(w) -> (loss, grad), got {type(fun).__name__}")
    mu = positive_float(weight_decay, "weight_decay", allow_zero=True)

    def decayed(w):
        loss, grad = fun(w)
        w = np.asarray(w, dtype=np.float64)
        return loss + 0.5 * mu * float(w @ w), grad + mu * w

    return decayed


def equilibrium_norm(eta, weight_decay, sphere_grad) -> float:
    """Fixed point ``r*`` of the norm recursion with a constant spherical gradient norm ``G``.

    ``s = r^2`` follows ``s_{t+1} = (1 - eta mu)^2 s_t + eta^2 G^2 / s_t``, whose positive fixed
    point solves ``r*^4 = eta G^2 / (mu (2 - eta mu))`` (about ``eta G^2 / (2 mu)``). The
    effective learning rate there is ``eta / r*^2 = sqrt(eta mu (2 - eta mu)) / G``.
    """
    eta, mu = _check_eta_mu(eta, weight_decay)
    if mu == 0.0:
        raise ValueError("weight_decay must be > 0: without decay the norm has no equilibrium")
    g = positive_float(sphere_grad, "sphere_grad")
    r = float((eta * g * g / (mu * (2.0 - eta * mu))) ** 0.25)
    if not 0.0 < r < math.inf:
        raise ValueError(
            f"sphere_grad = {g:.3g} is out of range: r*^4 = eta G^2 / (mu (2 - eta mu)) "
            "under- or overflows float64; use a moderate sphere_grad"
        )
    return r


# -- numpy scale-invariant losses ---------------------------------------------------------------


def _rows(w, d, name="w") -> tuple[np.ndarray, bool]:
    arr = as_array(w, name)
    single = arr.ndim == 1
    arr2 = arr[None, :] if single else arr
    if arr2.ndim != 2 or arr2.shape[1] != d:
        raise ValueError(f"{name} must have shape ({d},) or (batch, {d}), got {arr.shape}")
    norms = np.linalg.norm(arr2, axis=1)
    if np.any(norms == 0.0):
        raise ValueError(f"{name} must be non-zero: a scale-invariant loss is undefined at w = 0")
    return arr2, single


def _sphere_hessians(U, gF, HF) -> np.ndarray:
    """Hessians at the unit vectors ``U`` (B, d) of ``L(w) = F(w / ||w||)``.

    With ``P = I - u u^T`` and ``G = grad F(u)``, ``Hess L(u) = P HF P - (u.G) P - u (PG)^T -
    (PG) u^T``, where ``HF`` (d, d) or (B, d, d) is the Hessian of ``F`` at ``u``. At ``w = r u``
    the Hessian is ``Hess L(u) / r^2`` (the identities of scale invariance)."""
    d = U.shape[1]
    P = np.eye(d)[None] - U[:, :, None] * U[:, None, :]
    pg = gF - np.einsum("bi,bi->b", gF, U)[:, None] * U
    return (
        P @ HF @ P
        - np.einsum("bi,bi->b", U, gF)[:, None, None] * P
        - U[:, :, None] * pg[:, None, :]
        - pg[:, :, None] * U[:, None, :]
    )


def _top_eigenvalues(H) -> np.ndarray:
    return np.linalg.eigvalsh(H)[:, -1]


class NormalizedLinear:
    """Scale-invariant least squares: ``L(w) = (1/2n) ||g X u - y||^2`` with ``u = w / ||w||``.

    This is a linear unit with weight normalisation (Salimans & Kingma, 2016) and a frozen gain
    ``g``; ``L(c w) = L(w)`` for ``c > 0``. With ``F(u) = (1/2n)||g X u - y||^2``,
    ``grad L(w) = P grad F(u) / ||w||`` where ``P = I - u u^T`` projects out ``u``.

    Parameters
    ----------
    X : (n, d) array, y : (n,) array, gain : float > 0.
    """

    def __init__(self, X, y, gain=1.0):
        self.X = as_matrix(X, "X")
        self.y = as_vector(y, "y", length=self.X.shape[0])
        self.gain = positive_float(gain, "gain")
        if not 1e-150 < self.gain < 1e150:
            raise ValueError(
                f"gain must lie in (1e-150, 1e150) (gain^2 must fit float64), got {gain}"
            )
        self.n, self.d = self.X.shape
        if self.d < 2:
            raise ValueError("X needs at least 2 columns: with d = 1 the sphere is two points")
        self._A = self.gain**2 * self.X.T @ self.X / self.n
        self._b = self.gain * self.X.T @ self.y / self.n
        self._c = float(self.y @ self.y) / (2 * self.n)

    def _parts(self, w):
        W, single = _rows(w, self.d)
        return (W, single, *self._raw(W))

    def _raw(self, W):
        """Unvalidated core on a (B, d) array: ``r, U, loss, grad F, P grad F``."""
        r = np.sqrt(np.einsum("bi,bi->b", W, W))
        U = W / r[:, None]
        AU = U @ self._A
        loss = 0.5 * np.einsum("bi,bi->b", U, AU) - U @ self._b + self._c
        gF = AU - self._b  # grad F(u)
        gF_perp = gF - np.einsum("bi,bi->b", gF, U)[:, None] * U
        return r, U, loss, gF, gF_perp

    def _step_parts(self, W):
        """``(loss, grad)`` on a validated (B, d) array (the fast path of the runners)."""
        r, _, loss, _, gF_perp = self._raw(W)
        return loss, gF_perp / r[:, None]

    def __call__(self, w):
        """``(loss, grad)`` at ``w`` of shape (d,); for a batch (B, d): arrays (B,) and (B, d)."""
        _, single, r, _, loss, _, gF_perp = self._parts(w)
        grad = gF_perp / r[:, None]
        return (float(loss[0]), grad[0]) if single else (loss, grad)

    def sphere_grad_norm(self, w):
        """``G(w) = ||w|| ||grad L(w)||``, the gradient norm at the unit vector ``w / ||w||``."""
        _, single, _, _, _, _, gF_perp = self._parts(w)
        g = np.linalg.norm(gF_perp, axis=1)
        return float(g[0]) if single else g

    def hessian(self, w) -> np.ndarray:
        """Hessian of ``L`` at ``w`` (shape (d,)): with ``G = grad F(u)``, ``r = ||w||``,
        ``H = [P A P - (u.G) P - u (PG)^T - (PG) u^T] / r^2`` where ``A = g^2 X^T X / n``."""
        _, single, r, U, _, gF, _ = self._parts(w)
        if not single:
            raise ValueError("hessian takes one point w of shape (d,)")
        return _sphere_hessians(U, gF, self._A)[0] / r[0] ** 2

    def sphere_sharpness(self, w):
        """Spherical sharpness ``S(w) = lambda_max(Hess L(w / ||w||))`` (float, or (B,) for a
        batch). The Hessian at ``w`` itself is ``Hess L(w / ||w||) / ||w||^2``, so GD with rate
        ``eta`` sees the sharpness ``eta S(w) / ||w||^2`` (see :func:`effective_sharpness`)."""
        _, single, _, U, _, gF, _ = self._parts(w)
        s = _top_eigenvalues(_sphere_hessians(U, gF, self._A))
        return float(s[0]) if single else s

    def unnormalized(self):
        """The same unit without normalisation: ``fun(w) = ((1/2n)||g X w - y||^2, grad)``."""

        def fun(w):
            w = np.asarray(w, dtype=np.float64)
            res = self.gain * (self.X @ w) - self.y
            return float(res @ res) / (2 * self.n), self.gain * self.X.T @ res / self.n

        return fun

    def unnormalized_stability_limit(self) -> float:
        """``2 / lambda_max(g^2 X^T X / n)``: GD on :meth:`unnormalized` diverges beyond it."""
        return float(2.0 / np.linalg.eigvalsh(self._A)[-1])

    def minimizer(self) -> np.ndarray:
        """The unit vector ``u*`` minimising ``F(u) = (1/2n)||g X u - y||^2`` on the sphere (a
        trust-region subproblem), by bisection on the secular equation
        ``||(A - s I)^{-1} b|| = 1``, ``s < lambda_min(A)``, where ``A = g^2 X^T X / n`` and
        ``b = g X^T y / n``; then ``u* = (A - s I)^{-1} b``."""
        vals, vecs = np.linalg.eigh(self._A)
        bt = vecs.T @ self._b

        def norm2(shift):  # ||(A - shift I)^{-1} b||^2, shift < lambda_min
            return float(np.sum((bt / (vals - shift)) ** 2))

        hi = vals[0] - 1e-300
        lo = vals[0] - max(1.0, float(np.linalg.norm(self._b)) + abs(vals[0]))
        while norm2(lo) > 1.0:
            lo -= 2 * (vals[0] - lo)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if norm2(mid) > 1.0:
                hi = mid
            else:
                lo = mid
        u = vecs @ (bt / (vals - lo))
        return u / np.linalg.norm(u)

    def min_loss(self) -> float:
        """``min_{||u|| = 1} F(u)`` = ``L(u*)`` (:meth:`minimizer`), the reference value of the
        loss."""
        return float(self(self.minimizer())[0])

    def unnormalized_min_loss(self) -> float:
        """``min_w (1/2n)||g X w - y||^2`` over all of ``R^d`` (least squares): the reference
        value of :meth:`unnormalized`. It is ``<=`` :meth:`min_loss` (no constraint on
        ``||w||``)."""
        w, *_ = np.linalg.lstsq(self.gain * self.X, self.y, rcond=None)
        return self.unnormalized()(w)[0]


class RotationLoss:
    """The 2-D scale-invariant toy ``L(w) = c atan2(w_2, w_1)``, gradient ``c (-w_2, w_1)/||w||^2``.

    Its spherical gradient norm is the constant ``c``: GD keeps rotating, so the norm recursion
    has an exact equilibrium (see :func:`equilibrium_norm`). ``L`` is defined up to multiples of
    ``2 pi c`` (only the gradient matters here).
    """

    d = 2

    def __init__(self, c=1.0):
        self.c = positive_float(c, "c")

    def __call__(self, w):
        W, single = _rows(w, 2)
        r2 = np.sum(W * W, axis=1)
        loss = self.c * np.arctan2(W[:, 1], W[:, 0])
        grad = self.c * np.stack([-W[:, 1], W[:, 0]], axis=1) / r2[:, None]
        return (float(loss[0]), grad[0]) if single else (loss, grad)

    def _step_parts(self, W):
        r2 = np.einsum("bi,bi->b", W, W)
        loss = self.c * np.arctan2(W[:, 1], W[:, 0])
        return loss, self.c * np.stack([-W[:, 1], W[:, 0]], axis=1) / r2[:, None]

    def sphere_grad_norm(self, w):
        _, single = _rows(w, 2)
        return self.c if single else np.full(np.atleast_2d(w).shape[0], self.c)


class NormalizedProduct:
    """Scale-invariant two-factor toy on ``R^3``: ``L(w) = (1/2) (u_1 u_2 - y)^2``, ``u = w/||w||``.

    The product ``u_1 u_2`` of two normalised weights fits the target ``y`` in ``(0, 1/2)``; the
    third coordinate does not enter the product but shares the normalisation. The minimisers
    on the unit sphere form the manifold ``Gamma = {u : ||u|| = 1, u_1 u_2 = y}`` (two closed
    curves). With ``f(u) = u_1 u_2 - y`` and ``P = I - u u^T``, the Hessian at ``u`` in ``Gamma``
    is ``P grad f grad f^T P``, so the *spherical sharpness* there is

        S(u) = ||P grad f(u)||^2 = u_1^2 + u_2^2 - 4 y^2 = 1 - u_3^2 - 4 y^2,

    from :attr:`max_sharpness` ``= 1 - 4 y^2`` (``u_3 = 0``) down to :attr:`min_sharpness`
    ``= 2y - 4y^2`` at the balanced points ``|u_1| = |u_2| = sqrt(y)``,
    ``|u_3| = sqrt(1 - 2y)``. Every point of ``Gamma`` is a global minimiser (``L = 0``): plain
    gradient descent stops at whichever it reaches; the chapter uses the toy to show that
    gradient descent with weight decay drifts to the flattest one (Lyu, Li & Arora, 2022).
    """

    d = 3

    def __init__(self, target=0.2):
        y = positive_float(target, "target")
        if not y < 0.5:
            raise ValueError(
                f"target must lie in (0, 1/2) (u_1 u_2 <= 1/2 on the unit sphere), got {y}"
            )
        self.target = y
        self.min_sharpness = 2.0 * y - 4.0 * y * y
        self.max_sharpness = 1.0 - 4.0 * y * y

    def _raw(self, W):
        """Unvalidated core on (B, 3): ``r, U, loss, grad F(U), P grad F(U), f(U)``."""
        r = np.sqrt(np.einsum("bi,bi->b", W, W))
        U = W / r[:, None]
        f = U[:, 0] * U[:, 1] - self.target
        gF = f[:, None] * np.stack([U[:, 1], U[:, 0], np.zeros_like(f)], axis=1)
        gF_perp = gF - np.einsum("bi,bi->b", gF, U)[:, None] * U
        return r, U, 0.5 * f * f, gF, gF_perp, f

    def _step_parts(self, W):
        # grad L(w) = (f / ||w||^2) ((w_2, w_1, 0) - 2 u_1 u_2 w), f = u_1 u_2 - y: the same as
        # P grad F(u) / ||w|| of ``_raw``, in fewer array operations (this is the GD inner loop)
        r2 = np.einsum("bi,bi->b", W, W)
        prod = W[:, 0] * W[:, 1] / r2
        f = prod - self.target
        grad = (-2.0 * prod)[:, None] * W
        grad[:, 0] += W[:, 1]
        grad[:, 1] += W[:, 0]
        grad *= (f / r2)[:, None]
        return 0.5 * f * f, grad

    def __call__(self, w):
        """``(loss, grad)`` at ``w`` of shape (3,); for a batch (B, 3): arrays (B,) and (B, 3)."""
        W, single = _rows(w, 3)
        loss, grad = self._step_parts(W)
        return (float(loss[0]), grad[0]) if single else (loss, grad)

    def sphere_grad_norm(self, w):
        """``G(w) = ||w|| ||grad L(w)||``, the gradient norm at the unit vector ``w / ||w||``."""
        W, single = _rows(w, 3)
        g = np.linalg.norm(self._raw(W)[4], axis=1)
        return float(g[0]) if single else g

    def _hessians(self, W):
        r, U, _, gF, _, f = self._raw(W)
        grad_f = np.stack([U[:, 1], U[:, 0], np.zeros_like(f)], axis=1)
        hess_f = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        HF = grad_f[:, :, None] * grad_f[:, None, :] + f[:, None, None] * hess_f
        return r, _sphere_hessians(U, gF, HF)

    def hessian(self, w) -> np.ndarray:
        """Hessian of ``L`` at ``w`` (shape (3,)), ``Hess L(w/||w||) / ||w||^2``."""
        W, single = _rows(w, 3)
        if not single:
            raise ValueError("hessian takes one point w of shape (3,)")
        r, H = self._hessians(W)
        return H[0] / r[0] ** 2

    def sphere_sharpness(self, w):
        """``S(w) = lambda_max(Hess L(w / ||w||))`` (float, or (B,) for a batch (B, 3))."""
        W, single = _rows(w, 3)
        s = _top_eigenvalues(self._hessians(W)[1])
        return float(s[0]) if single else s

    def _max_height(self) -> float:
        return math.sqrt(1.0 - 2.0 * self.target)

    def manifold_point(self, height) -> np.ndarray:
        """The point of ``Gamma`` with ``u_3 = height`` and ``u_1 >= u_2 > 0``: with
        ``p = 1 - height^2``, ``u_{1,2} = (sqrt(p + 2y) +- sqrt(p - 2y)) / 2``. Needs
        ``|height| <= sqrt(1 - 2y)`` (the balanced points). Its sharpness is ``p - 4y^2``."""
        h = _real_scalar(height, "height")
        if abs(h) > self._max_height():
            raise ValueError(
                f"height must satisfy |height| <= sqrt(1 - 2 target) = {self._max_height():.6g} "
                f"(no point of the manifold is higher), got {h}"
            )
        p = 1.0 - h * h
        a, b = math.sqrt(p + 2 * self.target), math.sqrt(max(p - 2 * self.target, 0.0))
        return np.array([(a + b) / 2, (a - b) / 2, h])

    def project(self, w, *, tol=1e-14, max_iter=60) -> np.ndarray:
        """Unit vectors on ``Gamma`` near the directions ``w / ||w||`` (shape (3,) or (B, 3)).

        Gauss-Newton steps on the constraint ``f(u) = 0`` along its spherical gradient
        ``n = P grad f(u)``, ``u <- normalise(u - f(u) n / ||n||^2)``, until ``|f| <= tol``. The
        limit agrees with the nearest point of ``Gamma`` and with the end point of gradient
        flow on ``L`` (the projection ``Phi`` of Lyu et al.) up to ``O(dist(u, Gamma)^2)``.
        Raises ``ValueError`` if ``n`` vanishes (e.g. at the poles ``u = +-e_3``) or the
        iteration does not converge: ``w`` must point near the manifold.
        """
        W, single = _rows(w, 3)
        tol = positive_float(tol, "tol")
        max_iter = positive_int(max_iter, "max_iter")
        U = W / np.linalg.norm(W, axis=1)[:, None]
        for _ in range(max_iter):
            f = U[:, 0] * U[:, 1] - self.target
            if np.max(np.abs(f)) <= tol:
                break
            n = np.stack([U[:, 1], U[:, 0], np.zeros_like(f)], axis=1)
            n -= np.einsum("bi,bi->b", n, U)[:, None] * U
            nn = np.einsum("bi,bi->b", n, n)
            if np.any(nn < 1e-12):
                raise ValueError(
                    "w points where the spherical gradient of u_1 u_2 vanishes (e.g. along "
                    "+-e_3): project only directions near the minimiser manifold"
                )
            U = U - (f / nn)[:, None] * n
            U /= np.linalg.norm(U, axis=1)[:, None]
        else:
            raise ValueError(
                f"the projection did not reach |u_1 u_2 - y| <= {tol:g} in {max_iter} steps: "
                "w must point near the minimiser manifold"
            )
        return U[0] if single else U

    def _flow_clock(self, x, p0):
        """Intrinsic time ``s`` at which the flow from ``p0`` reaches ``p = 2y + x``, closed form.

        ``ds = -(p - a)^2 dp / ((1 - p)(p - 2y)(p + 2y))`` with ``a = 4y^2``; partial fractions
        give ``s(p) = A ln((1 - p)/(1 - p0)) - B ln((p - 2y)/(p0 - 2y)) - C ln((p + 2y)/(p0 + 2y))``
        with ``A = 1 - a``, ``B = (2y - a)^2 / (4y (1 - 2y))``, ``C = -(2y + a)^2 / (4y (1 + 2y))``.
        ``x = p - 2y > 0`` is passed instead of ``p`` to keep its relative precision near the end.
        """
        y = self.target
        a = 4.0 * y * y
        A = 1.0 - a
        B = (2 * y - a) ** 2 / (4 * y * (1 - 2 * y))
        C = -((2 * y + a) ** 2) / (4 * y * (1 + 2 * y))
        p = 2 * y + x
        return (A * np.log((1.0 - p) / (1.0 - p0)) - B * np.log(x / (p0 - 2 * y))
                - C * np.log((p + 2 * y) / (p0 + 2 * y)))

    def _solve_flow(self, height, times, name, to_intrinsic):
        """``S`` at the given times of a clock; ``to_intrinsic(s, S, S0)`` maps the intrinsic time
        ``s`` reached at sharpness ``S`` to that clock's time (monotone). Inverts the closed form
        :meth:`_flow_clock` by bisection in ``log(p - 2y)`` (vectorised; exact to rounding)."""
        y4 = 4.0 * self.target**2
        p0 = 1.0 - float(self.manifold_point(height)[2]) ** 2
        t_arr = as_array(times, name)
        scalar = t_arr.ndim == 0
        t_arr = np.atleast_1d(t_arr)
        if t_arr.ndim != 1 or np.any(t_arr < 0) or np.any(np.diff(t_arr) < 0):
            raise ValueError(f"{name} must be a non-negative, non-decreasing scalar or 1-D array")
        x0 = p0 - 2.0 * self.target
        if p0 >= 1.0 - 1e-15 or x0 <= 1e-15 * p0:  # fixed points: the sharpest circle, balanced
            p = np.full(t_arr.shape, p0)
        else:
            lo = np.full(t_arr.shape, -740.0)  # log x: x = e^-740 is below rounding of p
            hi = np.full(t_arr.shape, math.log(x0))
            S0 = p0 - y4

            def clock(logx):
                x = np.exp(logx)
                return to_intrinsic(self._flow_clock(x, p0), 2.0 * self.target + x - y4, S0)

            for _ in range(60):  # the bracket shrinks from 740 to 740 / 2^60 ~ 1e-15
                mid = 0.5 * (lo + hi)
                later = clock(mid) > t_arr  # reached after t: the true x is larger
                lo = np.where(later, mid, lo)
                hi = np.where(later, hi, mid)
            x = np.exp(0.5 * (lo + hi))
            p = np.where(t_arr == 0.0, p0, 2.0 * self.target + x)
        S = p - y4
        return float(S[0]) if scalar else S

    def sharpness_flow(self, height, s) -> np.ndarray:
        """Sharpness ``S(u(s))`` along the sharpness-reduction flow ``du/ds = -(1/4) grad_Gamma
        log S(u)`` (the Riemannian gradient flow of ``-(1/4) log S`` on ``Gamma``), from
        ``u(0) = manifold_point(height)``.

        The clock ``s`` is the *intrinsic* one, the accumulated squared angular step of the
        direction (:func:`angular_clock`): on it, gradient descent with weight decay at the edge
        of stability follows this flow as ``eta mu -> 0``. On the clock ``tau = eta mu t`` use
        :meth:`weight_decay_flow` (same path, other speed).

        On ``Gamma`` the unit tangent ``t`` is parallel to ``u x P grad f``, whose squared length
        is ``S`` and whose third component is ``u_1^2 - u_2^2``; with ``S = 1 - u_3^2 - 4y^2`` and
        ``p = u_1^2 + u_2^2 = 1 - u_3^2`` the flow reduces to the scalar equation

            dp/ds = -(1 - p) (p^2 - 4 y^2) / (p - 4 y^2)^2,    S = p - 4 y^2,

        which decreases ``S`` to :attr:`min_sharpness` (``p = 2y``) from every start but the
        sharpest circle ``p = 1`` (a fixed point). ``s`` is a non-negative, non-decreasing scalar
        or 1-D array. The equation is separable: ``s(p)`` is a sum of three logarithms
        (partial fractions), inverted by bisection, so ``S`` is exact to rounding (~1e-15).
        """
        return self._solve_flow(height, s, "s", lambda s_, S, S0: s_)

    def weight_decay_flow(self, height, tau) -> np.ndarray:
        """Sharpness along the same flow as :meth:`sharpness_flow`, on the clock ``tau = eta mu t``
        of gradient descent with weight decay ``mu`` at rate ``eta`` (``t`` steps).

        The two clocks are tied by the norm: exactly, ``s_t = ln(||w_t||^2 / ||w_0||^2) -
        2 t ln(1 - eta mu)`` (:func:`angular_clock`), and at the edge of stability
        ``||w_t||^2 = eta S / (2 (1 - eta mu))``, so ``s = 2 tau + ln(S / S_0)`` in the limit
        ``eta mu -> 0``. With ``R = -dS/ds = (1/4) S ||grad_Gamma log S||^2`` this gives

            dS/dtau = -2 R S / (S + R),
            i.e.  du/dtau = -2 grad_Gamma log S / (4 + ||grad_Gamma log S||^2):

        twice the speed of ``-(1/4) grad_Gamma log S`` where ``||grad_Gamma log S||`` is small
        (near the sharpest circle, a fixed point), the same speed where it equals 2, and slower
        beyond. Start at ``tau = 0`` with the norm at the edge of stability. ``tau``: as ``s``
        in :meth:`sharpness_flow`.
        """
        # integrating dtau = ds / 2 - dS / (2 S): tau = (s - ln(S / S_0)) / 2 along the path
        return self._solve_flow(height, tau, "tau", lambda s_, S, S0: 0.5 * (s_ - np.log(S / S0)))


def angular_clock(run) -> np.ndarray:
    """The intrinsic clock ``s_t = sum_{k < t} ln(1 + tan^2 theta_k)`` of a :class:`NormRun`,
    ``theta_k`` the turning angle of the direction at step ``k`` (:func:`turning_angles`);
    ``s_t ~ sum_k theta_k^2`` for small angles.

    The direction moves by ``tan theta_t = eta_eff_t G(w_t)`` and the norm obeys
    ``||w_{t+1}||^2 = (1 - eta mu)^2 ||w_t||^2 (1 + tan^2 theta_t)``, so the clock is read off
    the norm exactly: ``s_t = ln(||w_t||^2 / ||w_0||^2) - 2 t ln(1 - eta mu)``, which is how it
    is computed. Shape ``(n_steps + 1,)``, or ``(n_steps + 1, B)`` for a batch of runs.
    """
    if not isinstance(run, NormRun):
        raise TypeError(f"run must be a NormRun (run_scale_invariant_gd), got {type(run).__name__}")
    t = np.arange(run.norm.shape[0], dtype=float).reshape((-1,) + (1,) * (run.norm.ndim - 1))
    return 2.0 * np.log(run.norm / run.norm[0]) - 2.0 * t * math.log1p(-run.eta * run.weight_decay)


def effective_sharpness(loss, run, *, at=None) -> np.ndarray:
    """``eta_eff_t S`` along a :class:`NormRun`: the sharpness the direction dynamics sees.

    ``eta_eff_t = eta / ((1 - eta mu) ||w_t||^2)`` is the chapter's effective learning rate and
    ``S`` the spherical sharpness ``lambda_max(Hess L(w_t / ||w_t||))`` of ``loss`` (a
    :class:`NormalizedLinear` or :class:`NormalizedProduct`), or, with ``at`` a fixed point, the
    constant ``S(at)`` (e.g. at the minimiser, to read off the stability of resting there). A
    direction resting at a minimiser ``u`` loses linear stability once ``eta_eff_t S(u) > 2``.
    """
    if not isinstance(loss, (NormalizedLinear, NormalizedProduct)):
        raise TypeError(
            f"loss must be a NormalizedLinear or NormalizedProduct, got {type(loss).__name__}"
        )
    if not isinstance(run, NormRun):
        raise TypeError(f"run must be a NormRun (run_scale_invariant_gd), got {type(run).__name__}")
    if run.w.shape[-1] != loss.d:
        raise ValueError(f"run has dimension {run.w.shape[-1]}, the loss takes {loss.d}")
    if at is None:
        S = loss.sphere_sharpness(run.w.reshape(-1, loss.d)).reshape(run.norm.shape)
    else:
        S = loss.sphere_sharpness(as_vector(at, "at", length=loss.d))
    return run.eta * S / ((1.0 - run.eta * run.weight_decay) * run.norm**2)


def turning_angles(run) -> np.ndarray:
    """Angle (radians) between consecutive directions ``u_t = w_t / ||w_t||`` and ``u_{t+1}``.

    ``run`` is a :class:`NormRun`; the result has shape ``(n_steps,)`` (or ``(n_steps, B)`` for a
    batch of runs). Computed as ``2 arcsin(||u_{t+1} - u_t|| / 2)``, which stays accurate for tiny
    angles (``arccos`` of the dot product loses every angle below about ``1e-8``): a direction at
    rest shows angles at rounding level, ``~1e-16``.
    """
    if not isinstance(run, NormRun):
        raise TypeError(f"run must be a NormRun (run_scale_invariant_gd), got {type(run).__name__}")
    chord = np.linalg.norm(np.diff(run.direction, axis=0), axis=-1)
    return 2.0 * np.arcsin(np.minimum(0.5 * chord, 1.0))


def kick_starts(angles, threshold) -> np.ndarray:
    """Steps ``t >= 1`` with ``angles[t] > threshold >= angles[t - 1]``: where kicks start.

    ``angles`` is a 1-D array of turning angles (:func:`turning_angles`) of one run. A *kick* is a
    burst of motion of the direction after a phase of rest; its start is the first step of the
    burst above ``threshold`` (a positive angle in radians, e.g. ``1e-2``).
    """
    a = as_array(angles, "angles", ndim=1)
    thr = positive_float(threshold, "threshold")
    return np.flatnonzero((a[1:] > thr) & (a[:-1] <= thr)) + 1


def first_hit(values, threshold) -> np.ndarray:
    """First index ``t`` along axis 0 with ``values[t] <= threshold``, and ``-1`` where none is.

    ``values`` has shape ``(n,)`` or ``(n, B)`` (e.g. ``run.sphere_grad ** 2`` of a batch of runs);
    the result is an int (1-D input) or an int array of shape ``(B,)``. Used for the first step
    at which gradient descent meets a convergence guarantee such as ``G_t^2 <= delta``.
    """
    v = as_array(values, "values")
    if v.ndim not in (1, 2):
        raise ValueError(f"values must have shape (n,) or (n, B), got {v.shape}")
    thr = _real_scalar(threshold, "threshold")
    if not math.isfinite(thr):
        raise ValueError(f"threshold must be finite, got {thr}")
    below = v <= thr
    idx = np.where(below.any(axis=0), np.argmax(below, axis=0), -1)
    return int(idx) if v.ndim == 1 else idx.astype(int)


def kick_onset_sharpness(eta, weight_decay, growth) -> tuple[float, int]:
    """Effective sharpness at which a resting direction is kicked out: ``(e_onset, steps)``.

    Model (the chapter's proposition *Resting at a minimum is temporary*): while the direction
    rests at a minimiser with spherical sharpness ``S``, weight decay raises ``e_t = eta_eff_t S``
    by the factor ``(1 - eta mu)^{-2}`` per step; once ``e_t > 2``, a perturbation along the top
    eigenvector is multiplied by ``e_t - 1`` per step. With the clock started at ``e_0 = 2``, the
    result is the first ``e_s = 2 (1 - eta mu)^{-2s}`` with ``prod_{j=1}^{s} (e_j - 1) >= growth``,
    and ``s``. With ``growth`` the ratio between the size at which a kick is seen and the size of
    the seed perturbation (rounding error, ``~1e-16``), this is where kicks start. To leading
    order in ``eta mu``, ``e_onset = 2 + 2 sqrt(2 eta mu ln(growth))``.
    """
    eta, mu = _check_eta_mu(eta, weight_decay)
    if eta * mu < 1e-10:
        raise ValueError(
            f"eta * weight_decay = {eta * mu:.3g} must be >= 1e-10 (weight decay must be > 0; "
            "below 1e-10 the onset takes more than 1e5 steps to find)"
        )
    g = positive_float(growth, "growth")
    if g <= 1.0:
        raise ValueError(f"growth must be > 1 (the perturbation's growth factor), got {g}")
    rate = -2.0 * math.log1p(-eta * mu)  # ln of the per-step factor of e_t
    log_prod, s = 0.0, 0
    while log_prod < math.log(g):
        s += 1
        log_prod += math.log(2.0 * math.exp(rate * s) - 1.0)
    return 2.0 * math.exp(rate * s), s


@dataclass(frozen=True)
class NormRun:
    """GD on a scale-invariant loss, recorded at every step ``t = 0, ..., n_steps``.

    Arrays have shape ``(n_steps + 1,)`` for one run, ``(n_steps + 1, B)`` for a batch of runs
    (``w`` has one more trailing axis of size ``d``). ``eff_lr = eta / ||w||^2``.
    """

    w: np.ndarray
    norm: np.ndarray
    loss: np.ndarray
    sphere_grad: np.ndarray
    eff_lr: np.ndarray
    eta: float
    weight_decay: float

    @property
    def direction(self) -> np.ndarray:
        return self.w / self.norm[..., None]


def run_scale_invariant_gd(loss, w0, eta, n_steps, *, weight_decay=0.0) -> NormRun:
    """GD with weight decay, ``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``, every step kept.

    ``loss`` is a scale-invariant numpy loss (:class:`NormalizedLinear`, :class:`RotationLoss`)
    that accepts a batch of points; ``w0`` of shape (d,) or (B, d) runs one or B independent
    runs at once (vectorised). ``weight_decay = 0`` is plain GD, whose norm never decreases.
    The loop is :func:`ibcore.descent.iterate` (batched, every step recorded).

    Raises
    ------
    ibcore.DivergenceError
        If a loss value becomes non-finite (the weights overflowed float64); a scale-invariant
        loss is bounded, so this needs an extreme ``w0`` or ``eta``.
    """
    if not (callable(loss) and hasattr(loss, "sphere_grad_norm")):
        raise TypeError(
            "loss must be a scale-invariant loss object (NormalizedLinear, NormalizedProduct "
            "or RotationLoss)"
        )
    eta, mu = _check_eta_mu(eta, weight_decay)
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    W, single = _rows(w0, loss.d, "w0")
    decay = 1.0 - eta * mu
    grad = {}

    def measure(W):
        f, grad["g"] = loss._step_parts(W)
        return f

    def advance(W, _t, _active):  # a diverging run raises, so every run is active here
        with np.errstate(over="ignore", invalid="ignore"):  # caught by the divergence test
            return decay * W - eta * grad["g"]

    run = iterate(
        advance,
        W,
        n_steps,
        measure=measure,
        checkpoints=np.arange(n_steps + 1),
        record=lambda W: {"w": W},
        quantity="scale-invariant loss",
        hint="the weights overflowed: use a smaller eta or w0 of moderate norm",
    )
    out_w, out_loss = run.records["w"], run.values
    norm = np.linalg.norm(out_w, axis=2)
    sphere = loss.sphere_grad_norm(out_w.reshape(-1, loss.d)).reshape(norm.shape)
    if single:
        out_w, norm, out_loss, sphere = out_w[:, 0], norm[:, 0], out_loss[:, 0], sphere[:, 0]
    return NormRun(out_w, norm, out_loss, sphere, eta / norm**2, eta, mu)


def sphere_smoothness(loss, *, n_samples=2000, seed=0) -> float:
    """``Lam = max_{||w|| = 1} ||Hessian L(w)||_2`` (the chapter's curvature bound on the sphere,
    written with a capital Lambda) for a :class:`NormalizedLinear` loss.

    Estimated by evaluating the Hessian at ``n_samples`` random unit vectors and refining the
    best 5 by projected gradient-free local search (Nelder-Mead on the sphere). This is a lower
    estimate of the supremum (exact up to the optimiser's tolerance in small dimension); the
    chapter's bounds grow with ``Lam``, so an under-estimate makes their checks stricter.
    """
    if not isinstance(loss, NormalizedLinear):
        raise TypeError(f"loss must be a NormalizedLinear, got {type(loss).__name__}")
    n_samples = positive_int(n_samples, "n_samples")
    rng = check_rng(seed)
    from scipy.optimize import minimize

    def neg(v):
        return -float(np.linalg.norm(loss.hessian(v / np.linalg.norm(v)), 2))

    U = rng.standard_normal((n_samples, loss.d))
    vals = np.array([neg(u) for u in U])
    best = -vals.min()
    for k in np.argsort(vals)[:5]:
        res = minimize(neg, U[k], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-13})
        best = max(best, -res.fun)
    return float(best)


def convergence_count_bound(curvature, eta, w0_norm, eps) -> float:
    """Bound on the number of GD steps (no weight decay) with ``G(w_t)^2 > eps``.

    For a scale-invariant loss with curvature bound ``Lam = curvature`` on the unit sphere
    (:func:`sphere_smoothness`) and any ``eta > 0``:
    ``#{t : G_t^2 > eps} <= Lam^2 / eps + 1 + pi^2 Lam R^2 / (eta eps)`` with
    ``R^2 = max(r0^2, Lam eta + pi^2 Lam^2 eta^2 / r0^2) + pi^2 Lam eta`` (the chapter's
    theorem; ``R`` bounds ``||w_t||`` for all t).
    """
    curv = positive_float(curvature, "curvature")
    eta = positive_float(eta, "eta")
    r0 = positive_float(w0_norm, "w0_norm")
    eps = positive_float(eps, "eps")
    try:
        R2 = max(r0**2, curv * eta + (math.pi * curv * eta / r0) ** 2) + math.pi**2 * curv * eta
        bound = curv**2 / eps + 1.0 + math.pi**2 * curv * R2 / (eta * eps)
    except OverflowError:
        bound = math.inf
    if not math.isfinite(bound):
        raise ValueError(
            f"the bound overflows float64 for curvature={curv:.3g}, eta={eta:.3g}, "
            f"w0_norm={r0:.3g}, eps={eps:.3g}: use moderate values (e.g. rescale the loss)"
        )
    return bound


def wd_convergence_time_bound(curvature, eta, weight_decay, w0_norm) -> float:
    """``(1 / (2 eta mu)) (|ln(r0^2 / (pi^2 Lam eta))| + 3)``: within this many steps GD with
    weight decay ``mu`` reaches ``G(w_t)^2 <= 8 pi^4 Lam^2 mu eta`` (Li et al., 2022), for
    ``0 < eta mu <= 1/4`` (the range in which the chapter's proof closes). ``Lam = curvature``
    is the curvature bound on the unit sphere (:func:`sphere_smoothness`)."""
    curv = positive_float(curvature, "curvature")
    eta, mu = _check_eta_mu(eta, weight_decay)
    if mu == 0.0 or eta * mu > 0.25:
        raise ValueError(
            f"the theorem (as proved in the chapter) needs 0 < eta * weight_decay <= 1/4, "
            f"got {eta * mu:.4g}"
        )
    r0 = positive_float(w0_norm, "w0_norm")
    try:
        ratio = r0**2 / (math.pi**2 * curv * eta)
    except OverflowError:
        ratio = math.inf
    if not (0.0 < ratio < math.inf):
        raise ValueError(
            f"w0_norm^2 / (pi^2 curvature eta) under- or overflows float64 (w0_norm={r0:.3g}, "
            f"curvature={curv:.3g}, eta={eta:.3g}): use moderate values"
        )
    return (abs(math.log(ratio)) + 3.0) / (2.0 * eta * mu)


# -- overparametrised 1-D logistic regression (motivation) -------------------------------------


def _check_product(z, k):
    z = as_vector(z, "z")
    k = positive_int(k, "k", minimum=2)
    if k % 2:
        raise ValueError(f"k must be even (so that W = w^k > 0 for every w), got {k}")
    if not (np.any(z > 0) and np.any(z < 0)):
        raise ValueError("z = x_i y_i must contain both signs: the data must be non-separable")
    return z, k


def _dlogistic(W, z):
    # d/dW sum_i log(1 + exp(-W z_i)) = -sum_i z_i sigmoid(-W z_i)
    return float(-np.sum(z * 0.5 * (1.0 - np.tanh(0.5 * W * z))))


def product_blowup_threshold(W0, k, z) -> float:
    """``eta_c = 2 W0^{2/k - 1} / |l'(W0)|`` for ``l(W) = sum_i log(1 + exp(-W z_i))``.

    With ``W = w_1 ... w_k`` and all ``w_i = w = W0^{1/k}``, one GD step maps
    ``w -> w (1 - eta l'(W) w^{k-2})``; ``|w|`` (hence ``W``) grows iff
    ``eta l'(W0) W0^{1 - 2/k} > 2``, i.e. ``eta > eta_c`` (for ``W0 > W* > 0``, ``l'(W0) > 0``).
    """
    z, k = _check_product(z, k)
    W0 = positive_float(W0, "W0")
    d = _dlogistic(W0, z)
    if d <= 0:
        raise ValueError(f"need W0 above the minimiser W* (l'(W0) = {d:.3g} <= 0); increase W0")
    return 2.0 * W0 ** (2.0 / k - 1.0) / d


@dataclass(frozen=True)
class ProductRun:
    """GD on the product model :func:`product_gd`.

    Attributes
    ----------
    W : ndarray of float64, shape (k,)
        The products ``W_t = w_t^k`` for ``t = 0, ..., k - 1``: every step when the run did
        not diverge (``k = n_steps + 1``), else the steps before ``diverged_at``.
    eta : float
        The step size.
    diverged_at : int or None
        First step at which ``W_t`` was not finite or exceeded
        ``blowup_factor * max(1, W_0)`` (the policy of :func:`ibcore.descent.iterate`).
    """

    W: np.ndarray
    eta: float
    diverged_at: int | None


def product_gd(W0, k, z, eta, n_steps, *, blowup_factor=DEFAULT_BLOWUP_FACTOR) -> ProductRun:
    """GD on ``l(w_1 ... w_k)``, ``l(W) = sum_i log(1 + exp(-W z_i))``, from equal factors
    ``w_i = W0^{1/k}`` (the factors stay equal: ``w <- w - eta l'(w^k) w^{k-1}``).

    Runs on :func:`ibcore.descent.iterate` with ``on_divergence="stop"`` (above
    :func:`product_blowup_threshold` the product explodes, which is what the experiment shows):
    the monitored quantity is the product ``W_t``, and the run stops at the first ``W_t`` that is
    not finite or exceeds ``blowup_factor * max(1, W0)``.

    Parameters
    ----------
    W0 : float
        Initial product, > 0.
    k : int
        Number of factors, even and >= 2.
    z : array_like, shape (n,)
        The margins ``z_i = x_i y_i``, of both signs.
    eta : float
        Step size.
    n_steps : int
        Number of steps (>= 0).
    blowup_factor : float
        Divergence bound (>= 1).

    Returns
    -------
    ProductRun
    """
    z, k = _check_product(z, k)
    W0 = positive_float(W0, "W0")
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)

    def measure(w):
        try:
            return w**k
        except OverflowError:  # |W_t| is past float64: diverged
            return math.inf

    def advance(w, _k):
        return w - eta * _dlogistic(w**k, z) * w ** (k - 1)

    run = iterate(
        advance,
        W0 ** (1.0 / k),
        n_steps,
        measure=measure,
        checkpoints=np.arange(n_steps + 1),
        blowup_factor=blowup_factor,
        on_divergence="stop",
        quantity="product W",
    )
    W = run.values.copy()
    W[0] = W0  # the start is W0 itself, not (W0^(1/k))^k
    return ProductRun(W=W, eta=eta, diverged_at=run.diverged_at)


# -- torch models (float64) --------------------------------------------------------------------


def _torch():
    import torch

    return torch


def _normalize(z, kind: str, eps: float):
    torch = _torch()
    if kind == "layer":  # statistics over the features of each sample
        mean = z.mean(dim=-1, keepdim=True)
        var = z.var(dim=-1, unbiased=False, keepdim=True)
    elif kind == "batch":  # statistics over the batch, per feature
        mean = z.mean(dim=0, keepdim=True)
        var = z.var(dim=0, unbiased=False, keepdim=True)
    else:
        return z
    return (z - mean) / torch.sqrt(var + eps)


class ScaleInvariantMLP:
    """A bias-free ReLU MLP ``x -> relu(N(W_1 x)) -> ... -> relu(N(W_L h)) -> v . h`` (float64).

    ``N`` is layer normalisation (``norm="layer"``: per sample, over features; Ba et al., 2016),
    batch normalisation (``"batch"``: per feature, over the batch; Ioffe & Szegedy, 2015), both
    without affine parameters and with ``eps = 0`` by default, or nothing (``"none"``). The
    readout ``v`` is frozen at its random initialisation (as the chapter's lecture notes advise),
    so with a normalisation the output is invariant under ``W_l -> c W_l`` for each layer and
    any ``c > 0``: the loss is scale-invariant in the trainable parameters. With ``"none"`` the
    output is positively homogeneous of degree L in the weights and of degree 1 in ``x``.

    The trainable parameters are the flat vector ``w`` (concatenated row-major ``W_l``);
    ``forward(X, w)`` evaluates the network at any ``w``. Weights are ``N(0, 1/fan_in)``.
    """

    def __init__(self, d_in, widths, *, norm="layer", seed, eps=0.0):
        torch = _torch()
        d_in = positive_int(d_in, "d_in")
        if not isinstance(widths, (list, tuple, np.ndarray)) or len(widths) == 0:
            raise TypeError("widths must be a non-empty list of hidden widths, e.g. [16, 16]")
        widths = [positive_int(m, "widths[i]", minimum=2) for m in widths]
        if norm not in ("layer", "batch", "none"):
            raise ValueError(f"norm must be 'layer', 'batch' or 'none', got {norm!r}")
        self.eps = positive_float(eps, "eps", allow_zero=True)
        self.norm, self.d_in, self.widths = norm, d_in, widths
        rng = check_rng(seed)
        shapes, blocks, fan = [], [], d_in
        for m in widths:
            shapes.append((m, fan))
            blocks.append(rng.standard_normal(m * fan) / math.sqrt(fan))
            fan = m
        self.shapes = shapes
        self.w0 = np.concatenate(blocks)
        self.readout = torch.tensor(rng.standard_normal(fan) / math.sqrt(fan))
        self.n_params = self.w0.size
        self.slices, start = [], 0
        for m, f in shapes:
            self.slices.append(slice(start, start + m * f))
            start += m * f

    def layers(self, w):
        return [w[s].reshape(shape) for s, shape in zip(self.slices, self.shapes, strict=True)]

    def forward(self, X, w):
        """Outputs ``f(x_i; w)`` (torch, shape (n,)) for inputs ``X`` (n, d_in) and flat ``w``."""
        _check_forward(X, w, self.d_in, self.n_params)
        h = X
        for Wl in self.layers(w):
            h = _torch().relu(_normalize(h @ Wl.T, self.norm, self.eps))
        return h @ self.readout

    def module(self, w=None):
        """The network at the flat parameters ``w`` (default :attr:`w0`) as a ``torch.nn.Module``.

        Its parameters are the layer matrices ``W_1, ..., W_L`` (float64 copies of the blocks of
        ``w``, named ``"W1"``, ...); the frozen readout is a buffer. ``module(w)(X)`` equals
        ``forward(X, w)``. This is the form the torch tools take, e.g. the empirical NTK
        ``ibcore.ntk.empirical_ntk(net.module(), X1, X2)``, whose gradients are then the
        gradients with respect to the trainable ``w``. With ``norm="batch"`` the output of one
        example is undefined (its batch variance is 0): a one-example batch raises ``ValueError``,
        so per-example tools such as the empirical NTK refuse batch normalization.
        """
        w = self.w0 if w is None else as_vector(w, "w", length=self.n_params)
        return _scale_invariant_module()(self, w)


@functools.cache
def _scale_invariant_module():
    """The ``torch.nn.Module`` class behind :meth:`ScaleInvariantMLP.module` (built on first use,
    so that importing this module does not import torch)."""
    torch = _torch()

    class ScaleInvariantModule(torch.nn.Module):
        def __init__(self, net, w):
            super().__init__()
            self.norm, self.eps, self.n_layers = net.norm, net.eps, len(net.shapes)
            for i, Wl in enumerate(net.layers(torch.tensor(w, dtype=torch.float64)), start=1):
                self.register_parameter(f"W{i}", torch.nn.Parameter(Wl.clone()))
            self.register_buffer("readout", net.readout.clone())

        def forward(self, X):
            if self.norm == "batch" and X.shape[0] == 1:
                raise ValueError(
                    "batch normalization of a one-example batch is undefined (variance 0): "
                    "per-example tools such as the empirical NTK need norm='layer' or 'none'"
                )
            h = X
            for i in range(1, self.n_layers + 1):
                h = torch.relu(_normalize(h @ getattr(self, f"W{i}").T, self.norm, self.eps))
            return h @ self.readout

    return ScaleInvariantModule


def _check_forward(X, w, d_in: int, n_params: int) -> None:
    """Type and shape checks of ``forward(X, w)`` (no value checks: it runs under autograd)."""
    torch = _torch()
    if not isinstance(X, torch.Tensor):
        raise TypeError(
            f"X must be a torch tensor of shape (n, {d_in}), got {type(X).__name__}: "
            "pass torch.tensor(X)"
        )
    if X.ndim == 0 or X.shape[-1] != d_in:
        raise ValueError(f"X must have shape (n, {d_in}), got {tuple(X.shape)}")
    if not isinstance(w, torch.Tensor):
        raise TypeError(
            f"w must be a flat torch tensor of {n_params} parameters, got {type(w).__name__}: "
            "pass torch.tensor(w)"
        )
    if tuple(w.shape) != (n_params,):
        raise ValueError(f"w must have shape ({n_params},), got {tuple(w.shape)}")


def _loss_value(out, y, kind):
    torch = _torch()
    if kind == "mse":
        return 0.5 * torch.mean((out - y) ** 2)
    return torch.mean(torch.nn.functional.softplus(-y * out))


def torch_objective(model, X, y, *, loss="mse"):
    """``fun(w) -> (loss, grad)`` in numpy for the torch ``model`` on data ``(X, y)``.

    ``loss="mse"``: ``(1/2n) sum (f(x_i) - y_i)^2``; ``"logistic"``: ``(1/n) sum log(1 +
    exp(-y_i f(x_i)))`` with labels ``y_i = +-1``. The returned callable plugs into
    :func:`ibcore.descent.run_gd`; gradients come from torch autograd in float64. Its attribute
    ``fun.hvp(w, v)`` returns the Hessian-vector product ``Hessian L(w) v``.
    """
    torch = _torch()
    if not isinstance(model, (ScaleInvariantMLP, BNClassifier)):
        raise TypeError(
            f"model must be a ScaleInvariantMLP or BNClassifier, got {type(model).__name__}"
        )
    X = as_matrix(X, "X")
    y = as_vector(y, "y", length=X.shape[0])
    if X.shape[1] != model.d_in:
        raise ValueError(f"X has {X.shape[1]} columns but the model takes d_in={model.d_in}")
    if loss not in ("mse", "logistic"):
        raise ValueError(f"loss must be 'mse' or 'logistic', got {loss!r}")
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def fun(w):
        wt = torch.tensor(np.asarray(w, dtype=np.float64), requires_grad=True)
        value = _loss_value(model.forward(Xt, wt), yt, loss)
        (grad,) = torch.autograd.grad(value, wt)
        return float(value.detach()), grad.numpy()

    def hvp(w, v):
        """Hessian-vector product ``H(w) v`` (double backward, :func:`ibcore.sharpness.hvp`)."""
        wt = torch.tensor(np.asarray(w, dtype=np.float64))
        return _hvp(lambda th: _loss_value(model.forward(Xt, th), yt, loss), wt, v).numpy()

    fun.hvp = hvp
    return fun


def one_hidden_layer_ntk_limit(X1, X2=None, *, norm="layer") -> np.ndarray:
    """Infinite-width limit of the empirical NTK of ``ScaleInvariantMLP(d, [m], norm=norm)``
    (:func:`ibcore.ntk.empirical_ntk` of its :meth:`~ScaleInvariantMLP.module`).

    The network ``f(x) = v . relu(N(W x))`` trains ``W`` (entries ``N(0, 1/d)``) with the readout
    ``v`` (entries ``N(0, 1/m)``) frozen. With ``theta`` the angle between ``x`` and ``x'`` and
    ``kappa_0(theta) = (pi - theta) / (2 pi)`` (the probability that a Gaussian row ``w`` has
    ``w.x > 0`` and ``w.x' > 0``), as ``m -> infinity``

    * ``norm="none"``: ``Theta(x, x') = (x . x') kappa_0(theta)``;
    * ``norm="layer"``: ``Theta(x, x') = d cos(theta) kappa_0(theta)``. The mean of ``W x``
      over the units tends to 0 and its standard deviation to ``||x|| / sqrt(d)``, so the
      layer-normalized network acts like the plain one on the input ``sqrt(d) x / ||x||``: the
      kernel depends on the angle only (the finite-width corrections of the normalization's
      Jacobian are O(1/m)).

    Returns an array of shape (n1, n2); ``X2=None`` means ``X2 = X1``. Rows must be non-zero.
    The plain kernel is :func:`ibcore.ntk.two_layer_ntk` (same model: first layer trained,
    readout frozen), which this function reuses, with its accurate angle formula.
    """
    if norm not in ("layer", "none"):
        raise ValueError(f"norm must be 'layer' or 'none', got {norm!r}")
    X1 = as_matrix(X1, "X1")
    X2 = X1 if X2 is None else as_matrix(X2, "X2")
    if X2.shape[1] != X1.shape[1]:
        raise ValueError(f"X1 and X2 must have the same number of columns, got "
                         f"{X1.shape[1]} and {X2.shape[1]}")
    n1, n2 = np.linalg.norm(X1, axis=1), np.linalg.norm(X2, axis=1)
    if np.any(n1 == 0.0) or np.any(n2 == 0.0):
        raise ValueError("X1 and X2 must have non-zero rows: the angle to x = 0 is undefined")
    if norm == "none":
        return two_layer_ntk(X1, X2)
    # the plain kernel on the inputs sqrt(d) x / |x|: d cos(theta) kappa_0(theta)
    same = X2 is X1
    U1 = X1 / n1[:, None]
    return X1.shape[1] * two_layer_ntk(U1, U1 if same else X2 / n2[:, None])


class BNClassifier:
    """The two-blob classifier of the chapter: ``x -> fc1 -> [BN] -> ReLU -> fc2`` (float64).

    ``fc1``: ``W1`` (m, d_in) with bias ``b1``; BN: ``gamma * (z - mean) / sqrt(var + eps) +
    beta`` per unit over the batch (``use_bn=False`` skips it and ``gamma, beta``); ``fc2``:
    ``W2`` (m,), ``b2``. Initialisation as torch's ``nn.Linear`` (uniform in
    ``+-1/sqrt(fan_in)``), ``gamma = 1``, ``beta = 0``. The flat parameter vector is
    ``[W1, b1, gamma, beta, W2, b2]`` (``groups`` gives the slices).
    """

    def __init__(self, d_in=2, width=10, *, use_bn=True, seed, eps=0.0):
        torch = _torch()
        self.d_in = positive_int(d_in, "d_in")
        self.width = m = positive_int(width, "width", minimum=2)
        self.use_bn = bool(use_bn)
        self.eps = positive_float(eps, "eps", allow_zero=True)
        rng = check_rng(seed)
        a1, a2 = 1 / math.sqrt(self.d_in), 1 / math.sqrt(m)
        parts = {
            "W1": rng.uniform(-a1, a1, m * self.d_in),
            "b1": rng.uniform(-a1, a1, m),
            "gamma": np.ones(m) if use_bn else np.zeros(0),
            "beta": np.zeros(m) if use_bn else np.zeros(0),
            "W2": rng.uniform(-a2, a2, m),
            "b2": rng.uniform(-a2, a2, 1),
        }
        self.groups, start = {}, 0
        for k, v in parts.items():
            self.groups[k] = slice(start, start + v.size)
            start += v.size
        self.w0 = np.concatenate(list(parts.values()))
        self.n_params = self.w0.size
        self._torch = torch

    def forward(self, X, w):
        """Outputs (torch, shape (n,)) for inputs ``X`` (n, d_in) and the flat ``w``."""
        _check_forward(X, w, self.d_in, self.n_params)
        g = self.groups
        z = X @ w[g["W1"]].reshape(self.width, self.d_in).T + w[g["b1"]]
        if self.use_bn:
            z = w[g["gamma"]] * _normalize(z, "batch", self.eps) + w[g["beta"]]
        return self._torch.relu(z) @ w[g["W2"]] + w[g["b2"]][0]


def train_bn_classifier(model, X, y, eta, n_steps, *, checkpoints=None):
    """Full-batch GD on the logistic loss of a :class:`BNClassifier`, via
    :func:`ibcore.descent.run_gd`. Returns ``(trajectory, group_norms)`` where ``group_norms``
    maps each parameter group (``W1``, ``b1``, ``gamma``, ``beta``, ``W2``, ``b2``) to its
    Euclidean norm at the recorded checkpoints."""
    if not isinstance(model, BNClassifier):
        raise TypeError(f"model must be a BNClassifier, got {type(model).__name__}")
    fun = torch_objective(model, X, y, loss="logistic")
    traj = run_gd(fun, model.w0, eta, n_steps, checkpoints=checkpoints)
    norms = {k: np.linalg.norm(traj.w[:, s], axis=1) for k, s in model.groups.items()}
    return traj, norms
