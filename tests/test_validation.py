"""Unit tests of the shared argument checks (ibcore.validation)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ibcore import validation as v


@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 4), st.integers(1, 4)),
        elements=st.floats(-1e3, 1e3, width=32),
    )
)
def test_as_matrix_returns_float64_copy_of_finite_input(a):
    out = v.as_matrix(a, "X")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, a.astype(np.float64))


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        ("abc", TypeError, "X must be a numeric array"),
        (None, TypeError, "X must be a numeric array"),
        ([1.0, 2.0], ValueError, "X must be a 2-D matrix"),
        (np.zeros((0, 2)), ValueError, "X must not be empty"),
        ([[1.0, np.nan]], ValueError, "X contains 1 NaN"),
        ([[1.0, np.inf]], ValueError, "NaN or infinite"),
        ([["a", 1]], TypeError, "numeric"),
    ],
)
def test_as_matrix_errors_name_the_argument(value, exc, match):
    with pytest.raises(exc, match=match):
        v.as_matrix(value, "X")


def test_as_vector_length():
    assert v.as_vector([1, 2, 3], "y", length=3).dtype == np.float64
    with pytest.raises(ValueError, match="y must have length 2"):
        v.as_vector([1, 2, 3], "y", length=2)


def test_scalars():
    assert v.positive_float(2, "eta") == 2.0
    assert v.positive_float(0.0, "lam", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=r"eta must be > 0"):
        v.positive_float(0.0, "eta")
    with pytest.raises(ValueError, match="eta must be finite"):
        v.positive_float(float("inf"), "eta")
    with pytest.raises(TypeError, match="eta must be a real number"):
        v.positive_float(True, "eta")
    assert v.positive_int(np.int64(3), "n_steps") == 3
    with pytest.raises(TypeError, match="n_steps must be an integer"):
        v.positive_int(3.0, "n_steps")
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        v.positive_int(0, "n_steps")


def test_probability():
    assert v.probability(0.0, "p") == 0.0
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\)"):
        v.probability(1.0, "p")
    assert v.probability(1.0, "p", closed_right=True) == 1.0
    with pytest.raises(ValueError, match="p must lie"):
        v.probability(-0.1, "p")


def test_check_rng():
    g = np.random.default_rng(0)
    assert v.check_rng(g) is g
    a = v.check_rng(7).standard_normal(3)
    b = v.check_rng(7).standard_normal(3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="always seeded"):
        v.check_rng(None)
    with pytest.raises(ValueError, match="non-negative"):
        v.check_rng(-1)


# -- the shared vocabulary: labels, batches, times, symmetric/PSD matrices, choices -------------


def test_as_labels():
    np.testing.assert_array_equal(v.as_labels([1, -1, 1]), [1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match=r"use 2\*y - 1"):
        v.as_labels([0, 1, 1])
    with pytest.raises(ValueError, match=r"must be -1 or \+1, found \[0.5\]"):
        v.as_labels([1, 0.5])
    with pytest.raises(ValueError, match="y has 2 labels but the data have 3 rows"):
        v.as_labels([1, -1], n=3)


def test_as_batch():
    A, single = v.as_batch([1.0, 2.0], "x")
    assert single and A.shape == (1, 2)
    A, single = v.as_batch(np.ones((3, 2)), "x", d=2)
    assert not single and A.shape == (3, 2)
    with pytest.raises(ValueError, match="x must have 4 coordinates per point"):
        v.as_batch(np.ones((3, 2)), "x", d=4)
    with pytest.raises(ValueError, match=r"a point \(d,\) or a batch"):
        v.as_batch(np.ones((2, 2, 2)), "x")


def test_as_times():
    np.testing.assert_array_equal(v.as_times(2), [2.0])
    np.testing.assert_array_equal(v.as_times([0, 1.5]), [0.0, 1.5])
    with pytest.raises(ValueError, match="times must be >= 0"):
        v.as_times([1.0, -1.0])
    with pytest.raises(ValueError, match="NaN"):
        v.as_times([np.nan])
    with pytest.raises(TypeError, match="times must be a number"):
        v.as_times("1")


def test_as_symmetric_and_as_psd():
    M = np.array([[2.0, 1.0], [1.0, 2.0]])
    _, lam, Q = v.as_psd(M, "H")
    np.testing.assert_allclose(Q @ np.diag(lam) @ Q.T, M, atol=1e-14)
    np.testing.assert_allclose(lam, [1.0, 3.0])
    # a rounding-size negative eigenvalue is clipped to 0, a real one refused
    _, lam0, _ = v.as_psd(np.array([[1.0, 1.0], [1.0, 1.0 - 1e-14]]), "K")
    assert lam0[0] == 0.0
    with pytest.raises(ValueError, match=r"K must be positive semi-definite.*-1"):
        v.as_psd(np.diag([1.0, -1.0]), "K")
    with pytest.raises(ValueError, match="H must be positive definite"):
        v.as_psd(np.diag([1.0, 0.0]), "H", definite=True)
    with pytest.raises(ValueError, match="H must be symmetric"):
        v.as_symmetric(np.array([[1.0, 1.0], [0.0, 1.0]]), "H")
    with pytest.raises(ValueError, match="H must be 3 x 3 to match"):
        v.as_symmetric(np.eye(2), "H", d=3)
    with pytest.raises(ValueError, match="square"):
        v.as_symmetric(np.ones((2, 3)), "H")


def test_one_of():
    assert v.one_of("l1", "norm", ("l1", "l2")) == "l1"
    with pytest.raises(ValueError, match=r"norm must be one of \('l1', 'l2'\), got 'l3'"):
        v.one_of("l3", "norm", ("l1", "l2"))
    with pytest.raises(TypeError, match="norm must be one of"):
        v.one_of(1, "norm", ("l1", "l2"))


def test_real_scalar_and_check_blowup_factor():
    assert v.real_scalar(np.int64(3), "c") == 3.0 and isinstance(v.real_scalar(2, "c"), float)
    with pytest.raises(TypeError, match="c must be a real number"):
        v.real_scalar(True, "c")
    with pytest.raises(ValueError, match="c must be finite"):
        v.real_scalar(np.inf, "c")
    assert v.check_blowup_factor(1.0) == 1.0 and v.check_blowup_factor(1e12) == 1e12
    with pytest.raises(ValueError, match=r"blowup_factor must be >= 1, got 0\.5"):
        v.check_blowup_factor(0.5)
    with pytest.raises(ValueError, match="factor must be > 0"):
        v.check_blowup_factor(-1.0, "factor")
    with pytest.raises(TypeError, match="blowup_factor must be a real number"):
        v.check_blowup_factor("big")
