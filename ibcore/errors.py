"""The two exceptions of ``ibcore`` beyond ``ValueError``/``TypeError`` for bad arguments.

:class:`ibcore.DivergenceError`
    A training run blew up: the monitored quantity (a loss, or a norm for losses minimized at
    infinity) became non-finite or exceeded ``blowup_factor * max(1, |value at step 0|)``. The
    trainers raise it through :func:`ibcore.descent.iterate` (those that show divergence on
    purpose stop instead and report ``diverged_at``); it carries the step and the value. It
    subclasses ``ValueError``: a step size past the stability limit is a bad argument.
:class:`ibcore.SolverError`
    A numerical solver (LP, QP, root finder, ODE integrator) did not reach its tolerance.
"""

from __future__ import annotations

__all__ = ["DivergenceError", "SolverError"]


class DivergenceError(ValueError):
    """A run diverged at ``step`` with ``quantity`` equal to ``value``.

    Raised by :func:`ibcore.descent.iterate` (and so by the trainers built on it, unless they
    stop and report ``diverged_at`` instead) when the monitored quantity becomes non-finite or
    exceeds ``bound = blowup_factor * max(1, |value at step 0|)``. A subclass of ``ValueError``:
    a step size past the stability limit is a bad argument. The message reads
    ``"<the run | run i of the batch> diverged at step k: quantity = value [> bound b]; hint"``.

    Parameters
    ----------
    step : int
        The step at which the run diverged.
    value : float
        The value of the monitored quantity there (may be inf or NaN).
    quantity : str, default "loss"
        What was monitored (``"loss"``, ``"||theta||"``, ...).
    bound : float, optional
        The divergence bound that was exceeded (not shown for a non-finite value).
    hint : str, default "use a smaller step size eta"
        The fix the trainer suggests.
    run : int, optional
        The index of the run in a batched call; None for a single run.

    Attributes
    ----------
    step : int
        As given.
    value : float
        As given.
    quantity : str
        As given.
    bound : float or None
        As given.
    hint : str
        As given.
    run : int or None
        As given.
    """

    def __init__(
        self,
        step: int,
        value: float,
        *,
        quantity: str = "loss",
        bound: float | None = None,
        hint: str = "use a smaller step size eta",
        run: int | None = None,
    ):
        self.step = int(step)
        self.value = float(value)
        self.quantity = quantity
        self.bound = bound
        self.hint = hint
        self.run = run
        which = "the run" if run is None else f"run {run} of the batch"
        past = "" if bound is None or value != value or abs(value) == float("inf") else (
            f" > bound {bound:.3g}"
        )
        super().__init__(
            f"{which} diverged at step {self.step}: {quantity} = {self.value:.6g}{past}; "
            f"{hint}"
        )


class SolverError(RuntimeError):
    """A numerical solver (LP, QP, Newton, ODE integrator) did not reach its tolerance or reported a
    failure.

    A subclass of ``RuntimeError``; the message names the solver, its status and a fix. Raised,
    for example, by :func:`ibcore.margin.regularization_path`,
    :func:`ibcore.interpolants.min_l1_interpolant` and :func:`ibcore.lp_geometry.lp_max_margin`.
    """
