"""Tests of ibcore.sde: mini-batch noise covariances (against exhaustive enumeration of batches),
stationary covariances of SGD and of its SDE (against their defining equations and against long
simulations), exact moment recursions (against Monte Carlo ensembles and an independent ODE
solve), SVAG (coefficients, noise scale, convergence to the SDE), the diagonal-network tools
(Hessian trace against finite differences, the flow limit against ibcore.diagonal, the label-noise
flow against label-noise SGD) and input validation.

Tolerances for Monte Carlo comparisons are stated in standard errors (SE) of the estimate: a
correct formula fails a 5-SE check with probability below 1e-6 per comparison, and every test is
seeded, so the outcome is deterministic; a wrong formula (e.g. a factor 1/(m-1) instead of 1/m,
or sigma^T sigma instead of sigma sigma^T) is off by tens of SE at these sample sizes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ibcore import DivergenceError, SolverError, sde
from ibcore.datasets import sparse_regression
from ibcore.interpolants import min_ralpha_interpolant


def _spd(d, seed, shift=0.2):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    return A @ A.T / d + shift * np.eye(d)


def _ls_problem(m=12, d=3, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, d))
    y = A @ rng.standard_normal(d) + noise * rng.standard_normal(m)
    return A, y


# -- mini-batch noise ------------------------------------------------------------------------


@pytest.mark.parametrize("replace", [True, False])
def test_minibatch_covariance_equals_the_covariance_over_every_batch(replace):
    G = np.random.default_rng(0).standard_normal((7, 3))
    sizes = (1, 2, 3) if replace else (1, 2, 3, 5, 6, 7)
    for B in sizes:
        means = sde.batch_means(G, B, replace)
        assert means.shape[0] == (7**B if replace else math.comb(7, B))
        # the batch mean is unbiased, and its covariance over all (equally likely) batches is
        # the formula, to rounding
        np.testing.assert_allclose(means.mean(axis=0), G.mean(axis=0), atol=1e-14)
        D = means - means.mean(axis=0)
        np.testing.assert_allclose(
            D.T @ D / len(means), sde.minibatch_covariance(G, B, replace), atol=1e-14
        )


def test_minibatch_factor_values_and_limits():
    assert sde.minibatch_factor(10, 4) == 0.25
    assert sde.minibatch_factor(10, 4, replace=False) == pytest.approx(6 / 36)
    assert sde.minibatch_factor(10, 10, replace=False) == 0.0  # the whole data set: no noise
    assert sde.minibatch_factor(10, 1, replace=False) == 1.0  # one example: same as replacement
    assert sde.minibatch_factor(1, 1, replace=False) == 0.0
    # with replacement a batch may be larger than m
    assert sde.minibatch_factor(3, 30) == pytest.approx(1 / 30)
    # the population covariance divides by m (not m - 1): two points at +-1 have variance 1
    G = np.array([[1.0], [-1.0]])
    assert sde.minibatch_covariance(G, 1)[0, 0] == pytest.approx(1.0)


def test_minibatch_errors():
    G = np.ones((4, 2))
    with pytest.raises(ValueError, match="batch_size=5 exceeds the number of examples m=4"):
        sde.minibatch_covariance(G, 5, replace=False)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        sde.minibatch_covariance(G, 0)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        sde.minibatch_covariance(G, 2.0)
    with pytest.raises(TypeError, match="replace must be True or False"):
        sde.minibatch_covariance(G, 2, replace="no")
    with pytest.raises(ValueError, match="G must be a 2-D matrix"):
        sde.minibatch_covariance(np.ones(3), 1)
    with pytest.raises(ValueError, match="NaN"):
        sde.minibatch_covariance([[np.nan, 1.0]], 1)
    with pytest.raises(ValueError, match="more than max_batches"):
        sde.batch_means(np.ones((20, 2)), 10, max_batches=1000)
    with pytest.raises(ValueError, match="exceeds m=4"):
        sde.batch_means(G, 5, replace=False)


# -- stationary covariances --------------------------------------------------------------------


def test_stationary_covariances_solve_their_equations():
    H = _spd(4, 1)
    S = _spd(4, 2, shift=0.0)
    lmax = np.linalg.eigvalsh(H).max()
    I4 = np.eye(4)
    for factor in (0.01, 0.5, 1.9):
        eta = factor / lmax
        C = sde.sgd_stationary_covariance(H, S, eta)
        P = I4 - eta * H
        np.testing.assert_allclose(C, P @ C @ P + eta**2 * S, atol=1e-13 * np.abs(C).max())
        Cs = sde.sde_stationary_covariance(H, S, eta)
        np.testing.assert_allclose(H @ Cs + Cs @ H, eta * S, atol=1e-13 * np.abs(S).max() * eta)
        assert np.linalg.eigvalsh(C).min() > -1e-14 and np.allclose(C, C.T)


def test_stationary_covariances_agree_to_first_order_in_eta():
    """C_SGD - C_SDE = O(eta^2) while both are O(eta): the relative gap is linear in eta."""
    H, S = _spd(3, 3), _spd(3, 4)
    gaps = []
    for eta in (0.02, 0.01, 0.005):
        C, Cs = sde.sgd_stationary_covariance(H, S, eta), sde.sde_stationary_covariance(H, S, eta)
        gaps.append(np.abs(C - Cs).max() / np.abs(Cs).max())
    assert 1.9 < gaps[0] / gaps[1] < 2.1 and 1.9 < gaps[1] / gaps[2] < 2.1


def test_three_quadratics_closed_forms():
    # f_i = (x - c_i)^2 with c = (3, -3, 0): H = 2, gradient deviations -6, 6, 0: variance 24
    for eta in (0.01, 0.3, 0.9):
        assert sde.sgd_stationary_covariance([[2.0]], [[24.0]], eta)[0, 0] == pytest.approx(
            6 * eta / (1 - eta)
        )
        assert sde.sde_stationary_covariance([[2.0]], [[24.0]], eta)[0, 0] == pytest.approx(6 * eta)


def test_sgd_stationary_covariance_matches_a_long_simulation():
    """4000 Gaussian paths at step 300 (the slowest mode has relaxed by (1 - 0.3)^600 < 1e-90):
    the SE of an empirical covariance entry is sqrt((C_ij^2 + C_ii C_jj) / N)."""
    H = np.diag([0.5, 1.0, 2.0])
    S = _spd(3, 5, shift=0.1)
    eta = 0.6
    C = sde.sgd_stationary_covariance(H, S, eta)
    ens = sde.quadratic_sgd_paths(
        H, S, eta, np.zeros(3), 300, n_paths=4000, seed=1, checkpoints=np.arange(300, 301)
    )
    emp = ens.cov()[-1]
    se = np.sqrt((C**2 + np.outer(np.diag(C), np.diag(C))) / 4000)
    assert np.all(np.abs(emp - C) < 5 * se)
    # and it is distinguishable from the SDE's at this eta (gap 15-40 %, many SE)
    Cs = sde.sde_stationary_covariance(H, S, eta)
    assert np.max(np.abs(np.diag(emp) - np.diag(Cs)) / np.diag(se)) > 10


def test_stationary_errors():
    H, S = np.diag([1.0, 2.0]), np.eye(2)
    with pytest.raises(ValueError, match=r"2/λ_max = 1"):
        sde.sgd_stationary_covariance(H, S, 1.0)
    with pytest.raises(ValueError, match="positive definite"):
        sde.sde_stationary_covariance(np.diag([1.0, 0.0]), S, 0.1)
    with pytest.raises(ValueError, match="symmetric"):
        sde.sgd_stationary_covariance([[1.0, 0.5], [0.0, 1.0]], S, 0.1)
    with pytest.raises(ValueError, match="positive semi-definite"):
        sde.sgd_stationary_covariance(H, -S, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        sde.sde_stationary_covariance(H, [[np.inf, 0], [0, 1]], 0.1)
    with pytest.raises(ValueError, match="Sigma must be 2 x 2"):
        sde.sgd_stationary_covariance(H, np.eye(3), 0.1)
    with pytest.raises(ValueError, match="eta must be > 0"):
        sde.sgd_stationary_covariance(H, S, 0.0)
    with pytest.raises(TypeError, match="eta must be a real number"):
        sde.sgd_stationary_covariance(H, S, "0.1")


# -- SVAG ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ell", [1, 1.5, 2, 4, 16, 1e6])
def test_svag_coefficients(ell):
    a, c = sde.svag_coefficients(ell)
    assert a + c == pytest.approx(1.0, abs=1e-12)
    assert a * a + c * c == pytest.approx(ell, rel=1e-12)
    if ell == 1:
        assert (a, c) == (1.0, 0.0)


def test_svag_errors():
    with pytest.raises(ValueError, match="l must be a finite number >= 1"):
        sde.svag_coefficients(0.75)
    with pytest.raises(ValueError, match="l must be a finite number >= 1"):
        sde.svag_coefficients(np.inf)
    with pytest.raises(TypeError, match="l must be a real number"):
        sde.svag_coefficients(True)


def test_svag_gradient_has_l_times_the_noise_covariance():
    """The SVAG oracle's noise covariance is l Sigma_B (scale sqrt(l) sigma), not l^2 Sigma_B.

    200,000 draws of the SVAG gradient at a fixed x: the relative SE of a variance is about
    sqrt(kurtosis / N) ~ 1 %; l^2 would be off by a factor 4 at l = 4."""
    A, y = _ls_problem(m=10, d=2, seed=3)
    x = np.array([0.3, -0.2])
    ell, B = 4.0, 2
    ens = sde.least_squares_sgd_paths(
        A, y, x, 1.0, 1, n_paths=200_000, seed=5, batch_size=B, ell=ell
    )
    ghat = (x - ens.final) * ell  # the step is (eta / l) g_hat with eta = 1
    emp = np.cov(ghat.T)
    target = ell * sde.minibatch_covariance(sde.per_example_gradients(A, y, x), B)
    np.testing.assert_allclose(ghat.mean(axis=0), A.T @ (A @ x - y) / 10, atol=0.02)
    np.testing.assert_allclose(emp, target, rtol=0.05, atol=0.02 * np.abs(target).max())


# -- moments of the linear model -----------------------------------------------------------------


def test_quadratic_moments_match_the_recursion_and_the_ode():
    from scipy.integrate import solve_ivp

    H, S = _spd(3, 6), _spd(3, 7, shift=0.0)
    rng = np.random.default_rng(8)
    x0, b = rng.standard_normal(3), rng.standard_normal(3)
    eta = 0.7 / np.linalg.eigvalsh(H).max()
    mo = sde.quadratic_moments(H, S, eta, x0, np.arange(40), b=b)
    m, C, P = x0.copy(), np.zeros((3, 3)), np.eye(3) - eta * H
    for k in range(40):
        np.testing.assert_allclose(mo.mean[k], m, atol=1e-13)
        np.testing.assert_allclose(mo.cov[k], C, atol=1e-13)
        m, C = m - eta * (H @ m - b), P @ C @ P + eta**2 * S
    steps = np.arange(0, 40, 7)
    ms = sde.quadratic_moments(H, S, eta, x0, steps, b=b, process="sde")

    def rhs(_t, z):
        mm, CC = z[:3], z[3:].reshape(3, 3)
        return np.concatenate([b - H @ mm, (-(H @ CC + CC @ H) + eta * S).ravel()])

    sol = solve_ivp(rhs, (0, ms.times[-1]), np.concatenate([x0, np.zeros(9)]), t_eval=ms.times,
                    rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(ms.mean, sol.y[:3].T, atol=1e-9)
    np.testing.assert_allclose(ms.cov, sol.y[3:].T.reshape(-1, 3, 3), atol=1e-9)


def test_fixed_gradient_example():
    """H = 0: x_k ~ (mean eta k b, covariance eta^2 k Sigma), the same for the SDE at t = k eta."""
    S = np.diag([1.0, 4.0])
    for process in ("sgd", "sde"):
        mo = sde.quadratic_moments(np.zeros((2, 2)), S, 0.1, [0.0, 0.0], [0, 10, 1000],
                                   b=[1.0, -2.0], process=process)
        np.testing.assert_allclose(mo.mean[2], [100.0, -200.0], rtol=1e-12)
        np.testing.assert_allclose(mo.cov[1], 0.01 * 10 * S, rtol=1e-12)
    # near-zero curvature is continuous with the limit (stable geometric sums)
    tiny = sde.quadratic_moments(np.diag([1e-13, 1e-13]), S, 0.1, [0.0, 0.0], [1000],
                                 b=[1.0, -2.0])
    np.testing.assert_allclose(tiny.cov[0], 0.01 * 1000 * S, rtol=1e-8)


def test_quadratic_paths_agree_with_the_moments():
    """10^4 paths: means within 5 SE; Rademacher noise has the same first two moments."""
    H, S = np.diag([0.3, 1.0, 1.7]), _spd(3, 9, shift=0.05)
    x0, eta, k = np.array([1.0, -1.0, 2.0]), 0.4, 30
    mo = sde.quadratic_moments(H, S, eta, x0, [k])
    for noise in ("gaussian", "rademacher"):
        ens = sde.quadratic_sgd_paths(H, S, eta, x0, k, n_paths=10_000, seed=2, noise=noise)
        se = np.sqrt(np.diag(mo.cov[0]) / 10_000)
        assert np.all(np.abs(ens.mean()[-1] - mo.mean[0]) < 5 * se)
        np.testing.assert_allclose(ens.cov()[-1], mo.cov[0], atol=0.05 * np.abs(mo.cov[0]).max())
    # deterministic given the seed
    a = sde.quadratic_sgd_paths(H, S, eta, x0, 5, n_paths=3, seed=4).final
    b = sde.quadratic_sgd_paths(H, S, eta, x0, 5, n_paths=3, seed=4).final
    assert np.array_equal(a, b)


def test_quadratic_errors():
    with pytest.raises(ValueError, match="process must be 'sgd' or 'sde'"):
        sde.quadratic_moments(np.eye(2), np.eye(2), 0.1, [0, 0], [1], process="ode")
    with pytest.raises(ValueError, match="steps must be a non-empty 1-D array"):
        sde.quadratic_moments(np.eye(2), np.eye(2), 0.1, [0, 0], [0.5])
    with pytest.raises(ValueError, match="not stable"):
        sde.quadratic_moments(np.eye(2), np.eye(2), 2.5, [0, 0], [1])
    # the SDE has no step-size restriction
    sde.quadratic_moments(np.eye(2), np.eye(2), 2.5, [0, 0], [1], process="sde")
    with pytest.raises(ValueError, match="noise must be 'gaussian' or 'rademacher'"):
        sde.quadratic_sgd_paths(np.eye(2), np.eye(2), 0.1, [0, 0], 3, n_paths=2, seed=0,
                                noise="cauchy")
    with pytest.raises(TypeError, match="seed must be an int"):
        sde.quadratic_sgd_paths(np.eye(2), np.eye(2), 0.1, [0, 0], 3, n_paths=2, seed=None)
    with pytest.raises(ValueError, match=r"x0 must have shape \(2,\) or \(n_paths, 2\)"):
        sde.quadratic_sgd_paths(np.eye(2), np.eye(2), 0.1, np.zeros((3, 2)), 3, n_paths=2,
                                seed=0)


def test_brownian_paths_and_the_ito_correction():
    """E|Q^{1/2} X_t|^2 for dX = sigma dW grows like t Tr(Q sigma sigma^T), not sigma^T sigma."""
    sigma = np.array([[1.0, 2.0], [0.0, 0.5]])
    Q = np.diag([1.0, 0.0])
    ens = sde.brownian_paths(sigma, [0.0, 0.0], [0.5, 1.0], n_paths=20_000, seed=0)
    h = ens.x[..., 0] ** 2  # x^T Q x
    right, wrong = np.trace(Q @ sigma @ sigma.T), np.trace(Q @ sigma.T @ sigma)
    for j, t in enumerate((0.5, 1.0)):
        se = h[j].std() / math.sqrt(h.shape[1])
        assert abs(h[j].mean() - t * right) < 5 * se
        assert abs(h[j].mean() - t * wrong) > 50 * se
    with pytest.raises(ValueError, match="strictly increasing"):
        sde.brownian_paths(sigma, [0, 0], [1.0, 1.0], n_paths=2, seed=0)


# -- least squares with mini-batch noise ----------------------------------------------------------


@pytest.mark.parametrize(
    ("B", "replace", "ell"), [(1, True, 1), (4, False, 1), (2, True, 4), (11, False, 2)]
)
def test_least_squares_moments_match_monte_carlo(B, replace, ell):
    """40,000 paths: the mean loss within 5 SE of the exact recursion at every checkpoint."""
    A, y = _ls_problem()
    x0, eta = np.zeros(3), 0.1
    ck = [10, 40]
    mo = sde.least_squares_moments(A, y, x0, eta, 40, batch_size=B, replace=replace, ell=ell)
    ens = sde.least_squares_sgd_paths(A, y, x0, eta, 40, n_paths=40_000, seed=3, batch_size=B,
                                      replace=replace, ell=ell, checkpoints=ck)
    for j, k in enumerate(ck):
        L = 0.5 * np.mean((ens.x[j] @ A.T - y) ** 2, axis=1)
        assert abs(L.mean() - mo.loss[k]) < 5 * L.std() / math.sqrt(L.size)
        np.testing.assert_allclose(ens.cov()[j], mo.cov[k], atol=0.05 * np.abs(mo.cov[k]).max())
    assert mo.times[-1] == pytest.approx(40 * eta / ell)


def test_least_squares_moments_full_batch_is_gradient_descent():
    A, y = _ls_problem()
    mo = sde.least_squares_moments(A, y, np.ones(3), 0.2, 50, batch_size=12, replace=False)
    assert np.abs(mo.cov).max() == 0.0  # B = m without replacement: no noise at all
    x = np.ones(3)
    for _ in range(50):
        x = x - 0.2 * A.T @ (A @ x - y) / 12
    np.testing.assert_allclose(mo.mean[-1], x, atol=1e-13)


def test_sde_moments_match_svag_in_the_limit_and_euler_maruyama():
    """SVAG is an order-1 weak approximation of the SDE in eta / l: its error halves when l
    doubles. Independently of the moment algebra, an Euler-Maruyama ensemble of the SDE started
    at the least-squares solution (so that the excess loss is noise only) agrees within 5 SE:
    5000 paths give a relative SE of about sqrt(2 / 5000) = 2 %, the Euler bias is
    O(dt lambda_max) < 1 %, and a missing batch factor c or a noise scale eta instead of
    sqrt(eta) would be off by a factor 2 or more."""
    A, y = _ls_problem()
    x0, eta, T = np.zeros(3), 0.1, 2.0
    sdem = sde.least_squares_sde_moments(A, y, x0, eta, [0.5, T], batch_size=2)
    errs = []
    for ell in (4, 8, 16):
        n = round(T * ell / eta)
        mo = sde.least_squares_moments(A, y, x0, eta, n, batch_size=2, ell=ell, checkpoints=[n])
        errs.append(abs(mo.loss[-1] - sdem.loss[-1]))
    assert 1.8 < errs[0] / errs[1] < 2.2 and 1.8 < errs[1] / errs[2] < 2.2
    xhat = np.linalg.lstsq(A, y, rcond=None)[0]
    L0 = 0.5 * np.mean((A @ xhat - y) ** 2)
    exact = sde.least_squares_sde_moments(A, y, xhat, eta, [0.5], batch_size=2)
    rng = np.random.default_rng(11)
    P, dt = 5000, 2.5e-3
    X = np.tile(xhat, (P, 1))
    c = sde.minibatch_factor(12, 2)
    for _ in range(round(0.5 / dt)):
        G = (X @ A.T - y)[:, :, None] * A  # (P, m, d) per-example gradients
        gbar = G.mean(axis=1)
        D = G - gbar[:, None, :]
        lam, V = np.linalg.eigh(c * np.einsum("pmi,pmj->pij", D, D) / 12)
        root = V * np.sqrt(np.clip(lam, 0, None))[:, None, :]
        noise = np.einsum("pij,pj->pi", root, rng.standard_normal((P, 3)))
        X = X - gbar * dt + math.sqrt(eta * dt) * noise
    excess = 0.5 * np.mean((X @ A.T - y) ** 2, axis=1) - L0
    assert abs(excess.mean() - (exact.loss[0] - L0)) < 5 * excess.std() / math.sqrt(P)
    np.testing.assert_allclose(np.cov(X.T), exact.cov[0], atol=0.1 * np.abs(exact.cov[0]).max())


def test_least_squares_divergence_is_reported():
    A, y = _ls_problem()
    lmax = np.linalg.eigvalsh(A.T @ A / 12).max()
    mo = sde.least_squares_moments(A, y, np.zeros(3), 2.5 / lmax, 500, batch_size=12,
                                   replace=False)
    assert mo.diverged and np.all(np.isfinite(mo.loss)) and mo.loss.size == mo.diverged_at
    ens = sde.least_squares_sgd_paths(A, y, np.zeros(3), 2.5 / lmax, 500, n_paths=5, seed=0,
                                      batch_size=12, replace=False)
    assert ens.diverged and np.all(np.isfinite(ens.x))


def test_least_squares_errors():
    A, y = _ls_problem()
    with pytest.raises(ValueError, match="y must have length 12"):
        sde.least_squares_moments(A, y[:5], np.zeros(3), 0.1, 5)
    with pytest.raises(ValueError, match="exceeds the number of examples"):
        sde.least_squares_sgd_paths(A, y, np.zeros(3), 0.1, 5, n_paths=2, seed=0,
                                    batch_size=13, replace=False)
    with pytest.raises(ValueError, match="l must be a finite number >= 1"):
        sde.least_squares_moments(A, y, np.zeros(3), 0.1, 5, ell=0.5)
    with pytest.raises(ValueError, match="non-decreasing"):
        sde.least_squares_sde_moments(A, y, np.zeros(3), 0.1, [1.0, 0.5])
    with pytest.raises(ValueError, match=r"x must have shape \(3,\)"):
        sde.per_example_gradients(A, y, np.zeros(4))
    np.testing.assert_allclose(
        sde.least_squares_noise_covariance(A, y, np.zeros(3)),
        sde.minibatch_covariance(sde.per_example_gradients(A, y, np.zeros(3)), 1),
    )


# -- diagonal networks ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sparse():
    X, _, w_star = sparse_regression(8, 20, 2, seed=1)
    X = X / np.linalg.norm(X, axis=0) * math.sqrt(8)
    return X, X @ w_star


def test_hessian_trace_matches_finite_differences(sparse):
    X, y = sparse
    theta = np.random.default_rng(0).standard_normal(40)
    d, n = 20, 8

    def loss(th):
        w = th[:d] ** 2 - th[d:] ** 2
        return 0.5 / n * np.sum((X @ w - y) ** 2)

    h, tr = 1e-4, 0.0
    for i in range(40):
        e = np.zeros(40)
        e[i] = h
        tr += (loss(theta + e) - 2 * loss(theta) + loss(theta - e)) / h**2
    assert abs(sde.diagonal_hessian_trace(X, theta) - tr) < 1e-5 * abs(tr)
    batch = np.stack([theta, 2 * theta])
    assert sde.diagonal_hessian_trace(X, batch).shape == (2,)


def test_flow_limit_agrees_with_the_diagonal_module_and_is_an_interpolant(sparse):
    X, y = sparse
    for alpha in (0.05, 0.5):
        lim = sde.diagonal_flow_limit(X, y, alpha)
        w, theta = lim.w, lim.theta
        np.testing.assert_allclose(w, min_ralpha_interpolant(X, y, alpha), atol=1e-9)
        u, v = theta[:20], theta[20:]
        np.testing.assert_allclose(u * v, alpha**2, rtol=1e-12)
        np.testing.assert_allclose(u * u - v * v, w, atol=1e-12)
    # coordinate-wise scales: stationarity arcsinh(w / 2p) in the row space of X
    p = np.linspace(0.01, 0.3, 20) ** 2
    w = sde.diagonal_flow_limit(X, y, np.sqrt(p)).w
    z = np.arcsinh(w / (2 * p))
    assert np.linalg.norm(z - np.linalg.pinv(X) @ (X @ z)) < 1e-8
    assert np.linalg.norm(X @ w - y) < 1e-10


def test_gd_on_the_diagonal_network_keeps_products_and_reaches_the_flow_limit(sparse):
    """Full-batch, noiseless: all paths are GD; products shrink by prod(1 - 4 eta^2 g^2) only."""
    X, y = sparse
    theta0 = sde.diagonal_flow_limit(X, y, 0.3).theta  # start on the flow's limit: GD stays
    ens = sde.diagonal_sgd_paths(X, y, theta0, 0.05, 200, seed=0, n_paths=2)
    np.testing.assert_allclose(ens.final, np.tile(theta0, (2, 1)), atol=1e-9)
    start = np.full(40, 0.3)
    ens = sde.diagonal_sgd_paths(X, y, start, 0.02, 20_000, seed=0)
    w = ens.final[0, :20] ** 2 - ens.final[0, 20:] ** 2
    # GD's limit differs from the flow's by the O(eta) shrinkage of the products (a few 1e-3)
    assert np.linalg.norm(w - min_ralpha_interpolant(X, y, 0.3)) < 0.02


def test_label_noise_sgd_follows_the_limiting_flow(sparse):
    """Tr grad^2 L along label-noise SGD at tau = k eta^2 approaches the flow as eta -> 0.

    32 paths: the SE of the mean trace is about 0.1 (measured) against drift gaps of about 1 at
    eta = 0.04. A flow with the wrong constant (1/2 instead of 1/4) or the wrong time scale
    (k eta instead of k eta^2) would be off by the whole decrease (~20)."""
    X, y = sparse
    theta0 = sde.diagonal_flow_limit(X, y, 0.5).theta
    taus = np.array([0.0, 1.0, 2.0])
    path = sde.label_noise_flow(X, y, theta0, taus, label_noise=1.0)
    np.testing.assert_array_equal(path.tau, taus)
    flow = path.theta
    tr_flow = sde.diagonal_hessian_trace(X, flow)
    decrease = tr_flow[0] - tr_flow[-1]
    assert decrease > 0.4 * tr_flow[0]  # the flow really moves on this horizon
    gaps = []
    for eta in (0.04, 0.01):
        ck = np.rint(taus / eta**2).astype(int)
        ens = sde.diagonal_sgd_paths(X, y, theta0, eta, int(ck[-1]), seed=0, n_paths=32,
                                     label_noise=1.0, checkpoints=ck)
        tr = sde.diagonal_hessian_trace(X, ens.x).mean(axis=1)
        gaps.append(np.abs(tr[1:] - tr_flow[1:]).mean())
    assert gaps[0] < 0.1 * decrease and gaps[1] < 0.6 * gaps[0]
    # the flow stays on the manifold
    w = flow[:, :20] ** 2 - flow[:, 20:] ** 2
    assert np.abs(w @ X.T - y).max() < 1e-6


def test_diagonal_errors(sparse):
    X, y = sparse
    with pytest.raises(ValueError, match="theta0 must have length 2d = 40"):
        sde.diagonal_sgd_paths(X, y, np.ones(20), 0.1, 5, seed=0)
    with pytest.raises(ValueError, match="does not match"):
        sde.diagonal_sgd_paths(X, y, np.ones((3, 40)), 0.1, 5, seed=0, n_paths=2)
    with pytest.raises(ValueError, match="label_noise must be >= 0"):
        sde.diagonal_sgd_paths(X, y, np.ones(40), 0.1, 5, seed=0, label_noise=-1.0)
    with pytest.raises(ValueError, match="theta0 must be an interpolant"):
        sde.label_noise_flow(X, y, np.ones(40), [0.0, 1.0], label_noise=1.0)
    with pytest.raises(ValueError, match="scales must be positive"):
        sde.diagonal_flow_limit(X, y, 0.0)
    with pytest.raises(ValueError, match="last dimension 2d = 40"):
        sde.diagonal_hessian_trace(X, np.ones(7))
    big = sde.diagonal_sgd_paths(X, y, np.full(40, 3.0), 1.0, 500, seed=0)
    assert big.diverged and np.all(np.isfinite(big.x))


# -- scale invariance ----------------------------------------------------------------------------


def test_sphere_sgd_equilibrium_angle_with_noise():
    """With gradient noise the root-mean-square turn per step is sqrt(eta mu (2 - eta mu)), the
    normalization chapter's equilibrium; the norm fluctuates by about 1 %, so 3 % is ample."""
    Q = np.diag(np.linspace(0.5, 2.0, 6))
    eta, mu = 0.1, 0.02
    run = sde.sphere_sgd_paths(Q, np.ones(6), eta, mu, 0.3, 4000, n_paths=4, seed=0)
    rms = np.sqrt(np.mean(run.angle[2000:] ** 2))
    assert abs(rms / math.sqrt(eta * mu * (2 - eta * mu)) - 1) < 0.03
    assert run.norm.shape == (4001, 4) and run.angle.shape == (4000, 4)
    with pytest.raises(ValueError, match="eta \\* weight_decay must be < 1"):
        sde.sphere_sgd_paths(Q, np.ones(6), 1.0, 1.0, 0.1, 10, n_paths=1, seed=0)
    with pytest.raises(ValueError, match="w0 must be non-zero"):
        sde.sphere_sgd_paths(Q, np.zeros(6), 0.1, 0.1, 0.1, 10, n_paths=1, seed=0)


def test_solver_and_divergence_errors():
    """Failures are named: a Newton solve that runs out of steps is a SolverError, a sphere run
    whose norm explodes (eta * weight_decay close to 1 does not save a huge noise) or vanishes is
    a DivergenceError from the shared loop."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 6))
    y = X @ np.array([1.0, 0.0, 0.0, 0.0, 0.0, -2.0])
    with pytest.raises(SolverError, match="diagonal_flow_limit"):
        sde.diagonal_flow_limit(X, y, 1e-3, max_iter=1)
    Q = np.diag([0.1, 1.0, 2.0])
    with pytest.raises(DivergenceError, match="max norm"):
        sde.sphere_sgd_paths(Q, [1.0, 0.0, 0.0], 1.0, 1e-3, 1e300, 5, n_paths=2, seed=0)
