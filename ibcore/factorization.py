"""Matrix sensing with deep linear (matrix-factorisation) models.

The sensing problems themselves (measurements, minimum-norm solutions, the nuclear-norm
certificate) are in :mod:`ibcore.sensing`, re-exported here.

Conventions
    A sensing problem has ``m`` measurement matrices ``A_i`` (array ``A`` of shape ``(m, d, d)``)
    and measurements ``y_i = <A_i, M>`` of an unknown ``d x d`` matrix ``M``. The loss of a
    matrix ``W`` is ``L(W) = (1/2m) sum_i (<A_i, W> - y_i)^2`` with gradient
    ``G(W) = (1/m) sum_i (<A_i, W> - y_i) A_i``. A depth-``N`` model is the product
    ``W = W_N ... W_1`` of square ``d x d`` factors; the gradient with respect to a factor is

        dL/dW_j = (W_N ... W_{j+1})^T G(W) (W_{j-1} ... W_1)^T.

    Matrix completion is the special case where each ``A_i`` is an indicator ``e_r e_c^T``.

Balancedness (Arora, Cohen & Hazan 2018; Du, Hu & Lee 2018)
    ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` (``j = 1..N-1``) is constant along the gradient flow.
    One GD step with step ``eta`` changes it by exactly
    ``eta^2 (B_{j+1}^T B_{j+1} - B_j B_j^T)`` where ``B_j = dL/dW_j`` (the first-order terms
    cancel), see :func:`balancedness_step_change`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .descent import as_checkpoints, iterate
from .errors import SolverError
from .sensing import (
    SensingProblem,
    _check_ops,
    completion_problem,
    low_rank_matrix,
    min_frobenius_solution,
    nuclear_norm_certificate,
    sensing_loss,
    sensing_problem,
    tangent_projection,
)
from .validation import as_array, as_vector, check_rng, positive_float, positive_int

__all__ = [
    "FactorizationRun",
    "SensingProblem",
    "balancedness",
    "balancedness_step_change",
    "completion_problem",
    "end_to_end",
    "factor_gradients",
    "factorization_flow",
    "factorization_gd",
    "initial_factors",
    "low_rank_matrix",
    "min_frobenius_solution",
    "nuclear_norm_certificate",
    "sensing_loss",
    "sensing_problem",
    "tangent_projection",
]


def _check_factors(Ws, name: str = "Ws") -> list[np.ndarray]:
    """``Ws`` as a non-empty list of finite float64 arrays ``(..., rows, cols)`` that chain."""
    if isinstance(Ws, (str, bytes)) or not isinstance(Ws, (list, tuple, np.ndarray)):
        raise TypeError(
            f"{name} must be a list of factor matrices [W_1, ..., W_N], got {type(Ws).__name__}"
        )
    if len(Ws) == 0:
        raise ValueError(f"{name} must contain at least one factor")
    out = []
    for j, W in enumerate(Ws):
        W = as_array(W, f"{name}[{j}]")
        if W.ndim < 2:
            raise ValueError(f"{name}[{j}] must be a matrix (..., rows, cols), got shape {W.shape}")
        if out and W.shape[-1] != out[-1].shape[-2]:
            raise ValueError(
                f"{name}[{j}] has shape {W.shape} but {name}[{j - 1}] has shape "
                f"{out[-1].shape}: W_{j + 1} @ W_{j} needs {name}[{j}].shape[-1] == "
                f"{name}[{j - 1}].shape[-2]"
            )
        out.append(W)
    return out


def _check_g(G, Ws) -> np.ndarray:
    G = as_array(G, "G")
    want = (Ws[-1].shape[-2], Ws[0].shape[-1])
    if G.ndim < 2 or G.shape[-2:] != want:
        raise ValueError(
            f"G must be the gradient at the end-to-end matrix, of shape (..., {want[0]}, "
            f"{want[1]}), got {G.shape}"
        )
    return G


def end_to_end(Ws) -> np.ndarray:
    """``W_N ... W_1`` for factors ``Ws = [W_1, ..., W_N]`` (each may carry leading batch axes).

    Parameters
    ----------
    Ws : list of array_like
        Factors ``[W_1, ..., W_N]``, each ``(..., d, d)`` (leading batch axes allowed).

    Returns
    -------
    ndarray
        The product, with the batch axes of the factors.

    Raises
    ------
    ValueError, TypeError
        If the factors are not a non-empty list of finite matrices that chain.
    """
    Ws = _check_factors(Ws)
    P = Ws[0]
    for W in Ws[1:]:
        P = W @ P
    return P


def factor_gradients(Ws, G) -> list[np.ndarray]:
    """``dL/dW_j = (W_N..W_{j+1})^T G (W_{j-1}..W_1)^T`` for all ``j`` (batched over leading
    axes).

    Parameters
    ----------
    Ws : list of array_like
        Factors ``[W_1, ..., W_N]``, each ``(..., d, d)`` (leading batch axes allowed).
    G : array_like, shape (..., d, d)
        Gradient of the loss with respect to the product.

    Returns
    -------
    list of ndarray
        ``dL/dW_1, ..., dL/dW_N``.

    Raises
    ------
    ValueError, TypeError
        If the factors are not a non-empty list of finite matrices that chain.
    """
    Ws = _check_factors(Ws)
    G = _check_g(G, Ws)
    return _factor_gradients(Ws, G, _prefix_products(Ws))


def _prefix_products(Ws) -> list:
    """``[None, W_1, W_2 W_1, ..., W_N ... W_1]``; ``None`` stands for the identity."""
    prefix = [None, Ws[0]]
    for W in Ws[1:]:
        prefix.append(W @ prefix[-1])
    return prefix


def _factor_gradients(Ws, G, prefix) -> list[np.ndarray]:
    """:func:`factor_gradients` given ``_prefix_products(Ws)``; products with the identity are
    skipped (they are exact, so the result is the same to the last bit)."""
    grads = [None] * len(Ws)
    suffix = None  # W_N ... W_{j+1}; None for the identity
    for j in range(len(Ws) - 1, -1, -1):
        left = G if suffix is None else np.swapaxes(suffix, -1, -2) @ G
        grads[j] = left if prefix[j] is None else left @ np.swapaxes(prefix[j], -1, -2)
        suffix = Ws[j] if suffix is None else suffix @ Ws[j]
    return grads


def balancedness(Ws) -> list[np.ndarray]:
    """``[W_{j+1}^T W_{j+1} - W_j W_j^T for j = 1..N-1]`` (conserved by the gradient flow).

    Parameters
    ----------
    Ws : list of array_like
        Factors ``[W_1, ..., W_N]``, each ``(..., d, d)`` (leading batch axes allowed).

    Returns
    -------
    list of ndarray
        ``D_1, ..., D_{N-1}``.

    Raises
    ------
    ValueError, TypeError
        If the factors are not a non-empty list of finite matrices that chain.
    """
    Ws = _check_factors(Ws)
    return [
        np.swapaxes(Ws[j + 1], -1, -2) @ Ws[j + 1] - Ws[j] @ np.swapaxes(Ws[j], -1, -2)
        for j in range(len(Ws) - 1)
    ]


def balancedness_step_change(Ws, G, eta: float) -> list[np.ndarray]:
    """Exact change of each ``D_j`` in one GD step: ``eta^2 (B_{j+1}^T B_{j+1} - B_j B_j^T)``.

    Parameters
    ----------
    Ws : list of array_like
        Factors ``[W_1, ..., W_N]``, each ``(..., d, d)`` (leading batch axes allowed).
    G : array_like, shape (..., d, d)
        Gradient of the loss with respect to the product ``W``.
    eta : float
        Step size.

    Returns
    -------
    list of ndarray
        The change of ``D_1, ..., D_{N-1}`` in one step.

    Raises
    ------
    ValueError, TypeError
        If the factors are not a non-empty list of finite matrices that chain.
    """
    eta = positive_float(eta, "eta")
    B = factor_gradients(Ws, G)
    eta2 = eta * eta
    if not np.isfinite(eta2):
        raise ValueError(f"eta = {eta:.3g} is too large: eta^2 overflows; use a smaller eta")
    return [
        eta2 * (np.swapaxes(B[j + 1], -1, -2) @ B[j + 1] - B[j] @ np.swapaxes(B[j], -1, -2))
        for j in range(len(Ws) - 1)
    ]


def _gradient_matrix(A_mat, y, P):
    """``G(W)`` for a batch of matrices ``P`` (..., d, d)."""
    m, d = A_mat.shape[0], P.shape[-1]
    r = P.reshape(*P.shape[:-2], d * d) @ A_mat.T - y
    return (r @ A_mat).reshape(P.shape) / m, 0.5 * np.sum(r * r, axis=-1) / m


def initial_factors(d: int, depth: int, alphas, *, seed) -> list[np.ndarray]:
    """Factors ``W_j = alpha * Z_j / sqrt(d)`` with the *same* Gaussian ``Z_j`` for every alpha.

    Returns a list of ``depth`` arrays of shape ``(len(alphas), d, d)``.

    Parameters
    ----------
    d : int
        Matrix size.
    depth : int
        Number of factors ``N``.
    alphas : array_like
        Init scales.
    seed : int or numpy.random.Generator
        Keyword-only, required.

    Returns
    -------
    list of ndarray
        ``depth`` arrays of shape ``(len(alphas), d, d)``.
    """
    d = positive_int(d, "d")
    depth = positive_int(depth, "depth")
    rng = check_rng(seed)
    alphas = np.atleast_1d(as_vector(np.atleast_1d(alphas), "alphas"))
    Z = rng.standard_normal((depth, d, d)) / np.sqrt(d)
    return [alphas[:, None, None] * Z[j][None] for j in range(depth)]


@dataclass(frozen=True)
class FactorizationRun:
    """A batched GD run of a depth-``depth`` factorisation for several init scales ``alphas``.

    ``steps`` (k,), ``W`` (len(alphas), k, d, d) end-to-end matrices at the checkpoints,
    ``loss`` (len(alphas), k), ``factors`` the final factors (list of (len(alphas), d, d)).
    ``factor_path`` (with ``keep_factors=True``): the factors at every checkpoint, a list of
    ``depth`` arrays of shape (len(alphas), k, d, d); else ``None``.
    """

    alphas: np.ndarray
    depth: int
    steps: np.ndarray
    W: np.ndarray
    loss: np.ndarray
    factors: list
    factor_path: list | None = None

    @property
    def final(self) -> np.ndarray:
        return self.W[:, -1]


def factorization_gd(
    A,
    y,
    depth: int,
    alphas,
    eta: float,
    n_steps: int,
    *,
    seed,
    checkpoints=None,
    init="gaussian",
    keep_factors: bool = False,
) -> FactorizationRun:
    """GD on ``L(W_N ... W_1)`` for every init scale in ``alphas`` at once (vectorised).

    Initialisation ``init="gaussian"``: :func:`initial_factors` (same random directions for all
    alphas); ``init="identity"``: ``W_j = alpha I`` (balanced, ``D_j = 0``, positive
    determinant); or a sequence of ``depth`` fixed ``d x d`` matrices ``Z_1, ..., Z_N``:
    ``W_j = alpha Z_j``. ``keep_factors=True`` also records the factors at the checkpoints
    (``factor_path``, e.g. for :func:`balancedness` along the run). The loop is
    :func:`ibcore.descent.iterate` in its batched mode (one loss per init scale).

    Parameters
    ----------
    A : array_like, shape (m, d, d)
        Measurement matrices ``A_i``.
    y : array_like, shape (m,)
        Measurements.
    depth : int
        Number of factors ``N``.
    alphas : array_like
        Init scales (> 0 for ``depth >= 2``).
    eta : float
        Step size.
    n_steps : int
        Number of steps.
    seed : int or numpy.random.Generator
        Keyword-only, required (used by ``init="gaussian"``).
    checkpoints : array_like of int, optional
        Steps to record (default :func:`ibcore.descent.log_checkpoints`).
    init : {"gaussian", "identity"} or sequence of array_like
        The initial directions.
    keep_factors : bool
        Also record the factors at the checkpoints.

    Returns
    -------
    FactorizationRun

    Raises
    ------
    ibcore.DivergenceError
        If the loss of some run becomes non-finite or exceeds ``1e12 * max(1, its loss at step
        0)`` (the divergence policy of :mod:`ibcore.descent`); ``run`` is the index of that init
        scale in ``alphas``. Use a smaller ``eta``.
    """
    A, y = _check_ops(A, y)
    depth = positive_int(depth, "depth")
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    alphas = np.atleast_1d(as_vector(np.atleast_1d(alphas), "alphas"))
    if np.any(alphas < 0):
        raise ValueError("alphas must be >= 0")
    if depth > 1 and np.any(alphas == 0):
        raise ValueError("alpha = 0 is a stationary point for depth >= 2: use alpha > 0")
    ck = as_checkpoints(checkpoints if checkpoints is not None else [0, n_steps], n_steps)
    d = A.shape[1]
    A_mat = A.reshape(A.shape[0], -1)
    if isinstance(init, str):
        if init == "gaussian":
            Ws = initial_factors(d, depth, alphas, seed=seed)
        elif init == "identity":
            Ws = [alphas[:, None, None] * np.eye(d)[None] for _ in range(depth)]
        else:
            raise ValueError(
                f"init must be 'gaussian', 'identity' or a list of factors, got {init!r}"
            )
    else:
        Z = [as_array(Zj, f"init[{j}]", ndim=2) for j, Zj in enumerate(init)]
        if len(Z) != depth or any(Zj.shape != (d, d) for Zj in Z):
            raise ValueError(f"init must list depth = {depth} matrices of shape ({d}, {d})")
        Ws = [alphas[:, None, None] * Zj[None] for Zj in Z]
    if not isinstance(keep_factors, (bool, np.bool_)):
        raise TypeError(f"keep_factors must be True or False, got {type(keep_factors).__name__}")
    cache = {}  # the prefix products and G(W) computed with the loss at the current factors

    def measure(Ws):
        prefix = _prefix_products(Ws)
        cache["prefix"] = prefix
        cache["G"], loss = _gradient_matrix(A_mat, y, prefix[-1])
        return loss

    def advance(Ws, _k, _active):
        grads = _factor_gradients(Ws, cache["G"], cache["prefix"])
        return [W - eta * B for W, B in zip(Ws, grads, strict=True)]

    def record(Ws):
        row = {"W": cache["prefix"][-1]}
        if keep_factors:
            row.update({f"F{j}": W for j, W in enumerate(Ws)})
        return row

    run = iterate(
        advance, Ws, n_steps, measure=measure, checkpoints=ck, record=record,
        quantity="sensing loss", hint="use a smaller step size eta",
    )
    keep = slice(None) if ck[0] == 0 else slice(1, None)  # iterate always records step 0
    return FactorizationRun(
        alphas=alphas,
        depth=depth,
        steps=run.steps[keep],
        W=np.swapaxes(run.records["W"][keep], 0, 1),
        loss=run.values[keep].T,
        factors=run.state,
        factor_path=(
            [np.swapaxes(run.records[f"F{j}"][keep], 0, 1) for j in range(depth)]
            if keep_factors
            else None
        ),
    )


def factorization_flow(A, y, Ws0, times, *, rtol: float = 1e-10, atol: float = 1e-12):
    """Gradient flow ``dW_j/dt = -dL/dW_j`` from factors ``Ws0`` (list of d x d) at ``times``.

    Returns a list (one entry per time) of factor lists. Integrated by
    :func:`scipy.integrate.solve_ivp` (DOP853, ``rtol``, ``atol``).

    Parameters
    ----------
    A : array_like, shape (m, d, d)
        Measurement matrices ``A_i``.
    y : array_like, shape (m,)
        Measurements.
    Ws0 : list of array_like
        Initial factors, ``d x d`` each.
    times : array_like, shape (k,)
        Non-negative, strictly increasing times.
    rtol, atol : float
        Tolerances of the ODE solver.

    Returns
    -------
    list of list of ndarray
        The factors at each time.

    Raises
    ------
    ValueError
        If the factors or times are invalid.
    ibcore.errors.SolverError
        If the ODE solver fails.
    """
    from scipy.integrate import solve_ivp

    A, y = _check_ops(A, y)
    Ws0 = [as_array(W, f"Ws0[{j}]", ndim=2) for j, W in enumerate(_check_factors(Ws0, "Ws0"))]
    d, N = A.shape[1], len(Ws0)
    if N == 0 or any(W.shape != (d, d) for W in Ws0):
        raise ValueError(f"Ws0 must be a non-empty list of {d} x {d} matrices")
    t = as_vector(times, "times")
    if t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError("times must be non-negative and strictly increasing")
    A_mat = A.reshape(A.shape[0], -1)

    def rhs(_t, z):  # the unchecked helpers of end_to_end / factor_gradients (same values)
        Ws = list(z.reshape(N, d, d))
        prefix = _prefix_products(Ws)
        G, _ = _gradient_matrix(A_mat, y, prefix[-1])
        return -np.concatenate([B.ravel() for B in _factor_gradients(Ws, G, prefix)])

    z0 = np.concatenate([W.ravel() for W in Ws0])
    if t[-1] == 0.0:
        zs = z0[None]
    else:
        sol = solve_ivp(
            rhs, (0.0, float(t[-1])), z0, method="DOP853", t_eval=t, rtol=rtol, atol=atol
        )
        if not sol.success:
            raise SolverError(
                f"factorization_flow: the ODE solver (DOP853) failed: {sol.message}; loosen "
                "rtol/atol or shorten the horizon"
            )
        zs = sol.y.T
    return [list(z.reshape(N, d, d)) for z in zs]
