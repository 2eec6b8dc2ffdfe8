r"""A super-resolution problem with a known answer, for tests, benchmarks and the notebook.

The observations are made with the very operator :func:`~cvkit.explain.augmented.superresolve`
inverts, so the error of a solver is measured against the truth.

Shown in ``notebooks/04_augmented_gradcam.ipynb``.
"""
from __future__ import annotations

import numpy as np

from cvkit._validate import check_float, check_int

from .operator import AugmentationOperator
from .warp import random_augmentations

__all__ = ["synthetic_superresolution_problem"]


def _scene(size, rng):
    """The ground truth: a sharp ellipse (1), a sharp square (0.6) and a Gaussian blob (peak 0.8),
    float32 (size, size), drawn from ``rng`` in this order."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    cy, cx = rng.uniform(0.3, 0.6, 2)
    a, b = rng.uniform(0.12, 0.2, 2)
    phi = rng.uniform(0, np.pi)
    u = (xx - cx) * np.cos(phi) + (yy - cy) * np.sin(phi)
    v = -(xx - cx) * np.sin(phi) + (yy - cy) * np.cos(phi)
    h = np.where((u / a) ** 2 + (v / b) ** 2 <= 1.0, 1.0, 0.0)
    sy, sx = rng.uniform(0.62, 0.72, 2)
    half = rng.uniform(0.06, 0.1)
    h = np.maximum(h, np.where((np.abs(xx - sx) <= half) & (np.abs(yy - sy) <= half), 0.6, 0.0))
    gy, gx = rng.uniform(0.15, 0.3), rng.uniform(0.65, 0.85)
    h = np.maximum(h, 0.8 * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * 0.07 ** 2)))
    return h.astype(np.float32)


def synthetic_superresolution_problem(output_size=224, map_size=7, n_augmentations=100,
                                      max_angle=0.5, max_shift=None, downsample="area",
                                      noise=0.0, seed=0):
    r"""A super-resolution problem with a known answer, for tests and benchmarks.

    The ground truth :math:`h^*` (values in [0, 1]) is a heat-map-like scene: a sharp-edged
    ellipse (value 1), a sharp square (0.6) and a smooth Gaussian blob (peak 0.8), placed at random
    away from the border. The observations are :math:`g_\ell = D(A_\ell h^*) + \varepsilon_\ell`
    with the same operator :func:`~cvkit.explain.augmented.superresolve` inverts and optional
    Gaussian noise of standard deviation ``noise``.

    Parameters
    ----------
    output_size : int
        Side H of the square truth (>= 8).
    map_size : int
        Side m of the observed maps (1 <= m < H).
    n_augmentations, max_angle : see :func:`~cvkit.explain.augmented.random_augmentations`
    max_shift : float, optional
        Default ``30 * H / 224`` (the authors' 30 px at 224 px).
    downsample : {'area', 'bilinear'}
        D, see :func:`~cvkit.explain.augmented.downsampling_matrix`.
    noise : float
        Standard deviation of the Gaussian noise added to the observations (>= 0).
    seed : int
        Seeds the augmentations (``seed``) and the scene and noise (``seed + 1``).

    Returns
    -------
    h_true : (H, H) float32
    low_res_maps : (L, m, m) float32
    params : (L, 3) float32, from :func:`~cvkit.explain.augmented.random_augmentations`.

    Examples
    --------
    >>> h, g, p = synthetic_superresolution_problem(32, 4, n_augmentations=3)
    >>> h.shape, g.shape, p.shape
    ((32, 32), (3, 4, 4), (3, 3))
    >>> bool(h.max() == 1.0)
    True
    """
    size = check_int(output_size, "output_size", minimum=8)
    m = check_int(map_size, "map_size", minimum=1, maximum=size - 1)
    n = check_int(n_augmentations, "n_augmentations", minimum=1)
    noise = check_float(noise, "noise", minimum=0.0)
    seed = check_int(seed, "seed", minimum=0)
    shift = 30.0 * size / 224.0 if max_shift is None else max_shift
    params = random_augmentations(n, max_angle, shift, seed)
    rng = np.random.default_rng(seed + 1)
    h = _scene(size, rng)
    op = AugmentationOperator(params, size, m, downsample)
    g = op(h)
    if noise > 0:
        g = g + rng.normal(0.0, noise, g.shape).astype(np.float32)
    return h, g.astype(np.float32), params
