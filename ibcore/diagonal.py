"""Diagonal linear networks: the gradient flow and GD of w = u*u - v*v, the mirror flow,
the small-initialization limit (saddle to saddle) and the tangent kernel.

Conventions
    Data ``X`` is ``(n, d)`` (one example per row, ``n < d`` and full row rank for interpolation),
    targets ``y`` are ``(n,)``, and the loss is the course's averaged, halved square loss
    ``L(w) = (1/2n) ||X w - y||^2`` with ``grad L(w) = X^T (X w - y) / n``.

Diagonal linear network (Woodworth et al. 2020)
    ``w = u*u - v*v`` (elementwise), parameters ``theta = (u, v)`` in ``R^{2d}``, initialised at
    ``u(0) = v(0) = alpha * 1`` so that ``w(0) = 0``. Gradient flow on ``L(u*u - v*v)`` is
    ``du/dt = -2 u * g``, ``dv/dt = +2 v * g`` with ``g = grad L(w)``, hence
    ``u(t) * v(t) = alpha^2`` for all ``t`` and, with ``s(t) = int_0^t g``,
    ``w(t) = -2 alpha^2 sinh(4 s(t))``. Writing ``s(t) = -X^T m(t) / 4`` with the *integrated
    residual* ``m(t) = -(4/n) int_0^t (X w - y)``:

        w(t) = 2 alpha^2 sinh(X^T m(t)),     dm/dt = (4/n) (y - X w(t)).          (closed form)

    The same trajectory is the *mirror flow* ``d/dt grad R_alpha(w) = -grad L(w)``, i.e.
    ``dw/dt = -4 sqrt(w^2 + 4 alpha^4) * grad L(w)``, with the potential

        R_alpha(w) = (alpha^2 / 4) sum_i q(w_i / alpha^2),
        q(z) = 2 - sqrt(4 + z^2) + z arcsinh(z / 2),
        grad R_alpha(w) = arcsinh(w / (2 alpha^2)) / 4.

    (Woodworth et al. write ``Q_alpha = alpha^2 sum_i q(w_i / alpha^2)``, four times ours; the
    minimisers coincide. The factor 1/4 makes the mirror flow above exact with our time.)
    If the flow interpolates, its limit is ``argmin {R_alpha(w) : X w = y}``.

The potential and the interpolants
    R_alpha, its minimisers over interpolants, the minimum-l1 interpolant and the rate of
    the approach to it are in :mod:`ibcore.interpolants`; the integrated residual is the
    dual variable nu of :func:`ibcore.interpolants.min_ralpha_interpolant` (the chapter
    writes m as nu(t)).

Incremental learning (Pesme & Flammarion 2023)
    Along the flow, ``d/dt X^T nu = -4 grad L(w)``; in the rescaled time ``tau = t / ell`` the
    rescaled dual ``s(tau) = X^T nu(ell tau) / ell`` obeys ``ds/dtau = -4 grad L(w)``, and by the
    formula above ``w_i -> 0`` wherever ``|s_i| < 1`` as ``alpha -> 0``. The limit is a
    piecewise-constant path of saddles (:func:`saddle_to_saddle`): ``s`` moves on straight lines
    while ``w`` rests at the minimiser of ``L`` over the coordinates with ``|s_i| = 1`` (sign
    ``s_i``), and a coordinate joins when its ``|s_i|`` reaches 1.

Generalization and the tangent kernel
    For inputs ``x ~ N(0, I_d)`` and noise-free targets ``<x, w_star>``, the excess population
    risk of ``w`` is ``E (<x, w> - <x, w_star>)^2 = ||w - w_star||^2``
    (:func:`ibcore.interpolants.population_risk`).
    The tangent kernel of the network at ``theta = (u, v)`` is
    ``K(x, x') = <grad_theta f(x), grad_theta f(x')> = 4 sum_i (u_i^2 + v_i^2) x_i x'_i``,
    ``8 alpha^2 <x, x'>`` at the initialization (:func:`diagonal_tangent_kernel`).

Steepest descent and mirror descent for the l_p norm
    Their implicit biases, compared with the diagonal network's in the chapter, are in
    :mod:`ibcore.lp_geometry`.
"""


from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .descent import run_gd
from .errors import SolverError
from .interpolants import check_alpha, scaled_sinh_cosh
from .lp_geometry import check_interpolation_problem
from .validation import as_array, as_matrix, as_vector, positive_float, positive_int, probability

__all__ = [
    "DiagonalFlow",
    "SaddlePath",
    "activation_times",
    "diagonal_flow",
    "diagonal_gd",
    "diagonal_parameters",
    "diagonal_tangent_kernel",
    "saddle_to_saddle",
    "uv_product",
]


# -- gradient flow and GD of the diagonal network ----------------------------------------------


@dataclass(frozen=True)
class DiagonalFlow:
    """Gradient flow of the diagonal network sampled at times ``t`` (:func:`diagonal_flow`).

    Attributes
    ----------
    t : ndarray, shape (k,)
        The requested times.
    w : ndarray, shape (k, d)
        ``w(t)`` at each time.
    loss : ndarray, shape (k,)
        ``L(w(t)) = (1/2n) ||X w(t) - y||^2``.
    uv : ndarray, shape (k, d), or None
        The conserved quantity of a flow integrated in parameter space: ``u * v`` for view
        ``"theta"`` (``= alpha^2``), ``u * u - v * v`` for view ``"product"`` (``= 2 alpha^2``);
        ``None`` for the views ``"dual"`` and ``"mirror"``.
    """

    t: np.ndarray
    w: np.ndarray
    loss: np.ndarray
    uv: np.ndarray | None = None


def diagonal_flow(
    X, y, alpha: float, times, *, view: str = "dual", rtol: float = 1e-10, atol: float = 1e-13
) -> DiagonalFlow:
    """Gradient flow of ``L(u*u - v*v)`` from ``u = v = alpha 1``, three equivalent ways, with
    ``L(w) = (1/2n) ||X w - y||^2``.

    ``view="dual"``: the closed form ``w = 2 alpha^2 sinh(X^T m)``, integrating the n-dim ODE
    ``dm/dt = (4/n)(y - X w)``; ``view="theta"``: the 2d-dim ODE in ``(u, v)``;
    ``view="mirror"``: the d-dim mirror flow ``dw/dt = -4 sqrt(w^2 + 4 alpha^4) grad L(w)``.
    ``view="product"`` is a *different* parametrization with the same trajectory up to time:
    gradient flow of ``L(u * v)`` from ``u = sqrt(2) alpha 1``, ``v = 0``. With
    ``a = (u + v) / 2``, ``b = (u - v) / 2`` one has ``u * v = a*a - b*b``,
    ``a(0) = b(0) = alpha / sqrt(2)`` and ``da/dt = -a * g``, ``db/dt = b * g`` (half the speed of
    the theta view), so its ``w(t)`` is the other views' ``w(t / 2)`` at scale ``alpha / sqrt(2)``;
    ``uv`` then holds the conserved ``u*u - v*v`` (``= 2 alpha^2``). All use
    :func:`scipy.integrate.solve_ivp` (LSODA, ``rtol``, ``atol``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank
        (:func:`ibcore.lp_geometry.check_interpolation_problem`).
    y : array_like, shape (n,)
        The targets.
    alpha : float
        The initialization scale, ``> 0``.
    times : array_like, shape (k,)
        Non-negative, strictly increasing times.
    view : {"dual", "theta", "mirror", "product"}, default "dual"
        Which ODE is integrated (above).
    rtol, atol : float, default 1e-10, 1e-13
        Tolerances of the ODE solver.

    Returns
    -------
    DiagonalFlow
        ``t``, ``w`` (k, d), ``loss`` (k,) and, for the parameter-space views, ``uv``.

    Raises
    ------
    ValueError
        On a bad problem, ``alpha <= 0``, times that are negative or not strictly increasing, or
        an unknown ``view``.
    TypeError
        If ``alpha`` is not a real number or an array not numeric.
    SolverError
        If the ODE solver fails (:class:`ibcore.SolverError`).
    """
    from scipy.integrate import solve_ivp

    X, y = check_interpolation_problem(X, y)
    alpha = positive_float(alpha, "alpha")
    t = as_vector(times, "times")
    if t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("times must be non-negative and strictly increasing")
    if view not in ("dual", "theta", "mirror", "product"):
        raise ValueError(f"view must be 'dual', 'theta', 'mirror' or 'product', got {view!r}")
    n, d = X.shape
    a2 = alpha * alpha
    log_a2 = 2.0 * np.log(alpha)

    def grad_l(w):
        return X.T @ (X @ w - y) / n

    if view == "dual":
        # a trial step of the solver may overshoot X^T m by hundreds; clip where 2 alpha^2 e^|a|
        # would overflow (an accepted step never gets there: w would be ~1e304)
        cap = 700.0 - log_a2

        def w_of(m):
            return scaled_sinh_cosh(np.clip(X.T @ m, -cap, cap), log_a2)[0]

        def rhs(_t, m):
            return 4.0 / n * (y - X @ w_of(m))

        def jac(_t, m):
            return -4.0 / n * (X * scaled_sinh_cosh(np.clip(X.T @ m, -cap, cap), log_a2)[1]) @ X.T

        z0, extra = np.zeros(n), {"jac": jac}
    elif view == "theta":

        def rhs(_t, th):
            u, v = th[:d], th[d:]
            g = grad_l(u * u - v * v)
            return np.concatenate([-2.0 * u * g, 2.0 * v * g])

        z0, extra = np.full(2 * d, alpha), {}
    elif view == "product":

        def rhs(_t, th):
            u, v = th[:d], th[d:]
            g = grad_l(u * v)
            return np.concatenate([-v * g, -u * g])

        z0, extra = np.concatenate([np.full(d, np.sqrt(2.0) * alpha), np.zeros(d)]), {}
    else:

        def rhs(_t, w):
            return -4.0 * np.sqrt(w * w + 4.0 * a2 * a2) * grad_l(w)

        z0, extra = np.zeros(d), {}
    if t[-1] == 0.0:
        z = z0[None, :].copy()
    else:
        sol = solve_ivp(
            rhs, (0.0, float(t[-1])), z0, method="LSODA", t_eval=t, rtol=rtol, atol=atol, **extra
        )
        if not sol.success:
            raise SolverError(f"diagonal_flow: the ODE solver failed: {sol.message}")
        z = sol.y.T
    uv = None
    if view == "dual":
        w = np.array([w_of(m) for m in z])
    elif view == "theta":
        u, v = z[:, :d], z[:, d:]
        w, uv = u * u - v * v, u * v
    elif view == "product":
        u, v = z[:, :d], z[:, d:]
        w, uv = u * v, u * u - v * v
    else:
        w = z
    loss = 0.5 / n * np.sum((w @ X.T - y) ** 2, axis=1)
    return DiagonalFlow(t=t.copy(), w=w, loss=loss, uv=uv)


@dataclass(frozen=True)
class SaddlePath:
    """The small-initialization limit of the diagonal network's flow (:func:`saddle_to_saddle`).

    Times are rescaled, ``tau = t / log(1/alpha^2)``; ``w`` is piecewise constant in ``tau``.

    Attributes
    ----------
    times : ndarray, shape (K+1,)
        Rescaled jump times ``0 = tau_0 < tau_1 < ... < tau_K``.
    saddles : ndarray, shape (K+1, d)
        The value of ``w`` on ``[tau_k, tau_{k+1})`` (``saddles[0] = 0``; ``saddles[-1]``
        interpolates, for all later times).
    duals : ndarray, shape (K+1, d)
        The rescaled dual ``s`` at ``tau_k``.
    entering : ndarray of int, shape (K,)
        The coordinate whose ``|s_i|`` reaches 1 at ``tau_{k+1}``.
    """

    times: np.ndarray
    saddles: np.ndarray
    duals: np.ndarray
    entering: np.ndarray

    def at(self, tau) -> np.ndarray:
        """``w`` of the limit path at rescaled times ``tau``: ``saddles[k]`` for
        ``tau_k <= tau < tau_{k+1}`` (``saddles[0]`` before ``tau_0 = 0``).

        Parameters
        ----------
        tau : float or array_like
            Rescaled times, any shape.

        Returns
        -------
        ndarray, shape (*tau.shape, d)
            ``w`` at each time: the shape of ``tau`` followed by ``d`` (``(d,)`` for a scalar).

        Raises
        ------
        ValueError
            If ``tau`` is empty or not finite.
        TypeError
            If ``tau`` is not numeric.
        """
        tau = as_array(tau, "tau")
        k = np.searchsorted(self.times, tau.ravel(), side="right") - 1
        return self.saddles[np.clip(k, 0, None)].reshape((*tau.shape, self.saddles.shape[1]))


def saddle_to_saddle(X, y, *, tol: float = 1e-12, max_jumps: int | None = None) -> SaddlePath:
    """The limit ``alpha -> 0`` of the flow of ``w = u*u - v*v`` in rescaled time (Pesme &
    Flammarion 2023, their Algorithm 1 in our normalization ``L(w) = (1/2n) ||X w - y||^2``).

    With ``ell = log(1/alpha^2)``, ``tau = t / ell`` and ``s = X^T nu / ell`` (module docstring),
    ``ds/dtau = -4 grad L(w)`` and, as ``alpha -> 0``, ``w_i = 0`` where ``|s_i| < 1``. The limit
    path starts at ``w = 0``, ``s = 0`` and alternates

    * a *plateau*: ``w`` rests at a saddle, so ``g = grad L(w)`` is constant and ``s`` moves on the
      line ``s - 4 (tau - tau_k) g`` until the first coordinate off the boundary set ``B`` reaches
      ``|s_i| = 1`` (a coordinate of ``B`` with ``w_i = 0`` that ``g`` pushes inwards,
      ``s_i g_i > 0``, leaves ``B``);
    * a *jump*: that coordinate joins ``B`` and ``w`` moves to the new saddle
      ``argmin {L(w) : w_i = 0 off B, s_i w_i >= 0 on B}``, a non-negative least-squares problem in
      ``z = s_B * w_B`` (:func:`scipy.optimize.nnls`);

    until ``||X w - y|| <= tol (1 + ||y||)``. At the end ``s`` lies in the row space of ``X``,
    ``|s| <= 1`` and ``s_i = sign(w_i)`` on the support: ``X^T (nu / ell)`` is a dual certificate,
    so the last saddle is a minimum-l1 interpolant. The first jump is at
    ``tau_1 = n / (4 ||X^T y||_inf)``, into the coordinate with the largest ``|x_i^T y|``. Needs
    general position (unique saddles, no ties).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    tol : float, default 1e-12
        Relative interpolation tolerance, ``> 0``.
    max_jumps : int, optional
        The most jumps allowed, ``>= 1``; ``10 d`` when omitted.

    Returns
    -------
    SaddlePath
        The jump times, saddles, duals and entering coordinates.

    Raises
    ------
    ValueError
        On a bad problem, ``tol <= 0`` or ``max_jumps < 1``.
    TypeError
        If ``tol`` is not a real number or ``max_jumps`` not an integer.
    SolverError
        If the path does not end within ``max_jumps`` jumps or gets stuck (no coordinate can move)
        (:class:`ibcore.SolverError`).
    """
    from scipy.optimize import nnls

    X, y = check_interpolation_problem(X, y)
    tol = positive_float(tol, "tol")
    n, d = X.shape
    max_jumps = 10 * d if max_jumps is None else positive_int(max_jumps, "max_jumps")
    s, w, tau = np.zeros(d), np.zeros(d), 0.0
    boundary = np.zeros(d, dtype=bool)
    times, saddles, duals, entering = [0.0], [w.copy()], [s.copy()], []
    target = tol * (1.0 + np.linalg.norm(y))
    for _ in range(max_jumps):
        r = X @ w - y
        if np.linalg.norm(r) <= target:
            return SaddlePath(
                times=np.array(times),
                saddles=np.array(saddles),
                duals=np.array(duals),
                entering=np.array(entering, dtype=int),
            )
        g = X.T @ r / n
        boundary &= ~((w == 0.0) & (s * g > 0.0))  # pushed back inside: leaves the boundary
        rate = -4.0 * g
        with np.errstate(divide="ignore", invalid="ignore"):
            wait = np.where(rate > 0, (1.0 - s) / rate, (-1.0 - s) / rate)
        wait[rate == 0.0] = np.inf
        wait[boundary] = np.inf
        i = int(np.argmin(wait))
        if not np.isfinite(wait[i]):
            raise SolverError("saddle_to_saddle: no coordinate can move (degenerate problem)")
        s = s + wait[i] * rate
        s[i] = np.sign(rate[i])  # exactly on the boundary (and the others stay there exactly)
        boundary[i] = True
        s[boundary] = np.sign(s[boundary])
        tau += float(wait[i])
        z, _ = nnls(X[:, boundary] * s[boundary], y)
        w = np.zeros(d)
        w[boundary] = s[boundary] * z
        times.append(tau)
        saddles.append(w.copy())
        duals.append(s.copy())
        entering.append(i)
    raise SolverError(
        f"saddle_to_saddle: no interpolant after {max_jumps} jumps (ties or degenerate data?)"
    )


def activation_times(t, w, path: SaddlePath, *, fraction: float = 0.5) -> np.ndarray:
    """When each jump of ``path`` happens along a sampled trajectory ``w(t)``.

    For jump ``k`` (``k = 1..K``), the coordinate ``i = path.entering[k-1]`` that joins there: the
    first time at which ``|w_i(t)|`` reaches ``fraction`` of ``|saddles[k, i]|``, linearly
    interpolated in ``log |w_i|`` between the samples (``nan`` if it never does, or if the
    coordinate joins with value 0). Compare with ``path.times[1:]`` after dividing ``t`` by
    ``log(1/alpha^2)``; at finite ``alpha`` the two differ by ``O(1 / log(1/alpha))``.

    Parameters
    ----------
    t : array_like, shape (k,)
        The sample times (in the time of the flow, not rescaled).
    w : array_like, shape (k, d)
        ``w`` at those times, e.g. ``diagonal_flow(...).w``.
    path : SaddlePath
        The limit path of the same data (:func:`saddle_to_saddle`).
    fraction : float, default 0.5
        The share of the saddle value to reach, in ``(0, 1]``.

    Returns
    -------
    ndarray, shape (K,)
        The activation time of each jump (``nan`` where undefined).

    Raises
    ------
    ValueError
        If ``w`` is not of shape ``(k, d)``, ``fraction`` is not in ``(0, 1]``, or an input is not
        finite.
    TypeError
        If an input is not numeric or ``fraction`` not a real number.
    """
    t = as_vector(t, "t")
    w = as_matrix(w, "w")
    if w.shape[0] != t.size or w.shape[1] != path.saddles.shape[1]:
        raise ValueError(
            f"w must have shape ({t.size}, {path.saddles.shape[1]}) (one row per time), "
            f"got {w.shape}"
        )
    fraction = probability(fraction, "fraction", closed_right=True)
    if fraction == 0.0:
        raise ValueError("fraction must lie in (0, 1]: the share of the saddle value to reach")
    out = np.full(path.entering.size, np.nan)
    for k, i in enumerate(path.entering):
        level = fraction * abs(path.saddles[k + 1, i])
        if level == 0.0:
            continue
        a = np.abs(w[:, i])
        hit = np.flatnonzero(a >= level)
        if hit.size == 0:
            continue
        j = int(hit[0])
        if j == 0:
            out[k] = t[0]
            continue
        with np.errstate(divide="ignore"):
            la, lb, lv = np.log(a[j - 1]), np.log(a[j]), np.log(level)
        frac = 1.0 if not np.isfinite(la) else (lv - la) / (lb - la)
        out[k] = t[j - 1] + frac * (t[j] - t[j - 1])
    return out


def _diag_fun(X, y):
    n, d = X.shape

    def fun(theta):
        u, v = theta[:d], theta[d:]
        with np.errstate(over="ignore", invalid="ignore"):  # overflow = divergence for run_gd
            r = X @ (u * u - v * v) - y
            g = X.T @ r / n
            return 0.5 / n * float(r @ r), np.concatenate([2.0 * u * g, -2.0 * v * g])

    return fun


def diagonal_gd(X, y, alpha: float, eta: float, n_steps: int, *, checkpoints=None):
    """GD on ``theta = (u, v)`` for ``L(u*u - v*v)``, ``L(w) = (1/2n) ||X w - y||^2``, from
    ``u = v = alpha 1``.

    ``theta_{k+1} = theta_k - eta grad_theta L``, with ``grad_u = 2 u * g``, ``grad_v = -2 v * g``
    and ``g = grad L(w)``. Per step, ``u_{k+1} v_{k+1} = u_k v_k (1 - 4 eta^2 g_k^2)`` exactly.
    Runs :func:`ibcore.descent.run_gd` (its default divergence policy: a run that blows up stops
    and reports ``diverged_at``, no exception).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    alpha : float
        The initialization scale (:func:`ibcore.interpolants.check_alpha`).
    eta : float
        Step size, ``> 0``.
    n_steps : int
        Number of steps, ``>= 0``.
    checkpoints : array_like of int, optional
        Steps to record (default :func:`ibcore.descent.log_checkpoints`).

    Returns
    -------
    Trajectory
        :class:`~ibcore.descent.Trajectory` whose iterates ``w`` are ``theta`` (k, 2d): use
        :func:`uv_product` for ``w = u*u - v*v`` and ``u*v``.

    Raises
    ------
    ValueError
        On a bad problem, ``alpha`` out of range, ``eta <= 0``, ``n_steps < 0`` or bad
        checkpoints.
    TypeError
        If a number has the wrong type.
    """
    X, y = check_interpolation_problem(X, y)
    alpha = check_alpha(alpha)
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    d = X.shape[1]
    return run_gd(_diag_fun(X, y), np.full(2 * d, alpha), eta, n_steps, checkpoints=checkpoints)


def uv_product(theta) -> tuple[np.ndarray, np.ndarray]:
    """Split ``theta = (u, v)`` (last axis of even length 2d) into ``(w, u*v)``, ``w = u*u - v*v``.

    Parameters
    ----------
    theta : array_like, shape (..., 2d)
        Parameters, e.g. the iterates of :func:`diagonal_gd`.

    Returns
    -------
    w : ndarray, shape (..., d)
        ``u*u - v*v``.
    uv : ndarray, shape (..., d)
        ``u*v`` (conserved, ``= alpha^2``, by the flow).

    Raises
    ------
    ValueError
        If ``theta`` is a scalar, its last dimension is odd, or it is empty or not finite.
    TypeError
        If ``theta`` is not numeric.
    """
    theta = as_array(theta, "theta")
    if theta.ndim == 0 or theta.shape[-1] % 2:
        raise ValueError(f"theta must have an even last dimension (u and v), got {theta.shape}")
    d = theta.shape[-1] // 2
    u, v = theta[..., :d], theta[..., d:]
    return u * u - v * v, u * v


def diagonal_parameters(w, alpha: float) -> np.ndarray:
    """The parameters ``theta = (u, v) > 0`` with ``u*u - v*v = w`` and ``u*v = alpha^2``.

    Along the gradient flow from ``u = v = alpha 1`` the product ``u*v = alpha^2`` is conserved
    (module docstring), so ``theta`` is a function of ``w``: with ``r = sqrt(w^2 + 4 alpha^4)``
    (``= u^2 + v^2``), ``u^2 = (r + w) / 2`` and ``v^2 = (r - w) / 2``, computed as
    ``v = alpha^2 / u`` for ``w >= 0`` (and ``u = alpha^2 / v`` for ``w < 0``) to avoid the
    cancellation in ``r - |w|``. ``w = 0`` gives ``u = v = alpha``.

    Parameters
    ----------
    w : array_like, shape (d,)
        The product.
    alpha : float
        The initialization scale (:func:`ibcore.interpolants.check_alpha`).

    Returns
    -------
    ndarray, shape (2d,)
        ``theta = (u, v)``, concatenated.

    Raises
    ------
    ValueError
        If ``w`` is empty or not finite, or ``alpha`` out of range.
    TypeError
        If an input is not numeric.
    """
    w = as_vector(w, "w")
    alpha = check_alpha(alpha)
    a2 = alpha * alpha
    big = np.sqrt((np.hypot(w, 2.0 * a2) + np.abs(w)) / 2.0)  # the larger of u, v
    small = a2 / big
    u = np.where(w >= 0, big, small)
    v = np.where(w >= 0, small, big)
    return np.concatenate([u, v])


def diagonal_tangent_kernel(X, theta, X2=None) -> np.ndarray:
    """Tangent kernel ``J(X) J(X2)^T`` of ``f(x; theta) = <u*u - v*v, x>`` at ``theta = (u, v)``.

    ``grad_u f(x) = 2 u * x`` and ``grad_v f(x) = -2 v * x``, so
    ``K(x, x') = 4 sum_i (u_i^2 + v_i^2) x_i x'_i``, i.e. ``K = 4 X diag(u^2 + v^2) X2^T``: the Gram
    matrix of the preconditioner ``dG dG^T = 4 diag(u^2 + v^2)`` of the induced flow in ``w``. At
    ``u = v = alpha 1`` this is ``8 alpha^2 X X2^T``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The first inputs, one per row.
    theta : array_like, shape (2d,)
        The parameters ``(u, v)``.
    X2 : array_like, shape (m, d), optional
        The second inputs; ``X`` when omitted.

    Returns
    -------
    ndarray, shape (n, m)
        The kernel matrix.

    Raises
    ------
    ValueError
        If ``theta`` is not of length ``2d``, ``X2`` has another number of columns, or an input is
        empty or not finite.
    TypeError
        If an input is not numeric.
    """
    X = as_matrix(X, "X")
    X2 = X if X2 is None else as_matrix(X2, "X2")
    theta = as_vector(theta, "theta", length=2 * X.shape[1])
    if X2.shape[1] != X.shape[1]:
        raise ValueError(f"X2 must have {X.shape[1]} columns like X, got shape {X2.shape}")
    d = X.shape[1]
    weights = 4.0 * (theta[:d] ** 2 + theta[d:] ** 2)
    return (X * weights) @ X2.T
