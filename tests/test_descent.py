"""Tests of ibcore.descent: checkpoints, GD/SGD runners, divergence policy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibcore.descent import (
    Trajectory,
    as_checkpoints,
    descent_lemma_slack,
    log_checkpoints,
    run_gd,
    run_heavy_ball,
    run_sgd,
)
from ibcore.linear import least_squares, least_squares_batch
from ibcore.quadratic import Quadratic

Q2 = Quadratic(np.diag([10.0, 1.0]))


# -- checkpoints ---------------------------------------------------------------------------------


@given(st.one_of(st.integers(0, 10**7), st.integers(10**15, 10**16)), st.integers(2, 300))
@settings(max_examples=120, deadline=None)
def test_log_checkpoints_properties(n_steps, n_points):
    cp = log_checkpoints(n_steps, n_points)
    assert cp.dtype == np.int64
    assert cp[0] == 0 and cp[-1] == n_steps
    assert np.all(np.diff(cp) > 0)  # sorted and unique
    # the documented bound: 0 plus the n_points log-spaced values, whose first is 10^0 = 1 and
    # whose last rounds to n_steps itself, so appending n_steps adds no entry
    assert cp.size <= n_points + 1


def test_log_checkpoints_near_float_precision():
    # 10^log10(n) rounded to n + 1 here: the last checkpoint exceeded n_steps, and one more
    # checkpoint than documented was returned
    cp = log_checkpoints(999999999999999, 5)
    assert cp[-1] == 999999999999999 and cp.size <= 6
    assert log_checkpoints(1_537_252_222_521_965, 2).size <= 3


def test_log_checkpoints_are_log_spaced():
    cp = log_checkpoints(10**6, 61)
    # between 10^2 and 10^6 the ratios of consecutive checkpoints are the constant 10^(6/60)
    ratios = cp[1:] / np.maximum(cp[:-1], 1)
    big = cp[:-1] >= 100
    np.testing.assert_allclose(ratios[big], 10 ** 0.1, rtol=0.01)


def test_checkpoint_validation():
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        log_checkpoints(-1)
    with pytest.raises(ValueError, match=r"checkpoints must lie in \[0, n_steps=5\]"):
        as_checkpoints([0, 6], 5)
    with pytest.raises(TypeError, match="checkpoints must hold integers"):
        as_checkpoints([0.5, 1.0], 5)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        as_checkpoints([], 5)
    np.testing.assert_array_equal(as_checkpoints([3, 1, 3], 5), [1, 3])


# -- run_gd --------------------------------------------------------------------------------------


def test_run_gd_matches_closed_form():
    """``run_gd`` (a generic loop) against the closed form of GD on a quadratic.

    The chapter's first experiment asserts ``max |run - closed form| < 1e-12 (1 + max |w|)``
    after 2000 steps at ``eta lambda_max`` in {0.5, 1, 1.9}. Argument: each step multiplies the
    error ``e_k = w_k - w*`` by ``I - eta H``, whose eigenvalues ``f_i = 1 - eta lambda_i`` have
    modulus below 1, and adds a rounding error of a few ``eps |w|``. An error made at one step
    is damped afterwards, so the accumulated error along mode ``i`` is at most about
    ``eps |w| / (1 - |f_i|)``, largest for the slowest mode: ``~ kappa / (eta lambda_max)`` ulps,
    about a hundred for the chapter's quadratic (``kappa ~ 23``), far below 1e-12 relative. The
    second half of this test repeats the chapter's check on a quadratic of that kind."""
    w0 = np.array([1.0, -2.0])
    traj = run_gd(Q2, w0, 0.15, 200)
    assert isinstance(traj, Trajectory) and not traj.diverged
    exact = Q2.gd_iterates(w0, 0.15, traj.steps)
    # each step is a 2x2 mat-vec: relative rounding ~1e-16 per step, 200 steps
    np.testing.assert_allclose(traj.w, exact, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(traj.loss, Q2.loss(exact), rtol=1e-10, atol=1e-300)
    np.testing.assert_array_equal(traj.final, traj.w[-1])
    assert traj.steps[-1] == 200
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    q = Quadratic(A @ A.T / 5 + 0.05 * np.eye(5), b=rng.standard_normal(5))
    w0 = rng.standard_normal(5)
    for factor in (0.5, 1.0, 1.9):
        run = run_gd(q, w0, factor / q.lambda_max, 2000)
        exact = q.gd_iterates(w0, factor / q.lambda_max, run.steps)
        assert np.abs(run.w - exact).max() < 1e-12 * (1 + np.abs(exact).max())


def test_run_gd_every_step_and_times():
    traj = run_gd(Q2, [1.0, 1.0], 0.05, 10, checkpoints=np.arange(11))
    np.testing.assert_array_equal(traj.steps, np.arange(11))
    np.testing.assert_allclose(traj.times, 0.05 * np.arange(11))
    assert traj.describe().startswith("step 10: loss")


def test_run_gd_schedule():
    etas = [0.1, 0.05, 0.02]
    traj = run_gd(Q2, [1.0, 1.0], lambda k: etas[k], 3, checkpoints=np.arange(4))
    w = np.array([1.0, 1.0])
    for k in range(3):
        w = w - etas[k] * Q2.grad(w)
    np.testing.assert_allclose(traj.final, w, rtol=1e-15)
    np.testing.assert_allclose(traj.eta, etas)
    np.testing.assert_allclose(traj.times, np.concatenate([[0], np.cumsum(etas)]))


def test_run_gd_reports_divergence_without_nan():
    # eta = 0.21 > 2/10: the top mode grows by |1 - 2.1| = 1.1 per step
    traj = run_gd(Q2, [1.0, 1.0], 0.21, 10_000)
    assert traj.diverged and traj.diverged_at is not None
    assert np.all(np.isfinite(traj.w)) and np.all(np.isfinite(traj.loss))
    assert np.all(traj.steps < traj.diverged_at)
    # same step as the exact divergence-aware quadratic runner
    exact = Q2.gd([1.0, 1.0], 0.21, 10_000, require_stable=False)
    assert exact.diverged_at == traj.diverged_at
    assert traj.describe() == f"diverged at step {traj.diverged_at}"


def test_run_gd_detects_nan_and_overflow():
    def nan_after_three(w):
        return (float("nan") if w[0] > 3.5 else float(w[0])), np.array([-1.0])

    traj = run_gd(nan_after_three, [0.0], 1.0, 10, checkpoints=np.arange(11))
    assert traj.diverged_at == 4
    np.testing.assert_array_equal(traj.steps, [0, 1, 2, 3])

    def explode(w):
        return float(w @ w), -1e200 * np.ones_like(w)

    traj = run_gd(explode, [1.0], 1e200, 5)
    assert traj.diverged_at == 1  # iterate overflows to inf after one step


def test_run_gd_validation():
    with pytest.raises(TypeError, match="fun must be callable"):
        run_gd(3.0, [1.0], 0.1, 5)
    with pytest.raises(ValueError, match="eta must be > 0"):
        run_gd(Q2, [1.0, 1.0], 0.0, 5)
    with pytest.raises(ValueError, match=r"eta\(1\) \(the step-size schedule\) must be > 0"):
        run_gd(Q2, [1.0, 1.0], lambda k: 0.1 - 0.1 * k, 5)
    with pytest.raises(ValueError, match="w0 contains 1 NaN"):
        run_gd(Q2, [np.nan, 1.0], 0.1, 5)
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\), expected \(2,\)"):
        run_gd(lambda w: (0.0, np.zeros(3)), [1.0, 1.0], 0.1, 5)
    with pytest.raises(TypeError, match=r"must return a tuple \(loss, grad\)"):
        run_gd(lambda w: 0.0, [1.0, 1.0], 0.1, 5)
    with pytest.raises(ValueError, match="loss at the initial point is not finite"):
        run_gd(lambda w: (np.inf, w), [1.0], 0.1, 5)
    with pytest.raises(ValueError, match="blowup_factor must be >= 1"):
        run_gd(Q2, [1.0, 1.0], 0.1, 5, blowup_factor=0.5)


# -- run_sgd -------------------------------------------------------------------------------------


def _problem(n=6, d=15, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def test_sgd_full_batch_equals_gd():
    X, y = _problem()
    n = X.shape[0]
    sgd = run_sgd(least_squares_batch(X, y), np.zeros(15), 0.05, 50, n, batch_size=n,
                  replace=False, seed=0)
    gd = run_gd(least_squares(X, y), np.zeros(15), 0.05, 50)
    np.testing.assert_array_equal(sgd.steps, gd.steps)
    # same update (a permuted batch only reorders a sum): agreement to rounding
    np.testing.assert_allclose(sgd.w, gd.w, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(sgd.loss, gd.loss, rtol=1e-11)


def test_sgd_is_seeded_and_records_full_loss():
    X, y = _problem()
    fun_i = least_squares_batch(X, y)
    a = run_sgd(fun_i, np.zeros(15), 0.05, 300, 6, seed=3)
    b = run_sgd(fun_i, np.zeros(15), 0.05, 300, 6, seed=3)
    c = run_sgd(fun_i, np.zeros(15), 0.05, 300, 6, seed=4)
    np.testing.assert_array_equal(a.w, b.w)
    assert not np.array_equal(a.w, c.w)
    full = least_squares(X, y)
    # residual form vs expanded quadratic form: cancellation error ~ eps * ||y||^2 / (2n)
    np.testing.assert_allclose(a.loss, full.loss(a.w), rtol=1e-12, atol=1e-14 * float(y @ y))


def test_sgd_divergence_and_validation():
    X, y = _problem()
    fun_i = least_squares_batch(X, y)
    traj = run_sgd(fun_i, np.zeros(15), 50.0, 10_000, 6, seed=0)
    assert traj.diverged and np.all(np.isfinite(traj.w))
    with pytest.raises(TypeError, match="seed must be an int"):
        run_sgd(fun_i, np.zeros(15), 0.1, 10, 6, seed=None)
    with pytest.raises(ValueError, match="batch_size=7 exceeds n_samples=6"):
        run_sgd(fun_i, np.zeros(15), 0.1, 10, 6, batch_size=7, replace=False, seed=0)
    with pytest.raises(TypeError, match="fun_i must be callable"):
        run_sgd(None, np.zeros(15), 0.1, 10, 6, seed=0)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        run_sgd(fun_i, np.zeros(15), 0.1, 10, 0, seed=0)


# -- descent lemma -------------------------------------------------------------------------------


@pytest.mark.parametrize("eta_factor", [0.2, 1.0, 1.9])
def test_descent_lemma_slack_nonnegative_on_quadratic(eta_factor):
    X, y = _problem(n=20, d=5, seed=2)
    q = least_squares(X, y)
    eta = eta_factor / q.lambda_max
    traj = run_gd(q, np.zeros(5), eta, 50, checkpoints=np.arange(51))
    slack = descent_lemma_slack(traj, q, q.lambda_max)
    assert slack.shape == (50,)
    assert slack.min() >= -1e-12 * max(1.0, traj.loss[0])


def test_descent_lemma_slack_detects_wrong_constant():
    # with a smoothness constant 10x too small the "lemma" must fail somewhere: the test can fail
    traj = run_gd(Q2, [1.0, 1.0], 0.19, 20, checkpoints=np.arange(21))
    assert descent_lemma_slack(traj, Q2, 1.0).min() < 0
    with pytest.raises(ValueError, match="no consecutive recorded steps"):
        descent_lemma_slack(run_gd(Q2, [1.0, 1.0], 0.1, 20, checkpoints=[0, 5, 20]), Q2, 10.0)


@pytest.mark.parametrize("n_steps", ["5", None, 2.5])
def test_as_checkpoints_rejects_non_integer_n_steps(n_steps):
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        as_checkpoints([0, 1], n_steps)


def test_run_sgd_reports_overflow_as_divergence_without_warnings():
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    fun_i = least_squares_batch(X, np.array([1.0, 0.0, 2.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow inside fun_i would raise here
        traj = run_sgd(fun_i, np.ones(2), 1e300, 20, n_samples=3, seed=0)
    assert traj.diverged and np.all(np.isfinite(traj.w))


# -- run_heavy_ball ------------------------------------------------------------------------------


def test_heavy_ball_without_momentum_is_gd():
    a = run_heavy_ball(Q2, [1.0, -2.0], 0.15, 0.0, 50, checkpoints=np.arange(51))
    b = run_gd(Q2, [1.0, -2.0], 0.15, 50, checkpoints=np.arange(51))
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_array_equal(a.loss, b.loss)


def test_heavy_ball_equals_its_velocity_form():
    # w_{k+1} = w_k - eta g_k + m (w_k - w_{k-1}), w_{-1} = w_0, is the same sequence as
    # u_k = m u_{k-1} - g_k, w_{k+1} = w_k + eta u_k, u_{-1} = 0
    # (by induction, eta u_k = w_{k+1} - w_k)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    q = Quadratic(A @ A.T, b=rng.standard_normal(4))
    w0, eta, m = rng.standard_normal(4), 0.5 / q.lambda_max, 0.7
    traj = run_heavy_ball(q, w0, eta, m, 40, checkpoints=np.arange(41))
    w, u = w0.copy(), np.zeros(4)
    velocity = [w.copy()]
    for _ in range(40):
        u = m * u - q.grad(w)
        w = w + eta * u
        velocity.append(w.copy())
    # two orders of the same floating-point operations: agreement to a few ulps of |w|
    np.testing.assert_allclose(traj.w, np.array(velocity), rtol=0, atol=1e-12)
    # the first step is a plain GD step (the run starts at rest)
    np.testing.assert_allclose(traj.w[1], w0 - eta * q.grad(w0), rtol=1e-15)


def test_heavy_ball_polyak_rate_on_a_quadratic():
    # Polyak's tuning: each mode's 2x2 iteration matrix has both eigenvalues of modulus
    # rho = (sqrt(kappa) - 1) / (sqrt(kappa) + 1); started at rest, the error obeys
    # ||e_k|| <= (2k + 1) rho^k ||e_0|| (Chebyshev polynomials of the second kind, |U_k| <= k + 1 on
    # [-1, 1]), and the bottom mode is exactly rho^k (1 + k (1 - rho)) times its start (a Jordan
    # block: U_k(1) = k + 1). The minimiser is 0, so rounding is relative and the check reaches
    # errors of 1e-100.
    rng = np.random.default_rng(1)
    V, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    lam = np.geomspace(1e-3, 1.0, 6)
    q = Quadratic(V @ np.diag(lam) @ V.T)
    tune = q.heavy_ball_tuning()
    w0 = rng.standard_normal(6)
    traj = run_heavy_ball(q, w0, tune.eta, tune.momentum, 2000, checkpoints=np.arange(2001))
    k = traj.steps
    err = np.linalg.norm(traj.w, axis=1) / np.linalg.norm(w0)
    assert np.all(err <= (2 * k + 1) * tune.rate**k * (1 + 1e-9))
    z_min = traj.w @ q.eigvecs[:, 0]
    exact = tune.rate**k * (1 + k * (1 - tune.rate)) * z_min[0]
    # 2000 steps of a non-normal 2x2 recursion: rounding grows at most like k^2 eps relative
    np.testing.assert_allclose(z_min, exact, rtol=1e-8)
    # and momentum pays: GD at its best step contracts by (kappa - 1)/(kappa + 1) = 0.998 per
    # step, so after 2000 steps it is still above 1e-2 where heavy ball is below 1e-50
    gd = run_gd(q, w0, q.optimal_step, 2000)
    assert np.linalg.norm(gd.final) / np.linalg.norm(w0) > 1e-2 and err[-1] < 1e-50
    # a wrong tuning (Polyak's momentum with twice the step) is unstable: the check can fail
    bad = run_heavy_ball(q, w0, 2 * tune.eta, tune.momentum, 2000)
    assert bad.diverged


def test_heavy_ball_reports_divergence_and_validates():
    # heavy ball is stable iff 0 < eta lambda < 2 (1 + momentum) = 3 here: eta = 0.35 > 3/10
    traj = run_heavy_ball(Q2, [1.0, 1.0], 0.35, 0.5, 10_000)
    assert traj.diverged and np.all(np.isfinite(traj.w)) and np.all(traj.steps < traj.diverged_at)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\)"):
        run_heavy_ball(Q2, [1.0, 1.0], 0.1, 1.0, 5)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\)"):
        run_heavy_ball(Q2, [1.0, 1.0], 0.1, -0.1, 5)
    with pytest.raises(TypeError, match="momentum must be a real number"):
        run_heavy_ball(Q2, [1.0, 1.0], 0.1, "0.9", 5)
    with pytest.raises(TypeError, match="fun must be callable"):
        run_heavy_ball(None, [1.0, 1.0], 0.1, 0.5, 5)
    with pytest.raises(ValueError, match="eta must be > 0"):
        run_heavy_ball(Q2, [1.0, 1.0], -0.1, 0.5, 5)
    with pytest.raises(ValueError, match="n_steps must be >= 0"):
        run_heavy_ball(Q2, [1.0, 1.0], 0.1, 0.5, -1)
    with pytest.raises(ValueError, match="w0 contains 1 NaN"):
        run_heavy_ball(Q2, [np.nan, 1.0], 0.1, 0.5, 5)


def test_run_sgd_divergence_at_a_checkpoint_stops_the_arrays_before_it():
    """A mini-batch blow-up at a checkpoint step is a divergence at that step: the recorded
    arrays stop before ``diverged_at`` (the module's contract), as for GD."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 5)), rng.standard_normal(12)
    traj = run_sgd(least_squares_batch(X, y), np.zeros(5), 1.2, 3000, 12, seed=6,
                   checkpoints=np.arange(3001))
    assert traj.diverged_at is not None
    np.testing.assert_array_equal(traj.steps, np.arange(traj.diverged_at))
    assert np.all(np.isfinite(traj.loss)) and np.all(np.isfinite(traj.w))


def test_schedules_are_re_exported_by_descent():
    """ibcore.schedules holds the checkpoint and step-size helpers; ibcore.descent re-exports
    the same objects, so descent.log_checkpoints and friends keep working."""
    import ibcore.descent as descent
    import ibcore.schedules as schedules

    for name in schedules.__all__:
        assert getattr(descent, name) is getattr(schedules, name)
        assert name in descent.__all__
