"""Homogeneous networks: margins of a bias-free two-layer ReLU network and margin maximisation.

Two-layer ReLU network without biases
    ``f(x; theta) = sum_j a_j relu(<w_j, x>)``, ``theta = (vec(W), a)`` with ``W`` of shape
    ``(width, d)`` (the chapter writes the output weights ``a_j`` as ``v_j``); ``f`` is
    homogeneous of degree 2 in ``theta`` (the chapter's degree ``a = 2``):
    ``f(x; c theta) = c^2 f(x; theta)`` for ``c > 0``. Margins ``q_i(theta) = y_i f(x_i; theta)``;
    exponential loss ``L(theta) = (1/n) sum_i exp(-q_i)``. Following Lyu & Li (2020) we track

    * the normalised margin ``gamma_bar = min_i q_i / ||theta||^2``,
    * the smoothed margin ``gamma_tilde = -log(sum_i exp(-q_i)) / ||theta||^2`` (``<= gamma_bar``,
      and ``gamma_bar - gamma_tilde <= log(n) / ||theta||^2``),
    * the KKT residuals of ``min ||theta||^2 / 2  s.t.  q_i(theta) >= 1`` at the rescaled point
      ``theta_hat = theta / sqrt(min_i q_i)`` (:func:`ibcore.margin.homogeneous_kkt_residual`).

A data set separable by such a network: :func:`ibcore.datasets.circle_data`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .descent import iterate
from .margin.kkt import homogeneous_kkt_residual
from .validation import as_labels, as_matrix, as_vector, check_rng, positive_float, positive_int

__all__ = ["MarginRun", "relu_margins", "train_relu_margin"]


def _check_xy(X, y):
    X = as_matrix(X, "X")
    return X, as_labels(y, "y", n=X.shape[0])


def relu_margins(theta, X, y, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Margins ``q_i = y_i f(x_i; theta)`` and their Jacobian ``dq/dtheta`` (n, width*(d+1)).

    The bias-free two-layer network ``f(x; theta) = sum_j a_j relu(<w_j, x>)`` with
    ``theta = (vec(W), a)`` (``W`` of shape (width, d), row-major); the ReLU derivative at 0
    is taken as 0. ``f`` is 2-homogeneous in ``theta``.

    Parameters
    ----------
    theta : array_like, shape (width * (d + 1),)
        The parameters ``(vec(W), a)``, ``W`` row-major.
    X : array_like, shape (n, d)
        The inputs, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    width : int
        Number of hidden units (``>= 1``).

    Returns
    -------
    q : ndarray, shape (n,)
        The margins.
    J : ndarray, shape (n, width * (d + 1))
        ``dq_i / dtheta``.

    Raises
    ------
    ValueError
        For labels outside ``{-1, +1}``, a ``theta`` of the wrong length, ``width < 1``, or
        empty or non-finite input.
    TypeError
        If ``width`` is not an integer or an array not numeric.
    """
    X, y = _check_xy(X, y)
    width = positive_int(width, "width")
    theta = as_vector(theta, "theta", length=width * (X.shape[1] + 1))
    return _margins(theta, X, y, width)


def _margins(theta, X, y, width):
    n, d = X.shape
    W, a = theta[: width * d].reshape(width, d), theta[width * d :]
    Z = X @ W.T
    act = Z > 0
    H = Z * act
    q = y * (H @ a)
    G = (y[:, None] * act) * a
    J = np.concatenate([(G[:, :, None] * X[:, None, :]).reshape(n, -1), y[:, None] * H], axis=1)
    return q, J


@dataclass(frozen=True)
class MarginRun:
    """A training run of the bias-free two-layer ReLU network on the exponential loss
    (:func:`train_relu_margin`).

    The margins are ``q_i = y_i f(x_i; theta)`` and ``L = (1/n) sum_i exp(-q_i)`` (module
    docstring). Per-step arrays have length ``n_steps + 1`` (step 0 is the initialization).

    Attributes
    ----------
    log_loss : ndarray, shape (n_steps + 1,)
        ``log L(theta_k)``, computed in log space (finite when ``L`` underflows).
    normalized : ndarray, shape (n_steps + 1,)
        The normalised margin ``gamma_bar = min_i q_i / ||theta||^2``.
    smoothed : ndarray, shape (n_steps + 1,)
        The smoothed margin ``gamma_tilde = -log(sum_i exp(-q_i)) / ||theta||^2``.
    norm : ndarray, shape (n_steps + 1,)
        ``||theta_k||``.
    kkt_steps : ndarray of int
        The log-spaced steps at which the KKT residuals are measured (at most ``n_kkt``).
    eps : ndarray, shape (len(kkt_steps),)
        Stationarity residual of :func:`ibcore.margin.homogeneous_kkt_residual` at those steps
        (NaN while some margin is not positive).
    delta : ndarray, shape (len(kkt_steps),)
        Complementarity residual, same convention.
    switch_step : int
        First step of the normalised phase 2 (``-1`` if the smoothed margin never became
        positive).
    theta : ndarray, shape (width * (d + 1),)
        The final parameters ``(vec(W), a)``.
    """

    log_loss: np.ndarray
    normalized: np.ndarray
    smoothed: np.ndarray
    norm: np.ndarray
    kkt_steps: np.ndarray
    eps: np.ndarray
    delta: np.ndarray
    switch_step: int
    theta: np.ndarray


def train_relu_margin(
    X,
    y,
    width: int,
    n_steps: int,
    *,
    eta_fit: float = 0.5,
    eta_margin: float = 5.0,
    init_scale: float = 0.5,
    n_kkt: int = 12,
    seed,
) -> MarginRun:
    """GD on the exponential loss of the bias-free two-layer ReLU network.

    Phase 1 (fit): ``theta <- theta - eta_fit grad L`` until the smoothed margin is positive
    (i.e. ``sum_i exp(-q_i) < 1``, Lyu & Li's threshold). Phase 2: the loss-adapted step
    ``eta_k = eta_margin / (L(theta_k) ||theta_k||^2)`` on the averaged loss ``L`` (equivalently
    ``eta_margin / (sum_i exp(-q_i) ||theta_k||^2)`` on the summed loss), i.e.
    ``theta <- theta + eta_margin * sum_i p_i grad q_i / ||theta||^2`` with
    ``p = softmax(-q)``, evaluated stably in log space (the loss itself underflows). A positive
    rescaling of the step is a reparametrisation of time of the gradient flow; it keeps the
    per-step change of direction small while ``L`` becomes astronomically small.
    Initialisation: i.i.d. ``N(0, init_scale^2)`` parameters. The loop runs on
    :func:`ibcore.descent.iterate` monitoring ``||theta||``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The inputs, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    width : int
        Number of hidden units (``>= 1``).
    n_steps : int
        Number of GD steps (both phases together, ``>= 1``).
    eta_fit, eta_margin : float
        The step of phase 1 and the normalised step of phase 2 (``> 0``).
    init_scale : float
        Standard deviation of the initial parameters (``> 0``).
    n_kkt : int
        Number of log-spaced checkpoints of the KKT residuals (``>= 2``).
    seed : int or numpy.random.Generator
        Keyword-only and required: the initialization.

    Returns
    -------
    MarginRun
        The per-step margins, loss and norm, the KKT residuals at log-spaced checkpoints, the
        switch step and the final parameters.

    Raises
    ------
    ValueError
        For bad labels or non-positive sizes / steps (``n_kkt < 2``), or a negative seed.
    TypeError
        If ``seed`` is not an int or a ``numpy.random.Generator``, or a size not an integer.
    DivergenceError
        If ``||theta||`` becomes non-finite or exceeds ``1e12 max(1, ||theta_0||)``
        (:class:`ibcore.DivergenceError`).
    """
    X, y = _check_xy(X, y)
    width = positive_int(width, "width")
    n_steps = positive_int(n_steps, "n_steps")
    eta_fit = positive_float(eta_fit, "eta_fit")
    eta_margin = positive_float(eta_margin, "eta_margin")
    init_scale = positive_float(init_scale, "init_scale")
    n_kkt = positive_int(n_kkt, "n_kkt", minimum=2)
    rng = check_rng(seed)
    n, d = X.shape
    theta = init_scale * rng.standard_normal(width * (d + 1))
    kkt_steps = np.unique(np.geomspace(1, n_steps, n_kkt).astype(int))
    eps, delta = np.full(kkt_steps.size, np.nan), np.full(kkt_steps.size, np.nan)
    cur = {}  # margins, Jacobian and loss at the current parameters

    def measure(state):
        theta = state[0]
        q, J = _margins(theta, X, y, width)
        rho2 = float(theta @ theta)
        qmin = float(q.min())
        e = np.exp(-(q - qmin))
        log_sum = float(np.log(e.sum())) - qmin  # log sum_i exp(-q_i)
        cur.update(q=q, J=J, rho2=rho2, qmin=qmin, e=e, log_sum=log_sum)
        return np.sqrt(rho2)

    def record(_state):
        return {
            "log_loss": cur["log_sum"] - np.log(n),
            "normalized": cur["qmin"] / cur["rho2"],
            "smoothed": -cur["log_sum"] / cur["rho2"],
            "norm": np.sqrt(cur["rho2"]),
        }

    def kkt(k, state, _value):
        if k in kkt_steps and cur["qmin"] > 0:
            i = int(np.searchsorted(kkt_steps, k))
            eps[i], delta[i] = homogeneous_kkt_residual(state[0], cur["q"], cur["J"])

    def advance(state, k):
        theta, switch = state
        if switch < 0 and cur["log_sum"] < 0:
            switch = k
        if switch < 0:
            theta = theta + eta_fit * (np.exp(-cur["q"]) @ cur["J"]) / n
        else:
            e = cur["e"]
            theta = theta + eta_margin * ((e / e.sum()) @ cur["J"]) / cur["rho2"]
        return theta, switch

    run = iterate(
        advance, (theta, -1), n_steps, measure=measure, checkpoints=np.arange(n_steps + 1),
        record=record, callback=kkt, quantity="||theta||",
        hint="use smaller steps eta_fit, eta_margin",
    )
    out = run.records
    theta, switch = run.state
    return MarginRun(
        log_loss=out["log_loss"],
        normalized=out["normalized"],
        smoothed=out["smoothed"],
        norm=out["norm"],
        kkt_steps=kkt_steps,
        eps=eps,
        delta=delta,
        switch_step=switch,
        theta=theta,
    )


