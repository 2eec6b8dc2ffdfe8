"""Tour section: F-CAM, full-resolution class activation maps from a decoder trained on CAM seeds.

The zoo's F-CAM decoder (``shapes_fcam_s8``: a U-Net on the frozen stride-8 MobileNetV2 CAM
classifier, trained from CAM seeds, a CRF loss and a size constraint; shipped with cvkit) is set
against the CAM it learned from on held-out images: maps and boxes, the BoxAcc(tau) curves and the
activation histograms. ``notebooks/09_fcam.ipynb`` tells the whole story.
"""
from __future__ import annotations

import numpy as np

ZOO_NAME = "shapes_fcam_s8"


def _scored_maps(fcam, data, thresholds):
    """CAM and CAM + F-CAM maps of ``data`` and their WSOL reports (GT-known)."""
    from ..wsol import evaluate_maps, pixel_boxes
    from ..wsol.fcam import fcam_maps
    from ..wsol.fcam.zoo import base_maps

    gts = [b[None] for b in pixel_boxes(data.boxes, data.images.shape[1])]
    maps = {"CAM": base_maps(fcam, data.images, data.labels, "cam"),
            "CAM + F-CAM": fcam_maps(fcam, data.images)}
    reports = {name: evaluate_maps(m, gts, masks=data.masks, method=name, thresholds=thresholds)
               for name, m in maps.items()}
    return maps, reports, gts


def _boxes_figure(data, maps, reports, gts, n=4):
    """One column per image: the CAM and the F-CAM with the box of each at its best threshold."""
    import matplotlib.pyplot as plt

    from ..visualize import draw_wsol_boxes
    from ..wsol import boxes_from_cam

    fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 5.4))
    for row, (name, rep) in enumerate(reports.items()):
        tau = rep.max_box_acc.best_thresholds[0]
        ious = rep.max_box_acc.best_ious(0.5)
        for col in range(n):
            box = boxes_from_cam(maps[name][col], tau)
            draw_wsol_boxes(data.images[col], maps[name][col], gts[col], box[None],
                            ax=axes[row, col], title=f"{name}: IoU {ious[col]:.2f}")
    fig.tight_layout()
    return fig


def _paint(image, fg, bg, grow=1):
    """The image darkened, foreground pixels in red, background pixels in blue."""
    from scipy import ndimage as ndi

    if grow > 1:
        fg, bg = ndi.maximum_filter(fg, grow), ndi.maximum_filter(bg, grow)
    out = 0.5 * np.asarray(image, np.float32)
    out[fg] = (1.0, 0.1, 0.1)
    out[bg] = (0.2, 0.4, 1.0)
    return out


def _seeds_figure(fcam, data, seed, n=4):
    """The pools and the seeds of the training step (zoo settings), and the F-CAM, per image."""
    import matplotlib.pyplot as plt

    from ..explain import find_cam_head
    from ..wsol.fcam import sample_seeds, seed_maps, seed_pools

    cfg = fcam.fcam_config
    x, y = data.images[:n], data.labels[:n]
    probs, acts, _ = fcam.predict(x, verbose=0)
    enc = fcam.get_layer("encoder").inner
    kernel = find_cam_head(enc, output=len(enc.outputs) - 1)[1].kernel
    maps = seed_maps(acts, kernel, y, x.shape[1:3], cfg["method"])
    pools = [p.numpy() > 0 for p in seed_pools(maps, cfg["n_neg"], cfg["erode"])]
    seeds = [s.numpy() > 0 for s in sample_seeds(maps, cfg["k"], cfg["n_neg"], cfg["erode"],
                                                 seed=seed)]
    fig, axes = plt.subplots(3, n, figsize=(2.6 * n, 7.8))
    for col in range(n):
        axes[0, col].imshow(_paint(x[col], pools[0][col], pools[1][col]))
        axes[1, col].imshow(_paint(x[col], seeds[0][col], seeds[1][col], grow=5))
        axes[2, col].imshow(probs[col, ..., 1], cmap="jet", vmin=0, vmax=1)
    for row, title in enumerate(["pools: fg red, bg blue", "seeds (drawn 5 x 5)", "F-CAM"]):
        axes[row, 0].set_ylabel(title)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def run(ctx):
    """Draw the section's figures with ``ctx.save`` (see :mod:`cvkit.tour`).

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` uses fewer images and a coarser threshold grid.

    Examples
    --------
    >>> ZOO_NAME
    'shapes_fcam_s8'

    Run on its own, into ``gallery/`` (skipped here: it loads the zoo's F-CAM model and scores
    CAM and F-CAM on 48 held-out images, about half a minute on two CPU cores):

    >>> from cvkit.tour import run_tour
    >>> run_tour("gallery", quick=True, only=["fcam"])   # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    from ..models import pretrained, zoo_data
    from ..visualize import plot_activation_histogram, plot_boxacc_curves

    fcam = pretrained(ZOO_NAME)
    data = zoo_data(ZOO_NAME, 48 if ctx.quick else 200, seed=23456 + ctx.seed)
    thresholds = np.arange(0, 1, 0.01 if ctx.quick else 0.001)
    maps, reports, gts = _scored_maps(fcam, data, thresholds)
    s = {name: r.summary() for name, r in reports.items()}
    gain = (f"MaxBoxAcc {s['CAM']['MaxBoxAcc']:.0f} -> {s['CAM + F-CAM']['MaxBoxAcc']:.0f}, "
            f"PxAP {s['CAM']['PxAP']:.0f} -> {s['CAM + F-CAM']['PxAP']:.0f}")

    cfg = fcam.fcam_config
    fig = _seeds_figure(fcam, data, ctx.seed)
    ctx.save(fig, "seeds", f"F-CAM's training labels, drawn anew at every step from the CAM: "
                           f"Otsu foreground pool eroded {cfg['erode']} x {cfg['erode']}, the "
                           f"{cfg['n_neg']:.0%} lowest pixels as background, {cfg['k']} seeds "
                           f"from each; below, the trained decoder's full-resolution map")

    fig = _boxes_figure(data, maps, reports, gts)
    ctx.save(fig, "boxes", f"CAM (top) and CAM + F-CAM (bottom) on held-out shapes, each with its "
                           f"box at its best threshold (red) and the truth (green); over "
                           f"{len(data.images)} images: {gain}")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    plot_boxacc_curves([r.max_box_acc for r in reports.values()], ax=axes[0],
                       labels=list(reports))
    for ax, (name, rep) in zip(axes[1:], reports.items()):
        plot_activation_histogram(rep, ax=ax)
        ax.set_title(name, fontsize=10)
    fig.tight_layout()
    ctx.save(fig, "curves", "BoxAcc(tau): a narrow peak for CAM, a wide plateau for F-CAM; "
                            "activation histograms on object and background pixels: F-CAM's "
                            "second mode near 1 (the paper's figure 6)")
