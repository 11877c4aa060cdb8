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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import (
    as_array,
    as_matrix,
    as_vector,
    check_rng,
    positive_float,
    positive_int,
    probability,
)

__all__ = [
    "DropoutLoss",
    "DropoutOptimum",
    "DropoutSGDResult",
    "MCEstimate",
    "column_products",
    "completion_regularizer",
    "dropout_kernel",
    "dropout_lambda",
    "dropout_optimum",
    "dropout_penalty",
    "equalization_gap_2d",
    "equalized_factorization",
    "equalizing_rotation",
    "expected_dropout_loss",
    "explicit_objective",
    "factorization_contributions",
    "induced_regularizer",
    "input_dropout_contributions",
    "input_dropout_ridge",
    "mc_dropout_kernel",
    "mc_dropout_loss",
    "minimize_completion_objective",
    "minimize_explicit_objective",
    "nuclear_norm",
    "relu_path_regularizer",
    "sensing_contributions",
    "tied_gradient",
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
            f"U and V must have the same number of columns (the width r of M = U V^T), got "
            f"U of shape {U.shape} and V of shape {V.shape}"
        )
    return U, V


def column_products(U, V) -> np.ndarray:
    """``||U[:, j]|| * ||V[:, j]||`` for each column ``j`` (the per-unit scale of ``U V^T``)."""
    U, V = _factors(U, V)
    return np.linalg.norm(U, axis=0) * np.linalg.norm(V, axis=0)


def dropout_penalty(U, V, p) -> float:
    """Explicit dropout regularizer of a factorization ``M = U V^T`` with ``r`` hidden units.

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


def mc_dropout_loss(C, Y, p, *, n_samples: int, seed, chunk: int = 2048) -> MCEstimate:
    """Monte-Carlo estimate of ``E_B (1/n) sum_i ||Y_i - sum_j B_ij C_ij||^2``.

    Each sample draws a fresh mask for every example and unit (``B_ij = 0`` with probability
    ``p``, else ``1/(1-p)``), evaluates the (unhalved, example-averaged) loss, and the samples'
    mean and standard error are returned. ``chunk`` bounds the number of samples held in memory.
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
    return MCEstimate(
        mean=float(values.mean()),
        se=float(values.std(ddof=1) / np.sqrt(n_samples)),
        n_samples=n_samples,
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


def completion_regularizer(U, V, mu, nu, p) -> float:
    """Expected dropout regularizer for matrix completion with entry ``(a, b)`` sampled with
    probability ``mu[a] * nu[b]``: ``lam sum_j ||sqrt(mu) * u_j||^2 ||sqrt(nu) * v_j||^2``."""
    U, V = _factors(U, V)
    mu = _distribution(mu, "mu", U.shape[0])
    nu = _distribution(nu, "nu", V.shape[0])
    lam = dropout_lambda(p)
    return float(lam * np.sum((mu @ U**2) * (nu @ V**2)))


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


def induced_regularizer(M, r, *, mu=None, nu=None) -> float:
    """``Theta(M) = ||diag(sqrt mu) M diag(sqrt nu)||_*^2 / r``: the smallest value of
    ``sum_j ||sqrt(mu) u_j||^2 ||sqrt(nu) v_j||^2`` over factorizations ``M = U V^T`` of width
    ``r >= rank M`` (``mu = nu = ones``, the default, is Gaussian sensing: ``||M||_*^2 / r``).
    Multiply by ``lam = p/(1-p)`` for the regularizer itself."""
    M = as_matrix(M, "M")
    r = positive_int(r, "r")
    sm = np.sqrt(_weights_or_ones(mu, "mu", M.shape[0]))
    sn = np.sqrt(_weights_or_ones(nu, "nu", M.shape[1]))
    return nuclear_norm(sm[:, None] * M * sn[None, :]) ** 2 / r


def equalized_factorization(M, r, *, mu=None, nu=None, rtol: float = 1e-12):
    """A factorization ``M = U V^T`` of width ``r`` that attains :func:`induced_regularizer`.

    Start from the balanced factorization ``W S^(1/2), Y S^(1/2)`` of the (weighted) matrix
    ``Mw = diag(sqrt mu) M diag(sqrt nu) = W S Y^T`` padded with zero columns to width ``r``
    (its two Gram matrices are equal), rotate both factors by :func:`equalizing_rotation` of
    that Gram matrix, and undo the weights. All column products
    ``||sqrt(mu) u_j|| ||sqrt(nu) v_j||`` then equal ``||Mw||_* / r``.
    Raises ``ValueError`` if ``r < rank(M)``.
    """
    M = as_matrix(M, "M")
    r = positive_int(r, "r")
    sm = np.sqrt(_weights_or_ones(mu, "mu", M.shape[0]))
    sn = np.sqrt(_weights_or_ones(nu, "nu", M.shape[1]))
    W, s, Yt = np.linalg.svd(sm[:, None] * M * sn[None, :], full_matrices=False)
    k = int(np.sum(s > rtol * max(s[0], np.finfo(float).tiny)))
    if r < k:
        raise ValueError(f"r = {r} is smaller than rank(M) = {k}: no factorization of width r")
    Uh = np.zeros((M.shape[0], r))
    Vh = np.zeros((M.shape[1], r))
    Uh[:, :k] = W[:, :k] * np.sqrt(s[:k])
    Vh[:, :k] = Yt[:k].T * np.sqrt(s[:k])
    Q = equalizing_rotation(Uh.T @ Uh)
    return (Uh @ Q) / sm[:, None], (Vh @ Q) / sn[:, None]


# -- closed-form optimum and numerical checks -------------------------------------------------


@dataclass(frozen=True)
class DropoutOptimum:
    """Global optimum of ``||M - U V^T||_F^2 + lam sum_j ||u_j||^2 ||v_j||^2`` (width ``r``).

    ``singular_values`` are those of the optimal product ``U V^T`` (length ``min(M.shape)``),
    ``product`` the product itself, ``rho`` its rank, ``alpha`` the shrinkage, ``value`` the
    optimal objective value and ``lam = p/(1-p)``.
    """

    product: np.ndarray
    singular_values: np.ndarray
    rho: int
    alpha: float
    value: float
    lam: float


def dropout_optimum(M, r, p) -> DropoutOptimum:
    """Closed-form dropout optimum of the two-layer linear network / linear autoencoder.

    Model ``x -> U B V^T x`` with whitened inputs (``E x x^T = I``), ``M = E[y x^T]``, ``r``
    hidden units dropped with probability ``p`` (inverted scaling): the expected loss is
    ``||M - U V^T||_F^2 + lam sum_j ||u_j||^2 ||v_j||^2`` + const, ``lam = p/(1-p)``. With
    ``s_1 >= s_2 >= ...`` the singular values of ``M`` and ``kappa_j = (s_1 + ... + s_j)/j``,

        rho   = max{ j <= r : s_j > lam j kappa_j / (r + lam j) },
        alpha = lam rho kappa_rho / (r + lam rho),

    and every global optimum has ``U V^T = sum_{i <= rho} (s_i - alpha) w_i y_i^T`` (shrink the
    top ``rho`` singular values by ``alpha``, drop the rest), with equalized column products if
    ``p > 0`` (at ``p = 0`` any factorization of the truncated SVD is optimal).
    For the tied autoencoder ``U = V`` and symmetric positive semi-definite ``M`` (eigenvalues =
    singular values) the optimal ``U U^T`` is the same matrix (Mianjy, Arora and Vidal, 2018).
    """
    M = as_matrix(M, "M")
    r = positive_int(r, "r")
    lam = dropout_lambda(p)
    W, s, Yt = np.linalg.svd(M, full_matrices=False)
    m = min(r, s.size)
    j = np.arange(1, m + 1)
    kappa = np.cumsum(s[:m]) / j
    ok = s[:m] > lam * j * kappa / (r + lam * j)
    rho = int(j[ok].max()) if np.any(ok) else 0
    alpha = float(lam * rho * kappa[rho - 1] / (r + lam * rho)) if rho > 0 else 0.0
    x = np.zeros_like(s)
    x[:rho] = s[:rho] - alpha
    product = (W * x) @ Yt
    value = float(np.sum((s - x) ** 2) + lam / r * x.sum() ** 2)
    return DropoutOptimum(product, x, rho, alpha, value, lam)


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
    symmetric ``M`` this is ``4 (U U^T - M) U + 4 lam U diag(U^T U)`` (lecture notes, eq. 11.11).
    ``M`` must be square with as many rows as ``U``.
    """
    U = as_matrix(U, "U")
    M = as_matrix(M, "M")
    if M.shape != (U.shape[0], U.shape[0]):
        raise ValueError(f"M must have shape {(U.shape[0], U.shape[0])} to match U, got {M.shape}")
    lam = dropout_lambda(p)
    R = M - U @ U.T
    return -2.0 * (R + R.T) @ U + 4.0 * lam * U * np.sum(U**2, axis=0)


def minimize_explicit_objective(M, r, p, *, seed, tied: bool = False, n_restarts: int = 3):
    """Minimize the explicit dropout objective numerically (L-BFGS, analytic gradient).

    Untied: ``||M - U V^T||_F^2 + lam sum_j ||u_j||^2 ||v_j||^2``; tied (``U = V``, ``M``
    square): ``||M - U U^T||_F^2 + lam sum_j ||u_j||^4``. Best of ``n_restarts`` random starts.
    Returns ``(U, V, value)`` (``V is U`` when tied). An independent check of
    :func:`dropout_optimum`.
    """
    from scipy.optimize import minimize

    M = as_matrix(M, "M")
    r = positive_int(r, "r")
    lam = dropout_lambda(p)
    rng = check_rng(seed)
    n_restarts = positive_int(n_restarts, "n_restarts")
    d2, d0 = M.shape
    if tied and d2 != d0:
        raise ValueError(f"tied=True needs a square M, got shape {M.shape}")

    def fun(z):
        if tied:
            U = z.reshape(d2, r)
            f = np.sum((M - U @ U.T) ** 2) + lam * np.sum(np.sum(U**2, axis=0) ** 2)
            return f, tied_gradient(U, M, p).ravel()
        U = z[: d2 * r].reshape(d2, r)
        V = z[d2 * r :].reshape(d0, r)
        R = M - U @ V.T
        nu2, nv2 = np.sum(U**2, axis=0), np.sum(V**2, axis=0)
        f = np.sum(R**2) + lam * np.sum(nu2 * nv2)
        gU = -2 * R @ V + 2 * lam * U * nv2
        gV = -2 * R.T @ U + 2 * lam * V * nu2
        return f, np.concatenate([gU.ravel(), gV.ravel()])

    size = d2 * r if tied else (d2 + d0) * r
    best = None
    for _ in range(n_restarts):
        z0 = rng.standard_normal(size) * np.sqrt(np.linalg.norm(M, 2) / r)
        res = minimize(fun, z0, jac=True, method="L-BFGS-B",
                       options={"maxiter": 20000, "gtol": 1e-13, "ftol": 1e-16})
        if best is None or res.fun < best.fun:
            best = res
    if tied:
        U = best.x.reshape(d2, r)
        return U, U, float(best.fun)
    return best.x[: d2 * r].reshape(d2, r), best.x[d2 * r :].reshape(d0, r), float(best.fun)


def minimize_completion_objective(M, mask, p, U0, V0, *, mu=None, nu=None):
    """Minimize the expected dropout objective of matrix completion from given factors (L-BFGS).

    With ``Omega`` the ``n`` entries where ``mask`` is true and ``lam = p/(1-p)``, minimizes

        F(U, V) = (1/n) sum_{(a,b) in Omega} (M_ab - (U V^T)_ab)^2
                  + lam sum_j ||sqrt(mu) * u_j||^2 ||sqrt(nu) * v_j||^2 ,

    the (unhalved, example-averaged) plain loss plus the weighted completion regularizer of
    :func:`completion_regularizer`. ``mu`` and ``nu`` default to the row and column frequencies of
    ``Omega`` (``mask.sum(1) / n`` and ``mask.sum(0) / n``). The run starts at ``(U0, V0)``
    (width ``r`` = their number of columns), uses the analytic gradient and is deterministic.
    Entries of ``M`` outside ``Omega`` are never read. Returns ``(U, V, value)``.
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
    mu = mask.sum(axis=1) / n if mu is None else _distribution(mu, "mu", M.shape[0])
    nu = mask.sum(axis=0) / n if nu is None else _distribution(nu, "nu", M.shape[1])
    Mo = np.where(mask, M, 0.0)
    (d2, r), d0 = U0.shape, V0.shape[0]

    def fun(z):
        U = z[: d2 * r].reshape(d2, r)
        V = z[d2 * r :].reshape(d0, r)
        R = mask * (Mo - U @ V.T)
        wu, wv = mu @ U**2, nu @ V**2
        f = np.sum(R**2) / n + lam * np.sum(wu * wv)
        gU = -2.0 / n * R @ V + 2.0 * lam * mu[:, None] * U * wv
        gV = -2.0 / n * R.T @ U + 2.0 * lam * nu[:, None] * V * wu
        return f, np.concatenate([gU.ravel(), gV.ravel()])

    res = minimize(fun, np.concatenate([U0.ravel(), V0.ravel()]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-13, "ftol": 1e-16})
    return res.x[: d2 * r].reshape(d2, r), res.x[d2 * r :].reshape(d0, r), float(res.fun)


# -- training with stochastic dropout ---------------------------------------------------------


@dataclass(frozen=True)
class DropoutSGDResult:
    """Result of :func:`train_dropout_sgd`.

    ``U``, ``V``: tail averages of the factors; ``product``: tail average of ``U V^T``;
    ``U_last``, ``V_last``: last iterates; ``U_init``, ``V_init``: the initialization;
    ``steps`` and ``objective``: the explicit (expected)
    objective at a few checkpoints; ``diverged_at``: first step with a non-finite or exploding
    iterate (``None`` if the run stayed finite; the arrays then stop before it).
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
    r,
    p,
    *,
    seed,
    n_steps: int = 3000,
    lr: float | None = None,
    batch: int = 8,
    init_scale: float = 0.1,
    decay: float = 10.0,
    average_from: float = 0.5,
    tied: bool = False,
) -> DropoutSGDResult:
    """Train ``x -> U B V^T x`` with **stochastic** dropout masks on the hidden units.

    Whitened inputs are integrated exactly, so a step samples only masks: with ``batch``
    independent masks ``B_1..B_K`` (drop probability ``p``, entries ``0`` or ``1/(1-p)``) it
    follows the gradient of ``(1/K) sum_k ||M - U B_k V^T||_F^2``, whose expectation is the
    explicit objective. Step size ``lr / (1 + decay * k / n_steps)``; the returned factors and
    product are averaged over the steps ``k >= average_from * n_steps`` (Polyak averaging).
    Default ``lr = 0.45 / (||M||_2 (1 + lam))``; ``lr`` above ``0.5 / (||M||_2 (1 + lam))`` is
    refused (the masks raise the expected curvature by ``E b_j^2 = 1 + lam``).
    Initialization: i.i.d. ``N(0, init_scale^2 / r)`` entries (seeded).

    ``tied=True`` trains the linear autoencoder ``x -> U B U^T x`` (``V = U``, square ``M``) on
    ``(1/K) sum_k ||M - U B_k U^T||_F^2``, whose expectation is
    ``||M - U U^T||_F^2 + lam sum_j ||u_j||^4``; ``U`` then enters twice, so the default and
    the largest accepted ``lr`` are halved. The result then has ``V is U``.
    """
    M = as_matrix(M, "M")
    r = positive_int(r, "r")
    p = probability(p, "p")
    rng = check_rng(seed)
    n_steps = positive_int(n_steps, "n_steps")
    batch = positive_int(batch, "batch")
    init_scale = positive_float(init_scale, "init_scale")
    decay = positive_float(decay, "decay", allow_zero=True)
    average_from = probability(average_from, "average_from")
    if not isinstance(tied, (bool, np.bool_)):
        raise TypeError(f"tied must be True or False, got {type(tied).__name__}")
    d2, d0 = M.shape
    if tied and d2 != d0:
        raise ValueError(f"tied=True needs a square M (U U^T is square), got shape {M.shape}")
    scale = max(np.linalg.norm(M, 2), np.finfo(float).tiny) * (2.0 if tied else 1.0)
    lr = 0.45 / (scale * (1 + dropout_lambda(p))) if lr is None else positive_float(lr, "lr")
    if lr * scale * (1 + dropout_lambda(p)) > 0.5:
        raise ValueError(
            f"lr = {lr} is too large for ||M||_2 = {scale / (2.0 if tied else 1.0):.3g}, "
            f"p = {p} and tied = {tied}: SGD would be unstable; use "
            f"lr <= {0.5 / (scale * (1 + dropout_lambda(p))):.3g}"
        )
    U = rng.standard_normal((d2, r)) * init_scale / np.sqrt(r)
    V = U if tied else rng.standard_normal((d0, r)) * init_scale / np.sqrt(r)
    U_init, V_init = U.copy(), V.copy()
    keep = 1.0 - p
    start_avg = int(average_from * n_steps)
    sU = np.zeros_like(U)
    sV = np.zeros_like(V)
    sP = np.zeros_like(M)
    n_avg = 0
    checkpoints = set(np.unique(np.geomspace(1, n_steps, 25).astype(int)).tolist()) | {0}
    steps, objective = [], []
    limit = 1e6 * (1.0 + np.sum(M**2))
    diverged_at = None
    # For diagonal masks B_k = diag(b_k), the mini-batch gradient only needs the mean mask
    # bbar and the mean outer product S = mean_k b_k b_k^T:
    #   grad_U = -2 (M V diag(bbar) - U ((V^T V) * S)),  grad_V likewise with U <-> V, M <-> M^T,
    # so a step costs the same for any batch size (all masks are drawn up front).
    masks = (rng.random((n_steps, batch, r)) < keep) / keep
    bbar = masks.mean(axis=1)
    S = np.einsum("kbi,kbj->kij", masks, masks) / batch
    del masks
    for k in range(n_steps):
        if k in checkpoints:
            f = explicit_objective(U, V, M, p) if np.all(np.isfinite(U)) else np.inf
            if not np.isfinite(f) or f > limit:
                diverged_at = k
                break
            steps.append(k)
            objective.append(f)
        eta = lr / (1.0 + decay * k / n_steps)
        if tied:
            # grad of mean_k ||M - U B_k U^T||^2 = -2 mean_k (R_k + R_k^T) U B_k
            gU = -2.0 * (((M + M.T) @ U) * bbar[k] - 2.0 * U @ ((U.T @ U) * S[k]))
            U = U - eta * gU
            V = U
        else:
            gU = -2.0 * ((M @ V) * bbar[k] - U @ ((V.T @ V) * S[k]))
            gV = -2.0 * ((M.T @ U) * bbar[k] - V @ ((U.T @ U) * S[k]))
            U = U - eta * gU
            V = V - eta * gV
        if k + 1 >= start_avg:
            sU += U
            sV += V
            sP += U @ V.T
            n_avg += 1
    if diverged_at is None:
        f = explicit_objective(U, V, M, p) if np.all(np.isfinite(U)) else np.inf
        if np.isfinite(f) and f <= limit:
            steps.append(n_steps)
            objective.append(f)
        else:
            diverged_at = n_steps
    if diverged_at is not None or n_avg == 0:
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
        steps=np.asarray(steps, dtype=np.int64),
        objective=np.asarray(objective),
        diverged_at=diverged_at,
    )


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
    """Training kernel with dropout: the diagonal of ``K`` multiplied by ``1/(1-p)``.

    Between different examples the masks are independent, so off-diagonal entries are unchanged;
    an example meets its own mask twice, and ``E b^2 = 1/(1-p)``. Equivalently
    ``K + lam diag(K)``: a ridge whose strength for example ``i`` is ``lam K_ii``.
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

