"""Tour section: looking inside a CNN (filters, feature maps, receptive fields, maximally activating
patches, class-model images checked by a second network, vanishing and exploding gradients, batch
norm), on the converged small CNN of the model zoo."""
from __future__ import annotations

import time

import numpy as np

#: the regularised class-model recipe of notebook 08 (octaves, transformation robustness, blur, TV)
CLASS_MODEL_RECIPE = dict(steps=60, octaves=2, octave_scale=1.5, jitter=6, scale=(0.8, 1.2),
                          rotate=15, blur_every=4, blur_sigma=1.0, tv=10.0)


def small_cnn(size=64, n_classes=4, seed=0):
    """:func:`cvkit.models.small_cnn` at ``size`` px, seeded and untrained (kept for
    ``benchmarks/bench_features.py``; the tour itself uses the zoo's trained one).

    Parameters
    ----------
    size : int
        Side of the square input images.
    n_classes : int
    seed : int
        Seed of the initial weights (through ``keras.utils.set_random_seed``).

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> model = small_cnn(size=32)
    >>> model.input_shape, model.output_shape
    ((None, 32, 32, 3), (None, 4))
    >>> [layer.name for layer in model.layers if layer.name.startswith("relu")]
    ['relu1', 'relu2', 'relu3', 'relu4']
    >>> bool(np.array_equal(model.get_weights()[0], small_cnn(size=32).get_weights()[0]))
    True
    """
    import keras

    from ..models import small_cnn as build

    keras.utils.set_random_seed(seed)
    return build(n_classes, input_shape=(size, size, 3))


def _class_models(ctx, model, judge, names):
    """Class-model images of ``model`` (plain and regularised) and the verdicts of ``judge``."""
    import matplotlib.pyplot as plt
    import tensorflow as tf

    from ..inside import gradient_ascent

    recipe = dict(CLASS_MODEL_RECIPE, steps=20 if ctx.quick else CLASS_MODEL_RECIPE["steps"])
    classes = list(range(len(names)))
    t0 = time.perf_counter()
    rows = [("plain", gradient_ascent(model, classes, steps=2 * recipe["steps"], seed=ctx.seed)),
            ("regularised", gradient_ascent(model, classes, seed=ctx.seed, **recipe))]
    secs = time.perf_counter() - t0
    fig, axes = plt.subplots(2, len(classes), figsize=(2 * len(classes), 4.4), squeeze=False)
    hits = {}
    for r, (label, results) in enumerate(rows):
        imgs = tf.image.resize(np.stack([res.image for res in results]), judge.input.shape[1:3])
        probs = judge(imgs, training=False).numpy()
        hits[label] = int(np.sum(probs.argmax(1) == classes))
        for c, (res, p) in enumerate(zip(results, probs)):
            ax = axes[r, c]
            ax.imshow(res.image)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{names[c]} -> {names[p.argmax()]} {p.max():.2f}", fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=9)
    fig.tight_layout()
    ctx.save(fig, "class_models",
             f"class-model images of the zoo's small CNN ({2 * recipe['steps']} steps of gradient "
             f"ascent per row, {secs:.0f} s), titled with the verdict of a separately trained "
             f"MobileNetV2: {hits['plain']}/4 right for the plain recipe (jitter, L2, TV), "
             f"{hits['regularised']}/4 with octaves, random zoom and rotation, blur and a "
             f"stronger TV (with the full 60 steps per octave, seeds 0-7 give 2-4 of 4; "
             f"MobileNetV2 calls a grey image triangle)"
             + (" [quick: 20 steps per octave]" if ctx.quick else ""))
    return hits


def _gradients(ctx):
    """Per-layer backward signal of deep plain and residual stacks: vanishing and exploding."""
    import matplotlib.pyplot as plt

    from ..inside import backprop as B

    n = 32 if ctx.quick else 64
    vg = B.vanishing_gradients(depth=20, n=n, param="bias", seed=ctx.seed)
    eg = B.exploding_gradients(depth=20, gain=2.0, n=n, seed=ctx.seed)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    for ax, g, title in [(axes[0], vg, "sigmoid"), (axes[1], eg, "ReLU, 2 x He init")]:
        ax.semilogy(np.arange(1, 21), g["plain"], "o-", label="plain")
        ax.semilogy(np.arange(1, 21), g["residual"], "s-", label="with skip connections")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("layer (1 = next to the input)")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("||dL/db||")
    fig.tight_layout()
    ratio = {k: float(g["plain"][0] / g["plain"][-1]) for k, g in (("v", vg), ("e", eg))}
    res_e = float(eg["residual"][0] / eg["residual"][-1])
    ctx.save(fig, "gradients",
             f"backward signal per layer of 20-layer stacks: through sigmoids it vanishes towards "
             f"the input (first/last {ratio['v']:.0e}) unless skips are added; with weights at "
             f"twice the He scale it explodes ({ratio['e']:.0e}), and the residual twin explodes "
             f"faster ({res_e:.0e}): skips cure vanishing, not exploding")


def run(ctx):
    """Draw the section's figures with ``ctx.save`` (see :mod:`cvkit.tour`): filters, feature
    maps, receptive fields, maximally activating patches, class-model images, vanishing and
    exploding gradients, batch-norm noise and folding.

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` uses fewer held-out images and ascent steps.

    Examples
    --------
    >>> from cvkit.tour import SECTIONS
    >>> dict(SECTIONS)["inside"]
    'Looking inside CNNs'
    >>> CLASS_MODEL_RECIPE["steps"], CLASS_MODEL_RECIPE["octaves"]
    (60, 2)

    Run on its own into a temporary folder (skipped here: it loads two zoo models, the small
    CNN and the MobileNetV2 that judges the class-model images, and runs gradient ascent, some
    fifteen seconds on two CPU cores in quick mode):

    >>> import tempfile
    >>> from pathlib import Path
    >>> from cvkit.tour import TourContext
    >>> with tempfile.TemporaryDirectory() as tmp:   # doctest: +SKIP
    ...     ctx = TourContext(Path(tmp), quick=True, section="inside")
    ...     run(ctx)
    ...     for _, name, _ in ctx.figures:
    ...         print(name)
    inside_filters.png
    inside_feature_maps.png
    inside_receptive_fields.png
    inside_patches.png
    inside_class_models.png
    inside_gradients.png
    inside_bn_noise.png
    """
    import matplotlib.pyplot as plt

    from .. import inside as F
    from .. import visualize as V
    from ..models import pretrained, zoo_data

    model = pretrained("shapes_small_cnn")
    held = zoo_data("shapes_small_cnn", 128 if ctx.quick else 500)
    acc = float(np.mean(model.predict(held.images, verbose=0).argmax(1) == held.labels))
    names = held.class_names

    fig = V.plot_filters(F.conv_filters(model), max_filters=16)
    ctx.save(fig, "filters", f"first-layer 5x5 filters of the zoo's small CNN (held-out accuracy "
                             f"{acc:.1%} on {len(held.images)} images), min-max per filter: "
                             "colour-contrast detectors")

    img = held.images[3]
    maps = F.feature_maps(model, img, ["relu1", "relu2", "relu3", "relu4"])
    fig = V.plot_feature_maps(maps, max_channels=8, image=img)
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

    res = F.max_activating_patches(model, held.images[:256], "relu3", channels=range(6), k=8)
    fig = V.plot_patches(res)
    ctx.save(fig, "patches", f"maximally activating patches of 6 channels of relu3 over "
                             f"{res.n_images} held-out images (one row per channel): edges of one "
                             "orientation and colour polarity, tips, arcs")

    _class_models(ctx, model, pretrained("shapes_cam_mobilenetv2"), names)
    _gradients(ctx)

    feats = F.feature_maps(model, held.images[:64], "conv2")["conv2"].reshape(-1, 32)
    sizes = (2, 4, 8, 16, 32, 64, 128)
    noise = F.small_batch_noise(feats[::7], sizes, n_draws=100, seed=ctx.seed)
    folded, k = F.fold_batchnorm_model(model)
    diff = float(np.abs(folded(held.images[:32]).numpy()
                        - model(held.images[:32], training=False).numpy()).max())
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.loglog(sizes, noise, "o-")
    ax.set_xlabel("batch size m")
    ax.set_ylabel("std of a normalised activation")
    ctx.save(fig, "bn_noise", f"batch norm in training mode: one example's normalised value "
                              f"varies with its batch mates, less so in larger batches (std "
                              f"{noise[0]:.2f} at m=2, {noise[-1]:.2f} at m=128); folding the {k} "
                              f"BN layers into their convolutions changes outputs by {diff:.1e}")
