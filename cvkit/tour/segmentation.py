"""Tour section: classic segmentation and the Mask R-CNN building blocks (notebooks 06 and 07)."""
from __future__ import annotations

import numpy as np


def _thresholds(ctx, camera):
    """Otsu and multi-Otsu on the camera man."""
    import matplotlib.pyplot as plt

    from .. import segmentation as seg
    from .. import visualize

    t = seg.otsu_threshold(camera)
    t3 = seg.multi_otsu_thresholds(camera, 3)
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.2))
    visualize.plot_threshold_histogram(camera, np.concatenate([[t], t3]), ax=ax[0],
                                       title=f"Otsu {t}, multi-Otsu {t3.tolist()}")
    ax[1].imshow(camera > t, cmap="gray")
    ax[1].set_title("camera > Otsu")
    ax[2].imshow(seg.apply_thresholds(camera, t3), cmap="viridis")
    ax[2].set_title("3 classes")
    for a in ax[1:]:
        a.set_axis_off()
    ctx.save(fig, "thresholds", "Otsu's and multi-level Otsu thresholds (equal to scikit-image's).")


def _edges(ctx, camera):
    """Sobel, Laplacian and LoG zero-crossings on a noisy image."""
    import matplotlib.pyplot as plt

    from .. import segmentation as seg

    step = 4 if ctx.quick else 2
    cam = camera[::step, ::step] / 255.0
    noisy = np.clip(cam + np.random.default_rng(ctx.seed).normal(0, 0.08, cam.shape), 0, 1)
    fig, ax = plt.subplots(1, 4, figsize=(13, 3.4))
    panels = [(noisy, "noisy image"), (seg.sobel(noisy), "Sobel magnitude"),
              (np.abs(seg.laplacian(noisy, 8)), "|Laplacian| (8-neighbour kernel)"),
              (seg.zero_crossings(seg.laplacian_of_gaussian(noisy, 2.0), 0.02),
               "LoG zero-crossings (sigma 2)")]
    for a, (im, title) in zip(ax, panels):
        a.imshow(im, cmap="gray")
        a.set_title(title, fontsize=9)
        a.set_axis_off()
    ctx.save(fig, "edges", "Edges of a noisy image: the Laplacian needs Gaussian smoothing first.")


def _kmeans_regions(ctx):
    """k-means colour segmentation of the astronaut and connected components of coins."""
    import matplotlib.pyplot as plt
    from skimage import data

    from .. import segmentation as seg
    from .. import visualize

    astro = data.astronaut()[::(8 if ctx.quick else 4), ::(8 if ctx.quick else 4)]
    coins = data.coins()
    fig, ax = plt.subplots(1, 4, figsize=(13, 3.4))
    ax[0].imshow(astro)
    for a, k in zip(ax[1:3], (3, 6)):
        res = seg.kmeans_segment(astro, k, seed=ctx.seed)
        a.imshow(res.recolored)
        a.set_title(f"k-means, k = {k}")
    labels, n = seg.connected_components(coins > seg.otsu_threshold(coins))
    props = seg.region_properties(labels)
    keep = props["label"][props["area"] > 200]
    visualize.overlay_labels(coins, np.where(np.isin(labels, keep), labels, 0), ax=ax[3],
                             title=f"{keep.size} coin regions")
    for a in ax:
        a.set_axis_off()
    ctx.save(fig, "kmeans_regions", "k-means colour clusters and connected components of coins.")


def _anchors(ctx):
    """Anchors and their RPN labels on a shapes image."""
    import matplotlib.pyplot as plt

    from .. import detection, visualize
    from ..datasets import shapes

    ds = shapes(2, image_size=128, seed=ctx.seed)
    box = ds.boxes[0] * 128
    A = detection.anchors((8, 8), 16, scales=(16, 32, 64))
    labels, _, _, _ = detection.label_anchors(A, box[None], image_size=(128, 128))
    fig, ax = plt.subplots(1, 2, figsize=(10, 4.5))
    visualize.draw_anchors(ds.images[0], A.reshape(8, 8, 9, 4)[4, 4], ax=ax[0],
                           title="9 anchors at one position")
    visualize.draw_anchors(ds.images[0], A, labels, ax=ax[1],
                           title=f"{(labels == 1).sum()} positive, {(labels == 0).sum()} negative")
    ctx.save(fig, "anchors", "RPN anchors (3 scales x 3 ratios) and their IoU-based labels.")


def _roi_align(ctx):
    """ROI pooling against ROI Align as a box slides over a ramp."""
    import matplotlib.pyplot as plt

    from .. import detection, visualize

    f16 = np.random.default_rng(ctx.seed).random((16, 16))
    ramp = np.tile(np.arange(16, dtype=np.float32) + 0.5, (16, 1))
    xs = np.arange(100, 200, 8 if ctx.quick else 4)
    pool = [detection.roi_pool(ramp, [x, 0, x + 145, 200], (1, 2), 1 / 32)[0, 0, 0] for x in xs]
    align = [detection.roi_align(ramp, [x, 0, x + 145, 200], (1, 2), 1 / 32)[0, 0, 0] for x in xs]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4.2))
    visualize.plot_roi_grid(f16, [0, 0, 145, 200], (2, 2), 1 / 32, 2, ax=ax[0],
                            title="145x200 box at stride 32: 4.53x6.25 cells")
    ax[1].plot(xs, pool, "o-", label="ROI pooling")
    ax[1].plot(xs, align, "s-", label="ROI Align")
    ax[1].set_xlabel("box x_min (pixels)")
    ax[1].legend()
    ax[1].set_title("pooled value as the box slides")
    ctx.save(fig, "roi_align", "ROI pooling rounds the box to whole cells; ROI Align does not.")


def _mask_targets(ctx):
    """The course's transposed convolution and Mask R-CNN mask targets via ROI Align."""
    import matplotlib.pyplot as plt

    from .. import detection
    from ..datasets import shapes
    from ..models.fcn import transposed_conv2d

    out = transposed_conv2d([[0, 1], [2, 3]], [[0, 1], [2, 3]])
    n_show = 3 if ctx.quick else 5
    ds = shapes(n_show, image_size=96, seed=ctx.seed)
    boxes = ds.boxes * 96
    targets = detection.mask_targets(ds.masks, boxes, size=28)
    fig, ax = plt.subplots(2, n_show + 1, figsize=(2.2 * (n_show + 1), 4.6))
    ax[0, 0].imshow(out, cmap="viridis")
    for (i, j), v in np.ndenumerate(out):
        ax[0, 0].text(j, i, f"{v:g}", ha="center", va="center", color="w")
    ax[0, 0].set_title("2x2 * 2x2 -> 3x3", fontsize=9)
    ax[1, 0].set_visible(False)
    for j in range(n_show):
        ax[0, j + 1].imshow(ds.images[j])
        x0, y0, x1, y1 = boxes[j]
        ax[0, j + 1].add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False,
                                             edgecolor="w"))
        ax[1, j + 1].imshow(targets[j], cmap="gray")
    ax[1, 1].set_title("28x28 mask targets", fontsize=9, loc="left")
    for a in ax.ravel():
        a.set_axis_off()
    ctx.save(fig, "mask_targets", "Transposed convolution of the course's example; Mask R-CNN "
             "mask targets cut from the masks by ROI Align.")


def run(ctx):
    """The section's six figures: thresholds, edges, k-means and regions (notebook 06); anchors,
    ROI pooling against ROI Align, mask targets (notebook 07).

    Everything runs on scikit-image's bundled photos and :func:`cvkit.datasets.shapes`; no model
    is loaded.

    Parameters
    ----------
    ctx : cvkit.tour.TourContext
        Where to write; ``ctx.quick`` uses smaller images and fewer box positions.

    Examples
    --------
    >>> from cvkit.tour import SECTIONS
    >>> dict(SECTIONS)["segmentation"]
    'Classic segmentation and Mask R-CNN building blocks'

    Run on its own into a temporary folder (skipped here: k-means on the astronaut and the six
    figures take about five seconds on two CPU cores):

    >>> import tempfile
    >>> from pathlib import Path
    >>> from cvkit.tour import TourContext
    >>> with tempfile.TemporaryDirectory() as tmp:   # doctest: +SKIP
    ...     ctx = TourContext(Path(tmp), quick=True, section="segmentation")
    ...     run(ctx)
    ...     for _, name, _ in ctx.figures:
    ...         print(name)
    segmentation_thresholds.png
    segmentation_edges.png
    segmentation_kmeans_regions.png
    segmentation_anchors.png
    segmentation_roi_align.png
    segmentation_mask_targets.png
    """
    from skimage import data

    camera = data.camera()
    steps = [lambda: _thresholds(ctx, camera), lambda: _edges(ctx, camera),
             lambda: _kmeans_regions(ctx), lambda: _anchors(ctx), lambda: _roi_align(ctx),
             lambda: _mask_targets(ctx)]
    for step in ctx.progress(steps, desc="segmentation", total=len(steps)):
        step()
