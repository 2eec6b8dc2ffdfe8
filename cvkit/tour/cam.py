"""Tour section: class activation maps: CAM, the Grad-CAM family, RISE, and the map -> box recipe."""
from __future__ import annotations

import time

import numpy as np

ZOO_NAME = "shapes_cam_mobilenetv2_s8"   # GAP after stride 8: 16 x 16 maps that find the object
#: fraction of the maximum of the course's CAM -> box recipe (notebook 02 measures it)
RECIPE_TAU = 0.5


def run(ctx):
    """Draw the section's figures with ``ctx.save`` (see :mod:`cvkit.tour`).

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` uses less data and fewer iterations.

    Examples
    --------
    >>> ZOO_NAME, RECIPE_TAU
    ('shapes_cam_mobilenetv2_s8', 0.5)

    Run on its own, into ``gallery/`` (skipped here: it loads the zoo's MobileNetV2 and runs
    seven explanation methods, RISE and Score-CAM among them, half a minute on two CPU cores):

    >>> from cvkit.tour import run_tour
    >>> run_tour("gallery", quick=True, only=["cam"])   # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    from cvkit import explain
    from cvkit.models import pretrained, zoo_data
    from cvkit.visualize import overlays

    # the MobileNetV2 GAP classifier trained on shapes that cvkit ships (no training, no download)
    model = pretrained(ZOO_NAME)
    test = zoo_data(ZOO_NAME, 24 if ctx.quick else 100, seed=12345 + ctx.seed)
    acc = float((model.predict(test.images, verbose=0).argmax(1) == test.labels).mean())

    # the family side by side, with the cost of each
    batch = test.images[:4]
    methods = {
        "CAM": lambda im: explain.cam(model, im),
        "Grad-CAM": lambda im: explain.grad_cam(model, im),
        "Grad-CAM++": lambda im: explain.grad_cam_plus_plus(model, im),
        "Layer-CAM": lambda im: explain.layer_cam(model, im),
        "XGrad-CAM": lambda im: explain.xgrad_cam(model, im),
        "Score-CAM": lambda im: explain.score_cam(model, im, batch_size=96),
        "RISE": lambda im: explain.rise(model, im, n_masks=200 if ctx.quick else 800, batch_size=200,
                                        seed=ctx.seed),
    }
    maps, cost = {}, {}
    for name, fn in ctx.progress(methods.items(), desc="methods", total=len(methods)):
        fn(batch[:1])
        t0 = time.perf_counter()
        maps[name] = fn(batch)
        cost[name] = f"{1000 * (time.perf_counter() - t0) / len(batch):.0f} ms/img"
    fig = overlays.compare_methods(batch, maps, titles=cost)
    ctx.save(fig, "family", f"CAM, the Grad-CAM family, Score-CAM and RISE on the zoo's MobileNetV2 "
                            f"GAP classifier with 16 x 16 maps (GAP after stride 8), trained on "
                            f"shapes (held-out accuracy {acc:.0%}); time per image on this machine")

    # map -> threshold -> largest component -> box, over the test split
    from cvkit.boxes import iou
    from cvkit.wsol import peak_in_box, recipe_boxes

    from cvkit.inside import receptive_field

    cams = explain.cam(model, test.images, class_index=test.labels)
    raw = explain.cam(model, test.images, class_index=test.labels, upsample=False,
                      normalize=False)
    # the arg-max cell placed at the centre of its receptive field (notebook 02 explains why)
    inside = float(peak_in_box(raw, test.boxes, receptive_field(model, "cam_relu")).mean())
    hits = float((np.asarray(iou(recipe_boxes(cams, RECIPE_TAU), test.boxes)) >= 0.5).mean())
    fig = overlays.plot_cam_box(test.images[0], cams[0], threshold=RECIPE_TAU,
                                gt_box=test.boxes[0])
    ctx.save(fig, "box", f"CAM -> pixels above {RECIPE_TAU} of the max -> largest connected "
                         f"component -> box (yellow) vs ground truth (green). Over {len(cams)} "
                         f"held-out images: box IoU >= 0.5 for {hits:.0%}, CAM maximum inside "
                         f"the object's box (at its receptive-field centre) for {inside:.0%}")

    # the up-sampling formula, checked against TensorFlow
    import tensorflow as tf

    low = explain.grad_cam(model, test.images[:1], upsample=False)[0]
    size = test.images.shape[1]
    ours = explain.bilinear_upsample(low, size)
    ref = tf.compat.v1.image.resize(low[None, ..., None], (size, size),
                                    align_corners=True).numpy()[0, ..., 0]
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
    axes[0].imshow(test.images[0])
    axes[1].imshow(low, cmap="jet")
    axes[2].imshow(explain.upsample_maps(low, size, "nearest"), cmap="jet")
    axes[3].imshow(ours, cmap="jet")
    for ax, title in zip(axes, ["image", f"{low.shape[0]}x{low.shape[1]} Grad-CAM", "nearest",
                                "bilinear (course formula)"]):
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    ctx.save(fig, "upsample", "bilinear up-sampling written out as in the course; max difference from "
                              f"tf.image.resize(align_corners=True): {np.abs(ours - ref).max():.1e}")
