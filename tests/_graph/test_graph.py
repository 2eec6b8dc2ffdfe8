"""Tests for cvkit._graph: walking, finding and tapping layers of nested models, logits, folding
helpers."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cvkit import _graph  # noqa: E402

L = keras.layers


@pytest.fixture(scope="module")
def nested():
    """An outer functional model holding a Sequential and a functional model."""
    keras.utils.set_random_seed(0)
    seq = keras.Sequential([keras.Input((6,)), L.Dense(5, name="d1"), L.ReLU(name="r1")],
                           name="seq")
    inner_in = keras.Input((5,))
    inner = keras.Model(inner_in, L.Dense(4, name="d2")(inner_in), name="inner")
    inp = keras.Input((6,))
    out = L.Dense(3, activation="softmax", name="head")(inner(seq(inp)))
    return keras.Model(inp, out, name="outer"), seq, inner


def test_graph_of_and_nodes(nested):
    model, seq, _ = nested
    assert _graph.graph_of(model) is model and _graph.graph_of(seq) is seq._functional
    assert [n.operation.name for n in _graph.graph_nodes(model)] == ["seq", "inner", "head"]
    assert _graph.is_graph_model(seq) and _graph.is_container(seq)
    assert not _graph.is_container(model.get_layer("head"))
    with pytest.raises(ValueError, match="not built"):
        _graph.graph_of(keras.Sequential([L.Dense(2)]))
    with pytest.raises(TypeError, match="`net` must be a Keras functional"):
        _graph.graph_of(object(), "net")


def test_walk_and_find_layers(nested):
    model, seq, inner = nested
    names = [ref.name for ref in _graph.walk_layers(model)]
    assert names == ["seq/d1", "seq/r1", "seq", "inner/d2", "inner", "head"]
    ref = _graph.find_layer(model, "d2")
    assert ref.layer is inner.get_layer("d2") and ref.path == (inner,)
    assert ref.parent(model) is inner
    assert _graph.find_layer(model, "head").parent(model) is model
    assert _graph.find_layer(model, "seq/r1").chain == (seq, seq.get_layer("r1"))
    assert _graph.find_layer(model, seq.get_layer("d1")).name == "seq/d1"
    again = _graph.find_layer(model, ref)
    assert again.layer is ref.layer and again.path == ref.path
    assert "... (6 in all)" in _graph.layer_names(model, limit=2)
    with pytest.raises(ValueError, match="`layer`: no layer named 'inner/d1'.*Its layers are"):
        _graph.find_layer(model, "inner/d1")
    with pytest.raises(ValueError, match="`target`: the layer 'stray' is not part of model"):
        _graph.find_layer(model, L.Dense(1, name="stray"), "target")
    with pytest.raises(ValueError, match="Choose from: x"):
        _graph.find_layer(model, "zz", candidates=lambda m: "Choose from: x")


def test_tap_model_matches_submodels_and_shares_weights(nested, rng):
    model, seq, inner = nested
    x = rng.normal(size=(3, 6)).astype(np.float32)
    tap = _graph.tap_model(model, ["r1", "inner/d2", "seq"], with_outputs=True)
    r1, d2, seq_out, out = [t.numpy() for t in tap(x)]
    np.testing.assert_allclose(r1, seq(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(seq_out, r1, atol=1e-6)
    np.testing.assert_allclose(d2, inner(seq(x)).numpy(), atol=1e-6)
    np.testing.assert_allclose(out, model(x).numpy(), atol=1e-6)
    assert {id(w) for w in tap.weights} == {id(w) for w in model.weights}
    one = _graph.tap_model(model, ["head"])
    np.testing.assert_allclose(one(x).numpy(), model(x).numpy(), atol=1e-6)


def test_logit_model_reads_before_the_softmax(nested, rng):
    model, _, _ = nested
    x = rng.normal(size=(2, 6)).astype(np.float32)
    z = _graph.logit_model(model)(x).numpy()
    np.testing.assert_allclose(np.exp(z) / np.exp(z).sum(1, keepdims=True), model(x).numpy(),
                               atol=1e-6)
    inp = keras.Input((4,))
    soft = keras.Model(inp, L.Softmax()(L.Dense(3, name="lin")(inp)))
    lin = keras.Model(inp, soft.get_layer("lin").output)
    xx = rng.normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_allclose(_graph.logit_model(soft)(xx).numpy(), lin(xx).numpy(), atol=1e-6)
    np.testing.assert_allclose(_graph.logit_model(lin)(xx).numpy(), lin(xx).numpy(), atol=1e-6)
    img = keras.Input((4, 4, 1))
    bad = keras.Model(img, L.Conv2D(2, 1, activation="softmax", name="cs")(img))
    with pytest.raises(ValueError, match="only a Dense head"):
        _graph.logit_model(bad)
    with pytest.raises(ValueError, match="one output"):
        _graph.logit_model(keras.Model(inp, [L.Dense(1)(inp), L.Dense(2)(inp)]))


def test_consumers_calls_and_rebuild(rng):
    inp = keras.Input((4,))
    shared = L.Dense(4, name="shared")
    h = shared(inp)
    out = L.Add()([shared(h), L.Dense(4, name="side")(h)])
    model = keras.Model(inp, out)
    assert _graph.consumers(model)[id(h)] == 2
    assert _graph.layer_calls(model)[id(shared)] == 2
    assert _graph.producer(h) is shared
    x = rng.normal(size=(2, 4)).astype(np.float32)
    zero_side = _graph.rebuild(model, lambda op: (lambda t, *a, **k: t * 0.0) if op.name == "side"
                               else op, name="no_side")
    assert zero_side.name == "no_side"
    np.testing.assert_allclose(zero_side(x).numpy(), shared(shared(x)).numpy(), atol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), (shared(shared(x)) + model.get_layer("side")(
        shared(x))).numpy(), atol=1e-6)
