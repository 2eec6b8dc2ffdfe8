"""Plots for weakly-supervised localization: BoxAcc(tau) curves, precision-recall curves, the
histogram of map activations, and predicted vs true boxes on images.

They read the result objects of :mod:`cvkit.wsol` (or plain arrays) and return matplotlib figures;
matplotlib is imported inside the functions. Notebook: ``notebooks/05_wsol_evaluation.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_images, as_maps, check_float, check_int

__all__ = [
    "plot_boxacc_curves",
    "plot_precision_recall",
    "plot_activation_histogram",
    "draw_wsol_boxes",
    "plot_wsol_report",
]


def _axes(ax, figsize=(5, 3.6)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _as_list(x, kind):
    items = list(x) if isinstance(x, (list, tuple)) else [x]
    for it in items:
        if not all(hasattr(it, a) for a in kind):
            raise TypeError(f"expected result objects with attributes {kind}; got "
                            f"{type(it).__name__}.")
    return items


def plot_boxacc_curves(results, ax=None, labels=None, iou_threshold=None):
    """BoxAcc(:math:`\\tau`) against the map threshold, with the best :math:`\\tau` marked.

    Parameters
    ----------
    results : BoxAccResult or list of them
        From :func:`cvkit.wsol.max_box_acc` / :func:`~cvkit.wsol.max_box_acc_v2` (or the
        ``max_box_acc`` attribute of reports). One result: one curve per IoU level. Several
        results: one curve each, at ``iou_threshold`` (default 0.5).
    ax : matplotlib Axes, optional
    labels : list of str, optional
        Legend entries for several results.
    iou_threshold : float, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    Two Gaussian blobs; the second sits away from its true box, so at best one image in two is
    localized.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from cvkit.wsol import max_box_acc
    >>> yy, xx = np.mgrid[:8, :8]
    >>> cams = np.stack([np.exp(-((xx - 2) ** 2 + (yy - 3) ** 2) / 4.0),
    ...                  np.exp(-((xx - 5) ** 2 + (yy - 5) ** 2) / 4.0)])
    >>> gt_boxes = [[[1, 2, 3, 4]], [[0, 0, 2, 2]]]
    >>> result = max_box_acc(cams, gt_boxes)
    >>> fig = plot_boxacc_curves(result)
    >>> fig.axes[0].get_title(), len(fig.axes[0].lines)   # the curve and its best tau
    ('MaxBoxAcc = 50.0', 2)
    >>> plt.close(fig)

    Several results share one plot at one IoU level:

    >>> only = max_box_acc(cams, gt_boxes, thresholds=[0.9])
    >>> fig = plot_boxacc_curves([result, only], labels=["fine grid", "tau = 0.9 only"])
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['fine grid: 50.0', 'tau = 0.9 only: 0.0']
    >>> plt.close(fig)
    """
    items = _as_list(results, ("accuracy", "thresholds", "iou_thresholds"))
    fig, ax = _axes(ax)
    if len(items) == 1 and iou_threshold is None:
        r = items[0]
        for d, acc, best, mx in zip(r.iou_thresholds, r.accuracy, r.best_thresholds, r.max_per_iou):
            line, = ax.plot(r.thresholds, acc, label=f"IoU $\\geq$ {d:g}: max {mx:.1f}")
            ax.plot([best], [mx], "o", color=line.get_color())
        ax.set_title(f"{getattr(r, 'name', 'BoxAcc')} = {r.score:.1f}")
    else:
        delta = 0.5 if iou_threshold is None else check_float(iou_threshold, "iou_threshold", 0.0, 1.0)
        if labels is not None and len(labels) != len(items):
            raise ValueError(f"`labels` must have one entry per result ({len(items)}); got "
                             f"{len(labels)}.")
        for i, r in enumerate(items):
            k = r._delta_index(delta)
            lab = labels[i] if labels is not None else f"result {i}"
            line, = ax.plot(r.thresholds, r.accuracy[k], label=f"{lab}: {r.max_per_iou[k]:.1f}")
            ax.plot([r.best_thresholds[k]], [r.max_per_iou[k]], "o", color=line.get_color())
        ax.set_title(f"BoxAcc($\\tau$) at IoU $\\geq$ {delta:g}")
    ax.set_xlabel("map threshold $\\tau$")
    ax.set_ylabel("BoxAcc (%)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_precision_recall(results, ax=None, labels=None):
    """Pixel precision against recall (the PxAP curve); the legend gives each PxAP.

    Parameters
    ----------
    results : PxAPResult or list of them
    ax : matplotlib Axes, optional
    labels : list of str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from cvkit.wsol import pxap
    >>> yy, xx = np.mgrid[:8, :8]
    >>> cams = np.stack([np.exp(-((xx - 2) ** 2 + (yy - 3) ** 2) / 4.0),
    ...                  np.exp(-((xx - 5) ** 2 + (yy - 5) ** 2) / 4.0)])
    >>> masks = np.zeros((2, 8, 8), bool)
    >>> masks[0, 2:5, 1:4] = masks[1, :3, :3] = True
    >>> fig = plot_precision_recall([pxap(cams, masks)], labels=["blobs"])
    >>> fig.axes[0].get_title(), [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ('pixel precision-recall', ['blobs = 31.5'])
    >>> plt.close(fig)
    """
    items = _as_list(results, ("precision", "recall", "score"))
    if labels is not None and len(labels) != len(items):
        raise ValueError(f"`labels` must have one entry per result ({len(items)}); got {len(labels)}.")
    fig, ax = _axes(ax)
    for i, r in enumerate(items):
        ok = np.isfinite(r.precision)
        lab = labels[i] if labels is not None else ("PxAP" if len(items) == 1 else f"result {i}")
        ax.plot(r.recall[ok], r.precision[ok], label=f"{lab} = {r.score:.1f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("pixel precision-recall")
    return fig


def plot_activation_histogram(maps, masks=None, ax=None, bins=50, label=None):
    """Distribution of map activations over a dataset (the F-CAM paper's figure 6).

    A mode near 0 holds the background; a method that separates object from background also has a
    mode near 1. With ``masks`` the object and background pixels are drawn separately.

    Parameters
    ----------
    maps : array_like (N, H, W), or a WSOLReport
        Maps in [0, 1] (normalise them first), or a report (its stored histogram).
    masks : array_like of bool (N, H, W), optional
        Object pixels.
    ax : matplotlib Axes, optional
    bins : int
    label : str, optional
        Prefix for the legend.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    With masks: one histogram of the background pixels and one of the object pixels (10 bars
    each).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:8, :8]
    >>> cams = np.stack([np.exp(-((xx - 2) ** 2 + (yy - 3) ** 2) / 4.0),
    ...                  np.exp(-((xx - 5) ** 2 + (yy - 5) ** 2) / 4.0)])
    >>> masks = np.zeros((2, 8, 8), bool)
    >>> masks[0, 2:5, 1:4] = masks[1, :3, :3] = True
    >>> fig = plot_activation_histogram(cams, masks, bins=10, label="blobs")
    >>> ax = fig.axes[0]
    >>> [t.get_text() for t in ax.get_legend().get_texts()], len(ax.patches)
    (['blobs: background', 'blobs: object'], 20)
    >>> plt.close(fig)
    """
    fig, ax = _axes(ax)
    pre = f"{label}: " if label else ""
    if hasattr(maps, "histogram") and isinstance(maps.histogram, dict):
        h = maps.histogram
        centres = (h["bins"][:-1] + h["bins"][1:]) / 2
        width = h["bins"][1] - h["bins"][0]
        ax.bar(centres, h["outside"], width=width, alpha=0.55, label=f"{pre}background")
        ax.bar(centres, h["inside"], width=width, alpha=0.55, label=f"{pre}object")
    else:
        m = as_maps(maps, "maps")[0].astype(np.float64)
        edges = np.linspace(0, 1, check_int(bins, "bins", 1, 10_000) + 1)
        if masks is None:
            ax.hist(m.ravel(), bins=edges, density=True, alpha=0.7, label=f"{pre}all pixels")
        else:
            mk = np.asarray(masks, dtype=bool)
            if mk.shape != m.shape:
                raise ValueError(f"`masks` must have the maps' shape {m.shape}; got {mk.shape}.")
            ax.hist(m[~mk], bins=edges, density=True, alpha=0.55, label=f"{pre}background")
            ax.hist(m[mk], bins=edges, density=True, alpha=0.55, label=f"{pre}object")
    ax.set_xlabel("activation")
    ax.set_ylabel("density")
    ax.set_xlim(0, 1)
    # a fixed corner: 'best' searches over every bar (slow, and matplotlib warns)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("map activations")
    return fig


def draw_wsol_boxes(image, cam=None, gt_boxes=None, pred_boxes=None, threshold=None, ax=None,
                    title=None, alpha=0.45):
    """An image with the map overlaid, true boxes in green and predicted boxes in red.

    Parameters
    ----------
    image : array_like, (H, W, 3) or (H, W)
        float in [0, 1] or uint8.
    cam : array_like (H, W), optional
        Map drawn over the image (jet). With ``threshold`` the foreground
        :math:`\\{u > \\lfloor \\tau \\max u \\rfloor\\}` is outlined instead of the whole map.
    gt_boxes, pred_boxes : array_like (k, 4), optional
        Pixel-inclusive ``(x0, y0, x1, y1)`` boxes.
    threshold : float, optional
    ax : matplotlib Axes, optional
    title : str, optional
    alpha : float
        Opacity of the map.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    Pixel-inclusive boxes are framed along the pixel edges: the true box (1, 2, 3, 4) covers 3 x 3
    pixels.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:8, :8]
    >>> cam = np.exp(-((xx - 2) ** 2 + (yy - 3) ** 2) / 4.0)
    >>> fig = draw_wsol_boxes(np.zeros((8, 8, 3)), cam, [[1, 2, 3, 4]], [[1, 1, 4, 4]],
    ...                       threshold=0.5)
    >>> ax = fig.axes[0]
    >>> [[float(v) for v in p.get_bbox().bounds] for p in ax.patches]   # x, y, width, height
    [[0.5, 1.5, 3.0, 3.0], [0.5, 0.5, 4.0, 4.0]]
    >>> [p.get_edgecolor()[:3] for p in ax.patches], len(ax.images)   # green, red; image + map
    ([(0.0, 1.0, 0.0), (1.0, 0.0, 0.0)], 2)
    >>> plt.close(fig)
    """
    import matplotlib.patches as patches

    raw = np.asarray(image)
    img = as_images(raw[..., None] if raw.ndim == 2 else raw, "image", allow_single=True)[0]
    if img.shape[0] != 1:
        raise ValueError(f"`image` must be one (H, W, 3) or (H, W) image; got shape {raw.shape}.")
    img = img[0, ..., 0] if img.shape[-1] == 1 else img[0]
    alpha = check_float(alpha, "alpha", 0.0, 1.0)
    if threshold is not None:
        threshold = check_float(threshold, "threshold", 0.0, 1.0)
    fig, ax = _axes(ax, figsize=(3.2, 3.2))
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
    if cam is not None:
        c = as_maps(cam, "cam")[0][0].astype(np.float64)
        if c.shape != img.shape[:2]:
            raise ValueError(f"`cam` must have the image's size {img.shape[:2]}; got {c.shape}.")
        if threshold is None:
            ax.imshow(c, cmap="jet", alpha=alpha, vmin=c.min(), vmax=max(c.max(), c.min() + 1e-12))
        else:  # the benchmark's foreground: uint8 map strictly above floor(tau * max)
            span = c.max() - c.min()
            s = ((c - c.min()) / span).astype(np.float32) if span > 0 else np.zeros(c.shape, np.float32)
            u = (s * np.float32(255)).astype(np.uint8)
            fg = u > int(np.floor(float(threshold) * float(u.max())))
            ax.imshow(np.ma.masked_where(~fg, fg), cmap="autumn", alpha=alpha, vmin=0, vmax=1)
    for boxes, color, name in ((gt_boxes, "lime", "gt_boxes"), (pred_boxes, "red", "pred_boxes")):
        if boxes is None:
            continue
        b = np.atleast_2d(as_array(boxes, name, kind="float", dtype=np.float64))
        if b.ndim != 2 or b.shape[-1] != 4:
            raise ValueError(f"`{name}` must be (k, 4) pixel boxes (x0, y0, x1, y1); got shape "
                             f"{b.shape}.")
        for x0, y0, x1, y1 in b:
            if x1 < x0 or y1 < y0:  # the empty box
                continue
            ax.add_patch(patches.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1,
                                           fill=False, edgecolor=color, linewidth=2))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def plot_wsol_report(report, figsize=(13, 3.6)):
    """The three panels of a :class:`cvkit.wsol.WSOLReport`: BoxAcc(tau) curves (MaxBoxAccV2's IoU
    levels), the precision-recall curve (when masks were given) and the activation histogram.

    Parameters
    ----------
    report : WSOLReport
        From :func:`cvkit.wsol.evaluate_maps` or :func:`cvkit.wsol.evaluate`.
    figsize : (float, float)

    Returns
    -------
    matplotlib.figure.Figure
        Three axes, or two when the report has no PxAP (no masks).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from cvkit.wsol import evaluate_maps
    >>> yy, xx = np.mgrid[:8, :8]
    >>> cams = np.stack([np.exp(-((xx - 2) ** 2 + (yy - 3) ** 2) / 4.0),
    ...                  np.exp(-((xx - 5) ** 2 + (yy - 5) ** 2) / 4.0)])
    >>> gt_boxes = [[[1, 2, 3, 4]], [[0, 0, 2, 2]]]
    >>> masks = np.zeros((2, 8, 8), bool)
    >>> masks[0, 2:5, 1:4] = masks[1, :3, :3] = True
    >>> report = evaluate_maps(cams, gt_boxes, masks=masks, method="blobs")
    >>> fig = plot_wsol_report(report)
    >>> [ax.get_title() for ax in fig.axes]
    ['blobs: MaxBoxAcc 50.0, V2 50.0', 'pixel precision-recall', 'map activations']
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    if not hasattr(report, "max_box_acc_v2"):
        raise TypeError(f"`report` must be a WSOLReport; got {type(report).__name__}.")
    panels = 3 if report.pxap is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=figsize)
    plot_boxacc_curves(report.max_box_acc_v2, ax=axes[0])
    axes[0].set_title(f"{report.method}: MaxBoxAcc {report.max_box_acc.score:.1f}, "
                      f"V2 {report.max_box_acc_v2.score:.1f}", fontsize=10)
    if report.pxap is not None:
        plot_precision_recall(report.pxap, ax=axes[1])
    plot_activation_histogram(report, ax=axes[-1])
    fig.tight_layout()
    return fig
