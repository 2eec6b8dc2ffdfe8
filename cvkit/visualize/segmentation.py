"""Drawing helpers for segmentation: label overlays, threshold histograms, anchors, ROI grids.

Each function draws on ``ax`` (a new figure when None) and returns the figure. matplotlib is imported
inside the functions. Used by ``notebooks/06_classic_segmentation.ipynb``,
``notebooks/07_mask_rcnn_building_blocks.ipynb`` and the tour.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_images, check_float, check_int, check_seed, check_size


def _one_image(image, name="image"):
    """One (H, W) or (H, W, 3) image as float in [0, 1] (uint8 divided by 255)."""
    raw = np.asarray(image)
    x, _ = as_images(raw[..., None] if raw.ndim == 2 else raw, name)
    if x.shape[0] != 1:
        raise ValueError(f"`{name}` must be one (H, W) or (H, W, 3) image; got shape {raw.shape}.")
    return x[0, ..., 0] if x.shape[-1] == 1 else x[0]

__all__ = ["overlay_labels", "plot_threshold_histogram", "draw_anchors", "plot_roi_grid"]


def _axes(ax, figsize=(4, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def overlay_labels(image, labels, alpha=0.45, ax=None, title=None):
    """Show a label image coloured over ``image`` (label 0 left uncoloured).

    Parameters
    ----------
    image : array_like (H, W, 3) or (H, W)
        float in [0, 1] or uint8.
    labels : array_like of int (H, W)
        0 is the background.
    alpha : float
        Opacity of the label colours.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    Region 1 is tinted red (scikit-image's first label colour) at ``alpha=0.45``; the background
    keeps the image's black.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> labels = np.zeros((4, 4), int)
    >>> labels[:2, :2] = 1
    >>> fig = overlay_labels(np.zeros((4, 4, 3)), labels, title="one region")
    >>> shown = fig.axes[0].images[0].get_array()
    >>> shown.shape, shown[0, 0].round(2).tolist(), shown[3, 3].tolist()
    ((4, 4, 3), [0.45, 0.0, 0.0], [0.0, 0.0, 0.0])
    >>> plt.close(fig)
    """
    from skimage.color import label2rgb

    lab = as_array(labels, "labels", ndim=2, kind="integer", hint="(H, W)")
    img = _one_image(image).astype(np.float64)
    alpha = check_float(alpha, "alpha", 0.0, 1.0)
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
    """Histogram of a grey image with its thresholds as vertical lines.

    Parameters
    ----------
    image : array_like (H, W) or (H, W, 3)
        Binned as :func:`cvkit.segmentation.threshold.histogram` does (integers: one bar per value).
    thresholds : float or sequence of float
        Drawn as vertical lines.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    An integer image gets one bar per value from its minimum to its maximum.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> image = np.array([[10, 10, 12], [12, 12, 14]], np.uint8)
    >>> fig = plot_threshold_histogram(image, [11, 13])
    >>> ax = fig.axes[0]
    >>> [int(bar.get_height()) for bar in ax.patches], len(ax.lines)
    ([2, 0, 3, 0, 1], 2)
    >>> plt.close(fig)
    """
    from ..segmentation.threshold import histogram

    counts, centers = histogram(image)
    fig, ax = _axes(ax, (5, 3))
    width = (centers[1] - centers[0]) if centers.size > 1 else 1.0
    ax.bar(centers, counts, width=width, color="0.5")
    for t in as_array(np.atleast_1d(thresholds), "thresholds", ndim=1, kind="float"):
        ax.axvline(float(t), color="C3", lw=1.5)
    ax.set_xlabel("intensity")
    ax.set_ylabel("pixels")
    if title:
        ax.set_title(title)
    return fig


def draw_anchors(image, anchor_boxes, labels=None, ax=None, title=None, max_boxes=60, seed=0):
    """Draw pixel ``xyxy`` anchors on an image; with ``labels`` colour positives green, negatives
    red (a random subset of at most ``max_boxes`` each) and skip the ignored ones.

    The axis extends 60 % of the image size beyond it so that anchors crossing the border show; the
    image frame is a dashed black rectangle.

    Parameters
    ----------
    image : array_like (H, W) or (H, W, 3)
    anchor_boxes : array_like (K, 4)
        Pixel ``(x0, y0, x1, y1)``.
    labels : array_like of int (K,), optional
        1 positive, 0 negative, -1 ignored (as :func:`cvkit.detection.label_anchors` gives).
    ax : matplotlib Axes, optional
    title : str, optional
    max_boxes : int
        At most this many boxes per colour.
    seed : int
        Seed of the random subset.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    One positive, one negative and one ignored anchor: two rectangles and the image frame.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> anchors = [[0, 0, 4, 4], [2, 2, 6, 6], [4, 0, 8, 4]]
    >>> fig = draw_anchors(np.zeros((8, 8)), anchors, labels=[1, 0, -1])
    >>> [tuple(p.get_edgecolor()[:3]) for p in fig.axes[0].patches]   # lime, red, the frame
    [(0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
    >>> plt.close(fig)
    """
    from matplotlib.patches import Rectangle

    a = as_array(anchor_boxes, "anchor_boxes", kind="float", dtype=np.float64)
    if a.shape[-1:] != (4,):
        raise ValueError(f"`anchor_boxes` must be (..., 4) boxes; got shape {a.shape}.")
    a = a.reshape(-1, 4)
    if labels is not None:
        labels = as_array(labels, "labels", kind="integer").reshape(-1)
        if len(labels) != len(a):
            raise ValueError(f"`labels` must hold one label per anchor ({len(a)}); got {len(labels)}.")
    max_boxes = check_int(max_boxes, "max_boxes", minimum=1)
    img = _one_image(image)
    fig, ax = _axes(ax)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
    rng = np.random.default_rng(check_seed(seed, allow_none=False))
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
    uses and their sections (orange), and ROI Align's bilinear sample points (white dots).

    Parameters
    ----------
    feature_map : array_like (H, W)
    roi : array_like (4,)
        Pixel ``(x0, y0, x1, y1)`` in the image; ``spatial_scale`` maps it onto the feature map.
    output_size : int or (int, int)
        Output cells of the pooling.
    spatial_scale : float
        Feature-map cells per image pixel (1 / stride).
    sampling_ratio : int
        ROI Align's sample points per cell along each axis.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    The ROI (1.5, 1.5, 6, 5) is quantised to the cells 1..5 x 1..4 (orange); ROI Align keeps it
    exact (blue) and samples 2 x 2 points in each of its 2 x 2 cells.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> fig = plot_roi_grid(np.arange(64.0).reshape(8, 8), [1.5, 1.5, 6.0, 5.0], output_size=2)
    >>> ax = fig.axes[0]
    >>> [[float(v) for v in p.get_bbox().bounds] for p in ax.patches]   # x, y, width, height
    [[1.0, 1.0, 5.0, 4.0], [1.5, 1.5, 4.5, 3.5]]
    >>> ax.lines[-1].get_xdata().size   # ROI Align's sample points
    16
    >>> plt.close(fig)
    """
    from matplotlib.patches import Rectangle

    from ..detection import quantize_roi

    f = as_array(feature_map, "feature_map", ndim=2, kind="float", hint="(H, W)")
    oh, ow = check_size(output_size, "output_size", maximum=64)
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
