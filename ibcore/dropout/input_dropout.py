"""Input dropout in linear regression: a ridge penalty weighted by the feature variances.

Dropping input features with probability ``p`` (inverted scaling, ``lam = p/(1-p)``) gives, by
the master identity of :mod:`ibcore.dropout.regularizer` with ``C[i, k] = u_k X[i, k]``
(:func:`~ibcore.dropout.input_dropout_contributions`),

    E_b (1/n) ||y - (b * X) u||^2 = (1/n) ||y - X u||^2 + lam u^T diag(X^T X / n) u,

minimized by :func:`~.input_dropout_ridge`; :func:`~.compare_input_dropout` measures how far it is
from a mere rescaling of least squares, on data such as :func:`~ibcore.dropout.gaussian_regression`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import as_matrix, as_vector, check_rng, positive_float, positive_int
from .regularizer import dropout_lambda

__all__ = [
    "InputDropoutComparison",
    "RegressionData",
    "compare_input_dropout",
    "gaussian_regression",
    "input_dropout_contributions",
    "input_dropout_ridge",
]


def input_dropout_contributions(X, u) -> np.ndarray:
    """``C[i, k, 0] = u_k X[i, k]``: linear regression ``y ~ u^T (b * x)`` with dropout ``b`` on
    the input features.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs.
    u : array_like, shape (d,)
        Regression weights.

    Returns
    -------
    ndarray of float64, shape (n, d, 1)

    Raises
    ------
    ValueError, TypeError
        If an array is not finite or has the wrong shape, or ``p`` is outside ``[0, 1)``.
    """
    X = as_matrix(X, "X")
    u = as_vector(u, "u", length=X.shape[1])
    return (X * u[None, :])[:, :, None]


def input_dropout_ridge(X, y, p) -> np.ndarray:
    """Minimizer of the expected input-dropout loss of linear regression.

    ``E_b (1/n) ||y - (b * X) u||^2 = (1/n) ||y - X u||^2 + lam u^T diag(X^T X / n) u``, so the
    minimizer solves ``(X^T X + lam diag(X^T X)) u = X^T y`` (a ridge penalty weighted by the
    diagonal of the covariance, not a rescaling of least squares).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs (no zero column).
    y : array_like, shape (n,)
        Targets.
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    ndarray of float64, shape (d,)

    Raises
    ------
    ValueError
        If ``X^T X + lam diag(X^T X)`` is singular.
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y", length=X.shape[0])
    lam = dropout_lambda(p)
    G = X.T @ X
    A = G + lam * np.diag(np.diag(G))
    try:
        return np.linalg.solve(A, X.T @ y)
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "X^T X + lam diag(X^T X) is singular: give X without zero columns or use p > 0"
        ) from exc


@dataclass(frozen=True)
class RegressionData:
    """A linear-regression sample: inputs ``X`` (n, d) and targets ``y`` (n,)."""

    X: np.ndarray
    y: np.ndarray


def gaussian_regression(mix, coef, *, n_samples: int, noise: float, seed) -> RegressionData:
    """Correlated Gaussian features and a noisy linear target.

    ``X = Z mix`` with ``Z`` an ``n x d`` standard Gaussian matrix (rows ``x ~ N(0, mix^T mix)``)
    and ``y = X coef + noise * eps``, ``eps ~ N(0, I_n)``, ``Z`` drawn before ``eps`` from one
    generator.

    Parameters
    ----------
    mix : array_like, shape (d, d)
        Mixing matrix (the features' covariance is ``mix^T mix``).
    coef : array_like, shape (d,)
        True coefficients.
    n_samples : int
        Number of examples ``n`` (>= 1).
    noise : float
        Standard deviation of the label noise (>= 0).
    seed : int or numpy.random.Generator
        Keyword-only, required.

    Returns
    -------
    RegressionData

    Raises
    ------
    ValueError
        If ``mix`` is not square, ``coef`` does not match it, or ``noise < 0``.
    """
    mix = as_matrix(mix, "mix")
    if mix.shape[0] != mix.shape[1]:
        raise ValueError(f"mix must be a square d x d matrix, got shape {mix.shape}")
    coef = as_vector(coef, "coef", length=mix.shape[0])
    n_samples = positive_int(n_samples, "n_samples")
    noise = positive_float(noise, "noise", allow_zero=True)
    rng = check_rng(seed)
    X = rng.standard_normal((n_samples, mix.shape[0])) @ mix
    return RegressionData(X=X, y=X @ coef + noise * rng.standard_normal(n_samples))


@dataclass(frozen=True)
class InputDropoutComparison:
    """:func:`~ibcore.dropout.input_dropout_ridge` against rescaled least squares
    (:func:`~ibcore.dropout.compare_input_dropout`).

    Attributes
    ----------
    drop : ndarray, shape (d,)
        The input-dropout minimizer.
    rescaled : ndarray, shape (d,)
        Least squares divided by ``1 + lam``, what a full-covariance penalty would give.
    cosine : float
        Cosine of the angle between the two (1: dropout only rescales).
    """

    drop: np.ndarray
    rescaled: np.ndarray
    cosine: float


def compare_input_dropout(X, y, p) -> InputDropoutComparison:
    """The input-dropout solution versus the rescaled least-squares solution.

    ``drop`` solves ``(X^T X + lam diag(X^T X)) u = X^T y`` (:func:`~.input_dropout_ridge`),
    ``rescaled = u_LS / (1 + lam)`` with ``u_LS`` the least-squares (``lstsq``) solution and
    ``lam = p/(1-p)``; they coincide iff ``X^T X`` is diagonal (uncorrelated features).

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    p : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    InputDropoutComparison

    Raises
    ------
    ValueError
        As :func:`~ibcore.dropout.input_dropout_ridge`.
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y", length=X.shape[0])
    u_d = input_dropout_ridge(X, y, p)
    u_s = np.linalg.lstsq(X, y, rcond=None)[0] / (1 + dropout_lambda(p))
    return InputDropoutComparison(
        drop=u_d, rescaled=u_s,
        cosine=float(u_d @ u_s / np.linalg.norm(u_d) / np.linalg.norm(u_s)),
    )
