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

    :func:`~.expected_dropout_loss` evaluates the right-hand side and :func:`~.mc_dropout_loss`
    estimates the left-hand side by sampling masks. The ``*_contributions`` builders give ``C``
    for matrix factorization, matrix sensing/completion, input dropout in linear regression, and
    dropout on the top hidden layer of a deep network.

Further parts
    Matrix completion on a sample of entries (:func:`~.completion_dropout_objective`, whose
    regularizer is the *sample* one, versus the *population* regularizer of
    :func:`~.minimize_completion_objective`), deep linear networks with dropout on every hidden
    layer (:func:`~.deep_linear_dropout_regularizer`), and the two kernel regimes of a dropped-out
    readout (fixed masks: :func:`~ibcore.dropout.fixed_mask_kernel_regression`; resampled masks:
    :func:`~ibcore.dropout.resampled_mask_readout`). Widths of hidden layers are called ``m``.

Modules (every public name is re-exported here, so ``ibcore.dropout.dropout_penalty`` works)
    :mod:`~ibcore.dropout.regularizer` (the master identity, penalties, Monte-Carlo checks),
    :mod:`~ibcore.dropout.landscape` (induced regularizer, equalization, closed-form optimum,
    critical points), :mod:`~ibcore.dropout.completion` (sample vs population regularizer of
    matrix completion), :mod:`~ibcore.dropout.trace_norm` (the convex population problem of
    completion and its certificate), :mod:`~ibcore.dropout.input_dropout` (input dropout in
    linear regression), :mod:`~ibcore.dropout.mask_sgd` (SGD with sampled masks),
    :mod:`~ibcore.dropout.deep_linear` (dropout on every layer of a deep linear network),
    :mod:`~ibcore.dropout.kernel` (fixed vs resampled masks on a readout).
"""

from __future__ import annotations

from .completion import (
    CompletionOptimum,
    completion_dropout_objective,
    completion_risk,
    minimize_completion_objective,
    minimize_dropout_completion,
    projected_dropout_completion,
    rank_one_dropout_completion,
)
from .deep_linear import (
    DeepFit,
    DeepLowerBound,
    deep_dropout_constant,
    deep_dropout_lower_bound,
    deep_linear_dropout_objective,
    deep_linear_dropout_regularizer,
    equalized_deep_factors,
    mc_deep_linear_dropout_loss,
    minimize_deep_linear_dropout,
)
from .input_dropout import (
    InputDropoutComparison,
    RegressionData,
    compare_input_dropout,
    gaussian_regression,
    input_dropout_contributions,
    input_dropout_ridge,
)
from .kernel import (
    dropout_kernel,
    fixed_mask_kernel_regression,
    fixed_mask_readout,
    mc_dropout_kernel,
    random_relu_features,
    resampled_mask_readout,
)
from .landscape import (
    CriticalPoint,
    DropoutOptimum,
    EqualizationGap,
    dropout_optimum,
    equalization_gap_2d,
    equalized_factorization,
    equalizing_rotation,
    explicit_objective,
    induced_regularizer,
    minimize_explicit_objective,
    tied_gradient,
    tied_scalar_critical_points,
    tied_scalar_objective,
)
from .mask_sgd import (
    DropoutSGDResult,
    train_dropout_sgd,
)
from .regularizer import (
    DropoutLoss,
    FactorizationFit,
    MCEstimate,
    column_products,
    completion_regularizer,
    dropout_lambda,
    dropout_penalty,
    expected_dropout_loss,
    factorization_contributions,
    matrix_with_singular_values,
    mc_dropout_loss,
    mc_dropout_samples,
    nuclear_norm,
    random_orthogonal,
    relu_path_regularizer,
    sensing_contributions,
    top_layer_contributions,
)
from .trace_norm import (
    TraceNormCertificate,
    TraceNormSolution,
    minimize_weighted_trace_norm_completion,
    weighted_trace_norm_certificate,
)

__all__ = [
    "CompletionOptimum",
    "CriticalPoint",
    "DeepFit",
    "DeepLowerBound",
    "DropoutLoss",
    "DropoutOptimum",
    "DropoutSGDResult",
    "EqualizationGap",
    "FactorizationFit",
    "InputDropoutComparison",
    "MCEstimate",
    "RegressionData",
    "TraceNormCertificate",
    "TraceNormSolution",
    "column_products",
    "compare_input_dropout",
    "completion_dropout_objective",
    "completion_regularizer",
    "completion_risk",
    "deep_dropout_constant",
    "deep_dropout_lower_bound",
    "deep_linear_dropout_objective",
    "deep_linear_dropout_regularizer",
    "dropout_kernel",
    "dropout_lambda",
    "dropout_optimum",
    "dropout_penalty",
    "equalization_gap_2d",
    "equalized_deep_factors",
    "equalized_factorization",
    "equalizing_rotation",
    "expected_dropout_loss",
    "explicit_objective",
    "factorization_contributions",
    "fixed_mask_kernel_regression",
    "fixed_mask_readout",
    "gaussian_regression",
    "induced_regularizer",
    "input_dropout_contributions",
    "input_dropout_ridge",
    "matrix_with_singular_values",
    "mc_deep_linear_dropout_loss",
    "mc_dropout_kernel",
    "mc_dropout_loss",
    "mc_dropout_samples",
    "minimize_completion_objective",
    "minimize_deep_linear_dropout",
    "minimize_dropout_completion",
    "minimize_explicit_objective",
    "minimize_weighted_trace_norm_completion",
    "nuclear_norm",
    "projected_dropout_completion",
    "random_orthogonal",
    "random_relu_features",
    "rank_one_dropout_completion",
    "relu_path_regularizer",
    "resampled_mask_readout",
    "sensing_contributions",
    "tied_gradient",
    "tied_scalar_critical_points",
    "tied_scalar_objective",
    "top_layer_contributions",
    "train_dropout_sgd",
    "weighted_trace_norm_certificate",
]
