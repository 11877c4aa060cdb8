"""The hard-margin SVM and the max-margin problems of linear classification.

Conventions (:mod:`ibcore.margin`): data ``X`` is ``(n, d)``, labels ``y`` in ``{-1, +1}``,
signed examples ``z_i = y_i x_i``, margins ``m_i(w) = <w, z_i>``. The homogeneous hard-margin SVM
is ``w_svm = argmin ||w||^2 / 2  s.t.  m_i(w) >= 1``, with max margin
``gamma* = 1 / ||w_svm|| = max_{||u|| = 1} min_i <u, z_i>``; KKT: ``w_svm = sum_i a_i z_i`` with
``a_i >= 0`` and ``a_i (m_i(w_svm) - 1) = 0``. It is computed exactly from the minimum-norm point
of the convex hull of the ``z_i`` (:func:`~ibcore.margin.hard_margin_svm`). With ``K`` classes,
:func:`~ibcore.margin.multiclass_lift` turns the margins ``<w_{y_i} - w_k, x_i>`` into binary
margins of lifted examples, so :func:`~ibcore.margin.multiclass_svm` is the homogeneous SVM of
the lifted data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..lp_geometry import check_p, lp_max_margin
from ..validation import as_batch, as_labels, as_matrix, as_vector, positive_float

__all__ = [
    "SVMSolution",
    "angle",
    "brute_force_direction_2d",
    "check_class_labels",
    "check_data",
    "check_svm",
    "hard_margin_svm",
    "max_margin",
    "max_margin_lp",
    "multiclass_lift",
    "multiclass_svm",
    "normalized_margin",
]


def check_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate a binary classification data set; return ``(X, y)`` as float64.

    ``X`` must be a finite ``(n, d)`` matrix and ``y`` a length-``n`` vector with entries in
    ``{-1, +1}`` (:func:`ibcore.validation.as_labels`; 0/1 labels are refused with a hint to use
    ``2 y - 1``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.

    Returns
    -------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)

    Raises
    ------
    ValueError
        On wrong shapes, an empty or non-finite array, or labels outside ``{-1, +1}``.
    TypeError
        If an input is not numeric.
    """
    X = as_matrix(X, "X")
    return X, as_labels(y, "y", n=X.shape[0])


def check_svm(svm, X, y) -> SVMSolution:
    """``svm`` (an :class:`~ibcore.margin.SVMSolution` for ``X``), or the SVM of ``(X, y)`` if
    None.

    Parameters
    ----------
    svm : SVMSolution or None
        A solution from :func:`~ibcore.margin.hard_margin_svm`.
    X : ndarray, shape (n, d)
        Validated examples (:func:`~ibcore.margin.check_data`).
    y : ndarray, shape (n,)
        Validated labels.

    Returns
    -------
    SVMSolution
        ``svm``, or ``hard_margin_svm(X, y)`` when ``svm`` is None.

    Raises
    ------
    TypeError
        If ``svm`` is neither None nor an ``SVMSolution``.
    ValueError
        If ``svm`` has ``w`` or ``alpha`` of another shape than ``(d,)``, ``(n,)``, or (when it is
        computed) the data are not separable through the origin.
    """
    if svm is None:
        return hard_margin_svm(X, y)
    if not isinstance(svm, SVMSolution):
        raise TypeError(
            "svm must be an SVMSolution (from hard_margin_svm(X, y)) or None, got "
            f"{type(svm).__name__}"
        )
    if np.shape(svm.w) != (X.shape[1],) or np.shape(svm.alpha) != (X.shape[0],):
        raise ValueError(
            f"svm was computed for other data (w of shape {np.shape(svm.w)}, alpha of shape "
            f"{np.shape(svm.alpha)}) but X has shape {X.shape}: pass svm=hard_margin_svm(X, y)"
        )
    return svm


@dataclass(frozen=True)
class SVMSolution:
    """The hard-margin SVM ``min ||w||^2/2  s.t.  y_i (<w, x_i> + b) >= 1``.

    Returned by :func:`~ibcore.margin.hard_margin_svm` (``b = 0`` for the homogeneous SVM). The
    margin is normalised to 1 (not ``w`` to unit norm): the support vectors have
    ``y_i (<w, x_i> + b) = 1`` and :attr:`~ibcore.margin.SVMSolution.direction` is the unit vector.

    Attributes
    ----------
    w : ndarray, shape (d,)
        Weights (margin normalised to 1).
    b : float
        Intercept (0 for the homogeneous SVM).
    alpha : ndarray, shape (n,)
        Dual variables, ``w = sum_i alpha_i y_i x_i``, ``alpha >= 0``.
    margins : ndarray, shape (n,)
        ``y_i (<w, x_i> + b)``, all ``>= 1`` up to rounding.
    support : ndarray of int
        Indices of the support vectors (``alpha_i > tol max_j alpha_j``, ``tol`` of
        :func:`~ibcore.margin.hard_margin_svm`).
    gamma : float
        The geometric margin ``1 / ||w||``.
    """

    w: np.ndarray
    b: float
    alpha: np.ndarray
    margins: np.ndarray
    support: np.ndarray
    gamma: float

    @property
    def direction(self) -> np.ndarray:
        """The unit vector ``w / ||w||``, shape (d,), the max-margin direction."""
        return self.w / np.linalg.norm(self.w)


def _min_norm_hull_point(Z: np.ndarray) -> np.ndarray:
    """Weights ``p`` in the simplex minimising ``||Z^T p||`` (Lawson-Hanson NNLS, exact).

    For ``alpha >= 0`` the NNLS objective ``||Z^T alpha||^2 + (1^T alpha - 1)^2`` restricted to
    the ray ``alpha = s p`` (``p`` in the simplex) is minimised at ``s = 1/(1 + ||Z^T p||^2)``
    with value ``||Z^T p||^2 / (1 + ||Z^T p||^2)``, increasing in ``||Z^T p||``; so the NNLS
    solution is ``p* / (1 + ||Z^T p*||^2)`` and ``p*`` is recovered by normalising it.
    """
    from scipy.optimize import nnls

    n = Z.shape[0]
    A = np.vstack([Z.T, np.ones((1, n))])
    b = np.zeros(A.shape[0])
    b[-1] = 1.0
    alpha, _ = nnls(A, b, maxiter=50 * (n + A.shape[0]))
    return alpha / alpha.sum()


def hard_margin_svm(X, y, *, intercept: bool = False, tol: float = 1e-9) -> SVMSolution:
    """The hard-margin SVM, computed exactly (no tuning constant ``C``).

    Homogeneous (``intercept=False``, the object of the implicit-bias theorem): by minimax duality
    ``gamma* = max_{||u||=1} min_i <u, z_i> = min_{p in simplex} ||Z^T p||``; the minimum-norm point
    ``v = Z^T p*`` of the convex hull of the ``z_i = y_i x_i`` is found by an exact NNLS
    reformulation (Lawson-Hanson active set), and ``w_svm = v / ||v||^2``,
    ``alpha = p* / ||v||^2``. The solution is then polished on its support ``S``: ``w`` is the
    minimum-norm solution of ``<w, z_s> = 1`` (``s`` in ``S``), kept if it passes the KKT checks.

    With ``intercept=True`` the problem ``min ||w||^2/2 s.t. y_i(<w, x_i> + b) >= 1`` (``b`` free,
    as in scikit-learn's ``SVC(kernel="linear")`` with a huge ``C``) is solved as the distance
    between the convex hulls of the two classes (same NNLS method, on the ``n_+ n_-`` pairwise
    differences), then polished by solving the KKT equations on the support.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    intercept : bool, default False
        Solve for a free intercept ``b`` too.
    tol : float, default 1e-9
        Relative threshold of the support: example ``i`` is a support vector when its dual weight
        exceeds ``tol`` times the largest one; ``> 0``.

    Returns
    -------
    SVMSolution
        ``w``, ``b``, ``alpha``, ``margins``, ``support`` and ``gamma = 1 / ||w||``.

    Raises
    ------
    ValueError
        If the data are not strictly linearly separable (through the origin when
        ``intercept=False``); if ``intercept=True`` and only one class is present; if ``X`` is all
        zeros; if ``tol <= 0``; on bad shapes, NaN or labels outside ``{-1, +1}``.
    TypeError
        If an input is not numeric or ``tol`` not a real number.
    """
    X, y = check_data(X, y)
    tol = positive_float(tol, "tol")
    if intercept:
        return _svm_with_intercept(X, y, tol)
    Z = y[:, None] * X
    scale = float(np.max(np.linalg.norm(Z, axis=1)))
    if scale == 0.0:
        raise ValueError("X is all zeros: no hyperplane separates the data")
    p = _min_norm_hull_point(Z / scale)
    v = Z.T @ p
    gamma = float(np.linalg.norm(v))
    if gamma <= 1e-9 * scale or np.min(Z @ v) <= 0.5 * gamma**2:
        raise ValueError(
            "the data are not linearly separable by a hyperplane through the origin (0 lies in "
            "the convex hull of the y_i x_i): the homogeneous hard-margin SVM does not exist. "
            "Add a constant feature to X for an intercept, or use intercept=True"
        )
    w = v / gamma**2
    alpha = p / gamma**2
    support = np.flatnonzero(p > tol * p.max())
    # Polish: the min-norm solution of <w, z_s> = 1 on the support, with its dual weights.
    beta, *_ = np.linalg.lstsq(Z[support] @ Z[support].T, np.ones(support.size), rcond=None)
    w_pol = Z[support].T @ beta
    m_pol = Z @ w_pol
    if np.all(beta >= 0) and np.all(m_pol >= 1 - 1e-12) and np.allclose(w_pol, w, atol=1e-6):
        w, alpha = w_pol, np.zeros_like(alpha)
        alpha[support] = beta
    margins = Z @ w
    return SVMSolution(
        w=w,
        b=0.0,
        alpha=alpha,
        margins=margins,
        support=support,
        gamma=float(1.0 / np.linalg.norm(w)),
    )


def _svm_with_intercept(X: np.ndarray, y: np.ndarray, tol: float) -> SVMSolution:
    """Intercept SVM from the closest points of the two classes' convex hulls.

    ``min ||w||^2/2 s.t. y_i(<w, x_i> + b) >= 1`` is dual to the distance between
    ``conv{x_i : y_i = +1}`` and ``conv{x_j : y_j = -1}``, i.e. the minimum-norm point ``v`` of
    the convex hull of all differences ``x_i - x_j`` (O(n_+ n_-) columns), found by the same
    exact NNLS reformulation; then ``w = 2 v / ||v||^2``, ``gamma = ||v|| / 2``.
    """
    pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y < 0)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("intercept=True needs examples of both classes (y has only one label)")
    ii, jj = np.repeat(pos, neg.size), np.tile(neg, pos.size)
    D = X[ii] - X[jj]
    scale = float(np.max(np.linalg.norm(D, axis=1)))
    P = _min_norm_hull_point(D / scale)  # weights on the pairs
    v = D.T @ P
    dist = float(np.linalg.norm(v))
    if dist <= 1e-9 * scale:
        raise ValueError(
            "the data are not linearly separable: the convex hulls of the two classes "
            "intersect, so the hard-margin SVM (with intercept) does not exist"
        )
    n = X.shape[0]
    lam = np.zeros(n)  # p on the positives, q on the negatives (each sums to 1)
    np.add.at(lam, ii, P)
    np.add.at(lam, jj, P)
    w = 2.0 * v / dist**2
    alpha = lam * 2.0 / dist**2
    S = np.flatnonzero(lam > tol * lam.max())
    b = float(np.mean(y[S] - X[S] @ w))
    # Polish: solve the KKT equations on the support for (alpha_S, b).
    Q = (y[S, None] * X[S]) @ (y[S, None] * X[S]).T
    K = np.block([[Q, y[S, None]], [y[None, S], np.zeros((1, 1))]])
    sol, *_ = np.linalg.lstsq(K, np.concatenate([np.ones(S.size), [0.0]]), rcond=None)
    a_pol = np.zeros(n)
    a_pol[S] = sol[:-1]
    w_pol = (a_pol * y) @ X
    m_pol = y * (X @ w_pol + sol[-1])
    if np.all(a_pol >= 0) and np.all(m_pol >= 1 - 1e-12) and np.allclose(w_pol, w, atol=1e-6):
        w, b, alpha = w_pol, float(sol[-1]), a_pol
    margins = y * (X @ w + b)
    return SVMSolution(
        w=w,
        b=b,
        alpha=alpha,
        margins=margins,
        support=S,
        gamma=float(1.0 / np.linalg.norm(w)),
    )


def max_margin(X, y) -> tuple[np.ndarray, float]:
    """``(w, gamma)``: the homogeneous hard-margin direction and the max margin.

    ``w`` is the unit vector ``w_svm / ||w_svm||`` and ``gamma = min_i y_i <w, x_i>`` (equal to
    ``1 / ||w_svm||``), computed by :func:`hard_margin_svm` (exact NNLS on the dual), where
    ``w_svm = argmin ||w||^2 / 2`` s.t. ``y_i <w, x_i> >= 1`` (no intercept).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.

    Returns
    -------
    w : ndarray, shape (d,)
        The max-margin direction, ``||w||_2 = 1``.
    gamma : float
        The max margin ``min_i y_i <w, x_i> > 0``.

    Raises
    ------
    ValueError
        When no hyperplane through the origin separates the data, and on bad input (shapes,
        non-finite values, labels outside ``{-1, +1}``).
    """
    X, y = check_data(X, y)
    u = hard_margin_svm(X, y).direction
    return u, float(np.min((y[:, None] * X) @ u))


def max_margin_lp(X, y, p=1.0) -> tuple[np.ndarray, float]:
    """``(w, gamma)`` maximising ``min_i y_i <w, x_i>`` over ``||w||_p <= 1``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    p : float
        The norm: ``1.0``, ``2.0`` or ``np.inf`` (:func:`ibcore.lp_geometry.check_p`). ``p = 1``
        and ``p = inf`` are linear programs (:func:`ibcore.lp_geometry.lp_max_margin`, HiGHS);
        ``p = 2`` is :func:`max_margin`. These are the limits of steepest descent with respect to
        that norm (Gunasekar et al. 2018).

    Returns
    -------
    w : ndarray, shape (d,)
        Unit ``p``-norm.
    gamma : float
        ``min_i y_i <w, x_i>``.

    Raises
    ------
    ValueError
        On non-separable data (through the origin) or a ``p`` other than 1, 2, inf.
    SolverError
        If the LP solver fails.
    """
    X, y = check_data(X, y)
    p = check_p(p)
    if p == 2.0:
        return max_margin(X, y)
    if p not in (1.0, np.inf):
        raise ValueError(f"p must be 1.0, 2.0 or np.inf for max_margin_lp, got {p}")
    return lp_max_margin(X, y, p)


def brute_force_direction_2d(X, y) -> tuple[np.ndarray, float]:
    """Reference max-margin direction in 2-D by exhaustive enumeration (no optimisation solver).

    On the unit circle ``f(u) = min_i <u, z_i>`` (``z_i = y_i x_i``) is a minimum of sinusoids, so
    its maximum is attained either at the top of one sinusoid, ``u = z_i / ||z_i||``, or where two
    of them cross, ``<u, z_i - z_j> = 0``, i.e. ``u = +- perp(z_i - z_j)``. All ``O(n^2)``
    candidates are evaluated and the best is returned. Used to test the SVM solver.

    Parameters
    ----------
    X : array_like, shape (n, 2)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.

    Returns
    -------
    u : ndarray, shape (2,)
        The best unit direction.
    gamma : float
        ``min_i <u, z_i>`` (negative when the data are not separable through the origin).

    Raises
    ------
    ValueError
        If ``X`` does not have 2 columns, or on bad data.
    TypeError
        If an input is not numeric.
    """
    X, y = check_data(X, y)
    if X.shape[1] != 2:
        raise ValueError(f"brute_force_direction_2d needs d = 2 features, got d = {X.shape[1]}")
    Z = y[:, None] * X
    i, j = np.triu_indices(Z.shape[0], k=1)
    D = Z[i] - Z[j]
    perp = np.stack([-D[:, 1], D[:, 0]], axis=1)
    cands = np.vstack([Z, perp, -perp])
    norms = np.linalg.norm(cands, axis=1)
    cands = cands[norms > 0] / norms[norms > 0, None]
    best, best_val = None, -np.inf
    for chunk in np.array_split(cands, max(1, cands.shape[0] // 2000)):
        vals = np.min(chunk @ Z.T, axis=1)
        k = int(np.argmax(vals))
        if vals[k] > best_val:
            best, best_val = chunk[k], float(vals[k])
    return best, best_val


# -- geometry --------------------------------------------------------------------------------

def angle(u, v) -> np.ndarray | float:
    """Angle in radians between ``u`` and ``v`` (rows of ``u`` if it is a matrix), in ``[0, pi]``.

    Computed as ``atan2(||u^ - <u^, v^> v^||, <u^, v^>)`` for the unit vectors ``u^``, ``v^``
    (accurate also for tiny angles, where ``arccos`` loses half the digits).

    Parameters
    ----------
    u : array_like, shape (d,) or (k, d)
        One vector or a batch of them, nonzero.
    v : array_like, shape (d,)
        A nonzero vector.

    Returns
    -------
    float or ndarray of shape (k,)
        The angle (a float for a single ``u``).

    Raises
    ------
    ValueError
        For a zero vector, mismatched lengths or non-finite input.
    TypeError
        If an input is not numeric.
    """
    v = as_vector(v, "v")
    U, single = as_batch(u, "u", d=v.size)
    if np.any(np.linalg.norm(U, axis=1) == 0) or np.linalg.norm(v) == 0:
        raise ValueError("angle is undefined for a zero vector")
    vn = v / np.linalg.norm(v)
    Un = U / np.linalg.norm(U, axis=1, keepdims=True)
    cos = Un @ vn
    sin = np.linalg.norm(Un - cos[:, None] * vn[None, :], axis=1)
    out = np.arctan2(sin, cos)
    return float(out[0]) if single else out


def normalized_margin(w, X, y) -> np.ndarray | float:
    """``gamma(w) = min_i y_i <w, x_i> / ||w||`` (a float, or an array for a (k, d) matrix).

    It is at most the max margin ``gamma*``, with equality iff ``w`` points along ``w_svm``; it is
    negative when ``w`` does not separate the data.

    Parameters
    ----------
    w : array_like, shape (d,) or (k, d)
        One nonzero weight vector or a batch of them.
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.

    Returns
    -------
    float or ndarray of shape (k,)
        The normalised margin (a float for a single ``w``).

    Raises
    ------
    ValueError
        At ``w = 0``, on mismatched shapes, non-finite input or bad labels.
    TypeError
        If an input is not numeric.
    """
    X, y = check_data(X, y)
    W, single = as_batch(w, "w", d=X.shape[1])
    norms = np.linalg.norm(W, axis=1)
    if np.any(norms == 0):
        raise ValueError("normalized_margin is undefined at w = 0")
    g = np.min((W @ (y[:, None] * X).T), axis=1) / norms
    return float(g[0]) if single else g


# -- several classes ---------------------------------------------------------------------------


def check_class_labels(X, labels) -> tuple[np.ndarray, np.ndarray, int]:
    """``(X, labels, K)``: integer class labels ``0, ..., K-1`` (every class used), one per row.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    labels : array_like, shape (n,)
        Class labels, integer-valued, ``K >= 2`` classes all present.

    Returns
    -------
    X : ndarray, shape (n, d)
    labels : ndarray of int64, shape (n,)
    K : int
        The number of classes.

    Raises
    ------
    ValueError
        If the lengths differ, a label is negative or not an integer, a class is missing or
        ``K < 2``, or an input is not finite.
    TypeError
        If an input is not numeric.
    """
    X = as_matrix(X, "X")
    lab = as_vector(labels, "labels")
    if lab.size != X.shape[0]:
        raise ValueError(f"labels has {lab.size} entries but X has {X.shape[0]} rows")
    if np.any(lab != np.round(lab)) or lab.min() < 0:
        raise ValueError("labels must be integers 0, 1, ..., K-1")
    k = int(lab.max()) + 1
    if k < 2 or np.unique(lab).size != k:
        raise ValueError(f"labels must use every class 0..K-1 with K >= 2, got {np.unique(lab)}")
    return X, lab.astype(np.int64), k


def multiclass_lift(X, labels) -> np.ndarray:
    """Lifted signed examples ``z_(i,k) = vec(E_ik)`` for all ``k != labels[i]``.

    ``E_ik`` is the ``(K, d)`` matrix with row ``labels[i]`` equal to ``x_i`` and row ``k`` equal to
    ``-x_i``, so ``<vec W, z_(i,k)> = <w_{y_i} - w_k, x_i>`` (``W`` flattened row-major): the
    multiclass margins become binary margins with label ``+1``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    labels : array_like, shape (n,)
        Integer class labels ``0, ..., K-1`` (every class present, ``K >= 2``).

    Returns
    -------
    ndarray, shape (n (K-1), K d)
        The lifted examples, example-major (the ``K - 1`` rows of example ``i`` are consecutive,
        in increasing ``k``).

    Raises
    ------
    ValueError
        On bad labels (see ``ibcore.margin.svm.check_class_labels``) or non-finite input.
    TypeError
        If an input is not numeric.
    """
    X, lab, K = check_class_labels(X, labels)
    n, d = X.shape
    E = np.zeros((n, K, K, d))  # E[i, k] for every k (k = y_i is dropped below)
    idx = np.arange(n)
    E[idx, :, lab, :] += X[:, None, :]
    E[idx[:, None], np.arange(K)[None, :], np.arange(K)[None, :], :] -= X[:, None, :]
    keep = np.arange(K)[None, :] != lab[:, None]
    return E[keep].reshape(n * (K - 1), K * d)


def multiclass_svm(X, labels) -> tuple[np.ndarray, float]:
    """``(W, gamma)``: the multiclass hard-margin SVM direction (no intercepts).

    ``W_svm = argmin ||W||_F^2 / 2  s.t.  <w_{y_i} - w_k, x_i> >= 1`` for all ``i``, ``k != y_i``
    (one problem coupling all classes, not one-vs-rest), solved as the homogeneous SVM of the
    lifted examples (:func:`~ibcore.margin.multiclass_lift`); ``W`` is its direction
    ``W_svm / ||W_svm||_F``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    labels : array_like, shape (n,)
        Integer class labels ``0, ..., K-1`` (every class present, ``K >= 2``).

    Returns
    -------
    W : ndarray, shape (K, d)
        Unit Frobenius norm.
    gamma : float
        ``min_{i, k != y_i} <w_{y_i} - w_k, x_i>``, the multiclass max margin.

    Raises
    ------
    ValueError
        If the classes are not linearly separable by ``argmax_k <w_k, x>``, or on bad labels or
        non-finite input.
    TypeError
        If an input is not numeric.
    """
    X, lab, K = check_class_labels(X, labels)
    Zl = multiclass_lift(X, lab)
    try:
        s = hard_margin_svm(Zl, np.ones(Zl.shape[0]))
    except ValueError as err:
        raise ValueError(
            "the classes are not linearly separable by a linear multiclass classifier without "
            "intercepts (argmax_k <w_k, x>)"
        ) from err
    W = s.direction.reshape(K, X.shape[1])
    return W, float(np.min(Zl @ s.direction))
