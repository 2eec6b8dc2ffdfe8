"""Tour section: box formats and IoU / GIoU, a two-headed localizer trained on shapes, its
predictions against the truth and the IoU histogram."""
from __future__ import annotations

import numpy as np


def run(ctx):
    import keras
    import matplotlib.pyplot as plt

    from cvkit import boxes as B
    from cvkit.datasets import shapes
    from cvkit.models import localization_scores, localizer
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

    # 2. train the two-headed model (a small ResNet from scratch) on shapes
    size = 64
    n_train = 320 if ctx.quick else 900
    epochs = 3 if ctx.quick else 6
    data = shapes(n_train, image_size=size, seed=ctx.seed)
    test = shapes(64 if ctx.quick else 200, image_size=size, seed=ctx.seed + 1000)
    keras.utils.set_random_seed(ctx.seed)
    model = localizer(len(data.class_names), backbone="miniresnet", input_shape=(size, size, 3),
                      box_features="spatial")
    model.compile(keras.optimizers.Adam(3e-3), box_loss="l2", box_weight=10.0)
    history = model.fit(data.images, {"classifier": data.labels, "localizer": data.boxes},
                        epochs=epochs, batch_size=32, verbose=0,
                        validation_data=(test.images, (test.labels, test.boxes)))
    probs, pred = model.predict(test.images, verbose=0, batch_size=64)
    scores = localization_scores(test.labels, test.boxes, probs, pred)

    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    h = history.history
    for ax, key, title in zip(axes, ("cls_loss", "box_loss", "mean_iou"),
                              ("classification loss", "box loss (L2)", "mean IoU")):
        ax.plot(h[key], label="train")
        ax.plot(h[f"val_{key}"], label="held out")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8)
    ctx.save(fig, "training", f"a small ResNet (cvkit residual blocks, from scratch) with two "
                              f"heads trained on {n_train} shapes at {size} px for {epochs} epochs")

    k = 16
    fig = plot_localization(test.images[:k], test.boxes[:k], pred[:k], test.labels[:k],
                            probs[:k].argmax(1), test.class_names, ncols=8)
    ctx.save(fig, "predictions", f"held-out predictions (red dashed) against the truth (green); "
                                 f"accuracy {scores['accuracy']:.0%}, mean IoU "
                                 f"{scores['mean_iou']:.2f}, correct localization "
                                 f"{scores['correct_localization']:.0%}")

    fig, ax = plt.subplots(figsize=(5, 3))
    plot_iou_histogram(scores["iou"], ax=ax)
    ctx.save(fig, "iou_histogram", "IoU of the held-out predictions; right of the dashed line "
                                   "counts as a correct localization when the class is right")
