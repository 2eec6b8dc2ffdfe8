"""Checkers for the exercises of ``notebooks/01_localization.ipynb``.

* :func:`check_iou`: the student's element-wise IoU of ``xyxy`` boxes.
* :func:`check_multitask_loss`: the student's :math:`\\mathcal{L}_{cls} + \\alpha\\,\\mathcal{L}_{box}`.
* :func:`check_two_headed_model`: the student's Keras model with a ``classifier`` and a
  ``localizer`` head on one shared backbone.
"""
from __future__ import annotations

import numpy as np

from .._validate import to_numpy
from . import ExerciseError, call_student, check_array, check_scalar

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
        ("disjoint boxes", [[0, 0, 1, 1]], [[2, 2, 3, 3]],
         "clip the intersection width and height at 0 before multiplying (np.maximum(..., 0)); "
         "two negative sides would give a positive 'intersection'."),
        ("one box inside the other", [[0, 0, 4, 4]], [[1, 1, 2, 2]], "IoU = 1 / 16 here."),
        ("boxes touching along an edge", [[0, 0, 1, 1]], [[1, 0, 2, 1]],
         "touching boxes share no area: IoU 0."),
        ("a zero-area box", [[0.5, 0.5, 0.5, 0.5]], [[0, 0, 1, 1]],
         "a degenerate box must give IoU 0, not NaN: guard the division when the union is 0."),
        ("random boxes (40 pairs, element-wise)", rand_a, rand_b,
         "compute one IoU per row: use [:, 0] ... [:, 3], not a double loop over all pairs."),
    ]


def check_iou(student_fn):
    """Check ``student_fn(a, b)`` -> element-wise IoU (N,) of ``xyxy`` boxes a, b of shape (N, 4).

    Seven cases, from the course's two overlapping squares to degenerate boxes (which must give 0,
    not NaN) and 40 random pairs, each compared with :func:`cvkit.boxes.iou`.

    Parameters
    ----------
    student_fn : callable

    Returns
    -------
    bool
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` naming the case,
        with a hint.

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
    Correct: IoU (one box inside the other)
    Correct: IoU (boxes touching along an edge)
    Correct: IoU (a zero-area box)
    Correct: IoU (random boxes (40 pairs, element-wise))
    True

    A union that counts the overlap twice gives 1/8 instead of 1/7:

    >>> check_iou(lambda a, b: overlap(a, b) / (area(a) + area(b)))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: IoU (two 2x2 squares overlapping on a 1x1 corner): wrong value ... Hint: intersection 1, union 4 + 4 - 1 = 7.
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
        if np.any(got_arr < -1e-9):
            raise ExerciseError(f"IoU ({what}): got a negative value {got_arr.min():.4g}. Hint: "
                                "the intersection sides must be clipped at 0.")
        ref = B.iou(a, b).astype(np.float64)
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
        ``True``; a wrong answer raises :class:`~cvkit.exercises.ExerciseError` whose hint gives
        the two terms.

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
    >>> check_multitask_loss(alpha_ignored)   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: multitask loss (alpha=0.0): wrong value: expected 2.02..., got 2.02... Hint: expected cross-entropy 2.02... + alpha * MSE 0.00...
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
        if alpha == 0.0 and arr.size == 1 and abs(float(arr.reshape(-1)[0]) - float(l_box)) < 1e-5 \
                and abs(float(l_box) - float(l_cls)) > 1e-3:
            raise ExerciseError("multitask loss (alpha=0): you returned the box loss; with "
                                "alpha = 0 only the classification loss remains.")
        hint = (f"expected cross-entropy {float(l_cls):.4f} + alpha * MSE {float(l_box):.4f}; "
                "average the cross-entropy over images and the squared errors over images and "
                "the 4 coordinates.")
        check_scalar(f"multitask loss (alpha={alpha})", got, float(total), atol=1e-4, rtol=1e-4,
                     hint=hint)
    return True


def check_two_headed_model(model, num_classes):
    """Check a Keras model with a softmax ``classifier`` head and a 4-unit ``localizer`` head.

    Both heads must read the same shared features, and calling the model on a batch must give
    probabilities (N, num_classes) that sum to 1 and boxes (N, 4).

    Parameters
    ----------
    model : keras.Model
        The student's model, outputs ``[classes, boxes]``.
    num_classes : int

    Returns
    -------
    bool
        ``True`` (and a confirmation is printed); a wrong model raises
        :class:`~cvkit.exercises.ExerciseError` saying which requirement it misses.

    Examples
    --------
    >>> import keras
    >>> inputs = keras.Input((8, 8, 3))
    >>> x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> classes = keras.layers.Dense(3, activation="softmax", name="classifier")(x)
    >>> boxes = keras.layers.Dense(4, activation="sigmoid", name="localizer")(x)
    >>> check_two_headed_model(keras.Model(inputs, [classes, boxes]), num_classes=3)
    Correct: two-headed model (shared backbone, 'classifier' + 'localizer').
    True
    >>> check_two_headed_model(keras.Model(inputs, classes), num_classes=3)
    Traceback (most recent call last):
    ...
    cvkit.exercises.ExerciseError: the model must have two outputs [classes, boxes]; it has 1.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise ExerciseError(f"expected a keras.Model, got {type(model).__name__}. Did you return "
                            "the model?")
    if len(model.outputs) != 2:
        raise ExerciseError(f"the model must have two outputs [classes, boxes]; it has "
                            f"{len(model.outputs)}.")
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
    if act != "softmax":
        raise ExerciseError(f"the 'classifier' head must use a softmax activation; it uses {act!r}.")
    if getattr(loc, "units", None) != 4:
        raise ExerciseError(f"the 'localizer' head must have 4 units (x_min, y_min, x_max, y_max); "
                            f"it has {getattr(loc, 'units', None)}.")
    if cls.input is not loc.input and cls.input.name != loc.input.name:
        raise ExerciseError("the two heads must read the same shared features (both Dense layers "
                            "called on the same pooled tensor).")
    shape = model.inputs[0].shape
    x = np.random.default_rng(0).random((2, *shape[1:])).astype(np.float32)
    probs, boxes = model.predict(x, verbose=0)
    if probs.shape != (2, num_classes) or boxes.shape != (2, 4):
        raise ExerciseError(f"outputs must be (N, {num_classes}) and (N, 4); got {probs.shape} and "
                            f"{boxes.shape}. Put the classifier first: outputs=[classes, boxes].")
    if not np.allclose(probs.sum(axis=1), 1, atol=1e-4):
        raise ExerciseError("the class probabilities do not sum to 1: use a softmax.")
    print("Correct: two-headed model (shared backbone, 'classifier' + 'localizer').")
    return True
