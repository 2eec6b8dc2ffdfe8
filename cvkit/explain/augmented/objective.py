r"""The objective of Augmented Grad-CAM: the data term, total variation and the energy term.

.. math::

    f(h) = \sum_{\ell=1}^{L} \lVert D(A_\ell h) - g_\ell \rVert_2^2
           + \lambda_{TV}\, TV(h) + \lambda_e \lVert h \rVert_2^2,
    \qquad TV(h) = \sum_{i,j} |h_{i+1,j} - h_{i,j}| + |h_{i,j+1} - h_{i,j}|.

The public functions (:func:`total_variation`, :func:`tv_subgradient`,
:func:`superresolution_objective`) work on NumPy arrays; the private TensorFlow versions are the
pieces the compiled solvers (:mod:`cvkit.explain.augmented.solvers`) use in every iteration.

Shown in ``notebooks/04_augmented_gradcam.ipynb``.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from cvkit._validate import as_maps, check_float, restore_rank

from .operator import AugmentationOperator
from .warp import _as_params

__all__ = ["total_variation", "tv_subgradient", "superresolution_objective"]


# --------------------------------------------------------------------------------------------
# TensorFlow pieces (traced into the solvers)
# --------------------------------------------------------------------------------------------

def _tv(h):
    """Anisotropic TV of one (H, W) tensor (differentiable where no difference is zero)."""
    return (tf.reduce_sum(tf.abs(h[1:, :] - h[:-1, :]))
            + tf.reduce_sum(tf.abs(h[:, 1:] - h[:, :-1])))


def _grad(h):
    """Forward differences with a zero last row / column: (dy, dx), each (H, W)."""
    dy = tf.concat([h[1:, :] - h[:-1, :], tf.zeros_like(h[:1, :])], axis=0)
    dx = tf.concat([h[:, 1:] - h[:, :-1], tf.zeros_like(h[:, :1])], axis=1)
    return dy, dx


def _grad_adjoint(py, px):
    """Adjoint of :func:`_grad` (minus the discrete divergence); the last row of ``py`` and the
    last column of ``px`` are ignored, as :func:`_grad` sets them to zero."""
    qy = py[:-1, :]
    qx = px[:, :-1]
    return (tf.pad(qy, [[1, 0], [0, 0]]) - tf.pad(qy, [[0, 1], [0, 0]])
            + tf.pad(qx, [[0, 0], [1, 0]]) - tf.pad(qx, [[0, 0], [0, 1]]))


def _apply(matrix, h):
    """M h as a column (L*h*w, 1)."""
    return tf.sparse.sparse_dense_matmul(matrix, tf.reshape(h, [-1, 1]))


def _apply_t(matrix, r, shape):
    """M^T r reshaped to the map's ``shape``."""
    return tf.reshape(tf.sparse.sparse_dense_matmul(matrix, r, adjoint_a=True), shape)


def _objective_tf(h, mh, g, lambda_tv, lambda_energy):
    """f(h) given mh = M h and the stacked observations g (column)."""
    r = mh - g
    return tf.reduce_sum(r * r) + lambda_tv * _tv(h) + lambda_energy * tf.reduce_sum(h * h)


def _subgradient_tf(h, mh, matrix, g, lambda_tv, lambda_energy):
    """xi = 2 M^T (M h - g) + lambda_tv grad^T sign(grad h) + 2 lambda_e h, given mh = M h."""
    dy, dx = _grad(h)
    return (2.0 * _apply_t(matrix, mh - g, tf.shape(h))
            + lambda_tv * _grad_adjoint(tf.sign(dy), tf.sign(dx)) + 2.0 * lambda_energy * h)


# --------------------------------------------------------------------------------------------
# Public NumPy versions
# --------------------------------------------------------------------------------------------

def total_variation(h):
    r"""Anisotropic total variation with forward differences.

    .. math:: TV(h) = \sum_{i,j} |h_{i+1,j} - h_{i,j}| + |h_{i,j+1} - h_{i,j}|

    (the sums run over the pairs inside the image).

    Parameters
    ----------
    h : array (H, W) or (N, H, W)

    Returns
    -------
    float or np.ndarray
        A float for one map, an (N,) float64 array for a batch.

    Examples
    --------
    >>> h = np.array([[0.0, 1.0], [2.0, 4.0]])
    >>> total_variation(h)             # |2-0| + |4-1| down, |1-0| + |4-2| right
    8.0
    >>> total_variation(np.stack([h, 2 * h]))
    array([ 8., 16.])

    See ``notebooks/04_augmented_gradcam.ipynb``.
    """
    m, single = as_maps(h, "h")
    x = np.asarray(m, dtype=np.float64)
    tv = np.abs(np.diff(x, axis=1)).sum(axis=(1, 2)) + np.abs(np.diff(x, axis=2)).sum(axis=(1, 2))
    return float(tv[0]) if single else tv


def tv_subgradient(h):
    r"""A subgradient of :func:`total_variation`: :math:`\nabla^T \operatorname{sign}(\nabla h)`.

    With :math:`d = h_{i+1,j} - h_{i,j}`, the term :math:`|d|` adds :math:`\operatorname{sign}(d)`
    to pixel :math:`(i+1, j)` and subtracts it from :math:`(i, j)` (same along columns);
    :math:`\operatorname{sign}(0) = 0` is a valid choice in :math:`\partial|x|(0) = [-1, 1]`.

    Parameters
    ----------
    h : array (H, W) or (N, H, W)

    Returns
    -------
    np.ndarray
        float32, the shape of ``h``.

    Examples
    --------
    >>> tv_subgradient(np.array([[0.0, 1.0], [2.0, 4.0]]))
    array([[-2.,  0.],
           [ 0.,  2.]], dtype=float32)
    """
    m, single = as_maps(h, "h")
    x = np.asarray(m, dtype=np.float64)
    sy = np.sign(np.diff(x, axis=1))
    sx = np.sign(np.diff(x, axis=2))
    g = np.zeros_like(x)
    g[:, 1:, :] += sy
    g[:, :-1, :] -= sy
    g[:, :, 1:] += sx
    g[:, :, :-1] -= sx
    return restore_rank(g.astype(np.float32), single)


def _default_lambdas(n, lambda_tv, lambda_energy, output_size=None, map_size=None):
    """The authors' weights 0.002 L and 0.0001 L at their factor 16, rescaled by (16 / s)^2.

    The data term's curvature is about L / s^2 (each of the L copies averages s x s pixels per
    cell), so keeping the authors' balance between the terms at another down-sampling factor s
    means scaling both weights by (16 / s)^2; at s = 16 (VGG16 block5_conv3, 14 x 14 at 224 px)
    these are exactly the authors' values.
    """
    scale = 1.0
    if output_size is not None and map_size is not None:
        s2 = (output_size[0] * output_size[1]) / float(map_size[0] * map_size[1])
        scale = 256.0 / s2
    lt = 0.002 * n * scale if lambda_tv is None else check_float(lambda_tv, "lambda_tv",
                                                                  minimum=0.0)
    le = 0.0001 * n * scale if lambda_energy is None else check_float(
        lambda_energy, "lambda_energy", minimum=0.0)
    return lt, le


def superresolution_objective(h, low_res_maps, params, downsample="area", lambda_tv=None,
                              lambda_energy=None, operator=None):
    r"""Value of the Augmented Grad-CAM objective at ``h``.

    .. math:: f(h) = \sum_\ell \lVert D(A_\ell h) - g_\ell \rVert_2^2 + \lambda_{TV} TV(h)
              + \lambda_e \lVert h \rVert_2^2

    Parameters
    ----------
    h : array (H, W)
        The high-resolution map.
    low_res_maps : array (L, h, w)
        The observations :math:`g_\ell`.
    params : array (L, 3)
        The augmentation of each observation.
    downsample : {'area', 'bilinear'}
        D, see :func:`~cvkit.explain.augmented.downsampling_matrix`.
    lambda_tv, lambda_energy : float, optional
        Default as in :func:`~cvkit.explain.augmented.superresolve`.
    operator : AugmentationOperator, optional
        Reuse a built operator.

    Returns
    -------
    float

    Examples
    --------
    >>> p = np.zeros((2, 3), np.float32)                 # two identity copies
    >>> superresolution_objective(np.ones((4, 4)), np.ones((2, 2, 2)), p, lambda_energy=0.5)
    8.0
    """
    g, _ = as_maps(low_res_maps, "low_res_maps")
    p = _as_params(params)
    m, _ = as_maps(h, "h", allow_single=True)
    if m.shape[0] != 1:
        raise ValueError(f"`h` must be one (H, W) map; got shape {np.shape(h)}.")
    lt, le = _default_lambdas(p.shape[0], lambda_tv, lambda_energy, m.shape[1:], g.shape[1:])
    op = operator or AugmentationOperator(p, m.shape[1:], g.shape[1:], downsample)
    r = op(m[0]).astype(np.float64) - g
    x = m[0].astype(np.float64)
    return float((r ** 2).sum() + lt * total_variation(x) + le * (x ** 2).sum())
