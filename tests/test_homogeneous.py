"""Tests of ibcore.homogeneous and ibcore.symmetry: ReLU margins and Jacobian (against torch
autograd), the homogeneous KKT residual, margin training, and the summed-filter symmetry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibcore import DivergenceError
from ibcore.datasets import circle_data
from ibcore.homogeneous import relu_margins, train_relu_margin
from ibcore.margin import homogeneous_kkt_residual
from ibcore.symmetry import patches, summed_filters_gd


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


def test_summed_filters_symmetry():
    rng = np.random.default_rng(0)
    S, t, v = rng.standard_normal((6, 10)), rng.standard_normal(6), rng.standard_normal(8)
    F0 = rng.standard_normal((3, 3))
    lin = summed_filters_gd(S, t, F0, v, 0.01, 50)
    np.testing.assert_allclose(
        lin[:, 0] - lin[:, 2], np.broadcast_to(F0[0] - F0[2], (51, 3)), atol=1e-14
    )
    Fs = F0.copy()
    Fs[2] = Fs[0]
    relu = summed_filters_gd(S, t, Fs, v, 0.01, 50, activation="relu")
    assert np.array_equal(relu[:, 0], relu[:, 2])
    assert np.abs((relu[-1, 0] - relu[-1, 1]) - (Fs[0] - Fs[1])).max() > 1e-3
    # patches: row tau of P[i] is the window starting at tau
    P = patches(S, 3)
    assert P.shape == (6, 8, 3) and np.array_equal(P[2, 4], S[2, 4:7])


def test_leaky_relu_interpolates_between_linear_and_relu():
    """The leaky ReLU ``max(z, s z)`` has ``sigma' = s + (1 - s) 1[z > 0]``, so the gradient of
    filter k is s times the common linear gradient plus (1 - s) times a ReLU part that depends
    on F_k. Three consequences, each exact up to rounding:

    * s = 1 and s = 0 run the arithmetic of "linear" and "relu" (bit for bit);
    * one GD step changes F_k - F_l by -eta (1 - s) (g_k - g_l), where
      g_k = (1/n) sum_i r_i sum_tau v_tau 1[(P_i F_k)_tau > 0] P_i[tau] is the ReLU part
      computed with the leaky model's own residuals r_i (checked against explicit loops; 1e-14
      covers the rounding of sums of about 50 terms of order 1);
    * equal filters receive equal gradients at every s and stay equal (exactly).

    Along a run the drift of F_1 - F_3 grows as s leaves 1 (observed on the book's data at
    s = 1, 0.9, 0.5, 0: 0, 0.31, 2.11, 2.22; here it is only required to be positive)."""
    rng = np.random.default_rng(0)
    S, t, v = rng.standard_normal((6, 10)), rng.standard_normal(6), rng.standard_normal(8)
    F0 = rng.standard_normal((3, 3))
    F0[1] = F0[0]
    lin = summed_filters_gd(S, t, F0, v, 0.01, 30)
    relu = summed_filters_gd(S, t, F0, v, 0.01, 30, activation="relu")
    leaky = {
        s: summed_filters_gd(S, t, F0, v, 0.01, 30, activation="leaky_relu", negative_slope=s)
        for s in (1.0, 0.5, 0.0)
    }
    assert np.array_equal(leaky[1.0], lin) and np.array_equal(leaky[0.0], relu)
    for run in leaky.values():
        assert np.array_equal(run[:, 0], run[:, 1])  # the symmetric start is never broken
    drift = np.abs((leaky[0.5][-1, 0] - leaky[0.5][-1, 2]) - (F0[0] - F0[2])).max()
    assert drift > 1e-3
    n, size = S.shape[0], F0.shape[1]
    windows = [[S[i, tau : tau + size] for tau in range(v.size)] for i in range(n)]
    for s in (0.9, 0.5, 0.25):
        one = summed_filters_gd(S, t, F0, v, 0.01, 1, activation="leaky_relu", negative_slope=s)
        change = (one[1, 0] - one[1, 2]) - (F0[0] - F0[2])
        g = np.zeros_like(F0)
        for i in range(n):
            z = [[float(w @ F) for w in windows[i]] for F in F0]
            r = sum(v[tau] * max(zk[tau], s * zk[tau]) for zk in z for tau in range(v.size))
            for k in range(3):
                for tau in range(v.size):
                    if z[k][tau] > 0:
                        g[k] += (r - t[i]) * v[tau] * windows[i][tau] / n
        assert np.abs(g[0] - g[2]).max() > 1e-2  # the identity below is not 0 = 0
        np.testing.assert_allclose(change, -0.01 * (1 - s) * (g[0] - g[2]), rtol=0, atol=1e-14)


def test_validation():
    X, y = circle_data(6, seed=0)
    with pytest.raises(ValueError, match="labels"):
        relu_margins(np.ones(9), X, np.arange(6.0), 3)
    with pytest.raises(ValueError, match="length"):
        relu_margins(np.ones(8), X, y, 3)
    with pytest.raises(ValueError, match="activation"):
        summed_filters_gd(
            np.ones((2, 5)), np.ones(2), np.ones((1, 2)), np.ones(4), 0.1, 1, activation="tanh"
        )
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="negative_slope"):
            summed_filters_gd(
                np.ones((2, 5)), np.ones(2), np.ones((1, 2)), np.ones(4), 0.1, 1,
                activation="leaky_relu", negative_slope=bad,
            )
    with pytest.raises(TypeError, match="negative_slope"):
        summed_filters_gd(
            np.ones((2, 5)), np.ones(2), np.ones((1, 2)), np.ones(4), 0.1, 1,
            activation="leaky_relu", negative_slope="0.5",
        )
    with pytest.raises(ValueError, match="size"):
        patches(np.ones((2, 3)), 5)
    with pytest.raises(TypeError, match="seed"):
        circle_data(5, seed=None)


def test_summed_filters_divergence_raises_divergence_error():
    rng = np.random.default_rng(0)
    signals = rng.standard_normal((4, 8))
    F0 = rng.standard_normal((2, 3))
    with pytest.raises(DivergenceError, match="smaller step size eta") as info:
        summed_filters_gd(signals, np.ones(4), F0, np.ones(6), 1e3, 50)
    assert info.value.step >= 1
