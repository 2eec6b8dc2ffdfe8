"""Small models shared by the localization tests (fast to build and to trace)."""
import keras

from cvkit.models import residual_block


def tiny_backbone(size=32, channels=8, seed=0):
    """A 3-layer feature extractor (size/4 x size/4 x 2*channels) built from cvkit blocks."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu",
                            name="stem")(inputs)
    x = residual_block(x, channels, name="res1")
    x = keras.layers.Conv2D(2 * channels, 3, strides=2, padding="same", activation="relu",
                            name="last_conv")(x)
    return keras.Model(inputs, x, name="tiny_backbone")
