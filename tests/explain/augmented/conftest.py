"""Fixtures of the Augmented Grad-CAM tests: a test image, a known-answer problem, a tiny model."""
import numpy as np
import pytest
from augmented_cases import H, W

from cvkit.explain import augmented as A


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W] / 10.0
    img = np.stack([np.sin(xx) * 0.5 + 0.5, np.cos(yy) * 0.5 + 0.5, rng.random((H, W))], -1)
    return img.astype(np.float32)


@pytest.fixture(scope="module")
def problem16():
    return A.synthetic_superresolution_problem(64, 4, n_augmentations=8, seed=0)


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling2D(4)(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="feat")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def tiny_images():
    from cvkit.datasets import shapes

    return shapes(2, image_size=32, seed=5).images
