r"""Loaders for real localization datasets on disk: Oxford-IIIT Pet, CUB-200-2011 and a CSV.

Nothing here downloads. Each loader reads a folder that the user prepared (``datasets/README.md``
says where to get each dataset and how its folder looks) and returns one record type,
:class:`LocalizationRecords`: image paths, integer labels, class names, boxes in the project's
internal format (normalised ``xyxy``), image sizes and, for Oxford-IIIT Pet, the trimap paths.
Images are decoded only when asked for, with :meth:`LocalizationRecords.load_images` or
:meth:`LocalizationRecords.to_dataset` (``tf.io`` decoding and resizing).

Pixel conventions
-----------------
The internal box is normalised ``xyxy`` with *pixel edges*: a box covering the pixel columns
``c0 .. c1`` (0-based, inclusive) of an image ``W`` pixels wide has ``x_min = c0 / W`` and
``x_max = (c1 + 1) / W`` (the same as :func:`cvkit.datasets.mask_to_box`). Each source states its
boxes in its own convention, converted as follows (rows likewise with ``H``):

- **Oxford-IIIT Pet** (VOC xml): ``xmin .. xmax`` are 1-based inclusive pixel indices, so
  :math:`x_{min} = (\mathrm{xmin} - 1) / W` and :math:`x_{max} = \mathrm{xmax} / W`.
- **CUB-200-2011**: ``x y width height`` are the 0-based top-left corner and the size in pixels
  (floats), so the edges are ``x .. x + width``: :math:`x_{min} = x / W`,
  :math:`x_{max} = (x + \mathrm{width}) / W`.
- **CSV**: ``x_min .. x_max`` are pixel edges (0 = the left edge of the image, ``W`` = its right
  edge; ints or floats): :math:`x_{min} = x_{min}^{px} / W`, :math:`x_{max} = x_{max}^{px} / W`.

Bad input
---------
A missing file or folder, a malformed line, or a box that lies outside the image (by more than
:data:`BOX_TOLERANCE_PX` pixels; smaller overshoots from annotation tools are clipped) or is
inverted / empty raises :class:`DatasetFormatError` (a ``ValueError``) naming the file and the line.
With ``on_error='skip'`` the loader drops each bad record instead, lists the reasons in
``records.skipped`` and warns once with their count. A missing dataset folder or index file, and a
broken class list, always raise: there is nothing to skip to.

The notebook ``notebooks/00_datasets_and_preprocessing.ipynb`` shows these loaders on the fixture
copies in ``datasets/fixtures/``.
"""
from __future__ import annotations

import csv
import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_choice, check_int

__all__ = [
    "BOX_TOLERANCE_PX",
    "DatasetFormatError",
    "LocalizationRecords",
    "load_oxford_pet",
    "load_cub200",
    "load_csv",
]

#: Boxes may overshoot the image by at most this many pixels (then they are clipped to it);
#: a larger overshoot is an error.
BOX_TOLERANCE_PX = 1.0

_ON_ERROR = ("raise", "skip")


class DatasetFormatError(ValueError):
    """A problem in a dataset on disk, naming the file (``.path``) and the line (``.line``).

    ``.skippable`` tells whether ``on_error='skip'`` may drop the record it belongs to.
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


def _image_size_arg(image_size):
    if np.isscalar(image_size):
        s = check_int(image_size, "image_size", minimum=1)
        return s, s
    try:
        h, w = image_size
    except (TypeError, ValueError):
        raise ValueError(f"`image_size` must be an int or a (height, width) pair; got "
                         f"{image_size!r}.") from None
    return check_int(h, "image_size", minimum=1), check_int(w, "image_size", minimum=1)


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
        """New records with the items at ``index`` (a slice, an index array or a boolean mask)."""
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
        """
        import tensorflow as tf

        h, w = _image_size_arg(image_size)
        masks = bool(masks)
        border = check_choice(border, "border", ("foreground", "background"))
        if masks:
            self._require_masks()
        seed = check_int(seed, "seed", minimum=0)
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

        def _read(item):
            raw = tf.io.read_file(item["path"])
            img = tf.io.decode_image(raw, channels=3, expand_animations=False)
            img = tf.image.convert_image_dtype(img, tf.float32)
            img = tf.image.resize(img, (h, w), method="bilinear", antialias=True)
            out = {"image": tf.clip_by_value(img, 0.0, 1.0), "label": item["label"],
                   "box": item["box"]}
            if masks:
                tri = tf.io.decode_png(tf.io.read_file(item["mask_path"]), channels=1)
                tri = tf.image.resize(tri, (h, w), method="nearest")[..., 0]
                fg = tf.zeros_like(tri, tf.bool)
                for v in fg_values:
                    fg = tf.logical_or(fg, tf.equal(tri, v))
                out["mask"] = fg
            return out

        ds = ds.map(_read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if batch_size is not None:
            ds = ds.batch(batch_size)
        return ds.prefetch(tf.data.AUTOTUNE)

    def load_images(self, image_size=128):
        """All images as one float32 array ``(N, h, w, 3)`` in [0, 1], in record order.

        Decoding and resizing as in :meth:`to_dataset`. The array holds
        ``N * h * w * 3 * 4`` bytes (CUB-200-2011 at 224 px: about 7 GB): for a full real dataset
        use :meth:`to_dataset`, or :meth:`subset` first.
        """
        return self._stack("image", image_size)

    def load_masks(self, image_size=128, border="foreground"):
        """Pet masks as a bool array ``(N, h, w)`` from the trimaps (nearest-neighbour resize).

        The trimap marks 1 = pet, 2 = background, 3 = the uncertain border around the pet;
        ``border='foreground'`` counts the border as pet, ``'background'`` as background.
        """
        self._require_masks()
        return self._stack("mask", image_size, masks=True, border=border)

    def _require_masks(self):
        if self.mask_paths is None:
            raise ValueError(f"`masks`: these {self.source or 'records'} records have no masks; "
                             "only Oxford-IIIT Pet (trimaps) carries them.")

    def _stack(self, key, image_size, **kwargs):
        ds = self.to_dataset(image_size, batch_size=64, **kwargs)
        return np.concatenate([batch[key].numpy() for batch in ds], axis=0)


# ------------------------------------------------------------------------------------------------
# shared reading helpers
# ------------------------------------------------------------------------------------------------


class _Collector:
    """Raise or collect record-level errors according to ``on_error``."""

    def __init__(self, on_error, loader):
        self.on_error = check_choice(on_error, "on_error", _ON_ERROR)
        self.loader = loader
        self.skipped = []

    def handle(self, err):
        if self.on_error == "raise" or not err.skippable:
            raise err
        self.skipped.append(str(err))

    def finish(self, records):
        if self.skipped:
            warnings.warn(f"{self.loader}: skipped {len(self.skipped)} bad record(s); the reasons "
                          f"are in `.skipped`. First: {self.skipped[0]}", UserWarning, stacklevel=3)
        if len(records) == 0:
            raise ValueError(f"{self.loader}: no valid records were found"
                             + (f" ({len(self.skipped)} skipped; first: {self.skipped[0]})"
                                if self.skipped else "") + ".")
        records.skipped = list(self.skipped)
        return records


def _require_dir(path, what, hint):
    if not os.path.isdir(path):
        raise DatasetFormatError(path, None, f"{what} folder not found. {hint}", skippable=False)


def _read_lines(path, what, hint=""):
    """Non-blank lines of a text file as ``(line_number, stripped_text)``."""
    if not os.path.isfile(path):
        raise DatasetFormatError(path, None, f"{what} not found. {hint}".strip(), skippable=False)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(path, None, f"{what} is not UTF-8 text ({exc}).",
                                 skippable=False) from None
    return [(i, s.strip()) for i, s in enumerate(text.splitlines(), start=1) if s.strip()]


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


def _number(text, path, line, what):
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise DatasetFormatError(path, line, f"{what} must be a number; got {text!r}.") from None
    if not np.isfinite(v):
        raise DatasetFormatError(path, line, f"{what} must be finite; got {text!r}.")
    return v


def _integer(text, path, line, what, minimum=None):
    try:
        v = int(text)
    except (TypeError, ValueError):
        raise DatasetFormatError(path, line, f"{what} must be an integer; got {text!r}.") from None
    if minimum is not None and v < minimum:
        raise DatasetFormatError(path, line, f"{what} must be >= {minimum}; got {v}.")
    return v


def _build(paths, labels, class_names, boxes, sizes, mask_paths, source):
    n = len(paths)
    return LocalizationRecords(
        list(paths), np.asarray(labels, np.int64).reshape(n),
        tuple(class_names), np.asarray(boxes, np.float32).reshape(n, 4),
        np.asarray(sizes, np.int64).reshape(n, 2),
        None if mask_paths is None else list(mask_paths), source)


# ------------------------------------------------------------------------------------------------
# Oxford-IIIT Pet
# ------------------------------------------------------------------------------------------------


def _parse_xml(path):
    """A VOC xml file as nested dicts ``{tag, line, text, children}`` (expat keeps line numbers)."""
    import xml.parsers.expat

    parser = xml.parsers.expat.ParserCreate()
    root = {"tag": None, "line": 0, "text": [], "children": []}
    stack = [root]

    def start(tag, attrs):
        node = {"tag": tag, "line": parser.CurrentLineNumber, "text": [], "children": []}
        stack[-1]["children"].append(node)
        stack.append(node)

    def end(tag):
        node = stack.pop()
        node["text"] = "".join(node["text"]).strip()

    def chars(data):
        stack[-1]["text"].append(data)

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = chars
    try:
        with open(path, "rb") as f:
            parser.ParseFile(f)
    except xml.parsers.expat.ExpatError as exc:
        raise DatasetFormatError(path, exc.lineno, f"malformed XML ({exc}).") from None
    if not root["children"]:
        raise DatasetFormatError(path, 1, "empty XML file.")
    return root["children"][0]


def _child(node, tag):
    for c in node["children"]:
        if c["tag"] == tag:
            return c
    return None


def _read_voc_box(xml_path):
    """``(size or None, pixel-edge box, line)`` of the first object of a VOC xml file.

    VOC stores 1-based inclusive pixel indices, so the edges are ``(xmin - 1, ymin - 1, xmax,
    ymax)``.
    """
    ann = _parse_xml(xml_path)
    size = None
    size_node = _child(ann, "size")
    if size_node is not None:
        w_node, h_node = _child(size_node, "width"), _child(size_node, "height")
        if (w_node is None) != (h_node is None):
            raise DatasetFormatError(xml_path, size_node["line"], "<size> needs both <width> and "
                                                                  "<height>.")
        if w_node is not None:  # an empty <size/> counts as absent: read the image header
            w = _number(w_node["text"], xml_path, w_node["line"], "<width>")
            h = _number(h_node["text"], xml_path, h_node["line"], "<height>")
            if w > 0 and h > 0:  # VOC tools write 0 when they do not know: read the header
                size = (int(round(h)), int(round(w)))
    obj = _child(ann, "object")
    bnd = None if obj is None else _child(obj, "bndbox")
    if bnd is None:
        raise DatasetFormatError(xml_path, (obj or ann)["line"], "no <object><bndbox> element.")
    coords = []
    for tag in ("xmin", "ymin", "xmax", "ymax"):
        node = _child(bnd, tag)
        if node is None:
            raise DatasetFormatError(xml_path, bnd["line"], f"<bndbox> has no <{tag}>.")
        coords.append(_number(node["text"], xml_path, node["line"], f"<{tag}>"))
    xmin, ymin, xmax, ymax = coords
    return size, (xmin - 1.0, ymin - 1.0, xmax, ymax), bnd["line"]


def load_oxford_pet(root, split="all", require_boxes=True, masks=True, on_error="raise"):
    """Oxford-IIIT Pet (37 cat and dog breeds) from its folder on disk; never downloads.

    Layout (the two official archives unpacked into ``root``)::

        root/images/<name>.jpg
        root/annotations/list.txt   # "#" header lines, then: Image CLASS-ID SPECIES BREED-ID
        root/annotations/trainval.txt, test.txt   # same columns, no header (for ``split``)
        root/annotations/xmls/<name>.xml     # VOC head box; only for (most) trainval images
        root/annotations/trimaps/<name>.png  # 1 = pet, 2 = background, 3 = border

    The label is ``CLASS-ID - 1`` (breed, 0..36) and the class name is the image name without its
    trailing ``_<number>`` (``"Abyssinian_100"`` -> ``"Abyssinian"``). The box is the **head**
    box of the xml file, stored as 1-based inclusive pixel indices and converted to pixel edges:
    :math:`x_{min} = (\\mathrm{xmin} - 1) / W`, :math:`x_{max} = \\mathrm{xmax} / W`. The image size
    comes from the xml's ``<size>`` (else from the image header).

    Parameters
    ----------
    root : str or path
        The dataset folder (holding ``images/`` and ``annotations/``).
    split : {'all', 'trainval', 'test'}
        ``'all'`` reads ``annotations/list.txt``; the others ``annotations/<split>.txt``.
    require_boxes : bool
        Keep only images that have an xml box (the localization subset; the official test images
        have none). With False every listed image is kept and images without an xml get a NaN box.
    masks : bool
        Attach the trimap of each image (``records.load_masks``); a missing trimap is then an error.
    on_error : {'raise', 'skip'}
        What to do with a bad record (see the module docstring).

    Returns
    -------
    LocalizationRecords

    Examples
    --------
    >>> pets = load_oxford_pet("datasets/fixtures/oxford_pet")  # from the repository root
    >>> pets.load_images(64).shape, pets.load_masks(64).shape
    ((5, 64, 64, 3), (5, 64, 64))
    """
    collector = _Collector(on_error, "load_oxford_pet")
    split = check_choice(split, "split", ("all", "trainval", "test"))
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    hint = ("Download 'images.tar.gz' and 'annotations.tar.gz' from the Oxford-IIIT Pet page and "
            "unpack both into `root` (see datasets/README.md).")
    _require_dir(root, "Oxford-IIIT Pet root", hint)
    ann_dir = os.path.join(root, "annotations")
    img_dir = os.path.join(root, "images")
    _require_dir(ann_dir, "annotations", hint)
    _require_dir(img_dir, "images", hint)
    list_path = os.path.join(ann_dir, "list.txt" if split == "all" else f"{split}.txt")
    lines = _read_lines(list_path, f"the Oxford-IIIT Pet index ({os.path.basename(list_path)})",
                        hint)

    names_by_id = {}
    rows = []
    for lineno, text in lines:
        if text.startswith("#"):
            continue
        parts = text.split()
        try:
            if len(parts) != 4:
                raise DatasetFormatError(list_path, lineno, "expected 4 columns 'Image CLASS-ID "
                                                            f"SPECIES BREED-ID'; got {text!r}.")
            name = parts[0]
            class_id = _integer(parts[1], list_path, lineno, "CLASS-ID", minimum=1)
            _integer(parts[2], list_path, lineno, "SPECIES", minimum=1)
            _integer(parts[3], list_path, lineno, "BREED-ID", minimum=1)
            breed = re.sub(r"_\d+$", "", name)
            if names_by_id.setdefault(class_id, breed) != breed:
                raise DatasetFormatError(list_path, lineno,
                                         f"CLASS-ID {class_id} is '{names_by_id[class_id]}' on "
                                         f"earlier lines but the image name says '{breed}'.")
        except DatasetFormatError as err:
            collector.handle(err)
            continue
        rows.append((lineno, name, class_id))

    if not names_by_id:
        raise DatasetFormatError(list_path, None, "no image lines (only comments or blank lines).",
                                 skippable=False)
    n_classes = max(names_by_id)
    class_names = tuple(names_by_id.get(i, f"class_{i}") for i in range(1, n_classes + 1))

    paths, labels, boxes, sizes, mask_paths = [], [], [], [], []
    without_box = 0
    for lineno, name, class_id in rows:
        try:
            img_path = os.path.join(img_dir, name + ".jpg")
            xml_path = os.path.join(ann_dir, "xmls", name + ".xml")
            has_xml = os.path.isfile(xml_path)
            if require_boxes and not has_xml:
                without_box += 1  # not an error: Pet has boxes only for the trainval images
                continue
            if not os.path.isfile(img_path):
                raise DatasetFormatError(list_path, lineno, f"image file not found: {img_path}")
            if has_xml:
                size, edges, box_line = _read_voc_box(xml_path)
                if size is None:
                    size = _image_header_size(img_path, list_path, lineno)
                box = _normalise_box(edges, size[0], size[1], xml_path, box_line)
            else:
                size = _image_header_size(img_path, list_path, lineno)
                box = np.full(4, np.nan, np.float32)
            if masks:
                tri_path = os.path.join(ann_dir, "trimaps", name + ".png")
                if not os.path.isfile(tri_path):
                    raise DatasetFormatError(list_path, lineno,
                                             f"trimap not found: {tri_path} (pass masks=False "
                                             "to load without).")
                mask_paths.append(tri_path)
        except DatasetFormatError as err:
            collector.handle(err)
            continue
        paths.append(img_path)
        labels.append(class_id - 1)
        boxes.append(box)
        sizes.append(size)
    if not paths and without_box:
        raise ValueError(f"load_oxford_pet: none of the {without_box} images of split={split!r} "
                         f"has an xml box in {os.path.join(ann_dir, 'xmls')} (the official test "
                         "images have none); pass require_boxes=False to load them without boxes.")
    records = _build(paths, labels, class_names, boxes, sizes, mask_paths if masks else None,
                     "oxford_pet")
    return collector.finish(records)


# ------------------------------------------------------------------------------------------------
# CUB-200-2011
# ------------------------------------------------------------------------------------------------


def _read_id_table(path, what, n_values, collector, hint):
    """``{id: (line, [values...])}`` of a CUB text file with ``id v1 .. vk`` per line."""
    table = {}
    for lineno, text in _read_lines(path, what, hint):
        parts = text.split(maxsplit=n_values) if n_values == 1 else text.split()
        try:
            if len(parts) != n_values + 1:
                if parts and re.fullmatch(r"\d+", parts[0]) and int(parts[0]) not in table:
                    table[int(parts[0])] = (lineno, None)  # reported here: skip the id quietly
                raise DatasetFormatError(path, lineno, f"expected {n_values + 1} columns; got "
                                                       f"{text!r}.")
            image_id = _integer(parts[0], path, lineno, "the image id", minimum=1)
            if image_id in table:
                raise DatasetFormatError(path, lineno, f"image id {image_id} appears again (first "
                                                       f"on line {table[image_id][0]}).")
        except DatasetFormatError as err:
            collector.handle(err)
            continue
        table[image_id] = (lineno, parts[1:])
    return table


def load_cub200(root, split="all", on_error="raise"):
    """CUB-200-2011 (200 bird species, one box per image) from its folder; never downloads.

    Layout (the official ``CUB_200_2011.tgz`` unpacked; ``root`` is its ``CUB_200_2011/``)::

        root/images.txt              # <image_id> <relative path under images/>
        root/image_class_labels.txt  # <image_id> <class_id>       (1-based)
        root/bounding_boxes.txt      # <image_id> <x> <y> <width> <height>   (pixels, floats)
        root/train_test_split.txt    # <image_id> <is_training_image>  (1 / 0)
        root/classes.txt             # <class_id> <name>, e.g. "1 001.Black_footed_Albatross"
        root/images/<relative path>

    Labels are ``class_id - 1``; class names drop the ``"001."`` prefix. A box is its top-left
    corner (0-based) and size, so its pixel edges are ``x .. x + width``:
    :math:`x_{min} = x / W`, :math:`x_{max} = (x + \\mathrm{width}) / W`, with ``W, H`` read from
    the image header.

    Parameters
    ----------
    root : str or path
        The ``CUB_200_2011`` folder.
    split : {'all', 'train', 'test'}
        Records of ``train_test_split.txt`` (only read when not ``'all'``).
    on_error : {'raise', 'skip'}
        What to do with a bad record (see the module docstring).

    Returns
    -------
    LocalizationRecords

    Examples
    --------
    >>> birds = load_cub200("datasets/fixtures/cub200", split="train")
    >>> len(birds), birds.class_names
    (4, ('circle', 'square', 'triangle', 'star'))
    """
    collector = _Collector(on_error, "load_cub200")
    split = check_choice(split, "split", ("all", "train", "test"))
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    hint = ("Download CUB_200_2011.tgz from the Caltech-UCSD Birds-200-2011 page and pass its "
            "CUB_200_2011/ folder (see datasets/README.md).")
    _require_dir(root, "CUB-200-2011 root", hint)

    classes_path = os.path.join(root, "classes.txt")
    class_names = []
    for lineno, text in _read_lines(classes_path, "the class list (classes.txt)", hint):
        parts = text.split(maxsplit=1)
        if len(parts) != 2:
            raise DatasetFormatError(classes_path, lineno, f"expected '<class_id> <name>'; got "
                                                           f"{text!r}.", skippable=False)
        cid = _integer(parts[0], classes_path, lineno, "the class id")
        if cid != len(class_names) + 1:
            raise DatasetFormatError(classes_path, lineno, f"class ids must run 1, 2, 3, ... in "
                                                           f"order; expected {len(class_names) + 1}"
                                                           f", got {cid}.", skippable=False)
        class_names.append(re.sub(r"^\d+\.", "", parts[1].strip()))
    if not class_names:
        raise DatasetFormatError(classes_path, None, "no classes.", skippable=False)

    def path_of(fname):
        return os.path.join(root, fname)

    images = _read_id_table(path_of("images.txt"), "the image list (images.txt)", 1, collector,
                            hint)
    labels_t = _read_id_table(path_of("image_class_labels.txt"),
                              "the labels (image_class_labels.txt)", 1, collector, hint)
    boxes_t = _read_id_table(path_of("bounding_boxes.txt"), "the boxes (bounding_boxes.txt)", 4,
                             collector, hint)
    split_t = None
    if split != "all":
        split_t = _read_id_table(path_of("train_test_split.txt"),
                                 "the split (train_test_split.txt)", 1, collector, hint)

    images_path = path_of("images.txt")
    paths, labels, boxes, sizes = [], [], [], []
    for image_id in sorted(images):
        lineno, (rel,) = images[image_id]
        try:
            where = f"(images.txt, line {lineno})"
            tables = [("image_class_labels.txt", labels_t), ("bounding_boxes.txt", boxes_t)]
            if split_t is not None:
                tables.append(("train_test_split.txt", split_t))
            for fname, table in tables:
                if image_id not in table:
                    raise DatasetFormatError(path_of(fname), None,
                                             f"no line for image id {image_id} {where}.")
            if any(table[image_id][1] is None for _, table in tables):
                continue  # its malformed line was already reported (and skipped)
            if split_t is not None:
                s_line, (flag,) = split_t[image_id]
                flag = _integer(flag, path_of("train_test_split.txt"), s_line, "is_training_image")
                if flag not in (0, 1):
                    raise DatasetFormatError(path_of("train_test_split.txt"), s_line,
                                             f"is_training_image must be 0 or 1; got {flag}.")
                if flag != (split == "train"):
                    continue
            l_line, (cid,) = labels_t[image_id]
            cid = _integer(cid, path_of("image_class_labels.txt"), l_line, "the class id",
                           minimum=1)
            if cid > len(class_names):
                raise DatasetFormatError(path_of("image_class_labels.txt"), l_line,
                                         f"class id {cid} is not in classes.txt (1..."
                                         f"{len(class_names)}).")
            img_path = os.path.join(root, "images", rel.strip())
            size = _image_header_size(img_path, images_path, lineno)
            b_line, vals = boxes_t[image_id]
            bpath = path_of("bounding_boxes.txt")
            x, y, bw, bh = (_number(v, bpath, b_line, name)
                            for v, name in zip(vals, ("x", "y", "width", "height")))
            box = _normalise_box((x, y, x + bw, y + bh), size[0], size[1], bpath, b_line)
        except DatasetFormatError as err:
            collector.handle(err)
            continue
        paths.append(img_path)
        labels.append(cid - 1)
        boxes.append(box)
        sizes.append(size)
    return collector.finish(_build(paths, labels, class_names, boxes, sizes, None, "cub200"))


# ------------------------------------------------------------------------------------------------
# CSV
# ------------------------------------------------------------------------------------------------

_CSV_COLUMNS = ("path", "label", "x_min", "y_min", "x_max", "y_max")


def load_csv(csv_path, class_names=None, on_error="raise"):
    """A localization CSV ``path,label,x_min,y_min,x_max,y_max`` (boxes in pixels); never downloads.

    The first line is the header (these six column names in any order; extra columns are
    ignored). Each further row is one record: ``path`` relative to the CSV's folder (or absolute),
    ``label`` a class name or a non-negative integer, and the box as **pixel edges** (0 = the left /
    top edge of the image, ``W`` / ``H`` = the right / bottom edge; a box over the whole image is
    ``0,0,W,H``), converted with :math:`x_{min} = x_{min}^{px} / W`. Image sizes come from the
    image headers.

    Parameters
    ----------
    csv_path : str or path
    class_names : sequence of str, optional
        The class order. A label that is one of these names gets its index; an integer label is
        taken as the index. Without it: if every label is an integer, the classes are
        ``'0' .. str(max)``; otherwise the label texts sorted alphabetically.
    on_error : {'raise', 'skip'}
        What to do with a bad row (see the module docstring).

    Returns
    -------
    LocalizationRecords

    Examples
    --------
    >>> recs = load_csv("datasets/fixtures/csv/boxes.csv")
    >>> recs.class_names
    ('circle', 'square', 'star', 'triangle')
    """
    collector = _Collector(on_error, "load_csv")
    csv_path = os.path.abspath(os.path.expanduser(os.fspath(csv_path)))
    if not os.path.isfile(csv_path):
        raise DatasetFormatError(csv_path, None, "CSV file not found (`csv_path`).",
                                 skippable=False)
    if class_names is not None:
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise TypeError(f"`class_names` must be a sequence of str; got {class_names!r}.")
        class_names = tuple(class_names)
        if len(set(class_names)) != len(class_names) or not class_names:
            raise ValueError(f"`class_names` must be distinct and non-empty; got {class_names}.")
    folder = os.path.dirname(os.path.abspath(csv_path))

    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            raw_rows = [(reader.line_num, row) for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetFormatError(csv_path, None, f"cannot parse the CSV ({exc}).",
                                 skippable=False) from None
    raw_rows = [(n, r) for n, r in raw_rows if any(c.strip() for c in r)]
    if not raw_rows:
        raise DatasetFormatError(csv_path, None, "the CSV is empty.", skippable=False)
    head_line, header = raw_rows[0]
    header = [c.strip().lower() for c in header]
    missing = [c for c in _CSV_COLUMNS if c not in header]
    if missing:
        raise DatasetFormatError(csv_path, head_line, f"the header must name the columns "
                                                      f"{','.join(_CSV_COLUMNS)}; missing "
                                                      f"{missing} in {header}.", skippable=False)
    col = {c: header.index(c) for c in _CSV_COLUMNS}

    parsed = []
    for lineno, row in raw_rows[1:]:
        try:
            if len(row) != len(header):
                raise DatasetFormatError(csv_path, lineno, f"expected {len(header)} fields like "
                                                           f"the header; got {len(row)}: {row}.")
            rel = row[col["path"]].strip()
            label = row[col["label"]].strip()
            if not rel or not label:
                raise DatasetFormatError(csv_path, lineno, "empty path or label.")
            coords = [_number(row[col[c]].strip(), csv_path, lineno, c) for c in _CSV_COLUMNS[2:]]
        except DatasetFormatError as err:
            collector.handle(err)
            continue
        parsed.append((lineno, rel, label, coords))

    def _as_int(s):
        return int(s) if re.fullmatch(r"[+-]?\d+", s) else None

    if class_names is None:
        ints = [_as_int(p[2]) for p in parsed]
        if parsed and all(v is not None for v in ints):
            class_names = tuple(str(i) for i in range(max(max(ints), 0) + 1))
            name_to_index = {}
        else:
            class_names = tuple(sorted({p[2] for p in parsed}))
            name_to_index = {c: i for i, c in enumerate(class_names)}
    else:
        name_to_index = {c: i for i, c in enumerate(class_names)}
    all_int = not name_to_index

    paths, labels, boxes, sizes = [], [], [], []
    for lineno, rel, label, coords in parsed:
        try:
            if not all_int and label in name_to_index:
                index = name_to_index[label]
            elif _as_int(label) is not None:
                index = _as_int(label)
                if not 0 <= index < len(class_names):
                    raise DatasetFormatError(csv_path, lineno, f"integer label {index} is outside "
                                                               f"0..{len(class_names) - 1}.")
            else:
                raise DatasetFormatError(csv_path, lineno, f"unknown label {label!r}; classes are "
                                                           f"{list(class_names)}.")
            img_path = rel if os.path.isabs(rel) else os.path.join(folder, rel)
            size = _image_header_size(img_path, csv_path, lineno)
            box = _normalise_box(coords, size[0], size[1], csv_path, lineno)
        except DatasetFormatError as err:
            collector.handle(err)
            continue
        paths.append(os.path.normpath(img_path))
        labels.append(index)
        boxes.append(box)
        sizes.append(size)
    return collector.finish(_build(paths, labels, class_names, boxes, sizes, None, "csv"))
