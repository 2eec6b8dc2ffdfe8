"""Tour section: Augmented Grad-CAM, heat-map super-resolution through augmentation.

A known-answer problem (a blurred ``shapes`` mask seen through L rotated and shifted coarse views)
solved by the three solvers of :func:`cvkit.explain.augmented.superresolve`, against the baselines;
then the method on the zoo's fine-map classifier (``shapes_cam_mobilenetv2_s8``, 16 x 16 maps),
scored against Grad-CAM by MaxBoxAcc on held-out images.
"""
from __future__ import annotations

import numpy as np


def _psnr(x, ref):
    return 10 * np.log10(1.0 / np.mean((x - ref) ** 2))


def run(ctx):
    """Draw the section's figures with ``ctx.save`` (see :mod:`cvkit.tour`).

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` uses less data and fewer iterations.

    Examples
    --------
    Run on its own, into ``gallery/`` (skipped here: it runs three super-resolution solvers and
    Augmented Grad-CAM on the zoo's MobileNetV2, half a minute on two CPU cores):

    >>> from cvkit.tour import run_tour
    >>> run_tour("gallery", quick=True, only=["augmented"])   # doctest: +SKIP
    """
    n_aug = 12 if ctx.quick else 32
    results = _known_answer(ctx, n_aug)
    _convergence(ctx, results)
    _on_classifier(ctx, n_aug)


def _known_answer(ctx, n_aug, size=64, cells=4):
    """Figure 1: a known map seen through n_aug coarse views, recovered by the three solvers."""
    import matplotlib.pyplot as plt
    from scipy import ndimage

    from ..datasets import shapes
    from ..explain import augmented as A

    ds = shapes(1, image_size=size, seed=ctx.seed + 1, scale=(0.4, 0.8), distractors=(0, 1),
                min_contrast=0.5)
    truth = ndimage.gaussian_filter(ds.masks[0].astype(np.float32), 1.0)
    truth /= truth.max()
    params = A.random_augmentations(n_aug, 0.5, 8, seed=ctx.seed)
    op = A.AugmentationOperator(params, size, cells)
    g = op(truth)
    runs = (("subgradient", 150 if ctx.quick else 400), ("adam", None),
            ("fista", 60 if ctx.quick else 100))
    results = {solver: A.superresolve(g, params, size, solver=solver, iterations=iters,
                                      operator=op)
               for solver, iters in ctx.progress(runs, "solvers")}
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
    return results


def _convergence(ctx, results):
    """Figure 2: best objective against time for the three solvers."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for solver, (_, info) in results.items():
        ax.semilogy(info["times"], np.minimum.accumulate(info["objective"]), label=solver)
    ax.set_xlabel("seconds")
    ax.set_ylabel("best objective")
    ax.legend()
    ctx.save(fig, "convergence",
             "the same convex objective by subgradient descent, the authors' 200 Adam steps and "
             "FISTA with a TV proximal step: best objective against time")


def _on_classifier(ctx, n_aug):
    """Figure 3: the zoo's fine-map MobileNetV2 (16 x 16 maps at 128 px), Grad-CAM against
    Augmented Grad-CAM and the converged solution, with MaxBoxAcc."""
    import matplotlib.pyplot as plt

    from ..explain import augmented as A
    from ..explain import grad_cam, normalize_maps
    from ..models import pretrained, zoo_data
    from ..wsol import max_box_acc, pixel_boxes

    name = "shapes_cam_mobilenetv2_s8"
    model = pretrained(name)
    held = zoo_data(name, 12 if ctx.quick else 40)
    n_held, big = len(held.labels), held.images.shape[1]
    aug, infos = A.augmented_grad_cam(model, held.images, class_index=held.labels,
                                      n_augmentations=n_aug, max_shift=30 * big / 224,
                                      return_info=True, seed=ctx.seed)
    cams = grad_cam(model, held.images, class_index=held.labels)
    gt = pixel_boxes(held.boxes, big)[:, None]
    mba_cam, mba_aug = max_box_acc(cams, gt).score, max_box_acc(aug, gt).score
    fig, axes = plt.subplots(2, 4, figsize=(10.4, 5.4))
    for row in range(2):
        info = infos[row]
        exact = normalize_maps(A.superresolve(info["low_res_maps"], info["params"], big,
                                              solver="fista")[0])
        for ax, m, title in zip(axes[row], (None, cams[row], exact, aug[row]),
                                ("image", "Grad-CAM (16x16, bilinear)", "converged (FISTA)",
                                 "Augmented Grad-CAM")):
            ax.imshow(held.images[row])
            if m is not None:
                ax.imshow(m, cmap="jet", alpha=0.5)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    ctx.save(fig, "classifier",
             f"Augmented Grad-CAM ({n_aug} copies; default: 20 subgradient steps from zero) of the "
             "zoo's fine-map MobileNetV2 (16 x 16 maps at 128 px), against its Grad-CAM and the "
             "converged (FISTA) solution of the same objective, true class explained. MaxBoxAcc on "
             f"the {n_held} held-out images of this run: {mba_aug:.1f} against {mba_cam:.1f} "
             "for Grad-CAM (200 images and three classifiers: benchmarks/RESULTS.md, notebook 04)")
