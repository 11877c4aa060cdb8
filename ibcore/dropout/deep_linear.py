"""Deep linear networks ``x -> W_{D+1} B_D W_D ... B_1 W_1 x`` with dropout on every hidden layer.

The explicit regularizer by a second-moment recursion (``E b b^T = 1 1^T + lam I``), its
Monte-Carlo check, the lower bound ``R >= zeta ||W||_*^2`` with ``zeta = prod_l (1 + lam/m_l) - 1``
and the equalized factors that attain it, and an L-BFGS minimizer (Mianjy and Arora, 2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import (
    as_matrix,
    check_rng,
    positive_int,
    probability,
)
from .landscape import _shrink
from .regularizer import MCEstimate, dropout_lambda

__all__ = [
    "DeepFit",
    "DeepLowerBound",
    "deep_dropout_constant",
    "deep_dropout_lower_bound",
    "deep_linear_dropout_objective",
    "deep_linear_dropout_regularizer",
    "equalized_deep_factors",
    "mc_deep_linear_dropout_loss",
    "minimize_deep_linear_dropout",
]


def _chain(Ws, name: str = "Ws") -> list[np.ndarray]:
    """Validate the factors ``[W_1, ..., W_{D+1}]`` of ``x -> W_{D+1} B_D W_D ... B_1 W_1 x``."""
    if isinstance(Ws, np.ndarray) or not isinstance(Ws, (list, tuple)):
        raise TypeError(f"{name} must be a list [W_1, ..., W_(D+1)] of 2-D arrays, got "
                        f"{type(Ws).__name__}")
    if len(Ws) < 2:
        raise ValueError(f"{name} must hold at least 2 factors (one hidden layer), got {len(Ws)}")
    out = [as_matrix(W, f"{name}[{i}]") for i, W in enumerate(Ws)]
    for i in range(1, len(out)):
        if out[i].shape[1] != out[i - 1].shape[0]:
            raise ValueError(f"{name}[{i}] must have {out[i - 1].shape[0]} columns (the rows of "
                             f"{name}[{i - 1}]), got shape {out[i].shape}")
    return out


def _chain_product(Ws) -> np.ndarray:
    P = Ws[0]
    for W in Ws[1:]:
        P = W @ P
    return P


def _second_moments(Ws, lam) -> list[np.ndarray]:
    """``Q_l = E[(B_{k-1} W_{k-1} ... B_1 W_1)(...)^T]`` sandwiched by ``W_l``: the recursion
    ``Q_1 = W_1 W_1^T``, ``Qt_l = Q_l + lam Diag(Q_l)``, ``Q_{k+1} = W_{k+1} Qt_l W_{k+1}^T``.
    Returns ``[Qt_1, ..., Qt_D, Q_{D+1}]``."""
    Q = Ws[0] @ Ws[0].T
    out = []
    for W in Ws[1:]:
        Qt = Q + lam * np.diag(np.diag(Q))
        out.append(Qt)
        Q = W @ Qt @ W.T
    out.append(Q)
    return out


def deep_linear_dropout_regularizer(Ws, p) -> float:
    """Explicit dropout regularizer of a deep linear network with dropout on every hidden layer.

    Network ``x -> W_{D+1} B_D W_D ... B_1 W_1 x`` (``Ws = [W_1, ..., W_{D+1}]``, independent
    inverted-dropout masks ``B_l`` on the ``m_l`` units of hidden layer ``l``), whitened inputs:
    the expected loss is ``||M - W||_F^2 + R(W_1, ..., W_{D+1})`` (+ const) with
    ``W = W_{D+1} ... W_1`` and

        R = E_B ||W_{D+1} B_D ... B_1 W_1||_F^2 - ||W||_F^2
          = sum_{S nonempty subset of {1..D}} lam^|S| R_S ,

    ``R_S`` the sum, over the units ``j_l`` (``l in S``), of the squared norms of the rank-one
    pieces obtained by cutting the network at those units (``S = {1..D}``: the squared l2 path
    norm; ``D = 1``: ``sum_j ||u_j||^2 ||v_j||^2``; Mianjy and Arora, 2019). Evaluated exactly by
    the recursion of ``_second_moments`` (``E b b^T = 1 1^T + lam I``), in ``O(D m^3)``.

    Parameters
    ----------
    Ws : list of array_like
        The factors ``[W_1, ..., W_{D+1}]`` (``W_{l+1} @ W_l`` defined).
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    Ws = _chain(Ws)
    lam = dropout_lambda(p)
    return float(np.trace(_second_moments(Ws, lam)[-1]) - np.sum(_chain_product(Ws) ** 2))


def _check_target(M, Ws) -> np.ndarray:
    M = as_matrix(M, "M")
    want = (Ws[-1].shape[0], Ws[0].shape[1])
    if M.shape != want:
        raise ValueError(f"M must have shape {want} (outputs x inputs of the network), got "
                         f"{M.shape}")
    return M


def deep_linear_dropout_objective(Ws, M, p) -> float:
    """``E_B ||M - W_{D+1} B_D ... B_1 W_1||_F^2 = ||M - W||_F^2 + R`` (see
    :func:`~ibcore.dropout.deep_linear_dropout_regularizer`).

    Parameters
    ----------
    Ws : list of array_like
        The factors ``[W_1, ..., W_{D+1}]`` (``W_{l+1} @ W_l`` defined).
    M : array_like, shape (d_out, d_in)
        Target.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    Ws = _chain(Ws)
    M = _check_target(M, Ws)
    lam = dropout_lambda(p)
    W = _chain_product(Ws)
    return float(np.sum(M**2) - 2.0 * np.sum(M * W) + np.trace(_second_moments(Ws, lam)[-1]))


def _deep_value_grad(Ws, M, lam):
    """Value and gradients of ``||M||^2 - 2 <M, W> + tr Q_{D+1}`` (reverse mode through the
    second-moment recursion and the product)."""
    Qs = _second_moments(Ws, lam)
    D1 = len(Ws)
    # <M, W> part: dW_l = (W_{D+1} ... W_{l+1})^T M (W_{l-1} ... W_1)^T
    pre = [np.eye(Ws[0].shape[1])]
    for W in Ws:
        pre.append(W @ pre[-1])
    post = [np.eye(Ws[-1].shape[0])]
    for W in reversed(Ws):
        post.append(post[-1] @ W)
    post = post[::-1]  # post[k] = W_{D+1} ... W_{k+1}  (factors in 0-based order)
    grads = [-2.0 * post[k + 1].T @ M @ pre[k].T for k in range(D1)]
    # tr Q_{D+1} part
    G = np.eye(Ws[-1].shape[0])
    for k in range(D1 - 1, 0, -1):
        Qt = Qs[k - 1]
        grads[k] += 2.0 * G @ Ws[k] @ Qt
        Gt = Ws[k].T @ G @ Ws[k]
        G = Gt + lam * np.diag(np.diag(Gt))
    grads[0] += 2.0 * G @ Ws[0]
    value = float(np.sum(M**2) - 2.0 * np.sum(M * pre[-1]) + np.trace(Qs[-1]))
    return value, grads


def mc_deep_linear_dropout_loss(Ws, M, p, *, n_draws: int, seed) -> MCEstimate:
    """Monte-Carlo estimate of ``E_B ||M - W_{D+1} B_D ... B_1 W_1||_F^2`` with fresh
    independent masks on every hidden layer for each sample (mean and standard error).

    Parameters
    ----------
    Ws : list of array_like
        The factors ``[W_1, ..., W_{D+1}]`` (``W_{l+1} @ W_l`` defined).
    M : array_like, shape (d_out, d_in)
        Target.
    p : float
        Drop probability in ``[0, 1)``.
    n_draws : int
        Number of mask draws.
    seed : int or numpy.random.Generator
        Keyword-only, required.

    Returns
    -------
    MCEstimate

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    Ws = _chain(Ws)
    M = _check_target(M, Ws)
    p = probability(p, "p")
    n_draws = positive_int(n_draws, "n_draws", minimum=2)
    rng = check_rng(seed)
    keep = 1.0 - p
    P = np.broadcast_to(Ws[0], (n_draws, *Ws[0].shape))
    for W in Ws[1:]:
        b = (rng.random((n_draws, P.shape[1], 1)) < keep) / keep
        P = np.einsum("ij,sjk->sik", W, b * P)
    values = np.sum((M[None] - P) ** 2, axis=(1, 2))
    return MCEstimate(float(values.mean()), float(values.std(ddof=1) / np.sqrt(n_draws)),
                      n_draws)


def _widths(widths) -> list[int]:
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__") or len(widths) == 0:
        raise TypeError(f"widths must be a non-empty sequence of hidden-layer widths, got "
                        f"{widths!r}")
    return [positive_int(w, f"widths[{i}]") for i, w in enumerate(widths)]


def deep_dropout_constant(widths, p) -> float:
    """``zeta = prod_l (1 + lam / m_l) - 1`` for hidden widths ``m_1, ..., m_D``: the
    coefficient of ``||W||_*^2`` in the lower bound ``R >= zeta ||W||_*^2`` of the deep dropout
    regularizer (``D = 1``: ``lam / m``).

    Parameters
    ----------
    widths : sequence of int
        Hidden widths ``m_1, ..., m_D``.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    widths = _widths(widths)
    lam = dropout_lambda(p)
    return float(np.prod([1.0 + lam / w for w in widths]) - 1.0)


def equalized_deep_factors(M, widths, *, rtol: float = 1e-10) -> list[np.ndarray]:
    """Factors of a rank-(at most)-one ``M`` with every path carrying the same weight.

    For ``M = s w y^T``: ``W_1 = c 1 y^T``, ``W_l = c 1 1^T``, ``W_{D+1} = c w 1^T`` with one
    common ``c`` chosen so that the product is ``M``. Every rank-one piece ``R_S`` is then a sum
    of equal terms, so each Cauchy-Schwarz step of the lower bound is tight and
    ``R = zeta ||M||_*^2`` (:func:`~.deep_dropout_constant`). Raises ``ValueError`` for rank > 1.

    Parameters
    ----------
    M : array_like, shape (d_out, d_in)
        Target of rank at most one.
    widths : sequence of int
        Hidden widths.
    rtol : float
        Relative tolerance on ``s_2 / s_1``.

    Returns
    -------
    list of ndarray
        ``[W_1, ..., W_{D+1}]``.

    Raises
    ------
    ValueError
        If ``M`` has rank > 1.
    """
    M = as_matrix(M, "M")
    widths = _widths(widths)
    W, s, Yt = np.linalg.svd(M, full_matrices=False)
    if s.size > 1 and s[1] > rtol * max(s[0], np.finfo(float).tiny):
        raise ValueError(f"M must have rank at most one, got singular values {np.round(s[:3], 6)}")
    D = len(widths)
    c = (s[0] / np.prod(widths)) ** (1.0 / (D + 1)) if s[0] > 0 else 0.0
    dims = [M.shape[1], *widths, M.shape[0]]
    Ws = [c * np.ones((dims[k + 1], dims[k])) for k in range(D + 1)]
    Ws[0] = c * np.outer(np.ones(widths[0]), Yt[0])
    Ws[-1] = c * np.outer(W[:, 0], np.ones(widths[-1]))
    return Ws


@dataclass(frozen=True)
class DeepFit:
    """The factors ``Ws = [W_1, ..., W_{D+1}]`` found by :func:`~.minimize_deep_linear_dropout`
    and the objective ``value`` they reach."""

    Ws: list
    value: float


@dataclass(frozen=True)
class DeepLowerBound:
    """What :func:`~.deep_dropout_lower_bound` returns: the minimizer ``product`` of the convex
    bound, its ``value`` and the number ``rank`` of singular values kept."""

    product: np.ndarray
    value: float
    rank: int


def deep_dropout_lower_bound(M, widths, p) -> DeepLowerBound:
    """The convex lower bound ``min_X ||M - X||_F^2 + zeta ||X||_*^2`` of the deep dropout
    objective (``zeta`` of :func:`~ibcore.dropout.deep_dropout_constant`).

    Its minimizer shrinks the singular values of ``M`` by a common amount and thresholds them
    (the scalar problem of :func:`ibcore.dropout.dropout_optimum`). When ``rank <= 1`` (that
    is ``s_2 <= zeta s_1 / (1 + zeta)``, always for a single output) the bound is attained by a
    network, so ``X = s_1 / (1 + zeta) w_1 y_1^T`` is the product of every global minimizer.

    Parameters
    ----------
    M : array_like, shape (d_out, d_in)
        Target matrix.
    widths : sequence of int
        Hidden widths.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    DeepLowerBound
        ``product`` (the minimizer ``X``), ``value``, ``rank``.

    Raises
    ------
    ValueError
        If ``M`` is not a matrix or the widths are invalid.
    """
    M = as_matrix(M, "M")
    zeta = deep_dropout_constant(widths, p)
    W, s, Yt = np.linalg.svd(M, full_matrices=False)
    x, q, _ = _shrink(s, zeta, s.size)
    return DeepLowerBound(product=(W * x) @ Yt,
                          value=float(np.sum((s - x) ** 2) + zeta * x.sum() ** 2), rank=int(q))


def minimize_deep_linear_dropout(M, widths, p, *, seed, n_restarts: int = 3):
    """Minimize the deep dropout objective :func:`~.deep_linear_dropout_objective` over the factors
    by L-BFGS (analytic gradient), best of ``n_restarts`` seeded random starts (entries
    ``N(0, 1/fan_in) * ||M||_2^(1/(D+1))``). Returns a :class:`~.DeepFit` ``(Ws, value)``.

    Parameters
    ----------
    M : array_like, shape (d_out, d_in)
        Target matrix.
    widths : sequence of int
        Hidden widths ``m_1, ..., m_D``.
    p : float
        Drop probability in ``[0, 1)``.
    seed : int or numpy.random.Generator
        Keyword-only, required: the random starts.
    n_restarts : int
        Number of random starts (>= 1).

    Returns
    -------
    DeepFit
        The best run's factors ``Ws`` and ``value``.

    Raises
    ------
    ValueError, TypeError
        If ``M`` is not a matrix, a width is not positive or ``seed`` is not a seed.
    """
    from scipy.optimize import minimize

    M = as_matrix(M, "M")
    widths = _widths(widths)
    lam = dropout_lambda(p)
    rng = check_rng(seed)
    n_restarts = positive_int(n_restarts, "n_restarts")
    dims = [M.shape[1], *widths, M.shape[0]]
    shapes = [(dims[k + 1], dims[k]) for k in range(len(dims) - 1)]
    sizes = np.cumsum([0] + [a * b for a, b in shapes])

    def unpack(z):
        return [z[sizes[k] : sizes[k + 1]].reshape(shapes[k]) for k in range(len(shapes))]

    def fun(z):
        f, g = _deep_value_grad(unpack(z), M, lam)
        return f, np.concatenate([gi.ravel() for gi in g])

    scale = max(np.linalg.norm(M, 2), np.finfo(float).tiny) ** (1.0 / len(shapes))
    best = None
    for _ in range(n_restarts):
        z0 = np.concatenate([rng.standard_normal(a * b) * scale / np.sqrt(b) for a, b in shapes])
        res = minimize(fun, z0, jac=True, method="L-BFGS-B",
                       options={"maxiter": 20000, "gtol": 1e-12, "ftol": 1e-16})
        if best is None or res.fun < best.fun:
            best = res
    return DeepFit(Ws=unpack(best.x), value=float(best.fun))
