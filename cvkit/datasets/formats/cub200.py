r"""CUB-200-2011 (200 bird species, one box per image).

The dataset is a set of text tables keyed by image id (``images.txt``, ``image_class_labels.txt``,
``bounding_boxes.txt``, ``train_test_split.txt``) plus ``classes.txt``. A box is its 0-based
top-left corner and its size in pixels, so its pixel edges are ``x .. x + width``:
:math:`x_{min} = x / W`, :math:`x_{max} = (x + \mathrm{width}) / W`.
"""
from __future__ import annotations

import os
import re

from ..._validate import check_choice
from .records import (
    DatasetFormatError,
    _image_header_size,
    _integer,
    _normalise_box,
    _number,
    _read_lines,
    _Reader,
    _Record,
    _require_dir,
    _resolve,
)

__all__ = ["load_cub200"]

_HINT = ("Download CUB_200_2011.tgz from the Caltech-UCSD Birds-200-2011 page and pass its "
         "CUB_200_2011/ folder (see datasets/README.md).")

#: the id tables: file name, what it holds (for messages), number of values after the id.
_TABLES = (("images.txt", "the image list (images.txt)", 1),
           ("image_class_labels.txt", "the labels (image_class_labels.txt)", 1),
           ("bounding_boxes.txt", "the boxes (bounding_boxes.txt)", 4),
           ("train_test_split.txt", "the split (train_test_split.txt)", 1))


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
        What to do with a bad record (see :mod:`cvkit.datasets.formats`).

    Returns
    -------
    LocalizationRecords

    Examples
    --------
    >>> birds = load_cub200("datasets/fixtures/cub200", split="train")  # from the repository root
    >>> len(birds), birds.class_names
    (4, ('circle', 'square', 'triangle', 'star'))
    >>> birds.boxes.shape, birds.sizes.dtype
    ((4, 4), dtype('int64'))
    """
    reader = _Reader(on_error, "load_cub200")
    split = check_choice(split, "split", ("all", "train", "test"))
    root = _resolve(root)
    _require_dir(root, "CUB-200-2011 root", _HINT)
    class_names = _read_classes(os.path.join(root, "classes.txt"))
    tables = _read_tables(root, split, reader)
    records = reader.each(sorted(tables["images.txt"]),
                          lambda image_id: _record(image_id, tables, root, split, len(class_names)))
    return reader.finish(records, class_names, "cub200")


def _read_classes(classes_path):
    """The class names of ``classes.txt`` (ids 1, 2, 3, ... in order; ``"001."`` dropped)."""
    class_names = []
    for lineno, text in _read_lines(classes_path, "the class list (classes.txt)", _HINT):
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
    return class_names


def _read_tables(root, split, reader):
    """``{file name: {image_id: (line, values or None)}}`` of the id tables the split needs."""
    wanted = _TABLES if split != "all" else _TABLES[:3]
    return {fname: _read_id_table(os.path.join(root, fname), what, n_values, reader)
            for fname, what, n_values in wanted}


def _read_id_table(path, what, n_values, reader):
    """``{id: (line, [values...])}`` of a CUB text file with ``id v1 .. vk`` per line.

    A malformed line whose id can still be read enters as ``(line, None)``: reported here, its
    image is then dropped quietly.
    """
    table = {}
    for lineno, text in _read_lines(path, what, _HINT):
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
            reader.handle(err)
            continue
        table[image_id] = (lineno, parts[1:])
    return table


def _record(image_id, tables, root, split, n_classes):
    """The :class:`_Record` of one image id; None when the split leaves it out, or when one of its
    lines was malformed (and already reported)."""
    if not _has_all_lines(image_id, tables, root):
        return None
    if split != "all" and _is_training(image_id, tables, root) != (split == "train"):
        return None
    lineno, (rel,) = tables["images.txt"][image_id]
    label = _label(image_id, tables, root, n_classes)
    img_path = os.path.join(root, "images", rel.strip())
    size = _image_header_size(img_path, os.path.join(root, "images.txt"), lineno)
    b_line, (x, y, bw, bh) = tables["bounding_boxes.txt"][image_id]
    bpath = os.path.join(root, "bounding_boxes.txt")
    x, y, bw, bh = (_number(v, bpath, b_line, name)
                    for v, name in zip((x, y, bw, bh), ("x", "y", "width", "height")))
    box = _normalise_box((x, y, x + bw, y + bh), size[0], size[1], bpath, b_line)
    return _Record(img_path, label, box, size)


def _has_all_lines(image_id, tables, root):
    """Raise when a table has no line for ``image_id``; False when one of its lines is malformed."""
    lineno = tables["images.txt"][image_id][0]
    for fname, table in tables.items():
        if image_id not in table:
            raise DatasetFormatError(os.path.join(root, fname), None,
                                     f"no line for image id {image_id} (images.txt, line "
                                     f"{lineno}).")
    return all(table[image_id][1] is not None for table in tables.values())


def _is_training(image_id, tables, root):
    """The ``is_training_image`` flag of ``train_test_split.txt`` (0 or 1) as a bool."""
    s_line, (flag,) = tables["train_test_split.txt"][image_id]
    split_path = os.path.join(root, "train_test_split.txt")
    flag = _integer(flag, split_path, s_line, "is_training_image")
    if flag not in (0, 1):
        raise DatasetFormatError(split_path, s_line, f"is_training_image must be 0 or 1; got "
                                                     f"{flag}.")
    return flag == 1


def _label(image_id, tables, root, n_classes):
    """``class_id - 1`` of ``image_class_labels.txt``; the id must be one of ``classes.txt``."""
    l_line, (cid,) = tables["image_class_labels.txt"][image_id]
    labels_path = os.path.join(root, "image_class_labels.txt")
    cid = _integer(cid, labels_path, l_line, "the class id", minimum=1)
    if cid > n_classes:
        raise DatasetFormatError(labels_path, l_line, f"class id {cid} is not in classes.txt "
                                                      f"(1...{n_classes}).")
    return cid - 1
