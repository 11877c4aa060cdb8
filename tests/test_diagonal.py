"""Tests of ibcore.diagonal and ibcore.interpolants: the R_alpha potential and its minimisers,
the rate of their approach to the minimum-l1 interpolant, the population risk along alpha, the
tangent kernel, the three views of the diagonal network's gradient flow, its small-initialization
limit (saddle to saddle) and GD's exact u*v identity (l_p steepest/mirror descent:
tests/test_lp_geometry.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ibcore import SolverError
from ibcore.datasets import sparse_regression
from ibcore.diagonal import (
    activation_times,
    diagonal_flow,
    diagonal_gd,
    diagonal_parameters,
    diagonal_tangent_kernel,
    saddle_to_saddle,
    uv_product,
)
from ibcore.interpolants import (
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


def test_three_views_of_the_flow_agree(problem):
    X, y, _ = problem
    t = np.array([0.0, 0.5, 5.0, 50.0, 5000.0])
    flows = {v: diagonal_flow(X, y, 0.1, t, view=v) for v in ("dual", "theta", "mirror")}
    assert np.abs(flows["theta"].w - flows["dual"].w).max() < 1e-7
    assert np.abs(flows["mirror"].w - flows["dual"].w).max() < 1e-7
    assert np.abs(flows["theta"].uv - 0.01).max() < 1e-9
    np.testing.assert_allclose(flows["dual"].w[-1], min_ralpha_interpolant(X, y, 0.1), atol=1e-7)
    assert np.all(np.diff(flows["dual"].loss) <= 1e-15)  # the loss decreases along a flow


def test_product_parametrization_is_the_diagonal_flow_at_half_speed(problem):
    X, y, _ = problem
    t = np.array([0.0, 0.5, 5.0, 50.0, 5000.0])
    prod = diagonal_flow(X, y, 0.2, 2 * t, view="product")
    ref = diagonal_flow(X, y, 0.2 / np.sqrt(2), t, view="dual")
    assert np.abs(prod.w - ref.w).max() < 1e-7
    assert np.abs(prod.uv - 2 * 0.2**2).max() < 1e-9  # u*u - v*v is conserved
    assert np.abs(prod.w[-1] - min_ralpha_interpolant(X, y, 0.2)).max() > 1e-3  # not R_alpha


def test_gd_uv_identity(problem):
    X, y, _ = problem
    eta = 0.02
    run = diagonal_gd(X, y, 0.3, eta, 50, checkpoints=np.arange(51))
    w, uv = uv_product(run.w)
    g = (w[:-1] @ X.T - y) @ X / X.shape[0]
    np.testing.assert_allclose(uv[1:], uv[:-1] * (1 - 4 * eta**2 * g**2), rtol=1e-14, atol=0)
    assert np.all(uv[1:] <= uv[:-1])


def test_input_validation(problem):
    X, y, _ = problem
    with pytest.raises(ValueError, match="n < d"):
        min_l1_interpolant(X.T, np.ones(30))
    with pytest.raises(ValueError, match="length"):
        min_ralpha_interpolant(X, y[:-1], 0.1)
    with pytest.raises(ValueError, match="alpha"):
        min_ralpha_interpolant(X, y, -1.0)
    with pytest.raises(ValueError, match="NaN"):
        diagonal_flow(X, y * np.nan, 0.1, [0.0, 1.0])
    with pytest.raises(ValueError, match="view"):
        diagonal_flow(X, y, 0.1, [0.0, 1.0], view="other")
    with pytest.raises(ValueError, match="increasing"):
        diagonal_flow(X, y, 0.1, [1.0, 0.5])
    with pytest.raises(ValueError, match="full row rank"):
        min_l1_interpolant(np.vstack([X[:1], X[:1]]), np.ones(2))
    with pytest.raises(ValueError, match="k <= n < d"):
        sparse_regression(10, 5, 2, seed=0)
    with pytest.raises(TypeError, match="seed"):
        sparse_regression(5, 10, 2, seed=None)
    with pytest.raises(ValueError, match="even"):
        uv_product(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        uv_product(np.array([1.0, np.nan]))


@pytest.mark.parametrize(
    "call",
    [
        lambda X, y: l2_offset_prediction(X, y, 1e100),
        lambda X, y: l2_offset_prediction(X, y, 1e-100),
        lambda X, y: r_alpha(np.ones(3), 1e200),
        lambda X, y: r_alpha(np.ones(3), 1e-200),
        lambda X, y: r_alpha_grad(np.ones(3), 1e-200),
        lambda X, y: diagonal_gd(X, y, 1e200, 0.01, 5),
    ],
)
def test_diagonal_functions_reject_alpha_out_of_float_range(call):
    X, y, _ = sparse_regression(12, 30, 2, seed=4)
    with pytest.raises(ValueError, match=r"alpha = .* is out of range"):
        call(X, y)


def test_diagonal_gd_reports_overflow_as_divergence_without_warnings():
    X, y, _ = sparse_regression(12, 30, 2, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = diagonal_gd(X, y, 1.0, 1e100, 10)
    assert traj.diverged and np.all(np.isfinite(traj.w))


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


def test_diagonal_parameters_lie_on_the_conserved_manifold():
    w = np.array([-30.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 40.0])
    for alpha in (1e-6, 0.1, 3.0):
        theta = diagonal_parameters(w, alpha)
        w_back, uv = uv_product(theta)
        np.testing.assert_allclose(w_back, w, rtol=1e-12, atol=1e-15 * max(1.0, alpha**2))
        np.testing.assert_allclose(uv, alpha**2, rtol=1e-14)
        assert np.all(theta > 0)
    np.testing.assert_allclose(diagonal_parameters(np.zeros(3), 0.2), 0.2, rtol=1e-15)
    with pytest.raises(ValueError, match="alpha"):
        diagonal_parameters(w, -1.0)
    with pytest.raises(ValueError, match="NaN"):
        diagonal_parameters(np.array([np.nan]), 0.1)


def test_diagonal_tangent_kernel_matches_autograd(problem):
    from ibcore.ntk import jacobian_kernel

    X, _, _ = problem
    d = X.shape[1]
    theta = np.random.default_rng(7).standard_normal(2 * d)
    X2 = X[:5] + 0.5

    def apply(th, Xt):
        return Xt @ (th[:d] ** 2 - th[d:] ** 2)

    th_t, X_t = torch.tensor(theta), torch.tensor(X)
    ref = jacobian_kernel(apply, th_t, X_t, torch.tensor(X2))
    np.testing.assert_allclose(diagonal_tangent_kernel(X, theta, X2), ref, rtol=1e-12, atol=1e-10)
    # at the initialization u = v = alpha 1 the kernel is 8 alpha^2 X X^T
    K0 = diagonal_tangent_kernel(X, diagonal_parameters(np.zeros(d), 0.3))
    np.testing.assert_allclose(K0, 8 * 0.09 * X @ X.T, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="theta"):
        diagonal_tangent_kernel(X, theta[:-1])
    with pytest.raises(ValueError, match="X2"):
        diagonal_tangent_kernel(X, theta, np.ones((2, 3)))


# -- the small-initialization limit: saddle to saddle ----------------------------------------


@pytest.fixture(scope="module")
def staircase():
    """The chapter's incremental-learning problem: three coefficients of sizes 2, 1, 1/2."""
    X, _, _ = sparse_regression(20, 60, 3, seed=0)
    w = np.zeros(60)
    w[[10, 20, 30]] = [2.0, -1.0, 0.5]
    return X, X @ w, w


@pytest.mark.parametrize("seed", range(8))
def test_saddle_path_ends_at_the_min_l1_interpolant(seed):
    X, y, _ = sparse_regression(20, 60, 3, seed=seed)
    path = saddle_to_saddle(X, y)
    n = X.shape[0]
    # the first jump: s moves along 4 t X^T y / n until the largest entry reaches 1
    assert path.times[1] == pytest.approx(n / (4 * np.abs(X.T @ y).max()), rel=1e-12)
    assert path.entering[0] == np.argmax(np.abs(X.T @ y))
    assert np.all(np.diff(path.times) > 0) and np.all(np.abs(path.duals) <= 1 + 1e-12)
    # every saddle minimises L over its sign-constrained coordinates: on its support the
    # gradient vanishes (NNLS optimality), so only the last saddle interpolates
    for w in path.saddles[1:]:
        g = X.T @ (X @ w - y) / n
        assert np.abs(g[w != 0]).max() < 1e-10
    w_end = path.saddles[-1]
    np.testing.assert_allclose(w_end, min_l1_interpolant(X, y).w, atol=1e-10)
    # its rescaled dual is a certificate: in the row space, sign(w) on the support
    s = path.duals[-1]
    assert np.linalg.norm(s - np.linalg.pinv(X) @ (X @ s)) < 1e-10
    np.testing.assert_allclose(s[w_end != 0], np.sign(w_end[w_end != 0]), atol=1e-12)


def test_saddle_path_can_drop_coordinates():
    # the same data with the signs (2, 1, 1/2): coordinates join that the limit does not keep
    X, _, _ = sparse_regression(20, 60, 3, seed=0)
    w = np.zeros(60)
    w[[10, 20, 30]] = [2.0, 1.0, 0.5]
    path = saddle_to_saddle(X, X @ w)
    kept = set(np.flatnonzero(np.abs(path.saddles[-1]) > 1e-12))
    joined = set(path.entering.tolist())
    assert kept == {10, 20, 30} and joined - kept  # some coordinates joined and left again
    np.testing.assert_allclose(path.saddles[-1], w, atol=1e-12)


def test_flow_approaches_the_saddle_path_as_alpha_shrinks(staircase):
    """The rescaled flow follows the limit path up to O(1/log(1/alpha)).

    With ``ell = log(1/alpha^2)`` each coordinate is ``alpha^{2(1 - |s_i|)}`` up to a factor
    ``1 - alpha^{4|s_i|}``, so reaching half of a saddle value ``v`` needs
    ``|s_i| = 1 + log(v/2) / ell``: the jump times are shifted by ``O(1/ell)`` (the constant
    depends on the saddle values and on the slope of ``s_i`` at the jump), and between jumps
    the distance to the saddle decays like a power of alpha. Measured on this problem:
    relative shift times ell = 0.77, 0.17, -2.39 at alpha = 1e-8 and 0.86, 0.17, -2.32 at
    1e-16; so ``max |shift| * ell`` stays below 3 while ``max |shift|`` halves per doubling of
    ell (a wrong time scale, e.g. ``t / log(1/alpha)``, would give shifts of order 1).
    """
    X, y, _ = staircase
    path = saddle_to_saddle(X, y)
    assert path.entering.tolist() == [10, 20, 30]
    tau = np.linspace(0.0, 0.45, 181)
    mids = (path.times[1:-1] + path.times[2:]) / 2
    shifts, plateau = {}, {}
    for alpha in (1e-4, 1e-8, 1e-16):
        ell = np.log(1 / alpha**2)
        flow = diagonal_flow(X, y, alpha, tau * ell)
        shifts[alpha] = np.abs(activation_times(tau, flow.w, path) / path.times[1:] - 1).max()
        assert shifts[alpha] * ell < 3
        at_mid = diagonal_flow(X, y, alpha, np.r_[0.0, mids * ell]).w[1:]
        plateau[alpha] = np.abs(at_mid - path.saddles[1:-1]).max()
    assert shifts[1e-16] < 0.6 * shifts[1e-8] and shifts[1e-8] < 0.6 * shifts[1e-4]
    # mid-plateau distance (measured 0.25, 0.12, 0.018): the short second plateau dominates
    assert plateau[1e-16] < 0.2 * plateau[1e-8] and plateau[1e-8] < 0.6 * plateau[1e-4]


def test_dual_flow_survives_tiny_alpha(staircase):
    X, y, w = staircase
    flow = diagonal_flow(X, y, 1e-24, [0.0, 50.0, 500.0])
    assert np.all(np.isfinite(flow.w)) and flow.loss[-1] < 1e-20
    # at alpha = 1e-24 the limit is the min-l1 interpolant to ~alpha^{2(1 - c_star)}
    assert np.abs(flow.w[-1] - w).max() < 1e-6


def test_saddle_path_at_and_activation_times(staircase):
    X, y, _ = staircase
    path = saddle_to_saddle(X, y)
    at = path.at([0.0, path.times[1] - 1e-9, path.times[1], 10.0])
    assert np.all(at[0] == 0) and np.all(at[1] == 0)
    np.testing.assert_array_equal(at[2], path.saddles[1])
    np.testing.assert_array_equal(at[3], path.saddles[-1])
    # a trajectory that *is* the limit path: crossing half of each saddle value is
    # interpolated in log|w| between the two samples around the jump
    tau = np.linspace(0.0, 0.5, 1001)
    act = activation_times(tau, path.at(tau), path)
    assert np.all(np.abs(act - path.times[1:]) <= tau[1])
    assert np.isnan(activation_times(tau[:10], path.at(tau[:10]), path)).all()


def test_saddle_functions_reject_bad_input(staircase):
    X, y, _ = staircase
    path = saddle_to_saddle(X, y)
    with pytest.raises(ValueError, match="n < d"):
        saddle_to_saddle(X.T, X.T @ np.ones(20))
    with pytest.raises(ValueError, match="tol"):
        saddle_to_saddle(X, y, tol=-1.0)
    with pytest.raises(SolverError, match="after 1 jumps"):
        saddle_to_saddle(X, y, max_jumps=1)
    with pytest.raises(ValueError, match="one row per time"):
        activation_times(np.arange(3.0), np.zeros((4, 60)), path)
    with pytest.raises(ValueError, match="fraction"):
        activation_times(np.arange(3.0), np.zeros((3, 60)), path, fraction=0.0)
    with pytest.raises(ValueError, match="fraction"):
        activation_times(np.arange(3.0), np.zeros((3, 60)), path, fraction=1.5)


