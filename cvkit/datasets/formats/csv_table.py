r"""A localization CSV of your own: ``path,label,x_min,y_min,x_max,y_max`` with pixel-edge boxes.

The box is given as pixel edges (0 = the left / top edge of the image, ``W`` / ``H`` = the right /
bottom edge): :math:`x_{min} = x_{min}^{px} / W`, :math:`x_{max} = x_{max}^{px} / W`.

(The module is called ``csv_table`` so that it never shadows the standard library's ``csv``.)
"""
from __future__ import annotations

import csv
import os
import re
from typing import NamedTuple

from .records import (
    DatasetFormatError,
    _check_class_id,
    _image_header_size,
    _normalise_box,
    _number,
    _Reader,
    _Record,
    _resolve,
)

__all__ = ["load_csv"]

_COLUMNS = ("path", "label", "x_min", "y_min", "x_max", "y_max")


class _Row(NamedTuple):
    """One parsed data row: its line, image path (as written), label text and pixel edges."""

    line: int
    rel: str
    label: str
    coords: list


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
        ``'0' .. str(max)`` (an integer above
        :data:`~cvkit.datasets.formats.records.MAX_CLASS_ID` is a bad row); otherwise the label
        texts sorted alphabetically.
    on_error : {'raise', 'skip'}
        What to do with a bad row (see :mod:`cvkit.datasets.formats`).

    Returns
    -------
    LocalizationRecords

    Examples
    --------
    >>> recs = load_csv("datasets/fixtures/csv/boxes.csv")  # from the repository root
    >>> recs.class_names
    ('circle', 'square', 'star', 'triangle')

    A CSV of one row, next to a 10 x 20 (H x W) image:

    >>> import os, tempfile
    >>> from PIL import Image
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     Image.new("RGB", (20, 10)).save(os.path.join(folder, "a.png"))
    ...     with open(os.path.join(folder, "boxes.csv"), "w") as f:
    ...         _ = f.write("path,label,x_min,y_min,x_max,y_max\\na.png,cat,5,0,15,10\\n")
    ...     recs = load_csv(os.path.join(folder, "boxes.csv"))
    >>> recs.class_names, recs.labels.tolist(), recs.boxes.tolist(), recs.sizes.tolist()
    (('cat',), [0], [[0.25, 0.0, 0.75, 1.0]], [[10, 20]])
    """
    reader = _Reader(on_error, "load_csv")
    csv_path = _existing_file(csv_path)
    class_names = _check_class_names(class_names)
    columns, n_fields, raw_rows = _read_csv(csv_path)
    rows = reader.each(raw_rows, lambda raw: _parse_row(raw, columns, n_fields, csv_path))
    rows, class_names, index_of = _classes(rows, class_names, reader, csv_path)
    folder = os.path.dirname(csv_path)
    records = reader.each(rows, lambda row: _record(row, class_names, index_of, folder, csv_path))
    return reader.finish(records, class_names, "csv")


def _existing_file(csv_path):
    csv_path = _resolve(csv_path)
    if not os.path.isfile(csv_path):
        raise DatasetFormatError(csv_path, None, "CSV file not found (`csv_path`).",
                                 skippable=False)
    return csv_path


def _check_class_names(class_names):
    """``class_names`` as a tuple of distinct str (or None)."""
    if class_names is None:
        return None
    if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
        raise TypeError(f"`class_names` must be a sequence of str; got {class_names!r}.")
    class_names = tuple(class_names)
    if len(set(class_names)) != len(class_names) or not class_names:
        raise ValueError(f"`class_names` must be distinct and non-empty; got {class_names}.")
    return class_names


def _read_csv(csv_path):
    """``(column positions, number of fields, [(line number, fields), ...])``; blank rows dropped.

    The first row is the header, which must name the six columns (:func:`_column_index`).
    """
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:  # -sig: Excel's BOM
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
    return _column_index(header, head_line, csv_path), len(header), raw_rows[1:]


def _column_index(header, head_line, csv_path):
    """``{column: position}`` of the six columns, which the header must name."""
    missing = [c for c in _COLUMNS if c not in header]
    if missing:
        raise DatasetFormatError(csv_path, head_line, f"the header must name the columns "
                                                      f"{','.join(_COLUMNS)}; missing "
                                                      f"{missing} in {header}.", skippable=False)
    return {c: header.index(c) for c in _COLUMNS}


def _parse_row(raw, columns, n_fields, csv_path):
    """The :class:`_Row` of one ``(line number, fields)``."""
    lineno, row = raw
    if len(row) != n_fields:
        raise DatasetFormatError(csv_path, lineno, f"expected {n_fields} fields like the header; "
                                                   f"got {len(row)}: {row}.")
    rel = row[columns["path"]].strip()
    label = row[columns["label"]].strip()
    if not rel or not label:
        raise DatasetFormatError(csv_path, lineno, "empty path or label.")
    coords = [_number(row[columns[c]].strip(), csv_path, lineno, c) for c in _COLUMNS[2:]]
    return _Row(lineno, rel, label, coords)


def _as_int(text):
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None


def _classes(rows, class_names, reader, csv_path):
    """``(rows, class_names, name -> index)``; the mapping is empty when every label is an int.

    Integer labels above :data:`MAX_CLASS_ID` are bad rows (dropped from ``rows`` when skipped),
    so that one mistyped label never builds that many class names.
    """
    if class_names is not None:
        return rows, class_names, {c: i for i, c in enumerate(class_names)}
    if rows and all(_as_int(r.label) is not None for r in rows):
        rows = reader.each(rows, lambda row: _bounded_label(row, csv_path))
        top = max((_as_int(r.label) for r in rows), default=0)
        return rows, tuple(str(i) for i in range(max(top, 0) + 1)), {}
    class_names = tuple(sorted({r.label for r in rows}))
    return rows, class_names, {c: i for i, c in enumerate(class_names)}


def _bounded_label(row, csv_path):
    """``row``, whose integer label must not exceed :data:`MAX_CLASS_ID`."""
    _check_class_id(_as_int(row.label), csv_path, row.line, "integer label")
    return row


def _label_index(label, class_names, index_of, csv_path, lineno):
    """The class index of a label text: a name of ``index_of`` or an integer index."""
    if index_of and label in index_of:
        return index_of[label]
    index = _as_int(label)
    if index is None:
        raise DatasetFormatError(csv_path, lineno, f"unknown label {label!r}; classes are "
                                                   f"{list(class_names)}.")
    if not 0 <= index < len(class_names):
        raise DatasetFormatError(csv_path, lineno, f"integer label {index} is outside "
                                                   f"0..{len(class_names) - 1}.")
    return index


def _record(row, class_names, index_of, folder, csv_path):
    """The :class:`_Record` of a parsed row: its class index, image size and box."""
    index = _label_index(row.label, class_names, index_of, csv_path, row.line)
    img_path = row.rel if os.path.isabs(row.rel) else os.path.join(folder, row.rel)
    size = _image_header_size(img_path, csv_path, row.line)
    box = _normalise_box(row.coords, size[0], size[1], csv_path, row.line)
    return _Record(os.path.normpath(img_path), index, box, size)
