"""Tests of ibcore.datasets: shapes and labels, seeding (an int or a Generator, required), the
separability or margin each generator promises, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ibcore import datasets
from ibcore.datasets import circle_data, multiclass_clouds, separable_clouds, sparse_regression


def test_separable_clouds():
    X, y = datasets.separable_clouds(40, seed=0, min_margin=0.5)
    assert X.shape == (40, 2) and np.all(np.abs(y) == 1)
    assert np.all(y * (X @ np.array([1.0, 1.0])) / np.sqrt(2) > 0.5)
    X2, _ = datasets.separable_clouds(40, seed=0, min_margin=0.5)
    np.testing.assert_array_equal(X, X2)
    with pytest.raises(TypeError, match="seed"):
        datasets.separable_clouds(10, seed=None)
    with pytest.raises(ValueError, match="rejected"):
        datasets.separable_clouds(10, seed=0, min_margin=100.0)


def test_separable_clouds_shapes_classes_and_separation_through_the_origin():
    X, y = separable_clouds(31, seed=3, center=(1.0, -0.5, 2.0), scale=0.4)
    assert X.shape == (31, 3) and y.shape == (31,) and X.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(y, np.r_[np.ones(15), -np.ones(16)])  # first the +1 class
    u = np.array([1.0, -0.5, 2.0]) / np.linalg.norm([1.0, -0.5, 2.0])
    assert np.all(y * (X @ u) > 0)  # min_margin = 0: separable through the origin by <., c>
    # the two classes are centred at +c and -c
    assert np.linalg.norm(X[:15].mean(0) - np.array([1.0, -0.5, 2.0])) < 0.5
    assert np.linalg.norm(X[15:].mean(0) + np.array([1.0, -0.5, 2.0])) < 0.5


def test_multiclass_clouds_are_separated_by_their_centres():
    X, labels = multiclass_clouds(91, 4, seed=5, radius=2.0, scale=1.5)
    assert X.shape == (88, 2) and labels.shape == (88,)  # n // K points per class
    np.testing.assert_array_equal(np.bincount(labels), [22, 22, 22, 22])
    ang = 2 * np.pi * np.arange(4) / 4
    C = 2.0 * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    np.testing.assert_array_equal(np.argmax(X @ C.T, axis=1), labels)


def test_circle_data_lies_on_the_circle_with_the_promised_labels():
    X, y = circle_data(50, frequency=2, seed=1)
    assert X.shape == (50, 2) and y.shape == (50,)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-15)
    phi = np.mod(np.arctan2(X[:, 1], X[:, 0]), 2 * np.pi)
    assert np.all(np.diff(phi) > 0)  # sorted angles: no two points share a ray
    np.testing.assert_array_equal(y, np.where(np.sin(2 * phi) > 0, 1.0, -1.0))


def test_sparse_regression_is_k_sparse_and_noise_free():
    X, y, w_star = sparse_regression(8, 20, 3, seed=2)
    assert X.shape == (8, 20) and y.shape == (8,) and w_star.shape == (20,)
    assert np.count_nonzero(w_star) == 3
    assert np.all((np.abs(w_star[w_star != 0]) >= 1) & (np.abs(w_star[w_star != 0]) <= 2))
    np.testing.assert_array_equal(y, X @ w_star)


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: separable_clouds(20, seed=seed),
        lambda seed: multiclass_clouds(30, 3, seed=seed),
        lambda seed: circle_data(10, seed=seed),
        lambda seed: sparse_regression(5, 12, 2, seed=seed),
    ],
)
def test_seeding_is_reproducible_and_takes_a_generator(make):
    a, b, c = make(7), make(7), make(8)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    for u, v in zip(a, make(np.random.default_rng(7)), strict=True):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(TypeError, match="seed"):
        make(None)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="k <= n < d"):
        sparse_regression(10, 5, 2, seed=0)
    with pytest.raises(TypeError, match="seed"):
        sparse_regression(5, 10, 2, seed=None)
    with pytest.raises(TypeError, match="seed"):
        circle_data(5, seed=None)
    with pytest.raises(ValueError, match="n"):
        separable_clouds(1, seed=0)
    with pytest.raises(ValueError, match="center must be non-zero"):  # used to loop forever
        separable_clouds(10, seed=0, center=(0.0, 0.0))
    with pytest.raises(ValueError, match="scale"):
        separable_clouds(10, seed=0, scale=0.0)
    with pytest.raises(ValueError, match="min_margin"):
        separable_clouds(10, seed=0, min_margin=-1.0)
    with pytest.raises(ValueError, match="n_classes"):
        multiclass_clouds(10, 1, seed=0)
    with pytest.raises(ValueError, match="n"):
        multiclass_clouds(2, 3, seed=0)
    with pytest.raises(ValueError, match="radius"):
        multiclass_clouds(9, 3, seed=0, radius=-1.0)
    with pytest.raises(ValueError, match="frequency"):
        circle_data(5, frequency=0, seed=0)
    with pytest.raises(ValueError, match="k"):
        sparse_regression(5, 10, 0, seed=0)
