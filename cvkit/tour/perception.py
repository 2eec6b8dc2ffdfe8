"""Tour section: Perception Visualization, what the network perceived where it looked.

The zoo's latent decoder (``shapes_perception_mobilenetv2``: it inverts the 4 x 4 x 1280 last
convolutional map of the frozen stride-32 MobileNetV2 classifier) reconstructs held-out images;
PV shows that reconstruction through the Grad-CAM map of the predicted class, on images the
classifier gets right and on its mistakes. A second figure inverts the same classifier at strides
8, 16 and 32. ``notebooks/11_perception_visualization.ipynb`` tells the whole story.
"""
from __future__ import annotations

import numpy as np

ZOO_NAME = "shapes_perception_mobilenetv2"


def _pick(data, predicted, n_right=3, n_wrong=3):
    """Indices of the first images the classifier gets right and of its first mistakes."""
    right = np.flatnonzero(predicted == data.labels)[:n_right]
    wrong = np.flatnonzero(predicted != data.labels)[:n_wrong]
    return np.concatenate([right, wrong])


def _titles(data, res, idx):
    names = data.class_names
    out = []
    for i, k in enumerate(idx):
        mark = "" if res.predicted[i] == data.labels[k] else "  WRONG"
        seen = res.predicted_reconstruction[i]
        out.append(f"true {names[data.labels[k]]}\npred {names[res.predicted[i]]}{mark}\n"
                   f"rec. seen as {names[seen]}")
    return out


def _depth_figure(data, n=4):
    """The reconstructions of the same images from strides 8, 16 and 32, PSNR in the titles."""
    import matplotlib.pyplot as plt

    from ..explain.perception import psnr, reconstruct
    from ..explain.perception.zoo import STRIDE_LAYERS, layer_decoder

    rows = []
    for stride, layer in sorted(STRIDE_LAYERS.items()):
        try:
            rows.append((stride, layer, reconstruct(layer_decoder(layer), data.images[:n])[0]))
        except FileNotFoundError:
            continue
    fig, axes = plt.subplots(len(rows) + 1, n, figsize=(2.2 * n, 2.3 * (len(rows) + 1)),
                             squeeze=False)
    for col in range(n):
        axes[0, col].imshow(data.images[col])
        for row, (stride, layer, x_hat) in enumerate(rows, start=1):
            axes[row, col].imshow(x_hat[col])
            axes[row, col].set_title(f"{psnr(data.images[col], x_hat[col]):.1f} dB", fontsize=8)
    axes[0, 0].set_ylabel("original")
    for row, (stride, layer, _) in enumerate(rows, start=1):
        axes[row, 0].set_ylabel(f"stride {stride}\n{layer}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig, [r[0] for r in rows]


def run(ctx):
    """Draw the section's figures with ``ctx.save`` (see :mod:`cvkit.tour`).

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` scores fewer held-out images.

    Examples
    --------
    >>> ZOO_NAME
    'shapes_perception_mobilenetv2'

    Run on its own, into ``gallery/`` (skipped here: it loads the zoo's decoder and scores 64
    held-out images, about half a minute on two CPU cores):

    >>> from cvkit.tour import run_tour
    >>> run_tour("gallery", quick=True, only=["perception"])   # doctest: +SKIP
    """
    from ..explain.perception import perception_visualization, reconstruction_scores
    from ..models import pretrained, zoo_data
    from ..visualize import plot_perception

    model = pretrained(ZOO_NAME)
    data = zoo_data(ZOO_NAME, 64 if ctx.quick else 200, seed=34567 + ctx.seed)
    scores = reconstruction_scores(model, data.images, data.labels)
    predicted = model.predict(data.images, verbose=0)[2].argmax(1)
    idx = _pick(data, predicted)
    res = perception_visualization(model, data.images[idx], classify_reconstruction=True)
    fig = plot_perception(res, row_titles=_titles(data, res, idx))
    n_wrong = int(np.sum(predicted != data.labels))
    ctx.save(fig, "pv", f"Grad-CAM, the reconstruction of the 4 x 4 x 1280 latent map and PV on "
                        f"held-out shapes the classifier gets right (top rows) and wrong (bottom "
                        f"rows; {n_wrong} mistakes in {len(data.images)} images); the "
                        f"reconstruction keeps the class in {scores['class_consistency']:.0%} of "
                        f"the images (PSNR {scores['psnr']:.1f} dB)")
    fig, strides = _depth_figure(data)
    ctx.save(fig, "depth", "The same classifier inverted at strides "
                           f"{', '.join(map(str, strides))}: the deeper the layer, the less of the "
                           "image survives (PSNR per image in dB)")
