"""Tests for cvkit.detection.anchors."""
import numpy as np
import pytest

from cvkit.detection import anchors


def test_anchors_nine_per_position_and_sizes():
    a = anchors((38, 50), 16)
    assert a.shape == (38 * 50 * 9, 4)
    w = a[:9, 2] - a[:9, 0]
    h = a[:9, 3] - a[:9, 1]
    np.testing.assert_allclose(w * h, np.repeat([128 ** 2, 256 ** 2, 512 ** 2], 3), rtol=1e-5)
    np.testing.assert_allclose(h / w, np.tile([0.5, 1, 2], 3), rtol=1e-5)
    # centres on the cell centres, in row-major order
    cx = (a[:, 0] + a[:, 2]) / 2
    cy = (a[:, 1] + a[:, 3]) / 2
    np.testing.assert_allclose(cx[:9], 8.0)
    np.testing.assert_allclose(cx[9 * 50 - 1], 49.5 * 16)
    np.testing.assert_allclose(cy[9 * 50], 24.0)


@pytest.mark.parametrize("stride", [4, 8, 32, 12.5])
def test_anchors_any_stride(stride):
    a = anchors((3, 4), stride, scales=(10,), ratios=(1,))
    np.testing.assert_allclose(a[5], [1.5 * stride - 5, 1.5 * stride - 5, 1.5 * stride + 5,
                                      1.5 * stride + 5], rtol=1e-6)


def test_anchors_bad_input():
    with pytest.raises(ValueError, match="stride"):
        anchors((4, 4), 0)
    with pytest.raises(ValueError, match="scales"):
        anchors((4, 4), 16, scales=(-1,))
    with pytest.raises(ValueError, match="ratios"):
        anchors((4, 4), 16, ratios=())
    with pytest.raises(ValueError, match="feature_size"):
        anchors((0, 4), 16)
