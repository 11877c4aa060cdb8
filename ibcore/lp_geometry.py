"""The geometry of an l_p norm: dual norms, steepest-descent and mirror steps, the l_p max margin,
and steepest / mirror descent on the square loss (Gunasekar et al. 2018).

One encoding of the norm everywhere: ``p`` is a float in ``[1, inf]`` (``np.inf`` for the max
norm), validated by :func:`check_p`. The dual exponent is ``q = p / (p - 1)`` (``1/p + 1/q = 1``;
``q = inf`` for ``p = 1`` and ``q = 1`` for ``p = inf``), and ``||.||_q`` is the dual norm of
``||.||_p``: ``max_{||v||_p <= 1} <g, v> = ||g||_q``.

Steepest descent
    ``w <- w + eta * v`` with ``v = argmin_v <g, v> + ||v||_p^2 / 2`` (:func:`steepest_direction`),
    whose length is ``||v||_p = ||g||_q`` and value ``<g, v> = -||g||_q^2``. For ``1 < p < inf``,
    ``v = -||g||_q^{2-q} sign(g) |g|^{q-1}``; ``p = 2`` is ``-g`` (GD); ``p = 1`` is the greedy
    coordinate step ``v = -g_j e_j`` at ``j = argmax |g_j|``; ``p = inf`` is the sign step
    ``v = -||g||_1 sign(g)``.
Mirror descent
    With the potential ``R(w) = ||w||_p^2 / 2`` (``1 < p < inf``): ``theta <- theta - eta g``,
    ``w = grad R^*(theta) = ||theta||_q^{2-q} sign(theta) |theta|^{q-1}`` (:func:`duality_map`
    with exponent ``q``, the gradient of the conjugate ``||theta||_q^2 / 2``).
The l_p max margin
    ``max_{||w||_p <= 1} min_i y_i <w, x_i>``, the limit direction of steepest descent in that
    norm on an exponentially tailed loss; a linear program for ``p = 1`` and ``p = inf``
    (:func:`lp_max_margin`; ``p = 2`` is :func:`ibcore.margin.max_margin`).
On the square loss
    :func:`lp_steepest_descent`, :func:`lp_mirror_descent` and :func:`lp_descent_path` run on
    :func:`ibcore.descent.iterate` with the loss ``L(w) = (1/2n) ||X w - y||^2`` of an
    underdetermined problem (``n < d``, full row rank); the monitored quantity is
    ``||X w - y||^2`` and a blow-up raises :class:`ibcore.DivergenceError`.
    :func:`min_lp_interpolant` is the limit of mirror descent from 0, and
    :func:`lp_steepest_flow` the ``eta -> 0`` limit of steepest descent.
"""

from __future__ import annotations

import numbers

import numpy as np

from .descent import iterate
from .errors import SolverError
from .validation import (
    as_labels,
    as_matrix,
    as_vector,
    one_of,
    positive_float,
    positive_int,
)

__all__ = [
    "check_interpolation_problem",
    "check_p",
    "dual_exponent",
    "duality_map",
    "lp_descent_path",
    "lp_max_margin",
    "lp_mirror_descent",
    "lp_norm",
    "lp_steepest_descent",
    "lp_steepest_flow",
    "min_lp_interpolant",
    "steepest_direction",
    "steepest_direction_map",
]


# -- the norm ----------------------------------------------------------------------------------


def check_p(p, name: str = "p", *, strict: bool = False) -> float:
    """``p`` as a float in ``[1, inf]`` (``strict=True``: in the open interval ``(1, inf)``).

    The one encoding of an l_p norm in ``ibcore``: ``1.0`` for l1, ``2.0`` for l2, ``np.inf`` for
    the max norm (integers are accepted and converted).

    Parameters
    ----------
    p : float
        The exponent of the norm.
    name : str, default "p"
        The argument's name in error messages.
    strict : bool, default False
        Require ``1 < p < inf`` (a strictly convex, smooth norm: mirror descent, the flow).

    Returns
    -------
    float
        ``p``.

    Raises
    ------
    TypeError
        For a non-number or a bool (e.g. the strings ``"l1"``/``"linf"``: pass ``1.0`` or
        ``np.inf``).
    ValueError
        For NaN or ``p < 1``, or with ``strict`` for ``p = 1`` or ``p = inf``.
    """
    if isinstance(p, bool) or not isinstance(p, (numbers.Real, np.floating, np.integer)):
        raise TypeError(
            f"{name} must be a number in [1, inf] (1.0 for l1, 2.0 for l2, np.inf for l_inf), "
            f"got {type(p).__name__} {p!r}"
        )
    p = float(p)
    if np.isnan(p) or p < 1.0:
        raise ValueError(f"{name} must lie in [1, inf] (an l_p norm), got {p}")
    if strict and not 1.0 < p < np.inf:
        raise ValueError(
            f"{name} must lie in (1, inf) here (a strictly convex, smooth l_p norm), got {p}"
        )
    return p


def dual_exponent(p) -> float:
    """The dual exponent ``q = p / (p - 1)`` of ``p`` in ``[1, inf]`` (``1 <-> inf``,
    ``2 <-> 2``), so ``1/p + 1/q = 1`` and ``||.||_q`` is the dual norm of ``||.||_p``.

    Parameters
    ----------
    p : float
        In ``[1, inf]``.

    Returns
    -------
    float
        ``q`` (``np.inf`` for ``p = 1``, ``1.0`` for ``p = inf``).

    Raises
    ------
    TypeError, ValueError
        If ``p`` is not a number in ``[1, inf]`` (:func:`check_p`).
    """
    p = check_p(p)
    if p == 1.0:
        return np.inf
    if p == np.inf:
        return 1.0
    return p / (p - 1.0)


def lp_norm(v, p, axis=None):
    """``||v||_p = (sum_j |v_j|^p)^{1/p}`` (``max_j |v_j|`` for ``p = inf``), by
    ``numpy.linalg.norm`` with ``ord=p``; the norms of the rows with ``axis=1``.

    Parameters
    ----------
    v : array_like
        A vector, or a matrix with ``axis`` given. Not checked for finiteness.
    p : float
        In ``[1, inf]``.
    axis : int, optional
        The axis along which the norms are taken (as in ``numpy.linalg.norm``); None for a vector.

    Returns
    -------
    float or ndarray
        The norm, or one norm per row/column.

    Raises
    ------
    TypeError, ValueError
        If ``p`` is not a number in ``[1, inf]`` (:func:`check_p`).
    """
    p = check_p(p)
    v = np.asarray(v, dtype=np.float64)
    return np.linalg.norm(v, ord=p, axis=axis)


def duality_map(g, r: float) -> np.ndarray:
    """``||g||_r^{2-r} sign(g) |g|^{r-1}``, the gradient of ``||g||_r^2 / 2``, for ``1 < r < inf``.

    Evaluated as ``||g||_r sign(g) (|g| / ||g||_r)^{r-1}`` after scaling by ``max |g|``, so that
    neither the norm nor the powers overflow; ``g = 0`` gives 0, a non-finite ``g`` NaN (which the
    runners report as divergence). With ``r = q`` (the dual exponent of ``p``) it maps a dual
    iterate of mirror descent to the primal one, and ``-duality_map(g, q)`` is the steepest
    direction of :func:`steepest_direction` for ``1 < p < inf``.

    Parameters
    ----------
    g : array_like
        A vector (not validated: a loop passes its float64 iterates).
    r : float
        The exponent, ``1 < r < inf`` (not validated).

    Returns
    -------
    ndarray
        Of the shape of ``g``, with ``||duality_map(g, r)||_{r/(r-1)} = ||g||_r``.
    """
    g = np.asarray(g, dtype=np.float64)
    m = np.abs(g).max()
    if m == 0.0 or not np.isfinite(m):
        return np.zeros_like(g) if m == 0.0 else np.full_like(g, np.nan)
    nr = m * np.linalg.norm(g / m, r)
    return nr * np.sign(g) * (np.abs(g) / nr) ** (r - 1.0)


def steepest_direction(g, p) -> np.ndarray:
    """``argmin_v <g, v> + ||v||_p^2 / 2``, the steepest-descent step for the gradient ``g``.

    Parameters
    ----------
    g : array_like, shape (d,)
        A gradient.
    p : float in [1, inf]
        The norm (module docstring for the four cases).

    Returns
    -------
    ndarray, shape (d,)
        ``v`` with ``||v||_p = ||g||_q`` and ``<g, v> = -||g||_q^2``; 0 for ``g = 0``. For
        ``p = 1`` the minimiser is not unique when several ``|g_j|`` tie: the first is taken.

    Raises
    ------
    TypeError, ValueError
        If ``p`` is not a number in ``[1, inf]`` or ``g`` not a finite vector.
    """
    g = as_vector(g, "g")
    return _steepest(g, check_p(p))


def steepest_direction_map(p):
    """The map ``g -> steepest_direction(g, p)`` with ``p`` validated once, for training loops.

    The returned function evaluates the same formula as :func:`steepest_direction` (module
    docstring) at every step of a loop without re-validating: ``g`` must be a float64 vector,
    which is not checked, so a non-finite gradient of a diverging run passes through (and is
    then reported by :func:`ibcore.descent.iterate`) instead of raising ``ValueError``.

    Parameters
    ----------
    p : float in [1, inf]
        The norm.

    Returns
    -------
    callable
        ``direction(g) -> ndarray`` of the shape of ``g``, equal to
        ``steepest_direction(g, p)`` for a finite vector ``g``.

    Raises
    ------
    TypeError, ValueError
        If ``p`` is not a number in ``[1, inf]`` (:func:`check_p`).
    """
    p = check_p(p)

    def direction(g):
        return _steepest(g, p)

    return direction


def _steepest(g: np.ndarray, p: float) -> np.ndarray:
    if p == 2.0:
        return -g
    if p == 1.0:  # greedy coordinate descent, length ||g||_inf
        v = np.zeros_like(g)
        j = int(np.argmax(np.abs(g)))
        v[j] = -g[j]
        return v
    if p == np.inf:  # sign descent, length ||g||_1
        return -np.sum(np.abs(g)) * np.sign(g)
    return -duality_map(g, p / (p - 1.0))


# -- the l_p max margin ------------------------------------------------------------------------


def lp_max_margin(X, y, p) -> tuple[np.ndarray, float]:
    """``(w, gamma)`` maximising ``min_i y_i <w, x_i>`` over ``||w||_p <= 1`` for ``p`` in {1, inf}.

    A linear program solved by HiGHS (``scipy.optimize.linprog``): for ``p = 1`` in the variables
    ``(w+, w-, gamma)`` with ``w = w+ - w-`` and ``sum(w+ + w-) <= 1``, for ``p = inf`` in
    ``(w, gamma)`` with ``-1 <= w_j <= 1``; ``w`` is returned with unit ``p``-norm and
    ``gamma = min_i y_i <w, x_i>``. For ``p = 1`` the maximiser need not be unique (the LP returns
    a vertex).

    Parameters
    ----------
    X : array_like, shape (n, d)
        The examples, one per row.
    y : array_like, shape (n,)
        Labels in ``{-1, +1}``.
    p : float
        ``1.0`` or ``np.inf``.

    Returns
    -------
    w : ndarray, shape (d,)
        ``||w||_p = 1``.
    gamma : float
        ``min_i y_i <w, x_i> > 0``.

    Raises
    ------
    ValueError
        For ``p`` other than 1 and inf (``p = 2`` is :func:`ibcore.margin.max_margin`), bad
        labels, shapes or values, or data that no hyperplane through the origin separates.
    TypeError
        If ``p`` is not a number or an array not numeric.
    SolverError
        If the LP solver fails (:class:`ibcore.SolverError`).
    """
    from scipy.optimize import linprog

    X = as_matrix(X, "X")
    y = as_labels(y, "y", n=X.shape[0])
    p = check_p(p)
    if p not in (1.0, np.inf):
        raise ValueError(
            f"lp_max_margin solves the LP of p = 1 or p = inf, got p = {p}; for p = 2 use "
            "ibcore.margin.max_margin (or ibcore.margin.max_margin_lp, which takes all three)"
        )
    Z = y[:, None] * X
    n, d = Z.shape
    if p == 1.0:
        A = np.block([[-Z, Z, np.ones((n, 1))], [np.ones((1, 2 * d)), np.zeros((1, 1))]])
        bounds = [(0, None)] * (2 * d) + [(None, None)]
    else:
        A = np.hstack([-Z, np.ones((n, 1))])
        bounds = [(-1, 1)] * d + [(None, None)]
    b = np.zeros(A.shape[0])
    if p == 1.0:
        b[-1] = 1.0
    cost = np.zeros(A.shape[1])
    cost[-1] = -1.0
    res = linprog(cost, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if res.status != 0:
        raise SolverError(f"lp_max_margin: linprog (HiGHS) failed with status {res.status}: "
                          f"{res.message}")
    w = res.x[:d] - res.x[d : 2 * d] if p == 1.0 else res.x[:d]
    scale = float(np.max(np.abs(Z)))
    if -res.fun <= 1e-9 * scale:
        name = "l1" if p == 1.0 else "linf"
        raise ValueError(
            "the data are not linearly separable by a hyperplane through the origin: no "
            f"positive {name} margin exists"
        )
    w = w / np.linalg.norm(w, ord=p)
    return w, float(np.min(Z @ w))


# -- steepest and mirror descent on the square loss --------------------------------------------


def check_interpolation_problem(X, y) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of an underdetermined least-squares problem: ``X`` (n, d) with ``n < d`` and
    full row rank (so ``X w = y`` is solvable), ``y`` (n,).

    Parameters
    ----------
    X : array_like, shape (n, d)
        A wide matrix, ``n < d``, of rank ``n``.
    y : array_like, shape (n,)
        The targets.

    Returns
    -------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)

    Raises
    ------
    ValueError
        If ``n >= d``, ``X`` is rank deficient, the lengths differ, or an input is empty or not
        finite.
    TypeError
        If an input is not numeric.
    """
    X = as_matrix(X, "X")
    y = as_vector(y, "y", length=X.shape[0])
    n, d = X.shape
    if n >= d:
        raise ValueError(
            f"X has shape {X.shape}: interpolation problems need fewer examples than features "
            "(n < d); pass a wide matrix"
        )
    if np.linalg.matrix_rank(X) < n:
        raise ValueError(
            "X must have full row rank (linearly independent rows) so that Xw = y is solvable"
        )
    return X, y


def _ls(X, y):
    n = X.shape[0]

    def grad(w):
        return X.T @ (X @ w - y) / n

    return grad


def _residual2(X, y):
    def measure(w):
        if not np.all(np.isfinite(w)):
            return np.inf
        return float(np.sum((X @ w - y) ** 2))

    return measure


def lp_steepest_descent(X, y, p, eta: float, n_steps: int, w0=None) -> np.ndarray:
    """``n_steps`` of steepest descent w.r.t. ``||.||_p`` on the square loss; the final iterate.

    ``w_{k+1} = w_k + eta * steepest_direction(grad L(w_k), p)`` from ``w0`` (default 0), with
    ``L(w) = (1/2n) ||X w - y||^2``, ``grad L(w) = X^T (X w - y) / n``
    (:func:`steepest_direction`). Runs on :func:`ibcore.descent.iterate`, monitoring
    ``||X w - y||^2``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank (:func:`check_interpolation_problem`).
    y : array_like, shape (n,)
        The targets.
    p : float
        The norm, in ``[1, inf]``.
    eta : float
        Step size (> 0).
    n_steps : int
        Number of steps (>= 0).
    w0 : array_like, shape (d,), optional
        The initialisation; 0 when omitted.

    Returns
    -------
    ndarray, shape (d,)
        ``w`` after ``n_steps`` steps.

    Raises
    ------
    DivergenceError
        If ``||X w - y||^2`` becomes non-finite or exceeds ``1e12 max(1, its initial value)``
        (:class:`ibcore.DivergenceError`).
    ValueError
        On a bad problem (:func:`check_interpolation_problem`), ``p`` outside ``[1, inf]``,
        ``eta <= 0``, ``n_steps < 0`` or a ``w0`` of the wrong length.
    TypeError
        If ``p`` or ``eta`` is not a number, or ``n_steps`` not an integer.
    """
    X, y = check_interpolation_problem(X, y)
    p = check_p(p)
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    w = np.zeros(X.shape[1]) if w0 is None else as_vector(w0, "w0", length=X.shape[1]).copy()
    return _steepest_run(X, y, p, eta, n_steps, w, np.array([n_steps])).state


def _steepest_run(X, y, p, eta, n_steps, w, checkpoints):
    """Steepest-descent loop on :func:`ibcore.descent.iterate`; iterates recorded as ``"w"``."""
    grad = _ls(X, y)
    direction = steepest_direction_map(p)

    def advance(w, _k):
        with np.errstate(over="ignore", invalid="ignore"):  # judged by iterate
            return w + eta * direction(grad(w))

    return iterate(
        advance, w, n_steps, measure=_residual2(X, y), checkpoints=checkpoints,
        record=lambda w: {"w": w}, quantity="||X w - y||^2",
        hint="use a smaller step size eta",
    )


def lp_steepest_flow(X, y, p, t_max: float, w0=None) -> np.ndarray:
    """The ``eta -> 0`` limit of :func:`lp_steepest_descent`:
    ``dw/dt = steepest_direction(grad L(w), p)`` at ``t = t_max``, ``L(w) = (1/2n) ||X w - y||^2``.

    Needs ``1 < p < inf`` (a smooth right-hand side, ``-duality_map(grad L(w), q)``); integrated by
    :func:`scipy.integrate.solve_ivp` (LSODA, ``rtol=1e-11``, ``atol=1e-13``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    p : float
        The norm, ``1 < p < inf``.
    t_max : float
        The final time, ``> 0``.
    w0 : array_like, shape (d,), optional
        ``w(0)``; 0 when omitted.

    Returns
    -------
    ndarray, shape (d,)
        ``w(t_max)``.

    Raises
    ------
    ValueError
        On a bad problem, ``p`` outside ``(1, inf)``, ``t_max <= 0`` or a ``w0`` of the wrong
        length.
    TypeError
        If ``p`` or ``t_max`` is not a number.
    SolverError
        If the ODE solver fails (:class:`ibcore.SolverError`).
    """
    from scipy.integrate import solve_ivp

    X, y = check_interpolation_problem(X, y)
    p = check_p(p, strict=True)
    q = p / (p - 1.0)
    t_max = positive_float(t_max, "t_max")
    w = np.zeros(X.shape[1]) if w0 is None else as_vector(w0, "w0", length=X.shape[1])
    grad = _ls(X, y)
    sol = solve_ivp(
        lambda _t, w: -duality_map(grad(w), q),
        (0.0, t_max),
        w,
        method="LSODA",
        rtol=1e-11,
        atol=1e-13,
    )
    if not sol.success:
        raise SolverError(f"lp_steepest_flow: the ODE solver failed: {sol.message}")
    return sol.y[:, -1]


def lp_mirror_descent(X, y, p, eta: float, n_steps: int) -> np.ndarray:
    """Mirror descent with potential ``R(w) = ||w||_p^2 / 2`` (``1 < p < inf``) on the square loss
    from ``w = 0``; the final iterate.

    Dual iterate ``theta_{k+1} = theta_k - eta grad L(w_k)``, primal
    ``w_{k+1} = duality_map(theta_{k+1}, q)`` (``q = p / (p - 1)``), with
    ``L(w) = (1/2n) ||X w - y||^2``; from ``theta_0 = w_0 = 0`` it converges (for a small enough
    ``eta``) to :func:`min_lp_interpolant`. Runs on :func:`ibcore.descent.iterate`, monitoring
    ``||X w - y||^2``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    p : float
        The norm of the potential, ``1 < p < inf``.
    eta : float
        Step size (> 0).
    n_steps : int
        Number of steps (>= 0).

    Returns
    -------
    ndarray, shape (d,)
        ``w`` after ``n_steps`` steps.

    Raises
    ------
    DivergenceError
        If ``||X w - y||^2`` becomes non-finite or exceeds ``1e12 max(1, its initial value)``
        (:class:`ibcore.DivergenceError`).
    ValueError
        On a bad problem, ``p`` outside ``(1, inf)``, ``eta <= 0`` or ``n_steps < 0``.
    TypeError
        If ``p`` or ``eta`` is not a number, or ``n_steps`` not an integer.
    """
    X, y = check_interpolation_problem(X, y)
    p = check_p(p, strict=True)
    eta = positive_float(eta, "eta")
    n_steps = positive_int(n_steps, "n_steps", minimum=0)
    return _mirror_run(X, y, p / (p - 1.0), eta, n_steps, np.array([n_steps])).state[1]


def _mirror_run(X, y, q, eta, n_steps, checkpoints):
    """Mirror-descent loop from 0 on :func:`ibcore.descent.iterate`; state ``(theta, w)``."""
    grad = _ls(X, y)
    residual2 = _residual2(X, y)

    def advance(state, _k):
        theta, w = state
        with np.errstate(over="ignore", invalid="ignore"):  # judged by iterate
            theta = theta - eta * grad(w)
            return theta, duality_map(theta, q)

    start = (np.zeros(X.shape[1]), np.zeros(X.shape[1]))
    return iterate(
        advance, start, n_steps, measure=lambda state: residual2(state[1]),
        checkpoints=checkpoints, record=lambda state: {"w": state[1]},
        quantity="||X w - y||^2", hint="use a smaller step size eta",
    )


def lp_descent_path(X, y, p, eta: float, checkpoints, *, method: str = "steepest"):
    """Iterates of steepest descent (w.r.t. ``||.||_p``) or mirror descent (potential
    ``||w||_p^2 / 2``) from ``w = 0`` at the step counts ``checkpoints``.

    The same iterations as :func:`lp_steepest_descent` and :func:`lp_mirror_descent` (bit for bit)
    on ``L(w) = (1/2n) ||X w - y||^2``, run to ``max(checkpoints)`` steps.

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    p : float
        The norm: in ``[1, inf]`` for ``"steepest"``, ``(1, inf)`` for ``"mirror"``.
    eta : float
        Step size (> 0).
    checkpoints : array_like of int, shape (k,)
        Strictly increasing non-negative step counts.
    method : {"steepest", "mirror"}, default "steepest"
        The method.

    Returns
    -------
    ndarray, shape (k, d)
        The iterate after each number of steps in ``checkpoints``.

    Raises
    ------
    DivergenceError
        If ``||X w - y||^2`` becomes non-finite or exceeds ``1e12 max(1, its initial value)``
        (:class:`ibcore.DivergenceError`).
    ValueError
        On a bad problem, a bad ``p`` or ``eta``, an unknown ``method``, or checkpoints that are
        not strictly increasing non-negative integers.
    TypeError
        If ``p``, ``eta`` or ``method`` has the wrong type.
    """
    X, y = check_interpolation_problem(X, y)
    method = one_of(method, "method", ("steepest", "mirror"))
    p = check_p(p, strict=method == "mirror")
    eta = positive_float(eta, "eta")
    steps = as_vector(checkpoints, "checkpoints")
    if np.any(steps < 0) or np.any(steps != np.round(steps)) or np.any(np.diff(steps) <= 0):
        raise ValueError("checkpoints must be strictly increasing non-negative integers")
    cps = steps.astype(np.int64)
    n_steps = int(cps[-1])
    if method == "steepest":
        run = _steepest_run(X, y, p, eta, n_steps, np.zeros(X.shape[1]), cps)
    else:
        run = _mirror_run(X, y, p / (p - 1.0), eta, n_steps, cps)
    return run.records["w"]


def min_lp_interpolant(X, y, p) -> np.ndarray:
    """``argmin ||w||_p`` s.t. ``X w = y`` for ``1 < p < inf``.

    Parametrises the interpolants as ``X^+ y + N c`` (``N`` an orthonormal null-space basis) and
    minimises the convex, differentiable ``sum |w_i|^p`` over ``c`` with BFGS (gradient
    ``p N^T (sign(w) |w|^{p-1})``, ``gtol=1e-13``). Optimality: ``sign(w) |w|^{p-1}`` lies in the
    row space of ``X`` (check it, or compare with :func:`lp_mirror_descent`, whose limit is the
    same point). The BFGS status is not checked: the result is BFGS's last iterate, an interpolant
    up to rounding in any case (every ``X^+ y + N c`` is).

    Parameters
    ----------
    X : array_like, shape (n, d)
        An underdetermined problem, ``n < d``, full row rank.
    y : array_like, shape (n,)
        The targets.
    p : float
        The norm, ``1 < p < inf``.

    Returns
    -------
    ndarray, shape (d,)
        The minimum-``p``-norm interpolant.

    Raises
    ------
    ValueError
        On a bad problem or ``p`` outside ``(1, inf)``.
    TypeError
        If ``p`` is not a number or an array not numeric.
    """
    from scipy.linalg import null_space
    from scipy.optimize import minimize

    X, y = check_interpolation_problem(X, y)
    p = check_p(p, strict=True)
    w2 = np.linalg.pinv(X) @ y
    N = null_space(X)

    def f(c):
        w = w2 + N @ c
        return float(np.sum(np.abs(w) ** p)), p * N.T @ (np.sign(w) * np.abs(w) ** (p - 1.0))

    res = minimize(f, np.zeros(N.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-13})
    return w2 + N @ res.x
