"""Write tiny copies of the Oxford-IIIT Pet, CUB-200-2011 and CSV layouts from synthetic images.

Each copy holds a handful of ``cvkit.datasets.shapes`` images (64-96 px, some non-square, one grey
JPEG in CUB) saved as real JPEG / PNG files, with the annotation files of the real format: boxes
from the shapes boxes (written in each format's own pixel convention) and, for the Pet copy,
trimaps from the shapes masks. The output is deterministic; the tests in
``tests/datasets/formats/`` load the committed copies in ``datasets/fixtures/`` and check
that the loaders give back the boxes the images were made from.

Run from the repository root::

    python datasets/make_fixtures.py            # rewrites datasets/fixtures/
    python datasets/make_fixtures.py --out DIR
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

import numpy as np

# run as a script from a clone without `pip install -e .`: import cvkit from the repository
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

#: (height, width) of the saved images, cycled over the images of each copy.
SIZES = ((64, 64), (64, 96), (96, 64), (80, 80))
#: shapes() arguments per copy: number of images and seed.
SPEC = {"oxford_pet": (8, 2021), "cub200": (8, 2002), "csv": (6, 2003)}
CLASSES = ("circle", "square", "triangle", "star")
SOURCE_SIZE = 64  # side of the generated shapes images before resizing to SIZES
PET_TRAINVAL = 6  # Pet: the first 6 images are trainval, the rest test
PET_WITH_XML = 5  # ... and only the first 5 have an xml box (as in the real set, not all do)
CUB_GREY = 3  # CUB: this image is saved as a one-channel (grey) JPEG, as some real ones are


def source_shapes(name):
    """The shapes dataset a fixture copy is made from, and the (height, width) of each image."""
    from cvkit.datasets import shapes

    n, seed = SPEC[name]
    ds = shapes(n, image_size=SOURCE_SIZE, seed=seed, classes=CLASSES)
    return ds, [SIZES[i % len(SIZES)] for i in range(n)]


def _resized_image(img, size):
    from PIL import Image

    h, w = size
    pil = Image.fromarray(np.round(img * 255).astype(np.uint8))
    return pil.resize((w, h), Image.BILINEAR)


def _resized_mask(mask, size):
    from PIL import Image

    h, w = size
    pil = Image.fromarray(mask.astype(np.uint8) * 255)
    return np.asarray(pil.resize((w, h), Image.NEAREST)) > 0


def pet_trimap(mask):
    """Trimap of a bool mask: 1 = pet, 2 = background, 3 = border (mask pixels next to background).

    The border lies inside the mask, so ``trimap in {1, 3}`` gives the mask back and
    ``trimap == 1`` its 4-neighbour erosion.
    """
    from scipy.ndimage import binary_erosion

    inner = binary_erosion(mask, border_value=0)
    tri = np.full(mask.shape, 2, np.uint8)
    tri[mask] = 3
    tri[inner] = 1
    return tri


def _pixel_edges(box, size):
    h, w = size
    return box[0] * w, box[1] * h, box[2] * w, box[3] * h


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def write_pet(out):
    from PIL import Image

    ds, sizes = source_shapes("oxford_pet")
    root = os.path.join(out, "oxford_pet")
    os.makedirs(os.path.join(root, "images"))
    list_lines = ["#Image CLASS-ID SPECIES BREED ID", "#ID: 1:4 Class ids",
                  "#SPECIES: 1:Cat 2:Dog", "#BREED ID: 1-2:Cat 1-2:Dog",
                  "#Class names with a capital first letter are 'cats', the others 'dogs'"]
    trainval, test = [], []
    for i, (img, label, box, mask, size) in enumerate(zip(ds.images, ds.labels, ds.boxes, ds.masks,
                                                          sizes)):
        species = 1 if label < 2 else 2  # circle, square -> "cat"; triangle, star -> "dog"
        cls = CLASSES[label].capitalize() if species == 1 else CLASSES[label]
        name = f"{cls}_{i + 1}"
        breed = label % 2 + 1
        line = f"{name} {label + 1} {species} {breed}"
        list_lines.append(line)
        (trainval if i < PET_TRAINVAL else test).append(line)
        _resized_image(img, size).save(os.path.join(root, "images", name + ".jpg"), quality=92)
        tri = pet_trimap(_resized_mask(mask, size))
        os.makedirs(os.path.join(root, "annotations", "trimaps"), exist_ok=True)
        Image.fromarray(tri).save(os.path.join(root, "annotations", "trimaps", name + ".png"))
        if i < PET_WITH_XML:
            x0, y0, x1, y1 = (int(round(v)) for v in _pixel_edges(box, size))
            h, w = size
            xml = (f"<annotation>\n  <folder>OXIIIT</folder>\n  <filename>{name}.jpg</filename>\n"
                   "  <source>\n    <database>cvkit synthetic copy</database>\n  </source>\n"
                   f"  <size>\n    <width>{w}</width>\n    <height>{h}</height>\n"
                   "    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n"
                   f"  <object>\n    <name>{'cat' if species == 1 else 'dog'}</name>\n"
                   "    <pose>Frontal</pose>\n    <truncated>0</truncated>\n"
                   "    <occluded>0</occluded>\n    <bndbox>\n"
                   f"      <xmin>{x0 + 1}</xmin>\n      <ymin>{y0 + 1}</ymin>\n"  # 1-based
                   f"      <xmax>{x1}</xmax>\n      <ymax>{y1}</ymax>\n"  # inclusive
                   "    </bndbox>\n    <difficult>0</difficult>\n  </object>\n</annotation>\n")
            _write(os.path.join(root, "annotations", "xmls", name + ".xml"), xml)
    _write(os.path.join(root, "annotations", "list.txt"), "\n".join(list_lines) + "\n")
    _write(os.path.join(root, "annotations", "trainval.txt"), "\n".join(trainval) + "\n")
    _write(os.path.join(root, "annotations", "test.txt"), "\n".join(test) + "\n")


def write_cub(out):
    ds, sizes = source_shapes("cub200")
    root = os.path.join(out, "cub200")
    images, labels, bboxes, split = [], [], [], []
    for i, (img, label, box, size) in enumerate(zip(ds.images, ds.labels, ds.boxes, sizes)):
        image_id = i + 1
        folder = f"{label + 1:03d}.{CLASSES[label]}"
        rel = f"{folder}/{CLASSES[label]}_{image_id:04d}.jpg"
        os.makedirs(os.path.join(root, "images", folder), exist_ok=True)
        pil = _resized_image(img, size)
        if i == CUB_GREY:
            pil = pil.convert("L")
        pil.save(os.path.join(root, "images", rel), quality=92)
        x0, y0, x1, y1 = _pixel_edges(box, size)
        images.append(f"{image_id} {rel}")
        labels.append(f"{image_id} {label + 1}")
        bboxes.append(f"{image_id} {x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}")
        split.append(f"{image_id} {1 if i % 2 == 0 else 0}")
    classes = [f"{k + 1} {k + 1:03d}.{c}" for k, c in enumerate(CLASSES)]
    for fname, lines in (("images.txt", images), ("image_class_labels.txt", labels),
                         ("bounding_boxes.txt", bboxes), ("train_test_split.txt", split),
                         ("classes.txt", classes)):
        _write(os.path.join(root, fname), "\n".join(lines) + "\n")


def write_csv(out):
    ds, sizes = source_shapes("csv")
    root = os.path.join(out, "csv")
    os.makedirs(os.path.join(root, "images"))
    rows = [",".join(("path", "label", "x_min", "y_min", "x_max", "y_max"))]
    for i, (img, label, box, size) in enumerate(zip(ds.images, ds.labels, ds.boxes, sizes)):
        rel = f"images/img_{i:02d}.png"
        _resized_image(img, size).save(os.path.join(root, rel))
        x0, y0, x1, y1 = (int(round(v)) for v in _pixel_edges(box, size))
        rows.append(f"{rel},{CLASSES[label]},{x0},{y0},{x1},{y1}")
    _write(os.path.join(root, "boxes.csv"), "\n".join(rows) + "\n")


def write_fixtures(out):
    """Write the three copies under ``out`` (each sub-folder is replaced)."""
    for name, writer in (("oxford_pet", write_pet), ("cub200", write_cub), ("csv", write_csv)):
        target = os.path.join(out, name)
        if os.path.isdir(target):
            shutil.rmtree(target)
        writer(out)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(here, "fixtures"),
                        help="output folder (default: datasets/fixtures next to this script)")
    args = parser.parse_args(argv)
    write_fixtures(args.out)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.out) for f in fs)
    print(f"wrote fixtures to {args.out} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
