"""Tests of ibcore.linear: minimum-norm solutions, row-space invariance, kernel least squares."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibcore.descent import run_gd, run_sgd
from ibcore.linear import (
    kernel_predict,
    least_squares,
    least_squares_batch,
    min_norm_solution,
    null_space_component,
    poly2_features,
    poly_kernel,
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
