"""Dropout as an explicit regularizer: mask variance, the master identity, Monte-Carlo checks.

Conventions: ``p`` is the **drop** probability in ``[0, 1)``, inverted dropout (mask entries
``0`` or ``1/(1-p)``, mean 1, variance ``lam = p / (1 - p)``), squared losses summed over outputs
and averaged over examples, not halved (see :mod:`ibcore.dropout`). With ``C[i, j]`` the
contribution of unit ``j`` to example ``i``::

    E_B (1/n) sum_i ||y_i - sum_j B_ij C_ij||^2
        = (1/n) sum_i ||y_i - sum_j C_ij||^2  +  lam (1/n) sum_i sum_j ||C_ij||^2 .

:func:`expected_dropout_loss` is the right-hand side, :func:`mc_dropout_loss` samples the left;
the ``*_contributions`` builders give ``C`` for factorization, sensing, input dropout and a top
hidden layer; :func:`dropout_penalty` is the regularizer of ``M = U V^T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import (
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
    "FactorizationFit",
    "InputDropoutComparison",
    "MCEstimate",
    "RegressionData",
    "column_products",
    "compare_input_dropout",
    "completion_regularizer",
    "dropout_lambda",
    "dropout_penalty",
    "expected_dropout_loss",
    "factorization_contributions",
    "gaussian_regression",
    "input_dropout_contributions",
    "input_dropout_ridge",
    "matrix_with_singular_values",
    "mc_dropout_loss",
    "mc_dropout_samples",
    "nuclear_norm",
    "random_orthogonal",
    "relu_path_regularizer",
    "sensing_contributions",
    "top_layer_contributions",
]


def dropout_lambda(p) -> float:
    """``lam = p / (1 - p)``, the variance of an inverted-dropout mask entry (``p`` = drop prob).

    Parameters
    ----------
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    float
    """
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

    Parameters
    ----------
    U, V : array_like, shape (d1, m) and (d2, m)
        Factors of ``U V^T``.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    float
    """
    U, V = _factors(U, V)
    lam = dropout_lambda(p)
    return float(lam * np.sum(np.sum(U**2, axis=0) * np.sum(V**2, axis=0)))


def nuclear_norm(M) -> float:
    """``||M||_*``, the sum of the singular values of the 2-D array ``M``.

    Parameters
    ----------
    M : array_like, shape (d1, d2)

    Returns
    -------
    float
    """
    M = as_matrix(M, "M")
    return float(np.linalg.svd(M, compute_uv=False).sum())


def random_orthogonal(d: int, *, seed) -> np.ndarray:
    """A random ``d x d`` orthogonal matrix: the ``Q`` factor of ``numpy.linalg.qr`` of a
    ``d x d`` standard Gaussian matrix.

    No sign correction is applied to the columns, so the law is not exactly Haar (each column
    has the sign LAPACK's Householder QR gives it); products ``Q diag(s) Q^T`` do not depend on
    those signs.

    Parameters
    ----------
    d : int
        Dimension (>= 1).
    seed : int or numpy.random.Generator
        Keyword-only, required; a generator is advanced by ``d * d`` normal draws.

    Returns
    -------
    ndarray of float64, shape (d, d)
        ``Q`` with ``Q^T Q = I``.

    Raises
    ------
    ValueError, TypeError
        If ``d`` is not a positive int or ``seed`` is not a seed.
    """
    d = positive_int(d, "d")
    rng = check_rng(seed)
    return np.linalg.qr(rng.standard_normal((d, d)))[0]


def matrix_with_singular_values(singular_values, *, seed) -> np.ndarray:
    """A square matrix with the given singular values and random singular vectors.

    ``W diag(s) Y^T`` with ``W`` and ``Y`` from :func:`random_orthogonal` (one generator, ``W``
    drawn first), ``d = len(s)``.

    Parameters
    ----------
    singular_values : array_like, shape (d,)
        Non-negative singular values ``s`` (any order).
    seed : int or numpy.random.Generator
        Keyword-only, required.

    Returns
    -------
    ndarray of float64, shape (d, d)

    Raises
    ------
    ValueError
        If a singular value is negative.
    """
    s = as_vector(singular_values, "singular_values")
    if np.any(s < 0):
        raise ValueError("singular_values must be non-negative")
    rng = check_rng(seed)
    d = s.size
    W = random_orthogonal(d, seed=rng)
    Y = random_orthogonal(d, seed=rng)
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
class FactorizationFit:
    """A factorization ``U V^T`` found by a minimizer, with the objective ``value`` it reaches
    (``V is U`` for a tied autoencoder ``U U^T``)."""

    U: np.ndarray
    V: np.ndarray
    value: float


@dataclass(frozen=True)
class MCEstimate:
    """A Monte-Carlo mean with its standard error ``std(samples, ddof=1) / sqrt(n_draws)``."""

    mean: float
    se: float
    n_draws: int


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


def mc_dropout_samples(C, Y, p, *, n_draws: int, seed, chunk: int = 2048) -> np.ndarray:
    """Per-mask dropout losses: ``n_draws`` values of ``(1/n) sum_i ||Y_i - sum_j B_ij C_ij||^2``.

    Each sample draws a fresh mask for every example and unit (``B_ij = 0`` with probability
    ``p``, else ``1/(1-p)``) and evaluates the (unhalved, example-averaged) loss. The samples are
    i.i.d. with mean :func:`expected_dropout_loss` ``.total``; their running mean shows the
    Monte-Carlo average approaching it. ``chunk`` bounds the number of masks held in memory.
    The same ``seed`` gives the same samples as :func:`mc_dropout_loss`.
    """
    C, Y = _contributions(C, Y)
    p = probability(p, "p")
    n_draws = positive_int(n_draws, "n_draws", minimum=2)
    chunk = positive_int(chunk, "chunk")
    rng = check_rng(seed)
    n, r, _ = C.shape
    keep = 1.0 - p
    values = np.empty(n_draws)
    for start in range(0, n_draws, chunk):
        s = min(chunk, n_draws - start)
        B = (rng.random((s, n, r)) < keep) / keep
        pred = np.einsum("sij,ijo->sio", B, C)
        values[start : start + s] = np.mean(np.sum((Y[None] - pred) ** 2, axis=2), axis=1)
    return values


def mc_dropout_loss(C, Y, p, *, n_draws: int, seed, chunk: int = 2048) -> MCEstimate:
    """Monte-Carlo estimate of ``E_B (1/n) sum_i ||Y_i - sum_j B_ij C_ij||^2``.

    The mean and standard error of :func:`mc_dropout_samples` (fresh masks for every example
    and unit in each sample). ``chunk`` bounds the number of samples held in memory.
    """
    values = mc_dropout_samples(C, Y, p, n_draws=n_draws, seed=seed, chunk=chunk)
    return MCEstimate(
        mean=float(values.mean()),
        se=float(values.std(ddof=1) / np.sqrt(values.size)),
        n_draws=values.size,
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


@dataclass(frozen=True)
class RegressionData:
    """A linear-regression sample: inputs ``X`` (n, d) and targets ``y`` (n,)."""

    X: np.ndarray
    y: np.ndarray


def gaussian_regression(mix, coef, *, n_samples: int, noise: float, seed) -> RegressionData:
    """Correlated Gaussian features and a noisy linear target.

    ``X = Z mix`` with ``Z`` an ``n x d`` standard Gaussian matrix (rows ``x ~ N(0, mix^T mix)``)
    and ``y = X coef + noise * eps``, ``eps ~ N(0, I_n)``, ``Z`` drawn before ``eps`` from one
    generator.

    Parameters
    ----------
    mix : array_like, shape (d, d)
        Mixing matrix (the features' covariance is ``mix^T mix``).
    coef : array_like, shape (d,)
        True coefficients.
    n_samples : int
        Number of examples ``n`` (>= 1).
    noise : float
        Standard deviation of the label noise (>= 0).
    seed : int or numpy.random.Generator
        Keyword-only, required.

    Returns
    -------
    RegressionData

    Raises
    ------
    ValueError
        If ``mix`` is not square, ``coef`` does not match it, or ``noise < 0``.
    """
    mix = as_matrix(mix, "mix")
    if mix.shape[0] != mix.shape[1]:
        raise ValueError(f"mix must be a square d x d matrix, got shape {mix.shape}")
    coef = as_vector(coef, "coef", length=mix.shape[0])
    n_samples = positive_int(n_samples, "n_samples")
    noise = positive_float(noise, "noise", allow_zero=True)
    rng = check_rng(seed)
    X = rng.standard_normal((n_samples, mix.shape[0])) @ mix
    return RegressionData(X=X, y=X @ coef + noise * rng.standard_normal(n_samples))


@dataclass(frozen=True)
class InputDropoutComparison:
    """:func:`input_dropout_ridge` against rescaled least squares
    (:func:`compare_input_dropout`).

    Attributes
    ----------
    drop : ndarray, shape (d,)
        The input-dropout minimizer.
    rescaled : ndarray, shape (d,)
        Least squares divided by ``1 + lam``, what a full-covariance penalty would give.
    cosine : float
        Cosine of the angle between the two (1: dropout only rescales).
    """

    drop: np.ndarray
    rescaled: np.ndarray
    cosine: float


def compare_input_dropout(X, y, p) -> InputDropoutComparison:
    """The input-dropout solution versus the rescaled least-squares solution.

    ``drop`` solves ``(X^T X + lam diag(X^T X)) u = X^T y`` (:func:`input_dropout_ridge`),
    ``rescaled = u_LS / (1 + lam)`` with ``u_LS`` the least-squares (``lstsq``) solution and
    ``lam = p/(1-p)``; they coincide iff ``X^T X`` is diagonal (uncorrelated features).

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    InputDropoutComparison

    Raises
    ------
    ValueError
        As :func:`input_dropout_ridge`.
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y", length=X.shape[0])
    u_d = input_dropout_ridge(X, y, p)
    u_s = np.linalg.lstsq(X, y, rcond=None)[0] / (1 + dropout_lambda(p))
    return InputDropoutComparison(
        drop=u_d, rescaled=u_s,
        cosine=float(u_d @ u_s / np.linalg.norm(u_d) / np.linalg.norm(u_s)),
    )
