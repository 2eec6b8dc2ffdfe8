import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from skimage import data  # noqa: E402

from cvkit import visualize  # noqa: E402
from cvkit.detection import anchors, label_anchors  # noqa: E402


def test_overlay_and_histogram():
    img = data.coins()[::4, ::4]
    fig = visualize.overlay_labels(img, (img > 100).astype(int))
    assert len(fig.axes[0].images) == 1
    plt.close(fig)
    fig = visualize.plot_threshold_histogram(img, [60, 120])
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="labels"):
        visualize.overlay_labels(img, np.zeros((3, 3), int))


def test_draw_anchors_colours_labels():
    a = anchors((4, 4), 16, scales=(16, 32), ratios=(1,))
    labels, *_ = label_anchors(a, [[10, 10, 40, 40]], (64, 64))
    fig = visualize.draw_anchors(np.zeros((64, 64, 3)), a, labels, max_boxes=100)
    n_boxes = len(fig.axes[0].patches) - 1  # the image frame
    assert n_boxes == int((labels == 1).sum() + (labels == 0).sum())
    plt.close(fig)


def test_plot_roi_grid():
    fig = visualize.plot_roi_grid(np.random.default_rng(0).random((16, 16)), [0, 0, 145, 200],
                                  (2, 2), 1 / 32, 2)
    assert len(fig.axes[0].patches) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="feature_map"):
        visualize.plot_roi_grid(np.zeros((2, 4, 4)), [0, 0, 2, 2])
