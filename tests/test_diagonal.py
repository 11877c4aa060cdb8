"""Tests of ibcore.diagonal: the tangent kernel, the three views of the diagonal network's
gradient flow, its small-initialization limit (saddle to saddle) and GD's exact u*v identity
(the R_alpha potential and its minimisers: tests/test_interpolants.py; l_p steepest/mirror
descent: tests/test_lp_geometry.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

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
from ibcore.interpolants import min_l1_interpolant, min_ralpha_interpolant


@pytest.fixture(scope="module")
def problem():
    return sparse_regression(12, 30, 2, seed=4)


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
    with pytest.raises(ValueError, match="NaN"):
        diagonal_flow(X, y * np.nan, 0.1, [0.0, 1.0])
    with pytest.raises(ValueError, match="view"):
        diagonal_flow(X, y, 0.1, [0.0, 1.0], view="other")
    with pytest.raises(ValueError, match="increasing"):
        diagonal_flow(X, y, 0.1, [1.0, 0.5])
    with pytest.raises(ValueError, match="even"):
        uv_product(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        uv_product(np.array([1.0, np.nan]))


@pytest.mark.parametrize(
    "call",
    [
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


