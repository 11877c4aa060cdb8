"""Property-based tests (hypothesis) of textbook invariants, on random instances.

* the hard-margin SVM satisfies its KKT conditions on random separable sets
  (``ibcore.margin.hard_margin_svm``, ``max_margin``, ``kkt_residuals``);
* the infinite-width ReLU kernels (``ibcore.ntk.relu_ntk``, ``relu_nngp``) are symmetric positive
  semidefinite, and for ``b_std = 0`` positively homogeneous of degree 1 in each argument;
* balancedness ``W_{j+1}^T W_{j+1} - W_j W_j^T`` of a deep linear network is conserved by the
  gradient flow and changes by ``O(eta^2)`` in a GD step (``ibcore.factorization``);
* the loss of a normalized model is scale-invariant (``ibcore.normalization``).

Every tolerance is derived from the precision of the computation it checks (the argument is in
each test's docstring). Examples are generated from a fixed seed (``derandomize=True``, no
example database), so every run, locally and in CI, tests the same cases.
"""

from __future__ import annotations

import os

import matplotlib  # imported at collection, before any fixture could set the backend
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibcore import margin as M
from ibcore import ntk
from ibcore.factorization import (
    balancedness,
    factorization_flow,
    factorization_gd,
    sensing_problem,
)
from ibcore.normalization import NormalizedLinear, ScaleInvariantMLP, torch_objective

EPS = np.finfo(np.float64).eps


def _examples(n: int):
    """Reproducible and fast: ``n`` examples drawn from a fixed seed, no time limit per example."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


seeds = st.integers(0, 2**32 - 1)
#: positive scale factors, log-uniform over six decades
scales = st.floats(-3.0, 3.0).map(lambda e: 10.0**e)


# -- the test session ----------------------------------------------------------------------------


def test_matplotlib_runs_on_agg_in_the_test_process():
    """conftest.py sets MPLBACKEND before the test modules import matplotlib (this one does at
    collection), so it takes effect; a fixture setting it would come too late."""
    assert os.environ.get("MPLBACKEND") == "Agg"
    assert matplotlib.get_backend().lower() == "agg"


# -- hard-margin SVM: KKT conditions ---------------------------------------------------------


def _separable(seed: int, n: int, d: int, band: float):
    """At most ``n`` points of R^d labelled by a random unit direction ``u``, the band
    ``|<u, x>| <= band`` removed: separable through the origin with margin ``> band``."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    X = rng.standard_normal((8 * n, d))  # P(|<u, x>| > 0.5) = 0.62: 8n draws leave n
    s = X @ u
    keep = np.flatnonzero(np.abs(s) > band)[:n]
    return X[keep], np.sign(s[keep]), u, rng


@_examples(150)
@given(seed=seeds, n=st.integers(2, 40), d=st.integers(2, 6), band=st.floats(0.05, 0.5))
def test_svm_satisfies_kkt_on_random_separable_sets(seed, n, d, band):
    """The solver's primal ``w`` and dual ``alpha`` satisfy the KKT conditions of
    ``min ||w||^2 / 2  s.t.  y_i <w, x_i> >= 1``, which certify optimality (the problem is
    convex): primal feasibility, dual feasibility ``alpha >= 0``, complementary slackness
    ``alpha_i (y_i <w, x_i> - 1) = 0``, stationarity ``w = sum_i alpha_i y_i x_i``. Then the
    margin is ``1 / ||w||``; neither the labelling direction nor random unit directions beat it,
    and ``p = alpha / sum(alpha)`` is a dual certificate: ``||Z^T p|| = gamma`` bounds the
    margin of every unit direction (``min_i <v, z_i> <= <v, Z^T p> <= ||Z^T p||``).

    Tolerance: ``hard_margin_svm`` ends with least-squares solves on the support ``S`` (the
    active set of Lawson-Hanson NNLS, then the Gram system ``Z_S Z_S^T beta = 1``), backward
    stable, so the residuals are ``<~ n eps kappa(Z_S)^2``; over 3,000 random sets the largest
    residual was 2.2 times that. Tolerance ``16 n eps kappa^2`` (1e-13 to 1e-10 here)."""
    X, y, u_label, rng = _separable(seed, n, d, band)
    n = X.shape[0]
    s = M.hard_margin_svm(X, y)
    u, gamma = M.max_margin(X, y)
    Z = y[:, None] * X
    m = Z @ s.w
    tol = 16 * n * EPS * np.linalg.cond(Z[s.support]) ** 2
    # primal feasibility, with the smallest margin active (normalised to exactly 1)
    assert m.min() >= 1 - tol and abs(m.min() - 1) <= tol
    # dual feasibility
    assert np.all(s.alpha >= 0) and s.alpha.max() > 0
    # complementary slackness: multipliers only on the margin-1 examples
    assert np.max(s.alpha * np.abs(m - 1)) <= tol * s.alpha.max()
    # stationarity
    assert np.linalg.norm(s.w - Z.T @ s.alpha) <= tol * np.linalg.norm(s.w)
    # the margin is 1 / ||w||, in the direction max_margin reports
    assert gamma == pytest.approx(1 / np.linalg.norm(s.w), rel=tol)
    assert np.linalg.norm(u - s.w / np.linalg.norm(s.w)) <= tol
    # kkt_residuals measures the same conditions: zero at the max-margin direction
    residuals = M.kkt_residuals(u, X, y, svm=s)
    assert max(residuals.values()) <= tol, residuals
    # nothing beats it: the labelling direction, random unit directions, any direction
    assert gamma >= np.min(Z @ u_label) * (1 - tol) and gamma > band * (1 - tol)
    V = rng.standard_normal((256, d))
    V /= np.linalg.norm(V, axis=1)[:, None]
    assert np.all(np.min(V @ Z.T, axis=1) <= gamma * (1 + tol))
    p = s.alpha / s.alpha.sum()
    assert np.linalg.norm(Z.T @ p) == pytest.approx(gamma, rel=4 * tol)


# -- infinite-width ReLU kernels ---------------------------------------------------------------


KERNELS = {"relu_ntk": ntk.relu_ntk, "relu_nngp": ntk.relu_nngp}
depths = st.integers(1, 6)
w_stds = st.floats(0.5, 2.0)


@pytest.mark.parametrize("name", sorted(KERNELS))
@_examples(100)
@given(seed=seeds, n=st.integers(1, 12), d=st.integers(1, 5), depth=depths, w_std=w_stds,
       b_std=st.sampled_from([0.0, 0.1, 1.0]), scale=st.floats(-2.0, 2.0))
def test_relu_kernels_are_symmetric_positive_semidefinite(name, seed, n, d, depth, w_std,
                                                          b_std, scale):
    """``K(X, X)`` is symmetric PSD (it is a covariance, resp. a sum of Gram matrices of
    gradients). The last input repeats the first, so ``K`` is singular and the smallest
    eigenvalue is 0 in exact arithmetic: the check is as tight as the rounding allows.

    Tolerance on ``lambda_min / lambda_max``: ``eigvalsh`` is backward stable (``~ n eps``),
    plus the error of the repeated pair's entry, a few eps: the kernels take small angles from
    Kahan's formula and the carried ``1 - cos theta``, not from ``arccos`` of a cosine that
    rounds to ``1 - O(eps)`` (which gave ``~ sqrt(eps)``, up to 2.8e-8 at depth 6, before).
    Measured over 1,500 random cases, ``d = 1`` included: at most ``0.36 n eps``; ``64 n eps``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * 10.0**scale
    X = np.vstack([X, X[:1]])
    K = KERNELS[name](X, depth=depth, w_std=w_std, b_std=b_std)
    assert K.shape == (n + 1, n + 1)
    assert np.abs(K - K.T).max() <= 4 * EPS * np.abs(K).max()
    lam = np.linalg.eigvalsh(K)
    tol = 64 * (n + 1) * EPS
    assert lam[0] >= -tol * lam[-1]
    assert lam[-1] > 0


@pytest.mark.parametrize("name", sorted(KERNELS))
@_examples(100)
@given(seed=seeds, n=st.integers(1, 6), d=st.integers(1, 5), depth=depths, w_std=w_stds,
       c=scales)
def test_relu_kernels_are_one_homogeneous_in_each_argument_without_bias(name, seed, n, d, depth,
                                                                         w_std, c):
    """For ``b_std = 0``: ``K(c x, x') = c K(x, x') = K(x, c x')`` for ``c > 0``, degree 1 in
    each argument (so degree 2 jointly, ``K(c x, c x) = c^2 K(x, x)``): the first layer's
    covariances scale as ``|x| |x'|`` and every later layer is a function of the angle times
    that product.

    Tolerance, relative to the Cauchy-Schwarz scale ``c sqrt(K(x, x) K(x', x'))``: the angle's
    cosine is scaled and re-rounded; ``arccos`` (used only where ``|cos theta| <= 0.9``) amplifies
    that by ``1 / sin theta <= 2.3``, and nearly (anti)parallel pairs (all pairs for ``d = 1``)
    get their angle from Kahan's formula, accurate to ~eps. Measured over 1,500 random cases,
    ``d = 1`` included: at most ``3.0 depth eps`` (NTK) and ``3.3 depth eps`` (NNGP);
    tolerance ``16 depth eps``."""
    rng = np.random.default_rng(seed)
    X1, X2 = rng.standard_normal((n, d)), rng.standard_normal((n + 1, d))
    kernel = KERNELS[name]
    K = kernel(X1, X2, depth=depth, w_std=w_std)
    cs = c * np.sqrt(np.outer(np.diag(kernel(X1, depth=depth, w_std=w_std)),
                              np.diag(kernel(X2, depth=depth, w_std=w_std))))
    tol = 16 * depth * EPS
    assert np.all(np.abs(kernel(c * X1, X2, depth=depth, w_std=w_std) - c * K) <= tol * cs)
    assert np.all(np.abs(kernel(X1, c * X2, depth=depth, w_std=w_std) - c * K) <= tol * cs)
    np.testing.assert_allclose(np.diag(kernel(c * X1, depth=depth, w_std=w_std)),
                               c**2 * np.diag(kernel(X1, depth=depth, w_std=w_std)), rtol=tol)


@pytest.mark.parametrize("name", sorted(KERNELS))
@_examples(50)
@given(seed=seeds, d=st.integers(1, 5), depth=depths, w_std=w_stds,
       b_std=st.floats(0.1, 1.0), c=st.sampled_from([0.1, 0.5, 2.0, 10.0]))
def test_relu_kernels_with_bias_are_not_homogeneous(name, seed, d, depth, w_std, b_std, c):
    """With ``b_std > 0`` every layer adds ``b_std^2`` to the pre-activation covariance, which
    does not scale with the input. On the diagonal (angle 0 at every layer, ``relu`` halves the
    covariance, the NTK's derivative factor is 1/2) both kernels are affine in ``|x|^2``:
    ``K(x, x) = A |x|^2 + K(0, 0)`` with ``K(0, 0) > 0``, hence
    ``K(c x, c x) - c^2 K(x, x) = (1 - c^2) K(0, 0) != 0`` for ``c != 1``. Tolerance: a
    depth-long affine recursion, rounding ``~ depth eps`` relative; ``16 depth eps``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, d))
    kernel = KERNELS[name]
    k1, kc, k0 = (kernel(v, depth=depth, w_std=w_std, b_std=b_std)[0, 0]
                  for v in (x, c * x, np.zeros((1, d))))
    assert k0 > 0
    tol = 16 * depth * EPS * (kc + c**2 * k1 + abs(1 - c**2) * k0)
    assert abs((kc - c**2 * k1) - (1 - c**2) * k0) <= tol
    assert abs(kc - c**2 * k1) > 1e6 * tol  # far from homogeneous, not a rounding effect


# -- deep linear networks: balancedness ----------------------------------------------------------


def _distance(Ds, Es) -> float:
    return float(np.sqrt(sum(np.sum((D - E) ** 2) for D, E in zip(Ds, Es, strict=True))))


def _factors(seed: int, d: int, depth: int):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(depth)]


@_examples(40)
@given(seed=seeds, d=st.integers(2, 4), depth=st.integers(2, 4), m=st.integers(2, 30),
       horizon=st.floats(0.1, 1.0))
def test_balancedness_is_conserved_by_gradient_flow(seed, d, depth, m, horizon):
    """``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` is constant along the gradient flow of any loss
    of the product ``W_N ... W_1`` (here a random sensing problem), while the factors move.

    Tolerance: ``factorization_flow`` integrates with DOP853 at ``rtol = 1e-10`` (``atol =
    1e-12``), its stated error per step; ``D`` is quadratic in the factors, so an error
    ``rtol |W|`` in them moves ``D`` by ``~ 2 rtol |W|^2``. Tolerance ``2 rtol max_j |W_j|^2``
    (entrywise maxima); measured at most ``0.011 rtol |W|^2`` over 60 random problems (the
    integrator meets its tolerance with room), while a quantity that is not conserved moves
    by ~0.1 to 1."""
    prob = sensing_problem(d, 1, m, seed=seed)
    Ws0 = _factors(seed + 1, d, depth)
    _, Ws = factorization_flow(prob.A, prob.y, Ws0, [0.0, horizon])
    size = max(np.abs(W).max() for W in (*Ws0, *Ws)) ** 2
    for D, D0 in zip(balancedness(Ws), balancedness(Ws0), strict=True):
        assert np.abs(D - D0).max() <= 2e-10 * size
    assert max(np.abs(W - W0).max() for W, W0 in zip(Ws, Ws0, strict=True)) > 1e-6


@_examples(60)
@given(seed=seeds, d=st.integers(2, 4), depth=st.integers(2, 4), m=st.integers(2, 30),
       eta=st.floats(0.005, 0.05))
def test_balancedness_changes_by_eta_squared_in_a_gd_step(seed, d, depth, m, eta):
    """A GD step changes ``D_j`` by exactly ``eta^2 (B_{j+1}^T B_{j+1} - B_j B_j^T)`` (``B_j``
    the factor gradients): the first-order terms cancel because ``D`` is conserved by the
    flow. So halving ``eta`` quarters the change (a quantity that is not conserved changes by
    ``O(eta)`` and halves).

    Tolerance: the ratio of two changes ``D(1) - D(0)``, each the difference of ``O(|W|^2)``
    matrices with an absolute rounding error of a few ``eps |W|^2``: relative error
    ``~ eps |W|^2 / |change|``; tolerance 64 times that."""
    prob = sensing_problem(d, 1, m, seed=seed)
    Z = _factors(seed + 1, d, depth)
    changes = []
    for step in (eta, eta / 2):
        run = factorization_gd(prob.A, prob.y, depth, [1.0], step, 1, seed=0, init=Z,
                               checkpoints=[0, 1], keep_factors=True)
        before, after = ([F[0, k] for F in run.factor_path] for k in (0, 1))
        changes.append(_distance(balancedness(after), balancedness(before)))
    size = max(np.linalg.norm(W) for W in Z) ** 2
    assert changes[1] > 0
    assert changes[0] / changes[1] == pytest.approx(4.0, abs=64 * EPS * size / changes[1] * 4)


# -- scale invariance of normalized models ---------------------------------------------------


@_examples(100)
@given(seed=seeds, n=st.integers(2, 12), d=st.integers(2, 5), gain=st.floats(0.5, 3.0),
       size=scales, c=scales)
def test_weight_normalized_loss_is_scale_invariant(seed, n, d, gain, size, c):
    """``L(w) = (1/2n) |g X w / |w| - y|^2``: ``L(c w) = L(w)``, ``<grad L(w), w> = 0`` and
    ``grad L(c w) = grad L(w) / c`` for every ``c > 0`` (differentiate ``L(c w) = L(w)`` in
    ``c`` at 1, and in ``w``). Tolerance: a few dozen float64 operations on ``O(1)`` numbers
    (measured up to 61 eps relative); 1024 eps."""
    rng = np.random.default_rng(seed)
    loss = NormalizedLinear(rng.standard_normal((n, d)), rng.standard_normal(n), gain=gain)
    w = rng.standard_normal(d) * size
    value, grad = loss(w)
    value_c, grad_c = loss(c * w)
    tol = 1024 * EPS
    assert value_c == pytest.approx(value, rel=tol)
    assert abs(grad @ w) <= tol * np.linalg.norm(grad) * np.linalg.norm(w)
    assert np.linalg.norm(grad_c - grad / c) <= tol * np.linalg.norm(grad) / c
    assert np.linalg.norm(grad) > 0


@_examples(30)
@given(seed=seeds, n=st.integers(3, 9), d=st.integers(2, 4),
       widths=st.lists(st.integers(3, 7), min_size=1, max_size=3).map(tuple),
       norm=st.sampled_from(["layer", "batch"]), c=scales)
def test_normalized_mlp_loss_is_scale_invariant_in_each_layer(seed, n, d, widths, norm, c):
    """``ScaleInvariantMLP`` with layer or batch normalization (no affine part, ``eps = 0``):
    scaling one layer's weights by ``c > 0`` leaves the loss unchanged, that layer's gradient
    is orthogonal to its weights and divided by ``c``, and the other layers' gradients do not
    change; scaling all of ``w`` gives ``L(c w) = L(w)``, ``grad L(c w) = grad L(w) / c``.
    (Widths >= 3: a layer-normalised 2-vector is always ``+-(1, -1)``, so the network would be
    piecewise constant with zero gradient.) Tolerance: float64 torch autograd on ``O(1)``
    numbers, measured up to 153 eps relative to the largest entry; 1024 eps."""
    rng = np.random.default_rng(seed)
    model = ScaleInvariantMLP(d, widths, norm=norm, seed=seed)
    fun = torch_objective(model, rng.standard_normal((n, d)), rng.standard_normal(n))
    w = model.w0
    value, grad = fun(w)
    tol = 1024 * EPS
    assert np.linalg.norm(grad) > 0
    value_c, grad_c = fun(c * w)
    assert value_c == pytest.approx(value, rel=tol)
    assert np.abs(grad_c - grad / c).max() <= tol * np.abs(grad).max() / c
    for layer in model.slices:
        wl = w.copy()
        wl[layer] *= c
        value_l, grad_l = fun(wl)
        assert value_l == pytest.approx(value, rel=tol)
        assert abs(grad[layer] @ w[layer]) <= (
            tol * np.linalg.norm(grad[layer]) * np.linalg.norm(w[layer])
        )
        expected = grad.copy()
        expected[layer] /= c
        assert np.abs(grad_l - expected).max() <= tol * np.abs(expected).max()
