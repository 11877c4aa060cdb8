"""Sharpness (top Hessian eigenvalue) by Hessian-vector products, and a small edge-of-stability
experiment: full-batch GD on a tiny MLP (an :class:`ibcore.mlp.MLPSpec` network) with the square
loss.

Sharpness of a loss ``L`` at ``theta`` is ``lambda_max(grad^2 L(theta))``. It is estimated by
power iteration ``v <- H v / ||H v||`` where ``H v`` is a Hessian-vector product computed by
double back-propagation (Pearlmutter 1994), never forming ``H``. Power iteration converges to
the eigenvalue of largest *absolute* value; near a minimum of a network the Hessian's negative
eigenvalues are small, so this is the top eigenvalue (the function checks the sign and refuses
to report a negative dominant eigenvalue as sharpness).

Everything is float64. torch is imported when a function is called, not at module import.
The models here are tiny (about a thousand parameters), so the functions run torch on one
thread (restoring the caller's setting afterwards): intra-op parallelism only adds
synchronisation, and on a busy two-core machine it made a 1,000-step run 20x slower.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .descent import iterate
from .mlp import MLPSpec, as_spec, init_params
from .mlp import forward as mlp_forward
from .validation import as_vector, check_rng, positive_float, positive_int

__all__ = [
    "Eigenpair",
    "EoSRun",
    "hvp",
    "mlp_loss",
    "random_labels",
    "top_hessian_eigenvalue",
    "train_mlp_gd",
]


@contextmanager
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _as_param(theta):
    import torch

    if not isinstance(theta, torch.Tensor):
        theta = torch.as_tensor(as_vector(theta, "theta"))
    if theta.dtype != torch.float64 or theta.ndim != 1:
        raise ValueError(
            "theta must be a 1-D float64 tensor, got dtype "
            f"{theta.dtype}, shape {tuple(theta.shape)}"
        )
    return theta.detach().requires_grad_(True)


def hvp(loss_fn: Callable, theta, v):
    """Hessian-vector product ``grad^2 L(theta) v`` by double back-propagation (Pearlmutter, 1994).

    The Hessian is never formed: ``g = grad L(theta)`` is built with its graph, then
    ``grad (g . v)`` is the product.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(theta) -> scalar tensor``, twice differentiable in ``theta``.
    theta : array_like or torch.Tensor, shape (p,)
        A 1-D float64 tensor (or an array, converted), at which the Hessian is taken.
    v : array_like or torch.Tensor, shape (p,)
        The vector, finite.

    Returns
    -------
    torch.Tensor, shape (p,)
        Detached, float64.

    Raises
    ------
    TypeError
        If ``theta`` or ``v`` is not numeric.
    ValueError
        If ``theta`` is not a 1-D float64 tensor (or a finite array), or ``v`` is not finite or
        not of the shape of ``theta``.
    """
    import torch

    theta = _as_param(theta)
    if isinstance(v, torch.Tensor):
        if not bool(torch.isfinite(v).all()):
            raise ValueError("v contains NaN or infinite value(s); pass finite numbers")
        v = v.to(torch.float64)
    else:
        v = torch.as_tensor(as_vector(v, "v"))
    if v.shape != theta.shape:
        raise ValueError(
            f"v must have the shape of theta {tuple(theta.shape)}, got {tuple(v.shape)}"
        )
    (g,) = torch.autograd.grad(loss_fn(theta), theta, create_graph=True)
    (hv,) = torch.autograd.grad(g @ v, theta)
    return hv.detach()


@dataclass(frozen=True)
class Eigenpair:
    """The top Hessian eigenvalue (the sharpness) and a unit eigenvector, from
    :func:`~ibcore.sharpness.top_hessian_eigenvalue`.

    Attributes
    ----------
    value : float
        ``lambda_max(grad^2 L(theta))``, ``>= 0`` (0 when ``H v = 0``).
    vector : ndarray of float64, shape (p,)
        The unit eigenvector estimate.
    """

    value: float
    vector: np.ndarray


def top_hessian_eigenvalue(
    loss_fn: Callable,
    theta,
    *,
    n_iter: int = 200,
    tol: float = 1e-8,
    v0=None,
    seed=None,
) -> Eigenpair:
    """Top eigenvalue of the Hessian of ``loss_fn`` at ``theta`` by HVP power iteration.

    Iterates ``v <- H v / ||H v||`` from ``v0`` (normalised) until the Rayleigh quotient
    ``v^T H v`` changes by less than ``tol`` (relative) or ``n_iter`` HVPs
    (:func:`~ibcore.sharpness.hvp`). Warm-starting with the previous eigenvector (``v0``) makes
    tracking along a run cheap. Power iteration finds the eigenvalue of largest absolute value;
    a negative one is refused. If ``H v = 0`` the result is ``0`` with the current ``v``.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(theta) -> scalar tensor``.
    theta : array_like or torch.Tensor, shape (p,)
        Where the Hessian is taken (a 1-D float64 tensor, or an array converted to one).
    n_iter : int, keyword-only
        Maximal number of HVPs, ``>= 1``.
    tol : float, keyword-only
        Relative tolerance on the Rayleigh quotient, ``> 0``.
    v0 : array_like, shape (p,), optional, keyword-only
        Start vector.
    seed : int or numpy.random.Generator, keyword-only
        Draws the Gaussian start vector; required when ``v0`` is not given (and unused when it
        is).

    Returns
    -------
    Eigenpair

    Raises
    ------
    ValueError
        If the dominant eigenvalue is negative (then it is not the sharpness), ``theta`` is not a
        1-D float64 tensor (or a finite array), ``v0`` has the wrong length, or
        ``n_iter``/``tol`` is not positive.
    TypeError
        If neither ``v0`` nor ``seed`` is given, or an argument has the wrong type.
    """
    if v0 is None and seed is None:
        raise TypeError(
            "top_hessian_eigenvalue needs a start vector: pass seed= (a Gaussian start) or v0="
        )
    theta = _as_param(theta)
    n_iter = positive_int(n_iter, "n_iter")
    tol = positive_float(tol, "tol")
    with _one_thread():
        return Eigenpair(*_power_iteration(loss_fn, theta, n_iter, tol, v0, seed))


def _power_iteration(loss_fn, theta, n_iter, tol, v0, seed):
    import torch

    if v0 is None:
        v = torch.as_tensor(check_rng(seed).standard_normal(theta.numel()))
    else:
        v = torch.as_tensor(as_vector(v0, "v0", length=theta.numel()))
    v = v / torch.linalg.vector_norm(v)
    (g,) = torch.autograd.grad(loss_fn(theta), theta, create_graph=True)
    lam = np.nan
    for _ in range(n_iter):
        (hv,) = torch.autograd.grad(g @ v, theta, retain_graph=True)
        new = float(v @ hv)
        norm = torch.linalg.vector_norm(hv)
        if norm == 0:
            return 0.0, v.numpy().copy()
        v = hv / norm
        if abs(new - lam) <= tol * abs(new):
            lam = new
            break
        lam = new
    if lam < 0:
        raise ValueError(
            f"the dominant Hessian eigenvalue is negative ({lam:.4g}); power iteration on H "
            "finds the largest |eigenvalue|, so the sharpness cannot be read off here"
        )
    return lam, v.detach().numpy().copy()


def mlp_loss(spec: MLPSpec, X, y) -> Callable:
    """Square loss ``L(theta) = (1/2n) sum_i (f_theta(x_i) - y_i)^2`` of an :mod:`ibcore.mlp`
    network.

    The edge-of-stability experiment uses the tanh network in the standard parameterization,
    ``MLPSpec(d, (32, 32), activation="tanh", parameterization="standard")``:
    ``f_theta(x) = W_L tanh(... tanh(W_1 x + b_1) ...) + b_L``, initialized by
    :func:`ibcore.mlp.init_params` (LeCun: weights ``N(0, 1/fan_in)``, biases 0).

    Parameters
    ----------
    spec : ibcore.mlp.MLPSpec
        The network.
    X : array_like, shape (n, spec.d)
    y : array_like, shape (n,)

    Returns
    -------
    callable
        ``loss_fn(theta) -> scalar tensor`` on the flat float64 parameter tensor ``theta`` of
        length ``spec.n_params`` (the layout of :class:`ibcore.mlp.MLPSpec`).

    Raises
    ------
    TypeError, ValueError
        For a ``spec`` that is not an ``MLPSpec``, or ``X``, ``y`` of the wrong shape.
    """
    import torch

    spec = as_spec(spec)
    X = torch.as_tensor(spec.check_inputs(X))
    y = torch.as_tensor(as_vector(y, "y", length=X.shape[0]))
    n = X.shape[0]

    def loss_fn(theta):
        r = mlp_forward(spec, theta, X) - y
        return 0.5 * (r @ r) / n

    return loss_fn


def random_labels(n: int, p: int, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """A tiny regression set: ``x_i ~ N(0, I_p)`` and labels ``y_i = +-1`` independent of ``x``.

    Drawn from ``seed`` in this order: the ``(n, p)`` inputs, then the ``n`` labels (uniform
    signs).

    Parameters
    ----------
    n : int
        Number of samples, ``>= 1``.
    p : int
        Input dimension, ``>= 1``.
    seed : int or numpy.random.Generator, keyword-only
        Required.

    Returns
    -------
    X, y : tuple of ndarray of float64, shapes (n, p) and (n,)

    Raises
    ------
    TypeError
        If ``n`` or ``p`` is not an integer, or ``seed`` is neither an int nor a Generator.
    ValueError
        If ``n < 1``, ``p < 1`` or ``seed`` is negative.
    """
    rng = check_rng(seed)
    n, p = positive_int(n, "n"), positive_int(p, "p")
    return rng.standard_normal((n, p)), rng.choice([-1.0, 1.0], size=n)


@dataclass(frozen=True)
class EoSRun:
    """Full-batch GD on :func:`~ibcore.sharpness.mlp_loss`: losses at every step, sharpness every
    few steps (the run of :func:`~ibcore.sharpness.train_mlp_gd`).

    Attributes
    ----------
    eta : float
        The step size.
    loss : ndarray of float64, shape (n_rec,)
        ``L(theta_k)`` at every step ``k = 0..n_rec-1`` (``n_rec = n_steps + 1`` without
        divergence, else up to the step before ``diverged_at``).
    sharpness_steps : ndarray of int64
        The steps at which the sharpness was estimated (multiples of ``sharpness_every``).
    sharpness : ndarray of float64
        The estimates ``lambda_max(grad^2 L)`` at those steps.
    diverged_at : int or None
        The step at which the loss was non-finite or past the blow-up bound, or ``None``.
    final_theta : ndarray of float64, shape (n_params,)
        The final state of the run (the last state measured finite if it diverged).
    """

    eta: float
    loss: np.ndarray  # shape (n_steps + 1,)
    sharpness_steps: np.ndarray  # int64
    sharpness: np.ndarray
    diverged_at: int | None
    final_theta: np.ndarray  # parameters at the last recorded step

    @property
    def threshold(self) -> float:
        """The stability threshold ``2 / eta`` of the quadratic model."""
        return 2.0 / self.eta


def train_mlp_gd(
    spec: MLPSpec,
    X,
    y,
    *,
    eta: float,
    n_steps: int,
    sharpness_every: int = 10,
    seed,
    power_iters: int = 20,
) -> EoSRun:
    """Full-batch GD ``theta <- theta - eta grad L(theta)`` on :func:`~ibcore.sharpness.mlp_loss`.

    The loss is ``L(theta) = (1/2n) sum_i (f_theta(x_i) - y_i)^2`` in the parameterization of
    ``spec``. Parameters start at :func:`ibcore.mlp.init_params` (``seed``). The loss is recorded
    at every step; the sharpness every ``sharpness_every`` steps by
    :func:`~ibcore.sharpness.top_hessian_eigenvalue`, warm-started from the previous eigenvector
    with at most ``power_iters`` HVPs (the first estimate starts from a Gaussian vector drawn with
    the fixed seed 0, not from ``seed``). The run is :func:`ibcore.descent.iterate` with
    ``on_divergence="stop"`` (past ``2 / eta`` divergence is one of the outcomes the experiment
    shows): a non-finite loss or a loss above ``DEFAULT_BLOWUP_FACTOR * max(1, L(theta_0))`` ends
    the run and sets ``diverged_at`` (no exception).

    Parameters
    ----------
    spec : ibcore.mlp.MLPSpec
        The network (the chapter's: ``MLPSpec(d, (32, 32), activation="tanh",
        parameterization="standard")``).
    X : array_like, shape (n, spec.d)
        Inputs.
    y : array_like, shape (n,)
        Targets.
    eta : float, keyword-only
        Step size, ``> 0``.
    n_steps : int, keyword-only
        Number of GD steps, ``>= 1``.
    sharpness_every : int, keyword-only
        Steps between two sharpness estimates, ``>= 1``.
    seed : int or numpy.random.Generator, keyword-only
        Seed of the initialization (required).
    power_iters : int, keyword-only
        HVPs per sharpness estimate, ``>= 1``.

    Returns
    -------
    EoSRun
        Losses up to the step before ``diverged_at`` (all ``n_steps + 1`` if it did not
        diverge), the sharpness estimates and the final parameters.

    Raises
    ------
    TypeError
        If ``spec`` is not an :class:`ibcore.mlp.MLPSpec`, or an argument has the wrong type.
    ValueError
        For ``X``/``y`` of the wrong shape or non-finite, a non-positive ``eta``, ``n_steps``,
        ``sharpness_every`` or ``power_iters``, or a negative dominant Hessian eigenvalue at a
        sharpness estimate.
    """
    import torch

    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps")
    sharpness_every = positive_int(sharpness_every, "sharpness_every")
    loss_fn = mlp_loss(spec, X, y)
    theta = torch.as_tensor(init_params(spec, seed=seed)).requires_grad_(True)
    with _one_thread():
        run, s_steps, s_vals = _gd_loop(loss_fn, theta, eta, n_steps, sharpness_every, power_iters)
    return EoSRun(
        eta=eta,
        loss=run.values.copy(),
        sharpness_steps=np.asarray(s_steps, dtype=np.int64),
        sharpness=np.asarray(s_vals),
        diverged_at=run.diverged_at,
        final_theta=run.state.detach().numpy().copy(),
    )


def _gd_loop(loss_fn, theta, eta, n_steps, sharpness_every, power_iters):
    """GD on :func:`ibcore.descent.iterate`: the state is the parameter tensor; ``measure``
    evaluates the loss and keeps it (with its graph) for the gradient of the next step."""
    import torch

    s_steps, s_vals = [], []
    cache = {"v": None}

    def measure(theta):
        cache["loss"] = loss_fn(theta)
        return float(cache["loss"].detach())

    def sharpness(k, theta, _value):
        if k % sharpness_every == 0:
            pair = top_hessian_eigenvalue(
                loss_fn, theta.detach(), n_iter=power_iters, v0=cache["v"], seed=0
            )
            cache["v"] = pair.vector
            s_steps.append(k)
            s_vals.append(pair.value)

    def advance(theta, _k):
        (g,) = torch.autograd.grad(cache["loss"], theta)
        with torch.no_grad():
            new = theta - eta * g
        return new.requires_grad_(True)

    run = iterate(
        advance,
        theta,
        n_steps,
        measure=measure,
        checkpoints=np.arange(n_steps + 1),
        callback=sharpness,
        on_divergence="stop",
        hint="use a smaller step size eta",
    )
    return run, s_steps, s_vals
