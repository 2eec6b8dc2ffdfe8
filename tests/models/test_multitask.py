"""LocalizationModel: its train_step against a hand-written gradient step, fit/evaluate/callbacks,
.keras round trip, bad input, MirroredStrategy equivalence (subprocess) and learning on shapes."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from localization_helpers import tiny_backbone

from cvkit.models import NO_BOX, LocalizationModel, load_model, localizer, multitask_loss


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((12, 32, 32, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 12)
    lo = rng.random((12, 2)) * 0.5
    boxes = np.concatenate([lo, lo + 0.2 + 0.3 * rng.random((12, 2))], 1).astype(np.float32)
    boxes[5] = NO_BOX
    return x, labels, boxes


def _model(**compile_kw):
    model = localizer(3, backbone=tiny_backbone())
    model.compile(**{"optimizer": keras.optimizers.SGD(0.1), **compile_kw})
    return model


def test_train_step_is_one_gradient_step_of_the_multitask_loss(data):
    x, labels, boxes = data
    model = _model(box_loss="smooth_l1", box_weight=3.0, cls_weight=0.5)
    w0 = [w.numpy().copy() for w in model.trainable_weights]
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        total, _, _ = multitask_loss((labels, boxes), y_pred, 3.0, 0.5, "smooth_l1")
    grads = tape.gradient(total, model.trainable_weights)
    logs = model.train_on_batch(x, {"classifier": labels, "localizer": boxes}, return_dict=True)
    for w, w_init, g in zip(model.trainable_weights, w0, grads):
        np.testing.assert_allclose(w.numpy(), w_init - 0.1 * g.numpy(), rtol=1e-4, atol=1e-6)
    assert logs["loss"] == pytest.approx(float(total), rel=1e-4)
    assert set(logs) == {"loss", "cls_loss", "box_loss", "accuracy", "mean_iou",
                         "correct_localization"}


def test_images_without_object_do_not_move_the_box_head(data):
    x, labels, _ = data
    model = _model()
    k0 = model.get_layer("localizer").kernel.numpy().copy()
    model.train_on_batch(x, (labels, np.tile(np.float32(NO_BOX), (len(x), 1))))
    np.testing.assert_array_equal(model.get_layer("localizer").kernel.numpy(), k0)
    assert not np.array_equal(model.get_layer("classifier").kernel.numpy(), 0)


def test_fit_callbacks_evaluate_and_keras_round_trip(data, tmp_path):
    x, labels, boxes = data
    model = _model(optimizer=keras.optimizers.Adam(1e-3), box_loss="giou", box_weight=2.0)
    seen = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))
    hist = model.fit(x, (labels, boxes), epochs=2, batch_size=4, verbose=0,
                     validation_data=(x[:4], {"classifier": labels[:4], "localizer": boxes[:4]}),
                     callbacks=[cb, keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))])
    assert len(seen) == 2 and "val_mean_iou" in seen[-1] and "val_correct_localization" in seen[-1]
    assert (tmp_path / "log.csv").exists()
    assert len(hist.history["loss"]) == 2
    ev = model.evaluate(x, (labels, boxes), batch_size=4, verbose=0, return_dict=True)
    probs, pred = model.predict(x, verbose=0)
    from cvkit.models import localization_scores
    ref = localization_scores(labels, boxes, probs, pred)
    assert ev["accuracy"] == pytest.approx(ref["accuracy"])
    assert ev["mean_iou"] == pytest.approx(ref["mean_iou"], rel=1e-4)
    path = tmp_path / "loc.keras"
    model.save(path)
    back = load_model(path)
    assert isinstance(back, LocalizationModel)
    assert (back.box_loss, back.box_weight) == ("giou", 2.0)
    for a, b in zip(model.predict(x, verbose=0), back.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)
    # the optimizer state came back: one more step gives the same weights in both
    model.train_on_batch(x[:4], (labels[:4], boxes[:4]))
    back.train_on_batch(x[:4], (labels[:4], boxes[:4]))
    np.testing.assert_allclose(back.get_layer("localizer").kernel.numpy(),
                               model.get_layer("localizer").kernel.numpy(), rtol=1e-5, atol=1e-7)


def test_bad_inputs(data):
    x, labels, boxes = data
    model = _model()
    with pytest.raises(ValueError, match="inconsistent numbers of samples: images=12, labels=11, "
                                         "boxes=12"):
        model.fit(x, (labels[:11], boxes), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"boxes .* shape \(N, 4\).*got \(12, 3\)"):
        model.fit(x, (labels, boxes[:, :3]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\].*\[1, 7\]"):
        model.fit(x, (np.where(labels == 0, 7, labels), boxes), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="'classifier'.*'localizer'"):
        model.fit(x, {"labels": labels, "boxes": boxes}, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="validation_data: inconsistent"):
        model.fit(x, (labels, boxes), validation_data=(x[:3], (labels[:4], boxes[:4])), verbose=0)
    with pytest.raises(ValueError, match="evaluate: inconsistent"):
        model.evaluate(x[:5], (labels, boxes), verbose=0)
    with pytest.raises(ValueError, match="`box_loss`"):
        model.compile(box_loss="iou")
    with pytest.raises(ValueError, match="leave `loss` out"):
        model.compile(loss="mse")
    with pytest.raises(ValueError, match="`box_weight` must be >= 0"):
        model.compile(box_weight=-1.0)


_DISTRIBUTED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from cvkit.models import localizer

    def plain_backbone():
        keras.utils.set_random_seed(0)
        inp = keras.Input((32, 32, 3))
        x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inp)
        x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
        return keras.Model(inp, x)

    rng = np.random.default_rng(0)
    x = rng.random((16, 32, 32, 3)).astype(np.float32)
    lo = rng.random((16, 2)) * 0.5
    boxes = np.concatenate([lo, lo + 0.1 + 0.4 * rng.random((16, 2))], 1).astype(np.float32)
    boxes[[1, 2, 9]] = -1.0  # images without object, unevenly spread over the two replicas
    y = {"classifier": rng.integers(0, 3, 16), "localizer": boxes}

    w0 = []

    def train(strategy):
        with strategy.scope():
            model = localizer(3, backbone=plain_backbone())
            model.compile(keras.optimizers.SGD(0.5), box_loss="l2", box_weight=4.0)
        if w0:
            model.set_weights(w0)
        else:
            w0.extend(model.get_weights())
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return model

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    m1 = train(tf.distribute.get_strategy())
    m2 = train(mirrored)
    w1, w2 = m1.get_weights(), m2.get_weights()
    # evaluation of the same weights on one device and on two replicas
    m1.set_weights(w2)
    ev1 = m1.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    ev2 = m2.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    print(json.dumps({"replicas": mirrored.num_replicas_in_sync,
                      "max_diff": max(float(np.abs(a - b).max()) for a, b in zip(w1, w2)),
                      "moved": max(float(np.abs(a).max()) for a in w1),
                      "ev1": ev1, "ev2": ev2}))
""")


@pytest.mark.slow
def test_mirrored_strategy_two_cpus_matches_one_device():
    """Same training run on one device and on MirroredStrategy over two logical CPUs."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", _DISTRIBUTED], capture_output=True, text=True,
                         env=env, timeout=600, cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["replicas"] == 2
    assert res["max_diff"] < 1e-4, res
    for key in ("cls_loss", "accuracy", "mean_iou", "correct_localization"):
        assert res["ev2"][key] == pytest.approx(res["ev1"][key], rel=1e-5, abs=1e-6), key


@pytest.mark.slow
def test_localizer_learns_shapes():
    """End to end, scored on held-out images: new heads on the frozen backbone of the zoo
    classifier (the live recipe of notebook 01) beat the best constant box and classify."""
    from cvkit.boxes import iou
    from cvkit.models import pretrained, zoo_data

    cam = pretrained("shapes_cam_mobilenetv2")
    frozen = keras.Model(cam.input, cam.get_layer("out_relu").output)
    train = zoo_data("shapes_cam_mobilenetv2", 600, seed=1)
    test = zoo_data("shapes_cam_mobilenetv2", 200)        # the card's held-out seed
    f_train = frozen.predict(train.images, batch_size=100, verbose=0)
    f_test = frozen.predict(test.images, batch_size=100, verbose=0)
    inputs = keras.Input(f_train.shape[1:])
    shared = keras.layers.Conv2D(32, 1, activation="relu")(inputs)
    keras.utils.set_random_seed(0)
    model = localizer(4, backbone=keras.Model(inputs, shared), box_features="spatial",
                      box_hidden=64)
    model.compile(keras.optimizers.Adam(1e-3), box_loss="giou", box_weight=5.0)
    hist = model.fit(f_train, (train.labels, train.boxes), epochs=6, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < 0.6 * hist.history["loss"][0]
    ev = model.evaluate(f_test, (test.labels, test.boxes), verbose=0, return_dict=True)
    constant = iou(test.boxes, train.boxes.mean(axis=0, keepdims=True)).mean()
    assert ev["mean_iou"] > constant + 0.2, (ev, constant)
    assert ev["accuracy"] > 0.9, ev
