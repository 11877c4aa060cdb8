"""Neural tangent kernels: empirical (finite width, torch) and analytic (infinite width).

Conventions (identical to the reference library *neural-tangents*, ``parameterization='ntk'``)
    A fully connected network of depth ``D`` (hidden widths ``m_1, ..., m_D``) maps ``x in R^d``
    to a scalar
    by ``g^0 = x``, ``h^l = (w_std / sqrt(m_{l-1})) W^l g^{l-1} + b_std b^l``,
    ``g^l = relu(h^l)`` for ``l = 1..D``, and ``f(x) = h^{D+1}`` (readout of width 1), with
    ``m_0 = d`` and every entry of ``W^l``, ``b^l`` drawn i.i.d. from ``N(0, 1)``. The
    parameters are stored as one flat float64 vector ``theta`` (``W^1, b^1, W^2, b^2, ...``,
    each ``W^l`` row-major of shape ``(m_l, m_{l-1})``). ReLU is used *without* the factor 2,
    so the variance of the pre-activations halves at every layer unless ``w_std**2 = 2``.

    The empirical NTK is ``Theta_theta(x, x') = <grad_theta f(x), grad_theta f(x')>``.
    As all widths grow, at initialisation it converges to the analytic kernel computed by the
    layer recursion of :func:`relu_kernels`: the input kernel is ``x . x' / d``; a dense layer
    maps ``(nngp, ntk)`` to ``(w_std^2 nngp + b_std^2, nngp_new + w_std^2 ntk)``; a
    ReLU maps, with ``q1, q2`` the diagonal entries, ``k`` the cross entry and
    ``cos(theta) = k / sqrt(q1 q2)``,
    ``nngp <- (1/2pi) [sqrt(q1 q2 - k^2) + (pi - theta) k]`` and
    ``ntk <- ntk (pi - theta) / (2 pi)``. The recursion starts from ``ntk = 0``.

    Unrolled, the recursion is the layer sum of :func:`relu_ntk_layer_terms`:
    ``Theta = sum_{l=1}^{D+1} Sigma^(l) prod_{l'=l}^{D} w_std^2 (pi - theta_l') / (2 pi)``, the
    limit of the per-layer parts of the empirical NTK (:func:`mlp_empirical_ntk_layers`).

    The two-layer model of the lecture notes (section "NTK: Simple 2-layer example" of Arora et
    al., *Theory of Deep Learning*), ``f(x) = m^{-1/2} sum_j a_j relu(w_j . x)`` with only the
    first layer trained (:func:`two_layer_module`), has the kernel
    ``H*(x, x') = (x . x') (pi - theta) / (2 pi)`` (:func:`two_layer_ntk`).

Loss normalisation and time
    The squared loss is ``L(theta) = (1/2n) sum_i (f(x_i) - y_i)^2``, the normalisation of
    neural-tangents' ``predict.gradient_descent_mse``. Gradient descent with step ``eta`` sits at
    gradient-flow time ``t = k eta`` after ``k`` steps, and in the kernel regime the training
    residual evolves as ``r(t) = exp(-K t / n) r(0)`` (flow) or ``(I - eta K / n)^k r(0)`` (GD).
    neural-tangents' ``predict_fn(t)`` with ``learning_rate = eta`` counts *steps*, so its ``t``
    is our ``t / eta``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from .mlp import MLPSpec, as_spec, as_tensor, forward, init_params, squared_loss_fun
from .mlp import apply as mlp_apply
from .mlp import module as mlp_module
from .stats import loglog_slope
from .validation import as_matrix, as_vector, check_rng, positive_float, positive_int, probability

__all__ = [
    "KernelEigen",
    "LazyResult",
    "MLPSpec",
    "PathKernelResult",
    "circle_points",
    "circulant_spectrum",
    "corrupt_labels",
    "empirical_ntk",
    "empirical_ntk_loop",
    "fourier_basis",
    "init_params",
    "kernel_gd_predict",
    "kernel_gd_residuals",
    "lecture_notes_ntk",
    "loglog_slope",
    "mlp_apply",
    "mlp_empirical_ntk",
    "mlp_empirical_ntk_layers",
    "mlp_module",
    "ntk_complexity",
    "one_hidden_layer_ntk",
    "path_kernel_gd",
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


# -- data ------------------------------------------------------------------------------------


def unit_sphere_points(n: int, d: int, *, seed) -> np.ndarray:
    """``n`` points drawn uniformly on the unit sphere of ``R^d`` (rows of an (n, d) array)."""
    n = positive_int(n, "n")
    d = positive_int(d, "d", minimum=2)
    rng = check_rng(seed)
    Z = rng.standard_normal((n, d))
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def circle_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` equally spaced points on the unit circle: returns ``(phi, X)``.

    ``phi_j = 2 pi j / n`` and ``X[j] = (cos phi_j, sin phi_j)``.
    """
    n = positive_int(n, "n", minimum=3)
    phi = 2 * np.pi * np.arange(n) / n
    return phi, np.column_stack([np.cos(phi), np.sin(phi)])


def corrupt_labels(y, fraction: float, *, seed) -> np.ndarray:
    """Replace a fraction of the labels by independent uniform random signs.

    The corrupted indices are the first ``round(fraction * n)`` entries of one random
    permutation drawn from ``seed``, and the random signs are drawn once for all indices, so for
    a fixed seed the corrupted sets are *nested* as ``fraction`` grows (about half of the
    corrupted labels keep their value by chance, as in Zhang et al.'s random-label experiments).
    """
    y = as_vector(y, "y")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("y must hold labels in {-1, +1}")
    fraction = probability(fraction, "fraction", closed_right=True)
    rng = check_rng(seed)
    order = rng.permutation(y.size)
    signs = rng.choice(np.array([-1.0, 1.0]), size=y.size)
    out = y.copy()
    k = round(fraction * y.size)
    out[order[:k]] = signs[order[:k]]
    return out


# -- analytic kernels ------------------------------------------------------------------------


def _pair(X1, X2):
    X1 = as_matrix(X1, "X1")
    X2 = X1 if X2 is None else as_matrix(X2, "X2")
    if X2 is not X1 and X2.shape == X1.shape and np.array_equal(X1, X2):
        X2 = X1  # K(X, X): lets the kernels set the diagonal exactly (theta = 0 there)
    if X2.shape[1] != X1.shape[1]:
        raise ValueError(
            f"X1 and X2 must have the same number of columns (input dimension), got "
            f"{X1.shape[1]} and {X2.shape[1]}"
        )
    return X1, X2


def relu_kernels(
    X1, X2=None, *, depth: int = 1, w_std: float = 1.0, b_std: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width NNGP and NTK of a ReLU network (neural-tangents conventions).

    Parameters
    ----------
    X1 : array (n1, d)
    X2 : array (n2, d), optional (default ``X1``)
    depth : int
        Number of hidden ReLU layers ``D >= 1`` (a readout dense layer follows them).
    w_std, b_std : float
        Weight and bias standard deviations of every dense layer (``w_std > 0``,
        ``b_std >= 0``).

    Returns
    -------
    (nngp, ntk) : two float64 arrays of shape (n1, n2)
        The output covariance at initialisation and the neural tangent kernel, computed by the
        recursion in the module docstring. For ``depth = 1, w_std = 1, b_std = 0``:
        ``ntk = kappa_1 + (x . x'/d) kappa_0`` with ``kappa_0 = (pi - theta)/(2 pi)`` and
        ``kappa_1 = (|x||x'|/d)(sin theta + (pi - theta) cos theta)/(2 pi)``.
    """
    X1, X2 = _pair(X1, X2)
    depth = positive_int(depth, "depth")
    w_std = positive_float(w_std, "w_std")
    b_std = positive_float(b_std, "b_std", allow_zero=True)
    return _relu_recursion(X1, X2, depth, w_std, b_std)


def _relu_recursion(X1, X2, depth, w_std, b_std):
    """The layer recursion of the module docstring on validated inputs (``X2 is X1`` allowed)."""
    d = X1.shape[1]
    q1 = np.einsum("ij,ij->i", X1, X1) / d
    q2 = np.einsum("ij,ij->i", X2, X2) / d
    if b_std == 0 and (np.any(q1 == 0) or np.any(q2 == 0)):
        raise ValueError(
            "X1/X2 contain an all-zero input: with zero bias std its angle to other inputs is "
            "undefined; remove it or use a positive bias std"
        )
    k = X1 @ X2.T / d
    if X2 is X1:  # make the diagonal exactly q (so theta = 0 there, not ~1e-8 from rounding)
        np.fill_diagonal(k, q1)
    ntk = np.zeros_like(k)

    def dense(q1, q2, k, ntk):
        q1 = w_std**2 * q1 + b_std**2
        q2 = w_std**2 * q2 + b_std**2
        k = w_std**2 * k + b_std**2
        return q1, q2, k, k + w_std**2 * ntk

    for _ in range(depth):
        q1, q2, k, ntk = dense(q1, q2, k, ntk)
        norms = np.sqrt(np.outer(q1, q2))
        cos = np.clip(k / norms, -1.0, 1.0)
        if X2 is X1:  # one rounding error in q or k would become ~1e-8 in arccos
            np.fill_diagonal(cos, 1.0)
        theta = np.arccos(cos)
        sin = np.sqrt(np.maximum(1.0 - cos**2, 0.0))
        k = norms * (sin + (np.pi - theta) * cos) / (2 * np.pi)
        ntk = ntk * (np.pi - theta) / (2 * np.pi)
        q1, q2 = q1 / 2, q2 / 2
    _, _, nngp, ntk = dense(q1, q2, k, ntk)
    return nngp, ntk


def relu_ntk_layer_terms(
    X1, X2=None, *, depth: int = 1, w_std: float = 1.0, b_std: float = 0.0
) -> np.ndarray:
    """Per-layer terms of the infinite-width ReLU NTK: ``Theta = sum_l T[l - 1]``.

    ``T[l - 1]`` (``l = 1..D+1``, ``D = depth``, layer ``D + 1`` the readout) is the limit of
    the contribution of ``W^l, b^l`` to the empirical NTK,
    ``<d f(x)/d(W^l, b^l), d f(x')/d(W^l, b^l)>``:

        T_l = Sigma^(l)(x, x') * prod_{l' = l}^{D} w_std^2 Sigma_dot^(l')(x, x'),

    with ``Sigma^(l)`` the covariance of the pre-activations ``h^l`` (``Sigma^(1) =
    w_std^2 x . x' / d + b_std^2``, ``Sigma^(D+1)`` the NNGP) and ``Sigma_dot^(l) =
    E[relu'(u) relu'(v)] = (pi - theta_l) / (2 pi)`` for ``(u, v)`` with covariance
    ``Sigma^(l)``. The forward factor ``Sigma^(l)`` is the inner product of the layer's input
    features; each layer above contributes ``w_std^2`` (from ``W^{l'+1}`` in the backward
    pass) times its derivative kernel. Computed from this layer sum, not from the recursion of
    :func:`relu_kernels`, so the two are independent evaluations of the same kernel (same
    arguments and conventions). Returns a float64 array of shape (D + 1, n1, n2).
    """
    X1, X2 = _pair(X1, X2)
    depth = positive_int(depth, "depth")
    w_std = positive_float(w_std, "w_std")
    b_std = positive_float(b_std, "b_std", allow_zero=True)
    d = X1.shape[1]
    q1 = np.einsum("ij,ij->i", X1, X1) / d
    q2 = np.einsum("ij,ij->i", X2, X2) / d
    if b_std == 0 and (np.any(q1 == 0) or np.any(q2 == 0)):
        raise ValueError(
            "X1/X2 contain an all-zero input: with zero bias std its angle to other inputs is "
            "undefined; remove it or use a positive bias std"
        )
    k = X1 @ X2.T / d
    if X2 is X1:
        np.fill_diagonal(k, q1)
    sigmas, dots = [], []  # Sigma^(l), l = 1..D+1; Sigma_dot^(l), l = 1..D
    for layer in range(depth + 1):
        q1, q2, k = (w_std**2 * v + b_std**2 for v in (q1, q2, k))
        sigmas.append(k)
        if layer == depth:
            break
        norms = np.sqrt(np.outer(q1, q2))
        cos = np.clip(k / norms, -1.0, 1.0)
        if X2 is X1:
            np.fill_diagonal(cos, 1.0)
        th = np.arccos(cos)
        dots.append((np.pi - th) / (2 * np.pi))
        k = norms * (np.sqrt(np.maximum(1.0 - cos**2, 0.0)) + (np.pi - th) * cos) / (2 * np.pi)
        q1, q2 = q1 / 2, q2 / 2
    terms = np.empty((depth + 1, *k.shape))
    back = np.ones_like(k)  # prod_{l' = l}^{D} w_std^2 Sigma_dot^(l'), built from the top
    for layer in range(depth, -1, -1):  # index layer = l - 1
        terms[layer] = sigmas[layer] * back
        if layer > 0:
            back = back * w_std**2 * dots[layer - 1]
    return terms


def _nt_args(X1, X2, depth, w_std, b_std):
    X1, X2 = _pair(X1, X2)
    depth = positive_int(depth, "depth")
    w_std = positive_float(w_std, "w_std")
    b_std = positive_float(b_std, "b_std", allow_zero=True)
    return X1, X2, depth, w_std, b_std


def relu_ntk(X1, X2=None, depth: int = 1, w_std: float = 1.0, b_std: float = 0.0) -> np.ndarray:
    """Infinite-width NTK of a fully connected ReLU network, as neural-tangents computes it.

    Equal to ``kernel_fn(X1, X2, 'ntk')`` of neural-tangents for
    ``stax.serial(*[Dense(k, W_std=w_std, b_std=b_std), Relu()] * depth,
    Dense(1, W_std=w_std, b_std=b_std))`` (NTK parameterization, any hidden width ``k``):
    input kernel ``x . x' / d``, the dense and ReLU rules of the module docstring.

    Parameters
    ----------
    X1 : array (n1, d);  X2 : array (n2, d) or None (then ``X2 = X1``)
    depth : int >= 1, number of hidden Dense+ReLU blocks
    w_std : float > 0;  b_std : float >= 0

    Returns a float64 array of shape (n1, n2). For ``depth = 1, w_std = 1, b_std = 0``:
    ``Theta = kappa_1 + (x . x'/d) kappa_0`` with ``kappa_0 = (pi - theta)/(2 pi)`` and
    ``kappa_1 = (|x||x'|/d)(sin theta + (pi - theta) cos theta)/(2 pi)``; on the diagonal,
    ``Theta(x, x) = (depth + 1) |x|^2 / (d 2^depth)``.
    """
    return _relu_recursion(*_nt_args(X1, X2, depth, w_std, b_std))[1]


def relu_nngp(X1, X2=None, depth: int = 1, w_std: float = 1.0, b_std: float = 0.0) -> np.ndarray:
    """Infinite-width NNGP kernel (output covariance at initialisation) of the network of
    :func:`relu_ntk`: neural-tangents' ``kernel_fn(X1, X2, 'nngp')``. Shape (n1, n2), float64.
    For ``w_std = 1, b_std = 0``, ``Sigma(x, x) = |x|^2 / (d 2^depth)``.
    """
    return _relu_recursion(*_nt_args(X1, X2, depth, w_std, b_std))[0]


def lecture_notes_ntk(X1, X2=None, *, depth: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """NNGP and NTK of the lecture notes' deep ReLU network, as the notes' layer sum.

    Section "NTK formula for Multilayer Fully-connected Neural Network" of Arora et al.,
    *Theory of Deep Learning* (depth ``D``).

    The network is ``f^(1) = W^(1) x``, ``g^(h) = sqrt(2 / d_h) relu(f^(h))``,
    ``f^(h+1) = W^(h+1) g^(h)``, output ``W^(D+1) g^(D)`` (all weights ``N(0, 1)``, no biases,
    ``c_sigma = 2``). With ``Sigma^(0) = x . x'``, ``cos theta_h`` the correlation of
    ``Sigma^(h-1)``,

        Sigma^(h)     = sqrt(Sigma^(h-1)(x,x) Sigma^(h-1)(x',x')) (sin th + (pi - th) cos th) / pi,
        Sigma_dot^(h) = (pi - th) / pi,        Sigma_dot^(D+1) = 1,
        Theta         = sum_{h=1}^{D+1} Sigma^(h-1) prod_{h'=h}^{D+1} Sigma_dot^(h').

    ``Sigma_dot^(h) = 2 E[1{u > 0} 1{v > 0}]`` is the derivative kernel that the notes use without
    defining it. Computed from the explicit layer sum (not the recursion of :func:`relu_kernels`),
    so it is an independent check: it equals ``(d / 2)`` times ``relu_kernels(..., w_std =
    sqrt(2), b_std = 0)``, the same network with the first layer rescaled. Returns
    ``(Sigma^(D), Theta)``, float64 arrays of shape (n1, n2).
    """
    X1, X2 = _pair(X1, X2)
    depth = positive_int(depth, "depth")
    q1, q2 = np.einsum("ij,ij->i", X1, X1), np.einsum("ij,ij->i", X2, X2)
    if np.any(q1 == 0) or np.any(q2 == 0):
        raise ValueError("X1/X2 contain an all-zero input, whose angle is undefined; remove it")
    sig = [X1 @ X2.T]  # Sigma^(0), ..., Sigma^(D); the diagonals stay q1, q2 (ReLU, c = 2)
    if X2 is X1:  # exact diagonal, so theta = 0 there (arccos is ill-conditioned near 1)
        np.fill_diagonal(sig[0], q1)
    dots = []  # Sigma_dot^(1), ..., Sigma_dot^(D)
    norms = np.sqrt(np.outer(q1, q2))
    for _ in range(depth):
        cos = np.clip(sig[-1] / norms, -1.0, 1.0)
        if X2 is X1:
            np.fill_diagonal(cos, 1.0)
        th = np.arccos(cos)
        sig.append(norms * (np.sqrt(np.maximum(1.0 - cos**2, 0.0)) + (np.pi - th) * cos) / np.pi)
        dots.append((np.pi - th) / np.pi)
    theta = np.zeros_like(sig[0])
    for h in range(1, depth + 2):
        prod = np.ones_like(sig[0])
        for hp in range(h, depth + 1):  # Sigma_dot^(D+1) = 1 is left out of the product
            prod = prod * dots[hp - 1]
        theta += sig[h - 1] * prod
    return sig[-1], theta


def two_layer_ntk(X1, X2=None) -> np.ndarray:
    """Kernel of the lecture notes' two-layer model, first layer trained only.

    For ``f(x) = m^{-1/2} sum_r a_r relu(w_r . x)``, ``w_r ~ N(0, I)``, ``a_r = +-1``:
    ``H*(x, x') = (x . x') * E_w[1{w.x > 0} 1{w.x' > 0}] = (x . x') (pi - theta) / (2 pi)``,
    ``theta`` the angle between ``x`` and ``x'``. The factor ``x . x'`` is part of it: the
    expectation alone is ``(pi - theta)/(2 pi)``.
    """
    X1, X2 = _pair(X1, X2)
    n1 = np.linalg.norm(X1, axis=1)
    n2 = np.linalg.norm(X2, axis=1)
    if np.any(n1 == 0) or np.any(n2 == 0):
        raise ValueError("X1/X2 contain an all-zero input, whose angle is undefined; remove it")
    U, V = X1 / n1[:, None], X2 / n2[:, None]
    # Kahan's angle formula, accurate also for nearly parallel inputs (arccos is not).
    diff = np.linalg.norm(U[:, None, :] - V[None, :, :], axis=2)
    summ = np.linalg.norm(U[:, None, :] + V[None, :, :], axis=2)
    theta = 2 * np.arctan2(diff, summ)
    return (X1 @ X2.T) * (np.pi - theta) / (2 * np.pi)


def two_layer_module(d: int, width: int, *, seed):
    """The lecture notes' two-layer model as a ``torch.nn.Module`` (float64).

    ``f(x) = m^{-1/2} sum_j a_j relu(w_j . x)`` with ``m = width``, ``w_j ~ N(0, I_d)`` (the rows
    of the trained parameter ``W``, drawn first from ``seed``) and fixed signs ``a_j = +-1``
    (a buffer, drawn next; not trained). ``forward`` maps an (n, d) tensor to (n, 1) outputs.
    Its tangent kernel (gradients with respect to ``W`` only) is ``H(0)`` of the notes, computed
    by :func:`two_layer_empirical_ntk` with torch autograd.
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
    """Finite-width kernel ``H(0)`` of the model of :func:`two_layer_ntk` at initialisation.

    ``H(0)(x, x') = <d f(x)/d W, d f(x')/d W>`` for the network ``two_layer_module(d, width,
    seed=seed)``, computed by torch autograd (:func:`empirical_ntk`): nothing of the limit
    formula is written into it. (By the chain rule it equals
    ``(x . x') (1/m) sum_j 1{w_j . x > 0} 1{w_j . x' > 0}``, which the unit tests check.)
    Shape (n1, n2), float64.
    """
    X1, X2 = _pair(X1, X2)
    model = two_layer_module(X1.shape[1], width, seed=seed)
    return empirical_ntk(model, X1, None if X2 is X1 else X2)


def two_layer_finite_ntk(X1, X2=None, *, width: int, seed) -> np.ndarray:
    """The kernel ``H(0)`` of :func:`two_layer_empirical_ntk` in closed form (NumPy, no torch).

    By the chain rule, ``d f(x) / d w_j = m^{-1/2} a_j 1{w_j . x > 0} x`` for the model of
    :func:`two_layer_module`, and ``a_j^2 = 1``, so

        H(0)(x, x') = (x . x') (1/m) sum_{j=1}^m 1{w_j . x > 0} 1{w_j . x' > 0},

    with the same first-layer weights ``w_j`` (rows of ``W``, drawn first from ``seed``) as
    ``two_layer_module(d, width, seed=seed)``; the indicator is 0 at ``w_j . x = 0``, as torch's
    ReLU derivative. It equals the autograd kernel to rounding (unit-tested) and takes about a
    millisecond for 64 inputs at width 10,000, so a widget can recompute it live. As the width
    grows it converges to :func:`two_layer_ntk`. Shape (n1, n2), float64.
    """
    X1, X2 = _pair(X1, X2)
    width = positive_int(width, "width")
    rng = check_rng(seed)
    W = rng.standard_normal((width, X1.shape[1]))  # the draw order of two_layer_module
    S1 = (X1 @ W.T > 0).astype(np.float64)
    S2 = S1 if X2 is X1 else (X2 @ W.T > 0).astype(np.float64)
    return (X1 @ X2.T) * (S1 @ S2.T) / width


# -- finite networks (torch) -----------------------------------------------------------------


def jacobian_kernel(apply, theta, X1, X2=None):
    """``J(X1) J(X2)^T`` for a model ``apply(theta, X) -> outputs (n,)`` (torch tensors).

    ``J(X)[i, p] = d apply(theta, X)_i / d theta_p``, computed with ``torch.func.jacrev`` over
    the whole batch, so ``apply`` must treat the examples independently (true for MLPs and
    layer normalization, false for batch normalization). ``theta``, ``X1``, ``X2`` are float64
    tensors; returns a float64 numpy array of shape (n1, n2).
    """
    from torch.func import jacrev

    J1 = jacrev(lambda th: apply(th, X1))(theta)
    J2 = J1 if X2 is None else jacrev(lambda th: apply(th, X2))(theta)
    return (J1 @ J2.T).numpy().copy()


def mlp_empirical_ntk(spec: MLPSpec, theta, X1, X2=None) -> np.ndarray:
    """Empirical NTK of the :class:`MLPSpec` network at the flat parameters ``theta``.

    ``J(X1) J(X2)^T`` with ``J(X)[i, p] = d f_theta(x_i) / d theta_p`` (torch.func Jacobians,
    float64); shape (n1, n2). Equal to ``empirical_ntk(mlp_module(spec, theta), X1, X2)``.
    """
    spec = as_spec(spec)
    theta_t = as_tensor(spec.check_theta(theta))
    X1_t = as_tensor(spec.check_inputs(X1, "X1"))
    X2_t = None if X2 is None else as_tensor(spec.check_inputs(X2, "X2"))
    return jacobian_kernel(lambda th, X: forward(spec, th, X), theta_t, X1_t, X2_t)


def mlp_empirical_ntk_layers(spec: MLPSpec, theta, X1, X2=None) -> np.ndarray:
    """Per-layer parts of the empirical NTK of an :class:`MLPSpec` network.

    ``K[l - 1] = J_l(X1) J_l(X2)^T`` with ``J_l`` the columns of the Jacobian
    ``d f_theta(x_i) / d theta`` that belong to ``W^l`` and ``b^l`` (``l = 1..D+1``, readout
    last; torch.func Jacobians, float64). ``K.sum(0)`` is :func:`mlp_empirical_ntk`, and as the
    widths grow ``K`` converges to :func:`relu_ntk_layer_terms` (ReLU networks, NTK scaling).
    Returns an array of shape (D + 1, n1, n2).
    """
    from torch.func import jacrev

    spec = as_spec(spec)
    theta_t = as_tensor(spec.check_theta(theta))
    X1_t = as_tensor(spec.check_inputs(X1, "X1"))
    X2_t = None if X2 is None else as_tensor(spec.check_inputs(X2, "X2"))

    def jac(X):
        return jacrev(lambda th: forward(spec, th, X))(theta_t)

    J1 = jac(X1_t)
    J2 = J1 if X2_t is None else jac(X2_t)
    sizes = [o * i + o for o, i in spec.layer_shapes]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return np.stack(
        [(J1[:, a:b] @ J2[:, a:b].T).numpy() for a, b in itertools.pairwise(bounds)]
    )


def one_hidden_layer_ntk(spec: MLPSpec, theta, X1, X2=None) -> np.ndarray:
    """Empirical NTK of a one-hidden-layer :class:`MLPSpec` network in closed form (NumPy).

    With ``h = (w_std / sqrt(d)) W1 x + b_std b1``, ``g = phi(h)`` and readout weights
    ``v = W2[0]``, the gradient inner product is

        K(x, x') = (w_std^2 / m) g . g' + b_std^2
                   + (w_std^2 / m) sum_j v_j^2 phi'(h_j) phi'(h'_j) (w_std^2 x.x'/d + b_std^2)

    divided by ``m`` for ``readout_scale='mean_field'``. Same result as
    :func:`mlp_empirical_ntk` without torch Jacobians (milliseconds for widths in the
    thousands), for widget recomputes. Shape (n1, n2), float64.
    """
    spec = as_spec(spec)
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


def empirical_ntk(model, X1, X2=None) -> np.ndarray:
    """Empirical NTK ``Theta(x, x') = <grad_theta f(x), grad_theta f(x')>`` of a torch module.

    ``model`` is a ``torch.nn.Module`` with one scalar output per example (output shape (n,)
    or (n, 1) for an (n, d) input); the gradient is taken over all its parameters with
    ``requires_grad=True`` at their current values, copied to float64 (the module itself is
    not modified). Examples must be processed independently: call ``model.eval()`` first if
    it has batch normalization or dropout. ``X2=None`` means ``X2 = X1``.

    Implementation: ``torch.func.functional_call`` on a one-example batch, ``jacrev`` over
    the parameter dict, ``vmap`` over the examples (one vectorized backward pass per input
    set), then ``K = sum_p J1_p J2_p^T`` over the parameter tensors ``p``. Returns a float64
    array of shape (n1, n2).
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
    n1, n2 = X1.shape[0], X2.shape[0]
    K = torch.zeros(n1, n2, dtype=torch.float64)
    for name in params:
        K += J1[name].reshape(n1, -1) @ J2[name].reshape(n2, -1).T
    return K.numpy().copy()


def empirical_ntk_loop(model, X1, X2=None) -> np.ndarray:
    """Naive reference for :func:`empirical_ntk`: one autograd backward pass per example.

    For each input ``x_i`` separately: forward on the one-example batch, ``torch.autograd.grad``
    of the scalar output, flattened into row ``i`` of ``J``; then ``K = J1 J2^T``. Same
    conventions and result as :func:`empirical_ntk` (float64), only slower: the baseline of
    ``benchmarks/ntk_speed.py`` and of the unit tests.
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


# -- the path kernel of a gradient-descent run -----------------------------------------------


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

    from .descent import run_gd

    spec = as_spec(spec)
    theta0 = spec.check_theta(theta0, "theta0")
    X = spec.check_inputs(X)
    y = as_vector(y, "y", length=X.shape[0])
    X_test = spec.check_inputs(X_test, "X_test")
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps")
    chunk = positive_int(chunk, "chunk")
    traj = run_gd(
        squared_loss_fun(spec, X, y), theta0, eta, n_steps, checkpoints=np.arange(n_steps + 1)
    )
    if traj.diverged:
        raise ValueError(
            f"gradient descent diverged at step {traj.diverged_at} with eta = {eta}: "
            "use a smaller eta"
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
        same gradient descent (closed form :func:`kernel_gd_predict` with the empirical kernel
        at initialisation).
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
    from .descent import run_gd

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
    _check_eta_stable(eta, lam_max, X.shape[0])
    traj = run_gd(squared_loss_fun(spec, X, y), theta0, eta, n_steps)
    if traj.diverged:
        raise ValueError(f"gradient descent diverged at step {traj.diverged_at}: use a smaller eta")
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
    (default: log-spaced checkpoints). Raises ``ValueError`` if the run diverges.
    """
    import torch
    from torch.func import vmap

    from .descent import run_gd

    spec = as_spec(spec)
    theta0 = spec.check_theta(theta0, "theta0")
    X = spec.check_inputs(X)
    y = as_vector(y, "y", length=X.shape[0])
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps")
    traj = run_gd(squared_loss_fun(spec, X, y), theta0, eta, n_steps, checkpoints=checkpoints)
    if traj.diverged:
        raise ValueError(f"gradient descent diverged at step {traj.diverged_at}: use a smaller eta")
    X_t = as_tensor(X)
    with torch.no_grad():
        F = vmap(lambda th: forward(spec, th, X_t))(as_tensor(traj.w))
    return traj.steps.copy(), F.numpy().copy()


# -- kernel regression dynamics --------------------------------------------------------------


def _check_kernel(K, name="K") -> np.ndarray:
    K = as_matrix(K, name)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be square, got shape {K.shape}")
    if not np.allclose(K, K.T, rtol=1e-10, atol=1e-12 * max(1.0, float(np.abs(K).max()))):
        raise ValueError(f"{name} must be symmetric (a kernel Gram matrix)")
    return 0.5 * (K + K.T)


def _eigh_psd(K, name="K"):
    lam, V = np.linalg.eigh(K)
    tol = 1e-10 * max(1.0, float(lam.max()))
    if lam.min() < -tol:
        raise ValueError(
            f"{name} must be positive semi-definite, smallest eigenvalue {lam.min():.3g}"
        )
    return np.maximum(lam, 0.0), V


def _gd_power(base, k):
    """``base ** k`` for the GD factors ``base = 1 - eta lam / n`` after ``k = t / eta`` steps.

    A negative base (``eta lam / n > 1``, oscillating modes) needs a whole number of steps;
    ``k`` within ``1e-9`` relative of an integer is rounded (``t = k * eta`` in floating point),
    otherwise a ``ValueError`` is raised instead of returning NaN.
    """
    k = np.asarray(k, dtype=np.float64)
    k_int = np.rint(k)
    whole = np.abs(k - k_int) <= 1e-9 * np.maximum(1.0, np.abs(k))
    if np.any(base < 0) and not np.all(whole):
        raise ValueError(
            "times must be whole multiples of eta (t = k * eta) when eta * lambda / n > 1 for some "
            "eigenvalue: the factor (1 - eta lambda / n) is then negative"
        )
    return base ** np.where(whole, k_int, k)


def _gain(lam, n, t, eta):
    """``(1 - decay(lam)) / lam`` with its ``lam -> 0`` limit; decay = exp(-lam t/n) or GD."""
    if eta is None:
        x = lam * t / n
        return np.where(lam > 0, -np.expm1(-x) / np.where(lam > 0, lam, 1.0), t / n)
    base = 1.0 - eta * lam / n
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (1.0 - _gd_power(base, t / eta)) / np.where(lam > 0, lam, 1.0)
    return np.where(lam > 0, g, t / n)


def _check_eta_stable(eta, lam_max, n):
    eta = positive_float(eta, "eta")
    limit = 2 * n / lam_max if lam_max > 0 else np.inf
    if eta >= limit:
        raise ValueError(
            f"eta = {eta:.4g} is past the stability limit 2n/lambda_max = {limit:.4g} of gradient "
            "descent on this kernel (the residual would grow): use a smaller eta"
        )
    return eta


def kernel_gd_predict(K_train, K_test_train, y, f0_train, f0_test, times, *, eta=None):
    """Predictions of kernel regression trained by gradient flow (or GD) from ``f0``.

    With ``L = (1/2n) sum_i (f(x_i) - y_i)^2`` and a fixed kernel ``K``, gradient flow gives

        f_t(x) = f_0(x) + K(x, X) K^{-1} (I - exp(-K t / n)) (y - f_0(X)),

    and gradient descent with step ``eta`` at ``t = k eta`` replaces ``exp(-K t/n)`` by
    ``(I - eta K / n)^k`` (``eta=...``; refused past the stability limit ``2n/lambda_max``;
    if ``eta lambda_max / n > 1`` the times must be whole multiples of ``eta``).
    ``K^{-1}(I - ...)`` is evaluated in the eigenbasis of ``K`` (its ``lambda -> 0`` limit is
    ``t/n``), so singular ``K`` is fine.

    Returns an array of shape (len(times), n_test).
    """
    K = _check_kernel(K_train, "K_train")
    n = K.shape[0]
    Kx = as_matrix(K_test_train, "K_test_train")
    if Kx.shape[1] != n:
        raise ValueError(f"K_test_train must have {n} columns (one per training point)")
    y = as_vector(y, "y", length=n)
    f0 = as_vector(f0_train, "f0_train", length=n)
    f0x = as_vector(f0_test, "f0_test", length=Kx.shape[0])
    times = np.atleast_1d(as_array_times(times))
    lam, V = _eigh_psd(K, "K_train")
    if eta is not None:
        eta = _check_eta_stable(eta, lam.max(), n)
    r = V.T @ (y - f0)
    out = np.empty((times.size, Kx.shape[0]))
    for j, t in enumerate(times):
        out[j] = f0x + Kx @ (V @ (_gain(lam, n, t, eta) * r))
    return out


def as_array_times(times) -> np.ndarray:
    """Validated non-negative times (1-D float64)."""
    t = np.atleast_1d(np.asarray(times, dtype=np.float64)) if not isinstance(times, str) else None
    if t is None or t.ndim != 1 or t.size == 0:
        raise TypeError("times must be a number or a 1-D array of non-negative times")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("times must be finite and >= 0")
    return t


class KernelEigen:
    """Eigen-decomposition of a kernel Gram matrix, computed once and reused.

    ``lam`` (decreasing) and ``V`` with ``K = V diag(lam) V^T``. Widgets call :meth:`residuals`
    and :meth:`complexity` many times on the same kernel, so the ``O(n^3)`` step is done once.
    """

    def __init__(self, K):
        K = _check_kernel(K)
        lam, V = _eigh_psd(K)
        self.n = K.shape[0]
        self.lam, self.V = lam[::-1].copy(), V[:, ::-1].copy()
        self.trace = float(np.trace(K))

    def residuals(self, r0, times, *, eta=None) -> np.ndarray:
        """``R[j, i] = v_i . r(times[j])`` for kernel GD/flow from residual ``r0`` (see
        :func:`kernel_gd_residuals`)."""
        r0 = as_vector(r0, "r0", length=self.n)
        times = as_array_times(times)
        p0 = self.V.T @ r0
        if eta is None:
            decay = np.exp(-np.outer(times, self.lam) / self.n)
        else:
            eta = _check_eta_stable(eta, self.lam.max(), self.n)
            decay = _gd_power((1.0 - eta * self.lam / self.n)[None, :], times[:, None] / eta)
        return decay * p0[None, :]

    def complexity(self, y) -> float:
        """``sqrt(2 y^T K^{-1} y tr K) / n`` (see :func:`ntk_complexity`)."""
        y = as_vector(y, "y", length=self.n)
        if self.lam.min() <= 1e-12 * self.lam.max():
            raise ValueError("H must be positive definite (invertible) for y^T H^{-1} y")
        quad = float(np.sum((self.V.T @ y) ** 2 / self.lam))
        return math.sqrt(2.0 * quad * self.trace) / self.n


def kernel_gd_residuals(K, r0, times, *, eta=None):
    """Training residual ``r(t) = f_t(X) - y`` of kernel regression in the eigenbasis of ``K``.

    Returns ``(lam, V, R)`` with ``K = V diag(lam) V^T`` (eigenvalues in *decreasing* order) and
    ``R[j, i] = v_i . r(times[j]) = exp(-lam_i t_j / n) v_i . r0`` (gradient flow) or
    ``(1 - eta lam_i / n)^(t_j / eta) v_i . r0`` (gradient descent with step ``eta``; the times
    must be whole multiples of ``eta`` if some factor ``1 - eta lam_i / n`` is negative).
    """
    eig = KernelEigen(K)
    return eig.lam, eig.V, eig.residuals(r0, times, eta=eta)


def ntk_complexity(H, y) -> float:
    """The data-dependent complexity ``sqrt(2 y^T H^{-1} y * tr H) / n``.

    The form of the lecture notes (section "Understanding Generalization in 2-layer setting" of
    Arora et al., *Theory of Deep Learning*). ``sqrt(y^T H^{-1} y tr H) / n`` is the kernel
    Rademacher bound for the class of RKHS norm ``B = sqrt(y^T H^{-1} y)`` (the norm of the
    interpolant); this measure is ``sqrt(2)`` times it. It is invariant under ``H -> c H``. For
    the two-layer model of :func:`two_layer_ntk` and unit-norm inputs, ``tr H = n/2`` and the
    measure equals ``sqrt(y^T H^{-1} y / n)``, i.e. ``1/sqrt(2)`` times the leading term
    ``sqrt(2 y^T H^{-1} y / n)`` of the generalization bound of Arora, Du, Hu, Li & Wang
    (2019, Thm 5.1), which is twice the Rademacher bound. That equality needs ``tr H = n/2``:
    the leading term scales like ``c^{-1/2}`` under ``H -> c H``, so no scale-free measure
    equals it for every kernel.
    """
    H = _check_kernel(H, "H")
    return KernelEigen(H).complexity(y)


# -- circle data: Fourier modes --------------------------------------------------------------


def fourier_basis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal real Fourier basis on ``n`` equally spaced circle points.

    Returns ``(freq, F)``: column ``j`` of ``F`` (shape (n, n)) is the normalised
    ``1``, ``cos(k phi)``, ``sin(k phi)`` (or ``cos(n/2 phi)`` for even n) and ``freq[j] = k``.
    """
    n = positive_int(n, "n", minimum=3)
    phi = 2 * np.pi * np.arange(n) / n
    cols, freq = [np.ones(n) / np.sqrt(n)], [0]
    for k in range(1, (n - 1) // 2 + 1):
        cols += [np.cos(k * phi) * np.sqrt(2 / n), np.sin(k * phi) * np.sqrt(2 / n)]
        freq += [k, k]
    if n % 2 == 0:
        cols.append(np.cos(n // 2 * phi) / np.sqrt(n))
        freq.append(n // 2)
    return np.array(freq), np.column_stack(cols)


def circulant_spectrum(K) -> np.ndarray:
    """Eigenvalues ``lambda_k = sum_j K[0, j] cos(2 pi j k / n)``, ``k = 0..n//2``.

    For a kernel that depends only on the angle between points, the Gram matrix on equally
    spaced circle points is circulant and symmetric, so the Fourier modes ``cos(k phi)`` and
    ``sin(k phi)`` are eigenvectors with eigenvalue ``lambda_k``. ``K`` must be circulant.
    """
    K = _check_kernel(K)
    n = K.shape[0]
    rolled = np.stack([np.roll(K[0], i) for i in range(n)])
    if not np.allclose(K, rolled, atol=1e-10 * max(1.0, float(np.abs(K).max()))):
        raise ValueError(
            "K must be circulant (a rotation-invariant kernel on equally spaced points)"
        )
    k = np.arange(n // 2 + 1)
    j = np.arange(n)
    return np.cos(2 * np.pi * np.outer(k, j) / n) @ K[0]


# -- small statistics helper -----------------------------------------------------------------
