"""Drawings for :mod:`cvkit.inside`: filters, feature maps, maximally activating patches and
gradient-ascent images with their score curves.

Each function takes the arrays or result objects that :mod:`cvkit.inside` computes and returns a
matplotlib figure; nothing here runs a model. Notebook: ``notebooks/08_inside_cnns.ipynb``.
"""
from __future__ import annotations

import math

import numpy as np

from .._validate import check_bool, check_int

__all__ = ["plot_filters", "plot_feature_maps", "plot_patches", "plot_ascent"]


def _scale01(m):
    """One map min-max scaled to [0, 1] (a constant map gives zeros)."""
    lo, hi = float(m.min()), float(m.max())
    return np.zeros_like(m, np.float32) if hi <= lo else ((m - lo) / (hi - lo)).astype(np.float32)


def _grid(rows, cols, size):
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=(cols * size[0], rows * size[1]), squeeze=False)


def plot_filters(filters, max_filters=32, max_channels=8, title=None, rgb=None):
    """Draw the tiles from :func:`cvkit.inside.conv_filters` in a grid.

    RGB tiles ``(F, kh, kw, 3)``: one tile per filter, 8 per row; grey tiles ``(F, C, kh, kw)``:
    one row per filter, one column per input channel. ``rgb=None`` tells them apart by the shape:
    RGB when the last axis is 3 and the two middle axes are equal (a square kernel), so that grey
    3 x 3 tiles ``(F, C, 3, 3)`` with C != 3 are not drawn as colour; give ``rgb`` when in doubt
    (the same value you gave :func:`~cvkit.inside.conv_filters`).

    Parameters
    ----------
    filters : np.ndarray
        The 4-D output of :func:`cvkit.inside.conv_filters`.
    max_filters, max_channels : int >= 1
        How many filters (rows) and input channels (columns) to draw at most.
    title : str, optional
    rgb : bool, optional
        Whether the tiles are RGB (default: from the shape, see above).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_filters(np.random.default_rng(0).random((10, 3, 3, 3)))
    >>> len(fig.axes), len([ax for ax in fig.axes if ax.images])
    (16, 10)
    >>> grey = plot_filters(np.random.default_rng(0).random((6, 16, 3, 3)), max_channels=4)
    >>> len(grey.axes), grey.axes[0].images[0].get_cmap().name     # 6 rows x 4 channels, grey
    (24, 'gray')
    """
    f = np.asarray(filters)
    if f.ndim != 4:
        raise ValueError(f"`filters` must be the 4-D output of conv_filters; got shape {f.shape}.")
    max_filters = check_int(max_filters, "max_filters", minimum=1)
    max_channels = check_int(max_channels, "max_channels", minimum=1)
    if rgb is None:
        rgb = f.shape[-1] == 3 and f.shape[1] == f.shape[2]
    if check_bool(rgb, "rgb"):
        f = f[:max_filters]
        cols = min(8, len(f))
        fig, axes = _grid(math.ceil(len(f) / cols), cols, (1.0, 1.0))
        for ax in axes.ravel():
            ax.axis("off")
        for i, tile in enumerate(f):
            axes.ravel()[i].imshow(tile, interpolation="nearest")
    else:
        f = f[:max_filters, :max_channels]
        fig, axes = _grid(f.shape[0], f.shape[1], (0.8, 0.8))
        for (i, j), ax in np.ndenumerate(axes):
            ax.imshow(f[i, j], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


def plot_feature_maps(maps, max_channels=8, image=None):
    """Draw the feature maps of ONE image (the dict from :func:`cvkit.inside.feature_maps`).

    One row per layer, its first ``max_channels`` channels, each map min-max scaled on its own.

    Parameters
    ----------
    maps : dict
        ``{layer name: (h, w, C) array}``.
    max_channels : int >= 1
    image : array, optional
        The input image, drawn on the left of every row.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> maps = {"c1": np.random.default_rng(0).random((8, 8, 4)), "c2": np.zeros((4, 4, 2))}
    >>> fig = plot_feature_maps(maps, max_channels=3)
    >>> len(fig.axes), fig.axes[0].get_title(loc="left")
    (6, 'c1 8x8')
    """
    if not isinstance(maps, dict) or not maps:
        raise TypeError("`maps` must be the non-empty dict returned by feature_maps for one image.")
    max_channels = check_int(max_channels, "max_channels", minimum=1)
    for k, v in maps.items():
        if np.asarray(v).ndim != 3:
            raise ValueError(f"`maps[{k!r}]` must be (h, w, C) for one image; got shape "
                             f"{np.asarray(v).shape}. Pass a single image to feature_maps.")
    extra = 1 if image is not None else 0
    fig, axes = _grid(len(maps), max_channels + extra, (1.1, 1.2))
    for ax in axes.ravel():
        ax.axis("off")
    for r, (name, m) in enumerate(maps.items()):
        m = np.asarray(m)
        if image is not None:
            axes[r, 0].imshow(np.asarray(image))
        for c in range(min(max_channels, m.shape[-1])):
            axes[r, c + extra].imshow(_scale01(m[..., c]), cmap="viridis")
        axes[r, extra].set_title(f"{name.split('/')[-1]} {m.shape[0]}x{m.shape[1]}", fontsize=7,
                                 loc="left")
    return fig


def plot_patches(result, max_k=None, title=None):
    """Grid of the patches of a :class:`cvkit.inside.ActivatingPatches`: one row per channel,
    best first.

    Parameters
    ----------
    result : cvkit.inside.ActivatingPatches
    max_k : int, optional
        Patches per row (default all).
    title : str, optional
        Default: the layer and the receptive-field size.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from cvkit.inside import ActivatingPatches, ReceptiveField
    >>> field = ReceptiveField((3, 3), (1, 1), (0, 0), (6, 6), (8, 8), "c")
    >>> res = ActivatingPatches(np.arange(2), np.ones((2, 4)), None, None, None,
    ...                         np.zeros((2, 4, 3, 3, 3)), field, 10)
    >>> fig = plot_patches(res, max_k=3)
    >>> len(fig.axes), fig.texts[0].get_text()
    (6, 'c: receptive field 3 px')
    """
    from ..inside import ActivatingPatches

    if not isinstance(result, ActivatingPatches):
        raise TypeError("`result` must be the ActivatingPatches returned by "
                        f"max_activating_patches; got {type(result).__name__}.")
    k = result.values.shape[1] if max_k is None else min(check_int(max_k, "max_k", minimum=1),
                                                         result.values.shape[1])
    fig, axes = _grid(len(result.channels), k, (0.9, 0.95))
    for (i, j), ax in np.ndenumerate(axes):
        ax.imshow(np.clip(result.patches[i, j], 0, 1))
        ax.set_xticks([])
        ax.set_yticks([])
        if j == 0:
            ax.set_ylabel(f"ch {result.channels[i]}", fontsize=8)
    fig.suptitle(title or f"{result.field.layer}: receptive field {result.field.size} px",
                 fontsize=9)
    return fig


def plot_ascent(results, titles=None):
    """Draw the images of one or several :class:`cvkit.inside.AscentResult` with their score
    and objective curves below.

    Parameters
    ----------
    results : AscentResult or list of AscentResult
    titles : list of str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from cvkit.inside import AscentResult
    >>> r = AscentResult(np.zeros((8, 8, 3)), np.arange(5.0), np.arange(5.0) - 1)
    >>> fig = plot_ascent([r, r], titles=["a", "b"])
    >>> len(fig.axes), fig.axes[0].get_title()
    (4, 'a')
    """
    import matplotlib.pyplot as plt

    from ..inside import AscentResult

    if isinstance(results, AscentResult):
        results = [results]
    if (not isinstance(results, (list, tuple)) or not results
            or not all(isinstance(r, AscentResult) for r in results)):
        raise TypeError("`results` must be an AscentResult or a list of them.")
    titles = list(titles) if titles is not None else [""] * len(results)
    n = len(results)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.2), squeeze=False,
                             gridspec_kw={"height_ratios": [2, 1]})
    for j, (r, t) in enumerate(zip(results, titles)):
        axes[0, j].imshow(r.image)
        axes[0, j].set_title(t, fontsize=9)
        axes[0, j].axis("off")
        axes[1, j].plot(r.scores, label="score")
        axes[1, j].plot(r.objective, label="objective")
        axes[1, j].set_xlabel("step", fontsize=8)
        axes[1, j].tick_params(labelsize=7)
    axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
