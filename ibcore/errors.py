"""The two exceptions of ``ibcore`` beyond ``ValueError``/``TypeError`` for bad arguments.

:class:`DivergenceError`
    A training run blew up: the monitored quantity (a loss, or a norm for losses minimized at
    infinity) became non-finite or exceeded ``blowup_factor * max(1, |value at step 0|)``. Every
    trainer raises it through :func:`ibcore.descent.iterate`; it carries the step and the value.
    It subclasses ``ValueError``: a step size past the stability limit is a bad argument.
:class:`SolverError`
    A numerical solver (LP, QP, root finder, ODE integrator) did not reach its tolerance.
"""

from __future__ import annotations

__all__ = ["DivergenceError", "SolverError"]


class DivergenceError(ValueError):
    """A run diverged at ``step`` with ``quantity`` equal to ``value``.

    ``hint`` is the fix the trainer suggests (usually a smaller step size); ``run`` is the index
    of the run in a batched call (``None`` for a single run).
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
    """A numerical solver failed; the message names the solver, its status and a fix."""
