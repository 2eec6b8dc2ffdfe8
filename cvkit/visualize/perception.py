"""Drawing Perception Visualization: image / saliency / reconstruction / PV side by side.

Used by ``notebooks/11_perception_visualization.ipynb`` and the tour. The arrays come from
:func:`cvkit.explain.perception_visualization`; nothing here computes a map or runs a model.
matplotlib is imported inside the function only.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_images, as_maps, check_float

__all__ = ["plot_perception"]

_COLUMNS = ("image", "saliency", "reconstruction", "PV")


def _arrays(images, saliency, reconstructions, pv):
    """The four arrays, validated and of one batch size; a result object gives all four."""
    if saliency is None and hasattr(images, "pv"):
        images, saliency, reconstructions, pv = (images.images, images.saliency,
                                                 images.reconstruction, images.pv)
    if saliency is None or reconstructions is None or pv is None:
        raise ValueError("give `saliency`, `reconstructions` and `pv` with `images`, or a "
                         "PerceptionResult as `images` alone.")
    x, _ = as_images(images, "images")
    m, _ = as_maps(saliency, "saliency")
    r, _ = as_images(reconstructions, "reconstructions")
    p, _ = as_images(pv, "pv")
    if not (r.shape == p.shape == x.shape and m.shape == x.shape[:3]):
        raise ValueError(f"`saliency` {m.shape}, `reconstructions` {r.shape} and `pv` {p.shape} "
                         f"must match `images` {x.shape} (maps without the channel axis).")
    return x, m, r, p


def plot_perception(images, saliency=None, reconstructions=None, pv=None, row_titles=None,
                    alpha=0.5, size=2.2):
    """One row per image: the image, its saliency over it (jet), the reconstruction of what the
    network perceived, and the PV image (:func:`cvkit.explain.pv_blend`).

    Parameters
    ----------
    images : array (N, H, W, 3) or (H, W, 3), or a PerceptionResult
        With a :class:`~cvkit.explain.PerceptionResult` the other arrays are read from it.
    saliency : array (N, H, W) in [0, 1], optional
    reconstructions, pv : array (N, H, W, 3), optional
    row_titles : sequence of str, optional
        One per image, written over its first panel (e.g. "true star, predicted square").
    alpha : float
        Weight of the coloured map over the image in the saliency column.
    size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> x = np.zeros((2, 8, 8, 3))
    >>> fig = plot_perception(x, np.zeros((2, 8, 8)), x, x, row_titles=["a", "b"])
    >>> len(fig.axes), fig.axes[2].get_title()
    (8, 'reconstruction')
    """
    import matplotlib.pyplot as plt

    from .overlays import overlay_heatmap

    x, m, r, p = _arrays(images, saliency, reconstructions, pv)
    alpha = check_float(alpha, "alpha", 0.0, 1.0)
    size = check_float(size, "size", 0.0, strict_min=True)
    n = len(x)
    if row_titles is not None and (isinstance(row_titles, str) or len(row_titles) != n):
        raise ValueError(f"`row_titles` must hold one title per image ({n}); got {row_titles!r}.")
    fig, axes = plt.subplots(n, 4, figsize=(4 * size, n * size + 0.3), squeeze=False)
    for i in range(n):
        panels = (x[i], overlay_heatmap(x[i], m[i], alpha=alpha), r[i], p[i])
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(np.clip(panel, 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(_COLUMNS[j])
        if row_titles is not None:
            axes[i, 0].set_ylabel(str(row_titles[i]), fontsize=9)
    fig.tight_layout()
    return fig
