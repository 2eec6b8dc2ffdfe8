r"""Augmented Grad-CAM: heat-map super-resolution through augmentation.

Grad-CAM maps have the resolution of the target layer (7 x 7 for a MobileNetV2 at 224 px, a
factor 32 below the image). Augmented Grad-CAM (Morbidelli et al., ICASSP 2020) explains ``L``
augmented copies of the image (rotations and translations), treats their Grad-CAMs
:math:`g_\ell` as low-resolution views of one unknown high-resolution map :math:`h`, and solves

.. math::

    \hat h = \arg\min_h \sum_{\ell=1}^{L} \lVert D(A_\ell h) - g_\ell \rVert_2^2
             + \lambda_{TV}\, TV(h) + \lambda_e \lVert h \rVert_2^2,

    TV(h) = \sum_{i,j} |h_{i+1,j} - h_{i,j}| + |h_{i,j+1} - h_{i,j}|,

where :math:`A_\ell` is the known augmentation of copy :math:`\ell` and :math:`D` the down-sampling
to the map size. The objective is convex but not smooth.

Modules
-------
- :mod:`~cvkit.explain.augmented.warp`: the augmentations (angle, dx, dy), rotation about the
  image centre, then translation, bilinear interpolation, zero fill: :func:`random_augmentations`,
  :func:`augment`, :func:`warp_maps`, :func:`invert_augmentations`. One function computes the
  sampling taps, so the image copies and the operator :math:`A_\ell` are the same warp.
- :mod:`~cvkit.explain.augmented.operator`: :func:`downsampling_matrix` (:math:`D`, ``'area'`` or
  ``'bilinear'``) and :class:`AugmentationOperator`, the stacked linear map
  :math:`h \mapsto (D(A_\ell h))_\ell` as one sparse matrix with its exact adjoint (the transpose),
  and the cache of the most recent operators.
- :mod:`~cvkit.explain.augmented.objective`: :func:`total_variation`, :func:`tv_subgradient`,
  :func:`superresolution_objective`.
- :mod:`~cvkit.explain.augmented.solvers`: :func:`superresolve` with three solvers (:data:`SOLVERS`),
  compiled with ``tf.function``: ``'subgradient'`` (the course's method), ``'adam'`` (the authors'
  code path) and ``'fista'`` (the fast one).
- :mod:`~cvkit.explain.augmented.synthetic`: :func:`synthetic_superresolution_problem`, a
  known-answer problem for tests and benchmarks.
- :mod:`~cvkit.explain.augmented.method`: :func:`augmented_grad_cam` (default
  :data:`EARLY_STOP_ITERATIONS` subgradient steps) and the baselines :func:`upsample_baseline`,
  :func:`warp_back_baseline`.

Shown in ``notebooks/04_augmented_gradcam.ipynb``.

Examples
--------
>>> from cvkit.explain import augmented as A
>>> h_true, g, p = A.synthetic_superresolution_problem(32, 4, n_augmentations=4)
>>> h, info = A.superresolve(g, p, 32, solver="fista", iterations=5)
>>> h.shape, info["iterations"] <= 5
((32, 32), True)
"""
from .method import (EARLY_STOP_ITERATIONS, augmented_grad_cam, upsample_baseline,
                     warp_back_baseline)
from .objective import superresolution_objective, total_variation, tv_subgradient
from .operator import AugmentationOperator, downsampling_matrix
from .solvers import SOLVERS, superresolve
from .synthetic import synthetic_superresolution_problem
from .warp import augment, invert_augmentations, random_augmentations, warp_maps

__all__ = [
    "random_augmentations",
    "augment",
    "warp_maps",
    "invert_augmentations",
    "downsampling_matrix",
    "AugmentationOperator",
    "total_variation",
    "tv_subgradient",
    "superresolution_objective",
    "superresolve",
    "SOLVERS",
    "augmented_grad_cam",
    "EARLY_STOP_ITERATIONS",
    "upsample_baseline",
    "warp_back_baseline",
    "synthetic_superresolution_problem",
]
