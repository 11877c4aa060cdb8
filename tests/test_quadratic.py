"""Tests of ibcore.quadratic: closed forms of GD and gradient flow, stability, divergence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibcore.descent import run_gd
from ibcore.flow import FlowPath, gradient_flow
from ibcore.quadratic import Quadratic


def _random_quadratic(seed, d=5, rank=None):
    rng = np.random.default_rng(seed)
    rank = d if rank is None else rank
    A = rng.standard_normal((d, rank))
    H = A @ A.T
    b = H @ rng.standard_normal(d)  # in range(H)
    return Quadratic(H, b, c=1.0), rng


def test_minimizer_and_loss_min():
    q, _ = _random_quadratic(0)
    np.testing.assert_allclose(q.grad(q.minimizer), 0.0, atol=1e-10)
    assert q.loss_min == pytest.approx(q.loss(q.minimizer), rel=1e-12)
    np.testing.assert_allclose(q.minimizer, np.linalg.solve(q.H, q.b), rtol=1e-8)


def test_singular_minimizer_is_min_norm():
    q, _ = _random_quadratic(1, d=6, rank=3)
    assert np.sum(q.eigvals == 0.0) == 3 and q.condition_number == np.inf
    np.testing.assert_allclose(q.minimizer, np.linalg.pinv(q.H) @ q.b, rtol=1e-7, atol=1e-9)


@given(st.integers(0, 10_000), st.floats(0.05, 1.95))
@settings(max_examples=40, deadline=None)
def test_closed_form_equals_iteration(seed, eta_factor):
    q, rng = _random_quadratic(seed, d=4, rank=int(seed % 4) + 1)
    w0 = rng.standard_normal(4)
    eta = eta_factor / q.lambda_max
    traj = run_gd(q, w0, eta, 60, checkpoints=np.arange(61))
    exact = q.gd_iterates(w0, eta, traj.steps)
    scale = 1.0 + np.linalg.norm(w0) + np.linalg.norm(q.minimizer)
    # 60 steps of a stable linear map: rounding errors do not grow (|factors| <= 1)
    np.testing.assert_allclose(traj.w, exact, atol=1e-11 * scale)


def test_flow_is_limit_of_gd():
    q, rng = _random_quadratic(3)
    w0 = rng.standard_normal(5)
    t = 2.0
    errs = []
    for n in (100, 200, 400):
        w_gd = q.gd_iterates(w0, t / n, [n])[0]
        errs.append(np.linalg.norm(w_gd - q.flow(w0, [t])[0]))
    # forward Euler is first order: halving eta halves the error (ratio 2 up to O(eta))
    assert 1.8 < errs[0] / errs[1] < 2.2 and 1.8 < errs[1] / errs[2] < 2.2


def test_flow_derivative_is_minus_gradient():
    q, rng = _random_quadratic(4)
    w0 = rng.standard_normal(5)
    h = 1e-6
    w = q.flow(w0, [1.0 - h, 1.0, 1.0 + h])
    # central difference: error O(h^2 * |w'''|) ~ 1e-12, plus rounding ~ eps/h ~ 1e-10
    np.testing.assert_allclose((w[2] - w[0]) / (2 * h), -q.grad(w[1]), atol=1e-7)


def test_stability_threshold_error_message():
    q = Quadratic(np.diag([4.0, 1.0]))
    with pytest.raises(ValueError, match=r"stability threshold 2/λ_max = 0\.5 \(λ_max = 4\)"):
        q.gd([1.0, 1.0], 0.5, 10)
    with pytest.raises(ValueError, match="require_stable=False"):
        q.steps_to_accuracy([1.0, 1.0], 0.6, 1e-3)
    assert q.check_step_size(0.4999) == 0.4999


@pytest.mark.parametrize("eta", [0.26, 0.3, 0.6])
def test_exact_divergence_step_matches_iteration(eta):
    q = Quadratic(np.diag([8.0, 1.0]), b=[1.0, 2.0])
    w0 = [1.0, -1.0]
    exact = q.gd(w0, eta, 5000, require_stable=False)
    run = run_gd(q, w0, eta, 5000)
    assert exact.diverged_at is not None and exact.diverged_at == run.diverged_at
    assert np.all(exact.steps < exact.diverged_at) and np.all(np.isfinite(exact.w))
    # the closed form's bound is the run's bound, so the step before still fits under it
    assert q.loss(q.gd_iterates(w0, eta, [exact.diverged_at - 1])[0]) <= 1e12 * max(
        1.0, abs(q.loss(np.asarray(w0)))
    )


def test_divergence_not_reported_when_horizon_is_short_or_mode_absent():
    q = Quadratic(np.diag([8.0, 1.0]))
    assert q.gd([1.0, 1.0], 0.3, 5, require_stable=False).diverged_at is None
    # no component along the unstable mode: in exact arithmetic it never grows
    traj = q.gd([0.0, 1.0], 0.3, 10**9, require_stable=False)
    assert traj.diverged_at is None and traj.steps[-1] == 10**9


def test_huge_horizons_cost_nothing():
    q, rng = _random_quadratic(5)
    traj = q.gd(rng.standard_normal(5), 1.0 / q.lambda_max, 10**12)
    assert traj.steps[-1] == 10**12
    np.testing.assert_allclose(traj.final, q.minimizer, atol=1e-8)


def test_steps_to_accuracy_is_minimal_and_scales_with_kappa():
    """Counts of GD steps (``eta = 1/lambda_max``) to a relative loss gap on ``diag(1, 1/kappa)``.

    The chapter fits a line to the counts over ``kappa`` in [10, 1e4] and asserts that its slope
    is ``(1/2) log(omega/eps)`` to 0.1 %. Argument: the top mode vanishes after one step, so the
    count is exactly ``ceil(log(omega/eps) / (-2 log(1 - 1/kappa)))`` (the bottom mode alone, with
    share ``omega``), and ``-1 / (2 log(1 - 1/kappa)) = kappa/2 - 1/4 - 1/(24 kappa) + ...``.
    The counts are therefore ``(kappa/2 - 1/4) log(omega/eps)`` plus ``O(1/kappa)`` plus a
    rounding in [0, 1); a least-squares line over a spread of ``1e4`` in ``kappa`` has a slope
    error of about ``1e-4`` steps per unit of ``kappa``, i.e. ``~1e-5`` relative (measured
    ``7e-8`` to ``5e-6``). The tolerance 1e-3 keeps a wide margin and still rejects the slope
    of any other step size (``eta = 1/(2 lambda_max)`` doubles it)."""
    for kappa in (10.0, 100.0, 1000.0):
        q = Quadratic(np.diag([1.0, 1.0 / kappa]))
        w0 = np.array([1.0, 1.0])
        eps = 1e-6
        k = q.steps_to_accuracy(w0, 1.0, eps)
        gap = q.loss_gap(w0, 1.0, [k - 1, k])
        gap0 = q.loss_gap(w0, 1.0, [0])[0]
        assert gap[1] <= eps * gap0 < gap[0]
        # slow mode alone: (1 - 1/kappa)^(2k) = eps * (1 + kappa)  =>  k ~ kappa/2 log(1/eps')
        expected = np.log(eps * (1 + kappa)) / (2 * np.log1p(-1 / kappa))
        assert abs(k - expected) <= 1.0
    assert q.steps_to_accuracy(q.minimizer, 1.0, 1e-3) == 0
    kappas = np.array([10, 30, 100, 300, 1000, 3000, 10000.0])
    for omega in (0.5, 1e-2, 1e-4):
        counts = [Quadratic(np.diag([1.0, 1 / k])).steps_to_accuracy(
            [np.sqrt(1 - omega), np.sqrt(k * omega)], 1.0, eps) for k in kappas]
        lower = np.log(omega / eps) / (-2 * np.log1p(-1 / kappas))
        assert np.all(np.abs(counts - np.ceil(lower)) <= 1)
        slope = np.polyfit(kappas, counts, 1)[0]
        assert abs(slope / (0.5 * np.log(omega / eps)) - 1) < 1e-3
        half = [Quadratic(np.diag([1.0, 1 / k])).steps_to_accuracy(
            [np.sqrt(1 - omega), np.sqrt(k * omega)], 0.5, eps) for k in kappas]
        assert abs(np.polyfit(kappas, half, 1)[0] / slope - 2) < 1e-2  # half the step: twice


def test_validation_messages():
    with pytest.raises(ValueError, match="H must be symmetric"):
        Quadratic([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="positive semi-definite"):
        Quadratic(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="square"):
        Quadratic(np.ones((2, 3)))
    with pytest.raises(ValueError, match="b must lie in the range of H"):
        Quadratic(np.diag([1.0, 0.0]), b=[0.0, 1.0])
    with pytest.raises(ValueError, match="b must have length 2"):
        Quadratic(np.eye(2), b=[1.0])
    with pytest.raises(ValueError, match=r"w must have shape \(d,\) or \(k, d\) with d=2"):
        Quadratic(np.eye(2)).loss(np.ones(3))
    with pytest.raises(ValueError, match="eps must be < 1"):
        Quadratic(np.eye(2)).steps_to_accuracy([1.0, 1.0], 0.5, 2.0)
    with pytest.raises(ValueError, match="reg must be >= 0"):
        Quadratic.from_least_squares(np.eye(2), [1.0, 1.0], reg=-1.0)


def test_least_squares_normalisation_and_ridge_shift():
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((30, 4)), rng.standard_normal(30)
    q = Quadratic.from_least_squares(X, y)
    w = rng.standard_normal(4)
    assert q.loss(w) == pytest.approx(0.5 * np.mean((X @ w - y) ** 2), rel=1e-12)
    np.testing.assert_allclose(q.grad(w), X.T @ (X @ w - y) / 30, rtol=1e-12)
    lam = 0.3
    q_reg = Quadratic.from_least_squares(X, y, reg=lam)
    # every Hessian eigenvalue shifts by exactly reg
    np.testing.assert_allclose(q_reg.eigvals, q.eigvals + lam, rtol=1e-12)
    assert q_reg.condition_number < q.condition_number


def test_partial_neumann_sum_matches_explicit_sum_and_gd():
    q, rng = _random_quadratic(8, d=5, rank=3)
    eta = 1.5 / q.lambda_max
    A = np.eye(5) - eta * q.H
    explicit, power = np.zeros((5, 5)), np.eye(5)
    for _ in range(40):
        explicit += eta * power
        power = power @ A
    S = q.partial_neumann_sum(eta, 40)
    # 40 products of a matrix with spectral norm 1: rounding ~40 eps relative to ||S|| ~ 40 eta
    np.testing.assert_allclose(S, explicit, atol=1e-12 * np.abs(explicit).max())
    # GD from w0: w_k = (I - eta H)^k w0 + S_k b
    w0 = rng.standard_normal(5)
    np.testing.assert_allclose(power @ w0 + S @ q.b, q.gd_iterates(w0, eta, [40])[0],
                               atol=1e-11 * (1 + np.abs(S).max()))
    assert np.array_equal(q.partial_neumann_sum(eta, 0), np.zeros((5, 5)))


def test_partial_neumann_sum_diverges_on_null_space_only():
    """``N_k = eta sum_{j<k} (I - eta H)^j`` is ``k eta`` on null(H) and tends to ``H^+`` on the
    range. The chapter measures ``|N_k X^+X - H^+|`` on an over-parametrised problem up to
    ``k = 1e6`` and bounds it by the tail of the series plus ``20 k eta eps``. Argument: the
    eigenvectors of ``H`` (and the projector ``X^+X``) separate null(X) from row(X) only to a few
    ``eps``, so the diverging null-space part, of size ``k eta``, leaks into the range by a few
    ``k eta eps`` (measured ``~6 k eta eps`` on the chapter's 20 x 100 problem; the second half
    of this test repeats that measurement)."""
    q, _ = _random_quadratic(9, d=6, rank=2)
    eta = 1.0 / q.lambda_max
    k = 10**8
    S = q.partial_neumann_sum(eta, k)
    P_null = q.eigvecs[:, q.eigvals == 0] @ q.eigvecs[:, q.eigvals == 0].T
    # on null(H) the sum is k * eta exactly (eigenvalue 1 of I - eta H); elsewhere H^+
    np.testing.assert_allclose(S @ P_null, k * eta * P_null, atol=1e-7 * k * eta)
    H_pinv = np.linalg.pinv(q.H)
    np.testing.assert_allclose(S - k * eta * P_null, H_pinv, atol=1e-6 * np.abs(H_pinv).max())
    # tiny eta * lambda: the closed form keeps full relative accuracy (k eta lambda ~ 1e-10)
    tiny = Quadratic(np.diag([1.0, 1e-12]))
    s = np.diag(tiny.partial_neumann_sum(1e-3, 100))
    np.testing.assert_allclose(s, [(1 - 0.999**100), 100 * 1e-3 * (1 - 99 / 2 * 1e-15)],
                               rtol=1e-13)
    with pytest.raises(ValueError, match="stability threshold 2/λ_max"):
        tiny.partial_neumann_sum(2.0, 10)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 100))
    q = Quadratic.from_least_squares(X, rng.standard_normal(20))
    eta = 1.0 / q.lambda_max
    P_row, H_pinv = np.linalg.pinv(X) @ X, np.linalg.pinv(q.H)
    for k in (10**4, 10**6):  # the tail (1 - lambda_min+/lambda_max)^k / lambda_min+ is 0 here
        leak = np.linalg.norm(q.partial_neumann_sum(eta, k) @ P_row - H_pinv, 2)
        assert leak <= 20 * k * eta * np.finfo(float).eps
    with pytest.raises(ValueError, match="k must be >= 0"):
        tiny.partial_neumann_sum(1e-3, -1)


def test_loss_gap_is_the_loss_of_the_iterates():
    q, rng = _random_quadratic(10, d=4, rank=3)
    w0 = rng.standard_normal(4)
    steps = np.array([0, 1, 2, 5, 17, 40])
    for eta in (0.5 / q.lambda_max, 1.7 / q.lambda_max, 2.3 / q.lambda_max):
        direct = q.loss(q.gd_iterates(w0, eta, steps)) - q.loss_min
        gap = q.loss_gap(w0, eta, steps)
        # two evaluations of the same quantity: the direct one cancels terms of size ~|L|, so
        # agreement is to a few eps times the largest loss involved
        scale = 1.0 + np.abs(q.loss(q.gd_iterates(w0, eta, steps))).max() + abs(q.loss_min)
        np.testing.assert_allclose(gap, direct, rtol=0, atol=1e-12 * scale)
    # past the threshold the gap grows like |1 - eta lambda_max|^(2k): a test that can fail
    gap = q.loss_gap(w0, 2.3 / q.lambda_max, [100, 101])
    assert gap[1] / gap[0] == pytest.approx(1.3**2, rel=1e-6)


def test_steps_and_constant_validation():
    q = Quadratic(np.diag([2.0, 1.0]))
    for bad in ([-1, 2], [0.5, 1.0], [[1, 2]]):
        with pytest.raises(ValueError, match="steps must be a 1-D array of non-negative integers"):
            q.loss_gap([1.0, 1.0], 0.1, bad)
        with pytest.raises(ValueError, match="steps must be a 1-D array of non-negative integers"):
            q.gd_iterates([1.0, 1.0], 0.1, bad)
    with pytest.raises(ValueError, match="c must be finite"):
        Quadratic(np.eye(2), c=np.nan)
    with pytest.raises(TypeError, match="c must be a real number"):
        Quadratic(np.eye(2), c="1")
    with pytest.raises(ValueError, match="times must be non-negative"):
        q.flow([1.0, 1.0], [-1.0])


def test_modes_reconstruct_the_start_and_the_gap():
    q, rng = _random_quadratic(11, d=5, rank=3)
    w0 = rng.standard_normal(5)
    z = q.modes(w0)
    np.testing.assert_allclose(q.minimizer + q.eigvecs @ z, w0, atol=1e-12)
    # loss gap = 1/2 sum lambda_i z_i^2, against the loss evaluated directly
    gap = 0.5 * np.sum(q.eigvals * z**2)
    assert gap == pytest.approx(q.loss(w0) - q.loss_min, rel=1e-10)
    # rank 3 of 5: two zero eigenvalues, the smallest positive one is the third
    assert q.lambda_min == 0.0 and q.lambda_min_positive == q.eigvals[2] > 0


@pytest.mark.parametrize(
    "case",
    [
        ("loss-str", lambda q: q.loss("w"), TypeError, "w must be a numeric array"),
        ("grad-None", lambda q: q.grad(None), TypeError, "w must be a numeric array"),
        ("iterates-steps-str", lambda q: q.gd_iterates(np.ones(2), 0.1, "5"), ValueError,
         "steps must be a 1-D array of non-negative integers"),
        ("gap-steps-str", lambda q: q.loss_gap(np.ones(2), 0.1, ["a"]), ValueError,
         "steps must be a 1-D array of non-negative integers"),
    ],
    ids=lambda c: c[0],
)
def test_quadratic_methods_reject_bad_arguments(case):
    _, call, exc, match = case
    with pytest.raises(exc, match=match):
        call(Quadratic(np.diag([1.0, 2.0])))


def test_optimal_step_minimises_the_worst_case_contraction():
    for kappa in (2.0, 10.0, 1e4):
        q = Quadratic(np.diag([1.0, kappa**-0.5, 1.0 / kappa]))  # a middle mode changes nothing
        r = (kappa - 1) / (kappa + 1)
        assert q.optimal_step == pytest.approx(2 / (1 + 1 / kappa), rel=1e-15)
        assert q.gd_contraction(q.optimal_step) == pytest.approx(r, rel=1e-12)
        # every other step is worse: a fine grid over (0, 2/lambda_max) never goes below r
        etas = np.linspace(1e-3, 2.0, 4001)
        values = np.array([q.gd_contraction(e) for e in etas])
        assert values.min() >= r - 1e-12
        assert abs(etas[np.argmin(values)] - q.optimal_step) <= etas[1] - etas[0]
    # the factor is attained: one GD step from the bottom eigenvector multiplies it by exactly r
    q = Quadratic(np.diag([4.0, 1.0]))
    w1 = run_gd(q, [0.0, 1.0], q.optimal_step, 1).final
    assert abs(w1[1]) == pytest.approx(q.gd_contraction(q.optimal_step), rel=1e-15)
    # past the threshold the factor exceeds 1 (no convergence)
    assert q.gd_contraction(0.6) == pytest.approx(1.4)


def test_optimal_step_and_tuning_use_the_positive_spectrum():
    q, _ = _random_quadratic(12, d=5, rank=3)
    lam = q.eigvals[q.eigvals > 0]
    assert q.optimal_step == pytest.approx(2 / (lam[0] + lam[-1]), rel=1e-14)
    tune = q.heavy_ball_tuning()
    kappa = lam[-1] / lam[0]
    assert tune.rate == pytest.approx((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1), rel=1e-12)
    assert tune.momentum == pytest.approx(tune.rate**2, rel=1e-15)
    assert tune.eta == pytest.approx(4 / (np.sqrt(lam[-1]) + np.sqrt(lam[0])) ** 2, rel=1e-14)


def test_heavy_ball_tuning_gives_every_mode_the_same_spectral_radius():
    # Polyak: the mode recursion z_{k+1} = (1 + m - eta lambda) z_k - m z_{k-1} has characteristic
    # roots of product m = rate^2 and, for lambda in [lambda_min, lambda_max], a non-positive
    # discriminant, so both roots have modulus rate. At the two ends the roots coincide (a
    # Jordan block), where eigvals is accurate only to ~sqrt(eps) ~ 1e-8.
    q = Quadratic(np.diag(np.geomspace(1.0, 1e-3, 7)))
    tune = q.heavy_ball_tuning()
    for i, lam in enumerate(q.eigvals):
        T = np.array([[1 + tune.momentum - tune.eta * lam, -tune.momentum], [1.0, 0.0]])
        radius = np.abs(np.linalg.eigvals(T)).max()
        ends = i in (0, q.d - 1)
        assert radius == pytest.approx(tune.rate, rel=1e-6 if ends else 1e-12)
    # with momentum the rate beats the best fixed step: sqrt(kappa) against kappa
    assert tune.rate < q.gd_contraction(q.optimal_step)


def test_tuning_validation():
    q = Quadratic(np.diag([2.0, 1.0]))
    with pytest.raises(ValueError, match="eta must be > 0"):
        q.gd_contraction(0.0)
    with pytest.raises(TypeError, match="eta must be a real number"):
        q.gd_contraction("0.1")
    with pytest.raises(ValueError, match="eta must be finite"):
        q.gd_contraction(np.inf)


# -- heavy ball mode by mode, and step counts to a relative error ------------------------------


def test_heavy_ball_iterates_equal_the_iterative_run():
    """The closed form (one scalar recursion per mode) against ``run_heavy_ball`` (the generic
    loop on ``w``): the same linear recursion evaluated in two bases. The 2x2 mode matrices are
    not normal, so an error of one ulp can be amplified transiently by up to ``~k`` (the factor
    ``2k + 1`` of the heavy-ball bound) before it decays: over 80 steps, agreement to ~1e-13 of
    the scale of the iterates, well inside the 1e-10 used."""
    from ibcore.descent import run_heavy_ball

    q, rng = _random_quadratic(13, d=5, rank=3)  # singular H: two modes never move
    w0 = rng.standard_normal(5)
    scale = 1.0 + np.linalg.norm(w0) + np.linalg.norm(q.minimizer)
    steps = np.arange(81)
    # (eta lambda_max, momentum): plain GD, Polyak-like, and a step past GD's threshold 2 that
    # momentum keeps stable (heavy ball needs eta lambda < 2 (1 + momentum) = 3)
    for factor, m in ((0.5, 0.0), (1.0, 0.6), (2.5, 0.5)):
        eta = factor / q.lambda_max
        run = run_heavy_ball(q, w0, eta, m, 80, checkpoints=steps)
        exact = q.heavy_ball_iterates(w0, eta, m, steps)
        np.testing.assert_allclose(exact, run.w, rtol=0, atol=1e-10 * scale)
    # momentum 0 is GD; unordered and repeated step indices are answered in the order given
    np.testing.assert_allclose(q.heavy_ball_iterates(w0, 0.7 / q.lambda_max, 0.0, [30, 0, 30]),
                               q.gd_iterates(w0, 0.7 / q.lambda_max, [30, 0, 30]),
                               rtol=0, atol=1e-12 * scale)
    # the null-space component is never changed
    P_null = q.eigvecs[:, q.eigvals == 0] @ q.eigvecs[:, q.eigvals == 0].T
    late = q.heavy_ball_iterates(w0, 1.0 / q.lambda_max, 0.6, [500])[0]
    np.testing.assert_allclose(P_null @ late, P_null @ w0, atol=1e-12 * scale)


def test_heavy_ball_iterates_polyak_bottom_mode_is_exact():
    """With Polyak's tuning the bottom mode has a double characteristic root ``rate``: its
    error is exactly ``rate^k (1 + k (1 - rate))`` times its start (``U_k(1) = k + 1``). 300
    steps of a 2x2 recursion with a double root: rounding grows like ``k^2 eps`` relative,
    below 1e-10; the bound ``(2k + 1) rate^k`` holds at every step for the whole error."""
    rng = np.random.default_rng(14)
    V, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    q = Quadratic(V @ np.diag(np.geomspace(1e-2, 1.0, 8)) @ V.T)
    tune = q.heavy_ball_tuning()
    w0 = rng.standard_normal(8)
    k = np.arange(301)
    w = q.heavy_ball_iterates(w0, tune.eta, tune.momentum, k)
    z_bottom = w @ q.eigvecs[:, 0]
    np.testing.assert_allclose(z_bottom, tune.rate**k * (1 + k * (1 - tune.rate)) * z_bottom[0],
                               rtol=1e-10)
    err = np.linalg.norm(w, axis=1) / np.linalg.norm(w0)
    assert np.all(err <= (2 * k + 1) * tune.rate**k * (1 + 1e-12))
    # a step past the heavy ball's threshold 2 (1 + momentum) / lambda_max grows (can fail)
    bad = q.heavy_ball_iterates(w0, 2.1 * (1 + tune.momentum) / q.lambda_max, tune.momentum, [200])
    assert np.linalg.norm(bad) > 1e3 * np.linalg.norm(w0)


def test_steps_to_error_is_minimal_and_matches_the_contraction():
    """Counts of GD steps to a relative error ``eps`` on ``diag(1, 1/kappa)`` from ``(1, 1)``.

    The chapter's check of these counts rests on two predictions. At ``eta = 1/lambda_max`` the
    top mode vanishes after one step and the bottom one (``1/sqrt 2`` of ``|w0|``) contracts by
    ``1 - 1/kappa``: ``k = ceil(log(eps sqrt 2) / log(1 - 1/kappa))``. At the best step
    ``eta*`` both modes contract by ``q = (kappa - 1)/(kappa + 1)``: ``k = ceil(log eps /
    log q)``. The count is an integer and the prediction is the ceiling of a real number that
    rounding can move across an integer, hence the tolerance of one step."""
    eps = 1e-6
    for kappa in (10.0, 100.0, 1000.0):
        q = Quadratic(np.diag([1.0, 1.0 / kappa]))
        w0 = np.array([1.0, 1.0])
        counts = []
        for eta in (1.0, q.optimal_step):
            k = q.steps_to_error(w0, eta, eps)
            err = np.linalg.norm(q.gd_iterates(w0, eta, [k - 1, k]), axis=1) / np.sqrt(2)
            assert err[1] <= eps < err[0]  # minimal
            counts.append(k)
        assert abs(counts[0] - np.ceil(np.log(eps * np.sqrt(2)) / np.log1p(-1 / kappa))) <= 1
        assert abs(counts[1] - np.ceil(np.log(eps) / np.log((kappa - 1) / (kappa + 1)))) <= 1
        assert counts[1] < 0.6 * counts[0]  # the best step halves the count
    # singular H: the null-space component does not count (GD never changes it)
    q0 = Quadratic(np.diag([1.0, 0.0]))
    assert q0.steps_to_error([1.0, 5.0], 0.5, 1e-3) == 10  # 0.5^10 < 1e-3 < 0.5^9
    assert q0.steps_to_error([0.0, 5.0], 0.5, 1e-3) == 0
    with pytest.raises(ValueError, match="eps must be < 1"):
        q0.steps_to_error([1.0, 1.0], 0.5, 1.0)
    with pytest.raises(ValueError, match="stability threshold 2/λ_max"):
        q0.steps_to_error([1.0, 1.0], 2.0, 0.1)


def test_heavy_ball_iterates_validation():
    q = Quadratic(np.diag([2.0, 1.0]))
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\)"):
        q.heavy_ball_iterates([1.0, 1.0], 0.1, 1.0, [3])
    with pytest.raises(TypeError, match="momentum must be a real number"):
        q.heavy_ball_iterates([1.0, 1.0], 0.1, "0.5", [3])
    with pytest.raises(ValueError, match="eta must be > 0"):
        q.heavy_ball_iterates([1.0, 1.0], 0.0, 0.5, [3])
    with pytest.raises(ValueError, match="steps must be a 1-D array of non-negative integers"):
        q.heavy_ball_iterates([1.0, 1.0], 0.1, 0.5, [-1])
    with pytest.raises(ValueError, match="w0 must have length 2"):
        q.heavy_ball_iterates([1.0], 0.1, 0.5, [3])


def test_heavy_ball_steps_to_error_is_the_last_crossing():
    """The count is checked against a brute-force iterative run (``run_heavy_ball``) far past
    the horizon, and against the two bounds of the chapter: the bottom mode alone is at least
    ``rate^k`` times its share of ``|w0|`` (lower bound), and ``(2k + 1) rate^k`` bounds the
    whole error (upper bound); both grow like ``sqrt(kappa)``."""
    from ibcore.descent import run_heavy_ball

    eps = 1e-6
    for kappa in (4.0, 100.0, 1000.0):
        q = Quadratic(np.diag([1.0, 1.0 / kappa]))
        w0 = np.array([1.0, 1.0])
        tune = q.heavy_ball_tuning()
        k = q.heavy_ball_steps_to_error(w0, eps)
        n = 3 * k + 200
        run = run_heavy_ball(q, w0, tune.eta, tune.momentum, n, checkpoints=np.arange(n + 1))
        err = np.linalg.norm(run.w, axis=1) / np.sqrt(2)
        assert err[k - 1] > eps and np.all(err[k:] <= eps)
        assert np.ceil(np.log(eps * np.sqrt(2)) / np.log(tune.rate)) <= k
        ks = np.arange(1, 10**5)
        assert k <= ks[np.argmax((2 * ks + 1) * tune.rate**ks <= eps)]
    # kappa = 1: one step; at the minimiser: none; the null space of H does not count
    assert Quadratic(np.eye(2)).heavy_ball_steps_to_error([1.0, 2.0], 1e-3) == 1
    assert Quadratic(np.eye(2)).heavy_ball_steps_to_error([0.0, 0.0], 1e-3) == 0
    assert Quadratic(np.diag([1.0, 0.0])).heavy_ball_steps_to_error([0.0, 3.0], 1e-3) == 0
    with pytest.raises(ValueError, match="eps must be < 1"):
        Quadratic(np.eye(2)).heavy_ball_steps_to_error([1.0, 1.0], 1.5)
    with pytest.raises(ValueError, match="eps must be > 0"):
        Quadratic(np.eye(2)).heavy_ball_steps_to_error([1.0, 1.0], 0.0)


def test_gd_at_the_best_step_stays_under_its_bound():
    """GD at ``eta* = 2/(lambda_min + lambda_max)`` from any start: ``||w_k - w*|| <=
    q(eta*)^k ||w_0 - w*||`` at every step, and with equality from either extreme eigenvector.
    The chapter asserts the bound on an iterative run with the factor ``1 + 1e-12``. Argument:
    with ``w* = 0`` every quantity is relative, each step adds a relative rounding of a few
    ``eps`` per mode, so after 300 steps the run exceeds the exact value by at most ``~300 *
    few eps ~ 1e-13`` relative; 1e-12 (about 4500 eps) leaves a margin, and the equality
    from the extreme eigenvectors is checked to 1e-11 for the same reason."""
    rng = np.random.default_rng(6)
    V, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    q = Quadratic(V @ np.diag(np.geomspace(1e-2, 1.0, 50)) @ V.T)
    r = q.gd_contraction(q.optimal_step)
    k = np.arange(301)
    w0 = rng.standard_normal(50)
    err = np.linalg.norm(run_gd(q, w0, q.optimal_step, 300, checkpoints=k).w, axis=1)
    assert np.all(err <= r**k * np.linalg.norm(w0) * (1 + 1e-12))
    for start in (q.eigvecs[:, 0], q.eigvecs[:, -1]):
        ext = run_gd(q, start, q.optimal_step, 300, checkpoints=k)
        np.testing.assert_allclose(np.linalg.norm(ext.w, axis=1), r**k, rtol=1e-11)
    # a slightly larger step is worse on the top eigenvector: the bound at eta* can fail there
    worse = run_gd(q, q.eigvecs[:, -1], 1.01 * q.optimal_step, 300)
    assert np.linalg.norm(worse.final) > 10 * r**300


def test_exact_flow_is_what_gradient_flow_returns():
    """gradient_flow dispatches on the ``exact_flow`` method (no isinstance, no import cycle):
    the FlowPath holds ``Quadratic.flow`` and its losses, and the input checks still apply."""
    q = Quadratic(np.diag([2.0, 0.5]), b=[1.0, 0.0])
    t = np.array([0.0, 0.5, 3.0])
    path = q.exact_flow([1.0, -1.0], t)
    assert isinstance(path, FlowPath)
    assert np.array_equal(path.w, q.flow([1.0, -1.0], t))
    assert np.array_equal(path.loss, q.loss(path.w))
    via = gradient_flow(q, [1.0, -1.0], t)
    assert np.array_equal(via.w, path.w) and np.array_equal(via.t, t)
    with pytest.raises(ValueError, match="strictly increasing"):
        gradient_flow(q, [1.0, -1.0], [1.0, 0.5])
    with pytest.raises(ValueError, match="w0 must have length 2"):
        q.exact_flow([1.0], t)
