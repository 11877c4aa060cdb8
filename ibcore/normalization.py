"""Networks with normalization layers (torch, float64), and the normalization chapter's API.

Contents
    * :class:`ScaleInvariantMLP` (with :meth:`ScaleInvariantMLP.module`, the network as a
      ``torch.nn.Module`` for :func:`ibcore.ntk.empirical_ntk`), :class:`BNClassifier`,
      :func:`torch_objective`, :func:`train_bn_classifier`; :func:`one_hidden_layer_ntk_limit`,
      the infinite-width kernel of a one-hidden-layer :class:`ScaleInvariantMLP`.

Re-exported here, so that ``from ibcore import normalization as nz`` reaches the whole chapter:
    * :mod:`ibcore.scale_invariance`: scale-invariant losses, their identities, GD on them;
    * :mod:`ibcore.weight_decay`: the norm equilibrium, effective rate and kicks;
    * :mod:`ibcore.exponential_lr`: the exponential learning-rate schedule;
    * :mod:`ibcore.sharpness_reduction`: the sharpness-reduction toy and clocks;
    * :mod:`ibcore.deep_product`: GD on the product ``w_1 ... w_k`` of the motivation.

torch is imported when a model is built, not at module import.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .deep_product import ProductRun, product_blowup_threshold, product_gd
from .descent import Trajectory, run_gd
from .exponential_lr import equivalence_scale, exponential_schedule
from .mlp import MLPSpec, init_params
from .ntk import two_layer_ntk
from .scale_invariance import (
    NormalizedLinear,
    NormRun,
    RotationLoss,
    convergence_count_bound,
    first_hit,
    run_scale_invariant_gd,
    sphere_smoothness,
    turning_angles,
)
from .sharpness import hvp as _hvp
from .sharpness_reduction import NormalizedProduct, angular_clock, effective_sharpness
from .validation import as_matrix, as_vector, check_rng, one_of, positive_float, positive_int
from .weight_decay import (
    KickOnset,
    equilibrium_norm,
    kick_onset_sharpness,
    kick_starts,
    wd_convergence_time_bound,
    with_weight_decay,
)

__all__ = [
    "BNClassifier",
    "BNRun",
    "KickOnset",
    "NormRun",
    "NormalizedLinear",
    "NormalizedProduct",
    "ProductRun",
    "RotationLoss",
    "ScaleInvariantMLP",
    "angular_clock",
    "convergence_count_bound",
    "effective_sharpness",
    "equilibrium_norm",
    "equivalence_scale",
    "exponential_schedule",
    "first_hit",
    "kick_onset_sharpness",
    "kick_starts",
    "one_hidden_layer_ntk_limit",
    "product_blowup_threshold",
    "product_gd",
    "run_scale_invariant_gd",
    "sphere_smoothness",
    "torch_objective",
    "train_bn_classifier",
    "turning_angles",
    "wd_convergence_time_bound",
    "with_weight_decay",
]


def _torch():
    import torch

    return torch


def _normalize(z, kind: str, eps: float):
    torch = _torch()
    if kind == "layer":  # statistics over the features of each sample
        mean = z.mean(dim=-1, keepdim=True)
        var = z.var(dim=-1, unbiased=False, keepdim=True)
    elif kind == "batch":  # statistics over the batch, per feature
        mean = z.mean(dim=0, keepdim=True)
        var = z.var(dim=0, unbiased=False, keepdim=True)
    else:
        return z
    return (z - mean) / torch.sqrt(var + eps)


class ScaleInvariantMLP:
    """A bias-free ReLU MLP ``x -> relu(N(W_1 x)) -> ... -> relu(N(W_L h)) -> v . h`` (float64).

    ``N`` is layer normalisation (``norm="layer"``: per sample, over features; Ba et al., 2016),
    batch normalisation (``"batch"``: per feature, over the batch; Ioffe & Szegedy, 2015), both
    ``N(z) = (z - mean) / sqrt(var + eps)`` with the biased variance, without affine parameters
    and with ``eps = 0`` by default, or nothing (``"none"``). The readout ``v`` is frozen at its
    random initialisation (as the chapter's lecture notes advise), so with a normalisation the
    output is invariant under ``W_l -> c W_l`` for each layer and any ``c > 0``: the loss is
    scale-invariant in the trainable parameters. With ``"none"`` the output is positively
    homogeneous of degree L in the weights and of degree 1 in ``x``.

    The network is the :class:`ibcore.mlp.MLPSpec` ``MLPSpec(d, widths,
    parameterization="standard")`` (ReLU, bias-free: ``b_std = 0``, weights ``N(0, 1/fan_in)``,
    LeCun) with ``N`` inserted before each activation; its initialization is
    :func:`ibcore.mlp.init_params` of that spec (the attribute ``spec``), whose last layer is the
    readout. The trainable parameters are the flat vector ``w`` (concatenated row-major ``W_l``,
    the hidden layers of the spec without their zero biases); ``forward(X, w)`` evaluates the
    network at any ``w``.

    Parameters
    ----------
    d : int
        Input dimension, ``>= 1``.
    widths : tuple of int
        Hidden widths (each >= 2: a normalization over one feature is 0 / 0), e.g. ``(16, 16)``.
    norm : {"layer", "batch", "none"}
        The normalization ``N``.
    seed : int or numpy.random.Generator, keyword-only
        Required; seeds the initialisation (weights and readout).
    eps : float
        The ``eps`` of the normalization, >= 0.

    Attributes
    ----------
    spec : ibcore.mlp.MLPSpec
        The spec of the underlying network (standard parameterization, readout last).
    w0 : ndarray of float64, shape (n_params,)
        The trainable weights at initialisation.
    n_params : int
        Number of trainable weights (``sum_l m_l m_{l-1}``).
    readout : torch.Tensor, shape (m_L,)
        The frozen readout ``v``.
    shapes : list of tuple of int
        The shape ``(m_l, m_{l-1})`` of each ``W_l``.

    Raises
    ------
    TypeError
        If ``widths`` is not a non-empty tuple of integers or ``seed`` is invalid.
    ValueError
        For ``d < 1``, a width below 2, an unknown ``norm``, ``eps < 0`` or a negative seed.
    """

    def __init__(self, d, widths, *, norm="layer", seed, eps=0.0):
        torch = _torch()
        self.spec = MLPSpec(d, widths, parameterization="standard")
        for m in self.spec.widths:
            positive_int(m, "widths[i]", minimum=2)
        self.norm = one_of(norm, "norm", ("layer", "batch", "none"))
        self.eps = positive_float(eps, "eps", allow_zero=True)
        self.d, self.widths = self.spec.d, self.spec.widths
        *hidden, (readout, _) = self.spec.layers(init_params(self.spec, seed=seed))
        self.shapes = [W.shape for W, _ in hidden]
        self.w0 = np.concatenate([W.ravel() for W, _ in hidden])
        self.readout = torch.tensor(readout[0])
        self.n_params = self.w0.size
        self.slices, start = [], 0
        for m, f in self.shapes:
            self.slices.append(slice(start, start + m * f))
            start += m * f

    def layers(self, w):
        """The blocks ``[W_1, ..., W_L]`` of the flat ``w`` (numpy or torch), reshaped views of
        shapes ``shapes`` (not validated)."""
        return [w[s].reshape(shape) for s, shape in zip(self.slices, self.shapes, strict=True)]

    def forward(self, X, w):
        """Outputs ``f(x_i; w) = v . relu(N(W_L ... relu(N(W_1 x_i))))`` at the flat weights ``w``.

        Differentiable in ``w`` (torch autograd); only types and shapes are checked.

        Parameters
        ----------
        X : torch.Tensor, shape (n, d)
            Inputs, float64.
        w : torch.Tensor, shape (n_params,)
            Flat trainable weights, float64.

        Returns
        -------
        torch.Tensor, shape (n,)

        Raises
        ------
        TypeError
            If ``X`` or ``w`` is not a torch tensor.
        ValueError
            If ``X`` does not have ``d`` columns or ``w`` not shape ``(n_params,)``.
        """
        _check_forward(X, w, self.d, self.n_params)
        h = X
        for Wl in self.layers(w):
            h = _torch().relu(_normalize(h @ Wl.T, self.norm, self.eps))
        return h @ self.readout

    def module(self, w=None):
        """The network at the flat parameters ``w`` (default ``w0``) as a ``torch.nn.Module``.

        Its parameters are the layer matrices ``W_1, ..., W_L`` (float64 copies of the blocks of
        ``w``, named ``"W1"``, ...); the frozen readout is a buffer. ``module(w)(X)`` equals
        ``forward(X, w)``. This is the form the torch tools take, e.g. the empirical NTK
        ``ibcore.ntk.empirical_ntk(net.module(), X1, X2)`` (:func:`ibcore.ntk.empirical_ntk`), whose
        gradients are then the gradients with respect to the trainable ``w``. With ``norm="batch"``
        the output of one example is undefined (its batch variance is 0): a one-example batch raises
        ``ValueError``, so per-example tools such as the empirical NTK refuse batch normalization.

        Parameters
        ----------
        w : array_like, shape (n_params,), optional
            Flat trainable weights (default the initial ``w0``).

        Returns
        -------
        torch.nn.Module
            Maps an (n, d) float64 tensor to the (n,) outputs.

        Raises
        ------
        TypeError, ValueError
            If ``w`` is not a finite numeric vector of length ``n_params``.
        """
        w = self.w0 if w is None else as_vector(w, "w", length=self.n_params)
        return _scale_invariant_module()(self, w)


@functools.cache
def _scale_invariant_module():
    """The ``torch.nn.Module`` class behind :meth:`ScaleInvariantMLP.module` (built on first use,
    so that importing this module does not import torch)."""
    torch = _torch()

    class ScaleInvariantModule(torch.nn.Module):
        def __init__(self, net, w):
            super().__init__()
            self.norm, self.eps, self.n_layers = net.norm, net.eps, len(net.shapes)
            for i, Wl in enumerate(net.layers(torch.tensor(w, dtype=torch.float64)), start=1):
                self.register_parameter(f"W{i}", torch.nn.Parameter(Wl.clone()))
            self.register_buffer("readout", net.readout.clone())

        def forward(self, X):
            if self.norm == "batch" and X.shape[0] == 1:
                raise ValueError(
                    "batch normalization of a one-example batch is undefined (variance 0): "
                    "per-example tools such as the empirical NTK need norm='layer' or 'none'"
                )
            h = X
            for i in range(1, self.n_layers + 1):
                h = torch.relu(_normalize(h @ getattr(self, f"W{i}").T, self.norm, self.eps))
            return h @ self.readout

    return ScaleInvariantModule


def _check_forward(X, w, d: int, n_params: int) -> None:
    """Type and shape checks of ``forward(X, w)`` (no value checks: it runs under autograd)."""
    torch = _torch()
    if not isinstance(X, torch.Tensor):
        raise TypeError(
            f"X must be a torch tensor of shape (n, {d}), got {type(X).__name__}: "
            "pass torch.tensor(X)"
        )
    if X.ndim == 0 or X.shape[-1] != d:
        raise ValueError(f"X must have shape (n, {d}), got {tuple(X.shape)}")
    if not isinstance(w, torch.Tensor):
        raise TypeError(
            f"w must be a flat torch tensor of {n_params} parameters, got {type(w).__name__}: "
            "pass torch.tensor(w)"
        )
    if tuple(w.shape) != (n_params,):
        raise ValueError(f"w must have shape ({n_params},), got {tuple(w.shape)}")


def _loss_value(out, y, kind):
    torch = _torch()
    if kind == "mse":
        return 0.5 * torch.mean((out - y) ** 2)
    return torch.mean(torch.nn.functional.softplus(-y * out))


def torch_objective(model, X, y, *, loss="mse"):
    """``fun(w) -> (loss, grad)`` in numpy for the torch ``model`` on data ``(X, y)``.

    ``loss="mse"``: ``L(w) = (1/2n) sum_i (f(x_i; w) - y_i)^2``; ``"logistic"``:
    ``L(w) = (1/n) sum_i log(1 + exp(-y_i f(x_i; w)))`` with labels ``y_i = +-1`` (the mean over
    the ``n`` examples, one batch: batch statistics are those of all of ``X``). The returned
    callable plugs into :func:`ibcore.descent.run_gd`; gradients come from torch autograd in
    float64. Its attribute ``fun.hvp(w, v)`` returns the Hessian-vector product
    ``Hessian L(w) v`` (:func:`ibcore.sharpness.hvp`) as a numpy array.

    Parameters
    ----------
    model : ScaleInvariantMLP or BNClassifier
        The network (:class:`ibcore.normalization.ScaleInvariantMLP`,
        :class:`ibcore.normalization.BNClassifier`).
    X : array_like, shape (n, model.d)
        Inputs.
    y : array_like, shape (n,)
        Targets; for ``"logistic"`` the labels ``+-1`` (not checked).
    loss : {"mse", "logistic"}, keyword-only
        The loss.

    Returns
    -------
    callable
        ``fun(w)`` returning ``(loss, grad)``, a float and an ndarray of shape (model.n_params,),
        with the attribute ``hvp``.

    Raises
    ------
    TypeError
        If ``model`` is neither a ScaleInvariantMLP nor a BNClassifier, or an array is not
        numeric.
    ValueError
        If ``X`` is not a finite matrix with ``model.d`` columns, ``y`` not one finite target per
        row, or ``loss`` unknown.
    """
    torch = _torch()
    if not isinstance(model, (ScaleInvariantMLP, BNClassifier)):
        raise TypeError(
            f"model must be a ScaleInvariantMLP or BNClassifier, got {type(model).__name__}"
        )
    X = as_matrix(X, "X")
    y = as_vector(y, "y", length=X.shape[0])
    if X.shape[1] != model.d:
        raise ValueError(f"X has {X.shape[1]} columns but the model takes d={model.d}")
    if loss not in ("mse", "logistic"):
        raise ValueError(f"loss must be 'mse' or 'logistic', got {loss!r}")
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def fun(w):
        wt = torch.tensor(np.asarray(w, dtype=np.float64), requires_grad=True)
        value = _loss_value(model.forward(Xt, wt), yt, loss)
        (grad,) = torch.autograd.grad(value, wt)
        return float(value.detach()), grad.numpy()

    def hvp(w, v):
        """Hessian-vector product ``H(w) v`` (double backward, :func:`ibcore.sharpness.hvp`)."""
        wt = torch.tensor(np.asarray(w, dtype=np.float64))
        return _hvp(lambda th: _loss_value(model.forward(Xt, th), yt, loss), wt, v).numpy()

    fun.hvp = hvp
    return fun


def one_hidden_layer_ntk_limit(X1, X2=None, *, norm="layer") -> np.ndarray:
    """Infinite-width limit of the empirical NTK of ``ScaleInvariantMLP(d, (m,), norm=norm)``
    (:func:`ibcore.ntk.empirical_ntk` of its
    :meth:`~ibcore.normalization.ScaleInvariantMLP.module`).

    The network ``f(x) = v . relu(N(W x))`` trains ``W`` (entries ``N(0, 1/d)``) with the readout
    ``v`` (entries ``N(0, 1/m)``) frozen. With ``theta`` the angle between ``x`` and ``x'`` and
    ``kappa_0(theta) = (pi - theta) / (2 pi)`` (the probability that a Gaussian row ``w`` has
    ``w.x > 0`` and ``w.x' > 0``), as ``m -> infinity``

    * ``norm="none"``: ``Theta(x, x') = (x . x') kappa_0(theta)``;
    * ``norm="layer"``: ``Theta(x, x') = d cos(theta) kappa_0(theta)``. The mean of ``W x``
      over the units tends to 0 and its standard deviation to ``||x|| / sqrt(d)``, so the
      layer-normalized network acts like the plain one on the input ``sqrt(d) x / ||x||``: the
      kernel depends on the angle only (the finite-width corrections of the normalization's
      Jacobian are O(1/m)).

    The plain kernel is :func:`ibcore.ntk.two_layer_ntk` (same model: first layer trained,
    readout frozen), which this function reuses, with its accurate angle formula.

    Parameters
    ----------
    X1 : array_like, shape (n1, d)
        First set of inputs, non-zero rows.
    X2 : array_like, shape (n2, d), optional
        Second set of inputs; ``None`` (default) means ``X2 = X1``.
    norm : {"layer", "none"}, keyword-only
        The normalization of the network (batch normalization has no per-example kernel).

    Returns
    -------
    ndarray of float64, shape (n1, n2)

    Raises
    ------
    TypeError
        If an input is not a numeric array.
    ValueError
        For an unknown ``norm``, inputs that are not finite matrices with the same number of
        columns, or an all-zero row.
    """
    if norm not in ("layer", "none"):
        raise ValueError(f"norm must be 'layer' or 'none', got {norm!r}")
    X1 = as_matrix(X1, "X1")
    X2 = X1 if X2 is None else as_matrix(X2, "X2")
    if X2.shape[1] != X1.shape[1]:
        raise ValueError(f"X1 and X2 must have the same number of columns, got "
                         f"{X1.shape[1]} and {X2.shape[1]}")
    n1, n2 = np.linalg.norm(X1, axis=1), np.linalg.norm(X2, axis=1)
    if np.any(n1 == 0.0) or np.any(n2 == 0.0):
        raise ValueError("X1 and X2 must have non-zero rows: the angle to x = 0 is undefined")
    if norm == "none":
        return two_layer_ntk(X1, X2)
    # the plain kernel on the inputs sqrt(d) x / |x|: d cos(theta) kappa_0(theta)
    same = X2 is X1
    U1 = X1 / n1[:, None]
    return X1.shape[1] * two_layer_ntk(U1, U1 if same else X2 / n2[:, None])


class BNClassifier:
    """The two-blob classifier of the chapter: ``x -> fc1 -> [BN] -> ReLU -> fc2`` (float64).

    The network is the one-hidden-layer :class:`ibcore.mlp.MLPSpec` ``MLPSpec(d, (width,),
    parameterization="standard")`` (the attribute ``spec``; ``fc1``: ``W1`` (m, d) with bias
    ``b1``, ``fc2``: ``W2`` (1, m), ``b2``) with batch normalization ``gamma * (z - mean) /
    sqrt(var + eps) + beta`` per unit over the batch (biased variance) inserted before the ReLU
    (``use_bn=False`` skips it and ``gamma, beta``). Initialisation as torch's ``nn.Linear``
    (uniform in ``+-1/sqrt(fan_in)``, drawn in the order ``W1, b1, W2, b2``; not an
    :func:`ibcore.mlp.init_params` draw), ``gamma = 1``, ``beta = 0``. The flat parameter vector
    is the spec's ``[W1, b1, W2, b2]`` followed by ``[gamma, beta]`` (``groups`` gives the
    slices).

    Parameters
    ----------
    d : int
        Input dimension, ``>= 1``.
    width : int
        Hidden width, >= 2.
    use_bn : bool
        Whether to insert the batch normalization (with ``gamma, beta``).
    seed : int or numpy.random.Generator, keyword-only
        Required; seeds the initialisation.
    eps : float
        The ``eps`` of the batch normalization, >= 0.

    Attributes
    ----------
    spec : ibcore.mlp.MLPSpec
        The spec of the network without the normalization.
    w0 : ndarray of float64, shape (n_params,)
        The flat parameters at initialisation.
    n_params : int
        Length of the flat parameter vector.
    groups : dict of str to slice
        The slices of ``W1``, ``b1``, ``W2``, ``b2``, ``gamma``, ``beta`` in the flat vector
        (the last two empty without batch normalization).

    Raises
    ------
    TypeError
        If ``d`` or ``width`` is not an integer, or ``seed`` is invalid.
    ValueError
        For ``d < 1``, ``width < 2``, ``eps < 0`` or a negative seed.
    """

    def __init__(self, d=2, width=10, *, use_bn=True, seed, eps=0.0):
        torch = _torch()
        self.spec = MLPSpec(d, (positive_int(width, "width", minimum=2),),
                            parameterization="standard")
        self.d, self.width = self.spec.d, self.spec.widths[0]
        m = self.width
        self.use_bn = bool(use_bn)
        self.eps = positive_float(eps, "eps", allow_zero=True)
        rng = check_rng(seed)
        a1, a2 = 1 / math.sqrt(self.d), 1 / math.sqrt(m)
        parts = {
            "W1": rng.uniform(-a1, a1, m * self.d),
            "b1": rng.uniform(-a1, a1, m),
            "W2": rng.uniform(-a2, a2, m),
            "b2": rng.uniform(-a2, a2, 1),
            "gamma": np.ones(m) if use_bn else np.zeros(0),
            "beta": np.zeros(m) if use_bn else np.zeros(0),
        }
        self.groups, start = {}, 0
        for k, v in parts.items():
            self.groups[k] = slice(start, start + v.size)
            start += v.size
        self.w0 = np.concatenate(list(parts.values()))
        self.n_params = self.w0.size
        self._torch = torch

    def forward(self, X, w):
        """Outputs ``f(x; w) = W2 relu(BN(W1 x + b1)) + b2`` for inputs ``X`` and the flat ``w``.

        ``BN(z) = gamma (z - mean) / sqrt(var + eps) + beta`` over the batch ``X`` (skipped without
        batch normalization). Differentiable in ``w``; only types and shapes are checked.

        Parameters
        ----------
        X : torch.Tensor, shape (n, d)
            Inputs, float64 (one batch).
        w : torch.Tensor, shape (n_params,)
            Flat parameters, float64.

        Returns
        -------
        torch.Tensor, shape (n,)

        Raises
        ------
        TypeError
            If ``X`` or ``w`` is not a torch tensor.
        ValueError
            If ``X`` does not have ``d`` columns or ``w`` not shape ``(n_params,)``.
        """
        _check_forward(X, w, self.d, self.n_params)
        (W1, b1), (W2, b2) = self.spec.layers(w)  # views into the spec's part of w
        z = X @ W1.T + b1
        if self.use_bn:
            g = self.groups
            z = w[g["gamma"]] * _normalize(z, "batch", self.eps) + w[g["beta"]]
        return self._torch.relu(z) @ W2[0] + b2[0]


@dataclass(frozen=True)
class BNRun:
    """What :func:`ibcore.normalization.train_bn_classifier` returns.

    Attributes
    ----------
    trajectory : ibcore.descent.Trajectory
        The GD run on the flat parameters (``diverged_at`` set if it diverged).
    group_norms : dict of str to ndarray
        The Euclidean norm of each parameter group (``W1``, ``b1``, ``W2``, ``b2``, ``gamma``,
        ``beta``) at the recorded checkpoints.
    """

    trajectory: Trajectory
    group_norms: dict


def train_bn_classifier(model, X, y, *, eta, n_steps, checkpoints=None) -> BNRun:
    """Full-batch GD ``w <- w - eta grad L(w)`` on the logistic loss
    ``L(w) = (1/n) sum_i log(1 + exp(-y_i f(x_i; w)))`` of a
    :class:`ibcore.normalization.BNClassifier`, via :func:`ibcore.descent.run_gd`.

    The batch statistics are those of the whole training set (full batch). The run uses
    ``run_gd``'s default ``on_divergence="stop"``: a run that blows up ends early and reports the
    step in ``trajectory.diverged_at`` (no exception).

    Parameters
    ----------
    model : BNClassifier
        The network, started from ``model.w0``.
    X : array_like, shape (n, model.d)
        Inputs.
    y : array_like, shape (n,)
        Labels +-1 (not checked).
    eta : float, keyword-only
        Step size, ``> 0``.
    n_steps : int, keyword-only
        Number of steps, ``>= 0``.
    checkpoints : array_like of int, optional, keyword-only
        As in :func:`ibcore.descent.run_gd`.

    Returns
    -------
    BNRun

    Raises
    ------
    TypeError
        If ``model`` is not a BNClassifier or an array is not numeric.
    ValueError
        For ``X``/``y`` of the wrong shape or non-finite, a non-positive ``eta``, a negative
        ``n_steps`` or invalid checkpoints.
    """
    if not isinstance(model, BNClassifier):
        raise TypeError(f"model must be a BNClassifier, got {type(model).__name__}")
    fun = torch_objective(model, X, y, loss="logistic")
    traj = run_gd(fun, model.w0, eta, n_steps, checkpoints=checkpoints)
    norms = {k: np.linalg.norm(traj.w[:, s], axis=1) for k, s in model.groups.items()}
    return BNRun(trajectory=traj, group_norms=norms)
