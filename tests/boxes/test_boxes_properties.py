"""Property-based checks (Hypothesis) of the box helpers: conversions round trip, IoU lies in
[0, 1] and is symmetric, GIoU <= IoU (the TensorFlow versions are compared with these in
test_boxes.py)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cvkit.boxes import (clip, convert, decode_deltas, encode_deltas, giou, iou, pairwise_giou,
                         pairwise_iou)

FAST = settings(max_examples=50, deadline=None)
# no subnormal coordinates: a box 1e-309 wide has an area that underflows to 0 (no IoU to test)
coord = st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False, width=64)


@st.composite
def xyxy(draw, n=None, valid=True):
    """(n, 4) boxes in [0, 1]; ``valid``: x_max >= x_min and y_max >= y_min."""
    n = draw(st.integers(1, 8)) if n is None else n
    a = draw(arrays(np.float64, (n, 4), elements=coord))
    if valid:
        a = np.concatenate([np.minimum(a[:, :2], a[:, 2:]), np.maximum(a[:, :2], a[:, 2:])], 1)
    return a


@st.composite
def box_pairs(draw, valid=True):
    n = draw(st.integers(1, 8))
    return draw(xyxy(n, valid)), draw(xyxy(n, valid))


@FAST
@given(xyxy(), st.sampled_from(["xywh", "cxcywh", "pixels"]),
       st.tuples(st.integers(1, 4000), st.integers(1, 4000)))
def test_convert_round_trips(b, fmt, hw):
    there = convert(b, "xyxy", fmt, image_size=hw)
    np.testing.assert_allclose(convert(there, fmt, "xyxy", image_size=hw), b, atol=1e-12)
    # through every other format as well
    other = convert(there, fmt, "cxcywh", image_size=hw)
    np.testing.assert_allclose(convert(other, "cxcywh", "xyxy"), b, atol=1e-12)


@FAST
@given(xyxy())
def test_convert_closed_forms(b):
    xywh = convert(b, "xyxy", "xywh")
    np.testing.assert_allclose(xywh[:, 2:], b[:, 2:] - b[:, :2], atol=1e-15)
    c = convert(b, "xyxy", "cxcywh")
    np.testing.assert_allclose(c[:, :2], (b[:, :2] + b[:, 2:]) / 2, atol=1e-15)
    np.testing.assert_allclose(convert(b, "xyxy", "pixels", image_size=(10, 20)),
                               b * [20, 10, 20, 10], atol=1e-12)


@FAST
@given(box_pairs(valid=False))
def test_iou_in_unit_interval_and_symmetric(pair):
    a, b = pair
    v = iou(a, b)
    assert np.all(np.isfinite(v)) and np.all(v >= 0) and np.all(v <= 1 + 1e-12)
    np.testing.assert_allclose(v, iou(b, a), atol=1e-12)
    np.testing.assert_allclose(pairwise_iou(a, b), pairwise_iou(b, a).T, atol=1e-12)
    np.testing.assert_allclose(np.diag(pairwise_iou(a, b)), v, atol=1e-12)


@FAST
@given(box_pairs(valid=False))
def test_giou_at_most_iou_and_at_least_minus_one(pair):
    a, b = pair
    g, v = giou(a, b), iou(a, b)
    assert np.all(g <= v + 1e-12) and np.all(g >= -1 - 1e-12)
    np.testing.assert_allclose(g, giou(b, a), atol=1e-12)
    np.testing.assert_allclose(np.diag(pairwise_giou(a, b)), g, atol=1e-12)


@FAST
@given(xyxy())
def test_iou_of_a_box_with_itself(b):
    has_area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) > 0      # (not underflowing to 0)
    np.testing.assert_allclose(iou(b, b)[has_area], 1.0, atol=1e-12)
    np.testing.assert_allclose(giou(b, b)[has_area], 1.0, atol=1e-12)


@FAST
@given(box_pairs(), st.floats(0.1, 10.0))
def test_iou_invariant_to_scaling(pair, s):
    a, b = pair
    np.testing.assert_allclose(iou(a * s, b * s), iou(a, b), atol=1e-9)


@FAST
@given(box_pairs())
def test_deltas_round_trip(pair):
    a, b = pair
    wa, ha, wb, hb = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    keep = (wa > 1e-3) & (ha > 1e-3) & (wb > 1e-3) & (hb > 1e-3)
    # decoding caps the size deltas at log(1000/16) (torchvision's bbox_xform_clip): a box more
    # than 62.5 times its anchor's side does not come back (test_size_deltas_are_capped)
    keep &= (wb < wa * 62.5) & (hb < ha * 62.5)
    a, b = a[keep], b[keep]
    if len(a):
        np.testing.assert_allclose(decode_deltas(encode_deltas(b, a), a), b, atol=1e-9)


def test_size_deltas_are_capped():
    anchor = np.array([[0.0, 0.4375, 0.4375, 0.453125]])        # 0.4375 x 0.015625
    big = np.array([[0.0, 0.0, 1.0, 1.0]])                        # 64 times the anchor's height
    out = decode_deltas(encode_deltas(big, anchor), anchor)
    np.testing.assert_allclose(out[0, 3] - out[0, 1], 0.015625 * 1000 / 16, rtol=1e-9)
    np.testing.assert_allclose(out[0, [0, 2]], big[0, [0, 2]], atol=1e-9)


@FAST
@given(xyxy(valid=False))
def test_clip_lands_in_the_image(b):
    c = clip(b * 3 - 1)
    assert np.all((c >= 0) & (c <= 1))
