"""Sharpness reduction by weight decay on a scale-invariant loss (Lyu, Li & Arora, 2022).

Contents
    * :class:`NormalizedProduct`: the 3-D toy ``L(w) = (1/2)(u_1 u_2 - y)^2``, ``u = w/||w||``,
      whose minimisers on the sphere form a curve of varying *spherical sharpness*
      ``S(u) = lambda_max(Hess L(u))``; with its sharpness-reduction flow on the intrinsic clock
      and on the weight-decay clock ``eta mu t``.
    * :func:`effective_sharpness`: ``eta_eff_t S`` along a run (the edge of stability is 2).
    * :func:`angular_clock`: the intrinsic clock (accumulated squared angular step) of a run.
"""

from __future__ import annotations

import math

import numpy as np

from .scale_invariance import (
    NormalizedLinear,
    NormRun,
    _top_eigenvalue,
    nonzero_points,
    sphere_hessians,
)
from .validation import _real_scalar, as_array, as_vector, positive_float, positive_int

__all__ = ["NormalizedProduct", "angular_clock", "effective_sharpness"]


class NormalizedProduct:
    """Scale-invariant two-factor toy on ``R^3``: ``L(w) = (1/2) (u_1 u_2 - y)^2``, ``u = w/||w||``.

    The product ``u_1 u_2`` of two normalised weights fits the target ``y`` in ``(0, 1/2)``; the
    third coordinate does not enter the product but shares the normalisation. The minimisers
    on the unit sphere form the manifold ``Gamma = {u : ||u|| = 1, u_1 u_2 = y}`` (two closed
    curves). With ``f(u) = u_1 u_2 - y`` and ``P = I - u u^T``, the Hessian at ``u`` in ``Gamma``
    is ``P grad f grad f^T P``, so the *spherical sharpness* there is

        S(u) = ||P grad f(u)||^2 = u_1^2 + u_2^2 - 4 y^2 = 1 - u_3^2 - 4 y^2,

    from ``max_sharpness = 1 - 4 y^2`` (``u_3 = 0``) down to ``min_sharpness = 2y - 4y^2`` at the
    balanced points ``|u_1| = |u_2| = sqrt(y)``, ``|u_3| = sqrt(1 - 2y)``. Every point of
    ``Gamma`` is a global minimiser (``L = 0``): plain gradient descent stops at whichever it
    reaches; the chapter uses the toy to show that gradient descent with weight decay drifts to
    the flattest one (Lyu, Li & Arora, 2022). Calling the instance, ``loss(w)``, returns
    ``(loss, grad)`` (one point (3,) or a batch (B, 3)), the form
    :func:`ibcore.scale_invariance.run_scale_invariant_gd` takes.

    Parameters
    ----------
    target : float
        The target ``y`` of the product, in ``(0, 1/2)``.

    Attributes
    ----------
    d : int
        The dimension, 3.
    target : float
        ``y``.
    min_sharpness : float
        ``2y - 4y^2``, the spherical sharpness at the balanced points.
    max_sharpness : float
        ``1 - 4y^2``, the spherical sharpness on the circle ``u_3 = 0``.

    Raises
    ------
    TypeError
        If ``target`` is not a real number.
    ValueError
        If ``target`` is not in ``(0, 1/2)``.
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
        W, single = nonzero_points(w, 3)
        loss, grad = self._step_parts(W)
        return (float(loss[0]), grad[0]) if single else (loss, grad)

    def sphere_grad_norm(self, w):
        """``G(w) = ||w|| ||grad L(w)||``, the gradient norm at the unit vector ``w / ||w||``.

        Parameters
        ----------
        w : array_like, shape (3,) or (B, 3)
            Non-zero point(s).

        Returns
        -------
        float or ndarray of float64, shape (B,)

        Raises
        ------
        ValueError
            For a wrong shape, a non-finite entry or a zero point.
        """
        W, single = nonzero_points(w, 3)
        g = np.linalg.norm(self._raw(W)[4], axis=1)
        return float(g[0]) if single else g

    def _hessians(self, W):
        r, U, _, gF, _, f = self._raw(W)
        grad_f = np.stack([U[:, 1], U[:, 0], np.zeros_like(f)], axis=1)
        hess_f = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        HF = grad_f[:, :, None] * grad_f[:, None, :] + f[:, None, None] * hess_f
        return r, sphere_hessians(U, gF, HF)

    def hessian(self, w) -> np.ndarray:
        """Hessian of ``L`` at ``w``: ``Hess L(w/||w||) / ||w||^2`` (scale invariance), with the
        spherical Hessian of :func:`ibcore.scale_invariance.sphere_hessians`.

        Parameters
        ----------
        w : array_like, shape (3,)
            One non-zero point.

        Returns
        -------
        ndarray of float64, shape (3, 3)

        Raises
        ------
        ValueError
            For a batch of points, a wrong shape, a non-finite entry or ``w = 0``.
        """
        W, single = nonzero_points(w, 3)
        if not single:
            raise ValueError("hessian takes one point w of shape (3,)")
        r, H = self._hessians(W)
        return H[0] / r[0] ** 2

    def sphere_sharpness(self, w):
        """``S(w) = lambda_max(Hess L(w / ||w||))``, the spherical sharpness at ``w / ||w||``.

        Parameters
        ----------
        w : array_like, shape (3,) or (B, 3)
            Non-zero point(s).

        Returns
        -------
        float or ndarray of float64, shape (B,)

        Raises
        ------
        ValueError
            For a wrong shape, a non-finite entry or a zero point.
        """
        W, single = nonzero_points(w, 3)
        s = _top_eigenvalue(self._hessians(W)[1])
        return float(s[0]) if single else s

    def _max_height(self) -> float:
        return math.sqrt(1.0 - 2.0 * self.target)

    def manifold_point(self, height) -> np.ndarray:
        """The point of ``Gamma`` with ``u_3 = height`` and ``u_1 >= u_2 > 0``.

        With ``p = 1 - height^2``, ``u_{1,2} = (sqrt(p + 2y) +- sqrt(p - 2y)) / 2``; its
        sharpness is ``p - 4y^2``.

        Parameters
        ----------
        height : float
            ``u_3``, with ``|height| <= sqrt(1 - 2y)`` (the balanced points).

        Returns
        -------
        ndarray of float64, shape (3,)
            A unit vector with ``u_1 u_2 = y``.

        Raises
        ------
        TypeError
            If ``height`` is not a real number.
        ValueError
            If ``height`` is not finite or ``|height| > sqrt(1 - 2y)``.
        """
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
        """Unit vectors on ``Gamma`` near the directions ``w / ||w||``.

        Gauss-Newton steps on the constraint ``f(u) = 0`` along its spherical gradient
        ``n = P grad f(u)``, ``u <- normalise(u - f(u) n / ||n||^2)``, until ``|f| <= tol``. The
        limit agrees with the nearest point of ``Gamma`` and with the end point of gradient
        flow on ``L`` (the projection ``Phi`` of Lyu et al.) up to ``O(dist(u, Gamma)^2)``.

        Parameters
        ----------
        w : array_like, shape (3,) or (B, 3)
            Non-zero point(s) near the manifold.
        tol : float, keyword-only
            Tolerance on ``|u_1 u_2 - y|``, ``> 0``.
        max_iter : int, keyword-only
            Maximum number of Gauss-Newton steps, ``>= 1``.

        Returns
        -------
        ndarray of float64, shape (3,) or (B, 3)

        Raises
        ------
        ValueError
            For a wrong shape or a zero point, a non-positive ``tol`` or ``max_iter``, if
            ``n`` vanishes (e.g. at the poles ``u = +-e_3``) or the iteration does not
            converge: ``w`` must point near the manifold.
        """
        W, single = nonzero_points(w, 3)
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
        ``_flow_clock`` by bisection in ``log(p - 2y)`` (vectorised; exact to rounding)."""
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
        """Sharpness ``S(u(s))`` along the sharpness-reduction flow
        ``du/ds = -(1/4) grad_Gamma log S(u)`` (the Riemannian gradient flow of ``-(1/4) log S`` on
        ``Gamma``), from ``u(0) = manifold_point(height)``.

        The clock ``s`` is the *intrinsic* one, the accumulated squared angular step of the
        direction (:func:`ibcore.sharpness_reduction.angular_clock`): on it, gradient descent
        with weight decay at the edge of stability follows this flow as ``eta mu -> 0``. On the
        clock ``tau = eta mu t`` use
        :meth:`~ibcore.sharpness_reduction.NormalizedProduct.weight_decay_flow` (same path,
        other speed).

        On ``Gamma`` the unit tangent ``t`` is parallel to ``u x P grad f``, whose squared length
        is ``S`` and whose third component is ``u_1^2 - u_2^2``; with ``S = 1 - u_3^2 - 4y^2`` and
        ``p = u_1^2 + u_2^2 = 1 - u_3^2`` the flow reduces to the scalar equation

            dp/ds = -(1 - p) (p^2 - 4 y^2) / (p - 4 y^2)^2,    S = p - 4 y^2,

        which decreases ``S`` to ``min_sharpness`` (``p = 2y``) from every start but the
        sharpest circle ``p = 1`` (a fixed point). The equation is separable: ``s(p)`` is a sum of
        three logarithms (partial fractions), inverted by bisection, so ``S`` is exact to rounding
        (~1e-15).

        Parameters
        ----------
        height : float
            ``u_3`` of the start on ``Gamma``, ``|height| <= sqrt(1 - 2y)``.
        s : float or array_like, shape (n,)
            Intrinsic times, non-negative and non-decreasing.

        Returns
        -------
        float or ndarray of float64, shape (n,)
            ``S`` at the times ``s`` (a float for a scalar ``s``).

        Raises
        ------
        TypeError
            If ``height`` is not a real number or ``s`` not numeric.
        ValueError
            For a ``height`` off the manifold, or times that are negative, decreasing, non-finite or
            not a scalar or 1-D array.
        """
        return self._solve_flow(height, s, "s", lambda s_, S, S0: s_)

    def weight_decay_flow(self, height, tau) -> np.ndarray:
        """Sharpness along the same flow as
        :meth:`~ibcore.sharpness_reduction.NormalizedProduct.sharpness_flow`, on the clock
        ``tau = eta mu t`` of gradient descent with weight decay ``mu`` at rate ``eta``
        (``t`` steps).

        The two clocks are tied by the norm: exactly, ``s_t = ln(||w_t||^2 / ||w_0||^2) -
        2 t ln(1 - eta mu)`` (:func:`ibcore.sharpness_reduction.angular_clock`), and at the edge of
        stability ``||w_t||^2 = eta S / (2 (1 - eta mu))``, so ``s = 2 tau + ln(S / S_0)`` in the
        limit ``eta mu -> 0``. With ``R = -dS/ds = (1/4) S ||grad_Gamma log S||^2`` this gives

            dS/dtau = -2 R S / (S + R),
            i.e.  du/dtau = -2 grad_Gamma log S / (4 + ||grad_Gamma log S||^2):

        twice the speed of ``-(1/4) grad_Gamma log S`` where ``||grad_Gamma log S||`` is small
        (near the sharpest circle, a fixed point), the same speed where it equals 2, and slower
        beyond. Start at ``tau = 0`` with the norm at the edge of stability.

        Parameters
        ----------
        height : float
            ``u_3`` of the start on ``Gamma``, ``|height| <= sqrt(1 - 2y)``.
        tau : float or array_like, shape (n,)
            Weight-decay times ``eta mu t``, non-negative and non-decreasing.

        Returns
        -------
        float or ndarray of float64, shape (n,)
            ``S`` at the times ``tau`` (a float for a scalar ``tau``).

        Raises
        ------
        TypeError
            If ``height`` is not a real number or ``tau`` not numeric.
        ValueError
            For a ``height`` off the manifold, or times that are negative, decreasing, non-finite or
            not a scalar or 1-D array.
        """
        # integrating dtau = ds / 2 - dS / (2 S): tau = (s - ln(S / S_0)) / 2 along the path
        return self._solve_flow(height, tau, "tau", lambda s_, S, S0: 0.5 * (s_ - np.log(S / S0)))


def angular_clock(run) -> np.ndarray:
    """The intrinsic clock ``s_t = sum_{k < t} ln(1 + tan^2 theta_k)`` of a
    :class:`~ibcore.scale_invariance.NormRun`, ``theta_k`` the turning angle of the direction at
    step ``k`` (:func:`~ibcore.scale_invariance.turning_angles`); ``s_t ~ sum_k theta_k^2`` for
    small angles.

    The direction moves by ``tan theta_t = eta_eff_t G(w_t)`` and the norm obeys
    ``||w_{t+1}||^2 = (1 - eta mu)^2 ||w_t||^2 (1 + tan^2 theta_t)``, so the clock is read off
    the norm exactly: ``s_t = ln(||w_t||^2 / ||w_0||^2) - 2 t ln(1 - eta mu)``, which is how it
    is computed.

    Parameters
    ----------
    run : NormRun
        A run of :func:`ibcore.scale_invariance.run_scale_invariant_gd`.

    Returns
    -------
    ndarray of float64, shape (n_steps + 1,) or (n_steps + 1, B)
        ``s_t`` (``s_0 = 0``), one column per run of a batch.

    Raises
    ------
    TypeError
        If ``run`` is not a :class:`~ibcore.scale_invariance.NormRun`.
    """
    if not isinstance(run, NormRun):
        raise TypeError(f"run must be a NormRun (run_scale_invariant_gd), got {type(run).__name__}")
    t = np.arange(run.norm.shape[0], dtype=float).reshape((-1,) + (1,) * (run.norm.ndim - 1))
    return 2.0 * np.log(run.norm / run.norm[0]) - 2.0 * t * math.log1p(-run.eta * run.weight_decay)


def effective_sharpness(loss, run, *, at=None) -> np.ndarray:
    """``eta_eff_t S`` along a :class:`~ibcore.scale_invariance.NormRun`: the sharpness the
    direction dynamics sees.

    ``eta_eff_t = eta / ((1 - eta mu) ||w_t||^2)`` is the chapter's effective learning rate and
    ``S`` the spherical sharpness ``lambda_max(Hess L(w_t / ||w_t||))`` of ``loss`` (a
    :class:`~ibcore.scale_invariance.NormalizedLinear` or
    :class:`~ibcore.sharpness_reduction.NormalizedProduct`), or, with ``at`` a fixed point, the
    constant ``S(at)`` (e.g. at the minimiser, to read off the stability of resting there). A
    direction resting at a minimiser ``u`` loses linear stability once ``eta_eff_t S(u) > 2``.

    Parameters
    ----------
    loss : NormalizedLinear or NormalizedProduct
        The loss of the run.
    run : NormRun
        A run of :func:`ibcore.scale_invariance.run_scale_invariant_gd` on ``loss``.
    at : array_like, shape (d,), optional, keyword-only
        A fixed non-zero point at which ``S`` is taken (default: along the run).

    Returns
    -------
    ndarray of float64, shape (n_steps + 1,) or (n_steps + 1, B)

    Raises
    ------
    TypeError
        If ``loss`` or ``run`` has the wrong type.
    ValueError
        If the run's dimension is not the loss's, or ``at`` is not a finite non-zero point of
        dimension ``d``.
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
