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


# --- every checker: three or more plausible wrong answers named, two other right answers pass ---

def _area(x):
    return (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])


def _sides(a, b):
    return (np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]),
            np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]))


def _clipped(a, b):
    iw, ih = _sides(a, b)
    return np.maximum(iw, 0) * np.maximum(ih, 0)


@pytest.mark.parametrize("wrong, named", [
    (lambda a, b: _clipped(a, b) / (_area(a) + _area(b) - _clipped(a, b)), "union is 0"),
    (lambda a, b: np.prod(_sides(a, b), axis=0)
     / np.maximum(_area(a) + _area(b) - np.prod(_sides(a, b), axis=0), 1e-12), "not clipped"),
    (lambda a, b: _clipped(a, b) / np.maximum(_area(a) + _area(b), 1e-12), "overlap twice"),
    (lambda a, b: _clipped(a, b) / np.maximum(_area(a), 1e-12), "first box"),
])
def test_check_iou_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        check_iou(wrong)


def test_check_iou_accepts_other_right_answers():
    import tensorflow as tf

    def tf_iou(a, b):   # TensorFlow, divide_no_nan for the empty union
        a, b = tf.constant(a), tf.constant(b)
        iw = tf.nn.relu(tf.minimum(a[:, 2], b[:, 2]) - tf.maximum(a[:, 0], b[:, 0]))
        ih = tf.nn.relu(tf.minimum(a[:, 3], b[:, 3]) - tf.maximum(a[:, 1], b[:, 1]))
        inter = iw * ih
        union = _area(a) + _area(b) - inter
        return tf.math.divide_no_nan(inter, union)

    def loop_iou(a, b):   # one pair at a time, with an epsilon instead of a test
        out = []
        for p, q in zip(a, b):
            w = max(min(p[2], q[2]) - max(p[0], q[0]), 0.0)
            h = max(min(p[3], q[3]) - max(p[1], q[1]), 0.0)
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
            out.append(w * h / (union + 1e-12))
        return out

    assert check_iou(tf_iou) and check_iou(loop_iou)


@pytest.mark.parametrize("wrong, named", [
    (lambda l, p, bt, bp, a: _reference_loss(l, p, bt, bp, 0) + a * ((bt - bp) ** 2).sum(1).mean(),
     "4 coordinates"),
    (lambda l, p, bt, bp, a: -np.log(p[np.arange(len(l)), l]).sum() + a * np.mean((bt - bp) ** 2),
     "summed over the images"),
    (lambda l, p, bt, bp, a: np.log(p[np.arange(len(l)), l]).mean() + a * np.mean((bt - bp) ** 2),
     "minus sign"),
    (lambda l, p, bt, bp, a: -a * np.log(p[np.arange(len(l)), l]).mean() + np.mean((bt - bp) ** 2),
     "alpha weights the box loss"),
    (lambda l, p, bt, bp, a: -np.log(p).mean() + a * np.mean((bt - bp) ** 2), "true class"),
    (lambda l, p, bt, bp, a: _reference_loss(l, p, bt, bp, 0) + a * np.abs(bt - bp).mean(),
     "absolute errors"),
])
def test_check_multitask_loss_names_each_mistake(wrong, named):
    with pytest.raises(ExerciseError, match=named):
        check_multitask_loss(wrong)


def test_check_multitask_loss_accepts_other_right_answers():
    def with_keras(labels, probs, boxes_true, boxes_pred, alpha):
        ce = keras.losses.sparse_categorical_crossentropy(labels, probs)
        mse = keras.losses.mean_squared_error(boxes_true, boxes_pred)
        return float(np.mean(ce) + alpha * np.mean(mse))

    def one_hot(labels, probs, boxes_true, boxes_pred, alpha):
        y = np.eye(probs.shape[1])[labels]
        return -(y * np.log(probs)).sum(1).mean() + alpha * ((boxes_true - boxes_pred) ** 2).mean()

    assert check_multitask_loss(with_keras) and check_multitask_loss(one_hot)


def _model(pool="gap", per_head_pool=False, softmax="activation", order="cb", dropout=False):
    inp = keras.Input((32, 32, 3))
    f = keras.layers.Conv2D(4, 3)(inp)
    layer = {"gap": keras.layers.GlobalAveragePooling2D, "flatten": keras.layers.Flatten}[pool]
    x = layer()(f)
    x2 = layer()(f) if per_head_pool else x
    if dropout:
        x = keras.layers.Dropout(0.2)(x)
    act = "softmax" if softmax == "activation" else None
    cls = keras.layers.Dense(3, activation=act, name="classifier")(x)
    if softmax == "layer":
        cls = keras.layers.Softmax()(cls)
    box = keras.layers.Dense(4, activation="sigmoid", name="localizer")(x2)
    return keras.Model(inp, [cls, box] if order == "cb" else [box, cls])


@pytest.mark.parametrize("kwargs, named", [
    (dict(pool="flatten"), "Flatten"),
    (dict(order="bc"), "wrong order"),
    (dict(per_head_pool=True, softmax="layer", order="bc"), "wrong order"),
    (dict(softmax=None), "logits"),
])
def test_check_two_headed_model_names_each_mistake(kwargs, named):
    with pytest.raises(ExerciseError, match=named):
        check_two_headed_model(_model(**kwargs), 3)


def test_check_two_headed_model_reading_the_map_or_other_features():
    inp = keras.Input((16, 16, 3))
    f = keras.layers.Conv2D(4, 3)(inp)
    g = keras.layers.Conv2D(4, 3)(inp)
    cls = keras.layers.Dense(3, activation="softmax", name="classifier")(f)
    box = keras.layers.Dense(4, name="localizer")(keras.layers.GlobalAveragePooling2D()(f))
    with pytest.raises(ExerciseError, match="pool the feature map"):
        check_two_headed_model(keras.Model(inp, [cls, box]), 3)
    cls = keras.layers.Dense(3, activation="softmax", name="classifier")(
        keras.layers.GlobalAveragePooling2D()(g))
    with pytest.raises(ExerciseError, match="same shared features"):
        check_two_headed_model(keras.Model(inp, [cls, box]), 3)


def test_check_two_headed_model_accepts_other_right_models():
    assert check_two_headed_model(_model(per_head_pool=True), 3)      # one GAP per head
    assert check_two_headed_model(_model(softmax="layer"), 3)        # a separate Softmax layer
    assert check_two_headed_model(_model(dropout=True, per_head_pool=True, softmax="layer"), 3)
    trunk = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3)])
    inp = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(trunk(inp))             # the backbone as a layer
    nested = keras.Model(inp, [keras.layers.Dense(3, activation="softmax", name="classifier")(x),
                               keras.layers.Dense(4, name="localizer")(x)])
    assert check_two_headed_model(nested, 3)
    pooled_trunk = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3),
                                     keras.layers.GlobalAveragePooling2D()])   # pooling="avg"
    x = pooled_trunk(inp)
    assert check_two_headed_model(keras.Model(inp, [
        keras.layers.Dense(3, activation="softmax", name="classifier")(x),
        keras.layers.Dense(4, name="localizer")(x)]), 3)
