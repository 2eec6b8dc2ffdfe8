"""Drawing helpers for segmentation: label overlays, threshold histograms, anchors, ROI grids.

Each function draws on ``ax`` (a new figure when None) and returns the figure. matplotlib is imported
inside the functions. Used by ``notebooks/06_classic_segmentation.ipynb``,
``notebooks/07_mask_rcnn_building_blocks.ipynb`` and the tour.
"""
from __future__ import annotations

import numpy as np

__all__ = ["overlay_labels", "plot_threshold_histogram", "draw_anchors", "plot_roi_grid"]


def _axes(ax, figsize=(4, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def overlay_labels(image, labels, alpha=0.45, ax=None, title=None):
    """Show a label image coloured over ``image`` (label 0 left uncoloured)."""
    from skimage.color import label2rgb

    lab = np.asarray(labels)
    if lab.ndim != 2:
        raise ValueError(f"`labels` must be (H, W); got shape {lab.shape}.")
    img = np.asarray(image, dtype=np.float64)
    if img.dtype != np.uint8 and img.max() > 1:
        img = img / 255.0
    if img.shape[:2] != lab.shape:
        raise ValueError(f"`labels` {lab.shape} and `image` {img.shape[:2]} must have the same "
                         "height and width.")
    fig, ax = _axes(ax)
    ax.imshow(label2rgb(lab, image=img, alpha=alpha, bg_label=0, image_alpha=1.0))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def plot_threshold_histogram(image, thresholds, ax=None, title=None):
    """Histogram of a grey image with its thresholds as vertical lines."""
    from ..segmentation.threshold import histogram

    counts, centers = histogram(image)
    fig, ax = _axes(ax, (5, 3))
    width = (centers[1] - centers[0]) if centers.size > 1 else 1.0
    ax.bar(centers, counts, width=width, color="0.5")
    for t in np.atleast_1d(thresholds):
        ax.axvline(float(t), color="C3", lw=1.5)
    ax.set_xlabel("intensity")
    ax.set_ylabel("pixels")
    if title:
        ax.set_title(title)
    return fig


def draw_anchors(image, anchor_boxes, labels=None, ax=None, title=None, max_boxes=60, seed=0):
    """Draw pixel ``xyxy`` anchors on an image; with ``labels`` colour positives green, negatives
    red (a random subset of at most ``max_boxes`` each) and skip the ignored ones."""
    from matplotlib.patches import Rectangle

    a = np.asarray(anchor_boxes, dtype=np.float64).reshape(-1, 4)
    fig, ax = _axes(ax)
    img = np.asarray(image)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    rng = np.random.default_rng(seed)
    groups = [(np.arange(len(a)), "C0")] if labels is None else [
        (np.flatnonzero(np.asarray(labels) == 1), "lime"),
        (np.flatnonzero(np.asarray(labels) == 0), "red")]
    for idx, colour in groups:
        if idx.size > max_boxes:
            idx = rng.choice(idx, max_boxes, replace=False)
        for x0, y0, x1, y1 in a[idx]:
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0.8,
                                   edgecolor=colour))
    h, w = img.shape[:2]
    pad = 0.6 * max(h, w)
    ax.set_xlim(-pad, w + pad)
    ax.set_ylim(h + pad, -pad)
    ax.add_patch(Rectangle((0, 0), w, h, fill=False, lw=1.5, edgecolor="k", ls="--"))
    if title:
        ax.set_title(title)
    return fig


def plot_roi_grid(feature_map, roi, output_size=(2, 2), spatial_scale=1.0, sampling_ratio=2,
                  ax=None, title=None):
    """Show one ROI on a 2-D feature map: the exact box (blue), the quantised cells ROI pooling
    uses and their sections (orange), and ROI Align's bilinear sample points (white dots)."""
    from matplotlib.patches import Rectangle

    from ..segmentation.detection import quantize_roi

    f = np.asarray(feature_map, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"`feature_map` must be 2-D (H, W) here; got shape {f.shape}.")
    oh, ow = (output_size, output_size) if np.isscalar(output_size) else output_size
    exact, q = quantize_roi(roi, spatial_scale)
    fig, ax = _axes(ax, (5, 5))
    H, W = f.shape
    ax.imshow(f, cmap="viridis", extent=(0, W, H, 0))
    for x in range(W + 1):
        ax.axvline(x, color="w", lw=0.3, alpha=0.5)
    for y in range(H + 1):
        ax.axhline(y, color="w", lw=0.3, alpha=0.5)
    x0, y0, x1, y1 = q
    xs = x0 + (np.arange(ow + 1) * (x1 - x0)) // ow
    ys = y0 + (np.arange(oh + 1) * (y1 - y0)) // oh
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=2.5, edgecolor="orange"))
    for x in xs[1:-1]:
        ax.plot([x, x], [y0, y1], color="orange", lw=1.5)
    for y in ys[1:-1]:
        ax.plot([x0, x1], [y, y], color="orange", lw=1.5)
    ex0, ey0, ex1, ey1 = exact
    ax.add_patch(Rectangle((ex0, ey0), ex1 - ex0, ey1 - ey0, fill=False, lw=2, edgecolor="C0"))
    n = sampling_ratio
    bw, bh = (ex1 - ex0) / ow, (ey1 - ey0) / oh
    sx = ex0 + (np.arange(ow)[:, None] + (np.arange(n)[None] + 0.5) / n).ravel() * bw
    sy = ey0 + (np.arange(oh)[:, None] + (np.arange(n)[None] + 0.5) / n).ravel() * bh
    gx, gy = np.meshgrid(sx, sy)
    ax.plot(gx.ravel(), gy.ravel(), "o", color="w", ms=3)
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    if title:
        ax.set_title(title)
    return fig
