"""Tests of ibcore.factorization: gradients, balancedness (flow and exact GD step change), the
minimum-Frobenius solution, the nuclear-norm certificate and the batched GD runner."""

from __future__ import annotations

import numpy as np
import pytest

from ibcore import DivergenceError
from ibcore.factorization import (
    balancedness,
    balancedness_step_change,
    completion_problem,
    end_to_end,
    factor_gradients,
    factorization_flow,
    factorization_gd,
    initial_factors,
    low_rank_matrix,
    min_frobenius_solution,
    nuclear_norm_certificate,
    sensing_loss,
    sensing_problem,
    tangent_projection,
)


@pytest.fixture(scope="module")
def prob():
    return sensing_problem(4, 1, 10, seed=2)


def _loss_of_factors(prob, Ws):
    return sensing_loss(prob.A, prob.y, end_to_end(Ws))


def test_factor_gradients_match_finite_differences(prob):
    Ws = [W[0] for W in initial_factors(4, 3, [0.8], seed=1)]
    A_mat = prob.A.reshape(prob.m, -1)
    G = ((A_mat @ end_to_end(Ws).ravel() - prob.y) @ A_mat).reshape(4, 4) / prob.m
    grads = factor_gradients(Ws, G)
    h = 1e-6
    for j in range(3):
        for a, b in [(0, 0), (1, 3), (2, 1)]:
            Wp = [W.copy() for W in Ws]
            Wm = [W.copy() for W in Ws]
            Wp[j][a, b] += h
            Wm[j][a, b] -= h
            fd = (_loss_of_factors(prob, Wp) - _loss_of_factors(prob, Wm)) / (2 * h)
            assert abs(fd - grads[j][a, b]) < 1e-7


def test_balancedness_conserved_by_flow(prob):
    Ws0 = [W[0] for W in initial_factors(4, 3, [0.6], seed=3)]
    path = factorization_flow(prob.A, prob.y, Ws0, [0.0, 2.0, 10.0])
    D0 = balancedness(Ws0)
    for Ws in path:
        for Dj, D0j in zip(balancedness(Ws), D0, strict=True):
            assert np.abs(Dj - D0j).max() < 1e-8
    # ...while the factors themselves move
    assert np.abs(path[-1][0] - Ws0[0]).max() > 1e-2


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_balancedness_gd_step_is_exact(prob, depth):
    Ws = [W[0] for W in initial_factors(4, depth, [0.9], seed=depth)]
    A_mat = prob.A.reshape(prob.m, -1)
    G = ((A_mat @ end_to_end(Ws).ravel() - prob.y) @ A_mat).reshape(4, 4) / prob.m
    eta = 0.05
    change = balancedness_step_change(Ws, G, eta)
    new = [W - eta * B for W, B in zip(Ws, factor_gradients(Ws, G), strict=True)]
    for Dn, D, dD in zip(balancedness(new), balancedness(Ws), change, strict=True):
        np.testing.assert_allclose(Dn - D, dD, atol=1e-14)
        assert np.abs(dD).max() > 0  # a genuine second-order change, not a vacuous identity


def test_depth_one_reaches_min_frobenius(prob):
    run = factorization_gd(prob.A, prob.y, 1, [0.0], 0.3, 2000, seed=0)
    np.testing.assert_allclose(run.final[0], min_frobenius_solution(prob.A, prob.y), atol=1e-9)


def test_batched_run_equals_separate_runs(prob):
    both = factorization_gd(prob.A, prob.y, 2, [0.05, 0.5], 0.05, 200, seed=0)
    for i, a in enumerate((0.05, 0.5)):
        single = factorization_gd(prob.A, prob.y, 2, [a], 0.05, 200, seed=0)
        np.testing.assert_allclose(both.final[i], single.final[0], atol=1e-13)


def test_factor_path_records_the_factors_at_the_checkpoints(prob):
    """``keep_factors=True`` records the factors the run used: their product is the recorded
    end-to-end matrix, the last entry is ``factors``, and the balancedness drift along the path
    matches the sum of the exact one-step changes (to rounding: 1e-13 on entries of size ~1)."""
    eta, steps = 0.05, [0, 1, 2, 50, 100]
    run = factorization_gd(prob.A, prob.y, 3, [0.3, 0.6], eta, 100, seed=1, checkpoints=steps,
                           keep_factors=True)
    assert factorization_gd(prob.A, prob.y, 3, [0.3], eta, 10, seed=1).factor_path is None
    assert len(run.factor_path) == 3 and run.factor_path[0].shape == (2, 5, 4, 4)
    for k in range(len(steps)):
        np.testing.assert_allclose(end_to_end([F[:, k] for F in run.factor_path]), run.W[:, k],
                                   atol=1e-14)
    for F, last in zip(run.factor_path, run.factors, strict=True):
        np.testing.assert_array_equal(F[:, -1], last)
    # one step: D(1) - D(0) is the exact step change at the initial factors
    W0 = [F[:, 0] for F in run.factor_path]
    G0 = np.einsum("mij,am->aij", prob.A,
                   np.einsum("mij,aij->am", prob.A, end_to_end(W0)) - prob.y) / prob.m
    change = balancedness_step_change(W0, G0, eta)
    D0, D1 = balancedness(W0), balancedness([F[:, 1] for F in run.factor_path])
    for a, b, c in zip(D0, D1, change, strict=True):
        np.testing.assert_allclose(b - a, c, atol=1e-13)
    with pytest.raises(TypeError, match="keep_factors"):
        factorization_gd(prob.A, prob.y, 2, [0.3], eta, 10, seed=1, keep_factors="yes")


def test_nuclear_norm_certificate():
    # identity-like sensing (all entries observed): any M is the unique interpolant
    M = np.outer([1.0, 2.0, 0.5], [0.3, -1.0, 2.0])
    full = completion_problem(M, [(i, j) for i in range(3) for j in range(3)])
    cert, inj = nuclear_norm_certificate(full.A, M)
    assert cert < 1 and inj > 0.5
    # too few measurements: the certificate must fail (the problem has lower-norm interpolants)
    few = sensing_problem(5, 1, 3, seed=0)
    cert_few, inj_few = nuclear_norm_certificate(few.A, few.M)
    assert cert_few >= 1 and inj_few == 0.0


def test_completion_problem_and_validation():
    p = completion_problem(np.eye(2), [(0, 1), (1, 1)])
    assert p.A.shape == (2, 2, 2) and np.allclose(p.y, [0.0, 1.0])
    with pytest.raises(ValueError, match="outside"):
        completion_problem(np.eye(2), [(0, 2)])
    with pytest.raises(ValueError, match="square"):
        completion_problem(np.ones((2, 3)), [(0, 0)])
    with pytest.raises(ValueError, match="shape"):
        sensing_loss(np.ones((3, 2, 3)), np.ones(3), np.eye(2))
    with pytest.raises(ValueError, match="stationary"):
        factorization_gd(p.A, p.y, 2, [0.0], 0.1, 10, seed=0)
    with pytest.raises(ValueError, match="init"):
        factorization_gd(p.A, p.y, 2, [0.1], 0.1, 10, seed=0, init="zeros")
    with pytest.raises(DivergenceError, match="diverged at step") as info:
        factorization_gd(p.A, p.y, 2, [0.1, 1.0], 5.0, 100, seed=0)  # only alpha = 1 blows up
    assert info.value.run == 1 and info.value.quantity == "sensing loss"
    with pytest.raises(ValueError, match="rank"):
        sensing_problem(3, 4, 5, seed=0)
    with pytest.raises(TypeError, match="seed"):
        sensing_problem(3, 1, 5, seed=None)


def test_razin_cohen_determinant_stays_positive():
    # 2x2 completion with W12 = W21 = 1, W22 = 0 observed: every interpolant has det = -1
    p = completion_problem(np.array([[0.0, 1.0], [1.0, 0.0]]), [(0, 1), (1, 0), (1, 1)])
    run = factorization_gd(
        p.A, p.y, 2, [0.1], 0.1, 2000, seed=0, init="identity", checkpoints=np.arange(0, 2001, 50)
    )
    dets = np.linalg.det(run.W[0])
    assert np.all(dets > -1e-12)  # the product never crosses to the interpolants' det < 0
    # ...because the symmetric problem keeps W_2 = W_1^T exactly: W = W_1^T W_1 is PSD
    np.testing.assert_array_equal(run.factors[1][0], run.factors[0][0].T)
    for W, loss in zip(run.W[0], run.loss[0], strict=True):
        if loss < 1 / 6:
            s = np.sqrt(6 * loss)
            assert abs(W[0, 0]) >= (1 - s) ** 2 / s * (1 - 1e-9)
    assert run.loss[0, -1] < 1e-2 and abs(run.W[0, -1, 0, 0]) > 3.0  # fits by |W11| growing
    with pytest.raises(ValueError, match="depth"):
        initial_factors(3, 0, [0.1], seed=0)


def test_low_rank_matrix():
    M = low_rank_matrix(6, 2, seed=4)
    sv = np.linalg.svd(M, compute_uv=False)
    assert abs(sv[0] - 1.0) < 1e-12 and sv[1] > 1e-3 and sv[2] < 1e-12
    np.testing.assert_array_equal(M, sensing_problem(6, 2, 3, seed=4).M)
    with pytest.raises(ValueError, match="rank"):
        low_rank_matrix(3, 4, seed=0)
    with pytest.raises(TypeError, match="seed"):
        low_rank_matrix(3, 1, seed=None)


def test_completion_depth_one_vs_depth_two():
    # rank-1 completion, 24 of 36 entries observed (4 per row and column)
    M = low_rank_matrix(6, 1, seed=0)
    observed = [(i, j) for i in range(6) for j in range(6) if (i + 2 * j) % 3 != 0]
    p = completion_problem(M, observed)
    mask = np.zeros((6, 6), dtype=bool)
    mask[tuple(np.array(observed).T)] = True
    # the minimum-Frobenius completion keeps the observed entries and puts 0 elsewhere
    W_frob = min_frobenius_solution(p.A, p.y)
    np.testing.assert_allclose(W_frob, np.where(mask, M, 0.0), atol=1e-12)
    cert, inj = nuclear_norm_certificate(p.A, M)
    assert cert < 1 and inj > 0  # M is the unique min-nuclear-norm completion
    run1 = factorization_gd(p.A, p.y, 1, [0.0], 0.1 * p.m, 300, seed=0)
    np.testing.assert_allclose(run1.final[0], W_frob, atol=1e-10)
    run2 = factorization_gd(p.A, p.y, 2, [0.01], 0.1 * p.m, 3000, seed=0)
    assert np.linalg.norm(run2.final[0] - M) < 1e-2 < np.linalg.norm(W_frob - M)


def test_explicit_initial_factors():
    p = completion_problem(np.array([[0.0, 1.0], [1.0, 0.0]]), [(0, 1), (1, 0), (1, 1)])
    ident = factorization_gd(p.A, p.y, 2, [0.1, 0.2], 0.1, 50, seed=0, init="identity")
    explicit = factorization_gd(p.A, p.y, 2, [0.1, 0.2], 0.1, 50, seed=0, init=[np.eye(2)] * 2)
    np.testing.assert_array_equal(ident.W, explicit.W)
    # a balanced but non-symmetric start with det W(0) > 0: GD crosses det = 0 and converges
    # to a finite interpolant (det -1), unlike the symmetric run above
    c, s_ = np.cos(np.pi / 6), np.sin(np.pi / 6)
    rot = np.array([[c, -s_], [s_, c]])
    run = factorization_gd(p.A, p.y, 2, [0.1], 0.1, 3000, seed=0, init=[np.eye(2), rot])
    assert np.linalg.det(run.W[0, 0]) > 0 and np.linalg.det(run.W[0, -1]) < -0.99
    assert run.loss[0, -1] < 1e-12 and np.linalg.norm(run.W[0, -1], "nuc") < 10
    with pytest.raises(ValueError, match="depth = 2"):
        factorization_gd(p.A, p.y, 2, [0.1], 0.1, 5, seed=0, init=[np.eye(2)])
    with pytest.raises(ValueError, match="shape"):
        factorization_gd(p.A, p.y, 2, [0.1], 0.1, 5, seed=0, init=[np.eye(3)] * 2)


def _bad_factor_calls():
    from ibcore import factorization as fz

    eye = np.eye(2)
    nan = np.full((2, 2), np.nan)
    prob = fz.completion_problem(eye, [(0, 0), (1, 1)])
    return [
        ("e2e-None", lambda: fz.end_to_end(None), TypeError, "Ws must be a list"),
        ("e2e-nan", lambda: fz.end_to_end([eye, nan]), ValueError, r"Ws\[1\] contains 4 NaN"),
        ("e2e-chain", lambda: fz.end_to_end([np.ones((3, 2)), eye]), ValueError,
         r"Ws\[1\] has shape"),
        ("bal-str", lambda: fz.balancedness("Ws"), TypeError, "Ws must be a list"),
        ("bal-1d", lambda: fz.balancedness([np.ones(2), eye]), ValueError,
         r"Ws\[0\] must be a matrix"),
        ("grad-G-inf", lambda: fz.factor_gradients([eye, eye], np.full((2, 2), np.inf)),
         ValueError, "G contains 4 NaN"),
        ("grad-G-1d", lambda: fz.factor_gradients([eye, eye], np.ones(2)), ValueError,
         "G must be the gradient"),
        ("step-G-nan", lambda: fz.balancedness_step_change([eye, eye], nan, 0.1), ValueError,
         "G contains"),
        ("step-eta-huge", lambda: fz.balancedness_step_change([eye, eye], eye, 1e200),
         ValueError, r"eta = 1e\+200 is too large"),
        ("obs-None", lambda: fz.completion_problem(eye, None), TypeError, "observed must be"),
        ("obs-nan", lambda: fz.completion_problem(eye, [(0, np.nan)]), TypeError,
         "observed must hold integer"),
        ("obs-flat", lambda: fz.completion_problem(eye, [0, 1]), ValueError,
         r"observed must be a list of \(row, column\)"),
        ("flow-Ws0-None", lambda: fz.factorization_flow(prob.A, prob.y, None, [0.0, 1.0]),
         TypeError, "Ws0 must be a list"),
    ]


@pytest.mark.parametrize("case", _bad_factor_calls(), ids=lambda c: c[0])
def test_factor_functions_reject_bad_arguments(case):
    _, call, exc, match = case
    with pytest.raises(exc, match=match):
        call()


def test_tangent_projection_is_the_orthogonal_projector_onto_T():
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((5, 2)))
    V, _ = np.linalg.qr(rng.standard_normal((4, 2)))
    Z = rng.standard_normal((3, 5, 4))  # a stack of matrices
    PZ = tangent_projection(Z, U, V)
    assert PZ.shape == Z.shape
    # the complement is (I - P_U) Z (I - P_V), and the two parts are orthogonal
    perp = (np.eye(5) - U @ U.T) @ Z @ (np.eye(4) - V @ V.T)
    np.testing.assert_allclose(Z - PZ, perp, atol=1e-14)
    assert abs(np.sum(PZ * perp)) < 1e-13
    np.testing.assert_allclose(tangent_projection(PZ, U, V), PZ, atol=1e-14)  # idempotent
    # T = {U X^T + Y V^T} is fixed, its complement is annihilated
    T_el = U @ rng.standard_normal((2, 4)) + rng.standard_normal((5, 2)) @ V.T
    np.testing.assert_allclose(tangent_projection(T_el, U, V), T_el, atol=1e-14)
    np.testing.assert_allclose(tangent_projection(perp[0], U, V), 0.0, atol=1e-14)


def test_tangent_projection_bad_input():
    U, V = np.eye(3)[:, :1], np.eye(3)[:, :1]
    with pytest.raises(ValueError, match="orthonormal"):
        tangent_projection(np.eye(3), 2.0 * U, V)
    with pytest.raises(ValueError, match="need Z"):
        tangent_projection(np.eye(4), U, V)
    with pytest.raises(ValueError, match="need Z"):
        tangent_projection(np.eye(3), U, np.eye(3)[:, :2])


def test_sensing_names_are_re_exported_by_factorization():
    """ibcore.sensing holds the sensing problems; ibcore.factorization re-exports the same
    objects, so factorization.sensing_problem and friends keep working."""
    import ibcore.factorization as factorization
    import ibcore.sensing as sensing

    for name in sensing.__all__:
        assert getattr(factorization, name) is getattr(sensing, name)
        assert name in factorization.__all__
