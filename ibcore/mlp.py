"""One description of a fully connected network with a scalar output: :class:`MLPSpec`.

A network of depth ``D`` (hidden widths ``m_1, ..., m_D``, ``m_0 = d`` the input dimension)
maps ``x in R^d`` to a scalar by ``g^0 = x``, ``g^l = phi(h^l)`` for ``l = 1..D`` and
``f(x) = h^{D+1}`` (a readout of width 1), with ``phi`` the activation (``'relu'`` or
``'tanh'``; ReLU *without* the factor 2) and the pre-activations

* ``parameterization='ntk'`` (default; neural-tangents' ``parameterization='ntk'``):
  ``h^l = (w_std / sqrt(m_{l-1})) W^l g^{l-1} + b_std b^l``, every entry of ``W^l`` and
  ``b^l`` drawn i.i.d. ``N(0, 1)``;
* ``parameterization='standard'``: ``h^l = W^l g^{l-1} + b^l`` with ``W^l`` drawn
  ``N(0, w_std^2 / m_{l-1})`` (LeCun for ``w_std = 1``) and ``b^l`` drawn ``N(0, b_std^2)``
  (zeros, and no random numbers used, when ``b_std = 0``).

Both give the same function at initialisation; they differ in the gradient (the NTK
parameterization puts the ``1/sqrt(fan_in)`` in the forward pass). ``readout_scale='mean_field'``
(NTK parameterization only) divides the readout pre-activation by a further ``sqrt(m_D)``, so
``f = (w_std / m_D) v . g^D + b_std b / sqrt(m_D)``: the mean-field scaling of Chizat & Bach and
Mei, Montanari & Nguyen.

The parameters are one flat float64 vector ``theta = (W^1, b^1, W^2, b^2, ...)``, each ``W^l``
row-major of shape ``(m_l, m_{l-1})``. The API:

* :class:`MLPSpec` (frozen): ``d``, ``widths`` (a tuple), ``w_std``, ``b_std``,
  ``readout_scale``, ``activation``, ``parameterization``; ``layer_shapes``, ``n_params``,
  ``layers(theta)`` (the ``(W^l, b^l)`` views, numpy or torch), ``check_theta``,
  ``check_inputs``;
* :func:`init_params` (numpy), :func:`forward` (torch tensors, differentiable in ``theta``),
  :func:`apply` (numpy in, numpy out), :func:`module` (a ``torch.nn.Module``),
  :func:`squared_loss_fun` (``theta -> (loss, grad)`` for :func:`ibcore.descent.run_gd`),
  :func:`as_tensor` (numpy -> float64 torch tensor).

torch is imported inside the functions that need it, so ``import ibcore.mlp`` (and the numpy
kernels of :mod:`ibcore.ntk`) stay torch-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .validation import as_matrix, as_vector, check_rng, one_of, positive_float, positive_int

__all__ = [
    "MLPSpec",
    "apply",
    "as_spec",
    "as_tensor",
    "forward",
    "init_params",
    "module",
    "squared_loss_fun",
]


@dataclass(frozen=True)
class MLPSpec:
    """A fully connected network with a scalar output (see the module docstring of
    :mod:`ibcore.mlp`).

    Depth ``D = len(widths)``; ``g^0 = x``, ``g^l = phi(h^l)``, ``f(x) = h^{D+1}``, with
    ``h^l = (w_std / sqrt(m_{l-1})) W^l g^{l-1} + b_std b^l`` (``parameterization='ntk'``,
    entries of ``W^l, b^l`` standard normal) or ``h^l = W^l g^{l-1} + b^l`` with
    ``W^l ~ N(0, w_std^2 / m_{l-1})``, ``b^l ~ N(0, b_std^2)`` (``'standard'``); ReLU without the
    factor 2. ``readout_scale='mean_field'`` divides the readout pre-activation by a further
    ``sqrt(m_D)``. Frozen: a value, hashable and comparable.

    Parameters
    ----------
    d : int
        Input dimension (``>= 1``).
    widths : tuple of int
        Hidden widths ``(m_1, ..., m_D)``, a non-empty tuple, e.g. ``(512,)``.
    w_std, b_std : float
        Weight (``> 0``) and bias (``>= 0``) standard deviations.
    readout_scale : {"ntk", "mean_field"}
        Scaling of the readout layer (``"mean_field"`` only with the NTK parameterization).
    activation : {"relu", "tanh"}
        The activation ``phi``.
    parameterization : {"ntk", "standard"}
        Where the ``1/sqrt(fan_in)`` sits: in the forward pass or in the initialisation.

    Raises
    ------
    TypeError
        If ``widths`` is not a non-empty tuple or a number is not a number.
    ValueError
        For a non-positive width or std, an unknown choice, or ``readout_scale='mean_field'``
        with the standard parameterization.
    """

    d: int
    widths: tuple[int, ...]
    w_std: float = 1.0
    b_std: float = 0.0
    readout_scale: str = "ntk"
    activation: str = "relu"
    parameterization: str = "ntk"

    def __post_init__(self):
        positive_int(self.d, "d")
        if not isinstance(self.widths, tuple) or len(self.widths) == 0:
            raise TypeError("widths must be a non-empty tuple of hidden widths, e.g. (512,)")
        for w in self.widths:
            positive_int(w, "widths[i]")
        positive_float(self.w_std, "w_std")
        positive_float(self.b_std, "b_std", allow_zero=True)
        one_of(self.readout_scale, "readout_scale", ("ntk", "mean_field"))
        one_of(self.activation, "activation", ("relu", "tanh"))
        one_of(self.parameterization, "parameterization", ("ntk", "standard"))
        if self.readout_scale == "mean_field" and self.parameterization != "ntk":
            raise ValueError(
                "readout_scale='mean_field' is defined for parameterization='ntk' only"
            )

    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """``(fan_out, fan_in)`` of each dense layer, readout last: ``(m_l, m_{l-1})`` for
        ``l = 1..D+1``, ``m_0 = d``, ``m_{D+1} = 1``.
        """
        dims = (self.d, *self.widths, 1)
        return [(dims[i + 1], dims[i]) for i in range(len(dims) - 1)]

    @property
    def n_params(self) -> int:
        """Length of the flat parameter vector ``theta``: ``sum_l m_l (m_{l-1} + 1)``."""
        return sum(o * i + o for o, i in self.layer_shapes)

    def layers(self, theta) -> list[tuple]:
        """The views ``[(W^1, b^1), ..., (W^{D+1}, b^{D+1})]`` into a flat ``theta``.

        ``theta = (W^1, b^1, W^2, b^2, ...)``, each ``W^l`` row-major of shape ``(m_l, m_{l-1})``.
        Not validated (it also runs inside autograd): check with
        :meth:`ibcore.mlp.MLPSpec.check_theta` first.

        Parameters
        ----------
        theta : numpy.ndarray or torch.Tensor, shape (n_params,)
            The flat parameters.

        Returns
        -------
        list of tuple
            ``(W^l, b^l)`` pairs of shapes ``(m_l, m_{l-1})`` and ``(m_l,)``, views of ``theta``.
        """
        out, off = [], 0
        for fan_out, fan_in in self.layer_shapes:
            W = theta[off : off + fan_out * fan_in].reshape(fan_out, fan_in)
            off += fan_out * fan_in
            out.append((W, theta[off : off + fan_out]))
            off += fan_out
        return out

    def check_theta(self, theta, name: str = "theta") -> np.ndarray:
        """``theta`` as a finite float64 vector of length ``spec.n_params``.

        Parameters
        ----------
        theta : array_like, shape (n_params,)
            The flat parameters.
        name : str
            The argument's name in error messages.

        Returns
        -------
        ndarray of float64, shape (n_params,)

        Raises
        ------
        TypeError
            If ``theta`` is not a numeric array.
        ValueError
            If it is not a finite vector with ``n_params`` entries.
        """
        theta = as_vector(theta, name)
        if theta.size != self.n_params:
            raise ValueError(
                f"{name} must have spec.n_params = {self.n_params} entries, got {theta.size}"
            )
        return theta

    def check_inputs(self, X, name: str = "X") -> np.ndarray:
        """``X`` as a finite float64 matrix with ``spec.d`` columns.

        Parameters
        ----------
        X : array_like, shape (n, d)
            The inputs, one per row.
        name : str
            The argument's name in error messages.

        Returns
        -------
        ndarray of float64, shape (n, d)

        Raises
        ------
        TypeError
            If ``X`` is not a numeric array.
        ValueError
            If it is not a finite, non-empty matrix with ``d`` columns.
        """
        X = as_matrix(X, name)
        if X.shape[1] != self.d:
            raise ValueError(f"{name} must have spec.d = {self.d} columns, got {X.shape[1]}")
        return X


def as_spec(spec, name: str = "spec") -> MLPSpec:
    """``spec`` if it is an :class:`ibcore.mlp.MLPSpec` (no conversion).

    Parameters
    ----------
    spec : MLPSpec
        The object to check.
    name : str
        The argument's name in the error message.

    Returns
    -------
    MLPSpec
        ``spec`` itself.

    Raises
    ------
    TypeError
        If ``spec`` is not an :class:`ibcore.mlp.MLPSpec`.
    """
    if not isinstance(spec, MLPSpec):
        raise TypeError(
            f"{name} must be an MLPSpec (ibcore.mlp.MLPSpec), got {type(spec).__name__}"
        )
    return spec


def as_tensor(a):
    """A float64, C-contiguous torch tensor holding the numpy array ``a`` (``torch.as_tensor`` of
    ``numpy.ascontiguousarray(a)``; shares memory when ``a`` already is contiguous float64).

    Parameters
    ----------
    a : array_like
        The data.

    Returns
    -------
    torch.Tensor
        dtype ``torch.float64``, the shape of ``a``.
    """
    import torch

    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)


def init_params(spec: MLPSpec, *, seed) -> np.ndarray:
    """The flat parameter vector at initialisation (float64, length ``spec.n_params``).

    NTK parameterization: every entry i.i.d. ``N(0, 1)``, one draw of ``n_params`` normals.
    Standard parameterization: layer by layer, ``W^l = w_std Z / sqrt(m_{l-1})`` with ``Z``
    an ``(m_l, m_{l-1})`` draw of standard normals, then ``b^l = b_std z`` (``m_l`` more
    normals) or zeros without drawing when ``b_std = 0``.

    Parameters
    ----------
    spec : MLPSpec
        The network.
    seed : int or numpy.random.Generator, keyword-only
        Required.

    Returns
    -------
    ndarray of float64, shape (spec.n_params,)
        ``theta = (W^1, b^1, W^2, b^2, ...)``, each ``W^l`` row-major.

    Raises
    ------
    TypeError
        If ``spec`` is not an :class:`ibcore.mlp.MLPSpec` or ``seed`` neither an int nor a
        Generator.
    ValueError
        If ``seed`` is negative.
    """
    spec = as_spec(spec)
    rng = check_rng(seed)
    if spec.parameterization == "ntk":
        return rng.standard_normal(spec.n_params)
    parts = []
    for fan_out, fan_in in spec.layer_shapes:
        W = spec.w_std * rng.standard_normal((fan_out, fan_in))
        parts.append(W.ravel() / np.sqrt(fan_in))
        b = spec.b_std * rng.standard_normal(fan_out) if spec.b_std > 0 else np.zeros(fan_out)
        parts.append(b)
    return np.concatenate(parts)


def forward(spec: MLPSpec, theta, X):
    """The outputs ``f_theta(X)`` of the network of ``spec`` in torch, differentiable in ``theta``
    (and ``X``): the forward pass of the :mod:`ibcore.mlp` module docstring (parameterization,
    activation and readout scale of ``spec``).

    No validation (it runs inside autograd and ``torch.func`` transforms): check with
    :meth:`ibcore.mlp.MLPSpec.check_theta` and :meth:`ibcore.mlp.MLPSpec.check_inputs` first.

    Parameters
    ----------
    spec : MLPSpec
        The network.
    theta : torch.Tensor, shape (spec.n_params,)
        Flat parameters, float64.
    X : torch.Tensor, shape (n, spec.d)
        Inputs, float64.

    Returns
    -------
    torch.Tensor, shape (n,)
    """
    import torch

    g = X
    layers = spec.layers(theta)
    ntk = spec.parameterization == "ntk"
    for li, (W, b) in enumerate(layers):
        fan_in = W.shape[1]
        if ntk:
            h = (spec.w_std / math.sqrt(fan_in)) * (g @ W.T) + spec.b_std * b
        else:
            h = g @ W.T + b
        last = li == len(layers) - 1
        if last and spec.readout_scale == "mean_field":
            h = h / math.sqrt(fan_in)
        if last:
            g = h
        else:
            g = torch.relu(h) if spec.activation == "relu" else torch.tanh(h)
    return g[:, 0]


def apply(spec: MLPSpec, theta, X) -> np.ndarray:
    """Network outputs ``f_theta(X)`` for numpy ``theta`` (n_params,) and ``X`` (n, d).

    :func:`ibcore.mlp.forward` under ``torch.no_grad()`` after validating the arguments (the
    parameterization of ``spec``).

    Parameters
    ----------
    spec : MLPSpec
        The network.
    theta : array_like, shape (spec.n_params,)
        Flat parameters.
    X : array_like, shape (n, spec.d)
        Inputs.

    Returns
    -------
    ndarray of float64, shape (n,)

    Raises
    ------
    TypeError, ValueError
        For a wrong ``spec``, or ``theta``/``X`` of the wrong shape or non-finite.
    """
    import torch

    spec = as_spec(spec)
    theta = spec.check_theta(theta)
    X = spec.check_inputs(X)
    with torch.no_grad():
        return forward(spec, as_tensor(theta), as_tensor(X)).numpy().copy()


def module(spec: MLPSpec, theta):
    """The network at ``theta`` as a ``torch.nn.Module`` (float64).

    One ``nn.Parameter`` per weight matrix and bias vector (``W1, b1, W2, ...``), copied from
    ``theta``; ``forward`` maps an (n, d) tensor to (n, 1) outputs (:func:`ibcore.mlp.forward`,
    the parameterization of ``spec``), so :func:`ibcore.ntk.empirical_ntk` of it is the NTK of
    ``spec`` at ``theta``.

    Parameters
    ----------
    spec : MLPSpec
        The network.
    theta : array_like, shape (spec.n_params,)
        Flat parameters (copied).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    TypeError, ValueError
        For a wrong ``spec``, or ``theta`` of the wrong length or non-finite.
    """
    import torch

    spec = as_spec(spec)
    theta = spec.check_theta(theta)
    n_layers = len(spec.layer_shapes)

    class _MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for li, (W, b) in enumerate(spec.layers(theta), start=1):
                self.register_parameter(f"W{li}", torch.nn.Parameter(as_tensor(W)))
                self.register_parameter(f"b{li}", torch.nn.Parameter(as_tensor(b)))

        def forward(self, X):
            flat = torch.cat(
                [
                    getattr(self, f"{name}{li}").reshape(-1)
                    for li in range(1, n_layers + 1)
                    for name in ("W", "b")
                ]
            )
            return forward(spec, flat, X)[:, None]

    return _MLP()


def squared_loss_fun(spec: MLPSpec, X, y):
    """``fun(theta) -> (loss, grad)`` of ``L = (1/2n) sum_i (f_theta(x_i) - y_i)^2`` (numpy in
    and out, torch autograd inside), the form expected by :func:`ibcore.descent.run_gd`.

    Parameters
    ----------
    spec : MLPSpec
        The network.
    X : array_like, shape (n, spec.d)
        Training inputs.
    y : array_like, shape (n,)
        Targets, one per row of ``X``.

    Returns
    -------
    callable
        ``fun(theta)`` for a flat float64 ``theta`` (n_params,), returning ``(loss, grad)``: a
        float and an ndarray of shape (n_params,). ``theta`` is not validated.

    Raises
    ------
    TypeError, ValueError
        For a wrong ``spec``, ``X`` without ``spec.d`` columns, or ``y`` not one target per row.
    """
    import torch

    spec = as_spec(spec)
    X = spec.check_inputs(X)
    y = as_vector(y, "y", length=X.shape[0])
    X_t, y_t, n = as_tensor(X), as_tensor(y), X.shape[0]

    def fun(theta):
        th = as_tensor(theta).requires_grad_(True)
        loss = 0.5 * torch.sum((forward(spec, th, X_t) - y_t) ** 2) / n
        (grad,) = torch.autograd.grad(loss, th)
        return loss.item(), grad.numpy().copy()

    return fun
