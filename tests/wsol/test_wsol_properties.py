"""Property-based tests (Hypothesis) of the WSOL metrics: a map and any positive affine rescaling
of it score the same (every metric min-max normalises the maps first), and the ground truth used
as the map scores 100.

The maps hold multiples of 1/64 below 4, so that ``a * m + b`` with a power-of-two ``a`` and a
small integer ``b`` is exact in float32 and the normalised maps are bit-identical: the metrics
must then agree to the last digit, not just approximately.
"""
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cvkit import wsol

SETTINGS = settings(max_examples=40, deadline=None)
THRESHOLDS = np.arange(0, 1, 0.01)


@st.composite
def maps_and_boxes(draw):
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    cams = draw(arrays(np.int16, (n, h, w), elements=st.integers(0, 255))).astype(np.float32) / 64
    boxes = []
    for _ in range(n):
        x0, x1 = sorted(draw(st.integers(0, w - 1)) for _ in range(2))
        y0, y1 = sorted(draw(st.integers(0, h - 1)) for _ in range(2))
        boxes.append([[x0, y0, x1, y1]])
    masks = draw(arrays(np.bool_, (n, h, w)))
    masks[0, 0, 0] = True                      # PxAP needs one object pixel
    # a mask over the whole map used as a map is flat: normalised to zeros, it finds nothing
    masks[:, -1, -1] &= ~masks.reshape(n, -1).all(axis=1)
    return cams, boxes, masks


rescalings = st.tuples(st.sampled_from([0.25, 0.5, 2.0, 8.0]), st.integers(-3, 3))


@SETTINGS
@given(maps_and_boxes(), rescalings)
def test_box_metrics_invariant_to_affine_rescaling(data, ab):
    cams, boxes, _ = data
    a, b = ab
    scaled = (cams * np.float32(a) + np.float32(b)).astype(np.float32)
    for metric in (wsol.max_box_acc, wsol.max_box_acc_v2):
        ref = metric(cams, boxes, thresholds=THRESHOLDS)
        got = metric(scaled, boxes, thresholds=THRESHOLDS)
        assert got.score == ref.score
        np.testing.assert_array_equal(got.ious, ref.ious)


@SETTINGS
@given(maps_and_boxes(), rescalings)
def test_pxap_invariant_to_affine_rescaling(data, ab):
    cams, _, masks = data
    a, b = ab
    scaled = (cams * np.float32(a) + np.float32(b)).astype(np.float32)
    ref = wsol.pxap(cams, masks, thresholds=THRESHOLDS)
    got = wsol.pxap(scaled, masks, thresholds=THRESHOLDS)
    assert got.score == ref.score
    np.testing.assert_array_equal(got.recall, ref.recall)


@SETTINGS
@given(maps_and_boxes())
def test_ground_truth_as_the_map_scores_100(data):
    cams, boxes, masks = data
    n, h, w = cams.shape
    assert wsol.pxap(masks.astype(np.float32), masks, thresholds=THRESHOLDS).score == 100.0
    box_maps = wsol.boxes_mask(boxes, (n, h, w)).astype(np.float32)
    # a box over the whole map gives a flat map, which finds no box (as in the benchmark, whose
    # strict threshold leaves no contour): excluded here, tested in test_a_flat_map_finds_no_box
    assume(not box_maps.reshape(n, -1).all(axis=1).any())
    for metric in (wsol.max_box_acc, wsol.max_box_acc_v2):
        assert metric(box_maps, boxes, thresholds=THRESHOLDS).score == 100.0


def test_a_flat_map_finds_no_box():
    flat = np.zeros((1, 7, 7), np.float32)
    for metric in (wsol.max_box_acc, wsol.max_box_acc_v2):
        assert metric(flat, [[[0, 0, 6, 6]]], thresholds=THRESHOLDS).score == 0.0
        assert metric(flat + 3.0, [[[0, 0, 6, 6]]], thresholds=THRESHOLDS).score == 0.0
