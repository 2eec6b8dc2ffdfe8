"""Tests for cvkit.inside.patches: maximally activating patches against a brute-force search."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from inside_models import small_cnn  # noqa: E402

from cvkit import inside as F  # noqa: E402


def _brute_force_top(model, layer, images, channels, k):
    acts = keras.Model(model.input, model.get_layer(layer).output)(images).numpy()
    n, h, w, _ = acts.shape
    out = []
    for c in channels:
        flat = acts[..., c].ravel()
        order = np.argsort(-flat, kind="stable")[:k]
        out.append((flat[order], order // (h * w), (order % (h * w)) // w, order % w))
    return out


def test_patches_match_brute_force_and_stream_from_tf_data(cnn, rng):
    imgs = rng.uniform(size=(23, 32, 32, 3)).astype(np.float32)
    channels = [0, 3, 7]
    res = F.max_activating_patches(cnn, imgs, "c2", channels=channels, k=5, batch_size=4)
    ref = _brute_force_top(cnn, "c2", imgs, channels, 5)
    rf = F.receptive_field(cnn, "c2")
    for i, (v, b, r, c) in enumerate(ref):
        np.testing.assert_allclose(res.values[i], v, rtol=1e-5)
        np.testing.assert_array_equal(res.image_index[i], b)
        np.testing.assert_array_equal(res.positions[i], np.stack([r, c], -1))
        for j in range(5):
            y0, x0, y1, x1 = rf.box(r[j], c[j])
            padded = np.pad(imgs[b[j]], ((20, 20), (20, 20), (0, 0)))
            np.testing.assert_array_equal(res.patches[i, j],
                                          padded[y0 + 20:y1 + 21, x0 + 20:x1 + 21])
            assert tuple(res.boxes[i, j]) == (y0, x0, y1, x1)
    assert res.n_images == 23 and res.patches.shape == (3, 5, rf.size, rf.size, 3)
    labels = np.zeros(23, np.int64)
    for ds in (tf.data.Dataset.from_tensor_slices(imgs),
               tf.data.Dataset.from_tensor_slices((imgs, labels)).batch(6)):
        other = F.max_activating_patches(cnn, ds, "c2", channels=channels, k=5, batch_size=4)
        np.testing.assert_allclose(other.values, res.values, rtol=1e-5)
        np.testing.assert_array_equal(other.image_index, res.image_index)
        np.testing.assert_array_equal(other.patches, res.patches)


def test_patches_accept_shapes_dataset(cnn, small_shapes):
    model = small_cnn(size=64)
    res = F.max_activating_patches(model, small_shapes, "c3", channels=2, k=3)
    assert res.values.shape == (1, 3) and np.all(np.diff(res.values[0]) <= 0)
    assert res.patches.shape[2:] == (F.receptive_field(model, "c3").size,) * 2 + (3,)


def test_patches_bad_input(cnn, rng):
    imgs = rng.uniform(size=(4, 32, 32, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="no spatial output"):
        F.max_activating_patches(cnn, imgs, "gap")
    with pytest.raises(ValueError, match=r"`channels` must be indices in \[0, 11\]"):
        F.max_activating_patches(cnn, imgs, "c2", channels=[0, 12])
    with pytest.raises(ValueError, match="`k` must be >= 1"):
        F.max_activating_patches(cnn, imgs, "c2", k=0)
    with pytest.raises(TypeError, match="`data` must be"):
        F.max_activating_patches(cnn, "images", "c2")
    with pytest.raises(ValueError, match="`data` must be float"):
        F.max_activating_patches(cnn, imgs * 300, "c2")
