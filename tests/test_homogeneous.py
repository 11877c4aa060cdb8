"""Tests of ibcore.homogeneous: ReLU margins and Jacobian (against torch autograd), the
homogeneous KKT residual and margin training (the summed-filter symmetry:
tests/test_symmetry.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibcore.datasets import circle_data
from ibcore.homogeneous import relu_margins, train_relu_margin
from ibcore.margin import homogeneous_kkt_residual


def test_relu_margins_match_torch_autograd():
    X, y = circle_data(10, seed=0)
    width = 6
    theta = np.random.default_rng(1).standard_normal(width * 3)
    q, J = relu_margins(theta, X, y, width)

    def margins(th):
        W, a = th[: width * 2].reshape(width, 2), th[width * 2 :]
        return torch.tensor(y) * (torch.relu(torch.tensor(X) @ W.T) @ a)

    th = torch.tensor(theta, dtype=torch.float64)
    np.testing.assert_allclose(q, margins(th).numpy(), atol=1e-14)
    J_torch = torch.autograd.functional.jacobian(margins, th).numpy()
    np.testing.assert_allclose(J, J_torch, atol=1e-13)


def test_two_homogeneity_and_euler_identity():
    X, y = circle_data(8, seed=2)
    theta = np.random.default_rng(3).standard_normal(5 * 3)
    q, J = relu_margins(theta, X, y, 5)
    q2, J2 = relu_margins(3.0 * theta, X, y, 5)
    np.testing.assert_allclose(q2, 9.0 * q, rtol=1e-13)
    np.testing.assert_allclose(J2, 3.0 * J, rtol=1e-13)
    np.testing.assert_allclose(J @ theta, 2.0 * q, atol=1e-13)  # <theta, grad q_i> = 2 q_i


def test_kkt_residual_vanishes_at_a_linear_svm():
    # a linear model is 1-homogeneous; at the hard-margin SVM the KKT residual is 0
    Z = np.array([[1.0, 0.2], [1.0, -0.2], [2.0, 1.0]])  # signed examples y_i x_i
    w = np.array([1.0, 0.0])  # margins 1, 1, 2: SVM direction, support = first two
    eps, delta = homogeneous_kkt_residual(w, Z @ w, Z, degree=1.0)
    assert eps < 1e-10 and abs(delta) < 1e-10
    eps_bad, _ = homogeneous_kkt_residual(np.array([1.0, 0.5]), Z @ [1.0, 0.5], Z, degree=1.0)
    assert eps_bad > 0.05
    with pytest.raises(ValueError, match="positive"):
        homogeneous_kkt_residual(w, np.array([1.0, -1.0, 2.0]), Z, degree=1.0)
    with pytest.raises(ValueError, match="shape"):
        homogeneous_kkt_residual(w, Z @ w, Z.T, degree=1.0)


def test_train_relu_margin_smoothed_margin_increases():
    X, y = circle_data(12, seed=0)
    run = train_relu_margin(X, y, 16, 1500, seed=1)
    assert run.switch_step > 0
    late = run.smoothed[run.switch_step :]
    assert np.all(np.diff(late) >= 0) and late[-1] > late[0]
    gap = run.normalized - run.smoothed
    assert np.all(gap >= -1e-12) and np.all(gap <= np.log(12) / run.norm**2 + 1e-12)
    assert np.all(np.isfinite(run.log_loss))


def test_validation():
    X, y = circle_data(6, seed=0)
    with pytest.raises(ValueError, match="labels"):
        relu_margins(np.ones(9), X, np.arange(6.0), 3)
    with pytest.raises(ValueError, match="length"):
        relu_margins(np.ones(8), X, y, 3)
