"""Least squares, its minimum-norm solutions, and kernel least squares.

Convention: for data ``X`` of shape (n, d) (one sample per row) and targets ``y`` of shape (n,),
the loss is the *mean* squared error with a factor 1/2,

    L(w) = (1/2n) ||X w - y||^2,    grad L(w) = X^T (X w - y) / n,    Hessian X^T X / n,

so the GD stability threshold is ``2 / lambda_max(X^T X / n) = 2n / sigma_max(X)^2``.

When ``d > n`` and the rows of ``X`` are linearly independent, the interpolating solutions
``{w : X w = y}`` form an affine subspace; the one closest to a point ``w0`` is
``w0 + X^+ (y - X w0)`` (:func:`min_norm_solution`), and it is where GD and SGD started at
``w0`` converge, because their updates lie in the row space of ``X``.

Early stopping and ridge regression: with ``H = X^T X / n = sum_i lambda_i v_i v_i^T`` and
``b = X^T y / n``, the gradient flow from 0 at time ``t`` and the ridge solution with penalty
``(mu/2) ||w||^2`` (:func:`ridge_path`) are

    w(t) = sum_i (1 - exp(-lambda_i t)) / lambda_i (v_i . b) v_i,
    w_mu = sum_i 1 / (lambda_i + mu) (v_i . b) v_i,

so under the calibration ``mu = 1/t`` each eigen-coordinate of ``w(t)`` is that of ``w_{1/t}``
times ``psi(lambda_i t)`` (:func:`flow_ridge_ratio`), which lies in ``[1, psi*]`` with
``psi* = 1.2984...`` (:func:`flow_ridge_ratio_max`).

Kernel least squares: :func:`kernel_predict` is the interpolant ``K(x, X) K^{-1} y``; with a
fixed kernel ``K`` and the same loss ``(1/2n) sum_i (f(x_i) - y_i)^2`` over the function values,
gradient flow moves the training residual as ``r(t) = exp(-K t / n) r(0)`` and gradient descent
with step ``eta`` as ``(I - eta K / n)^k r(0)`` at time ``t = k eta``
(:func:`kernel_gd_predict`, :func:`kernel_gd_residuals`, :class:`KernelEigen`): the dynamics of a
network in the kernel (lazy) regime, :mod:`ibcore.ntk`. neural-tangents'
``predict.gradient_descent_mse`` uses the same normalization; its ``predict_fn(t)`` counts
*steps*, so its ``t`` is our ``t / eta``.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import SolverError
from .quadratic import Quadratic
from .validation import (
    as_array,
    as_matrix,
    as_psd,
    as_times,
    as_vector,
    positive_float,
    positive_int,
)

__all__ = [
    "KernelEigen",
    "check_kernel_eta",
    "flow_ridge_ratio",
    "flow_ridge_ratio_max",
    "kernel_gd_predict",
    "kernel_gd_residuals",
    "kernel_predict",
    "least_squares",
    "least_squares_batch",
    "min_norm_solution",
    "ntk_complexity",
    "null_space_component",
    "poly2_features",
    "poly_kernel",
    "ridge_path",
]


def _data(X, y):
    X = as_matrix(X, "X")
    y = as_vector(y, "y")
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y has length {y.shape[0]} but X has {X.shape[0]} rows: one target per row of X"
        )
    return X, y


def min_norm_solution(X, y, w0=None) -> np.ndarray:
    """``w0 + X^+ (y - X w0)`` (``w0 = 0`` if omitted), with ``X^+`` the Moore-Penrose
    pseudo-inverse.

    If ``X w = y`` is solvable this is ``argmin {||w - w0|| : X w = y}``, the interpolant closest to
    ``w0``; from ``w0 = 0`` it is the minimum-norm interpolant ``X^+ y``, the limit of GD and SGD on
    ``(1/2n) ||X w - y||^2`` started at ``w0`` (their updates lie in the row space of ``X``).
    Otherwise it is the least-squares solution closest to ``w0``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The data, one sample per row.
    y : array_like, shape (n,)
        The targets.
    w0 : array_like, shape (d,), optional
        The reference point (the initialisation of GD); 0 when omitted.

    Returns
    -------
    ndarray of float64, shape (d,)
        The solution.

    Raises
    ------
    ValueError
        On mismatched shapes or empty or non-finite input.
    TypeError
        If an input is not numeric.
    """
    X, y = _data(X, y)
    w0 = np.zeros(X.shape[1]) if w0 is None else as_vector(w0, "w0", length=X.shape[1])
    return w0 + np.linalg.pinv(X) @ (y - X @ w0)


def null_space_component(X, w) -> np.ndarray:
    """Projection of ``w`` on the null space of ``X``: ``w - X^+ X w``.

    The part of ``w`` that GD on ``(1/2n) ||X w - y||^2`` never changes (its updates lie in the row
    space of ``X``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The data.
    w : array_like, shape (d,) or (k, d)
        One vector or a batch of row vectors.

    Returns
    -------
    ndarray, shape of ``w``
        ``(I - X^+ X) w`` (per row for a batch).

    Raises
    ------
    ValueError
        If ``w`` is not of shape ``(d,)`` or ``(k, d)``, or an input is empty or not finite.
    TypeError
        If an input is not numeric.
    """
    X = as_matrix(X, "X")
    w = as_array(w, "w")
    if w.shape[-1:] != (X.shape[1],) or w.ndim > 2:
        raise ValueError(f"w must have shape (d,) or (k, d) with d={X.shape[1]}, got {w.shape}")
    P_row = np.linalg.pinv(X) @ X
    return w - w @ P_row.T


def least_squares(X, y, reg: float = 0.0) -> Quadratic:
    """The loss ``(1/2n) ||X w - y||^2 + (reg/2) ||w||^2`` as a :class:`ibcore.quadratic.Quadratic`.

    The result is callable, ``q(w) -> (loss, grad)``, for :func:`ibcore.descent.run_gd`, and solves
    GD and gradient flow in closed form (``q.gd``, ``q.flow``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The data, one sample per row.
    y : array_like, shape (n,)
        The targets.
    reg : float, default 0.0
        The ridge penalty, ``>= 0``.

    Returns
    -------
    Quadratic
        The loss.

    Raises
    ------
    ValueError
        On mismatched shapes, empty or non-finite input, or a bad ``reg``.
    TypeError
        If an input is not numeric.
    """
    X, y = _data(X, y)
    return Quadratic.from_least_squares(X, y, reg=reg)


def least_squares_batch(X, y):
    """``fun_i(w, idx) -> (loss, grad)`` of ``(1/2|B|) sum_{i in B} (x_i . w - y_i)^2`` for SGD
    (:func:`ibcore.descent.run_sgd`), ``B = idx``.

    With ``idx = arange(n)`` this is the full loss of :func:`least_squares` (``reg = 0``). A huge
    ``w`` overflows silently to an infinite loss, which the runner reports as divergence.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The data, one sample per row.
    y : array_like, shape (n,)
        The targets.

    Returns
    -------
    callable
        ``fun_i(w, idx) -> (float, ndarray of shape (d,))``; it raises ``ValueError`` if ``w`` is
        not of shape ``(d,)`` or ``idx`` holds an index outside ``[0, n)``.

    Raises
    ------
    ValueError
        On mismatched shapes or empty or non-finite data.
    TypeError
        If an input is not numeric.
    """
    X, y = _data(X, y)

    def fun_i(w, idx):
        if np.shape(w) != (X.shape[1],):
            raise ValueError(
                f"w must have shape ({X.shape[1]},) to match the {X.shape[1]} columns of X, "
                f"got {np.shape(w)}"
            )
        try:
            Xb, yb = X[idx], y[idx]
        except IndexError as exc:
            raise ValueError(
                f"idx holds a sample index outside [0, {X.shape[0]}): the data have "
                f"{X.shape[0]} rows, so pass n_samples <= {X.shape[0]} to run_sgd"
            ) from exc
        # a huge w (a step size past the stability limit) overflows to an inf loss, which the
        # SGD runner reports as divergence: no RuntimeWarning on the way
        with np.errstate(over="ignore", invalid="ignore"):
            r = Xb @ w - yb
            m = r.shape[0]
            return 0.5 * float(r @ r) / m, Xb.T @ r / m

    return fun_i


def poly_kernel(A, B, degree: int = 2, offset: float = 1.0) -> np.ndarray:
    """Polynomial kernel matrix ``K[i, j] = (offset + a_i . b_j)^degree`` for the rows of A, B.

    Parameters
    ----------
    A : array_like, shape (m, p)
        The first points, one per row.
    B : array_like, shape (k, p)
        The second points.
    degree : int, default 2
        ``>= 1``.
    offset : float, default 1.0
        ``>= 0``.

    Returns
    -------
    ndarray, shape (m, k)
        The kernel matrix.

    Raises
    ------
    ValueError
        If the column counts differ, ``degree < 1``, ``offset < 0``, or an input is not finite.
    TypeError
        If ``degree`` is not an integer or an input is not numeric.
    """
    A = as_matrix(A, "A")
    B = as_matrix(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B need the same number of columns, got {A.shape} and {B.shape}")
    degree = positive_int(degree, "degree")
    offset = positive_float(offset, "offset", allow_zero=True)
    return (offset + A @ B.T) ** degree


def poly2_features(X) -> np.ndarray:
    """Explicit feature map of the kernel ``(1 + x . z)^2``, so that
    ``poly2_features(A) @ poly2_features(B).T == poly_kernel(A, B, 2, 1.0)``.

    ``phi(x) = (1, sqrt(2) x_i, x_i^2, sqrt(2) x_i x_j for i < j)``, of dimension
    ``1 + p + p (p + 1) / 2`` for inputs of dimension ``p``.

    Parameters
    ----------
    X : array_like, shape (n, p)
        The points, one per row.

    Returns
    -------
    ndarray, shape (n, 1 + p + p (p + 1) / 2)
        ``phi`` of each row, in the order above (pairs ``i < j`` in ``numpy.triu_indices`` order).

    Raises
    ------
    ValueError
        If ``X`` is not a finite non-empty matrix.
    TypeError
        If ``X`` is not numeric.
    """
    X = as_matrix(X, "X")
    n, p = X.shape
    iu, ju = np.triu_indices(p, k=1)
    return np.hstack(
        [
            np.ones((n, 1)),
            np.sqrt(2.0) * X,
            X * X,
            np.sqrt(2.0) * X[:, iu] * X[:, ju],
        ]
    )


def kernel_predict(K_train, y, K_test) -> np.ndarray:
    """Kernel interpolant ``h(x) = K(x, X) K(X, X)^{-1} y`` at the test points.

    Among all functions of the RKHS that interpolate the data, ``h`` has the smallest RKHS norm,
    ``||h||^2 = y^T K(X, X)^{-1} y``. Solved by a Cholesky factorisation of ``(K + K^T) / 2``; it is
    the ``t -> infinity`` limit of :func:`kernel_gd_predict` from ``f_0 = 0``.

    Parameters
    ----------
    K_train : array_like, shape (n, n)
        ``K(X, X)``, symmetric positive definite.
    y : array_like, shape (n,)
        The training targets.
    K_test : array_like, shape (m, n)
        ``K(x, X)``, one row per test point.

    Returns
    -------
    ndarray, shape (m,)
        ``h`` at the test points.

    Raises
    ------
    ValueError
        If ``K_train`` is not square or not positive definite (repeated points, or a kernel that
        is only semi-definite), the shapes do not match, or an input is not finite.
    TypeError
        If an input is not numeric.
    """
    K = as_matrix(K_train, "K_train")
    n = K.shape[0]
    if K.shape != (n, n):
        raise ValueError(f"K_train must be square, got shape {K.shape}")
    y = as_vector(y, "y", length=n)
    Kt = as_matrix(K_test, "K_test")
    if Kt.shape[1] != n:
        raise ValueError(f"K_test must have {n} columns (one per training point), got {Kt.shape}")
    try:
        chol = np.linalg.cholesky(0.5 * (K + K.T))
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "K_train is not positive definite: the kernel interpolant needs distinct points "
            "and a strictly positive definite kernel"
        ) from exc
    alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, y))
    return Kt @ alpha


# -- kernel regression trained by gradient descent --------------------------------------------


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


def check_kernel_eta(eta, lam_max: float, n: int) -> float:
    """``eta`` if gradient descent on ``(1/2n) ||f(X) - y||^2`` with a kernel of top eigenvalue
    ``lam_max`` is stable, ``eta < 2n / lam_max`` (the residual factors ``1 - eta lam / n`` then
    lie in ``(-1, 1]``).

    Parameters
    ----------
    eta : float
        The step size, ``> 0``.
    lam_max : float
        The largest eigenvalue of the kernel Gram matrix (no limit when ``<= 0``).
    n : int
        The number of training points.

    Returns
    -------
    float
        ``eta``.

    Raises
    ------
    TypeError, ValueError
        For an ``eta`` that is not a positive number, or one at or past the limit.
    """
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
    ``(I - eta K / n)^k`` (``eta=...``; refused past the stability limit ``2n/lambda_max``; if
    ``eta lambda_max / n > 1`` the times must be whole multiples of ``eta``).
    ``K^{-1}(I - ...)`` is evaluated in the eigenbasis of ``K`` (its ``lambda -> 0`` limit is
    ``t/n``), so singular ``K`` is fine.

    Parameters
    ----------
    K_train : array_like, shape (n, n)
        ``K(X, X)``, symmetric positive semi-definite.
    K_test_train : array_like, shape (n_test, n)
        ``K(x, X)`` at the test points.
    y : array_like, shape (n,)
        The training targets.
    f0_train : array_like, shape (n,)
        The initial function ``f_0`` on the training points.
    f0_test : array_like, shape (n_test,)
        ``f_0`` on the test points.
    times : float or array_like, shape (k,)
        Times ``>= 0``.
    eta : float, optional
        Step size of gradient descent (default: gradient flow).

    Returns
    -------
    ndarray of float64, shape (k, n_test)
        ``f_t`` at the test points, one row per time.

    Raises
    ------
    ValueError
        For mismatched shapes, a kernel that is not symmetric PSD, a negative time, an unstable
        ``eta`` or times that are not whole multiples of ``eta`` when some factor is negative.
    TypeError
        If an input is not numeric or ``eta`` not a real number.
    """
    K, lam, V = as_psd(K_train, "K_train")
    n = K.shape[0]
    Kx = as_matrix(K_test_train, "K_test_train")
    if Kx.shape[1] != n:
        raise ValueError(f"K_test_train must have {n} columns (one per training point)")
    y = as_vector(y, "y", length=n)
    f0 = as_vector(f0_train, "f0_train", length=n)
    f0x = as_vector(f0_test, "f0_test", length=Kx.shape[0])
    times = as_times(times)
    if eta is not None:
        eta = check_kernel_eta(eta, lam.max(), n)
    r = V.T @ (y - f0)
    out = np.empty((times.size, Kx.shape[0]))
    for j, t in enumerate(times):
        out[j] = f0x + Kx @ (V @ (_gain(lam, n, t, eta) * r))
    return out


class KernelEigen:
    """Eigen-decomposition ``K = V diag(lam) V^T`` of a kernel Gram matrix, computed once.

    The eigenvalues are in *decreasing* order (those within rounding of 0 clipped to 0, as by
    :func:`ibcore.validation.as_psd`). Widgets call
    :meth:`~ibcore.linear.KernelEigen.residuals` and :meth:`~ibcore.linear.KernelEigen.complexity`
    many times on the same kernel, so the ``O(n^3)`` step is done once. The dynamics are those of
    kernel GD/flow on ``(1/2n) ||f(X) - y||^2`` (module docstring).

    Parameters
    ----------
    K : array_like, shape (n, n)
        A symmetric positive semi-definite Gram matrix.
    name : str, default "K"
        The argument's name in error messages.

    Attributes
    ----------
    n : int
        The number of points.
    lam : ndarray, shape (n,)
        The eigenvalues, decreasing.
    V : ndarray, shape (n, n)
        The eigenvectors, as columns.
    trace : float
        ``tr K``.

    Raises
    ------
    ValueError
        If ``K`` is not square, symmetric and positive semi-definite, or not finite.
    TypeError
        If ``K`` is not numeric.
    """

    def __init__(self, K, *, name: str = "K"):
        K, lam, V = as_psd(K, name)
        self.name = name
        self.n = K.shape[0]
        self.lam, self.V = lam[::-1].copy(), V[:, ::-1].copy()
        self.trace = float(np.trace(K))

    def residuals(self, r0, times, *, eta=None) -> np.ndarray:
        """``R[j, i] = v_i . r(times[j])`` for kernel GD/flow from the residual ``r0``.

        ``exp(-lam_i t / n) v_i . r0`` (gradient flow) or ``(1 - eta lam_i / n)^(t / eta) v_i . r0``
        (gradient descent with step ``eta``), as in :func:`kernel_gd_residuals`.

        Parameters
        ----------
        r0 : array_like, shape (n,)
            The initial residual ``f_0(X) - y``.
        times : float or array_like, shape (k,)
            Times ``>= 0``.
        eta : float, optional
            Step size of gradient descent (default: gradient flow); ``< 2n / lam_max``.

        Returns
        -------
        ndarray, shape (k, n)
            The residual's coordinates in the eigenbasis, one row per time.

        Raises
        ------
        ValueError
            For a wrong length of ``r0``, a negative time, an unstable ``eta``, or times that are
            not whole multiples of ``eta`` when some factor ``1 - eta lam_i / n`` is negative.
        TypeError
            If an input is not numeric or ``eta`` not a real number.
        """
        r0 = as_vector(r0, "r0", length=self.n)
        times = as_times(times)
        p0 = self.V.T @ r0
        if eta is None:
            decay = np.exp(-np.outer(times, self.lam) / self.n)
        else:
            eta = check_kernel_eta(eta, self.lam.max(), self.n)
            decay = _gd_power((1.0 - eta * self.lam / self.n)[None, :], times[:, None] / eta)
        return decay * p0[None, :]

    def loss(self, r0, times, *, eta=None) -> np.ndarray:
        """Training loss ``(1/2n) ||r(t)||^2 = 0.5 mean_i (v_i . r(t))^2`` at every time, for kernel
        GD/flow from the residual ``r0`` (``f_0 = 0`` and labels ``y``: ``r0 = -y``).

        Parameters
        ----------
        r0 : array_like, shape (n,)
            The initial residual.
        times : float or array_like, shape (k,)
            Times ``>= 0``.
        eta : float, optional
            Step size of gradient descent (default: gradient flow).

        Returns
        -------
        ndarray, shape (k,)
            The loss at each time.

        Raises
        ------
        ValueError, TypeError
            As :meth:`~ibcore.linear.KernelEigen.residuals`.
        """
        return 0.5 * np.mean(self.residuals(r0, times, eta=eta) ** 2, axis=1)

    def complexity(self, y) -> float:
        """``sqrt(2 y^T K^{-1} y tr K) / n`` (see :func:`ntk_complexity`).

        Parameters
        ----------
        y : array_like, shape (n,)
            The labels.

        Returns
        -------
        float
            The complexity measure.

        Raises
        ------
        ValueError
            If the kernel is not positive definite (``lam_min <= 1e-12 lam_max``; the message
            names it as given to the constructor), or ``y`` has the wrong length or is not
            finite.
        TypeError
            If ``y`` is not numeric.
        """
        y = as_vector(y, "y", length=self.n)
        if self.lam.min() <= 1e-12 * self.lam.max():
            raise ValueError(
                f"{self.name} must be positive definite (invertible) for y^T {self.name}^{{-1}} y"
            )
        quad = float(np.sum((self.V.T @ y) ** 2 / self.lam))
        return math.sqrt(2.0 * quad * self.trace) / self.n


def kernel_gd_residuals(K, r0, times, *, eta=None):
    """Training residual ``r(t) = f_t(X) - y`` of kernel regression in the eigenbasis of ``K``.

    ``R[j, i] = v_i . r(times[j]) = exp(-lam_i t_j / n) v_i . r0`` (gradient flow on
    ``(1/2n) ||f(X) - y||^2``) or ``(1 - eta lam_i / n)^(t_j / eta) v_i . r0`` (gradient descent
    with step ``eta``; the times must be whole multiples of ``eta`` if some factor
    ``1 - eta lam_i / n`` is negative). Uses :class:`KernelEigen`.

    Parameters
    ----------
    K : array_like, shape (n, n)
        The kernel Gram matrix, symmetric positive semi-definite.
    r0 : array_like, shape (n,)
        The initial residual ``f_0(X) - y``.
    times : float or array_like, shape (k,)
        Times ``>= 0``.
    eta : float, optional
        Step size of gradient descent (default: gradient flow).

    Returns
    -------
    lam : ndarray, shape (n,)
        The eigenvalues of ``K``, in *decreasing* order.
    V : ndarray, shape (n, n)
        The eigenvectors, as columns, ``K = V diag(lam) V^T``.
    R : ndarray, shape (k, n)
        The residual's coordinates, one row per time.

    Raises
    ------
    ValueError
        For a kernel that is not symmetric PSD, a wrong length of ``r0``, a negative time, an
        unstable ``eta``, or times that are not whole multiples of ``eta`` where needed.
    TypeError
        If an input is not numeric or ``eta`` not a real number.
    """
    eig = KernelEigen(K)
    return eig.lam, eig.V, eig.residuals(r0, times, eta=eta)


def ntk_complexity(H, y) -> float:
    """The data-dependent complexity ``sqrt(2 y^T H^{-1} y * tr H) / n``.

    The form of the lecture notes (section "Understanding Generalization in 2-layer setting" of
    Arora et al., *Theory of Deep Learning*). ``sqrt(y^T H^{-1} y tr H) / n`` is the kernel
    Rademacher bound for the class of RKHS norm ``B = sqrt(y^T H^{-1} y)`` (the norm of the
    interpolant); this measure is ``sqrt(2)`` times it. It is invariant under ``H -> c H``. For the
    two-layer model of :func:`ibcore.ntk.two_layer_ntk` and unit-norm inputs, ``tr H = n/2`` and
    the measure equals ``sqrt(y^T H^{-1} y / n)``, i.e. ``1/sqrt(2)`` times the leading term
    ``sqrt(2 y^T H^{-1} y / n)`` of the generalization bound of Arora, Du, Hu, Li & Wang (2019,
    Thm 5.1), which is twice the Rademacher bound. That equality needs ``tr H = n/2``: the leading
    term scales like ``c^{-1/2}`` under ``H -> c H``, so no scale-free measure equals it for every
    kernel.

    Parameters
    ----------
    H : array_like, shape (n, n)
        A kernel Gram matrix (e.g. the NTK), symmetric positive definite.
    y : array_like, shape (n,)
        The labels.

    Returns
    -------
    float
        The complexity measure.

    Raises
    ------
    ValueError
        If ``H`` is not symmetric positive definite (``lam_min <= 1e-12 lam_max``), or ``y`` has
        the wrong length or is not finite.
    TypeError
        If an input is not numeric.
    """
    return KernelEigen(H, name="H").complexity(y)


# -- ridge and early stopping ---------------------------------------------------------------------


def ridge_path(X, y, mus) -> np.ndarray:
    """Ridge solutions ``w_mu = (X^T X / n + mu I)^{-1} X^T y / n`` for every ``mu`` in ``mus``.

    These minimise ``(1/2n) ||X w - y||^2 + (mu/2) ||w||^2`` (the :func:`least_squares` loss with
    ``reg = mu``). One eigendecomposition ``X^T X / n = V diag(lambda) V^T`` serves every ``mu``:
    ``w_mu = V diag(1 / (lambda + mu)) V^T X^T y / n``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        The data, one sample per row.
    y : array_like, shape (n,)
        The targets.
    mus : float or array_like, shape (k,)
        Penalties, each > 0 (``mu = 0`` would be ordinary least squares, not always unique).

    Returns
    -------
    ndarray of float64, shape (k, d)
        One solution per penalty (``k = 1`` for a scalar ``mus``).

    Raises
    ------
    ValueError
        If some ``mu <= 0``, ``mus`` has more than one dimension, on mismatched shapes or
        non-finite input.
    TypeError
        If an input is not numeric.
    """
    X, y = _data(X, y)
    mus = as_array(mus, "mus")
    if mus.ndim > 1:
        raise ValueError(f"mus must be a scalar or a 1-D array of penalties, got shape {mus.shape}")
    mus = np.atleast_1d(mus)
    if np.any(mus <= 0):
        raise ValueError(
            f"mus must be > 0 (penalties of the ridge path), got min {mus.min():.3g}"
        )
    n = X.shape[0]
    lam, V = np.linalg.eigh(X.T @ X / n)
    lam = np.maximum(lam, 0.0)  # rounding can make a zero eigenvalue slightly negative
    bz = V.T @ (X.T @ y / n)
    return (bz / (lam[None, :] + mus[:, None])) @ V.T


def flow_ridge_ratio(x) -> np.ndarray | float:
    """``psi(x) = (1 - exp(-x)) (1 + x) / x`` with ``psi(0) = 1``, elementwise for ``x >= 0``.

    For least squares from 0, ``psi(lambda t)`` is the ratio of the eigen-coordinate along an
    eigenvalue ``lambda`` of the gradient flow at time ``t`` to that of the ridge solution with
    ``mu = 1/t``: the flow's factor ``(1 - e^{-lambda t}) / lambda`` over ridge's
    ``1 / (lambda + 1/t)``. ``psi >= 1`` because ``e^x >= 1 + x``; ``psi -> 1`` as ``x -> 0`` and
    ``x -> inf``; its maximum is :func:`flow_ridge_ratio_max`. Computed with ``expm1``, so small
    ``x`` keeps full relative accuracy.

    Parameters
    ----------
    x : float or array_like
        ``x = lambda t >= 0``.

    Returns
    -------
    float or ndarray
        ``psi(x)`` (a float for a scalar ``x``).

    Raises
    ------
    ValueError
        If some ``x < 0`` or is not finite.
    TypeError
        If ``x`` is not numeric.
    """
    arr = as_array(x, "x")
    if np.any(arr < 0):
        raise ValueError(f"x must be >= 0 (x = lambda t), got min {arr.min():.3g}")
    safe = np.where(arr > 0, arr, 1.0)
    out = np.where(arr > 0, -np.expm1(-safe) * (1.0 + safe) / safe, 1.0)
    return float(out) if out.ndim == 0 else out


def flow_ridge_ratio_max() -> tuple[float, float]:
    """``(x*, psi*)``: the maximiser and the maximum of :func:`flow_ridge_ratio`.

    Setting the derivative of ``psi`` to zero gives ``e^x = 1 + x + x^2``; its positive root is
    ``x* = 1.7933...``, and there ``1 - e^{-x} = (x + x^2) / (1 + x + x^2)``, so
    ``psi* = (1 + x*)^2 / (1 + x* + x*^2) = 1.2984...``. The root is found by Newton's method on
    ``f(x) = e^x - 1 - x - x^2`` from ``x = 2`` (``f`` is convex on ``[1, 3]`` with
    ``f(1) < 0 < f(2)``, so the iterates decrease monotonically to the root) until the step is
    below machine precision.

    Returns
    -------
    x_star : float
        ``1.7933...``.
    psi_star : float
        ``1.2984...``.

    Raises
    ------
    ibcore.SolverError
        If Newton's method does not converge in 100 steps (it converges in about 6).
    """
    x_star = 2.0
    for _ in range(100):
        step = (np.expm1(x_star) - x_star - x_star * x_star) / (np.exp(x_star) - 1.0 - 2.0 * x_star)
        x_star -= step
        if abs(step) <= 4 * np.finfo(float).eps * x_star:
            break
    else:  # pragma: no cover - Newton converges in ~6 steps
        raise SolverError("flow_ridge_ratio_max: Newton's method did not converge")
    psi_star = (1.0 + x_star) ** 2 / (1.0 + x_star + x_star**2)
    return float(x_star), float(psi_star)
