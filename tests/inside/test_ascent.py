"""Tests for cvkit.inside.ascent: gradient ascent on class scores, channels and units."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from cvkit import inside as F  # noqa: E402


def test_gradient_ascent_class_score_rises_monotonically(cnn):
    res = F.gradient_ascent(cnn, 2, steps=25, step_size=0.01, l2=0.1, tv=0.1, jitter=0, seed=3)
    assert res.image.shape == (32, 32, 3) and 0 <= res.image.min() and res.image.max() <= 1
    assert res.scores.shape == (26,)
    assert np.all(np.diff(res.scores) > 0), res.scores
    assert res.objective[-1] > res.objective[0]  # TV is not smooth: no per-step guarantee
    # the score is the logit (pre-softmax), not the probability
    x0 = (0.5 + 0.01 * np.random.default_rng(3).standard_normal((1, 32, 32, 3))).astype(
        np.float32)
    feat = keras.Model(cnn.input, cnn.get_layer("gap").output)(x0).numpy()
    head = cnn.get_layer("head")
    logit = feat @ head.kernel.numpy() + head.bias.numpy()
    np.testing.assert_allclose(res.scores[0], logit[0, 2], rtol=1e-4, atol=1e-6)


def test_gradient_ascent_channel_and_unit_and_seed(cnn):
    a = F.gradient_ascent(cnn, layer="c2", channel=1, steps=15, jitter=2, seed=0)
    b = F.gradient_ascent(cnn, layer="c2", channel=1, steps=15, jitter=2, seed=0)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.scores[-1] > a.scores[0]
    u = F.gradient_ascent(cnn, layer="c3", channel=0, unit=(3, 3), steps=15, jitter=0,
                          step_size=0.01)
    assert u.scores[-1] > u.scores[0]


def test_gradient_ascent_bad_input(cnn):
    with pytest.raises(ValueError, match="`l2` must be >= 0"):
        F.gradient_ascent(cnn, 0, l2=-1.0)
    with pytest.raises(ValueError, match="`tv` must be >= 0"):
        F.gradient_ascent(cnn, 0, tv=-0.1)
    with pytest.raises(ValueError, match=r"`channel` must be in \[0, 11\]"):
        F.gradient_ascent(cnn, layer="c2", channel=12)
    with pytest.raises(ValueError, match=r"`class_index` must be in \[0, 3\]"):
        F.gradient_ascent(cnn, 4)
    with pytest.raises(ValueError, match="either `class_index`"):
        F.gradient_ascent(cnn)
    with pytest.raises(ValueError, match="`step_size` must be > 0"):
        F.gradient_ascent(cnn, 0, step_size=0)


def test_gradient_ascent_octaves_and_regularisers(cnn):
    res = F.gradient_ascent(cnn, 1, steps=8, octaves=3, octave_scale=2.0, scale=(0.9, 1.1),
                            rotate=10, blur_every=2, blur_sigma=0.5, seed=1)
    assert res.sizes == ((8, 8), (16, 16), (32, 32))
    assert res.image.shape == (32, 32, 3) and res.scores.shape == (25,)
    assert res.scores[-1] > res.scores[0]
    again = F.gradient_ascent(cnn, 1, steps=8, octaves=3, octave_scale=2.0, scale=(0.9, 1.1),
                              rotate=10, blur_every=2, blur_sigma=0.5, seed=1)
    np.testing.assert_array_equal(res.image, again.image)
    # blurring every step leaves a smoother image than the same ascent without it
    sharp = F.gradient_ascent(cnn, 1, steps=20, tv=0.0, seed=2)
    smooth = F.gradient_ascent(cnn, 1, steps=20, tv=0.0, seed=2, blur_every=1, blur_sigma=1.0)
    assert F.total_variation(smooth.image) < 0.5 * F.total_variation(sharp.image)


def test_gradient_ascent_batch_equals_single_runs(cnn):
    kw = dict(steps=10, octaves=2, scale=(0.9, 1.1), rotate=5, blur_every=3, seed=4)
    both = F.gradient_ascent(cnn, [0, 2], **kw)
    assert isinstance(both, list) and len(both) == 2
    for res, c in zip(both, (0, 2)):
        one = F.gradient_ascent(cnn, c, **kw)
        np.testing.assert_allclose(res.image, one.image, atol=2e-3)
        np.testing.assert_allclose(res.scores, one.scores, rtol=1e-3, atol=1e-4)
    chans = F.gradient_ascent(cnn, layer="c2", channel=range(1, 3), steps=15, jitter=2)
    one = F.gradient_ascent(cnn, layer="c2", channel=1, steps=15, jitter=2)
    assert len(chans) == 2 and chans[0].scores[-1] > chans[0].scores[0]
    np.testing.assert_allclose(chans[0].image, one.image, atol=2e-3)


def test_regularisers_bad_input(cnn):
    with pytest.raises(ValueError, match=r"`scale` must be \(low, high\) with low <= high"):
        F.gradient_ascent(cnn, 0, scale=(1.2, 0.8))
    with pytest.raises(TypeError, match="`scale` must be None or a pair"):
        F.gradient_ascent(cnn, 0, scale=1.1)
    with pytest.raises(ValueError, match="`scale` must be > 0"):
        F.gradient_ascent(cnn, 0, scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="`rotate` must be >= 0"):
        F.gradient_ascent(cnn, 0, rotate=-5)
    with pytest.raises(ValueError, match="`blur_every` must be >= 0"):
        F.gradient_ascent(cnn, 0, blur_every=-1)
    with pytest.raises(ValueError, match="`blur_sigma` must be > 0"):
        F.gradient_ascent(cnn, 0, blur_every=2, blur_sigma=0.0)
    with pytest.raises(ValueError, match="`blur_sigma`=6.0 is too large for the 16x16 px"):
        F.gradient_ascent(cnn, 0, octaves=2, octave_scale=2.0, blur_every=2, blur_sigma=6.0)
    with pytest.raises(ValueError, match="`decay_power` must be >= 0"):
        F.gradient_ascent(cnn, 0, decay_power=-1.0)
    with pytest.raises(ValueError, match="`octaves` must be >= 1"):
        F.gradient_ascent(cnn, 0, octaves=0)
    with pytest.raises(ValueError, match="`octaves`=5"):
        F.gradient_ascent(cnn, 0, octaves=5, octave_scale=2.0)
    with pytest.raises(TypeError, match="`jitter` must be an integer"):
        F.gradient_ascent(cnn, 0, jitter=1.5)
    with pytest.raises(TypeError, match="`clip` must be True or False"):
        F.gradient_ascent(cnn, 0, clip="yes")
    with pytest.raises(ValueError, match="`class_index` must hold at least one"):
        F.gradient_ascent(cnn, [])
    with pytest.raises(ValueError, match=r"`class_index` must be in \[0, 3\].*got 7"):
        F.gradient_ascent(cnn, [0, 7])
    with pytest.raises(TypeError, match="`class_index` must be an integer or a sequence"):
        F.gradient_ascent(cnn, "circle")
    with pytest.raises(TypeError, match=r"`unit` must be a \(row, col\) pair"):
        F.gradient_ascent(cnn, layer="c3", channel=0, unit=3)
    with pytest.raises(ValueError, match="`init` must be one 32x32 image"):
        F.gradient_ascent(cnn, 0, init=np.zeros((16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="`sigma`=5.0 has a kernel radius of 15 px"):
        F.gaussian_blur(np.zeros((8, 8, 3), np.float32), 5.0)
    with pytest.raises(ValueError, match="at least 2x2"):
        F.total_variation(np.zeros((1, 5, 3), np.float32))
    with pytest.raises(TypeError, match="`step` must be an integer"):
        F.random_transform(np.zeros((8, 8, 3), np.float32), step=0.5)


def test_gradient_ascent_decay_power_smooths_the_image(cnn):
    plain = F.gradient_ascent(cnn, 3, steps=20, tv=0.0, seed=5)
    fourier = F.gradient_ascent(cnn, 3, steps=20, tv=0.0, seed=5, decay_power=1.0)
    assert fourier.scores[-1] > fourier.scores[0]
    assert F.total_variation(fourier.image) < 0.5 * F.total_variation(plain.image)


@pytest.mark.slow
def test_class_models_of_the_zoo_small_cnn_are_recognised_by_the_zoo_mobilenetv2():
    """The cross-network check of notebook 08: the regularised class-model images of the small CNN,
    resized to 128 px, are classified as their own class by a separately trained MobileNetV2 for
    at least 3 of the 4 classes (the plain recipe: at most 2). Seed 0, as in the notebook; other
    seeds give 2-4 of 4 (the report of the change lists them)."""
    from cvkit.models import pretrained
    from cvkit.tour.inside import CLASS_MODEL_RECIPE

    small, judge = pretrained("shapes_small_cnn"), pretrained("shapes_cam_mobilenetv2")

    def hits(results):
        imgs = tf.image.resize(np.stack([r.image for r in results]), (128, 128))
        return int(np.sum(judge(imgs, training=False).numpy().argmax(1) == np.arange(4)))

    legible = F.gradient_ascent(small, [0, 1, 2, 3], seed=0, **CLASS_MODEL_RECIPE)
    plain = F.gradient_ascent(small, [0, 1, 2, 3], steps=120, seed=0)
    assert all(r.sizes == ((43, 43), (64, 64)) for r in legible)
    assert hits(legible) >= 3
    assert hits(plain) <= 2
