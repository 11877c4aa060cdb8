"""Neural tangent kernels: analytic (infinite width, numpy) and empirical (finite width, torch).

Conventions (identical to the reference library *neural-tangents*, ``parameterization='ntk'``):
the networks are :class:`ibcore.mlp.MLPSpec` networks (weight and bias stds ``w_std``,
``b_std``; ReLU without the factor 2), the loss is ``(1/2n) sum_i (f(x_i) - y_i)^2``, and
gradient descent with step ``eta`` sits at flow time ``t = k eta`` after ``k`` steps.

Modules
    :mod:`ibcore.ntk.analytic`
        The infinite-width NNGP and NTK (layer recursion, layer terms, the lecture notes' layer
        sum, the two-layer kernels), numpy only.
    :mod:`ibcore.ntk.empirical`
        :func:`empirical_ntk` (a torch module -> its NTK) and its uses for the course's networks.
    :mod:`ibcore.ntk.lazy`
        Training by gradient descent: lazy training, outputs along a run, the path kernel.
    :mod:`ibcore.ntk.fourier`
        Circle points, their Fourier basis and the spectrum of circulant kernels.
    :mod:`ibcore.ntk.samples`
        Points on the sphere and corrupted labels.

The kernel-regression dynamics (``kernel_gd_predict``, ``kernel_gd_residuals``, ``KernelEigen``,
``ntk_complexity``) live in :mod:`ibcore.linear` and ``loglog_slope`` in :mod:`ibcore.stats`;
they are re-exported here so older code keeps working. ``import ibcore.ntk`` does not import
torch (the torch functions import it when called).
"""

from ..linear import KernelEigen, kernel_gd_predict, kernel_gd_residuals, ntk_complexity
from ..mlp import MLPSpec, init_params, squared_loss_fun
from ..mlp import apply as mlp_apply
from ..mlp import module as mlp_module
from ..stats import loglog_slope
from .analytic import (
    lecture_notes_ntk,
    relu_kernels,
    relu_nngp,
    relu_ntk,
    relu_ntk_layer_terms,
    two_layer_finite_ntk,
    two_layer_ntk,
)
from .empirical import (
    empirical_ntk,
    empirical_ntk_errors,
    empirical_ntk_loop,
    jacobian_kernel,
    mlp_empirical_ntk,
    mlp_empirical_ntk_layers,
    one_hidden_layer_ntk,
    two_layer_empirical_ntk,
    two_layer_module,
)
from .fourier import circle_points, circulant_spectrum, fourier_basis
from .lazy import (
    LazyMeasures,
    LazyResult,
    PathKernelResult,
    lazy_measures,
    path_kernel_gd,
    path_kernel_label_change,
    train_network,
    train_outputs,
)
from .samples import corrupt_labels, unit_sphere_points

__all__ = [
    "KernelEigen",
    "LazyMeasures",
    "LazyResult",
    "MLPSpec",
    "PathKernelResult",
    "circle_points",
    "circulant_spectrum",
    "corrupt_labels",
    "empirical_ntk",
    "empirical_ntk_errors",
    "empirical_ntk_loop",
    "fourier_basis",
    "init_params",
    "jacobian_kernel",
    "kernel_gd_predict",
    "kernel_gd_residuals",
    "lazy_measures",
    "lecture_notes_ntk",
    "loglog_slope",
    "mlp_apply",
    "mlp_empirical_ntk",
    "mlp_empirical_ntk_layers",
    "mlp_module",
    "ntk_complexity",
    "one_hidden_layer_ntk",
    "path_kernel_gd",
    "path_kernel_label_change",
    "relu_kernels",
    "relu_nngp",
    "relu_ntk",
    "relu_ntk_layer_terms",
    "squared_loss_fun",
    "train_network",
    "train_outputs",
    "two_layer_empirical_ntk",
    "two_layer_finite_ntk",
    "two_layer_module",
    "two_layer_ntk",
    "unit_sphere_points",
]
