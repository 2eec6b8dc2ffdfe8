"""Tests for cvkit.visualize.perception: image / saliency / reconstruction / PV side by side."""
import numpy as np
import pytest

from cvkit import visualize
from cvkit.explain.perception import PerceptionResult


def _arrays(n=2, size=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, size, size, 3)), rng.random((n, size, size)),
            rng.random((n, size, size, 3)), rng.random((n, size, size, 3)))


def test_panels_show_the_arrays():
    import matplotlib.pyplot as plt

    x, m, r, p = _arrays()
    fig = visualize.plot_perception(x, m, r, p, row_titles=["one", "two"], alpha=0.3)
    axes = np.array(fig.axes).reshape(2, 4)
    assert [a.get_title() for a in axes[0]] == ["image", "saliency", "reconstruction", "PV"]
    assert axes[1, 0].get_ylabel() == "two"
    np.testing.assert_allclose(axes[1, 0].images[0].get_array(), x[1], atol=1e-6)
    np.testing.assert_allclose(axes[1, 2].images[0].get_array(), r[1], atol=1e-6)
    np.testing.assert_allclose(axes[0, 3].images[0].get_array(), p[0], atol=1e-6)
    want = visualize.overlay_heatmap(x[0], m[0], alpha=0.3)
    np.testing.assert_allclose(axes[0, 1].images[0].get_array(), want, atol=1e-6)
    plt.close(fig)


def test_result_object_and_single_image():
    import matplotlib.pyplot as plt

    x, m, r, p = _arrays(1)
    res = PerceptionResult(x, m, r, p, np.array([0]), np.array([0]), None, "grad_cam", "conv")
    fig = visualize.plot_perception(res)
    assert len(fig.axes) == 4
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), p[0], atol=1e-6)
    one = visualize.plot_perception(x[0], m[0], r[0], p[0])
    assert len(one.axes) == 4
    plt.close("all")


def test_bad_input():
    x, m, r, p = _arrays()
    with pytest.raises(ValueError, match="give `saliency`"):
        visualize.plot_perception(x)
    with pytest.raises(ValueError, match="must match `images`"):
        visualize.plot_perception(x, m[:1], r, p)
    with pytest.raises(ValueError, match="`row_titles` must hold one title per image"):
        visualize.plot_perception(x, m, r, p, row_titles=["only one"])
    with pytest.raises(ValueError, match="`alpha`"):
        visualize.plot_perception(x, m, r, p, alpha=2.0)
    with pytest.raises(ValueError, match="`pv`"):
        visualize.plot_perception(x, m, r, p * 3)
