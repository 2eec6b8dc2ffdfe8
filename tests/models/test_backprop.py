"""The course's backpropagation worked example, by hand and by GradientTape, and vanishing
gradients through a deep sigmoid stack with and without skip connections."""
import numpy as np
import pytest

from cvkit.models import backprop as B


def test_forward_reproduces_the_notes():
    c = B.forward()
    assert c["net_h1"] == pytest.approx(0.3775, abs=1e-12)  # notes: 0.3775
    assert round(c["out_h1"], 4) == 0.5933 and c["out_h1"] == pytest.approx(0.593269992, abs=1e-9)
    assert round(c["out_h2"], 4) == 0.5969  # notes: 0.5968 (truncated 0.596884)
    assert round(c["net_o1"], 4) == 1.1059  # notes: 1.1059
    assert round(c["out_o1"], 4) == 0.7514 and c["out_o1"] == pytest.approx(0.75136507, abs=1e-8)
    assert round(c["out_o2"], 4) == 0.7729  # notes: 0.7729


def test_error_terms():
    e1, e2, total = B.total_error(B.forward())
    # The notes print "E_total = 0.2748": that is E_o1; the sum over both outputs is 0.2984.
    assert round(e1, 4) == 0.2748
    assert total == pytest.approx(0.298371109, abs=1e-9)
    assert total == pytest.approx(e1 + e2)


def test_backward_by_hand_matches_notes_and_tape():
    g = B.backward()
    assert g["w1"] == pytest.approx(0.000438568, abs=1e-9)  # notes: 0.00043
    assert round(g["w1"], 5) == 0.00044 and int(g["w1"] * 1e5) == 43
    assert g["w5"] == pytest.approx(0.082167041, abs=1e-9)
    e, tg = B.tape_gradients()
    assert e == pytest.approx(0.298371109, abs=1e-9)
    for k in g:
        assert tg[k] == pytest.approx(g[k], rel=1e-10, abs=1e-14), k


def test_backward_matches_finite_differences_on_random_params():
    rng = np.random.default_rng(0)
    p = {k: float(v) for k, v in zip(B.EXAMPLE_PARAMS, rng.normal(size=10))}
    x, t = (0.3, -0.7), (0.2, 0.6)
    g = B.backward(p, x, t)
    for k in p:
        hi, lo = dict(p), dict(p)
        hi[k] += 1e-6
        lo[k] -= 1e-6
        num = (B.total_error(B.forward(hi, x), t)[2] - B.total_error(B.forward(lo, x), t)[2]) / 2e-6
        assert g[k] == pytest.approx(num, abs=1e-8), k


def test_update_of_w1():
    new, e = B.backprop_step(eta=0.5)
    assert new["w1"] == pytest.approx(0.15 - 0.5 * 0.000438568, abs=1e-9)
    assert new["w1"] == pytest.approx(0.1497, abs=1e-4)  # notes: 0.1497
    assert new["b1"] == 0.35 and new["b2"] == 0.60  # biases fixed, as in the example
    assert e == pytest.approx(0.298371109, abs=1e-9)
    # the error goes down after the step
    assert B.total_error(B.forward(new))[2] < e
    both = B.sgd_step(B.EXAMPLE_PARAMS, B.backward(), eta=0.5, update_biases=True)
    assert both["b1"] == pytest.approx(0.35 - 0.5 * B.backward()["b1"])


def test_bad_input():
    with pytest.raises(ValueError, match="`params` is missing"):
        B.forward({"w1": 0.1})
    with pytest.raises(TypeError, match="`params` must be a dict"):
        B.forward([0.1] * 10)
    with pytest.raises(ValueError, match="`inputs` must be two numbers"):
        B.forward(None, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="`eta` must be > 0"):
        B.sgd_step(B.EXAMPLE_PARAMS, B.backward(), eta=0.0)
    with pytest.raises(ValueError, match="`depth` must be >= 1"):
        B.sigmoid_stack(depth=0)
    import keras

    with pytest.raises(ValueError, match="hidden_"):
        B.gradient_norms(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
                         np.zeros((1, 2)), np.zeros(1))


def test_gradient_norms_match_finite_differences():
    model = B.sigmoid_stack(depth=3, width=4, input_dim=4, seed=1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.normal(size=8).astype(np.float32)
    norms = B.gradient_norms(model, x, y)
    k = model.get_layer("hidden_1").kernel
    w0 = k.numpy().astype(np.float64)
    num = np.zeros_like(w0)

    def loss():
        return float(np.mean((model(x).numpy()[:, 0] - y) ** 2))

    for idx in np.ndindex(w0.shape):
        for sgn in (1, -1):
            w = w0.copy()
            w[idx] += sgn * 1e-2
            k.assign(w.astype(np.float32))
            num[idx] += sgn * loss() / 2e-2
    k.assign(w0.astype(np.float32))
    assert norms[1] == pytest.approx(np.linalg.norm(num), rel=2e-2)


def test_vanishing_gradients_plain_vs_residual():
    r = B.vanishing_gradients(depth=20, width=16, n=32, seed=0)
    plain, res = r["plain"], r["residual"]
    assert plain.shape == res.shape == (20,)
    assert plain[0] / plain[-1] < 1e-6  # vanishes towards the input
    assert res[0] / res[-1] > 1e-2 and res.min() / res.max() > 1e-2


def test_exercise_checker_accepts_reference_and_explains_a_sign_error():
    from cvkit.exercises import ExerciseError
    from cvkit.exercises.inside import check_backprop_step

    def good(params, inputs, targets, eta):
        return B.sgd_step(params, B.backward(params, inputs, targets), eta)

    def wrong_sign(params, inputs, targets, eta):
        g = B.backward(params, inputs, targets)
        return {k: v + eta * g[k] if k.startswith("w") else v for k, v in params.items()}

    assert check_backprop_step(good)
    with pytest.raises(ExerciseError, match="check the sign"):
        check_backprop_step(wrong_sign)
