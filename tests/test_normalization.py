"""Tests of ibcore.normalization: scale invariance, norm dynamics, weight decay <-> schedules."""

import math

import numpy as np
import pytest

from ibcore import normalization as nz
from ibcore.descent import run_gd


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


# -- schedules and equilibria -------------------------------------------------------------------


def test_with_weight_decay(unit):
    w = np.array([0.3, -1.2, 0.7, 2.0])
    loss, g = unit(w)
    lw, gw = nz.with_weight_decay(unit, 0.1)(w)
    assert lw == pytest.approx(loss + 0.05 * (w @ w), rel=1e-15)
    np.testing.assert_allclose(gw, g + 0.1 * w, rtol=1e-15)
    # one GD step on it is the weight-decay step (1 - eta lam) w - eta grad L(w)
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
    eta, lam, T = 0.05, 0.01, 200  # stable regime: rounding differences are not amplified
    steps = np.arange(T + 1)
    a = run_gd(nz.with_weight_decay(unit, lam), np.ones(4) / 2, eta, T, checkpoints=steps)
    sched = nz.exponential_schedule(eta, lam, T)
    b = run_gd(unit, np.ones(4) / 2, lambda k: sched[k], T, checkpoints=steps)
    scale = nz.equivalence_scale(eta, lam, steps)[:, None]
    np.testing.assert_allclose(b.w / scale, a.w, rtol=1e-12, atol=1e-13)
    # the schedule without the factor eta (a misprint in the lecture notes) does not match
    c = run_gd(unit, np.ones(4) / 2, lambda k: sched[k] / eta, T, checkpoints=steps)
    assert np.max(np.abs(c.w / scale - a.w)) > 1e-3


@pytest.mark.parametrize("eta, lam", [(1.0, 1.0), (2.0, 0.6), (10.0, 0.5)])
def test_schedule_refuses_eta_lambda_at_least_one(eta, lam):
    with pytest.raises(ValueError, match=r"eta \* weight_decay .* must be < 1"):
        nz.exponential_schedule(eta, lam, 10)
    with pytest.raises(ValueError, match="must be < 1"):
        nz.equivalence_scale(eta, lam, 3)
    with pytest.raises(ValueError, match="must be < 1"):
        nz.equilibrium_norm(eta, lam, 1.0)


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
    eta, lam, G = 0.5, 0.02, 0.7
    r = nz.equilibrium_norm(eta, lam, G)
    s = r * r
    assert abs((1 - eta * lam) ** 2 * s + eta**2 * G**2 / s - s) < 1e-14 * s
    # the rotation toy has constant spherical gradient: its run converges to r*
    rot = nz.RotationLoss(c=G)
    for r0 in (0.01, 3.0, 50.0):
        run = nz.run_scale_invariant_gd(rot, [r0, 0.0], eta, 3000, weight_decay=lam)
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
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
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


@pytest.mark.parametrize("lam", [0.0, 0.003])
def test_norm_recursion_is_exact(unit, lam):
    eta = 3.0
    run = nz.run_scale_invariant_gd(unit, [1.0, 0.0, 0.0, 0.0], eta, 300, weight_decay=lam)
    r2 = run.norm**2
    pred = (1 - eta * lam) ** 2 * r2[:-1] + eta**2 * run.sphere_grad[:-1] ** 2 / r2[:-1]
    np.testing.assert_allclose(r2[1:], pred, rtol=1e-12)
    np.testing.assert_allclose(run.eff_lr, eta / r2)
    if lam == 0.0:
        assert np.all(np.diff(run.norm) >= 0)


def test_batched_run_equals_single_runs(unit):
    W0 = np.array([[1.0, 0, 0, 0], [0, 5.0, 1.0, 0]])
    both = nz.run_scale_invariant_gd(unit, W0, 0.7, 50, weight_decay=0.01)
    for j in range(2):
        one = nz.run_scale_invariant_gd(unit, W0[j], 0.7, 50, weight_decay=0.01)
        np.testing.assert_allclose(both.w[:, j], one.w, rtol=1e-13)
        np.testing.assert_allclose(both.loss[:, j], one.loss, rtol=1e-13)


def test_run_errors(unit):
    with pytest.raises(TypeError, match="scale-invariant loss object"):
        nz.run_scale_invariant_gd(unit.unnormalized(), np.ones(4), 0.1, 5)
    with pytest.raises(ValueError, match="must be < 1"):
        nz.run_scale_invariant_gd(unit, np.ones(4), 10.0, 5, weight_decay=0.2)
    with pytest.raises(ValueError, match="non-zero"):
        nz.run_scale_invariant_gd(unit, np.zeros(4), 0.1, 5)


def test_sphere_smoothness_matches_grid(unit2):
    t = np.linspace(0, 2 * np.pi, 40_001)
    grid = max(np.linalg.norm(unit2.hessian(np.array([math.cos(a), math.sin(a)])), 2) for a in t)
    est = nz.sphere_smoothness(unit2, n_samples=200, seed=0)
    # the grid (spacing 1.6e-4 rad) misses the maximum by O(spacing^2) ~ 1e-8 relative
    assert est <= grid * (1 + 1e-7) and est >= grid * (1 - 1e-6)
    with pytest.raises(TypeError, match="NormalizedLinear"):
        nz.sphere_smoothness(nz.RotationLoss())


@pytest.mark.parametrize("eta", [0.05, 1.0, 30.0])
def test_auto_rate_tuning_count_bound_holds(unit2, eta):
    rho = nz.sphere_smoothness(unit2, n_samples=200)
    run = nz.run_scale_invariant_gd(unit2, [0.0, 1.0], eta, 4000)
    eps = 1e-3 * rho**2
    count = int(np.sum(run.sphere_grad**2 > eps))
    assert count <= nz.convergence_count_bound(rho, eta, 1.0, eps)
    assert run.sphere_grad[-1] ** 2 < eps  # converged for every eta
    # the bound increases with rho (so an under-estimated rho gives a stricter check)
    assert nz.convergence_count_bound(2 * rho, eta, 1.0, eps) > nz.convergence_count_bound(
        rho, eta, 1.0, eps
    )


def test_wd_theorem_holds(unit2):
    rho = nz.sphere_smoothness(unit2, n_samples=200)
    eta, lam = 0.1, 3e-3
    theta = 8 * math.pi**4 * rho**2 * lam * eta
    r0s = np.array([0.01, 1.0, 100.0])
    bounds = [nz.wd_convergence_time_bound(rho, eta, lam, r) for r in r0s]
    run = nz.run_scale_invariant_gd(
        unit2, np.array([1.0, 0.0]) * r0s[:, None], eta, int(max(bounds)) + 1, weight_decay=lam
    )
    for j in range(3):
        hits = np.flatnonzero(run.sphere_grad[:, j] ** 2 <= theta)
        assert hits.size and hits[0] <= bounds[j]
    expected = (abs(math.log(1e4 / (math.pi**2 * rho * eta))) + 3) / (2 * eta * lam)
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
        assert nz.product_gd(3.0, k, z, 1.001 * c, 1)[1] > 3.0
        assert nz.product_gd(3.0, k, z, 0.999 * c, 1)[1] < 3.0
    # the lecture notes' exponent 1/k - 1 gives a smaller threshold that is not sharp (k = 4)
    seed = 2 * 3.0 ** (1 / 4 - 1) / (-np.sum(z / (1 + np.exp(3.0 * z))))
    assert seed < nz.product_blowup_threshold(3.0, 4, z)
    assert nz.product_gd(3.0, 4, z, 1.05 * seed, 1)[1] < 3.0


def test_product_gd_stops_on_blowup_and_errors():
    z = np.array([1.0, 1.0, 1.0, -1.0])
    c = nz.product_blowup_threshold(3.0, 4, z)
    out = nz.product_gd(3.0, 4, z, 2 * c, 100)
    assert out.size < 101 and np.all(np.isfinite(out)) and out[-1] > 1e100
    with pytest.raises(ValueError, match="even"):
        nz.product_gd(3.0, 3, z, 0.1, 5)
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
    X, y = data
    net = nz.ScaleInvariantMLP(3, [8, 6], norm=norm, seed=0)
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
    net = nz.ScaleInvariantMLP(3, [8, 6], norm="none", seed=0)
    w = torch.tensor(net.w0)
    f = net.forward(torch.tensor(X), w)
    np.testing.assert_allclose(net.forward(torch.tensor(X), 2.0 * w), 4.0 * f, rtol=1e-12)
    np.testing.assert_allclose(net.forward(torch.tensor(3.0 * X), w), 3.0 * f, rtol=1e-12)


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_torch_objective_gradient_and_hvp(data, loss):
    X, y = data
    y = np.sign(y) if loss == "logistic" else y
    net = nz.ScaleInvariantMLP(3, [5], norm="layer", seed=2)
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
        nz.ScaleInvariantMLP(3, [4], norm="group", seed=0)
    with pytest.raises(TypeError, match="widths"):
        nz.ScaleInvariantMLP(3, 4, seed=0)
    with pytest.raises(TypeError, match="seed"):
        nz.ScaleInvariantMLP(3, [4], seed=None)
    net = nz.ScaleInvariantMLP(4, [4], seed=0)
    with pytest.raises(ValueError, match="d_in=4"):
        nz.torch_objective(net, X, y)
    with pytest.raises(ValueError, match="loss must be"):
        nz.torch_objective(nz.ScaleInvariantMLP(3, [4], seed=0), X, y, loss="hinge")
    with pytest.raises(TypeError, match="ScaleInvariantMLP"):
        nz.torch_objective("net", X, y)
    with pytest.raises(ValueError, match="per-sample"):
        nz.empirical_ntk(nz.ScaleInvariantMLP(3, [4], norm="batch", seed=0), X, X)


def test_empirical_ntk_layer_norm_ignores_input_scale(data):
    X, _ = data
    ln = nz.ScaleInvariantMLP(3, [16], norm="layer", seed=1)
    K = nz.empirical_ntk(ln, X[:4], X[:4])
    np.testing.assert_allclose(K, K.T, rtol=1e-12)
    assert np.linalg.eigvalsh(K).min() > -1e-10
    np.testing.assert_allclose(nz.empirical_ntk(ln, 7.0 * X[:4], 0.1 * X[:4]), K, rtol=1e-9)
    plain = nz.ScaleInvariantMLP(3, [16], norm="none", seed=1)
    Kp = nz.empirical_ntk(plain, X[:4], X[:4])
    np.testing.assert_allclose(
        nz.empirical_ntk(plain, 7.0 * X[:4], 0.1 * X[:4]), 0.7 * Kp, rtol=1e-9
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
    traj, norms = nz.train_bn_classifier(model, X, y, 0.1, 50, checkpoints=np.arange(51))
    assert norms["b1"].max() - norms["b1"].min() < 1e-14
    assert np.all(np.diff(norms["W1"]) >= -1e-15) and traj.loss[-1] < traj.loss[0]
    plain = nz.BNClassifier(2, 5, use_bn=False, seed=0)
    assert plain.groups["gamma"].stop == plain.groups["gamma"].start  # no BN parameters
    with pytest.raises(TypeError, match="BNClassifier"):
        nz.train_bn_classifier(nz.ScaleInvariantMLP(2, [3], seed=0), X, y, 0.1, 5)


@pytest.mark.parametrize("norm", ["layer", "none"])
def test_ntk_limit_matches_wide_network(norm):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 4)) * np.array([[1.0], [3.0], [0.2], [1.0]])
    limit = nz.one_hidden_layer_ntk_limit(X, norm=norm)
    K = nz.empirical_ntk(nz.ScaleInvariantMLP(4, [65536], norm=norm, seed=6), X, X)
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

    net = nz.ScaleInvariantMLP(3, [5], norm="layer", seed=0)
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
    W = nz.product_gd(2.0, 2, z, 1e200, 5)  # the first step overflows float64
    assert W.size < 6 and np.all(np.isfinite(W))


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
