"""``python -m cvkit wsol --data DIR --format cub|pet|csv --model M``: the WSOL protocol on a
dataset folder.

The records come from the loaders of :mod:`cvkit.datasets` (CUB-200-2011, Oxford-IIIT Pet, a CSV:
``datasets/README.md``); the images are read and resized to the model's input batch by batch, the
map of each image's *true* class is computed (GT-known) with the chosen method, and
:func:`cvkit.wsol.evaluate_maps` scores all maps at once: MaxBoxAcc, MaxBoxAccV2, PxAP (where the
dataset has masks: Oxford-IIIT Pet's trimaps) and top-1 / top-5 localization (top-5 where the
model has more than five classes). Only the maps, the masks and the scores are kept in memory, not
the images. Written to ``--out``: ``metrics.txt`` (the table), ``metrics.json`` (the numbers),
``curves.json`` (BoxAcc against the threshold at each IoU level, and precision / recall) and
``curves.png`` (:func:`cvkit.visualize.plot_wsol_report`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .._validate import check_int
from .models import (add_model_arguments, check_method, explain_maps, load_model, parse_classes,
                     probabilities)

__all__ = ["add_parser", "run", "load_records", "model_labels", "stream_maps", "write_outputs"]

FORMATS = ("cub", "pet", "csv")


def add_parser(sub):
    """Add the ``wsol`` command to the sub-parsers ``sub`` of the main parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["wsol", "--data", "d", "--format", "pet", "--model", "m.keras"])
    >>> args.format, args.method, args.split, args.out
    ('pet', 'grad-cam', 'all', 'cvkit-wsol')
    """
    p = sub.add_parser("wsol", help="evaluate a method's maps as a localizer on a dataset folder",
                       description="The WSOL protocol on a dataset folder: MaxBoxAcc, "
                                   "MaxBoxAccV2, PxAP (with masks), top-k localization; the "
                                   "table and the curves are written to --out.")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="the dataset folder (for csv: the CSV file, or a folder holding one)")
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="cub: CUB-200-2011; pet: Oxford-IIIT Pet; csv: path,label,x_min,... rows")
    add_model_arguments(
        p, "a .keras file (taking images in [0, 1]) or a zoo name", "the map (default grad-cam)",
        "class names of a .keras model, one per output unit; the dataset's classes are matched "
        "to them by name (default: by index)", batch_size=32)
    p.add_argument("--split", default="all", choices=["all", "train", "test"],
                   help="cub / pet split (default all)")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate the first N records only")
    p.add_argument("--out", default="cvkit-wsol", metavar="DIR",
                   help="folder of the table and curves (default ./cvkit-wsol)")
    return p


def load_records(data, fmt, split="all"):
    """The dataset's :class:`cvkit.datasets.LocalizationRecords` (a CSV folder must hold one
    ``.csv`` file).

    Examples
    --------
    >>> recs = load_records("datasets/fixtures/cub200", "cub")   # from the repository root
    >>> len(recs), recs.class_names
    (8, ('circle', 'square', 'triangle', 'star'))
    """
    from ..datasets import load_csv, load_cub200, load_oxford_pet

    fmt = str(fmt)
    path = Path(data).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"`--data`: {path} does not exist.")
    if fmt == "csv":
        if split != "all":
            raise ValueError("`--split`: a CSV has no splits; leave --split out.")
        if path.is_dir():
            found = sorted(path.glob("*.csv"))
            if len(found) != 1:
                raise ValueError(f"`--data`: the folder {path} holds {len(found)} .csv files; "
                                 "give the CSV file itself.")
            path = found[0]
        return load_csv(path)
    if fmt not in FORMATS:
        raise ValueError(f"`--format` must be one of {list(FORMATS)}; got {fmt!r}.")
    return (load_cub200 if fmt == "cub" else load_oxford_pet)(path, split=split)


def model_labels(records, loaded):
    """The records' labels as indices of the model's classes: matched by name (ignoring case)
    when the model knows its class names, else taken as they are.

    Examples
    --------
    >>> from cvkit.cli.models import LoadedModel
    >>> recs = load_records("datasets/fixtures/csv", "csv")        # names sorted alphabetically
    >>> m = LoadedModel(None, "zoo", ("circle", "square", "triangle", "star"), True, (8, 8), False)
    >>> recs.class_names, recs.labels.tolist(), model_labels(recs, m).tolist()
    (('circle', 'square', 'star', 'triangle'), [3, 1, 2, 2, 0, 0], [2, 1, 3, 3, 0, 0])
    """
    n = len(loaded.class_names)
    labels = np.asarray(records.labels, dtype=np.int64)
    if not loaded.named:
        if labels.size and labels.max() >= n:
            raise ValueError(f"`--data`: the dataset has labels up to {int(labels.max())} but the "
                             f"model {loaded.name} scores {n} classes; name them with "
                             "--classes a,b,c to match the dataset's classes by name.")
        return labels
    index = {name.lower(): i for i, name in enumerate(loaded.class_names)}
    missing = [c for c in records.class_names if c.lower() not in index]
    if missing:
        raise ValueError(f"`--data`: the classes {missing} of the dataset are not classes of the "
                         f"model {loaded.name} ({list(loaded.class_names)}).")
    lookup = np.array([index[c.lower()] for c in records.class_names], dtype=np.int64)
    return lookup[labels]


def stream_maps(records, loaded, labels, method, layer=None, batch=32, seed=0):
    """Maps of the true classes, class probabilities and masks, read batch by batch.

    Returns
    -------
    (maps, probs, masks)
        float32 (N, h, w), float64 (N, C) and bool (N, h, w) or None.

    Examples
    --------
    >>> from cvkit.cli.models import load_model
    >>> m = load_model("shapes_small_cnn")
    >>> recs = load_records("datasets/fixtures/oxford_pet", "pet")   # from the repository root
    >>> maps, probs, masks = stream_maps(recs, m, model_labels(recs, m), "cam")
    >>> maps.shape, probs.shape, masks.shape, bool(np.allclose(probs.sum(1), 1))
    ((5, 64, 64), (5, 4), (5, 64, 64), True)
    """
    from tqdm.auto import tqdm

    h, w = loaded.input_size
    n = len(records)
    ds = records.to_dataset((h, w), masks=records.has_masks, batch_size=batch)
    maps = np.empty((n, h, w), np.float32)
    probs = np.empty((n, len(loaded.class_names)), np.float64)
    masks = np.empty((n, h, w), bool) if records.has_masks else None
    bar = tqdm(total=n, desc=f"wsol {method}", unit="img", file=sys.stderr, disable=None)
    start = 0
    for item in ds:
        x = item["image"].numpy()
        sl = slice(start, start + len(x))
        maps[sl] = np.asarray(explain_maps(loaded, x, labels[sl], method, layer, batch, seed)
                              ).reshape(len(x), h, w)
        probs[sl] = probabilities(loaded, x, batch)
        if masks is not None:
            masks[sl] = item["mask"].numpy()
        start = sl.stop
        bar.update(len(x))
    bar.close()
    return maps, probs, masks


def run(args):
    """Run the command for parsed ``args``; returns the exit status (0).

    Examples
    --------
    >>> import argparse, tempfile
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> with tempfile.TemporaryDirectory() as tmp:   # doctest: +ELLIPSIS
    ...     run(parser.parse_args(["wsol", "--data", "datasets/fixtures/cub200", "--format",
    ...                            "cub", "--model", "shapes_small_cnn", "--out", tmp]))
    WSOL evaluation of grad-cam with shapes_small_cnn on 8 images of datasets/fixtures/cub200 ...
    method ...
    wrote .../curves.png
    0
    """
    from ..wsol import evaluate_maps, pixel_boxes, report_table
    from .console import output_folder

    batch = check_int(args.batch_size, "--batch-size", minimum=1)
    records = load_records(args.data, args.format, args.split)
    if args.limit is not None:
        records = records.subset(slice(0, check_int(args.limit, "--limit", minimum=1)))
    if len(records) == 0:
        raise ValueError(f"`--data`: {args.data} holds no records for split {args.split!r}.")
    classes = parse_classes(args.classes) if args.classes is not None else None
    loaded = load_model(args.model, classes, args.size)
    check_method(loaded, args.method, args.layer)
    labels = model_labels(records, loaded)
    out = output_folder(args.out, "--out")
    maps, probs, masks = stream_maps(records, loaded, labels, args.method, args.layer, batch,
                                     args.seed)
    gt = pixel_boxes(records.boxes, loaded.input_size)[:, None]
    report = evaluate_maps(maps, gt, masks=masks, scores=probs, labels=labels, method=args.method,
                           keep_maps=False)
    title = (f"WSOL evaluation of {args.method} with {loaded.name} on {len(records)} images of "
             f"{args.data} ({args.format}, split {args.split})")
    table = report_table([report], title=title)
    print(table)
    for path in write_outputs(report, table, out, {"model": loaded.name, "data": str(args.data),
                                                   "format": args.format, "split": args.split}):
        print(f"wrote {path}")
    return 0


def _curves(report):
    """The curves of a report as lists (for ``curves.json``)."""
    v2 = report.max_box_acc_v2
    curves = {"thresholds": v2.thresholds.tolist(),
              "box_acc": {f"{d:g}": acc.tolist() for d, acc in zip(v2.iou_thresholds, v2.accuracy)},
              "max_box_acc_curve": report.max_box_acc.accuracy[0].tolist()}
    if report.pxap is not None:
        px = report.pxap
        curves["pxap"] = {"thresholds": px.thresholds.tolist(),
                          "precision": [None if np.isnan(v) else float(v) for v in px.precision],
                          "recall": px.recall.tolist()}
    return curves


def write_outputs(report, table, out, meta):
    """Write ``metrics.txt``, ``metrics.json``, ``curves.json`` and ``curves.png`` to ``out``;
    returns their paths.

    Examples
    --------
    >>> import tempfile
    >>> from cvkit.wsol import evaluate_maps
    >>> cams = np.zeros((2, 8, 8)); cams[:, 2:5, 2:6] = 1
    >>> report = evaluate_maps(cams, [[2, 2, 5, 4]] * 2, method="blobs")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_outputs(report, "table", Path(tmp), {"data": "toy"})
    ...     metrics = json.loads(paths[1].read_text())
    >>> [p.name for p in paths], metrics["metrics"]["MaxBoxAcc"]
    (['metrics.txt', 'metrics.json', 'curves.json', 'curves.png'], 100.0)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..visualize import plot_wsol_report

    paths = [out / name for name in ("metrics.txt", "metrics.json", "curves.json", "curves.png")]
    paths[0].write_text(table + "\n", encoding="utf-8")
    summary = {k: float(v) for k, v in report.summary().items()}
    paths[1].write_text(json.dumps({**meta, "method": report.method, "n_images": report.n_images,
                                    "metrics": summary}, indent=2) + "\n", encoding="utf-8")
    paths[2].write_text(json.dumps(_curves(report)) + "\n", encoding="utf-8")
    fig = plot_wsol_report(report)
    fig.savefig(paths[3], dpi=90, bbox_inches="tight")
    plt.close(fig)
    return paths
