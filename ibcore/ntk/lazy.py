"""Training finite networks by gradient descent and reading the run through its tangent kernel.

The squared loss is ``L(theta) = (1/2n) sum_i (f_theta(x_i) - y_i)^2``
(:func:`ibcore.mlp.squared_loss_fun`), the normalisation of neural-tangents'
``predict.gradient_descent_mse``; gradient descent with step ``eta`` sits at gradient-flow time
``t = k eta`` after ``k`` steps, where in the kernel regime the training residual is
``exp(-K t / n) r(0)`` (flow) or ``(I - eta K / n)^k r(0)`` (GD,
:func:`ibcore.linear.kernel_gd_predict`). Every run is :func:`ibcore.descent.run_gd` with
``on_divergence="raise"``: a blow-up raises :class:`ibcore.DivergenceError` (step, loss, and the
hint to use a smaller ``eta``).

* :func:`train_network`: how far the weights and the empirical NTK move, and the trained
  linearisation (lazy training);
* :func:`lazy_measures`: a run of :func:`train_network` against its linearisation and the
  infinite-width kernel regression (with and without the network's ``f_0``);
* :func:`train_outputs`: the network outputs along a run;
* :func:`path_kernel_gd`: the tangent kernel accumulated along a run (Domingos' path kernel),
  and :func:`path_kernel_label_change`: how much that kernel depends on the labels.

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
    """Output of :func:`path_kernel_gd` (test points ``x``, training points ``x_i``).

    Attributes
    ----------
    f0, fT : (n_test,)
        Network outputs at the test points before and after training.
    kernel_sum : (n_test,)
        ``sum_k eta sum_i (-dL/df_i)(theta_k) K_{theta_k}(x, x_i)`` with the *unnormalised*
        per-example losses, i.e. ``-dL/df_i = (y_i - f_i)/n`` for ``L = (1/2n) sum (f - y)^2``.
    path_kernel : (n_test, n)
        ``K^p(x, x_i) = sum_k eta K_{theta_k}(x, x_i)`` (Domingos' path kernel, left Riemann sum).
    coef : (n_test, n)
        ``a_i(x)``: the path-kernel-weighted average of ``-dL/df_i`` along the path, so that
        ``kernel_sum = sum_i a_i(x) K^p(x, x_i)`` (``a_i(x) = 0`` where ``K^p(x, x_i) = 0``).
    loss : (n_steps + 1,)
        Training loss along the run.
    theta : (n_steps + 1, P)
        The parameters along the run.
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
        """``max_x |f_T(x) - f_0(x) - kernel_sum(x)|``."""
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

    Under gradient flow ``df(x)/dt = sum_i (-dL/df_i) K_theta(x, x_i)`` exactly, so
    ``f_T(x) - f_0(x) = int_0^T sum_i (-dL/df_i) K_{theta(t)}(x, x_i) dt``. Gradient descent
    with step ``eta`` is the Euler scheme of that flow; the left Riemann sum over the GD iterates
    (``kernel_sum``) then differs from ``f_T - f_0`` by ``O(eta)`` at a fixed time
    ``T = n_steps * eta`` (one ``O(eta^2)`` Taylor remainder per step, ``T / eta`` steps).

    The run uses :func:`ibcore.descent.run_gd`; the Jacobians at every iterate are computed
    afterwards, vectorised over ``chunk`` iterates at a time (``torch.func.vmap``).
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
    """Output of :func:`train_network` (one width, one seed).

    Attributes
    ----------
    rel_weight_change : float
        ``||theta_T - theta_0|| / ||theta_0||``.
    rel_kernel_change : float
        ``||Theta_T - Theta_0||_F / ||Theta_0||_F`` on the training inputs.
    f0_train, f0_test, fT_train, fT_test : arrays
        Network outputs before and after training.
    flin_test : array
        Outputs of the network's linearisation ``f_0 + J_0 (theta - theta_0)`` trained by the
        same gradient descent (closed form :func:`ibcore.linear.kernel_gd_predict` with the
        empirical kernel at initialisation).
    K0_train, K0_test_train : arrays
        Empirical NTK at initialisation (train x train, test x train).
    loss : array
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
    """Train ``spec`` by full-batch GD (``ibcore.descent.run_gd``) on ``(1/2n) sum (f - y)^2``.

    Measures how far the weights and the empirical NTK move, and the trained linearisation.
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
    """Full-batch GD on ``(1/2n) sum (f - y)^2`` (``ibcore.descent.run_gd``); outputs on ``X``.

    Returns ``(steps, F)`` with ``F[j] = f_{theta_k}(X)`` at the recorded steps ``k = steps[j]``
    (default: log-spaced checkpoints). Raises :class:`ibcore.DivergenceError` if the run
    diverges.
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
    """Output of :func:`lazy_measures`: how far a trained network is from the kernel regime.

    Attributes
    ----------
    rel_weight_change, rel_kernel_change : float
        Copied from the :class:`LazyResult`.
    to_linearization : (n_test,)
        ``f_T - f_lin`` at the test points (network minus its trained linearisation).
    to_kernel_regression : (n_test,)
        ``f_T - f_inf``, ``f_inf`` the kernel-regression prediction with the limit kernel started
        from the network's own ``f_0``.
    to_kernel_without_f0 : (n_test,)
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
    """Compare a run of :func:`train_network` with the infinite-width kernel regression.

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
    K_train : array (n, n), symmetric PSD
    K_test_train : array (n_test, n)
    y : array (n,)
        The training targets of the run.
    time : float
        Gradient-flow time ``eta * n_steps`` of the run.

    Returns
    -------
    LazyMeasures

    Raises
    ------
    TypeError
        If ``result`` is not a :class:`LazyResult`.
    ValueError
        If the kernels do not match the run's training and test sets, or ``time < 0``.
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
    """Relative change of the path kernel when the labels change: ``||K^p_y - K^p_y'||_F /
    ||K^p_y||_F``.

    ``K^p_y`` is the ``path_kernel`` of :func:`path_kernel_gd` trained on
    ``(X, y)`` from ``theta0`` (test points ``X_test``), ``K^p_y'`` the same run on the labels
    ``y_other`` (e.g. a permutation of ``y``). In the kernel regime the kernel does not move, so
    the change is ``O(m^{-1/2})`` for a network of width ``m``; a path kernel that depends on the
    labels is what separates a kernel machine *along its path* from a fixed kernel machine.

    Raises
    ------
    ValueError
        For ``y_other`` not of the length of ``y``, a path kernel that is zero, the errors of
        :func:`path_kernel_gd`, or :class:`ibcore.DivergenceError` if a run diverges.
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
