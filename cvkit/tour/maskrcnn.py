"""Tour section: Mask R-CNN end to end, the zoo's instance segmenter on multi-object shapes.

The zoo model ``shapes_maskrcnn`` (a stride-8 ResNet, RPN, ROI Align, box and mask heads; trained by
``python -m cvkit zoo train shapes_maskrcnn`` and shipped with cvkit) on held-out images with one to
four shapes: the pipeline stage by stage on one image, its detections and masks against the truth,
and the COCO precision-recall curves of its masks. ``notebooks/10_mask_rcnn.ipynb`` tells the whole
story.
"""
from __future__ import annotations

import numpy as np

ZOO_NAME = "shapes_maskrcnn"
_COLORS = ((0.9, 0.2, 0.2), (0.2, 0.6, 1.0), (1.0, 0.8, 0.1), (0.3, 0.9, 0.4))


def _show(ax, image, boxes, classes, masks, names, scores=None, title=""):
    """The image with each object's mask tinted and its box and class (and score) drawn."""
    import matplotlib.pyplot as plt

    out = np.array(image, np.float32)
    for k, m in enumerate(masks):
        out[m] = 0.45 * out[m] + 0.55 * np.asarray(_COLORS[k % 4])
    ax.imshow(out)
    for k, (b, c) in enumerate(zip(boxes, classes)):
        ax.add_patch(plt.Rectangle(b[:2], b[2] - b[0], b[3] - b[1], fill=False,
                                   color=_COLORS[k % 4], lw=1.5))
        label = names[c] if scores is None else f"{names[c]} {scores[k]:.2f}"
        ax.text(b[0], b[1] - 2, label, color="w", fontsize=7,
                bbox=dict(facecolor=_COLORS[k % 4], alpha=0.8, pad=1, lw=0))
    ax.set_axis_off()
    ax.set_title(title, fontsize=8, loc="left")


def _truth(data):
    out = []
    for i in range(len(data)):
        b, c, m = data.objects(i)
        out.append({"boxes": b * data.images.shape[1], "classes": c, "masks": m})
    return out


def _stages_figure(model, data, names):
    """RPN objectness, proposals after NMS and detections of one image."""
    import matplotlib.pyplot as plt

    image = data.images[0]
    st = model.stages(image[None])
    side = model.image_size // 8
    n = int(st["num_detections"][0])
    fig, ax = plt.subplots(1, 3, figsize=(10.5, 3.6))
    ax[0].imshow(st["objectness"][0].reshape(side, side, -1).max(-1), cmap="magma", vmin=0,
                 vmax=1)
    ax[0].set_title("RPN: best objectness per cell", fontsize=8, loc="left")
    ax[1].imshow(image)
    valid = st["proposal_valid"][0]
    for b in st["proposals"][0][valid]:
        ax[1].add_patch(plt.Rectangle(b[:2], b[2] - b[0], b[3] - b[1], fill=False, color="c",
                                      lw=0.7))
    ax[1].set_title(f"{valid.sum()} proposals after NMS", fontsize=8, loc="left")
    _show(ax[2], image, st["boxes"][0, :n] * model.image_size, st["classes"][0, :n],
          st["masks"][0, :n], names, st["scores"][0, :n], "detections and masks")
    for a in ax:
        a.set_axis_off()
    fig.tight_layout()
    return fig, int(valid.sum()), n


def run(ctx):
    """Draw the section's figures with ``ctx.save`` (see :mod:`cvkit.tour`).

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` scores 24 held-out images instead of 100.

    Examples
    --------
    >>> ZOO_NAME
    'shapes_maskrcnn'

    Run on its own, into ``gallery/`` (skipped here: it loads the zoo's Mask R-CNN and scores it on
    24 held-out images, about half a minute on two CPU cores):

    >>> from cvkit.tour import run_tour
    >>> run_tour("gallery", quick=True, only=["maskrcnn"])   # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    from ..datasets import instances
    from ..detection.coco_eval import RECALL_THRESHOLDS, coco_evaluate
    from ..detection.maskrcnn.zoo import predict_instances
    from ..models import pretrained

    model = pretrained(ZOO_NAME)
    data = instances(24 if ctx.quick else 100, image_size=model.image_size,
                     seed=34567 + ctx.seed)
    names = data.class_names
    fig, n_props, n_dets = _stages_figure(model, data, names)
    ctx.save(fig, "stages", f"One held-out image through Mask R-CNN: RPN objectness on the 16 x 16 "
                            f"map, {n_props} proposals after NMS, {n_dets} detections with masks.")
    dets = predict_instances(model, data.images)
    truth = _truth(data)
    fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
    for j in range(4):
        d, t = dets[j + 1], truth[j + 1]
        _show(axes[0, j], data.images[j + 1], d["boxes"], d["classes"], d["masks"], names,
              d["scores"], f"found {len(d['scores'])}")
        _show(axes[1, j], data.images[j + 1], t["boxes"], t["classes"], t["masks"], names,
              title=f"truth: {len(t['classes'])}")
    fig.tight_layout()
    ctx.save(fig, "detections", "The zoo's Mask R-CNN on held-out images (top: detections with "
                                "scores and masks; bottom: the truth).")
    res = {k: coco_evaluate(dets, truth, iou_type=k, num_classes=len(names)) for k in ("box",
                                                                                          "mask")}
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for k, name in enumerate(names):
        ax.plot(RECALL_THRESHOLDS, res["mask"]["precision"][0, :, k], label=name)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision (envelope)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    ctx.save(fig, "pr_curves",
             f"Mask precision-recall envelopes at IoU 0.5 on {len(data)} held-out images: box "
             f"AP50 {res['box']['AP50']:.2f}, mask AP50 {res['mask']['AP50']:.2f}, mask "
             f"AP@[.5:.95] {res['mask']['AP']:.2f} (COCO).")
