"""Tests of ibcore.symmetry: patches, and GD on summed filters (the permutation symmetry of
equal filters, linear / ReLU / leaky ReLU, divergence)."""

from __future__ import annotations

import numpy as np
import pytest

from ibcore import DivergenceError
from ibcore.symmetry import patches, summed_filters_gd


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


def test_summed_filters_divergence_raises_divergence_error():
    rng = np.random.default_rng(0)
    signals = rng.standard_normal((4, 8))
    F0 = rng.standard_normal((2, 3))
    with pytest.raises(DivergenceError, match="smaller step size eta") as info:
        summed_filters_gd(signals, np.ones(4), F0, np.ones(6), 1e3, 50)
    assert info.value.step >= 1
