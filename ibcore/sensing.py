"""Matrix sensing and completion problems: measurements, minimum-norm solutions, certificates.

A sensing problem has ``m`` measurement matrices ``A_i`` (array ``A`` of shape ``(m, d, d)``)
and measurements ``y_i = <A_i, M>`` of an unknown ``d x d`` matrix ``M``; the loss of a matrix
``W`` is ``L(W) = (1/2m) sum_i (<A_i, W> - y_i)^2``. Matrix completion is the special case
where each ``A_i`` is an indicator ``e_r e_c^T`` (:func:`completion_problem`). The minimum
Frobenius-norm interpolant is where GD on ``W`` itself converges from 0
(:func:`min_frobenius_solution`); the minimum nuclear-norm one is certified by
:func:`nuclear_norm_certificate`, built on the tangent-space projector
:func:`tangent_projection`. Deep factorized models of these problems:
:mod:`ibcore.factorization` (which re-exports this module's names).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import as_array, as_vector, check_rng, positive_int

__all__ = [
    "SensingProblem",
    "completion_problem",
    "low_rank_matrix",
    "min_frobenius_solution",
    "nuclear_norm_certificate",
    "sensing_loss",
    "sensing_problem",
    "tangent_projection",
]


@dataclass(frozen=True)
class SensingProblem:
    """Measurement matrices ``A`` (m, d, d), measurements ``y`` (m,), ground truth ``M`` (d, d)."""

    A: np.ndarray
    y: np.ndarray
    M: np.ndarray

    @property
    def m(self) -> int:
        return self.A.shape[0]

    @property
    def d(self) -> int:
        return self.A.shape[1]


def _check_ops(A, y) -> tuple[np.ndarray, np.ndarray]:
    A = as_array(A, "A", ndim=3)
    if A.shape[1] != A.shape[2]:
        raise ValueError(f"A must have shape (m, d, d) with square d x d matrices, got {A.shape}")
    y = as_vector(y, "y", length=A.shape[0])
    return A, y


def sensing_problem(d: int, rank: int, m: int, *, seed) -> SensingProblem:
    """Gaussian matrix sensing: i.i.d. N(0,1) entries in each ``A_i``, ``M = U V^T`` of rank
    ``rank`` (Gaussian factors) normalised to spectral norm 1, ``y_i = <A_i, M>``.

    Parameters
    ----------
    d : int
        Matrix size.
    rank : int
        Rank of the ground truth ``M``.
    m : int
        Number of measurements.
    seed : int or numpy.random.Generator
        Keyword-only, required.

    Returns
    -------
    SensingProblem
    """
    d = positive_int(d, "d", minimum=2)
    rank = positive_int(rank, "rank")
    m = positive_int(m, "m")
    if rank > d:
        raise ValueError(f"rank must be <= d = {d}, got {rank}")
    rng = check_rng(seed)
    M = _low_rank(rng, d, rank)
    A = rng.standard_normal((m, d, d))
    return SensingProblem(A=A, y=np.einsum("kij,ij->k", A, M), M=M)


def _low_rank(rng, d: int, rank: int) -> np.ndarray:
    M = rng.standard_normal((d, rank)) @ rng.standard_normal((rank, d))
    return M / np.linalg.norm(M, 2)


def low_rank_matrix(d: int, rank: int, *, seed) -> np.ndarray:
    """A ``d x d`` matrix ``M = U V^T`` of rank ``rank`` (i.i.d. N(0,1) factors ``U``, ``V`` of
    shape ``(d, rank)``), normalised to spectral norm ``||M||_2 = 1``. Same draws as the ground
    truth of :func:`sensing_problem` with the same seed.

    Parameters
    ----------
    d : int
        Matrix size.
    rank : int
        Rank (``1 <= rank <= d``).
    seed : int or numpy.random.Generator
        Keyword-only, required.

    Returns
    -------
    ndarray of float64, shape (d, d)
    """
    d = positive_int(d, "d", minimum=2)
    rank = positive_int(rank, "rank")
    if rank > d:
        raise ValueError(f"rank must be <= d = {d}, got {rank}")
    return _low_rank(check_rng(seed), d, rank)


def completion_problem(M, observed) -> SensingProblem:
    """Matrix completion as sensing: one indicator ``A_i = e_r e_c^T`` per observed ``(r, c)``.

    Parameters
    ----------
    M : array_like, shape (d, d)
        The matrix to complete.
    observed : array_like of bool, shape (d, d)
        The observed entries.

    Returns
    -------
    SensingProblem
        One indicator ``A_i`` per observed entry, ``y_i = M_rc``.

    Raises
    ------
    ValueError
        If ``observed`` does not match ``M`` or marks no entry.
    """
    M = as_array(M, "M", ndim=2)
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"M must be square, got shape {M.shape}")
    d = M.shape[0]
    if isinstance(observed, (str, bytes)) or observed is None:
        raise TypeError(
            f"observed must be a list of (row, column) index pairs, got {type(observed).__name__}"
        )
    obs = np.asarray(observed)
    if obs.size and (obs.ndim != 2 or obs.shape[1] != 2):
        raise ValueError(
            f"observed must be a list of (row, column) index pairs, shape (k, 2), got {obs.shape}"
        )
    integral = np.issubdtype(obs.dtype, np.integer) or (
        np.issubdtype(obs.dtype, np.floating) and np.all(np.isfinite(obs)) and np.all(obs % 1 == 0)
    )
    if obs.size and not integral:
        raise TypeError(f"observed must hold integer (row, column) indices, got dtype {obs.dtype}")
    observed = [tuple(int(i) for i in rc) for rc in observed]
    if not observed:
        raise ValueError("observed must list at least one (row, column) entry")
    A = np.zeros((len(observed), d, d))
    for k, (r, c) in enumerate(observed):
        if not (0 <= r < d and 0 <= c < d):
            raise ValueError(f"observed entry {(r, c)} is outside a {d} x {d} matrix")
        A[k, r, c] = 1.0
    return SensingProblem(A=A, y=np.array([M[r, c] for r, c in observed]), M=M.copy())


def sensing_loss(A, y, W) -> float:
    """``L(W) = (1/2m) sum_i (<A_i, W> - y_i)^2``.

    Parameters
    ----------
    A : array_like, shape (m, d, d)
        Measurement matrices ``A_i``.
    y : array_like, shape (m,)
        Measurements.
    W : array_like, shape (d, d)
        The matrix.

    Returns
    -------
    float
    """
    A, y = _check_ops(A, y)
    W = as_array(W, "W", ndim=2)
    r = np.einsum("kij,ij->k", A, W) - y
    return 0.5 * float(r @ r) / A.shape[0]


def min_frobenius_solution(A, y) -> np.ndarray:
    """``argmin ||W||_F`` s.t. ``<A_i, W> = y_i``: ``vec(W) = pinv(A_mat) y``.

    This is where GD on ``W`` itself (depth 1) converges from ``W = 0`` (the minimum-norm
    interpolant of the linear least-squares problem in ``vec(W)``).

    Parameters
    ----------
    A : array_like, shape (m, d, d)
        Measurement matrices ``A_i``.
    y : array_like, shape (m,)
        Measurements.

    Returns
    -------
    ndarray of float64, shape (d, d)
    """
    A, y = _check_ops(A, y)
    d = A.shape[1]
    return (np.linalg.pinv(A.reshape(A.shape[0], -1)) @ y).reshape(d, d)


def tangent_projection(Z, U, V) -> np.ndarray:
    """Orthogonal projection onto the tangent space of the rank-``r`` matrices at ``U S V^T``.

    With ``P_U = U U^T`` and ``P_V = V V^T`` (``U`` and ``V`` with orthonormal columns),

        P_T(Z) = P_U Z + Z P_V - P_U Z P_V,

    the projection onto ``T = {U X^T + Y V^T}``; its complement is
    ``P_T^perp(Z) = Z - P_T(Z) = (I - P_U) Z (I - P_V)``. These are the two parts of a
    subgradient of the nuclear norm at ``M = U S V^T``: ``U V^T + W`` with ``P_T(W) = 0`` and
    ``||W||_op <= 1``.

    Parameters
    ----------
    Z : array_like, shape (..., d1, d2)
        Matrix (or stack of matrices) to project.
    U : array_like, shape (d1, r)
        Orthonormal left singular vectors (columns).
    V : array_like, shape (d2, r)
        Orthonormal right singular vectors (columns), same ``r``.

    Returns
    -------
    ndarray of float64, shape (..., d1, d2)
        ``P_T(Z)``.

    Raises
    ------
    ValueError
        If the shapes do not match or the columns of ``U`` or ``V`` are not orthonormal
        (to 1e-8).
    """
    U = as_array(U, "U", ndim=2)
    V = as_array(V, "V", ndim=2)
    Z = as_array(Z, "Z")
    if Z.ndim < 2 or Z.shape[-2:] != (U.shape[0], V.shape[0]) or U.shape[1] != V.shape[1]:
        raise ValueError(
            f"need Z (..., d1, d2), U (d1, r), V (d2, r); got Z {Z.shape}, U {U.shape}, "
            f"V {V.shape}"
        )
    for name, B in (("U", U), ("V", V)):
        if np.abs(B.T @ B - np.eye(B.shape[1])).max() > 1e-8:
            raise ValueError(
                f"the columns of {name} must be orthonormal (singular vectors, e.g. from "
                "np.linalg.svd)"
            )
    PU, PV = U @ U.T, V @ V.T
    return PU @ Z + Z @ PV - PU @ Z @ PV


def nuclear_norm_certificate(A, M, rank: int | None = None) -> tuple[float, float]:
    """Dual certificate that ``M`` is the unique minimum-nuclear-norm matrix with its measurements.

    With ``M = U S V^T`` (rank ``r``), the tangent space ``T = {U X^T + Y V^T}`` and its
    projector ``P_T`` (:func:`tangent_projection`), the function takes the least-norm ``lam`` with
    ``P_T(A^*(lam)) = U V^T`` (``A^*(lam) = sum_i lam_i A_i``) and returns
    ``(||P_T^perp(A^*(lam))||_op, sigma_min(A restricted to T))``; the first is ``inf`` if no
    ``lam`` satisfies the equality (for example with fewer measurements than ``dim T``) and the
    second is 0 if ``A`` is not injective on ``T``. If the first number is < 1
    and the second > 0, ``M`` is the **unique** minimiser of ``||W||_*`` subject to
    ``<A_i, W> = <A_i, M>`` (standard sufficient condition, e.g. Recht, Fazel & Parrilo 2010).

    Parameters
    ----------
    A : array_like, shape (n, d, d)
        Measurement matrices ``A_i``.
    M : array_like, shape (d, d)
        The candidate matrix.
    rank : int, optional
        Rank of ``M`` (default: singular values above ``1e-10 sigma_1``).

    Returns
    -------
    tuple of float
        ``(||P_T^perp(A^*(lam))||_op, sigma_min(A restricted to T))``.

    Raises
    ------
    ValueError
        If ``M`` does not match the shape of ``A``.
    """
    A = as_array(A, "A", ndim=3)
    M = as_array(M, "M", ndim=2)
    d = A.shape[1]
    if M.shape != (d, d) or A.shape[2] != d:
        raise ValueError(f"M must be {d} x {d} to match A of shape {A.shape}, got {M.shape}")
    U_full, s, Vt_full = np.linalg.svd(M)
    if rank is None:
        rank = int(np.sum(s > 1e-10 * s[0]))
    rank = positive_int(rank, "rank")
    U, V = U_full[:, :rank], Vt_full[:rank].T

    def p_t(Z):
        return tangent_projection(Z, U, V)

    basis = np.array([p_t(E.reshape(d, d)).ravel() for E in np.eye(d * d)])
    u_b, s_b, _ = np.linalg.svd(basis.T)
    Q = u_b[:, : int(np.sum(s_b > 1e-10))]  # orthonormal basis of T (dimension r(2d - r))
    A_mat = A.reshape(A.shape[0], -1)
    AQ = A_mat @ Q
    inj = 0.0 if AQ.shape[0] < AQ.shape[1] else float(np.linalg.svd(AQ, compute_uv=False).min())
    target = (U @ V.T).ravel()
    lam = np.linalg.lstsq(Q.T @ A_mat.T, Q.T @ target, rcond=None)[0]
    Y = (A_mat.T @ lam).reshape(d, d)
    if np.linalg.norm(p_t(Y).ravel() - target) > 1e-8 * np.sqrt(rank):
        return float("inf"), inj  # no multiplier meets P_T(Y) = U V^T: no certificate
    return float(np.linalg.norm(Y - p_t(Y), 2)), inj
