"""Tests for cvkit.detection.roi: ROI pooling against the notes and a brute force, ROI Align
against tf.image.crop_and_resize."""
import numpy as np
import pytest
import tensorflow as tf

from cvkit.detection import quantize_roi, roi_align, roi_align_tf, roi_pool

# the course's 7 x 5 region of interest
NOTES_ROI = np.array([[0.85, 0.34, 0.76, 0.84, 0.29, 0.75, 0.62],
                      [0.32, 0.74, 0.21, 0.39, 0.34, 0.03, 0.33],
                      [0.20, 0.14, 0.16, 0.13, 0.73, 0.65, 0.96],
                      [0.19, 0.69, 0.09, 0.86, 0.88, 0.07, 0.01],
                      [0.83, 0.24, 0.97, 0.04, 0.24, 0.35, 0.50]])


def test_roi_pool_reproduces_the_notes():
    fmap = np.zeros((8, 8))
    fmap[3:8, 1:8] = NOTES_ROI
    # the ROI covers map cells x 1..7, y 3..7; in image pixels at stride 32
    out = roi_pool(fmap, [32, 96, 256, 256], (2, 2), spatial_scale=1 / 32)
    np.testing.assert_array_equal(out[0], np.float32([[0.85, 0.84], [0.97, 0.96]]))
    # the same on a 2-channel map and with a batch
    f = np.stack([fmap, -fmap], -1)[None].repeat(2, 0)
    out = roi_pool(f, [[1, 3, 8, 8]] * 2, (2, 2), batch_indices=[1, 0])
    np.testing.assert_array_equal(out[:, :, :, 0], np.float32([[[0.85, 0.84], [0.97, 0.96]]] * 2))
    np.testing.assert_allclose(out[0, :, :, 1], [[-0.21, -0.03], [-0.09, -0.01]])


def test_roi_pool_brute_force():
    rng = np.random.default_rng(0)
    f = rng.random((12, 15, 3)).astype(np.float32)
    rois = np.array([[0, 0, 15, 12], [2.7, 1.2, 9.9, 11.5], [4, 4, 5, 5], [10, 3, 15, 6]])
    out = roi_pool(f, rois, (3, 4))
    for n, r in enumerate(rois):
        x0, y0 = int(np.floor(r[0])), int(np.floor(r[1]))
        x1, y1 = max(int(np.floor(r[2])), x0 + 1), max(int(np.floor(r[3])), y0 + 1)
        for i in range(3):
            for j in range(4):
                ya = y0 + (i * (y1 - y0)) // 3
                yb = max(y0 + ((i + 1) * (y1 - y0)) // 3, ya + 1)
                xa = x0 + (j * (x1 - x0)) // 4
                xb = max(x0 + ((j + 1) * (x1 - x0)) // 4, xa + 1)
                np.testing.assert_array_equal(out[n, i, j], f[ya:yb, xa:xb].max((0, 1)))


def test_quantize_roi_notes_example():
    exact, q = quantize_roi([0, 0, 145, 200], 1 / 32)
    np.testing.assert_allclose(exact[2:], [4.53125, 6.25])
    np.testing.assert_array_equal(q, [0, 0, 4, 6])  # ROI pooling's 4 x 6 window


def test_roi_bad_input():
    f = np.zeros((8, 8, 2))
    for fn in (roi_pool, roi_align, roi_align_tf):
        with pytest.raises(ValueError, match="inverted"):
            fn(f, [[5, 5, 2, 7]])
        with pytest.raises(ValueError, match="inside the feature map"):
            fn(f, [[0, 0, 9, 4]])
        with pytest.raises(ValueError, match="inside the feature map"):
            fn(f, [[0, 0, 300, 100]], spatial_scale=1 / 32)
        with pytest.raises(ValueError, match="batch_indices"):
            fn(np.zeros((2, 8, 8, 2)), [[0, 0, 4, 4]])
        with pytest.raises(ValueError, match="feature_map"):
            fn(np.zeros((1, 1, 8, 8, 2)), [[0, 0, 4, 4]])
        with pytest.raises(ValueError, match="output_size"):
            fn(f, [[0, 0, 4, 4]], output_size=0)


def _crop_and_resize_reference(f, rois, oh, ow, spatial_scale):
    """ROI Align with one sample per bin, as tf.image.crop_and_resize on the bin centres."""
    H, W = f.shape[1:3]
    m = np.asarray(rois, np.float64) * spatial_scale
    bw = (m[:, 2] - m[:, 0]) / ow
    bh = (m[:, 3] - m[:, 1]) / oh
    boxes = np.stack([(m[:, 1] + bh / 2 - 0.5) / (H - 1), (m[:, 0] + bw / 2 - 0.5) / (W - 1),
                      (m[:, 3] - bh / 2 - 0.5) / (H - 1), (m[:, 2] - bw / 2 - 0.5) / (W - 1)], 1)
    return tf.image.crop_and_resize(f, boxes.astype(np.float32), np.zeros(len(m), np.int32),
                                    (oh, ow)).numpy()


def test_roi_align_equals_crop_and_resize():
    rng = np.random.default_rng(0)
    f = rng.random((1, 16, 20, 4)).astype(np.float32)
    rois = np.array([[16, 20, 200, 150], [40, 8, 310, 250], [100, 100, 130, 180.0]])
    got = roi_align(f, rois, (5, 6), spatial_scale=1 / 16, sampling_ratio=1)
    np.testing.assert_allclose(got, _crop_and_resize_reference(f, rois, 5, 6, 1 / 16), atol=1e-5)


def test_roi_align_average_of_samples_and_fast_path():
    rng = np.random.default_rng(1)
    f = rng.random((2, 12, 14, 3)).astype(np.float32)
    rois = np.array([[0, 0, 14, 12], [1.3, 2.2, 10.7, 9.1], [5, 5, 5.5, 6], [0.1, 11, 13.9, 12]])
    bi = np.array([0, 1, 1, 0])
    a2 = roi_align(f, rois, (3, 4), 1.0, 2, bi)
    # sampling_ratio=2 averages the 2x2 sub-bin samples = sampling_ratio=1 on a 2x finer grid
    fine = roi_align(f, rois, (6, 8), 1.0, 1, bi)
    np.testing.assert_allclose(a2, fine.reshape(4, 3, 2, 4, 2, 3).mean((2, 4)), atol=1e-6)
    for s in (1, 2, 3):
        np.testing.assert_allclose(roi_align_tf(f, rois, (3, 4), 1.0, s, bi),
                                   roi_align(f, rois, (3, 4), 1.0, s, bi), atol=2e-6)


def test_roi_align_constant_and_linear_maps():
    # bilinear interpolation is exact for a linear map: the bin average is the value at its centre
    yy, xx = np.mgrid[0:10, 0:12].astype(np.float32)
    f = (2 * (xx + 0.5) + 3 * (yy + 0.5))[..., None]
    roi = np.array([[2.0, 1.0, 9.0, 8.0]])
    out = roi_align(f, roi, (7, 7), sampling_ratio=2)[0, ..., 0]
    cx = 2.0 + (np.arange(7) + 0.5)
    cy = 1.0 + (np.arange(7) + 0.5)
    np.testing.assert_allclose(out, 2 * cx[None, :] + 3 * cy[:, None], atol=1e-4)


def test_quantisation_misalignment():
    # a horizontal ramp: ROI Align follows the exact box, ROI pooling the quantised one
    f = np.tile(np.arange(16, dtype=np.float32) + 0.5, (16, 1))
    box = [0, 0, 145, 200]  # 4.53 x 6.25 cells at stride 32
    align = roi_align(f, box, (1, 1), 1 / 32, sampling_ratio=4)[0, 0]
    pool = roi_pool(f, box, (1, 1), 1 / 32)[0, 0]
    assert pool == 3.5  # the max over cells 0..3 only: the 0.53 cell is dropped
    exact_centre = 145 / 32 / 2
    assert abs(align - max(exact_centre, 0.5)) < 0.15
