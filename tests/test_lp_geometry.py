"""Tests of ibcore.lp_geometry: the p encoding and dual exponents, the steepest-descent
direction (all four cases against brute-force minimisation), the l_p max margin (against an LP
dual certificate), and steepest / mirror descent on the square loss (Gunasekar et al. 2018)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from ibcore import DivergenceError
from ibcore.datasets import sparse_regression
from ibcore.lp_geometry import (
    check_interpolation_problem,
    check_p,
    dual_exponent,
    duality_map,
    lp_descent_path,
    lp_max_margin,
    lp_mirror_descent,
    lp_norm,
    lp_steepest_descent,
    lp_steepest_flow,
    min_lp_interpolant,
    steepest_direction,
    steepest_direction_map,
)


@pytest.fixture(scope="module")
def problem():
    return sparse_regression(12, 30, 2, seed=4)


def test_check_p_and_dual_exponents():
    assert check_p(1) == 1.0 and check_p(np.inf) == np.inf and check_p(np.float32(3)) == 3.0
    assert dual_exponent(1.0) == np.inf and dual_exponent(np.inf) == 1.0
    assert dual_exponent(2.0) == 2.0 and dual_exponent(4.0) == pytest.approx(4 / 3)
    for p in (1.5, 3.0):
        assert 1 / p + 1 / dual_exponent(p) == pytest.approx(1.0)
    with pytest.raises(TypeError, match=r"np\.inf for l_inf"):
        check_p("linf")
    with pytest.raises(TypeError, match="number"):
        check_p(True)
    for bad in (0.5, -1.0, np.nan):
        with pytest.raises(ValueError, match="p must lie in"):
            check_p(bad)
    with pytest.raises(ValueError, match=r"\(1, inf\)"):
        check_p(1.0, strict=True)
    with pytest.raises(ValueError, match=r"\(1, inf\)"):
        check_p(np.inf, strict=True)


def test_lp_norm_is_numpy_norm_and_dual_norm_is_the_sup():
    rng = np.random.default_rng(0)
    g = rng.standard_normal(5)
    for p in (1.0, 1.5, 2.0, 3.0, np.inf):
        assert lp_norm(g, p) == np.linalg.norm(g, ord=p)
        # the dual norm is max <g, v> over ||v||_p <= 1, attained at -steepest_direction/||g||_q
        q = dual_exponent(p)
        v = -steepest_direction(g, p) / lp_norm(g, q)
        assert lp_norm(v, p) == pytest.approx(1.0, rel=1e-12)
        assert g @ v == pytest.approx(lp_norm(g, q), rel=1e-12)
        U = rng.standard_normal((2000, 5))
        U /= lp_norm(U, p, axis=1)[:, None]
        assert np.all(U @ g <= lp_norm(g, q) * (1 + 1e-12))


@pytest.mark.parametrize("p", [1.0, 2.0, np.inf, 1.5, 4.0])
def test_steepest_direction_is_the_argmin(p):
    g = np.array([0.3, -2.0, 1.0])
    rng = np.random.default_rng(0)
    v = steepest_direction(g, p)
    obj = g @ v + 0.5 * np.linalg.norm(v, p) ** 2
    # the optimal value is -||g||_q^2 / 2
    assert obj == pytest.approx(-0.5 * np.linalg.norm(g, dual_exponent(p)) ** 2)
    for u in rng.standard_normal((500, 3)) * 2:
        assert g @ u + 0.5 * np.linalg.norm(u, p) ** 2 >= obj - 1e-12


def test_steepest_direction_special_cases_and_validation():
    g = np.array([0.3, -2.0, 1.0])
    np.testing.assert_array_equal(steepest_direction(g, 1.0), [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(steepest_direction(g, np.inf), -3.3 * np.sign(g))
    np.testing.assert_array_equal(steepest_direction(g, 2.0), -g)
    with pytest.raises(ValueError, match="NaN"):
        steepest_direction([1.0, np.nan], 2.0)
    with pytest.raises(TypeError, match="number"):
        steepest_direction(g, "l1")


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0, np.inf])
def test_steepest_direction_map_is_steepest_direction(p):
    rng = np.random.default_rng(11)
    direction = steepest_direction_map(p)
    for _ in range(5):
        g = rng.standard_normal(7)
        np.testing.assert_array_equal(direction(g), steepest_direction(g, p))
    np.testing.assert_array_equal(direction(np.zeros(4)), np.zeros(4))


def test_steepest_direction_map_validation():
    with pytest.raises(TypeError, match=r"np\.inf for l_inf"):
        steepest_direction_map("linf")
    with pytest.raises(ValueError, match=r"\[1, inf\]"):
        steepest_direction_map(0.5)
    # g is not re-validated: a non-finite gradient passes through for iterate to report
    with np.errstate(invalid="ignore"):
        assert np.isnan(steepest_direction_map(2.0)(np.array([np.nan, 1.0]))[0])


def test_duality_map_inverts_its_dual():
    rng = np.random.default_rng(1)
    theta = rng.standard_normal(6)
    for r in (1.2, 2.0, 3.0):
        s = r / (r - 1.0)
        np.testing.assert_allclose(duality_map(duality_map(theta, r), s), theta, rtol=1e-12)
    assert np.all(duality_map(np.zeros(3), 1.5) == 0)
    assert np.all(np.isnan(duality_map(np.array([np.inf, 1.0]), 1.5)))
    # no overflow for huge entries: the map is 1-homogeneous
    np.testing.assert_allclose(duality_map(1e300 * theta, 3.0), 1e300 * duality_map(theta, 3.0),
                               rtol=1e-12)


def _lp_dual_value(Z, p):
    """The max margin from the LP dual: min over the simplex of ||Z^T lam||_q (q the dual)."""
    n, d = Z.shape
    if p == np.inf:  # min ||Z^T lam||_1: variables (lam, s), -s <= Z^T lam <= s
        c = np.r_[np.zeros(n), np.ones(d)]
        A = np.block([[Z.T, -np.eye(d)], [-Z.T, -np.eye(d)]])
        bounds = [(0, None)] * n + [(0, None)] * d
    else:  # p = 1: min ||Z^T lam||_inf, variables (lam, t)
        c = np.r_[np.zeros(n), 1.0]
        A = np.block([[Z.T, -np.ones((d, 1))], [-Z.T, -np.ones((d, 1))]])
        bounds = [(0, None)] * n + [(0, None)]
    A_eq = np.r_[np.ones(n), np.zeros(A.shape[1] - n)][None, :]
    res = linprog(c, A_ub=A, b_ub=np.zeros(A.shape[0]), A_eq=A_eq, b_eq=[1.0], bounds=bounds,
                  method="highs")
    return res.fun


@pytest.mark.parametrize("p", [1.0, np.inf])
def test_lp_max_margin_meets_its_dual_certificate(p):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 6))
    s = X[:, 0] + 0.5 * X[:, 1]
    keep = np.abs(s) > 0.3
    X, y = X[keep], np.sign(s[keep])
    w, g = lp_max_margin(X, y, p)
    Z = y[:, None] * X
    assert np.linalg.norm(w, ord=p) == pytest.approx(1.0, rel=1e-12)
    assert g == pytest.approx(np.min(Z @ w), rel=1e-12)
    # strong duality: max over ||w||_p <= 1 of min_i <w, z_i> = min_lam ||Z^T lam||_q
    assert g == pytest.approx(_lp_dual_value(Z, p), rel=1e-8)


def test_lp_max_margin_validation():
    X, y = np.array([[1.0, 0.5], [0.5, 1.0]]), np.ones(2)
    with pytest.raises(ValueError, match="max_margin"):
        lp_max_margin(X, y, 2.0)
    with pytest.raises(ValueError, match="not linearly separable"):
        lp_max_margin(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.ones(2), np.inf)
    with pytest.raises(ValueError, match="labels y must be -1 or"):
        lp_max_margin(X, [0.0, 1.0], 1.0)


def test_interpolation_problem_and_runner_validation(problem):
    X, y, _ = problem
    with pytest.raises(ValueError, match="n < d"):
        check_interpolation_problem(X.T, np.ones(30))
    with pytest.raises(ValueError, match="full row rank"):
        check_interpolation_problem(np.vstack([X[:1], X[:1]]), np.ones(2))
    with pytest.raises(ValueError, match="p must"):
        steepest_direction(np.ones(3), 0.5)
    with pytest.raises(ValueError, match=r"\(1, inf\)"):
        lp_mirror_descent(X, y, 1.0, 0.1, 5)
    with pytest.raises(ValueError, match=r"\(1, inf\)"):
        min_lp_interpolant(X, y, np.inf)
    with pytest.raises(DivergenceError, match="smaller step size eta"):
        lp_steepest_descent(X, y, 1.5, 1e3, 200)


def test_steepest_descent_in_l1_and_linf_interpolates(problem):
    # p = 1 (coordinate descent) and p = inf (sign descent) with small steps fit the data
    X, y, _ = problem
    for p, eta in ((1.0, 0.05), (np.inf, 0.001)):
        w = lp_steepest_descent(X, y, p, eta, 3000)
        assert np.linalg.norm(X @ w - y) < 0.05 * np.linalg.norm(y), p


def test_lp_direction_properties():
    rng = np.random.default_rng(2)
    for p in (1.2, 4 / 3, 2.0, 3.0):
        q = p / (p - 1)
        g = rng.standard_normal(6)
        v = steepest_direction(g, p)
        assert abs(np.linalg.norm(v, p) - np.linalg.norm(g, q)) < 1e-12
        assert abs(g @ v + np.linalg.norm(g, q) ** 2) < 1e-12  # <g, v> = -||g||_q^2
        # it minimises <g, v> + ||v||_p^2 / 2 against random competitors
        f = g @ v + 0.5 * np.linalg.norm(v, p) ** 2
        for _ in range(50):
            u = v + 0.1 * rng.standard_normal(6)
            assert g @ u + 0.5 * np.linalg.norm(u, p) ** 2 >= f - 1e-12
    np.testing.assert_allclose(steepest_direction(g, 2.0), -g, atol=1e-15)
    assert np.all(steepest_direction(np.zeros(3), 1.5) == 0)


def test_gunasekar_l43_example():
    X = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 0.0]])
    y = np.array([1.0, 10.0])
    w_min = min_lp_interpolant(X, y, 4 / 3)
    # KKT: sign(w)|w|^{1/3} in the row space
    g = np.sign(w_min) * np.abs(w_min) ** (1 / 3)
    assert np.linalg.norm(g - np.linalg.pinv(X) @ (X @ g)) < 1e-6
    np.testing.assert_allclose(lp_mirror_descent(X, y, 4 / 3, 0.1, 3000), w_min, atol=1e-8)
    sd = lp_steepest_descent(X, y, 4 / 3, 0.05, 4000)
    flow = lp_steepest_flow(X, y, 4 / 3, 400.0)
    norm = lambda w: np.sum(np.abs(w) ** (4 / 3)) ** 0.75  # noqa: E731
    assert norm(flow) > norm(w_min) + 0.05 and norm(sd) > norm(w_min) + 0.05
    assert np.abs(X @ sd - y).max() < 1e-10


def test_mirror_descent_divergence_is_reported(problem):
    X, y, _ = problem
    with pytest.raises(DivergenceError, match="diverged at step"):
        lp_mirror_descent(X, y, 1.5, 1e3, 200)


def test_lp_descent_path_matches_the_final_iterates():
    X = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 0.0]])
    y = np.array([1.0, 10.0])
    steps = [0, 10, 500, 2000]
    sd = lp_descent_path(X, y, 4 / 3, 0.1, steps)
    md = lp_descent_path(X, y, 4 / 3, 0.1, steps, method="mirror")
    assert sd.shape == md.shape == (4, 3) and np.all(sd[0] == 0) and np.all(md[0] == 0)
    for k, w_sd, w_md in zip(steps[1:], sd[1:], md[1:], strict=True):
        np.testing.assert_array_equal(w_sd, lp_steepest_descent(X, y, 4 / 3, 0.1, k))
        np.testing.assert_array_equal(w_md, lp_mirror_descent(X, y, 4 / 3, 0.1, k))
    with pytest.raises(ValueError, match="method"):
        lp_descent_path(X, y, 4 / 3, 0.1, steps, method="newton")
    with pytest.raises(ValueError, match="strictly increasing"):
        lp_descent_path(X, y, 4 / 3, 0.1, [0, 5, 5])
    with pytest.raises(ValueError, match="strictly increasing"):
        lp_descent_path(X, y, 4 / 3, 0.1, [0, 2.5])
    with pytest.raises(DivergenceError, match="diverged"):
        lp_descent_path(X, y, 4 / 3, 50.0, [0, 200])
