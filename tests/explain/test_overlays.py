import matplotlib
import numpy as np
import pytest
from skimage import measure

from cvkit.visualize import overlays


def test_overlay_blend_formula():
    rng = np.random.default_rng(0)
    img = rng.random((8, 8, 3)).astype(np.float32)
    heat = rng.random((8, 8)).astype(np.float32)
    np.testing.assert_allclose(overlays.overlay_heatmap(img, heat, alpha=0.0), img, atol=1e-6)
    norm = (heat - heat.min()) / np.ptp(heat)
    colored = matplotlib.colormaps["viridis"](norm)[..., :3]
    np.testing.assert_allclose(overlays.overlay_heatmap(img, heat, alpha=0.3, cmap="viridis"),
                               0.7 * img + 0.3 * colored, atol=1e-5)
    assert overlays.overlay_heatmap(img, heat[:4, :4]).shape == (8, 8, 3)   # low-res map resized
    assert np.isfinite(overlays.overlay_heatmap(img, np.zeros((4, 4)))).all()


def test_largest_component_box_matches_skimage():
    heat = np.zeros((20, 30), np.float32)
    heat[2:5, 3:6] = 1.0                  # 9 px
    heat[8:15, 10:22] = 0.8               # 84 px: the largest
    heat[9, 9] = 0.9                      # touches the big one diagonally? no: column 9 is adjacent
    box, comp = overlays.largest_component_box(heat, threshold=0.5)
    lab = measure.label(heat > 0.5, connectivity=2)
    props = max(measure.regionprops(lab), key=lambda p: p.area)
    r0, c0, r1, c1 = props.bbox           # exclusive ends
    np.testing.assert_allclose(box, [c0 / 30, r0 / 20, c1 / 30, r1 / 20], atol=1e-6)
    assert comp.sum() == props.area
    empty_box, empty = overlays.largest_component_box(np.zeros((5, 5)), 0.2)
    assert not empty.any() and not empty_box.any()


def test_figures():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    imgs = rng.random((3, 16, 16, 3)).astype(np.float32)
    maps = {"a": rng.random((3, 4, 4)), "b": rng.random((3, 16, 16))}
    fig = overlays.compare_methods(imgs, maps, titles={"a": "1 ms"})
    assert len(fig.axes) == 9
    plt.close(fig)
    fig = overlays.plot_cam_box(imgs[0], maps["a"][0], 0.3, gt_box=[0.1, 0.1, 0.5, 0.5])
    assert len(fig.axes) == 3
    plt.close(fig)


def test_overlays_bad_input():
    img = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="`image`"):
        overlays.overlay_heatmap(np.zeros((2, 8, 8, 3)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="`heatmap`"):
        overlays.overlay_heatmap(img, np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="`alpha`"):
        overlays.overlay_heatmap(img, np.zeros((8, 8)), alpha=2)
    with pytest.raises(ValueError, match="`cmap`"):
        overlays.overlay_heatmap(img, np.zeros((8, 8)), cmap="no-such-map")
    with pytest.raises(ValueError, match="`threshold`"):
        overlays.largest_component_box(np.zeros((8, 8)), 1.0)
    with pytest.raises(TypeError, match="`maps`"):
        overlays.compare_methods(img[None], [np.zeros((1, 8, 8))])
    with pytest.raises(ValueError, match="maps\\['a'\\]"):
        overlays.compare_methods(img[None], {"a": np.zeros((2, 8, 8))})
