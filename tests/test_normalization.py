"""Tests of ibcore.normalization: scale invariance, norm dynamics, weight decay <-> schedules."""

import math

import numpy as np
import pytest

from ibcore import DivergenceError
from ibcore import normalization as nz
from ibcore.descent import DEFAULT_BLOWUP_FACTOR, run_gd
from ibcore.ntk import empirical_ntk


@pytest.fixture(scope="module")
def unit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    y = 2 * X @ np.array([0.5, -0.5, 0.5, 0.5]) + 0.3 * rng.standard_normal(30)
    return nz.NormalizedLinear(X, y, gain=2.0)


@pytest.fixture(scope="module")
def unit2():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 2))
    y = X @ np.array([0.6, 0.8]) + 0.2 * rng.standard_normal(20)
    return nz.NormalizedLinear(X, y, gain=1.5)


# -- the split modules' helpers -----------------------------------------------------------------


def test_split_modules_are_re_exported_by_normalization():
    from ibcore import deep_product, exponential_lr, scale_invariance, sharpness_reduction
    from ibcore import weight_decay as wdm

    for mod in (deep_product, exponential_lr, scale_invariance, sharpness_reduction, wdm):
        for name in mod.__all__:
            if name not in ("check_step_and_decay", "nonzero_points", "sphere_hessians"):
                assert getattr(nz, name) is getattr(mod, name), name


def test_check_step_and_decay():
    from ibcore.weight_decay import check_step_and_decay

    assert check_step_and_decay(0.5, 0.1) == (0.5, 0.1)
    assert check_step_and_decay(2, 0) == (2.0, 0.0)
    with pytest.raises(ValueError, match=r"eta \* weight_decay = 1 must be < 1"):
        check_step_and_decay(2.0, 0.5)
    with pytest.raises(ValueError, match="eta must be > 0"):
        check_step_and_decay(0.0, 0.1)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        check_step_and_decay(0.1, -1.0)


def test_nonzero_points():
    from ibcore.scale_invariance import nonzero_points

    W, single = nonzero_points([1.0, 2.0], 2)
    assert single and W.shape == (1, 2) and W.dtype == np.float64
    W, single = nonzero_points(np.ones((3, 2)), 2)
    assert not single and W.shape == (3, 2)
    with pytest.raises(ValueError, match="w0 must be non-zero"):
        nonzero_points([[1.0, 0.0], [0.0, 0.0]], 2, "w0")
    with pytest.raises(ValueError, match="2 coordinates"):
        nonzero_points([1.0, 2.0, 3.0], 2)
    with pytest.raises(ValueError, match="point"):
        nonzero_points(np.ones((2, 2, 2)), 2)
    with pytest.raises(ValueError, match="finite"):
        nonzero_points([np.nan, 1.0], 2)


def test_sphere_hessians_match_finite_differences_of_the_gradient():
    from ibcore.scale_invariance import sphere_hessians

    # F(u) = (1/2) u^T A u - b.u + cubic term, so that HF depends on u (passed per point)
    rng = np.random.default_rng(3)
    A = rng.standard_normal((3, 3))
    A = A + A.T
    b, c = rng.standard_normal(3), rng.standard_normal(3)

    def grad_L(w):  # L(w) = F(w / |w|), grad L = P grad F(u) / |w|
        r = np.linalg.norm(w)
        u = w / r
        gF = A @ u - b + (c @ u) ** 2 * c
        return (gF - (gF @ u) * u) / r

    U = rng.standard_normal((4, 3))
    U /= np.linalg.norm(U, axis=1)[:, None]
    gF = U @ A - b + ((U @ c) ** 2)[:, None] * c
    HF = A[None] + 2 * (U @ c)[:, None, None] * np.outer(c, c)[None]
    H = sphere_hessians(U, gF, HF)
    h = 1e-6
    for u, Hu in zip(U, H, strict=True):
        fd = np.array([(grad_L(u + h * e) - grad_L(u - h * e)) / (2 * h) for e in np.eye(3)])
        np.testing.assert_allclose(Hu, fd.T, atol=1e-7)
        np.testing.assert_allclose(Hu, Hu.T, atol=1e-14)
        assert abs(u @ Hu @ u) < 1e-12  # the radial direction is flat: P u = 0, (P G) . u = 0
        # at w = r u the Hessian is H(u) / r^2
        fd3 = np.array([(grad_L(3 * u + h * e) - grad_L(3 * u - h * e)) / (2 * h)
                        for e in np.eye(3)])
        np.testing.assert_allclose(Hu / 9, fd3.T, atol=1e-7)


# -- schedules and equilibria -------------------------------------------------------------------


def test_with_weight_decay(unit):
    w = np.array([0.3, -1.2, 0.7, 2.0])
    loss, g = unit(w)
    lw, gw = nz.with_weight_decay(unit, 0.1)(w)
    assert lw == pytest.approx(loss + 0.05 * (w @ w), rel=1e-15)
    np.testing.assert_allclose(gw, g + 0.1 * w, rtol=1e-15)
    # one GD step on it is the weight-decay step (1 - eta mu) w - eta grad L(w)
    step = run_gd(nz.with_weight_decay(unit, 0.1), w, 0.5, 1, checkpoints=[1]).w[-1]
    np.testing.assert_allclose(step, (1 - 0.05) * w - 0.5 * g, rtol=1e-14)
    assert nz.with_weight_decay(unit, 0.0)(w)[0] == loss
    with pytest.raises(TypeError, match="fun must be callable"):
        nz.with_weight_decay(3.0, 0.1)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        nz.with_weight_decay(unit, -0.1)


def test_exponential_schedule_formula():
    s = nz.exponential_schedule(0.1, 0.2, 5)
    expected = 0.1 * (1 - 0.02) ** -(2 * np.arange(5) + 1.0)
    np.testing.assert_allclose(s, expected, rtol=1e-14)
    assert nz.exponential_schedule(0.1, 0.0, 3).tolist() == [0.1, 0.1, 0.1]
    assert nz.exponential_schedule(0.1, 0.2, 0).size == 0


def test_weight_decay_equals_exponential_schedule(unit):
    eta, mu, T = 0.05, 0.01, 200  # stable regime: rounding differences are not amplified
    steps = np.arange(T + 1)
    a = run_gd(nz.with_weight_decay(unit, mu), np.ones(4) / 2, eta, T, checkpoints=steps)
    sched = nz.exponential_schedule(eta, mu, T)
    b = run_gd(unit, np.ones(4) / 2, lambda k: sched[k], T, checkpoints=steps)
    scale = nz.equivalence_scale(eta, mu, steps)[:, None]
    np.testing.assert_allclose(b.w / scale, a.w, rtol=1e-12, atol=1e-13)
    # the schedule without the factor eta (as the lecture notes state it) does not match
    c = run_gd(unit, np.ones(4) / 2, lambda k: sched[k] / eta, T, checkpoints=steps)
    assert np.max(np.abs(c.w / scale - a.w)) > 1e-3


@pytest.mark.parametrize("eta, mu", [(1.0, 1.0), (2.0, 0.6), (10.0, 0.5)])
def test_schedule_refuses_eta_lambda_at_least_one(eta, mu):
    with pytest.raises(ValueError, match=r"eta \* weight_decay .* must be < 1"):
        nz.exponential_schedule(eta, mu, 10)
    with pytest.raises(ValueError, match="must be < 1"):
        nz.equivalence_scale(eta, mu, 3)
    with pytest.raises(ValueError, match="must be < 1"):
        nz.equilibrium_norm(eta, mu, 1.0)


def test_schedule_errors():
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        nz.exponential_schedule(0.1, -0.1, 5)
    with pytest.raises(ValueError, match="eta must be > 0"):
        nz.exponential_schedule(0.0, 0.1, 5)
    with pytest.raises(ValueError, match="overflows float64"):
        nz.exponential_schedule(0.5, 1.0, 10_000)
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        nz.exponential_schedule(0.1, 0.1, 2.5)
    with pytest.raises(ValueError, match="non-negative"):
        nz.equivalence_scale(0.1, 0.1, [-1, 2])


def test_equilibrium_norm_is_fixed_point_and_attracts():
    eta, mu, G = 0.5, 0.02, 0.7
    r = nz.equilibrium_norm(eta, mu, G)
    s = r * r
    assert abs((1 - eta * mu) ** 2 * s + eta**2 * G**2 / s - s) < 1e-14 * s
    # the rotation toy has constant spherical gradient: its run converges to r*
    rot = nz.RotationLoss(c=G)
    for r0 in (0.01, 3.0, 50.0):
        run = nz.run_scale_invariant_gd(rot, [r0, 0.0], eta=eta, n_steps=3000, weight_decay=mu)
        assert abs(run.norm[-1] / r - 1) < 1e-10
        np.testing.assert_allclose(run.sphere_grad, G)
    with pytest.raises(ValueError, match="no equilibrium"):
        nz.equilibrium_norm(0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match="sphere_grad must be > 0"):
        nz.equilibrium_norm(0.1, 0.1, 0.0)


# -- the numpy scale-invariant loss ---------------------------------------------------------


def test_normalized_linear_identities(unit):
    w = np.array([0.3, -1.2, 0.7, 2.0])
    loss, g = unit(w)
    for c in (1e-3, 0.4, 9.0, 1e4):
        lc, gc = unit(c * w)
        assert abs(lc - loss) <= 1e-13 * loss
        np.testing.assert_allclose(c * gc, g, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(c**2 * unit.hessian(c * w), unit.hessian(w), atol=1e-10)
    assert abs(g @ w) <= 1e-14 * np.linalg.norm(g) * np.linalg.norm(w)
    assert unit.sphere_grad_norm(w) == pytest.approx(np.linalg.norm(w) * np.linalg.norm(g))


def test_normalized_linear_derivatives_match_finite_differences(unit):
    w = np.array([0.3, -1.2, 0.7, 2.0])
    h = 1e-6
    E = np.eye(4)
    g_fd = np.array([(unit(w + h * e)[0] - unit(w - h * e)[0]) / (2 * h) for e in E])
    np.testing.assert_allclose(unit(w)[1], g_fd, atol=1e-8)
    H_fd = np.array([(unit(w + h * e)[1] - unit(w - h * e)[1]) / (2 * h) for e in E])
    np.testing.assert_allclose(unit.hessian(w), H_fd, atol=1e-7)


def test_normalized_linear_batch_and_unnormalized(unit):
    W = np.random.default_rng(3).standard_normal((5, 4))
    losses, grads = unit(W)
    for i in range(5):
        li, gi = unit(W[i])
        assert losses[i] == pytest.approx(li, rel=1e-14)
        np.testing.assert_allclose(grads[i], gi, rtol=1e-13, atol=1e-15)
    # the unnormalized unit is a quadratic: GD diverges just above 2/lambda_max, not below
    lim = unit.unnormalized_stability_limit()
    w0 = np.ones(4)
    assert run_gd(unit.unnormalized(), w0, 1.05 * lim, 2000).diverged
    assert not run_gd(unit.unnormalized(), w0, 0.95 * lim, 2000).diverged


def test_min_loss_matches_dense_search(unit2):
    t = np.linspace(0, 2 * np.pi, 200_001)
    U = np.c_[np.cos(t), np.sin(t)]
    brute = unit2(U)[0].min()
    assert unit2.min_loss() <= brute + 1e-12
    assert unit2.min_loss() >= brute - 1e-9  # grid spacing 3e-5 rad: error O(spacing^2)


def test_normalized_linear_errors(unit):
    with pytest.raises(ValueError, match="non-zero"):
        unit(np.zeros(4))
    with pytest.raises(ValueError, match="w must have 4 coordinates"):
        unit(np.ones(3))
    with pytest.raises(ValueError, match="at least 2 columns"):
        nz.NormalizedLinear(np.ones((3, 1)), np.ones(3))
    with pytest.raises(ValueError, match="length 3"):
        nz.NormalizedLinear(np.ones((3, 2)), np.ones(4))
    with pytest.raises(ValueError, match="gain must be > 0"):
        nz.NormalizedLinear(np.ones((3, 2)), np.ones(3), gain=0.0)
    with pytest.raises(ValueError, match="one point"):
        unit.hessian(np.ones((2, 4)))


# -- runs and theorems --------------------------------------------------------------------------


@pytest.mark.parametrize("mu", [0.0, 0.003])
def test_norm_recursion_is_exact(unit, mu):
    eta = 3.0
    run = nz.run_scale_invariant_gd(unit, [1.0, 0.0, 0.0, 0.0], eta=eta, n_steps=300,
                                    weight_decay=mu)
    r2 = run.norm**2
    pred = (1 - eta * mu) ** 2 * r2[:-1] + eta**2 * run.sphere_grad[:-1] ** 2 / r2[:-1]
    np.testing.assert_allclose(r2[1:], pred, rtol=1e-12)
    np.testing.assert_allclose(run.eff_lr, eta / r2)
    if mu == 0.0:
        assert np.all(np.diff(run.norm) >= 0)


def test_batched_run_equals_single_runs(unit):
    W0 = np.array([[1.0, 0, 0, 0], [0, 5.0, 1.0, 0]])
    both = nz.run_scale_invariant_gd(unit, W0, eta=0.7, n_steps=50, weight_decay=0.01)
    for j in range(2):
        one = nz.run_scale_invariant_gd(unit, W0[j], eta=0.7, n_steps=50, weight_decay=0.01)
        np.testing.assert_allclose(both.w[:, j], one.w, rtol=1e-13)
        np.testing.assert_allclose(both.loss[:, j], one.loss, rtol=1e-13)


def test_run_errors(unit):
    with pytest.raises(TypeError, match="scale-invariant loss object"):
        nz.run_scale_invariant_gd(unit.unnormalized(), np.ones(4), eta=0.1, n_steps=5)
    with pytest.raises(ValueError, match="must be < 1"):
        nz.run_scale_invariant_gd(unit, np.ones(4), eta=10.0, n_steps=5, weight_decay=0.2)
    with pytest.raises(ValueError, match="non-zero"):
        nz.run_scale_invariant_gd(unit, np.zeros(4), eta=0.1, n_steps=5)


def test_run_raises_divergence_error_when_the_weights_overflow():
    # eta = 1e308 times the gradient (0, 1e5) overflows: w_1 = (1e-5, -inf), whose gradient
    # c (-w_2, w_1) / ||w_1||^2 = (inf / inf, 0) is NaN, so w_2 and the loss at step 2 are NaN
    with pytest.raises(DivergenceError) as err:
        nz.run_scale_invariant_gd(nz.RotationLoss(), [1e-5, 0.0], eta=1e308, n_steps=5)
    assert err.value.step == 2 and err.value.run == 0 and "smaller eta" in str(err.value)


def test_sphere_smoothness_matches_grid(unit2):
    t = np.linspace(0, 2 * np.pi, 40_001)
    grid = max(np.linalg.norm(unit2.hessian(np.array([math.cos(a), math.sin(a)])), 2) for a in t)
    est = nz.sphere_smoothness(unit2, n_draws=200, seed=0)
    # the grid (spacing 1.6e-4 rad) misses the maximum by O(spacing^2) ~ 1e-8 relative
    assert est <= grid * (1 + 1e-7) and est >= grid * (1 - 1e-6)
    with pytest.raises(TypeError, match="NormalizedLinear"):
        nz.sphere_smoothness(nz.RotationLoss(), seed=0)


@pytest.mark.parametrize("eta", [0.05, 1.0, 30.0])
def test_auto_rate_tuning_count_bound_holds(unit2, eta):
    Lam = nz.sphere_smoothness(unit2, n_draws=200, seed=0)
    run = nz.run_scale_invariant_gd(unit2, [0.0, 1.0], eta=eta, n_steps=4000)
    eps = 1e-3 * Lam**2
    count = int(np.sum(run.sphere_grad**2 > eps))
    assert count <= nz.convergence_count_bound(Lam, eta, 1.0, eps)
    assert run.sphere_grad[-1] ** 2 < eps  # converged for every eta
    # the bound increases with Lam (so an under-estimated Lam gives a stricter check)
    assert nz.convergence_count_bound(2 * Lam, eta, 1.0, eps) > nz.convergence_count_bound(
        Lam, eta, 1.0, eps
    )


@pytest.mark.parametrize("eta", [0.05, 1.0, 30.0])
def test_descent_across_an_orthogonal_step_along_runs(unit2, eta):
    """Lemma 'Descent across an orthogonal step' at every step of a run (x = w_t,
    v = -eta grad L(w_t)): L(w_{t+1}) <= L(w_t) - eta ||grad||^2 + Lam eta^2 ||grad||^2 / (2 r_t^2).

    With Lam exact (a fine grid of the circle) the slack must be >= 0 up to rounding of the
    losses (1e-12 absolute covers it). The chapter runs the same check with Lam from
    :func:`sphere_smoothness`, a lower estimate; there the slack is at least 0.6 of the quadratic
    term, so an under-estimate of Lam by less than 60% cannot make that check fail spuriously.
    """
    t = np.linspace(0.0, 2 * np.pi, 4001)
    circle = np.c_[np.cos(t), np.sin(t)]
    Lam = max(np.linalg.norm(unit2.hessian(u), 2) for u in circle)
    run = nz.run_scale_invariant_gd(unit2, [0.3, -1.0], eta=eta, n_steps=400)
    g = unit2(run.w[:-1])[1]
    v2 = eta**2 * np.sum(g**2, axis=1)
    quad = Lam * v2 / (2 * run.norm[:-1] ** 2)
    slack = run.loss[:-1] - v2 / eta + quad - run.loss[1:]
    assert np.all(slack >= -1e-12)
    # not vacuous: without the quadratic term the inequality fails at large steps
    if eta >= 1.0:
        assert np.any(run.loss[1:] > run.loss[:-1] - v2 / eta + 1e-12)


def test_wd_theorem_holds(unit2):
    Lam = nz.sphere_smoothness(unit2, n_draws=200, seed=0)
    eta, mu = 0.1, 3e-3
    delta = 8 * math.pi**4 * Lam**2 * mu * eta
    r0s = np.array([0.01, 1.0, 100.0])
    bounds = [nz.wd_convergence_time_bound(Lam, eta, mu, r) for r in r0s]
    run = nz.run_scale_invariant_gd(
        unit2, np.array([1.0, 0.0]) * r0s[:, None], eta=eta, n_steps=int(max(bounds)) + 1,
        weight_decay=mu
    )
    for j in range(3):
        hits = np.flatnonzero(run.sphere_grad[:, j] ** 2 <= delta)
        assert hits.size and hits[0] <= bounds[j]
    expected = (abs(math.log(1e4 / (math.pi**2 * Lam * eta))) + 3) / (2 * eta * mu)
    assert bounds[2] == pytest.approx(expected, rel=1e-14)


def test_bound_errors():
    with pytest.raises(ValueError, match="1/4"):
        nz.wd_convergence_time_bound(1.0, 1.0, 0.3, 1.0)
    with pytest.raises(ValueError, match="1/4"):
        nz.wd_convergence_time_bound(1.0, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        nz.convergence_count_bound(1.0, 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="w0_norm must be > 0"):
        nz.convergence_count_bound(1.0, 1.0, 0.0, 1.0)


# -- the product model --------------------------------------------------------------------------


def test_product_threshold_is_sharp():
    z = np.array([1.0, 1.0, 1.0, -1.0])
    for k in (2, 4, 6):
        c = nz.product_blowup_threshold(3.0, k, z)
        assert nz.product_gd(3.0, k, z, eta=1.001 * c, n_steps=1).W[1] > 3.0
        assert nz.product_gd(3.0, k, z, eta=0.999 * c, n_steps=1).W[1] < 3.0
    # the lecture notes' exponent 1/k - 1 gives a smaller threshold that is not sharp (k = 4)
    notes = 2 * 3.0 ** (1 / 4 - 1) / (-np.sum(z / (1 + np.exp(3.0 * z))))
    assert notes < nz.product_blowup_threshold(3.0, 4, z)
    assert nz.product_gd(3.0, 4, z, eta=1.05 * notes, n_steps=1).W[1] < 3.0


def test_product_gd_stops_on_blowup_and_errors():
    z = np.array([1.0, 1.0, 1.0, -1.0])
    c = nz.product_blowup_threshold(3.0, 4, z)
    run = nz.product_gd(3.0, 4, z, eta=2 * c, n_steps=100)
    assert run.diverged_at is not None and run.W.shape == (run.diverged_at,)
    # the descent policy: stop at the first W_t above 1e12 max(1, W_0); everything before is kept
    assert np.all(np.isfinite(run.W)) and 0 < run.W[-1] <= DEFAULT_BLOWUP_FACTOR * 3.0
    assert np.all(np.diff(run.W) > 0)
    tight = nz.product_gd(3.0, 4, z, eta=2 * c, n_steps=100, blowup_factor=10.0)
    assert tight.diverged_at < run.diverged_at and np.all(tight.W <= 30.0)
    calm = nz.product_gd(3.0, 4, z, eta=0.5 * c, n_steps=20)
    assert calm.diverged_at is None and calm.W.shape == (21,) and calm.W[0] == 3.0
    with pytest.raises(ValueError, match="blowup_factor"):
        nz.product_gd(3.0, 4, z, eta=0.1, n_steps=5, blowup_factor=0.5)
    with pytest.raises(ValueError, match="even"):
        nz.product_gd(3.0, 3, z, eta=0.1, n_steps=5)
    with pytest.raises(ValueError, match="non-separable"):
        nz.product_blowup_threshold(3.0, 4, np.ones(3))
    with pytest.raises(ValueError, match="above the minimiser"):
        nz.product_blowup_threshold(0.5, 4, z)


# -- torch models -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(4)
    return rng.standard_normal((12, 3)), rng.standard_normal(12)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_mlp_is_scale_invariant_per_layer(data, norm):
    """Scale invariance of normalized networks, per layer and jointly, to rounding.

    The tolerances (here and in the chapter's identity check, 1e-12 relative on the loss and
    1e-10 on c grad L(cw)) follow from float64 arithmetic: each quantity passes through about
    100 roundings of relative size 1e-16, and the normalization divides the scale c out exactly
    up to rounding, so the errors seen are ~1e-15; the tolerances leave a margin of 10^2 to 10^4
    over them, while a violation of invariance (e.g. eps > 0 at tiny weights) is O(1e-2) or more.
    """
    X, y = data
    net = nz.ScaleInvariantMLP(3, (8, 6), norm=norm, seed=0)
    fun = nz.torch_objective(net, X, y)
    w = net.w0
    loss, g = fun(w)
    for sl in net.slices:
        w2 = w.copy()
        w2[sl] *= 13.0
        assert abs(fun(w2)[0] - loss) <= 1e-13 * loss
        assert abs(g[sl] @ w[sl]) <= 1e-13 * np.linalg.norm(g) * np.linalg.norm(w)
    np.testing.assert_allclose(5.0 * fun(5.0 * w)[1], g, rtol=1e-10, atol=1e-14)


def test_mlp_without_norm_is_homogeneous(data):
    import torch

    X, _ = data
    net = nz.ScaleInvariantMLP(3, (8, 6), norm="none", seed=0)
    w = torch.tensor(net.w0)
    f = net.forward(torch.tensor(X), w)
    np.testing.assert_allclose(net.forward(torch.tensor(X), 2.0 * w), 4.0 * f, rtol=1e-12)
    np.testing.assert_allclose(net.forward(torch.tensor(3.0 * X), w), 3.0 * f, rtol=1e-12)


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_torch_objective_gradient_and_hvp(data, loss):
    X, y = data
    y = np.sign(y) if loss == "logistic" else y
    net = nz.ScaleInvariantMLP(3, (5,), norm="layer", seed=2)
    fun = nz.torch_objective(net, X, y, loss=loss)
    w = net.w0
    v = np.random.default_rng(0).standard_normal(w.size)
    h = 1e-6
    d_fd = (fun(w + h * v)[0] - fun(w - h * v)[0]) / (2 * h)
    assert fun(w)[1] @ v == pytest.approx(d_fd, rel=1e-6, abs=1e-9)
    hv_fd = (fun(w + h * v)[1] - fun(w - h * v)[1]) / (2 * h)
    np.testing.assert_allclose(fun.hvp(w, v), hv_fd, atol=1e-6)


def test_torch_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="norm must be"):
        nz.ScaleInvariantMLP(3, (4,), norm="group", seed=0)
    with pytest.raises(TypeError, match="widths"):
        nz.ScaleInvariantMLP(3, 4, seed=0)
    with pytest.raises(TypeError, match="seed"):
        nz.ScaleInvariantMLP(3, (4,), seed=None)
    net = nz.ScaleInvariantMLP(4, (4,), seed=0)
    with pytest.raises(ValueError, match="d=4"):
        nz.torch_objective(net, X, y)
    with pytest.raises(ValueError, match="loss must be"):
        nz.torch_objective(nz.ScaleInvariantMLP(3, (4,), seed=0), X, y, loss="hinge")
    with pytest.raises(TypeError, match="ScaleInvariantMLP"):
        nz.torch_objective("net", X, y)
    with pytest.raises(ValueError, match="per-example"):
        empirical_ntk(nz.ScaleInvariantMLP(3, (4,), norm="batch", seed=0).module(), X, X)
    with pytest.raises(ValueError, match="length"):
        nz.ScaleInvariantMLP(3, (4,), seed=0).module(np.ones(5))


@pytest.mark.parametrize("norm", ["layer", "batch", "none"])
def test_module_is_the_network_with_the_layers_as_parameters(data, norm):
    import torch

    X, _ = data
    net = nz.ScaleInvariantMLP(3, (8, 6), norm=norm, seed=0)
    w = net.w0 + 0.1
    mod = net.module(w)
    assert [name for name, _ in mod.named_parameters()] == ["W1", "W2"]
    assert [tuple(p.shape) for p in mod.parameters()] == [(8, 3), (6, 8)]
    Xt = torch.tensor(X)
    np.testing.assert_array_equal(mod(Xt).detach().numpy(),
                                  net.forward(Xt, torch.tensor(w)).numpy())
    # the module's parameter gradients are the gradient in the flat w
    wt = torch.tensor(w, requires_grad=True)
    (g_flat,) = torch.autograd.grad(net.forward(Xt, wt).sum(), wt)
    g_mod = torch.autograd.grad(mod(Xt).sum(), list(mod.parameters()))
    np.testing.assert_allclose(torch.cat([g.ravel() for g in g_mod]).numpy(), g_flat.numpy(),
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(net.module().W1.detach().numpy().ravel(), net.w0[:24])


def test_scale_invariant_mlp_is_the_mlp_spec_network():
    from ibcore.mlp import MLPSpec, init_params

    net = nz.ScaleInvariantMLP(3, (8, 6), norm="layer", seed=4)
    assert net.spec == MLPSpec(3, (8, 6), parameterization="standard")
    assert net.spec.w_std == 1.0 and net.spec.b_std == 0.0 and net.spec.activation == "relu"
    # the spec's initialization: its hidden weight blocks are w0, its readout row the readout
    theta = init_params(net.spec, seed=4)
    layers = net.spec.layers(theta)
    np.testing.assert_array_equal(net.w0, np.concatenate([W.ravel() for W, _ in layers[:-1]]))
    np.testing.assert_array_equal(net.readout.numpy(), layers[-1][0][0])
    assert all(np.all(b == 0) for _, b in layers)
    # and the draws of the previous explicit initialization, bit for bit
    rng = np.random.default_rng(4)
    old = [rng.standard_normal(8 * 3) / math.sqrt(3), rng.standard_normal(6 * 8) / math.sqrt(8)]
    np.testing.assert_array_equal(net.w0, np.concatenate(old))
    np.testing.assert_array_equal(net.readout.numpy(), rng.standard_normal(6) / math.sqrt(6))
    with pytest.raises(TypeError, match="tuple"):
        nz.ScaleInvariantMLP(3, [8, 6], seed=0)
    with pytest.raises(ValueError, match="widths"):
        nz.ScaleInvariantMLP(3, (8, 1), seed=0)


def test_empirical_ntk_layer_norm_ignores_input_scale(data):
    X, _ = data
    ln = nz.ScaleInvariantMLP(3, (16,), norm="layer", seed=1)
    K = empirical_ntk(ln.module(), X[:4], X[:4])
    np.testing.assert_allclose(K, K.T, rtol=1e-12)
    assert np.linalg.eigvalsh(K).min() > -1e-10
    np.testing.assert_allclose(empirical_ntk(ln.module(), 7.0 * X[:4], 0.1 * X[:4]), K, rtol=1e-9)
    plain = nz.ScaleInvariantMLP(3, (16,), norm="none", seed=1)
    Kp = empirical_ntk(plain.module(), X[:4], X[:4])
    np.testing.assert_allclose(
        empirical_ntk(plain.module(), 7.0 * X[:4], 0.1 * X[:4]), 0.7 * Kp, rtol=1e-9
    )


def test_bn_classifier_structure_and_gradients():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((10, 2)) + 2, rng.standard_normal((10, 2)) - 2])
    y = np.r_[np.ones(10), -np.ones(10)]
    model = nz.BNClassifier(2, 5, use_bn=True, seed=0)
    g = nz.torch_objective(model, X, y, loss="logistic")(model.w0)[1]
    grp = model.groups
    assert np.abs(g[grp["b1"]]).max() < 1e-15  # mean subtraction removes b1
    W1 = model.w0[grp["W1"]].reshape(5, 2)
    gW1 = g[grp["W1"]].reshape(5, 2)
    assert np.abs(np.sum(W1 * gW1, axis=1)).max() < 1e-15  # row-wise scale invariance
    run = nz.train_bn_classifier(model, X, y, eta=0.1, n_steps=50, checkpoints=np.arange(51))
    traj, norms = run.trajectory, run.group_norms
    assert norms["b1"].max() - norms["b1"].min() < 1e-14
    assert np.all(np.diff(norms["W1"]) >= -1e-15) and traj.loss[-1] < traj.loss[0]
    plain = nz.BNClassifier(2, 5, use_bn=False, seed=0)
    assert plain.groups["gamma"].stop == plain.groups["gamma"].start  # no BN parameters
    with pytest.raises(TypeError, match="BNClassifier"):
        nz.train_bn_classifier(nz.ScaleInvariantMLP(2, (3,), seed=0), X, y, eta=0.1, n_steps=5)


@pytest.mark.parametrize("norm", ["layer", "none"])
def test_ntk_limit_matches_wide_network(norm):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 4)) * np.array([[1.0], [3.0], [0.2], [1.0]])
    limit = nz.one_hidden_layer_ntk_limit(X, norm=norm)
    K = empirical_ntk(nz.ScaleInvariantMLP(4, (65536,), norm=norm, seed=6).module(), X, X)
    # Theta = (x.x' or d cos) * sum_i v_i^2 1{w_i.x > 0} 1{w_i.x' > 0} (+ O(1/m) for LN): the sum
    # has relative standard deviation <= 2 sqrt(2/m) = 1.1% of the diagonal; 5% is > 4 sigma.
    assert np.abs(K - limit).max() <= 0.05 * np.abs(np.diag(limit)).max()
    # and the test can fail: the other normalization's limit is off by O(1) on these inputs
    other = nz.one_hidden_layer_ntk_limit(X, norm="none" if norm == "layer" else "layer")
    assert np.abs(K - other).max() > 0.3 * np.abs(np.diag(limit)).max()


def test_ntk_limit_layer_norm_depends_on_angles_only():
    rng = np.random.default_rng(0)
    X1, X2 = rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    K = nz.one_hidden_layer_ntk_limit(X1, X2)
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]  # a rotation (or reflection)
    a, b = np.array([0.1, 2.0, 7.0])[:, None], np.array([3.0, 0.5, 1.0, 1e3])[:, None]
    np.testing.assert_allclose(nz.one_hidden_layer_ntk_limit(a * X1 @ Q, b * X2 @ Q), K,
                               rtol=1e-12, atol=1e-14)
    # known values: theta = 0 gives d/2, theta = pi/2 gives 0, theta = pi gives 0
    e = np.eye(5)
    np.testing.assert_allclose(nz.one_hidden_layer_ntk_limit(e[:1], [e[0], e[1], -e[0]]),
                               [[2.5, 0.0, 0.0]], atol=1e-15)
    plain = nz.one_hidden_layer_ntk_limit(X1, X2, norm="none")
    np.testing.assert_allclose(nz.one_hidden_layer_ntk_limit(2 * X1, X2, norm="none"), 2 * plain)


def test_ntk_limit_errors():
    with pytest.raises(ValueError, match="norm must be"):
        nz.one_hidden_layer_ntk_limit(np.ones((2, 3)), norm="batch")
    with pytest.raises(ValueError, match="same number of columns"):
        nz.one_hidden_layer_ntk_limit(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="non-zero rows"):
        nz.one_hidden_layer_ntk_limit(np.zeros((1, 3)))


def _bad_normalization_calls():
    import torch

    net = nz.ScaleInvariantMLP(3, (5,), norm="layer", seed=0)
    bn = nz.BNClassifier(seed=0)
    X3, w = torch.ones((4, 3), dtype=torch.float64), torch.tensor(net.w0)
    X2, wb = torch.ones((4, 2), dtype=torch.float64), torch.tensor(bn.w0)
    return [
        ("mlp-widths-None", lambda: nz.ScaleInvariantMLP(3, None, seed=0), TypeError, "widths"),
        ("mlp-X-numpy", lambda: net.forward(np.ones((4, 3)), w), TypeError,
         "X must be a torch tensor"),
        ("mlp-X-cols", lambda: net.forward(X2, w), ValueError, r"X must have shape \(n, 3\)"),
        ("mlp-w-str", lambda: net.forward(X3, "w"), TypeError, "w must be a flat torch tensor"),
        ("mlp-w-short", lambda: net.forward(X3, w[:-1]), ValueError, "w must have shape"),
        ("bn-X-None", lambda: bn.forward(None, wb), TypeError, "X must be a torch tensor"),
        ("bn-w-numpy", lambda: bn.forward(X2, bn.w0), TypeError, "w must be a flat torch"),
    ]


@pytest.mark.parametrize("case", _bad_normalization_calls(), ids=lambda c: c[0])
def test_normalization_models_reject_bad_arguments(case):
    _, call, exc, match = case
    with pytest.raises(exc, match=match):
        call()


def test_product_gd_stops_early_instead_of_overflowing():
    z = np.array([1.0, -0.5, 2.0])
    run = nz.product_gd(2.0, 2, z, eta=1e200, n_steps=5)  # the first step overflows float64
    assert run.diverged_at == 1 and run.W.tolist() == [2.0]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nz.convergence_count_bound(1e200, 1e200, 1.0, 1e-3), "the bound overflows"),
        (lambda: nz.convergence_count_bound(1e150, 0.1, 1.0, 1e-3), "the bound overflows"),
        (lambda: nz.wd_convergence_time_bound(1.0, 0.1, 0.1, 1e200), "w0_norm"),
        (lambda: nz.equilibrium_norm(0.1, 0.1, 1e300), "sphere_grad"),
        (lambda: nz.NormalizedLinear(np.eye(3), np.ones(3), gain=1e200), "gain must lie"),
    ],
)
def test_normalization_bounds_reject_overflowing_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- spherical sharpness, the edge of stability and sharpness reduction --------------------------


def test_normalized_linear_sharpness_minimizer_and_references(unit):
    W = np.random.default_rng(7).standard_normal((6, 4))
    S = unit.sphere_sharpness(W)
    for i in range(6):
        u = W[i] / np.linalg.norm(W[i])
        # the Hessian at the unit vector, and scale invariance: S(c w) = S(w)
        assert S[i] == pytest.approx(np.linalg.eigvalsh(unit.hessian(u))[-1], rel=1e-12)
        assert unit.sphere_sharpness(0.01 * W[i]) == pytest.approx(S[i], rel=1e-12)
    u_star = unit.minimizer()
    assert np.linalg.norm(u_star) == pytest.approx(1.0, abs=1e-15)
    assert unit.sphere_grad_norm(u_star) < 1e-10  # a stationary point on the sphere
    assert unit(u_star)[0] == unit.min_loss()
    # no random direction does better, and the unconstrained least squares does at least as well
    assert unit(np.random.default_rng(8).standard_normal((2000, 4)))[0].min() >= unit.min_loss()
    X, y, g = unit.X, unit.y, unit.gain
    w_ls = np.linalg.solve(g**2 * X.T @ X, g * X.T @ y)  # normal equations
    assert unit.unnormalized_min_loss() == pytest.approx(unit.unnormalized()(w_ls)[0], rel=1e-12)
    assert unit.unnormalized_min_loss() <= unit.min_loss()


@pytest.fixture(scope="module")
def toy():
    return nz.NormalizedProduct(target=0.2)


def test_normalized_product_derivatives_and_invariance(toy):
    w = np.array([0.7, -0.3, 1.1])
    loss, g = toy(w)
    h, E = 1e-6, np.eye(3)
    g_fd = np.array([(toy(w + h * e)[0] - toy(w - h * e)[0]) / (2 * h) for e in E])
    np.testing.assert_allclose(g, g_fd, atol=1e-9)
    H_fd = np.array([(toy(w + h * e)[1] - toy(w - h * e)[1]) / (2 * h) for e in E])
    np.testing.assert_allclose(toy.hessian(w), H_fd, atol=1e-8)
    for c in (1e-3, 5.0, 1e3):
        assert toy(c * w)[0] == pytest.approx(loss, rel=1e-13)
        np.testing.assert_allclose(c * toy(c * w)[1], g, rtol=1e-11, atol=1e-15)
    assert abs(g @ w) < 1e-15 and toy.sphere_grad_norm(w) == pytest.approx(
        np.linalg.norm(w) * np.linalg.norm(g), rel=1e-13)
    losses, grads = toy(np.stack([w, 2 * w]))
    np.testing.assert_allclose(losses, [loss, loss], rtol=1e-13)
    np.testing.assert_allclose(grads[1], g / 2, rtol=1e-13)


def test_normalized_product_manifold_and_sharpness(toy):
    y = toy.target
    heights = np.array([0.0, 0.3, -0.5, math.sqrt(1 - 2 * y)])
    U = np.array([toy.manifold_point(h) for h in heights])
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(U[:, 0] * U[:, 1], y, rtol=1e-14)
    np.testing.assert_allclose(toy(U)[0], 0.0, atol=1e-30)
    # closed form S = 1 - u3^2 - 4 y^2, from max_sharpness (u3 = 0) to min_sharpness (balanced)
    np.testing.assert_allclose(toy.sphere_sharpness(U), 1 - heights**2 - 4 * y**2, rtol=1e-12)
    assert toy.sphere_sharpness(U[0]) == pytest.approx(toy.max_sharpness, rel=1e-12)
    assert toy.sphere_sharpness(U[-1]) == pytest.approx(toy.min_sharpness, rel=1e-12)
    np.testing.assert_allclose(U[-1][:2], math.sqrt(y), rtol=1e-7)  # balanced u1 = u2


def test_normalized_product_projection(toy):
    u = toy.manifold_point(0.4)
    np.testing.assert_allclose(toy.project(3.0 * u), u, atol=1e-15)  # points of Gamma stay
    rng = np.random.default_rng(0)
    W = u + 0.05 * rng.standard_normal((20, 3))
    P = toy.project(W)
    np.testing.assert_allclose(P[:, 0] * P[:, 1], toy.target, atol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(P, axis=1), 1.0, rtol=1e-14)
    # second order: the projection of u + d n (n the normal of Gamma) is u up to O(d^2)
    n = np.array([u[1], u[0], 0.0])
    n -= (n @ u) * u
    n /= np.linalg.norm(n)
    for d in (1e-2, 1e-3):
        assert np.linalg.norm(toy.project(u + d * n) - u) < 5 * d**2


def _flow_reference(toy, height, times, clock):
    """Reference solution of the toy's flow by ``solve_ivp`` (rtol 1e-12): on the intrinsic clock
    ``dp/ds = F(p) = -(1 - p)(p^2 - 4y^2)/(p - 4y^2)^2``; on the weight-decay clock
    ``dS/dtau = -2 R S / (S + R)``, ``R = -F``. Returns ``S = p - 4y^2``."""
    from scipy.integrate import solve_ivp

    y4 = 4 * toy.target**2

    def F(p):
        return -(1 - p) * (p * p - y4) / (p - y4) ** 2

    def rhs(_, q):
        if clock == "s":
            return F(q)
        S, R = q - y4, -F(q)
        return -2 * R * S / (S + R)

    p0 = 1 - toy.manifold_point(height)[2] ** 2
    sol = solve_ivp(rhs, (0, times[-1]), [p0], t_eval=times, rtol=1e-12, atol=1e-14)
    return sol.y[0] - y4


def test_sharpness_flow_closed_form(toy):
    """The closed form (partial fractions, inverted by bisection) against an ODE solver, on both
    clocks, from three heights; agreement to 1e-10 (the solver's tolerance is 1e-12, and from
    u3 = 0.1, near the unstable sharpest circle, its errors are amplified ~e^s)."""
    y = toy.target
    tau = np.linspace(0, 4, 41)
    S = toy.sharpness_flow(0.6, tau)
    assert S[0] == pytest.approx(1 - 0.36 - 4 * y**2, rel=1e-14)
    # decreasing to the minimum
    assert np.all(np.diff(S) < 0) and S[-1] == pytest.approx(toy.min_sharpness, rel=1e-6)
    for h in (0.6, 0.3, 0.1):
        np.testing.assert_allclose(toy.sharpness_flow(h, tau), _flow_reference(toy, h, tau, "s"),
                                   atol=1e-10)
        np.testing.assert_allclose(toy.weight_decay_flow(h, tau),
                                   _flow_reference(toy, h, tau, "tau"), atol=1e-10)
    # the sharpest circle u3 = 0 and the balanced points are fixed points; long times reach the
    # minimum to rounding
    np.testing.assert_allclose(toy.sharpness_flow(0.0, [0.0, 1.0]), toy.max_sharpness, rtol=1e-12)
    np.testing.assert_allclose(toy.weight_decay_flow(0.0, [0.0, 1.0]), toy.max_sharpness,
                               rtol=1e-12)
    hb = math.sqrt(1 - 2 * y)
    np.testing.assert_allclose(toy.sharpness_flow(hb, [0.0, 2.0]), toy.min_sharpness, rtol=1e-10)
    assert toy.sharpness_flow(0.3, 200.0) == pytest.approx(toy.min_sharpness, rel=1e-14)
    assert isinstance(toy.sharpness_flow(0.6, 0.5), float)
    assert isinstance(toy.weight_decay_flow(0.6, 0.5), float)


def test_weight_decay_flow_is_the_same_path_on_the_clock_2tau_plus_log_S(toy):
    """The weight-decay flow reaches S at tau exactly when the intrinsic flow reaches it at
    s = 2 tau + ln(S / S_0) (the clock relation of the edge of stability). Its speed relative to
    the 1/4 flow on tau is 8 / (4 + |grad_Gamma log S|^2): -> 2 at the sharpest circle (checked
    from u3 = 1e-3, where |grad log S|^2 = 6e-6: near the circle S_max - S grows exponentially,
    and over tau = 1 the log of its growth is 2x that of the 1/4 flow read on tau, to 1e-5; we
    allow 1e-4), and 1 where |grad log S| = 2; from u3 = 0.6 (S = 0.48) the path stays near that
    band, so the two flows never differ by more than 0.004 (measured 0.0038)."""
    tau = np.linspace(0, 3, 31)
    for h in (0.6, 0.3, 0.1):
        S_wd = toy.weight_decay_flow(h, tau)
        s = 2 * tau + np.log(S_wd / S_wd[0])
        np.testing.assert_allclose(toy.sharpness_flow(h, s), S_wd, rtol=1e-12)
    S0, S_max = toy.sphere_sharpness(toy.manifold_point(1e-3)), toy.max_sharpness
    growth_wd = math.log((S_max - toy.weight_decay_flow(1e-3, 1.0)) / (S_max - S0))
    growth_q = math.log((S_max - toy.sharpness_flow(1e-3, 1.0)) / (S_max - S0))
    assert growth_wd / growth_q == pytest.approx(2.0, rel=1e-4)
    fine = np.linspace(0, 3, 301)
    assert np.abs(toy.weight_decay_flow(0.6, fine) - toy.sharpness_flow(0.6, fine)).max() < 0.004
    assert np.abs(toy.weight_decay_flow(0.3, fine) - toy.sharpness_flow(0.3, fine)).max() > 0.15


def test_angular_clock_is_the_accumulated_squared_turning_angle(toy):
    """s_t = ln(||w_t||^2/||w_0||^2) - 2t ln(1 - eta mu) (how angular_clock computes it) against
    sum_k ln(1 + tan^2 theta_k) from the turning angles, an independent route through the
    directions: equal to rounding (1e-12 absolute over 3000 accumulated terms), for one run and a
    batch; and ~ sum theta_k^2 (the single run's angles reach 0.18 in an early kick: relative
    difference 6e-4 at the end; we allow 2e-3)."""
    u = toy.manifold_point(0.3)
    w0 = math.sqrt(0.5 * toy.sphere_sharpness(u) / 2) * u + np.array([0, 0, 1e-6])
    batch = np.stack([w0, 2.0 * w0 + np.array([0.0, 0.05, 0.0])])
    for start in (w0, batch):
        run = nz.run_scale_invariant_gd(toy, start, eta=0.5, n_steps=3000, weight_decay=2e-3)
        s = nz.angular_clock(run)
        theta = nz.turning_angles(run)
        ref = np.concatenate([np.zeros((1, *theta.shape[1:])),
                              np.cumsum(-2 * np.log(np.cos(theta)), axis=0)])
        assert s.shape == run.norm.shape and s[0] == pytest.approx(0.0, abs=0.0)
        np.testing.assert_allclose(s, ref, atol=1e-12)
    single = nz.run_scale_invariant_gd(toy, w0, eta=0.5, n_steps=3000, weight_decay=2e-3)
    assert nz.angular_clock(single)[-1] == pytest.approx(
        np.sum(nz.turning_angles(single) ** 2), rel=2e-3)
    # no weight decay: the clock is the log of the norm growth
    plain = nz.run_scale_invariant_gd(toy, [1.0, 0.1, 0.3], eta=0.5, n_steps=50)
    np.testing.assert_allclose(nz.angular_clock(plain), 2 * np.log(plain.norm / plain.norm[0]))


def test_sharpness_flow_matches_the_projected_gradient_flow(toy):
    """The scalar ODE of ``sharpness_flow`` against a direct integration of
    du/dtau = -(1/4) P_Gamma grad log S(u) in R^3 (S extended off Gamma by its value at the
    projection, tangent projector from the sphere normal and the normal of Gamma), by RK4."""

    def logS_grad_on_gamma(u):  # on Gamma, S = u1^2 + u2^2 - 4y^2: its gradient is (2u1, 2u2, 0)
        return np.array([2 * u[0], 2 * u[1], 0.0]) / (u[0] ** 2 + u[1] ** 2 - 4 * toy.target**2)

    def field(u):
        n = np.array([u[1], u[0], 0.0])
        n -= (n @ u) * u
        t = np.cross(u, n)
        t /= np.linalg.norm(t)
        return -0.25 * (t @ logS_grad_on_gamma(u)) * t

    u, h = toy.manifold_point(0.6), 1e-3
    for _ in range(1000):  # tau = 1
        k1 = field(u)
        k2 = field(u + h / 2 * k1)
        k3 = field(u + h / 2 * k2)
        k4 = field(u + h * k3)
        u = toy.project(u + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4))
    assert toy.sphere_sharpness(u) == pytest.approx(toy.sharpness_flow(0.6, 1.0), rel=1e-8)


def test_rest_at_a_minimizer_loses_stability_when_effective_sharpness_passes_2(toy):
    """Proposition 'Resting at a minimum is temporary': from u on Gamma with eta_eff S = 1.9 and a
    1e-3 offset along the normal of Gamma (the top eigenvector of the Hessian), the offset, read
    off |f| = |u1 u2 - y|, is multiplied by |1 - eta_eff_t S| per step, which is below 1 until
    eta_eff_t S = 2 at t* = ln(2 / 1.9) / (-2 ln(1 - eta mu)) = 256.5, and above 1 afterwards.
    So |f| is smallest at t* (measured: step 257, |f| shrunk 7e5-fold from the start, far above
    rounding); log|f| is flat there, ~2e-4 (t - t*)^2, so the argmin is sharp to a step or two:
    we allow 3. Afterwards it grows (x7 within 100 steps)."""
    eta, mu = 0.5, 2e-4
    u = toy.manifold_point(0.6)
    S = toy.sphere_sharpness(u)
    r0 = math.sqrt(eta * S / (1.9 * (1 - eta * mu)))  # eta_eff_0 S = 1.9
    n = np.array([u[1], u[0], 0.0])
    n -= (n @ u) * u
    run = nz.run_scale_invariant_gd(toy, r0 * (u + 1e-3 * n / np.linalg.norm(n)), eta=eta,
                                    n_steps=600,
                                    weight_decay=mu)
    U = run.direction
    f = np.abs(U[:, 0] * U[:, 1] - toy.target)
    t_star = math.log(2 / 1.9) / (-2 * math.log1p(-eta * mu))
    # 1.9 up to the offset's contribution to the norm, 1e-6
    assert nz.effective_sharpness(toy, run, at=u)[0] == pytest.approx(1.9, rel=2e-6)
    t_min = int(np.argmin(f))
    assert abs(t_min - t_star) <= 3
    assert f[t_min] < 1e-5 * f[0] and f[t_min + 100] > 5 * f[t_min]


def _edge_run(toy, height, emu, tau_end, eta=0.5):
    u = toy.manifold_point(height)
    r0 = math.sqrt(eta * toy.sphere_sharpness(u) / 2)  # eta S / r0^2 = 2: the edge of stability
    T = round(tau_end / emu)
    return nz.run_scale_invariant_gd(toy, r0 * u + np.array([0, 0, 1e-6]), eta=eta, n_steps=T,
                                     weight_decay=emu / eta)


@pytest.mark.parametrize("height", [0.6, 0.3])
@pytest.mark.parametrize("emu", [3e-3, 1e-3])
def test_gd_with_weight_decay_follows_the_sharpness_reduction_flow(toy, height, emu):
    """From the edge of stability on Gamma, the sharpness at the projection of the direction
    follows the flow: on the clock tau = eta mu t the weight-decay flow, with a gap of the order
    of the oscillation around Gamma, whose angle scales like sqrt(eta mu): measured 0.053, 0.028
    (u3 = 0.6, 0.3) at eta mu = 3e-3 and 0.030, 0.014 at 1e-3; we allow 1.5 sqrt(eta mu) (0.082,
    0.047). On the intrinsic clock (angular_clock) the 1/4 flow, measured 1.8-3.1 eta mu; we allow
    5 eta mu. From u3 = 0.3 the 1/4 flow read on tau (the wrong clock) is 0.16 off, so the test
    separates the two clocks; from u3 = 0.6 the two flows differ by < 0.004 and it cannot."""
    run = _edge_run(toy, height, emu, 3.0)
    idx = np.linspace(0, run.norm.size - 1, 301).astype(int)
    S = toy.sphere_sharpness(toy.project(run.w[idx]))
    gap_tau = np.abs(S - toy.weight_decay_flow(height, emu * idx)).max()
    gap_s = np.abs(S - toy.sharpness_flow(height, nz.angular_clock(run)[idx])).max()
    assert gap_tau <= 1.5 * math.sqrt(emu)
    assert gap_s <= 5 * emu
    if height == 0.3:
        assert np.abs(S - toy.sharpness_flow(height, emu * idx)).max() > 0.1
    assert S[-1] == pytest.approx(toy.min_sharpness, rel=0.01)
    # without weight decay the sharpness stays where it started
    plain = nz.run_scale_invariant_gd(toy, run.w[0], eta=run.eta, n_steps=run.norm.size - 1)
    assert toy.sphere_sharpness(toy.project(plain.w[-1])) == pytest.approx(
        toy.sphere_sharpness(toy.manifold_point(height)), rel=0.01)


def test_gap_to_the_weight_decay_flow_shrinks_from_a_sharp_start(toy):
    """From u3 = 0.3 (S = 0.75), where the 1/4 flow on tau is 0.15 off at every eta mu, the gap to
    the weight-decay flow falls from 0.014 (eta mu = 1e-3) to 0.0038 (1e-4), like sqrt(eta mu)
    (expected factor 3.2); we require at least 2. The top eigenvalue stays simple and the others
    stay far from the threshold: eta_eff |lambda_2| <= 0.15 at 1e-3 and 0.044 at 1e-4 (they are
    O(|u1 u2 - y|), zero on Gamma); we require <= 0.5 and a decrease by >= 2."""
    gaps, lam2 = [], []
    for emu in (1e-3, 1e-4):
        run = _edge_run(toy, 0.3, emu, 3.0)
        idx = np.linspace(0, run.norm.size - 1, 301).astype(int)
        S = toy.sphere_sharpness(toy.project(run.w[idx]))
        gaps.append(np.abs(S - toy.weight_decay_flow(0.3, emu * idx)).max())
        ev = np.array([np.linalg.eigvalsh(toy.hessian(run.w[i])) for i in idx[::5]])
        lam2.append(np.max(np.abs(ev[:, :2])) * run.eta / (1 - run.eta * run.weight_decay))
    assert gaps[1] <= 0.5 * gaps[0]
    assert max(lam2) <= 0.5 and lam2[1] <= 0.5 * lam2[0]


def test_effective_sharpness_formula(unit):
    run = nz.run_scale_invariant_gd(unit, np.ones(4), eta=0.3, n_steps=20, weight_decay=0.1)
    eff = nz.effective_sharpness(unit, run)
    expected = 0.3 * unit.sphere_sharpness(run.w) / ((1 - 0.03) * run.norm**2)
    np.testing.assert_allclose(eff, expected, rtol=1e-14)
    u = unit.minimizer()
    np.testing.assert_allclose(nz.effective_sharpness(unit, run, at=u),
                               0.3 * unit.sphere_sharpness(u) / (0.97 * run.norm**2), rtol=1e-14)


def _bad_sharpness_calls():
    toy = nz.NormalizedProduct(0.2)
    rng = np.random.default_rng(0)
    unit = nz.NormalizedLinear(rng.standard_normal((5, 4)), rng.standard_normal(5))
    run = nz.run_scale_invariant_gd(toy, [1.0, 0.3, 0.2], eta=0.1, n_steps=3)
    return [
        ("target-half", lambda: nz.NormalizedProduct(0.5), ValueError, "target must lie"),
        ("target-negative", lambda: nz.NormalizedProduct(-0.1), ValueError, "target must be > 0"),
        ("target-str", lambda: nz.NormalizedProduct("0.2"), TypeError, "target must be a real"),
        ("height-high", lambda: toy.manifold_point(0.9), ValueError, "height must satisfy"),
        ("height-none", lambda: toy.manifold_point(None), TypeError, "height must be a real"),
        ("w-shape", lambda: toy.sphere_sharpness(np.ones(4)), ValueError, "3 coordinates"),
        ("w-zero", lambda: toy.project(np.zeros(3)), ValueError, "non-zero"),
        ("project-pole", lambda: toy.project([0.0, 0.0, 1.0]), ValueError, "vanishes"),
        ("hessian-batch", lambda: toy.hessian(np.ones((2, 3))), ValueError, "one point"),
        ("s-negative", lambda: toy.sharpness_flow(0.3, [-1.0, 0.0]), ValueError, "s must"),
        ("s-decreasing", lambda: toy.sharpness_flow(0.3, [1.0, 0.5]), ValueError, "s must"),
        ("s-nan", lambda: toy.sharpness_flow(0.3, [np.nan]), ValueError, "s contains"),
        ("s-2d", lambda: toy.sharpness_flow(0.3, np.ones((2, 2))), ValueError, "s must"),
        ("flow-height", lambda: toy.sharpness_flow(2.0, [1.0]), ValueError, "height must"),
        ("tau-negative", lambda: toy.weight_decay_flow(0.3, [-1.0]), ValueError, "tau must"),
        ("tau-decreasing", lambda: toy.weight_decay_flow(0.3, [1.0, 0.5]), ValueError,
         "tau must"),
        ("tau-str", lambda: toy.weight_decay_flow(0.3, "1"), TypeError, "tau must be a numeric"),
        ("wd-flow-height", lambda: toy.weight_decay_flow(None, [1.0]), TypeError,
         "height must be a real"),
        ("clock-run", lambda: nz.angular_clock(np.ones(3)), TypeError, "run must be a NormRun"),
        ("eff-loss", lambda: nz.effective_sharpness(nz.RotationLoss(), run), TypeError,
         "loss must be a NormalizedLinear or NormalizedProduct"),
        ("eff-run", lambda: nz.effective_sharpness(toy, "run"), TypeError, "run must be a NormRun"),
        ("eff-dim", lambda: nz.effective_sharpness(unit, run), ValueError, "dimension 3"),
        ("eff-at", lambda: nz.effective_sharpness(toy, run, at=[1.0, 0.0]), ValueError,
         "at must have length 3"),
    ]


@pytest.mark.parametrize("case", _bad_sharpness_calls(), ids=lambda c: c[0])
def test_sharpness_tools_reject_bad_arguments(case):
    _, call, exc, match = case
    with pytest.raises(exc, match=match):
        call()


# -- the intermittent motion at the weight-decay equilibrium ------------------------------------


def test_turning_angles_on_the_rotation_toy():
    """On L = c angle(w) the update w_{t+1} = (1 - eta mu) w_t - eta (c / r_t) t_hat (t_hat the
    unit tangent) turns the direction by exactly arctan(eta c / ((1 - eta mu) r_t^2)) per step;
    the chord formula reproduces it to rounding (1e-14 relative), also for angles of 1e-9 where
    arccos of the dot product would return 0 or a 1e-8 error."""
    rot = nz.RotationLoss(c=0.7)
    for eta, mu, r0 in ((0.1, 0.05, 5.0), (1e-3, 0.0, 1e3)):
        run = nz.run_scale_invariant_gd(rot, [r0, 0.0], eta=eta, n_steps=50, weight_decay=mu)
        ang = nz.turning_angles(run)
        expected = np.arctan(eta * 0.7 / ((1 - eta * mu) * run.norm[:-1] ** 2))
        np.testing.assert_allclose(ang, expected, rtol=1e-12)
    assert ang.max() < 1e-8  # the second case: tiny angles, still exact
    batch = nz.run_scale_invariant_gd(rot, [[5.0, 0.0], [0.0, 2.0]], eta=0.1, n_steps=10,
                                      weight_decay=0.05)
    assert nz.turning_angles(batch).shape == (10, 2)


def test_kick_starts_and_first_hit():
    a = np.array([0.0, 0.5, 0.2, 1e-3, 1e-3, 0.3, 0.4, 0.0, 2.0])
    np.testing.assert_array_equal(nz.kick_starts(a, 1e-2), [1, 5, 8])
    assert nz.kick_starts(np.full(5, 1e-3), 1e-2).size == 0
    v = np.array([[5.0, 1.0, 7.0], [3.0, 2.0, 8.0], [0.5, 0.1, 9.0]])
    np.testing.assert_array_equal(nz.first_hit(v, 1.0), [2, 0, -1])
    assert nz.first_hit(v[:, 0], 3.0) == 1 and nz.first_hit(v[:, 2], 1.0) == -1


def test_kick_onset_sharpness_model():
    """The onset is the first e_s = 2 (1 - eta mu)^{-2s} at which the product of the factors
    e_j - 1 reaches `growth`: checked against the definition directly (one step earlier it has
    not), and against the leading-order formula 2 + 2 sqrt(2 eta mu ln g), whose relative error
    in the overshoot e - 2 is O(sqrt(eta mu ln g)): below 3% at eta mu = 1e-6."""
    for emu, g in ((1e-3, 1e13), (3e-4, 1e14), (1e-2, 1e12)):
        onset = nz.kick_onset_sharpness(1.0, emu, g)
        e, s = onset.sharpness, onset.steps
        es = 2.0 * (1 - emu) ** (-2.0 * np.arange(1, s + 1))
        assert e == pytest.approx(es[-1], rel=1e-12)
        assert np.sum(np.log(es - 1)) >= math.log(g) > np.sum(np.log(es[:-1] - 1))
    e = nz.kick_onset_sharpness(0.5, 2e-6, 1e13).sharpness  # eta mu = 1e-6
    assert (e - 2) / (2 * math.sqrt(2e-6 * math.log(1e13))) == pytest.approx(1.0, rel=0.03)
    # monotone: larger eta mu or more growth needed -> later onset
    def onset(emu, growth):
        return nz.kick_onset_sharpness(1.0, emu, growth).sharpness

    assert onset(3e-3, 1e13) > onset(1e-3, 1e13)
    assert onset(1e-3, 1e16) > onset(1e-3, 1e12)


def test_kicks_at_equilibrium_start_where_rounding_errors_would_be_amplified(unit):
    """At the weight-decay equilibrium of full-batch GD the direction rests at the minimiser u*
    (turning angles at rounding level) until eta_eff S(u*) has passed 2 by enough for a
    rounding-level perturbation (1e-16 .. 1e-14 relative) to grow to a visible kick (angle 1e-2,
    a perturbation of ~1e-2 / (eta_eff S) ~ 5e-3). So every kick must start between the onsets
    for growth 1e12 and 1e16 of :func:`kick_onset_sharpness` (at eta mu = 1e-3: 2.553 .. 2.652),
    and not at 2 (that would be a kick triggered by something larger than rounding)."""
    eta, emu = 1.0, 1e-3
    w0 = np.array([1.0, 0.3, -0.2, 0.5])
    run = nz.run_scale_invariant_gd(unit, w0, eta=eta, n_steps=6000, weight_decay=emu / eta)
    late = slice(3000, None)
    turn = nz.turning_angles(run)[late]
    eff = nz.effective_sharpness(unit, run, at=unit.minimizer())[late]
    kicks = nz.kick_starts(turn, 1e-2)
    lo = nz.kick_onset_sharpness(eta, emu / eta, 1e12).sharpness
    hi = nz.kick_onset_sharpness(eta, emu / eta, 1e16).sharpness
    assert kicks.size >= 5
    assert np.all((eff[kicks] >= lo) & (eff[kicks] <= hi)), (eff[kicks], lo, hi)
    assert np.min(turn) < 1e-14  # the direction really rests between kicks


def _bad_kick_calls():
    rot_run = nz.run_scale_invariant_gd(nz.RotationLoss(), [1.0, 0.0], eta=0.1, n_steps=3)
    return [
        ("angles-run", lambda: nz.turning_angles(np.ones((3, 2))), TypeError, "NormRun"),
        ("angles-2d", lambda: nz.kick_starts(np.ones((3, 2)), 0.1), ValueError, "1-D"),
        ("threshold-neg", lambda: nz.kick_starts(np.ones(3), -1.0), ValueError, "threshold"),
        ("values-3d", lambda: nz.first_hit(np.ones((2, 2, 2)), 1.0), ValueError, r"\(n, B\)"),
        ("values-nan", lambda: nz.first_hit([1.0, np.nan], 1.0), ValueError, "NaN"),
        ("hit-threshold", lambda: nz.first_hit([1.0], np.inf), ValueError, "finite"),
        ("hit-threshold-str", lambda: nz.first_hit([1.0], "1"), TypeError, "threshold"),
        ("onset-no-decay", lambda: nz.kick_onset_sharpness(1.0, 0.0, 1e13), ValueError,
         "must be >= 1e-10"),
        ("onset-eta-mu", lambda: nz.kick_onset_sharpness(2.0, 0.5, 1e13), ValueError, "< 1"),
        ("onset-growth", lambda: nz.kick_onset_sharpness(1.0, 1e-3, 0.5), ValueError,
         "growth must be > 1"),
        ("onset-growth-type", lambda: nz.kick_onset_sharpness(1.0, 1e-3, "big"), TypeError,
         "growth"),
        ("angles-ok", lambda: nz.kick_starts(nz.turning_angles(rot_run), "x"), TypeError,
         "threshold"),
    ]


@pytest.mark.parametrize("case", _bad_kick_calls(), ids=lambda c: c[0])
def test_kick_tools_reject_bad_arguments(case):
    _, call, exc, match = case
    with pytest.raises(exc, match=match):
        call()


def test_runners_take_eta_and_n_steps_by_keyword_and_return_frozen_records(unit):
    import dataclasses

    with pytest.raises(TypeError):
        nz.run_scale_invariant_gd(unit, np.ones(4), 0.1, 5)  # eta, n_steps are keyword-only
    with pytest.raises(TypeError):
        nz.product_gd(3.0, 4, np.array([1.0, -1.0]), 0.1, 5)
    with pytest.raises(TypeError, match="seed"):
        nz.sphere_smoothness(unit)  # the Monte-Carlo draws need an explicit seed
    onset = nz.kick_onset_sharpness(1.0, 1e-3, 1e13)
    assert isinstance(onset, nz.KickOnset) and onset.steps > 0 and onset.sharpness > 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        onset.steps = 0
    run = nz.product_gd(3.0, 4, np.array([1.0, -1.0]), eta=0.1, n_steps=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.diverged_at = 1
    X = np.array([[1.0, 2.0], [-1.0, -2.0], [2.0, 1.0], [-2.0, -1.0]])
    bn = nz.train_bn_classifier(nz.BNClassifier(2, 3, seed=0), X, np.array([1.0, -1, 1, -1]),
                                eta=0.1, n_steps=3, checkpoints=np.arange(4))
    assert isinstance(bn, nz.BNRun) and set(bn.group_norms) == set(nz.BNClassifier(
        2, 3, seed=0).groups) and bn.trajectory.steps.tolist() == [0, 1, 2, 3]
    with pytest.raises(dataclasses.FrozenInstanceError):
        bn.trajectory = None


def test_bn_classifier_is_the_mlp_spec_network_with_batch_norm():
    import torch

    from ibcore.mlp import MLPSpec

    model = nz.BNClassifier(2, 5, use_bn=True, seed=3)
    assert model.spec == MLPSpec(2, (5,), parameterization="standard")
    assert model.n_params == model.spec.n_params + 10
    # the draws of torch's nn.Linear convention, in the order W1, b1, W2, b2
    rng = np.random.default_rng(3)
    a1, a2 = 1 / math.sqrt(2), 1 / math.sqrt(5)
    W1, b1 = rng.uniform(-a1, a1, 10), rng.uniform(-a1, a1, 5)
    W2, b2 = rng.uniform(-a2, a2, 5), rng.uniform(-a2, a2, 1)
    np.testing.assert_array_equal(model.w0, np.concatenate([W1, b1, W2, b2, np.ones(5),
                                                            np.zeros(5)]))
    # the forward pass written out: fc1, BN over the batch (eps = 0), ReLU, fc2
    X = torch.tensor(np.random.default_rng(0).standard_normal((7, 2)))
    w = torch.tensor(model.w0 + 0.01 * np.arange(model.n_params))
    g = model.groups
    z = X @ w[g["W1"]].reshape(5, 2).T + w[g["b1"]]
    mean, var = z.mean(dim=0, keepdim=True), z.var(dim=0, unbiased=False, keepdim=True)
    z = w[g["gamma"]] * ((z - mean) / torch.sqrt(var + 0.0)) + w[g["beta"]]
    expected = torch.relu(z) @ w[g["W2"]] + w[g["b2"]][0]
    np.testing.assert_array_equal(model.forward(X, w).numpy(), expected.numpy())
    with pytest.raises(ValueError, match="width must be >= 2"):
        nz.BNClassifier(2, 1, seed=0)
