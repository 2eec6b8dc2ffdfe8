"""Tour section: looking inside a CNN (filters, feature maps, receptive fields, maximally activating
patches, class-model images, vanishing gradients, batch norm)."""
from __future__ import annotations

import time

import numpy as np


def small_cnn(size=64, n_classes=4, seed=0):
    """:func:`cvkit.models.small_cnn` at ``size`` px, seeded."""
    import keras

    from ..models import small_cnn as build

    keras.utils.set_random_seed(seed)
    return build(n_classes, input_shape=(size, size, 3))


def run(ctx):
    import keras
    import matplotlib.pyplot as plt

    from ..datasets import shapes
    from ..models import backprop as B
    from ..models import batchnorm as BN
    from ..visualize import features as F

    size = 64
    n = 128 if ctx.quick else 480
    epochs = 2 if ctx.quick else 4
    easy = dict(scale=(0.4, 0.8), distractors=(0, 1), min_contrast=0.5)
    data = shapes(n, image_size=size, seed=ctx.seed, **easy)
    held = shapes(64 if ctx.quick else 256, image_size=size, seed=ctx.seed + 500, **easy)
    model = small_cnn(size, len(data.class_names), ctx.seed)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(data.images, data.labels, epochs=epochs, batch_size=32, verbose=0)
    train_s = time.perf_counter() - t0
    acc = float(np.mean(model.predict(held.images, verbose=0).argmax(1) == held.labels))

    fig = F.plot_filters(F.conv_filters(model), max_filters=16)
    ctx.save(fig, "filters", f"first-layer 5x5 filters of a small CNN trained {train_s:.0f} s on "
                             f"{n} shapes (held-out accuracy {acc:.0%}), min-max per filter")

    img = held.images[0]
    maps = F.feature_maps(model, img, ["relu1", "relu2", "relu3", "relu4"])
    fig = F.plot_feature_maps(maps, max_channels=8, image=img)
    ctx.save(fig, "feature_maps", "feature maps by depth: resolution halves at each block while "
                                  "the receptive field grows")

    fields = [F.receptive_field(model, f"relu{i}") for i in range(1, 5)]
    fig, ax = plt.subplots(figsize=(3.5, 3.5))
    ax.imshow(img)
    for rf, color in zip(fields, ("w", "y", "orange", "r")):
        h, w = rf.output_size
        y0, x0, y1, x1 = rf.box(h // 2, w // 2, clip=True)
        ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False,
                                   color=color, lw=1.5, label=f"{rf.layer}: {rf.size} px"))
    ax.legend(fontsize=7, loc="lower right")
    ax.axis("off")
    ctx.save(fig, "receptive_fields", "receptive field of the centre unit of each block, "
                                      "computed from kernel sizes, strides and paddings")

    res = F.max_activating_patches(model, held.images, "relu3", channels=range(6), k=8)
    fig = F.plot_patches(res)
    ctx.save(fig, "patches", f"maximally activating patches of 6 channels of relu3 over "
                             f"{res.n_images} images (one row per channel)")

    steps = 20 if ctx.quick else 80
    classes = range(2 if ctx.quick else len(data.class_names))
    asc = [F.gradient_ascent(model, c, steps=steps, seed=ctx.seed) for c in classes]
    fig = F.plot_ascent(asc, titles=[data.class_names[c] for c in classes])
    ctx.save(fig, "class_models", f"class-model images: {steps} steps of gradient ascent on the "
                                  "pre-softmax score with L2 and TV penalties and jitter")

    vg = B.vanishing_gradients(depth=20, n=32)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.semilogy(np.arange(1, 21), vg["plain"], "o-", label="plain sigmoid stack")
    ax.semilogy(np.arange(1, 21), vg["residual"], "s-", label="with skip connections")
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("||dL/dW||")
    ax.legend(fontsize=8)
    ctx.save(fig, "vanishing_gradients", "gradient norm per layer of a 20-layer sigmoid stack: "
                                         "it vanishes towards the input unless skips are added")

    feats = F.feature_maps(model, held.images[:64], "conv2")["conv2"].reshape(-1, 32)
    sizes = (2, 4, 8, 16, 32, 64, 128)
    noise = BN.small_batch_noise(feats[::7], sizes, n_draws=100, seed=ctx.seed)
    folded, k = BN.fold_batchnorm_model(model)
    diff = float(np.abs(folded(held.images[:32]).numpy()
                        - model(held.images[:32], training=False).numpy()).max())
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.loglog(sizes, noise, "o-")
    ax.set_xlabel("batch size m")
    ax.set_ylabel("std of a normalised activation")
    ctx.save(fig, "bn_noise", f"batch norm in training mode: one example's normalised value "
                              f"varies with its batch mates, less so in larger batches; folding "
                              f"the {k} BN layers into their convolutions changes outputs by "
                              f"{diff:.1e}")
