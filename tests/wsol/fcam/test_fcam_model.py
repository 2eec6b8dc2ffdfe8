"""The F-CAM model (cvkit.wsol.fcam.model): the frozen classifier stays bit-identical, the decoder
trains through fit / evaluate / callbacks, .keras round trip, the loss switches, the barrier
schedule, XLA and MirroredStrategy, and the seed maps equal cvkit.explain's."""
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

from cvkit import explain
from cvkit.models import load_model, small_cnn
from cvkit.wsol.fcam import (FCAM, SEED_METHODS, BarrierSchedule, build_fcam, fcam_maps,
                             seed_maps)

LOSSES = ["crf", "loss", "seed_ce", "size"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((8, 32, 32, 3)).astype(np.float32)
    x[:, 8:24, 8:24] = rng.random(3)                       # a flat square on noise
    return x, rng.integers(0, 4, 8)


def _fcam(skips=("relu3", "relu2"), seed=0):
    keras.utils.set_random_seed(seed)
    clf = small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8))
    return clf, build_fcam(clf, skips=list(skips))


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_fit_trains_the_decoder_only_and_evaluate_returns_the_four_losses(data):
    x, y = data
    clf, model = _fcam()
    preds, weights = clf.predict(x, verbose=0), _values(clf.weights)
    dec = model.get_layer("decoder")
    dec_before = _values(dec.trainable_weights)
    model.compile()
    seen = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(sorted(logs)))
    hist = model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[cb])
    assert sorted(hist.history) == LOSSES and seen == [LOSSES, LOSSES]
    # the classifier: weights (BN moving statistics included) and predictions bit-identical
    assert _same(weights, _values(clf.weights))
    np.testing.assert_array_equal(clf.predict(x, verbose=0), preds)
    np.testing.assert_array_equal(model.predict(x, verbose=0)[2], preds)
    model(x, training=True)                                # a training-mode call changes nothing
    assert _same(weights, _values(clf.weights))
    np.testing.assert_array_equal(clf.predict(x, verbose=0), preds)
    assert all(not np.array_equal(a, b.numpy()) for a, b in zip(dec_before, dec.trainable_weights))
    assert float(model.barrier_t.numpy()) == pytest.approx(1.01 ** 2, rel=1e-6)   # two epochs
    ev = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert sorted(ev) == LOSSES and all(np.isfinite(v) for v in ev.values())
    # one batch: the total is alpha * CE + CRF + lambda_size * size
    assert ev["loss"] == pytest.approx(ev["seed_ce"] + ev["crf"] + 0.1 * ev["size"], abs=1e-5)
    assert ev["crf"] < 0 and ev["seed_ce"] > 0


def test_fit_needs_labels(data):
    x, _ = data
    _, model = _fcam()
    model.compile()
    with pytest.raises(ValueError, match="labels"):
        model.fit(x, batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="labels"):
        model.evaluate(x, batch_size=4, verbose=0)


def test_switched_off_terms_are_exactly_zero(data):
    x, y = data
    _, model = _fcam()
    model.compile(crf_weight=0.0, size_weight=0.0)
    hist = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert hist.history["crf"] == [0.0] and hist.history["size"] == [0.0]
    ev = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert ev["crf"] == 0.0 and ev["size"] == 0.0 and ev["loss"] == pytest.approx(ev["seed_ce"])


def test_barrier_t_grows_by_the_factor_per_epoch_and_caps(data):
    _, model = _fcam()
    model.compile(t0=1.0, t_growth=1.01, t_max=1.025)
    cb = BarrierSchedule()
    cb.set_model(model)
    ts = []
    for epoch in range(4):
        cb.on_epoch_end(epoch)
        ts.append(float(model.barrier_t.numpy()))
    np.testing.assert_allclose(ts, [1.01, 1.0201, 1.025, 1.025], rtol=1e-6)
    # fit adds the schedule once, also when the caller passes one
    x, y = data
    model.compile(t0=9.95)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[BarrierSchedule()])
    assert float(model.barrier_t.numpy()) == pytest.approx(10.0)
    model.compile(t0=2.0)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[BarrierSchedule()])
    assert float(model.barrier_t.numpy()) == pytest.approx(2.02, rel=1e-6)


def test_crf_warmup_trains_the_first_epochs_without_the_crf_term(data):
    x, y = data
    _, model = _fcam()
    model.compile(crf_weight=2.0, crf_warmup=2)
    assert float(model.crf_on.numpy()) == 0.0
    hist = model.fit(x, y, batch_size=4, epochs=3, verbose=0)
    # epochs 0 and 1: seeds + size only; from epoch 2 on the CRF term (negative: W >= 0)
    assert hist.history["crf"][:2] == [0.0, 0.0] and hist.history["crf"][2] < 0.0
    np.testing.assert_allclose(hist.history["loss"][:2],
                               np.add(hist.history["seed_ce"][:2],
                                      np.multiply(0.1, hist.history["size"][:2])), rtol=1e-5)
    assert float(model.crf_on.numpy()) == 1.0
    # evaluate reports the whole objective, also in the warm-up
    model.crf_on.assign(0.0)
    assert model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)["crf"] < 0.0
    # a resumed fit counts its epochs from initial_epoch
    model.compile(crf_weight=2.0, crf_warmup=2)
    hist = model.fit(x, y, batch_size=4, epochs=3, initial_epoch=2, verbose=0)
    assert hist.history["crf"][0] < 0.0
    with pytest.raises(ValueError, match="`crf_warmup`"):
        model.compile(crf_warmup=-1)
    with pytest.raises(TypeError, match="`crf_warmup`"):
        model.compile(crf_warmup=0.5)


def test_keras_round_trip_identical_outputs_and_trains_on(data, tmp_path):
    x, y = data
    _, model = _fcam()
    model.compile(k=3, n_neg=0.3, crf_weight=2.0)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "fcam.keras"
    model.save(path)
    back = load_model(path)
    assert isinstance(back, FCAM)
    for a, b in zip(model.predict(x, verbose=0), back.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)
    kept, loaded = dict(model.fcam_config), dict(back.fcam_config)
    assert loaded.pop("t0") == pytest.approx(float(model.barrier_t.numpy()))   # resumes its t
    kept.pop("t0")
    assert loaded == kept
    assert float(back.barrier_t.numpy()) == pytest.approx(float(model.barrier_t.numpy()))
    enc = _values(back.get_layer("encoder").weights)
    dec = _values(back.get_layer("decoder").trainable_weights)
    hist = back.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert sorted(hist.history) == LOSSES and np.isfinite(hist.history["loss"]).all()
    assert _same(enc, _values(back.get_layer("encoder").weights))
    assert not _same(dec, _values(back.get_layer("decoder").trainable_weights))


def test_the_training_step_compiles_with_xla(data):
    """Keras picks XLA by default on a GPU: the seeds (Otsu's histogram included) must compile."""
    x, y = data
    keras.utils.set_random_seed(0)
    clf = small_cnn(4, (16, 16, 3), widths=(4, 4, 4, 4))
    model = build_fcam(clf, skips=["relu3", "relu2"], channels=(4, 4, 4))
    model.compile(crf_grid=8, jit_compile=True)
    assert model.jit_compile
    hist = model.fit(x[:4, ::2, ::2], y[:4], batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()


def test_a_skip_joins_the_block_of_its_resolution():
    """Without a skip at 8 px the decoder still goes 4 -> 8 -> 16 -> 32, joining relu2 at 16."""
    _, model = _fcam(skips=("relu2",))
    dec = model.get_layer("decoder")
    cats = [la.output.shape[1] for la in dec.layers if isinstance(la, keras.layers.Concatenate)]
    assert cats == [16]
    assert max(la.output.shape[1] for la in dec.layers[1:] if len(la.output.shape) == 4) == 32


@pytest.mark.parametrize("method", SEED_METHODS)
def test_seed_maps_equal_cvkit_explain(data, method):
    x, y = data
    clf, model = _fcam()
    acts = model.get_layer("encoder")(x)[0]
    kernel = clf.get_layer("probs").kernel
    got = seed_maps(acts, kernel, tf.constant(y), (32, 32), method).numpy()
    want = getattr(explain, method)(clf, x, class_index=y)
    assert got.shape == want.shape == (8, 32, 32)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_fcam_maps_and_bad_input(data):
    x, _ = data
    clf, model = _fcam()
    maps = fcam_maps(model, x, batch_size=3)
    assert maps.shape == (8, 32, 32) and maps.dtype == np.float32
    assert 0.0 <= maps.min() and maps.max() <= 1.0
    np.testing.assert_allclose(maps, model.predict(x, verbose=0)[0][..., 1], atol=1e-6)
    np.testing.assert_allclose(fcam_maps(model, x[0]), maps[0], atol=1e-6)   # one image: (H, W)
    u8 = (x * 255).astype(np.uint8)
    assert fcam_maps(model, u8).shape == (8, 32, 32)
    with pytest.raises(TypeError, match="`model`.*F-CAM"):
        fcam_maps(clf, x)
    with pytest.raises(ValueError, match="`images`.*\\(32, 32, 3\\)"):
        fcam_maps(model, np.zeros((2, 48, 48, 3), np.float32))
    with pytest.raises(ValueError, match="`batch_size`"):
        fcam_maps(model, x, batch_size=0)


def test_compile_bad_options():
    _, model = _fcam()
    with pytest.raises(ValueError, match="`method`"):
        model.compile(method="score_cam")
    with pytest.raises(ValueError, match="`n_neg`"):
        model.compile(n_neg=1.0)
    with pytest.raises(ValueError, match="`k`"):
        model.compile(k=0)
    with pytest.raises(ValueError, match="`crf_grid`"):
        model.compile(crf_grid=1)


_DISTRIBUTED = textwrap.dedent("""
    import json
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from cvkit.models import num_replicas, small_cnn
    from cvkit.wsol.fcam import build_fcam

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 16, 16, 3)).astype(np.float32), rng.integers(0, 4, 4)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        clf = small_cnn(4, (16, 16, 3), widths=(4, 4, 8, 8))
        model = build_fcam(clf, skips=["relu3", "relu2"], channels=(4, 4, 4))
        model.compile(crf_grid=8)
    before = [v.numpy().copy() for v in clf.weights]
    dec = [v.numpy().copy() for v in model.get_layer("decoder").trainable_weights]
    hist = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "history": {k: [float(v) for v in vs] for k, vs in hist.history.items()},
        "classifier_same": all(np.array_equal(a, b.numpy()) for a, b in zip(before, clf.weights)),
        "decoder_moved": all(not np.array_equal(a, b.numpy())
                             for a, b in zip(dec, model.get_layer("decoder").trainable_weights)),
        "t": float(model.barrier_t.numpy()),
        "in_step": [int(v) for v in strategy.experimental_local_results(
            strategy.run(lambda: tf.constant(num_replicas())))],
        "outside": num_replicas()}))
""")


@pytest.mark.slow
def test_fit_under_mirrored_strategy_on_two_logical_cpus():
    """Logical devices can only be set before TensorFlow starts: a fresh interpreter."""
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", _DISTRIBUTED], capture_output=True, text=True,
                         env=env, timeout=600, cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["replicas"] == 2
    assert sorted(res["history"]) == LOSSES
    assert all(np.isfinite(v).all() for v in res["history"].values())
    assert res["classifier_same"] and res["decoder_moved"]
    assert res["t"] == pytest.approx(1.01, rel=1e-6)
    # the loss divisor of every custom train_step: 2 in each replica's step, 1 outside a strategy
    assert res["in_step"] == [2, 2] and res["outside"] == 1
