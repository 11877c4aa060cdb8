"""Training finite networks by gradient descent and reading the run through its tangent kernel.

The functions and records of this module are documented under :mod:`ibcore.ntk`, which
re-exports them.

The squared loss is ``L(theta) = (1/2n) sum_i (f_theta(x_i) - y_i)^2``
(:func:`ibcore.mlp.squared_loss_fun`), the normalisation of neural-tangents'
``predict.gradient_descent_mse``; gradient descent with step ``eta`` sits at gradient-flow time
``t = k eta`` after ``k`` steps, where in the kernel regime the training residual is
``exp(-K t / n) r(0)`` (flow) or ``(I - eta K / n)^k r(0)`` (GD,
:func:`ibcore.linear.kernel_gd_predict`). Every run is :func:`ibcore.descent.run_gd` with
``on_divergence="raise"``: a blow-up raises :class:`ibcore.DivergenceError` (step, loss, and the
hint to use a smaller ``eta``).

* :func:`ibcore.ntk.train_network`: how far the weights and the empirical NTK move, and the
  trained linearisation (lazy training);
* :func:`ibcore.ntk.lazy_measures`: a run of :func:`ibcore.ntk.train_network` against its
  linearisation and the infinite-width kernel regression (with and without the network's
  ``f_0``);
* :func:`ibcore.ntk.train_outputs`: the network outputs along a run;
* :func:`ibcore.ntk.path_kernel_gd`: the tangent kernel accumulated along a run (Domingos' path
  kernel), and :func:`ibcore.ntk.path_kernel_label_change`: how much that kernel depends on the
  labels.

torch is imported inside the functions, so ``import ibcore.ntk`` stays torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..descent import run_gd
from ..linear import check_kernel_eta, kernel_gd_predict
from ..mlp import MLPSpec, as_spec, as_tensor, forward, init_params, squared_loss_fun
from ..mlp import apply as mlp_apply
from ..validation import as_matrix, as_vector, positive_float, positive_int
from .empirical import mlp_empirical_ntk

__all__ = [
    "LazyMeasures",
    "LazyResult",
    "PathKernelResult",
    "lazy_measures",
    "path_kernel_gd",
    "path_kernel_label_change",
    "train_network",
    "train_outputs",
]


@dataclass(frozen=True)
class PathKernelResult:
    """Output of :func:`ibcore.ntk.path_kernel_gd` (test points ``x``, training points ``x_i``).

    The run is full-batch GD on ``L = (1/2n) sum_i (f(x_i) - y_i)^2``; the kernel sums are left
    Riemann sums over the iterates ``k = 0..n_steps-1`` with weight ``eta``.

    Attributes
    ----------
    f0, fT : ndarray, shape (n_test,)
        Network outputs at the test points before and after training.
    kernel_sum : ndarray, shape (n_test,)
        ``sum_k eta sum_i (-dL/df_i)(theta_k) K_{theta_k}(x, x_i)`` with the *unnormalised*
        per-example losses, i.e. ``-dL/df_i = (y_i - f_i)/n`` for ``L = (1/2n) sum (f - y)^2``.
    path_kernel : ndarray, shape (n_test, n)
        ``K^p(x, x_i) = sum_k eta K_{theta_k}(x, x_i)`` (Domingos' path kernel, left Riemann sum).
    coef : ndarray, shape (n_test, n)
        ``a_i(x)``: the path-kernel-weighted average of ``-dL/df_i`` along the path, so that
        ``kernel_sum = sum_i a_i(x) K^p(x, x_i)`` (``a_i(x) = 0`` where ``K^p(x, x_i) = 0``).
    loss : ndarray, shape (n_steps + 1,)
        Training loss along the run.
    theta : ndarray, shape (n_steps + 1, P)
        The parameters along the run (``P = spec.n_params``).
    """

    f0: np.ndarray
    fT: np.ndarray
    kernel_sum: np.ndarray
    path_kernel: np.ndarray
    coef: np.ndarray
    loss: np.ndarray
    theta: np.ndarray

    @property
    def discretization_error(self) -> float:
        """``max_x |f_T(x) - f_0(x) - kernel_sum(x)|``, the ``O(eta)`` error of the Riemann sum."""
        return float(np.max(np.abs(self.fT - self.f0 - self.kernel_sum)))


def path_kernel_gd(
    spec: MLPSpec,
    theta0,
    X,
    y,
    X_test,
    *,
    eta: float,
    n_steps: int,
    chunk: int = 64,
) -> PathKernelResult:
    """Train by full-batch GD on the squared loss and accumulate the tangent kernel along the path.

    The loss is ``L = (1/2n) sum_i (f_theta(x_i) - y_i)^2``. Under gradient flow
    ``df(x)/dt = sum_i (-dL/df_i) K_theta(x, x_i)`` exactly, so
    ``f_T(x) - f_0(x) = int_0^T sum_i (-dL/df_i) K_{theta(t)}(x, x_i) dt``. Gradient descent
    with step ``eta`` is the Euler scheme of that flow; the left Riemann sum over the GD iterates
    (``kernel_sum``) then differs from ``f_T - f_0`` by ``O(eta)`` at a fixed time
    ``T = n_steps * eta`` (one ``O(eta^2)`` Taylor remainder per step, ``T / eta`` steps).

    The run uses :func:`ibcore.descent.run_gd` (every step recorded, ``on_divergence="raise"``);
    the Jacobians at every iterate are computed afterwards, vectorised over ``chunk`` iterates at a
    time (``torch.func.vmap``).

    Parameters
    ----------
    spec : MLPSpec
        The network.
    theta0 : array_like, shape (spec.n_params,)
        Initial parameters.
    X : array_like, shape (n, spec.d)
        Training inputs.
    y : array_like, shape (n,)
        Training targets.
    X_test : array_like, shape (n_test, spec.d)
        Points ``x`` at which the kernels and outputs are taken.
    eta : float, keyword-only
        Step size, ``> 0``.
    n_steps : int, keyword-only
        Number of GD steps, ``>= 1``.
    chunk : int, keyword-only
        Iterates per vectorised Jacobian batch, ``>= 1`` (memory only; same result).

    Returns
    -------
    PathKernelResult

    Raises
    ------
    TypeError
        If ``spec`` is not an :class:`ibcore.mlp.MLPSpec`, or an argument has the wrong type.
    ValueError
        For arrays of the wrong shape or non-finite, a non-positive ``eta``, ``n_steps`` or
        ``chunk``.
    ibcore.DivergenceError
        If the loss blows up during the run (:class:`ibcore.DivergenceError`; use a smaller
        ``eta``).
    """
    import torch
    from torch.func import jacrev, vmap

    spec = as_spec(spec)
    theta0 = spec.check_theta(theta0, "theta0")
    X = spec.check_inputs(X)
    y = as_vector(y, "y", length=X.shape[0])
    X_test = spec.check_inputs(X_test, "X_test")
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps")
    chunk = positive_int(chunk, "chunk")
    traj = run_gd(
        squared_loss_fun(spec, X, y), theta0, eta, n_steps, checkpoints=np.arange(n_steps + 1),
        on_divergence="raise",
    )
    n, nt = X.shape[0], X_test.shape[0]
    XA = as_tensor(np.vstack([X, X_test]))
    y_t = as_tensor(y)

    def jac(th):
        return jacrev(lambda p: forward(spec, p, XA))(th)

    def out(th):
        return forward(spec, th, XA)

    thetas = as_tensor(traj.w)
    kernel_sum = torch.zeros(nt, dtype=torch.float64)
    weighted = torch.zeros(nt, n, dtype=torch.float64)
    path_kernel = torch.zeros(nt, n, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, n_steps, chunk):  # iterates 0 .. n_steps-1 (left sums)
            th = thetas[start : min(start + chunk, n_steps)]
            J = vmap(jac)(th)  # (c, n + nt, P)
            F = vmap(out)(th)  # (c, n + nt)
            K = torch.einsum("cap,cbp->cab", J[:, n:], J[:, :n])  # (c, nt, n)
            g = (y_t - F[:, :n]) / n  # -dL/df_i
            weighted += eta * torch.einsum("cab,cb->ab", K, g)
            path_kernel += eta * K.sum(0)
        kernel_sum = weighted.sum(1)
        f_all = vmap(out)(thetas[[0, -1]])
    w_np, pk_np = weighted.numpy(), path_kernel.numpy()
    coef = np.divide(w_np, pk_np, out=np.zeros_like(w_np), where=pk_np != 0)  # 0 where K^p = 0
    return PathKernelResult(
        f0=f_all[0, n:].numpy().copy(),
        fT=f_all[1, n:].numpy().copy(),
        kernel_sum=kernel_sum.numpy().copy(),
        path_kernel=path_kernel.numpy().copy(),
        coef=coef.copy(),
        loss=traj.loss.copy(),
        theta=traj.w,
    )


# -- lazy training ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LazyResult:
    """Output of :func:`ibcore.ntk.train_network` (one width, one seed).

    The run is full-batch GD with step ``eta`` on ``(1/2n) sum_i (f(x_i) - y_i)^2`` from
    ``theta_0 = init_params(spec, seed=seed)``; ``Theta`` is the empirical NTK (unnormalised sum
    over all parameters).

    Attributes
    ----------
    rel_weight_change : float
        ``||theta_T - theta_0|| / ||theta_0||``.
    rel_kernel_change : float
        ``||Theta_T - Theta_0||_F / ||Theta_0||_F`` on the training inputs.
    f0_train, f0_test, fT_train, fT_test : ndarray, shapes (n,) and (n_test,)
        Network outputs before and after training.
    flin_test : ndarray, shape (n_test,)
        Outputs of the network's linearisation ``f_0 + J_0 (theta - theta_0)`` trained by the
        same gradient descent (closed form :func:`ibcore.linear.kernel_gd_predict` with the
        empirical kernel at initialisation).
    K0_train, K0_test_train : ndarray, shapes (n, n) and (n_test, n)
        Empirical NTK at initialisation (train x train, test x train).
    loss : ndarray
        Training loss along the run (log-spaced checkpoints).
    """

    rel_weight_change: float
    rel_kernel_change: float
    f0_train: np.ndarray
    f0_test: np.ndarray
    fT_train: np.ndarray
    fT_test: np.ndarray
    flin_test: np.ndarray
    K0_train: np.ndarray
    K0_test_train: np.ndarray
    loss: np.ndarray


def train_network(spec: MLPSpec, X, y, X_test, *, eta: float, n_steps: int, seed) -> LazyResult:
    """Train ``spec`` by full-batch GD (:func:`ibcore.descent.run_gd`) on ``(1/2n) sum (f - y)^2``.

    From ``theta_0 = init_params(spec, seed=seed)`` (the parameterization of ``spec``), ``n_steps``
    steps of ``theta <- theta - eta grad L(theta)``; measures how far the weights and the empirical
    NTK move, and the linearisation at ``theta_0`` trained by the same GD to time
    ``n_steps * eta`` (lazy training).

    Parameters
    ----------
    spec : MLPSpec
        The network.
    X : array_like, shape (n, spec.d)
        Training inputs.
    y : array_like, shape (n,)
        Training targets.
    X_test : array_like, shape (n_test, spec.d)
        Test inputs.
    eta : float, keyword-only
        Step size, ``> 0`` and below the kernel stability limit ``2n / lambda_max(Theta_0)``.
    n_steps : int, keyword-only
        Number of GD steps, ``>= 1``.
    seed : int or numpy.random.Generator, keyword-only
        Required; seeds the initialisation.

    Returns
    -------
    LazyResult

    Raises
    ------
    TypeError
        If ``spec`` is not an :class:`ibcore.mlp.MLPSpec`, or an argument has the wrong type.
    ValueError
        For arrays of the wrong shape or non-finite, a non-positive ``n_steps``, or an ``eta`` that
        is not positive or at or past ``2n / lambda_max`` of the initial empirical kernel.
    ibcore.DivergenceError
        If the loss blows up during the run (:class:`ibcore.DivergenceError`).
    """
    spec = as_spec(spec)
    X = spec.check_inputs(X)
    y = as_vector(y, "y", length=X.shape[0])
    X_test = spec.check_inputs(X_test, "X_test")
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps")
    theta0 = init_params(spec, seed=seed)
    K0 = mlp_empirical_ntk(spec, theta0, X)
    K0x = mlp_empirical_ntk(spec, theta0, X_test, X)
    f0, f0x = mlp_apply(spec, theta0, X), mlp_apply(spec, theta0, X_test)
    lam_max = float(np.linalg.eigvalsh(K0).max())
    check_kernel_eta(eta, lam_max, X.shape[0])
    traj = run_gd(squared_loss_fun(spec, X, y), theta0, eta, n_steps, on_divergence="raise")
    thT = traj.final
    KT = mlp_empirical_ntk(spec, thT, X)
    flin = kernel_gd_predict(K0, K0x, y, f0, f0x, n_steps * eta, eta=eta)[0]
    return LazyResult(
        rel_weight_change=float(np.linalg.norm(thT - theta0) / np.linalg.norm(theta0)),
        rel_kernel_change=float(np.linalg.norm(KT - K0) / np.linalg.norm(K0)),
        f0_train=f0,
        f0_test=f0x,
        fT_train=mlp_apply(spec, thT, X),
        fT_test=mlp_apply(spec, thT, X_test),
        flin_test=flin,
        K0_train=K0,
        K0_test_train=K0x,
        loss=traj.loss.copy(),
    )


def train_outputs(spec: MLPSpec, theta0, X, y, *, eta: float, n_steps: int, checkpoints=None):
    """Full-batch GD on ``(1/2n) sum (f - y)^2`` (:func:`ibcore.descent.run_gd`); outputs on ``X``.

    ``theta_{k+1} = theta_k - eta grad L(theta_k)`` from ``theta0``, and the network outputs
    ``F[j] = f_{theta_k}(X)`` at the recorded steps ``k = steps[j]``.

    Parameters
    ----------
    spec : MLPSpec
        The network.
    theta0 : array_like, shape (spec.n_params,)
        Initial parameters.
    X : array_like, shape (n, spec.d)
        Training inputs (the outputs are taken there too).
    y : array_like, shape (n,)
        Training targets.
    eta : float, keyword-only
        Step size, ``> 0``.
    n_steps : int, keyword-only
        Number of GD steps, ``>= 1``.
    checkpoints : array_like of int, optional, keyword-only
        Steps to record (default: the log-spaced checkpoints of :func:`ibcore.descent.run_gd`).

    Returns
    -------
    steps, F : tuple of ndarray, shapes (n_rec,) (int) and (n_rec, n) (float64)

    Raises
    ------
    TypeError
        If ``spec`` is not an :class:`ibcore.mlp.MLPSpec`, or an argument has the wrong type.
    ValueError
        For arrays of the wrong shape or non-finite, a non-positive ``eta`` or ``n_steps``, or
        invalid checkpoints.
    ibcore.DivergenceError
        If the run diverges (:class:`ibcore.DivergenceError`).
    """
    import torch
    from torch.func import vmap

    spec = as_spec(spec)
    theta0 = spec.check_theta(theta0, "theta0")
    X = spec.check_inputs(X)
    y = as_vector(y, "y", length=X.shape[0])
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps")
    traj = run_gd(
        squared_loss_fun(spec, X, y), theta0, eta, n_steps, checkpoints=checkpoints,
        on_divergence="raise",
    )
    X_t = as_tensor(X)
    with torch.no_grad():
        F = vmap(lambda th: forward(spec, th, X_t))(as_tensor(traj.w))
    return traj.steps.copy(), F.numpy().copy()


@dataclass(frozen=True)
class LazyMeasures:
    """Output of :func:`ibcore.ntk.lazy_measures`: how far a network is from the kernel regime.

    All differences are taken at the test points of the run.

    Attributes
    ----------
    rel_weight_change, rel_kernel_change : float
        Copied from the :class:`ibcore.ntk.LazyResult`.
    to_linearization : ndarray, shape (n_test,)
        ``f_T - f_lin`` at the test points (network minus its trained linearisation).
    to_kernel_regression : ndarray, shape (n_test,)
        ``f_T - f_inf``, ``f_inf`` the kernel-regression prediction with the limit kernel started
        from the network's own ``f_0``.
    to_kernel_without_f0 : ndarray, shape (n_test,)
        ``f_T - f_inf^0``, the same prediction started from ``f_0 = 0``.
    """

    rel_weight_change: float
    rel_kernel_change: float
    to_linearization: np.ndarray
    to_kernel_regression: np.ndarray
    to_kernel_without_f0: np.ndarray

    @property
    def row(self) -> list[float]:
        """``[weights, kernel, max|net - lin|, max|net - kernel reg.|, max|net - without f_0|]``."""
        return [
            self.rel_weight_change,
            self.rel_kernel_change,
            np.abs(self.to_linearization).max(),
            np.abs(self.to_kernel_regression).max(),
            np.abs(self.to_kernel_without_f0).max(),
        ]


def lazy_measures(result: LazyResult, K_train, K_test_train, y, time: float) -> LazyMeasures:
    """Compare a run of :func:`ibcore.ntk.train_network` with the infinite-width kernel regression.

    With the limit kernel ``K`` (``K_train = K(X, X)``, ``K_test_train = K(X_test, X)``), the
    kernel-regime prediction at gradient-flow time ``t = time``
    (:func:`ibcore.linear.kernel_gd_predict`) is
    ``f_inf = f_0(x) + K(x, X) K^{-1} (I - exp(-K t / n)) (y - f_0(X))`` started from the
    network's own outputs ``f_0`` at initialisation, and ``f_inf^0`` the same from ``f_0 = 0``.
    The lazy-training theorem says the network approaches its linearisation and ``f_inf`` as
    the width grows (NTK scaling), not ``f_inf^0``.

    Parameters
    ----------
    result : LazyResult
        The run (:class:`ibcore.ntk.LazyResult`).
    K_train : array_like, shape (n, n)
        Limit kernel on the training inputs, symmetric PSD.
    K_test_train : array_like, shape (n_test, n)
        Limit kernel between the test and the training inputs.
    y : array_like, shape (n,)
        The training targets of the run.
    time : float
        Gradient-flow time ``eta * n_steps`` of the run, ``>= 0``.

    Returns
    -------
    LazyMeasures

    Raises
    ------
    TypeError
        If ``result`` is not a :class:`ibcore.ntk.LazyResult`.
    ValueError
        If the kernels do not match the run's training and test sets or ``K_train`` is not
        symmetric PSD, or ``time < 0``.
    """
    if not isinstance(result, LazyResult):
        raise TypeError(f"result must be a LazyResult (of train_network), got "
                        f"{type(result).__name__}")
    n, n_test = result.f0_train.size, result.f0_test.size
    K_test_train = as_matrix(K_test_train, "K_test_train")
    if K_test_train.shape != (n_test, n):
        raise ValueError(
            f"K_test_train must have shape ({n_test}, {n}) (test x training points of the run), "
            f"got {K_test_train.shape}"
        )
    f_inf = kernel_gd_predict(K_train, K_test_train, y, result.f0_train, result.f0_test, time)[0]
    f_nof0 = kernel_gd_predict(
        K_train, K_test_train, y, 0 * result.f0_train, 0 * result.f0_test, time
    )[0]
    return LazyMeasures(
        rel_weight_change=result.rel_weight_change,
        rel_kernel_change=result.rel_kernel_change,
        to_linearization=result.fT_test - result.flin_test,
        to_kernel_regression=result.fT_test - f_inf,
        to_kernel_without_f0=result.fT_test - f_nof0,
    )


def path_kernel_label_change(
    spec: MLPSpec, theta0, X, y, y_other, X_test, *, eta: float, n_steps: int
) -> float:
    """Relative change of the path kernel when the labels change:
    ``||K^p_y - K^p_y'||_F / ||K^p_y||_F``.

    ``K^p_y`` is the ``path_kernel`` of :func:`ibcore.ntk.path_kernel_gd` trained on
    ``(X, y)`` from ``theta0`` (test points ``X_test``), ``K^p_y'`` the same run on the labels
    ``y_other`` (e.g. a permutation of ``y``). In the kernel regime the kernel does not move, so
    the change is ``O(m^{-1/2})`` for a network of width ``m``; a path kernel that depends on the
    labels is what separates a kernel machine *along its path* from a fixed kernel machine.

    Parameters
    ----------
    spec : MLPSpec
        The network.
    theta0 : array_like, shape (spec.n_params,)
        Initial parameters (the same for both runs).
    X : array_like, shape (n, spec.d)
        Training inputs.
    y, y_other : array_like, shape (n,)
        The two sets of training targets.
    X_test : array_like, shape (n_test, spec.d)
        Points at which the path kernels are taken.
    eta : float, keyword-only
        Step size, ``> 0``.
    n_steps : int, keyword-only
        Number of GD steps, ``>= 1``.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        For ``y_other`` not of the length of ``y``, a path kernel on ``y`` that is zero, or the
        errors of :func:`ibcore.ntk.path_kernel_gd`.
    ibcore.DivergenceError
        If a run diverges (:class:`ibcore.DivergenceError`).
    """
    y = as_vector(y, "y")
    y_other = as_vector(y_other, "y_other", length=y.size)
    kp = [
        path_kernel_gd(spec, theta0, X, labels, X_test, eta=eta, n_steps=n_steps).path_kernel
        for labels in (y, y_other)
    ]
    norm = np.linalg.norm(kp[0])
    if norm == 0:
        raise ValueError("the path kernel on y is zero: the relative change is undefined")
    return float(np.linalg.norm(kp[0] - kp[1]) / norm)
