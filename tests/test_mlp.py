"""Tests of ibcore.mlp: the one description of a fully connected scalar-output network."""

import math

import numpy as np
import pytest
import torch

from ibcore import mlp


def _by_hand(spec, theta, X):
    """The forward pass of the module docstring written out with numpy."""
    g = X
    layers = spec.layers(theta)
    for li, (W, b) in enumerate(layers):
        if spec.parameterization == "ntk":
            h = spec.w_std / math.sqrt(W.shape[1]) * g @ W.T + spec.b_std * b
        else:
            h = g @ W.T + b
        if li == len(layers) - 1:
            if spec.readout_scale == "mean_field":
                h = h / math.sqrt(W.shape[1])
            return h[:, 0]
        g = np.maximum(h, 0.0) if spec.activation == "relu" else np.tanh(h)
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"w_std": 1.3, "b_std": 0.4, "activation": "tanh"},
        {"b_std": 0.5, "readout_scale": "mean_field"},
        {"w_std": 1.2, "b_std": 0.3, "parameterization": "standard", "activation": "tanh"},
    ],
)
def test_apply_and_module_match_the_formula(kw):
    spec = mlp.MLPSpec(3, (7, 5), **kw)
    theta = mlp.init_params(spec, seed=4)
    X = np.random.default_rng(1).standard_normal((6, 3))
    f = mlp.apply(spec, theta, X)
    np.testing.assert_allclose(f, _by_hand(spec, theta, X), rtol=1e-13, atol=1e-14)
    with torch.no_grad():
        out = mlp.module(spec, theta)(mlp.as_tensor(X)).numpy()
    assert out.shape == (6, 1)
    np.testing.assert_array_equal(out[:, 0], f)


def test_layout_and_layers():
    spec = mlp.MLPSpec(3, (4, 2))
    assert spec.layer_shapes == [(4, 3), (2, 4), (1, 2)]
    assert spec.n_params == 4 * 3 + 4 + 2 * 4 + 2 + 2 + 1
    theta = np.arange(spec.n_params, dtype=float)
    (W1, b1), (W2, b2), (W3, b3) = spec.layers(theta)
    np.testing.assert_array_equal(W1, theta[:12].reshape(4, 3))
    np.testing.assert_array_equal(b1, theta[12:16])
    np.testing.assert_array_equal(b3, theta[-1:])
    assert W2.shape == (2, 4) and b2.shape == (2,) and W3.shape == (1, 2)


def test_init_conventions():
    spec = mlp.MLPSpec(3, (5,))
    np.testing.assert_array_equal(
        mlp.init_params(spec, seed=2), np.random.default_rng(2).standard_normal(spec.n_params)
    )
    std = mlp.MLPSpec(3, (5,), w_std=2.0, parameterization="standard")
    theta = mlp.init_params(std, seed=2)
    rng = np.random.default_rng(2)
    W1 = 2.0 * rng.standard_normal((5, 3)) / np.sqrt(3)
    W2 = 2.0 * rng.standard_normal((1, 5)) / np.sqrt(5)
    (A1, c1), (A2, c2) = std.layers(theta)
    np.testing.assert_allclose(A1, W1, rtol=1e-15)
    np.testing.assert_allclose(A2, W2, rtol=1e-15)
    assert not c1.any() and not c2.any()  # b_std = 0: zero biases, no random numbers drawn
    with_bias = mlp.MLPSpec(3, (5,), b_std=0.5, parameterization="standard")
    assert np.all(with_bias.layers(mlp.init_params(with_bias, seed=2))[0][1] != 0)


def test_squared_loss_fun_value_and_gradient():
    spec = mlp.MLPSpec(2, (6,), b_std=0.3, activation="tanh")
    theta = mlp.init_params(spec, seed=0)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((5, 2)), rng.standard_normal(5)
    fun = mlp.squared_loss_fun(spec, X, y)
    loss, grad = fun(theta)
    assert loss == pytest.approx(0.5 * np.mean((mlp.apply(spec, theta, X) - y) ** 2), rel=1e-14)
    h = 1e-6
    for p in (0, 7, spec.n_params - 1):
        e = np.zeros(spec.n_params)
        e[p] = h
        fd = (fun(theta + e)[0] - fun(theta - e)[0]) / (2 * h)
        assert grad[p] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_bad_arguments():
    with pytest.raises(TypeError, match="widths must be a non-empty tuple"):
        mlp.MLPSpec(2, [4])
    with pytest.raises(TypeError, match="widths must be a non-empty tuple"):
        mlp.MLPSpec(2, ())
    with pytest.raises(ValueError, match="widths"):
        mlp.MLPSpec(2, (4, 0))
    with pytest.raises(ValueError, match="d must be >= 1"):
        mlp.MLPSpec(0, (4,))
    with pytest.raises(ValueError, match="w_std must be > 0"):
        mlp.MLPSpec(2, (4,), w_std=0.0)
    with pytest.raises(ValueError, match="b_std must be >= 0"):
        mlp.MLPSpec(2, (4,), b_std=-1.0)
    with pytest.raises(ValueError, match="activation"):
        mlp.MLPSpec(2, (4,), activation="gelu")
    with pytest.raises(ValueError, match="parameterization"):
        mlp.MLPSpec(2, (4,), parameterization="mup")
    with pytest.raises(ValueError, match="mean_field"):
        mlp.MLPSpec(2, (4,), readout_scale="mean_field", parameterization="standard")
    spec = mlp.MLPSpec(2, (4,))
    with pytest.raises(TypeError, match="spec must be an MLPSpec"):
        mlp.init_params((2, (4,)), seed=0)
    with pytest.raises(TypeError, match="seed"):
        mlp.init_params(spec, seed=None)
    with pytest.raises(ValueError, match=r"theta must have spec\.n_params = 17"):
        mlp.apply(spec, np.zeros(3), np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"X must have spec\.d = 2 columns"):
        mlp.apply(spec, np.zeros(spec.n_params), np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        mlp.module(spec, np.full(spec.n_params, np.nan))
    with pytest.raises(ValueError, match="y must have length 3"):
        mlp.squared_loss_fun(spec, np.ones((3, 2)), np.ones(2))
