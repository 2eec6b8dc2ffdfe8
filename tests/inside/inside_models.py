"""Models shared by the tests of cvkit.inside: a small CNN, a MobileNetV2 nested in an outer model,
and weights under which no path through a network is switched off."""
import numpy as np


def small_cnn(size=32, n_classes=4, seed=0, softmax=True):
    import keras

    L = keras.layers
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = L.MaxPooling2D(2, name="p1")(x)
    x = L.Conv2D(12, 3, padding="valid", activation="relu", name="c2")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c3")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(n_classes, activation="softmax" if softmax else None, name="head")(x)
    return keras.Model(inp, out)


def nested_mobilenet():
    """MobileNetV2 (alpha 0.35) used as a layer inside an outer model: (model, backbone)."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(1)
    bb = keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, weights=None,
                                        include_top=False)
    inp = keras.Input((64, 64, 3))
    x = L.Rescaling(1.0, name="scale")(inp)
    x = bb(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(4, activation="softmax", name="head")(x)
    return keras.Model(inp, out), bb


def positive_weights(model):
    """Every kernel a positive constant 1/fan-in, biases 0, batch norms the identity: no path
    through the network can be switched off, so the gradient reaches the whole receptive field."""
    from cvkit import _graph

    for lay in [ref.layer for ref in _graph.walk_layers(model)]:
        for v in lay.weights:
            name = v.path.split("/")[-1]
            shape = tuple(v.shape)
            if name in ("kernel", "depthwise_kernel", "pointwise_kernel"):
                if type(lay).__name__ == "DepthwiseConv2D" or name == "depthwise_kernel":
                    fan = np.prod(shape[:2])
                else:
                    fan = np.prod(shape[:-1])
                v.assign(np.full(shape, 1.0 / fan, np.float32))
            elif name in ("gamma", "moving_variance"):
                v.assign(np.ones(shape, np.float32))
            else:
                v.assign(np.zeros(shape, np.float32))
