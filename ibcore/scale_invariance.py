"""Scale-invariant losses and their identities, and gradient descent on them.

Conventions
    A loss ``L`` is *scale-invariant* in ``w`` if ``L(c w) = L(w)`` for every ``c > 0``. Then

    * ``<grad L(w), w> = 0`` and ``grad L(c w) = grad L(w) / c``, ``Hess L(c w) = Hess L(w) / c^2``;
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
    * :func:`nonzero_points`, :func:`sphere_hessians`: the input convention (a point or a batch
      of non-zero points) and the Hessian of ``L(w) = F(w / ||w||)`` on the sphere.
    * :class:`NormalizedLinear`: a scale-invariant regression loss
      ``L(w) = (1/2n) ||g X w / ||w|| - y||^2`` (a weight-normalised linear unit with a frozen
      gain ``g``), with its gradient, Hessian, and the same model without normalisation.
    * :class:`RotationLoss`: the 2-D toy ``L(w) = c * angle(w)`` whose spherical gradient norm is
      the constant ``c`` (the norm equilibrium is then exact).
    * :func:`run_scale_invariant_gd` (a :class:`NormRun`): GD (+ weight decay) recording norms,
      spherical gradients and effective learning rates at every step, for one or a batch of
      initial points; :func:`turning_angles` of the direction along it; :func:`first_hit`, the
      first step below a threshold.
    * :func:`sphere_smoothness`, :func:`convergence_count_bound`: the curvature bound on the
      sphere and the convergence theorem of GD without weight decay.

All arrays are float64 and every public function validates its arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .descent import iterate
from .validation import (
    _real_scalar,
    as_array,
    as_batch,
    as_matrix,
    as_vector,
    check_rng,
    positive_float,
    positive_int,
)
from .weight_decay import check_step_and_decay

__all__ = [
    "NormRun",
    "NormalizedLinear",
    "RotationLoss",
    "convergence_count_bound",
    "first_hit",
    "nonzero_points",
    "run_scale_invariant_gd",
    "sphere_hessians",
    "sphere_smoothness",
    "turning_angles",
]


def nonzero_points(w, d: int, name: str = "w") -> tuple[np.ndarray, bool]:
    """A point ``(d,)`` or a batch ``(B, d)`` of non-zero points, where a scale-invariant loss
    is defined.

    Parameters
    ----------
    w : array_like, shape (d,) or (B, d)
    d : int
        The dimension.
    name : str
        The argument's name in error messages.

    Returns
    -------
    (W, single) : (ndarray of shape (B, d), bool)
        As :func:`ibcore.validation.as_batch`: ``single`` when ``w`` was one point.

    Raises
    ------
    TypeError
        If ``w`` is not a numeric array.
    ValueError
        If the shape is wrong, an entry is not finite, or a point is 0.
    """
    W, single = as_batch(w, name, d=d)
    if np.any(np.linalg.norm(W, axis=1) == 0.0):
        raise ValueError(f"{name} must be non-zero: a scale-invariant loss is undefined at w = 0")
    return W, single


def sphere_hessians(U, grad_F, hess_F) -> np.ndarray:
    """Hessians at the unit vectors ``U`` of the scale-invariant ``L(w) = F(w / ||w||)``.

    With ``P = I - u u^T`` and ``G = grad F(u)``,

        Hess L(u) = P HF P - (u . G) P - u (P G)^T - (P G) u^T,

    where ``HF`` is the Hessian of ``F`` at ``u``. At ``w = r u`` the Hessian is
    ``Hess L(u) / r^2`` (the identities of scale invariance).

    Parameters
    ----------
    U : ndarray, shape (B, d)
        Unit vectors (not checked: this is an inner routine of the losses).
    grad_F : ndarray, shape (B, d)
        ``grad F`` at the rows of ``U``.
    hess_F : ndarray, shape (d, d) or (B, d, d)
        ``Hess F`` at the rows of ``U`` (one matrix for all of them when ``F`` is quadratic).

    Returns
    -------
    ndarray, shape (B, d, d)
    """
    d = U.shape[1]
    P = np.eye(d)[None] - U[:, :, None] * U[:, None, :]
    pg = grad_F - np.einsum("bi,bi->b", grad_F, U)[:, None] * U
    return (
        P @ hess_F @ P
        - np.einsum("bi,bi->b", U, grad_F)[:, None, None] * P
        - U[:, :, None] * pg[:, None, :]
        - pg[:, :, None] * U[:, None, :]
    )


def _top_eigenvalue(H) -> np.ndarray:
    return np.linalg.eigvalsh(H)[:, -1]


class NormalizedLinear:
    """Scale-invariant least squares: ``L(w) = (1/2n) ||g X u - y||^2`` with ``u = w / ||w||``.

    This is a linear unit with weight normalisation (Salimans & Kingma, 2016) and a frozen gain
    ``g``; ``L(c w) = L(w)`` for ``c > 0``. With ``F(u) = (1/2n)||g X u - y||^2``,
    ``grad L(w) = P grad F(u) / ||w||`` where ``P = I - u u^T`` projects out ``u``. Calling the
    instance, ``loss(w)``, returns ``(loss, grad)`` (one point (d,) or a batch (B, d)), the form
    :func:`ibcore.scale_invariance.run_scale_invariant_gd` takes.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs, finite, ``d >= 2``.
    y : array_like, shape (n,)
        Targets.
    gain : float
        The frozen gain ``g``, in ``(1e-150, 1e150)``.

    Attributes
    ----------
    X, y, gain
        The validated data and gain.
    n, d : int
        Number of samples and dimension.

    Raises
    ------
    TypeError
        If an array is not numeric or ``gain`` not a real number.
    ValueError
        For non-finite or mismatched ``X``/``y``, ``d < 2`` (the sphere would be two points), or a
        gain outside ``(1e-150, 1e150)``.
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
        W, single = nonzero_points(w, self.d)
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
        """``G(w) = ||w|| ||grad L(w)|| = ||P grad F(u)||``, the gradient norm at ``u = w / ||w||``.

        Parameters
        ----------
        w : array_like, shape (d,) or (B, d)
            Non-zero point(s).

        Returns
        -------
        float or ndarray of float64, shape (B,)

        Raises
        ------
        ValueError
            For a wrong shape, a non-finite entry or a zero point.
        """
        _, single, _, _, _, _, gF_perp = self._parts(w)
        g = np.linalg.norm(gF_perp, axis=1)
        return float(g[0]) if single else g

    def hessian(self, w) -> np.ndarray:
        """Hessian of ``L`` at ``w``: with ``G = grad F(u)``, ``r = ||w||``,
        ``H = [P A P - (u.G) P - u (PG)^T - (PG) u^T] / r^2`` where ``A = g^2 X^T X / n``.

        Parameters
        ----------
        w : array_like, shape (d,)
            One non-zero point.

        Returns
        -------
        ndarray of float64, shape (d, d)

        Raises
        ------
        ValueError
            For a batch of points, a wrong shape, a non-finite entry or ``w = 0``.
        """
        _, single, r, U, _, gF, _ = self._parts(w)
        if not single:
            raise ValueError("hessian takes one point w of shape (d,)")
        return sphere_hessians(U, gF, self._A)[0] / r[0] ** 2

    def sphere_sharpness(self, w):
        """Spherical sharpness ``S(w) = lambda_max(Hess L(w / ||w||))``.

        The Hessian at ``w`` itself is ``Hess L(w / ||w||) / ||w||^2``, so GD with rate ``eta`` sees
        the sharpness ``eta S(w) / ||w||^2`` (see
        :func:`~ibcore.sharpness_reduction.effective_sharpness`).

        Parameters
        ----------
        w : array_like, shape (d,) or (B, d)
            Non-zero point(s).

        Returns
        -------
        float or ndarray of float64, shape (B,)

        Raises
        ------
        ValueError
            For a wrong shape, a non-finite entry or a zero point.
        """
        _, single, _, U, _, gF, _ = self._parts(w)
        s = _top_eigenvalue(sphere_hessians(U, gF, self._A))
        return float(s[0]) if single else s

    def unnormalized(self):
        """The same unit without normalisation: ``fun(w) = ((1/2n)||g X w - y||^2, grad)``.

        Returns
        -------
        callable
            ``fun(w) -> (loss, grad)`` for ``w`` of shape (d,) (not validated), the form of
            :func:`ibcore.descent.run_gd`; ``grad = g X^T (g X w - y) / n``.
        """

        def fun(w):
            w = np.asarray(w, dtype=np.float64)
            res = self.gain * (self.X @ w) - self.y
            return float(res @ res) / (2 * self.n), self.gain * self.X.T @ res / self.n

        return fun

    def unnormalized_stability_limit(self) -> float:
        """``2 / lambda_max(g^2 X^T X / n)``: GD on
        :meth:`~ibcore.scale_invariance.NormalizedLinear.unnormalized` diverges beyond this
        step size.

        Returns
        -------
        float
        """
        return float(2.0 / np.linalg.eigvalsh(self._A)[-1])

    def minimizer(self) -> np.ndarray:
        """The unit vector ``u*`` minimising ``F(u) = (1/2n)||g X u - y||^2`` on the sphere.

        A trust-region subproblem, solved by bisection on the secular equation
        ``||(A - s I)^{-1} b|| = 1``, ``s < lambda_min(A)``, where ``A = g^2 X^T X / n`` and
        ``b = g X^T y / n``; then ``u* = (A - s I)^{-1} b`` (normalised).

        Returns
        -------
        ndarray of float64, shape (d,)
            A unit vector.
        """
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
        """``min_{||u|| = 1} F(u) = L(u*)``, the reference value of the loss.

        ``u*`` is :meth:`~ibcore.scale_invariance.NormalizedLinear.minimizer`.

        Returns
        -------
        float
        """
        return float(self(self.minimizer())[0])

    def unnormalized_min_loss(self) -> float:
        """``min_w (1/2n)||g X w - y||^2`` over all of ``R^d`` (least squares).

        The reference value of :meth:`~ibcore.scale_invariance.NormalizedLinear.unnormalized`;
        it is ``<=`` :meth:`~ibcore.scale_invariance.NormalizedLinear.min_loss` (no constraint
        on ``||w||``).

        Returns
        -------
        float
        """
        w, *_ = np.linalg.lstsq(self.gain * self.X, self.y, rcond=None)
        return self.unnormalized()(w)[0]


class RotationLoss:
    """The 2-D scale-invariant toy ``L(w) = c atan2(w_2, w_1)``, gradient ``c (-w_2, w_1)/||w||^2``.

    Its spherical gradient norm is the constant ``c``: GD keeps rotating, so the norm recursion
    has an exact equilibrium (see :func:`~ibcore.weight_decay.equilibrium_norm`). ``L`` is
    defined up to multiples of ``2 pi c`` (only the gradient matters here). Calling the instance,
    ``loss(w)``, returns ``(loss, grad)`` for one point (2,) or a batch (B, 2) of non-zero points.

    Parameters
    ----------
    c : float
        The rotation speed ``c > 0``.

    Attributes
    ----------
    d : int
        The dimension, 2.
    c : float
        ``c``.

    Raises
    ------
    TypeError
        If ``c`` is not a real number.
    ValueError
        If ``c <= 0`` or not finite.
    """

    d = 2

    def __init__(self, c=1.0):
        self.c = positive_float(c, "c")

    def __call__(self, w):
        """``(loss, grad)`` at ``w`` of shape (2,); for a batch (B, 2): arrays (B,) and (B, 2)."""
        W, single = nonzero_points(w, 2)
        r2 = np.sum(W * W, axis=1)
        loss = self.c * np.arctan2(W[:, 1], W[:, 0])
        grad = self.c * np.stack([-W[:, 1], W[:, 0]], axis=1) / r2[:, None]
        return (float(loss[0]), grad[0]) if single else (loss, grad)

    def _step_parts(self, W):
        r2 = np.einsum("bi,bi->b", W, W)
        loss = self.c * np.arctan2(W[:, 1], W[:, 0])
        return loss, self.c * np.stack([-W[:, 1], W[:, 0]], axis=1) / r2[:, None]

    def sphere_grad_norm(self, w):
        """``G(w) = ||w|| ||grad L(w)|| = c`` at every non-zero ``w`` (shape (2,) or (B, 2)): a
        float, or an array (B,) for a batch; ``ValueError`` for a zero or malformed point."""
        _, single = nonzero_points(w, 2)
        return self.c if single else np.full(np.atleast_2d(w).shape[0], self.c)


@dataclass(frozen=True)
class NormRun:
    """GD on a scale-invariant loss, recorded at every step ``t = 0, ..., n_steps``.

    The run of :func:`ibcore.scale_invariance.run_scale_invariant_gd`,
    ``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``. Arrays have shape ``(n_steps + 1,)`` for one
    run, ``(n_steps + 1, B)`` for a batch of runs (``w`` has one more trailing axis of size ``d``).

    Attributes
    ----------
    w : ndarray
        The iterates, shape ``(n_steps + 1, d)`` or ``(n_steps + 1, B, d)``.
    norm : ndarray
        ``||w_t||``.
    loss : ndarray
        ``L(w_t)``.
    sphere_grad : ndarray
        ``G(w_t) = ||w_t|| ||grad L(w_t)||``, the gradient norm at the direction.
    eff_lr : ndarray
        ``eta / ||w_t||^2`` (without the factor ``1 / (1 - eta mu)`` of
        :func:`~ibcore.sharpness_reduction.effective_sharpness`).
    eta : float
        The step size.
    weight_decay : float
        ``mu``.
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
        """The directions ``u_t = w_t / ||w_t||``, the shape of ``w``."""
        return self.w / self.norm[..., None]


def run_scale_invariant_gd(loss, w0, *, eta, n_steps, weight_decay=0.0) -> NormRun:
    """GD with weight decay, ``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``, every step kept.

    ``loss`` is a scale-invariant numpy loss (:class:`~ibcore.scale_invariance.NormalizedLinear`,
    :class:`~ibcore.scale_invariance.RotationLoss`,
    :class:`~ibcore.sharpness_reduction.NormalizedProduct`) that accepts a batch of points;
    ``w0`` of shape (d,) or (B, d) runs one or B independent runs at once (vectorised).
    ``weight_decay = 0`` is plain GD, whose norm never decreases. The loop is
    :func:`ibcore.descent.iterate` (batched, every step recorded).

    Parameters
    ----------
    loss : NormalizedLinear, RotationLoss or NormalizedProduct
        The loss.
    w0 : array_like, shape (d,) or (B, d)
        Non-zero initial point(s).
    eta : float, keyword-only
        Step size, ``> 0``.
    n_steps : int, keyword-only
        Number of steps, >= 0.
    weight_decay : float, keyword-only
        ``mu >= 0`` with ``eta * mu < 1``.

    Returns
    -------
    NormRun
        Every step ``t = 0, ..., n_steps``; arrays of shape ``(n_steps + 1,)`` for one run,
        ``(n_steps + 1, B)`` for a batch.

    Raises
    ------
    TypeError
        If ``loss`` is not a scale-invariant loss object.
    ValueError
        For a bad ``w0``, ``eta``, ``n_steps`` or ``weight_decay``.
    ibcore.DivergenceError
        If a loss value becomes non-finite (the weights overflowed float64); a scale-invariant
        loss is bounded, so this needs an extreme ``w0`` or ``eta``.
    """
    if not (callable(loss) and hasattr(loss, "sphere_grad_norm")):
        raise TypeError(
            "loss must be a scale-invariant loss object (NormalizedLinear, NormalizedProduct "
            "or RotationLoss)"
        )
    eta, mu = check_step_and_decay(eta, weight_decay)
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    W, single = nonzero_points(w0, loss.d, "w0")
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


def turning_angles(run) -> np.ndarray:
    """Angle (radians) between consecutive directions ``u_t = w_t / ||w_t||`` and ``u_{t+1}``.

    Computed as ``theta_t = 2 arcsin(||u_{t+1} - u_t|| / 2)``, which stays accurate for tiny angles
    (``arccos`` of the dot product loses every angle below about ``1e-8``): a direction at rest
    shows angles at rounding level, ``~1e-16``.

    Parameters
    ----------
    run : NormRun
        A run of :func:`ibcore.scale_invariance.run_scale_invariant_gd`.

    Returns
    -------
    ndarray of float64, shape (n_steps,) or (n_steps, B)

    Raises
    ------
    TypeError
        If ``run`` is not a :class:`~ibcore.scale_invariance.NormRun`.
    """
    if not isinstance(run, NormRun):
        raise TypeError(f"run must be a NormRun (run_scale_invariant_gd), got {type(run).__name__}")
    chord = np.linalg.norm(np.diff(run.direction, axis=0), axis=-1)
    return 2.0 * np.arcsin(np.minimum(0.5 * chord, 1.0))


def first_hit(values, threshold) -> np.ndarray:
    """First index ``t`` along axis 0 with ``values[t] <= threshold``, and ``-1`` where none is.

    Used for the first step at which gradient descent meets a convergence guarantee such as
    ``G_t^2 <= delta``.

    Parameters
    ----------
    values : array_like, shape (n,) or (n, B)
        E.g. ``run.sphere_grad ** 2`` of a batch of runs; finite.
    threshold : float
        Finite.

    Returns
    -------
    int or ndarray of int, shape (B,)
        An int for 1-D ``values``.

    Raises
    ------
    TypeError
        If ``values`` is not numeric or ``threshold`` not a real number.
    ValueError
        If ``values`` is not finite, empty or not 1-D/2-D, or ``threshold`` not finite.
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


def sphere_smoothness(loss, *, n_draws=2000, seed) -> float:
    """``Lam = max_{||w|| = 1} ||Hessian L(w)||_2`` (the chapter's curvature bound on the sphere,
    written with a capital Lambda) for a :class:`~ibcore.scale_invariance.NormalizedLinear` loss.

    Estimated by evaluating the Hessian at ``n_draws`` random unit vectors (drawn from
    ``seed``) and refining the best 5 by projected gradient-free local search (Nelder-Mead on the
    sphere). This is a lower estimate of the supremum (exact up to the optimiser's tolerance in
    small dimension); the chapter's bounds grow with ``Lam``, so an under-estimate makes their
    checks stricter.

    Parameters
    ----------
    loss : NormalizedLinear
        The loss.
    n_draws : int, keyword-only
        Number of random unit vectors (Monte-Carlo draws), ``>= 1``.
    seed : int or numpy.random.Generator, keyword-only
        Required.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``loss`` is not a NormalizedLinear, ``n_draws`` not an integer or ``seed`` invalid.
    ValueError
        If ``n_draws < 1`` or ``seed`` is negative.
    """
    if not isinstance(loss, NormalizedLinear):
        raise TypeError(f"loss must be a NormalizedLinear, got {type(loss).__name__}")
    n_draws = positive_int(n_draws, "n_draws")
    rng = check_rng(seed)
    from scipy.optimize import minimize

    def neg(v):
        return -float(np.linalg.norm(loss.hessian(v / np.linalg.norm(v)), 2))

    U = rng.standard_normal((n_draws, loss.d))
    vals = np.array([neg(u) for u in U])
    best = -vals.min()
    for k in np.argsort(vals)[:5]:
        res = minimize(neg, U[k], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-13})
        best = max(best, -res.fun)
    return float(best)


def convergence_count_bound(curvature, eta, w0_norm, eps) -> float:
    """Bound on the number of GD steps (no weight decay) with ``G(w_t)^2 > eps``.

    For a scale-invariant loss with curvature bound ``Lam = curvature`` on the unit sphere
    (:func:`~ibcore.scale_invariance.sphere_smoothness`) and any ``eta > 0``:
    ``#{t : G_t^2 > eps} <= Lam^2 / eps + 1 + pi^2 Lam R^2 / (eta eps)`` with
    ``R^2 = max(r0^2, Lam eta + pi^2 Lam^2 eta^2 / r0^2) + pi^2 Lam eta`` (the chapter's
    theorem; ``R`` bounds ``||w_t||`` for all t).

    Parameters
    ----------
    curvature : float
        ``Lam > 0``.
    eta : float
        Step size, ``> 0``.
    w0_norm : float
        ``r0 = ||w_0|| > 0``.
    eps : float
        Threshold on ``G^2``, ``> 0``.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If an argument is not positive and finite, or the bound overflows float64.
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
