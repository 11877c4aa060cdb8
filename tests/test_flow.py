"""Tests of ibcore.flow: the gradient flow (ODE solver, log-time, closed form, failures)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from ibcore.errors import SolverError
from ibcore.flow import FlowPath, gradient_flow
from ibcore.quadratic import Quadratic

Q2 = Quadratic(np.diag([10.0, 1.0]))


def test_gradient_flow_solver_matches_exact_solution():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 4))
    q = Quadratic(A @ A.T + 0.1 * np.eye(4), b=rng.standard_normal(4))
    w0 = rng.standard_normal(4)
    t = np.array([0.0, 0.1, 1.0, 10.0, 100.0])

    def fun(w):  # a plain callable, so the ODE solver is used
        return q(w)

    ode = gradient_flow(fun, w0, t)
    exact = gradient_flow(q, w0, t)  # dispatches to the eigen-solution
    assert isinstance(ode, FlowPath)
    np.testing.assert_allclose(exact.w, q.flow(w0, t), rtol=0, atol=0)
    # rtol=1e-10, atol=1e-12 in the solver: global error well below 1e-7 over this horizon
    np.testing.assert_allclose(ode.w, exact.w, atol=1e-7)
    np.testing.assert_allclose(ode.loss, exact.loss, atol=1e-7)


def test_gradient_flow_log_time_reaches_long_horizons():
    # L(w) = log(1 + exp(-w)) (logistic loss of one separable point): w(t) ~ log t
    def fun(w):
        return float(np.logaddexp(0.0, -w[0])), np.array([-1.0 / (1.0 + np.exp(w[0]))])

    t = np.array([0.0, 1e2, 1e4, 1e6])
    path = gradient_flow(fun, [0.0], t, log_time=True)
    # exact solution: dw/dt = 1/(1 + e^w) integrates to w + e^w = t + 1 (w(0) = 0)
    exact = np.array([brentq(lambda w, s=s: w + np.exp(w) - s, -1.0, np.log(s) + 1.0,
                             xtol=1e-14) for s in t + 1])
    assert exact[-1] > 13.8  # ~ log(1e6): a horizon the plain-time solver would crawl to
    np.testing.assert_allclose(path.w[:, 0], exact, rtol=1e-6, atol=1e-8)


def test_gradient_flow_validation():
    with pytest.raises(ValueError, match="strictly increasing"):
        gradient_flow(Q2, [1.0, 1.0], [0.0, 2.0, 1.0])
    with pytest.raises(TypeError, match="fun must be callable"):
        gradient_flow("q", [1.0, 1.0], [0.0, 1.0])


def test_gradient_flow_solver_failure_is_a_solver_error():
    # dw/dt = w^2 from w(0) = 1 (L = -w^3/3) blows up at t = 1: RK45 cannot reach t = 2
    def fun(w):
        return float(-w[0] ** 3 / 3.0), np.array([-w[0] ** 2])

    with pytest.raises(SolverError, match=r"solver \(RK45\) failed"):
        gradient_flow(fun, [1.0], [0.0, 2.0], method="RK45")

    def nan_gradient(w):
        return 0.0, np.array([np.nan])

    with pytest.raises(SolverError, match="non-finite"):
        gradient_flow(nan_gradient, [1.0], [0.0, 2.0])
    with pytest.raises(ValueError, match="rtol"):
        gradient_flow(fun, [1.0], [0.0, 0.5], rtol=0.0)
