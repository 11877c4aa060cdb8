"""Training ``x -> U B V^T x`` by SGD with freshly sampled dropout masks (whitened inputs).

Each step follows the gradient of the mean loss over ``batch`` sampled masks, whose expectation
is the explicit objective of :mod:`ibcore.dropout.landscape`; the loop is
:func:`ibcore.descent.iterate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..descent import iterate
from ..validation import (
    as_matrix,
    check_rng,
    one_of,
    positive_float,
    positive_int,
    probability,
)
from .regularizer import dropout_lambda

__all__ = [
    "DropoutSGDResult",
    "train_dropout_sgd",
]


@dataclass(frozen=True)
class DropoutSGDResult:
    """Result of :func:`~ibcore.dropout.train_dropout_sgd`.

    ``U``, ``V``: tail averages of the factors; ``product``: tail average of ``U V^T``;
    ``U_last``, ``V_last``: last iterates; ``U_init``, ``V_init``: the initialization;
    ``steps`` and ``objective``: the explicit (expected)
    objective at a few checkpoints; ``diverged_at``: with ``on_divergence="stop"``, the first
    step whose objective is non-finite or past the bound of :func:`ibcore.descent.iterate`
    (``None`` if the run stayed finite; the arrays then stop before it).
    """

    U: np.ndarray
    V: np.ndarray
    product: np.ndarray
    U_last: np.ndarray
    V_last: np.ndarray
    U_init: np.ndarray
    V_init: np.ndarray
    steps: np.ndarray
    objective: np.ndarray
    diverged_at: int | None


def train_dropout_sgd(
    M,
    m,
    p,
    *,
    seed,
    n_steps: int = 3000,
    eta: float | None = None,
    batch: int = 8,
    init_scale: float = 0.1,
    decay: float = 10.0,
    average_from: float = 0.5,
    tied: bool = False,
    on_divergence: str = "raise",
) -> DropoutSGDResult:
    """Train ``x -> U B V^T x`` with **stochastic** dropout masks on the hidden units.

    Whitened inputs are integrated exactly, so a step samples only masks: with ``batch``
    independent masks ``B_1..B_K`` (drop probability ``p``, entries ``0`` or ``1/(1-p)``) it
    follows the gradient of ``(1/K) sum_k ||M - U B_k V^T||_F^2``, whose expectation is the
    explicit objective :func:`~ibcore.dropout.explicit_objective`. Step size
    ``eta / (1 + decay * k / n_steps)`` at step ``k``; the returned factors and product are
    averaged over the steps ``k >= average_from * n_steps`` (Polyak averaging). Initialization:
    i.i.d. ``N(0, init_scale^2 / m)`` entries (seeded). The loop is :func:`ibcore.descent.iterate`,
    monitoring the explicit objective at every step.

    ``tied=True`` trains the linear autoencoder ``x -> U B U^T x`` (``V = U``, square ``M``) on
    ``(1/K) sum_k ||M - U B_k U^T||_F^2``, whose expectation is
    ``||M - U U^T||_F^2 + lam sum_j ||u_j||^4``; ``U`` then enters twice, so the default and
    the largest accepted ``eta`` are halved. The result then has ``V is U``.

    Parameters
    ----------
    M : array_like, shape (d2, d0)
        Target matrix (``E[y x^T]`` for whitened inputs).
    m : int
        Number of hidden units (width).
    p : float
        Drop probability in ``[0, 1)``.
    seed : int or numpy.random.Generator
        Seeds the initialization and the masks (keyword-only, required).
    n_steps, batch : int
        Number of SGD steps and of masks per step.
    eta : float, optional
        Initial step size; default ``0.45 / (||M||_2 (1 + lam))``; values above
        ``0.5 / (||M||_2 (1 + lam))`` are refused (the masks raise the expected curvature by
        ``E b_j^2 = 1 + lam``), both halved when ``tied``.
    init_scale, decay, average_from : float
        Initialization scale, step-size decay and start of the tail average (a fraction of
        ``n_steps`` in ``[0, 1)``).
    tied : bool
        Train the tied autoencoder ``V = U``.
    on_divergence : {"raise", "stop"}
        What a divergence does (:func:`ibcore.descent.iterate`): raise, or stop and report
        ``diverged_at`` (the factors are then the last ones with a finite objective).

    Returns
    -------
    DropoutSGDResult

    Raises
    ------
    ValueError
        For ``eta`` past the stability bound or invalid arguments.
    ibcore.DivergenceError
        If the objective becomes non-finite or exceeds ``1e12`` times its initial value and
        ``on_divergence="raise"``.
    """
    M = as_matrix(M, "M")
    m = positive_int(m, "m")
    p = probability(p, "p")
    rng = check_rng(seed)
    n_steps = positive_int(n_steps, "n_steps")
    batch = positive_int(batch, "batch")
    init_scale = positive_float(init_scale, "init_scale")
    decay = positive_float(decay, "decay", allow_zero=True)
    average_from = probability(average_from, "average_from")
    on_divergence = one_of(on_divergence, "on_divergence", ("raise", "stop"))
    if not isinstance(tied, (bool, np.bool_)):
        raise TypeError(f"tied must be True or False, got {type(tied).__name__}")
    d2, d0 = M.shape
    if tied and d2 != d0:
        raise ValueError(f"tied=True needs a square M (U U^T is square), got shape {M.shape}")
    lam = dropout_lambda(p)
    scale = max(np.linalg.norm(M, 2), np.finfo(float).tiny) * (2.0 if tied else 1.0)
    eta = 0.45 / (scale * (1 + lam)) if eta is None else positive_float(eta, "eta")
    if eta * scale * (1 + lam) > 0.5:
        raise ValueError(
            f"eta = {eta} is too large for ||M||_2 = {scale / (2.0 if tied else 1.0):.3g}, "
            f"p = {p} and tied = {tied}: SGD would be unstable; use "
            f"eta <= {0.5 / (scale * (1 + lam)):.3g}"
        )
    U = rng.standard_normal((d2, m)) * init_scale / np.sqrt(m)
    V = U if tied else rng.standard_normal((d0, m)) * init_scale / np.sqrt(m)
    U_init, V_init = U.copy(), V.copy()
    keep = 1.0 - p
    start_avg = int(average_from * n_steps)
    checkpoints = np.unique(np.concatenate([[0], np.geomspace(1, n_steps, 25).astype(int),
                                            [n_steps]]))
    # For diagonal masks B_k = diag(b_k), the mini-batch gradient only needs the mean mask
    # bbar and the mean outer product S = mean_k b_k b_k^T:
    #   grad_U = -2 (M V diag(bbar) - U ((V^T V) * S)),  grad_V likewise with U <-> V, M <-> M^T,
    # so a step costs the same for any batch size (all masks are drawn up front).
    masks = (rng.random((n_steps, batch, m)) < keep) / keep
    bbar = masks.mean(axis=1)
    S = np.einsum("kbi,kbj->kij", masks, masks) / batch
    del masks

    def measure(state):
        U, V = state[0], state[1]
        if not (np.all(np.isfinite(U)) and np.all(np.isfinite(V))):
            return np.inf
        # explicit_objective(U, V, M, p) without the argument checks (same operations)
        return float(np.sum((M - U @ V.T) ** 2)) + float(
            lam * np.sum(np.sum(U**2, axis=0) * np.sum(V**2, axis=0))
        )

    def advance(state, k):
        U, V, sU, sV, sP, n_avg = state
        step = eta / (1.0 + decay * k / n_steps)
        with np.errstate(over="ignore", invalid="ignore"):  # caught by the divergence test
            if tied:
                # grad of mean_k ||M - U B_k U^T||^2 = -2 mean_k (R_k + R_k^T) U B_k
                gU = -2.0 * (((M + M.T) @ U) * bbar[k] - 2.0 * U @ ((U.T @ U) * S[k]))
                U = U - step * gU
                V = U
            else:
                gU = -2.0 * ((M @ V) * bbar[k] - U @ ((V.T @ V) * S[k]))
                gV = -2.0 * ((M.T @ U) * bbar[k] - V @ ((U.T @ U) * S[k]))
                U = U - step * gU
                V = V - step * gV
            if k + 1 >= start_avg:
                sU, sV, sP, n_avg = sU + U, sV + V, sP + U @ V.T, n_avg + 1
        return U, V, sU, sV, sP, n_avg

    state0 = (U, V, np.zeros_like(U), np.zeros_like(V), np.zeros_like(M), 0)
    run = iterate(advance, state0, n_steps, measure=measure, checkpoints=checkpoints,
                  on_divergence=on_divergence, quantity="explicit dropout objective",
                  hint="use a smaller step size eta")
    U, V, sU, sV, sP, n_avg = run.state
    if run.diverged_at is not None or n_avg == 0:
        sU, sV, sP, n_avg = U.copy(), V.copy(), U @ V.T, 1
    U_avg = sU / n_avg
    return DropoutSGDResult(
        U=U_avg,
        V=U_avg if tied else sV / n_avg,
        product=sP / n_avg,
        U_last=U,
        V_last=V,
        U_init=U_init,
        V_init=V_init,
        steps=run.steps,
        objective=run.values,
        diverged_at=run.diverged_at,
    )
