"""Small Keras models shared by the explain tests (built here so the tests do not depend on
cvkit.models)."""
import keras
import numpy as np

N_CLASSES = 5


def backbone(name="backbone", size=32):
    inp = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="c2")(x)
    return keras.Model(inp, x, name=name)


def flat_gap(size=32, activation="softmax", seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="c2")(x)
    g = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    g = keras.layers.Dropout(0.2, name="drop")(g)
    out = keras.layers.Dense(N_CLASSES, activation=activation, name="fc")(g)
    return keras.Model(inp, out, name="flat")


def nested_gap(size=32, activation="softmax", seed=0):
    keras.utils.set_random_seed(seed)
    bb = backbone(size=size)
    inp = keras.Input((size, size, 3))
    g = keras.layers.GlobalAveragePooling2D(name="gap")(bb(inp))
    g = keras.layers.Dropout(0.2, name="drop")(g)
    out = keras.layers.Dense(N_CLASSES, activation=activation, name="fc")(g)
    return keras.Model(inp, out, name="nested")


def images(n=4, size=32, seed=0):
    return np.random.default_rng(seed).random((n, size, size, 3)).astype("float32")
