"""Tests of ibcore.interpolants: the R_alpha potential, its minimisers and their dual, the rate
of their approach to the minimum-l1 interpolant and the population risk along alpha (the
network's flows and GD: tests/test_diagonal.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ibcore.interpolants import check_alpha, scaled_sinh_cosh


def test_check_alpha_accepts_the_float_range_and_names_the_fix():
    assert check_alpha(0.3) == 0.3 and isinstance(check_alpha(np.float32(2.0)), float)
    assert check_alpha(1e-150) == 1e-150 and check_alpha(1e150) == 1e150
    for bad in (1e-200, 1e200):
        with pytest.raises(ValueError, match=r"alpha = .* is out of range.*1e-150 < alpha"):
            check_alpha(bad)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        check_alpha(0.0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        check_alpha(-1.0)
    for bad in ("0.1", True, None):
        with pytest.raises(TypeError, match="alpha"):
            check_alpha(bad)


def test_scaled_sinh_cosh_is_two_alpha_squared_sinh_and_cosh():
    a = np.array([-30.0, -2.0, -1e-9, 0.0, 1e-9, 0.7, 25.0])
    for alpha in (1e-3, 0.5, 4.0):
        s, c = scaled_sinh_cosh(a, 2.0 * np.log(alpha))
        np.testing.assert_allclose(s, 2 * alpha**2 * np.sinh(a), rtol=1e-13, atol=0)
        np.testing.assert_allclose(c, 2 * alpha**2 * np.cosh(a), rtol=1e-13, atol=0)
    # small a: no cancellation (2 alpha^2 sinh(a) = 2 alpha^2 a to full relative accuracy)
    s, _ = scaled_sinh_cosh(np.array([1e-12]), 0.0)
    assert s[0] == pytest.approx(2e-12, rel=1e-14)
    # tiny alpha with |a| beyond sinh's float64 range: finite, as e^{|a| + log alpha^2}
    s, c = scaled_sinh_cosh(np.array([-720.0, 720.0]), 2.0 * np.log(1e-8))
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(c))
    np.testing.assert_allclose(c, np.exp(720.0 + 2 * np.log(1e-8)), rtol=1e-12)
    np.testing.assert_allclose(s, [-c[0], c[1]], rtol=1e-15)
    # shapes follow a; a scalar a gives 0-d arrays
    assert scaled_sinh_cosh(np.ones((2, 3)), 0.0)[0].shape == (2, 3)
    assert scaled_sinh_cosh(0.5, 0.0)[1] == pytest.approx(2 * np.cosh(0.5), rel=1e-15)


def test_scaled_sinh_cosh_validation():
    with pytest.raises(TypeError, match="a must be a numeric array"):
        scaled_sinh_cosh("a", 0.0)
    with pytest.raises(TypeError, match="log_alpha2 must be a real number"):
        scaled_sinh_cosh(np.ones(2), "0")
    with pytest.raises(ValueError, match="log_alpha2 must be finite"):
        scaled_sinh_cosh(np.ones(2), -np.inf)
