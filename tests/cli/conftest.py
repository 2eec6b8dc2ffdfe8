"""Shared inputs of the command-line tests: two scikit-image photos saved as PNG, a tiny .keras
classifier, and a zoo loader that loads each entry once per session."""
import functools

import numpy as np
import pytest


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """Two photos of scikit-image (a cat, a coffee cup) saved as PNG in a folder of their own."""
    import skimage.data
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for name in ("chelsea", "coffee"):
        path = folder / f"{name}.png"
        Image.fromarray(getattr(skimage.data, name)()).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def tiny_keras(tmp_path_factory):
    """A 3-class small CNN on 32 x 32 images (random weights, fixed seed) saved as .keras."""
    import keras

    from cvkit.models import small_cnn

    keras.utils.set_random_seed(0)
    model = small_cnn(3, (32, 32, 3), widths=(4, 4, 8, 8))
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture
def cached_zoo(monkeypatch):
    """``cvkit.models.zoo.pretrained`` loading each entry once for the whole session."""
    import cvkit.models.zoo as zoo

    monkeypatch.setattr(zoo, "pretrained", _cached_pretrained)
    return _cached_pretrained


@functools.lru_cache(maxsize=None)
def _cached_pretrained(name):
    import cvkit.models.zoo.registry as registry

    return registry.pretrained(name)


@pytest.fixture
def resized():
    """The photos as the command line feeds them to a model: float32 in [0, 1] at ``size``,
    resized by TensorFlow (antialiased bilinear) straight from scikit-image's arrays."""
    def resize(paths, size):
        import skimage.data
        import tensorflow as tf

        arrays = [getattr(skimage.data, p.stem)() / 255.0 for p in paths]
        return np.stack([tf.image.resize(a, size, antialias=True).numpy() for a in arrays]
                        ).clip(0, 1).astype(np.float32)

    return resize
