"""Checkers of notebook 01: the reference solutions pass, typical mistakes get a helpful message."""
import keras
import numpy as np
import pytest

from cvkit.boxes import iou
from cvkit.exercises import ExerciseError
from cvkit.exercises.localization import check_iou, check_multitask_loss, check_two_headed_model


def test_check_iou_accepts_reference_and_explains_mistakes():
    assert check_iou(iou)

    def no_clip(a, b):  # forgets to clip the intersection at 0
        iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
        ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
        inter = iw * ih
        area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])
        return inter / (area(a) + area(b) - inter)

    with pytest.raises(ExerciseError, match="disjoint|clip"):
        check_iou(no_clip)

    def nan_on_degenerate(a, b):
        out = iou(a, b)
        out[(a[:, 2] == a[:, 0])] = np.nan
        return out

    with pytest.raises(ExerciseError, match="NaN"):
        check_iou(nan_on_degenerate)
    with pytest.raises(ExerciseError, match="expects your function"):
        check_iou(3)


def _reference_loss(labels, probs, bt, bp, alpha):
    return -np.mean(np.log(probs[np.arange(len(labels)), labels])) + alpha * np.mean((bt - bp) ** 2)


def test_check_multitask_loss():
    assert check_multitask_loss(_reference_loss)
    with pytest.raises(ExerciseError, match="alpha"):  # sums instead of averaging the box loss
        check_multitask_loss(lambda l, p, bt, bp, a: _reference_loss(l, p, bt, bp, 0)
                             + a * np.sum((bt - bp) ** 2))
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError"):
        check_multitask_loss(lambda *args: 1 / 0)


def _two_headed(num_classes=3, share=True, act="softmax"):
    inp = keras.Input((32, 32, 3))
    f = keras.layers.Conv2D(4, 3)(inp)
    x = keras.layers.GlobalAveragePooling2D()(f)
    x2 = x if share else keras.layers.GlobalMaxPooling2D()(f)
    cls = keras.layers.Dense(num_classes, activation=act, name="classifier")(x)
    box = keras.layers.Dense(4, activation="sigmoid", name="localizer")(x2)
    return keras.Model(inp, [cls, box])


def test_check_two_headed_model():
    assert check_two_headed_model(_two_headed(), 3)
    with pytest.raises(ExerciseError, match="3 units"):
        check_two_headed_model(_two_headed(2), 3)
    with pytest.raises(ExerciseError, match="softmax"):
        check_two_headed_model(_two_headed(act="relu"), 3)
    with pytest.raises(ExerciseError, match="same shared features"):
        check_two_headed_model(_two_headed(share=False), 3)
    with pytest.raises(ExerciseError, match="keras.Model"):
        check_two_headed_model(None, 3)
