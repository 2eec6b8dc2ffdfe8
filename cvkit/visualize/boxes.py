"""Box drawing and image grids for localization.

Boxes are normalised ``xyxy`` (the cvkit convention) unless ``fmt`` says otherwise; they are drawn
with the pixel-edge convention, so a box from pixel column ``x0`` to ``x1`` (inclusive) frames those
pixels exactly. matplotlib is imported inside the functions only.

Shown in ``notebooks/01_localization.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_bool, check_float, check_int

__all__ = ["draw_boxes", "image_grid", "plot_localization", "plot_iou_histogram"]

TRUE_COLOR = "#2ca02c"
PRED_COLOR = "#d62728"


def _image(image, name="image"):
    from .._validate import as_images

    arr, _ = as_images(image, name)
    if arr.shape[0] != 1:
        raise ValueError(f"`{name}` must be one image (H, W, C); got a batch of {arr.shape[0]}.")
    img = arr[0]
    return img[..., 0] if img.shape[-1] == 1 else img


def _norm_boxes(boxes, fmt, hw, name="boxes"):
    from .. import boxes as B
    from .._validate import check_choice

    check_choice(fmt, "fmt", B.FORMATS)
    b = B.as_boxes(boxes, name)
    if b.ndim == 1:
        b = b[None]
    if b.ndim != 2:
        raise ValueError(f"`{name}` must have shape (K, 4) or (4,); got {b.shape}.")
    return B.convert(b, fmt, "xyxy", image_size=hw)


def draw_boxes(image, boxes, labels=None, scores=None, class_names=None, color=TRUE_COLOR,
               fmt="xyxy", ax=None, linewidth=2.0, linestyle="-", title=None, show_image=True):
    """Draw an image and boxes on a matplotlib axis.

    Parameters
    ----------
    image : (H, W, 3) or (H, W, 1) float in [0, 1] or uint8
    boxes : (K, 4) or (4,)
        Boxes in format ``fmt`` (see :func:`cvkit.boxes.convert`; ``'pixels'`` is understood).
    labels : (K,) int, optional
        Class ids written at the top-left corner (names from ``class_names``).
    scores : (K,) float, optional
        Written after the label.
    color : str or list of str
        One colour, or one per box.
    fmt : {'xyxy', 'xywh', 'cxcywh', 'pixels'}
    ax : matplotlib axis, optional
    linewidth, linestyle : line style of the rectangles.
    title : str, optional
    show_image : bool
        ``False`` draws only the boxes (to overlay a second set on the same axis).

    Returns
    -------
    matplotlib axis

    Examples
    --------
    A box over the middle 4 x 4 pixels of an 8 x 8 image: its rectangle runs along the pixel edges
    (imshow puts pixel centres on integers, so the edges sit at 1.5 and 5.5).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> ax = draw_boxes(np.zeros((8, 8, 3)), [0.25, 0.25, 0.75, 0.75], labels=[1], scores=[0.9],
    ...                 class_names=["disc", "square"])
    >>> len(ax.patches), ax.texts[0].get_text()
    (1, 'square 0.90')
    >>> [float(v) for v in ax.patches[0].get_bbox().bounds]   # x, y, width, height
    [1.5, 1.5, 4.0, 4.0]
    >>> plt.close(ax.figure)
    """
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    img = _image(image)
    h, w = img.shape[:2]
    b = _norm_boxes(boxes, fmt, (h, w))
    k = len(b)
    linewidth = check_float(linewidth, "linewidth", 0.0, 50.0)
    show_image = check_bool(show_image, "show_image")
    if labels is not None:
        labels = as_array(np.atleast_1d(labels), "labels", ndim=1, kind="integer")
    if scores is not None:
        scores = as_array(np.atleast_1d(scores), "scores", ndim=1, kind="float")
    for arg, nm in ((labels, "labels"), (scores, "scores")):
        if arg is not None and len(arg) != k:
            raise ValueError(f"`{nm}` must have one entry per box ({k}); got {len(arg)}.")
    if labels is not None and class_names is not None and (labels.min(initial=0) < 0 or
                                                            labels.max(initial=0) >= len(class_names)):
        raise ValueError(f"`labels` must index `class_names` (0 to {len(class_names) - 1}); got "
                         f"{labels.tolist()}.")
    colors = [color] * k if isinstance(color, str) else list(color)
    if len(colors) != k:
        raise ValueError(f"`color` must be one colour or one per box ({k}); got {len(colors)}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    if show_image:
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
    px = b * np.asarray([w, h, w, h]) - 0.5  # pixel edges -> imshow coordinates
    for i, (x0, y0, x1, y1) in enumerate(px):
        ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False,
                                       edgecolor=colors[i], linewidth=linewidth,
                                       linestyle=linestyle))
        text = []
        if labels is not None:
            lab = int(labels[i])
            text.append(class_names[lab] if class_names is not None else str(lab))
        if scores is not None:
            text.append(f"{float(scores[i]):.2f}")
        if text:
            ax.text(x0, y0, " ".join(text), color="white", fontsize=7, va="bottom",
                    bbox=dict(facecolor=colors[i], alpha=0.8, pad=1, edgecolor="none"))
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)
    return ax


def image_grid(images, titles=None, ncols=8, boxes=None, pred_boxes=None, title_colors=None,
               size=1.6, suptitle=None):
    """Show images in a grid, optionally with true (green) and predicted (red, dashed) boxes.

    Parameters
    ----------
    images : (N, H, W, C)
    titles : list of str, optional
    ncols : int
    boxes, pred_boxes : (N, 4) normalised ``xyxy``, optional
    title_colors : list of str, optional
        Colour of each title (e.g. red for a wrong prediction).
    size : float
        Inches per image.
    suptitle : str, optional

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    Three images on two columns: a 2 x 2 grid whose fourth axis is switched off.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> fig = image_grid(np.zeros((3, 8, 8, 3)), titles=["a", "b", "c"], ncols=2,
    ...                  boxes=[[0, 0, 0.5, 0.5]] * 3)
    >>> [ax.get_title() for ax in fig.axes], [len(ax.patches) for ax in fig.axes]
    (['a', 'b', 'c', ''], [1, 1, 1, 0])
    >>> fig.axes[3].axison
    False
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    from .._validate import as_images

    imgs, _ = as_images(images, "images")
    n = len(imgs)
    ncols = min(check_int(ncols, "ncols", minimum=1), n)
    size = check_float(size, "size", 0.0, 20.0, strict_min=True)   # inches per image
    for arg, nm in ((titles, "titles"), (boxes, "boxes"), (pred_boxes, "pred_boxes"),
                    (title_colors, "title_colors")):
        if arg is not None and len(arg) != n:
            raise ValueError(f"`{nm}` must have one entry per image ({n}); got {len(arg)}.")
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.2),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        draw_boxes(imgs[i], np.zeros((0, 4)) if boxes is None else boxes[i], ax=ax)
        if pred_boxes is not None:
            draw_boxes(imgs[i], pred_boxes[i], ax=ax, color=PRED_COLOR, linestyle="--",
                       show_image=False)
        if titles is not None:
            kw = {} if title_colors is None else {"color": title_colors[i]}
            ax.set_title(titles[i], fontsize=7, **kw)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def plot_localization(images, true_boxes, pred_boxes, true_labels, pred_labels,
                      class_names=None, ncols=8, iou_threshold=0.5):
    """Grid of predictions against the truth; titles give the predicted class and the IoU.

    True boxes are green, predicted boxes red and dashed; a title is red when the localization is
    wrong (wrong class or :math:`\\mathrm{IoU} < 0.5`).

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    The second prediction has the right class but overlaps the truth by 1/7 only: red title.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> true = [[0, 0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]]
    >>> pred = [[0, 0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]
    >>> fig = plot_localization(np.zeros((2, 8, 8, 3)), true, pred, [0, 1], [0, 1],
    ...                         class_names=["disc", "square"])
    >>> [ax.get_title() for ax in fig.axes]
    ['disc IoU 1.00', 'square IoU 0.14']
    >>> [ax.title.get_color() for ax in fig.axes], [len(ax.patches) for ax in fig.axes]
    (['black', '#d62728'], [2, 2])
    >>> plt.close(fig)
    """
    from .. import boxes as B

    ious = B.iou(B.as_boxes(true_boxes, "true_boxes"), B.as_boxes(pred_boxes, "pred_boxes"))
    tl = as_array(true_labels, "true_labels", kind="integer").reshape(-1)
    pl = as_array(pred_labels, "pred_labels", kind="integer").reshape(-1)
    iou_threshold = check_float(iou_threshold, "iou_threshold", 0.0, 1.0)
    if len(tl) != len(ious) or len(pl) != len(ious):
        raise ValueError(f"`true_labels` and `pred_labels` must have one entry per image "
                         f"({len(ious)}); got {len(tl)} and {len(pl)}.")
    names = (lambda c: class_names[int(c)]) if class_names is not None else str
    titles = [f"{names(p)} IoU {v:.2f}" for p, v in zip(pl, ious)]
    ok = (tl == pl) & (ious >= iou_threshold)
    colors = ["black" if o else PRED_COLOR for o in ok]
    return image_grid(images, titles=titles, ncols=ncols, boxes=true_boxes, pred_boxes=pred_boxes,
                      title_colors=colors)


def plot_iou_histogram(ious, threshold=0.5, ax=None, bins=20, label=None):
    """Histogram of IoUs with the correct-localization threshold marked.

    Returns
    -------
    matplotlib axis

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> ax = plot_iou_histogram([0.2, 0.6, 0.9, 0.7])
    >>> ax.get_title(), len(ax.patches)   # one bar per bin
    ('mean IoU 0.60, 75% >= 0.5', 20)
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    v = as_array(ious, "ious", kind="float", empty_ok=False, dtype=np.float64).reshape(-1)
    threshold = check_float(threshold, "threshold", 0.0, 1.0)
    bins = check_int(bins, "bins", 1, 10_000)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 2.6))
    ax.hist(v, bins=bins, range=(0, 1), alpha=0.7, label=label)
    ax.axvline(threshold, color="k", linestyle="--", linewidth=1)
    ax.set_xlabel("IoU")
    ax.set_ylabel("images")
    ax.set_title(f"mean IoU {v.mean():.2f}, {100 * (v >= threshold).mean():.0f}% >= {threshold}",
                 fontsize=9)
    return ax
