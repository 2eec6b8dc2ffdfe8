"""Tour section: weakly-supervised localization evaluation (MaxBoxAcc, MaxBoxAccV2, PxAP).

No training here (the notebook trains a model): three families of maps on ``shapes`` stand in for
methods of different quality: the centre-Gaussian baseline, a coarse CAM-like map (the object mask
seen through a 4x4-pixel-cell grid, peaked on a part of the object and up-sampled), and a sharp
full-resolution map (the mask, slightly blurred, plus noise). They are scored with the benchmark's
protocol and drawn: BoxAcc(tau) curves, precision-recall curves, activation histograms and boxes.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def _maps(ds, seed):
    rng = np.random.default_rng(seed)
    masks = ds.masks.astype(np.float64)
    n, h, w = masks.shape
    sharp = np.stack([ndi.gaussian_filter(m, 1.0) for m in masks]) + 0.15 * rng.random(masks.shape)
    coarse = []
    for m in masks:
        ys, xs = np.nonzero(m)
        # a discriminative part: the object pixels nearest a random object pixel weigh more
        k = rng.integers(len(xs))
        part = np.exp(-((np.arange(w)[None] - xs[k]) ** 2 + (np.arange(h)[:, None] - ys[k]) ** 2)
                      / (2 * (0.12 * w) ** 2))
        low = ndi.zoom(m * (0.3 + part), 1 / 8, order=1)
        coarse.append(ndi.zoom(low, (h / low.shape[0], w / low.shape[1]), order=3)[:h, :w])
    coarse = np.maximum(np.stack(coarse), 0) + 0.05 * rng.random(masks.shape)
    return sharp, coarse


def run(ctx):
    import matplotlib.pyplot as plt

    from ..datasets import shapes
    from ..visualize.wsol import (draw_wsol_boxes, plot_activation_histogram, plot_boxacc_curves,
                                  plot_precision_recall)
    from ..wsol import boxes_from_cam, center_gaussian, evaluate_maps, pixel_boxes, report_table

    n = 60 if ctx.quick else 150
    size = 64 if ctx.quick else 96
    ds = shapes(n, image_size=size, seed=ctx.seed + 5)
    gts = [b[None] for b in pixel_boxes(ds.boxes, size)]
    sharp, coarse = _maps(ds, ctx.seed)
    th = np.arange(0, 1, 0.01 if ctx.quick else 0.001)
    reports = []
    for name, maps in ctx.progress([("centre Gaussian", center_gaussian(n, size)),
                                    ("coarse CAM-like", coarse), ("sharp full-res", sharp)],
                                   desc="scoring maps"):
        reports.append(evaluate_maps(maps, gts, masks=ds.masks, method=name, thresholds=th))
    names = [r.method for r in reports]

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_boxacc_curves([r.max_box_acc for r in reports], ax=axes[0], labels=names)
    plot_precision_recall([r.pxap for r in reports], ax=axes[1], labels=names)
    fig.tight_layout()
    ctx.save(fig, "curves", "BoxAcc(tau) at IoU 0.5 and pixel precision-recall for three kinds of "
                            "maps: MaxBoxAcc takes each curve's maximum, PxAP the area under it.")

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, r in zip(axes, reports):
        plot_activation_histogram(r, ax=ax)
        ax.set_title(f"{r.method}", fontsize=10)
    fig.tight_layout()
    ctx.save(fig, "histograms", "Activation histograms on object and background pixels: only the "
                                "sharp maps have a second mode near 1 (cf. F-CAM figure 6).")

    fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
    rep = reports[1]
    tau = float(rep.max_box_acc.best_thresholds[0])
    ious = rep.max_box_acc.best_ious(0.5)
    order = np.argsort(ious)
    picks = list(order[:2]) + list(order[-2:])
    for col, i in enumerate(picks):
        pred = boxes_from_cam(coarse[i], tau)
        draw_wsol_boxes(ds.images[i], coarse[i], gts[i], pred, ax=axes[0, col],
                        title=f"IoU {ious[i]:.2f}")
        draw_wsol_boxes(ds.images[i], coarse[i], gts[i], pred, threshold=tau, ax=axes[1, col],
                        title=f"foreground at tau={tau:.3f}")
    fig.tight_layout()
    ctx.save(fig, "boxes", "Coarse CAM-like maps at their best threshold: true boxes green, "
                           "predicted red; worst two and best two images.")

    fig, ax = plt.subplots(figsize=(7.5, 1.6))
    ax.axis("off")
    ax.text(0, 0.5, report_table(reports), family="monospace", fontsize=7, va="center")
    ctx.save(fig, "table", "The scores (percent) of the three kinds of maps on the same images.")
