"""Bad input across cvkit.boxes: each case raises the expected type and names the argument."""
import numpy as np
import pytest

import cvkit.boxes as bx

B = np.array([[0.1, 0.1, 0.5, 0.5], [0.2, 0.3, 0.9, 0.8]])

BAD = [
    (bx.as_boxes, dict(boxes=[["a", "b", "c", "d"]]), "boxes", TypeError),
    (bx.as_boxes, dict(boxes=B.astype(bool)), "boxes", TypeError),
    (bx.convert, dict(boxes=B, src="xyxy", dst="pixels", image_size="64"), "image_size", TypeError),
    (bx.convert, dict(boxes=B, src="xyxy", dst="pixels", image_size=64.5), "image_size", TypeError),
    (bx.convert, dict(boxes=B, src="xyxy", dst="pixels", image_size=(64, 48.0)), "image_size",
     TypeError),
    (bx.convert, dict(boxes=B, src="xyxy", dst="pixels", image_size=(0, 5)), "image_size",
     ValueError),
    (bx.convert, dict(boxes=B, src=np.array(["xyxy"]), dst="xywh"), "src", ValueError),
    (bx.convert, dict(boxes=B, src="xyxy", dst="yolo"), "dst", ValueError),
    (bx.clip, dict(boxes=B, image_size=True), "image_size", TypeError),
    (bx.area, dict(boxes=np.ones((3, 3))), "boxes", ValueError),
    (bx.iou, dict(a=B, b=B[:1].repeat(3, 0)), "a", ValueError),
    (bx.pairwise_iou, dict(a=B, b=[[np.nan, 0, 1, 1]]), "b", ValueError),
    (bx.giou, dict(a=[[1j, 0, 1, 1]], b=B[:1]), "a", TypeError),
    (bx.pairwise_giou, dict(a=B, b=np.zeros((2, 5))), "b", ValueError),
    (bx.encode_deltas, dict(boxes=B, anchors=B, variances=["1"]), "variances", TypeError),
    (bx.encode_deltas, dict(boxes=B, anchors=B, variances=True), "variances", TypeError),
    (bx.decode_deltas, dict(deltas=B, anchors=B, variances=[0, 1, 1, 1]), "variances", ValueError),
    (bx.nms, dict(boxes=B, scores=["0.9", "0.8"]), "scores", TypeError),
    (bx.nms, dict(boxes=B, scores=[True, False]), "scores", TypeError),
    (bx.nms, dict(boxes=B, scores=[0.9, np.nan]), "scores", ValueError),
    (bx.nms, dict(boxes=B, scores=[0.9, 0.8], max_output_size=2.0), "max_output_size", TypeError),
    (bx.nms, dict(boxes=B, scores=[0.9, 0.8], iou_threshold="0.5"), "iou_threshold", TypeError),
    (bx.extreme_points, dict(masks=np.full((4, 4), 0.3)), "masks", ValueError),
    (bx.extreme_points, dict(masks=np.array([["a"]])), "masks", TypeError),
    (bx.extreme_points, dict(masks=np.zeros((1, 1, 4, 4))), "masks", ValueError),
]


@pytest.mark.parametrize("fn,kwargs,arg,exc", BAD, ids=[f"{b[0].__name__}-{b[2]}-{i}"
                                                        for i, b in enumerate(BAD)])
def test_bad_input_names_the_argument(fn, kwargs, arg, exc):
    with pytest.raises(exc, match=f"`{arg}"):
        fn(**kwargs)


def test_image_size_as_an_image_shape_and_numpy_ints():
    px = bx.convert(B, "xyxy", "pixels", image_size=(10, 20, 3))          # (H, W, C)
    np.testing.assert_allclose(px, B * [20, 10, 20, 10], rtol=1e-6)
    np.testing.assert_allclose(bx.convert(B, "xyxy", "pixels", image_size=np.array([10, 20])), px)


def test_nms_with_a_huge_max_output_size_keeps_every_kept_box():
    # TensorFlow takes an int32 count: anything above the number of boxes is the number of boxes
    keep = bx.nms(B, [0.9, 0.8], max_output_size=10 ** 12)
    np.testing.assert_array_equal(keep, bx.nms(B, [0.9, 0.8], max_output_size=2))
