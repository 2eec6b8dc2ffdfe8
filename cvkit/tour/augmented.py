"""Tour section: Augmented Grad-CAM, heat-map super-resolution through augmentation.

A known-answer problem (a blurred ``shapes`` mask seen through L rotated and shifted coarse views)
solved by the three solvers of :func:`cvkit.explain.augmented.superresolve`, against the baselines.
"""
from __future__ import annotations

import numpy as np


def _psnr(x, ref):
    return 10 * np.log10(1.0 / np.mean((x - ref) ** 2))


def run(ctx):
    import matplotlib.pyplot as plt
    from scipy import ndimage

    from ..datasets import shapes
    from ..explain import augmented as A

    size, cells = 64, 4
    n_aug = 12 if ctx.quick else 32
    ds = shapes(1, image_size=size, seed=ctx.seed + 1, scale=(0.4, 0.8), distractors=(0, 1),
                min_contrast=0.5)
    truth = ndimage.gaussian_filter(ds.masks[0].astype(np.float32), 1.0)
    truth /= truth.max()
    params = A.random_augmentations(n_aug, 0.5, 8, seed=ctx.seed)
    op = A.AugmentationOperator(params, size, cells)
    g = op(truth)

    results = {}
    runs = (("subgradient", 150 if ctx.quick else 400), ("adam", None),
            ("fista", 60 if ctx.quick else 100))
    for solver, iters in ctx.progress(runs, "solvers"):
        results[solver] = A.superresolve(g, params, size, solver=solver, iterations=iters,
                                         operator=op)

    maps = [("truth", truth), ("one 4x4 view", g[0]),
            ("bilinear", A.upsample_baseline(g, size)),
            ("mean of warped-back", A.warp_back_baseline(g, params, size, "mean")),
            ("augmented (fista)", results["fista"][0])]
    fig, axes = plt.subplots(1, len(maps), figsize=(2.6 * len(maps), 2.9))
    for ax, (name, m) in zip(axes, maps):
        ax.imshow(m, cmap="jet")
        ax.axis("off")
        title = name if name in ("truth", "one 4x4 view") else f"{name}\n{_psnr(m, truth):.1f} dB"
        ax.set_title(title, fontsize=9)
    ctx.save(fig, "superresolution",
             f"known answer: {n_aug} coarse 4x4 views (factor 16) of a 64 px map, recovered by "
             "TV-regularised inversion vs bilinear up-sampling and the warped-back mean (PSNR)")

    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for solver, (_, info) in results.items():
        ax.semilogy(info["times"], np.minimum.accumulate(info["objective"]), label=solver)
    ax.set_xlabel("seconds")
    ax.set_ylabel("best objective")
    ax.legend()
    ctx.save(fig, "convergence",
             "the same convex objective by subgradient descent, the authors' 200 Adam steps and "
             "FISTA with a TV proximal step: best objective against time")
