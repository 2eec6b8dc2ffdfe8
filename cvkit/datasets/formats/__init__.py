r"""Loaders for real localization datasets on disk: Oxford-IIIT Pet, CUB-200-2011 and a CSV.

Nothing here downloads. Each loader reads a folder that the user prepared (``datasets/README.md``
says where to get each dataset and how its folder looks) and returns one record type,
:class:`LocalizationRecords`: image paths, integer labels, class names, boxes in the project's
internal format (normalised ``xyxy``), image sizes and, for Oxford-IIIT Pet, the trimap paths.
Images are decoded only when asked for, with :meth:`LocalizationRecords.load_images` or
:meth:`LocalizationRecords.to_dataset` (``tf.io`` decoding and resizing).

One module per source (``oxford_pet.py``, ``cub200.py``, ``csv_table.py``); ``records.py`` holds
what they share: the record type, line and number parsing, class ids, ``on_error`` and the box
conversion.

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
So does a class id above :data:`~cvkit.datasets.formats.records.MAX_CLASS_ID` (a typo; no loader
builds class names for it) and, in Oxford-IIIT Pet, a line whose CLASS-ID disagrees with the other
lines of its breed. With ``on_error='skip'`` the loader drops each bad record instead, lists the
reasons in ``records.skipped`` and warns once with their count. A missing dataset folder or index
file, and a broken class list, always raise: there is nothing to skip to.

The notebook ``notebooks/00_datasets_and_preprocessing.ipynb`` shows these loaders on the fixture
copies in ``datasets/fixtures/``.
"""
from .csv_table import load_csv
from .cub200 import load_cub200
from .oxford_pet import load_oxford_pet
from .records import BOX_TOLERANCE_PX, DatasetFormatError, LocalizationRecords

__all__ = [
    "BOX_TOLERANCE_PX",
    "DatasetFormatError",
    "LocalizationRecords",
    "load_oxford_pet",
    "load_cub200",
    "load_csv",
]
