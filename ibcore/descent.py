"""Generic runners for gradient descent, heavy ball and SGD, with one divergence policy.

Every chapter that trains something calls these runners, so that all experiments of the course
record, report and fail in the same way.

The objective
    A loss is a callable ``fun(w) -> (loss, grad)`` returning a float and a float64 array of the
    shape of ``w`` (``w`` is a 1-D float64 vector). SGD takes ``fun_i(w, idx) -> (loss, grad)`` on
    the mini-batch of sample indices ``idx`` (an int array); by convention ``fun_i`` *averages*
    over the batch, so ``fun_i(w, arange(n))`` is the full loss. For least squares the course
    uses ``L(w) = (1/2n) ||X w - y||^2`` (see :mod:`ibcore.linear`).

The updates
    GD: ``w_{k+1} = w_k - eta_k grad L(w_k)``, the forward Euler discretisation, with step
    ``eta_k``, of the gradient flow ``dw/dt = -grad L(w)``; GD step ``k`` sits at flow time
    ``t_k = eta_0 + ... + eta_{k-1}`` (:attr:`Trajectory.times`). SGD replaces the gradient by
    the gradient of a uniformly sampled mini-batch. The heavy-ball method
    (:func:`run_heavy_ball`) adds the momentum term ``momentum * (w_k - w_{k-1})``.

Checkpoints
    Runs are long (10^4-10^6 steps) and phenomena are spread over decades of time, so iterates
    are stored only at *checkpoints*, by default :func:`log_checkpoints` (about 100 log-spaced
    step indices, always including 0 and ``n_steps``). Pass ``checkpoints=np.arange(n + 1)`` to
    record every step.

The shared loop
    :func:`iterate` is the loop under every trainer of the course, from GD on a vector to
    batched torch networks: it takes a state, a step function, a measured quantity (the loss, or
    a norm where the loss is minimised at infinity), checkpoints and an optional callback, and
    applies the divergence policy below, once, for everyone. A diverging run raises
    :class:`ibcore.errors.DivergenceError` (with the step and the value), or with
    ``on_divergence="stop"`` ends and reports ``diverged_at`` (the runners below, whose
    experiments show divergence on purpose, default to ``"stop"``).

Divergence policy
    A run *diverges at step k* if ``w_k`` or ``L(w_k)`` is not finite, or if
    ``|L(w_k)| > blowup_factor * max(1, |L(w_0)|)`` (default ``blowup_factor = 1e12``; the norm
    of ``w`` alone is never a divergence criterion because some losses, e.g. the logistic loss on
    separable data, are minimised at infinity). The run then stops: ``Trajectory.diverged_at =
    k`` and the recorded arrays contain only the checkpoints before ``k``. No NaN is ever
    returned; callers report "diverged at step k" instead of plotting garbage. On a quadratic,
    :meth:`ibcore.quadratic.Quadratic.gd` evaluates the exact iterates in closed form and refuses
    a step size past the stability threshold ``2 / lambda_max`` unless divergence is explicitly
    allowed.

Gradient flow
    The continuous-time limit ``dw/dt = -grad L(w)`` is integrated by
    :func:`ibcore.flow.gradient_flow` (module :mod:`ibcore.flow`, which builds on this one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import DivergenceError
from .schedules import as_checkpoints, log_checkpoints, step_sizes
from .validation import (
    as_vector,
    check_blowup_factor,
    check_rng,
    one_of,
    positive_float,
    positive_int,
    probability,
)

__all__ = [
    "DEFAULT_BLOWUP_FACTOR",
    "Run",
    "Trajectory",
    "as_checkpoints",
    "descent_lemma_slack",
    "iterate",
    "log_checkpoints",
    "run_gd",
    "run_heavy_ball",
    "run_sgd",
    "step_sizes",
]

#: A loss exceeding this factor times ``max(1, |L(w_0)|)`` counts as a blow-up (divergence).
DEFAULT_BLOWUP_FACTOR = 1e12


@dataclass(frozen=True)
class Trajectory:
    """A recorded run of an iterative method.

    Attributes
    ----------
    steps : ndarray of int64, shape (k,)
        Iteration index of each recorded checkpoint (0 = initialisation).
    w : ndarray of float64, shape (k, d)
        Iterate at each checkpoint.
    loss : ndarray of float64, shape (k,)
        Loss at each checkpoint (for SGD: the full loss, not the mini-batch loss).
    eta : float or ndarray
        Constant step size, or the per-step sizes ``eta_0, ..., eta_{n-1}`` of a schedule.
    diverged_at : int or None
        First step index at which the iterate or loss became non-finite or blew up (see the
        module docstring); the arrays stop before it. ``None``: the run did not diverge.
    """

    steps: np.ndarray
    w: np.ndarray
    loss: np.ndarray
    eta: float | np.ndarray
    diverged_at: int | None = None

    @property
    def final(self) -> np.ndarray:
        """The last recorded iterate (before divergence, if the run diverged)."""
        return self.w[-1]

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    @property
    def times(self) -> np.ndarray:
        """Gradient-flow time ``t_k = eta_0 + ... + eta_{k-1}`` of each checkpoint."""
        if np.ndim(self.eta) == 0:
            return float(self.eta) * self.steps.astype(np.float64)
        cum = np.concatenate([[0.0], np.cumsum(self.eta)])
        return cum[self.steps]

    def describe(self) -> str:
        """One line for a figure title or a printout: how the run ended."""
        if self.diverged:
            return f"diverged at step {self.diverged_at}"
        return f"step {int(self.steps[-1])}: loss {self.loss[-1]:.3g}"


@dataclass(frozen=True)
class Run:
    """What :func:`iterate` returns.

    Attributes
    ----------
    steps : ndarray of int64, shape (k,)
        The checkpoints recorded (all of them unless the run stopped early).
    values : ndarray of float64, shape (k,) or (k, B)
        The measured quantity at each checkpoint (per run for a batch of ``B`` runs).
    records : dict of str to ndarray
        ``record(state)`` at each checkpoint, stacked along a new first axis.
    state : object
        The final state: for a single run that diverged, the last state measured finite (when
        ``advance`` returns a new object; an ``advance`` that updates in place leaves the
        diverged state here).
    diverged_at : int or None, or ndarray of int64, shape (B,)
        First step at which the run diverged (``None``: it did not); for a batch, one entry per
        run with ``-1`` for the runs that did not diverge.
    stopped_at : int or None
        The step at which ``callback`` asked to stop (``None``: it did not).
    """

    steps: np.ndarray
    values: np.ndarray
    records: dict
    state: object
    diverged_at: int | np.ndarray | None = None
    stopped_at: int | None = None

    @property
    def diverged(self) -> bool:
        """Whether the run (any run of a batch) diverged."""
        if isinstance(self.diverged_at, np.ndarray):
            return bool(np.any(self.diverged_at >= 0))
        return self.diverged_at is not None


# -- helpers ---------------------------------------------------------------------------------


def _evaluate(fun, w, *args, where: str):
    out = fun(w, *args)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"{where} must return a tuple (loss, grad), got {type(out).__name__}")
    loss, grad = out
    loss = float(loss)
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != w.shape:
        raise ValueError(
            f"{where} returned a gradient of shape {grad.shape}, expected {w.shape} like w"
        )
    return loss, grad


# -- runners ---------------------------------------------------------------------------------


def run_gd(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    w0,
    eta,
    n_steps: int,
    *,
    checkpoints=None,
    blowup_factor: float = DEFAULT_BLOWUP_FACTOR,
    on_divergence: str = "stop",
) -> Trajectory:
    """Full-batch gradient descent ``w_{k+1} = w_k - eta_k grad L(w_k)``.

    Parameters
    ----------
    fun : callable
        ``fun(w) -> (loss, grad)``.
    w0 : array_like, shape (d,)
        Initial point.
    eta : float or callable
        Step size, or a schedule ``eta(k) -> float`` for step ``k = 0, 1, ...``.
    n_steps : int
        Number of updates (>= 0); the last checkpoint is ``w_{n_steps}``.
    checkpoints : array_like of int, optional
        Steps to record (default :func:`log_checkpoints`).
    blowup_factor : float
        Divergence bound, see the module docstring.
    on_divergence : {"stop", "raise"}
        ``"stop"`` (default): end the run and report ``diverged_at``; ``"raise"``: raise
        :class:`~ibcore.errors.DivergenceError` (step, loss, hint "use a smaller step size eta").

    Returns
    -------
    Trajectory
        With ``diverged_at`` set (and the arrays truncated) if the run diverged.
    """
    return _first_order_run(
        fun, w0, eta, 0.0, n_steps, checkpoints, blowup_factor, on_divergence=on_divergence
    )


def run_heavy_ball(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    w0,
    eta,
    momentum: float,
    n_steps: int,
    *,
    checkpoints=None,
    blowup_factor: float = DEFAULT_BLOWUP_FACTOR,
) -> Trajectory:
    """Polyak's heavy-ball method ``w_{k+1} = w_k - eta_k grad L(w_k) + momentum (w_k - w_{k-1})``.

    The run starts at rest, ``w_{-1} = w_0``, so the first step is a plain GD step. With a
    constant ``eta`` this is the same sequence as the velocity form ``u_k = momentum u_{k-1} -
    grad L(w_k)``, ``w_{k+1} = w_k + eta u_k`` with ``u_{-1} = 0``. ``momentum = 0`` is
    :func:`run_gd`. On a quadratic with Polyak's tuning
    (:meth:`ibcore.quadratic.Quadratic.heavy_ball_tuning`) the error contracts at the rate
    ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)`` per step instead of GD's
    ``(kappa - 1) / (kappa + 1)``.

    Parameters
    ----------
    fun : callable
        ``fun(w) -> (loss, grad)``.
    w0 : array_like, shape (d,)
        Initial point (and ``w_{-1}``).
    eta : float or callable
        Step size, or a schedule ``eta(k) -> float`` for step ``k = 0, 1, ...``.
    momentum : float
        Momentum coefficient in ``[0, 1)``.
    n_steps : int
        Number of updates (>= 0).
    checkpoints, blowup_factor
        As in :func:`run_gd` (same divergence policy).

    Returns
    -------
    Trajectory
        ``eta`` holds the step size(s); the momentum is not stored.
    """
    momentum = probability(momentum, "momentum")
    return _first_order_run(fun, w0, eta, momentum, n_steps, checkpoints, blowup_factor)


def _first_order_run(
    fun, w0, eta, momentum, n_steps, checkpoints, blowup_factor, *, on_divergence="stop"
) -> Trajectory:
    """:func:`run_gd` (``momentum = 0``) and :func:`run_heavy_ball` on the shared loop."""
    if not callable(fun):
        raise TypeError(f"fun must be callable fun(w) -> (loss, grad), got {type(fun).__name__}")
    w = as_vector(w0, "w0").copy()
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    etas = step_sizes(eta, n_steps)
    grad = {}  # the gradient evaluated with the loss at the current iterate

    def measure(state):
        if not np.all(np.isfinite(state[0])):  # overflowed: diverged (fun is not evaluated at inf)
            return np.inf
        loss, grad["w"] = _evaluate(fun, state[0], where="fun(w)")
        return loss

    def advance(state, k):
        w, w_prev = state
        step = etas if np.ndim(etas) == 0 else etas[k]
        with np.errstate(over="ignore", invalid="ignore"):  # caught by the blow-up test
            if momentum == 0.0:
                return w - step * grad["w"], w
            return w - step * grad["w"] + momentum * (w - w_prev), w

    run = iterate(
        advance, (w, w), n_steps, measure=measure, checkpoints=checkpoints,
        record=lambda state: {"w": state[0]}, blowup_factor=blowup_factor,
        on_divergence=on_divergence,
    )
    return Trajectory(
        steps=run.steps,
        w=run.records.get("w", np.empty((0, w.size))),
        loss=run.values,
        eta=etas,
        diverged_at=run.diverged_at,
    )


# -- the shared loop --------------------------------------------------------------------------


def iterate(
    advance: Callable,
    state,
    n_steps: int,
    *,
    measure: Callable,
    checkpoints=None,
    record: Callable | None = None,
    callback: Callable | None = None,
    blowup_factor: float = DEFAULT_BLOWUP_FACTOR,
    on_divergence: str = "raise",
    quantity: str = "loss",
    hint: str = "use a smaller step size eta",
) -> Run:
    """Run ``state_{k+1} = advance(state_k, k)`` for ``k < n_steps`` under the divergence policy.

    At every step ``k = 0, ..., n_steps`` the loop evaluates ``measure(state_k)``: a float, or a
    1-D array with one value per run for a batch of ``B`` runs. The run *diverges at step k* if
    the value is not finite or exceeds ``blowup_factor * max(1, |value_0|)`` (the module
    docstring); a non-finite value at step 0 is a bad starting point (``ValueError``). At each
    checkpoint it stores the value and ``record(state_k)`` (a dict of arrays) and then calls
    ``callback(k, state_k, value)``, which may return ``True`` to stop the run (a tolerance
    reached).

    A divergence raises :class:`~ibcore.errors.DivergenceError` (``on_divergence="raise"``, the
    default) naming the step, the value, ``quantity`` and ``hint``. With ``"stop"``, a single run
    ends at the step before it and reports ``diverged_at``; in a batch, the runs that diverged
    are frozen: ``advance(state, k, active)`` then receives the boolean mask of the runs still
    running and must leave the others unchanged, their recorded entries repeat their last
    finite checkpoint, and the loop ends when no run is left. ``measure`` may cache what
    ``advance`` needs next (e.g. the gradient computed with the loss) in the state.

    Parameters
    ----------
    advance : callable
        ``advance(state, k) -> state`` (single run) or ``advance(state, k, active) -> state``
        (batch).
    state : object
        The state at step 0 (any object: an array, a tuple, a torch module).
    n_steps : int
        Number of updates (>= 0).
    measure : callable
        ``measure(state) -> float`` or ``-> ndarray (B,)``, the monitored quantity.
    checkpoints : array_like of int, optional
        Steps to record (default :func:`log_checkpoints`); a batch always records step 0.
    record : callable, optional
        ``record(state) -> dict[str, array_like]`` stored at the checkpoints.
    callback : callable, optional
        ``callback(k, state, value) -> bool | None`` at the checkpoints.
    blowup_factor : float
        Divergence bound (>= 1).
    on_divergence : {"raise", "stop"}
    quantity, hint : str
        Words for the error message: what was measured and how to fix a divergence.

    Returns
    -------
    Run
        The recorded checkpoints, values and records, the final state, ``diverged_at`` and
        ``stopped_at``.

    Raises
    ------
    ibcore.errors.DivergenceError
        With ``on_divergence="raise"``, at the first step whose value blows up.
    ValueError
        If the value at step 0 is not finite, or ``measure`` returns more than a 1-D array.
    """
    if not callable(advance) or not callable(measure):
        raise TypeError("advance and measure must be callables advance(state, k), measure(state)")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    cps = as_checkpoints(checkpoints, n_steps)
    blowup_factor = check_blowup_factor(blowup_factor)
    on_divergence = one_of(on_divergence, "on_divergence", ("raise", "stop"))
    values, recs, steps = [], {}, []
    bound = active = diverged = None
    batched = False
    stopped_at = None
    last_good = state
    for k in range(n_steps + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # judged below, never returned
            v = np.asarray(measure(state), dtype=np.float64)
        if k == 0:
            if v.ndim > 1:
                raise ValueError(
                    f"measure(state) must return a float or a 1-D array, got shape {v.shape}"
                )
            batched = v.ndim == 1
            if not np.all(np.isfinite(v)):
                raise ValueError(
                    f"the {quantity} at the initial point is not finite ({v}); start elsewhere"
                )
            bound = blowup_factor * np.maximum(1.0, np.abs(v))
            active = np.ones(v.shape, dtype=bool)
            diverged = np.full(v.shape, -1, dtype=np.int64)
            if batched and cps[0] != 0:
                cps = np.concatenate([[0], cps])
        bad = ~(np.isfinite(v) & (np.abs(v) <= bound)) & active
        if np.any(bad):
            first = int(np.flatnonzero(bad)[0]) if batched else None
            if on_divergence == "raise":
                raise DivergenceError(
                    k, float(v[first] if batched else v), quantity=quantity,
                    bound=float(bound[first] if batched else bound), hint=hint, run=first,
                )
            if not batched:
                state = last_good
                diverged = k
                break
            diverged[bad] = k
            active = active & ~bad
        if len(steps) < cps.size and cps[len(steps)] == k:
            row = {"value": v.copy()}
            if record is not None:
                row.update({key: np.array(val, dtype=np.float64)
                            for key, val in record(state).items()})
            if batched and steps and not np.all(active):
                frozen = ~active
                for key, val in row.items():
                    prev = recs[key][-1]
                    val[frozen] = prev[frozen]  # a frozen run repeats its last finite record
            for key, val in row.items():
                recs.setdefault(key, []).append(val)
            steps.append(k)
            if callback is not None and callback(k, state, v if batched else float(v)):
                stopped_at = k
                break
        if k == n_steps or (batched and not np.any(active)):
            break
        last_good = state
        state = advance(state, k, active) if batched else advance(state, k)
    if not batched and not isinstance(diverged, int):
        diverged = None
    values = np.array(recs.pop("value")) if steps else np.empty((0, *np.shape(bound)))
    return Run(
        steps=np.asarray(steps, dtype=np.int64),
        values=values,
        records={key: np.array(val) for key, val in recs.items()},
        state=state,
        diverged_at=diverged,
        stopped_at=stopped_at,
    )


def run_sgd(
    fun_i: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]],
    w0,
    eta,
    n_steps: int,
    n_samples: int,
    *,
    batch_size: int = 1,
    seed,
    replace: bool = True,
    checkpoints=None,
    blowup_factor: float = DEFAULT_BLOWUP_FACTOR,
) -> Trajectory:
    """Mini-batch SGD ``w_{k+1} = w_k - eta_k grad L_{B_k}(w_k)``.

    Each step draws a batch ``B_k`` of ``batch_size`` indices uniformly from
    ``{0, ..., n_samples - 1}``: i.i.d. with replacement (default, the setting of the classical
    SGD analysis) or, with ``replace=False``, without replacement within the batch. The
    generator is ``numpy.random.default_rng(seed)``, so a seed fixes the run.

    ``fun_i(w, idx) -> (loss, grad)`` averages over the batch ``idx``. The recorded ``loss`` is
    the full loss ``fun_i(w, arange(n_samples))[0]``, evaluated at step 0 and at the checkpoints
    only. The run is on :func:`iterate` with ``on_divergence="stop"``: the blow-up bound is
    ``blowup_factor * max(1, |L(w_0)|)`` with the full loss ``L(w_0)``, and the divergence test
    uses the mini-batch loss at every step ``k > 0`` and the full loss at the checkpoints (the
    monitored value is the larger of their absolute values).

    Parameters
    ----------
    fun_i : callable
        ``fun_i(w, idx) -> (loss, grad)``, averaged over the sample indices ``idx``.
    w0 : array_like, shape (d,)
        Initial point.
    eta : float or callable
        Step size, or a schedule ``eta(k) -> float`` for step ``k = 0, 1, ...``.
    n_steps : int
        Number of updates (>= 0).
    n_samples : int
        Size of the data set (>= 1).
    batch_size : int
        Indices per mini-batch (>= 1; at most ``n_samples`` when ``replace=False``).
    seed : int or numpy.random.Generator
        Seeds the batch draws (keyword-only, required).
    replace : bool
        Draw a batch with replacement (default) or without.
    checkpoints, blowup_factor
        As in :func:`run_gd`.

    Returns
    -------
    Trajectory
        With ``diverged_at`` set (and the arrays truncated before it) if the run diverged.

    Raises
    ------
    TypeError
        If ``fun_i`` is not callable or returns something other than ``(loss, grad)``.
    ValueError
        If an argument is out of range, or the full loss at ``w0`` is not finite.
    """
    if not callable(fun_i):
        raise TypeError(
            f"fun_i must be callable fun_i(w, idx) -> (loss, grad), got {type(fun_i).__name__}"
        )
    w = as_vector(w0, "w0").copy()
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    n_samples = positive_int(n_samples, "n_samples")
    batch_size = positive_int(batch_size, "batch_size")
    if not replace and batch_size > n_samples:
        raise ValueError(
            f"batch_size={batch_size} exceeds n_samples={n_samples}: sampling without "
            "replacement needs batch_size <= n_samples"
        )
    rng = check_rng(seed)
    etas = step_sizes(eta, n_steps)
    cps = as_checkpoints(checkpoints, n_steps)
    everyone = np.arange(n_samples)
    if replace:
        batches = rng.integers(0, n_samples, size=(n_steps, batch_size))
    at = {"k": 0, "cp": 0}  # measure is called once per step, in order
    cache = {}

    def measure(w):
        k = at["k"]
        at["k"] += 1
        if not np.all(np.isfinite(w)):  # overflowed: diverged (fun_i is not evaluated at inf)
            return np.inf
        value = 0.0  # k = n_steps off the checkpoints: nothing is evaluated (as before)
        full = None
        at_checkpoint = at["cp"] < cps.size and cps[at["cp"]] == k
        at["cp"] += int(at_checkpoint)
        if at_checkpoint or k == 0:  # k = 0 also sets the blow-up bound from L(w0)
            full, _ = _evaluate(fun_i, w, everyone, where="fun_i(w, idx)")
            value = cache["full"] = full
        if k < n_steps:
            idx = batches[k] if replace else rng.choice(n_samples, batch_size, replace=False)
            loss, cache["grad"] = _evaluate(fun_i, w, idx, where="fun_i(w, idx)")
            if k > 0:  # the larger of |full| and |mini-batch| (NaN propagates)
                value = loss if full is None else np.maximum(abs(full), abs(loss))
        return value

    def advance(w, k):
        with np.errstate(over="ignore", invalid="ignore"):  # caught by the blow-up test
            return w - (etas if np.ndim(etas) == 0 else etas[k]) * cache["grad"]

    run = iterate(
        advance, w, n_steps, measure=measure, checkpoints=cps,
        record=lambda w: {"w": w, "loss": cache["full"]},
        blowup_factor=blowup_factor, on_divergence="stop",
    )
    return Trajectory(
        steps=run.steps,
        w=run.records.get("w", np.empty((0, w.size))),
        loss=run.records.get("loss", np.empty(0)),
        eta=etas,
        diverged_at=run.diverged_at,
    )


def descent_lemma_slack(traj: Trajectory, fun, smoothness: float) -> np.ndarray:
    """Slack of the descent lemma along consecutive recorded GD steps.

    For an ``L``-smooth loss (``L = smoothness``) one GD step of size ``eta`` satisfies

        L(w_{k+1}) <= L(w_k) - eta (1 - L eta / 2) ||grad L(w_k)||^2,

    so the returned array ``L(w_k) - eta_k (1 - L eta_k/2) ||grad L(w_k)||^2 - L(w_{k+1})``
    is >= 0 (up to rounding) at every consecutive pair ``(k, k+1)`` of recorded steps.
    Requires checkpoints that include consecutive steps (e.g. ``np.arange(n + 1)``).

    Parameters
    ----------
    traj : Trajectory
        A GD run (:func:`run_gd`) with consecutive checkpoints.
    fun : callable
        ``fun(w) -> (loss, grad)``, the loss of the run.
    smoothness : float
        The smoothness constant ``L`` (> 0).

    Returns
    -------
    ndarray of float64
        One slack per consecutive pair of recorded steps.

    Raises
    ------
    TypeError
        If ``traj`` is not a :class:`Trajectory`.
    ValueError
        If ``traj`` has no consecutive recorded steps.
    """
    if not isinstance(traj, Trajectory):
        raise TypeError(f"traj must be a Trajectory, got {type(traj).__name__}")
    smoothness = positive_float(smoothness, "smoothness")
    pairs = np.flatnonzero(np.diff(traj.steps) == 1)
    if pairs.size == 0:
        raise ValueError(
            "traj has no consecutive recorded steps: run it with checkpoints=np.arange(n + 1)"
        )
    slack = np.empty(pairs.size)
    for j, p in enumerate(pairs):
        k = int(traj.steps[p])
        eta = float(traj.eta) if np.ndim(traj.eta) == 0 else float(traj.eta[k])
        _, g = _evaluate(fun, traj.w[p], where="fun(w)")
        decrease = eta * (1.0 - smoothness * eta / 2.0) * float(g @ g)
        slack[j] = traj.loss[p] - decrease - traj.loss[p + 1]
    return slack
