"""cvkit.wsol.boxes, the benchmark's half: quantisation, pixel-inclusive boxes and IoU, the boxes of
one map at one threshold (against scikit-image), the OpenCV reference's box quirks; bad input."""
import numpy as np
import pytest
from scipy.ndimage import zoom
from skimage.measure import label as sk_label
from skimage.measure import regionprops
from wsol_reference import random_case

from cvkit.wsol import (EMPTY_BOX, box_iou, boxes_from_cam, max_box_acc, normalize_maps, pixel_boxes,
                        quantize_maps)


def test_multi_object_dataset_and_boxes_from_cam_agree_with_regionprops():
    rng = np.random.default_rng(11)
    cam = zoom(rng.random((5, 5)), 6, order=3)
    for tau in (0.2, 0.5, 0.8):
        u = quantize_maps(cam)
        fg = u > int(tau * u.max())
        props = regionprops(sk_label(fg, connectivity=2))
        expected = sorted((p.bbox[1], p.bbox[0], p.bbox[3] - 1, p.bbox[2] - 1) for p in props)
        got = sorted(map(tuple, boxes_from_cam(cam, tau, multi_contour=True).tolist()))
        assert got == expected
        largest = max(props, key=lambda p: p.area)
        assert tuple(boxes_from_cam(cam, tau)) == (largest.bbox[1], largest.bbox[0],
                                                   largest.bbox[3] - 1, largest.bbox[2] - 1)


def test_diagonal_pixels_are_one_region():
    cam = np.zeros((6, 6))
    cam[1, 1] = cam[2, 2] = cam[3, 3] = 1.0  # 8-connected like OpenCV's contours
    np.testing.assert_array_equal(boxes_from_cam(cam, 0.5), [1, 1, 3, 3])


def test_inclusive_pixel_iou_hand_worked():
    # 2x2 boxes sharing one column: 2 common pixels, union 4 + 4 - 2 = 6
    assert box_iou([0, 0, 1, 1], [1, 0, 2, 1])[0, 0] == pytest.approx(2 / 6)
    # a single pixel box has area 1, not 0
    assert box_iou([3, 3, 3, 3], [3, 3, 3, 3])[0, 0] == 1.0
    # 3x3 vs 2x2 in its corner: 4 / 9
    assert box_iou([0, 0, 2, 2], [0, 0, 1, 1])[0, 0] == pytest.approx(4 / 9)
    assert box_iou(EMPTY_BOX, [0, 0, 1, 1])[0, 0] == 0.0
    m = box_iou([[0, 0, 1, 1], [5, 5, 6, 6]], [[0, 0, 1, 1], [1, 0, 2, 1], [9, 9, 9, 9]])
    np.testing.assert_allclose(m, [[1, 2 / 6, 0], [0, 0, 0]])


def test_benchmark_box_quirks():
    cam = np.zeros((10, 10))
    cam[2:5, 3:6] = 1
    np.testing.assert_array_equal(boxes_from_cam(cam, 0.5, benchmark_boxes=True), [3, 2, 6, 5])
    cam2 = np.zeros((10, 10))
    cam2[5:, 7:] = 1  # touches the border: the end is clipped to the last pixel
    np.testing.assert_array_equal(boxes_from_cam(cam2, 0.5, benchmark_boxes=True), [7, 5, 9, 9])
    np.testing.assert_array_equal(boxes_from_cam(np.zeros((4, 4)), 0.5, benchmark_boxes=True),
                                  [0, 0, 0, 0])
    # the curves use the same boxes
    rng = np.random.default_rng(0)
    cams, gts = random_case(rng, "smooth", n=3)
    th = np.arange(0, 1, 0.05)
    res = max_box_acc(cams, gts, thresholds=th, benchmark_boxes=True)
    for i in range(3):
        for k, t in enumerate(th):
            b = boxes_from_cam(cams[i], t, benchmark_boxes=True)
            assert res.ious[i, k] == pytest.approx(box_iou(b, gts[i]).max(), abs=1e-6)


def test_pixel_boxes_match_dataset_masks(small_shapes):
    px = pixel_boxes(small_shapes.boxes, small_shapes.images.shape[1])
    for b, m in zip(px, small_shapes.masks):
        ys, xs = np.nonzero(m)
        assert b.tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]


def test_one_normalisation_for_the_whole_package():
    from cvkit import explain

    assert normalize_maps is explain.normalize_maps
    rng = np.random.default_rng(0)
    cams = rng.normal(size=(3, 6, 7)) * 10
    expected = (explain.normalize_maps(cams) * np.float32(255)).astype(np.uint8)
    np.testing.assert_array_equal(quantize_maps(cams), expected)
    np.testing.assert_array_equal(quantize_maps(cams[0]), expected[0])
    # a range below float32 rounding of the values is no contrast: the map counts as constant
    flat = np.full((5, 5), 1000.0, np.float32)
    flat[0, 0] = np.nextafter(np.float32(1000.0), np.float32(2000.0))
    np.testing.assert_array_equal(quantize_maps(flat), 0)
    np.testing.assert_array_equal(boxes_from_cam(flat, 0.5), EMPTY_BOX)
    # NaN: raise by default, or the benchmark's rule (the whole map is zeros)
    bad = cams.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="nan='zero'"):
        quantize_maps(bad)
    u = quantize_maps(bad, nan="zero")
    np.testing.assert_array_equal(u[1], 0)
    np.testing.assert_array_equal(u[[0, 2]], expected[[0, 2]])


def test_benchmark_boxes_bad_inputs():
    cams = np.zeros((2, 8, 8))
    with pytest.raises(ValueError, match="`threshold` must be <= 1"):
        boxes_from_cam(cams[0], 1.5)
    with pytest.raises(ValueError, match="`cam` must be a single"):
        boxes_from_cam(cams, 0.5)
    with pytest.raises(ValueError, match="`a` must be"):
        box_iou([0, 0, 1], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="`image_size`|`boxes`"):
        pixel_boxes([0.1, 0.2, 0.3], 8)
    with pytest.raises(TypeError, match="`image_size`"):
        pixel_boxes([0.1, 0.2, 0.3, 0.4], "64")  # not read as (6, 4)
    with pytest.raises(ValueError, match="`image_size`"):
        pixel_boxes([0.1, 0.2, 0.3, 0.4], (0, 8))
    with pytest.raises(ValueError, match="`cams` must have shape"):
        quantize_maps(np.zeros((2, 4, 4, 1)))
