r"""Shared record reading of the dataset loaders: the record type :class:`LocalizationRecords`,
line and number parsing, class ids, the ``on_error`` policy and the conversion of pixel boxes.

Every loader of :mod:`cvkit.datasets.formats` runs the same steps: resolve its folder, read its
index lines, parse each line into a row, settle the class names, turn each row into one record
(image path, label, box, size), and :meth:`_Reader.finish` the records. A bad line or record raises
:class:`DatasetFormatError` naming the file and the line; :class:`_Reader` raises it or, with
``on_error='skip'``, drops the record and keeps the reason.

The box of a record is normalised ``xyxy`` with pixel edges: the pixel-edge box
``(x_0, y_0, x_1, y_1)`` of a ``W`` x ``H`` image becomes
:math:`(x_0 / W,\ y_0 / H,\ x_1 / W,\ y_1 / H)` (:func:`_normalise_box`).
"""
from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..._validate import check_choice, check_int, check_seed, check_size

__all__ = ["BOX_TOLERANCE_PX", "MAX_CLASS_ID", "DatasetFormatError", "LocalizationRecords"]

#: Boxes may overshoot the image by at most this many pixels (then they are clipped to it);
#: a larger overshoot is an error.
BOX_TOLERANCE_PX = 1.0

#: A class id (or integer CSV label) above this is taken for a typo: an error naming its line,
#: never a reason to build that many class names.
MAX_CLASS_ID = 100_000

_ON_ERROR = ("raise", "skip")


class DatasetFormatError(ValueError):
    """A problem in a dataset on disk, naming the file (``.path``) and the line (``.line``).

    ``.skippable`` tells whether ``on_error='skip'`` may drop the record it belongs to.

    Examples
    --------
    >>> err = DatasetFormatError("boxes.csv", 3, "empty path or label.")
    >>> str(err), err.line, err.skippable
    ('boxes.csv, line 3: empty path or label.', 3, True)
    >>> isinstance(err, ValueError)
    True
    """

    def __init__(self, path, line, message, skippable=True):
        self.path = str(path)
        self.line = line
        self.skippable = skippable
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


# ------------------------------------------------------------------------------------------------
# the record type
# ------------------------------------------------------------------------------------------------


def _image_size(image_size):
    """``(height, width)`` of an ``image_size`` argument: an int or a pair of ints."""
    if isinstance(image_size, (tuple, list, np.ndarray)) and len(image_size) != 2:
        raise ValueError(f"`image_size` must be an int or a (height, width) pair; got "
                         f"{image_size!r}.")
    return check_size(image_size, "image_size")


@dataclass
class LocalizationRecords:
    """Image paths and annotations of a localization dataset on disk (one object per record).

    Attributes
    ----------
    paths : list of str
        Absolute path of each image.
    labels : np.ndarray
        int64 (N,) class index into ``class_names`` (0-based).
    class_names : tuple of str
    boxes : np.ndarray
        float32 (N, 4) normalised ``xyxy`` (pixel edges, see the module docstring). Rows are NaN
        for images without a box (only with ``load_oxford_pet(..., require_boxes=False)``).
    sizes : np.ndarray
        int64 (N, 2) original ``(height, width)`` of each image in pixels.
    mask_paths : list of str or None
        Oxford-IIIT Pet trimaps (1 = pet, 2 = background, 3 = border); None for other sources.
    source : str
        ``'oxford_pet'``, ``'cub200'`` or ``'csv'``.
    skipped : list of str
        With ``on_error='skip'``: one ``"file, line n: reason"`` per dropped record.

    Examples
    --------
    >>> recs = LocalizationRecords(["/data/a.png", "/data/b.png"], np.array([0, 1]),
    ...                            ("cat", "dog"), np.array([[0, 0, 1, 1], [0, 0, .5, .5]]),
    ...                            np.array([[32, 32], [64, 48]]), source="csv")
    >>> recs
    LocalizationRecords(source='csv', n=2, classes=2, masks=False, skipped=0)
    >>> len(recs.subset([1])), recs.has_masks
    (1, False)
    """

    paths: list
    labels: np.ndarray
    class_names: tuple
    boxes: np.ndarray
    sizes: np.ndarray
    mask_paths: list | None = None
    source: str = ""
    skipped: list = field(default_factory=list)

    def __len__(self):
        return len(self.paths)

    def __repr__(self):
        return (f"LocalizationRecords(source={self.source!r}, n={len(self)}, "
                f"classes={len(self.class_names)}, masks={self.mask_paths is not None}, "
                f"skipped={len(self.skipped)})")

    @property
    def has_masks(self):
        """True when the records carry segmentation masks (Oxford-IIIT Pet trimaps)."""
        return self.mask_paths is not None

    def subset(self, index):
        """New records with the items at ``index`` (a slice, an index array or a boolean mask).

        Examples
        --------
        >>> from cvkit.datasets import load_csv
        >>> recs = load_csv("datasets/fixtures/csv/boxes.csv")  # from the repository root
        >>> sub = recs.subset(slice(0, 2))
        >>> len(sub), sub.paths == recs.paths[:2]
        (2, True)
        """
        idx = np.arange(len(self))[index]
        return LocalizationRecords(
            [self.paths[i] for i in idx], self.labels[idx], self.class_names, self.boxes[idx],
            self.sizes[idx], None if self.mask_paths is None else [self.mask_paths[i] for i in idx],
            self.source, list(self.skipped))

    def to_dataset(self, image_size=128, masks=False, border="foreground", batch_size=None,
                   shuffle=False, seed=0):
        """A ``tf.data.Dataset`` that reads, decodes and resizes the images.

        Each element is a dict ``{"image": float32 (h, w, 3) in [0, 1], "label": int64,
        "box": float32 (4,) normalised xyxy}`` plus ``"mask": bool (h, w)`` when ``masks``.
        Images are decoded with ``tf.io.decode_image`` (JPEG, PNG, GIF, BMP; grey images become
        RGB) and resized with antialiased bilinear interpolation; masks with nearest neighbour.
        Boxes are normalised, so resizing leaves them unchanged:
        :math:`x_{min} = x_0 / W = (s\\,x_0) / (s\\,W)`.

        Parameters
        ----------
        image_size : int or (int, int)
            Output ``(height, width)``; an int gives a square.
        masks : bool
            Add the trimap-derived masks (Oxford-IIIT Pet only).
        border : {'foreground', 'background'}
            Where the trimap's border pixels (value 3) go when ``masks``.
        batch_size : int or None
            Batch the elements (the last batch may be smaller).
        shuffle : bool
            Shuffle the records (whole-dataset buffer) before reading, with ``seed``.
        seed : int
            Seed of the shuffle; the same seed gives the same order.

        Examples
        --------
        >>> from cvkit.datasets import load_oxford_pet
        >>> recs = load_oxford_pet("datasets/fixtures/oxford_pet")  # from the repository root
        >>> item = next(iter(recs.to_dataset((40, 56), masks=True)))
        >>> sorted(item), tuple(item["image"].shape), tuple(item["mask"].shape)
        (['box', 'image', 'label', 'mask'], (40, 56, 3), (40, 56))
        """
        import tensorflow as tf

        h, w = _image_size(image_size)
        masks = bool(masks)
        border = check_choice(border, "border", ("foreground", "background"))
        if masks:
            self._require_masks()
        seed = check_seed(seed, allow_none=False)
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", minimum=1)
        if len(self) == 0:
            raise ValueError("these records are empty: there is nothing to load.")

        columns = {"path": tf.constant(self.paths), "label": tf.constant(self.labels, tf.int64),
                   "box": tf.constant(self.boxes, tf.float32)}
        if masks:
            columns["mask_path"] = tf.constant(self.mask_paths)
        ds = tf.data.Dataset.from_tensor_slices(columns)
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=False)
        fg_values = (1, 3) if border == "foreground" else (1,)
        read = _element_reader((h, w), fg_values if masks else None)
        ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if batch_size is not None:
            ds = ds.batch(batch_size)
        return ds.prefetch(tf.data.AUTOTUNE)

    def load_images(self, image_size=128):
        """All images as one float32 array ``(N, h, w, 3)`` in [0, 1], in record order.

        Decoding and resizing as in :meth:`to_dataset`. The array holds
        ``N * h * w * 3 * 4`` bytes (CUB-200-2011 at 224 px: about 7 GB): for a full real dataset
        use :meth:`to_dataset`, or :meth:`subset` first.

        Examples
        --------
        >>> from cvkit.datasets import load_csv
        >>> recs = load_csv("datasets/fixtures/csv/boxes.csv")  # from the repository root
        >>> images = recs.load_images((24, 32))
        >>> images.shape, images.dtype
        ((6, 24, 32, 3), dtype('float32'))
        """
        return self._stack("image", image_size)

    def load_masks(self, image_size=128, border="foreground"):
        """Pet masks as a bool array ``(N, h, w)`` from the trimaps (nearest-neighbour resize).

        The trimap marks 1 = pet, 2 = background, 3 = the uncertain border around the pet;
        ``border='foreground'`` counts the border as pet, ``'background'`` as background.

        Examples
        --------
        >>> from cvkit.datasets import load_oxford_pet
        >>> pets = load_oxford_pet("datasets/fixtures/oxford_pet")  # from the repository root
        >>> fg, bg = pets.load_masks(32), pets.load_masks(32, border="background")
        >>> fg.shape, fg.dtype, bool((fg >= bg).all())
        ((5, 32, 32), dtype('bool'), True)
        """
        self._require_masks()
        return self._stack("mask", image_size, masks=True, border=border)

    def _require_masks(self):
        if self.mask_paths is None:
            raise ValueError(f"`masks`: these {self.source or 'records'} records have no masks; "
                             "only Oxford-IIIT Pet (trimaps) carries them.")

    def _stack(self, key, image_size, **kwargs):
        import tensorflow as tf

        ds = self.to_dataset(image_size, batch_size=64, **kwargs)
        try:
            return np.concatenate([batch[key].numpy() for batch in ds], axis=0)
        except tf.errors.OpError as exc:   # e.g. "Invalid PNG data", which names no file
            raise self._undecodable(exc, kwargs.get("masks", False)) from None

    def _undecodable(self, exc, masks):
        """The error to raise when decoding failed: find the first file that does not decode and
        name it (TensorFlow's own message does not)."""
        import tensorflow as tf

        files = list(self.paths) + (list(self.mask_paths) if masks else [])
        for path in files:
            try:
                tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
            except (tf.errors.OpError, ValueError) as err:
                reason = getattr(err, "message", str(err)).strip().splitlines()[0]
                reason = re.sub(r"\s*\[Op:.*$", "", re.sub(r"\{\{[^}]*\}\}\s*", "", reason))
                return DatasetFormatError(path, None, f"cannot decode the image ({reason}); "
                                          "the file is corrupt or not an image.",
                                          skippable=False)
        return exc


def _decode_named(raw, path):
    """Decode one image eagerly (inside ``tf.py_function``); a file that does not decode raises
    with its name, which TensorFlow's own message leaves out."""
    import tensorflow as tf

    try:
        return tf.io.decode_image(raw, channels=3, expand_animations=False)
    except tf.errors.InvalidArgumentError as err:
        reason = err.message.strip().splitlines()[0]
        raise ValueError(f"{path.numpy().decode()}: cannot decode the image ({reason}); the file "
                         "is corrupt or not an image.") from None


def _element_reader(size, fg_values):
    """The ``tf.data`` map function of :meth:`LocalizationRecords.to_dataset`: read, decode and
    resize one image (and its trimap when ``fg_values`` lists the trimap values of the mask).
    A file that does not decode stops the iteration with an error that names it."""
    import tensorflow as tf

    def read(item):
        raw = tf.io.read_file(item["path"])
        img = tf.py_function(_decode_named, [raw, item["path"]], tf.uint8)
        img.set_shape([None, None, 3])
        img = tf.image.convert_image_dtype(img, tf.float32)
        img = tf.image.resize(img, size, method="bilinear", antialias=True)
        out = {"image": tf.clip_by_value(img, 0.0, 1.0), "label": item["label"],
               "box": item["box"]}
        if fg_values is not None:
            tri = tf.io.decode_png(tf.io.read_file(item["mask_path"]), channels=1)
            tri = tf.image.resize(tri, size, method="nearest")[..., 0]
            fg = tf.zeros_like(tri, tf.bool)
            for v in fg_values:
                fg = tf.logical_or(fg, tf.equal(tri, v))
            out["mask"] = fg
        return out

    return read


# ------------------------------------------------------------------------------------------------
# on_error: raise or collect, then build the records
# ------------------------------------------------------------------------------------------------


class _Record(NamedTuple):
    """One good record, as a loader's last step makes it."""

    path: str
    label: int
    box: np.ndarray
    size: tuple
    mask_path: str | None = None


class _Reader:
    """Raise or collect record-level errors according to ``on_error``, for the loader ``loader``."""

    def __init__(self, on_error, loader):
        self.on_error = check_choice(on_error, "on_error", _ON_ERROR)
        self.loader = loader
        self.skipped = []

    def handle(self, err):
        """Raise ``err``, or keep its reason when ``on_error='skip'`` and it is skippable."""
        if self.on_error == "raise" or not err.skippable:
            raise err
        self.skipped.append(str(err))

    def each(self, items, step):
        """``[step(item) for item in items]`` without the bad items (:meth:`handle`) and Nones."""
        out = []
        for item in items:
            try:
                result = step(item)
            except DatasetFormatError as err:
                self.handle(err)
                continue
            if result is not None:
                out.append(result)
        return out

    def finish(self, records, class_names, source, masks=False):
        """The :class:`LocalizationRecords` of ``records``; warns once about skipped records."""
        built = _build(records, class_names, source, masks)
        if self.skipped:
            warnings.warn(f"{self.loader}: skipped {len(self.skipped)} bad record(s); the reasons "
                          f"are in `.skipped`. First: {self.skipped[0]}", UserWarning, stacklevel=3)
        if len(built) == 0:
            raise ValueError(f"{self.loader}: no valid records were found"
                             + (f" ({len(self.skipped)} skipped; first: {self.skipped[0]})"
                                if self.skipped else "") + ".")
        built.skipped = list(self.skipped)
        return built


def _build(records, class_names, source, masks):
    n = len(records)
    return LocalizationRecords(
        [r.path for r in records], np.asarray([r.label for r in records], np.int64).reshape(n),
        tuple(class_names), np.asarray([r.box for r in records], np.float32).reshape(n, 4),
        np.asarray([r.size for r in records], np.int64).reshape(n, 2),
        [r.mask_path for r in records] if masks else None, source)


# ------------------------------------------------------------------------------------------------
# files, lines and numbers
# ------------------------------------------------------------------------------------------------


def _resolve(path):
    """An absolute path (``~`` expanded) of a ``str`` or path-like ``path``."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def _require_dir(path, what, hint):
    if not os.path.isdir(path):
        raise DatasetFormatError(path, None, f"{what} folder not found. {hint}", skippable=False)


def _read_lines(path, what, hint=""):
    """Non-blank lines of a text file as ``(line_number, stripped_text)``."""
    if not os.path.isfile(path):
        raise DatasetFormatError(path, None, f"{what} not found. {hint}".strip(), skippable=False)
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: a byte-order mark is not text
            text = f.read()
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(path, None, f"{what} is not UTF-8 text ({exc}).",
                                 skippable=False) from None
    return [(i, s.strip()) for i, s in enumerate(text.splitlines(), start=1) if s.strip()]


def _number(text, path, line, what):
    """``float(text)``, finite, or an error naming ``path`` and ``line``."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise DatasetFormatError(path, line, f"{what} must be a number; got {text!r}.") from None
    if not np.isfinite(v):
        raise DatasetFormatError(path, line, f"{what} must be finite; got {text!r}.")
    return v


def _integer(text, path, line, what, minimum=None):
    """``int(text)`` (at least ``minimum``), or an error naming ``path`` and ``line``."""
    try:
        v = int(text)
    except (TypeError, ValueError):
        raise DatasetFormatError(path, line, f"{what} must be an integer; got {text!r}.") from None
    if minimum is not None and v < minimum:
        raise DatasetFormatError(path, line, f"{what} must be >= {minimum}; got {v}.")
    return v


def _image_header_size(path, ref_path, ref_line):
    """(height, width) of an image from its header; errors name the index file and line."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise DatasetFormatError(ref_path, ref_line, f"image file not found: {path}")
    try:
        with Image.open(path) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetFormatError(ref_path, ref_line,
                                 f"cannot read the image header of {path} ({exc}).") from None
    return int(h), int(w)


# ------------------------------------------------------------------------------------------------
# class ids
# ------------------------------------------------------------------------------------------------


def _check_class_id(class_id, path, line, what):
    """``class_id`` unless it exceeds :data:`MAX_CLASS_ID` (a typo: an error naming the line)."""
    if class_id > MAX_CLASS_ID:
        raise DatasetFormatError(path, line, f"{what} {class_id} is above {MAX_CLASS_ID}: a typo? "
                                             "(class ids count the classes from 0 or 1).")
    return class_id


def _assign_class_ids(pairs):
    """One name per class id and one id per name, from ``(class_id, name)`` pairs (one per line).

    The pair seen on most lines wins (on a tie, the one seen first), so one mistyped line loses
    against the lines that agree with each other. Returns ``{class_id: name}``.
    """
    counts = Counter(pairs)
    first = {pair: i for i, pair in reversed(list(enumerate(pairs)))}
    by_id, taken = {}, set()
    for class_id, name in sorted(counts, key=lambda p: (-counts[p], first[p])):
        if class_id not in by_id and name not in taken:
            by_id[class_id] = name
            taken.add(name)
    return by_id


def _check_class(class_id, name, by_id, path, line, what):
    """Raise unless the line's ``(class_id, name)`` is the pair :func:`_assign_class_ids` chose."""
    if by_id.get(class_id) == name:
        return
    if class_id in by_id:
        raise DatasetFormatError(path, line, f"{what} {class_id} is '{by_id[class_id]}' on the "
                                             f"other lines but the image name says '{name}'.")
    other = next(i for i, n in by_id.items() if n == name)
    raise DatasetFormatError(path, line, f"{what} is {class_id} but '{name}' has {what} {other} "
                                         "on the other lines.")


def _names_by_id(by_id, first=1):
    """Class names for the ids ``first .. max(by_id)``; an id no line names gets ``'class_<id>'``."""
    top = max(by_id)
    return tuple(by_id.get(i, f"class_{i}") for i in range(first, top + 1))


# ------------------------------------------------------------------------------------------------
# boxes
# ------------------------------------------------------------------------------------------------


def _normalise_box(edges, height, width, path, line, tol=None):
    """Pixel-edge box ``(x0, y0, x1, y1)`` -> normalised xyxy, checking it lies in the image."""
    tol = BOX_TOLERANCE_PX if tol is None else tol
    x0, y0, x1, y1 = (float(v) for v in edges)
    if not np.all(np.isfinite([x0, y0, x1, y1])):
        raise DatasetFormatError(path, line, f"box has a non-finite coordinate: {edges}.")
    if x1 <= x0 or y1 <= y0:
        raise DatasetFormatError(path, line, f"box is inverted or empty: pixel edges "
                                             f"x {x0:g}..{x1:g}, y {y0:g}..{y1:g} (need "
                                             "x_min < x_max and y_min < y_max).")
    if x0 < -tol or y0 < -tol or x1 > width + tol or y1 > height + tol:
        raise DatasetFormatError(path, line, f"box lies outside the {width}x{height} (WxH) image: "
                                             f"pixel edges x {x0:g}..{x1:g}, y {y0:g}..{y1:g}.")
    box = np.array([x0 / width, y0 / height, x1 / width, y1 / height], np.float64)
    return np.clip(box, 0.0, 1.0).astype(np.float32)
