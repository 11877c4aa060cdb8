"""KKT conditions of max-margin problems, measured along a run, and the asymptotics of gradient
flow on separable data (Soudry et al. 2018).

KKT residuals
    :func:`~ibcore.margin.kkt_residuals` fits the best non-negative multipliers to a direction
    (a function of the direction only); :func:`~ibcore.margin.gradient_kkt_residuals` reads the
    multipliers off the loss's gradient weights; :func:`~ibcore.margin.homogeneous_kkt_residual`
    is the same fit for a ``degree``-homogeneous model (a network). The first three dict keys of
    :func:`~ibcore.margin.kkt_residuals` are field names of :class:`~ibcore.margin.KKTResiduals`;
    its ``"margin_gap"`` is the relative gap, the record's ``absolute_margin_gap`` the absolute
    one.

Asymptotics
    Under the gradient flow ``dw/dt = -grad L(w)`` of the averaged exponential or logistic loss,
    ``w(t) = w_svm log t + rho(t)`` with ``rho(t)`` bounded for almost every data set; when the
    support vectors are linearly independent, the component of ``rho(t)`` in their span tends
    to ``rho_tilde`` solving ``exp(-<rho_tilde, z_s>) = n a_s`` on the support
    (:func:`~ibcore.margin.asymptotic_offset`). The angle to ``w_svm`` then obeys the cot law
    ``cot angle = (log t + b) / c + o(log t)`` (:func:`~ibcore.margin.angle_rate_constants`,
    :func:`~ibcore.margin.cot_law_angle`). GD with step ``eta`` at step ``k`` behaves like the
    flow at ``t = k eta``. :func:`~ibcore.margin.regularization_path` gives the other road to
    the max margin (weight decay ``mu -> 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SolverError
from ..validation import (
    as_array,
    as_batch,
    as_matrix,
    as_times,
    as_vector,
    positive_float,
    positive_int,
)
from .losses import SMOOTH_LOSSES, check_loss, gradient_weights, make_loss
from .svm import SVMSolution, check_data, check_svm

__all__ = [
    "CotLaw",
    "KKTResiduals",
    "angle_rate_constants",
    "asymptotic_offset",
    "cot_law_angle",
    "cot_law_norm_excess",
    "fit_cot_law",
    "gradient_kkt_residuals",
    "homogeneous_kkt_residual",
    "kkt_residuals",
    "log_rate_curvature",
    "regularization_path",
]


def homogeneous_kkt_residual(theta, q, J, degree: float = 2.0) -> tuple[float, float]:
    """KKT residuals of ``min ||theta||^2 / 2 s.t. q_i(theta) >= 1`` for a ``degree``-homogeneous
    model, after rescaling ``theta`` so that ``min_i q_i = 1``.

    With ``s = (min q)^{-1/degree}``: ``theta_hat = s theta``, ``q_hat = s^degree q``,
    ``J_hat = s^{degree-1} J``. Non-negative multipliers ``lam`` are fitted by NNLS
    (``scipy.optimize.nnls``) to ``theta_hat ~ J_hat^T lam`` together with the complementarity rows
    ``(q_hat_i - 1) lam_i ~ 0``. Both residuals are 0 at a KKT point and independent of the scale
    of ``theta``.

    Parameters
    ----------
    theta : array_like, shape (p,)
        The parameters of the model.
    q : array_like, shape (n,)
        The margins ``q_i(theta) = y_i f(theta; x_i)``, all ``> 0``.
    J : array_like, shape (n, p)
        The Jacobian ``dq_i / dtheta_j`` at ``theta``.
    degree : float, default 2.0
        The homogeneity degree ``L`` of the model, ``q(c theta) = c^L q(theta)``; ``> 0``.

    Returns
    -------
    eps : float
        Stationarity ``||theta_hat - J_hat^T lam|| / ||theta_hat||``.
    delta : float
        Complementarity ``sum_i lam_i (q_hat_i - 1) / ||theta_hat||^2``.

    Raises
    ------
    ValueError
        If ``J`` is not of shape ``(n, p)``, ``degree <= 0``, some margin ``q_i <= 0`` (the data
        must be fitted), or an input is empty or non-finite.
    TypeError
        If an input is not numeric.
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

    Parameters
    ----------
    w : array_like, shape (d,)
        A separating direction (any positive scale).
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    svm : SVMSolution, optional
        The hard-margin SVM of ``(X, y)`` (:func:`ibcore.margin.hard_margin_svm`), computed when
        omitted; pass it to avoid re-solving for many ``w``.

    Returns
    -------
    dict of str to float
        The four residuals above, under the keys ``"stationarity"``,
        ``"complementary_slackness"``, ``"primal_feasibility"`` and ``"margin_gap"``.

    Raises
    ------
    ValueError
        If ``w`` does not separate the data (``min_i y_i <w, x_i> <= 0``), on bad input, or if
        ``svm`` was computed for data of another shape.
    TypeError
        If ``svm`` is neither None nor an ``SVMSolution``.
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
    svm = check_svm(svm, X, y)
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
    """KKT residuals, multipliers read off the gradient weights
    (:func:`~ibcore.margin.gradient_kkt_residuals`).

    With ``w~ = w / min_i m_i(w)`` (so the smallest margin is 1) and the candidate dual variables
    ``alpha = c q`` taken from the normalised gradient weights ``q``
    (:func:`~ibcore.margin.gradient_weights`; ``c >= 0`` by least squares). The first three fields
    have the names of the keys of :func:`~ibcore.margin.kkt_residuals`; the margin gap is absolute
    here and named so (``kkt_residuals(...)["margin_gap"]`` is the relative gap). Dual feasibility
    (``alpha >= 0``) holds by construction. Arrays have one entry (row) per input ``w``.

    Attributes
    ----------
    stationarity : ndarray, shape (k,)
        ``||w~ - sum_i alpha_i z_i|| / ||w~||`` (= sine of the angle between ``w`` and
        ``-grad L(w)``: the tangential part of the gradient that turns the direction).
    complementary_slackness : ndarray, shape (k,)
        ``sum_i q_i (m_i(w~) - 1)``, the slack averaged with the normalised weights ``q`` (zero iff
        all gradient weight sits on minimum-margin examples).
    primal_feasibility : ndarray, shape (k,)
        ``max_i max(0, 1 - m_i(w~))``, zero up to rounding (the rescaling makes the constraints
        hold; kept so that both records have the same fields).
    absolute_margin_gap : ndarray, shape (k,)
        ``max(0, gamma* - gamma(w))``, with ``gamma(w) = min_i m_i(w) / ||w||``
        (:func:`~ibcore.margin.kkt_residuals` gives the relative gap ``1 - gamma(w) / gamma*`` under
        the key ``"margin_gap"``).
    alpha : ndarray, shape (k, n)
        ``c q``, which converges to the SVM dual variables.
    """

    stationarity: np.ndarray
    complementary_slackness: np.ndarray
    primal_feasibility: np.ndarray
    absolute_margin_gap: np.ndarray
    alpha: np.ndarray


def gradient_kkt_residuals(w, X, y, loss: str = "logistic", *, svm: SVMSolution | None = None):
    """KKT residuals (:class:`~ibcore.margin.KKTResiduals`) of each row of ``w``, with the candidate
    multipliers ``alpha = c q`` read off the loss's normalised gradient weights ``q`` at ``w``.

    Unlike :func:`~ibcore.margin.kkt_residuals` (best multipliers, a function of the direction
    only), the multipliers come from the gradient at ``w`` itself, so the residuals measure how far
    the *gradient* is from the SVM certificate; they vanish only as ``||w|| -> infinity`` along the
    SVM direction. ``c = max(0, <w~, G> / ||G||^2)`` with ``G = sum_i q_i z_i`` (the direction of
    ``-grad L(w)``) and ``w~ = w / min_i m_i(w)``.

    Parameters
    ----------
    w : array_like, shape (d,) or (k, d)
        One separating direction or a batch of them (any positive scale).
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    loss : {"logistic", "exponential"}, default "logistic"
        The smooth loss whose gradient weights give the multipliers.
    svm : SVMSolution, optional
        The hard-margin SVM of ``(X, y)`` (:func:`~ibcore.margin.hard_margin_svm`), computed when
        omitted.

    Returns
    -------
    KKTResiduals
        Fields with one entry (row for ``alpha``) per row of ``w``; ``k = 1`` for a single ``w``.

    Raises
    ------
    ValueError
        If a row of ``w`` does not separate the data (``min_i y_i <w, x_i> <= 0``), the loss is not
        a smooth one, ``svm`` was computed for data of another shape, the data are not separable
        (when ``svm`` is computed), or on bad input (shapes, non-finite values, labels).
    TypeError
        If ``loss`` is not a string, or ``svm`` is neither None nor an ``SVMSolution``.
    """
    X, y = check_data(X, y)
    loss = check_loss(loss, SMOOTH_LOSSES)
    W, _ = as_batch(w, "w", d=X.shape[1])
    svm = check_svm(svm, X, y)
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
        complementary_slackness=comp,
        primal_feasibility=np.maximum(0.0, np.max(1.0 - Mt, axis=1)),
        absolute_margin_gap=np.maximum(gap, 0.0),
        alpha=c[:, None] * qhat,
    )


def asymptotic_offset(X, y, *, svm: SVMSolution | None = None) -> np.ndarray:
    """``rho_tilde``: the bounded offset in ``w(t) = w_svm log t + rho(t)`` of the gradient flow.

    Solves ``<rho, z_s> = -log(n alpha_s)`` for the support vectors ``s`` (minimum-norm solution,
    in the span of the support vectors; ``alpha`` the SVM dual variables), so that
    ``(1/n) exp(-<rho, z_s>) = alpha_s`` and ``-grad L(w_svm log t + rho) = w_svm / t + o(1/t)`` for
    the averaged exponential loss (and, asymptotically, the logistic loss). Requires linearly
    independent support vectors; when they span fewer than ``d`` dimensions the component of
    ``rho(t)`` orthogonal to them still converges, to a limit that depends on the initialisation
    (not returned).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    svm : SVMSolution, optional
        The hard-margin SVM of ``(X, y)``, computed when omitted.

    Returns
    -------
    ndarray, shape (d,)
        ``rho_tilde``.

    Raises
    ------
    ValueError
        If the support vectors are linearly dependent (``rho_tilde`` is not unique), the data are
        not separable through the origin, ``svm`` belongs to other data, or on bad input.
    TypeError
        If ``svm`` is neither None nor an ``SVMSolution``.
    """
    X, y = check_data(X, y)
    svm = check_svm(svm, X, y)
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
    orthogonal complement of ``w_svm``, ``cot angle(w(t), w_svm) = (log t + b) / c + o(log t)``,
    where ``c = ||P_perp rho|| / ||w_svm||`` and ``b = <w_svm, rho> / ||w_svm||^2``; so the angle is
    ``arctan(c / (log t + b)) + o(1/log t)`` and ``angle * log t -> c``. Any dimension (also the
    lifted multiclass problem).

    Parameters
    ----------
    w_svm : array_like, shape (d,)
        The hard-margin SVM weights (norm ``1 / gamma*``), nonzero.
    rho : array_like, shape (d,)
        The limit offset, e.g. :func:`~ibcore.margin.asymptotic_offset`.

    Returns
    -------
    c : float
        ``||P_perp rho|| / ||w_svm|| >= 0``.
    b : float
        ``<w_svm, rho> / ||w_svm||^2``.

    Raises
    ------
    ValueError
        For ``w_svm = 0``, mismatched lengths or non-finite input.
    TypeError
        If an input is not numeric.
    """
    w_svm = as_vector(w_svm, "w_svm")
    rho = as_vector(rho, "rho", length=w_svm.size)
    norm2 = float(w_svm @ w_svm)
    if norm2 == 0.0:
        raise ValueError("w_svm must be nonzero (it is the max-margin solution, norm 1/gamma*)")
    b = float(rho @ w_svm) / norm2
    c = float(np.linalg.norm(rho - b * w_svm)) / np.sqrt(norm2)
    return c, b

# -- the cot law ------------------------------------------------------------------------------


def _law_constants(c, b) -> tuple[float, float]:
    c = positive_float(c, "c", allow_zero=True)
    b = float(as_array(b, "b", ndim=0))
    return c, b


def _log_times(t, b: float) -> tuple[np.ndarray, bool]:
    single = np.ndim(t) == 0
    t = as_times(t, "t")
    if np.any(t <= 0):
        raise ValueError(f"t must be > 0 (the law is in log t), got a minimum of {t.min():.3g}")
    if np.any(np.log(t) + b <= 0):
        raise ValueError(
            f"the cot law has a pole at log t = -b = {-b:.4g}: pass times t > exp(-b) = "
            f"{np.exp(-b):.4g} (the law is asymptotic)"
        )
    return t, single


def cot_law_angle(t, c, b):
    """The angle predicted by the cot law, ``arctan(c / (log t + b))``.

    If ``w(t) = w_svm log t + rho + o(1)``, then ``cot angle(w(t), w_svm) = (log t + b) / c +
    o(log t)`` with the constants ``(c, b)`` of :func:`~ibcore.margin.angle_rate_constants` (or
    fitted by :func:`~ibcore.margin.fit_cot_law`), so the angle is ``arctan(c / (log t + b)) + o(1 /
    log t)``.

    Parameters
    ----------
    t : float or array_like
        Times ``> exp(-b)`` (past the pole of the law at ``log t = -b``), a scalar or a 1-D grid.
    c : float
        ``>= 0``.
    b : float
        The offset of the law.

    Returns
    -------
    float or ndarray
        The predicted angle in radians (a float for a scalar ``t``, else one per time).

    Raises
    ------
    ValueError
        For ``t <= exp(-b)`` (or ``t <= 0``), ``c < 0`` or non-finite input.
    TypeError
        If ``c`` is not a real number or ``t``, ``b`` are not numeric.
    """
    c, b = _law_constants(c, b)
    t, single = _log_times(t, b)
    out = np.arctan(c / (np.log(t) + b))
    return float(out[0]) if single else out


def cot_law_norm_excess(t, c, b, w_norm):
    """``||w(t)|| - log t / gamma*`` predicted to second order:
    ``||w_svm|| (b + c^2 / (2 (log t + b)))``.

    From ``||w_svm log t + rho||^2 = ||w_svm||^2 ((log t + b)^2 + c^2)`` (the decomposition of
    :func:`~ibcore.margin.angle_rate_constants`) and ``sqrt(1 + x) = 1 + x/2 + O(x^2)``;
    ``w_norm = ||w_svm|| = 1 / gamma*``.

    Parameters
    ----------
    t : float or array_like
        Times ``> exp(-b)``, a scalar or a 1-D grid.
    c : float
        ``>= 0``.
    b : float
        The offset of the law.
    w_norm : float
        ``||w_svm|| = 1 / gamma* > 0``.

    Returns
    -------
    float or ndarray
        The predicted excess norm (a float for a scalar ``t``, else one per time).

    Raises
    ------
    ValueError
        For ``t <= exp(-b)`` (or ``t <= 0``), ``c < 0``, ``w_norm <= 0`` or non-finite input.
    TypeError
        If ``c`` or ``w_norm`` is not a real number, or ``t``, ``b`` are not numeric.
    """
    c, b = _law_constants(c, b)
    w_norm = positive_float(w_norm, "w_norm")
    t, single = _log_times(t, b)
    out = w_norm * (b + c**2 / (2 * (np.log(t) + b)))
    return float(out[0]) if single else out


@dataclass(frozen=True)
class CotLaw:
    """The constants ``(c, b)`` of the cot law ``cot angle = (log t + b) / c``.

    Returned by :func:`~ibcore.margin.fit_cot_law`; the prediction is
    :func:`~ibcore.margin.cot_law_angle` ``(t, c, b)``.

    Attributes
    ----------
    c : float
        ``1 / slope`` of ``cot angle`` in ``log t`` (``> 0`` for a fit).
    b : float
        ``intercept / slope``: the shift of ``log t``.
    """

    c: float
    b: float


def fit_cot_law(t, angle) -> CotLaw:
    """Fit ``cot angle(t) = (log t + b) / c``: the least-squares line of ``cot angle`` in ``log t``.

    The slope is ``1 / c`` and the intercept ``b / c`` (``numpy.polyfit`` of degree 1); compare with
    the constants :func:`~ibcore.margin.angle_rate_constants` predicts from the data.

    Parameters
    ----------
    t : array_like, shape (m,)
        At least two times, all ``> 0``.
    angle : array_like, shape (m,)
        The measured angles in radians, in ``(0, pi/2)``.

    Returns
    -------
    CotLaw
        The fitted constants ``(c, b)``.

    Raises
    ------
    ValueError
        With fewer than two times, a time ``<= 0``, an angle outside ``(0, pi/2)``, mismatched
        lengths, non-finite input, or if the fitted slope is not positive (the angle does not
        decrease like ``1 / log t``).
    TypeError
        If an input is not numeric.
    """
    t = as_times(t, "t")
    angle = as_vector(angle, "angle", length=t.size)
    if t.size < 2 or np.any(t <= 0):
        raise ValueError("fit_cot_law needs at least two times t > 0")
    if np.any(angle <= 0) or np.any(angle >= np.pi / 2):
        raise ValueError("angle must lie in (0, pi/2) (radians) for a cot-law fit")
    slope, intercept = np.polyfit(np.log(t), 1 / np.tan(angle), 1)
    if not slope > 0:
        raise ValueError(
            f"the fitted slope of cot(angle) in log t is {slope:.3g} <= 0: the angle does not "
            "decay like 1 / log t on these times"
        )
    return CotLaw(c=float(1 / slope), b=float(intercept / slope))


def log_rate_curvature(t, r) -> tuple[float, float]:
    """``(kappa, kappa_power)``: a three-point test that tells ``1/log t`` from a power law.

    ``t = (t1, t2, t3)`` are increasing positive times and ``r`` positive values of a quantity at
    those times (an angle, a KKT residual). With ``L_j = log t_j``, ``D = L3 - L1`` and
    ``s = (L2 - L1) / D``::

        kappa = r2 * ((1 - s) / r1 + s / r3).

    If ``r(t) = K / (log t + b)`` for any ``K > 0`` and ``b``, then ``1/r`` is affine in ``log t``
    and ``kappa = 1`` exactly. A power law ``r = C t^(-p)`` with the same end-to-end drop
    ``r1 / r3 = exp(p D)`` gives instead

        kappa_power = (1 - s) exp(-p s D) + s exp(p (1 - s) D) >= 1,

    with equality only for ``p = 0`` (convexity of ``exp``; ``cosh(p D / 2)`` for ``s = 1/2``). A
    window on the drop ``r1 / r3`` alone cannot separate the two laws (``t^(-p)`` with a suitable
    ``p`` has any drop); ``kappa`` close to 1 while ``kappa_power - 1`` is not small does.

    Parameters
    ----------
    t : array_like, shape (3,)
        Strictly increasing positive times.
    r : array_like, shape (3,)
        Positive values of the decaying quantity at ``t``.

    Returns
    -------
    kappa : float
        The measured curvature (1 for an exact ``1/log t`` law).
    kappa_power : float
        What the power law with the same drop would give (``>= 1``).

    Raises
    ------
    ValueError
        Unless ``t`` and ``r`` have three positive finite entries and ``t`` increases strictly.
    TypeError
        If an input is not numeric.
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


def regularization_path(
    X, y, mus, *, loss: str = "logistic", tol: float = 1e-10, max_iter: int = 200
) -> np.ndarray:
    """Minimisers ``w_mu = argmin L(w) + (mu/2) ||w||^2`` for each ``mu`` in ``mus``.

    ``L`` is the averaged smooth loss and ``mu`` the coefficient of the L2 penalty (weight decay);
    the objective is ``mu``-strongly convex, so the minimiser is unique. Solved by damped Newton
    (backtracking on the objective) with warm starts from ``w = 0`` along ``mus`` sorted in
    decreasing order; stops when the gradient of the objective is below ``tol`` times the size of
    its two terms, ``||grad L|| + mu ||w||``. As ``mu -> 0`` the direction tends to the max-margin
    direction (Rosset, Zhu & Hastie 2004), the limit direction of gradient descent (Ji, Dudik,
    Schapire & Telgarsky 2020).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    mus : array_like, shape (m,)
        Penalty coefficients, all ``> 0``, in any order.
    loss : {"logistic", "exponential"}, default "logistic"
        The averaged smooth loss ``L``.
    tol : float, default 1e-10
        Relative gradient tolerance, ``> 0``.
    max_iter : int, default 200
        Newton steps allowed per ``mu``, ``>= 1``.

    Returns
    -------
    ndarray, shape (m, d)
        ``w_mu``, one row per entry of ``mus``, in the order of ``mus``.

    Raises
    ------
    ValueError
        If some ``mu <= 0``, ``tol <= 0``, ``max_iter < 1``, the loss is not a smooth one, or on
        bad data.
    TypeError
        If ``loss`` is not a string or ``max_iter`` not an integer.
    SolverError
        If Newton does not converge within ``max_iter`` steps for some ``mu``
        (:class:`ibcore.SolverError`).
    """
    X, y = check_data(X, y)
    loss = check_loss(loss, SMOOTH_LOSSES)
    mus = as_vector(mus, "mus")
    if np.any(mus <= 0):
        raise ValueError("mus must be > 0 (mu = 0 has no minimiser on separable data)")
    tol = positive_float(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    fun = make_loss(X, y, loss)
    Z = y[:, None] * X
    n, d = Z.shape
    out = np.empty((mus.size, d))
    w = np.zeros(d)

    def objective(w, mu):
        return fun(w)[0] + 0.5 * mu * (w @ w)

    for k in np.argsort(-mus):
        mu = float(mus[k])
        for _ in range(max_iter):
            value, grad = fun(w)
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
            raise SolverError(f"regularization_path: Newton did not converge for mu={mu:g}")
        out[k] = w
    return out
