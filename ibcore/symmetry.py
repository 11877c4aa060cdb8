"""Architectural symmetry: summed convolution filters, which gradient descent cannot tell apart.

Summed filters
    ``y_hat_i = sum_k sum_tau v_tau sigma((P_i F_k)_tau)`` where ``P_i`` is the patch matrix of
    signal ``i`` (so ``P_i F_k`` is the valid cross-correlation of signal ``i`` with filter
    ``F_k``), ``v`` a fixed read-out and ``sigma`` the identity, the ReLU or a leaky ReLU
    ``max(z, s z)`` with slope ``s`` in [0, 1] between the two. With the identity the output
    depends on ``sum_k F_k`` only, every filter gets the same gradient, and ``F_k - F_l`` never
    changes under GD; with a leaky ReLU two filters' gradients differ by ``1 - s`` times the
    difference of their ReLU parts, and equal filters stay equal for every ``s``.
"""

from __future__ import annotations

import numpy as np

from .descent import iterate
from .validation import as_matrix, as_vector, positive_float, positive_int, probability

__all__ = ["patches", "summed_filters_gd"]


def patches(signals, size: int) -> np.ndarray:
    """Patch tensor ``P`` (n, T - size + 1, size) with ``P[i, tau] = signals[i, tau:tau+size]``.

    Parameters
    ----------
    signals : array_like, shape (n, T)
        One signal of length ``T`` per row.
    size : int
        The window length, ``1 <= size <= T``.

    Returns
    -------
    ndarray, shape (n, T - size + 1, size)
        Every window of every signal (stride 1, no padding).

    Raises
    ------
    ValueError
        If ``signals`` is not a finite matrix or ``size`` is not in ``[1, T]``.
    TypeError
        If ``size`` is not an integer or ``signals`` not numeric.
    """
    S = as_matrix(signals, "signals")
    size = positive_int(size, "size")
    if size > S.shape[1]:
        raise ValueError(f"size must be <= the signal length {S.shape[1]}, got {size}")
    idx = np.arange(S.shape[1] - size + 1)[:, None] + np.arange(size)[None, :]
    return S[:, idx]


def summed_filters_gd(
    signals,
    targets,
    F0,
    readout,
    eta: float,
    n_steps: int,
    *,
    activation: str = "linear",
    negative_slope: float = 0.01,
) -> np.ndarray:
    """GD on ``L = (1/2n) sum_i (y_hat_i - targets_i)^2`` for the summed-filter model.

    ``F0`` (K, size): initial filters; ``readout`` (T - size + 1,): fixed weights ``v``;
    ``activation``: ``"linear"``, ``"relu"`` or ``"leaky_relu"``, the last with
    ``sigma(z) = max(z, s z)`` for ``s = negative_slope`` in [0, 1] (used by ``"leaky_relu"``
    only; ``s = 1`` is the identity and ``s = 0`` the ReLU, with the same arithmetic as
    ``"linear"`` and ``"relu"``, so the results agree bit for bit). Since
    ``sigma'(z) = s + (1 - s) 1[z > 0]``, the gradient of filter ``k`` is ``s`` times the
    gradient of the linear model (the same for every filter) plus ``1 - s`` times a ReLU part
    that depends on ``F_k``: the difference of two filters' gradients is ``1 - s`` times the
    difference of their ReLU parts. The model is
    ``y_hat_i = sum_k sum_tau v_tau sigma(<P_i[tau], F_k>)`` with the patches ``P`` of
    :func:`patches`, and the update ``F <- F - eta grad L(F)``. The loop runs on
    :func:`ibcore.descent.iterate` monitoring the loss.

    Parameters
    ----------
    signals : array_like, shape (n, T)
        One signal of length ``T`` per row.
    targets : array_like, shape (n,)
        The regression targets.
    F0 : array_like, shape (K, size)
        Initial filters.
    readout : array_like, shape (T - size + 1,)
        Fixed readout weights ``v``.
    eta : float
        Step size (``> 0``).
    n_steps : int
        Number of GD steps (``>= 0``).
    activation : {"linear", "relu", "leaky_relu"}, default "linear"
        The nonlinearity ``sigma``.
    negative_slope : float, default 0.01
        ``s`` in ``[0, 1]`` of ``"leaky_relu"`` (ignored otherwise).

    Returns
    -------
    ndarray, shape (n_steps + 1, K, size)
        The filters at every step, the initial ones first.

    Raises
    ------
    ValueError
        For inputs of the wrong shape, a non-positive ``eta``, an unknown ``activation`` or a
        ``negative_slope`` outside ``[0, 1]``.
    TypeError
        If a number or an array has the wrong type.
    DivergenceError
        If the loss becomes non-finite or exceeds ``1e12 max(1, L(F0))``
        (:class:`ibcore.DivergenceError`, raised by :func:`ibcore.descent.iterate`).
    """
    F = as_matrix(F0, "F0").copy()
    P = patches(signals, F.shape[1])
    n, T_out, _ = P.shape
    t = as_vector(targets, "targets", length=n)
    v = as_vector(readout, "readout", length=T_out)
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    slopes = {"linear": 1.0, "relu": 0.0}
    if activation == "leaky_relu":
        slope = probability(negative_slope, "negative_slope", closed_right=True)
    elif activation in slopes:
        slope = slopes[activation]
    else:
        raise ValueError(f"activation must be 'linear', 'relu' or 'leaky_relu', got {activation!r}")
    cur = {}  # the activation slopes and residuals at the current filters

    def measure(F):
        Z = np.einsum("nts,ks->nkt", P, F)  # (n, K, T_out)
        d_sigma = np.where(Z > 0, 1.0, slope)  # sigma'(Z); sigma(Z) = Z * sigma'(Z)
        r = np.einsum("nkt,t->n", Z * d_sigma, v) - t
        cur.update(d_sigma=d_sigma, r=r)
        return 0.5 * float(r @ r) / n

    def advance(F, _k):
        grad = np.einsum("n,nkt,t,nts->ks", cur["r"], cur["d_sigma"], v, P) / n
        return F - eta * grad

    run = iterate(
        advance, F, n_steps, measure=measure, checkpoints=np.arange(n_steps + 1),
        record=lambda F: {"F": F}, hint="use a smaller step size eta",
    )
    hist = run.records["F"]
    return hist
