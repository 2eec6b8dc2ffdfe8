"""The model side of ``python -m cvkit explain`` and ``wsol``: load a zoo entry or a ``.keras``
file, know its class names, check that a method can explain it, and compute maps and
probabilities in batches.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._validate import check_choice, check_int

__all__ = ["METHODS", "add_model_arguments", "LoadedModel", "load_model", "parse_classes",
           "class_index", "check_method", "explain_maps", "probabilities"]

#: Command-line method names -> the function of cvkit that computes the map.
METHODS = {"grad-cam": "grad_cam", "cam": "cam", "grad-cam++": "grad_cam_plus_plus",
           "layer-cam": "layer_cam", "xgrad-cam": "xgrad_cam", "score-cam": "score_cam",
           "rise": "rise", "augmented": "augmented_grad_cam", "fcam": "fcam_maps"}


def add_model_arguments(parser, model_help, method_help, classes_help, batch_size):
    """The options that name the model and its map, shared by ``explain`` and ``wsol``:
    ``--model --method --classes --layer --size --batch-size --seed``.

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> add_model_arguments(p, "a model", "the map", "class names", batch_size=8)
    >>> a = p.parse_args(["--model", "m.keras"])
    >>> a.method, a.batch_size, a.layer, a.seed
    ('grad-cam', 8, None, 0)
    """
    parser.add_argument("--model", required=True, metavar="PATH_OR_ZOO_NAME", help=model_help)
    parser.add_argument("--method", default="grad-cam", choices=list(METHODS), help=method_help)
    parser.add_argument("--classes", metavar="A,B,C", help=classes_help)
    parser.add_argument("--layer", metavar="NAME",
                        help="target layer (default: the last 4-D layer)")
    parser.add_argument("--size", type=int, metavar="S",
                        help="image side for a model without a fixed input size (default 224)")
    parser.add_argument("--batch-size", type=int, default=batch_size, metavar="B",
                        help="images per batch")
    parser.add_argument("--seed", type=int, default=0, help="seed of rise / augmented")


@dataclass
class LoadedModel:
    """A model ready for the command line.

    Attributes
    ----------
    model : keras.Model
    name : str
        The zoo name or the file path.
    class_names : tuple of str
        One per class (``'0'``, ``'1'``, ... for a model whose names are unknown).
    named : bool
        True when the names are real (a zoo entry, or ``--classes``).
    input_size : (int, int)
        Height and width the images are resized to.
    is_fcam : bool
        An F-CAM model (class scores in its third output).

    Examples
    --------
    >>> LoadedModel(None, "my.keras", ("0", "1"), False, (64, 64), False).named
    False
    """

    model: object
    name: str
    class_names: tuple
    named: bool
    input_size: tuple
    is_fcam: bool


def _zoo_class_names(entry):
    from ..datasets import shapes

    names = tuple(shapes(1, image_size=16, seed=1, preset=entry.preset).class_names)
    return names if len(names) == entry.num_classes else None


def _load(spec):
    """(model, class names or None) for a zoo name or a model file."""
    from ..models import load_model as load_keras
    from ..models.zoo import ZOO, pretrained

    if spec in ZOO:
        return pretrained(spec), _zoo_class_names(ZOO[spec])
    path = Path(spec).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"`--model`: {spec!r} is neither a file nor a zoo name; give a "
                                f".keras file or one of {sorted(ZOO)}.")
    if path.is_dir() or path.suffix.lower() != ".keras":
        raise ValueError(f"`--model`: {path} is not a .keras file; save your model with "
                         "`model.save('name.keras')`.")
    try:
        model = load_keras(path, compile=False)
    except Exception as exc:  # Keras raises many kinds for a foreign or broken file
        reason = " ".join(str(exc).split())[:300]
        raise ValueError(f"`--model`: {path} could not be loaded as a Keras model "
                         f"({type(exc).__name__}: {reason}).") from None
    return model, None


def _scores_width(model, is_fcam):
    """Number of classes, after checking the model's inputs and outputs."""
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise ValueError(f"`--model`: {model.name!r} must take one batch of images (N, H, W, C); "
                         f"it takes {[tuple(i.shape) for i in model.inputs]}.")
    if model.inputs[0].shape[-1] not in (3, None):
        raise ValueError(f"`--model`: {model.name!r} takes {model.inputs[0].shape[-1]}-channel "
                         "images; the command line feeds RGB images (3 channels).")
    outputs = model.outputs[2:3] if is_fcam else model.outputs
    if len(outputs) != 1:
        raise ValueError(f"`--model`: {model.name!r} has {len(outputs)} outputs; explain needs a "
                         "classifier with one output of class scores (N, classes). Build a model "
                         "that ends at the classification head: keras.Model(model.input, "
                         "model.outputs[i]).")
    shape = tuple(outputs[0].shape)
    if len(shape) != 2:
        raise ValueError(f"`--model`: {model.name!r} outputs shape {shape}, not class scores "
                         "(N, classes).")
    return int(shape[1])


def load_model(spec, classes=None, size=None):
    """Load ``spec`` (a zoo name or a ``.keras`` file) with its class names and input size.

    Parameters
    ----------
    spec : str
        A key of :data:`cvkit.models.zoo.ZOO` or the path of a ``.keras`` file (cvkit's custom
        layers are registered, :func:`cvkit.models.load_model`).
    classes : sequence of str, optional
        Class names, one per output unit (they replace the zoo's).
    size : int, optional
        Image side for a model whose input size is not fixed (default 224).

    Returns
    -------
    LoadedModel

    Examples
    --------
    >>> m = load_model("shapes_small_cnn")
    >>> m.class_names, m.named, m.input_size, m.is_fcam
    (('circle', 'square', 'triangle', 'star'), True, (64, 64), False)
    >>> load_model("no_such_model")   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: `--model`: 'no_such_model' is neither a file nor a zoo name; ...
    """
    from ..wsol.fcam import FCAM

    model, names = _load(spec)
    is_fcam = isinstance(model, FCAM)
    n = _scores_width(model, is_fcam)
    if classes is not None:
        names = tuple(classes)
        if len(names) != n:
            raise ValueError(f"`--classes` gives {len(names)} names; the model scores {n} "
                             "classes.")
    named = names is not None
    names = names if named else tuple(str(i) for i in range(n))
    h, w = model.inputs[0].shape[1:3]
    side = None if size is None else check_int(size, "--size", minimum=8)
    if h is None or w is None:
        h = w = 224 if side is None else side
    elif side is not None and (h, w) != (side, side):
        raise ValueError(f"`--size` {side}: the model takes {h} x {w} images; leave --size out.")
    return LoadedModel(model, str(spec), names, named, (int(h), int(w)), is_fcam)


def parse_classes(text):
    """``'cat,dog'`` -> ``('cat', 'dog')`` (``--classes``); empty names are refused.

    Examples
    --------
    >>> parse_classes(" cat, dog ")
    ('cat', 'dog')
    """
    names = tuple(s.strip() for s in str(text).split(","))
    if not names or any(not s for s in names):
        raise ValueError(f"`--classes` must be comma-separated class names such as 'cat,dog'; "
                         f"got {text!r}.")
    return names


def class_index(loaded, text):
    """The class index named by ``--class``: a class name (case-insensitive) or an index.

    Examples
    --------
    >>> m = LoadedModel(None, "demo", ("cat", "dog"), True, (8, 8), False)
    >>> class_index(m, "Dog"), class_index(m, "0")
    (1, 0)
    >>> class_index(m, "bird")
    Traceback (most recent call last):
    ...
    ValueError: `--class` 'bird' is not a class of the model demo; its classes are ['cat', 'dog'] (or give an index 0..1).
    """
    names = [n.lower() for n in loaded.class_names]
    n = len(names)
    if loaded.named and str(text).lower() in names:
        return names.index(str(text).lower())
    try:
        index = int(text)
    except ValueError:
        index = None
    if index is not None and 0 <= index < n:
        return index
    if index is not None:
        raise ValueError(f"`--class` {index} is out of range: the model scores {n} classes "
                         f"(0..{n - 1}).")
    if not loaded.named:
        raise ValueError(f"`--class` {text!r}: the model {loaded.name} has no class names; give "
                         f"an index 0..{n - 1}, or name its classes with --classes a,b,c.")
    raise ValueError(f"`--class` {text!r} is not a class of the model {loaded.name}; its classes "
                     f"are {list(loaded.class_names)} (or give an index 0..{n - 1}).")


def check_method(loaded, method, layer=None):
    """Check that ``method`` can explain the model (and ``layer``) before any image is read.

    Examples
    --------
    >>> check_method(load_model("shapes_small_cnn"), "fcam")   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `--method fcam` needs an F-CAM model such as the zoo's shapes_fcam_s8; ...
    """
    check_choice(method, "--method", tuple(METHODS))
    if method == "fcam" and not loaded.is_fcam:
        raise ValueError("`--method fcam` needs an F-CAM model such as the zoo's shapes_fcam_s8; "
                         f"{loaded.name} is a classifier (try --method cam or grad-cam).")
    if loaded.is_fcam and method != "fcam":
        raise ValueError(f"`--model` {loaded.name} is an F-CAM model: use --method fcam, or give "
                         "its classifier (shapes_cam_mobilenetv2_s8) for the other methods.")
    if layer is not None and method in ("rise", "fcam"):
        raise ValueError(f"`--layer`: --method {method} reads no layer; leave --layer out.")
    if method not in ("rise", "fcam"):
        from ..explain import find_layer

        find_layer(loaded.model, layer)          # cvkit's own error for a model without 4-D maps


def explain_maps(loaded, images, classes, method, layer=None, batch_size=16, seed=0):
    """Maps (N, H, W) in [0, 1] of ``classes`` for ``images`` (N, H, W, 3) at the model's size.

    ``augmented`` shifts by up to 30 px at 224 px (the authors' setting, scaled to the image);
    ``rise`` and ``augmented`` draw their masks / augmentations with ``seed``; ``fcam`` maps are
    the decoder's foreground (class-agnostic).

    Examples
    --------
    >>> from cvkit.models import zoo_data
    >>> m = load_model("shapes_small_cnn")
    >>> test = zoo_data("shapes_small_cnn", 2)
    >>> maps = explain_maps(m, test.images, test.labels, "grad-cam")
    >>> maps.shape, float(maps.max())
    ((2, 64, 64), 1.0)
    """
    from .. import explain

    fn = METHODS[method]
    cls = np.asarray(classes, dtype=np.int64)
    if method == "fcam":
        from ..wsol.fcam import fcam_maps

        return fcam_maps(loaded.model, images, batch_size=batch_size)
    if method == "rise":
        return explain.rise(loaded.model, images, class_index=cls, batch_size=max(batch_size, 64),
                            seed=seed)
    if method == "augmented":
        shift = max(1, round(30 * loaded.input_size[1] / 224))
        return explain.augmented_grad_cam(loaded.model, images, class_index=cls, layer=layer,
                                          max_shift=shift, batch_size=batch_size, seed=seed)
    return getattr(explain, fn)(loaded.model, images, class_index=cls, layer=layer,
                                batch_size=batch_size)


def probabilities(loaded, images, batch_size=16):
    """Class probabilities (N, C) of the model's output: a softmax is applied where the output is
    not already a distribution (logits); one unit is read as a sigmoid probability (a logit is put
    through the sigmoid).

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((2, 2, 3)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(2, kernel_initializer="zeros")])
    >>> m = LoadedModel(model, "logits", ("a", "b"), True, (2, 2), False)
    >>> probabilities(m, np.zeros((1, 2, 2, 3), np.float32)).tolist()     # logits 0, 0
    [[0.5, 0.5]]
    """
    out = loaded.model.predict(images, batch_size=batch_size, verbose=0)
    if loaded.is_fcam:
        out = out[2]
    p = np.asarray(out, dtype=np.float64)
    if not np.isfinite(p).all():
        raise ValueError(f"`--model` {loaded.name} gives NaN or infinite class scores on these "
                         "images.")
    is_distribution = (p >= 0).all() and np.allclose(p.sum(axis=1), 1.0, atol=1e-3)
    if p.shape[1] == 1 and ((p < 0) | (p > 1)).any():
        p = 1.0 / (1.0 + np.exp(-p))
    elif p.shape[1] > 1 and not is_distribution:
        e = np.exp(p - p.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    return p
