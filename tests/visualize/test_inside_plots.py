"""Tests for cvkit.visualize.inside: the drawings of filters, feature maps, patches and ascent."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cvkit import inside as F  # noqa: E402
from cvkit import visualize  # noqa: E402

L = keras.layers


@pytest.fixture(scope="module")
def cnn():
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = L.Conv2D(12, 3, padding="valid", activation="relu", name="c2")(L.MaxPooling2D(2)(x))
    return keras.Model(inp, L.Dense(4, name="head")(L.GlobalAveragePooling2D()(x)))


def test_plots_return_figures(cnn, rng):
    import matplotlib.pyplot as plt

    figs = [visualize.plot_filters(F.conv_filters(cnn)),
            visualize.plot_filters(F.conv_filters(cnn, "c2")),
            visualize.plot_feature_maps(F.feature_maps(cnn, rng.uniform(size=(32, 32, 3)),
                                                       ["c1", "c2"]))]
    assert all(hasattr(f, "savefig") for f in figs)
    plt.close("all")
    with pytest.raises(ValueError, match="one image"):
        visualize.plot_feature_maps(F.feature_maps(cnn, rng.uniform(size=(2, 32, 32, 3)), "c1"))


def test_patch_and_ascent_plots(cnn, rng):
    import matplotlib.pyplot as plt

    res = F.max_activating_patches(cnn, rng.uniform(size=(6, 32, 32, 3)), "c2", channels=[0, 1],
                                   k=3)
    fig = visualize.plot_patches(res, max_k=2)
    assert len(fig.axes) == 4 and "receptive field" in fig.texts[0].get_text()
    asc = F.gradient_ascent(cnn, [0, 1], steps=2)
    fig = visualize.plot_ascent(asc, titles=["a", "b"])
    assert len(fig.axes) == 4 and len(fig.axes[2].lines) == 2
    plt.close("all")
    with pytest.raises(TypeError, match="ActivatingPatches"):
        visualize.plot_patches(asc[0])
    with pytest.raises(TypeError, match="AscentResult"):
        visualize.plot_ascent(res)
    with pytest.raises(ValueError, match="4-D output of conv_filters"):
        visualize.plot_filters(np.zeros((3, 3, 3)))
