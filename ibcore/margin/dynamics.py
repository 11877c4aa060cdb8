"""Gradient methods on separable data: the flow, loss-normalised GD and steepest descent.

On separable data the smooth losses of :mod:`ibcore.margin.losses` have no minimiser: ``||w||``
grows like ``log t`` while the direction converges to a max-margin direction (the l2 SVM for
gradient descent, the max margin of the norm for steepest descent; Soudry et al. 2018, Gunasekar
et al. 2018). The runners here reach those horizons: the flow in log-time, and GD with steps
normalised by the loss.
"""

from __future__ import annotations

import numpy as np

from ..descent import Trajectory, as_checkpoints, iterate
from ..flow import gradient_flow
from ..lp_geometry import check_p, dual_exponent, lp_norm, steepest_direction_map
from ..validation import as_vector, positive_float, positive_int
from .losses import SMOOTH_LOSSES, check_loss, make_loss
from .svm import check_data

__all__ = ["flow_path", "normalized_gd", "steepest_descent"]


def flow_path(
    X,
    y,
    w0,
    t_max: float,
    *,
    n_points: int = 60,
    loss: str = "logistic",
    t_min: float = 1.0,
    rtol: float = 1e-10,
    atol: float = 1e-12,
):
    """Gradient flow ``dw/dt = -grad L(w)`` of the averaged smooth loss, sampled at ``n_points``
    log-spaced times.

    Integrated in log-time ``s = log(1 + t)`` by :func:`ibcore.flow.gradient_flow` (LSODA): in
    ``s`` the dynamics ``dw/ds = -(1 + t) grad L(w)`` stay O(1) because ``grad L ~ 1/t``, so
    ``t = 10^12`` costs a few hundred solver steps. The times are
    ``t = [0, logspace(log10 t_min, log10 t_max, n_points)]``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    w0 : array_like, shape (d,)
        The initialisation ``w(0)``.
    t_max : float
        The last time, ``t_min < t_max <= 1e100``.
    n_points : int, default 60
        Number of log-spaced times after ``t = 0``, ``>= 2``.
    loss : {"logistic", "exponential"}, default "logistic"
        The averaged smooth loss ``L``.
    t_min : float, default 1.0
        The first log-spaced time, ``> 0``.
    rtol, atol : float, default 1e-10, 1e-12
        Tolerances of the ODE solver, ``> 0``.

    Returns
    -------
    FlowPath
        :class:`~ibcore.flow.FlowPath` with ``t`` of shape ``(n_points + 1,)``, ``w`` of shape
        ``(n_points + 1, d)`` and the loss at each time.

    Raises
    ------
    ValueError
        If ``t_min >= t_max``, ``t_max > 1e100``, a bound or tolerance is not positive,
        ``n_points < 2``, the loss is not a smooth one, or on bad data.
    TypeError
        If ``loss`` is not a string, ``n_points`` not an integer or a number not real.
    RuntimeError
        From :func:`ibcore.flow.gradient_flow`, if the ODE solver fails or the solution becomes
        non-finite.
    """
    X, y = check_data(X, y)
    loss = check_loss(loss, SMOOTH_LOSSES)
    w0 = as_vector(w0, "w0", length=X.shape[1])
    t_max = positive_float(t_max, "t_max")
    t_min = positive_float(t_min, "t_min")
    if not t_min < t_max:
        raise ValueError(f"need t_min < t_max, got t_min={t_min}, t_max={t_max}")
    if t_max > 1e100:
        raise ValueError(f"t_max={t_max:g} is beyond what float64 log-time integration supports")
    n_points = positive_int(n_points, "n_points", minimum=2)
    times = np.concatenate([[0.0], np.logspace(np.log10(t_min), np.log10(t_max), n_points)])
    return gradient_flow(make_loss(X, y, loss), w0, times, log_time=True, rtol=rtol, atol=atol)


def normalized_gd(
    X, y, w0, eta: float, n_steps: int, *, loss: str = "exponential", checkpoints=None
):
    """GD with the loss-normalised step ``w_{k+1} = w_k - (eta / L(w_k)) grad L(w_k)``
    ("aggressive" steps) on the averaged smooth loss.

    Near the max-margin direction the Hessian of the exponential-tailed loss is at most
    ``B^2 L(w)`` (``B = max_i ||x_i||``), so a step ``eta / L(w)`` with ``eta < 2 / B^2`` is a
    stable step for the *current* curvature. The schedule is the one analysed by Nacson et al.
    (2019) and Ji & Telgarsky (2021). Runs on :func:`ibcore.descent.iterate`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    w0 : array_like, shape (d,)
        The initialisation.
    eta : float
        The normalised step, ``0 < eta < 2 / B^2``.
    n_steps : int
        Number of steps, ``>= 0``.
    loss : {"logistic", "exponential"}, default "exponential"
        The averaged smooth loss ``L``.
    checkpoints : array_like of int, optional
        Steps in ``[0, n_steps]`` to record (default :func:`ibcore.descent.log_checkpoints`).

    Returns
    -------
    Trajectory
        :class:`ibcore.descent.Trajectory` with the recorded ``w`` and loss, and ``eta`` the array
        of the ``n_steps`` step sizes ``eta / L(w_k)``; ``diverged_at`` is None.

    Raises
    ------
    ValueError
        If ``eta >= 2 / B^2`` or ``eta <= 0``, the loss underflows to 0 (margins beyond ~700:
        use fewer steps or a smaller ``eta``), on bad checkpoints, a non-smooth loss or bad data.
    TypeError
        If ``loss`` is not a string, ``n_steps`` not an integer or the checkpoints not integers.
    DivergenceError
        If the loss becomes non-finite or blows up (:class:`ibcore.DivergenceError`).
    """
    X, y = check_data(X, y)
    loss = check_loss(loss, SMOOTH_LOSSES)
    w = as_vector(w0, "w0", length=X.shape[1]).copy()
    eta = positive_float(eta, "eta")
    B2 = float(np.max(np.sum(X**2, axis=1)))
    if eta >= 2.0 / B2:
        raise ValueError(
            f"eta={eta:g} is past the stability limit 2/B^2 = {2 / B2:.3g} of the normalised "
            "step (B = max ||x_i||): choose a smaller eta"
        )
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    return _loss_normalized_run(
        make_loss(X, y, loss), w, n_steps, checkpoints,
        step_size=lambda value: eta / value, direction=lambda g: -g, name="normalized_gd",
    )


def _loss_normalized_run(fun, w, n_steps, checkpoints, *, step_size, direction, name):
    """``w_{k+1} = w_k + step_size(L(w_k)) direction(grad L(w_k))`` on
    :func:`ibcore.descent.iterate`, recorded at checkpoints.

    The loop shared by :func:`normalized_gd` and :func:`steepest_descent`. A loss that is not
    finite or blows up raises :class:`ibcore.DivergenceError`; a loss that underflows to 0
    (margins beyond ~700) cannot set the next step and raises ``ValueError`` naming ``name``.
    """
    etas = np.empty(n_steps)
    grad = {}  # the gradient evaluated with the loss at the current iterate

    def measure(w):
        value, grad["w"] = fun(w)
        grad["value"] = value
        return value

    def advance(w, k):
        value = grad["value"]
        if not value > 0:
            raise ValueError(
                f"{name}: the loss underflowed to {value} at step {k} (float64 underflows once "
                "the margins reach ~700): use fewer n_steps or a smaller eta"
            )
        etas[k] = step_size(value)
        return w + etas[k] * direction(grad["w"])

    run = iterate(
        advance, w, n_steps, measure=measure, checkpoints=as_checkpoints(checkpoints, n_steps),
        record=lambda w: {"w": w}, hint="use a smaller eta",
    )
    return Trajectory(
        steps=run.steps, w=run.records["w"], loss=run.values, eta=etas, diverged_at=None
    )


def steepest_descent(
    X,
    y,
    w0,
    n_steps: int,
    *,
    p=1.0,
    eta: float = 0.5,
    eta_max: float | None = None,
    checkpoints=None,
):
    """Steepest descent w.r.t. ``||.||_p`` on the averaged exponential loss (Gunasekar et al. 2018).

    ``w_{k+1} = w_k + eta_k v_k`` with ``v_k = argmin_v <grad L(w_k), v> + ||v||_p^2 / 2``
    (:func:`ibcore.lp_geometry.steepest_direction`: for ``p = 1`` a greedy coordinate step, for
    ``p = inf`` a sign step, for ``p = 2`` plain GD) and
    ``eta_k = min(eta_max, eta / (B^2 L(w_k)))``, ``B = max_i ||x_i||_q`` (dual norm,
    ``1/p + 1/q = 1``). Their Theorem 5 allows ``eta_k <= min(eta_+, 1 / (B^2 L(w_k)))`` for any
    finite cap ``eta_+`` (``eta_max`` here) and then proves that the normalised ``p``-margin tends
    to the max margin of :func:`ibcore.margin.max_margin_lp`; the proof needs the cap to bind
    eventually. With ``eta_max=None`` (no cap: the loss-normalised steps) the same argument only
    guarantees a normalised margin ``>= (1 - eta/2) gamma`` asymptotically; convergence to
    ``gamma`` is then an observation, not the theorem. Runs on :func:`ibcore.descent.iterate`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    w0 : array_like, shape (d,)
        The initialisation.
    n_steps : int
        Number of steps, ``>= 0``.
    p : float, default 1.0
        The norm, a float in ``[1, inf]`` (:func:`ibcore.lp_geometry.check_p`).
    eta : float, default 0.5
        The normalised step, ``0 < eta <= 1``.
    eta_max : float, optional
        The cap ``eta_+ > 0`` on the step; None for no cap.
    checkpoints : array_like of int, optional
        Steps in ``[0, n_steps]`` to record (default :func:`ibcore.descent.log_checkpoints`).

    Returns
    -------
    Trajectory
        :class:`ibcore.descent.Trajectory`; its ``eta`` is the array of the ``n_steps`` step sizes
        ``eta_k``; ``diverged_at`` is None.

    Raises
    ------
    ValueError
        If ``eta`` is not in ``(0, 1]``, ``eta_max <= 0``, ``p`` is not in ``[1, inf]``, the loss
        underflows to 0 (margins beyond ~700), on bad checkpoints or bad data.
    TypeError
        If ``n_steps`` is not an integer, a number not real, or the checkpoints not integers.
    DivergenceError
        If the loss becomes non-finite or blows up (:class:`ibcore.DivergenceError`).
    """
    X, y = check_data(X, y)
    p = check_p(p)
    w = as_vector(w0, "w0", length=X.shape[1]).copy()
    eta = positive_float(eta, "eta")
    if eta > 1.0:
        raise ValueError(f"eta={eta:g} > 1: the theorem needs eta_k <= 1 / (B^2 L(w_k))")
    cap = np.inf if eta_max is None else positive_float(eta_max, "eta_max")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    B2 = float(np.max(lp_norm(X, dual_exponent(p), axis=1))) ** 2
    return _loss_normalized_run(
        make_loss(X, y, "exponential"), w, n_steps, checkpoints,
        step_size=lambda value: min(cap, eta / (B2 * value)),
        direction=steepest_direction_map(p), name="steepest_descent",
    )
