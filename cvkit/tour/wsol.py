"""Tour section: weakly-supervised localization evaluation (MaxBoxAcc, MaxBoxAccV2, PxAP).

The zoo's fine-map MobileNetV2 CAM classifier (GAP after stride 8, 16 x 16 maps; trained on
``shapes``, shipped with cvkit) is explained on
held-out images with CAM and Grad-CAM (GT-known), between the centre-Gaussian baseline (the floor)
and the blurred true masks (a ceiling no weakly-supervised map reaches). The maps are scored with
the benchmark's protocol and drawn: BoxAcc(tau) curves, precision-recall curves, activation
histograms and boxes.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def run(ctx):
    """Draw the section's figures with ``ctx.save`` (see :mod:`cvkit.tour`).

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` uses less data and fewer iterations.

    Examples
    --------
    Run on its own, into ``gallery/`` (skipped here: it loads the zoo's MobileNetV2 and
    explains and scores 48 held-out images with CAM and Grad-CAM):

    >>> from cvkit.tour import run_tour
    >>> run_tour("gallery", quick=True, only=["wsol"])   # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    from ..explain import cam, grad_cam
    from ..models import pretrained, zoo_data
    from ..visualize.wsol import (draw_wsol_boxes, plot_activation_histogram, plot_boxacc_curves,
                                  plot_precision_recall)
    from ..wsol import boxes_from_cam, center_gaussian, evaluate_maps, pixel_boxes, report_table

    n = 48 if ctx.quick else 150
    model = pretrained("shapes_cam_mobilenetv2_s8")
    ds = zoo_data("shapes_cam_mobilenetv2_s8", n, seed=23456 + ctx.seed)
    size = ds.images.shape[1]
    gts = [b[None] for b in pixel_boxes(ds.boxes, size)]
    cams = cam(model, ds.images, class_index=ds.labels)          # GT-known
    blurred = np.stack([ndi.gaussian_filter(m.astype(float), 3.0) for m in ds.masks])
    th = np.arange(0, 1, 0.01 if ctx.quick else 0.001)
    reports = []
    for name, maps in ctx.progress([("centre Gaussian", center_gaussian(n, size)), ("CAM", cams),
                                    ("Grad-CAM", grad_cam(model, ds.images, class_index=ds.labels)),
                                    ("blurred masks", blurred)],
                                   desc="scoring maps"):
        reports.append(evaluate_maps(maps, gts, masks=ds.masks, method=name, thresholds=th))
    names = [r.method for r in reports]

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_boxacc_curves([r.max_box_acc for r in reports], ax=axes[0], labels=names)
    plot_precision_recall([r.pxap for r in reports], ax=axes[1], labels=names)
    fig.tight_layout()
    s = {r.method: r.summary() for r in reports}
    ctx.save(fig, "curves", "BoxAcc(tau) at IoU 0.5 and pixel precision-recall of the zoo "
                            "MobileNetV2's CAM and Grad-CAM (16 x 16 maps) between the floor and "
                            "a ceiling: MaxBoxAcc takes each curve's maximum (CAM "
                            f"{s['CAM']['MaxBoxAcc']:.1f} at tau {s['CAM']['best tau']:.2f}, "
                            f"centre Gaussian {s['centre Gaussian']['MaxBoxAcc']:.1f}), PxAP the "
                            f"area under the precision-recall curve (CAM {s['CAM']['PxAP']:.1f}).")

    fig, axes = plt.subplots(1, len(reports), figsize=(14, 3.2))
    for ax, r in zip(axes, reports):
        plot_activation_histogram(r, ax=ax)
        ax.set_title(f"{r.method}", fontsize=10)
    fig.tight_layout()
    ctx.save(fig, "histograms", "Activation histograms on object and background pixels: where "
                                "the two overlap, no threshold separates object from background "
                                "(cf. F-CAM figure 6); the blurred masks show the ideal, two "
                                "modes at 0 and 1.")

    fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
    rep = reports[1]
    tau = float(rep.max_box_acc.best_thresholds[0])
    ious = rep.max_box_acc.best_ious(0.5)
    order = np.argsort(ious)
    picks = list(order[:2]) + list(order[-2:])
    for col, i in enumerate(picks):
        pred = boxes_from_cam(cams[i], tau)
        draw_wsol_boxes(ds.images[i], cams[i], gts[i], pred, ax=axes[0, col],
                        title=f"IoU {ious[i]:.2f}")
        draw_wsol_boxes(ds.images[i], cams[i], gts[i], pred, threshold=tau, ax=axes[1, col],
                        title=f"foreground at tau={tau:.3f}")
    fig.tight_layout()
    ctx.save(fig, "boxes", "CAM at its best threshold: true boxes green, "
                           "predicted red; worst two and best two images.")

    fig, ax = plt.subplots(figsize=(7.5, 1.6))
    ax.axis("off")
    ax.text(0, 0.5, report_table(reports), family="monospace", fontsize=7, va="center")
    ctx.save(fig, "table", "The scores (percent) of the four kinds of maps on the same images.")
