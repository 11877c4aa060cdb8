"""Tests of ibcore.interpolants: the R_alpha potential, its minimisers and their dual, the rate
of their approach to the minimum-l1 interpolant and the population risk along alpha (the
network's flows and GD: tests/test_diagonal.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibcore.datasets import sparse_regression
from ibcore.interpolants import (
    check_alpha,
    l1_norm_bound,
    l2_offset_prediction,
    min_l1_interpolant,
    min_ralpha_interpolant,
    min_ralpha_primal,
    minimax_l1_certificate,
    population_risk,
    q_potential,
    r_alpha,
    r_alpha_grad,
    ralpha_kkt_residual,
    scaled_sinh_cosh,
)


@pytest.fixture(scope="module")
def problem():
    return sparse_regression(12, 30, 2, seed=4)


def test_q_potential_values_and_derivatives():
    z = np.array([-50.0, -3.0, -1e-6, 0.0, 1e-6, 0.5, 7.0, 1e4])
    q = q_potential(z)
    direct = 2 - np.sqrt(4 + z**2) + z * np.arcsinh(z / 2)
    np.testing.assert_allclose(q[np.abs(z) > 1e-3], direct[np.abs(z) > 1e-3], rtol=1e-12)
    # near 0, q(z) = z^2/4 - z^4/192 + ...: the stable form keeps full relative accuracy
    np.testing.assert_allclose(q[2], 1e-12 / 4, rtol=1e-9)
    assert q[3] == 0.0 and np.all(q >= 0)
    # derivative arcsinh(z/2) by central differences
    h = 1e-6
    for z0 in (-3.0, 0.3, 5.0):
        fd = (q_potential(z0 + h) - q_potential(z0 - h)) / (2 * h)
        assert abs(fd - np.arcsinh(z0 / 2)) < 1e-8


@given(st.floats(1e-3, 10.0), st.integers(0, 10**6))
@settings(max_examples=40, deadline=None)
def test_r_alpha_gradient_matches_finite_differences(alpha, seed):
    w = np.random.default_rng(seed).standard_normal(5)
    g = r_alpha_grad(w, alpha)
    h = 1e-6 * max(1.0, alpha**2)
    for i in range(5):
        e = np.zeros(5)
        e[i] = h
        fd = (r_alpha(w + e, alpha) - r_alpha(w - e, alpha)) / (2 * h)
        assert abs(fd - g[i]) < 1e-5 * (1 + abs(g[i]))


def test_min_l1_certificate_and_recovery(problem):
    X, y, w_star = problem
    sol = min_l1_interpolant(X, y)
    assert abs(sol.gap) < 1e-9 and sol.dual_infeasibility < 1e-9
    np.testing.assert_allclose(X @ sol.w, y, atol=1e-9)
    # 2-sparse truth from 12 Gaussian measurements in 30 dims: exact recovery
    np.testing.assert_allclose(sol.w, w_star, atol=1e-8)
    # optimality against random feasible points
    rng = np.random.default_rng(0)
    N = np.linalg.svd(X)[2][X.shape[0] :].T
    for _ in range(20):
        assert np.abs(sol.w + N @ rng.standard_normal(N.shape[1])).sum() >= sol.norm - 1e-9


@pytest.mark.parametrize("alpha", [1e-10, 1e-4, 0.05, 1.0, 30.0])
def test_min_ralpha_satisfies_kkt(problem, alpha):
    X, y, _ = problem
    w = min_ralpha_interpolant(X, y, alpha)
    feas, stat = ralpha_kkt_residual(X, y, w, alpha)
    assert feas < 1e-10 * (1 + np.linalg.norm(y)) and stat < 1e-9
    # it beats feasible perturbations along the null space
    N = np.linalg.svd(X)[2][X.shape[0] :].T
    rng = np.random.default_rng(1)
    r0 = r_alpha(w, alpha)
    for _ in range(10):
        assert r_alpha(w + 1e-3 * N @ rng.standard_normal(N.shape[1]), alpha) >= r0 - 1e-12


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_primal_and_dual_solvers_agree(problem, alpha):
    X, y, _ = problem
    np.testing.assert_allclose(
        min_ralpha_primal(X, y, alpha), min_ralpha_interpolant(X, y, alpha), atol=1e-7
    )


def test_limits_of_ralpha(problem):
    X, y, _ = problem
    l1 = min_l1_interpolant(X, y)
    for alpha in (1e-12, 1e-6, 1e-3):
        norm = np.abs(min_ralpha_interpolant(X, y, alpha)).sum()
        assert l1.norm - 1e-9 <= norm <= l1_norm_bound(l1.w, alpha, X.shape[1])
    w2 = np.linalg.pinv(X) @ y
    for alpha in (10.0, 30.0):
        pred = l2_offset_prediction(X, y, alpha)
        diff = min_ralpha_interpolant(X, y, alpha) - w2
        assert np.linalg.norm(diff - pred) < 1e-3 * np.linalg.norm(pred)
    # the remainder is O(alpha^-8): relative error * alpha^4 is constant up to O(alpha^-4)
    scaled = []
    for alpha in (2.0, 4.0, 8.0):
        pred = l2_offset_prediction(X, y, alpha)
        diff = min_ralpha_interpolant(X, y, alpha) - w2
        scaled.append(np.linalg.norm(diff - pred) / np.linalg.norm(pred) * alpha**4)
    assert max(scaled) < 1.05 * min(scaled) and min(scaled) > 0


def test_l1_bound_refuses_large_alpha():
    with pytest.raises(ValueError, match="alpha"):
        l1_norm_bound(np.ones(3), 0.5, 30)


def test_minimax_certificate_is_a_certificate_and_minimal(problem):
    X, y, _ = problem
    l1 = min_l1_interpolant(X, y)
    cert = minimax_l1_certificate(X, l1.w)
    S = cert.support
    np.testing.assert_allclose(cert.values, X.T @ cert.dual, atol=1e-14)
    np.testing.assert_allclose(cert.values[S], np.sign(l1.w[S]), atol=1e-9)
    assert 0 < cert.c_star < 1 and np.abs(cert.values[~S]).max() <= cert.c_star + 1e-12
    # the LP's own certificate is a vertex of the dual face: some off-support value is 1
    assert np.abs(X.T @ l1.dual)[~S].max() > 1 - 1e-9 > cert.c_star
    # minimality: moving inside {beta : X_S^T beta = sign(w_S)} never lowers the maximum
    N = np.linalg.svd(X[:, S].T)[2][S.sum() :].T
    rng = np.random.default_rng(5)
    for _ in range(200):
        beta = cert.dual + 1e-3 * N @ rng.standard_normal(N.shape[1])
        assert np.abs(X.T @ beta)[~S].max() >= cert.c_star - 1e-12


@pytest.mark.parametrize("shape", [(12, 30, 2, 4), (16, 40, 3, 2), (15, 50, 2, 7)])
def test_minimax_certificate_predicts_the_l1_rate(shape):
    """The log-log slope of ||w_alpha - w_l1|| between alpha = 1e-6 and 1e-10 is 2 (1 - c_star).

    Measured deviations are 0.003, 0.001 and 0.002: the prefactor of alpha^{2 (1 - c_star)} is
    e^{O(1)} and varies with log(1/alpha), so the two-point slope converges like
    1/log(1/alpha^2) (~ 1/30 here, times a small constant). Errors stay above 1e-7, far from
    the Newton solver's floor (~1e-12). A wrong certificate (the LP vertex, max off-support
    value 1) would predict a slope 0; a certificate off by 0.005 in c_star, a slope off by 0.01.
    """
    n, d, k, seed = shape
    X, y, _ = sparse_regression(n, d, k, seed=seed)
    l1 = min_l1_interpolant(X, y)
    cert = minimax_l1_certificate(X, l1.w)
    err = [np.linalg.norm(min_ralpha_interpolant(X, y, a) - l1.w) for a in (1e-6, 1e-10)]
    slope = np.log(err[0] / err[1]) / np.log(1e4)
    assert min(err) > 1e-7
    assert abs(slope - cert.exponent) < 0.01


def test_minimax_certificate_validation(problem):
    X = problem[0]
    with pytest.raises(ValueError, match="w_l1 must be non-zero"):
        minimax_l1_certificate(X, np.zeros(X.shape[1]))
    with pytest.raises(ValueError, match="length"):
        minimax_l1_certificate(X, np.ones(3))
    with pytest.raises(ValueError, match="w_l1 has 30 non-zeros"):
        minimax_l1_certificate(X, np.ones(X.shape[1]))  # support larger than the 12 rows
    with pytest.raises(TypeError, match="X"):
        minimax_l1_certificate("X", np.ones(3))
    with pytest.raises(ValueError, match="support_tol"):
        minimax_l1_certificate(X, np.ones(X.shape[1]), support_tol=-1.0)


def test_population_risk_is_the_gaussian_test_error_and_has_the_two_limits(problem):
    X, y, w_star = problem
    alphas = np.array([1e-8, 0.05, 0.3, 100.0])
    risk = population_risk(X, y, w_star, alphas)
    # Monte Carlo on 2e5 fresh N(0, I) inputs: relative standard error sqrt(2 / 2e5) = 0.3 %
    Z = np.random.default_rng(6).standard_normal((200_000, X.shape[1]))
    for a, r in zip(alphas[1:3], risk[1:3], strict=True):
        mc = np.mean((Z @ (min_ralpha_interpolant(X, y, a) - w_star)) ** 2)
        assert abs(mc - r) < 0.015 * r
    P_null = np.eye(X.shape[1]) - np.linalg.pinv(X) @ X
    np.testing.assert_allclose(risk[-1], np.sum((P_null @ w_star) ** 2), rtol=1e-6)
    # basis pursuit recovers the 2-sparse w_star (test above), so the risk vanishes like
    # alpha^{2 * 0.73} (c_star = 0.63 here): ~1e-10 at alpha = 1e-8 against ~3 for alpha = 100
    assert risk[0] < 1e-8 * risk[-1]
    assert np.all(np.diff(risk) > 0)
    assert population_risk(X, y, w_star, alphas.reshape(2, 2)).shape == (2, 2)
    with pytest.raises(ValueError, match="alphas"):
        population_risk(X, y, w_star, [0.1, 0.0])
    with pytest.raises(ValueError, match="length"):
        population_risk(X, y, w_star[:-1], [0.1])


def test_input_validation(problem):
    X, y, _ = problem
    with pytest.raises(ValueError, match="n < d"):
        min_l1_interpolant(X.T, np.ones(30))
    with pytest.raises(ValueError, match="length"):
        min_ralpha_interpolant(X, y[:-1], 0.1)
    with pytest.raises(ValueError, match="alpha"):
        min_ralpha_interpolant(X, y, -1.0)
    with pytest.raises(ValueError, match="full row rank"):
        min_l1_interpolant(np.vstack([X[:1], X[:1]]), np.ones(2))


@pytest.mark.parametrize(
    "call",
    [
        lambda X, y: l2_offset_prediction(X, y, 1e100),
        lambda X, y: l2_offset_prediction(X, y, 1e-100),
        lambda X, y: r_alpha(np.ones(3), 1e200),
        lambda X, y: r_alpha(np.ones(3), 1e-200),
        lambda X, y: r_alpha_grad(np.ones(3), 1e-200),
    ],
)
def test_interpolant_functions_reject_alpha_out_of_float_range(call):
    X, y, _ = sparse_regression(12, 30, 2, seed=4)
    with pytest.raises(ValueError, match=r"alpha = .* is out of range"):
        call(X, y)


def test_check_alpha_accepts_the_float_range_and_names_the_fix():
    assert check_alpha(0.3) == 0.3 and isinstance(check_alpha(np.float32(2.0)), float)
    assert check_alpha(1e-150) == 1e-150 and check_alpha(1e150) == 1e150
    for bad in (1e-200, 1e200):
        with pytest.raises(ValueError, match=r"alpha = .* is out of range.*1e-150 < alpha"):
            check_alpha(bad)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        check_alpha(0.0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        check_alpha(-1.0)
    for bad in ("0.1", True, None):
        with pytest.raises(TypeError, match="alpha"):
            check_alpha(bad)


def test_scaled_sinh_cosh_is_two_alpha_squared_sinh_and_cosh():
    a = np.array([-30.0, -2.0, -1e-9, 0.0, 1e-9, 0.7, 25.0])
    for alpha in (1e-3, 0.5, 4.0):
        s, c = scaled_sinh_cosh(a, 2.0 * np.log(alpha))
        np.testing.assert_allclose(s, 2 * alpha**2 * np.sinh(a), rtol=1e-13, atol=0)
        np.testing.assert_allclose(c, 2 * alpha**2 * np.cosh(a), rtol=1e-13, atol=0)
    # small a: no cancellation (2 alpha^2 sinh(a) = 2 alpha^2 a to full relative accuracy)
    s, _ = scaled_sinh_cosh(np.array([1e-12]), 0.0)
    assert s[0] == pytest.approx(2e-12, rel=1e-14)
    # tiny alpha with |a| beyond sinh's float64 range: finite, as e^{|a| + log alpha^2}
    s, c = scaled_sinh_cosh(np.array([-720.0, 720.0]), 2.0 * np.log(1e-8))
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(c))
    np.testing.assert_allclose(c, np.exp(720.0 + 2 * np.log(1e-8)), rtol=1e-12)
    np.testing.assert_allclose(s, [-c[0], c[1]], rtol=1e-15)
    # shapes follow a; a scalar a gives 0-d arrays
    assert scaled_sinh_cosh(np.ones((2, 3)), 0.0)[0].shape == (2, 3)
    assert scaled_sinh_cosh(0.5, 0.0)[1] == pytest.approx(2 * np.cosh(0.5), rel=1e-15)


def test_scaled_sinh_cosh_validation():
    with pytest.raises(TypeError, match="a must be a numeric array"):
        scaled_sinh_cosh("a", 0.0)
    with pytest.raises(TypeError, match="log_alpha2 must be a real number"):
        scaled_sinh_cosh(np.ones(2), "0")
    with pytest.raises(ValueError, match="log_alpha2 must be finite"):
        scaled_sinh_cosh(np.ones(2), -np.inf)
