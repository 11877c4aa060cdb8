"""The conventions of book/conventions.md, each checked (the page names these tests)."""

import numpy as np
import pytest

from ibcore import validation


def test_arrays_are_float64():
    for a in ([[1, 2], [3, 4]], np.ones((2, 2), dtype=np.float32), np.ones((2, 2), dtype=int)):
        assert validation.as_matrix(a, "X").dtype == np.float64


def test_seed_is_required():
    with pytest.raises(TypeError, match="seeded"):
        validation.check_rng(None)
    first = validation.check_rng(123).standard_normal(4)
    again = validation.check_rng(123).standard_normal(4)
    np.testing.assert_array_equal(first, again)


def test_nan_input_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        validation.as_vector([0.0, np.nan], "y")


def test_import_ibcore_is_light():
    import subprocess
    import sys

    heavy = ("torch", "matplotlib", "ipywidgets")
    code = f"import sys, ibcore; print(any(m in sys.modules for m in {heavy!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_square_loss_is_averaged_and_halved():
    from ibcore.linear import least_squares

    rng = np.random.default_rng(0)
    X, y, w = rng.standard_normal((5, 3)), rng.standard_normal(5), rng.standard_normal(3)
    q = least_squares(X, y)
    np.testing.assert_allclose(q.loss(w), np.sum((X @ w - y) ** 2) / (2 * 5), rtol=1e-13)
    np.testing.assert_allclose(q.H, X.T @ X / 5, rtol=1e-13)  # Hessian X^T X / n


def test_kernel_time_units_match_neural_tangents():
    """Residuals of kernel gradient flow decay like exp(-lam t / n), n = number of targets."""
    from ibcore.linear import kernel_gd_residuals

    K = np.diag([2.0, 4.0])
    lam, _, R = kernel_gd_residuals(K, np.array([1.0, 1.0]), np.array([0.0, 0.7]))
    np.testing.assert_allclose(lam, [4.0, 2.0])
    np.testing.assert_allclose(np.abs(R[1]), np.exp(-lam * 0.7 / 2), rtol=1e-13)
    # Against predictions neural-tangents itself made (tools/neural_tangents_reference.py): its
    # gradient_descent_mse counts time in steps, ours in flow time t = steps * learning_rate.
    import json
    from pathlib import Path

    from ibcore.linear import kernel_gd_predict

    ref = json.loads((Path(__file__).parent / "data" / "neural_tangents_reference.json")
                     .read_text())["gd_mse"]
    K = np.array(ref["K"])
    for p in ref["predictions"]:
        t = np.array(ref["steps"]) * p["learning_rate"]
        test = kernel_gd_predict(K, ref["K_test_train"], ref["y"], ref["f0_train"],
                                 ref["f0_test"], t)
        train = kernel_gd_predict(K, K, ref["y"], ref["f0_train"], ref["f0_train"], t)
        # rounding only (observed ~2e-15 on values of order 1)
        np.testing.assert_allclose(test, p["test"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(train, p["train"], rtol=0, atol=1e-12)


def _ntk_one_hidden_layer(x, xp):
    """Closed form of neural-tangents' NTK for Dense(1) -> Relu -> Dense(1), no bias."""
    d = x.size
    cos = x @ xp / np.sqrt((x @ x) * (xp @ xp))
    theta = np.arccos(np.clip(cos, -1, 1))
    kappa0 = (np.pi - theta) / (2 * np.pi)
    scale = np.sqrt((x @ x) * (xp @ xp)) / d
    kappa1 = scale * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
    return kappa1 + (x @ xp / d) * kappa0, kappa1


def test_ntk_parameterization_and_input_normalization():
    """NTK parameterization, input kernel x.x'/d, ReLU without a factor 2 (neural-tangents)."""
    from ibcore.ntk import relu_kernels

    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 3))
    nngp, ntk = relu_kernels(X, depth=1)
    for i in range(4):
        for j in range(4):
            want_ntk, want_nngp = _ntk_one_hidden_layer(X[i], X[j])
            np.testing.assert_allclose(ntk[i, j], want_ntk, rtol=1e-12)
            np.testing.assert_allclose(nngp[i, j], want_nngp, rtol=1e-12)
    # Parallel unit-variance inputs: NNGP = 1/2 (no factor 2 in ReLU), NTK = 1.
    x = np.ones((1, 5))
    nngp, ntk = relu_kernels(x, depth=1)
    np.testing.assert_allclose([nngp[0, 0], ntk[0, 0]], [0.5, 1.0], rtol=1e-14)
    # The input kernel is x.x'/d: duplicating every feature changes nothing.
    np.testing.assert_allclose(relu_kernels(np.hstack([X, X]))[1], relu_kernels(X)[1], rtol=1e-12)


def test_dropout_p_is_the_drop_probability():
    from ibcore.dropout import dropout_penalty

    rng = np.random.default_rng(2)
    U, V = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    base = np.sum(np.sum(U**2, axis=0) * np.sum(V**2, axis=0))
    assert dropout_penalty(U, V, 0.0) == 0.0  # nothing dropped, no penalty
    # Dropping 3 units in 4 (keep 1/4) costs lambda = p / (1 - p) = 3, not 1/3.
    np.testing.assert_allclose(dropout_penalty(U, V, 0.75), 3.0 * base, rtol=1e-13)


def test_every_test_named_on_the_conventions_page_exists():
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "book" / "conventions.md").read_text()
    named = re.findall(r"test_conventions\.py::(\w+)", page)
    assert len(named) >= 7
    missing = [n for n in named if not callable(globals().get(n))]
    assert not missing, f"conventions.md names tests that do not exist: {missing}"
