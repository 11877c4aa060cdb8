"""Dropout as an explicit regularizer: penalties, Monte-Carlo checks, closed-form optima, training.

Conventions (see ``book/conventions.md``)
    * ``p`` is the **drop** probability, ``p in [0, 1)``; a unit is kept with probability ``1 - p``.
    * Inverted dropout: a kept unit is multiplied by ``1 / (1 - p)``, so the mask entries are
      ``B_j in {0, 1/(1-p)}`` with ``E B_j = 1`` and ``Var B_j = p / (1 - p) =: lam``.
    * Loss normalization of this module (and of the dropout chapter): squared losses are
      **summed over outputs and averaged over examples, not halved**,
      ``L = (1/n) sum_i ||y_i - f(x_i)||^2``. With this normalization the dropout objective is
      the plain objective plus ``lam`` times the regularizer, with coefficient exactly one.

The master identity
    Every model of the chapter is linear in the dropped units: the prediction for example ``i``
    is ``yhat_i = sum_j B_ij C_ij`` where ``C_ij`` (a vector of outputs) is the contribution of
    unit ``j`` to example ``i``. Since the ``B_ij`` are independent with mean 1 and variance
    ``lam``, the bias-variance split gives, exactly,

        E_B (1/n) sum_i ||y_i - sum_j B_ij C_ij||^2
            = (1/n) sum_i ||y_i - sum_j C_ij||^2  +  lam (1/n) sum_i sum_j ||C_ij||^2 .

    :func:`expected_dropout_loss` evaluates the right-hand side and :func:`mc_dropout_loss`
    estimates the left-hand side by sampling masks. The ``*_contributions`` builders give ``C``
    for matrix factorization, matrix sensing/completion, input dropout in linear regression, and
    dropout on the top hidden layer of a deep network.

Further parts
    Matrix completion on a sample of entries (:func:`completion_dropout_objective`, whose
    regularizer is the *sample* one, versus the *population* regularizer of
    :func:`minimize_completion_objective`), deep linear networks with dropout on every hidden
    layer (:func:`deep_linear_dropout_regularizer`), and the two kernel regimes of a dropped-out
    readout (fixed masks: :func:`fixed_mask_kernel_regression`; resampled masks:
    :func:`resampled_mask_readout`). Widths of hidden layers are called ``m``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .descent import iterate
from .validation import (
    as_array,
    as_matrix,
    as_vector,
    check_rng,
    one_of,
    positive_float,
    positive_int,
    probability,
)

__all__ = [
    "CriticalPoint",
    "DropoutLoss",
    "DropoutOptimum",
    "DropoutSGDResult",
    "MCEstimate",
    "column_products",
    "completion_dropout_objective",
    "completion_regularizer",
    "completion_risk",
    "deep_dropout_constant",
    "deep_dropout_lower_bound",
    "deep_linear_dropout_objective",
    "deep_linear_dropout_regularizer",
    "dropout_kernel",
    "dropout_lambda",
    "dropout_optimum",
    "dropout_penalty",
    "equalization_gap_2d",
    "equalized_deep_factors",
    "equalized_factorization",
    "equalizing_rotation",
    "expected_dropout_loss",
    "explicit_objective",
    "factorization_contributions",
    "fixed_mask_kernel_regression",
    "fixed_mask_readout",
    "induced_regularizer",
    "input_dropout_contributions",
    "input_dropout_ridge",
    "matrix_with_singular_values",
    "mc_deep_linear_dropout_loss",
    "mc_dropout_kernel",
    "mc_dropout_loss",
    "mc_dropout_samples",
    "minimize_completion_objective",
    "minimize_deep_linear_dropout",
    "minimize_dropout_completion",
    "minimize_explicit_objective",
    "minimize_weighted_trace_norm_completion",
    "nuclear_norm",
    "projected_dropout_completion",
    "rank_one_dropout_completion",
    "relu_path_regularizer",
    "resampled_mask_readout",
    "sensing_contributions",
    "tied_gradient",
    "tied_scalar_critical_points",
    "tied_scalar_objective",
    "top_layer_contributions",
    "train_dropout_sgd",
]


# -- small helpers ---------------------------------------------------------------------------


def dropout_lambda(p) -> float:
    """``lam = p / (1 - p)``, the variance of an inverted-dropout mask entry (``p`` = drop prob)."""
    p = probability(p, "p")
    return p / (1.0 - p)


def _factors(U, V) -> tuple[np.ndarray, np.ndarray]:
    U = as_matrix(U, "U")
    V = as_matrix(V, "V")
    if U.shape[1] != V.shape[1]:
        raise ValueError(
            f"U and V must have the same number of columns (the width m of M = U V^T), got "
            f"U of shape {U.shape} and V of shape {V.shape}"
        )
    return U, V


def column_products(U, V) -> np.ndarray:
    """``||U[:, j]|| * ||V[:, j]||`` for each column ``j`` (the per-unit scale of ``U V^T``)."""
    U, V = _factors(U, V)
    return np.linalg.norm(U, axis=0) * np.linalg.norm(V, axis=0)


def dropout_penalty(U, V, p) -> float:
    """Explicit dropout regularizer of a factorization ``M = U V^T`` with ``m`` hidden units.

    ``lam * sum_j ||U[:, j]||^2 ||V[:, j]||^2`` with ``lam = p / (1 - p)``, ``p`` the **drop**
    probability in ``[0, 1)`` and inverted-dropout scaling ``1 / (1 - p)``. With the unhalved
    loss ``||M - U B V^T||_F^2`` (``B`` the diagonal mask) one has exactly
    ``E_B ||M - U B V^T||_F^2 = ||M - U V^T||_F^2 + dropout_penalty(U, V, p)``.

    Raises ``ValueError`` for ``p`` outside ``[0, 1)``, non-2-D or non-finite ``U``/``V`` or
    mismatched numbers of columns, ``TypeError`` for non-numeric input.
    """
    U, V = _factors(U, V)
    lam = dropout_lambda(p)
    return float(lam * np.sum(np.sum(U**2, axis=0) * np.sum(V**2, axis=0)))


def nuclear_norm(M) -> float:
    """``||M||_*``, the sum of the singular values of the 2-D array ``M``."""
    M = as_matrix(M, "M")
    return float(np.linalg.svd(M, compute_uv=False).sum())


# -- the master identity ---------------------------------------------------------------------


def matrix_with_singular_values(singular_values, seed) -> np.ndarray:
    """A square ``d x d`` matrix ``W diag(s) Y^T`` with the given singular values ``s`` (any
    order, non-negative) and random orthogonal ``W``, ``Y`` (QR of Gaussian matrices, ``W``
    drawn first), ``d = len(s)``."""
    s = as_vector(singular_values, "singular_values")
    if np.any(s < 0):
        raise ValueError("singular_values must be non-negative")
    rng = check_rng(seed)
    d = s.size
    W, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Y, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (W * s) @ Y.T


@dataclass(frozen=True)
class DropoutLoss:
    """Exact decomposition ``E_B[dropout loss] = plain + regularizer``.

    ``per_example_regularizer[i] = lam * sum_j ||C_ij||^2`` (its mean is ``regularizer``).
    """

    plain: float
    regularizer: float
    per_example_regularizer: np.ndarray

    @property
    def total(self) -> float:
        return self.plain + self.regularizer


@dataclass(frozen=True)
class MCEstimate:
    """A Monte-Carlo mean with its standard error ``std(samples, ddof=1) / sqrt(n_samples)``."""

    mean: float
    se: float
    n_samples: int


def _contributions(C, Y) -> tuple[np.ndarray, np.ndarray]:
    C = as_array(C, "C", ndim=3)
    Y = as_matrix(Y, "Y")
    if Y.shape != (C.shape[0], C.shape[2]):
        raise ValueError(
            f"Y must have shape (n_examples, n_outputs) = {(C.shape[0], C.shape[2])} to match "
            f"C of shape {C.shape}, got {Y.shape}"
        )
    return C, Y


def expected_dropout_loss(C, Y, p) -> DropoutLoss:
    """Closed form of the expected dropout loss (module docstring, master identity).

    Parameters
    ----------
    C : array, shape (n, r, o)
        ``C[i, j]`` is the contribution of unit ``j`` to the ``o`` outputs of example ``i``.
    Y : array, shape (n, o)
        Targets.
    p : float in [0, 1)
        Drop probability.

    Returns ``DropoutLoss(plain, regularizer, per_example_regularizer)`` with
    ``plain = (1/n) sum_i ||Y_i - sum_j C_ij||^2`` and
    ``regularizer = lam (1/n) sum_ij ||C_ij||^2``, ``lam = p/(1-p)``.
    """
    C, Y = _contributions(C, Y)
    lam = dropout_lambda(p)
    resid = Y - C.sum(axis=1)
    per_ex = lam * np.sum(C**2, axis=(1, 2))
    return DropoutLoss(
        plain=float(np.mean(np.sum(resid**2, axis=1))),
        regularizer=float(np.mean(per_ex)),
        per_example_regularizer=per_ex,
    )


def mc_dropout_samples(C, Y, p, *, n_samples: int, seed, chunk: int = 2048) -> np.ndarray:
    """Per-mask dropout losses: ``n_samples`` values of ``(1/n) sum_i ||Y_i - sum_j B_ij C_ij||^2``.

    Each sample draws a fresh mask for every example and unit (``B_ij = 0`` with probability
    ``p``, else ``1/(1-p)``) and evaluates the (unhalved, example-averaged) loss. The samples are
    i.i.d. with mean :func:`expected_dropout_loss` ``.total``; their running mean shows the
    Monte-Carlo average approaching it. ``chunk`` bounds the number of masks held in memory.
    The same ``seed`` gives the same samples as :func:`mc_dropout_loss`.
    """
    C, Y = _contributions(C, Y)
    p = probability(p, "p")
    n_samples = positive_int(n_samples, "n_samples", minimum=2)
    chunk = positive_int(chunk, "chunk")
    rng = check_rng(seed)
    n, r, _ = C.shape
    keep = 1.0 - p
    values = np.empty(n_samples)
    for start in range(0, n_samples, chunk):
        s = min(chunk, n_samples - start)
        B = (rng.random((s, n, r)) < keep) / keep
        pred = np.einsum("sij,ijo->sio", B, C)
        values[start : start + s] = np.mean(np.sum((Y[None] - pred) ** 2, axis=2), axis=1)
    return values


def mc_dropout_loss(C, Y, p, *, n_samples: int, seed, chunk: int = 2048) -> MCEstimate:
    """Monte-Carlo estimate of ``E_B (1/n) sum_i ||Y_i - sum_j B_ij C_ij||^2``.

    The mean and standard error of :func:`mc_dropout_samples` (fresh masks for every example
    and unit in each sample). ``chunk`` bounds the number of samples held in memory.
    """
    values = mc_dropout_samples(C, Y, p, n_samples=n_samples, seed=seed, chunk=chunk)
    return MCEstimate(
        mean=float(values.mean()),
        se=float(values.std(ddof=1) / np.sqrt(values.size)),
        n_samples=values.size,
    )


def factorization_contributions(U, V) -> np.ndarray:
    """``C`` for matrix factorization ``M ~ U B V^T``: one example, ``C[0, j] = vec(u_j v_j^T)``.

    Use with ``Y = M.reshape(1, -1)``; the loss is ``||M - U B V^T||_F^2``.
    """
    U, V = _factors(U, V)
    return np.einsum("aj,bj->jab", U, V).reshape(1, U.shape[1], -1)


def sensing_contributions(U, V, A) -> np.ndarray:
    """``C[i, j, 0] = u_j^T A_i v_j`` for matrix sensing ``y_i = <M, A_i>`` (``A`` of shape
    ``(n, d2, d0)``, ``U`` of shape ``(d2, r)``, ``V`` of shape ``(d0, r)``)."""
    U, V = _factors(U, V)
    A = as_array(A, "A", ndim=3)
    if A.shape[1:] != (U.shape[0], V.shape[0]):
        raise ValueError(
            f"A must have shape (n, {U.shape[0]}, {V.shape[0]}) to match U V^T, got {A.shape}"
        )
    return np.einsum("kj,ikl,lj->ij", U, A, V)[:, :, None]


def input_dropout_contributions(X, u) -> np.ndarray:
    """``C[i, k, 0] = u_k X[i, k]``: linear regression ``y ~ u^T (b * x)`` with dropout ``b`` on
    the input features."""
    X = as_matrix(X, "X")
    u = as_vector(u, "u", length=X.shape[1])
    return (X * u[None, :])[:, :, None]


def top_layer_contributions(W, H) -> np.ndarray:
    """``C[i, j] = H[i, j] W[:, j]``: dropout on the top hidden layer of a deep network.

    ``H`` (n, h) holds the top hidden activations ``a(x_i)``, ``W`` (o, h) the output weights.
    """
    W = as_matrix(W, "W")
    H = as_matrix(H, "H")
    if W.shape[1] != H.shape[1]:
        raise ValueError(
            f"W has {W.shape[1]} columns but H has {H.shape[1]} hidden units; they must agree"
        )
    return H[:, :, None] * W.T[None, :, :]


def relu_path_regularizer(W1, W2, p) -> float:
    """Population dropout regularizer of ``x -> W2 B relu(W1 x)`` for ``x ~ N(0, I)``.

    ``(lam / 2) sum_j ||W2[:, j]||^2 ||W1[j, :]||^2``: ``lam/2`` times the squared l2 path norm,
    because ``E relu(z)^2 = E z^2 / 2`` for symmetric ``z``.
    """
    W1 = as_matrix(W1, "W1")
    W2 = as_matrix(W2, "W2")
    if W2.shape[1] != W1.shape[0]:
        raise ValueError(f"W2 must have {W1.shape[0]} columns (rows of W1), got {W2.shape}")
    lam = dropout_lambda(p)
    return float(0.5 * lam * np.sum(np.sum(W2**2, axis=0) * np.sum(W1**2, axis=1)))


def completion_regularizer(U, V, pi_r, pi_c, p) -> float:
    """Expected dropout regularizer for matrix completion with entry ``(a, b)`` sampled with
    probability ``pi_r[a] * pi_c[b]`` (row and column distributions ``pi_r``, ``pi_c``):
    ``lam sum_j ||sqrt(pi_r) * u_j||^2 ||sqrt(pi_c) * v_j||^2``."""
    U, V = _factors(U, V)
    pi_r = _distribution(pi_r, "pi_r", U.shape[0])
    pi_c = _distribution(pi_c, "pi_c", V.shape[0])
    lam = dropout_lambda(p)
    return float(lam * np.sum((pi_r @ U**2) * (pi_c @ V**2)))


def _distribution(w, name: str, length: int) -> np.ndarray:
    w = as_vector(w, name, length=length)
    if np.any(w <= 0) or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name} must be a probability vector with positive entries summing to 1")
    return w


# -- induced regularizer and the equalization lemma ------------------------------------------


def equalizing_rotation(G, *, tol: float = 1e-12) -> np.ndarray:
    """An orthogonal ``Q`` such that ``Q^T G Q`` has constant diagonal ``trace(G) / d``.

    ``G`` is a symmetric ``d x d`` matrix. Construction: ``d - 1`` Givens rotations; each one
    mixes the largest and the smallest not-yet-fixed diagonal entries (one above, one below the
    target ``t = trace(G)/d``) so that the larger becomes exactly ``t`` (it exists by the
    intermediate value theorem). The trace fixes the last entry.
    """
    G = as_matrix(G, "G")
    d = G.shape[0]
    if G.shape != (d, d) or not np.allclose(G, G.T, atol=1e-12 * max(1.0, np.abs(G).max())):
        raise ValueError(f"G must be a symmetric square matrix, got shape {G.shape}")
    A = 0.5 * (G + G.T)
    Q = np.eye(d)
    t = np.trace(A) / d
    free = list(range(d))
    for _ in range(d - 1):
        diag = np.diag(A)
        i = max(free, key=lambda k: diag[k])
        j = min(free, key=lambda k: diag[k])
        a, c, b = diag[i], diag[j], A[i, j]
        if a - c <= tol * max(1.0, abs(t)):
            break
        half = 0.5 * (a - c)
        R = np.hypot(half, b)
        phi = np.arctan2(b, half)
        two_theta = np.arccos(np.clip((t - 0.5 * (a + c)) / R, -1.0, 1.0)) - phi
        cs, sn = np.cos(0.5 * two_theta), np.sin(0.5 * two_theta)
        J = np.eye(d)
        J[i, i], J[i, j], J[j, i], J[j, j] = cs, sn, -sn, cs
        A = J.T @ A @ J
        Q = Q @ J
        free.remove(i)
    return Q


def equalization_gap_2d(U, V, *, n_grid: int = 100001):
    """How far rotations of a width-2 factorization stay from equal column products.

    For ``Q(theta)`` the rotation by ``theta`` and target ``t = ||U V^T||_* / 2``, evaluates
    ``gap(theta) = max_j | ||U q_j|| ||V q_j|| - t |`` on ``n_grid`` points of ``[0, pi]``
    (reflections give the same columns up to sign). Since ``theta -> ||A q_j(theta)||`` is
    ``||A||_2``-Lipschitz, ``gap`` is ``L``-Lipschitz with
    ``L = ||U||_2 ||V||_2 + ||V||_2 ||U||_2 = 2 ||U||_2 ||V||_2``, so
    ``min gap - L h / 2`` (``h`` the grid step) is a certified lower bound over all rotations.
    Returns ``(theta, gap, certified_lower_bound)``.
    """
    U, V = _factors(U, V)
    if U.shape[1] != 2:
        raise ValueError(f"U and V must have exactly 2 columns, got {U.shape[1]}")
    n_grid = positive_int(n_grid, "n_grid", minimum=2)
    theta = np.linspace(0.0, np.pi, n_grid)
    c, s = np.cos(theta), np.sin(theta)
    target = nuclear_norm(U @ V.T) / 2
    gap = np.zeros(n_grid)
    for q in (np.stack([c, s], axis=1), np.stack([-s, c], axis=1)):
        prod = np.linalg.norm(q @ U.T, axis=1) * np.linalg.norm(q @ V.T, axis=1)
        gap = np.maximum(gap, np.abs(prod - target))
    L = 2 * np.linalg.norm(U, 2) * np.linalg.norm(V, 2)
    return theta, gap, float(gap.min() - L * (theta[1] - theta[0]) / 2)


def _weights_or_ones(w, name: str, length: int) -> np.ndarray:
    if w is None:
        return np.ones(length)
    return _distribution(w, name, length)


def induced_regularizer(M, m, *, pi_r=None, pi_c=None) -> float:
    """``Theta(M) = ||diag(sqrt pi_r) M diag(sqrt pi_c)||_*^2 / m``: the smallest value of
    ``sum_j ||sqrt(pi_r) u_j||^2 ||sqrt(pi_c) v_j||^2`` over factorizations ``M = U V^T`` of width
    ``m >= rank M`` (``pi_r = pi_c = ones``, the default, is Gaussian sensing: ``||M||_*^2 / m``).
    Multiply by ``lam = p/(1-p)`` for the regularizer itself."""
    M = as_matrix(M, "M")
    m = positive_int(m, "m")
    sm = np.sqrt(_weights_or_ones(pi_r, "pi_r", M.shape[0]))
    sn = np.sqrt(_weights_or_ones(pi_c, "pi_c", M.shape[1]))
    return nuclear_norm(sm[:, None] * M * sn[None, :]) ** 2 / m


def equalized_factorization(M, m, *, pi_r=None, pi_c=None, rtol: float = 1e-12):
    """A factorization ``M = U V^T`` of width ``m`` that attains :func:`induced_regularizer`.

    Start from the balanced factorization ``W S^(1/2), Y S^(1/2)`` of the (weighted) matrix
    ``Mw = diag(sqrt pi_r) M diag(sqrt pi_c) = W S Y^T`` padded with zero columns to width ``m``
    (its two Gram matrices are equal), rotate both factors by :func:`equalizing_rotation` of
    that Gram matrix, and undo the weights. All column products
    ``||sqrt(pi_r) u_j|| ||sqrt(pi_c) v_j||`` then equal ``||Mw||_* / m``.
    Raises ``ValueError`` if ``m < rank(M)``.
    """
    M = as_matrix(M, "M")
    m = positive_int(m, "m")
    sm = np.sqrt(_weights_or_ones(pi_r, "pi_r", M.shape[0]))
    sn = np.sqrt(_weights_or_ones(pi_c, "pi_c", M.shape[1]))
    W, s, Yt = np.linalg.svd(sm[:, None] * M * sn[None, :], full_matrices=False)
    k = int(np.sum(s > rtol * max(s[0], np.finfo(float).tiny)))
    if m < k:
        raise ValueError(f"m = {m} is smaller than rank(M) = {k}: no factorization of width m")
    Uh = np.zeros((M.shape[0], m))
    Vh = np.zeros((M.shape[1], m))
    Uh[:, :k] = W[:, :k] * np.sqrt(s[:k])
    Vh[:, :k] = Yt[:k].T * np.sqrt(s[:k])
    Q = equalizing_rotation(Uh.T @ Uh)
    return (Uh @ Q) / sm[:, None], (Vh @ Q) / sn[:, None]


# -- closed-form optimum and numerical checks -------------------------------------------------


@dataclass(frozen=True)
class DropoutOptimum:
    """Global optimum of ``||M - U V^T||_F^2 + lam sum_j ||u_j||^2 ||v_j||^2`` (width ``m``).

    ``singular_values`` are those of the optimal product ``U V^T`` (length ``min(M.shape)``),
    ``product`` the product itself, ``q`` its rank (the number of kept singular values),
    ``alpha`` the shrinkage, ``value`` the optimal objective value and ``lam = p/(1-p)``.
    """

    product: np.ndarray
    singular_values: np.ndarray
    q: int
    alpha: float
    value: float
    lam: float


def _shrink(s: np.ndarray, c: float, max_rank: int) -> tuple[np.ndarray, int, float]:
    """Minimize ``sum_i (s_i - x_i)^2 + c (sum_i x_i)^2`` over ``x >= 0`` with at most
    ``max_rank`` non-zero entries (``s`` sorted decreasingly, ``c >= 0``).

    Solution ``x_i = s_i - alpha`` for ``i <= q`` and 0 otherwise, with
    ``q = max{j <= max_rank : s_j > c j kappa_j / (1 + c j)}``, ``kappa_j`` the mean of the top
    ``j`` values and ``alpha = c q kappa_q / (1 + c q)`` (the fixed point ``alpha = c sum x``).
    """
    k = min(max_rank, s.size)
    j = np.arange(1, k + 1)
    kappa = np.cumsum(s[:k]) / j
    ok = s[:k] > c * j * kappa / (1.0 + c * j)
    q = int(j[ok].max()) if np.any(ok) else 0
    alpha = float(c * q * kappa[q - 1] / (1.0 + c * q)) if q > 0 else 0.0
    x = np.zeros_like(s)
    x[:q] = s[:q] - alpha
    return x, q, alpha


def dropout_optimum(M, m, p) -> DropoutOptimum:
    """Closed-form dropout optimum of the two-layer linear network / linear autoencoder.

    Model ``x -> U B V^T x`` with whitened inputs (``E x x^T = I``), ``M = E[y x^T]``, ``m``
    hidden units dropped with probability ``p`` (inverted scaling): the expected loss is
    ``||M - U V^T||_F^2 + lam sum_j ||u_j||^2 ||v_j||^2`` + const, ``lam = p/(1-p)``. With
    ``s_1 >= s_2 >= ...`` the singular values of ``M`` and ``kappa_j = (s_1 + ... + s_j)/j``,

        q     = max{ j <= m : s_j > lam j kappa_j / (m + lam j) },
        alpha = lam q kappa_q / (m + lam q),

    and every global optimum has ``U V^T = sum_{i <= q} (s_i - alpha) w_i y_i^T`` (shrink the
    top ``q`` singular values by ``alpha``, drop the rest), with equalized column products if
    ``p > 0`` (at ``p = 0`` any factorization of the truncated SVD is optimal).
    For the tied autoencoder ``U = V`` and symmetric positive semi-definite ``M`` (eigenvalues =
    singular values) the optimal ``U U^T`` is the same matrix (Mianjy, Arora and Vidal, 2018).
    """
    M = as_matrix(M, "M")
    m = positive_int(m, "m")
    lam = dropout_lambda(p)
    W, s, Yt = np.linalg.svd(M, full_matrices=False)
    x, q, alpha = _shrink(s, lam / m, m)
    product = (W * x) @ Yt
    value = float(np.sum((s - x) ** 2) + lam / m * x.sum() ** 2)
    return DropoutOptimum(product, x, q, alpha, value, lam)


def explicit_objective(U, V, M, p) -> float:
    """``||M - U V^T||_F^2 + dropout_penalty(U, V, p)`` (the expected dropout loss)."""
    U, V = _factors(U, V)
    M = as_matrix(M, "M")
    if M.shape != (U.shape[0], V.shape[0]):
        raise ValueError(f"M must have shape {(U.shape[0], V.shape[0])}, got {M.shape}")
    return float(np.sum((M - U @ V.T) ** 2)) + dropout_penalty(U, V, p)


def tied_gradient(U, M, p) -> np.ndarray:
    """Gradient of the tied (autoencoder) objective ``||M - U U^T||_F^2 + lam sum_j ||u_j||^4``.

    ``-2 (R + R^T) U + 4 lam U diag(U^T U)`` with ``R = M - U U^T`` and ``lam = p/(1-p)``; for
    symmetric ``M`` this is ``4 (U U^T - M) U + 4 lam U diag(U^T U)`` (Mianjy, Arora and Vidal,
    2018; the lecture notes' section *Landscape of the Optimization Problem*).
    ``M`` must be square with as many rows as ``U``.
    """
    U = as_matrix(U, "U")
    M = as_matrix(M, "M")
    if M.shape != (U.shape[0], U.shape[0]):
        raise ValueError(f"M must have shape {(U.shape[0], U.shape[0])} to match U, got {M.shape}")
    lam = dropout_lambda(p)
    R = M - U @ U.T
    return -2.0 * (R + R.T) @ U + 4.0 * lam * U * np.sum(U**2, axis=0)


def tied_scalar_objective(u1, u2, s, p):
    """The width-2 tied objective for a ``1 x 1`` target ``M = s``, vectorized over ``u1, u2``:

        L(u1, u2) = (s - u1^2 - u2^2)^2 + lam (u1^4 + u2^4),   lam = p / (1 - p),

    the expected dropout loss of the autoencoder ``x -> U B U^T x`` with ``U = (u1, u2)``
    (:func:`explicit_objective` with ``U = V``). ``u1`` and ``u2`` broadcast against each other.
    """
    u1 = np.asarray(u1, dtype=float)
    u2 = np.asarray(u2, dtype=float)
    s = positive_float(s, "s")
    lam = dropout_lambda(p)
    a, b = u1**2, u2**2
    return (s - a - b) ** 2 + lam * (a**2 + b**2)


@dataclass(frozen=True)
class CriticalPoint:
    """A critical point of :func:`tied_scalar_objective`: its ``kind`` ("minimum", "saddle",
    "maximum" or "degenerate" when the Hessian is singular), location ``u``, ``value`` and
    Hessian eigenvalues (ascending)."""

    kind: str
    u: np.ndarray
    value: float
    hessian_eigenvalues: np.ndarray


def _tied_scalar_hessian(u1: float, u2: float, s: float, lam: float) -> np.ndarray:
    a, b = u1**2, u2**2
    h11 = 4 * ((a + b - s) + lam * a) + 8 * (1 + lam) * a
    h22 = 4 * ((a + b - s) + lam * b) + 8 * (1 + lam) * b
    return np.array([[h11, 8 * u1 * u2], [8 * u1 * u2, h22]])


def tied_scalar_critical_points(s, p, *, rtol: float = 1e-12) -> list[CriticalPoint]:
    """All critical points of :func:`tied_scalar_objective`, in closed form.

    With ``a = u1^2``, ``b = u2^2``, ``dL/du1 = 4 u1 ((a + b - s) + lam a)`` (and symmetrically),
    so a critical point has each coordinate zero or ``s - a - b = lam a`` (resp. ``lam b``):

    * the origin, a maximum (Hessian ``-4 s I``);
    * four points on the axes, ``u_i^2 = s / (1 + lam)``: **not equalized**; for ``lam > 0``
      saddles with Hessian eigenvalues ``-4 lam s / (1 + lam)`` (along the rotation of the two
      columns, the curvature ``-4 lam Delta^2 / ||t||^2`` of the local-minima lemma) and ``8 s``;
    * four equalized points ``u1^2 = u2^2 = s / (2 + lam)``, the global minima for ``lam > 0``
      (value ``lam s^2 / (2 + lam)``, eigenvalues ``8 a lam`` and ``8 a (2 + lam)``).

    At ``p = 0`` the axis and diagonal points lie on the circle of minima ``u1^2 + u2^2 = s``
    and have a zero Hessian eigenvalue ("degenerate"). Kinds are read from the eigenvalues
    (``rtol`` times their largest magnitude counts as zero). Order: minima, saddles, maximum.
    """
    s = positive_float(s, "s")
    lam = dropout_lambda(p)
    a_eq, a_ax = s / (2 + lam), s / (1 + lam)
    r_eq, r_ax = np.sqrt(a_eq), np.sqrt(a_ax)
    points = [(e1 * r_eq, e2 * r_eq) for e1 in (1, -1) for e2 in (1, -1)]
    points += [(r_ax, 0.0), (-r_ax, 0.0), (0.0, r_ax), (0.0, -r_ax), (0.0, 0.0)]
    out = []
    for u1, u2 in points:
        ev = np.linalg.eigvalsh(_tied_scalar_hessian(u1, u2, s, lam))
        zero = rtol * np.abs(ev).max()
        if ev[0] > zero:
            kind = "minimum"
        elif ev[-1] < -zero:
            kind = "maximum"
        elif ev[0] < -zero and ev[-1] > zero:
            kind = "saddle"
        else:
            kind = "degenerate"
        value = float(tied_scalar_objective(u1, u2, s, p))
        out.append(CriticalPoint(kind, np.array([u1, u2]), value, ev))
    return out


def minimize_explicit_objective(M, m, p, *, seed, tied: bool = False, n_restarts: int = 3):
    """Minimize the explicit dropout objective numerically (L-BFGS, analytic gradient).

    Untied: ``||M - U V^T||_F^2 + lam sum_j ||u_j||^2 ||v_j||^2``; tied (``U = V``, ``M``
    square): ``||M - U U^T||_F^2 + lam sum_j ||u_j||^4``. Best of ``n_restarts`` random starts.
    Returns ``(U, V, value)`` (``V is U`` when tied). An independent check of
    :func:`dropout_optimum`.
    """
    from scipy.optimize import minimize

    M = as_matrix(M, "M")
    m = positive_int(m, "m")
    lam = dropout_lambda(p)
    rng = check_rng(seed)
    n_restarts = positive_int(n_restarts, "n_restarts")
    d2, d0 = M.shape
    if tied and d2 != d0:
        raise ValueError(f"tied=True needs a square M, got shape {M.shape}")

    def fun(z):
        if tied:
            U = z.reshape(d2, m)
            f = np.sum((M - U @ U.T) ** 2) + lam * np.sum(np.sum(U**2, axis=0) ** 2)
            return f, tied_gradient(U, M, p).ravel()
        U = z[: d2 * m].reshape(d2, m)
        V = z[d2 * m :].reshape(d0, m)
        R = M - U @ V.T
        nu2, nv2 = np.sum(U**2, axis=0), np.sum(V**2, axis=0)
        f = np.sum(R**2) + lam * np.sum(nu2 * nv2)
        gU = -2 * R @ V + 2 * lam * U * nv2
        gV = -2 * R.T @ U + 2 * lam * V * nu2
        return f, np.concatenate([gU.ravel(), gV.ravel()])

    size = d2 * m if tied else (d2 + d0) * m
    best = None
    for _ in range(n_restarts):
        z0 = rng.standard_normal(size) * np.sqrt(np.linalg.norm(M, 2) / m)
        res = minimize(fun, z0, jac=True, method="L-BFGS-B",
                       options={"maxiter": 20000, "gtol": 1e-13, "ftol": 1e-16})
        if best is None or res.fun < best.fun:
            best = res
    if tied:
        U = best.x.reshape(d2, m)
        return U, U, float(best.fun)
    return best.x[: d2 * m].reshape(d2, m), best.x[d2 * m :].reshape(d0, m), float(best.fun)


def minimize_completion_objective(M, mask, p, U0, V0, *, pi_r=None, pi_c=None):
    """Minimize the **population-regularized** completion objective from given factors (L-BFGS).

    With ``Omega`` the ``n`` entries where ``mask`` is true and ``lam = p/(1-p)``, minimizes

        F_pop(U, V) = (1/n) sum_{(a,b) in Omega} (M_ab - (U V^T)_ab)^2
                      + lam sum_j ||sqrt(pi_r) * u_j||^2 ||sqrt(pi_c) * v_j||^2 ,

    the (unhalved, example-averaged) plain loss on ``Omega`` plus the *population* regularizer
    ``R = E R_hat`` of :func:`completion_regularizer`, the expectation of the sample regularizer
    over entries drawn from ``pi_r x pi_c`` (the object analysed by Arora et al., 2021). This is
    **not** the expected dropout objective on the fixed set ``Omega``: that one has the sample
    regularizer ``lam (1/n) sum_{(a,b) in Omega} sum_j U_aj^2 V_bj^2`` (see
    :func:`completion_dropout_objective` and :func:`minimize_dropout_completion`); the two agree
    in expectation when the entries are drawn i.i.d. from ``pi_r x pi_c``, not for a given
    ``Omega``. ``pi_r`` and ``pi_c`` default to the row and column frequencies of ``Omega``
    (``mask.sum(1) / n`` and ``mask.sum(0) / n``). The run starts at ``(U0, V0)`` (width ``m`` =
    their number of columns), uses the analytic gradient and is deterministic. Entries of ``M``
    outside ``Omega`` are never read. Returns ``(U, V, value)``. For width ``m >= rank``, its
    minimum value is that of the convex problem solved by
    :func:`minimize_weighted_trace_norm_completion`.
    """
    from scipy.optimize import minimize

    M = as_matrix(M, "M")
    U0, V0 = _factors(U0, V0)
    lam = dropout_lambda(p)
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != M.shape:
        raise ValueError(f"mask must be a boolean array of shape {M.shape}, got "
                         f"{mask.dtype} of shape {mask.shape}")
    if (U0.shape[0], V0.shape[0]) != M.shape:
        raise ValueError(f"U0 and V0 must have {M.shape[0]} and {M.shape[1]} rows to match M, "
                         f"got {U0.shape} and {V0.shape}")
    n = int(mask.sum())
    if n == 0:
        raise ValueError("mask must mark at least one observed entry")
    pi_r = mask.sum(axis=1) / n if pi_r is None else _distribution(pi_r, "pi_r", M.shape[0])
    pi_c = mask.sum(axis=0) / n if pi_c is None else _distribution(pi_c, "pi_c", M.shape[1])
    Mo = np.where(mask, M, 0.0)
    (d2, r), d0 = U0.shape, V0.shape[0]

    def fun(z):
        U = z[: d2 * r].reshape(d2, r)
        V = z[d2 * r :].reshape(d0, r)
        R = mask * (Mo - U @ V.T)
        wu, wv = pi_r @ U**2, pi_c @ V**2
        f = np.sum(R**2) / n + lam * np.sum(wu * wv)
        gU = -2.0 / n * R @ V + 2.0 * lam * pi_r[:, None] * U * wv
        gV = -2.0 / n * R.T @ U + 2.0 * lam * pi_c[:, None] * V * wu
        return f, np.concatenate([gU.ravel(), gV.ravel()])

    res = minimize(fun, np.concatenate([U0.ravel(), V0.ravel()]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-13, "ftol": 1e-16})
    return res.x[: d2 * r].reshape(d2, r), res.x[d2 * r :].reshape(d0, r), float(res.fun)


def _entry_indices(entries, shape) -> np.ndarray:
    """Validate ``entries``: an (n, 2) integer array of (row, column) indices of a ``shape``
    matrix."""
    if isinstance(entries, (str, bytes)) or entries is None:
        raise TypeError(f"entries must be an (n, 2) integer array, got {type(entries).__name__}")
    E = np.asarray(entries)
    if E.dtype == bool or not np.issubdtype(E.dtype, np.integer):
        raise TypeError(f"entries must be an (n, 2) array of integer indices, got dtype {E.dtype}")
    if E.ndim != 2 or E.shape[1] != 2 or E.shape[0] == 0:
        raise ValueError(f"entries must have shape (n, 2) with n >= 1, got {E.shape}")
    if np.any(E < 0) or np.any(E[:, 0] >= shape[0]) or np.any(E[:, 1] >= shape[1]):
        raise ValueError(f"entries must be valid (row, column) indices of a {shape} matrix")
    return E.astype(np.int64)


def _entries(entries, values, shape) -> tuple[np.ndarray, np.ndarray]:
    """Validated sampled entries ``(E, y)``: ``E`` (n, 2) indices, ``y`` (n,) observed values."""
    E = _entry_indices(entries, shape)
    return E, as_vector(values, "values", length=E.shape[0])


def _entry_stats(E, y, shape):
    """Counts ``N_ab``, sums ``S_ab = sum of values at (a, b)`` and ``sum y^2`` of the sample."""
    N = np.zeros(shape)
    S = np.zeros(shape)
    np.add.at(N, (E[:, 0], E[:, 1]), 1.0)
    np.add.at(S, (E[:, 0], E[:, 1]), y)
    return N, S, float(np.sum(y**2))


def completion_dropout_objective(U, V, entries, values, p) -> DropoutLoss:
    """Expected dropout objective of matrix completion on a **given** sample of entries.

    Each sampled entry ``(a_i, b_i)`` with value ``y_i`` is one example with its own mask; by the
    master identity (module docstring, ``c_ij = U[a_i, j] V[b_i, j]``)

        E_B (1/n) sum_i (y_i - sum_j B_ij U_{a_i j} V_{b_i j})^2
            = (1/n) sum_i (y_i - (U V^T)_{a_i b_i})^2
              + lam (1/n) sum_i sum_j U_{a_i j}^2 V_{b_i j}^2,

    the plain loss plus the **sample** regularizer (``lam = p/(1-p)``). ``entries`` is an (n, 2)
    integer array of (row, column) indices (repeats allowed), ``values`` the n observed values.
    Returns ``DropoutLoss(plain, regularizer, per_example_regularizer)``.
    """
    U, V = _factors(U, V)
    E, y = _entries(entries, values, (U.shape[0], V.shape[0]))
    lam = dropout_lambda(p)
    Ua, Vb = U[E[:, 0]], V[E[:, 1]]
    per_ex = lam * np.sum(Ua**2 * Vb**2, axis=1)
    return DropoutLoss(
        plain=float(np.mean((y - np.sum(Ua * Vb, axis=1)) ** 2)),
        regularizer=float(np.mean(per_ex)),
        per_example_regularizer=per_ex,
    )


def _dropout_completion_fun(N, S, yy, n, lam, d2, d0, m):
    """Value and gradient of :func:`completion_dropout_objective` in dense form:
    ``(1/n) (sum y^2 - 2 <S, X> + <N, X*X>) + (lam/n) sum_j (U^2)^T N (V^2)``."""

    def fun(z):
        U = z[: d2 * m].reshape(d2, m)
        V = z[d2 * m :].reshape(d0, m)
        X = U @ V.T
        NV2, NtU2 = N @ V**2, N.T @ U**2
        f = (yy - 2.0 * np.sum(S * X) + np.sum(N * X**2)) / n + lam / n * np.sum(U**2 * NV2)
        GX = 2.0 / n * (N * X - S)
        gU = GX @ V + 2.0 * lam / n * U * NV2
        gV = GX.T @ U + 2.0 * lam / n * V * NtU2
        return f, np.concatenate([gU.ravel(), gV.ravel()])

    return fun


def minimize_dropout_completion(entries, values, p, U0, V0):
    """Minimize :func:`completion_dropout_objective` (the expected dropout objective on the given
    sample of entries) from the factors ``(U0, V0)`` by L-BFGS with the analytic gradient.

    The sample regularizer only involves the sampled pairs, so it is not a weighted nuclear norm
    of ``U V^T`` and the problem has no convex reformulation; the run is deterministic and
    returns a local minimizer ``(U, V, value)`` (compare :func:`rank_one_dropout_completion`).
    """
    from scipy.optimize import minimize

    U0, V0 = _factors(U0, V0)
    (d2, m), d0 = U0.shape, V0.shape[0]
    E, y = _entries(entries, values, (d2, d0))
    lam = dropout_lambda(p)
    N, S, yy = _entry_stats(E, y, (d2, d0))
    fun = _dropout_completion_fun(N, S, yy, E.shape[0], lam, d2, d0, m)
    res = minimize(fun, np.concatenate([U0.ravel(), V0.ravel()]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-13, "ftol": 1e-16})
    return res.x[: d2 * m].reshape(d2, m), res.x[d2 * m :].reshape(d0, m), float(res.fun)


def _connected(E, shape) -> bool:
    """Is the bipartite row-column graph of the entries connected and spanning all rows and
    columns?"""
    d2, d0 = shape
    parent = list(range(d2 + d0))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in E:
        parent[find(int(a))] = find(d2 + int(b))
    return len({find(i) for i in range(d2 + d0)}) == 1


def rank_one_dropout_completion(M, entries, p, m, *, rtol: float = 1e-10):
    """Closed-form global minimum of the expected dropout objective of completion, rank-one ``M``.

    For ``M`` of rank one and ``n`` sampled entries ``Omega`` (values ``M_ab``) whose bipartite
    row-column graph is connected and touches every row and column, with ``M_ab != 0`` on
    ``Omega``: every example obeys ``(M_ab - sum_j c_j)^2 + lam sum_j c_j^2 >=
    lam M_ab^2 / (m + lam)`` (Cauchy-Schwarz, then a scalar minimization), with equality iff
    ``c_j = U_aj V_bj = M_ab / (m + lam)`` for all ``j``. The all-columns-equal factorization of
    ``M`` attains this on every entry, and connectivity then forces ``U V^T = m M / (m + lam)``
    for every global minimizer when ``p > 0`` (at ``p = 0`` it is one of many minimizers).
    Returns ``(product, value)`` with
    ``value = lam / (m + lam) * mean_{Omega} M_ab^2`` (repeated entries counted with
    multiplicity). Raises ``ValueError`` if ``M`` is not of rank one (relative tolerance
    ``rtol`` on ``s_2 / s_1``), if the graph is not connected and spanning, or if ``M`` vanishes
    on a sampled entry.
    """
    M = as_matrix(M, "M")
    m = positive_int(m, "m")
    lam = dropout_lambda(p)
    E = _entry_indices(entries, M.shape)
    s = np.linalg.svd(M, compute_uv=False)
    if s[0] == 0 or (s.size > 1 and s[1] > rtol * s[0]):
        raise ValueError(f"M must have rank one (s_2 / s_1 <= {rtol}), got singular values "
                         f"{np.round(s[:3], 6)}")
    if not _connected(E, M.shape):
        raise ValueError("entries must form a connected row-column graph touching every row and "
                         "column; otherwise the unobserved entries are not determined")
    vals = M[E[:, 0], E[:, 1]]
    if np.any(vals == 0):
        raise ValueError("M must be non-zero on every sampled entry")
    return m / (m + lam) * M, float(lam / (m + lam) * np.mean(vals**2))


def projected_dropout_completion(entries, values, p, U0, V0, *, max_norm, eta, n_steps: int):
    """Dropout training of matrix completion with a **max-norm** constraint (projected GD).

    Full-batch gradient descent on :func:`completion_dropout_objective` (the expected dropout
    objective of the sample), each step followed by the projection of every row of ``U`` and of
    ``V`` onto the ball ``||row||^2 <= max_norm`` (the max-norm constraint used with dropout by
    Srivastava et al., 2014, and assumed by the capacity bound of Arora et al., 2021): step
    ``eta``, ``n_steps`` steps from ``(U0, V0)`` (projected first), on
    :func:`ibcore.descent.iterate` with the objective as the monitored quantity.

    Returns
    -------
    (U, V) : tuple of ndarray
        The factors after ``n_steps`` projected steps.

    Raises
    ------
    ibcore.DivergenceError
        If the objective becomes non-finite or exceeds ``1e12`` times its value at the start
        (lower ``eta``).
    """
    U, V = _factors(U0, V0)
    (d2, m), d0 = U.shape, V.shape[0]
    E, y = _entries(entries, values, (d2, d0))
    lam = dropout_lambda(p)
    max_norm = positive_float(max_norm, "max_norm")
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps")
    N, S, yy = _entry_stats(E, y, (d2, d0))
    fun = _dropout_completion_fun(N, S, yy, E.shape[0], lam, d2, d0, m)
    radius = np.sqrt(max_norm)

    def project(A):
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        return A * np.minimum(1.0, radius / np.maximum(norms, np.finfo(float).tiny))

    grad = {}  # the gradient computed with the objective at the current point

    def measure(z):
        f, grad["z"] = fun(z)
        return f

    def advance(z, _k):
        with np.errstate(over="ignore", invalid="ignore"):  # caught by the divergence test
            z = z - eta * grad["z"]
            return np.concatenate([project(z[: d2 * m].reshape(d2, m)).ravel(),
                                   project(z[d2 * m :].reshape(d0, m)).ravel()])

    z0 = np.concatenate([project(U).ravel(), project(V).ravel()])
    run = iterate(advance, z0, n_steps, measure=measure, checkpoints=[n_steps],
                  quantity="dropout completion objective",
                  hint=f"use a smaller step size than eta = {eta:g}")
    z = run.state
    return z[: d2 * m].reshape(d2, m), z[d2 * m :].reshape(d0, m)


def completion_risk(X, M, pi_r=None, pi_c=None) -> float:
    """Population risk of a completion ``X`` of ``M`` for entries drawn from ``pi_r x pi_c``:
    ``sum_ab pi_r[a] pi_c[b] (M_ab - X_ab)^2`` (uniform ``pi_r``, ``pi_c`` by default: the mean
    squared error over all entries). Add the noise variance for noisy observations."""
    X = as_matrix(X, "X")
    M = as_matrix(M, "M")
    if X.shape != M.shape:
        raise ValueError(f"X must have the shape of M, {M.shape}, got {X.shape}")
    d2, d0 = M.shape
    pi_r = np.full(d2, 1 / d2) if pi_r is None else _distribution(pi_r, "pi_r", d2)
    pi_c = np.full(d0, 1 / d0) if pi_c is None else _distribution(pi_c, "pi_c", d0)
    return float(pi_r @ (M - X) ** 2 @ pi_c)


def minimize_weighted_trace_norm_completion(M, mask, p, m, *, pi_r=None, pi_c=None,
                                            tol: float = 1e-14, max_iter: int = 100000):
    """Solve the convex problem behind :func:`minimize_completion_objective` directly in ``X``.

    Minimizes ``f(X) = (1/n) ||P_Omega(M - X)||_F^2 + (lam/m) ||D_r^(1/2) X D_c^(1/2)||_*^2``
    (``lam = p/(1-p)``, ``D_r = diag(pi_r)``, ``D_c = diag(pi_c)``, ``pi_r``/``pi_c`` defaulting
    to the row/column frequencies of ``Omega`` as there), which by the induced-regularizer
    theorem has the same minimum value as the factorized ``F_pop`` of width ``m >= rank``.
    Method: proximal gradient in ``Y = D_r^(1/2) X D_c^(1/2)`` with step ``1/L`` (``L`` the
    Lipschitz constant of the smooth part); the proximal map of ``c ||Y||_*^2`` shrinks the
    singular values by a common amount and thresholds them (the same scalar problem as
    :func:`dropout_optimum`). No factorization and no line search: an independent solver.
    Stops when an iterate moves by less than ``tol`` (Frobenius) and returns ``(X, value)``.
    """
    M = as_matrix(M, "M")
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != M.shape:
        raise ValueError(f"mask must be a boolean array of shape {M.shape}, got "
                         f"{mask.dtype} of shape {mask.shape}")
    n = int(mask.sum())
    if n == 0:
        raise ValueError("mask must mark at least one observed entry")
    m = positive_int(m, "m")
    lam = dropout_lambda(p)
    tol = positive_float(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    pi_r = mask.sum(axis=1) / n if pi_r is None else _distribution(pi_r, "pi_r", M.shape[0])
    pi_c = mask.sum(axis=0) / n if pi_c is None else _distribution(pi_c, "pi_c", M.shape[1])
    if np.any(pi_r <= 0) or np.any(pi_c <= 0):
        raise ValueError("every row and column must be observed (or pass positive pi_r and pi_c)")
    sm, sn = np.sqrt(pi_r)[:, None], np.sqrt(pi_c)[None, :]
    Mo = np.where(mask, M, 0.0)
    c = lam / m
    # 1 / L with L = (2/n) max over Omega of 1 / (pi_r[a] pi_c[b])
    step = n / 2.0 * np.min(np.outer(pi_r, pi_c)[mask])

    def f(X):
        return float(np.sum((mask * (Mo - X)) ** 2) / n
                     + c * nuclear_norm(sm * X * sn) ** 2)

    Y = np.zeros(M.shape)
    for _ in range(max_iter):
        X = Y / (sm * sn)
        G = -2.0 / n * mask * (Mo - X) / (sm * sn)  # gradient in Y
        W, s, Yt = np.linalg.svd(Y - step * G, full_matrices=False)
        x, _, _ = _shrink(s, 2.0 * step * c, s.size)  # prox of step * c ||.||_*^2
        Y_new = (W * x) @ Yt
        if np.linalg.norm(Y_new - Y) < tol:
            Y = Y_new
            break
        Y = Y_new
    X = Y / (sm * sn)
    return X, f(X)


# -- training with stochastic dropout ---------------------------------------------------------


@dataclass(frozen=True)
class DropoutSGDResult:
    """Result of :func:`train_dropout_sgd`.

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
    explicit objective :func:`explicit_objective`. Step size ``eta / (1 + decay * k / n_steps)``
    at step ``k``; the returned factors and product are averaged over the steps
    ``k >= average_from * n_steps`` (Polyak averaging). Initialization: i.i.d.
    ``N(0, init_scale^2 / m)`` entries (seeded). The loop is :func:`ibcore.descent.iterate`,
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


# -- deep linear networks (dropout on every hidden layer) -------------------------------------


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
    the recursion of :func:`_second_moments` (``E b b^T = 1 1^T + lam I``), in ``O(D m^3)``.
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
    :func:`deep_linear_dropout_regularizer`)."""
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


def mc_deep_linear_dropout_loss(Ws, M, p, *, n_samples: int, seed) -> MCEstimate:
    """Monte-Carlo estimate of ``E_B ||M - W_{D+1} B_D ... B_1 W_1||_F^2`` with fresh
    independent masks on every hidden layer for each sample (mean and standard error)."""
    Ws = _chain(Ws)
    M = _check_target(M, Ws)
    p = probability(p, "p")
    n_samples = positive_int(n_samples, "n_samples", minimum=2)
    rng = check_rng(seed)
    keep = 1.0 - p
    P = np.broadcast_to(Ws[0], (n_samples, *Ws[0].shape))
    for W in Ws[1:]:
        b = (rng.random((n_samples, P.shape[1], 1)) < keep) / keep
        P = np.einsum("ij,sjk->sik", W, b * P)
    values = np.sum((M[None] - P) ** 2, axis=(1, 2))
    return MCEstimate(float(values.mean()), float(values.std(ddof=1) / np.sqrt(n_samples)),
                      n_samples)


def _widths(widths) -> list[int]:
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__") or len(widths) == 0:
        raise TypeError(f"widths must be a non-empty sequence of hidden-layer widths, got "
                        f"{widths!r}")
    return [positive_int(w, f"widths[{i}]") for i, w in enumerate(widths)]


def deep_dropout_constant(widths, p) -> float:
    """``zeta = prod_l (1 + lam / m_l) - 1`` for hidden widths ``m_1, ..., m_D``: the
    coefficient of ``||W||_*^2`` in the lower bound ``R >= zeta ||W||_*^2`` of the deep dropout
    regularizer (``D = 1``: ``lam / m``)."""
    widths = _widths(widths)
    lam = dropout_lambda(p)
    return float(np.prod([1.0 + lam / w for w in widths]) - 1.0)


def equalized_deep_factors(M, widths, *, rtol: float = 1e-10) -> list[np.ndarray]:
    """Factors of a rank-(at most)-one ``M`` with every path carrying the same weight.

    For ``M = s w y^T``: ``W_1 = c 1 y^T``, ``W_l = c 1 1^T``, ``W_{D+1} = c w 1^T`` with one
    common ``c`` chosen so that the product is ``M``. Every rank-one piece ``R_S`` is then a sum
    of equal terms, so each Cauchy-Schwarz step of the lower bound is tight and
    ``R = zeta ||M||_*^2`` (:func:`deep_dropout_constant`). Raises ``ValueError`` for rank > 1.
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


def deep_dropout_lower_bound(M, widths, p):
    """The convex lower bound ``min_X ||M - X||_F^2 + zeta ||X||_*^2`` of the deep dropout
    objective (``zeta`` of :func:`deep_dropout_constant`).

    Its minimizer shrinks the singular values of ``M`` by a common amount and thresholds them
    (the scalar problem of :func:`dropout_optimum`). Returns ``(X, value, rank)``. When
    ``rank <= 1`` (that is ``s_2 <= zeta s_1 / (1 + zeta)``, always for a single output) the
    bound is attained by a network, so ``X = s_1 / (1 + zeta) w_1 y_1^T`` is the product of
    every global minimizer.
    """
    M = as_matrix(M, "M")
    zeta = deep_dropout_constant(widths, p)
    W, s, Yt = np.linalg.svd(M, full_matrices=False)
    x, q, _ = _shrink(s, zeta, s.size)
    return (W * x) @ Yt, float(np.sum((s - x) ** 2) + zeta * x.sum() ** 2), q


def minimize_deep_linear_dropout(M, widths, p, *, seed, n_restarts: int = 3):
    """Minimize the deep dropout objective :func:`deep_linear_dropout_objective` over the factors
    by L-BFGS (analytic gradient), best of ``n_restarts`` seeded random starts (entries
    ``N(0, 1/fan_in) * ||M||_2^(1/(D+1))``). Returns ``(Ws, value)``."""
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
    return unpack(best.x), float(best.fun)


# -- linear regression with input dropout -----------------------------------------------------


def input_dropout_ridge(X, y, p) -> np.ndarray:
    """Minimizer of the expected input-dropout loss of linear regression.

    ``E_b (1/n) ||y - (b * X) u||^2 = (1/n) ||y - X u||^2 + lam u^T diag(X^T X / n) u``, so the
    minimizer solves ``(X^T X + lam diag(X^T X)) u = X^T y`` (a ridge penalty weighted by the
    diagonal of the covariance, not a rescaling of least squares).
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y", length=X.shape[0])
    lam = dropout_lambda(p)
    G = X.T @ X
    A = G + lam * np.diag(np.diag(G))
    try:
        return np.linalg.solve(A, X.T @ y)
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "X^T X + lam diag(X^T X) is singular: give X without zero columns or use p > 0"
        ) from exc


# -- kernel view ------------------------------------------------------------------------------


def dropout_kernel(K, p) -> np.ndarray:
    """Training kernel with **fixed** dropout masks: the diagonal of ``K`` times ``1/(1-p)``.

    The expected Gram matrix of features masked once per example (one mask per example, kept
    fixed; neural-tangents' "training mode"). Between different examples the masks are
    independent, so off-diagonal entries are unchanged; an example meets its own mask twice, and
    ``E b^2 = 1/(1-p)``. Equivalently ``K + lam diag(K)``: a ridge whose strength for example
    ``i`` is ``lam K_ii`` (:func:`fixed_mask_kernel_regression`). Dropout SGD with masks
    resampled at every step is a different regime (:func:`resampled_mask_readout`).
    (neural-tangents' ``stax.Dropout(rate)`` takes the keep probability ``rate = 1 - p``.)
    """
    K = as_matrix(K, "K")
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be square, got shape {K.shape}")
    keep = 1.0 - probability(p, "p")
    out = K.copy()
    out[np.diag_indices_from(out)] /= keep
    return out


def mc_dropout_kernel(Phi, p, *, n_samples: int, seed):
    """Monte-Carlo mean and standard error of the empirical kernel of dropped-out features.

    ``Phi`` (n, m): features of ``n`` examples. Each sample draws an independent mask per example
    and feature and forms ``(b * Phi)(b * Phi)^T / m``. Returns ``(mean, se)`` arrays (n, n).
    """
    Phi = as_matrix(Phi, "Phi")
    p = probability(p, "p")
    n_samples = positive_int(n_samples, "n_samples", minimum=2)
    rng = check_rng(seed)
    keep = 1.0 - p
    n, m = Phi.shape
    s1 = np.zeros((n, n))
    s2 = np.zeros((n, n))
    for _ in range(n_samples):
        F = Phi * ((rng.random((n, m)) < keep) / keep)
        K = F @ F.T / m
        s1 += K
        s2 += K**2
    mean = s1 / n_samples
    var = np.maximum(s2 / n_samples - mean**2, 0.0) * n_samples / (n_samples - 1)
    return mean, np.sqrt(var / n_samples)



def _readout_inputs(Phi_train, y, Phi_test):
    Phi_train = as_matrix(Phi_train, "Phi_train")
    y = as_vector(y, "y", length=Phi_train.shape[0])
    Phi_test = as_matrix(Phi_test, "Phi_test")
    if Phi_test.shape[1] != Phi_train.shape[1]:
        raise ValueError(f"Phi_test must have {Phi_train.shape[1]} features (columns) like "
                         f"Phi_train, got shape {Phi_test.shape}")
    return Phi_train, y, Phi_test


def fixed_mask_kernel_regression(K_train, K_cross, y, p) -> np.ndarray:
    """Infinite-width predictions of a readout trained on **fixed** dropout masks.

    ``K_cross @ (K + lam diag(K))^{-1} y`` with ``K = K_train`` (n, n) the training kernel,
    ``K_cross`` (n_test, n) the kernel between test and training points and ``lam = p/(1-p)``:
    kernel ridge regression with the per-example ridge ``lam K_ii`` (:func:`dropout_kernel`,
    the "training mode" kernel of neural-tangents). It is the limit, as the number of features
    grows, of :func:`fixed_mask_readout`.
    """
    K = as_matrix(K_train, "K_train")
    Kx = as_matrix(K_cross, "K_cross")
    if Kx.shape[1] != K.shape[0]:
        raise ValueError(f"K_cross must have {K.shape[0]} columns (training points), got "
                         f"shape {Kx.shape}")
    y = as_vector(y, "y", length=K.shape[0])
    try:
        return Kx @ np.linalg.solve(dropout_kernel(K, p), y)
    except np.linalg.LinAlgError as exc:
        raise ValueError("K + lam diag(K) is singular: use p > 0 or a positive-definite K") from exc


def fixed_mask_readout(Phi_train, y, Phi_test, p, *, seed) -> np.ndarray:
    """Predictions of a linear readout fitted once on **fixed** dropout masks (finite width).

    One mask per training example and feature is drawn once (drop probability ``p``, inverted
    scaling) and kept; the readout is the minimum-norm least-squares fit of ``y`` on the masked
    features ``B * Phi_train``; test predictions use the unmasked ``Phi_test``. The predictions
    are ``(Phi_test Phi_b^T / m) (Phi_b Phi_b^T / m)^+ y``; since ``E Phi_b Phi_b^T / m =
    K + lam diag K`` and ``E Phi_test Phi_b^T / m = K(test, train)``, they converge to
    :func:`fixed_mask_kernel_regression` as the number ``m`` of features grows (when ``m >= n``).
    """
    Phi_train, y, Phi_test = _readout_inputs(Phi_train, y, Phi_test)
    p = probability(p, "p")
    rng = check_rng(seed)
    keep = 1.0 - p
    Phi_b = Phi_train * ((rng.random(Phi_train.shape) < keep) / keep)
    return Phi_test @ (np.linalg.pinv(Phi_b) @ y)


def resampled_mask_readout(Phi_train, y, Phi_test, p) -> np.ndarray:
    """Predictions of the readout that dropout SGD with **resampled** masks targets.

    With a fresh mask per example and step, the expected objective of the readout ``w`` is the
    input-dropout objective of the features, ``(1/n) ||y - Phi w||^2 + lam w^T diag(Phi^T Phi /
    n) w`` (``lam = p/(1-p)``, :func:`input_dropout_ridge`). With ``Gamma = diag(Phi^T Phi)``
    its minimizer predicts

        f(x) = phi(x)^T Gamma^{-1} Phi^T (Phi Gamma^{-1} Phi^T + lam I)^{-1} y ,

    kernel ridge regression with a **uniform** ridge ``lam`` on the reweighted kernel
    ``Phi Gamma^{-1} Phi^T`` (features that vanish on the training set get weight 0). Its trace
    is the number of non-zero features, so for a wide layer the ridge is small relative to the
    kernel: the regularization fades as ``1/m``.
    """
    Phi_train, y, Phi_test = _readout_inputs(Phi_train, y, Phi_test)
    lam = dropout_lambda(p)
    gamma = np.sum(Phi_train**2, axis=0)
    inv = np.where(gamma > 0, 1.0 / np.where(gamma > 0, gamma, 1.0), 0.0)
    Kt = (Phi_train * inv) @ Phi_train.T
    try:
        alpha = np.linalg.solve(Kt + lam * np.eye(Kt.shape[0]), y)
    except np.linalg.LinAlgError as exc:
        raise ValueError("Phi Gamma^-1 Phi^T + lam I is singular: use p > 0") from exc
    return (Phi_test * inv) @ Phi_train.T @ alpha
