"""``shapes``: a deterministic synthetic localization dataset.

Each image holds one object (or several, for detection work) from the classes circle, square,
triangle and star (plus optional extra classes), at a random position, scale (10-60 % of the image
side by default), rotation and colour, on a cluttered textured background with distractors (line
segments and elongated blobs of random colours). Object and background colours are drawn from the
same distribution, so a colour threshold does not solve the task: the shape does.

The box of every object is the tight box of its mask, in normalised ``xyxy`` with pixel edges:
a mask spanning pixel columns ``x0 .. x1`` (inclusive) gives ``x_min = x0 / W`` and
``x_max = (x1 + 1) / W``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from skimage.draw import polygon as _draw_polygon

from .._validate import check_float, check_int, check_seed, check_size

__all__ = ["ShapesDataset", "shapes", "CLASS_NAMES", "mask_to_box"]

#: the classes available to :func:`shapes`, in label order.
CLASS_NAMES = ("circle", "square", "triangle", "star", "hexagon", "cross")


@dataclass
class ShapesDataset:
    """Arrays of a synthetic dataset.

    Attributes
    ----------
    images : np.ndarray
        float32 (N, H, W, 3) in [0, 1].
    labels : np.ndarray
        int64 (N,) class of the (first) object; with several objects, the label of object 0.
    class_names : tuple of str
    boxes : np.ndarray
        float32 (N, 4) normalised xyxy box of object 0 (the tight box of its mask).
    masks : np.ndarray
        bool (N, H, W): mask of object 0 (with several objects, see ``instance_masks``).
    objects : list
        per image, a dict with ``labels`` (k,), ``boxes`` (k, 4) and ``masks`` (k, H, W) of every
        object (k = 1 unless ``n_objects`` asked for more).

    Examples
    --------
    >>> ds = shapes(4, image_size=32, seed=0)
    >>> ds
    ShapesDataset(n=4, image_size=(32, 32), classes=['circle', 'square', 'triangle', 'star'])
    >>> len(ds), ds.labels.dtype, ds.masks.dtype
    (4, dtype('int64'), dtype('bool'))
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple
    boxes: np.ndarray
    masks: np.ndarray
    objects: list = field(default_factory=list, repr=False)

    def __len__(self):
        return len(self.images)

    def __repr__(self):
        n, h, w, _ = self.images.shape
        return f"ShapesDataset(n={n}, image_size=({h}, {w}), classes={list(self.class_names)})"

    def subset(self, index):
        """A new dataset with the items at ``index`` (a slice, an index array or a boolean mask).

        Examples
        --------
        >>> ds = shapes(4, image_size=32, seed=0)
        >>> sub = ds.subset([0, 2])
        >>> len(sub), bool((sub.images[1] == ds.images[2]).all())
        (2, True)
        """
        idx = np.arange(len(self))[index]
        return ShapesDataset(self.images[idx], self.labels[idx], self.class_names, self.boxes[idx],
                             self.masks[idx], [self.objects[i] for i in idx])

    def split(self, fraction=0.8):
        """Split into (first ``fraction``, rest); the data are already in random order.

        Examples
        --------
        >>> train, test = shapes(10, image_size=32, seed=0).split(0.8)
        >>> len(train), len(test)
        (8, 2)
        """
        fraction = check_float(fraction, "fraction", 0.0, 1.0)
        k = int(round(fraction * len(self)))
        return self.subset(slice(0, k)), self.subset(slice(k, None))


def mask_to_box(mask):
    """Tight normalised xyxy box of a boolean mask (H, W), pixel-edge convention.

    A mask spanning the pixel columns ``x0 .. x1`` and rows ``y0 .. y1`` (inclusive) of a
    ``W`` x ``H`` mask gives :math:`(x_0 / W,\\ y_0 / H,\\ (x_1 + 1) / W,\\ (y_1 + 1) / H)`.
    An empty mask gives ``[0, 0, 0, 0]``.

    Examples
    --------
    >>> mask = np.zeros((10, 20), bool)
    >>> mask[2:5, 3:9] = True  # rows 2..4, columns 3..8
    >>> mask_to_box(mask).tolist()
    [0.15000000596046448, 0.20000000298023224, 0.44999998807907104, 0.5]
    >>> mask_to_box(np.zeros((4, 4), bool)).tolist()
    [0.0, 0.0, 0.0, 0.0]
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"`mask` must be 2-D (H, W); got shape {mask.shape}.")
    h, w = mask.shape
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros(4, np.float32)
    return np.array([cols[0] / w, rows[0] / h, (cols[-1] + 1) / w, (rows[-1] + 1) / h], np.float32)


def _unit_polygon(name):
    """Vertices (K, 2) of a class shape inscribed in the unit circle, centred at 0."""
    if name == "circle":
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if name == "square":
        t = np.pi / 4 + np.arange(4) * np.pi / 2
        return np.stack([np.cos(t), np.sin(t)], 1)
    if name == "triangle":
        t = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return np.stack([np.cos(t), np.sin(t)], 1)
    if name == "hexagon":
        t = np.arange(6) * np.pi / 3
        return np.stack([np.cos(t), np.sin(t)], 1)
    if name == "star":
        t = -np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    if name == "cross":
        a, b = 0.32, 0.95
        return np.array([[a, b], [-a, b], [-a, a], [-b, a], [-b, -a], [-a, -a], [-a, -b], [a, -b],
                         [a, -a], [b, -a], [b, a], [a, a]])
    raise ValueError(name)


_POLYGONS = {name: _unit_polygon(name) for name in CLASS_NAMES}


def _interp_matrix(n_out, n_in):
    """Linear interpolation matrix (n_out, n_in) with corners aligned."""
    pos = np.linspace(0, n_in - 1, n_out)
    lo = np.floor(pos).astype(int).clip(0, n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def _backgrounds(rng, n, size):
    """Cluttered backgrounds (n, size, size, 3): two random colours mixed by smooth noise, a
    periodic texture and pixel noise, all in one batched computation."""
    grid = rng.integers(4, 9)
    noise = rng.random((n, grid, grid)).astype(np.float32)
    m = _interp_matrix(size, grid)
    field_ = np.einsum("Hh,nhw,Ww->nHW", m, noise, m)  # smooth mixing weights in [0, 1]
    c1 = rng.random((n, 1, 1, 3), dtype=np.float32)
    c2 = rng.random((n, 1, 1, 3), dtype=np.float32)
    img = c1 + (c2 - c1) * field_[..., None]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    freq = rng.uniform(3, 12, (n, 1, 1)).astype(np.float32)
    ang = rng.uniform(0, np.pi, (n, 1, 1)).astype(np.float32)
    stripes = np.sin(2 * np.pi * freq * (np.cos(ang) * xx + np.sin(ang) * yy))
    amp = rng.uniform(0.03, 0.12, (n, 1, 1, 1)).astype(np.float32)
    img = img + amp * stripes[..., None]
    img = img + rng.normal(0, 0.03, img.shape).astype(np.float32)
    return img


def _poly_mask(name, cx, cy, radius, angle, size):
    verts = _POLYGONS[name]
    c, s = np.cos(angle), np.sin(angle)
    x = cx + radius * (c * verts[:, 0] - s * verts[:, 1])
    y = cy + radius * (s * verts[:, 0] + c * verts[:, 1])
    rr, cc = _draw_polygon(y, x, shape=(size, size))
    mask = np.zeros((size, size), bool)
    mask[rr, cc] = True
    return mask


def _draw_distractors(rng, img, count, size, scale_max):
    for _ in range(count):
        colour = rng.random(3, dtype=np.float32)
        if rng.random() < 0.5:  # a line segment, 1-3 px wide
            p0 = rng.uniform(0, size, 2)
            length = rng.uniform(0.15, 0.5) * size
            a = rng.uniform(0, 2 * np.pi)
            half_w = rng.uniform(0.5, 1.5)
            d = np.array([np.cos(a), np.sin(a)])
            nrm = np.array([-d[1], d[0]]) * half_w
            p1 = p0 + d * length
            quad = np.array([p0 + nrm, p1 + nrm, p1 - nrm, p0 - nrm])
            rr, cc = _draw_polygon(quad[:, 1], quad[:, 0], shape=(size, size))
        else:  # an elongated blob (aspect >= 2.5), never mistaken for a class shape
            cx, cy = rng.uniform(0, size, 2)
            major = rng.uniform(0.04, scale_max) * size
            minor = major / rng.uniform(2.5, 5)
            a = rng.uniform(0, np.pi)
            t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
            x = cx + major * np.cos(t) * np.cos(a) - minor * np.sin(t) * np.sin(a)
            y = cy + major * np.cos(t) * np.sin(a) + minor * np.sin(t) * np.cos(a)
            rr, cc = _draw_polygon(y, x, shape=(size, size))
        img[rr, cc] = colour


#: named data settings of :func:`shapes` (``preset=``): each zoo model and notebook draws its
#: images from one of these, so that held-out images are drawn exactly as the training ones.
PRESETS = {
    # the default: small objects among many distractors (hard)
    "default": dict(scale=(0.1, 0.6), distractors=(3, 8), min_contrast=0.25),
    # the zoo's 128 px models (CAM / WSOL classifiers, localizer): one clear object, few distractors
    "zoo": dict(scale=(0.3, 0.6), distractors=(0, 2), min_contrast=0.4),
    # the small CNN of "inside CNNs" at 64 px: large objects, at most one distractor
    "easy": dict(scale=(0.4, 0.8), distractors=(0, 1), min_contrast=0.5),
}
_DEFAULTS = PRESETS["default"]


def shapes(n, image_size=128, seed=0, classes=("circle", "square", "triangle", "star"),
           n_objects=1, scale=None, distractors=None, min_contrast=None, preset=None):
    """Generate the synthetic ``shapes`` dataset.

    Parameters
    ----------
    n : int
        Number of images (>= 1).
    image_size : int or (int, int)
        Side of the square images in pixels (>= 16); a pair must name a square.
    seed : int
        Same seed, same data. Image ``i`` depends only on ``(seed, i)``, so ``shapes(10, seed=s)`` is
        the first ten images of ``shapes(100, seed=s)``.
    classes : sequence of str
        At least 2 names from :data:`CLASS_NAMES`; labels follow this order.
    n_objects : int or (int, int)
        Objects per image, or an inclusive range drawn per image. Objects never overlap.
    scale : (float, float), optional
        Range of an object's size (diameter of its circumscribed circle) as a fraction of the side
        (default ``(0.1, 0.6)``).
    distractors : (int, int), optional
        Inclusive range of the number of distractors per image (default ``(3, 8)``).
    min_contrast : float, optional
        Minimum Euclidean RGB distance between an object's colour and the mean background colour
        under it, so that every object is visible (default 0.25).
    preset : str, optional
        A named setting of :data:`PRESETS` (``'default'``, ``'zoo'``, ``'easy'``) for ``scale``,
        ``distractors`` and ``min_contrast``; an argument you also pass overrides the preset's.

    Returns
    -------
    ShapesDataset
        ``images`` float32 (N, H, W, 3) in [0, 1]; ``labels`` (N,); ``boxes`` (N, 4) normalised
        xyxy; ``masks`` bool (N, H, W); ``objects`` with every object of every image.

    Examples
    --------
    >>> ds = shapes(8, image_size=64, seed=1)
    >>> ds.images.shape, ds.boxes.shape, ds.masks.shape
    ((8, 64, 64, 3), (8, 4), (8, 64, 64))
    >>> shapes(2, image_size=64, seed=1, preset="zoo").images.shape
    (2, 64, 64, 3)
    """
    base = _preset(preset)
    n = check_int(n, "n", minimum=1)
    size = _square_side(image_size)
    seed = check_seed(seed, allow_none=False)
    classes = _check_classes(classes)
    if np.isscalar(n_objects):
        n_objects = (n_objects, n_objects)
    n_objects = _low_high(n_objects, "n_objects", check_int, minimum=1)
    scale = _low_high(base["scale"] if scale is None else scale, "scale", check_float, 0.02, 1.0)
    distractors = _low_high(base["distractors"] if distractors is None else distractors,
                            "distractors", check_int, minimum=0)
    min_contrast = check_float(base["min_contrast"] if min_contrast is None else min_contrast,
                               "min_contrast", 0.0, 1.0)

    # one background draw per image from its own stream keeps image i independent of n
    seqs = np.random.SeedSequence(seed).spawn(n)
    images = np.empty((n, size, size, 3), np.float32)
    labels = np.empty(n, np.int64)
    boxes = np.empty((n, 4), np.float32)
    masks = np.empty((n, size, size), bool)
    objects = []
    for i, ss in enumerate(seqs):
        rng = np.random.default_rng(ss)
        images[i], obj_labels, obj_masks = _draw_image(rng, size, classes, n_objects, scale,
                                                       distractors, min_contrast)
        obj_boxes = np.stack([mask_to_box(m) for m in obj_masks])
        labels[i], boxes[i], masks[i] = obj_labels[0], obj_boxes[0], obj_masks[0]
        objects.append({"labels": np.asarray(obj_labels, np.int64), "boxes": obj_boxes,
                        "masks": obj_masks})
    return ShapesDataset(images, labels, tuple(classes), boxes, masks, objects)


def _preset(preset):
    """The settings of a :data:`PRESETS` name (None: the default)."""
    if preset is None:
        return _DEFAULTS
    if isinstance(preset, str) and preset in PRESETS:
        return PRESETS[preset]
    raise ValueError(f"`preset` must be None or one of {sorted(PRESETS)}; got {preset!r}.")


def _square_side(image_size):
    """The side of a square ``image_size`` (an int, or a pair of equal ints), at least 16."""
    h, w = check_size(image_size, "image_size", minimum=16)
    if h != w:
        raise ValueError(f"`image_size` must be square: shapes draws square images; got "
                         f"{image_size!r}.")
    return h


def _check_classes(classes):
    if isinstance(classes, str) or len(classes) < 2:
        raise ValueError(f"`classes` must be a sequence of at least 2 names from {CLASS_NAMES}; "
                         f"got {classes!r}.")
    unknown = [c for c in classes if c not in CLASS_NAMES]
    if unknown or len(set(classes)) != len(classes):
        raise ValueError(f"`classes` must be distinct names from {CLASS_NAMES}; got {list(classes)}.")
    return classes


def _low_high(pair, name, check, *args, **kwargs):
    """``(low, high)`` of the argument ``name``, each through ``check``, with low <= high."""
    low, high = (check(v, name, *args, **kwargs) for v in pair)
    if high < low:
        raise ValueError(f"`{name}` must be (low, high) with low <= high; got {pair}.")
    return low, high


def _draw_image(rng, size, classes, n_objects, scale, distractors, min_contrast):
    """One image: background, distractors, then the objects. Returns ``(image, labels, masks)``."""
    img = _backgrounds(rng, 1, size)[0]
    _draw_distractors(rng, img, int(rng.integers(distractors[0], distractors[1] + 1)), size,
                      scale[0] * 0.8)
    k = int(rng.integers(n_objects[0], n_objects[1] + 1))
    occupied = np.zeros((size, size), bool)
    obj_labels, obj_masks = [], []
    for _ in range(k):
        lab, mask = _place_object(rng, size, classes, scale, occupied, k)
        _paint_object(rng, img, mask, min_contrast)
        occupied |= mask
        obj_labels.append(lab)
        obj_masks.append(mask)
    return np.clip(img, 0.0, 1.0), obj_labels, np.stack(obj_masks)


def _place_object(rng, size, classes, scale, occupied, k):
    """A random class, size, position and rotation whose mask misses ``occupied`` (50 tries)."""
    for _attempt in range(50):
        diameter = rng.uniform(scale[0], scale[1]) * size
        r = diameter / 2
        cx, cy = rng.uniform(r, size - r, 2)
        lab = int(rng.integers(len(classes)))
        mask = _poly_mask(classes[lab], cx, cy, r, rng.uniform(0, 2 * np.pi), size)
        if mask.any() and not (mask & occupied).any():
            return lab, mask
    raise ValueError(f"could not place {k} non-overlapping objects in a {size}px image; "
                     "lower `n_objects` or `scale`.")


def _paint_object(rng, img, mask, min_contrast):
    """Fill ``mask`` with a colour at least ``min_contrast`` from the background under it (20
    tries), plus a little shading noise."""
    under = img[mask].mean(0)
    for _c in range(20):
        colour = rng.random(3, dtype=np.float32)
        if np.linalg.norm(colour - under) >= min_contrast:
            break
    shade = rng.normal(0, 0.04, (int(mask.sum()), 1)).astype(np.float32)
    img[mask] = colour + shade
