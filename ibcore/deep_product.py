"""Gradient descent on a deep scalar product: 1-D logistic regression ``l(w_1 ... w_k)``.

The motivation of the normalization chapter: the loss ``l(W) = sum_i log(1 + exp(-W z_i))``
(``z_i = x_i y_i`` of both signs, so the minimiser ``W*`` is finite), overparametrised as a
product ``W = w_1 ... w_k``, makes gradient descent explode above a threshold
(:func:`product_blowup_threshold`) at which plain GD on ``l(W)`` still converges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .descent import DEFAULT_BLOWUP_FACTOR, iterate
from .validation import as_vector, positive_float, positive_int

__all__ = ["ProductRun", "product_blowup_threshold", "product_gd"]


def _check_product(z, k):
    z = as_vector(z, "z")
    k = positive_int(k, "k", minimum=2)
    if k % 2:
        raise ValueError(f"k must be even (so that W = w^k > 0 for every w), got {k}")
    if not (np.any(z > 0) and np.any(z < 0)):
        raise ValueError("z = x_i y_i must contain both signs: the data must be non-separable")
    return z, k


def _dlogistic(W, z):
    # d/dW sum_i log(1 + exp(-W z_i)) = -sum_i z_i sigmoid(-W z_i)
    return float(-np.sum(z * 0.5 * (1.0 - np.tanh(0.5 * W * z))))


def product_blowup_threshold(W0, k, z) -> float:
    """``eta_c = 2 W0^{2/k - 1} / |l'(W0)|`` for ``l(W) = sum_i log(1 + exp(-W z_i))``.

    With ``W = w_1 ... w_k`` and all ``w_i = w = W0^{1/k}``, one GD step maps
    ``w -> w (1 - eta l'(W) w^{k-2})``; ``|w|`` (hence ``W``) grows iff
    ``eta l'(W0) W0^{1 - 2/k} > 2``, i.e. ``eta > eta_c`` (for ``W0 > W* > 0``, ``l'(W0) > 0``;
    the loss is the unnormalised sum over the samples).

    Parameters
    ----------
    W0 : float
        The product, ``> 0`` and above the minimiser ``W*`` of ``l``.
    k : int
        Number of factors, even and ``>= 2``.
    z : array_like, shape (n,)
        The margins ``z_i = x_i y_i``, of both signs (non-separable data).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``k`` is odd or ``< 2``, ``z`` is not finite or has one sign only, ``W0 <= 0``, or
        ``l'(W0) <= 0`` (``W0`` at or below ``W*``).
    """
    z, k = _check_product(z, k)
    W0 = positive_float(W0, "W0")
    d = _dlogistic(W0, z)
    if d <= 0:
        raise ValueError(f"need W0 above the minimiser W* (l'(W0) = {d:.3g} <= 0); increase W0")
    return 2.0 * W0 ** (2.0 / k - 1.0) / d


@dataclass(frozen=True)
class ProductRun:
    """GD on the product model, :func:`~ibcore.deep_product.product_gd`.

    Attributes
    ----------
    W : ndarray of float64, shape (n_rec,)
        The products ``W_t = w_t^k`` for ``t = 0, ..., n_rec - 1``: every step when the run did
        not diverge (``n_rec = n_steps + 1``), else the steps before ``diverged_at``;
        ``W[0] = W0`` exactly.
    eta : float
        The step size.
    diverged_at : int or None
        First step at which ``W_t`` was not finite or exceeded
        ``blowup_factor * max(1, W_0)`` (the policy of :func:`ibcore.descent.iterate`).
    """

    W: np.ndarray
    eta: float
    diverged_at: int | None


def product_gd(W0, k, z, *, eta, n_steps, blowup_factor=DEFAULT_BLOWUP_FACTOR) -> ProductRun:
    """GD on ``l(w_1 ... w_k)``, ``l(W) = sum_i log(1 + exp(-W z_i))``, from equal factors
    ``w_i = W0^{1/k}`` (the factors stay equal: ``w <- w - eta l'(w^k) w^{k-1}``).

    The loss is the unnormalised sum over the samples. Runs on :func:`ibcore.descent.iterate` with
    ``on_divergence="stop"`` (above :func:`~ibcore.deep_product.product_blowup_threshold` the
    product explodes, which is what the experiment shows): the monitored quantity is the product
    ``W_t``, and the run stops at the first ``W_t`` that is not finite or exceeds
    ``blowup_factor * max(1, W0)``; no exception is raised for it.

    Parameters
    ----------
    W0 : float
        Initial product, > 0.
    k : int
        Number of factors, even and >= 2.
    z : array_like, shape (n,)
        The margins ``z_i = x_i y_i``, of both signs.
    eta : float, keyword-only
        Step size, ``> 0``.
    n_steps : int, keyword-only
        Number of steps (>= 0).
    blowup_factor : float, keyword-only
        Divergence bound (>= 1).

    Returns
    -------
    ProductRun

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``k`` is odd or ``< 2``, ``z`` is not finite or has one sign only, ``W0 <= 0``,
        ``eta <= 0``, ``n_steps < 0`` or ``blowup_factor < 1``.
    """
    z, k = _check_product(z, k)
    W0 = positive_float(W0, "W0")
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)

    def measure(w):
        try:
            return w**k
        except OverflowError:  # |W_t| is past float64: diverged
            return math.inf

    def advance(w, _k):
        return w - eta * _dlogistic(w**k, z) * w ** (k - 1)

    run = iterate(
        advance,
        W0 ** (1.0 / k),
        n_steps,
        measure=measure,
        checkpoints=np.arange(n_steps + 1),
        blowup_factor=blowup_factor,
        on_divergence="stop",
        quantity="product W",
    )
    W = run.values.copy()
    W[0] = W0  # the start is W0 itself, not (W0^(1/k))^k
    return ProductRun(W=W, eta=eta, diverged_at=run.diverged_at)
