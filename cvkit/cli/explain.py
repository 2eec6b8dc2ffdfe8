"""``python -m cvkit explain IMAGE... --model M``: explain a classifier's decision on your photos.

For each image: the top-k classes with their probabilities, a map of the explained class (by
default each image's top class) from one of cvkit's methods, the box of the map by the course's
recipe (normalise, keep the pixels above ``--threshold`` times the maximum, take the largest
8-connected component, box it: :func:`cvkit.wsol.recipe_boxes`) and a PNG with the overlay and
the box. ``--format json`` prints the same as JSON. Images are read in batches of
``--batch-size``, so a folder of any size runs in bounded memory.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._validate import check_float, check_int
from .images import image_files, read_image, resize_batch, thumbnail
from .models import (add_model_arguments, check_method, class_index, explain_maps, load_model,
                     parse_classes, probabilities)

__all__ = ["add_parser", "run", "explain_images"]

#: The CAM paper's threshold (a fraction of the map's maximum); notebook 02 uses 0.5 for the zoo's
#: stride-8 classifier, the value its BoxAcc curve favours.
DEFAULT_THRESHOLD = 0.2


def add_parser(sub):
    """Add the ``explain`` command to the sub-parsers ``sub`` of the main parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["explain", "photos/", "--model", "m.keras", "--class", "cat"])
    >>> args.images, args.klass, args.method, args.format, args.out
    (['photos/'], 'cat', 'grad-cam', 'png', None)
    """
    p = sub.add_parser("explain", help="explain a classifier on your own images (overlay + box)",
                       description="Explain a classifier's decision on your photos: the top "
                                   "classes, a map of the explained class, its box and an "
                                   "overlay PNG per image.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG / PNG files or folders of them")
    add_model_arguments(
        p, "a .keras file (taking images in [0, 1]) or a zoo name such as "
           "shapes_cam_mobilenetv2_s8 (see `python -m cvkit zoo`)",
        "the map (default grad-cam; fcam needs an F-CAM zoo entry such as shapes_fcam_s8)",
        "class names of a .keras model, one per output unit (default: indices)", batch_size=16)
    p.add_argument("--class", dest="klass", metavar="NAME_OR_INDEX",
                   help="the class to explain (default: each image's top class)")
    p.add_argument("--top", type=int, default=3, metavar="K", help="classes listed (default 3)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder of the PNGs (default ./cvkit-explain; with --format json only "
                        "when given)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="T",
                   help=f"box: pixels above T x max (default {DEFAULT_THRESHOLD})")
    p.add_argument("--format", default="png", choices=["png", "json"],
                   help="png: print a summary and write the PNGs; json: print JSON")
    return p


def run(args):
    """Run the command for parsed ``args``; returns the exit status (0).

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> run(parser.parse_args(["explain", "missing.png", "--model", "shapes_small_cnn"]))
    Traceback (most recent call last):
    ...
    FileNotFoundError: `IMAGE`: missing.png does not exist.
    """
    from .console import output_folder

    top = check_int(args.top, "--top", minimum=1)
    threshold = check_float(args.threshold, "--threshold", 0.0, 1.0)
    if threshold == 1.0:
        raise ValueError("`--threshold` must be below 1 (a fraction of the map's maximum); got 1.")
    batch = check_int(args.batch_size, "--batch-size", minimum=1)
    files = image_files(args.images)
    classes = parse_classes(args.classes) if args.classes is not None else None
    loaded = load_model(args.model, classes, args.size)
    check_method(loaded, args.method, args.layer)
    fixed = None if args.klass is None else class_index(loaded, args.klass)
    out = args.out if args.out is not None or args.format == "json" else "cvkit-explain"
    out = None if out is None else output_folder(out, "--out")
    records = explain_images(loaded, files, args.method, fixed, args.layer, top, threshold,
                             batch, out, args.seed, verbose=args.format == "png")
    if args.format == "json":
        print(json.dumps({"model": loaded.name, "method": args.method, "threshold": threshold,
                          "input_size": list(loaded.input_size), "images": records}, indent=2))
    return 0


def explain_images(loaded, files, method, fixed, layer, top, threshold, batch, out, seed=0,
                   verbose=True):
    """Explain ``files`` batch by batch: one record (a dict) per image, a PNG per image in the
    folder ``out`` (None: none), a summary per image printed when ``verbose``.

    ``fixed`` is the class index explained in every image (None: each image's top class).

    Examples
    --------
    A synthetic square saved as PNG, explained by the zoo's small CNN:

    >>> import tempfile
    >>> from PIL import Image
    >>> from cvkit.models import zoo_data
    >>> from cvkit.cli.models import load_model
    >>> shapes = zoo_data("shapes_small_cnn", 8)
    >>> i = int(np.flatnonzero(shapes.labels == 1)[0])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp, "square.png")
    ...     Image.fromarray((shapes.images[i] * 255).round().astype(np.uint8)).save(path)
    ...     recs = explain_images(load_model("shapes_small_cnn"), [path], "cam", None, None, 2,
    ...                           0.5, 4, None, verbose=False)
    >>> recs[0]["explained"]["class"], len(recs[0]["top"]), recs[0]["box"] is not None
    ('square', 2, True)
    """
    from ..wsol import recipe_boxes

    records, names = [], _unique_names(files)
    for start in range(0, len(files), batch):
        chunk = files[start:start + batch]
        photos = [read_image(f) for f in chunk]
        x = resize_batch(photos, loaded.input_size)
        probs = probabilities(loaded, x, batch)
        cls = probs.argmax(1) if fixed is None else np.full(len(x), fixed)
        maps = np.asarray(explain_maps(loaded, x, cls, method, layer, batch, seed)).reshape(
            len(x), *loaded.input_size)
        boxes = recipe_boxes(maps, threshold)
        for i, path in enumerate(chunk):
            rec = _record(loaded, path, photos[i], probs[i], int(cls[i]), boxes[i], top)
            if out is not None:
                target = out / f"{names[start + i]}_{method}.png"
                _figure(photos[i], maps[i], boxes[i], rec, method, threshold, target)
                rec["overlay"] = str(target)
            records.append(rec)
            if verbose:
                _print_record(rec)
    return records


def _unique_names(files):
    """File stems, with ``-2``, ``-3`` ... added where two files share one."""
    seen, names = {}, []
    for f in files:
        stem = Path(f).stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def _record(loaded, path, photo, probs, cls, box, top):
    order = np.argsort(-probs, kind="stable")[:top]
    h, w = photo.shape[:2]
    empty = not np.any(box)
    return {"image": str(path), "size": [int(h), int(w)],
            "top": [{"class": loaded.class_names[k], "index": int(k),
                     "probability": round(float(probs[k]), 6)} for k in order],
            "explained": {"class": loaded.class_names[cls], "index": cls,
                          "probability": round(float(probs[cls]), 6)},
            "box": None if empty else {
                "xyxy": [round(float(v), 6) for v in box],
                "pixels": [int(round(float(v) * s)) for v, s in zip(box, (w, h, w, h))]},
            "overlay": None}


def _print_record(rec):
    h, w = rec["size"]
    print(f"{rec['image']} ({w} x {h} px)")
    for i, t in enumerate(rec["top"], 1):
        print(f"  {i}. {t['class']:<20s} {t['probability']:.3f}")
    e, box = rec["explained"], rec["box"]
    where = "no pixel above the threshold" if box is None else \
        "box x {0}..{2}, y {1}..{3} px".format(*box["pixels"])
    print(f"  map of {e['class']!r}: {where} -> {rec['overlay']}")


def _figure(photo, heat, box, rec, method, threshold, target):
    """Two panels: the photo with the box, and the overlay with the box; the class in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..visualize import draw_boxes, overlay_heatmap

    img = thumbnail(photo).astype(np.float32) / 255.0
    e = rec["explained"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
    boxes = np.asarray(box).reshape(-1, 4)[:1 if np.any(box) else 0]
    draw_boxes(img, boxes, ax=axes[0], color="yellow", title=Path(rec["image"]).name)
    draw_boxes(overlay_heatmap(img, heat), boxes, ax=axes[1], color="white",
               title=f"{method} map: box at {threshold:g} x max")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"{e['class']} (p = {e['probability']:.2f})")
    fig.tight_layout()
    fig.savefig(target, dpi=100, bbox_inches="tight")
    plt.close(fig)
