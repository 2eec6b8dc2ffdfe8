"""Models trained on ``shapes``, shipped with cvkit so that notebooks run offline and fast.

Training a MobileNetV2 from scratch takes minutes to tens of minutes on a laptop CPU, longer than a
notebook cell should. The zoo holds a few such models, trained once by :func:`train_zoo_model`
with a fixed seed and recipe, their weights stored in ``cvkit/models/zoo/`` (a few MB) next to a
JSON card with the recipe and the held-out scores. :func:`pretrained` rebuilds the architecture
with the builder of :mod:`cvkit.models.heads` and loads the weights: nothing is downloaded.

Re-train any entry with ``python -m cvkit zoo train NAME`` (same seed, same data, same recipe);
``python -m cvkit zoo`` lists the entries and their scores.

Entries
-------
``'shapes_cam_mobilenetv2'``
    :func:`cam_classifier` (MobileNetV2, alpha 0.35, GAP -> Dense), 4 classes of ``shapes``: the
    classifier of the CAM, Grad-CAM, Augmented Grad-CAM and WSOL notebooks and benchmarks.

The recipe also covers :func:`localizer` entries (``builder='localizer'``: class and box heads
trained with the multitask loss); none is shipped yet.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._validate import check_choice, check_int

__all__ = ["ZOO", "ZooEntry", "pretrained", "train_zoo_model", "zoo_data", "zoo_card", "ZOO_DIR"]

#: folder of the shipped weights and cards
ZOO_DIR = Path(__file__).with_name("zoo")


@dataclass(frozen=True)
class ZooEntry:
    """Recipe of one zoo model: architecture, data and training (all that reproduces it)."""

    builder: str                      # 'cam_classifier' or 'localizer'
    description: str
    image_size: int = 128
    alpha: float = 0.35
    data: dict = field(default_factory=dict)      # keyword arguments of shapes()
    builder_kwargs: dict = field(default_factory=dict)
    n_train: int = 8000
    epochs: int = 14
    batch_size: int = 64
    lr: float = 2e-3
    warmup_epochs: float = 1.0
    box_loss: str = "l2"             # localizer: 'l2', 'smooth_l1' or 'giou'
    box_weight: float = 10.0
    seed: int = 0
    train_seed: int = 0              # seed of the training images
    test_seed: int = 12345           # seed of the held-out images of the card


_DATA = {"scale": (0.3, 0.6), "distractors": (0, 2), "min_contrast": 0.4}

#: the entries: name -> :class:`ZooEntry`
ZOO = {
    "shapes_cam_mobilenetv2": ZooEntry(
        builder="cam_classifier", data=dict(_DATA),
        description="MobileNetV2 (alpha 0.35) + GAP + Dense, 4 shapes classes, 128 px"),
}


def _entry(name):
    if not isinstance(name, str) or name not in ZOO:
        raise ValueError(f"`name` must be one of {sorted(ZOO)}; got {name!r}.")
    return ZOO[name]


def _paths(name, directory):
    d = ZOO_DIR if directory is None else Path(directory)
    return d / f"{name}.weights.h5", d / f"{name}.json"


def zoo_data(name, n, seed=None):
    """``shapes`` images drawn like the entry's training data (same settings, your seed).

    ``seed=None`` gives the held-out images of the card (the entry's ``test_seed``), never seen in
    training.
    """
    from ..datasets import shapes

    e = _entry(name)
    seed = e.test_seed if seed is None else seed
    if seed == e.train_seed:
        raise ValueError(f"`seed` {seed} is the training seed of {name!r}; pick another seed to get "
                         "held-out images.")
    return shapes(check_int(n, "n", minimum=1), image_size=e.image_size, seed=seed, **e.data)


def _build(e):
    from . import heads

    fn = getattr(heads, e.builder)
    return fn(4, input_shape=(e.image_size, e.image_size, 3), alpha=e.alpha, weights=None,
              **e.builder_kwargs)


def zoo_card(name, directory=None):
    """The JSON card of a trained entry: recipe, held-out scores, training time."""
    _entry(name)
    _, card = _paths(name, directory)
    if not card.exists():
        raise FileNotFoundError(f"no card for {name!r} at {card}; train it with "
                                f"`python -m cvkit zoo train {name}`.")
    return json.loads(card.read_text())


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
    >>> model = pretrained("shapes_cam_mobilenetv2")          # doctest: +SKIP
    >>> test = zoo_data("shapes_cam_mobilenetv2", 100)        # doctest: +SKIP
    """
    e = _entry(name)
    weights, _ = _paths(name, directory)
    if not weights.exists():
        raise FileNotFoundError(f"no weights for {name!r} at {weights}; train them with "
                                f"`python -m cvkit zoo train {name}` (or pass `directory`).")
    model = _build(e)
    model.load_weights(weights)
    if e.builder == "localizer":
        import keras

        model.compile(keras.optimizers.Adam(e.lr), box_loss=e.box_loss, box_weight=e.box_weight)
    return model


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


def _evaluate(e, model, test):
    if e.builder == "localizer":
        from .metrics import localization_scores

        probs, boxes = model.predict(test.images, batch_size=100, verbose=0)
        s = localization_scores(test.labels, test.boxes, probs, boxes)
        return {"accuracy": float(s["accuracy"]), "mean_iou": float(s["mean_iou"]),
                "correct_localization": float(s["correct_localization"])}
    probs = model.predict(test.images, batch_size=100, verbose=0)
    return {"accuracy": float(np.mean(probs.argmax(1) == test.labels))}


def train_zoo_model(name, directory=None, n_train=None, epochs=None, n_test=500, verbose=1):
    r"""Train a zoo entry from scratch with its recipe and write its weights and card.

    Recipe: ``shapes(n_train, seed=train_seed, **data)``, Adam with a linear warm-up from
    :math:`\eta/10` to :math:`\eta` over ``warmup_epochs`` and a cosine decay to 0,

    .. math:: \eta_t = \tfrac{\eta}{2}\,\bigl(1 + \cos(\pi\, t / T)\bigr),

    batch ``batch_size``, seeded with ``seed`` (``keras.utils.set_random_seed``); the localizer
    uses the multitask loss :math:`\mathcal{L}_{cls} + \alpha\,\mathcal{L}_{box}` with the
    entry's ``box_loss`` (GIoU trains boxes much faster than L2: benchmarks/RESULTS.md).
    The card records the held-out scores on ``n_test`` images of ``test_seed``.

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
    """
    import keras

    from ..datasets import shapes

    e = _entry(name)
    n_train = e.n_train if n_train is None else check_int(n_train, "n_train", minimum=1)
    epochs = e.epochs if epochs is None else check_int(epochs, "epochs", minimum=1)
    n_test = check_int(n_test, "n_test", minimum=1)
    check_choice(verbose, "verbose", (0, 1))
    weights, card_path = _paths(name, directory)
    weights.parent.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    train = shapes(n_train, image_size=e.image_size, seed=e.train_seed, **e.data)
    test = zoo_data(name, n_test)
    t_data = time.perf_counter() - t0

    keras.utils.set_random_seed(e.seed)
    model = _build(e)
    steps_per_epoch = -(-n_train // e.batch_size)
    warmup = int(round(e.warmup_epochs * steps_per_epoch))
    total = max(epochs * steps_per_epoch - warmup, 1)
    schedule = keras.optimizers.schedules.CosineDecay(e.lr / 10, total, warmup_target=e.lr,
                                                      warmup_steps=warmup)
    if e.builder == "localizer":
        model.compile(keras.optimizers.Adam(schedule), box_loss=e.box_loss,
                      box_weight=e.box_weight)
        targets = {"classifier": train.labels, "localizer": train.boxes}
    else:
        model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        targets = train.labels

    class _Log(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if verbose:
                shown = {k: v for k, v in (logs or {}).items()
                         if k in ("loss", "accuracy", "mean_iou")}
                print(f"{name} epoch {epoch + 1}/{epochs} {time.perf_counter() - t1:7.1f} s  "
                      + "  ".join(f"{k} {v:.3f}" for k, v in shown.items()), flush=True)

    t1 = time.perf_counter()
    model.fit(train.images, targets, batch_size=e.batch_size, epochs=epochs, verbose=0,
              callbacks=[_Log()])
    t_train = time.perf_counter() - t1
    # ship the weights rounded to float16 (half the file, same held-out accuracy); the returned
    # model and the card's scores are those of the rounded weights, i.e. of the shipped file
    rounded = [w.astype(np.float16).astype(w.dtype) if w.dtype == np.float32 else w
               for w in model.get_weights()]
    model.set_weights(rounded)
    scores = _evaluate(e, model, test)
    _save_float16(_build(e), rounded, weights)
    import tensorflow as tf

    card = {"name": name, "recipe": asdict(e), "n_train": n_train, "epochs": epochs,
            "recipe_overridden": (n_train != e.n_train or epochs != e.epochs),
            "held_out": {"n": n_test, "seed": e.test_seed, **scores},
            "train_seconds": round(t_train, 1), "data_seconds": round(t_data, 1),
            "keras": keras.__version__, "tensorflow": tf.__version__,
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return model, card
