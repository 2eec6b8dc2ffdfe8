"""The image side of ``python -m cvkit explain``: find the files (JPEG / PNG files or folders of
them), read them (each error names its file) and resize them to the model's input.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["IMAGE_SUFFIXES", "image_files", "read_image", "resize_batch", "thumbnail"]

#: Files a folder is searched for (a file named on the command line may be any format Pillow reads).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def image_files(paths):
    """The image files named by ``paths``: files as given, folders by their JPEG / PNG files
    (sorted by name, not recursive).

    Raises
    ------
    FileNotFoundError
        A path that does not exist.
    ValueError
        A folder without JPEG or PNG files, or no path at all.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for name in ("b.png", "a.JPG", "notes.txt"):
    ...         _ = Path(tmp, name).write_bytes(b"")
    ...     print([p.name for p in image_files([tmp])])
    ['a.JPG', 'b.png']
    """
    if not paths:
        raise ValueError("`IMAGE`: give at least one image file or folder.")
    files = []
    for given in paths:
        p = Path(given).expanduser()
        if p.is_dir():
            found = sorted(q for q in p.iterdir()
                           if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ValueError(f"`IMAGE`: the folder {p} holds no JPEG or PNG file "
                                 f"({', '.join(IMAGE_SUFFIXES)}).")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"`IMAGE`: {p} does not exist.")
    return files


def read_image(path):
    """An image file as uint8 RGB (H, W, 3), turned upright by its EXIF orientation; grey and
    palette images become RGB, transparency is dropped.

    Raises
    ------
    ValueError
        When the file is not an image Pillow can decode (the message names the file).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "bad.png").write_text("not an image")
    ...     read_image(Path(tmp, "bad.png"))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `IMAGE`: ...bad.png cannot be read as an image (...); give JPEG or PNG files.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.load()
            upright = ImageOps.exif_transpose(im)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError, ...
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ValueError(f"`IMAGE`: {path} cannot be read as an image ({reason}); give JPEG or "
                         "PNG files.") from None


def resize_batch(images, size):
    """uint8 images of any sizes -> float32 (N, h, w, 3) in [0, 1], resized with antialiased
    bilinear interpolation (``tf.image.resize``, as :meth:`cvkit.datasets.LocalizationRecords.
    to_dataset` does).

    Examples
    --------
    >>> x = resize_batch([np.full((4, 6, 3), 255, np.uint8)], (2, 3))
    >>> x.shape, float(x.min()), float(x.max())
    ((1, 2, 3, 3), 1.0, 1.0)
    """
    import tensorflow as tf

    h, w = size
    out = np.empty((len(images), h, w, 3), np.float32)
    for i, img in enumerate(images):
        x = tf.convert_to_tensor(img, tf.float32) / 255.0
        out[i] = tf.clip_by_value(tf.image.resize(x, (h, w), antialias=True), 0.0, 1.0).numpy()
    return out


def thumbnail(image, longest=512):
    """A copy of a uint8 image whose longer side is at most ``longest`` pixels (for the figures).

    Examples
    --------
    >>> thumbnail(np.zeros((300, 1200, 3), np.uint8)).shape
    (128, 512, 3)
    """
    from PIL import Image

    h, w = image.shape[:2]
    if max(h, w) <= longest:
        return image
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
