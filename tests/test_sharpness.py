"""Tests of ibcore.sharpness: Hessian-vector products and power iteration against an explicit
Hessian, and the full-batch GD runner of the edge-of-stability experiment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibcore.mlp import MLPSpec, init_params
from ibcore.sharpness import (
    hvp,
    mlp_loss,
    random_labels,
    top_hessian_eigenvalue,
    train_mlp_gd,
)


def _tanh(d, widths):
    return MLPSpec(d, widths, activation="tanh", parameterization="standard")


def _small_model(seed=0):
    X, y = random_labels(10, 3, seed=seed)
    spec = _tanh(3, (4,))
    loss_fn, p = mlp_loss(spec, X, y), spec.n_params
    theta = torch.as_tensor(init_params(spec, seed=seed))
    H = torch.autograd.functional.hessian(loss_fn, theta).numpy()
    return loss_fn, theta, H, p


def test_hvp_equals_explicit_hessian_times_vector():
    loss_fn, theta, H, p = _small_model()
    assert H.shape == (p, p) == (21, 21)
    v = np.random.default_rng(1).standard_normal(p)
    # both are exact autograd computations of the same derivative: agree to rounding
    np.testing.assert_allclose(hvp(loss_fn, theta, v).numpy(), H @ v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_power_iteration_finds_top_eigenvalue(seed):
    loss_fn, theta, H, _ = _small_model(seed)
    eig = np.linalg.eigvalsh(0.5 * (H + H.T))
    assert eig[-1] > abs(eig[0])  # the top eigenvalue dominates at initialisation
    pair = top_hessian_eigenvalue(loss_fn, theta, n_iter=5000, tol=1e-13, seed=0)
    lam, v = pair.value, pair.vector
    # power iteration error shrinks like (|lambda_2|/lambda_1)^(2k); tol 1e-13 on the Rayleigh
    # quotient leaves a relative error far below 1e-8
    assert lam == pytest.approx(eig[-1], rel=1e-8)
    np.testing.assert_allclose(H @ v, lam * v, atol=1e-4 * lam)
    assert np.linalg.norm(v) == pytest.approx(1.0)


def test_power_iteration_refuses_negative_dominant_eigenvalue():
    def concave(theta):
        return -(theta @ theta) + 0.1 * theta[0] ** 2

    with pytest.raises(ValueError, match="dominant Hessian eigenvalue is negative"):
        top_hessian_eigenvalue(concave, np.ones(3), seed=0)


def test_validation():
    loss_fn, theta, _, p = _small_model()
    with pytest.raises(ValueError, match="v must have the shape of theta"):
        hvp(loss_fn, theta, np.ones(p + 1))
    with pytest.raises(ValueError, match="theta must be a 1-D float64 tensor"):
        top_hessian_eigenvalue(loss_fn, theta.float(), seed=0)
    with pytest.raises(ValueError, match="v0 must have length 21"):
        top_hessian_eigenvalue(loss_fn, theta, v0=np.ones(3))
    with pytest.raises(TypeError, match="pass seed="):
        top_hessian_eigenvalue(loss_fn, theta)
    with pytest.raises(ValueError, match="y must have length 2"):
        mlp_loss(_tanh(2, (3,)), np.ones((2, 2)), np.ones(3))
    with pytest.raises(ValueError, match=r"X must have spec\.d = 3 columns"):
        mlp_loss(_tanh(3, (3,)), np.ones((2, 2)), np.ones(2))


def test_train_mlp_gd_is_gd_and_deterministic():
    X, y = random_labels(16, 3, seed=0)
    spec = _tanh(3, (8,))
    a = train_mlp_gd(spec, X, y, eta=0.05, n_steps=30, sharpness_every=10, seed=1)
    b = train_mlp_gd(spec, X, y, eta=0.05, n_steps=30, sharpness_every=10, seed=1)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.sharpness_steps, [0, 10, 20, 30])
    assert a.loss.shape == (31,) and a.threshold == pytest.approx(40.0)
    loss_fn = mlp_loss(spec, X, y)
    assert a.final_theta.shape == (spec.n_params,)
    assert float(loss_fn(torch.as_tensor(a.final_theta))) == pytest.approx(a.loss[-1], rel=1e-12)
    # the first step is one explicit GD step from init_params
    theta = torch.as_tensor(init_params(spec, seed=1)).requires_grad_(True)
    (g,) = torch.autograd.grad(loss_fn(theta), theta)
    assert float(loss_fn(theta.detach() - 0.05 * g)) == pytest.approx(a.loss[1], rel=1e-12)


def test_thread_setting_is_restored():
    before = torch.get_num_threads()
    X, y = random_labels(8, 2, seed=0)
    train_mlp_gd(_tanh(2, (4,)), X, y, eta=0.1, n_steps=3, seed=0)
    assert torch.get_num_threads() == before


def test_train_mlp_gd_reports_divergence():
    X, y = random_labels(16, 3, seed=0)
    run = train_mlp_gd(_tanh(3, (8,)), X, y, eta=50.0, n_steps=500, seed=1)
    assert run.diverged_at is not None and np.all(np.isfinite(run.loss))
    assert run.loss.shape == (run.diverged_at,)
    assert np.all(np.isfinite(run.final_theta))  # the last finite parameters, not the blown-up ones


def test_train_mlp_gd_records_the_true_sharpness():
    X, y = random_labels(10, 3, seed=0)
    spec = _tanh(3, (4,))
    run = train_mlp_gd(spec, X, y, eta=0.3, n_steps=40, sharpness_every=20, seed=0,
                       power_iters=2000)
    loss_fn = mlp_loss(spec, X, y)
    theta = torch.as_tensor(init_params(spec, seed=0))
    H = torch.autograd.functional.hessian(loss_fn, theta).numpy()
    top = np.linalg.eigvalsh(0.5 * (H + H.T))[-1]
    # 2000 warm-startable power iterations with tol 1e-8 on the Rayleigh quotient: the recorded
    # value at step 0 is the top eigenvalue of the explicit Hessian to ~1e-6
    assert run.sharpness[0] == pytest.approx(top, rel=1e-6)
    H_end = torch.autograd.functional.hessian(loss_fn, torch.as_tensor(run.final_theta)).numpy()
    assert run.sharpness[-1] == pytest.approx(np.linalg.eigvalsh(0.5 * (H_end + H_end.T))[-1],
                                              rel=1e-6)


@pytest.mark.parametrize(
    "case",
    [
        ("hvp-v-None", lambda f, th: hvp(f, th, None), TypeError, "v must be a numeric array"),
        ("hvp-v-nan", lambda f, th: hvp(f, th, np.full(th.numel(), np.nan)), ValueError,
         "v contains"),
        ("hvp-v-tensor-inf", lambda f, th: hvp(f, th, torch.full_like(th, torch.inf)),
         ValueError, "v contains NaN or infinite"),
        ("loss-spec-tuple", lambda f, th: mlp_loss((32,), np.ones((2, 3)), np.ones(2)),
         TypeError, "spec must be an MLPSpec"),
        ("train-spec-None", lambda f, th: train_mlp_gd(None, np.ones((2, 3)), np.ones(2),
                                                       eta=0.1, n_steps=1, seed=0), TypeError,
         "spec must be an MLPSpec"),
        ("train-eta-neg", lambda f, th: train_mlp_gd(_tanh(3, (2,)), np.ones((2, 3)),
                                                     np.ones(2), eta=-0.1, n_steps=1, seed=0),
         ValueError, "eta must be > 0"),
    ],
    ids=lambda c: c[0],
)
def test_sharpness_functions_reject_bad_arguments(case):
    loss_fn, theta, _, _ = _small_model()
    _, call, exc, match = case
    with pytest.raises(exc, match=match):
        call(loss_fn, theta)


def test_mlp_loss_is_the_explicit_tanh_network_bit_for_bit():
    # the previous hand-written network of this module: LeCun weights, zero biases, tanh
    X, y = random_labels(12, 3, seed=4)
    rng = np.random.default_rng(7)
    shapes = [(5, 3), (5,), (4, 5), (4,), (1, 4), (1,)]
    theta_np = np.concatenate(
        [rng.standard_normal(s).ravel() / np.sqrt(s[1]) if len(s) == 2 else np.zeros(s)
         for s in shapes])
    spec = _tanh(3, (5, 4))
    np.testing.assert_array_equal(init_params(spec, seed=7), theta_np)
    theta = torch.as_tensor(theta_np)
    parts = torch.split(theta, [int(np.prod(s)) for s in shapes])
    h = torch.as_tensor(X)
    for i in range(3):
        h = h @ parts[2 * i].reshape(shapes[2 * i]).T + parts[2 * i + 1]
        h = torch.tanh(h) if i < 2 else h
    r = h.squeeze(1) - torch.as_tensor(y)
    assert float(mlp_loss(spec, X, y)(theta)) == float(0.5 * (r @ r) / 12)


def test_top_hessian_eigenvalue_returns_a_frozen_eigenpair():
    import dataclasses

    from ibcore.sharpness import Eigenpair

    loss_fn, theta, _, _ = _small_model()
    pair = top_hessian_eigenvalue(loss_fn, theta, n_iter=50, seed=0)
    assert isinstance(pair, Eigenpair) and pair.vector.shape == (21,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.value = 0.0
    # a given start vector needs no seed, and the result does not depend on one
    warm = top_hessian_eigenvalue(loss_fn, theta, n_iter=50, v0=pair.vector)
    assert warm.value == top_hessian_eigenvalue(loss_fn, theta, n_iter=50, v0=pair.vector,
                                                seed=5).value
