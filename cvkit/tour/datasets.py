"""Tour section: the synthetic dataset, augmentation that moves boxes with pixels, normalisation."""
from __future__ import annotations

import numpy as np


def _draw_box(ax, box, size, colour="r"):
    import matplotlib.pyplot as plt

    x0, y0, x1, y1 = np.asarray(box) * size
    ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=colour, lw=1.5))


def run(ctx):
    import matplotlib.pyplot as plt

    from cvkit.datasets import localization_pipeline, shapes
    from cvkit.preprocessing import PCA, ChannelStandardizer

    size = 96
    n = 64 if ctx.quick else 256
    ds = shapes(n, image_size=size, seed=ctx.seed)

    fig, axes = plt.subplots(2, 6, figsize=(12, 4.4))
    for ax, img, box, lab, mask in zip(axes.flat, ds.images, ds.boxes, ds.labels, ds.masks):
        ax.imshow(img)
        ax.contour(mask, levels=[0.5], colors="w", linewidths=0.7)
        _draw_box(ax, box, size)
        ax.set_title(ds.class_names[lab], fontsize=9)
        ax.axis("off")
    ctx.save(fig, "shapes", "shapes: one object per image on clutter; red = box, white = mask "
                            "outline (each box is its mask's tight box)")

    x, y = next(iter(localization_pipeline(ds, batch_size=6, augment=True, seed=ctx.seed,
                                           shuffle=False)))
    fig, axes = plt.subplots(2, 6, figsize=(12, 4.4))
    for j in range(6):
        axes[0, j].imshow(ds.images[j])
        _draw_box(axes[0, j], ds.boxes[j], size)
        axes[1, j].imshow(x[j].numpy())
        _draw_box(axes[1, j], y["localizer"][j].numpy(), size, "y")
        axes[0, j].axis("off")
        axes[1, j].axis("off")
    axes[0, 0].set_title("original", fontsize=9, loc="left")
    axes[1, 0].set_title("augmented (flip + crop)", fontsize=9, loc="left")
    ctx.save(fig, "augmentation", "tf.data augmentation: flips and object-preserving crops "
                                  "transform the box with the pixels")

    train, test = ds.split(0.75)
    norm = ChannelStandardizer().fit(train.images)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for c, colour in enumerate("rgb"):
        axes[0].hist(train.images[..., c].ravel(), bins=50, histtype="step", color=colour)
        axes[1].hist(norm.transform(test.images)[..., c].ravel(), bins=50, histtype="step",
                     color=colour)
    axes[0].set_title("training pixels per channel")
    axes[1].set_title("test pixels after ResNet normalisation\n(statistics of train only)")
    rng = np.random.default_rng(ctx.seed)
    pts = rng.normal(size=(600, 2)) @ np.array([[2.0, 0.0], [1.2, 0.5]])
    for p, lab in ((pts, "original"), (PCA(whiten=True).fit(pts).transform(pts), "whitened")):
        axes[2].scatter(p[:, 0], p[:, 1], s=2, label=lab)
    axes[2].set_aspect("equal")
    axes[2].legend(fontsize=8)
    axes[2].set_title("PCA whitening: covariance -> identity")
    ctx.save(fig, "normalisation", "normalisation fitted on the training split; PCA whitening")
