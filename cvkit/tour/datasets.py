"""Tour section: the synthetic dataset, augmentation that moves boxes with pixels, normalisation
(and what it does to training), and a leak that fakes a held-out score."""
from __future__ import annotations

import numpy as np


def _draw_box(ax, box, size, colour="r"):
    import matplotlib.pyplot as plt

    x0, y0, x1, y1 = np.asarray(box) * size
    ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=colour, lw=1.5))


def run(ctx):
    """Draw the section's figures with ``ctx.save`` (see :mod:`cvkit.tour`).

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` uses less data and fewer iterations.

    Examples
    --------
    Run on its own, into ``gallery/`` (skipped here: it builds the tf.data pipeline and
    trains the same small MLP twice, on raw and on standardised pixels, several seconds on two
    CPU cores):

    >>> from cvkit.tour import run_tour
    >>> run_tour("gallery", quick=True, only=["datasets"])   # doctest: +SKIP
    """
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

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    _convergence(axes[0], epochs=12 if ctx.quick else 40, seed=ctx.seed)
    _leak(axes[1], draws=5 if ctx.quick else 20, seed=ctx.seed)
    ctx.save(fig, "why_normalise_and_leak", "left: the same MLP, seed and learning rate train "
             "far faster on standardised pixels; right: choosing pixels by their correlation with "
             "the labels before cross-validating fakes accuracy on pure noise")


def _convergence(ax, epochs, seed, lr=0.03):
    """Training loss of one MLP (same initial weights and batches) on raw vs standardised pixels."""
    import keras
    import tensorflow as tf

    from cvkit.datasets import shapes
    from cvkit.preprocessing import Standardizer

    ds = shapes(512, image_size=16, seed=seed, preset="easy")
    raw = ds.images.reshape(len(ds.images), -1)
    for name, x in (("raw pixels", raw), ("standardised", Standardizer().fit_transform(raw))):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((x.shape[1],)),
                                  keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(4, activation="softmax")])
        model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy",
                      steps_per_execution=16)
        data = (tf.data.Dataset.from_tensor_slices((x.astype("float32"), ds.labels))
                .shuffle(len(x), seed=seed).batch(32))
        loss = model.fit(data, epochs=epochs, verbose=0, shuffle=False).history["loss"]
        ax.plot(np.arange(1, epochs + 1), loss, label=name)
    ax.set(xlabel="epoch", ylabel="training loss", yscale="log",
           title=f"same MLP, seed and SGD rate ({lr:g})")
    ax.legend(fontsize=8)


def _leak(ax, draws, seed, n=50, k=20):
    """Accuracy on coin-flip labels of noise images: pixels chosen on all data vs in the folds."""
    from cvkit.preprocessing import CorrelationSelector

    def nearest_mean(xa, ya, xb):
        means = np.stack([xa[ya == c].mean(0) for c in (0, 1)])
        return ((xb[:, None] - means[None]) ** 2).sum(-1).argmin(1)

    acc = {"leaky CV": [], "honest CV": []}
    for draw in range(draws):
        rng = np.random.default_rng(seed + draw)
        x, y = rng.random((n, 32, 32, 3), dtype=np.float32), rng.permutation(np.arange(n) % 2)
        everything = CorrelationSelector(k).fit(x, y)
        for name in acc:
            hits = []
            for test in np.array_split(np.arange(n), 5):
                train = np.setdiff1d(np.arange(n), test)
                sel = everything if name == "leaky CV" else CorrelationSelector(k).fit(x[train],
                                                                                       y[train])
                pred = nearest_mean(sel.transform(x[train]), y[train], sel.transform(x[test]))
                hits.append(np.mean(pred == y[test]))
            acc[name].append(np.mean(hits))
    ax.bar(list(acc), [np.mean(v) for v in acc.values()], color=["tab:red", "tab:green"])
    ax.axhline(0.5, color="k", ls=":", lw=1, label="chance")
    ax.set(ylim=(0, 1), ylabel="accuracy", title=f"noise images, random labels ({draws} draws)")
    ax.legend(fontsize=8)
