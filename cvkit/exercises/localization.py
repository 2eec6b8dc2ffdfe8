"""Checkers for the exercises of ``notebooks/01_localization.ipynb``.

* :func:`check_iou`: the student's element-wise IoU of ``xyxy`` boxes.
* :func:`check_multitask_loss`: the student's :math:`\\mathcal{L}_{cls} + \\alpha\\,\\mathcal{L}_{box}`.
* :func:`check_two_headed_model`: the student's Keras model with a ``classifier`` and a
  ``localizer`` head on one shared backbone.
"""
from __future__ import annotations

import numpy as np

from .._validate import to_numpy
from . import ExerciseError, call_student, check_array, check_mistakes, check_scalar

__all__ = ["check_iou", "check_multitask_loss", "check_two_headed_model"]


def _iou_cases():
    rng = np.random.default_rng(7)
    lo = rng.random((40, 2)) * 0.7
    rand_a = np.concatenate([lo, lo + 0.05 + 0.3 * rng.random((40, 2))], 1)
    lo = rng.random((40, 2)) * 0.7
    rand_b = np.concatenate([lo, lo + 0.05 + 0.3 * rng.random((40, 2))], 1)
    return [
        ("two 2x2 squares overlapping on a 1x1 corner", [[0, 0, 2, 2]], [[1, 1, 3, 3]],
         "intersection 1, union 4 + 4 - 1 = 7."),
        ("identical boxes", [[0.1, 0.2, 0.5, 0.9]], [[0.1, 0.2, 0.5, 0.9]],
         "a box overlaps itself completely: IoU 1."),
        ("disjoint boxes", [[0, 0, 1, 1]], [[2, 2, 3, 3]], _CLIP),
        ("boxes side by side (apart in x, level in y)", [[0, 0, 1, 1]], [[2, 0, 3, 1]], _CLIP),
        ("one box inside the other", [[0, 0, 4, 4]], [[1, 1, 2, 2]], "IoU = 1 / 16 here."),
        ("boxes touching along an edge", [[0, 0, 1, 1]], [[1, 0, 2, 1]],
         "touching boxes share no area: IoU 0."),
        ("a zero-area box", [[0.5, 0.5, 0.5, 0.5]], [[0, 0, 1, 1]],
         "a degenerate box must give IoU 0, not NaN: guard the division when the union is 0."),
        ("two empty boxes (the union is 0)", [[0.5, 0.5, 0.5, 0.5], [0.2, 0.3, 0.6, 0.3]],
         [[0.2, 0.3, 0.2, 0.3], [0.1, 0.3, 0.4, 0.3]], _GUARD),
        ("random boxes (40 pairs, element-wise)", rand_a, rand_b,
         "compute one IoU per row: use [:, 0] ... [:, 3], not a double loop over all pairs."),
    ]


_CLIP = ("clip the intersection width and height at 0 before multiplying (np.maximum(..., 0)); "
         "two negative sides would give a positive 'intersection'.")
_GUARD = ("two empty boxes have union 0, and 0 / 0 is NaN: return 0 where the union is 0 "
          "(np.where(union > 0, ...), or np.divide(..., where=union > 0)).")


def _iou_mistakes(a, b):
    """(explanation, wrong IoU) of the usual mistakes on the boxes a, b (N, 4)."""
    def area(x):
        return (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])

    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    return [
        ("the intersection is not clipped: two boxes apart on both axes have two negative "
         "sides, whose product looks like an overlap. " + _CLIP,
         lambda: iw * ih / (area(a) + area(b) - iw * ih)),
        ("the union counts the overlap twice: |A u B| = |A| + |B| - |A n B|.",
         lambda: inter / (area(a) + area(b))),
        ("you divided by the area of the first box; IoU divides by the union.",
         lambda: inter / area(a)),
    ]


def check_iou(student_fn):
    """Check ``student_fn(a, b)`` -> element-wise IoU (N,) of ``xyxy`` boxes a, b of shape (N, 4).

    Nine cases, from the course's two overlapping squares to boxes apart on one or both axes
    (where an unclipped intersection shows), degenerate boxes and two empty boxes whose union is
    0 (which must give 0, not NaN), and 40 random pairs, each compared with
    :func:`cvkit.boxes.iou`.

    Parameters
    ----------
    student_fn : callable

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` naming the case,
        with a hint (an unclipped intersection, a union that counts the overlap twice and a
        missing guard against a zero union are named).

    Examples
    --------
    >>> import numpy as np
    >>> def area(x):
    ...     return (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])
    >>> def overlap(a, b):
    ...     w = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ...     h = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    ...     return np.maximum(w, 0) * np.maximum(h, 0)
    >>> def iou(a, b):
    ...     union = area(a) + area(b) - overlap(a, b)
    ...     return np.divide(overlap(a, b), union, out=np.zeros_like(union), where=union > 0)
    >>> check_iou(iou)
    Correct: IoU (two 2x2 squares overlapping on a 1x1 corner)
    Correct: IoU (identical boxes)
    Correct: IoU (disjoint boxes)
    Correct: IoU (boxes side by side (apart in x, level in y))
    Correct: IoU (one box inside the other)
    Correct: IoU (boxes touching along an edge)
    Correct: IoU (a zero-area box)
    Correct: IoU (two empty boxes (the union is 0))
    Correct: IoU (random boxes (40 pairs, element-wise))
    True

    A union that counts the overlap twice gives 1/8 instead of 1/7:

    >>> check_iou(lambda a, b: overlap(a, b) / (area(a) + area(b)))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: IoU (two 2x2 squares overlapping on a 1x1 corner): the union counts the overlap twice: ...

    Without a guard, two empty boxes give 0 / 0:

    >>> check_iou(lambda a, b: overlap(a, b) / (area(a) + area(b) - overlap(a, b)))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: IoU (two empty boxes (the union is 0)): your result contains NaN (a division by zero?). Hint: two empty boxes have union 0, and 0 / 0 is NaN: ...
    """
    from .. import boxes as B

    if not callable(student_fn):
        raise ExerciseError(f"check_iou expects your function, got {type(student_fn).__name__}.")
    for what, a, b, hint in _iou_cases():
        a = np.asarray(a, np.float64)
        b = np.asarray(b, np.float64)
        with np.errstate(all="ignore"):
            got = call_student(student_fn, f"IoU ({what}): your function", a.copy(), b.copy())
        got_arr = np.asarray(to_numpy(got), dtype=np.float64)
        if got_arr.shape != (len(a),) and got_arr.size == len(a):
            got_arr = got_arr.reshape(len(a))
        ref = B.iou(a, b).astype(np.float64)
        check_mistakes(f"IoU ({what})", got_arr, ref, _iou_mistakes(a, b), atol=1e-6)
        if np.any(got_arr < -1e-9):
            raise ExerciseError(f"IoU ({what}): got a negative value {got_arr.min():.4g}. Hint: "
                                "the intersection sides must be clipped at 0.")
        check_array(f"IoU ({what})", got_arr, ref, atol=1e-6, hint=hint)
    return True


def check_multitask_loss(student_fn):
    """Check ``student_fn(labels, probs, boxes_true, boxes_pred, alpha)`` -> scalar loss.

    The reference is :math:`-\\frac{1}{N}\\sum_i \\log \\hat y_{i, y_i} + \\alpha \\frac{1}{4N}
    \\sum_{i, j} (b_{ij} - \\hat b_{ij})^2` (categorical cross-entropy plus alpha times the MSE).

    Parameters
    ----------
    student_fn : callable
        Called with integer labels (6,), probabilities (6, 4), true and predicted boxes (6, 4) and
        alpha in 0, 1 and 5; compared with :func:`cvkit.models.losses.multitask_loss`.

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` that names the
        usual mistakes (a sum instead of a mean, a missing minus sign, alpha ignored or on the
        wrong term, the log of every probability, absolute errors) or gives the two terms.

    Examples
    --------
    >>> import numpy as np
    >>> def multitask_loss(labels, probs, boxes_true, boxes_pred, alpha):
    ...     cross_entropy = -np.log(probs[np.arange(len(labels)), labels]).mean()
    ...     return cross_entropy + alpha * ((boxes_true - boxes_pred) ** 2).mean()
    >>> check_multitask_loss(multitask_loss)
    Correct: multitask loss (alpha=0.0)
    Correct: multitask loss (alpha=1.0)
    Correct: multitask loss (alpha=5.0)
    True
    >>> def alpha_ignored(labels, probs, boxes_true, boxes_pred, alpha):
    ...     return multitask_loss(labels, probs, boxes_true, boxes_pred, 1.0)
    >>> check_multitask_loss(alpha_ignored)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: multitask loss (alpha=0.0): alpha is ignored: the box loss must be multiplied by alpha.

    A mistake the checker does not know gets the two terms it expected:

    >>> check_multitask_loss(lambda *args: 2.0)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: multitask loss (alpha=0.0): wrong value: expected 2.02..., got 2 ... Hint: expected cross-entropy 2.02... + alpha * MSE 0.00...
    """
    from ..models.losses import multitask_loss

    if not callable(student_fn):
        raise ExerciseError("check_multitask_loss expects your function, got "
                            f"{type(student_fn).__name__}.")
    rng = np.random.default_rng(11)
    for alpha in (0.0, 1.0, 5.0):
        n, c = 6, 4
        labels = rng.integers(0, c, n)
        probs = rng.dirichlet(np.ones(c), n).astype(np.float32)
        lo = rng.random((n, 2)) * 0.6
        bt = np.concatenate([lo, lo + 0.05 + 0.3 * rng.random((n, 2))], axis=1)
        bp = np.clip(bt + rng.normal(0, 0.1, bt.shape), 0, 1)
        bt, bp = bt.astype(np.float32), bp.astype(np.float32)
        total, l_cls, l_box = multitask_loss((labels, bt), (probs, bp), box_weight=alpha)
        got = call_student(student_fn, f"multitask loss (alpha={alpha}): your function",
                           labels.copy(), probs.copy(), bt.copy(), bp.copy(), alpha)
        arr = np.asarray(to_numpy(got), dtype=np.float64)
        name = f"multitask loss (alpha={alpha})"
        if arr.size == 1:
            check_mistakes(name, arr.reshape(()), float(total),
                           _loss_mistakes(labels, probs, bt, bp, alpha), atol=1e-4, rtol=1e-4)
        hint = (f"expected cross-entropy {float(l_cls):.4f} + alpha * MSE {float(l_box):.4f}; "
                "average the cross-entropy over images and the squared errors over images and "
                "the 4 coordinates.")
        check_scalar(name, got, float(total), atol=1e-4, rtol=1e-4, hint=hint)
    return True


def _loss_mistakes(labels, probs, bt, bp, alpha):
    """(explanation, wrong loss) of the usual mistakes of the multitask loss."""
    p = probs.astype(np.float64)
    ce = -np.log(p[np.arange(len(labels)), labels]).mean()
    err = (bt.astype(np.float64) - bp) ** 2
    mse, n = err.mean(), len(labels)
    return [
        ("the box loss sums the squared errors of the 4 coordinates; L_box averages over them "
         "too (1 / 4N).", ce + alpha * err.sum(axis=1).mean()),
        ("the box loss sums the squared errors; average them over the N images and the 4 "
         "coordinates (np.mean).", ce + alpha * err.sum()),
        ("the cross-entropy is summed over the images; average it (1 / N).",
         n * ce + alpha * mse),
        ("the cross-entropy is -log of the true class's probability: the minus sign is "
         "missing.", -ce + alpha * mse),
        ("alpha weights the box loss, not the classification loss: L_cls + alpha * L_box (with "
         "alpha = 0 only the classification loss remains).", alpha * ce + mse),
        ("you returned the box loss alone: add the classification loss, L_cls + alpha * L_box.",
         alpha * mse),
        ("alpha is ignored: the box loss must be multiplied by alpha.", ce + mse),
        ("the cross-entropy takes only the probability of the true class, "
         "probs[np.arange(N), labels], not the log of every probability.",
         -np.log(p).mean() + alpha * mse),
        ("the box loss is squared errors (L2), not absolute errors.",
         ce + alpha * np.abs(bt - bp.astype(np.float64)).mean()),
    ]


def check_two_headed_model(model, num_classes):
    """Check a Keras model with a softmax ``classifier`` head and a 4-unit ``localizer`` head.

    Both heads must read the same shared features through global average pooling (one
    ``GlobalAveragePooling2D`` shared by the heads, or one per head on the same feature map;
    layers such as ``Dropout`` may sit between the pooling and a head), the outputs must come in
    the order ``[classes, boxes]``, and calling the model on a batch must give probabilities
    (N, num_classes) that sum to 1 and boxes (N, 4). The softmax may be the ``classifier``'s
    activation or a separate ``Softmax`` layer after it.

    Parameters
    ----------
    model : keras.Model
        The student's model, outputs ``[classes, boxes]``.
    num_classes : int

    Returns
    -------
    bool
        ``True`` (and a confirmation is printed); a wrong model raises
        :class:`~cvkit.exercises.ExerciseError` saying which requirement it misses (a ``Flatten``
        instead of the pooling, heads on different features, heads in the wrong order, logits
        instead of probabilities are named).

    Examples
    --------
    >>> import keras
    >>> inputs = keras.Input((8, 8, 3))
    >>> features = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(features)
    >>> classes = keras.layers.Dense(3, activation="softmax", name="classifier")(x)
    >>> boxes = keras.layers.Dense(4, activation="sigmoid", name="localizer")(x)
    >>> check_two_headed_model(keras.Model(inputs, [classes, boxes]), num_classes=3)
    Correct: two-headed model (shared backbone, 'classifier' + 'localizer').
    True
    >>> check_two_headed_model(keras.Model(inputs, classes), num_classes=3)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: the model must have two outputs [classes, boxes]; it has 1.
    >>> check_two_headed_model(keras.Model(inputs, [boxes, classes]), num_classes=3)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: the heads are in the wrong order: ...
    """
    import keras

    if not isinstance(model, keras.Model):
        raise ExerciseError(f"expected a keras.Model, got {type(model).__name__}. Did you return "
                            "the model?")
    if len(model.outputs) != 2:
        raise ExerciseError(f"the model must have two outputs [classes, boxes]; it has "
                            f"{len(model.outputs)}.")
    cls, loc = _heads(model, num_classes)
    pooled = [_check_pooling(layer, head) for layer, head in ((cls, "classifier"),
                                                              (loc, "localizer"))]
    if pooled[0] is not pooled[1] and pooled[0].name != pooled[1].name:
        raise ExerciseError("the two heads must read the same shared features: both pool the "
                            "backbone's last feature map (features.output).")
    _check_outputs(model, cls, loc, num_classes)
    print("Correct: two-headed model (shared backbone, 'classifier' + 'localizer').")
    return True


def _heads(model, num_classes):
    """The 'classifier' and 'localizer' layers, checked for their names, units and activation."""
    names = [layer.name for layer in model.layers]
    for head in ("classifier", "localizer"):
        if head not in names:
            raise ExerciseError(f"no layer named '{head}': name the Dense layers of the heads "
                                "'classifier' and 'localizer' (name=... in keras.layers.Dense).")
    cls, loc = model.get_layer("classifier"), model.get_layer("localizer")
    if getattr(cls, "units", None) != num_classes:
        raise ExerciseError(f"the 'classifier' head must have {num_classes} units (one per class); "
                            f"it has {getattr(cls, 'units', None)}.")
    act = getattr(getattr(cls, "activation", None), "__name__", "")
    if act not in ("softmax", "linear"):
        raise ExerciseError("the 'classifier' head must use a softmax activation; it uses "
                            f"{act!r}.")
    if getattr(loc, "units", None) != 4:
        raise ExerciseError(f"the 'localizer' head must have 4 units (x_min, y_min, x_max, y_max); "
                            f"it has {getattr(loc, 'units', None)}.")
    return cls, loc


def _check_pooling(layer, head):
    """Walk back from the head through the layers on vectors to the layer that turned the feature
    map into a vector; it must be a ``GlobalAveragePooling2D``. Returns the map it pools."""
    import keras

    from .._graph import producer

    tensor = layer.input
    if len(tensor.shape) != 2:
        raise ExerciseError(f"the '{head}' head reads a tensor of shape {tuple(tensor.shape)}: "
                            "pool the feature map into a vector first (GlobalAveragePooling2D).")
    for _ in range(100):
        source = producer(tensor)
        try:
            tensor = source.input
        except (AttributeError, ValueError):   # no history, or a layer called several times
            break
        if isinstance(tensor, (list, tuple)) or len(tensor.shape) != 2:
            break
    if isinstance(source, keras.layers.GlobalAveragePooling2D) and not isinstance(tensor, list):
        return tensor
    if isinstance(source, keras.Model) and source.layers and isinstance(
            source.layers[-1], keras.layers.GlobalAveragePooling2D):   # pooling="avg" inside
        return tensor
    what = type(source).__name__ if source is not None else "no layer"
    if isinstance(source, keras.layers.Flatten):
        raise ExerciseError(f"the '{head}' head reads Flatten: the course's heads read global "
                            "average pooling, keras.layers.GlobalAveragePooling2D (a flattened map "
                            "ties each weight to one position and its size to the input size).")
    raise ExerciseError(f"the '{head}' head reads {what}: both heads must read the same shared "
                        "features, pooled by keras.layers.GlobalAveragePooling2D.")


def _check_outputs(model, cls, loc, num_classes):
    """Run the model and its two heads on a batch: order, shapes and probabilities."""
    import keras

    shape = [d if d is not None else 32 for d in model.inputs[0].shape[1:]]
    x = np.random.default_rng(0).random((2, *shape)).astype(np.float32)
    probs, boxes = (np.asarray(o) for o in model.predict(x, verbose=0))
    try:
        logits, box_head = keras.Model(model.inputs, [cls.output, loc.output]).predict(x, verbose=0)
    except (AttributeError, ValueError):   # a head called more than once: judge the outputs only
        logits, box_head = None, None
    if logits is not None:
        linear = getattr(cls.activation, "__name__", "") == "linear"
        soft = np.exp(logits - logits.max(1, keepdims=True))
        soft /= soft.sum(1, keepdims=True)
        if _same(probs, box_head) and not (_same(probs, soft) or _same(probs, logits)):
            raise ExerciseError("the heads are in the wrong order: the model returns [boxes, "
                                "classes]; put the classifier first: outputs=[classes, boxes].")
        if linear and _same(probs, logits) and not _same(probs, soft):
            raise ExerciseError("the 'classifier' head outputs logits (activation 'linear'): use "
                                "activation='softmax' (or a Softmax layer after it).")
    if probs.shape != (2, num_classes) or boxes.shape != (2, 4):
        raise ExerciseError(f"outputs must be (N, {num_classes}) and (N, 4); got {probs.shape} and "
                            f"{boxes.shape}. Put the classifier first: outputs=[classes, boxes].")
    if not np.allclose(probs.sum(axis=1), 1, atol=1e-4):
        raise ExerciseError("the class probabilities do not sum to 1: use a softmax.")


def _same(a, b):
    return a.shape == b.shape and np.allclose(a, b, atol=1e-5)
