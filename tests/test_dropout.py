"""Tests of ibcore.dropout: the explicit dropout regularizer, its Monte-Carlo check, the induced
regularizer, the closed-form optimum, dropout SGD, input dropout and the dropout kernel."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibcore import DivergenceError
from ibcore.dropout import (
    column_products,
    compare_input_dropout,
    completion_dropout_objective,
    completion_regularizer,
    completion_risk,
    deep_dropout_constant,
    deep_dropout_lower_bound,
    deep_linear_dropout_objective,
    deep_linear_dropout_regularizer,
    dropout_kernel,
    dropout_lambda,
    dropout_optimum,
    dropout_penalty,
    equalization_gap_2d,
    equalized_deep_factors,
    equalized_factorization,
    equalizing_rotation,
    expected_dropout_loss,
    explicit_objective,
    factorization_contributions,
    fixed_mask_kernel_regression,
    fixed_mask_readout,
    gaussian_regression,
    induced_regularizer,
    input_dropout_contributions,
    input_dropout_ridge,
    matrix_with_singular_values,
    mc_deep_linear_dropout_loss,
    mc_dropout_kernel,
    mc_dropout_loss,
    mc_dropout_samples,
    minimize_completion_objective,
    minimize_deep_linear_dropout,
    minimize_dropout_completion,
    minimize_explicit_objective,
    minimize_weighted_trace_norm_completion,
    nuclear_norm,
    projected_dropout_completion,
    random_orthogonal,
    random_relu_features,
    rank_one_dropout_completion,
    relu_path_regularizer,
    resampled_mask_readout,
    sensing_contributions,
    tied_gradient,
    tied_scalar_critical_points,
    tied_scalar_objective,
    top_layer_contributions,
    train_dropout_sgd,
    weighted_trace_norm_certificate,
)
from ibcore.dropout.deep_linear import _deep_value_grad
from ibcore.dropout.landscape import _shrink


def _matrix(s, seed=0):
    rng = np.random.default_rng(seed)
    d = len(s)
    W, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Y, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (W * np.asarray(s, float)) @ Y.T


def _exact_by_enumeration(C, Y, p):
    """E_B of the dropout loss by summing over all 2^r masks (one mask shared by all examples,
    which has the same expectation as independent masks)."""
    _, r, _ = C.shape
    total = 0.0
    for bits in itertools.product([0, 1], repeat=r):
        b = np.array(bits, float)
        prob = np.prod(np.where(b == 1, 1 - p, p))
        pred = np.einsum("j,ijo->io", b / (1 - p), C)
        total += prob * np.mean(np.sum((Y - pred) ** 2, axis=1))
    return total


# -- dropout_penalty ---------------------------------------------------------------------------


def test_dropout_penalty_formula():
    U = np.array([[1.0, 2.0], [0.0, 1.0]])
    V = np.array([[3.0, 0.0], [4.0, 1.0], [0.0, 2.0]])
    # column 1: ||u||^2 = 1, ||v||^2 = 25; column 2: ||u||^2 = 5, ||v||^2 = 5
    assert dropout_penalty(U, V, 0.5) == pytest.approx(1.0 * (25 + 25))
    assert dropout_penalty(U, V, 0.2) == pytest.approx(0.25 * 50)
    assert dropout_penalty(U, V, 0.0) == 0.0


@pytest.mark.parametrize(
    ("U", "V", "p", "err", "match"),
    [
        (np.ones((2, 2)), np.ones((3, 3)), 0.5, ValueError, "same number of columns"),
        (np.ones((2, 2)), np.ones((3, 2)), 1.0, ValueError, "p must lie in"),
        (np.ones((2, 2)), np.ones((3, 2)), -0.1, ValueError, "p must lie in"),
        (np.ones((2, 2)), np.ones((3, 2)), float("nan"), ValueError, "p must be finite"),
        (np.ones(2), np.ones((3, 2)), 0.5, ValueError, "U must be a 2-D"),
        (np.ones((2, 2)), np.full((3, 2), np.nan), 0.5, ValueError, "V contains"),
        ("ab", np.ones((3, 2)), 0.5, TypeError, "U must be a numeric"),
        (np.ones((2, 2)), np.ones((3, 2)), "0.5", TypeError, "p must be a real"),
    ],
)
def test_dropout_penalty_rejects_bad_input(U, V, p, err, match):
    with pytest.raises(err, match=match):
        dropout_penalty(U, V, p)


# -- the master identity -----------------------------------------------------------------------


@given(st.integers(1, 5), st.integers(1, 4), st.floats(0.0, 0.9), st.integers(0, 10**6))
@settings(max_examples=40, deadline=None)
def test_expected_loss_equals_enumeration(r, n, p, seed):
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((n, r, 2))
    Y = rng.standard_normal((n, 2))
    dec = expected_dropout_loss(C, Y, p)
    assert dec.total == pytest.approx(_exact_by_enumeration(C, Y, p), rel=1e-10, abs=1e-12)


def test_factorization_identity_matches_penalty_and_mc():
    rng = np.random.default_rng(101)  # own stream: independent of test order
    U, V = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    M = rng.standard_normal((4, 5))
    p = 0.3
    dec = expected_dropout_loss(factorization_contributions(U, V), M.reshape(1, -1), p)
    assert dec.plain == pytest.approx(np.sum((M - U @ V.T) ** 2), rel=1e-12)
    assert dec.regularizer == pytest.approx(dropout_penalty(U, V, p), rel=1e-12)
    est = mc_dropout_loss(factorization_contributions(U, V), M.reshape(1, -1), p,
                          n_draws=40000, seed=1)
    # 4 standard errors: a correct estimator fails with probability ~6e-5 (normal approx.)
    assert abs(est.mean - dec.total) < 4 * est.se
    # and the estimator can fail: a wrong lam (p instead of p/(1-p)) is many SEs away
    wrong = dec.plain + p * dec.regularizer / dropout_lambda(p)
    assert abs(est.mean - wrong) > 10 * est.se


def test_sensing_identity_mc():
    rng = np.random.default_rng(102)  # own stream: independent of test order
    U, V = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    A = rng.standard_normal((20, 3, 3))
    y = np.einsum("ab,iab->i", rng.standard_normal((3, 3)), A)
    C = sensing_contributions(U, V, A)
    assert C.shape == (20, 4, 1)
    np.testing.assert_allclose(C.sum(axis=1)[:, 0], np.einsum("ab,iab->i", U @ V.T, A))
    dec = expected_dropout_loss(C, y[:, None], 0.5)
    est = mc_dropout_loss(C, y[:, None], 0.5, n_draws=20000, seed=2)
    assert abs(est.mean - dec.total) < 4 * est.se


def test_mc_is_seeded_and_zero_variance_at_p0():
    rng = np.random.default_rng(103)  # own stream: independent of test order
    C, Y = rng.standard_normal((3, 2, 1)), rng.standard_normal((3, 1))
    a = mc_dropout_loss(C, Y, 0.4, n_draws=100, seed=7)
    b = mc_dropout_loss(C, Y, 0.4, n_draws=100, seed=7)
    assert a == b
    z = mc_dropout_loss(C, Y, 0.0, n_draws=10, seed=7)
    # p = 0: every sample is the plain loss; the SE is zero up to the rounding of the mean
    assert z.se <= 1e-14 * z.mean
    assert z.mean == pytest.approx(expected_dropout_loss(C, Y, 0.0).plain, rel=1e-14)


def test_mc_and_expected_reject_bad_shapes():
    with pytest.raises(ValueError, match="Y must have shape"):
        expected_dropout_loss(np.ones((2, 3, 1)), np.ones((3, 1)), 0.5)
    with pytest.raises(ValueError, match="C must be 3-D"):
        mc_dropout_loss(np.ones((2, 3)), np.ones((2, 1)), 0.5, n_draws=10, seed=0)
    with pytest.raises(ValueError, match="n_draws must be >= 2"):
        mc_dropout_loss(np.ones((2, 3, 1)), np.ones((2, 1)), 0.5, n_draws=1, seed=0)
    with pytest.raises(TypeError, match="seed must be"):
        mc_dropout_loss(np.ones((2, 3, 1)), np.ones((2, 1)), 0.5, n_draws=10, seed=None)
    with pytest.raises(ValueError, match="A must have shape"):
        sensing_contributions(np.ones((2, 1)), np.ones((3, 1)), np.ones((4, 3, 2)))


def test_input_dropout_regularizer_is_diagonal_ridge():
    rng = np.random.default_rng(104)  # own stream: independent of test order
    X = rng.standard_normal((30, 4)) @ np.array(
        [[1, 0.8, 0, 0], [0, 1, 0.5, 0], [0, 0, 1, 0], [0, 0, 0, 2.0]]
    )
    y = rng.standard_normal(30)
    u = rng.standard_normal(4)
    p = 0.4
    lam = dropout_lambda(p)
    dec = expected_dropout_loss(input_dropout_contributions(X, u), y[:, None], p)
    C_hat = X.T @ X / 30
    assert dec.regularizer == pytest.approx(lam * u @ np.diag(np.diag(C_hat)) @ u, rel=1e-12)
    # the minimizer: gradient of the expected loss vanishes there, and it is not rescaled OLS
    w = input_dropout_ridge(X, y, p)
    grad = -2 / 30 * X.T @ (y - X @ w) + 2 * lam * np.diag(C_hat) * w
    np.testing.assert_allclose(grad, 0, atol=1e-12)
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.linalg.norm(w - ols / (1 + lam)) > 1e-2 * np.linalg.norm(w)
    # for orthogonal features (X^T X diagonal, any scales) the two coincide
    Q, _ = np.linalg.qr(rng.standard_normal((30, 4)))
    Q = Q * np.array([1.0, 0.5, 2.0, 3.0])
    np.testing.assert_allclose(input_dropout_ridge(Q, y, p),
                               np.linalg.lstsq(Q, y, rcond=None)[0] / (1 + lam), rtol=1e-10)
    with pytest.raises(ValueError, match="singular"):
        input_dropout_ridge(np.zeros((3, 2)), np.ones(3), 0.5)


def test_top_layer_and_relu_path():
    rng = np.random.default_rng(105)  # own stream: independent of test order
    W1, W2 = rng.standard_normal((5, 3)), rng.standard_normal((2, 5))
    X = rng.standard_normal((200000, 3))
    H = np.maximum(X @ W1.T, 0)
    C = top_layer_contributions(W2, H[:50])
    np.testing.assert_allclose(C.sum(axis=1), H[:50] @ W2.T, rtol=1e-12)
    p = 0.25
    per = np.sum(W2**2, axis=0) * H**2 * dropout_lambda(p)
    vals = per.sum(axis=1)
    se = vals.std(ddof=1) / np.sqrt(vals.size)
    assert abs(vals.mean() - relu_path_regularizer(W1, W2, p)) < 4 * se
    with pytest.raises(ValueError, match="must agree"):
        top_layer_contributions(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="W2 must have"):
        relu_path_regularizer(np.ones((3, 2)), np.ones((2, 4)), 0.5)


def test_completion_regularizer_by_enumeration():
    rng = np.random.default_rng(106)  # own stream: independent of test order
    U, V = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    pi_r = rng.random(4) + 0.1
    pi_c = rng.random(5) + 0.1
    pi_r, pi_c = pi_r / pi_r.sum(), pi_c / pi_c.sum()
    p = 0.5
    # E over the sampled entry (a, b) of lam * sum_j (U[a, j] V[b, j])^2, summed exactly
    exact = sum(
        pi_r[a] * pi_c[b] * np.sum((U[a] * V[b]) ** 2) for a in range(4) for b in range(5)
    )
    assert completion_regularizer(U, V, pi_r, pi_c, p) == pytest.approx(exact, rel=1e-12)
    with pytest.raises(ValueError, match="probability vector"):
        completion_regularizer(U, V, np.ones(4), pi_c, p)


# -- induced regularizer and equalization ------------------------------------------------------


@given(st.integers(1, 7), st.integers(0, 10**6))
@settings(max_examples=40, deadline=None)
def test_equalizing_rotation(d, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    G = A @ A.T
    Q = equalizing_rotation(G)
    np.testing.assert_allclose(Q.T @ Q, np.eye(d), atol=1e-12)
    np.testing.assert_allclose(np.diag(Q.T @ G @ Q), np.trace(G) / d, atol=1e-10 * np.trace(G))


def test_equalizing_rotation_rejects_nonsymmetric():
    with pytest.raises(ValueError, match="symmetric"):
        equalizing_rotation(np.array([[1.0, 2.0], [0.0, 1.0]]))


@pytest.mark.parametrize("weighted", [False, True])
def test_induced_regularizer_lower_bound_and_attained(weighted):
    rng = np.random.default_rng(107)  # own stream: independent of test order
    M = rng.standard_normal((4, 2)) @ rng.standard_normal((2, 5))
    r = 4
    pi_r = pi_c = None
    if weighted:
        pi_r = rng.random(4) + 0.2
        pi_c = rng.random(5) + 0.2
        pi_r, pi_c = pi_r / pi_r.sum(), pi_c / pi_c.sum()
    wm = np.ones(4) if pi_r is None else pi_r
    wn = np.ones(5) if pi_c is None else pi_c

    def R(U, V):
        return np.sum((wm @ U**2) * (wn @ V**2))

    theta = induced_regularizer(M, r, pi_r=pi_r, pi_c=pi_c)
    U, V = equalized_factorization(M, r, pi_r=pi_r, pi_c=pi_c)
    np.testing.assert_allclose(U @ V.T, M, atol=1e-12)
    assert R(U, V) == pytest.approx(theta, rel=1e-10)
    Uw, Vw = np.sqrt(wm)[:, None] * U, np.sqrt(wn)[:, None] * V
    np.testing.assert_allclose(column_products(Uw, Vw), np.sqrt(theta / r), rtol=1e-10)
    # any other factorization U A, V A^{-T} is no better (Cauchy-Schwarz + triangle inequality)
    for _ in range(50):
        A = rng.standard_normal((r, r))
        assert R(U @ A, V @ np.linalg.inv(A).T) >= theta * (1 - 1e-10)
    with pytest.raises(ValueError, match="smaller than rank"):
        equalized_factorization(M, 1)


def test_nuclear_norm():
    assert nuclear_norm(np.diag([3.0, -2.0])) == pytest.approx(5.0)


def test_literal_theorem_counterexample():
    """For U = I, V = [[1, 0], [1, 1]] no rotation equalizes the column products at
    ||U V^T||_* / 2 (the unbalanced statement is false); rigorous via a Lipschitz bound."""
    U = np.eye(2)
    V = np.array([[1.0, 0.0], [1.0, 1.0]])
    eq = equalization_gap_2d(U, V)
    gap, bound = eq.gap, eq.certified_lower_bound
    assert bound > 0.1 and gap.min() == pytest.approx(0.107, abs=1e-3)
    # the balanced factorization of the same product can be equalized exactly
    Ub, Vb = equalized_factorization(U @ V.T, 2)
    gap_b = equalization_gap_2d(Ub, Vb, n_grid=11).gap
    assert gap_b[0] < 1e-12  # theta = 0: Ub, Vb themselves
    with pytest.raises(ValueError, match="exactly 2 columns"):
        equalization_gap_2d(np.ones((2, 3)), np.ones((2, 3)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equalization_gap_certificate_is_sound(seed):
    """The certified bound from a coarse grid never exceeds the minimum on a fine grid (it would
    if the Lipschitz constant 2 ||U||_2 ||V||_2 were too small)."""
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    bound = equalization_gap_2d(U, V, n_grid=41).certified_lower_bound
    fine = equalization_gap_2d(U, V, n_grid=400001).gap
    assert bound <= fine.min()
    # and it is not vacuous: at 41 points it is within L * h of the true minimum
    L = 2 * np.linalg.norm(U, 2) * np.linalg.norm(V, 2)
    assert fine.min() - bound <= L * np.pi / 40 + 1e-12


# -- closed-form optimum -----------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.1, 0.4, 0.7])
@pytest.mark.parametrize("m", [1, 3, 5])
def test_dropout_optimum_matches_numerical_minimum(p, m):
    """L-BFGS on the explicit objective (no formula for the optimum inside) reaches the closed
    form. This is also the argument behind the chapter's check (values to 1e-10, products to
    1e-6): L-BFGS with gtol 1e-13 ends ~1e-8 from the minimizer, the value gap is quadratic in
    that distance (~1e-16), so 1e-10 and 1e-6 leave a factor ~50-1e6 for other BLAS and
    stopping points, while a wrong closed form (lam instead of lam/m in the penalty of the
    product) is off by more than 1e-2, as checked at the end."""
    M = _matrix([1.0, 0.8, 0.5, 0.3, 0.1])
    opt = dropout_optimum(M, m, p)
    fit = minimize_explicit_objective(M, m, p, seed=0)
    U, V, val = fit.U, fit.V, fit.value
    if p >= 0.4 and m > 1:  # the wrong constant: shrink with lam instead of lam / m
        s = np.linalg.svd(M, compute_uv=False)
        x_wrong = _shrink(s, dropout_lambda(p), m)[0]
        wrong = np.sum((s - x_wrong) ** 2) + dropout_lambda(p) / m * x_wrong.sum() ** 2
        assert wrong - opt.value > 1e-2
    assert val == pytest.approx(opt.value, rel=1e-8, abs=1e-12)
    assert explicit_objective(U, V, M, p) == pytest.approx(val, rel=1e-10)
    np.testing.assert_allclose(U @ V.T, opt.product, atol=1e-5)
    assert np.linalg.matrix_rank(opt.product, tol=1e-9) == opt.q
    if p > 0 and opt.q > 1:  # equalized column products at the optimum
        cp = column_products(U, V)
        np.testing.assert_allclose(cp, cp.mean(), rtol=1e-3)


def test_dropout_optimum_tied_autoencoder():
    rng = np.random.default_rng(108)  # own stream: independent of test order
    W, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    M = (W * [1.0, 0.7, 0.4, 0.2, 0.0]) @ W.T
    for p, r in [(0.3, 2), (0.6, 4)]:
        opt = dropout_optimum(M, r, p)
        fit = minimize_explicit_objective(M, r, p, seed=1, tied=True)
        U, val = fit.U, fit.value
        assert val == pytest.approx(opt.value, rel=1e-8)
        np.testing.assert_allclose(U @ U.T, opt.product, atol=1e-5)
        norms = np.linalg.norm(U, axis=0)
        np.testing.assert_allclose(norms, norms.mean(), rtol=1e-3)


def _completion_value(U, V, M, mask, p, pi_r, pi_c):
    R = np.where(mask, M - U @ V.T, 0.0)
    return np.sum(R**2) / mask.sum() + completion_regularizer(U, V, pi_r, pi_c, p)


def test_minimize_completion_objective_fully_observed_is_the_closed_form():
    # all entries observed: the default pi_r, pi_c are uniform and n * F is the explicit objective
    M = _matrix([1.0, 0.8, 0.5, 0.3, 0.1])
    mask = np.ones(M.shape, dtype=bool)
    rng = np.random.default_rng(109)
    for p, r in [(0.3, 2), (0.6, 4)]:
        opt = dropout_optimum(M, r, p)
        U0, V0 = 0.3 * rng.standard_normal((5, r)), 0.3 * rng.standard_normal((5, r))
        fit = minimize_completion_objective(M, mask, p, U0, V0)
        U, V, val = fit.U, fit.V, fit.value
        assert val * M.size == pytest.approx(opt.value, rel=1e-8)
        np.testing.assert_allclose(U @ V.T, opt.product, atol=1e-5)


def test_minimize_completion_objective_partial_mask():
    rng = np.random.default_rng(110)
    M = rng.standard_normal((5, 1)) @ rng.standard_normal((1, 4))
    mask = rng.random(M.shape) < 0.6
    mask[0, 0] = True
    pi_r, pi_c = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(4))
    U0, V0 = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    p = 0.4
    fit = minimize_completion_objective(M, mask, p, U0, V0, pi_r=pi_r, pi_c=pi_c)
    U, V, val = fit.U, fit.V, fit.value
    assert val == pytest.approx(_completion_value(U, V, M, mask, p, pi_r, pi_c), rel=1e-12)
    assert val < _completion_value(U0, V0, M, mask, p, pi_r, pi_c)
    # a stationary point of F, by central differences independent of the analytic gradient
    # (error ~h^2 + eps / h ~ 1e-10 at h = 1e-5; a wrong gradient stops L-BFGS at |grad| >~ 1e-3)
    z, h = np.concatenate([U.ravel(), V.ravel()]), 1e-5
    def F(z):
        return _completion_value(z[:15].reshape(5, 3), z[15:].reshape(4, 3), M, mask, p, pi_r, pi_c)
    grad = [(F(z + h * e) - F(z - h * e)) / (2 * h) for e in np.eye(z.size)]
    assert np.abs(grad).max() < 1e-7
    # entries outside the mask are never read
    M_other = np.where(mask, M, 123.0)
    fit = minimize_completion_objective(M_other, mask, p, U0, V0, pi_r=pi_r, pi_c=pi_c)
    U2, V2, val2 = fit.U, fit.V, fit.value
    assert val2 == val and np.array_equal(U2, U) and np.array_equal(V2, V)
    # default weights: the row and column frequencies of the observed entries
    val_d = minimize_completion_objective(M, mask, p, U0, V0).value
    n = mask.sum()
    fit = minimize_completion_objective(M, mask, p, U0, V0, pi_r=mask.sum(1) / n,
                                                pi_c=mask.sum(0) / n)
    val_w = fit.value
    assert val_d == val_w


def test_minimize_completion_objective_validation():
    M, U0, V0 = np.ones((3, 2)), np.ones((3, 2)), np.ones((2, 2))
    mask = np.ones((3, 2), dtype=bool)
    with pytest.raises(ValueError, match="mask"):
        minimize_completion_objective(M, mask.astype(float), 0.5, U0, V0)
    with pytest.raises(ValueError, match="mask"):
        minimize_completion_objective(M, np.ones((2, 3), dtype=bool), 0.5, U0, V0)
    with pytest.raises(ValueError, match="at least one"):
        minimize_completion_objective(M, np.zeros((3, 2), dtype=bool), 0.5, U0, V0)
    with pytest.raises(ValueError, match="rows"):
        minimize_completion_objective(M, mask, 0.5, np.ones((2, 2)), V0)
    with pytest.raises(ValueError, match="same number of columns"):
        minimize_completion_objective(M, mask, 0.5, U0, np.ones((2, 3)))
    with pytest.raises(ValueError, match="p"):
        minimize_completion_objective(M, mask, 1.0, U0, V0)
    with pytest.raises(ValueError, match="pi_r"):
        minimize_completion_objective(M, mask, 0.5, U0, V0, pi_r=[0.5, 0.5, 0.5])


@given(st.lists(st.floats(0.0, 5.0), min_size=1, max_size=7), st.floats(0.0, 0.95))
@settings(max_examples=60, deadline=None)
def test_shrinkage_never_increases_with_width(s, p):
    M = np.diag(s)
    alphas = [dropout_optimum(M, r, p).alpha for r in range(1, 10)]
    assert np.all(np.diff(alphas) <= 1e-12 * (1 + max(s)))  # proven monotone; rounding slack
    # alpha is the fixed point alpha = (lam / r) * sum of the kept values (s_i - alpha)
    for r, a in zip(range(1, 10), alphas, strict=True):
        opt = dropout_optimum(M, r, p)
        assert a == pytest.approx(opt.lam / r * opt.singular_values.sum(), rel=1e-9, abs=1e-12)


def test_tied_local_minima_are_equalized():
    """Every L-BFGS run (one start each) ends with equal column norms (lemma do-lem-local)."""
    # own generator: the test must not depend on which other tests ran before it
    W, _ = np.linalg.qr(np.random.default_rng(11).standard_normal((5, 5)))
    M = (W * [1.0, 0.7, 0.4, 0.2, 0.1]) @ W.T
    for seed in range(5):
        U = minimize_explicit_objective(M, 3, 0.5, seed=seed, tied=True, n_restarts=1).U
        norms = np.linalg.norm(U, axis=0)
        np.testing.assert_allclose(norms, norms.mean(), rtol=1e-5)
    # without dropout nothing equalizes: the minimizers U = W_3 diag(1, .7, .4)^(1/2) Q (any
    # orthogonal Q) have generically unequal column norms; over five starts some differ by > 1%
    spreads = []
    for seed in range(5):
        U0 = minimize_explicit_objective(M, 3, 0.0, seed=seed, tied=True, n_restarts=1).U
        norms0 = np.linalg.norm(U0, axis=0)
        spreads.append(norms0.max() / norms0.min() - 1)
    assert max(spreads) > 1e-2


def test_tied_gradient_matches_finite_differences():
    rng = np.random.default_rng(12)
    M = rng.standard_normal((4, 4))  # not symmetric: the general formula is used
    U = rng.standard_normal((4, 3))
    p = 0.3
    g = tied_gradient(U, M, p)
    eps = 1e-6
    fd = np.zeros_like(U)
    for idx in np.ndindex(U.shape):
        E = np.zeros_like(U)
        E[idx] = eps
        fd[idx] = (explicit_objective(U + E, U + E, M, p)
                   - explicit_objective(U - E, U - E, M, p)) / (2 * eps)
    # central differences of a quartic: error ~ eps^2 * (third derivative) ~ 1e-10
    np.testing.assert_allclose(g, fd, atol=1e-7)
    with pytest.raises(ValueError, match="M must have shape"):
        tied_gradient(U, np.ones((3, 3)), p)


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_non_equalized_critical_point_is_strict_saddle(p):
    """Lemma do-lem-local: critical, u_1 orthogonal to u_2, unequal norms; the rotation of the two
    columns has curvature -4 lam (||u_1||^2 - ||u_2||^2)^2 and lowers the objective.

    The chapter's tolerances at its critical point: the central second difference with h = 1e-3
    has truncation error ~h^2 |g^(4)| / 12 ~ 1e-7 and rounding ~1e-16 / h^2 = 1e-10, so 1e-5 is
    well above both and far below |g''(0)| ~ 0.04; the tangent's Rayleigh quotient bounds the
    smallest Hessian eigenvalue, and since the gradient is cubic the central-difference Hessian
    (eps = 1e-6) is off by ~eps^2 = 1e-12, so 1e-8 is rounding slack."""
    W, _ = np.linalg.qr(np.random.default_rng(13).standard_normal((5, 5)))
    m = np.array([1.0, 0.7, 0.4, 0.2, 0.1])
    M = (W * m) @ W.T
    lam = dropout_lambda(p)
    U = W[:, [0, 2]] * np.sqrt(m[[0, 2]] / (1 + lam))
    assert np.linalg.norm(tied_gradient(U, M, p)) < 1e-12
    D = np.sum(U[:, 0] ** 2) - np.sum(U[:, 1] ** 2)

    def g(t):
        Q = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        return explicit_objective(U @ Q, U @ Q, M, p)

    h = 1e-3
    curv = (g(h) - 2 * g(0.0) + g(-h)) / h**2
    assert curv == pytest.approx(-4 * lam * D**2, rel=1e-4)  # O(h^2) truncation error
    assert g(0.2) < g(0.0) and g(-0.2) < g(0.0)
    # contrast: at the (equalized) global optimum the same rotation does not lower the objective
    fit = minimize_explicit_objective(M, 2, p, seed=0, tied=True)
    Uo, val = fit.U, fit.value
    for t in (-0.2, 0.2):
        Q = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        assert explicit_objective(Uo @ Q, Uo @ Q, M, p) >= val - 1e-12


def test_dropout_optimum_spot_values():
    """Eigenvalues (5, 3, 1, 0.5, 0.2, 0), width 3: values computed by hand from the formula."""
    M = np.diag([5, 3, 1, 0.5, 0.2, 0.0])
    for lam, q, alpha in [(0.1, 3, 0.3 * 3 / 3.3), (1.0, 2, 1.6), (3.0, 2, 8 / 3)]:
        opt = dropout_optimum(M, 3, lam / (1 + lam))
        assert opt.q == q
        assert opt.alpha == pytest.approx(alpha, rel=1e-12)


def test_dropout_optimum_limits():
    M = _matrix([1.0, 0.5, 0.2])
    opt = dropout_optimum(M, 3, 0.0)
    np.testing.assert_allclose(opt.product, M, atol=1e-12)
    assert dropout_optimum(np.zeros((3, 3)), 2, 0.5).q == 0
    # large p: rank one, shrinkage -> s_1 (the product vanishes as p -> 1)
    big = dropout_optimum(M, 3, 0.999)
    assert big.q == 1 and big.singular_values[0] < 0.01


# -- dropout SGD -------------------------------------------------------------------------------


def test_train_dropout_sgd_reaches_closed_form():
    """The tolerances of the chapter's dropout-SGD checks. Resolution 0.02 = 2 % of s_1: the
    shrinkage alpha is >= 0.14 for every p > 0 on the chapter's spectrum, so 0.02 separates the
    closed form from "no regularization" and from a wrong constant; what remains is SGD noise
    (averaged iterates) and the slow equalization at small p. Equal column products to 5 %:
    the SGD noise on the averaged factors is 1-2 %, while at p = 0 the products spread by about
    50 %, so the bound separates the two regimes; equalization slows down as p -> 0 (its rate
    scales with lam), so a shorter run or a smaller p would need a looser bound. Drift of
    ||u_j||^2 - ||v_j||^2 below 0.05: the flow conserves it and SGD's discretization moves it by
    O(eta^2) per step, small against the squared column norms (>= 0.15 there)."""
    M = _matrix([1.0, 0.8, 0.6, 0.4, 0.25, 0.15])
    for p, r in [(0.0, 3), (0.4, 4), (0.8, 3)]:
        res = train_dropout_sgd(M, r, p, seed=3, n_steps=3000, batch=16)
        assert res.diverged_at is None
        sv = np.linalg.svd(res.product, compute_uv=False)
        opt = dropout_optimum(M, r, p)
        # 0.02 * s_1: a fifth of the smallest shrinkage alpha > 0 on this grid (~0.1)
        assert np.max(np.abs(sv - opt.singular_values)) < 0.02
        assert res.objective[-1] < res.objective[0]
        cp = column_products(res.U, res.V)
        drift = (np.sum(res.U_last**2, 0) - np.sum(res.V_last**2, 0)
                 - np.sum(res.U_init**2, 0) + np.sum(res.V_init**2, 0))
        assert np.abs(drift).max() < 0.05
        if p > 0:
            assert opt.alpha > 0.1  # the resolution 0.02 is far below the effect it resolves
            assert cp.max() / cp.min() - 1 < 0.05
        else:
            assert cp.max() / cp.min() - 1 > 0.1  # without dropout nothing equalizes


def test_train_dropout_sgd_tied_autoencoder():
    W, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((6, 6)))
    M = (W * [1.0, 0.8, 0.6, 0.4, 0.25, 0.15]) @ W.T
    for p, r in [(0.0, 3), (0.4, 4), (0.8, 4)]:
        res = train_dropout_sgd(M, r, p, seed=2, n_steps=2000, batch=16, tied=True)
        assert res.diverged_at is None and res.V is res.U
        opt = dropout_optimum(M, r, p)
        # the whole matrix U U^T, to 0.02 * s_1 as in the untied test
        assert np.linalg.norm(res.product - opt.product) < 0.02
        np.testing.assert_allclose(res.product, res.product.T, atol=1e-12)
        if p > 0:  # equalized column norms (lemma do-lem-local), to SGD noise
            norms = np.linalg.norm(res.U, axis=0)
            assert norms.max() / norms.min() - 1 < 0.05
    with pytest.raises(ValueError, match="square M"):
        train_dropout_sgd(np.ones((2, 3)), 2, 0.5, seed=1, tied=True)
    with pytest.raises(TypeError, match="tied must be"):
        train_dropout_sgd(M, 2, 0.5, seed=1, tied="yes")
    # accepted untied, refused tied (U enters twice: the bound is halved)
    eta_ = 0.4 / (np.linalg.norm(M, 2) * (1 + dropout_lambda(0.5)))
    assert train_dropout_sgd(M, 2, 0.5, seed=1, n_steps=5, eta=eta_).diverged_at is None
    with pytest.raises(ValueError, match=r"eta = .* is too large"):
        train_dropout_sgd(M, 2, 0.5, seed=1, n_steps=5, eta=eta_, tied=True)


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (lambda: dropout_optimum(np.eye(3), 2, 1.0), ValueError, "p must lie in"),
        (lambda: dropout_optimum(np.eye(3), 0, 0.5), ValueError, "m must be >= 1"),
        (lambda: dropout_optimum(np.ones(3), 2, 0.5), ValueError, "M must be a 2-D"),
        (lambda: induced_regularizer(np.eye(3), 2.5), TypeError, "m must be an integer"),
        (lambda: dropout_kernel(np.eye(3), -0.1), ValueError, "p must lie in"),
        (lambda: mc_dropout_kernel(np.ones((2, 3)), 0.5, n_draws=1, seed=0), ValueError,
         "n_draws must be >= 2"),
        (lambda: input_dropout_ridge(np.ones((3, 2)), np.ones(4), 0.5), ValueError, "y must"),
        (lambda: explicit_objective(np.ones((2, 1)), np.ones((3, 1)), np.ones((3, 2)), 0.5),
         ValueError, "M must have shape"),
        (lambda: minimize_explicit_objective(np.ones((2, 3)), 2, 0.5, seed=0, tied=True),
         ValueError, "square M"),
    ],
)
def test_public_functions_validate(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_train_dropout_sgd_divergence_policy():
    """A huge initialization (the step-size bound assumes factors of the size of M) makes the
    cubic gradient overflow: by default a DivergenceError; with on_divergence="stop" the run
    reports the step and returns the last factors with a finite objective (no NaN)."""
    M = np.diag([1.0, 0.5])
    with pytest.raises(DivergenceError, match="explicit dropout objective"):
        train_dropout_sgd(M, 2, 0.5, seed=1, n_steps=50, init_scale=1e4)
    res = train_dropout_sgd(M, 2, 0.5, seed=1, n_steps=50, init_scale=1e4, on_divergence="stop")
    assert res.diverged_at is not None and 0 < res.diverged_at <= 50
    assert np.all(res.steps < res.diverged_at) and np.all(np.isfinite(res.objective))
    assert np.all(np.isfinite(res.U_last)) and np.all(np.isfinite(res.product))
    with pytest.raises(ValueError, match="on_divergence must be one of"):
        train_dropout_sgd(M, 2, 0.5, seed=1, n_steps=5, on_divergence="ignore")


def test_train_dropout_sgd_is_seeded_and_validates():
    M = _matrix([1.0, 0.5])
    a = train_dropout_sgd(M, 2, 0.5, seed=1, n_steps=50)
    b = train_dropout_sgd(M, 2, 0.5, seed=1, n_steps=50)
    np.testing.assert_array_equal(a.product, b.product)
    with pytest.raises(ValueError, match=r"eta = .* is too large"):
        train_dropout_sgd(M, 2, 0.5, seed=1, eta=1.0)
    with pytest.raises(ValueError, match="p must lie"):
        train_dropout_sgd(M, 2, 1.0, seed=1)
    with pytest.raises(TypeError, match="m must be an integer"):
        train_dropout_sgd(M, 2.0, 0.5, seed=1)


# -- kernel ------------------------------------------------------------------------------------


def test_dropout_kernel_matches_mc():
    """The MC kernel check: 4.5 SE per distinct entry (symmetric kernel: n(n+1)/2 of them) has
    a two-sided normal tail of 6.8e-6, so the union bound over the chapter's 15 distinct entries
    gives a false-alarm probability of 1e-4."""
    rng = np.random.default_rng(109)  # own stream: independent of test order
    Phi = rng.standard_normal((4, 50))
    K = Phi @ Phi.T / 50
    p = 0.3
    Kd = dropout_kernel(K, p)
    np.testing.assert_allclose(np.diag(Kd), np.diag(K) / 0.7)
    np.testing.assert_allclose(Kd - np.diag(np.diag(Kd)), K - np.diag(np.diag(K)))
    est = mc_dropout_kernel(Phi, p, n_draws=4000, seed=0)
    mean, se = est.mean, est.se
    # a symmetric 4 x 4 kernel has 10 distinct entries; 4.5 SE each: false alarms < 1e-4
    iu = np.triu_indices(4)
    assert np.all(np.abs(mean - Kd)[iu] < 4.5 * se[iu] + 1e-15)
    with pytest.raises(ValueError, match="square"):
        dropout_kernel(np.ones((2, 3)), 0.5)


# -- matrix completion: the expected dropout objective of a sample -----------------------------


def _pattern6():
    """The 6 x 6 pattern with four observed entries per row and column (connected)."""
    mask = np.zeros((6, 6), dtype=bool)
    for a in range(6):
        for b in range(6):
            mask[a, b] = (a + 2 * b) % 3 != 0
    return mask


def test_completion_dropout_objective_is_the_master_identity():
    """Each sampled entry is one example with indicator A_i = e_a e_b^T: the objective equals
    expected_dropout_loss of the sensing contributions, repeats included, and a Monte-Carlo
    average over masks; the population regularizer is a different number."""
    rng = np.random.default_rng(120)
    U, V = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    E = np.stack([rng.integers(0, 4, 25), rng.integers(0, 5, 25)], axis=1)
    E[1] = E[0]  # a repeated entry
    y = rng.standard_normal(25)
    A = np.zeros((25, 4, 5))
    A[np.arange(25), E[:, 0], E[:, 1]] = 1.0
    p = 0.4
    got = completion_dropout_objective(U, V, E, y, p)
    want = expected_dropout_loss(sensing_contributions(U, V, A), y[:, None], p)
    assert got.plain == pytest.approx(want.plain, rel=1e-12)
    assert got.regularizer == pytest.approx(want.regularizer, rel=1e-12)
    est = mc_dropout_loss(sensing_contributions(U, V, A), y[:, None], p, n_draws=20000, seed=3)
    assert abs(est.mean - got.plain - got.regularizer) < 4 * est.se  # 4 SE: ~6e-5 false alarms
    # for this fixed sample the population (pi_r x pi_c) regularizer is a different number
    pop = completion_regularizer(U, V, np.full(4, 0.25), np.full(5, 0.2), p)
    assert abs(pop - got.regularizer) > 10 * est.se


@pytest.mark.parametrize(
    ("entries", "values", "err", "match"),
    [
        (np.array([[0, 0], [1, 1]], dtype=float), [1.0, 2.0], TypeError, "integer indices"),
        (np.array([[0, 0, 0]]), [1.0], ValueError, r"shape \(n, 2\)"),
        (np.array([[0, 5]]), [1.0], ValueError, "valid"),
        (np.array([[0, 0], [1, 1]]), [1.0], ValueError, "values must"),
        ("ab", [1.0], TypeError, "entries must"),
    ],
)
def test_completion_dropout_objective_rejects_bad_entries(entries, values, err, match):
    with pytest.raises(err, match=match):
        completion_dropout_objective(np.ones((2, 1)), np.ones((5, 1)), entries, values, 0.5)


def test_rank_one_dropout_completion_is_the_global_minimum():
    """Lower bound attained: the equalized rank-one factorization has the closed-form value on
    any sample, L-BFGS from two starts ends there, and the product is m M / (m + lam) also off
    the sample. The chapter's tolerances (product 1e-6, value 1e-9 relative): L-BFGS with gtol
    1e-13 stops ~1e-8 from a minimizer and the value error is quadratic in that distance, while
    a wrong closed form (the shrinkage 1/(1 + lam) instead of m/(m + lam)) is off by > 0.1."""
    rng = np.random.default_rng(121)
    M = np.outer(rng.standard_normal(6), rng.standard_normal(6))
    E = np.argwhere(_pattern6())
    p, m = 0.5, 4
    lam = dropout_lambda(p)
    opt = rank_one_dropout_completion(M, E, p, m)
    X, value = opt.product, opt.value
    np.testing.assert_allclose(X, m / (m + lam) * M, rtol=1e-14)
    assert np.abs(X - M / (1 + lam)).max() > 0.1  # the wrong shrinkage is far away
    W, s, Yt = np.linalg.svd(M)
    U = np.outer(W[:, 0], np.ones(m)) * np.sqrt(s[0] / (m + lam))
    V = np.outer(Yt[0], np.ones(m)) * np.sqrt(s[0] / (m + lam))
    at = completion_dropout_objective(U, V, E, M[E[:, 0], E[:, 1]], p)
    assert at.plain + at.regularizer == pytest.approx(value, rel=1e-12)
    for seed in (0, 1):
        g = np.random.default_rng(seed)
        U0, V0 = g.standard_normal((6, m)), g.standard_normal((6, m))
        fit = minimize_dropout_completion(E, M[E[:, 0], E[:, 1]], p, U0, V0)
        Uo, Vo, val = fit.U, fit.V, fit.value
        assert val == pytest.approx(value, rel=1e-9)  # L-BFGS stops ~1e-8 from the minimizer
        np.testing.assert_allclose(Uo @ Vo.T, X, atol=1e-6)
        assert val < completion_dropout_objective(U0, V0, E, M[E[:, 0], E[:, 1]], p).plain


def test_rank_one_dropout_completion_validates():
    M = np.outer([1.0, 2.0, 3.0], [1.0, -1.0])
    full = np.argwhere(np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="rank one"):
        rank_one_dropout_completion(np.eye(3)[:, :2], full, 0.5, 2)
    with pytest.raises(ValueError, match="connected"):
        rank_one_dropout_completion(M, np.array([[0, 0], [1, 1]]), 0.5, 2)
    with pytest.raises(ValueError, match="non-zero"):
        rank_one_dropout_completion(np.outer([0.0, 2.0, 3.0], [1.0, -1.0]), full, 0.5, 2)
    with pytest.raises(TypeError, match="m must be an integer"):
        rank_one_dropout_completion(M, full, 0.5, 2.5)


def test_weighted_trace_norm_completion_matches_factorized_objective():
    """The convex solver and L-BFGS on F_pop (width >= rank) reach the same value and product;
    with everything observed and uniform weights it is the shrink-and-threshold closed form."""
    rng = np.random.default_rng(122)
    M = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 4))
    mask = rng.random(M.shape) < 0.7
    mask[:, 0] = mask[0, :] = True
    pi_r, pi_c = rng.dirichlet(np.ones(5)) * 0.5 + 0.1, rng.dirichlet(np.ones(4)) * 0.6 + 0.1
    pi_r, pi_c = pi_r / pi_r.sum(), pi_c / pi_c.sum()
    p, m = 0.4, 4
    fit = minimize_weighted_trace_norm_completion(M, mask, p, m, pi_r=pi_r, pi_c=pi_c)
    X, val = fit.X, fit.value
    fit = minimize_completion_objective(M, mask, p, rng.standard_normal((5, m)),
                                                rng.standard_normal((4, m)), pi_r=pi_r, pi_c=pi_c)
    U, V, val_f = fit.U, fit.V, fit.value
    assert val == pytest.approx(val_f, rel=1e-9)
    np.testing.assert_allclose(X, U @ V.T, atol=1e-6)
    full = np.ones((5, 4), dtype=bool)
    fit = minimize_weighted_trace_norm_completion(M, full, p, m)
    Xf, valf = fit.X, fit.value
    opt = dropout_optimum(M, m, p)
    np.testing.assert_allclose(Xf, opt.product, atol=1e-10)
    assert valf * M.size == pytest.approx(opt.value, rel=1e-10)
    with pytest.raises(ValueError, match="mask"):
        minimize_weighted_trace_norm_completion(M, mask.astype(int), p, m)
    with pytest.raises(ValueError, match="every row and column"):
        minimize_weighted_trace_norm_completion(M, np.eye(5, 4, dtype=bool), p, m)
    with pytest.raises(ValueError, match="p must lie"):
        minimize_weighted_trace_norm_completion(M, mask, 1.0, m)


def monotone_end_points(E, y, U0, V0):
    """The stronger-dropout lemma on projected-GD end points: as p grows the sample regularizer
    (without lam) falls and the training loss rises. The lemma is proven for global
    minimizers; the end points of enough projected steps are near-stationary, so the chapter
    compares them exactly (no slack), which can fail if the runs stop short."""
    tau, fit = [], []
    for p in (0.0, 0.4, 0.8):
        U, V = projected_dropout_completion(E, y, p, U0, V0, max_norm=1.0, eta=0.3, n_steps=2000)
        tau.append(completion_dropout_objective(U, V, E, y, 0.5).regularizer)
        fit.append(completion_dropout_objective(U, V, E, y, 0.0).plain)
    return bool(np.all(np.diff(tau) < 0) and np.all(np.diff(fit) > 0))


def test_projected_dropout_completion():
    rng = np.random.default_rng(123)
    M = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 6)) / 3
    E = np.stack([rng.integers(0, 6, 40), rng.integers(0, 6, 40)], axis=1)
    y = M[E[:, 0], E[:, 1]]
    U0, V0 = 0.3 * rng.standard_normal((6, 4)), 0.3 * rng.standard_normal((6, 4))
    U, V = projected_dropout_completion(E, y, 0.3, U0, V0, max_norm=0.2, eta=0.3, n_steps=500)
    assert np.all(np.sum(U**2, axis=1) <= 0.2 * (1 + 1e-12))
    assert np.all(np.sum(V**2, axis=1) <= 0.2 * (1 + 1e-12))

    def F(U, V):
        d = completion_dropout_objective(U, V, E, y, 0.3)
        return d.plain + d.regularizer

    assert F(U, V) < F(U0, V0)
    # a loose constraint changes nothing: one step is a plain gradient step, and the gradient
    # agrees with central differences of the objective (error ~ eps^2 * 4th derivative ~ 1e-10)
    U1, V1 = projected_dropout_completion(E, y, 0.3, U0, V0, max_norm=1e6, eta=0.3, n_steps=1)
    eps = 1e-6
    for A0, A1, is_u in ((U0, U1, True), (V0, V1, False)):
        fd = np.zeros_like(A0)
        for idx in np.ndindex(A0.shape):
            Ep = np.zeros_like(A0)
            Ep[idx] = eps
            if is_u:
                fd[idx] = (F(U0 + Ep, V0) - F(U0 - Ep, V0)) / (2 * eps)
            else:
                fd[idx] = (F(U0, V0 + Ep) - F(U0, V0 - Ep)) / (2 * eps)
        np.testing.assert_allclose((A0 - A1) / 0.3, fd, atol=1e-7)
    with pytest.raises(DivergenceError, match="diverged at step"):
        projected_dropout_completion(E, y, 0.3, 10 * U0, 10 * V0, max_norm=1e300, eta=1e3,
                                     n_steps=200)
    assert monotone_end_points(E, y, U0, V0)
    with pytest.raises(ValueError, match="max_norm"):
        projected_dropout_completion(E, y, 0.3, U0, V0, max_norm=-1.0, eta=0.3, n_steps=5)
    with pytest.raises(TypeError, match="n_steps"):
        projected_dropout_completion(E, y, 0.3, U0, V0, max_norm=1.0, eta=0.3, n_steps=2.5)


def test_completion_risk():
    M, X = np.arange(6.0).reshape(2, 3), np.zeros((2, 3))
    assert completion_risk(X, M) == pytest.approx(np.mean(M**2))
    assert completion_risk(X, M, [1e-12, 1 - 1e-12], [1 / 3] * 3) == pytest.approx(
        np.mean(M[1] ** 2), rel=1e-9)
    with pytest.raises(ValueError, match="shape of M"):
        completion_risk(np.zeros((3, 2)), M)


# -- deep linear networks ----------------------------------------------------------------------


def _deep_enumeration(Ws, M, p):
    widths = [W.shape[0] for W in Ws[:-1]]
    total = 0.0
    for bits in itertools.product([0, 1], repeat=sum(widths)):
        b = np.array(bits, float)
        prob = np.prod(np.where(b == 1, 1 - p, p))
        P, k = Ws[0], 0
        for W, w in zip(Ws[1:], widths, strict=True):
            P = W @ (b[k : k + w, None] / (1 - p) * P)
            k += w
        total += prob * np.sum((M - P) ** 2)
    return total


def _random_chain(rng, dims):
    return [rng.standard_normal((dims[i + 1], dims[i])) for i in range(len(dims) - 1)]


@pytest.mark.parametrize("dims", [(4, 3, 2), (4, 3, 2, 5), (2, 2, 3, 2, 1)])
def test_deep_linear_objective_equals_enumeration(dims):
    rng = np.random.default_rng(124)
    Ws = _random_chain(rng, dims)
    M = rng.standard_normal((dims[-1], dims[0]))
    for p in (0.0, 0.3, 0.7):
        assert deep_linear_dropout_objective(Ws, M, p) == pytest.approx(
            _deep_enumeration(Ws, M, p), rel=1e-12)
    # one hidden layer: the matrix-factorization penalty
    U, V = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    assert deep_linear_dropout_regularizer([V.T, U], 0.3) == pytest.approx(
        dropout_penalty(U, V, 0.3), rel=1e-12)


def test_deep_linear_gradient_matches_finite_differences():
    rng = np.random.default_rng(125)
    Ws = _random_chain(rng, (4, 3, 2, 5))
    M = rng.standard_normal((5, 4))
    lam = dropout_lambda(0.4)
    _, grads = _deep_value_grad(Ws, M, lam)
    eps = 1e-6
    for layer, W in enumerate(Ws):
        fd = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            Wp = [A.copy() for A in Ws]
            Wm = [A.copy() for A in Ws]
            Wp[layer][idx] += eps
            Wm[layer][idx] -= eps
            fd[idx] = (deep_linear_dropout_objective(Wp, M, 0.4)
                       - deep_linear_dropout_objective(Wm, M, 0.4)) / (2 * eps)
        # central differences of a degree-6 polynomial: error ~ eps^2 * (scale ~ 1e2) ~ 1e-10
        np.testing.assert_allclose(grads[layer], fd, atol=1e-6)


def test_mc_deep_linear_loss():
    rng = np.random.default_rng(126)
    Ws = _random_chain(rng, (4, 3, 3, 2))
    M = rng.standard_normal((2, 4))
    exact = deep_linear_dropout_objective(Ws, M, 0.5)
    est = mc_deep_linear_dropout_loss(Ws, M, 0.5, n_draws=40000, seed=0)
    assert abs(est.mean - exact) < 4 * est.se
    # power: keeping only the path-norm term (S = all layers) is rejected
    lam = dropout_lambda(0.5)
    W = Ws[2] @ Ws[1] @ Ws[0]
    path = sum((Ws[2][o, j] * Ws[1][j, k] * Ws[0][k, i]) ** 2
               for o in range(2) for j in range(3) for k in range(3) for i in range(4))
    assert abs(est.mean - (np.sum((M - W) ** 2) + lam**2 * path)) > 10 * est.se


@given(st.integers(0, 10**6), st.floats(0.05, 0.9))
@settings(max_examples=30, deadline=None)
def test_deep_regularizer_lower_bound(seed, p):
    """R >= zeta ||W||_*^2 for every factorization (Cauchy-Schwarz and the triangle inequality
    on every cut), tight for the equalized rank-one factors."""
    rng = np.random.default_rng(seed)
    widths = [int(w) for w in rng.integers(1, 5, size=int(rng.integers(1, 4)))]
    dims = [3, *widths, 2]
    Ws = _random_chain(rng, dims)
    zeta = deep_dropout_constant(widths, p)
    W = Ws[0]
    for A in Ws[1:]:
        W = A @ W
    assert deep_linear_dropout_regularizer(Ws, p) >= zeta * nuclear_norm(W) ** 2 * (1 - 1e-10)
    M1 = np.outer(rng.standard_normal(2), rng.standard_normal(3))
    We = equalized_deep_factors(M1, widths)
    P = We[0]
    for A in We[1:]:
        P = A @ P
    np.testing.assert_allclose(P, M1, atol=1e-12 * np.abs(M1).max())
    assert deep_linear_dropout_regularizer(We, p) == pytest.approx(
        zeta * nuclear_norm(M1) ** 2, rel=1e-10)


def test_deep_dropout_constant_and_validation():
    assert deep_dropout_constant([4], 0.5) == pytest.approx(0.25)
    assert deep_dropout_constant([2, 4], 0.5) == pytest.approx(1.5 * 1.25 - 1)
    with pytest.raises(TypeError, match="widths"):
        deep_dropout_constant(3, 0.5)
    with pytest.raises(ValueError, match=r"widths\[1\] must be >= 1"):
        deep_dropout_constant([2, 0], 0.5)
    with pytest.raises(ValueError, match="rank at most one"):
        equalized_deep_factors(np.eye(2), [3])
    with pytest.raises(ValueError, match="at least 2 factors"):
        deep_linear_dropout_regularizer([np.ones((2, 2))], 0.5)
    with pytest.raises(ValueError, match=r"Ws\[1\] must have 3 columns"):
        deep_linear_dropout_regularizer([np.ones((3, 2)), np.ones((2, 2))], 0.5)
    with pytest.raises(TypeError, match="list"):
        deep_linear_dropout_regularizer(np.ones((2, 2, 2)), 0.5)
    with pytest.raises(ValueError, match="M must have shape"):
        deep_linear_dropout_objective([np.ones((3, 2)), np.ones((1, 3))], np.ones((2, 2)), 0.5)


def test_deep_dropout_optimum_single_output_is_a_rescaling():
    """One output: every map is rank one, the bound is attained, the optimum is c / (1 + zeta)."""
    rng = np.random.default_rng(127)
    c = rng.standard_normal((1, 4))
    widths, p = [3, 2], 0.5
    zeta = deep_dropout_constant(widths, p)
    lb = deep_dropout_lower_bound(c, widths, p)
    X, bound, q = lb.product, lb.value, lb.rank
    assert q == 1
    np.testing.assert_allclose(X, c / (1 + zeta), rtol=1e-12)
    assert bound == pytest.approx(zeta / (1 + zeta) * np.sum(c**2), rel=1e-12)
    fit = minimize_deep_linear_dropout(c, widths, p, seed=0, n_restarts=2)
    Ws, val = fit.Ws, fit.value
    assert val == pytest.approx(bound, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(Ws[2] @ Ws[1] @ Ws[0], X, atol=1e-6)
    # and never below the bound (it is a lower bound), here for a rank-3 target
    M = _matrix([1.0, 0.6, 0.3])
    lb3 = deep_dropout_lower_bound(M, widths, 0.1)
    low, q3 = lb3.value, lb3.rank
    val3 = minimize_deep_linear_dropout(M, widths, 0.1, seed=0, n_restarts=1).value
    assert q3 >= 2 and val3 >= low * (1 - 1e-12)


# -- kernel regimes ----------------------------------------------------------------------------


def test_resampled_mask_readout_is_the_input_dropout_ridge():
    rng = np.random.default_rng(128)
    Phi, Phi_t = rng.standard_normal((6, 30)), rng.standard_normal((4, 30))
    y = rng.standard_normal(6)
    p = 0.3
    np.testing.assert_allclose(resampled_mask_readout(Phi, y, Phi_t, p),
                               Phi_t @ input_dropout_ridge(Phi, y, p), rtol=1e-9, atol=1e-12)
    # a dead feature (zero on every training point) gets weight zero, as in the ridge limit
    Phi0 = Phi.copy()
    Phi0[:, 0] = 0.0
    f0 = resampled_mask_readout(Phi0, y, Phi_t, p)
    np.testing.assert_allclose(f0, resampled_mask_readout(Phi0[:, 1:], y, Phi_t[:, 1:], p))
    with pytest.raises(ValueError, match="Phi_test must have 30 features"):
        resampled_mask_readout(Phi, y, Phi_t[:, :3], p)


def test_fixed_mask_readout_converges_to_per_example_ridge():
    """The per-example-ridge kernel regression is the wide limit of fixed masks: the error decays
    like m^(-1/2) (a factor ~4 from m = 500 to m = 8000; asserted: > 2)."""
    rng = np.random.default_rng(129)
    X, Xt = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    y = rng.standard_normal(5)
    p = 0.4
    errs = []
    for m in (500, 8000):
        Wf = rng.standard_normal((m, 3))
        Phi, Phi_t = np.maximum(X @ Wf.T, 0), np.maximum(Xt @ Wf.T, 0)
        K, Kx = Phi @ Phi.T / m, Phi_t @ Phi.T / m
        limit = fixed_mask_kernel_regression(K, Kx, y, p)
        errs.append(np.mean([np.abs(fixed_mask_readout(Phi, y, Phi_t, p, seed=s) - limit).max()
                             for s in range(8)]))
    assert errs[1] < errs[0] / 2
    np.testing.assert_allclose(fixed_mask_kernel_regression(K, K, y, 0.0), y, rtol=1e-8)
    with pytest.raises(ValueError, match="K_cross must have 5 columns"):
        fixed_mask_kernel_regression(K, Kx[:, :3], y, p)
    with pytest.raises(TypeError, match="seed"):
        fixed_mask_readout(Phi, y, Phi_t, p, seed=None)


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (lambda: minimize_deep_linear_dropout(np.ones((2, 3)), [0], 0.5, seed=0), ValueError,
         r"widths\[0\] must be >= 1"),
        (lambda: minimize_deep_linear_dropout(np.ones((2, 3)), [2], 0.5, seed=None), TypeError,
         "seed"),
        (lambda: deep_dropout_lower_bound(np.ones(3), [2], 0.5), ValueError, "M must be a 2-D"),
        (lambda: mc_deep_linear_dropout_loss([np.ones((2, 3)), np.ones((1, 2))], np.ones((1, 3)),
                                             0.5, n_draws=1, seed=0), ValueError,
         "n_draws must be >= 2"),
        (lambda: minimize_dropout_completion(np.array([[0, 9]]), [1.0], 0.5, np.ones((2, 1)),
                                             np.ones((2, 1))), ValueError, "valid"),
        (lambda: minimize_dropout_completion(np.array([[0, 1]]), [1.0], 1.0, np.ones((2, 1)),
                                             np.ones((2, 1))), ValueError, "p must lie"),
        (lambda: fixed_mask_kernel_regression(np.zeros((2, 2)), np.ones((1, 2)), [1.0, 2.0], 0.5),
         ValueError, "singular"),
        (lambda: resampled_mask_readout(np.ones((2, 3)), [1.0], np.ones((1, 3)), 0.5), ValueError,
         "y must"),
        (lambda: fixed_mask_readout(np.ones((2, 3)), [1.0, 2.0], np.ones((1, 3)), 1.0, seed=0),
         ValueError, "p must lie"),
    ],
)
def test_new_functions_validate(call, err, match):
    with pytest.raises(err, match=match):
        call()


# -- reader's-edition helpers: per-mask samples, spectra, the scalar landscape ------------------


def test_mc_dropout_samples_are_the_samples_of_mc_dropout_loss():
    rng = np.random.default_rng(120)  # own stream: independent of test order
    C, Y = rng.standard_normal((6, 3, 2)), rng.standard_normal((6, 2))
    samples = mc_dropout_samples(C, Y, 0.4, n_draws=5000, seed=3, chunk=700)
    est = mc_dropout_loss(C, Y, 0.4, n_draws=5000, seed=3)
    assert samples.shape == (5000,)
    # same masks (the chunking does not change the stream), so the same mean and SE
    assert samples.mean() == pytest.approx(est.mean, rel=1e-14)
    assert samples.std(ddof=1) / np.sqrt(5000) == pytest.approx(est.se, rel=1e-12)
    exact = expected_dropout_loss(C, Y, 0.4).total
    assert abs(samples.mean() - exact) < 4 * est.se
    with pytest.raises(ValueError, match="n_draws"):
        mc_dropout_samples(C, Y, 0.4, n_draws=1, seed=0)
    with pytest.raises(ValueError, match="p must lie in"):
        mc_dropout_samples(C, Y, 1.0, n_draws=10, seed=0)
    with pytest.raises(TypeError, match="seed"):
        mc_dropout_samples(C, Y, 0.4, n_draws=10, seed=None)


def test_mc_tolerance_of_the_book():
    """The tolerance of every Monte-Carlo check of the dropout chapter: |MC - exact| < 4 SE.

    The MC mean of N = 2e4 i.i.d. per-mask losses is close to normal (the losses have finite
    third moments, so by Berry-Esseen the error of the normal approximation is O(N^-1/2)): a
    correct identity fails with two-sided probability ~6e-5 per check. The checks also have
    power: the wrong constant p instead of lam = p/(1-p) moves the mean by (lam - p) times the
    regularizer, 45-90 SE on the chapter's data, and the pages ask for more than 3 * 4 = 12 SE.
    Here: over 300 independent seeds of a small estimate the z-scores behave like normals
    (fraction beyond 3 SE below 2 %, none beyond 4.5), and the wrong constant is rejected.
    """
    rng = np.random.default_rng(121)
    C, Y = rng.standard_normal((5, 4, 1)), rng.standard_normal((5, 1))
    dec = expected_dropout_loss(C, Y, 0.4)
    z = []
    for s in range(300):
        e = mc_dropout_loss(C, Y, 0.4, n_draws=400, seed=s)
        z.append((e.mean - dec.total) / e.se)
    z = np.abs(np.array(z))
    assert np.mean(z > 3) < 0.02 and z.max() < 4.5
    est = mc_dropout_loss(C, Y, 0.4, n_draws=20000, seed=7)
    wrong = dec.plain + 0.4 * dec.regularizer / dropout_lambda(0.4)
    assert abs(est.mean - wrong) > 12 * est.se


def test_matrix_with_singular_values():
    s = [1.0, 0.8, 0.6, 0.4, 0.25, 0.15]
    M = matrix_with_singular_values(s, seed=3)
    np.testing.assert_allclose(np.linalg.svd(M, compute_uv=False), s, rtol=1e-12)
    np.testing.assert_array_equal(M, matrix_with_singular_values(s, seed=3))
    np.testing.assert_array_equal(M, _matrix(s, seed=3))  # the same construction as the helper
    assert not np.allclose(M, matrix_with_singular_values(s, seed=4))
    with pytest.raises(ValueError, match="non-negative"):
        matrix_with_singular_values([1.0, -0.5], seed=0)
    with pytest.raises(TypeError, match="seed"):
        matrix_with_singular_values([1.0, 0.5], seed="x")
    with pytest.raises(TypeError):  # seed is keyword-only and required
        matrix_with_singular_values([1.0, 0.5], 3)
    with pytest.raises(TypeError):
        matrix_with_singular_values([1.0, 0.5])


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_tied_scalar_objective_is_the_tied_explicit_objective(p):
    rng = np.random.default_rng(122)
    for _ in range(20):
        u = rng.standard_normal(2)
        U = u.reshape(1, 2)
        assert tied_scalar_objective(u[0], u[1], 1.3, p) == pytest.approx(
            explicit_objective(U, U, np.array([[1.3]]), p), rel=1e-13)
    grid = tied_scalar_objective(np.linspace(-1, 1, 5)[:, None], np.linspace(-1, 1, 4), 1.0, p)
    assert grid.shape == (5, 4)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.8])
def test_tied_scalar_critical_points(p):
    """Each point is critical (central differences of the objective), its Hessian eigenvalues
    are those of a finite-difference Hessian, the minima are the closed-form optimum of the
    width-2 autoencoder, and the saddles have the curvature of the local-minima lemma."""
    s, lam, h = 1.3, dropout_lambda(p), 1e-4
    pts = tied_scalar_critical_points(s, p)
    assert len(pts) == 9

    def L(u):
        return float(tied_scalar_objective(u[0], u[1], s, p))

    E = np.eye(2) * h
    for c in pts:
        grad = np.array([(L(c.u + e) - L(c.u - e)) / (2 * h) for e in E])
        assert np.abs(grad).max() < 1e-6  # central differences: truncation ~h^2 |L'''| ~ 1e-7
        H = np.array([[(L(c.u + a + b) - L(c.u + a - b) - L(c.u - a + b) + L(c.u - a - b))
                       / (4 * h * h) for b in E] for a in E])
        # truncation ~h^2 |L''''| ~ 1e-7, rounding ~1e-16 / h^2 ~ 1e-8
        np.testing.assert_allclose(np.linalg.eigvalsh(H), c.hessian_eigenvalues, atol=1e-5)
    kinds = [c.kind for c in pts]
    optimum = dropout_optimum(np.array([[s]]), 2, p).value
    if p > 0:
        assert kinds == ["minimum"] * 4 + ["saddle"] * 4 + ["maximum"]
        for c in pts[:4]:
            assert c.value == pytest.approx(optimum, rel=1e-12)
            assert c.value == pytest.approx(lam * s**2 / (2 + lam), rel=1e-12)
        for c in pts[4:8]:
            # rotation of the two columns: -4 lam Delta^2 / ||t||^2 with Delta = ||t||^2 = |u|^2
            delta = np.sum(c.u**2)
            assert c.hessian_eigenvalues[0] == pytest.approx(-4 * lam * delta, rel=1e-12)
            assert c.value > optimum
    else:
        assert kinds == ["degenerate"] * 8 + ["maximum"]
        assert all(c.value == pytest.approx(0.0, abs=1e-15) for c in pts[:8])
    assert pts[8].value == pytest.approx(s**2)


def test_tied_scalar_validates():
    with pytest.raises(ValueError, match="s must be"):
        tied_scalar_critical_points(0.0, 0.5)
    with pytest.raises(ValueError, match="p must lie in"):
        tied_scalar_critical_points(1.0, 1.0)
    with pytest.raises(TypeError, match="s must be a real"):
        tied_scalar_objective(0.1, 0.2, "1", 0.5)


def test_completion_kkt_tolerances_of_the_book():
    """The tolerances of the chapter's certificate for the population-regularized completion.

    At the minimizer X of the convex f(X) = (1/n)||P_Omega(M - X)||^2 + c ||X||_*^2 (the
    chapter's 6 x 6 rank-one problem, p = 1/2), the scaled residual G = P_Omega(M - X) / n has
    P_T(G) = c sigma w y^T and ||P_Tperp(G)||_op <= c sigma. L-BFGS on the factors stops ~1e-8
    from the minimizer (~1e-7 relative in the printed residual), so the chapter's 1e-5 is slack
    for stopping, while a non-minimizer such as the unshrunk M (sigma = 1) violates stationarity
    by O(1); the dual ratio is ~0.49 there, so the bound 0.9 asks for a margin far above 1e-7."""
    from ibcore.factorization import low_rank_matrix

    M = low_rank_matrix(6, 1, seed=0)
    mask = _pattern6()
    n, m, p = int(mask.sum()), 6, 0.5
    c = dropout_lambda(p) / (36 * m)

    def kkt(X):
        W, sx, Yt = np.linalg.svd(X)
        w, yv, sig = W[:, 0], Yt[0], sx[0]
        G = np.where(mask, M - X, 0.0) / n
        G_perp = (np.eye(6) - np.outer(w, w)) @ G @ (np.eye(6) - np.outer(yv, yv))
        return (np.abs(G - G_perp - c * sig * np.outer(w, yv)).max() / (c * sig),
                np.linalg.norm(G_perp, 2) / (c * sig))

    X = minimize_weighted_trace_norm_completion(M, mask, p, m).X
    stat, dual = kkt(X)
    assert stat < 1e-5 and dual < 0.9
    stat_bad, _ = kkt(M)  # the unshrunk matrix: not a minimizer
    assert stat_bad > 0.1


def test_weighted_trace_norm_certificate_exact_on_full_observation():
    """All entries of a 4 x 4 M = U diag(3, 0.5) V^T observed (pi = 1/4 each): the minimizer of
    (1/16) ||M - X||^2 + (lam/m) ||X / 4||_*^2 is rank one, x_1 = mu_1 / (1 + lam/m), and
    P_T^perp(G) = mu_2 u_2 v_2^T / 4, so the dual norm is mu_2 / ((lam/m) x_1) exactly."""
    rng = np.random.default_rng(3)
    U, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    V, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    M = 3.0 * np.outer(U[:, 0], V[:, 0]) + 0.5 * np.outer(U[:, 1], V[:, 1])
    mask = np.ones((4, 4), dtype=bool)
    p, m = 0.5, 1  # lam / m = 1
    x1 = 3.0 / 2.0
    X = x1 * np.outer(U[:, 0], V[:, 0])
    cert = weighted_trace_norm_certificate(X, M, mask, p, m)
    assert cert.rank == 1
    assert cert.stationarity < 1e-14
    assert abs(cert.dual_norm - 0.5 / x1) < 1e-14
    assert abs(cert.scale - x1 / 4.0) < 1e-15
    # the independent convex solver lands on the same point
    X_cvx = minimize_weighted_trace_norm_completion(M, mask, p, m).X
    np.testing.assert_allclose(X_cvx, X, atol=1e-10)
    # a wrong shrinkage fails the first condition
    assert weighted_trace_norm_certificate(1.1 * X, M, mask, p, m).stationarity > 0.1


def test_weighted_trace_norm_certificate_on_a_partial_sample():
    M = np.outer([1.0, 2.0, -1.0], [1.0, 0.5, 1.5])
    mask = ~np.eye(3, dtype=bool)
    X = minimize_weighted_trace_norm_completion(M, mask, 0.3, 2).X
    cert = weighted_trace_norm_certificate(X, M, mask, 0.3, 2)
    assert cert.stationarity < 1e-6 and cert.dual_norm <= 1.0


def test_weighted_trace_norm_certificate_bad_input():
    M, mask = np.eye(3), np.ones((3, 3), dtype=bool)
    with pytest.raises(ValueError, match="mask must be a boolean"):
        weighted_trace_norm_certificate(M, M, mask.astype(int), 0.5, 1)
    with pytest.raises(ValueError, match="X must have the shape"):
        weighted_trace_norm_certificate(np.eye(2), M, mask, 0.5, 1)
    with pytest.raises(ValueError, match="X is zero"):
        weighted_trace_norm_certificate(np.zeros((3, 3)), M, mask, 0.5, 1)
    with pytest.raises(ValueError, match="rank=4 exceeds"):
        weighted_trace_norm_certificate(M, M, mask, 0.5, 1, rank=4)
    with pytest.raises(ValueError, match="every row and column"):
        weighted_trace_norm_certificate(M, M, np.diag([True, True, False]), 0.5, 1)


def test_random_orthogonal_is_orthogonal_seeded_and_matches_the_qr_draw():
    Q = random_orthogonal(6, seed=4)
    np.testing.assert_allclose(Q.T @ Q, np.eye(6), atol=1e-14)
    np.testing.assert_array_equal(Q, random_orthogonal(6, seed=4))
    gaussian = np.random.default_rng(4).standard_normal((6, 6))
    np.testing.assert_array_equal(Q, np.linalg.qr(gaussian)[0])
    assert not np.array_equal(Q, random_orthogonal(6, seed=5))
    # matrix_with_singular_values draws its two factors with it, from one generator
    rng = np.random.default_rng(2)
    W, Y = random_orthogonal(3, seed=rng), random_orthogonal(3, seed=rng)
    np.testing.assert_array_equal(matrix_with_singular_values([3.0, 2.0, 1.0], seed=2),
                                  (W * [3.0, 2.0, 1.0]) @ Y.T)
    with pytest.raises(TypeError, match="seed"):
        random_orthogonal(3, seed=None)
    with pytest.raises(ValueError, match="d must be"):
        random_orthogonal(0, seed=0)


def test_gaussian_regression_and_compare_input_dropout():
    mix = np.diag([1.0, 2.0, 0.5])
    data = gaussian_regression(mix, [1.0, -1.0, 2.0], n_samples=50, noise=0.0, seed=1)
    assert data.X.shape == (50, 3) and data.y.shape == (50,)
    np.testing.assert_allclose(data.y, data.X @ [1.0, -1.0, 2.0], atol=1e-14)  # no noise
    Z = np.random.default_rng(1).standard_normal((50, 3))
    np.testing.assert_array_equal(data.X, Z @ mix)
    cmp = compare_input_dropout(data.X, data.y, 0.3)
    np.testing.assert_allclose(cmp.drop, input_dropout_ridge(data.X, data.y, 0.3))
    np.testing.assert_allclose(cmp.rescaled, np.array([1.0, -1.0, 2.0]) / (1 + 0.3 / 0.7),
                               rtol=1e-12)
    assert -1.0 <= cmp.cosine <= 1.0
    # orthogonal columns (X^T X diagonal): dropout only rescales, the cosine is 1
    Xo = np.linalg.qr(np.random.default_rng(0).standard_normal((20, 3)))[0] * [1.0, 2.0, 3.0]
    yo = np.random.default_rng(1).standard_normal(20)
    assert abs(compare_input_dropout(Xo, yo, 0.5).cosine - 1.0) < 1e-12
    with pytest.raises(ValueError, match="square"):
        gaussian_regression(np.ones((2, 3)), [1.0, 1.0], n_samples=5, noise=0.1, seed=0)
    with pytest.raises(ValueError, match="noise"):
        gaussian_regression(mix, [1.0, -1.0, 2.0], n_samples=5, noise=-1.0, seed=0)
    with pytest.raises(ValueError, match="coef"):
        gaussian_regression(mix, [1.0, -1.0], n_samples=5, noise=0.1, seed=0)


def test_random_relu_features():
    x = np.linspace(-1.0, 1.0, 7)
    P = random_relu_features(x, 50, seed=3)
    W = np.random.default_rng(3).standard_normal((50, 2))
    np.testing.assert_array_equal(P, np.maximum(np.outer(x, W[:, 0]) + W[:, 1], 0))
    assert P.shape == (7, 50) and P.min() >= 0.0
    # the same seed gives the same features at a subset of the inputs
    np.testing.assert_array_equal(random_relu_features(x[2:4], 50, seed=3), P[2:4])
    with pytest.raises(ValueError, match="m must be"):
        random_relu_features(x, 0, seed=0)
    with pytest.raises(TypeError, match="seed"):
        random_relu_features(x, 5, seed=None)


def test_named_results_are_frozen_dataclasses():
    import dataclasses

    M = matrix_with_singular_values([2.0, 1.0], seed=0)
    results = [
        equalization_gap_2d(*equalized_factorization(M, 2), n_grid=11),
        deep_dropout_lower_bound(M, [2], 0.5),
        mc_dropout_kernel(np.ones((2, 3)), 0.5, n_draws=2, seed=0),
        minimize_explicit_objective(M, 2, 0.5, seed=0, n_restarts=1),
        minimize_weighted_trace_norm_completion(M, np.ones((2, 2), dtype=bool), 0.5, 2),
    ]
    for res in results:
        assert dataclasses.is_dataclass(res)
        field = dataclasses.fields(res)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(res, field, None)
