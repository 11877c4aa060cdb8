"""Gradient flow ``dw/dt = -grad L(w)``: the continuous-time limit of gradient descent.

GD with step ``eta`` is the forward Euler discretisation of the flow, its step ``k`` sitting at
flow time ``t_k = eta_0 + ... + eta_{k-1}`` (:attr:`ibcore.descent.Trajectory.times`). The
objective is the course's ``fun(w) -> (loss, grad)`` (see :mod:`ibcore.descent`).

:func:`gradient_flow` integrates the ODE with :func:`scipy.integrate.solve_ivp` at requested
times, optionally in log-time ``s = log(1 + t)``, where ``dw/ds = (1 + t) dw/dt`` stays of order
one when the dynamics slow down like ``1/t`` (the logistic loss on separable data), so horizons
like ``t = 1e6`` cost a few hundred solver steps. For an objective with an ``exact_flow``
method (a :class:`ibcore.quadratic.Quadratic`) it returns that closed form instead. The result
is a :class:`FlowPath`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from .descent import _evaluate
from .errors import SolverError
from .validation import as_vector, positive_float

__all__ = ["FlowPath", "gradient_flow"]


@dataclass(frozen=True)
class FlowPath:
    """The gradient flow sampled at times ``t``.

    Attributes
    ----------
    t : ndarray of float64, shape (k,)
        The requested times (non-negative, strictly increasing).
    w : ndarray of float64, shape (k, d)
        ``w(t)`` at each time.
    loss : ndarray of float64, shape (k,)
        ``L(w(t))`` at each time.
    """

    t: np.ndarray
    w: np.ndarray
    loss: np.ndarray

    @property
    def final(self) -> np.ndarray:
        """``w`` at the last requested time."""
        return self.w[-1]


def gradient_flow(
    fun,
    w0,
    times,
    *,
    log_time: bool = False,
    method: str = "LSODA",
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> FlowPath:
    """The gradient flow ``dw/dt = -grad L(w)``, ``w(0) = w0``, at the requested ``times``.

    If ``fun`` has an ``exact_flow(w0, times) -> FlowPath`` method (a
    :class:`ibcore.quadratic.Quadratic`, whose exact solution is
    ``w(t) = w* + V exp(-Lambda t) V^T (w0 - w*)``), that is returned (``log_time``, ``method``
    and the tolerances are then unused). Otherwise the ODE is integrated by
    :func:`scipy.integrate.solve_ivp` (``method``, ``rtol``, ``atol``; the default LSODA switches
    to a stiff method when the Hessian is ill-conditioned). With ``log_time=True`` the ODE is
    integrated in ``s = log(1 + t)``, ``dw/ds = -(1 + t) grad L(w)``, which reaches horizons like
    ``t = 1e6`` in a few hundred steps when the dynamics slow down like ``1/t``.

    Parameters
    ----------
    fun : callable or Quadratic
        ``fun(w) -> (loss, grad)``, or an object with an ``exact_flow`` method.
    w0 : array_like, shape (d,)
        Initial point ``w(0)``.
    times : array_like, shape (k,)
        Non-negative, strictly increasing times.
    log_time : bool
        Integrate in ``s = log(1 + t)`` (for long horizons).
    method : str
        A :func:`scipy.integrate.solve_ivp` method.
    rtol, atol : float
        The solver's relative and absolute tolerances (> 0).

    Returns
    -------
    FlowPath
        ``t`` (a copy of ``times``), ``w(t)`` and ``L(w(t))``.

    Raises
    ------
    ValueError
        If ``times`` are negative or not strictly increasing, or a tolerance is not positive.
    TypeError
        If ``fun`` is neither callable nor has an ``exact_flow`` method.
    ibcore.errors.SolverError
        If the solver fails (the message is scipy's) or the solution becomes non-finite.
    """
    w0 = as_vector(w0, "w0")
    t = as_vector(times, "times")
    if t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("times must be non-negative and strictly increasing")
    exact_flow = getattr(fun, "exact_flow", None)
    if callable(exact_flow):  # a closed form (Quadratic.exact_flow), no import of quadratic here
        return exact_flow(w0, t)
    if not callable(fun):
        raise TypeError(f"fun must be callable fun(w) -> (loss, grad), got {type(fun).__name__}")
    rtol = positive_float(rtol, "rtol")
    atol = positive_float(atol, "atol")

    def grad(w):
        return _evaluate(fun, w, where="fun(w)")[1]

    if log_time:
        s_eval = np.log1p(t)

        def rhs(s, w):  # t = e^s - 1, so dt/ds = e^s
            return -np.exp(s) * grad(w)

        span, t_eval = (0.0, float(s_eval[-1])), s_eval
    else:

        def rhs(_t, w):
            return -grad(w)

        span, t_eval = (0.0, float(t[-1])), t
    if span[1] == 0.0:
        w = w0[None, :].copy()
    else:
        sol = solve_ivp(rhs, span, w0, method=method, t_eval=t_eval, rtol=rtol, atol=atol)
        if not sol.success:
            raise SolverError(
                f"gradient_flow: the ODE solver ({method}) failed: {sol.message}; try "
                "log_time=True for long horizons, or method='Radau' for a stiff problem"
            )
        w = sol.y.T.copy()
    if not np.all(np.isfinite(w)):
        raise SolverError(
            "gradient_flow: the solution became non-finite (the flow blew up); check that the "
            "loss is bounded below along the path"
        )
    loss = np.array([_evaluate(fun, wi, where="fun(w)")[0] for wi in w])
    return FlowPath(t=t.copy(), w=w, loss=loss)
