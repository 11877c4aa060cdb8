"""Weight decay on a scale-invariant loss: the norm equilibrium, the effective learning rate, and
the kicks of the direction at equilibrium.

Conventions
    Gradient descent with weight decay ``mu`` and step ``eta`` (``0 <= eta mu < 1``) is
    ``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``. On a scale-invariant loss (see
    :mod:`ibcore.scale_invariance`) its norm obeys the exact recursion

        ||w_{t+1}||^2 = (1 - eta mu)^2 ||w_t||^2 + eta^2 G(w_t)^2 / ||w_t||^2,

    ``G`` the spherical gradient norm, and the direction ``w / ||w||`` moves like a step of size
    ``eta_eff = eta / ((1 - eta mu) ||w||^2)`` on the unit sphere (the *effective learning
    rate*).

Contents
    * :func:`check_step_and_decay`: the validation of ``(eta, weight_decay)`` shared by the
      modules of the normalization chapter (``eta * weight_decay < 1``).
    * :func:`with_weight_decay`: adds the decay to any ``fun(w) -> (loss, grad)``, so that the
      plain runners of :mod:`ibcore.descent` do GD with weight decay.
    * :func:`equilibrium_norm`: the fixed point of the norm recursion.
    * :func:`kick_onset_sharpness`, :func:`kick_starts`: the intermittent motion of the
      direction at the equilibrium (rest, then kicks once ``eta_eff S`` has passed 2).
    * :func:`wd_convergence_time_bound`: the convergence time of GD with weight decay (Li et
      al., 2022).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .validation import as_array, positive_float

__all__ = [
    "KickOnset",
    "check_step_and_decay",
    "equilibrium_norm",
    "kick_onset_sharpness",
    "kick_starts",
    "wd_convergence_time_bound",
    "with_weight_decay",
]


def check_step_and_decay(eta, weight_decay) -> tuple[float, float]:
    """Validate a step size and a weight decay for ``w <- (1 - eta mu) w - eta grad L(w)``.

    Parameters
    ----------
    eta : float
        Step size, > 0.
    weight_decay : float
        Weight decay ``mu``, >= 0.

    Returns
    -------
    (eta, mu) : (float, float)

    Raises
    ------
    TypeError
        If ``eta`` or ``weight_decay`` is not a real number.
    ValueError
        If ``eta <= 0``, ``weight_decay < 0`` or ``eta * weight_decay >= 1`` (the decay factor
        ``1 - eta mu`` would be <= 0: the update would flip or erase ``w``).
    """
    eta = positive_float(eta, "eta")
    mu = positive_float(weight_decay, "weight_decay", allow_zero=True)
    if eta * mu >= 1.0:
        raise ValueError(
            f"eta * weight_decay = {eta * mu:.4g} must be < 1: the decay factor 1 - eta*mu "
            "would be <= 0 (the update would flip or erase w); lower eta or weight_decay so "
            "that eta * weight_decay < 1"
        )
    return eta, mu


def with_weight_decay(fun, weight_decay):
    """``fun(w) -> (L(w), grad L(w))`` turned into the weight-decayed objective
    ``w -> (L(w) + (mu/2) ||w||^2, grad L(w) + mu w)``.

    Plain GD with step ``eta`` on the result, e.g. :func:`ibcore.descent.run_gd`, is GD with
    weight decay, ``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``. The returned loss includes
    the decay term; evaluate ``fun`` itself for the loss without it.

    Parameters
    ----------
    fun : callable
        ``fun(w) -> (loss, grad)`` with ``w`` a float64 vector.
    weight_decay : float
        ``mu >= 0``.

    Returns
    -------
    callable
        ``decayed(w) -> (loss + (mu/2) ||w||^2, grad + mu w)``.

    Raises
    ------
    TypeError
        If ``fun`` is not callable or ``weight_decay`` not a real number.
    ValueError
        If ``weight_decay < 0`` or not finite.
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

    Parameters
    ----------
    eta : float
        Step size, ``> 0``.
    weight_decay : float
        ``mu > 0`` with ``eta mu < 1``.
    sphere_grad : float
        ``G > 0`` (e.g. ``c`` of :class:`~ibcore.scale_invariance.RotationLoss`).

    Returns
    -------
    float
        ``r*``.

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If ``eta <= 0``, ``weight_decay <= 0``, ``eta * weight_decay >= 1``, ``sphere_grad <= 0``,
        or ``r*`` under- or overflows float64.
    """
    eta, mu = check_step_and_decay(eta, weight_decay)
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


def kick_starts(angles, threshold) -> np.ndarray:
    """Steps ``t >= 1`` with ``angles[t] > threshold >= angles[t - 1]``: where kicks start.

    A *kick* is a burst of motion of the direction after a phase of rest; its start is the first
    step of the burst above ``threshold``.

    Parameters
    ----------
    angles : array_like, shape (n,)
        Turning angles (:func:`~ibcore.scale_invariance.turning_angles`) of one run, finite.
    threshold : float
        A positive angle in radians, e.g. ``1e-2``.

    Returns
    -------
    ndarray of int, shape (n_kicks,)

    Raises
    ------
    TypeError
        If ``angles`` is not numeric or ``threshold`` not a real number.
    ValueError
        If ``angles`` is not a finite 1-D array or ``threshold <= 0``.
    """
    a = as_array(angles, "angles", ndim=1)
    thr = positive_float(threshold, "threshold")
    return np.flatnonzero((a[1:] > thr) & (a[:-1] <= thr)) + 1


@dataclass(frozen=True)
class KickOnset:
    """What :func:`~ibcore.weight_decay.kick_onset_sharpness` returns.

    Attributes
    ----------
    sharpness : float
        The effective sharpness ``e_onset = eta_eff S`` at which the kick is seen.
    steps : int
        The number of steps ``s`` after ``e_t`` passed 2.
    """

    sharpness: float
    steps: int


def kick_onset_sharpness(eta, weight_decay, growth) -> KickOnset:
    """Effective sharpness at which a resting direction is kicked out.

    Model (the chapter's proposition *Resting at a minimum is temporary*): while the direction
    rests at a minimiser with spherical sharpness ``S``, weight decay raises ``e_t = eta_eff_t S``
    by the factor ``(1 - eta mu)^{-2}`` per step; once ``e_t > 2``, a perturbation along the top
    eigenvector is multiplied by ``e_t - 1`` per step. With the clock started at ``e_0 = 2``, the
    result is the first ``e_s = 2 (1 - eta mu)^{-2s}`` with ``prod_{j=1}^{s} (e_j - 1) >= growth``,
    and ``s``. With ``growth`` the ratio between the size at which a kick is seen and the size of
    the seed perturbation (rounding error, ``~1e-16``), this is where kicks start. To leading
    order in ``eta mu``, ``e_onset = 2 + 2 sqrt(2 eta mu ln(growth))``.

    Parameters
    ----------
    eta, weight_decay : float
        The step size and the weight decay ``mu``, with ``1e-10 <= eta * mu < 1``.
    growth : float
        The growth factor of the perturbation at which the kick counts as seen, > 1.

    Returns
    -------
    KickOnset
        ``sharpness = e_onset`` and ``steps = s`` (:class:`~ibcore.weight_decay.KickOnset`).

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If ``eta <= 0``, ``weight_decay < 0``, ``eta * weight_decay`` is not in ``[1e-10, 1)``, or
        ``growth <= 1``.
    """
    eta, mu = check_step_and_decay(eta, weight_decay)
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
    return KickOnset(sharpness=2.0 * math.exp(rate * s), steps=s)


def wd_convergence_time_bound(curvature, eta, weight_decay, w0_norm) -> float:
    """``(1 / (2 eta mu)) (|ln(r0^2 / (pi^2 Lam eta))| + 3)``: within this many steps GD with
    weight decay ``mu`` reaches ``G(w_t)^2 <= 8 pi^4 Lam^2 mu eta`` (Li et al., 2022).

    Valid for ``0 < eta mu <= 1/4`` (the range in which the chapter's proof closes). ``Lam =
    curvature`` is the curvature bound on the unit sphere
    (:func:`~ibcore.scale_invariance.sphere_smoothness`).

    Parameters
    ----------
    curvature : float
        ``Lam > 0``.
    eta : float
        Step size, ``> 0``.
    weight_decay : float
        ``mu``, with ``0 < eta mu <= 1/4``.
    w0_norm : float
        ``r0 = ||w_0|| > 0``.

    Returns
    -------
    float
        A number of steps (not rounded).

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If an argument is not positive and finite, ``eta mu`` is outside ``(0, 1/4]``, or
        ``r0^2 / (pi^2 Lam eta)`` under- or overflows float64.
    """
    curv = positive_float(curvature, "curvature")
    eta, mu = check_step_and_decay(eta, weight_decay)
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
