"""Dropout as an explicit regularizer: mask variance, the master identity, Monte-Carlo checks.

Conventions: ``p`` is the **drop** probability in ``[0, 1)``, inverted dropout (mask entries
``0`` or ``1/(1-p)``, mean 1, variance ``lam = p / (1 - p)``), squared losses summed over outputs
and averaged over examples, not halved (see :mod:`ibcore.dropout`). With ``C[i, j]`` the
contribution of unit ``j`` to example ``i``::

    E_B (1/n) sum_i ||y_i - sum_j B_ij C_ij||^2
        = (1/n) sum_i ||y_i - sum_j C_ij||^2  +  lam (1/n) sum_i sum_j ||C_ij||^2 .

:func:`~.expected_dropout_loss` is the right-hand side, :func:`~.mc_dropout_loss` samples the left;
the ``*_contributions`` builders give ``C`` for factorization, sensing and a top hidden layer
(input dropout: :mod:`ibcore.dropout.input_dropout`); :func:`~ibcore.dropout.dropout_penalty` is the
regularizer of ``M = U V^T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import (
    as_array,
    as_matrix,
    as_vector,
    check_rng,
    positive_int,
    probability,
)

__all__ = [
    "DropoutLoss",
    "FactorizationFit",
    "MCEstimate",
    "column_products",
    "completion_regularizer",
    "dropout_lambda",
    "dropout_penalty",
    "expected_dropout_loss",
    "factorization_contributions",
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
    """``||U[:, j]|| * ||V[:, j]||`` for each column ``j`` (the per-unit scale of ``U V^T``).

    Parameters
    ----------
    U, V : array_like, shape (d2, m) and (d0, m)
        Factors of ``U V^T`` (same number of columns ``m``).

    Returns
    -------
    ndarray of float64, shape (m,)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
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

    ``W diag(s) Y^T`` with ``W`` and ``Y`` from :func:`~.random_orthogonal` (one generator, ``W``
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
    i.i.d. with mean :func:`~.expected_dropout_loss` ``.total``; their running mean shows the
    Monte-Carlo average approaching it. ``chunk`` bounds the number of masks held in memory.
    The same ``seed`` gives the same samples as :func:`~ibcore.dropout.mc_dropout_loss`.

    Parameters
    ----------
    C : array_like, shape (n, m, k)
        Contributions ``C_ij`` of unit ``j`` to the output of example ``i``.
    Y : array_like, shape (n, k)
        Targets.
    p : float
        Drop probability in ``[0, 1)``.
    n_draws : int
        Number of mask draws.
    seed : int or numpy.random.Generator
        Keyword-only, required.
    chunk : int
        Masks held in memory at once.

    Returns
    -------
    ndarray of float64, shape (n_draws,)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
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

    The mean and standard error of :func:`~.mc_dropout_samples` (fresh masks for every example
    and unit in each sample). ``chunk`` bounds the number of samples held in memory.

    Parameters
    ----------
    C : array_like, shape (n, m, k)
        Contributions ``C_ij`` of unit ``j`` to the output of example ``i``.
    Y : array_like, shape (n, k)
        Targets.
    p : float
        Drop probability in ``[0, 1)``.
    n_draws : int
        Number of mask draws.
    seed : int or numpy.random.Generator
        Keyword-only, required.
    chunk : int
        Masks held in memory at once.

    Returns
    -------
    MCEstimate

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
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

    Parameters
    ----------
    U, V : array_like, shape (d2, m) and (d0, m)
        Factors of ``U V^T`` (same number of columns ``m``).

    Returns
    -------
    ndarray of float64, shape (1, m, d2 * d0)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    U, V = _factors(U, V)
    return np.einsum("aj,bj->jab", U, V).reshape(1, U.shape[1], -1)


def sensing_contributions(U, V, A) -> np.ndarray:
    """``C[i, j, 0] = u_j^T A_i v_j`` for matrix sensing ``y_i = <M, A_i>`` (``A`` of shape
    ``(n, d2, d0)``, ``U`` of shape ``(d2, r)``, ``V`` of shape ``(d0, r)``).

    Parameters
    ----------
    U, V : array_like, shape (d2, m) and (d0, m)
        Factors of ``U V^T`` (same number of columns ``m``).
    A : array_like, shape (n, d2, d0)
        Measurement matrices.

    Returns
    -------
    ndarray of float64, shape (n, m, 1)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    U, V = _factors(U, V)
    A = as_array(A, "A", ndim=3)
    if A.shape[1:] != (U.shape[0], V.shape[0]):
        raise ValueError(
            f"A must have shape (n, {U.shape[0]}, {V.shape[0]}) to match U V^T, got {A.shape}"
        )
    return np.einsum("kj,ikl,lj->ij", U, A, V)[:, :, None]


def top_layer_contributions(W, H) -> np.ndarray:
    """``C[i, j] = H[i, j] W[:, j]``: dropout on the top hidden layer of a deep network.

    ``H`` (n, h) holds the top hidden activations ``a(x_i)``, ``W`` (o, h) the output weights.

    Parameters
    ----------
    W : array_like, shape (o, h)
        Output weights.
    H : array_like, shape (n, h)
        Top hidden activations.

    Returns
    -------
    ndarray of float64, shape (n, h, o)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
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

    Parameters
    ----------
    W1 : array_like, shape (h, d)
        First-layer weights.
    W2 : array_like, shape (k, h)
        Output weights.
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
    W1 = as_matrix(W1, "W1")
    W2 = as_matrix(W2, "W2")
    if W2.shape[1] != W1.shape[0]:
        raise ValueError(f"W2 must have {W1.shape[0]} columns (rows of W1), got {W2.shape}")
    lam = dropout_lambda(p)
    return float(0.5 * lam * np.sum(np.sum(W2**2, axis=0) * np.sum(W1**2, axis=1)))


def completion_regularizer(U, V, pi_r, pi_c, p) -> float:
    """Expected dropout regularizer for matrix completion with entry ``(a, b)`` sampled with
    probability ``pi_r[a] * pi_c[b]`` (row and column distributions ``pi_r``, ``pi_c``):
    ``lam sum_j ||sqrt(pi_r) * u_j||^2 ||sqrt(pi_c) * v_j||^2``.

    Parameters
    ----------
    U, V : array_like, shape (d2, m) and (d0, m)
        Factors of ``U V^T`` (same number of columns ``m``).
    pi_r, pi_c : array_like, shape (d2,) and (d0,)
        Row and column distributions (positive, summing to 1).
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a distribution is not a positive probability vector of the right length.
    """
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
