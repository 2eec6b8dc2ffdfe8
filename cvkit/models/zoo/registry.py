"""Models trained on ``shapes``, shipped with cvkit so that notebooks run offline and fast.

Training a MobileNetV2 from scratch takes tens of minutes on a laptop CPU, longer than a notebook
cell should. The zoo holds the models the notebooks, the tour and the benchmarks explain, each
trained once by :func:`train_zoo_model` with a fixed seed and recipe, its weights stored as
float16 in ``cvkit/models/zoo/`` next to a JSON card with the recipe, where and how long it
trained, and its held-out scores. :func:`pretrained` rebuilds the architecture and loads the
weights: nothing is downloaded.

An entry is *any builder and its training function*: ``builder`` names a function that returns
an uncompiled Keras model (a name of :mod:`cvkit.models` or ``'package.module:function'``),
``trainer`` a function that trains it in place, ``evaluator`` one that scores it on held-out
images; ``init_from`` starts it from another entry's weights (the course's recipe: a backbone
pre-trained on the task, new heads). Later entries (a decoder, a detector) add their own three
functions and nothing else.

Re-train any entry with ``python -m cvkit zoo train NAME`` (same seed, same data, same recipe);
``python -m cvkit zoo`` lists the entries and their scores.
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..._validate import check_choice, check_int

__all__ = ["ZOO", "ZooEntry", "pretrained", "pretrained_classifier", "train_zoo_model", "zoo_data",
           "zoo_card", "ZOO_DIR"]

#: folder of the shipped weights and cards
ZOO_DIR = Path(__file__).parent


@dataclass(frozen=True)
class ZooEntry:
    """Recipe of one zoo model: architecture, data and training (all that reproduces it).

    ``builder(num_classes, input_shape=(s, s, 3), **builder_kwargs)`` makes the model,
    ``trainer(model, train, **train)`` trains it (``train`` is the held data set drawn with
    ``shapes(n_train, image_size, seed=train_seed, preset=preset)``) and
    ``evaluator(model, test)`` returns the card's held-out scores. ``builder``, ``trainer`` and
    ``evaluator`` are names in :mod:`cvkit.models` / this module or ``'module:function'``.

    Attributes
    ----------
    builder, trainer, evaluator : str
        The three functions, by name.
    description : str
        One line for ``python -m cvkit zoo``.
    preset : str
        The :func:`cvkit.datasets.shapes` preset of the training and held-out images.
    image_size, num_classes : int
    builder_kwargs, train : dict
        Passed to the builder and to the trainer.
    init_from : str, optional
        The entry whose weights start this one (where layer names and shapes match).
    n_train : int
        Number of training images.
    seed, train_seed, test_seed : int
        Seeds of the initial weights, of the training images and of the card's held-out images.

    Examples
    --------
    >>> e = ZOO["shapes_small_cnn"]
    >>> e.builder, e.trainer, e.image_size, e.preset, e.train["epochs"]
    ('small_cnn', 'fit_classifier', 64, 'easy', 12)
    >>> ZooEntry(builder="small_cnn", description="a quicker small CNN", image_size=32).n_train
    8000
    """

    builder: str
    description: str
    trainer: str = "fit_classifier"
    evaluator: str = "score_classifier"
    preset: str = "zoo"
    image_size: int = 128
    num_classes: int = 4
    builder_kwargs: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    init_from: str | None = None
    n_train: int = 8000
    seed: int = 0
    train_seed: int = 0              # seed of the training images
    test_seed: int = 12345           # seed of the held-out images of the card


_MNV2 = {"alpha": 0.35, "weights": None}

#: the entries: name -> :class:`ZooEntry`
ZOO = {
    "shapes_cam_mobilenetv2": ZooEntry(
        builder="cam_classifier", builder_kwargs=dict(_MNV2),
        description="MobileNetV2 (alpha 0.35) + GAP + Dense, 4 shapes classes, 128 px, "
                    "output stride 32 (4 x 4 maps)",
        train=dict(epochs=14, batch_size=64, lr=2e-3, warmup_epochs=1.0)),
    "shapes_cam_mobilenetv2_s8": ZooEntry(
        builder="cam_classifier",
        builder_kwargs=dict(_MNV2, output_layer="block_5_add", head_conv=256),
        description="MobileNetV2 cut after block_5 (stride 8, receptive field 59 px) + 3x3 conv "
                    "256 + GAP + Dense, 16 x 16 maps: the fine-map WSOL classifier of CAM, "
                    "Grad-CAM, Augmented Grad-CAM and WSOL, 128 px",
        init_from="shapes_cam_mobilenetv2", evaluator="cvkit.wsol.localization_scores:score_cam_localization",
        train=dict(epochs=6, batch_size=64, lr=2e-3, warmup_epochs=0.5)),
    "shapes_cam_mobilenetv2_s16": ZooEntry(
        builder="cam_classifier",
        builder_kwargs=dict(_MNV2, output_layer="block_12_add", head_conv=256),
        description="MobileNetV2 cut after block_12 (stride 16) + 3x3 conv 256 + GAP + Dense, "
                    "8 x 8 maps: the middle row of notebook 02's stride trade-off, 128 px",
        init_from="shapes_cam_mobilenetv2", evaluator="cvkit.wsol.localization_scores:score_cam_localization",
        train=dict(epochs=6, batch_size=64, lr=2e-3, warmup_epochs=0.5)),
    "shapes_cam_mobilenetv2_s8_gmp": ZooEntry(
        builder="cam_classifier",
        builder_kwargs=dict(_MNV2, output_layer="block_5_add", head_conv=256, pooling="max"),
        description="the stride-8 classifier with global MAX pooling: the GAP vs GMP comparison "
                    "of notebook 02, 128 px",
        init_from="shapes_cam_mobilenetv2", evaluator="cvkit.wsol.localization_scores:score_cam_localization",
        train=dict(epochs=6, batch_size=64, lr=2e-3, warmup_epochs=0.5)),
    "shapes_localizer_mobilenetv2": ZooEntry(
        builder="localizer", trainer="fit_localizer", evaluator="score_localizer",
        builder_kwargs=dict(_MNV2, box_features="spatial", box_hidden=256),
        description="MobileNetV2 (alpha 0.35) backbone of shapes_cam_mobilenetv2 + class head + "
                    "box head (hidden ReLU 256), GIoU loss: the multitask localizer, 128 px",
        init_from="shapes_cam_mobilenetv2", n_train=6000,
        train=dict(epochs=4, batch_size=32, lr=2e-3, warmup_epochs=0.0, box_loss="giou",
                   box_weight=5.0)),
    "shapes_small_cnn": ZooEntry(
        builder="small_cnn", preset="easy", image_size=64, n_train=6000,
        description="small CNN (4 x conv-BN-ReLU, 3 max-pools, GAP, Dense) of 'inside CNNs', 64 px",
        train=dict(epochs=12, batch_size=64, lr=2e-3, warmup_epochs=0.5)),
    "shapes_fcam_s8": ZooEntry(
        builder="cvkit.wsol.fcam.zoo:fcam_builder", trainer="cvkit.wsol.fcam.zoo:fit_fcam",
        evaluator="cvkit.wsol.fcam.zoo:score_fcam", n_train=2048,
        builder_kwargs=dict(reduce=32, skip_reduce=16, stop_stride=2),     # LITE_DECODER
        description="F-CAM decoder (U-Net 32-16 from the 16 x 16 CAM layer reduced to 32 "
                    "channels, skips at strides 4 and 2 reduced to 16, logits at 64 x 64 "
                    "up-sampled) of the frozen shapes_cam_mobilenetv2_s8, trained from CAM seeds "
                    "with one epoch of CRF warm-up, 128 px",
        train=dict(epochs=4, batch_size=32, lr=0.01, method="cam", n_neg=0.7, crf_weight=100.0,
                   crf_warmup=1)),
    "shapes_fcam_s8_gradcam": ZooEntry(
        builder="cvkit.wsol.fcam.zoo:fcam_builder", trainer="cvkit.wsol.fcam.zoo:fit_fcam",
        evaluator="cvkit.wsol.fcam.zoo:score_fcam_grad_cam", n_train=2048,
        builder_kwargs=dict(reduce=32, skip_reduce=16, stop_stride=2),
        description="the same F-CAM decoder trained from Grad-CAM seeds, 128 px",
        train=dict(epochs=4, batch_size=32, lr=0.01, method="grad_cam", n_neg=0.7,
                   crf_weight=100.0, crf_warmup=1)),
    "shapes_maskrcnn": ZooEntry(
        builder="cvkit.detection.maskrcnn.zoo:maskrcnn_builder",
        trainer="cvkit.detection.maskrcnn.zoo:fit_maskrcnn",
        evaluator="cvkit.detection.maskrcnn.zoo:score_maskrcnn", n_train=2000,
        description="Mask R-CNN (ResNet at stride 8, RPN with 5 anchors per cell, ROI Align, box "
                    "head, mask head 14->28) on 1-4 shapes per image "
                    "(cvkit.datasets.instances), 128 px",
        train=dict(epochs=7, batch_size=8, lr=1e-3, warmup_epochs=0.25)),
    "shapes_perception_mobilenetv2": ZooEntry(
        builder="cvkit.explain.perception.zoo:perception_builder",
        trainer="cvkit.explain.perception.zoo:fit_perception",
        evaluator="cvkit.explain.perception.zoo:score_perception", n_train=2048,
        description="Perception Visualization decoder (no skips, 128-64-32-16-16) inverting the "
                    "4 x 4 x 1280 last conv map of the frozen shapes_cam_mobilenetv2; L1 + "
                    "feature matching (weight 1) + class term (weight 1), 128 px",
        train=dict(epochs=5, batch_size=32, lr=2e-3, feature_weight=1.0, class_weight=1.0)),
}


def _entry(name):
    if not isinstance(name, str) or name not in ZOO:
        raise ValueError(f"`name` must be one of {sorted(ZOO)}; got {name!r}.")
    return ZOO[name]


def _resolve(spec, what):
    """A function from a name of cvkit.models / this module, or 'module:function'."""
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"`{what}` must be a function name or 'module:function'; got {spec!r}.")
    if ":" in spec:
        module, _, attr = spec.partition(":")
        fn = getattr(importlib.import_module(module), attr, None)
    else:
        import cvkit.models as M

        from . import recipes

        fn = getattr(recipes, spec, None) or getattr(M, spec, None)
    if not callable(fn):
        raise ValueError(f"`{what}` {spec!r} does not name a function (use a name of "
                         "cvkit.models or 'package.module:function').")
    return fn


def _paths(name, directory):
    d = ZOO_DIR if directory is None else Path(directory)
    return d / f"{name}.weights.h5", d / f"{name}.json"


def zoo_data(name, n, seed=None):
    """``shapes`` images drawn like the entry's training data (same preset, your seed).

    ``seed=None`` gives the held-out images of the card (the entry's ``test_seed``), never seen in
    training.

    Examples
    --------
    >>> zoo_data("shapes_small_cnn", 2).images.shape
    (2, 64, 64, 3)
    """
    from ...datasets import shapes

    e = _entry(name)
    seed = e.test_seed if seed is None else seed
    if seed == e.train_seed:
        raise ValueError(f"`seed` {seed} is the training seed of {name!r}; pick another seed to get "
                         "held-out images.")
    return shapes(check_int(n, "n", minimum=1), image_size=e.image_size, seed=seed,
                  preset=e.preset)


def _build(e):
    fn = _resolve(e.builder, "builder")
    return fn(e.num_classes, input_shape=(e.image_size, e.image_size, 3), **e.builder_kwargs)


def zoo_card(name, directory=None):
    """The JSON card of a trained entry: recipe, held-out scores, training time and machine.

    Parameters
    ----------
    name : str
        A key of :data:`ZOO`.
    directory : path, optional
        Where the ``<name>.json`` card is (default: the package's ``zoo`` folder).

    Returns
    -------
    dict
        What :func:`train_zoo_model` wrote: ``'recipe'``, ``'held_out'`` (``n``, ``seed`` and the
        evaluator's scores), ``'train_seconds'``, ``'trained_on'``, the Keras and TensorFlow
        versions and the date.

    Raises
    ------
    FileNotFoundError
        When the entry has no card there (train it first).

    Examples
    --------
    >>> card = zoo_card("shapes_small_cnn")
    >>> card["recipe"]["builder"], card["held_out"]["n"], card["held_out"]["seed"]
    ('small_cnn', 500, 12345)
    >>> card["held_out"]["accuracy"] > 0.9
    True
    """
    _entry(name)
    _, card = _paths(name, directory)
    if not card.exists():
        raise FileNotFoundError(f"no card for {name!r} at {card}; train it with "
                                f"`python -m cvkit zoo train {name}`.")
    try:
        return json.loads(card.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"the card of {name!r} at {card} is not valid JSON ({exc}); re-train it "
                         f"with `python -m cvkit zoo train {name}`.") from exc


def _compile_for_inference(e, model):
    if "fcam" in e.trainer:
        model.compile(**{k: v for k, v in e.train.items()
                         if k not in ("epochs", "batch_size", "lr")})
    if e.trainer == "fit_localizer":
        import keras

        model.compile(keras.optimizers.Adam(), box_loss=e.train.get("box_loss", "l2"),
                      box_weight=e.train.get("box_weight", 10.0))


def pretrained(name, directory=None):
    """Load a zoo model: the architecture rebuilt from its recipe, then the shipped weights.

    Parameters
    ----------
    name : str
        A key of :data:`ZOO`.
    directory : path, optional
        Where the ``<name>.weights.h5`` file is (default: the package's ``zoo`` folder).

    Returns
    -------
    keras.Model
        Ready for inference (the localizer is compiled with its multitask loss so that
        ``evaluate`` works). Takes images in [0, 1] of the entry's size.

    Examples
    --------
    >>> model = pretrained("shapes_small_cnn")
    >>> test = zoo_data("shapes_small_cnn", 64)
    >>> float((model.predict(test.images, verbose=0).argmax(1) == test.labels).mean()) > 0.9
    True
    """
    e = _entry(name)
    weights, _ = _paths(name, directory)
    if not weights.exists():
        raise FileNotFoundError(f"no weights for {name!r} at {weights}; train them with "
                                f"`python -m cvkit zoo train {name}` (or pass `directory`).")
    model = _build(e)
    try:
        model.load_weights(weights)
    except Exception as exc:  # h5py / Keras raise many kinds for a truncated or foreign file
        raise ValueError(f"the weights file of {name!r} at {weights} is corrupt or belongs to "
                         f"another model ({type(exc).__name__}: {exc}); re-train it with "
                         f"`python -m cvkit zoo train {name}`.") from exc
    _compile_for_inference(e, model)
    return model


def pretrained_classifier(name, num_classes, input_shape):
    """:func:`pretrained` ``name``, checked to have ``num_classes`` outputs and ``input_shape``:
    the frozen classifier that a decoder's zoo builder (F-CAM, Perception Visualization) stands on.

    Examples
    --------
    >>> pretrained_classifier("shapes_small_cnn", 4, (64, 64, 3)).name
    'small_cnn'
    >>> try:
    ...     pretrained_classifier("shapes_small_cnn", 4, (128, 128, 3))
    ... except ValueError as e:
    ...     print(str(e).split(";")[1])
     the classifier 'shapes_small_cnn' has (4, (64, 64, 3)).
    """
    clf = pretrained(name)
    want = (num_classes, tuple(input_shape))
    got = (int(clf.outputs[0].shape[-1]), tuple(clf.inputs[0].shape[1:]))
    if want != got:
        raise ValueError(f"the zoo entry asks for {want} (classes, input shape); the classifier "
                         f"{name!r} has {got}.")
    return clf


def _init_from(model, parent):
    """Copy the weights of zoo entry ``parent`` into the layers of ``model`` with the same name and
    weight shapes; returns how many layers were initialised."""
    src = pretrained(parent)
    done = 0
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            other = src.get_layer(layer.name)
        except ValueError:
            continue
        vals = other.get_weights()
        if [v.shape for v in vals] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(vals)
            done += 1
    return done


def _save_float16(bare, values, path):
    """Write ``values`` as the weights of the uncompiled ``bare`` model (a compiled model's file
    would also hold the optimizer's moments), float32 arrays stored as float16; Keras casts them
    back to the float32 variables on loading."""
    import tempfile

    import h5py

    bare.set_weights(values)
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full.weights.h5"
        bare.save_weights(full)
        with h5py.File(full, "r") as src, h5py.File(path, "w") as dst:
            def copy(g_src, g_dst):
                g_dst.attrs.update(g_src.attrs)
                for key, obj in g_src.items():
                    if isinstance(obj, h5py.Group):
                        copy(obj, g_dst.create_group(key))
                        continue
                    data = obj[()]
                    if getattr(data, "dtype", None) == np.float32:
                        data = data.astype(np.float16)
                    g_dst.create_dataset(key, data=data).attrs.update(obj.attrs)

            copy(src, dst)


def _machine():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    kind = f"GPU ({len(gpus)})" if gpus else f"CPU ({os.cpu_count()} cores)"
    return f"{kind}, {platform.machine()}"


def train_zoo_model(name, directory=None, n_train=None, epochs=None, n_test=500, verbose=1):
    """Train a zoo entry with its recipe and write its float16 weights and card.

    Recipe: ``shapes(n_train, image_size, seed=train_seed, preset=preset)``, the entry's
    ``builder`` (seeded with ``seed`` through ``keras.utils.set_random_seed``), the weights of
    ``init_from`` where layer names and shapes match, then ``trainer(model, data, **train)``.
    The weights are rounded to float16 before scoring, so the card's held-out scores (on
    ``n_test`` images of ``test_seed``, by ``evaluator``) are those of the shipped file.

    Parameters
    ----------
    name : str
    directory : path, optional
        Output folder (default: the package's ``zoo`` folder).
    n_train, epochs : int, optional
        Override the recipe (for a quick check; the card says so).
    n_test : int
    verbose : int
        0 silent, 1 one line per epoch.

    Returns
    -------
    (keras.Model, dict)
        The trained model and its card.

    Examples
    --------
    Re-training a shipped entry overwrites its files in the package (skipped here: the small
    CNN trains for about three minutes on two CPU cores, the MobileNetV2 entries for longer):

    >>> model, card = train_zoo_model("shapes_small_cnn")   # doctest: +SKIP

    A tiny entry of your own, trained for one epoch into a temporary folder (a few seconds):

    >>> import os, tempfile
    >>> ZOO["tiny"] = ZooEntry(builder="small_cnn", description="tiny", preset="easy",
    ...                        image_size=32, n_train=16, train=dict(epochs=1, batch_size=8))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     model, card = train_zoo_model("tiny", tmp, n_test=8, verbose=0)
    ...     files = sorted(os.listdir(tmp))
    ...     back = pretrained("tiny", tmp)
    >>> files, sorted(card["held_out"]), card["recipe_overridden"]
    (['tiny.json', 'tiny.weights.h5'], ['accuracy', 'n', 'seed'], False)
    >>> x = zoo_data("tiny", 2).images
    >>> bool(np.allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5))
    True
    >>> del ZOO["tiny"]
    """
    import keras
    import tensorflow as tf

    from ...datasets import shapes

    e = _entry(name)
    n_train = e.n_train if n_train is None else check_int(n_train, "n_train", minimum=1)
    train_kwargs = dict(e.train)
    if epochs is not None:
        train_kwargs["epochs"] = check_int(epochs, "epochs", minimum=1)
    n_test = check_int(n_test, "n_test", minimum=1)
    check_choice(verbose, "verbose", (0, 1))
    trainer, evaluator = _resolve(e.trainer, "trainer"), _resolve(e.evaluator, "evaluator")
    _resolve(e.builder, "builder")                  # fail before drawing thousands of images
    weights, card_path = _paths(name, directory)
    weights.parent.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    train = shapes(n_train, image_size=e.image_size, seed=e.train_seed, preset=e.preset)
    test = zoo_data(name, n_test)
    t_data = time.perf_counter() - t0

    keras.utils.set_random_seed(e.seed)
    model = _build(e)
    n_init = _init_from(model, e.init_from) if e.init_from else 0
    n_epochs = train_kwargs.get("epochs")

    class _Log(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            shown = {k: v for k, v in (logs or {}).items()
                     if k in ("loss", "accuracy", "mean_iou")}
            print(f"{name} epoch {epoch + 1}/{n_epochs} {time.perf_counter() - t1:7.1f} s  "
                  + "  ".join(f"{k} {v:.3f}" for k, v in shown.items()), flush=True)

    t1 = time.perf_counter()
    trainer(model, train, callbacks=[_Log()] if verbose else [], **train_kwargs)
    t_train = time.perf_counter() - t1
    # ship the weights rounded to float16 (half the file, same held-out scores); the returned
    # model and the card's scores are those of the rounded weights, i.e. of the shipped file
    rounded = [w.astype(np.float16).astype(w.dtype) if w.dtype == np.float32 else w
               for w in model.get_weights()]
    model.set_weights(rounded)
    scores = evaluator(model, test)
    _save_float16(_build(e), rounded, weights)
    card = {"name": name, "recipe": asdict(e), "n_train": n_train, "train": train_kwargs,
            "recipe_overridden": (n_train != e.n_train or train_kwargs != e.train),
            "initialised_layers": n_init,
            "held_out": {"n": n_test, "seed": e.test_seed, **scores},
            "train_seconds": round(t_train, 1), "data_seconds": round(t_data, 1),
            "trained_on": _machine(), "stored_as": "float16 (scores measured on the rounded "
                                                   "weights)",
            "keras": keras.__version__, "tensorflow": tf.__version__,
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return model, card
