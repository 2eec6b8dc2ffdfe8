"""Tour section: box formats and IoU / GIoU, then the zoo's converged two-headed localizer: its
held-out predictions against the truth, the IoU histogram and its hardest images."""
from __future__ import annotations

import numpy as np

ZOO_NAME = "shapes_localizer_mobilenetv2"   # MobileNetV2 + class head + box head, GIoU loss


def run(ctx):
    """Draw the section's figures with ``ctx.save`` (see :mod:`cvkit.tour`).

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` uses less data and fewer iterations.

    Examples
    --------
    >>> ZOO_NAME
    'shapes_localizer_mobilenetv2'

    Its first figure in numbers: once a box has slid off the target, IoU stays at 0 while GIoU
    keeps falling with the distance.

    >>> import numpy as np
    >>> from cvkit import boxes as B
    >>> target = np.array([[0.3, 0.3, 0.6, 0.6]])
    >>> slid = target + [[0.4, 0, 0.4, 0], [0.6, 0, 0.6, 0]]
    >>> B.iou(slid, target).tolist(), B.giou(slid, target).round(3).tolist()
    ([0.0, 0.0], [-0.143, -0.333])

    Run on its own, into ``gallery/`` (skipped here: it loads the zoo's MobileNetV2
    localizer and predicts 100 held-out images):

    >>> from cvkit.tour import run_tour
    >>> run_tour("gallery", quick=True, only=["localization"])   # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    from cvkit import boxes as B
    from cvkit.models import localization_scores, pretrained, zoo_card, zoo_data
    from cvkit.visualize.boxes import draw_boxes, plot_iou_histogram, plot_localization

    # 1. IoU versus GIoU as a box slides past another one
    shifts = np.linspace(-1.0, 1.0, 201)
    ref = np.array([0.3, 0.3, 0.6, 0.6])
    moving = ref + shifts[:, None] * np.array([1, 0, 1, 0])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 1.6]})
    draw_boxes(np.full((64, 64, 3), 0.95, np.float32), np.stack([ref, moving[60], moving[140]]),
               labels=[0, 1, 2], class_names=["target", "left", "right"],
               color=["#2ca02c", "#1f77b4", "#1f77b4"], ax=axes[0], title="sliding a box")
    axes[1].plot(shifts, B.iou(moving, ref[None]), label="IoU")
    axes[1].plot(shifts, B.giou(moving, ref[None]), label="GIoU")
    axes[1].set_xlabel("horizontal shift (fraction of the image)")
    axes[1].axhline(0, color="k", linewidth=0.5)
    axes[1].legend(fontsize=8)
    ctx.save(fig, "iou_giou", "IoU is flat at 0 once boxes stop overlapping; GIoU keeps decreasing "
                              "with the distance, so 1 - GIoU still has a gradient")

    # 2. the localizer cvkit ships (trained once by its zoo recipe: no training, no download),
    # scored on held-out images (seed 12345 + ctx.seed: the card's own when ctx.seed is 0)
    model = pretrained(ZOO_NAME)
    card = zoo_card(ZOO_NAME)
    test = zoo_data(ZOO_NAME, 100 if ctx.quick else 500, seed=12345 + ctx.seed)
    probs, pred = model.predict(test.images, verbose=0, batch_size=100)
    scores = localization_scores(test.labels, test.boxes, probs, pred)
    n = len(test)
    numbers = (f"accuracy {scores['accuracy']:.1%}, mean IoU {scores['mean_iou']:.3f}, correct "
               f"localization (class right and IoU >= 0.5) {scores['correct_localization']:.1%}")

    k = 16
    fig = plot_localization(test.images[:k], test.boxes[:k], pred[:k], test.labels[:k],
                            probs[:k].argmax(1), test.class_names, ncols=8)
    ctx.save(fig, "predictions", f"the zoo localizer (MobileNetV2 alpha 0.35 started from the zoo "
                                 f"classifier, then trained with both heads for "
                                 f"{card['train_seconds'] / 60:.0f} min on {card['trained_on']}): "
                                 f"predictions (red dashed) against "
                                 f"the truth (green) on held-out images; on {n} of them: {numbers}")

    fig, ax = plt.subplots(figsize=(5, 3))
    plot_iou_histogram(scores["iou"], ax=ax)
    ctx.save(fig, "iou_histogram", f"IoU of the zoo localizer's boxes on {n} held-out images "
                                   f"(mean {scores['mean_iou']:.3f}); right of the dashed line "
                                   "counts as a correct localization when the class is right")

    worst = np.argsort(scores["iou"])[:8]
    fig = plot_localization(test.images[worst], test.boxes[worst], pred[worst],
                            test.labels[worst], probs[worst].argmax(1), test.class_names, ncols=8)
    missed = int(np.sum(scores["iou"] < 0.5))
    below = (f"{missed} of the {n} have an IoU below 0.5" if missed else
             f"none of the {n} has an IoU below 0.5")
    ctx.save(fig, "hardest", f"the 8 held-out images (of {n}) where the zoo localizer's box "
                             f"overlaps the truth least (red title: wrong class or IoU below "
                             f"0.5): {below}; the worst boxes still sit on the object, shifted "
                             "or mis-sized")
