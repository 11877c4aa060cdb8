"""The exponential learning-rate schedule equivalent to weight decay (Li & Arora, 2020).

On a scale-invariant loss, GD with weight decay ``mu`` and constant rate ``eta``,
``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``, and plain GD with the rates
``eta_t = eta (1 - eta mu)^{-(2t + 1)}`` (:func:`exponential_schedule`), started at the same
point, satisfy ``v_t = w_t (1 - eta mu)^{-t}`` (:func:`equivalence_scale`): the two runs point
in the same direction at every step.
"""

from __future__ import annotations

import math

import numpy as np

from .validation import as_array, positive_int
from .weight_decay import check_step_and_decay

__all__ = ["equivalence_scale", "exponential_schedule"]


def exponential_schedule(eta, weight_decay, n_steps) -> np.ndarray:
    """Learning rates ``eta_t = eta (1 - eta mu)^{-(2t + 1)}``, ``t = 0, ..., n_steps - 1``.

    With a scale-invariant loss, GD with weight decay ``mu`` and constant rate ``eta``,
    ``w_{t+1} = (1 - eta mu) w_t - eta grad L(w_t)``, and plain GD with this schedule,
    ``v_{t+1} = v_t - eta_t grad L(v_t)``, started at the same point, satisfy
    ``v_t = w_t / (1 - eta mu)^t`` (Li & Arora, 2020); see
    :func:`~ibcore.exponential_lr.equivalence_scale`.

    Parameters
    ----------
    eta : float
        The constant step size, ``> 0``.
    weight_decay : float
        ``mu >= 0`` with ``eta mu < 1``.
    n_steps : int
        Number of rates, ``>= 0``.

    Returns
    -------
    ndarray of float64, shape (n_steps,)

    Raises
    ------
    TypeError
        If ``eta`` or ``weight_decay`` is not a real number, or ``n_steps`` not an integer.
    ValueError
        If ``eta <= 0``, ``weight_decay < 0``, ``eta * weight_decay >= 1``, ``n_steps < 0``, or
        the schedule overflows float64.
    """
    eta, mu = check_step_and_decay(eta, weight_decay)
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

    ``w_t``: GD with weight decay ``mu`` at the constant rate ``eta``; ``v_t``: plain GD with
    :func:`~ibcore.exponential_lr.exponential_schedule`, from the same start.

    Parameters
    ----------
    eta : float
        Step size, ``> 0``.
    weight_decay : float
        ``mu >= 0`` with ``eta mu < 1``.
    t : int or array_like
        Non-negative step indices.

    Returns
    -------
    ndarray of float64 or numpy.float64
        The shape of ``t`` (a numpy float for a scalar ``t``).

    Raises
    ------
    TypeError
        If an argument is not numeric.
    ValueError
        If ``eta <= 0``, ``weight_decay < 0``, ``eta * weight_decay >= 1``, or ``t`` has a
        negative or non-finite entry.
    """
    eta, mu = check_step_and_decay(eta, weight_decay)
    t = as_array(t, "t")
    if np.any(t < 0):
        raise ValueError("t must hold non-negative step indices")
    return np.exp(-t * math.log1p(-eta * mu))
