r"""Three solvers of the Augmented Grad-CAM problem, compiled with ``tf.function``.

.. math::

    \hat h = \arg\min_h \sum_{\ell=1}^{L} \lVert D(A_\ell h) - g_\ell \rVert_2^2
             + \lambda_{TV}\, TV(h) + \lambda_e \lVert h \rVert_2^2

``'subgradient'`` (the course's method), ``'adam'`` (the authors' code path) and ``'fista'`` (the
fast one) share one loop (:func:`_drive`); each iteration is one product with the operator and one
with its adjoint. :func:`superresolve` checks the input, takes the operator (built or cached) and
runs one of them.

Shown in ``notebooks/04_augmented_gradcam.ipynb``.
"""
from __future__ import annotations

import math
import time

import numpy as np
import tensorflow as tf

from cvkit._validate import as_maps, check_choice, check_finite, check_float, check_int, check_size

from .objective import (_apply, _apply_t, _default_lambdas, _grad, _grad_adjoint, _objective_tf,
                        _subgradient_tf)
from .operator import _DOWNSAMPLE, AugmentationOperator, _operator_for
from .warp import _as_params

__all__ = ["superresolve", "SOLVERS"]

#: Solver names accepted by :func:`superresolve`.
SOLVERS = ("subgradient", "adam", "fista")

_DEFAULT_ITERATIONS = {"subgradient": 500, "adam": 200, "fista": 100}
# fista: on the benchmark's MobileNetV2 maps (224 px, L = 100, factor 32) 5e-4 stops after about
# 20 iterations with h within 0.4 % (relative l2) of the map 800 iterations give.
_DEFAULT_TOL = {"subgradient": 0.0, "adam": 0.0, "fista": 5e-4}

#: FGP iterations per FISTA step (warm-started). An exact prox lets FISTA stop sooner: on the
#: benchmark's MobileNetV2 maps (224 px, L = 100, factor 32) 100 inner steps reach the default
#: tolerance in 21 iterations (1.1 s, h within 0.4 % of the converged map), 40 need 41 (1.8 s).
_FGP_INNER = 100


# --------------------------------------------------------------------------------------------
# The shared loop
# --------------------------------------------------------------------------------------------

def _stalled(best_hist, k, tol, window=10):
    """True when the best objective improved by less than tol (relative) over ``window`` iterations
    (never with tol = 0)."""
    old = best_hist.read(tf.maximum(k - window, 0))
    new = best_hist.read(k)
    return (k >= window) & (old - new < tol * tf.abs(new))


def _start(matrix, h0, g, lambda_tv, lambda_energy):
    """Start time, M h0 and f(h0); the stamp is taken before the work (control dependency)."""
    start = tf.timestamp()
    with tf.control_dependencies([start]):
        mh0 = _apply(matrix, h0)
    return start, mh0, _objective_tf(h0, mh0, g, lambda_tv, lambda_energy)


def _drive(step, state, x0, f0, start, iterations, tol):
    """The loop all three solvers share: ``state, x, f = step(k, state)`` until ``iterations`` or a
    stall (:func:`_stalled`), recording f, the best f so far and a time stamp after each
    iteration, and keeping the best iterate.

    Returns the best x, the last x, k (iterations run), the iteration of the best x (1-based; 0 for
    x0), the objective per iteration and the seconds since ``start`` after each iteration.
    """
    hist = tf.TensorArray(tf.float32, size=iterations)
    best_hist = tf.TensorArray(tf.float32, size=iterations, clear_after_read=False)
    stamps = tf.TensorArray(tf.float64, size=iterations)

    def body(k, state, x, best, fbest, kbest, hist, best_hist, stamps, stop):
        state, x, f = step(k, state)
        with tf.control_dependencies([f]):      # stamp once the iteration's work is done
            stamp = tf.timestamp()
        better = f < fbest
        best = tf.where(better, x, best)
        kbest = tf.where(better, k + 1, kbest)
        fbest = tf.minimum(f, fbest)
        hist = hist.write(k, f)
        best_hist = best_hist.write(k, fbest)
        stamps = stamps.write(k, stamp)
        return k + 1, state, x, best, fbest, kbest, hist, best_hist, stamps, _stalled(
            best_hist, k, tol)

    k, _, x, best, _, kbest, hist, _, stamps, _ = tf.while_loop(
        lambda k, *a: (k < iterations) & ~a[-1], body,
        (0, state, x0, x0, f0, 0, hist, best_hist, stamps, False))
    return best, x, k, kbest, hist.stack()[:k], stamps.stack()[:k] - start


# --------------------------------------------------------------------------------------------
# The three solvers
# --------------------------------------------------------------------------------------------

@tf.function(reduce_retracing=True)
def _solve_subgradient(h0, matrix, g, lambda_tv, lambda_energy, gamma0, iterations, tol):
    """Subgradient descent with normalised diminishing steps gamma0 / sqrt(k + 1); keeps the best."""
    start, mh0, f0 = _start(matrix, h0, g, lambda_tv, lambda_energy)

    def step(k, state):
        h, mh = state
        xi = _subgradient_tf(h, mh, matrix, g, lambda_tv, lambda_energy)
        norm = tf.sqrt(tf.reduce_sum(xi * xi))
        alpha = gamma0 / tf.sqrt(tf.cast(k, tf.float32) + 1.0) / tf.maximum(norm, 1e-12)
        h = h - alpha * xi
        mh = _apply(matrix, h)
        return (h, mh), h, _objective_tf(h, mh, g, lambda_tv, lambda_energy)

    best, _, _, kbest, hist, stamps = _drive(step, (h0, mh0), h0, f0, start, iterations, tol)
    return best, f0, hist, stamps, kbest


@tf.function(reduce_retracing=True)
def _solve_adam(h0, matrix, g, lambda_tv, lambda_energy, lr, iterations, tol):
    """Adam on the objective (the authors' code path): beta1 0.9, beta2 0.999, eps 1e-8."""
    start, mh0, f0 = _start(matrix, h0, g, lambda_tv, lambda_energy)
    b1, b2, eps = 0.9, 0.999, 1e-8

    def step(k, state):
        h, mh, m, v = state
        xi = _subgradient_tf(h, mh, matrix, g, lambda_tv, lambda_energy)
        t = tf.cast(k, tf.float32) + 1.0
        m = b1 * m + (1 - b1) * xi
        v = b2 * v + (1 - b2) * xi * xi
        alpha = lr * tf.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        h = h - alpha * m / (tf.sqrt(v) + eps)
        mh = _apply(matrix, h)
        return (h, mh, m, v), h, _objective_tf(h, mh, g, lambda_tv, lambda_energy)

    z = tf.zeros_like(h0)
    _, last, k, _, hist, stamps = _drive(step, (h0, mh0, z, z), h0, f0, start, iterations, tol)
    # the authors keep the last iterate (Adam is not monotone on a non-smooth objective)
    return last, f0, hist, stamps, k


def _tv_prox(v, mu, py, px, inner):
    """prox of mu * TV at v by FGP (Beck & Teboulle 2009) on the dual, warm-started at (py, px).

    x = v - mu grad^T p with p in [-1, 1] (one dual variable per difference); returns x and p.
    """
    step = 1.0 / (8.0 * mu)
    qy, qx, t = py, px, tf.constant(1.0)

    def body(i, py, px, qy, qx, t):
        x = v - mu * _grad_adjoint(qy, qx)
        dy, dx = _grad(x)
        ny = tf.clip_by_value(qy + step * dy, -1.0, 1.0)
        nx = tf.clip_by_value(qx + step * dx, -1.0, 1.0)
        tn = (1.0 + tf.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = (t - 1.0) / tn
        return i + 1, ny, nx, ny + beta * (ny - py), nx + beta * (nx - px), tn

    _, py, px, _, _, _ = tf.while_loop(lambda i, *a: i < inner, body, (0, py, px, qy, qx, t))
    return v - mu * _grad_adjoint(py, px), py, px


@tf.function(reduce_retracing=True)
def _solve_fista(h0, matrix, g, lambda_tv, lambda_energy, lipschitz, iterations, tol, inner):
    """FISTA with function-value restart; the smooth part is the data term, the prox handles
    lambda_tv TV + lambda_e ||h||^2 (a scaled TV prox, computed by warm-started FGP)."""
    start, mh0, f0 = _start(matrix, h0, g, lambda_tv, lambda_energy)
    tau = 1.0 / lipschitz
    shrink = 1.0 / (1.0 + 2.0 * tau * lambda_energy)
    mu = tf.maximum(lambda_tv * tau * shrink, 1e-12)

    def step(k, state):
        x, xp, mx, mxp, t, f, py, px = state
        tn = (1.0 + tf.sqrt(1.0 + 4.0 * t * t)) / 2.0
        beta = (t - 1.0) / tn
        y = x + beta * (x - xp)
        my = mx + beta * (mx - mxp)
        grad = 2.0 * _apply_t(matrix, my - g, tf.shape(x))
        v = (y - tau * grad) * shrink
        xn, py, px = tf.cond(lambda_tv > 0, lambda: _tv_prox(v, mu, py, px, inner),
                             lambda: (v, py, px))
        mxn = _apply(matrix, xn)
        fn = _objective_tf(xn, mxn, g, lambda_tv, lambda_energy)
        tn = tf.where(fn > f, 1.0, tn)          # adaptive restart (O'Donoghue & Candes 2015)
        return (xn, x, mxn, mx, tn, fn, py, px), xn, fn

    z = tf.zeros_like(h0)
    best, _, _, kbest, hist, stamps = _drive(
        step, (h0, h0, mh0, mh0, tf.constant(1.0), f0, z, z), h0, f0, start, iterations, tol)
    return best, f0, hist, stamps, kbest


# --------------------------------------------------------------------------------------------
# superresolve and its steps
# --------------------------------------------------------------------------------------------

def _check_low_res(low_res_maps):
    """The observed maps as float32 (L, h, w), L >= 1 maps of one size."""
    if isinstance(low_res_maps, (list, tuple)):
        shapes = {np.shape(m) for m in low_res_maps}
        if len(shapes) > 1:
            raise ValueError("`low_res_maps` must all have the same size; got maps of sizes "
                             f"{sorted(shapes)}. Compute them all at the same target layer.")
        if len(low_res_maps) == 0:
            raise ValueError("`low_res_maps` is empty: L must be >= 1.")
    g, _ = as_maps(low_res_maps, "low_res_maps", allow_single=False)
    if g.shape[0] < 1:
        raise ValueError(f"`low_res_maps` must hold L >= 1 maps; got shape {g.shape}.")
    if g.shape[1] < 1 or g.shape[2] < 1:
        raise ValueError(f"`low_res_maps` has empty maps: shape {g.shape}.")
    return g


def _check_views(low_res_maps, params):
    """The maps (:func:`_check_low_res`) and their params (L, 3), one row per map."""
    g = _check_low_res(low_res_maps)
    p = _as_params(params)
    if p.shape[0] != g.shape[0]:
        raise ValueError(f"`params` must have one row per map: {g.shape[0]} maps but "
                         f"{p.shape[0]} rows.")
    return g, p


def _initial_map(init, size):
    """The starting point: zeros (None or 'zeros') or the caller's finite (H, W) array."""
    if init is None or (isinstance(init, str) and init == "zeros"):
        return np.zeros(size, np.float32)
    if isinstance(init, str):
        raise ValueError(f"`init` must be None, 'zeros' or an array of shape {size}; got {init!r}.")
    h0 = np.asarray(init, dtype=np.float32)
    if h0.shape != size:
        raise ValueError(f"`init` must have shape {size}; got {h0.shape}.")
    check_finite(h0, "init")
    return h0


def _check_operator(operator, p, size, g, downsample):
    """The caller's operator after checking it fits, or the cached one for these arguments."""
    if operator is None:
        return _operator_for(p, size, g.shape[1:], downsample)
    if not isinstance(operator, AugmentationOperator):
        raise TypeError(f"`operator` must be an AugmentationOperator; got {type(operator).__name__}.")
    if (operator.output_size != size or operator.map_size != g.shape[1:]
            or operator.n != g.shape[0] or operator.downsample != downsample
            or not np.allclose(operator.params, p)):
        raise ValueError("`operator` was built for other params, sizes or downsample than the "
                         "ones given.")
    return operator


def _run_solver(solver, args, operator, g, size, step, iterations, tol):
    """Call the compiled solver with its step parameter: (h, f0, objective, times, k)."""
    if solver == "subgradient":
        gamma0 = 0.05 * math.sqrt(size[0] * size[1]) * max(float(np.abs(g).max()), 1e-6) \
            if step is None else check_float(step, "step", minimum=0.0, strict_min=True)
        return _solve_subgradient(*args, tf.constant(gamma0, tf.float32), tf.constant(iterations),
                                  tf.constant(tol, tf.float32))
    if solver == "adam":
        lr = 1e-3 if step is None else check_float(step, "step", minimum=0.0, strict_min=True)
        return _solve_adam(*args, tf.constant(lr, tf.float32), tf.constant(iterations),
                           tf.constant(tol, tf.float32))
    lip = 2.0 * operator.norm_bound
    return _solve_fista(*args, tf.constant(max(lip, 1e-12), tf.float32),
                        tf.constant(iterations), tf.constant(tol, tf.float32),
                        tf.constant(_FGP_INNER))


def superresolve(low_res_maps, params, output_size, downsample="area", lambda_tv=None,
                 lambda_energy=None, solver="subgradient", iterations=None, tol=None, init=None,
                 step=None, operator=None):
    r"""Recover a high-resolution map from L low-resolution views (the Augmented Grad-CAM problem).

    .. math::

        \hat h = \arg\min_h \; f(h) = \sum_{\ell=1}^L \lVert D(A_\ell h) - g_\ell \rVert_2^2
                 + \lambda_{TV}\, TV(h) + \lambda_e \lVert h \rVert_2^2

    Write :math:`M` for the stacked operator
    (:class:`~cvkit.explain.augmented.AugmentationOperator`). The solvers:

    - ``'subgradient'`` (the course's method): :math:`h_{k+1} = h_k - \alpha_k \xi_k` with the
      subgradient :math:`\xi_k = 2M^T(Mh_k - g) + \lambda_{TV} \nabla^T\operatorname{sign}(\nabla
      h_k) + 2\lambda_e h_k` and the normalised diminishing step
      :math:`\alpha_k = \gamma_0 / (\sqrt{k+1}\,\lVert\xi_k\rVert)` (so the k-th move has length
      :math:`\gamma_0/\sqrt{k+1}`; :math:`\sum_k \gamma_0/\sqrt{k+1} = \infty` and the steps tend to
      0, the conditions under which the best value converges to the minimum). The method is not a
      descent method, so the best iterate is kept and returned. :math:`\gamma_0` = ``step``,
      default :math:`0.05\sqrt{HW}\max|g|` (a twentieth of the largest plausible
      :math:`\lVert h \rVert`).
    - ``'adam'``: the authors' code path, Adam (lr ``step`` = 1e-3, 200 iterations from
      :math:`h = 0`) on the same subgradient; returns the last iterate. Kept for reproduction:
      200 steps of length about 1e-3 cannot bring a pixel above about 0.2, so it stops far from
      the minimum.
    - ``'fista'`` (fast): FISTA (Beck & Teboulle 2009) on the split :math:`f = F + G` with the
      smooth :math:`F(h) = \lVert Mh - g\rVert^2` (gradient :math:`2M^T(Mh - g)`, Lipschitz
      constant :math:`2\lVert M\rVert^2`, bounded by Schur's test) and
      :math:`G = \lambda_{TV}TV + \lambda_e\lVert\cdot\rVert^2`, whose proximal map is a TV
      denoising of a scaled input, computed by a few warm-started iterations of FGP (the fast
      dual projected gradient for TV) on the 2 x H x W dual. One product with :math:`M` and one
      with :math:`M^T` per iteration like the subgradient method, but the rate is
      :math:`O(1/k^2)` instead of :math:`O(1/\sqrt k)`, and with the adaptive restart of
      O'Donoghue & Candes it becomes linear here, since :math:`\lambda_e > 0` makes f strongly
      convex. Stops when the best objective improves by less than ``tol`` (relative) over 10
      iterations.

    All three run as one ``tf.function`` (a ``tf.while_loop``), on a GPU when there is one; the L
    copies are one sparse product per iteration, never a Python loop.

    Parameters
    ----------
    low_res_maps : array (L, h, w)
        The observed maps :math:`g_\ell` (for Grad-CAMs, each divided by its max).
    params : array (L, 3)
        The augmentation of each map, (angle, dx, dy) as in
        :func:`~cvkit.explain.augmented.random_augmentations`.
    output_size : int or (H, W)
        Size of h; larger than the maps in both axes.
    downsample : {'area', 'bilinear'}
        D, see :func:`~cvkit.explain.augmented.downsampling_matrix`.
    lambda_tv, lambda_energy : float, optional
        Weights (>= 0). Default: the authors' :math:`0.002L` and :math:`0.0001L`, which they
        used at a down-sampling factor :math:`s = 16` (VGG16, 14 x 14 maps at 224 px), times
        :math:`(16/s)^2` with :math:`s^2 = HW / (hw)`. The data term's curvature is about
        :math:`L/s^2` (each cell averages :math:`s^2` pixels), so this keeps the authors' balance
        between the three terms at other factors (at 7 x 7 maps, :math:`s = 32`, a quarter of
        their values). On the synthetic problem at 224 px, L = 100, factor 32
        (``benchmarks/bench_augmented.py``) the gain over bilinear up-sampling is +4.5 dB with
        these weights and +1.3 dB with the unscaled 0.002 L / 0.0001 L, whose TV flattens the map.
    solver : {'subgradient', 'adam', 'fista'}
    iterations : int, optional
        Largest number of iterations; default 500 / 200 / 100.
    tol : float, optional
        Relative improvement of the best objective over 10 iterations below which the solver
        stops; default 0 (run all iterations) for 'subgradient' and 'adam', 5e-4 for 'fista'
        (on 224 px maps at factor 32 that is about 20 iterations, and h within 0.4 % of the
        converged map in relative l2 norm).
    init : None, 'zeros' or array (H, W)
        Starting point (default zeros, as the authors).
    step : float, optional
        :math:`\gamma_0` for 'subgradient', the learning rate for 'adam' (default 1e-3); not used
        by 'fista', whose step is :math:`1/(2\lVert M\rVert^2)`.
    operator : AugmentationOperator, optional
        A built operator for these params and sizes. Without it the operator is built, or taken
        from a small cache of the two most recently used ones (same params, sizes and
        downsample), so repeated calls with the same augmentations build it once.

    Returns
    -------
    h : np.ndarray
        float32 (H, W), the solution.
    info : dict
        ``objective`` (value after each iteration, float array), ``objective_initial``,
        ``time`` (seconds, total), ``time_build`` (building the operator), ``times`` (seconds
        since the solver started, after each iteration), ``iterations``, ``best_iteration``,
        ``solver``, ``lambda_tv``, ``lambda_energy``, ``downsample``, ``final_objective``
        (of the returned h).

    Examples
    --------
    >>> from cvkit.explain.augmented import synthetic_superresolution_problem
    >>> h_true, g, p = synthetic_superresolution_problem(64, 4, n_augmentations=8)
    >>> h, info = superresolve(g, p, 64, solver='fista')
    >>> h.shape, info['solver']
    ((64, 64), 'fista')

    See ``notebooks/04_augmented_gradcam.ipynb``.
    """
    t_start = time.perf_counter()
    g, p = _check_views(low_res_maps, params)
    size = check_size(output_size, "output_size")
    if size[0] <= g.shape[1] or size[1] <= g.shape[2]:
        raise ValueError(f"`output_size` {size} must be larger than the maps {g.shape[1:]} in "
                         "both axes (it is the size of the input image).")
    check_choice(downsample, "downsample", _DOWNSAMPLE)
    check_choice(solver, "solver", SOLVERS)
    lt, le = _default_lambdas(g.shape[0], lambda_tv, lambda_energy, size, g.shape[1:])
    iterations = _DEFAULT_ITERATIONS[solver] if iterations is None else \
        check_int(iterations, "iterations", minimum=1)
    tol = _DEFAULT_TOL[solver] if tol is None else check_float(tol, "tol", minimum=0.0)
    h0 = _initial_map(init, size)
    operator = _check_operator(operator, p, size, g, downsample)
    t_build = time.perf_counter() - t_start
    args = (tf.constant(h0), operator.matrix, tf.constant(g.reshape(-1, 1)),
            tf.constant(lt, tf.float32), tf.constant(le, tf.float32))
    t0 = time.perf_counter()
    out = _run_solver(solver, args, operator, g, size, step, iterations, tol)
    h, f0, hist, stamps, kbest = (o.numpy() for o in out)
    t_solve = time.perf_counter() - t0
    final = float(_objective_tf(tf.constant(h), _apply(operator.matrix, tf.constant(h)),
                                args[2], lt, le))
    info = {
        "solver": solver,
        "objective": hist.astype(np.float64),
        "objective_initial": float(f0),
        "final_objective": final,
        "times": stamps.astype(np.float64),
        "iterations": int(hist.shape[0]),
        "best_iteration": int(kbest),
        "time": time.perf_counter() - t_start,
        "time_build": t_build,
        "time_solve": t_solve,
        "lambda_tv": lt,
        "lambda_energy": le,
        "downsample": downsample,
    }
    return h.astype(np.float32), info
