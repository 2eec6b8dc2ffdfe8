"""The networks of the small Mask R-CNN: strides, output layouts matching the anchors, heads."""
import keras
import numpy as np
import pytest

from cvkit.detection import anchors
from cvkit.detection.maskrcnn import backbone_s8, box_head, rpn_head


def test_backbone_stride_8_and_synchronized_bn():
    model = backbone_s8((64, 64, 3), width=4)
    assert tuple(model.output.shape) == (None, 8, 8, 16)
    bns = [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]
    assert bns and all(la.synchronized for la in bns)


def test_rpn_head_layout_follows_the_anchors():
    """Reshaping the head's (h, w, k) output to (-1,) gives anchor index ((i w + j) k + a)."""
    head = rpn_head(4, 2, hidden=4)
    logits, deltas = head(np.zeros((1, 3, 5, 4), np.float32))
    assert tuple(logits.shape) == (1, 3, 5, 2) and tuple(deltas.shape) == (1, 3, 5, 8)
    a = anchors((3, 5), 8, scales=(8, 16), ratios=(1.0,))
    idx = np.arange(3 * 5 * 2).reshape(3, 5, 2)
    # cell (i, j), anchor 1 is the 16 px anchor centred on (8 j + 4, 8 i + 4)
    i, j = 2, 3
    np.testing.assert_allclose(a[idx[i, j, 1]], [8 * j + 4 - 8, 8 * i + 4 - 8, 8 * j + 12,
                                                  8 * i + 12])


def test_box_head_outputs():
    head = box_head(7, 8, 3, hidden=16)
    logits, deltas = head(np.ones((5, 7, 7, 8), np.float32))
    assert tuple(logits.shape) == (5, 4) and tuple(deltas.shape) == (5, 4, 4)
    assert head.count_params() == 7 * 7 * 8 * 16 + 16 + 16 * 16 + 16 + 16 * 4 + 4 + 16 * 16 + 16


@pytest.mark.parametrize("fn, args, match", [(backbone_s8, ((64, 64, 3), 0), "width"),
                                             (rpn_head, (4, 0), "n_anchors"),
                                             (box_head, (7, 8, 0), "num_classes")])
def test_bad_sizes(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)
