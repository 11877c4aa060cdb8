"""Tests of ibcore.sharpness: Hessian-vector products and power iteration against an explicit
Hessian, and the full-batch GD runner of the edge-of-stability experiment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibcore.sharpness import (
    hvp,
    mlp_init,
    mlp_loss,
    random_labels,
    top_hessian_eigenvalue,
    train_mlp_gd,
)


def _small_model(seed=0):
    X, y = random_labels(10, 3, seed=seed)
    loss_fn, p = mlp_loss(X, y, hidden=(4,))
    theta = torch.as_tensor(mlp_init(3, (4,), seed=seed))
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
    lam, v = top_hessian_eigenvalue(loss_fn, theta, n_iter=5000, tol=1e-13)
    # power iteration error shrinks like (|lambda_2|/lambda_1)^(2k); tol 1e-13 on the Rayleigh
    # quotient leaves a relative error far below 1e-8
    assert lam == pytest.approx(eig[-1], rel=1e-8)
    np.testing.assert_allclose(H @ v, lam * v, atol=1e-4 * lam)
    assert np.linalg.norm(v) == pytest.approx(1.0)


def test_power_iteration_refuses_negative_dominant_eigenvalue():
    def concave(theta):
        return -(theta @ theta) + 0.1 * theta[0] ** 2

    with pytest.raises(ValueError, match="dominant Hessian eigenvalue is negative"):
        top_hessian_eigenvalue(concave, np.ones(3))


def test_validation():
    loss_fn, theta, _, p = _small_model()
    with pytest.raises(ValueError, match="v must have the shape of theta"):
        hvp(loss_fn, theta, np.ones(p + 1))
    with pytest.raises(ValueError, match="theta must be a 1-D float64 tensor"):
        top_hessian_eigenvalue(loss_fn, theta.float())
    with pytest.raises(ValueError, match="v0 must have length 21"):
        top_hessian_eigenvalue(loss_fn, theta, v0=np.ones(3))
    with pytest.raises(ValueError, match="hidden must list at least one"):
        mlp_loss(np.ones((2, 2)), np.ones(2), hidden=())
    with pytest.raises(ValueError, match="y must have length 2"):
        mlp_loss(np.ones((2, 2)), np.ones(3))


def test_train_mlp_gd_is_gd_and_deterministic():
    X, y = random_labels(16, 3, seed=0)
    a = train_mlp_gd(X, y, hidden=(8,), eta=0.05, n_steps=30, sharpness_every=10, seed=1)
    b = train_mlp_gd(X, y, hidden=(8,), eta=0.05, n_steps=30, sharpness_every=10, seed=1)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.sharpness_steps, [0, 10, 20, 30])
    assert a.loss.shape == (31,) and a.threshold == pytest.approx(40.0)
    loss_fn, p = mlp_loss(X, y, (8,))
    assert a.final_theta.shape == (p,)
    assert float(loss_fn(torch.as_tensor(a.final_theta))) == pytest.approx(a.loss[-1], rel=1e-12)
    # the first step is one explicit GD step from mlp_init
    loss_fn, _ = mlp_loss(X, y, (8,))
    theta = torch.as_tensor(mlp_init(3, (8,), seed=1)).requires_grad_(True)
    (g,) = torch.autograd.grad(loss_fn(theta), theta)
    assert float(loss_fn(theta.detach() - 0.05 * g)) == pytest.approx(a.loss[1], rel=1e-12)


def test_thread_setting_is_restored():
    before = torch.get_num_threads()
    X, y = random_labels(8, 2, seed=0)
    train_mlp_gd(X, y, hidden=(4,), eta=0.1, n_steps=3, seed=0)
    assert torch.get_num_threads() == before


def test_train_mlp_gd_reports_divergence():
    X, y = random_labels(16, 3, seed=0)
    run = train_mlp_gd(X, y, hidden=(8,), eta=50.0, n_steps=500, seed=1)
    assert run.diverged_at is not None and np.all(np.isfinite(run.loss))
    assert run.loss.shape == (run.diverged_at,)
    assert np.all(np.isfinite(run.final_theta))  # the last finite parameters, not the blown-up ones


def test_train_mlp_gd_records_the_true_sharpness():
    X, y = random_labels(10, 3, seed=0)
    run = train_mlp_gd(X, y, hidden=(4,), eta=0.3, n_steps=40, sharpness_every=20, seed=0,
                       power_iters=2000)
    loss_fn, _ = mlp_loss(X, y, hidden=(4,))
    theta = torch.as_tensor(mlp_init(3, (4,), seed=0))
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
        ("init-hidden-None", lambda f, th: mlp_init(3, None, seed=0), TypeError,
         "hidden must be a tuple"),
        ("loss-hidden-str", lambda f, th: mlp_loss(np.ones((2, 3)), np.ones(2), hidden="32"),
         TypeError, "hidden must be a tuple"),
        ("train-hidden-float", lambda f, th: train_mlp_gd(np.ones((2, 3)), np.ones(2),
                                                          hidden=2.5, eta=0.1, n_steps=1,
                                                          seed=0), TypeError,
         "hidden must be a tuple"),
    ],
    ids=lambda c: c[0],
)
def test_sharpness_functions_reject_bad_arguments(case):
    loss_fn, theta, _, _ = _small_model()
    _, call, exc, match = case
    with pytest.raises(exc, match=match):
        call(loss_fn, theta)
