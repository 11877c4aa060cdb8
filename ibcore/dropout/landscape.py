"""The landscape of the dropout objective of a factorization ``M ~ U V^T`` (width ``m``).

The induced regularizer ``Theta(M) = ||M||_*^2 / m`` and the equalized factorizations that
attain it (:func:`~.equalizing_rotation`), the closed-form global optimum ``shrink the top
singular values by alpha`` (:func:`~.dropout_optimum`), the critical points of the width-2 tied
scalar problem, and a numerical L-BFGS check (:func:`~.minimize_explicit_objective`).
Conventions of :mod:`ibcore.dropout.regularizer` (``p`` the drop probability,
``lam = p/(1-p)``, unhalved loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import (
    as_matrix,
    check_rng,
    positive_float,
    positive_int,
)
from .regularizer import (
    FactorizationFit,
    _distribution,
    _factors,
    dropout_lambda,
    dropout_penalty,
    nuclear_norm,
)

__all__ = [
    "CriticalPoint",
    "DropoutOptimum",
    "EqualizationGap",
    "dropout_optimum",
    "equalization_gap_2d",
    "equalized_factorization",
    "equalizing_rotation",
    "explicit_objective",
    "induced_regularizer",
    "minimize_explicit_objective",
    "tied_gradient",
    "tied_scalar_critical_points",
    "tied_scalar_objective",
]


def equalizing_rotation(G, *, tol: float = 1e-12) -> np.ndarray:
    """An orthogonal ``Q`` such that ``Q^T G Q`` has constant diagonal ``trace(G) / d``.

    ``G`` is a symmetric ``d x d`` matrix. Construction: ``d - 1`` Givens rotations; each one
    mixes the largest and the smallest not-yet-fixed diagonal entries (one above, one below the
    target ``t = trace(G)/d``) so that the larger becomes exactly ``t`` (it exists by the
    intermediate value theorem). The trace fixes the last entry.

    Parameters
    ----------
    G : array_like, shape (d, d)
        Symmetric matrix.
    tol : float
        Diagonal entries within ``tol * max(1, |t|)`` of each other count as equal (no
        rotation needed).

    Returns
    -------
    ndarray of float64, shape (d, d)
        Orthogonal ``Q``.

    Raises
    ------
    ValueError
        If ``G`` is not square and symmetric.
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


@dataclass(frozen=True)
class EqualizationGap:
    """What :func:`~ibcore.dropout.equalization_gap_2d` returns.

    Attributes
    ----------
    theta : ndarray, shape (n_grid,)
        The rotation angles, a uniform grid of ``[0, pi]``.
    gap : ndarray, shape (n_grid,)
        ``max_j | ||U q_j|| ||V q_j|| - ||U V^T||_* / 2 |`` at each angle.
    certified_lower_bound : float
        ``min gap - L h / 2``: no rotation has a smaller gap.
    """

    theta: np.ndarray
    gap: np.ndarray
    certified_lower_bound: float


def equalization_gap_2d(U, V, *, n_grid: int = 100001) -> EqualizationGap:
    """How far rotations of a width-2 factorization stay from equal column products.

    For ``Q(theta)`` the rotation by ``theta`` and target ``t = ||U V^T||_* / 2``, evaluates
    ``gap(theta) = max_j | ||U q_j|| ||V q_j|| - t |`` on ``n_grid`` points of ``[0, pi]``
    (reflections give the same columns up to sign). Since ``theta -> ||A q_j(theta)||`` is
    ``||A||_2``-Lipschitz, ``gap`` is ``L``-Lipschitz with
    ``L = ||U||_2 ||V||_2 + ||V||_2 ||U||_2 = 2 ||U||_2 ||V||_2``, so
    ``min gap - L h / 2`` (``h`` the grid step) is a certified lower bound over all rotations.

    Parameters
    ----------
    U, V : array_like, shape (d1, 2) and (d2, 2)
        The factors of ``U V^T``.
    n_grid : int
        Number of angles (>= 2).

    Returns
    -------
    EqualizationGap

    Raises
    ------
    ValueError
        If the factors do not have exactly 2 columns.
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
    return EqualizationGap(theta=theta, gap=gap,
                           certified_lower_bound=float(gap.min() - L * (theta[1] - theta[0]) / 2))


def _weights_or_ones(w, name: str, length: int) -> np.ndarray:
    if w is None:
        return np.ones(length)
    return _distribution(w, name, length)


def induced_regularizer(M, m, *, pi_r=None, pi_c=None) -> float:
    """``Theta(M) = ||diag(sqrt pi_r) M diag(sqrt pi_c)||_*^2 / m``: the smallest value of
    ``sum_j ||sqrt(pi_r) u_j||^2 ||sqrt(pi_c) v_j||^2`` over factorizations ``M = U V^T`` of width
    ``m >= rank M`` (``pi_r = pi_c = ones``, the default, is Gaussian sensing: ``||M||_*^2 / m``).
    Multiply by ``lam = p/(1-p)`` for the regularizer itself.

    Parameters
    ----------
    M : array_like, shape (d2, d0)
        The product matrix.
    m : int
        Width (>= rank M).
    pi_r, pi_c : array_like, optional
        Row and column weights (default: ones).

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    M = as_matrix(M, "M")
    m = positive_int(m, "m")
    sm = np.sqrt(_weights_or_ones(pi_r, "pi_r", M.shape[0]))
    sn = np.sqrt(_weights_or_ones(pi_c, "pi_c", M.shape[1]))
    return nuclear_norm(sm[:, None] * M * sn[None, :]) ** 2 / m


def equalized_factorization(M, m, *, pi_r=None, pi_c=None, rtol: float = 1e-12):
    """A factorization ``M = U V^T`` of width ``m`` that attains :func:`~.induced_regularizer`.

    Start from the balanced factorization ``W S^(1/2), Y S^(1/2)`` of the (weighted) matrix
    ``Mw = diag(sqrt pi_r) M diag(sqrt pi_c) = W S Y^T`` padded with zero columns to width ``m``
    (its two Gram matrices are equal), rotate both factors by :func:`~.equalizing_rotation` of
    that Gram matrix, and undo the weights. All column products
    ``||sqrt(pi_r) u_j|| ||sqrt(pi_c) v_j||`` then equal ``||Mw||_* / m``.
    Raises ``ValueError`` if ``m < rank(M)``.

    Parameters
    ----------
    M : array_like, shape (d2, d0)
        Matrix to factorize.
    m : int
        Width (>= rank M).
    pi_r, pi_c : array_like, optional
        Row and column weights (default: ones).
    rtol : float
        Relative tolerance for the rank.

    Returns
    -------
    tuple of ndarray
        ``(U, V)`` of shapes (d2, m) and (d0, m) with ``U V^T = M``.

    Raises
    ------
    ValueError
        If ``m < rank(M)``.
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

    Parameters
    ----------
    M : array_like, shape (d2, d0)
        Target matrix.
    m : int
        Number of hidden units.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    DropoutOptimum

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
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
    """``||M - U V^T||_F^2 + dropout_penalty(U, V, p)`` (the expected dropout loss).

    Parameters
    ----------
    U, V : array_like, shape (d2, m) and (d0, m)
        Factors of ``U V^T`` (same number of columns ``m``).
    M : array_like, shape (d2, d0)
        Target matrix.
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

    Parameters
    ----------
    U : array_like, shape (d, m)
        Tied factor.
    M : array_like, shape (d, d)
        Square target.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    ndarray of float64, shape (d, m)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
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
    (:func:`~.explicit_objective` with ``U = V``). ``u1`` and ``u2`` broadcast against each other.

    Parameters
    ----------
    u1, u2 : array_like
        The two weights (broadcast together).
    s : float
        The target.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    ndarray of float64 (or float)
        ``L(u1, u2)``, with the broadcast shape.

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    u1 = np.asarray(u1, dtype=float)
    u2 = np.asarray(u2, dtype=float)
    s = positive_float(s, "s")
    lam = dropout_lambda(p)
    a, b = u1**2, u2**2
    return (s - a - b) ** 2 + lam * (a**2 + b**2)


@dataclass(frozen=True)
class CriticalPoint:
    """A critical point of :func:`~.tied_scalar_objective`: its ``kind`` ("minimum", "saddle",
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
    """All critical points of :func:`~ibcore.dropout.tied_scalar_objective`, in closed form.

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

    Parameters
    ----------
    s : float
        The target ``M = s > 0``.
    p : float
        Drop probability in ``[0, 1)``.
    rtol : float
        Relative size of a Hessian eigenvalue counted as zero.

    Returns
    -------
    list of CriticalPoint
        Minima first, then saddles, then the maximum.

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
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
    Returns a :class:`~ibcore.dropout.FactorizationFit` ``(U, V, value)`` (``V is
    U`` when tied). An independent check of
    :func:`~ibcore.dropout.dropout_optimum`.

    Parameters
    ----------
    M : array_like, shape (d2, d0)
        Target matrix (square for ``tied=True``).
    m : int
        Width (number of columns of ``U`` and ``V``).
    p : float
        Drop probability in ``[0, 1)``.
    seed : int or numpy.random.Generator
        Keyword-only, required: the random starts.
    tied : bool
        Minimize over ``U = V`` (the linear autoencoder).
    n_restarts : int
        Number of random starts (>= 1).

    Returns
    -------
    FactorizationFit
        The best run's ``U``, ``V`` and ``value``.

    Raises
    ------
    ValueError
        If ``M`` is not square with ``tied=True``, or an argument is out of range.
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
        return FactorizationFit(U=U, V=U, value=float(best.fun))
    return FactorizationFit(U=best.x[: d2 * m].reshape(d2, m), V=best.x[d2 * m :].reshape(d0, m),
                            value=float(best.fun))
