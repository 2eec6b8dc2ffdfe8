"""Heat-map overlays, a grid comparing explanation methods, and the course's
threshold -> largest connected component -> box view.

Used by ``notebooks/02_cam_gap_mobilenet.ipynb`` and ``notebooks/03_gradcam_deep_dive.ipynb``.
matplotlib is imported inside the functions only.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_images, as_maps, check_float, check_int

__all__ = ["overlay_heatmap", "largest_component_box", "plot_cam_box", "compare_methods"]


def _fit_map(heatmap, shape):
    """Resize one (h, w) map to ``shape`` (bilinear, half-pixel) and min-max normalise it."""
    from ..explain.upsample import normalize_maps, upsample_maps

    heat = heatmap if heatmap.shape == tuple(shape) else upsample_maps(heatmap, tuple(shape))
    return normalize_maps(heat)


def overlay_heatmap(image, heatmap, alpha=0.5, cmap="jet"):
    r"""Blend a heat-map over an image: :math:`(1-\alpha)\,I + \alpha\,\mathrm{cmap}(M)`.

    Parameters
    ----------
    image : array-like (H, W, 3) or (H, W, 1), uint8 or float in [0, 1]
    heatmap : array-like (h, w)
        Any real map; it is resized to the image (bilinear) and min-max normalised first.
    alpha : float in [0, 1]
        Weight of the coloured map.
    cmap : str
        A matplotlib colormap name.

    Returns
    -------
    np.ndarray
        float32 (H, W, 3) RGB in [0, 1].

    Examples
    --------
    A 2 x 2 map with one hot cell, over a black 4 x 4 image; with ``alpha=1`` only the colours
    remain: jet's dark blue where the map is 0, dark red where it peaks.

    >>> import numpy as np
    >>> out = overlay_heatmap(np.zeros((4, 4, 3)), [[0, 0], [0, 1]], alpha=1.0)
    >>> out.shape, out.dtype
    ((4, 4, 3), dtype('float32'))
    >>> out[0, 0].round(2).tolist(), out[3, 3].round(2).tolist()
    ([0.0, 0.0, 0.5], [0.5, 0.0, 0.0])
    """
    import matplotlib

    img, single = as_images(image, "image")
    if not single:
        raise ValueError(f"`image` must be one image (H, W, C); got a batch of shape {img.shape}.")
    img = img[0]
    heat, single_map = as_maps(heatmap, "heatmap")
    if not single_map:
        raise ValueError(f"`heatmap` must be one (h, w) map; got shape {heat.shape}.")
    alpha = check_float(alpha, "alpha", 0.0, 1.0)
    try:
        cm = matplotlib.colormaps[cmap]
    except (KeyError, TypeError):
        raise ValueError(f"`cmap` must be a matplotlib colormap name; got {cmap!r}.") from None
    heat = _fit_map(heat[0], img.shape[:2])
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    colored = cm(heat)[..., :3].astype(np.float32)
    return ((1 - alpha) * img + alpha * colored).astype(np.float32)


def largest_component_box(heatmap, threshold=0.2):
    r"""Threshold a map, keep its largest connected component, return that component's box.

    The map is min-max normalised, the foreground is :math:`\{M > \tau\}` (``threshold`` is
    :math:`\tau` as a fraction of the maximum), components are 8-connected
    (``scipy.ndimage.label``) and the box encloses the largest one.

    Parameters
    ----------
    heatmap : array-like (H, W)
    threshold : float in [0, 1)

    Returns
    -------
    box : np.ndarray
        (4,) normalised xyxy with the pixel-edge convention (``x_max = (x1 + 1) / W``); all zeros
        when nothing is above the threshold.
    component : np.ndarray
        bool (H, W) mask of the largest component.

    Examples
    --------
    A 2 x 3 blob and a lone pixel above the threshold: the box frames the blob only.

    >>> import numpy as np
    >>> heat = np.zeros((6, 6))
    >>> heat[1:3, 2:5] = 1.0
    >>> heat[5, 0] = 0.8
    >>> box, component = largest_component_box(heat, threshold=0.5)
    >>> (box * 6).round(4).tolist(), int(component.sum())   # pixel edges, 6 pixels
    ([2.0, 1.0, 5.0, 3.0], 6)
    """
    from ..wsol.boxes import recipe_boxes

    heat, single = as_maps(heatmap, "heatmap")
    if not single:
        raise ValueError(f"`heatmap` must be one (H, W) map; got shape {heat.shape}.")
    box, comp = recipe_boxes(heat[0], threshold, return_masks=True)
    return box, comp


def _draw_box(ax, box, shape, color, label=None):
    import matplotlib.patches as patches

    h, w = shape
    x0, y0, x1, y1 = np.asarray(box, float) * [w, h, w, h]
    ax.add_patch(patches.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   edgecolor=color, linewidth=2, label=label))


def plot_cam_box(image, heatmap, threshold=0.2, gt_box=None, alpha=0.5, title=None):
    """The course's view in three panels: the overlay, the thresholded map with its largest
    connected component, and the component's box on the image (with the ground truth if given).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> heat = np.zeros((6, 6))
    >>> heat[1:3, 2:5] = 1.0
    >>> fig = plot_cam_box(np.zeros((6, 6, 3)), heat, threshold=0.5, gt_box=[0.3, 0.2, 0.8, 0.5])
    >>> [ax.get_title() for ax in fig.axes]
    ['heat-map', 'M > 0.5 max; largest component', 'box']
    >>> len(fig.axes[2].patches)   # the box from the map and the ground truth
    2
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    img, _ = as_images(image, "image")
    img = img[0]
    alpha = check_float(alpha, "alpha", 0.0, 1.0)
    box, comp = largest_component_box(_fit_map(as_maps(heatmap, "heatmap")[0][0], img.shape[:2]),
                                      threshold)
    heat = _fit_map(as_maps(heatmap, "heatmap")[0][0], img.shape[:2])
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    axes[0].imshow(overlay_heatmap(img, heat, alpha))
    axes[0].set_title("heat-map")
    shown = np.zeros(heat.shape + (3,), np.float32)
    shown[heat > threshold] = (0.45, 0.45, 0.45)
    shown[comp] = (1.0, 0.85, 0.1)
    axes[1].imshow(shown)
    axes[1].set_title(f"M > {threshold:g} max; largest component")
    axes[2].imshow(img if img.shape[-1] == 3 else img[..., 0], cmap=None if img.shape[-1] == 3 else "gray")
    _draw_box(axes[2], box, heat.shape, "yellow", "from the map")
    if gt_box is not None:
        _draw_box(axes[2], gt_box, heat.shape, "lime", "ground truth")
        axes[2].legend(loc="lower right", fontsize=7)
    axes[2].set_title("box")
    for ax in axes:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def compare_methods(images, maps, alpha=0.5, cmap="jet", titles=None, max_images=6):
    """A grid: one row per image, the image then one overlay per method.

    Parameters
    ----------
    images : array-like (N, H, W, C)
    maps : dict
        ``{method name: (N, h, w) maps}`` (e.g. the outputs of :mod:`cvkit.explain`); the column
        title is the key, optionally with ``titles[key]`` appended (e.g. the time it took).
    max_images : int
        At most this many rows.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    Two images and two methods: a 2 x 3 grid, titled on its first row.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> maps = {"CAM": np.random.default_rng(0).random((2, 4, 4)), "RISE": np.ones((2, 4, 4))}
    >>> fig = compare_methods(np.zeros((2, 8, 8, 3)), maps, titles={"RISE": "9 ms/img"})
    >>> [ax.get_title() for ax in fig.axes[:3]], len(fig.axes)
    (['image', 'CAM', 'RISE\\n9 ms/img'], 6)
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    imgs, _ = as_images(images, "images")
    if not isinstance(maps, dict) or not maps:
        raise TypeError("`maps` must be a non-empty dict {method name: (N, h, w) maps}; got "
                        f"{type(maps).__name__}.")
    arrays = {}
    for name, m in maps.items():
        arr, _ = as_maps(m, f"maps[{name!r}]", allow_single=False)
        if len(arr) != len(imgs):
            raise ValueError(f"`maps[{name!r}]` has {len(arr)} maps for {len(imgs)} images.")
        arrays[name] = arr
    alpha = check_float(alpha, "alpha", 0.0, 1.0)
    n = min(len(imgs), check_int(max_images, "max_images", 1, 100))
    cols = 1 + len(arrays)
    fig, axes = plt.subplots(n, cols, figsize=(1.9 * cols, 1.9 * n), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(imgs[i] if imgs.shape[-1] == 3 else imgs[i, ..., 0], cmap="gray")
        for j, (name, arr) in enumerate(arrays.items(), start=1):
            axes[i, j].imshow(overlay_heatmap(imgs[i], arr[i], alpha, cmap))
            if i == 0:
                extra = f"\n{titles[name]}" if titles and name in titles else ""
                axes[i, j].set_title(f"{name}{extra}", fontsize=8)
    axes[0, 0].set_title("image", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    return fig
