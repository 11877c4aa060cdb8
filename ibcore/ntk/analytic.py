"""Infinite-width kernels of ReLU networks in numpy: NNGP, NTK, layer terms, two-layer kernels.

The functions of this module are documented under :mod:`ibcore.ntk`, which re-exports them.

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
    layer recursion of :func:`ibcore.ntk.relu_kernels`: the input kernel is ``x . x' / d``; a
    dense layer maps ``(nngp, ntk)`` to ``(w_std^2 nngp + b_std^2, nngp_new + w_std^2 ntk)``; a
    ReLU maps, with ``q1, q2`` the diagonal entries, ``k`` the cross entry and
    ``cos(theta) = k / sqrt(q1 q2)``,
    ``nngp <- (1/2pi) [sqrt(q1 q2 - k^2) + (pi - theta) k]`` and
    ``ntk <- ntk (pi - theta) / (2 pi)``. The recursion starts from ``ntk = 0``.

    Unrolled, the recursion is the layer sum of :func:`ibcore.ntk.relu_ntk_layer_terms`:
    ``Theta = sum_{l=1}^{D+1} Sigma^(l) prod_{l'=l}^{D} w_std^2 (pi - theta_l') / (2 pi)``, the
    limit of the per-layer parts of the empirical NTK (:func:`ibcore.ntk.mlp_empirical_ntk_layers`).

    The two-layer model of the lecture notes (section "NTK: Simple 2-layer example" of Arora et
    al., *Theory of Deep Learning*), ``f(x) = m^{-1/2} sum_j a_j relu(w_j . x)`` with only the
    first layer trained (:func:`ibcore.ntk.two_layer_module`), has the kernel
    ``H*(x, x') = (x . x') (pi - theta) / (2 pi)`` (:func:`ibcore.ntk.two_layer_ntk`).
"""

from __future__ import annotations

import math

import numpy as np

from ..validation import as_matrix, check_rng, positive_float, positive_int

__all__ = [
    "lecture_notes_ntk",
    "relu_kernels",
    "relu_nngp",
    "relu_ntk",
    "relu_ntk_layer_terms",
    "two_layer_finite_ntk",
    "two_layer_ntk",
]


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


def _nt_args(X1, X2, depth, w_std, b_std):
    X1, X2 = _pair(X1, X2)
    depth = positive_int(depth, "depth")
    w_std = positive_float(w_std, "w_std")
    b_std = positive_float(b_std, "b_std", allow_zero=True)
    return X1, X2, depth, w_std, b_std


def relu_kernels(
    X1, X2=None, *, depth: int = 1, w_std: float = 1.0, b_std: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width NNGP and NTK of a ReLU network (neural-tangents conventions).

    The network is the depth-``D`` ReLU network of the module docstring in the NTK
    parameterization (``h^l = (w_std / sqrt(m_{l-1})) W^l g^{l-1} + b_std b^l``, ReLU without the
    factor 2, input kernel ``x . x' / d``); both kernels come from one pass of the layer recursion
    (a dense layer ``(nngp, ntk) -> (w_std^2 nngp + b_std^2, nngp_new + w_std^2 ntk)``, a ReLU
    ``nngp -> (1/2pi) [sqrt(q1 q2 - k^2) + (pi - theta) k]``, ``ntk -> ntk (pi - theta)/(2 pi)``).

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        First set of inputs, finite.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs (default ``X1``); the same number of columns ``d`` as ``X1``.
    depth : int, keyword-only
        Number of hidden ReLU layers ``D >= 1`` (a readout dense layer follows them).
    w_std, b_std : float, keyword-only
        Weight and bias standard deviations of every dense layer (``w_std > 0``,
        ``b_std >= 0``).

    Returns
    -------
    nngp, ntk : tuple of two ndarray of float64, shape (n1, n2)
        The output covariance at initialisation and the neural tangent kernel, computed by the
        recursion in the module docstring. For ``depth = 1, w_std = 1, b_std = 0``:
        ``ntk = kappa_1 + (x . x'/d) kappa_0`` with ``kappa_0 = (pi - theta)/(2 pi)`` and
        ``kappa_1 = (|x||x'|/d)(sin theta + (pi - theta) cos theta)/(2 pi)``.

    Raises
    ------
    TypeError
        If an input is not a numeric array, ``depth`` is not an integer or a std not a real number.
    ValueError
        If ``X1``/``X2`` are not finite non-empty matrices with the same number of columns,
        ``depth < 1``, ``w_std <= 0``, ``b_std < 0``, or an input is all zero while ``b_std = 0``
        (its angle to the other inputs is undefined).
    """
    return _relu_recursion(*_nt_args(X1, X2, depth, w_std, b_std))


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

    for layer in range(depth):  # gap: 1 - cos theta without cancellation (see _relu_angle)
        q1, q2, k, ntk = dense(q1, q2, k, ntk)
        norms = np.sqrt(np.outer(q1, q2))
        cos = _cosine(k, norms, X2 is X1)
        cogap = None
        if not layer:
            gap, cogap = _first_layer_gaps(X1, X2, cos, w_std / np.sqrt(d), b_std)
        theta, sin, cos, gap = _relu_angle(cos, gap, cogap)
        k = norms * (sin + (np.pi - theta) * cos) / (2 * np.pi)
        ntk = ntk * (np.pi - theta) / (2 * np.pi)
        q1, q2 = q1 / 2, q2 / 2
        gap = _dense_gap(gap, w_std**2 * q1, w_std**2 * q2, b_std**2)  # the next layer's
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
    :func:`ibcore.ntk.relu_kernels`, so the two are independent evaluations of the same kernel
    (same arguments and conventions: NTK parameterization, ReLU without the factor 2).

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        First set of inputs, finite.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs (default ``X1``), with ``d`` columns.
    depth : int, keyword-only
        Number of hidden ReLU layers ``D >= 1``.
    w_std, b_std : float, keyword-only
        Weight (``> 0``) and bias (``>= 0``) standard deviations of every dense layer.

    Returns
    -------
    ndarray of float64, shape (depth + 1, n1, n2)
        ``T[l - 1]`` for ``l = 1..D+1``; their sum is :func:`ibcore.ntk.relu_ntk`.

    Raises
    ------
    TypeError
        If an input is not a numeric array, ``depth`` is not an integer or a std not a real number.
    ValueError
        For inputs that are not finite matrices with the same number of columns, ``depth < 1``,
        ``w_std <= 0``, ``b_std < 0``, or an all-zero input while ``b_std = 0``.
    """
    X1, X2, depth, w_std, b_std = _nt_args(X1, X2, depth, w_std, b_std)
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
        cos = _cosine(k, norms, X2 is X1)
        cogap = None
        if not layer:
            gap, cogap = _first_layer_gaps(X1, X2, cos, w_std / np.sqrt(d), b_std)
        th, sin, cos, gap = _relu_angle(cos, gap, cogap)
        dots.append((np.pi - th) / (2 * np.pi))
        k = norms * (sin + (np.pi - th) * cos) / (2 * np.pi)
        q1, q2 = q1 / 2, q2 / 2
        gap = _dense_gap(gap, w_std**2 * q1, w_std**2 * q2, b_std**2)  # the next layer's
    terms = np.empty((depth + 1, *k.shape))
    back = np.ones_like(k)  # prod_{l' = l}^{D} w_std^2 Sigma_dot^(l'), built from the top
    for layer in range(depth, -1, -1):  # index layer = l - 1
        terms[layer] = sigmas[layer] * back
        if layer > 0:
            back = back * w_std**2 * dots[layer - 1]
    return terms


def relu_ntk(X1, X2=None, depth: int = 1, w_std: float = 1.0, b_std: float = 0.0) -> np.ndarray:
    """Infinite-width NTK of a fully connected ReLU network, as neural-tangents computes it.

    Equal to ``kernel_fn(X1, X2, 'ntk')`` of neural-tangents for
    ``stax.serial(*[Dense(k, W_std=w_std, b_std=b_std), Relu()] * depth,
    Dense(1, W_std=w_std, b_std=b_std))`` (NTK parameterization, any hidden width ``k``, ReLU
    without the factor 2): input kernel ``x . x' / d``, the dense and ReLU rules of the module
    docstring; the second output of :func:`ibcore.ntk.relu_kernels`.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        First set of inputs, finite.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs; ``None`` (default) means ``X2 = X1``.
    depth : int
        Number of hidden Dense+ReLU blocks, ``>= 1``.
    w_std : float
        Weight standard deviation, ``> 0``.
    b_std : float
        Bias standard deviation, ``>= 0``.

    Returns
    -------
    ndarray of float64, shape (n1, n2)
        For ``depth = 1, w_std = 1, b_std = 0``:
        ``Theta = kappa_1 + (x . x'/d) kappa_0`` with ``kappa_0 = (pi - theta)/(2 pi)`` and
        ``kappa_1 = (|x||x'|/d)(sin theta + (pi - theta) cos theta)/(2 pi)``; on the diagonal,
        ``Theta(x, x) = (depth + 1) |x|^2 / (d 2^depth)``.

    Raises
    ------
    TypeError
        If an input is not a numeric array, ``depth`` is not an integer or a std not a real number.
    ValueError
        For inputs that are not finite matrices with the same number of columns, ``depth < 1``,
        ``w_std <= 0``, ``b_std < 0``, or an all-zero input while ``b_std = 0``.
    """
    return _relu_recursion(*_nt_args(X1, X2, depth, w_std, b_std))[1]


def relu_nngp(X1, X2=None, depth: int = 1, w_std: float = 1.0, b_std: float = 0.0) -> np.ndarray:
    """Infinite-width NNGP kernel (output covariance at initialisation) of the network of
    :func:`ibcore.ntk.relu_ntk`: neural-tangents' ``kernel_fn(X1, X2, 'nngp')``.

    The first output of :func:`ibcore.ntk.relu_kernels` (NTK parameterization, ReLU without the
    factor 2, input kernel ``x . x' / d``). For ``w_std = 1, b_std = 0``,
    ``Sigma(x, x) = |x|^2 / (d 2^depth)``.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        First set of inputs, finite.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs; ``None`` (default) means ``X2 = X1``.
    depth : int
        Number of hidden Dense+ReLU blocks, ``>= 1``.
    w_std : float
        Weight standard deviation, ``> 0``.
    b_std : float
        Bias standard deviation, ``>= 0``.

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If an input is not a numeric array, ``depth`` is not an integer or a std not a real number.
    ValueError
        For inputs that are not finite matrices with the same number of columns, ``depth < 1``,
        ``w_std <= 0``, ``b_std < 0``, or an all-zero input while ``b_std = 0``.
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
    defining it. Computed from the explicit layer sum (not the recursion of
    :func:`ibcore.ntk.relu_kernels`), so it is an independent check: it equals ``(d / 2)`` times
    ``relu_kernels(..., w_std = sqrt(2), b_std = 0)``, the same network with the first layer
    rescaled.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        First set of inputs, finite, no all-zero row.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs (default ``X1``), with ``d`` columns.
    depth : int, keyword-only
        Number of hidden layers ``D >= 1``.

    Returns
    -------
    sigma, theta : tuple of two ndarray of float64, shape (n1, n2)
        ``Sigma^(D)`` (the NNGP) and ``Theta`` (the NTK).

    Raises
    ------
    TypeError
        If an input is not a numeric array or ``depth`` is not an integer.
    ValueError
        For inputs that are not finite matrices with the same number of columns, ``depth < 1``,
        or an all-zero input (its angle is undefined).
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
    for layer in range(depth):
        cos = _cosine(sig[-1], norms, X2 is X1)
        cogap = None
        if not layer:
            gap, cogap = _first_layer_gaps(X1, X2, cos, 1.0, 0.0)
        th, sin, cos, gap = _relu_angle(cos, gap, cogap)
        sig.append(norms * (sin + (np.pi - th) * cos) / np.pi)
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
    ``theta`` the angle between ``x`` and ``x'`` (computed with Kahan's formula, accurate for
    nearly parallel inputs). The factor ``x . x'`` is part of it: the expectation alone is
    ``(pi - theta)/(2 pi)``. No ``1/d`` normalisation of the input kernel here, unlike
    :func:`ibcore.ntk.relu_ntk`.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        First set of inputs, finite, no all-zero row.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs (default ``X1``), with ``d`` columns.

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If an input is not a numeric array.
    ValueError
        For inputs that are not finite matrices with the same number of columns, or an all-zero
        input (its angle is undefined).
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


def two_layer_finite_ntk(X1, X2=None, *, width: int, seed) -> np.ndarray:
    """The kernel ``H(0)`` of :func:`ibcore.ntk.two_layer_empirical_ntk` in closed form (numpy).

    By the chain rule, ``d f(x) / d w_j = m^{-1/2} a_j 1{w_j . x > 0} x`` for the model of
    :func:`ibcore.ntk.two_layer_module`, and ``a_j^2 = 1``, so

        H(0)(x, x') = (x . x') (1/m) sum_{j=1}^m 1{w_j . x > 0} 1{w_j . x' > 0},

    with the same first-layer weights ``w_j`` (rows of ``W``, drawn first from ``seed``) as
    ``two_layer_module(d, width, seed=seed)``; the indicator is 0 at ``w_j . x = 0``, as torch's
    ReLU derivative. It equals the autograd kernel to rounding (unit-tested) and takes about a
    millisecond for 64 inputs at width 10,000, so a widget can recompute it live. As the width
    grows it converges to :func:`ibcore.ntk.two_layer_ntk`.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        First set of inputs, finite.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs (default ``X1``), with ``d`` columns.
    width : int, keyword-only
        Number of hidden units ``m >= 1``.
    seed : int or numpy.random.Generator, keyword-only
        Required; the first-layer weights are its first ``(m, d)`` standard normals.

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If an input is not a numeric array, ``width`` is not an integer or ``seed`` is neither an
        int nor a Generator.
    ValueError
        For inputs that are not finite matrices with the same number of columns, ``width < 1`` or
        a negative ``seed``.
    """
    X1, X2 = _pair(X1, X2)
    width = positive_int(width, "width")
    rng = check_rng(seed)
    W = rng.standard_normal((width, X1.shape[1]))  # the draw order of two_layer_module
    S1 = (X1 @ W.T > 0).astype(np.float64)
    S2 = S1 if X2 is X1 else (X2 @ W.T > 0).astype(np.float64)
    return (X1 @ X2.T) * (S1 @ S2.T) / width


# -- accurate angles for nearly parallel inputs ----------------------------------------------------
# The recursions above need the angle theta of every layer. ``arccos(k / sqrt(q1 q2))`` is well
# conditioned for large angles, but near theta = 0 (and near pi) a rounding error eps in the
# cosine becomes an error ~sqrt(eps) in theta, which the NTK's factor (pi - theta) / (2 pi)
# passes on. So the recursions also carry the gap ``g = 1 - cos theta`` of every pair, computed
# without cancellation: in the first layer by Kahan's angle formula on the inputs augmented by
# the bias, through a dense layer with bias by the identity of ``_dense_gap``, through a ReLU by
# ``1 - cos theta' = g - (sin theta - theta cos theta) / pi``. Where ``cos theta > 0.9`` the angle
# is taken from the gap, ``theta = 2 arcsin(sqrt(g / 2))``; where ``cos theta < -0.9`` (first
# layer only: after a ReLU the cosine is >= 0) from ``1 + cos theta``; elsewhere it is
# ``arccos`` as before, bit-identical.

#: Above this |cosine| (theta < 0.451 or > pi - 0.451) the angle comes from the carried gaps;
#: below it ``arccos`` loses at most ``eps / sin theta <= 2.3 eps`` and is kept.
_SMALL_ANGLE_COS = 0.9

#: ``sin t - t cos t = (t^3 / 3) sum_n c_n t^(2n - 2)``, ``c_n = (-1)^(n+1) 6n / (2n+1)!``;
#: eight terms leave a relative truncation error below 1e-17 for ``t < 0.5``.
_SIN_MINUS_T_COS = tuple((-1) ** (n + 1) * 6 * n / math.factorial(2 * n + 1) for n in range(1, 9))


def _cosine(k, norms, same):
    """``k / norms`` clipped to [-1, 1]; exactly 1 on the diagonal when ``same`` (``X2 is X1``)."""
    cos = np.clip(k / norms, -1.0, 1.0)
    if same:  # one rounding error in q or k would become ~1e-8 in arccos
        np.fill_diagonal(cos, 1.0)
    return cos


def _first_layer_gaps(X1, X2, cos, w, b):
    """``1 - cos theta`` and ``1 + cos theta`` of the first layer's angle, the angle between the
    augmented inputs ``(w x, b)`` (``cos`` its cosine as computed). Kahan's formula
    ``theta = 2 arctan2(|u - v|, |u + v|)`` on the unit augmented rows (error ~eps in theta)
    gives ``2 sin^2(theta / 2)`` and ``2 cos^2(theta / 2)`` where ``|cos| > _SMALL_ANGLE_COS``;
    elsewhere ``1 -+ cos`` have no cancellation."""
    gap, cogap = 1.0 - cos, 1.0 + cos
    rows, cols = np.nonzero(np.abs(cos) > _SMALL_ANGLE_COS)
    if rows.size:
        A1 = np.hstack([w * X1, np.full((len(X1), 1), b)])
        A2 = np.hstack([w * X2, np.full((len(X2), 1), b)])
        U = A1 / np.linalg.norm(A1, axis=1)[:, None]  # no zero row: refused unless b > 0
        V = A2 / np.linalg.norm(A2, axis=1)[:, None]
        step = max(1, 2**22 // U.shape[1])  # pairs per chunk: at most 32 MB of differences
        for s in range(0, rows.size, step):
            i, j = rows[s : s + step], cols[s : s + step]
            half = np.arctan2(np.linalg.norm(U[i] - V[j], axis=1),
                              np.linalg.norm(U[i] + V[j], axis=1))
            gap[i, j], cogap[i, j] = 2 * np.sin(half) ** 2, 2 * np.cos(half) ** 2
    return gap, cogap


def _dense_gap(gap, a1, a2, b2):
    """The gap ``1 - cos`` after adding ``b2`` (the bias variance) to a kernel with diagonals
    ``a1, a2`` (rows, columns) and cross entries ``c sqrt(a1 a2)``, ``gap = 1 - c``:

        1 - cos' = [b2 (sqrt a1 - sqrt a2)^2 / (P + sqrt(a1 a2) + b2) + sqrt(a1 a2) gap] / P,

    ``P = sqrt((a1 + b2)(a2 + b2))``, from ``P^2 - (sqrt(a1 a2) + b2)^2 = b2 (sqrt a1 -
    sqrt a2)^2``: every term is non-negative, so there is no cancellation."""
    if b2 == 0:
        return gap
    r1, r2 = np.sqrt(a1), np.sqrt(a2)
    s = np.outer(r1, r2)
    p = np.sqrt(np.outer(a1 + b2, a2 + b2))
    return (b2 * np.subtract.outer(r1, r2) ** 2 / (p + s + b2) + s * gap) / p


def _relu_angle(cos, gap, cogap=None):
    """Angle of a ReLU layer's input kernel from its cosine ``cos`` (see ``_cosine``) and the
    carried ``gap = 1 - cos`` (and ``cogap = 1 + cos``, first layer). Returns ``theta,
    sin theta, cos theta`` and the gap of the ReLU's output, ``1 - J(theta) / pi`` with
    ``J = sin theta + (pi - theta) cos theta``, i.e. ``gap - (sin theta - theta cos theta) / pi``
    (a series for ``theta < 0.5``, where the difference cancels)."""
    theta = np.arccos(cos)
    sin = np.sqrt(np.maximum(1.0 - cos**2, 0.0))
    small = cos > _SMALL_ANGLE_COS
    if np.any(small):
        g = gap[small]
        th = 2 * np.arcsin(np.sqrt(g / 2))
        theta[small], sin[small], cos[small] = th, np.sin(th), 1.0 - g
    if cogap is not None and np.any(wide := cos < -_SMALL_ANGLE_COS):
        h = cogap[wide]
        phi = 2 * np.arcsin(np.sqrt(h / 2))  # pi - theta
        theta[wide], sin[wide], cos[wide] = np.pi - phi, np.sin(phi), h - 1.0
    f = sin - theta * cos
    tiny = theta < 0.5
    if np.any(tiny):
        t = theta[tiny]
        poly = np.zeros_like(t)
        for c in reversed(_SIN_MINUS_T_COS):
            poly = poly * t**2 + c
        f[tiny] = t**3 / 3 * poly
    return theta, sin, cos, gap - f / np.pi
