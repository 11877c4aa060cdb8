"""Tests of ibcore.linear: minimum-norm solutions, row-space invariance, kernel least squares."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibcore.descent import run_gd, run_sgd
from ibcore.linear import (
    KernelEigen,
    check_kernel_eta,
    flow_ridge_ratio,
    flow_ridge_ratio_max,
    kernel_predict,
    least_squares,
    least_squares_batch,
    min_norm_solution,
    ntk_complexity,
    null_space_component,
    poly2_features,
    poly_kernel,
    ridge_path,
)

shapes = st.tuples(st.integers(1, 8), st.integers(1, 12)).filter(lambda s: s[0] < s[1])


def _data(seed, n, d):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d)


@given(st.integers(0, 10**6), shapes)
@settings(max_examples=60, deadline=None)
def test_min_norm_solution_interpolates_and_is_orthogonal_to_null_space(seed, shape):
    X, y, _ = _data(seed, *shape)
    w = min_norm_solution(X, y)
    cond = np.linalg.cond(X)
    # backward-stable pseudo-inverse: residual ~ eps * cond(X) * ||y||
    np.testing.assert_allclose(X @ w, y, atol=1e-12 * cond * (1 + np.linalg.norm(y)))
    # X^+ y lies in the row space: no null-space component
    assert np.linalg.norm(null_space_component(X, w)) <= 1e-12 * cond * (1 + np.linalg.norm(w))


@given(st.integers(0, 10**6), shapes)
@settings(max_examples=60, deadline=None)
def test_min_norm_solution_from_w0_is_closest_interpolant(seed, shape):
    X, y, w0 = _data(seed, *shape)
    w = min_norm_solution(X, y, w0)
    np.testing.assert_allclose(w, w0 + np.linalg.pinv(X) @ (y - X @ w0), rtol=0, atol=0)
    tol = 1e-11 * np.linalg.cond(X) * (1 + np.linalg.norm(w0) + np.linalg.norm(y))
    # the null-space component of w0 is kept, and w - w0 lies in the row space
    np.testing.assert_allclose(null_space_component(X, w), null_space_component(X, w0), atol=tol)
    # any other interpolant w + v (v in null(X)) is farther from w0 (Pythagoras)
    v = null_space_component(X, np.random.default_rng(seed + 1).standard_normal(X.shape[1]))
    assert np.linalg.norm(w + v - w0) >= np.linalg.norm(w - w0) - tol


def test_min_norm_solution_overdetermined_is_least_squares():
    X, y, _ = _data(0, 20, 3)
    np.testing.assert_allclose(min_norm_solution(X, y), np.linalg.lstsq(X, y)[0], rtol=1e-10)


def test_min_norm_solution_validation():
    X, y, _ = _data(0, 3, 5)
    with pytest.raises(ValueError, match="y has length 2 but X has 3 rows"):
        min_norm_solution(X, y[:2])
    with pytest.raises(ValueError, match="w0 must have length 5"):
        min_norm_solution(X, y, np.zeros(4))
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        min_norm_solution(X_nan, y)
    with pytest.raises(ValueError, match="y contains 1 NaN or infinite"):
        min_norm_solution(X, np.array([1.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match="X must be a 2-D matrix"):
        min_norm_solution(np.ones(3), y)
    with pytest.raises(TypeError, match="X must be a numeric array"):
        min_norm_solution("X", y)


@given(st.integers(0, 10**6), shapes)
@settings(max_examples=25, deadline=None)
def test_gd_iterates_stay_in_w0_plus_row_space(seed, shape):
    X, y, w0 = _data(seed, *shape)
    q = least_squares(X, y)
    traj = run_gd(q, w0, 1.0 / q.lambda_max, 200)
    drift = null_space_component(X, traj.w) - null_space_component(X, w0)
    # each update is in row(X) exactly in exact arithmetic; rounding adds ~eps per step
    assert np.abs(drift).max() <= 1e-12 * (1 + np.abs(traj.w).max())


def test_gd_and_sgd_converge_to_closest_interpolant():
    X, y, w0 = _data(3, 8, 30)
    target = min_norm_solution(X, y, w0)
    q = least_squares(X, y)
    gd = q.gd(w0, 1.0 / q.lambda_max, 10**6)
    np.testing.assert_allclose(gd.final, target, atol=1e-9)
    # SGD with one sample per step; eta * ||x_i||^2 < 2 keeps every single-sample step stable
    eta = 1.0 / np.max(np.sum(X**2, axis=1))
    sgd = run_sgd(least_squares_batch(X, y), w0, eta, 20_000, 8, seed=0)
    # interpolation: the noise vanishes at the solution, so SGD converges linearly to it
    np.testing.assert_allclose(sgd.final, target, atol=1e-8)
    drift = null_space_component(X, sgd.w) - null_space_component(X, w0)
    assert np.abs(drift).max() <= 1e-11


def test_gd_reaches_the_closest_interpolant_to_rounding():
    """The chapter's budgets for GD on over-parametrised least squares (n = 20, d = 100).

    * From zero, 500 steps at ``eta = 1/lambda_max``: the row-space error contracts by at most
      ``1 - lambda_min+/lambda_max = 0.79`` per step, so ``0.79^500 < 1e-50`` of it is left and
      what remains is rounding: ``~eps |w|`` per step, below ``1e-13 |w|`` after 500 steps, plus
      the error of the reference ``pinv``, ``~cond(X) eps = 2.2 eps``. Hence ``1e-12 |X^+ y|``.
    * From ``w0``, the same argument with ``|w| ~ 8``, hence the absolute ``1e-10``.
    * The norm identity ``|w_inf|^2 = |X^+ y|^2 + |(I - X^+X) w0|^2`` has terms ~100 and
      rounding ~1e-13; an interpolant that leaked ``1e-4`` of its null-space part would miss it
      by ``1e-2``, so ``1e-9`` separates the two.
    * Each update lies in row(X) exactly; rounding adds at most ``~eps |w|`` to the null-space
      component per step, so after ``k`` steps the drift is below ``k eps max |w|`` even if all
      errors were aligned (measured: 6 times less). A real leak is far larger: an L2 penalty
      ``mu = 1e-6`` shrinks the null-space component by ``mu eta k ~ 5e-5`` of its size, and the
      bound rejects it (last assertion)."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((20, 100)), rng.standard_normal(20)
    q = least_squares(X, y)
    eta = 1.0 / q.lambda_max
    w0 = rng.standard_normal(100)
    w_min, target = min_norm_solution(X, y), min_norm_solution(X, y, w0)
    assert (1 - q.lambda_min_positive / q.lambda_max) ** 500 < 1e-50
    gd0 = run_gd(q, np.zeros(100), eta, 500)
    assert np.linalg.norm(gd0.final - w_min) < 1e-12 * np.linalg.norm(w_min)
    gd1 = run_gd(q, w0, eta, 500)
    null0 = null_space_component(X, w0)
    assert np.linalg.norm(gd1.final - target) < 1e-10
    assert abs(gd1.final @ gd1.final - (w_min @ w_min + null0 @ null0)) < 1e-9
    bound = 500 * np.finfo(float).eps * np.abs(gd1.w).max()
    assert np.abs(null_space_component(X, gd1.w) - null0).max() < bound
    leaky = run_gd(least_squares(X, y, reg=1e-6), w0, eta, 500)
    assert np.abs(null_space_component(X, leaky.w) - null0).max() > 1e6 * bound


def test_gd_in_feature_space_matches_the_kernel_interpolant():
    """The chapter's kernel experiment: GD on the explicit features of ``(1 + x.x')^2`` (8
    points in R^3, d_phi = 10) against the kernel formula ``K(x, X) K(X, X)^-1 y`` on 50 test
    points, to 1e-10. Budget: at ``eta = 1/lambda_max`` the error contracts by ``1 - 1/cond(K)``
    per step (the positive eigenvalues of ``Phi^T Phi / n`` are those of ``K / n``), so 20000
    steps leave ``< 1e-20`` of it; rounding drifts the null-space part of ``w`` by at most
    ``k eps |w| ~ 6e-12`` (worst case), the Cholesky solve errs by ``~cond(K) eps |h| ~ 1e-13``,
    and the test features have ``|phi(x)| <= 14``: together below 1e-10 (measured: a few
    1e-13). The squared weight norm is the RKHS norm ``y^T K^-1 y`` to the same accuracy."""
    rng = np.random.default_rng(4)
    X, y, X_test = rng.standard_normal((8, 3)), rng.standard_normal(8), rng.standard_normal((50, 3))
    Phi, K = poly2_features(X), poly_kernel(X, X)
    q = least_squares(Phi, y)
    assert (1 - 1 / np.linalg.cond(K)) ** 20_000 < 1e-20
    run = run_gd(q, np.zeros(10), 1.0 / q.lambda_max, 20_000)
    h_gd = poly2_features(X_test) @ run.final
    h_kernel = kernel_predict(K, y, poly_kernel(X_test, X))
    assert np.abs(h_gd - h_kernel).max() < 1e-10
    assert abs(run.final @ run.final - y @ np.linalg.solve(K, y)) < 1e-10


def test_poly2_features_reproduce_the_kernel():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(poly2_features(A) @ poly2_features(B).T, poly_kernel(A, B),
                               rtol=1e-12)
    assert poly2_features(A).shape == (5, 1 + 3 + 6)


def test_kernel_predict_interpolates_and_matches_feature_space_min_norm():
    rng = np.random.default_rng(1)
    X, y, Xt = rng.standard_normal((6, 3)), rng.standard_normal(6), rng.standard_normal((9, 3))
    K = poly_kernel(X, X)
    np.testing.assert_allclose(kernel_predict(K, y, K), y, atol=1e-9)
    w = min_norm_solution(poly2_features(X), y)
    np.testing.assert_allclose(kernel_predict(K, y, poly_kernel(Xt, X)), poly2_features(Xt) @ w,
                               rtol=1e-8, atol=1e-9)


def test_kernel_validation():
    X = np.array([[1.0, 0.0], [1.0, 0.0]])  # repeated point: singular Gram matrix
    with pytest.raises(ValueError, match="not positive definite"):
        kernel_predict(poly_kernel(X, X), [1.0, 2.0], poly_kernel(X, X))
    with pytest.raises(ValueError, match="K_test must have 2 columns"):
        kernel_predict(np.eye(2), [1.0, 2.0], np.ones((3, 3)))
    with pytest.raises(ValueError, match="same number of columns"):
        poly_kernel(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"w must have shape \(d,\) or \(k, d\) with d=2"):
        null_space_component(np.eye(2), np.ones(3))


@pytest.mark.parametrize(
    "case",
    [
        ("null-w-str", lambda X, y: null_space_component(X, "w"), TypeError,
         "w must be a numeric array"),
        ("batch-w-short", lambda X, y: least_squares_batch(X, y)(np.zeros(4), np.arange(3)),
         ValueError, r"w must have shape \(5,\)"),
        ("sgd-n_samples", lambda X, y: run_sgd(least_squares_batch(X, y), np.zeros(5), 0.01, 5,
                                               n_samples=6, seed=0), ValueError,
         "pass n_samples <= 3"),
    ],
    ids=lambda c: c[0],
)
def test_linear_functions_reject_bad_arguments(case):
    X, y, _ = _data(0, 3, 5)
    _, call, exc, match = case
    with pytest.raises(exc, match=match):
        call(X, y)


# -- early stopping and ridge --------------------------------------------------------------------


def test_ridge_path_matches_the_regularised_quadratic():
    for n, d in ((30, 6), (5, 12)):  # under- and over-parametrised
        X, y, _ = _data(n + d, n, d)
        mus = np.array([1e-4, 0.1, 3.0])
        path = ridge_path(X, y, mus)
        assert path.shape == (3, d)
        for mu, w in zip(mus, path, strict=True):
            ref = least_squares(X, y, reg=mu).minimizer
            # two eigendecompositions of matrices of condition <= (lambda_max + mu)/mu ~ 1e5:
            # agreement to ~cond * eps relative
            np.testing.assert_allclose(w, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
            # first-order condition of the ridge objective: X^T (X w - y)/n + mu w = 0
            np.testing.assert_allclose(X.T @ (X @ w - y) / n + mu * w, 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="mus must be > 0"):
        ridge_path(X, y, [0.1, 0.0])
    with pytest.raises(TypeError, match="mus must be a numeric array"):
        ridge_path(X, y, "0.1")
    with pytest.raises(ValueError, match="mus contains 1 NaN"):
        ridge_path(X, y, [np.nan])


def test_flow_ridge_ratio_is_the_ratio_of_flow_and_ridge_coordinates():
    # gradient flow from 0 at time t against ridge with mu = 1/t, eigen-coordinate by
    # eigen-coordinate: the ratio is psi(lambda_i t), between 1 and psi*
    X, y, _ = _data(3, 40, 8)
    q = least_squares(X, y)
    _, psi_star = flow_ridge_ratio_max()
    for t in (0.05, 1.0, 30.0, 1e4):
        flow = q.eigvecs.T @ q.flow(np.zeros(8), [t])[0]
        ridge = q.eigvecs.T @ ridge_path(X, y, [1.0 / t])[0]
        # two eigendecompositions of the same matrix: relative agreement ~cond(H) eps ~ 1e-14
        np.testing.assert_allclose(flow / ridge, flow_ridge_ratio(q.eigvals * t), rtol=1e-9)
        assert np.all(flow / ridge >= 1 - 1e-12) and np.all(flow / ridge <= psi_star + 1e-12)


def test_flow_ridge_ratio_on_an_ill_conditioned_problem():
    """The chapter's check: on features whose scales decay from 1 to 0.02 (``cond(H) ~ 4e3``)
    and times ``t`` from 1e-2 to 1e6, the flow/ridge eigen-coordinate ratio is ``psi(lambda_i t)``
    to ``rtol 1e-7``. Argument: the two paths come from independent eigendecompositions, which
    agree to ``~cond(H) eps ~ 1e-12`` relative; the flow's factor ``1 - e^{-x}`` (``x = lambda_i
    t`` as small as ``1e-6``) is computed with a cancellation that costs ``~eps/x ~ 1e-10``
    relative. 1e-7 is ample, and a coordinate that missed ``psi`` by 0.1 % would still fail. The
    maximum of the measured ratios is within ``1e-5`` of ``psi*``: ``psi`` is flat there
    (``psi* - psi(x) ~ 0.037 (x - x*)^2``) and among the ``161 x 30`` values of ``lambda_i t``
    one lies within ``5e-4`` of ``x*``, so the maximum is within ``~1e-8`` of ``psi*``."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((100, 30)) * np.geomspace(1.0, 0.02, 30)
    y = X @ rng.standard_normal(30) + 0.5 * rng.standard_normal(100)
    q = least_squares(X, y)
    t = np.geomspace(1e-2, 1e6, 161)
    ratio = (q.flow(np.zeros(30), t) @ q.eigvecs) / (ridge_path(X, y, 1 / t) @ q.eigvecs)
    x = np.outer(t, q.eigvals)
    assert x.min() < 1e-5 and 1e3 < q.condition_number < 1e4
    np.testing.assert_allclose(ratio, flow_ridge_ratio(x), rtol=1e-7)
    x_star, psi_star = flow_ridge_ratio_max()
    assert np.abs(x - x_star).min() < 5e-4
    assert psi_star - 1e-5 < ratio.max() <= psi_star * (1 + 1e-7)


def test_flow_ridge_ratio_values_and_maximum():
    x_star, psi_star = flow_ridge_ratio_max()
    # e^x = 1 + x + x^2 at the maximiser, and the derivative of psi vanishes there
    assert np.expm1(x_star) == pytest.approx(x_star + x_star**2, rel=1e-14)
    h = 1e-5
    slope = (flow_ridge_ratio(x_star + h) - flow_ridge_ratio(x_star - h)) / (2 * h)
    assert abs(slope) < 1e-9  # central difference: O(h^2) truncation + eps/h rounding ~ 1e-11
    assert psi_star == pytest.approx(flow_ridge_ratio(x_star), rel=1e-15)
    assert 1.2984 < psi_star < 1.2985
    # a dense grid never exceeds psi* and never drops below 1
    x = np.concatenate([[0.0], np.geomspace(1e-12, 1e6, 20_001)])
    psi = flow_ridge_ratio(x)
    assert psi.max() <= psi_star and psi.min() >= 1.0 and psi.max() > psi_star - 1e-6
    # limits: psi(x) = 1 + x/2 + O(x^2) at 0 (expm1 keeps this), 1 + 1/x + O(e^-x) at infinity
    assert flow_ridge_ratio(0.0) == 1.0
    assert flow_ridge_ratio(1e-10) - 1 == pytest.approx(5e-11, rel=1e-5)
    assert flow_ridge_ratio(100.0) - 1 == pytest.approx(0.01, rel=1e-10)
    with pytest.raises(ValueError, match=r"x must be >= 0 \(x = lambda t\)"):
        flow_ridge_ratio([1.0, -0.5])
    with pytest.raises(TypeError, match="x must be a numeric array"):
        flow_ridge_ratio("1")
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        flow_ridge_ratio([np.nan])


def test_gd_early_stopping_ratio_bound():
    # GD with eta <= 1/lambda_max after k steps against ridge with mu = 1/(k eta): the
    # eigen-coordinate ratio lies in [1, psi*/(1 - eta lambda_max)] (the chapter's corollary);
    # with eta = 1/lambda_max the first step already reaches the ratio 1 + eta lambda = 2 on the
    # top mode, so the factor 1/(1 - eta lambda_max) cannot be dropped
    X, y, _ = _data(4, 50, 6)
    q = least_squares(X, y)
    _, psi_star = flow_ridge_ratio_max()
    for factor in (0.05, 0.3, 0.9):
        eta = factor / q.lambda_max
        steps = np.array([1, 2, 5, 20, 100, 1000])
        gd = q.gd_iterates(np.zeros(6), eta, steps) @ q.eigvecs
        ridge = ridge_path(X, y, 1.0 / (steps * eta)) @ q.eigvecs
        ratio = gd / ridge
        assert ratio.min() >= 1 - 1e-10 and ratio.max() <= psi_star / (1 - factor) + 1e-10
    eta = 1.0 / q.lambda_max
    ratio = (q.gd_iterates(np.zeros(6), eta, [1]) @ q.eigvecs) / (
        ridge_path(X, y, [1.0 / eta]) @ q.eigvecs)
    assert ratio[0, -1] == pytest.approx(2.0, rel=1e-10)


def test_check_kernel_eta_and_kernel_eigen_names():
    assert check_kernel_eta(0.5, 2.0, 1) == 0.5  # limit 2n / lambda_max = 1
    with pytest.raises(ValueError, match="stability limit"):
        check_kernel_eta(1.0, 2.0, 1)
    with pytest.raises(ValueError, match="eta must be > 0"):
        check_kernel_eta(0.0, 2.0, 1)
    assert check_kernel_eta(1e9, 0.0, 3) == 1e9  # a zero kernel: every step is stable
    eig = KernelEigen(np.diag([1.0, 3.0]))
    np.testing.assert_array_equal(eig.lam, [3.0, 1.0])  # decreasing
    with pytest.raises(ValueError, match="H must be positive semi-definite"):
        ntk_complexity(np.diag([1.0, -1.0]), [1.0, 1.0])
    with pytest.raises(ValueError, match="K must be symmetric"):
        KernelEigen(np.array([[1.0, 1.0], [0.0, 1.0]]))


def test_kernel_eigen_loss_is_the_mean_squared_residual():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    K = A @ A.T
    r0 = rng.standard_normal(5)
    eig = KernelEigen(K)
    times = np.array([0.0, 0.3, 2.0])
    lam, V = np.linalg.eigh(K)
    direct = [0.5 * np.mean((V @ (np.exp(-lam * t / 5) * (V.T @ r0))) ** 2) for t in times]
    np.testing.assert_allclose(eig.loss(r0, times), direct, rtol=1e-13)
    assert eig.loss(r0, 0.0)[0] == pytest.approx(0.5 * np.mean(r0**2), rel=1e-14)
    eta = 0.5 * 5 / lam.max()
    gd = eig.loss(r0, [eta * 3], eta=eta)[0]
    r = r0.copy()
    for _ in range(3):
        r = r - eta * K @ r / 5
    assert gd == pytest.approx(0.5 * np.mean(r**2), rel=1e-12)
    with pytest.raises(ValueError, match="r0 must have length 5"):
        eig.loss(np.ones(4), [1.0])
    with pytest.raises(ValueError, match="stability limit"):
        eig.loss(r0, [1.0], eta=10 * eta)
