"""The hyperbolic-entropy potential R_alpha and minimum-norm interpolants (l1, R_alpha).

Conventions as in :mod:`ibcore.diagonal`: ``X`` is ``(n, d)`` with ``n < d`` and full row rank,
``y`` is ``(n,)`` (:func:`ibcore.lp_geometry.check_interpolation_problem`).

The potential
    ``R_alpha(w) = (alpha^2 / 4) sum_i q(w_i / alpha^2)``,
    ``q(z) = 2 - sqrt(4 + z^2) + z arcsinh(z / 2)``,
    ``grad R_alpha(w) = arcsinh(w / (2 alpha^2)) / 4``: the mirror potential of the diagonal
    network ``w = u*u - v*v`` from ``u = v = alpha 1``, whose gradient flow converges to
    ``argmin {R_alpha(w) : X w = y}`` (Woodworth et al. 2020; they write ``Q_alpha``, four times
    ours, with the same minimisers).

Minimising R_alpha over interpolants
    The KKT conditions say ``grad R_alpha(w) = X^T nu / 4``, i.e. ``w = 2 alpha^2 sinh(X^T nu)``
    and ``X w = y``. ``nu`` minimises the smooth strictly convex dual
    ``Phi(nu) = 2 alpha^2 sum_i cosh((X^T nu)_i) - y^T nu`` (gradient ``X w(nu) - y``), which
    :func:`min_ralpha_interpolant` solves by damped Newton; the network's flow is a gradient
    flow on this n-dimensional dual (:func:`ibcore.diagonal.diagonal_flow`, view ``"dual"``).

Rate of the approach to the minimum-l1 interpolant
    With ``ell = log(1/alpha^2)`` and ``s = X^T nu / ell`` each coordinate is exactly
    ``|w_i| = alpha^{2 (1 - |s_i|)} (1 - alpha^{4 |s_i|})``. As ``alpha -> 0``, ``nu / ell``
    tends to an l1 dual certificate, the one whose largest off-support value is smallest; that
    value ``c_star`` (:func:`minimax_l1_certificate`) sets the rate
    ``||w_alpha - w_l1|| = alpha^{2 (1 - c_star) + o(1)}``.

Generalization
    For inputs ``x ~ N(0, I_d)`` and noise-free targets ``<x, w_star>``, the excess population
    risk of ``w`` is ``||w - w_star||^2`` (:func:`population_risk`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SolverError
from .lp_geometry import check_interpolation_problem
from .validation import as_array, as_matrix, as_vector, positive_float, positive_int, real_scalar

__all__ = [
    "L1Certificate",
    "L1Solution",
    "check_alpha",
    "l1_norm_bound",
    "l2_offset_prediction",
    "min_l1_interpolant",
    "min_ralpha_interpolant",
    "min_ralpha_primal",
    "minimax_l1_certificate",
    "population_risk",
    "q_potential",
    "r_alpha",
    "r_alpha_grad",
    "ralpha_kkt_residual",
    "scaled_sinh_cosh",
]


def q_potential(z) -> np.ndarray:
    """``q(z) = 2 - sqrt(4 + z^2) + z arcsinh(z / 2)`` (elementwise; convex, ``q(0) = 0``).

    ``q'(z) = arcsinh(z / 2)``, ``q''(z) = 1 / sqrt(4 + z^2)``; ``q(z) ~ z^2 / 4`` near 0 and
    ``q(z) ~ |z| (log|z| - 1)`` for large ``|z|``. Evaluated as
    ``z arcsinh(z/2) - z^2 / (2 + sqrt(4 + z^2))`` to avoid the cancellation of
    ``2 - sqrt(4 + z^2)`` at small ``z``.

    Parameters
    ----------
    z : array_like
        Any shape (empty allowed), finite.

    Returns
    -------
    ndarray
        ``q(z)``, of the shape of ``z``.

    Raises
    ------
    ValueError
        If ``z`` is not finite.
    TypeError
        If ``z`` is not numeric.
    """
    z = as_array(z, "z", allow_empty=True)
    root = np.sqrt(4.0 + z * z)
    return z * np.arcsinh(z / 2.0) - z * z / (2.0 + root)


def check_alpha(alpha) -> float:
    """The initialization scale ``alpha`` of ``u = v = alpha 1``, checked so ``alpha^2`` is usable.

    The potential and the network's parameters are computed from ``alpha^2``, which must be a
    normal float64 (neither 0 nor inf, nor subnormal).

    Parameters
    ----------
    alpha : float
        The scale, ``> 0``.

    Returns
    -------
    float
        ``alpha`` as a Python float.

    Raises
    ------
    TypeError
        If ``alpha`` is not a real number.
    ValueError
        If ``alpha <= 0`` or ``alpha^2`` under- or overflows float64 (``alpha`` outside
        ``(1e-150, 1e150)``, roughly).
    """
    alpha = positive_float(alpha, "alpha")
    if not np.finfo(np.float64).tiny <= alpha * alpha < np.inf:
        raise ValueError(
            f"alpha = {alpha:.3g} is out of range: alpha^2 under- or overflows float64; "
            "use 1e-150 < alpha < 1e150"
        )
    return alpha


def r_alpha(w, alpha: float) -> float:
    """``R_alpha(w) = (alpha^2 / 4) sum_i q(w_i / alpha^2)`` (see the module docstring;
    :func:`q_potential`), the mirror potential of the diagonal network from ``u = v = alpha 1``.

    Parameters
    ----------
    w : array_like, shape (d,)
        The point.
    alpha : float
        The initialization scale (:func:`check_alpha`).

    Returns
    -------
    float
        ``R_alpha(w) >= 0``.

    Raises
    ------
    ValueError
        If ``w`` is empty or not finite, or ``alpha`` is out of range.
    TypeError
        If ``w`` is not numeric or ``alpha`` not a real number.
    """
    w = as_vector(w, "w")
    alpha = check_alpha(alpha)
    a2 = alpha * alpha
    return float(a2 / 4.0 * np.sum(q_potential(w / a2)))


def r_alpha_grad(w, alpha: float) -> np.ndarray:
    """``grad R_alpha(w) = arcsinh(w / (2 alpha^2)) / 4``.

    Parameters
    ----------
    w : array_like, shape (d,)
        The point.
    alpha : float
        The initialization scale (:func:`check_alpha`).

    Returns
    -------
    ndarray, shape (d,)
        The gradient.

    Raises
    ------
    ValueError
        If ``w`` is empty or not finite, or ``alpha`` is out of range.
    TypeError
        If ``w`` is not numeric or ``alpha`` not a real number.
    """
    w = as_vector(w, "w")
    alpha = check_alpha(alpha)
    return np.arcsinh(w / (2.0 * alpha * alpha)) / 4.0


def scaled_sinh_cosh(a, log_alpha2) -> tuple[np.ndarray, np.ndarray]:
    """``(2 alpha^2 sinh(a), 2 alpha^2 cosh(a))``, elementwise, from ``log(alpha^2)``.

    The primal point ``w = 2 alpha^2 sinh(X^T nu)`` of a dual ``nu`` (module docstring) and the
    diagonal ``2 alpha^2 cosh(X^T nu)`` of the dual's Hessian. Evaluated as
    ``2 alpha^2 sinh(a) = sign(a) e^{|a| + log alpha^2} (1 - e^{-2|a|})`` and
    ``2 alpha^2 cosh(a) = e^{|a| + log alpha^2} (1 + e^{-2|a|})``: no overflow of ``alpha^2``
    or ``e^{|a|}`` on their own for tiny ``alpha`` (``alpha = 1e-8`` with ``|a|`` in the
    hundreds), and no cancellation for small ``a``.

    Parameters
    ----------
    a : array_like
        The dual coordinates ``X^T nu``. Not checked for finiteness: the trial points of an ODE
        or Newton solver are evaluated as they are (NaN gives NaN).
    log_alpha2 : float
        ``log(alpha^2) = 2 log(alpha)``, finite.

    Returns
    -------
    sinh_part, cosh_part : ndarray
        ``2 alpha^2 sinh(a)`` and ``2 alpha^2 cosh(a)``, of the shape of ``a``.

    Raises
    ------
    TypeError
        If ``a`` is not numeric or ``log_alpha2`` not a real number.
    ValueError
        If ``log_alpha2`` is not finite.
    """
    a = as_array(a, "a", allow_empty=True, allow_nonfinite=True)
    log_a2 = real_scalar(log_alpha2, "log_alpha2")
    big = np.exp(np.abs(a) + log_a2)
    small = np.exp(-2.0 * np.abs(a))
    return np.sign(a) * big * -np.expm1(-2.0 * np.abs(a)), big * (1.0 + small)


# -- exact minimisers --------------------------------------------------------------------------


@dataclass(frozen=True)
class L1Solution:
    """Minimum-l1 interpolant and its LP dual certificate (:func:`min_l1_interpolant`).

    ``w`` minimises ``||w||_1`` s.t. ``X w = y``; ``dual`` maximises ``y^T lam`` s.t.
    ``||X^T lam||_inf <= 1``. Optimality is certified by ``gap = ||w||_1 - y^T dual ~ 0`` and
    ``dual_infeasibility = max(0, ||X^T dual||_inf - 1) ~ 0``.

    Attributes
    ----------
    w : ndarray, shape (d,)
        The minimum-l1 interpolant (a vertex of the LP).
    dual : ndarray, shape (n,)
        The equality multipliers ``lam`` reported by HiGHS.
    gap : float
        ``||w||_1 - y^T dual``, ``~ 0`` at the optimum.
    dual_infeasibility : float
        ``max(0, ||X^T dual||_inf - 1)``, ``~ 0``.
    """

    w: np.ndarray
    dual: np.ndarray
    gap: float
    dual_infeasibility: float

    @property
    def norm(self) -> float:
        """``||w||_1`` (float).
        """
        return float(np.abs(self.w).sum())


def min_l1_interpolant(X, y) -> L1Solution:
    """``argmin ||w||_1`` s.t. ``X w = y`` by linear programming (basis pursuit).

    Variables ``w = p - m`` with ``p, m >= 0``; minimise ``1^T (p + m)`` s.t. ``X (p - m) = y`` with
    :func:`scipy.optimize.linprog` (HiGHS). The equality multipliers give the dual certificate (see
    :class:`L1Solution`).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank
        (:func:`ibcore.lp_geometry.check_interpolation_problem`).
    y : array_like, shape (n,)
        The targets.

    Returns
    -------
    L1Solution
        The interpolant and its certificate.

    Raises
    ------
    ValueError
        On a bad problem (``n >= d``, rank deficient, shapes, non-finite values).
    TypeError
        If an input is not numeric.
    SolverError
        If the LP solver fails (:class:`ibcore.SolverError`).
    """
    from scipy.optimize import linprog

    X, y = check_interpolation_problem(X, y)
    d = X.shape[1]
    res = linprog(np.ones(2 * d), A_eq=np.hstack([X, -X]), b_eq=y, bounds=(0, None), method="highs")
    if not res.success:
        raise SolverError(f"min_l1_interpolant: linprog failed: {res.message}")
    w = res.x[:d] - res.x[d:]
    lam = np.asarray(res.eqlin.marginals, dtype=float)
    # HiGHS reports d(objective)/d(b_eq); the certificate lam satisfies ||X^T lam||_inf <= 1.
    gap = float(np.abs(w).sum() - y @ lam)
    infeas = float(max(0.0, np.abs(X.T @ lam).max() - 1.0))
    return L1Solution(w=w, dual=lam, gap=gap, dual_infeasibility=infeas)


@dataclass(frozen=True)
class L1Certificate:
    """The l1 dual certificate with the smallest off-support values.

    Returned by :func:`minimax_l1_certificate`. ``exponent = 2 (1 - c_star)`` is the predicted
    log-log slope of ``||w_alpha - w_l1||`` against ``alpha`` as ``alpha -> 0``.

    Attributes
    ----------
    dual : ndarray, shape (n,)
        ``beta``.
    values : ndarray, shape (d,)
        ``X^T beta`` (``sign(w_l1)`` on the support).
    support : ndarray of bool, shape (d,)
        The support ``S`` of ``w_l1``.
    c_star : float
        ``max_{i not in S} |values_i|`` (0 when ``S`` is everything).
    """

    dual: np.ndarray
    values: np.ndarray
    support: np.ndarray
    c_star: float

    @property
    def exponent(self) -> float:
        """The predicted rate exponent ``2 (1 - c_star)``, a float.
        """
        return 2.0 * (1.0 - self.c_star)


def minimax_l1_certificate(X, w_l1, *, support_tol: float = 1e-9) -> L1Certificate:
    """``c_star = min { max_{i not in S} |(X^T beta)_i| : (X^T beta)_S = sign(w_l1)_S }``.

    ``S`` is the support of ``w_l1`` (entries above ``support_tol * max |w_l1|``). A ``beta`` with
    ``(X^T beta)_S = sign(w_S)`` and ``|X^T beta| <= 1`` off ``S`` is a dual certificate of
    ``min ||w||_1 s.t. X w = X w_l1``: so ``c_star <= 1`` iff ``w_l1`` is a minimum-l1
    interpolant, and ``c_star < 1`` (with ``X_S`` injective) makes it the unique one, since then
    ``||w_l1 + h||_1 >= ||w_l1||_1 + (1 - c_star) ||h_{S^c}||_1`` for every ``h`` with ``X h = 0``.
    The value is the linear program in ``(beta, t)``: minimise ``t`` subject to
    ``X_S^T beta = sign(w_S)`` and ``-t <= X_{S^c}^T beta <= t`` (:func:`scipy.optimize.linprog`,
    HiGHS). It is **not** the certificate a simplex solver returns for basis pursuit
    (:func:`min_l1_interpolant`): that one is a vertex of the optimal dual face, where ``n``
    constraints ``|(X^T beta)_i| <= 1`` are active, so some off-support value equals 1.

    ``c_star`` governs the approach of ``w_alpha = argmin_{Xw=y} R_alpha`` to ``w_l1`` (module
    docstring): ``||w_alpha - w_l1|| = alpha^{2 (1 - c_star) + o(1)}``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The data matrix.
    w_l1 : array_like, shape (d,)
        A basic (vertex) minimum-l1 interpolant, nonzero, e.g. ``min_l1_interpolant(X, y).w``.
    support_tol : float, default 1e-9
        Relative threshold of the support, ``> 0``.

    Returns
    -------
    L1Certificate
        ``beta``, ``X^T beta``, the support and ``c_star``.

    Raises
    ------
    ValueError
        If ``w_l1`` is zero, its support has more entries than ``X`` has rows or its columns of
        ``X`` are not linearly independent (``X_S`` not injective), ``support_tol <= 0``, or on bad
        shapes or non-finite input.
    TypeError
        If an input is not numeric.
    SolverError
        If the LP solver fails (:class:`ibcore.SolverError`).
    """
    from scipy.optimize import linprog

    X = as_matrix(X, "X")
    n, d = X.shape
    w_l1 = as_vector(w_l1, "w_l1", length=d)
    support_tol = positive_float(support_tol, "support_tol")
    scale = float(np.abs(w_l1).max())
    if scale == 0.0:
        raise ValueError("w_l1 must be non-zero (the zero interpolant needs no certificate)")
    S = np.abs(w_l1) > support_tol * scale
    k = int(S.sum())
    if k > n or np.linalg.matrix_rank(X[:, S]) < k:
        raise ValueError(
            f"w_l1 has {k} non-zeros whose columns of X are not linearly independent (X has "
            f"{n} rows): pass a basic (vertex) minimum-l1 interpolant"
        )
    if k == d:
        return L1Certificate(
            dual=np.linalg.lstsq(X.T, np.sign(w_l1), rcond=None)[0],
            values=np.sign(w_l1),
            support=S,
            c_star=0.0,
        )
    off = X[:, ~S].T
    m_off = off.shape[0]
    ones = np.ones((m_off, 1))
    res = linprog(
        np.r_[np.zeros(n), 1.0],
        A_ub=np.vstack([np.hstack([off, -ones]), np.hstack([-off, -ones])]),
        b_ub=np.zeros(2 * m_off),
        A_eq=np.hstack([X[:, S].T, np.zeros((k, 1))]),
        b_eq=np.sign(w_l1[S]),
        bounds=[(None, None)] * n + [(0.0, None)],
        method="highs",
    )
    if not res.success:
        raise SolverError(f"minimax_l1_certificate: linprog failed: {res.message}")
    beta = res.x[:n]
    values = X.T @ beta
    return L1Certificate(
        dual=beta, values=values, support=S, c_star=float(np.abs(values[~S]).max())
    )


def min_ralpha_interpolant(X, y, alpha: float, *, tol: float = 1e-12, max_iter: int = 200):
    """``argmin R_alpha(w)`` s.t. ``X w = y``, via damped Newton on the convex dual.

    Minimises ``Phi(nu) = 2 alpha^2 sum_i cosh((X^T nu)_i) - y^T nu`` (module docstring) from
    ``nu = 0`` with Newton steps and backtracking, evaluated stably for tiny ``alpha`` through
    ``alpha^2 e^{a} = e^{a + 2 log alpha}`` (:func:`scaled_sinh_cosh`; each step changes ``X^T nu``
    by at most 2 in every coordinate, which keeps the iteration finite even for ``alpha = 1e-8``);
    returns ``w = 2 alpha^2 sinh(X^T nu)``, which satisfies the stationarity condition exactly and
    primal feasibility ``||X w - y|| <= tol (1 + ||y||)`` (after ``max_iter`` steps, up to
    ``1e3 tol (1 + ||y||)`` is accepted).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    alpha : float
        The initialization scale, ``> 0`` (only ``log alpha`` is used, so any positive float).
    tol : float, default 1e-12
        Relative feasibility tolerance, ``> 0``.
    max_iter : int, default 200
        Newton steps, ``>= 1``.

    Returns
    -------
    ndarray, shape (d,)
        ``w_alpha``.

    Raises
    ------
    ValueError
        On a bad problem, ``alpha <= 0``, ``tol <= 0`` or ``max_iter < 1``.
    TypeError
        If a number is not real or ``max_iter`` not an integer.
    SolverError
        If Newton does not reach ``1e3 tol (1 + ||y||)`` in ``max_iter`` steps
        (:class:`ibcore.SolverError`).
    """
    X, y = check_interpolation_problem(X, y)
    alpha = positive_float(alpha, "alpha")
    tol = positive_float(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    log_a2 = 2.0 * np.log(alpha)

    def parts(mu):
        return scaled_sinh_cosh(X.T @ mu, log_a2)

    def phi(mu):  # Phi - 2 d alpha^2, by 2 alpha^2 (cosh a - 1) = alpha^2 e^|a| (1 - e^-|a|)^2
        a = np.abs(X.T @ mu)
        return float(np.sum(np.exp(a + log_a2) * np.expm1(-a) ** 2) - y @ mu)

    mu = np.zeros(X.shape[0])
    target = tol * (1.0 + np.linalg.norm(y))
    for _ in range(max_iter):
        w, c = parts(mu)
        grad = X @ w - y
        if np.linalg.norm(grad) <= target:
            return w
        hess = (X * c) @ X.T
        step = np.linalg.solve(hess, grad)
        # the dual is exponential in a = X^T mu: cap the change of a at 2 per step, then backtrack
        f0, slope = phi(mu), float(grad @ step)
        t = min(1.0, 2.0 / max(float(np.abs(X.T @ step).max()), 1e-300))
        g0 = np.linalg.norm(grad)
        while t > 1e-12:
            with np.errstate(over="ignore", invalid="ignore"):
                trial = mu - t * step
                f1 = phi(trial)
                g1 = np.linalg.norm(X @ parts(trial)[0] - y)
            # Armijo on Phi, or (near the optimum, where Phi's decrease drowns in rounding) a
            # decrease of the gradient norm
            if np.isfinite(f1) and (f1 <= f0 - 0.25 * t * slope or g1 < 0.5 * g0):
                break
            t *= 0.5
        mu = mu - t * step
    w = parts(mu)[0]
    if np.linalg.norm(X @ w - y) <= 1e3 * target:
        return w
    raise SolverError(f"min_ralpha_interpolant: no convergence in {max_iter} Newton steps")


def min_ralpha_primal(X, y, alpha: float, w0=None) -> np.ndarray:
    """``argmin R_alpha(w)`` s.t. ``X w = y`` on the primal (an independent check).

    Uses :func:`scipy.optimize.minimize` (``trust-constr``, ``gtol=1e-12``, ``xtol=1e-14``, at most
    3000 iterations) with the analytic gradient ``arcsinh(w / 2 alpha^2) / 4``, the diagonal
    Hessian ``1 / (4 sqrt(w^2 + 4 alpha^4))`` and the linear equality constraint. Reliable for
    moderate ``alpha`` (say ``alpha >= 0.1`` on data of unit scale); for tiny ``alpha`` the
    objective approaches ``l1`` and the solver slows down: use :func:`min_ralpha_interpolant`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    alpha : float
        The initialization scale, ``> 0``.
    w0 : array_like, shape (d,), optional
        The starting point; the minimum-l2 interpolant ``X^+ y`` when omitted.

    Returns
    -------
    ndarray, shape (d,)
        ``w_alpha``.

    Raises
    ------
    ValueError
        On a bad problem, ``alpha <= 0`` or a ``w0`` of the wrong length.
    TypeError
        If ``alpha`` is not a real number or an array not numeric.
    SolverError
        If ``trust-constr`` reports failure (:class:`ibcore.SolverError`).
    """
    from scipy.optimize import LinearConstraint, minimize

    X, y = check_interpolation_problem(X, y)
    alpha = positive_float(alpha, "alpha")
    start = np.linalg.pinv(X) @ y if w0 is None else as_vector(w0, "w0", length=X.shape[1])
    a2 = alpha * alpha
    res = minimize(
        lambda w: a2 / 4.0 * float(np.sum(q_potential(w / a2))),
        start,
        jac=lambda w: np.arcsinh(w / (2.0 * a2)) / 4.0,
        hess=lambda w: np.diag(0.25 / np.sqrt(w * w + 4.0 * a2 * a2)),
        constraints=[LinearConstraint(X, y, y)],
        method="trust-constr",
        options={"gtol": 1e-12, "xtol": 1e-14, "maxiter": 3000},
    )
    if not res.success:
        raise SolverError(f"min_ralpha_primal: trust-constr failed: {res.message}")
    return res.x


def ralpha_kkt_residual(X, y, w, alpha: float) -> tuple[float, float]:
    """KKT residuals of ``min R_alpha(w) s.t. X w = y`` at ``w``:
    ``(||X w - y||, ||(I - X^+ X) grad R_alpha(w)||)``.

    At the minimiser both vanish (the gradient lies in the row space of ``X``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    w : array_like, shape (d,)
        The candidate.
    alpha : float
        The initialization scale (:func:`check_alpha`).

    Returns
    -------
    feasibility : float
        ``||X w - y||``.
    stationarity : float
        ``||(I - X^+ X) grad R_alpha(w)||``.

    Raises
    ------
    ValueError
        On a bad problem, a ``w`` of the wrong length, or ``alpha`` out of range.
    TypeError
        If an input is not numeric.
    """
    X, y = check_interpolation_problem(X, y)
    w = as_vector(w, "w", length=X.shape[1])
    g = r_alpha_grad(w, alpha)
    g_null = g - np.linalg.pinv(X) @ (X @ g)
    return float(np.linalg.norm(X @ w - y)), float(np.linalg.norm(g_null))


def l1_norm_bound(w_l1, alpha: float, d: int) -> float:
    """Upper bound on ``||w_alpha||_1`` for ``w_alpha = argmin_{Xw=y} R_alpha(w)``.

    With ``ell = log(1/alpha^2)``, ``S`` the support of a minimum-l1 interpolant ``w_l1`` and
    ``N = sum_{i in S} (alpha^2 + |w_i|)(ell + log(alpha^2 + |w_i|)) - ||w_l1||_1``,

        ||w_alpha||_1 <= min_{0 < c < ell} (N + d e^{-c}) / (ell - c).

    (Derivation in the chapter: ``log s <= arcsinh(s/2) <= log(1 + s)`` for ``s > 0`` sandwiches
    ``q``; the minimum over ``c`` is taken on a grid of 19999 interior points of ``(0, ell)``, so
    the value is a valid bound.)

    Parameters
    ----------
    w_l1 : array_like
        A minimum-l1 interpolant (its nonzero entries are the support ``S``).
    alpha : float
        The initialization scale, ``0 < alpha < 1/sqrt(d)``.
    d : int
        The dimension, ``>= 1``.

    Returns
    -------
    float
        The bound.

    Raises
    ------
    ValueError
        If ``alpha >= 1/sqrt(d)`` (then ``ell <= log d`` and the bound is vacuous or undefined),
        ``alpha <= 0``, ``d < 1`` or ``w_l1`` is empty or not finite.
    TypeError
        If ``alpha`` is not a real number or ``d`` not an integer.
    """
    w_l1 = as_vector(w_l1, "w_l1")
    alpha = positive_float(alpha, "alpha")
    d = positive_int(d, "d")
    lam = -2.0 * np.log(alpha)
    if lam <= np.log(d):
        raise ValueError(
            f"alpha = {alpha:g} is too large for the bound: need alpha < 1/sqrt(d) = {d**-0.5:.3g}"
        )
    a = np.abs(w_l1[w_l1 != 0])
    a2 = alpha * alpha
    big_n = float(np.sum((a2 + a) * (lam + np.log(a2 + a))) - a.sum())
    c = np.linspace(0.0, lam, 20001)[1:-1]
    return float(np.min((big_n + d * np.exp(-c)) / (lam - c)))


def l2_offset_prediction(X, y, alpha: float) -> np.ndarray:
    """Leading term of ``w_alpha - w_l2`` for large ``alpha``: ``P_null(w_l2^3) / (24 alpha^4)``.

    From ``arcsinh(s) = s - s^3/6 + O(s^5)`` in the KKT condition (chapter, large-alpha
    proposition); ``P_null = I - X^+ X`` and ``w_l2 = X^+ y`` (the cube is elementwise).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    alpha : float
        The initialization scale, ``> 0`` with ``alpha^4`` a finite nonzero float64.

    Returns
    -------
    ndarray, shape (d,)
        The predicted offset.

    Raises
    ------
    ValueError
        On a bad problem, ``alpha <= 0``, or ``alpha^4`` under- or overflowing float64 (``alpha``
        outside ``(1e-75, 1e75)``, roughly).
    TypeError
        If ``alpha`` is not a real number.
    """
    X, y = check_interpolation_problem(X, y)
    alpha = positive_float(alpha, "alpha")
    pinv = np.linalg.pinv(X)
    w2 = pinv @ y
    try:
        alpha4 = alpha**4
    except OverflowError:
        alpha4 = np.inf
    if not (0.0 < alpha4 < np.inf):
        raise ValueError(
            f"alpha = {alpha:.3g} is out of range: alpha^4 under- or overflows float64; "
            "use 1e-75 < alpha < 1e75"
        )
    cube = w2**3
    return (cube - pinv @ (X @ cube)) / (24.0 * alpha4)


def population_risk(X, y, w_star, alphas) -> np.ndarray:
    """Excess population risk ``||w_alpha - w_star||^2`` of ``w_alpha = argmin_{Xw=y} R_alpha``.

    For inputs ``x ~ N(0, I_d)`` and noise-free targets ``<x, w_star>`` the risk of a linear
    predictor ``w`` is ``E (<x, w> - <x, w_star>)^2 = (w - w_star)^T E[x x^T] (w - w_star)
    = ||w - w_star||^2``, with ``w_alpha`` from :func:`min_ralpha_interpolant` (default
    tolerances). Its two ends: ``||P_null w_star||^2`` (``P_null = I - X^+ X``) as
    ``alpha -> inf``, since then ``w_alpha -> X^+ y = X^+ X w_star``, and ``||w_l1 - w_star||^2``
    as ``alpha -> 0`` (zero when basis pursuit recovers ``w_star``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets (``X w_star`` in the noise-free model; not checked).
    w_star : array_like, shape (d,)
        The teacher.
    alphas : float or array_like
        Initialization scales, all ``> 0``, any shape.

    Returns
    -------
    ndarray
        The risk for each ``alpha``, of the shape of ``alphas``.

    Raises
    ------
    ValueError
        On a bad problem, a ``w_star`` of the wrong length, or an ``alpha <= 0``.
    TypeError
        If an input is not numeric.
    SolverError
        If :func:`min_ralpha_interpolant` does not converge for some ``alpha``.
    """
    X, y = check_interpolation_problem(X, y)
    w_star = as_vector(w_star, "w_star", length=X.shape[1])
    a = as_array(alphas, "alphas")
    if np.any(a <= 0):
        raise ValueError("alphas must all be positive initialization scales")
    risks = [np.sum((min_ralpha_interpolant(X, y, float(al)) - w_star) ** 2) for al in a.ravel()]
    return np.array(risks, dtype=float).reshape(a.shape)

