"""Unit tests of the shared training loop (ibcore.descent.iterate), its divergence policy and
the errors it raises (ibcore.errors), and of the power-law fit (ibcore.stats)."""

import numpy as np
import pytest

import ibcore
from ibcore import descent, stats
from ibcore.errors import DivergenceError, SolverError


def _scalar_gd(eta, n_steps, **kw):
    # GD on L(w) = w^2 / 2 from w = 1: w_k = (1 - eta)^k exactly representable for eta = 1/2, 3
    return descent.iterate(
        lambda w, k: w - eta * w, 1.0, n_steps, measure=lambda w: 0.5 * w * w,
        record=lambda w: {"w": w}, **kw,
    )


def test_iterate_records_checkpoints_and_values():
    run = _scalar_gd(0.5, 10, checkpoints=np.array([0, 3, 10]))
    np.testing.assert_array_equal(run.steps, [0, 3, 10])
    np.testing.assert_array_equal(run.records["w"], [1.0, 0.125, 0.5**10])
    np.testing.assert_array_equal(run.values, 0.5 * run.records["w"] ** 2)
    assert run.state == 0.5**10 and run.diverged_at is None and not run.diverged


def test_iterate_raises_divergence_error_with_step_and_value():
    # w_k = (-2)^k, L_k = 2^{2k-1} > 1e12 * max(1, L_0) first at k = 21 (2^39 = 5.5e11)
    with pytest.raises(DivergenceError) as info:
        _scalar_gd(3.0, 100)
    err = info.value
    assert isinstance(err, ValueError) and ibcore.DivergenceError is DivergenceError
    assert err.step == 21 and err.value == 2.0**41 and err.quantity == "loss"
    assert "diverged at step 21" in str(err) and "smaller step size" in str(err)


def test_iterate_stop_keeps_the_last_finite_state():
    run = _scalar_gd(3.0, 100, on_divergence="stop", checkpoints=np.arange(101))
    assert run.diverged_at == 21 and run.diverged
    assert run.steps[-1] == 20 and run.state == (-2.0) ** 20
    assert np.all(np.isfinite(run.values))


def test_iterate_nonfinite_start_and_bad_arguments():
    with pytest.raises(ValueError, match="loss at the initial point is not finite"):
        descent.iterate(lambda w, k: w, np.nan, 3, measure=lambda w: w)
    with pytest.raises(ValueError, match="on_divergence must be one of"):
        _scalar_gd(0.5, 3, on_divergence="ignore")
    with pytest.raises(TypeError, match="callables"):
        descent.iterate(None, 1.0, 3, measure=lambda w: w)
    with pytest.raises(ValueError, match="blowup_factor must be >= 1"):
        _scalar_gd(0.5, 3, blowup_factor=0.5)


def test_iterate_callback_stops_at_a_tolerance():
    run = _scalar_gd(0.5, 1000, checkpoints=np.arange(1001),
                     callback=lambda k, w, loss: loss < 1e-6)
    # 0.5 * 0.25^k < 1e-6 first at k = 10 (0.5 * 4^-10 = 4.8e-7)
    assert run.stopped_at == 10 and run.steps[-1] == 10


def test_iterate_batch_freezes_each_diverged_run():
    etas = np.array([0.5, 3.0, 2.5])  # contracting, blowing up at k = 21, more slowly

    def advance(w, k, active):
        return np.where(active, w - etas * w, w)

    run = descent.iterate(advance, np.ones(3), 200, measure=lambda w: 0.5 * w * w,
                          record=lambda w: {"w": w}, on_divergence="stop",
                          checkpoints=np.arange(0, 201, 5))
    # |1 - 2.5| = 1.5: 0.5 * 1.5^{2k} > 5e11 <=> k >= 34.5 -> 35
    np.testing.assert_array_equal(run.diverged_at, [-1, 21, 35])
    assert run.diverged and run.values.shape == (41, 3)
    assert np.all(np.isfinite(run.records["w"]))
    # a frozen run repeats its last finite checkpoint (step 20 for run 1, 30 for run 2)
    np.testing.assert_array_equal(run.records["w"][4:, 1], (-2.0) ** 20)
    np.testing.assert_array_equal(run.records["w"][6:, 2], (-1.5) ** 30)
    assert run.records["w"][5, 2] == (-1.5) ** 25
    np.testing.assert_array_equal(run.records["w"][:, 0], 0.5 ** np.arange(0, 201, 5))
    with pytest.raises(DivergenceError, match="run 1 of the batch diverged at step 21"):
        descent.iterate(advance, np.ones(3), 200, measure=lambda w: 0.5 * w * w)


def test_iterate_batch_ends_when_every_run_diverged():
    run = descent.iterate(lambda w, k, a: np.where(a, -3 * w, w), np.ones(2), 10**6,
                          measure=lambda w: w * w, on_divergence="stop")
    np.testing.assert_array_equal(run.diverged_at, [13, 13])  # 9^13 = 2.5e12 > 1e12


def test_errors():
    err = DivergenceError(5, np.inf, quantity="|w|", hint="lower eta", run=None)
    assert str(err) == "the run diverged at step 5: |w| = inf; lower eta"
    assert issubclass(SolverError, RuntimeError)


def test_loglog_slope():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    slope, se = stats.loglog_slope(x, 3.0 * x**-1.5)
    assert abs(slope + 1.5) < 1e-14 and se < 1e-14
    noisy = 3.0 * x**-1.5 * np.array([1.1, 0.9, 1.05, 0.97])
    slope, se = stats.loglog_slope(noisy * 0 + x, noisy)
    assert abs(slope + 1.5) < 3 * se + 0.1 and se > 0
    assert np.isnan(stats.loglog_slope([1.0, 2.0], [1.0, 0.5])[1])
    with pytest.raises(ValueError, match="all > 0"):
        stats.loglog_slope([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="at least two different values"):
        stats.loglog_slope([2.0, 2.0, 2.0], [1.0, 0.5, 0.2])


def test_run_gd_on_divergence_raise():
    # run_gd(on_divergence="raise") (added for ibcore.ntk's trainers): the same blow-up step as
    # iterate on L(w) = w^2 / 2 with eta = 3; the default "stop" keeps reporting diverged_at
    def fun(w):
        return 0.5 * float(w @ w), w.copy()

    traj = descent.run_gd(fun, np.ones(1), 3.0, 100)
    assert traj.diverged_at == 21
    with pytest.raises(DivergenceError) as info:
        descent.run_gd(fun, np.ones(1), 3.0, 100, on_divergence="raise")
    assert info.value.step == 21 and info.value.value == 2.0**41
    assert "smaller step size eta" in str(info.value)
    ok = descent.run_gd(fun, np.ones(1), 0.5, 10, on_divergence="raise")
    np.testing.assert_array_equal(ok.final, [0.5**10])
    with pytest.raises(ValueError, match="on_divergence"):
        descent.run_gd(fun, np.ones(1), 0.5, 10, on_divergence="warn")
