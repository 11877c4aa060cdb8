"""Empirical (finite-width) neural tangent kernels, computed with torch autograd.

The functions of this module are documented under :mod:`ibcore.ntk`, which re-exports them.

The empirical NTK of a model ``f_theta`` with scalar output is
``Theta_theta(x, x') = <grad_theta f(x), grad_theta f(x')>``, the sum over all trained
parameters. :func:`ibcore.ntk.empirical_ntk` computes it for any ``torch.nn.Module`` in the
style of neural-tangents' ``empirical_ntk_fn`` (a module and two input sets in, a Gram matrix
out); the other functions here are uses of it for the networks of the course
(:class:`ibcore.mlp.MLPSpec` networks, the lecture notes' two-layer model) or closed forms of the
same finite-width kernel (:func:`ibcore.ntk.one_hidden_layer_ntk`,
:func:`ibcore.ntk.two_layer_finite_ntk`) that widgets can recompute in milliseconds.
:func:`ibcore.ntk.empirical_ntk_loop` is the naive one-backward-pass-per-example reference that
the tests and ``benchmarks/ntk_speed.py`` compare it with. torch is imported inside the
functions, so ``import ibcore.ntk`` stays torch-free.
"""

from __future__ import annotations

import math

import numpy as np

from ..mlp import MLPSpec, as_spec, as_tensor, init_params
from ..mlp import module as mlp_module
from ..validation import as_matrix, check_rng, positive_int
from .analytic import _pair

__all__ = [
    "empirical_ntk",
    "empirical_ntk_errors",
    "empirical_ntk_loop",
    "jacobian_kernel",
    "mlp_empirical_ntk",
    "mlp_empirical_ntk_layers",
    "one_hidden_layer_ntk",
    "two_layer_empirical_ntk",
    "two_layer_module",
]


def two_layer_module(d: int, width: int, *, seed):
    """The lecture notes' two-layer model as a ``torch.nn.Module`` (float64).

    ``f(x) = m^{-1/2} sum_j a_j relu(w_j . x)`` with ``m = width``, ``w_j ~ N(0, I_d)`` (the rows
    of the trained parameter ``W``, drawn first from ``seed``) and fixed signs ``a_j = +-1``
    (a buffer, drawn next; not trained). ``forward`` maps an (n, d) tensor to (n, 1) outputs.
    Its tangent kernel (gradients with respect to ``W`` only) is ``H(0)`` of the notes, computed
    by :func:`ibcore.ntk.two_layer_empirical_ntk` with torch autograd.

    Parameters
    ----------
    d : int
        Input dimension, ``>= 1``.
    width : int
        Number of hidden units ``m >= 1``.
    seed : int or numpy.random.Generator, keyword-only
        Required; ``W`` is its first ``(m, d)`` standard normals, the signs come next.

    Returns
    -------
    torch.nn.Module
        The model, with the trained parameter ``W`` of shape (m, d) and the buffer ``a`` (m,).

    Raises
    ------
    TypeError
        If ``d`` or ``width`` is not an integer, or ``seed`` is neither an int nor a Generator.
    ValueError
        If ``d < 1``, ``width < 1`` or ``seed`` is negative.
    """
    import torch

    d = positive_int(d, "d")
    width = positive_int(width, "width")
    rng = check_rng(seed)
    W = rng.standard_normal((width, d))
    a = rng.choice(np.array([-1.0, 1.0]), size=width)

    class _TwoLayer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.W = torch.nn.Parameter(as_tensor(W))
            self.register_buffer("a", as_tensor(a))

        def forward(self, X):
            return (torch.relu(X @ self.W.T) @ self.a / math.sqrt(width))[:, None]

    return _TwoLayer()


def two_layer_empirical_ntk(X1, X2=None, *, width: int, seed) -> np.ndarray:
    """Finite-width kernel ``H(0)`` at initialisation of the two-layer model of the notes.

    ``H(0)(x, x') = <d f(x)/d W, d f(x')/d W>`` for the network ``two_layer_module(d, width,
    seed=seed)`` (:func:`ibcore.ntk.two_layer_module`; first layer trained only), computed by torch
    autograd (:func:`ibcore.ntk.empirical_ntk`): nothing of the limit formula is written into it.
    (By the chain rule it equals ``(x . x') (1/m) sum_j 1{w_j . x > 0} 1{w_j . x' > 0}``,
    :func:`ibcore.ntk.two_layer_finite_ntk`, which the unit tests check.)

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        First set of inputs, finite.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs (default ``X1``), with ``d`` columns.
    width : int, keyword-only
        Number of hidden units ``m >= 1``.
    seed : int or numpy.random.Generator, keyword-only
        Required; as for :func:`ibcore.ntk.two_layer_module`.

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If an input is not a numeric array, ``width`` not an integer or ``seed`` invalid.
    ValueError
        For inputs that are not finite matrices with the same number of columns, ``width < 1`` or
        a negative ``seed``.
    """
    X1, X2 = _pair(X1, X2)
    model = two_layer_module(X1.shape[1], width, seed=seed)
    return empirical_ntk(model, X1, None if X2 is X1 else X2)


def one_hidden_layer_ntk(spec: MLPSpec, theta, X1, X2=None) -> np.ndarray:
    """Empirical NTK of a one-hidden-layer :class:`ibcore.mlp.MLPSpec` network in closed form.

    With ``h = (w_std / sqrt(d)) W1 x + b_std b1``, ``g = phi(h)`` and readout weights
    ``v = W2[0]`` (NTK parameterization), the gradient inner product over all parameters is

        K(x, x') = (w_std^2 / m) g . g' + b_std^2
                   + (w_std^2 / m) sum_j v_j^2 phi'(h_j) phi'(h'_j) (w_std^2 x.x'/d + b_std^2)

    divided by ``m`` for ``readout_scale='mean_field'`` (``phi' = 1{h > 0}`` for ReLU,
    ``1 - tanh^2`` for tanh). Same result as :func:`ibcore.ntk.mlp_empirical_ntk` without torch
    Jacobians (milliseconds for widths in the thousands), for widget recomputes; numpy only.

    Parameters
    ----------
    spec : MLPSpec
        A network with exactly one hidden layer, ``parameterization='ntk'``.
    theta : array_like, shape (spec.n_params,)
        Flat parameters (:func:`ibcore.mlp.init_params` layout).
    X1 : array_like, shape (n1, spec.d)
        First set of inputs.
    X2 : array_like, shape (n2, spec.d), optional
        Second set of inputs (default ``X1``).

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If ``spec`` is not an :class:`ibcore.mlp.MLPSpec` or an array is not numeric.
    ValueError
        For the standard parameterization, more than one hidden layer, ``theta`` without
        ``spec.n_params`` finite entries, or inputs without ``spec.d`` columns.
    """
    spec = as_spec(spec)
    if spec.parameterization != "ntk":
        raise ValueError("one_hidden_layer_ntk is written for parameterization='ntk'")
    if len(spec.widths) != 1:
        raise ValueError(
            f"spec must have exactly one hidden layer, got widths {spec.widths}: "
            "use mlp_empirical_ntk for deeper networks"
        )
    theta = spec.check_theta(theta)
    X1 = spec.check_inputs(X1, "X1")
    X2 = X1 if X2 is None else spec.check_inputs(X2, "X2")
    d, m = spec.d, spec.widths[0]
    sw, sb = spec.w_std, spec.b_std
    W1 = theta[: m * d].reshape(m, d)
    b1 = theta[m * d : m * d + m]
    v = theta[m * d + m : m * d + 2 * m]

    def features(X):
        h = (sw / math.sqrt(d)) * (X @ W1.T) + sb * b1
        if spec.activation == "relu":
            return np.maximum(h, 0.0), (h > 0).astype(np.float64)
        t = np.tanh(h)
        return t, 1.0 - t**2

    g1, dphi1 = features(X1)
    g2, dphi2 = (g1, dphi1) if X2 is X1 else features(X2)
    readout = (sw**2 / m) * (g1 @ g2.T) + sb**2
    hidden = (sw**2 / m) * ((dphi1 * v**2) @ dphi2.T) * (sw**2 * (X1 @ X2.T) / d + sb**2)
    K = readout + hidden
    return K / m if spec.readout_scale == "mean_field" else K


def _module_args(model, X1, X2):
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    X1, X2 = _pair(X1, X2)
    params = {
        k: v.detach().to(torch.float64) for k, v in model.named_parameters() if v.requires_grad
    }
    if not params:
        raise ValueError("model has no parameters with requires_grad=True: its NTK is empty")
    buffers = {
        k: (v.to(torch.float64) if v.is_floating_point() else v) for k, v in model.named_buffers()
    }
    return X1, X2, params, buffers


def _check_scalar_output(out, n):
    if out.ndim not in (1, 2) or out.shape[0] != n or out.numel() != n:
        raise ValueError(
            "model must map an (n, d) batch to one scalar per example, shape (n,) or (n, 1); "
            f"got output shape {tuple(out.shape)} for n = {n}"
        )


def _jacobians(model, X1, X2=None):
    """Per-parameter Jacobians ``{name: (n, *shape)}`` of ``model`` on ``X1`` and ``X2``.

    ``torch.func.functional_call`` on a one-example batch, ``jacrev`` over the parameter dict,
    ``vmap`` over the examples (one vectorized backward pass per input set). Returns
    ``(X1, X2, J1, J2)`` with the validated inputs (``X2 is X1`` for one input set, then
    ``J2 is J1``).
    """
    import torch
    from torch.func import functional_call, jacrev, vmap

    X1, X2, params, buffers = _module_args(model, X1, X2)
    X1_t = as_tensor(X1)
    with torch.no_grad():
        probe = X1_t[:2]
        _check_scalar_output(functional_call(model, (params, buffers), (probe,)), probe.shape[0])

    def f(p, x):
        return functional_call(model, (p, buffers), (x.unsqueeze(0),)).reshape(())

    jac = vmap(jacrev(f), in_dims=(None, 0))
    J1 = jac(params, X1_t)
    J2 = J1 if X2 is X1 else jac(params, as_tensor(X2))
    return X1, X2, J1, J2


def _gram(J1, J2, names, n1, n2):
    """``sum_{p in names} J1_p J2_p^T`` (float64 numpy, shape (n1, n2))."""
    import torch

    K = torch.zeros(n1, n2, dtype=torch.float64)
    for name in names:
        K += J1[name].reshape(n1, -1) @ J2[name].reshape(n2, -1).T
    return K.numpy().copy()


def empirical_ntk(model, X1, X2=None) -> np.ndarray:
    """Empirical NTK ``Theta(x, x') = <grad_theta f(x), grad_theta f(x')>`` of a torch module.

    ``model`` is a ``torch.nn.Module`` with one scalar output per example (output shape (n,)
    or (n, 1) for an (n, d) input); the gradient is taken over all its parameters with
    ``requires_grad=True`` at their current values, copied to float64 (the module itself is
    not modified), and the kernel is not normalised (a plain sum over parameters). Examples must
    be processed independently: call ``model.eval()`` first if it has batch normalization or
    dropout.

    Implementation: ``torch.func.functional_call`` on a one-example batch, ``jacrev`` over
    the parameter dict, ``vmap`` over the examples (one vectorized backward pass per input
    set), then ``K = sum_p J1_p J2_p^T`` over the parameter tensors ``p``.

    Parameters
    ----------
    model : torch.nn.Module
        The model; its floating-point buffers are used in float64 too.
    X1 : array_like, shape (n1, d)
        First set of inputs, finite.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs (default ``X1``), with ``d`` columns.

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If ``model`` is not a torch module or an input is not a numeric array.
    ValueError
        If it has no trainable parameters, does not return one scalar per example, or the
        inputs are not finite matrices with the same number of columns.
    """
    X1, X2, J1, J2 = _jacobians(model, X1, X2)
    return _gram(J1, J2, list(J1), X1.shape[0], X2.shape[0])


def jacobian_kernel(apply, theta, X1, X2=None) -> np.ndarray:
    """``J(X1) J(X2)^T`` for a functional model ``apply(theta, X) -> outputs (n,)``.

    ``J(X)[i, p] = d apply(theta, X)_i / d theta_p``: the :func:`ibcore.ntk.empirical_ntk` of the
    module with the one parameter ``theta`` (in float64) and ``forward(X) = apply(theta, X)``, so
    ``apply`` must treat the examples independently (true for MLPs and layer normalization, false
    for batch normalization).

    Parameters
    ----------
    apply : callable
        ``apply(theta, X)`` with torch tensors ``theta`` (p,) and ``X`` (n, d), returning one
        scalar per example, shape (n,) or (n, 1), differentiable in ``theta``.
    theta : array_like or torch.Tensor, shape (p,)
        The parameters at which the kernel is taken.
    X1 : array_like or torch.Tensor, shape (n1, d)
        First set of inputs.
    X2 : array_like or torch.Tensor, shape (n2, d), optional
        Second set of inputs (default ``X1``).

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If ``apply`` is not callable or an input is not a numeric array.
    ValueError
        If ``apply`` does not return one scalar per example, or the inputs are not finite
        matrices with the same number of columns.
    """
    import torch

    if not callable(apply):
        raise TypeError(f"apply must be callable apply(theta, X), got {type(apply).__name__}")

    class _Functional(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.theta = torch.nn.Parameter(torch.as_tensor(theta, dtype=torch.float64).detach())

        def forward(self, X):
            return apply(self.theta, X)

    def arr(X):
        return None if X is None else (X.detach().numpy() if torch.is_tensor(X) else X)

    return empirical_ntk(_Functional(), arr(X1), arr(X2))


def mlp_empirical_ntk(spec: MLPSpec, theta, X1, X2=None) -> np.ndarray:
    """Empirical NTK of the :class:`ibcore.mlp.MLPSpec` network at the flat parameters ``theta``.

    ``Theta(x, x') = <grad_theta f(x), grad_theta f(x')>`` over all weights and biases, in the
    parameterization of ``spec``: ``empirical_ntk(ibcore.mlp.module(spec, theta), X1, X2)``
    (:func:`ibcore.ntk.empirical_ntk`, :func:`ibcore.mlp.module`) after checking that ``theta`` has
    ``spec.n_params`` entries and the inputs ``spec.d`` columns.

    Parameters
    ----------
    spec : MLPSpec
        The network.
    theta : array_like, shape (spec.n_params,)
        Flat parameters (:func:`ibcore.mlp.init_params` layout).
    X1 : array_like, shape (n1, spec.d)
        First set of inputs.
    X2 : array_like, shape (n2, spec.d), optional
        Second set of inputs (default ``X1``).

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If ``spec`` is not an :class:`ibcore.mlp.MLPSpec` or an array is not numeric.
    ValueError
        If ``theta`` has not ``spec.n_params`` finite entries or an input not ``spec.d`` columns.
    """
    spec = as_spec(spec)
    model = mlp_module(spec, theta)
    X1 = spec.check_inputs(X1, "X1")
    X2 = None if X2 is None else spec.check_inputs(X2, "X2")
    return empirical_ntk(model, X1, X2)


def mlp_empirical_ntk_layers(spec: MLPSpec, theta, X1, X2=None) -> np.ndarray:
    """Per-layer parts of the empirical NTK of an :class:`ibcore.mlp.MLPSpec` network.

    ``K[l - 1] = J_l(X1) J_l(X2)^T`` with ``J_l`` the gradients with respect to ``W^l`` and
    ``b^l`` (``l = 1..D+1``, readout last; the Jacobians of :func:`ibcore.ntk.empirical_ntk`).
    ``K.sum(0)`` is :func:`ibcore.ntk.mlp_empirical_ntk`, and as the widths grow ``K`` converges
    to :func:`ibcore.ntk.relu_ntk_layer_terms` (ReLU networks, NTK parameterization).

    Parameters
    ----------
    spec : MLPSpec
        The network, with ``D = len(spec.widths)`` hidden layers.
    theta : array_like, shape (spec.n_params,)
        Flat parameters (:func:`ibcore.mlp.init_params` layout).
    X1 : array_like, shape (n1, spec.d)
        First set of inputs.
    X2 : array_like, shape (n2, spec.d), optional
        Second set of inputs (default ``X1``).

    Returns
    -------
    ndarray of float64, shape (D + 1, n1, n2)

    Raises
    ------
    TypeError
        If ``spec`` is not an :class:`ibcore.mlp.MLPSpec` or an array is not numeric.
    ValueError
        If ``theta`` has not ``spec.n_params`` finite entries or an input not ``spec.d`` columns.
    """
    spec = as_spec(spec)
    model = mlp_module(spec, theta)
    X1 = spec.check_inputs(X1, "X1")
    X2 = None if X2 is None else spec.check_inputs(X2, "X2")
    X1, X2, J1, J2 = _jacobians(model, X1, X2)
    n1, n2 = X1.shape[0], X2.shape[0]
    return np.stack(
        [_gram(J1, J2, (f"W{li}", f"b{li}"), n1, n2) for li in range(1, len(spec.layer_shapes) + 1)]
    )


def empirical_ntk_loop(model, X1, X2=None) -> np.ndarray:
    """Naive reference for :func:`ibcore.ntk.empirical_ntk`: one autograd backward pass per example.

    For each input ``x_i`` separately: forward on the one-example batch, ``torch.autograd.grad``
    of the scalar output, flattened into row ``i`` of ``J``; then ``K = J1 J2^T``. Same
    conventions and result as :func:`ibcore.ntk.empirical_ntk` (float64, all parameters with
    ``requires_grad=True``, no normalisation), only slower: the baseline of
    ``benchmarks/ntk_speed.py`` and of the unit tests.

    Parameters
    ----------
    model : torch.nn.Module
        The model, one scalar output per example.
    X1 : array_like, shape (n1, d)
        First set of inputs, finite.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs (default ``X1``).

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If ``model`` is not a torch module or an input is not a numeric array.
    ValueError
        If it has no trainable parameters, does not return one scalar per example, or the
        inputs are not finite matrices with the same number of columns.
    """
    import torch
    from torch.func import functional_call

    X1, X2, params, buffers = _module_args(model, X1, X2)
    params = {k: v.clone().requires_grad_(True) for k, v in params.items()}

    def jacobian(X):
        X_t = as_tensor(X)
        rows = []
        for i in range(X.shape[0]):
            out = functional_call(model, (params, buffers), (X_t[i : i + 1],))
            _check_scalar_output(out, 1)
            grads = torch.autograd.grad(out.reshape(()), list(params.values()))
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
        return torch.stack(rows)

    J1 = jacobian(X1)
    J2 = J1 if X2 is X1 else jacobian(X2)
    return (J1 @ J2.T).numpy().copy()


def empirical_ntk_errors(spec: MLPSpec, X, K_limit, *, seeds) -> np.ndarray:
    """Relative Frobenius errors of the empirical NTK at initialisation against a limit kernel.

    ``e_s = ||Theta_{theta_s}(X, X) - K||_F / ||K||_F`` for ``theta_s = init_params(spec,
    seed=s)`` and each ``s`` in ``seeds`` (:func:`ibcore.ntk.mlp_empirical_ntk`). For a
    one-hidden-layer network every entry of ``Theta`` is an average of ``m`` i.i.d. terms with the
    analytic mean, so ``e_s`` is of order ``m^{-1/2}``.

    Parameters
    ----------
    spec : MLPSpec
        The network.
    X : array_like, shape (n, spec.d)
        The inputs.
    K_limit : array_like, shape (n, n)
        The kernel to compare with (e.g. :func:`ibcore.ntk.relu_ntk` of the same network); not
        zero.
    seeds : iterable of int, keyword-only
        One initialisation per seed (required, at least one).

    Returns
    -------
    ndarray of float64, shape (len(seeds),)

    Raises
    ------
    TypeError
        For a wrong ``spec``, a non-numeric array or a seed that is not an int or a Generator.
    ValueError
        For ``X`` without ``spec.d`` columns, a ``K_limit`` that is not ``(n, n)`` or is zero,
        an empty list of seeds or a negative seed.
    """
    spec = as_spec(spec)
    X = spec.check_inputs(X)
    K_limit = as_matrix(K_limit, "K_limit")
    n = X.shape[0]
    if K_limit.shape != (n, n):
        raise ValueError(f"K_limit must have shape ({n}, {n}) to match X, got {K_limit.shape}")
    norm = np.linalg.norm(K_limit)
    if norm == 0:
        raise ValueError("K_limit must not be zero (the error is relative to its norm)")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must list at least one seed, e.g. range(8)")
    out = []
    for seed in seeds:
        K = mlp_empirical_ntk(spec, init_params(spec, seed=seed), X)
        out.append(np.linalg.norm(K - K_limit) / norm)
    return np.array(out)
