import numpy as np
import pytest
import tensorflow as tf

from cvkit.explain import bilinear_upsample, normalize_maps, upsample_maps


def test_bilinear_hand_worked_example():
    # 2 x 2 -> 3 x 3 with u = x (h-1)/(H-1): the centre is the mean of the four corners.
    L = np.array([[0.0, 2.0], [4.0, 6.0]], np.float32)
    out = bilinear_upsample(L, (3, 3))
    expected = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 6]], np.float32)
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("shape,size", [((3, 7, 7), (224, 224)), ((2, 4, 5), (17, 9)),
                                        ((1, 3, 3), (3, 3)), ((2, 1, 4), (6, 8))])
def test_bilinear_align_corners_equals_tensorflow(shape, size):
    maps = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    ref = tf.compat.v1.image.resize(maps[..., None], size, method="bilinear",
                                    align_corners=True).numpy()[..., 0]
    np.testing.assert_allclose(bilinear_upsample(maps, size, align_corners=True), ref, atol=1e-5)


@pytest.mark.parametrize("shape,size", [((3, 7, 7), (224, 224)), ((2, 4, 5), (17, 9)),
                                        ((2, 6, 6), (6, 6))])
def test_bilinear_half_pixel_equals_tf_image_resize(shape, size):
    maps = np.random.default_rng(2).normal(size=shape).astype(np.float32)
    ref = tf.image.resize(maps[..., None], size, method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(bilinear_upsample(maps, size, align_corners=False), ref, atol=1e-5)
    np.testing.assert_allclose(upsample_maps(maps, size), ref, atol=1e-5)


def test_upsample_bicubic_and_single_map():
    maps = np.random.default_rng(3).random((2, 7, 7)).astype(np.float32)
    ref = tf.image.resize(maps[..., None], (32, 32), method="bicubic").numpy()[..., 0]
    np.testing.assert_allclose(upsample_maps(maps, 32, "bicubic"), ref, atol=1e-5)
    assert upsample_maps(maps[0], (32, 32)).shape == (32, 32)


def test_normalize_maps_range_and_no_nan():
    rng = np.random.default_rng(0)
    maps = np.stack([rng.normal(size=(5, 5)), np.zeros((5, 5)), np.full((5, 5), 3.0),
                     -rng.random((5, 5)) - 0.1]).astype(np.float32)
    out = normalize_maps(maps)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0], (maps[0] - maps[0].min()) / np.ptp(maps[0]), atol=1e-6)
    assert out[1].max() == 0 and out[2].max() == 0
    relu = normalize_maps(maps, relu=True)
    assert relu[3].max() == 0          # all-negative map after ReLU -> zeros
    assert out.min() >= 0 and out.max() <= 1


def test_upsample_bad_input():
    with pytest.raises(ValueError, match="maps"):
        bilinear_upsample(np.zeros((1, 2, 3, 4)), 8)
    with pytest.raises(TypeError, match="size"):
        bilinear_upsample(np.zeros((3, 3)), "big")
    with pytest.raises(ValueError, match="size"):
        bilinear_upsample(np.zeros((3, 3)), (0, 4))
    with pytest.raises(ValueError, match="upsample"):
        upsample_maps(np.zeros((3, 3)), 8, "lanczos7")
    with pytest.raises(ValueError, match="NaN"):
        normalize_maps(np.full((3, 3), np.nan))
    with pytest.raises(TypeError, match="align_corners"):
        bilinear_upsample(np.zeros((3, 3)), 8, align_corners="yes")
