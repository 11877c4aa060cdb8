"""Margins, the hard-margin SVM, and gradient descent on separable data ("SGD ≈ SVM").

Conventions
    Data ``X`` is ``(n, d)``, one example per row; labels ``y`` are in ``{-1, +1}``. The model is
    the homogeneous linear classifier ``x -> sign(<w, x>)`` (no intercept; append a constant
    feature to ``X`` for one). ``z_i = y_i x_i`` are the *signed examples* and
    ``m_i(w) = <w, z_i>`` the (unnormalised) margins. Losses are averaged,
    ``L(w) = (1/n) sum_i l(m_i(w))`` with

    * ``"logistic"``:      ``l(m) = log(1 + exp(-m))``,
    * ``"exponential"``:   ``l(m) = exp(-m)``,
    * ``"hinge"``:         ``l(m) = max(0, 1 - m)`` (sub-gradient ``-1`` if ``m < 1``, else 0),
    * ``"squared_hinge"``: ``l(m) = max(0, 1 - m)^2``.

    The gradient is the weighted sum of examples ``grad L(w) = -(1/n) sum_i q_i(w) z_i`` with
    *gradient weights* ``q_i = -l'(m_i) >= 0``.

The hard-margin SVM (homogeneous)
    ``w_svm = argmin ||w||^2 / 2  s.t.  m_i(w) >= 1 for all i``, with max margin
    ``gamma* = 1 / ||w_svm|| = max_{||u|| = 1} min_i <u, z_i>``. KKT: ``w_svm = sum_i a_i z_i``
    with ``a_i >= 0`` and ``a_i (m_i(w_svm) - 1) = 0``. It is computed exactly from the
    minimum-norm point of the convex hull of the ``z_i`` (see :func:`hard_margin_svm`).

Other norms and several classes
    :func:`max_margin_lp` solves the max-margin problem in the l1 or l_inf norm (an LP), the
    limit of :func:`steepest_descent` in that norm (Gunasekar et al. 2018). With ``K`` classes,
    :func:`multiclass_lift` turns the margins ``<w_{y_i} - w_k, x_i>`` into binary margins of
    lifted examples, so :func:`multiclass_svm` is the homogeneous SVM of the lifted data and
    :func:`multiclass_loss` (softmax cross-entropy) has the same exponential tail.

Asymptotics (Soudry et al. 2018)
    Under the gradient flow ``dw/dt = -grad L(w)`` of the averaged exponential or logistic loss,
    ``w(t) = w_svm log t + rho(t)`` with ``rho(t)`` bounded for almost every data set; when the
    support vectors are linearly independent, the component of ``rho(t)`` in their span tends
    to ``rho_tilde`` solving ``exp(-<rho_tilde, z_s>) = n a_s`` on the support
    (:func:`asymptotic_offset`). GD with step ``eta`` at step ``k`` behaves like the flow at
    ``t = k eta``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .flow import gradient_flow
from .validation import as_matrix, as_vector, check_rng, positive_float, positive_int

__all__ = [
    "LOSSES",
    "NORMS",
    "SMOOTH_LOSSES",
    "KKTResiduals",
    "SVMSolution",
    "angle",
    "angle_rate_constants",
    "asymptotic_offset",
    "brute_force_direction_2d",
    "check_data",
    "flow_path",
    "gradient_kkt_residuals",
    "gradient_weights",
    "hard_margin_svm",
    "homogeneous_kkt_residual",
    "kkt_residuals",
    "log_rate_curvature",
    "loss_and_grad",
    "make_loss",
    "max_margin",
    "max_margin_lp",
    "multiclass_clouds",
    "multiclass_lift",
    "multiclass_loss",
    "multiclass_svm",
    "normalized_gd",
    "normalized_margin",
    "regularization_path",
    "separable_clouds",
    "smoothness",
    "steepest_descent",
]

#: Losses understood by :func:`loss_and_grad`.
LOSSES = ("logistic", "exponential", "hinge", "squared_hinge")
#: The exponential-tailed (smooth, everywhere positive) losses of the theorem.
SMOOTH_LOSSES = ("logistic", "exponential")


# -- validation ------------------------------------------------------------------------------


def check_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate a binary classification data set; return ``(X, y)`` as float64.

    ``X`` must be a finite ``(n, d)`` matrix and ``y`` a length-``n`` vector with entries in
    ``{-1, +1}`` (0/1 labels are refused with a hint to use ``2 y - 1``).
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y")
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y has {y.shape[0]} labels but X has {X.shape[0]} rows: give one label per example"
        )
    bad = ~np.isin(y, (-1.0, 1.0))
    if np.any(bad):
        found = np.unique(y[bad])[:5]
        hint = " (0/1 labels? use 2*y - 1)" if np.all(np.isin(y, (0.0, 1.0))) else ""
        raise ValueError(f"labels y must be -1 or +1, found {found}{hint}")
    return X, y


def _check_loss(loss: str, allowed=LOSSES) -> str:
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a string, one of {allowed}, got {type(loss).__name__}")
    if loss not in allowed:
        raise ValueError(f"loss must be one of {allowed}, got {loss!r}")
    return loss


def _as_weights(w, d: int, name: str = "w", other: str = "X has d={d} columns"):
    """``w`` as a (k, d) matrix; also say whether the input was a single vector."""
    arr = np.asarray(w, dtype=np.float64) if not isinstance(w, (str, bytes)) else None
    if arr is None or arr.ndim not in (1, 2):
        shape = None if arr is None else arr.shape
        raise ValueError(f"{name} must be a vector of length d={d} or a (k, d) matrix, got {shape}")
    single = arr.ndim == 1
    W = as_matrix(arr[None, :] if single else arr, name)
    if W.shape[1] != d:
        raise ValueError(f"{name} has {W.shape[1]} coordinates but {other.format(d=d)}")
    return W, single


def _check_svm(svm, X, y) -> SVMSolution:
    """``svm`` (an :class:`SVMSolution` for ``X``), or the SVM of ``(X, y)`` when it is None."""
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


# -- the hard-margin SVM ---------------------------------------------------------------------


@dataclass(frozen=True)
class SVMSolution:
    """The hard-margin SVM ``min ||w||^2/2  s.t.  y_i (<w, x_i> + b) >= 1``.

    Attributes
    ----------
    w : ndarray (d,)
        Weights (margin normalised to 1: the support vectors have ``y_i(<w, x_i> + b) = 1``).
    b : float
        Intercept (0 for the homogeneous SVM).
    alpha : ndarray (n,)
        Dual variables, ``w = sum_i alpha_i y_i x_i``, ``alpha >= 0``.
    margins : ndarray (n,)
        ``y_i (<w, x_i> + b)``, all ``>= 1``.
    support : ndarray of int
        Indices of the support vectors (``alpha_i > 0``).
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

    Homogeneous (``intercept=False``, the object of the implicit-bias theorem): by minimax
    duality ``gamma* = max_{||u||=1} min_i <u, z_i> = min_{p in simplex} ||Z^T p||``; the
    minimum-norm point ``v = Z^T p*`` of the convex hull of the ``z_i = y_i x_i`` is found by an
    exact NNLS reformulation (Lawson-Hanson active set), and ``w_svm = v / ||v||^2``,
    ``alpha = p* / ||v||^2``. The solution is then polished on its support ``S``: ``w`` is the
    minimum-norm solution of ``<w, z_s> = 1`` (``s`` in ``S``), kept if it passes the KKT checks.

    With ``intercept=True`` the problem ``min ||w||^2/2 s.t. y_i(<w, x_i> + b) >= 1`` (``b``
    free, as in scikit-learn's ``SVC(kernel="linear")`` with a huge ``C``) is solved as the
    distance between the convex hulls of the two classes (same NNLS method, on the
    ``n_+ n_-`` pairwise differences), then polished by solving the KKT equations on the
    support.

    Raises
    ------
    ValueError
        If the data are not strictly linearly separable (through the origin when
        ``intercept=False``); if ``intercept=True`` and only one class is present; on bad
        shapes, NaN or labels outside ``{-1, +1}``.
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
    ``1 / ||w_svm||``), computed by :func:`hard_margin_svm` (exact NNLS on the dual). Raises
    ``ValueError`` when no hyperplane through the origin separates the data, and on bad input.
    """
    X, y = check_data(X, y)
    u = hard_margin_svm(X, y).direction
    return u, float(np.min((y[:, None] * X) @ u))


def max_margin_lp(X, y, norm: str = "l1") -> tuple[np.ndarray, float]:
    """``(w, gamma)`` maximising ``min_i y_i <w, x_i>`` over ``||w|| <= 1`` in another norm.

    ``norm="l1"`` or ``"linf"``: a linear program, solved by HiGHS (``scipy.optimize.linprog``);
    ``w`` has unit norm in that norm. ``norm="l2"`` is :func:`max_margin`. These are the limits
    of steepest descent with respect to that norm (Gunasekar et al. 2018). Raises
    ``ValueError`` on non-separable data (through the origin) or an unknown norm.
    """
    from scipy.optimize import linprog

    X, y = check_data(X, y)
    norm = _check_norm(norm)
    if norm == "l2":
        return max_margin(X, y)
    Z = y[:, None] * X
    n, d = Z.shape
    if norm == "l1":  # variables (w+, w-, gamma), w = w+ - w-, sum(w+ + w-) <= 1
        A = np.block([[-Z, Z, np.ones((n, 1))], [np.ones((1, 2 * d)), np.zeros((1, 1))]])
        bounds = [(0, None)] * (2 * d) + [(None, None)]
    else:  # variables (w, gamma), -1 <= w_j <= 1
        A = np.hstack([-Z, np.ones((n, 1))])
        bounds = [(-1, 1)] * d + [(None, None)]
    b = np.zeros(A.shape[0])
    if norm == "l1":
        b[-1] = 1.0
    cost = np.zeros(A.shape[1])
    cost[-1] = -1.0
    res = linprog(cost, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"max_margin_lp: linprog failed: {res.message}")
    w = res.x[:d] - res.x[d : 2 * d] if norm == "l1" else res.x[:d]
    scale = float(np.max(np.abs(Z)))
    if -res.fun <= 1e-9 * scale:
        raise ValueError(
            "the data are not linearly separable by a hyperplane through the origin: no "
            f"positive {norm} margin exists"
        )
    w = w / _norm(w, norm)
    return w, float(np.min(Z @ w))


def brute_force_direction_2d(X, y) -> tuple[np.ndarray, float]:
    """Reference solution in 2-D by exhaustive enumeration (no optimisation solver).

    On the unit circle ``f(u) = min_i <u, z_i>`` is a minimum of sinusoids, so its maximum is
    attained either at the top of one sinusoid, ``u = z_i / ||z_i||``, or where two of them
    cross, ``<u, z_i - z_j> = 0``, i.e. ``u = +- perp(z_i - z_j)``. All ``O(n^2)`` candidates
    are evaluated and the best is returned as ``(u, gamma)``. Used to test the SVM solver.
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

#: Norms understood by :func:`max_margin_lp` and :func:`steepest_descent`.
NORMS = ("l1", "l2", "linf")
_DUAL = {"l1": "linf", "l2": "l2", "linf": "l1"}


def _check_norm(norm: str) -> str:
    if not isinstance(norm, str) or norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return norm


def _norm(v: np.ndarray, norm: str, axis=None):
    order = {"l1": 1, "l2": 2, "linf": np.inf}[norm]
    return np.linalg.norm(v, ord=order, axis=axis)


def angle(u, v) -> np.ndarray | float:
    """Angle in radians between ``u`` and ``v`` (rows of ``u`` if it is a matrix), in [0, pi].

    Computed as ``atan2(||u x v||, <u, v>)`` (accurate also for tiny angles, where
    ``arccos`` loses half the digits).
    """
    v = as_vector(v, "v")
    U, single = _as_weights(u, v.size, "u", "v has length {d}")
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

    It is at most the max margin ``gamma*``, with equality iff ``w`` points along ``w_svm``.
    """
    X, y = check_data(X, y)
    W, single = _as_weights(w, X.shape[1])
    norms = np.linalg.norm(W, axis=1)
    if np.any(norms == 0):
        raise ValueError("normalized_margin is undefined at w = 0")
    g = np.min((W @ (y[:, None] * X).T), axis=1) / norms
    return float(g[0]) if single else g


# -- losses ----------------------------------------------------------------------------------


def _log_weights(m: np.ndarray, loss: str) -> np.ndarray:
    """``log q`` with ``q = -l'(m)`` for the smooth losses (stable for large margins)."""
    if loss == "exponential":
        return -m
    return -np.logaddexp(0.0, m)  # q = sigmoid(-m) = 1 / (1 + e^m)


def loss_and_grad(w, X, y, loss: str = "logistic") -> tuple[float, np.ndarray]:
    """Averaged loss ``L(w) = (1/n) sum_i l(y_i <w, x_i>)`` and its gradient (see module doc).

    Numerically stable for large margins (``log1p``/``logaddexp``); the exponential loss may
    overflow to ``inf`` for hugely negative margins, which the runners report as divergence.
    """
    X, y = check_data(X, y)
    loss = _check_loss(loss)
    w = as_vector(w, "w", length=X.shape[1])
    return _loss_grad(w, y[:, None] * X, loss)


def _loss_grad(w: np.ndarray, Z: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    n = Z.shape[0]
    m = Z @ w
    if loss == "logistic":
        value = float(np.mean(np.logaddexp(0.0, -m)))
        q = np.exp(-np.logaddexp(0.0, m))
    elif loss == "exponential":
        with np.errstate(over="ignore"):
            q = np.exp(-m)
        value = float(np.mean(q))
    elif loss == "hinge":
        q = (m < 1.0).astype(np.float64)
        value = float(np.mean(np.maximum(0.0, 1.0 - m)))
    else:  # squared hinge
        slack = np.maximum(0.0, 1.0 - m)
        q = 2.0 * slack
        value = float(np.mean(slack**2))
    with np.errstate(invalid="ignore", over="ignore"):
        grad = -(Z.T @ q) / n
    return value, grad


def make_loss(X, y, loss: str = "logistic"):
    """``fun(w, idx=None) -> (L, grad L)``, validated once, for the runners of ibcore.descent.

    ``fun(w)`` is the averaged loss of :func:`loss_and_grad` (for :func:`~ibcore.descent.run_gd`
    and :func:`~ibcore.flow.gradient_flow`); ``fun(w, idx)`` averages over the examples
    ``idx`` only (an integer index array, as passed by :func:`~ibcore.descent.run_sgd`), equal
    to ``loss_and_grad(w, X[idx], y[idx], loss)`` without re-validating the data at every step.
    """
    X, y = check_data(X, y)
    loss = _check_loss(loss)
    Z = y[:, None] * X

    def fun(w, idx=None):
        w = np.asarray(w, dtype=np.float64)
        return _loss_grad(w, Z if idx is None else Z[idx], loss)

    fun.Z = Z  # type: ignore[attr-defined]
    fun.loss = loss  # type: ignore[attr-defined]
    return fun


def smoothness(X, loss: str = "logistic", *, per_example: bool = False) -> float:
    """Smoothness constant of the averaged logistic loss, or of one example's loss.

    ``per_example=False`` (default): ``beta = lambda_max(X^T X) / (4n)``, the smoothness of
    ``L(w) = (1/n) sum_i log(1 + exp(-y_i <w, x_i>))`` (its Hessian is
    ``X^T diag(s_i (1 - s_i)) X / n`` with ``s_i (1 - s_i) <= 1/4``, equality at ``w = 0``). GD
    with ``eta < 2/beta`` decreases the loss monotonically (the condition of Soudry et al. 2018,
    Thm 3).

    ``per_example=True``: ``beta_1 = max_i ||x_i||^2 / 4``, the largest smoothness constant of
    the single-example losses ``w -> log(1 + exp(-y_i <w, x_i>))`` (Hessian
    ``s_i (1 - s_i) x_i x_i^T``). It bounds the step of SGD with one example per step: the
    fixed-step condition of Nacson, Srebro & Soudry (2019) is ``eta < 2 / beta_1``. Always
    ``beta <= beta_1``.

    The exponential loss is not globally smooth (``grad^2 L(w) <= B^2 L(w) I`` with
    ``B = max_i ||x_i||``, a bound that shrinks as the loss decays); it is refused here.
    """
    X = as_matrix(X, "X")
    loss = _check_loss(loss)
    if not isinstance(per_example, (bool, np.bool_)):
        raise TypeError(f"per_example must be True or False, got {type(per_example).__name__}")
    if loss != "logistic":
        raise ValueError(
            f"only the logistic loss is globally smooth; got {loss!r} (for the exponential loss "
            "use the local bound B^2 L(w), B = max ||x_i||)"
        )
    if per_example:
        return float(np.max(np.sum(X**2, axis=1)) / 4.0)
    return float(np.linalg.eigvalsh(X.T @ X / X.shape[0])[-1] / 4.0)


def log_rate_curvature(t, r) -> tuple[float, float]:
    """``(kappa, kappa_power)``: a three-point test that tells ``1/log t`` from a power law.

    ``t = (t1, t2, t3)`` are increasing positive times and ``r`` positive values of a
    quantity at those times (an angle, a KKT residual). With ``L_j = log t_j``,
    ``D = L3 - L1`` and ``s = (L2 - L1) / D``::

        kappa = r2 * ((1 - s) / r1 + s / r3).

    If ``r(t) = K / (log t + b)`` for any ``K > 0`` and ``b``, then ``1/r`` is affine in
    ``log t`` and ``kappa = 1`` exactly. A power law ``r = C t^(-p)`` with the same end-to-end
    drop ``r1 / r3 = exp(p D)`` gives instead

        kappa_power = (1 - s) exp(-p s D) + s exp(p (1 - s) D) >= 1,

    with equality only for ``p = 0`` (convexity of ``exp``; ``cosh(p D / 2)`` for ``s = 1/2``).
    A window on the drop ``r1 / r3`` alone cannot separate the two laws (``t^(-p)`` with a
    suitable ``p`` has any drop); ``kappa`` close to 1 while ``kappa_power - 1`` is not small
    does. ``ValueError`` unless ``t`` and ``r`` have three positive finite entries and ``t``
    increases strictly.
    """
    t = as_vector(t, "t", length=3)
    r = as_vector(r, "r", length=3)
    if np.any(t <= 0) or not (t[0] < t[1] < t[2]):
        raise ValueError(f"t must be three strictly increasing positive times, got {t}")
    if np.any(r <= 0):
        raise ValueError(f"r must be positive (a rate of decay is compared), got {r}")
    L = np.log(t)
    D = L[2] - L[0]
    s = (L[1] - L[0]) / D
    kappa = float(r[1] * ((1.0 - s) / r[0] + s / r[2]))
    p = float(np.log(r[0] / r[2]) / D)
    kappa_power = float((1.0 - s) * np.exp(-p * s * D) + s * np.exp(p * (1.0 - s) * D))
    return kappa, kappa_power


def gradient_weights(w, X, y, loss: str = "logistic") -> np.ndarray:
    """Normalised gradient weights ``q_i / sum_j q_j`` with ``q_i = -l'(y_i <w, x_i>)``.

    ``-grad L(w) = (sum_j q_j / n) * sum_i (q_i / sum_j q_j) y_i x_i``: the share of each
    example in the gradient. Computed in log space (a softmax), so it stays exact when all
    ``q_i`` underflow. For a (k, d) matrix ``w`` returns a (k, n) array.
    """
    X, y = check_data(X, y)
    loss = _check_loss(loss, SMOOTH_LOSSES)
    W, single = _as_weights(w, X.shape[1])
    logq = _log_weights(W @ (y[:, None] * X).T, loss)
    logq -= logq.max(axis=1, keepdims=True)
    q = np.exp(logq)
    q /= q.sum(axis=1, keepdims=True)
    return q[0] if single else q


# -- KKT residuals along a run ---------------------------------------------------------------


def homogeneous_kkt_residual(theta, q, J, degree: float = 2.0) -> tuple[float, float]:
    """KKT residuals of ``min ||theta||^2 / 2 s.t. q_i(theta) >= 1`` for a ``degree``-homogeneous
    model, after rescaling ``theta`` so that ``min_i q_i = 1``.

    With ``s = (min q)^{-1/degree}``: ``theta_hat = s theta``, ``q_hat = s^degree q``,
    ``J_hat = s^{degree-1} J``. Non-negative multipliers ``lam`` are fitted by NNLS to
    ``theta_hat ~ J_hat^T lam`` together with the complementarity rows
    ``(q_hat_i - 1) lam_i ~ 0``. Returns ``(eps, delta)``:
    ``eps = ||theta_hat - J_hat^T lam|| / ||theta_hat||`` (stationarity) and
    ``delta = sum_i lam_i (q_hat_i - 1) / ||theta_hat||^2`` (complementarity), both 0 at a KKT
    point. Raises ``ValueError`` unless every margin is positive.
    """
    from scipy.optimize import nnls

    theta = as_vector(theta, "theta")
    q = as_vector(q, "q")
    J = as_matrix(J, "J")
    if J.shape != (q.size, theta.size):
        raise ValueError(f"J must have shape {(q.size, theta.size)}, got {J.shape}")
    degree = positive_float(degree, "degree")
    if q.min() <= 0:
        raise ValueError("every margin q_i must be positive (the data must be fitted) for KKT")
    s = q.min() ** (-1.0 / degree)
    th, qh, Jh = s * theta, s**degree * q, s ** (degree - 1.0) * J
    A = np.vstack([Jh.T, np.diag(qh - 1.0)])
    lam, _ = nnls(A, np.concatenate([th, np.zeros(q.size)]), maxiter=50 * A.shape[1])
    norm2 = float(th @ th)
    eps = float(np.linalg.norm(th - Jh.T @ lam) / np.sqrt(norm2))
    return eps, float(lam @ (qh - 1.0) / norm2)


def kkt_residuals(w, X, y, *, svm: SVMSolution | None = None) -> dict[str, float]:
    """KKT residuals of the *direction* of ``w`` for the homogeneous hard-margin SVM.

    ``w`` is rescaled to unit minimum margin, ``w~ = w / min_i m_i(w)``, so ``m~_i >= 1``.
    Multipliers ``lam >= 0`` are fitted by NNLS to ``w~ ~ sum_i lam_i z_i`` together with the
    complementarity rows ``lam_i (m~_i - 1) ~ 0``: this is
    :func:`homogeneous_kkt_residual` for the degree-1 model (margins
    ``Z w``, Jacobian ``Z``), which computes the first two entries. Returns a dict of
    non-negative floats:

    * ``"stationarity"``: ``||w~ - sum_i lam_i z_i|| / ||w~||``;
    * ``"complementary_slackness"``: ``sum_i lam_i (m~_i - 1) / ||w~||^2``;
    * ``"primal_feasibility"``: ``max_i max(0, 1 - m~_i)``, zero up to rounding for a
      separating ``w`` (the rescaling makes the constraints hold; kept for completeness);
    * ``"margin_gap"``: ``1 - gamma(w) / gamma*`` (relative normalised-margin gap).

    All are ~0 (rounding) exactly at the SVM direction, and the first two cannot both vanish
    elsewhere: ``w~ = sum lam_i z_i`` with ``lam`` supported on margin-1 examples is the KKT
    system, whose only solution is ``w_svm``. Independent of ``||w||`` and of any loss.
    Raises ``ValueError`` if ``w`` does not separate the data (``min_i y_i <w, x_i> <= 0``).
    """
    X, y = check_data(X, y)
    w = as_vector(w, "w", length=X.shape[1])
    Z = y[:, None] * X
    m = Z @ w
    mmin = float(m.min())
    if mmin <= 0:
        raise ValueError(
            f"w does not separate the data (min_i y_i <w, x_i> = {mmin:.3g} <= 0): KKT "
            "residuals are defined for separating directions only; pass a w with positive margins"
        )
    svm = _check_svm(svm, X, y)
    # the linear model is the degree-1 case: margins m = Z w, Jacobian Z
    stationarity, complementarity = homogeneous_kkt_residual(w, m, Z, degree=1.0)
    return {
        "stationarity": stationarity,
        "complementary_slackness": complementarity,
        "primal_feasibility": float(max(0.0, np.max(1.0 - m / mmin))),
        "margin_gap": float(max(0.0, 1.0 - mmin / np.sqrt(w @ w) / svm.gamma)),
    }


@dataclass(frozen=True)
class KKTResiduals:
    """KKT residuals, multipliers read off the gradient weights (:func:`gradient_kkt_residuals`).

    With ``w~ = w / min_i m_i(w)`` (so the smallest margin is 1) and the candidate dual
    variables ``alpha = c q`` taken from the gradient weights ``q`` (``c >= 0`` least squares):

    * ``stationarity``   = ``||w~ - sum_i alpha_i z_i|| / ||w~||`` (= sine of the angle between
      ``w`` and ``-grad L(w)``: the tangential part of the gradient that turns the direction);
    * ``complementary``  = ``sum_i q^_i (m_i(w~) - 1)``, the slack averaged with the normalised
      weights ``q^`` (zero iff all gradient weight sits on minimum-margin examples);
    * ``margin_gap``     = ``gamma* - gamma(w) >= 0``;
    * ``alpha``          = ``c q``, which converges to the SVM dual variables.

    Primal feasibility (``m_i(w~) >= 1``) and dual feasibility (``alpha >= 0``) hold by
    construction. Arrays have one entry (row) per input ``w``.
    """

    stationarity: np.ndarray
    complementary: np.ndarray
    margin_gap: np.ndarray
    alpha: np.ndarray


def gradient_kkt_residuals(w, X, y, loss: str = "logistic", *, svm: SVMSolution | None = None):
    """KKT residuals (:class:`KKTResiduals`) of each row of ``w``, multipliers ``alpha = c q``.

    Unlike :func:`kkt_residuals` (best multipliers, a function of the direction only), the
    candidate multipliers are the loss's gradient weights at ``w`` itself, so the residuals
    measure how far the *gradient* is from the SVM certificate; they vanish only as
    ``||w|| -> infinity`` along the SVM direction. Every ``w`` must separate the data
    (``y_i <w, x_i> > 0`` for all ``i``); otherwise the
    rescaling to unit minimum margin is undefined and ``ValueError`` is raised.
    """
    X, y = check_data(X, y)
    loss = _check_loss(loss, SMOOTH_LOSSES)
    W, _ = _as_weights(w, X.shape[1])
    svm = _check_svm(svm, X, y)
    Z = y[:, None] * X
    M = W @ Z.T  # (k, n) margins
    mmin = M.min(axis=1)
    if np.any(mmin <= 0):
        k = int(np.flatnonzero(mmin <= 0)[0])
        raise ValueError(
            f"w (row {k}) does not separate the data (min margin {mmin[k]:.3g} <= 0): KKT "
            "residuals are defined for separating directions only"
        )
    Wt = W / mmin[:, None]
    Mt = M / mmin[:, None]
    qhat = gradient_weights(W, X, y, loss)
    G = qhat @ Z  # direction of -grad L (up to a positive factor), (k, d)
    c = np.einsum("kd,kd->k", Wt, G) / np.einsum("kd,kd->k", G, G)
    c = np.maximum(c, 0.0)
    stat = np.linalg.norm(Wt - c[:, None] * G, axis=1) / np.linalg.norm(Wt, axis=1)
    comp = np.einsum("kn,kn->k", qhat, Mt - 1.0)
    gap = svm.gamma - M.min(axis=1) / np.linalg.norm(W, axis=1)
    return KKTResiduals(
        stationarity=stat,
        complementary=comp,
        margin_gap=np.maximum(gap, 0.0),
        alpha=c[:, None] * qhat,
    )


def asymptotic_offset(X, y, *, svm: SVMSolution | None = None) -> np.ndarray:
    """``rho_tilde``: the bounded offset in ``w(t) = w_svm log t + rho(t)`` (gradient flow).

    Solves ``<rho, z_s> = -log(n alpha_s)`` for the support vectors ``s`` (minimum-norm
    solution, in the span of the support vectors), so that ``(1/n) exp(-<rho, z_s>) = alpha_s``
    and ``-grad L(w_svm log t + rho) = w_svm / t + o(1/t)`` for the averaged exponential loss
    (and, asymptotically, the logistic loss). Requires linearly independent support vectors;
    when they span fewer than ``d`` dimensions the component of ``rho(t)`` orthogonal to them
    still converges, to a limit that depends on the initialisation (not returned).
    """
    X, y = check_data(X, y)
    svm = _check_svm(svm, X, y)
    Z = y[:, None] * X
    S = svm.support
    ZS = Z[S]
    if np.linalg.matrix_rank(ZS) < S.size:
        raise ValueError(
            f"the {S.size} support vectors are linearly dependent: rho_tilde is not unique "
            "(a degenerate data set; the theorem's 'almost every data set' excludes it)"
        )
    rhs = -np.log(X.shape[0] * svm.alpha[S])
    rho, *_ = np.linalg.lstsq(ZS, rhs, rcond=None)
    return rho


def angle_rate_constants(w_svm, rho) -> tuple[float, float]:
    """Constants ``(c, b)`` of the ``1/log t`` rate of the angle (Soudry et al. 2018).

    If ``w(t) = w_svm log t + rho + o(1)``, then, with ``P_perp`` the projection onto the
    orthogonal complement of ``w_svm``,
    ``cot angle(w(t), w_svm) = (log t + b) / c + o(log t)``, where
    ``c = ||P_perp rho|| / ||w_svm||`` and ``b = <w_svm, rho> / ||w_svm||^2``; so the angle is
    ``arctan(c / (log t + b)) + o(1/log t)`` and ``angle * log t -> c``. ``rho`` is the limit
    offset, e.g. :func:`asymptotic_offset`; any dimension (also the lifted multiclass
    problem). Raises ``ValueError`` for ``w_svm = 0`` or mismatched lengths.
    """
    w_svm = as_vector(w_svm, "w_svm")
    rho = as_vector(rho, "rho", length=w_svm.size)
    norm2 = float(w_svm @ w_svm)
    if norm2 == 0.0:
        raise ValueError("w_svm must be nonzero (it is the max-margin solution, norm 1/gamma*)")
    b = float(rho @ w_svm) / norm2
    c = float(np.linalg.norm(rho - b * w_svm)) / np.sqrt(norm2)
    return c, b


# -- runners ---------------------------------------------------------------------------------


def flow_path(
    X,
    y,
    w0,
    t_max: float,
    *,
    n_points: int = 60,
    loss: str = "logistic",
    t_min: float = 1.0,
    rtol: float = 1e-10,
    atol: float = 1e-12,
):
    """Gradient flow ``dw/dt = -grad L(w)`` sampled at ``n_points`` log-spaced times.

    Integrated in log-time ``s = log(1 + t)`` by :func:`ibcore.flow.gradient_flow` (LSODA):
    in ``s`` the dynamics ``dw/ds = -(1 + t) grad L(w)`` stay O(1) because ``grad L ~ 1/t``, so
    ``t = 10^12`` costs a few hundred solver steps. Returns a
    :class:`~ibcore.flow.FlowPath` with ``t = [0, logspace(log10 t_min, log10 t_max)]``.
    """
    X, y = check_data(X, y)
    loss = _check_loss(loss, SMOOTH_LOSSES)
    w0 = as_vector(w0, "w0", length=X.shape[1])
    t_max = positive_float(t_max, "t_max")
    t_min = positive_float(t_min, "t_min")
    if not t_min < t_max:
        raise ValueError(f"need t_min < t_max, got t_min={t_min}, t_max={t_max}")
    if t_max > 1e100:
        raise ValueError(f"t_max={t_max:g} is beyond what float64 log-time integration supports")
    n_points = positive_int(n_points, "n_points", minimum=2)
    times = np.concatenate([[0.0], np.logspace(np.log10(t_min), np.log10(t_max), n_points)])
    return gradient_flow(make_loss(X, y, loss), w0, times, log_time=True, rtol=rtol, atol=atol)


def normalized_gd(
    X, y, w0, eta: float, n_steps: int, *, loss: str = "exponential", checkpoints=None
):
    """GD with the loss-normalised step ``eta_k = eta / L(w_k)`` ("aggressive" steps).

    Near the max-margin direction the Hessian of the exponential-tailed loss is at most
    ``B^2 L(w)`` (``B = max_i ||x_i||``), so a step ``eta / L(w)`` with ``eta < 2 / B^2`` is a
    stable step for the *current* curvature. The schedule is the one analysed by Nacson et al.
    (2019) and Ji & Telgarsky (2021). Returns an :class:`ibcore.descent.Trajectory`.
    """
    X, y = check_data(X, y)
    loss = _check_loss(loss, SMOOTH_LOSSES)
    w = as_vector(w0, "w0", length=X.shape[1]).copy()
    eta = positive_float(eta, "eta")
    B2 = float(np.max(np.sum(X**2, axis=1)))
    if eta >= 2.0 / B2:
        raise ValueError(
            f"eta={eta:g} is past the stability limit 2/B^2 = {2 / B2:.3g} of the normalised "
            "step (B = max ||x_i||): choose a smaller eta"
        )
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    return _loss_normalized_run(
        y[:, None] * X, w, loss, n_steps, checkpoints,
        step_size=lambda value: eta / value, direction=lambda g: -g, name="normalized_gd",
    )


def _loss_normalized_run(Z, w, loss, n_steps, checkpoints, *, step_size, direction, name):
    """``w_{k+1} = w_k + step_size(L(w_k)) direction(grad L(w_k))``, recorded at checkpoints.

    The loop shared by :func:`normalized_gd` and :func:`steepest_descent`; raises
    ``RuntimeError`` naming ``name`` and the step if the loss stops being finite and positive.
    """
    from .descent import Trajectory, as_checkpoints

    cps = as_checkpoints(checkpoints, n_steps)
    rec_w, rec_l, etas = [], [], np.empty(n_steps)
    j = 0
    for k in range(n_steps + 1):
        value, grad = _loss_grad(w, Z, loss)
        if j < cps.size and cps[j] == k:
            rec_w.append(w.copy())
            rec_l.append(value)
            j += 1
        if k == n_steps:
            break
        if not (np.isfinite(value) and value > 0):
            raise RuntimeError(
                f"{name}: the loss became {value} at step {k} (float64 underflows once the "
                "margins reach ~700, or the run diverged): use fewer n_steps or a smaller eta"
            )
        etas[k] = step_size(value)
        w = w + etas[k] * direction(grad)
    return Trajectory(steps=cps[:j].copy(), w=np.array(rec_w), loss=np.array(rec_l), eta=etas)


def _steepest_step(g: np.ndarray, norm: str) -> np.ndarray:
    """``argmin_v <g, v> + ||v||^2 / 2``: the steepest-descent step for the gradient ``g``."""
    if norm == "l2":
        return -g
    if norm == "l1":  # greedy coordinate descent, length ||g||_inf
        v = np.zeros_like(g)
        j = int(np.argmax(np.abs(g)))
        v[j] = -g[j]
        return v
    return -np.sum(np.abs(g)) * np.sign(g)  # linf: sign descent, length ||g||_1


def steepest_descent(
    X,
    y,
    w0,
    n_steps: int,
    *,
    norm: str = "l1",
    eta: float = 0.5,
    eta_max: float | None = None,
    checkpoints=None,
):
    """Steepest descent w.r.t. ``norm`` on the averaged exponential loss (Gunasekar et al. 2018).

    ``w_{k+1} = w_k + eta_k v_k`` with ``v_k = argmin_v <grad L(w_k), v> + ||v||^2 / 2`` (for
    ``"l1"`` a greedy coordinate step, for ``"linf"`` a sign step, for ``"l2"`` plain GD) and
    ``eta_k = min(eta_max, eta / (B^2 L(w_k)))``, ``B = max_i ||x_i||_*`` (dual norm),
    ``0 < eta <= 1``. Their Theorem 5 allows ``eta_k <= min(eta_+, 1 / (B^2 L(w_k)))`` for any
    finite cap ``eta_+`` (``eta_max`` here) and then proves that the normalised ``norm``-margin
    tends to the max margin of :func:`max_margin_lp`; the proof needs the cap to bind
    eventually. With ``eta_max=None`` (no cap: the loss-normalised steps) the same argument
    only guarantees a normalised margin ``>= (1 - eta/2) gamma`` asymptotically; convergence to
    ``gamma`` is then an observation, not the theorem. Returns an
    :class:`ibcore.descent.Trajectory`.
    """
    X, y = check_data(X, y)
    norm = _check_norm(norm)
    w = as_vector(w0, "w0", length=X.shape[1]).copy()
    eta = positive_float(eta, "eta")
    if eta > 1.0:
        raise ValueError(f"eta={eta:g} > 1: the theorem needs eta_k <= 1 / (B^2 L(w_k))")
    cap = np.inf if eta_max is None else positive_float(eta_max, "eta_max")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    B2 = float(np.max(_norm(X, _DUAL[norm], axis=1))) ** 2
    return _loss_normalized_run(
        y[:, None] * X, w, "exponential", n_steps, checkpoints,
        step_size=lambda value: min(cap, eta / (B2 * value)),
        direction=lambda g: _steepest_step(g, norm), name="steepest_descent",
    )


# -- multiclass ------------------------------------------------------------------------------


def _check_labels(X, labels) -> tuple[np.ndarray, np.ndarray, int]:
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

    ``E_ik`` is the ``(K, d)`` matrix with row ``labels[i]`` equal to ``x_i`` and row ``k``
    equal to ``-x_i``, so ``<vec W, z_(i,k)> = <w_{y_i} - w_k, x_i>`` (``W`` flattened
    row-major). Returns an ``(n (K-1), K d)`` array, example-major.
    """
    X, lab, K = _check_labels(X, labels)
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
    lifted examples (:func:`multiclass_lift`). ``W`` is ``(K, d)`` with unit Frobenius norm and
    ``gamma = min_{i, k != y_i} <w_{y_i} - w_k, x_i>``. ``ValueError`` if not separable.
    """
    X, lab, K = _check_labels(X, labels)
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


def multiclass_loss(X, labels):
    """``fun(w) -> (L, grad)`` of the averaged softmax cross-entropy, ``W = w.reshape(K, d)``.

    ``L(W) = (1/n) sum_i log(1 + sum_{k != y_i} exp(-<w_{y_i} - w_k, x_i>))``, for
    :func:`ibcore.descent.run_gd` and :func:`ibcore.flow.gradient_flow` on the flattened
    ``w`` of length ``K d``. Computed from the score differences ``D_ik = s_ik - s_{i y_i}``
    (``D_{i y_i} = 0``) with ``M_i = max_k D_ik >= 0`` and ``E_i = sum_{k != y_i} e^{D_ik - M_i}``:
    ``l_i = M_i + log1p(E_i + expm1(-M_i))``, exact to rounding for every margin (no overflow,
    and no cancellation when the loss is tiny, as it is late in training). The gradient weights
    are the softmax probabilities ``p_ik = e^{D_ik - M_i} / (e^{-M_i} + E_i)`` for ``k != y_i``
    and ``-sum_{k != y_i} p_ik`` for the label, again without cancellation.
    """
    X, lab, K = _check_labels(X, labels)
    n, d = X.shape
    rows = np.arange(n)

    def fun(w):
        W = np.asarray(w, dtype=np.float64).reshape(K, d)
        S = X @ W.T  # (n, K) scores
        D = S - S[rows, lab][:, None]  # score differences, 0 at the label
        top = D.max(axis=1)  # >= 0
        P = np.exp(D - top[:, None])
        P[rows, lab] = 0.0
        others = P.sum(axis=1)
        value = float(np.mean(top + np.log1p(others + np.expm1(-top))))
        P /= (np.exp(-top) + others)[:, None]
        P[rows, lab] = -P.sum(axis=1)
        return value, (P.T @ X / n).ravel()

    return fun


def multiclass_clouds(
    n: int = 90, n_classes: int = 3, *, seed, radius: float = 3.0, scale: float = 1.0
):
    """``K`` Gaussian clouds ``N(c_k, scale^2 I)`` in 2-D, centres ``c_k`` on a circle.

    ``c_k = radius (cos 2 pi k / K, sin 2 pi k / K)``; points not classified correctly by
    ``argmax_k <c_k, x>`` are redrawn, so the classes are separable by a linear multiclass
    classifier without intercepts. Returns ``(X, labels)``, ``n // K`` points per class.
    """
    n_classes = positive_int(n_classes, "n_classes", minimum=2)
    n = positive_int(n, "n", minimum=n_classes)
    rng = check_rng(seed)
    radius = positive_float(radius, "radius")
    scale = positive_float(scale, "scale")
    ang = 2 * np.pi * np.arange(n_classes) / n_classes
    C = radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    per = n // n_classes
    labels = np.repeat(np.arange(n_classes), per)
    X = np.empty((labels.size, 2))
    for i, k in enumerate(labels):
        while True:
            x = C[k] + scale * rng.standard_normal(2)
            if int(np.argmax(C @ x)) == k:
                X[i] = x
                break
    return X, labels


def regularization_path(
    X, y, mus, *, loss: str = "logistic", tol: float = 1e-10, max_iter: int = 200
) -> np.ndarray:
    """Minimisers ``w_mu = argmin L(w) + (mu/2) ||w||^2`` for each ``mu`` in ``mus``.

    ``L`` is the averaged smooth loss and ``mu`` the coefficient of the L2 penalty (weight
    decay); the objective is ``mu``-strongly convex, so the minimiser is unique. Solved by
    damped Newton (backtracking on the objective) with warm starts along ``mus`` sorted in
    decreasing order; stops when the gradient of the objective is below ``tol`` times the size
    of its two terms, ``||grad L|| + mu ||w||``. Returns a ``(len(mus), d)`` array in the order
    of ``mus``. As ``mu -> 0`` the direction tends to the max-margin direction (Rosset, Zhu &
    Hastie 2004), the limit direction of gradient descent (Ji, Dudik, Schapire & Telgarsky
    2020).
    """
    X, y = check_data(X, y)
    loss = _check_loss(loss, SMOOTH_LOSSES)
    mus = as_vector(mus, "mus")
    if np.any(mus <= 0):
        raise ValueError("mus must be > 0 (mu = 0 has no minimiser on separable data)")
    tol = positive_float(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    Z = y[:, None] * X
    n, d = Z.shape
    out = np.empty((mus.size, d))
    w = np.zeros(d)

    def objective(w, mu):
        return _loss_grad(w, Z, loss)[0] + 0.5 * mu * (w @ w)

    for k in np.argsort(-mus):
        mu = float(mus[k])
        for _ in range(max_iter):
            value, grad = _loss_grad(w, Z, loss)
            g = grad + mu * w
            m = Z @ w
            if loss == "exponential":
                h = np.exp(-m)
            else:
                p = np.exp(-np.logaddexp(0.0, m))  # sigmoid(-m)
                h = p * (1.0 - p)
            if np.linalg.norm(g) <= tol * (np.linalg.norm(grad) + mu * np.linalg.norm(w)):
                break
            H = (Z.T * h) @ Z / n + mu * np.eye(d)
            step = np.linalg.solve(H, g)
            decrement = float(g @ step)
            f0, s = value + 0.5 * mu * (w @ w), 1.0
            if decrement > 1e-10 * abs(f0):  # else: the decrease is below the objective's
                # float64 resolution; we are in Newton's quadratic regime, take full steps
                while objective(w - s * step, mu) > f0 - 0.25 * s * decrement and s > 1e-12:
                    s *= 0.5
            w_new = w - s * step
            if np.array_equal(w_new, w):  # no representable progress: at the minimiser
                break
            w = w_new
        else:
            raise RuntimeError(f"regularization_path: Newton did not converge for mu={mu:g}")
        out[k] = w
    return out


# -- data ------------------------------------------------------------------------------------


def separable_clouds(n: int = 100, *, seed, center=(2.0, 2.0), scale=1.0, min_margin=0.0):
    """Two Gaussian clouds ``N(+center, scale^2 I)`` (label +1) and ``N(-center, ...)`` (-1).

    The classic illustration of the theorem (n = 100, centre (2, 2), unit variance), made
    separable through the origin by redrawing the (rare) points with
    ``y_i <x_i, center> / ||center|| <= min_margin``. Returns ``(X, y)``, ``n // 2`` per class
    (first the +1 class).
    """
    n = positive_int(n, "n", minimum=2)
    rng = check_rng(seed)
    c = as_vector(center, "center")
    scale = positive_float(scale, "scale")
    min_margin = positive_float(min_margin, "min_margin", allow_zero=True)
    if min_margin >= np.linalg.norm(c) + 3 * scale:
        raise ValueError("min_margin is so large that almost every draw would be rejected")
    u = c / np.linalg.norm(c)
    half = n // 2
    y = np.concatenate([np.ones(half), -np.ones(n - half)])
    X = np.empty((n, c.size))
    for i in range(n):
        while True:
            x = y[i] * c + scale * rng.standard_normal(c.size)
            if y[i] * (x @ u) > min_margin:
                X[i] = x
                break
    return X, y
