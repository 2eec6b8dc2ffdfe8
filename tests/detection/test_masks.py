"""Tests for cvkit.detection.masks."""
import numpy as np
import pytest

from cvkit.detection import mask_targets


def test_mask_targets_of_a_square():
    m = np.zeros((1, 32, 32), bool)
    m[0, 8:24, 8:16] = True
    t = mask_targets(m, [[8, 8, 24, 24]], size=4)
    np.testing.assert_array_equal(t[0], [[1, 1, 0, 0]] * 4)
    with pytest.raises(ValueError, match="boxes"):
        mask_targets(m, [[8, 8, 24, 24]] * 2)
