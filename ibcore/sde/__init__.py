"""Gradient noise, stochastic differential equations (SDEs) for SGD, and the implicit bias of noise.

Conventions
    Parameters are ``x`` (a row vector of length ``d``); an *ensemble* of SGD paths stores them
    as an array ``(n_paths, d)``, so that every statistic over paths is one vectorized numpy
    operation per step. Losses follow the course: a finite sum ``L(x) = (1/m) sum_i f_i(x)``
    with, for least squares, ``f_i(x) = (a_i^T x - y_i)^2 / 2`` (``A`` is ``(m, d)``, one example
    per row), so ``grad L(x) = A^T (A x - y) / m`` and ``H = A^T A / m``.

Gradient noise
    A mini-batch of size ``B`` averages ``B`` per-example gradients. With ``Sigma(x)`` the
    *population* covariance of the per-example gradients (divided by ``m``, not ``m - 1``), the
    mini-batch mean gradient has covariance ``c_B Sigma(x)`` with

        c_B = 1 / B                       (i.i.d. indices, with replacement),
        c_B = (m - B) / ((m - 1) B)       (B distinct indices, without replacement),

    (:func:`~.minibatch_factor`). More generally, for per-example vectors ``u_i, v_i`` with batch
    means ``u_B, v_B``: ``E[u_B v_B^T] = c_B S + (1 - c_B) u_bar v_bar^T`` with
    ``S = (1/m) sum_i u_i v_i^T``; this one identity gives every moment recursion below.

SGD and its canonical SDE
    SGD ``x_{k+1} = x_k - eta g_k`` with ``E g_k = grad L(x_k)`` and ``Cov g_k = Sigma_B(x_k)`` is
    compared at step ``k`` with the SDE at time ``t = k eta``,

        dX_t = -grad L(X_t) dt + sqrt(eta) Sigma_B(X_t)^{1/2} dW_t        (canonical SDE),

    (Li, Tai & E 2017, 2019). On the linear model ``theta <- theta - eta (H theta - b + xi)``
    with a constant noise covariance ``Cov xi = Sigma`` both have closed-form moments (for any
    noise law) (:func:`~ibcore.sde.quadratic_moments`) and stationary covariances solving

        C = (I - eta H) C (I - eta H) + eta^2 Sigma         (SGD, exact),
        H C + C H = eta Sigma                               (SDE),

    (:func:`~.sgd_stationary_covariance`, :func:`~.sde_stationary_covariance`). For least squares
    with mini-batch noise (state-dependent ``Sigma(x)``) the first two moments are still closed:
    :func:`~ibcore.sde.least_squares_moments` (SGD and SVAG, exact recursion) and
    :func:`~.least_squares_sde_moments` (the SDE, exact linear ODE solved by a matrix exponential).

SVAG (Li, Malladi & Arora 2021)
    ``g_hat = a g_1 + c g_2`` with two independent mini-batch gradients, ``(a, c) =
    ((1 + sqrt(2l - 1)) / 2, (1 - sqrt(2l - 1)) / 2)`` (:func:`~.svag_coefficients`, ``a + c = 1``,
    ``a^2 + c^2 = l``) and learning rate ``eta / l``: same mean gradient, ``l`` times the noise
    covariance, hence the same canonical SDE, reached with error ``O(eta / l)``.

Implicit bias of noise
    :func:`~.diagonal_sgd_paths` runs SGD (mini-batch and/or label noise) on the diagonal network
    ``w = u*u - v*v`` of :mod:`ibcore.diagonal`; :func:`~.diagonal_hessian_trace` is the exact
    ``Tr grad^2 L(u, v)``; :func:`~.label_noise_flow` integrates the limiting flow of label-noise
    SGD on the manifold of interpolants (Li, Wang & Arora 2022, label-noise case),
    ``d theta / dtau = -(delta^2 / 4n) P_T grad Tr grad^2 L(theta)`` in ``tau = k eta^2``.
    :func:`~ibcore.sde.sphere_sgd_paths` runs SGD with weight decay on a scale-invariant loss (the
    equilibrium of the normalization chapter, sustained by gradient noise).

Divergence policy (as :mod:`ibcore.descent`)
    Every loop runs on :func:`ibcore.descent.iterate`. An ensemble *diverges at step k* when
    some path has ``|x| > 1e12 * max(1, |x_0|, scale)`` or a non-finite entry; the run then
    stops and reports ``diverged_at = k`` (arrays hold only the checkpoints before ``k``). The
    moment recursion diverges when the expected loss exceeds ``1e12 * max(1, E L(x_0))``. No NaN
    is returned; :func:`~ibcore.sde.sphere_sgd_paths` raises :class:`ibcore.DivergenceError`.

Modules (every public name is re-exported here, so ``ibcore.sde.<name>`` keeps working)
    :mod:`~ibcore.sde.gradient_noise` (mini-batch covariance, SVAG weights),
    :mod:`~ibcore.sde.moments` (exact moments and stationary covariances of SGD and its SDE),
    :mod:`~ibcore.sde.paths` (path ensembles on linear models, Brownian paths),
    :mod:`~ibcore.sde.noise_bias` (label noise on diagonal networks, the sphere equilibrium).

Every public function validates its arguments (``ValueError``/``TypeError`` naming the
argument); randomness comes from an explicit ``seed``.
"""

from __future__ import annotations

from .gradient_noise import (
    BLOWUP_FACTOR,
    batch_means,
    least_squares_noise_covariance,
    minibatch_covariance,
    minibatch_factor,
    per_example_gradients,
    svag_coefficients,
)
from .moments import (
    Moments,
    least_squares_moments,
    least_squares_sde_moments,
    quadratic_moments,
    sde_stationary_covariance,
    sgd_stationary_covariance,
)
from .noise_bias import (
    DiagonalFlowLimit,
    LabelNoisePath,
    SphereRun,
    diagonal_flow_limit,
    diagonal_hessian_trace,
    diagonal_sgd_paths,
    label_noise_flow,
    sphere_sgd_paths,
)
from .paths import (
    PathEnsemble,
    brownian_paths,
    least_squares_sgd_paths,
    quadratic_sgd_paths,
)

__all__ = [
    "BLOWUP_FACTOR",
    "DiagonalFlowLimit",
    "LabelNoisePath",
    "Moments",
    "PathEnsemble",
    "SphereRun",
    "batch_means",
    "brownian_paths",
    "diagonal_flow_limit",
    "diagonal_hessian_trace",
    "diagonal_sgd_paths",
    "label_noise_flow",
    "least_squares_moments",
    "least_squares_noise_covariance",
    "least_squares_sde_moments",
    "least_squares_sgd_paths",
    "minibatch_covariance",
    "minibatch_factor",
    "per_example_gradients",
    "quadratic_moments",
    "quadratic_sgd_paths",
    "sde_stationary_covariance",
    "sgd_stationary_covariance",
    "sphere_sgd_paths",
    "svag_coefficients",
]
