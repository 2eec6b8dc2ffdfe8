"""Tour section: class activation maps: CAM, the Grad-CAM family, RISE, and the map -> box recipe."""
from __future__ import annotations

import time

import numpy as np

SIZE = 48
DATA = dict(image_size=SIZE, scale=(0.3, 0.6), distractors=(0, 0), classes=("circle", "triangle"))


def _small_gap_classifier(seed):
    """Four conv blocks -> GAP -> Dense: the CAM architecture, small enough to train in seconds."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = inputs
    for i, filters in enumerate([16, 32, 64, 96]):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        if i < 3:
            x = keras.layers.MaxPooling2D()(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(2, activation="softmax", name="fc")(pooled)
    model = keras.Model(inputs, out)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run(ctx):
    import matplotlib.pyplot as plt

    from cvkit import explain
    from cvkit.datasets import shapes
    from cvkit.visualize import overlays

    n_train, epochs = (256, 4) if ctx.quick else (800, 15)
    train, test = shapes(n_train, seed=ctx.seed, **DATA), shapes(48, seed=ctx.seed + 1, **DATA)
    model = _small_gap_classifier(ctx.seed)
    for _ in ctx.progress(range(1), desc="training a small GAP classifier"):
        model.fit(train.images, train.labels, epochs=epochs, batch_size=32, verbose=0)
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
    ctx.save(fig, "family", f"CAM, the Grad-CAM family, Score-CAM and RISE on a GAP classifier "
                            f"trained on shapes (test accuracy {acc:.2f}); time per image on this machine")

    # map -> threshold -> largest component -> box, over the test split
    cams = explain.cam(model, test.images, class_index=test.labels)
    n, h, w = cams.shape
    peak = cams.reshape(n, -1).argmax(1)
    x0, y0, x1, y1 = (test.boxes * [w, h, w, h]).T
    inside = ((peak % w >= x0) & (peak % w < x1) & (peak // w >= y0) & (peak // w < y1)).mean()
    fig = overlays.plot_cam_box(test.images[0], cams[0], threshold=0.3, gt_box=test.boxes[0])
    ctx.save(fig, "box", f"CAM -> pixels above 0.3 max -> largest connected component -> box "
                         f"(yellow) vs ground truth (green); CAM maximum inside the box for "
                         f"{inside:.0%} of {n} test images")

    # the up-sampling formula, checked against TensorFlow
    import tensorflow as tf

    low = explain.grad_cam(model, test.images[:1], upsample=False)[0]
    ours = explain.bilinear_upsample(low, SIZE)
    ref = tf.compat.v1.image.resize(low[None, ..., None], (SIZE, SIZE),
                                    align_corners=True).numpy()[0, ..., 0]
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
    axes[0].imshow(test.images[0])
    axes[1].imshow(low, cmap="jet")
    axes[2].imshow(explain.upsample_maps(low, SIZE, "nearest"), cmap="jet")
    axes[3].imshow(ours, cmap="jet")
    for ax, title in zip(axes, ["image", f"{low.shape[0]}x{low.shape[1]} Grad-CAM", "nearest",
                                "bilinear (course formula)"]):
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    ctx.save(fig, "upsample", "bilinear up-sampling written out as in the course; max difference from "
                              f"tf.image.resize(align_corners=True): {np.abs(ours - ref).max():.1e}")
