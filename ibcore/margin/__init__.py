"""Margins, the hard-margin SVM, and gradient descent on separable data ("SGD ≈ SVM").

A subpackage: :mod:`~ibcore.margin.svm` (the hard-margin SVM and the max-margin problems),
:mod:`~ibcore.margin.losses` (classification losses and gradient weights),
:mod:`~ibcore.margin.kkt` (KKT residuals, the asymptotic offset and rate constants, the
regularization path) and :mod:`~ibcore.margin.dynamics` (the flow, loss-normalised GD and
steepest descent on separable data). Their public names are importable from ``ibcore.margin``;
the data generators are in :mod:`ibcore.datasets`.

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
    :func:`max_margin_lp` solves the max-margin problem in the l_p norm, ``p`` in
    ``{1, 2, inf}`` (an LP for 1 and inf, :mod:`ibcore.lp_geometry`), the limit of
    :func:`steepest_descent` in that norm (Gunasekar et al. 2018). With ``K`` classes,
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

from .dynamics import flow_path, normalized_gd, steepest_descent
from .kkt import (
    CotLaw,
    KKTResiduals,
    angle_rate_constants,
    asymptotic_offset,
    cot_law_angle,
    cot_law_norm_excess,
    fit_cot_law,
    gradient_kkt_residuals,
    homogeneous_kkt_residual,
    kkt_residuals,
    log_rate_curvature,
    regularization_path,
)
from .losses import (
    LOSSES,
    SMOOTH_LOSSES,
    gradient_weights,
    loss_and_grad,
    make_loss,
    multiclass_loss,
    smoothness,
)
from .svm import (
    SVMSolution,
    angle,
    brute_force_direction_2d,
    check_data,
    hard_margin_svm,
    max_margin,
    max_margin_lp,
    multiclass_lift,
    multiclass_svm,
    normalized_margin,
)

__all__ = [
    "LOSSES",
    "SMOOTH_LOSSES",
    "CotLaw",
    "KKTResiduals",
    "SVMSolution",
    "angle",
    "angle_rate_constants",
    "asymptotic_offset",
    "brute_force_direction_2d",
    "check_data",
    "cot_law_angle",
    "cot_law_norm_excess",
    "fit_cot_law",
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
    "multiclass_lift",
    "multiclass_loss",
    "multiclass_svm",
    "normalized_gd",
    "normalized_margin",
    "regularization_path",
    "smoothness",
    "steepest_descent",
]
