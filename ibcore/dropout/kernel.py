"""The kernel view of a dropped-out readout: fixed masks versus resampled masks.

Fixed masks (one per example, kept): the kernel ``K + lam diag(K)``, a per-example ridge
(:func:`~.dropout_kernel`, :func:`~.fixed_mask_kernel_regression`, :func:`~.fixed_mask_readout`);
masks resampled at every step: a uniform ridge on a reweighted kernel
(:func:`~.resampled_mask_readout`). ``p`` is the drop probability (neural-tangents' ``rate`` is the
keep probability ``1 - p``).
"""

from __future__ import annotations

import numpy as np

from ..validation import (
    as_matrix,
    as_vector,
    check_rng,
    positive_int,
    probability,
)
from .regularizer import MCEstimate, dropout_lambda

__all__ = [
    "dropout_kernel",
    "fixed_mask_kernel_regression",
    "fixed_mask_readout",
    "mc_dropout_kernel",
    "random_relu_features",
    "resampled_mask_readout",
]


def dropout_kernel(K, p) -> np.ndarray:
    """Training kernel with **fixed** dropout masks: the diagonal of ``K`` times ``1/(1-p)``.

    The expected Gram matrix of features masked once per example (one mask per example, kept
    fixed; neural-tangents' "training mode"). Between different examples the masks are
    independent, so off-diagonal entries are unchanged; an example meets its own mask twice, and
    ``E b^2 = 1/(1-p)``. Equivalently ``K + lam diag(K)``: a ridge whose strength for example
    ``i`` is ``lam K_ii`` (:func:`~.fixed_mask_kernel_regression`). Dropout SGD with masks
    resampled at every step is a different regime (:func:`~ibcore.dropout.resampled_mask_readout`).
    (neural-tangents' ``stax.Dropout(rate)`` takes the keep probability ``rate = 1 - p``.)

    Parameters
    ----------
    K : array_like, shape (n, n)
        The kernel matrix ``Phi Phi^T / m`` without dropout.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    ndarray of float64, shape (n, n)
    """
    K = as_matrix(K, "K")
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be square, got shape {K.shape}")
    keep = 1.0 - probability(p, "p")
    out = K.copy()
    out[np.diag_indices_from(out)] /= keep
    return out


def mc_dropout_kernel(Phi, p, *, n_draws: int, seed) -> MCEstimate:
    """Monte-Carlo mean and standard error of the empirical kernel of dropped-out features.

    Each sample draws an independent inverted-dropout mask ``b`` per example and feature (keep
    probability ``1 - p``, kept entries scaled by ``1/(1 - p)``) and forms
    ``(b * Phi)(b * Phi)^T / m``; its mean is :func:`~.dropout_kernel` of ``Phi Phi^T / m``.

    Parameters
    ----------
    Phi : array_like, shape (n, m)
        Features of ``n`` examples.
    p : float
        Drop probability in ``[0, 1)``.
    n_draws : int
        Number of mask draws (>= 2).
    seed : int or numpy.random.Generator
        Keyword-only, required.

    Returns
    -------
    MCEstimate
        ``mean`` and ``se`` (standard error) arrays of shape (n, n), and ``n_draws``.

    Raises
    ------
    ValueError
        If ``p`` is out of range or ``n_draws < 2``.
    """
    Phi = as_matrix(Phi, "Phi")
    p = probability(p, "p")
    n_draws = positive_int(n_draws, "n_draws", minimum=2)
    rng = check_rng(seed)
    keep = 1.0 - p
    n, m = Phi.shape
    s1 = np.zeros((n, n))
    s2 = np.zeros((n, n))
    for _ in range(n_draws):
        F = Phi * ((rng.random((n, m)) < keep) / keep)
        K = F @ F.T / m
        s1 += K
        s2 += K**2
    mean = s1 / n_draws
    var = np.maximum(s2 / n_draws - mean**2, 0.0) * n_draws / (n_draws - 1)
    return MCEstimate(mean=mean, se=np.sqrt(var / n_draws), n_draws=n_draws)


def _readout_inputs(Phi_train, y, Phi_test):
    Phi_train = as_matrix(Phi_train, "Phi_train")
    y = as_vector(y, "y", length=Phi_train.shape[0])
    Phi_test = as_matrix(Phi_test, "Phi_test")
    if Phi_test.shape[1] != Phi_train.shape[1]:
        raise ValueError(f"Phi_test must have {Phi_train.shape[1]} features (columns) like "
                         f"Phi_train, got shape {Phi_test.shape}")
    return Phi_train, y, Phi_test


def fixed_mask_kernel_regression(K_train, K_cross, y, p) -> np.ndarray:
    """Infinite-width predictions of a readout trained on **fixed** dropout masks.

    ``K_cross @ (K + lam diag(K))^{-1} y`` with ``K = K_train`` (n, n) the training kernel,
    ``K_cross`` (n_test, n) the kernel between test and training points and ``lam = p/(1-p)``:
    kernel ridge regression with the per-example ridge ``lam K_ii`` (:func:`~.dropout_kernel`,
    the "training mode" kernel of neural-tangents). It is the limit, as the number of features
    grows, of :func:`~ibcore.dropout.fixed_mask_readout`.

    Parameters
    ----------
    K_train : array_like, shape (n, n)
        Training kernel.
    K_cross : array_like, shape (n_test, n)
        Test-training kernel.
    y : array_like, shape (n,)
        Targets.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    ndarray of float64, shape (n_test,)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    K = as_matrix(K_train, "K_train")
    Kx = as_matrix(K_cross, "K_cross")
    if Kx.shape[1] != K.shape[0]:
        raise ValueError(f"K_cross must have {K.shape[0]} columns (training points), got "
                         f"shape {Kx.shape}")
    y = as_vector(y, "y", length=K.shape[0])
    try:
        return Kx @ np.linalg.solve(dropout_kernel(K, p), y)
    except np.linalg.LinAlgError as exc:
        raise ValueError("K + lam diag(K) is singular: use p > 0 or a positive-definite K") from exc


def fixed_mask_readout(Phi_train, y, Phi_test, p, *, seed) -> np.ndarray:
    """Predictions of a linear readout fitted once on **fixed** dropout masks (finite width).

    One mask per training example and feature is drawn once (drop probability ``p``, inverted
    scaling) and kept; the readout is the minimum-norm least-squares fit of ``y`` on the masked
    features ``B * Phi_train``; test predictions use the unmasked ``Phi_test``. The predictions
    are ``(Phi_test Phi_b^T / m) (Phi_b Phi_b^T / m)^+ y``; since ``E Phi_b Phi_b^T / m =
    K + lam diag K`` and ``E Phi_test Phi_b^T / m = K(test, train)``, they converge to
    :func:`~.fixed_mask_kernel_regression` as the number ``m`` of features grows (when ``m >= n``).

    Parameters
    ----------
    Phi_train : array_like, shape (n, m)
        Training features.
    y : array_like, shape (n,)
        Targets.
    Phi_test : array_like, shape (n_test, m)
        Test features.
    p : float
        Drop probability in ``[0, 1)``.
    seed : int or numpy.random.Generator
        Keyword-only, required: the fixed masks.

    Returns
    -------
    ndarray of float64, shape (n_test,)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    Phi_train, y, Phi_test = _readout_inputs(Phi_train, y, Phi_test)
    p = probability(p, "p")
    rng = check_rng(seed)
    keep = 1.0 - p
    Phi_b = Phi_train * ((rng.random(Phi_train.shape) < keep) / keep)
    return Phi_test @ (np.linalg.pinv(Phi_b) @ y)


def resampled_mask_readout(Phi_train, y, Phi_test, p) -> np.ndarray:
    """Predictions of the readout that dropout SGD with **resampled** masks targets.

    With a fresh mask per example and step, the expected objective of the readout ``w`` is the
    input-dropout objective of the features, ``(1/n) ||y - Phi w||^2 + lam w^T diag(Phi^T Phi /
    n) w`` (``lam = p/(1-p)``, :func:`~ibcore.dropout.input_dropout_ridge`). With
    ``Gamma = diag(Phi^T Phi)`` its minimizer predicts

        f(x) = phi(x)^T Gamma^{-1} Phi^T (Phi Gamma^{-1} Phi^T + lam I)^{-1} y ,

    kernel ridge regression with a **uniform** ridge ``lam`` on the reweighted kernel
    ``Phi Gamma^{-1} Phi^T`` (features that vanish on the training set get weight 0). Its trace
    is the number of non-zero features, so for a wide layer the ridge is small relative to the
    kernel: the regularization fades as ``1/m``.

    Parameters
    ----------
    Phi_train : array_like, shape (n, m)
        Training features.
    y : array_like, shape (n,)
        Targets.
    Phi_test : array_like, shape (n_test, m)
        Test features.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    ndarray of float64, shape (n_test,)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    Phi_train, y, Phi_test = _readout_inputs(Phi_train, y, Phi_test)
    lam = dropout_lambda(p)
    gamma = np.sum(Phi_train**2, axis=0)
    inv = np.where(gamma > 0, 1.0 / np.where(gamma > 0, gamma, 1.0), 0.0)
    Kt = (Phi_train * inv) @ Phi_train.T
    try:
        alpha = np.linalg.solve(Kt + lam * np.eye(Kt.shape[0]), y)
    except np.linalg.LinAlgError as exc:
        raise ValueError("Phi Gamma^-1 Phi^T + lam I is singular: use p > 0") from exc
    return (Phi_test * inv) @ Phi_train.T @ alpha


def random_relu_features(x, m: int, *, seed) -> np.ndarray:
    """Random ReLU features of a scalar input: ``phi_k(x) = max(a_k x + c_k, 0)``, ``k < m``.

    ``(a_k, c_k)`` are the rows of an ``m x 2`` standard Gaussian matrix, so the kernel
    ``phi(x) . phi(x') / m`` tends to the arc-cosine kernel of degree 1 of ``(x, 1)`` and
    ``(x', 1)`` as ``m`` grows.

    Parameters
    ----------
    x : array_like, shape (n,)
        Scalar inputs.
    m : int
        Number of features (>= 1).
    seed : int or numpy.random.Generator
        Keyword-only, required: the same seed gives the same features at every ``x``.

    Returns
    -------
    ndarray of float64, shape (n, m)

    Raises
    ------
    ValueError, TypeError
        If ``x`` is not a 1-D finite array, ``m`` is not a positive int or ``seed`` is not a
        seed.
    """
    x = as_vector(x, "x")
    m = positive_int(m, "m")
    W = check_rng(seed).standard_normal((m, 2))
    return np.maximum(np.outer(x, W[:, 0]) + W[:, 1], 0)
