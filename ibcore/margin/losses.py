"""Losses of linear classification and their gradients.

Losses are averaged over the ``n`` examples, ``L(w) = (1/n) sum_i l(m_i(w))`` with margins
``m_i(w) = y_i <w, x_i>`` and

* ``"logistic"``:      ``l(m) = log(1 + exp(-m))``,
* ``"exponential"``:   ``l(m) = exp(-m)``,
* ``"hinge"``:         ``l(m) = max(0, 1 - m)`` (sub-gradient ``-1`` if ``m < 1``, else 0),
* ``"squared_hinge"``: ``l(m) = max(0, 1 - m)^2``.

The gradient is the weighted sum of examples ``grad L(w) = -(1/n) sum_i q_i(w) z_i`` with
*gradient weights* ``q_i = -l'(m_i) >= 0`` (:func:`~ibcore.margin.gradient_weights`). With ``K``
classes, :func:`~ibcore.margin.multiclass_loss` (softmax cross-entropy) has the same exponential
tail.
"""

from __future__ import annotations

import numpy as np

from ..validation import as_batch, as_matrix, as_vector, one_of
from .svm import check_class_labels, check_data

__all__ = [
    "LOSSES",
    "SMOOTH_LOSSES",
    "check_loss",
    "gradient_weights",
    "loss_and_grad",
    "make_loss",
    "multiclass_loss",
    "smoothness",
]

#: Losses understood by :func:`loss_and_grad`.
LOSSES = ("logistic", "exponential", "hinge", "squared_hinge")
#: The exponential-tailed (smooth, everywhere positive) losses of the theorem.
SMOOTH_LOSSES = ("logistic", "exponential")


def check_loss(loss: str, allowed=LOSSES) -> str:
    """``loss`` if it is one of ``allowed`` (:func:`ibcore.validation.one_of`).

    Parameters
    ----------
    loss : str
        The name of a loss.
    allowed : tuple of str, default LOSSES
        The accepted names (``LOSSES``, or ``SMOOTH_LOSSES`` where the theorem needs them).

    Returns
    -------
    str
        ``loss``.

    Raises
    ------
    TypeError
        If ``loss`` is not a string.
    ValueError
        If ``loss`` is not in ``allowed`` (the message lists them).
    """
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a string, one of {allowed}, got {type(loss).__name__}")
    return one_of(loss, "loss", allowed)


def _log_weights(m: np.ndarray, loss: str) -> np.ndarray:
    """``log q`` with ``q = -l'(m)`` for the smooth losses (stable for large margins)."""
    if loss == "exponential":
        return -m
    return -np.logaddexp(0.0, m)  # q = sigmoid(-m) = 1 / (1 + e^m)


def loss_and_grad(w, X, y, loss: str = "logistic") -> tuple[float, np.ndarray]:
    """Averaged loss ``L(w) = (1/n) sum_i l(y_i <w, x_i>)`` and its gradient
    ``grad L(w) = -(1/n) sum_i q_i y_i x_i``, ``q_i = -l'(m_i)`` (see the module docstring for the
    four losses).

    Numerically stable for large margins (``log1p``/``logaddexp``); the exponential loss may
    overflow to ``inf`` for hugely negative margins, which the runners report as divergence. For
    the hinge loss the gradient is the sub-gradient with ``q_i = 1`` if ``m_i < 1``, else 0.

    Parameters
    ----------
    w : array_like, shape (d,)
        The weights.
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    loss : {"logistic", "exponential", "hinge", "squared_hinge"}, default "logistic"
        The per-example loss ``l``.

    Returns
    -------
    value : float
        ``L(w)``.
    grad : ndarray, shape (d,)
        ``grad L(w)``.

    Raises
    ------
    ValueError
        On an unknown loss, mismatched shapes, non-finite input or labels outside ``{-1, +1}``.
    TypeError
        If ``loss`` is not a string or an array is not numeric.
    """
    X, y = check_data(X, y)
    loss = check_loss(loss)
    w = as_vector(w, "w", length=X.shape[1])
    return _loss_grad(w, y[:, None] * X, loss)


def _loss_grad(w: np.ndarray, Z: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    n = Z.shape[0]
    m = Z @ w
    if loss == "logistic":
        value = float(np.mean(np.logaddexp(0.0, -m)))
        q = np.exp(-np.logaddexp(0.0, m))
    elif loss == "exponential":
        with np.errstate(over="ignore"):
            q = np.exp(-m)
        value = float(np.mean(q))
    elif loss == "hinge":
        q = (m < 1.0).astype(np.float64)
        value = float(np.mean(np.maximum(0.0, 1.0 - m)))
    else:  # squared hinge
        slack = np.maximum(0.0, 1.0 - m)
        q = 2.0 * slack
        value = float(np.mean(slack**2))
    with np.errstate(invalid="ignore", over="ignore"):
        grad = -(Z.T @ q) / n
    return value, grad


def make_loss(X, y, loss: str = "logistic"):
    """``fun(w, idx=None) -> (L, grad L)``, validated once, for the runners of
    :mod:`ibcore.descent`.

    ``fun(w)`` is the averaged loss of :func:`~ibcore.margin.loss_and_grad` (for
    :func:`~ibcore.descent.run_gd` and :func:`~ibcore.flow.gradient_flow`); ``fun(w, idx)``
    averages over the examples ``idx`` only (an integer index array, as passed by
    :func:`~ibcore.descent.run_sgd`), equal to ``loss_and_grad(w, X[idx], y[idx], loss)`` without
    re-validating the data at every step (``w`` is not validated either). The signed examples
    ``Z = y[:, None] * X`` and the loss name are attached as ``fun.Z`` and ``fun.loss``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    loss : {"logistic", "exponential", "hinge", "squared_hinge"}, default "logistic"
        The per-example loss.

    Returns
    -------
    callable
        ``fun(w, idx=None) -> (float, ndarray of shape (d,))``.

    Raises
    ------
    ValueError
        On an unknown loss or bad data (shapes, non-finite values, labels).
    TypeError
        If ``loss`` is not a string or an array is not numeric.
    """
    X, y = check_data(X, y)
    loss = check_loss(loss)
    Z = y[:, None] * X

    def fun(w, idx=None):
        w = np.asarray(w, dtype=np.float64)
        return _loss_grad(w, Z if idx is None else Z[idx], loss)

    fun.Z = Z  # type: ignore[attr-defined]
    fun.loss = loss  # type: ignore[attr-defined]
    return fun


def smoothness(X, loss: str = "logistic", *, per_example: bool = False) -> float:
    """Smoothness constant of the averaged logistic loss, or of one example's loss.

    ``per_example=False`` (default): ``beta = lambda_max(X^T X) / (4n)``, the smoothness of
    ``L(w) = (1/n) sum_i log(1 + exp(-y_i <w, x_i>))`` (its Hessian is
    ``X^T diag(s_i (1 - s_i)) X / n`` with ``s_i (1 - s_i) <= 1/4``, equality at ``w = 0``). GD
    with ``eta < 2/beta`` decreases the loss monotonically (the condition of Soudry et al. 2018,
    Thm 3).

    ``per_example=True``: ``beta_1 = max_i ||x_i||^2 / 4``, the largest smoothness constant of the
    single-example losses ``w -> log(1 + exp(-y_i <w, x_i>))`` (Hessian
    ``s_i (1 - s_i) x_i x_i^T``). It bounds the step of SGD with one example per step: the
    fixed-step condition of Nacson, Srebro & Soudry (2019) is ``eta < 2 / beta_1``. Always
    ``beta <= beta_1``. The labels do not enter.

    The exponential loss is not globally smooth (``grad^2 L(w) <= B^2 L(w) I`` with
    ``B = max_i ||x_i||``, a bound that shrinks as the loss decays); it is refused here.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    loss : str, default "logistic"
        Must be ``"logistic"`` (the other names of ``LOSSES`` are refused with a hint).
    per_example : bool, default False
        Return ``beta_1`` instead of ``beta``.

    Returns
    -------
    float
        ``beta`` or ``beta_1``.

    Raises
    ------
    ValueError
        If ``loss`` is not ``"logistic"``, or ``X`` is not a finite non-empty matrix.
    TypeError
        If ``per_example`` is not a bool or ``loss`` not a string.
    """
    X = as_matrix(X, "X")
    loss = check_loss(loss)
    if not isinstance(per_example, (bool, np.bool_)):
        raise TypeError(f"per_example must be True or False, got {type(per_example).__name__}")
    if loss != "logistic":
        raise ValueError(
            f"only the logistic loss is globally smooth; got {loss!r} (for the exponential loss "
            "use the local bound B^2 L(w), B = max ||x_i||)"
        )
    if per_example:
        return float(np.max(np.sum(X**2, axis=1)) / 4.0)
    return float(np.linalg.eigvalsh(X.T @ X / X.shape[0])[-1] / 4.0)


def gradient_weights(w, X, y, loss: str = "logistic") -> np.ndarray:
    """Normalised gradient weights ``q_i / sum_j q_j`` with ``q_i = -l'(y_i <w, x_i>)``.

    ``-grad L(w) = (sum_j q_j / n) * sum_i (q_i / sum_j q_j) y_i x_i``: the share of each example
    in the gradient. Computed in log space (a softmax), so it stays exact when all ``q_i``
    underflow.

    Parameters
    ----------
    w : array_like, shape (d,) or (k, d)
        One weight vector or a batch of them.
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    loss : {"logistic", "exponential"}, default "logistic"
        The smooth loss.

    Returns
    -------
    ndarray, shape (n,) or (k, n)
        Non-negative weights summing to 1 (per row for a batch).

    Raises
    ------
    ValueError
        On a non-smooth or unknown loss, mismatched shapes, non-finite input or bad labels.
    TypeError
        If ``loss`` is not a string or an array is not numeric.
    """
    X, y = check_data(X, y)
    loss = check_loss(loss, SMOOTH_LOSSES)
    W, single = as_batch(w, "w", d=X.shape[1])
    logq = _log_weights(W @ (y[:, None] * X).T, loss)
    logq -= logq.max(axis=1, keepdims=True)
    q = np.exp(logq)
    q /= q.sum(axis=1, keepdims=True)
    return q[0] if single else q


def multiclass_loss(X, labels):
    """``fun(w) -> (L, grad)`` of the averaged softmax cross-entropy, ``W = w.reshape(K, d)``.

    ``L(W) = (1/n) sum_i log(1 + sum_{k != y_i} exp(-<w_{y_i} - w_k, x_i>))``, for
    :func:`ibcore.descent.run_gd` and :func:`ibcore.flow.gradient_flow` on the flattened ``w``
    of length ``K d`` (row-major). Computed from the score differences ``D_ik = s_ik - s_{i y_i}``
    (``D_{i y_i} = 0``) with ``M_i = max_k D_ik >= 0`` and ``E_i = sum_{k != y_i} e^{D_ik - M_i}``:
    ``l_i = M_i + log1p(E_i + expm1(-M_i))``, exact to rounding for every margin (no overflow, and
    no cancellation when the loss is tiny, as it is late in training). The gradient weights are the
    softmax probabilities ``p_ik = e^{D_ik - M_i} / (e^{-M_i} + E_i)`` for ``k != y_i`` and
    ``-sum_{k != y_i} p_ik`` for the label, again without cancellation.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    labels : array_like, shape (n,)
        Integer class labels ``0, ..., K-1``, every class present, ``K >= 2``.

    Returns
    -------
    callable
        ``fun(w) -> (float, ndarray of shape (K d,))``; ``w`` is not validated.

    Raises
    ------
    ValueError
        If ``labels`` are not integers ``0..K-1`` using every class with ``K >= 2``, do not match
        the rows of ``X``, or an input is not finite.
    TypeError
        If an input is not numeric.
    """
    X, lab, K = check_class_labels(X, labels)
    n, d = X.shape
    rows = np.arange(n)

    def fun(w):
        W = np.asarray(w, dtype=np.float64).reshape(K, d)
        S = X @ W.T  # (n, K) scores
        D = S - S[rows, lab][:, None]  # score differences, 0 at the label
        top = D.max(axis=1)  # >= 0
        P = np.exp(D - top[:, None])
        P[rows, lab] = 0.0
        others = P.sum(axis=1)
        value = float(np.mean(top + np.log1p(others + np.expm1(-top))))
        P /= (np.exp(-top) + others)[:, None]
        P[rows, lab] = -P.sum(axis=1)
        return value, (P.T @ X / n).ravel()

    return fun
