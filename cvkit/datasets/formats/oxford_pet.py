r"""Oxford-IIIT Pet (37 cat and dog breeds): breed labels, VOC head boxes and trimaps.

The index (``annotations/list.txt``, ``trainval.txt``, ``test.txt``) names each image with its
``CLASS-ID``; the class name is the image name without its trailing ``_<number>``. The head box of
an image is in ``annotations/xmls/<name>.xml`` (PASCAL VOC, 1-based inclusive pixel indices):
:math:`x_{min} = (\mathrm{xmin} - 1) / W`, :math:`x_{max} = \mathrm{xmax} / W`.
"""
from __future__ import annotations

import os
import re
from typing import NamedTuple

import numpy as np

from ..._validate import check_choice
from .records import (
    DatasetFormatError,
    _assign_class_ids,
    _check_class,
    _check_class_id,
    _image_header_size,
    _integer,
    _names_by_id,
    _normalise_box,
    _number,
    _read_lines,
    _Reader,
    _Record,
    _require_dir,
    _resolve,
)

__all__ = ["load_oxford_pet"]

_HINT = ("Download 'images.tar.gz' and 'annotations.tar.gz' from the Oxford-IIIT Pet page and "
         "unpack both into `root` (see datasets/README.md).")


class _Folders(NamedTuple):
    root: str
    annotations: str
    images: str


class _Row(NamedTuple):
    """One image line of the index: ``Image CLASS-ID SPECIES BREED-ID``."""

    line: int
    name: str
    class_id: int
    breed: str


def load_oxford_pet(root, split="all", require_boxes=True, masks=True, on_error="raise"):
    """Oxford-IIIT Pet (37 cat and dog breeds) from its folder on disk; never downloads.

    Layout (the two official archives unpacked into ``root``)::

        root/images/<name>.jpg
        root/annotations/list.txt   # "#" header lines, then: Image CLASS-ID SPECIES BREED-ID
        root/annotations/trainval.txt, test.txt   # same columns, no header (for ``split``)
        root/annotations/xmls/<name>.xml     # VOC head box; only for (most) trainval images
        root/annotations/trimaps/<name>.png  # 1 = pet, 2 = background, 3 = border

    The label is ``CLASS-ID - 1`` (breed, 0..36) and the class name is the image name without its
    trailing ``_<number>`` (``"Abyssinian_100"`` -> ``"Abyssinian"``). Each CLASS-ID names one
    breed and each breed has one CLASS-ID: a line that disagrees with the other lines is a bad
    record (the pairing seen on most lines wins), and so is a CLASS-ID above
    :data:`~cvkit.datasets.formats.records.MAX_CLASS_ID`. The box is the **head** box of the xml
    file, stored as 1-based inclusive pixel indices and converted to pixel edges:
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
        What to do with a bad record (see :mod:`cvkit.datasets.formats`).

    Returns
    -------
    LocalizationRecords

    Examples
    --------
    >>> pets = load_oxford_pet("datasets/fixtures/oxford_pet")  # from the repository root
    >>> pets.load_images(64).shape, pets.load_masks(64).shape
    ((5, 64, 64, 3), (5, 64, 64))
    >>> pets.class_names, pets.labels.tolist()
    (('Circle', 'Square', 'triangle', 'star'), [3, 1, 1, 2, 2])
    """
    reader = _Reader(on_error, "load_oxford_pet")
    split = check_choice(split, "split", ("all", "trainval", "test"))
    folders = _folders(root)
    list_path = os.path.join(folders.annotations, "list.txt" if split == "all" else f"{split}.txt")
    rows, class_names = _read_index(list_path, reader)
    boxed = [r for r in rows if os.path.isfile(_xml_path(folders, r))] if require_boxes else rows
    records = reader.each(boxed, lambda row: _record(row, folders, list_path, masks))
    if not records and len(boxed) < len(rows):
        raise ValueError(f"load_oxford_pet: none of the {len(rows) - len(boxed)} images of "
                         f"split={split!r} has an xml box in "
                         f"{os.path.join(folders.annotations, 'xmls')} (the official test images "
                         "have none); pass require_boxes=False to load them without boxes.")
    return reader.finish(records, class_names, "oxford_pet", masks=masks)


def _folders(root):
    """The dataset's root, ``annotations/`` and ``images/`` folders, which must exist."""
    root = _resolve(root)
    _require_dir(root, "Oxford-IIIT Pet root", _HINT)
    folders = _Folders(root, os.path.join(root, "annotations"), os.path.join(root, "images"))
    _require_dir(folders.annotations, "annotations", _HINT)
    _require_dir(folders.images, "images", _HINT)
    return folders


def _xml_path(folders, row):
    return os.path.join(folders.annotations, "xmls", row.name + ".xml")


# ------------------------------------------------------------------------------------------------
# the index: rows and class names
# ------------------------------------------------------------------------------------------------


def _read_index(list_path, reader):
    """The image rows of the index whose line is good, and the class names (index ``id - 1``).

    The CLASS-ID of each breed is decided by all lines together (:func:`_assign_class_ids`), so
    the lines are parsed twice: once quietly for that vote, once to report each bad line in order.
    """
    lines = _read_lines(list_path, f"the Oxford-IIIT Pet index ({os.path.basename(list_path)})",
                        _HINT)
    voters = _Reader("skip", "load_oxford_pet").each(lines, lambda ln: _parse_line(ln, list_path))
    by_id = _assign_class_ids([(r.class_id, r.breed) for r in voters])
    rows = reader.each(lines, lambda ln: _checked_row(ln, by_id, list_path))
    if not rows:
        raise DatasetFormatError(list_path, None, "no image lines (only comments or blank lines).",
                                 skippable=False)
    return rows, _names_by_id(by_id)


def _parse_line(line, list_path):
    """The :class:`_Row` of one ``(line_number, text)``; None for a comment line."""
    lineno, text = line
    if text.startswith("#"):
        return None
    parts = text.split()
    if len(parts) != 4:
        raise DatasetFormatError(list_path, lineno, "expected 4 columns 'Image CLASS-ID "
                                                    f"SPECIES BREED-ID'; got {text!r}.")
    class_id = _integer(parts[1], list_path, lineno, "CLASS-ID", minimum=1)
    _integer(parts[2], list_path, lineno, "SPECIES", minimum=1)
    _integer(parts[3], list_path, lineno, "BREED-ID", minimum=1)
    _check_class_id(class_id, list_path, lineno, "CLASS-ID")
    return _Row(lineno, parts[0], class_id, re.sub(r"_\d+$", "", parts[0]))


def _checked_row(line, by_id, list_path):
    """:func:`_parse_line`, then the line's CLASS-ID must be its breed's."""
    row = _parse_line(line, list_path)
    if row is not None:
        _check_class(row.class_id, row.breed, by_id, list_path, row.line, "CLASS-ID")
    return row


# ------------------------------------------------------------------------------------------------
# one record: image, size, box, trimap
# ------------------------------------------------------------------------------------------------


def _record(row, folders, list_path, masks):
    """The :class:`_Record` of an index row (a NaN box when it has no xml file)."""
    img_path = os.path.join(folders.images, row.name + ".jpg")
    xml_path = _xml_path(folders, row)
    if not os.path.isfile(img_path):
        raise DatasetFormatError(list_path, row.line, f"image file not found: {img_path}")
    if os.path.isfile(xml_path):
        size, edges, box_line = _read_voc_box(xml_path)
        if size is None:
            size = _image_header_size(img_path, list_path, row.line)
        box = _normalise_box(edges, size[0], size[1], xml_path, box_line)
    else:
        size = _image_header_size(img_path, list_path, row.line)
        box = np.full(4, np.nan, np.float32)
    tri_path = None
    if masks:
        tri_path = os.path.join(folders.annotations, "trimaps", row.name + ".png")
        if not os.path.isfile(tri_path):
            raise DatasetFormatError(list_path, row.line, f"trimap not found: {tri_path} (pass "
                                                          "masks=False to load without).")
    return _Record(img_path, row.class_id - 1, box, size, tri_path)


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


def _read_voc_size(size_node, xml_path):
    """``(height, width)`` of a VOC ``<size>`` element, or None when it does not say."""
    if size_node is None:
        return None
    w_node, h_node = _child(size_node, "width"), _child(size_node, "height")
    if (w_node is None) != (h_node is None):
        raise DatasetFormatError(xml_path, size_node["line"], "<size> needs both <width> and "
                                                              "<height>.")
    if w_node is None:  # an empty <size/> counts as absent: read the image header
        return None
    w = _number(w_node["text"], xml_path, w_node["line"], "<width>")
    h = _number(h_node["text"], xml_path, h_node["line"], "<height>")
    if w > 0 and h > 0:  # VOC tools write 0 when they do not know: read the header
        return int(round(h)), int(round(w))
    return None


def _read_voc_box(xml_path):
    """``(size or None, pixel-edge box, line)`` of the first object of a VOC xml file.

    VOC stores 1-based inclusive pixel indices, so the edges are ``(xmin - 1, ymin - 1, xmax,
    ymax)``.
    """
    ann = _parse_xml(xml_path)
    size = _read_voc_size(_child(ann, "size"), xml_path)
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
