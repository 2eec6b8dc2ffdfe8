r"""Perception Visualization: what the network perceived, shown where it looked.

For an image :math:`x`, the decoder's reconstruction :math:`\hat x = D(\phi(x))` of the classifier's
latent representation and a saliency map :math:`M^c \in [0, 1]` of the explained class :math:`c`
(Grad-CAM by default, or any method of :mod:`cvkit.explain` by name) are combined into

.. math::
    PV^c(x) = M^c \odot \hat x + (1 - M^c) \odot \delta\, x,

the reconstruction where the network looked and the original, dimmed by :math:`\delta`
(``dim``), elsewhere, so the viewer sees both the context and what the network made of the region
it used.

For the gradient methods of :data:`cvkit.explain.MAP_FUNCTIONS` read at the decoder's layer, the
map and the reconstruction come from one compiled pass: one forward and one backward pass through
the classifier give :math:`A = \phi(x)` and :math:`\partial y^c / \partial A`, and the decoder runs
on the same :math:`A`. Other methods (CAM, Score-CAM, RISE, Smooth Grad-CAM++) are called by name.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._validate import (as_array, as_images, as_maps, check_bool, check_float, check_int,
                          restore_rank)
from .model import (_compiled_reconstruct, check_model_images, check_perception_model,
                    compiled_scores)

__all__ = ["PerceptionResult", "pv_blend", "perception_visualization", "PV_METHODS"]

#: saliency methods of :mod:`cvkit.explain` PV accepts by name (the first four share the pass)
PV_METHODS = ("grad_cam", "grad_cam_plus_plus", "xgrad_cam", "layer_cam", "cam",
              "smooth_grad_cam_plus_plus", "score_cam", "rise")


@dataclass
class PerceptionResult:
    """What :func:`perception_visualization` returns (arrays keep the caller's rank).

    Attributes
    ----------
    images : np.ndarray
        (N, H, W, 3) float32 in [0, 1], the originals.
    saliency : np.ndarray
        (N, H, W) in [0, 1], the map of the explained class.
    reconstruction : np.ndarray
        (N, H, W, 3), :math:`\\hat x`.
    pv : np.ndarray
        (N, H, W, 3), :math:`PV^c(x)`.
    class_index : np.ndarray
        (N,) the class explained.
    predicted : np.ndarray
        (N,) the classifier's class for the original.
    predicted_reconstruction : np.ndarray or None
        (N,) its class for the reconstruction (None unless asked).
    method, layer : str

    Examples
    --------
    >>> z = np.zeros((1, 2, 2, 3), np.float32)
    >>> res = PerceptionResult(z, z[..., 0], z, z, np.array([1]), np.array([1]), None,
    ...                        "grad_cam", "out_relu")
    >>> res.pv.shape, res.method
    ((1, 2, 2, 3), 'grad_cam')
    """

    images: np.ndarray
    saliency: np.ndarray
    reconstruction: np.ndarray
    pv: np.ndarray
    class_index: np.ndarray
    predicted: np.ndarray
    predicted_reconstruction: np.ndarray | None
    method: str
    layer: str


def pv_blend(images, reconstructions, saliency, dim=0.3):
    r"""Combine an image, its reconstruction and a saliency map:
    :math:`M \odot \hat x + (1 - M) \odot \delta\, x`.

    Parameters
    ----------
    images, reconstructions : array (N, H, W, 3) or (H, W, 3), uint8 or float in [0, 1]
    saliency : array (N, H, W) or (H, W) in [0, 1]
    dim : float
        :math:`\delta \in [0, 1]`, the brightness of the original outside the map (0: black).

    Returns
    -------
    np.ndarray
        float32, the shape of ``images``.

    Examples
    --------
    >>> x, x_hat = np.full((1, 2, 3), 1.0), np.full((1, 2, 3), 0.5)
    >>> pv_blend(x, x_hat, np.array([[1.0, 0.0]]), dim=0.2)[0, :, 0].tolist()
    [0.5, 0.20000000298023224]
    """
    x, single = as_images(images, "images")
    y, _ = as_images(reconstructions, "reconstructions")
    m, _ = as_maps(saliency, "saliency")
    dim = check_float(dim, "dim", 0.0, 1.0)
    if y.shape != x.shape or m.shape != x.shape[:3]:
        raise ValueError(f"`reconstructions` {y.shape} and `saliency` {m.shape} must match "
                         f"`images` {x.shape} (maps without the channel axis).")
    if m.min() < 0 or m.max() > 1:
        raise ValueError(f"`saliency` must be in [0, 1] (normalised maps); got values in "
                         f"[{m.min():.3g}, {m.max():.3g}].")
    m = m[..., None]
    return restore_rank((m * y + (1.0 - m) * dim * x).astype(np.float32), single)


def _classes(class_index, n, n_classes):
    """None / int / one int per image -> int32 (n,); -1 stands for the predicted class."""
    if class_index is None:
        return np.full(n, -1, np.int32)
    if isinstance(class_index, (int, np.integer)) and not isinstance(class_index, bool):
        arr = np.full(n, int(class_index))
    else:
        arr = as_array(class_index, "class_index", ndim=1, kind="integer")
        if arr.shape[0] != n:
            raise ValueError(f"`class_index` must hold one class per image ({n}); got "
                             f"{arr.shape[0]}.")
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(f"`class_index` must be in [0, {n_classes - 1}]; got values in "
                         f"[{arr.min()}, {arr.max()}].")
    return arr.astype(np.int32)


def _saliency_model(model, classifier, x):
    """``(model, layer, output)`` the saliency is computed on: the classifier tapped inside the
    PV model, or the caller's ``classifier`` (needed when the layer sits in a nested backbone)."""
    from .._target import check_model

    if classifier is None:
        if "/" in model.layer_name:
            raise ValueError(f"`classifier`: the decoder reads {model.layer_name!r}, inside a nested "
                             "backbone; pass the classifier itself as `classifier=` to compute "
                             "its saliency.")
        return model.classifier, model.layer_name, 1
    check_model(classifier)
    mine = model.classifier(x[:1], training=False)[1].numpy()
    theirs = np.asarray(classifier(x[:1], training=False)).reshape(mine.shape)
    if not np.allclose(mine, theirs, atol=1e-4):
        raise ValueError("`classifier` scores the images differently from the classifier the "
                         "decoder was built on: pass that classifier.")
    return classifier, model.layer_name, None


def _fused(model, x, cls, method, batch_size, target):
    """Maps, reconstructions, scores and classes from one compiled pass per chunk."""
    import tensorflow as tf

    from .. import MAP_FUNCTIONS
    from .._core import get_probe
    from ..upsample import normalize_maps_tf, upsample_maps_tf

    probe = get_probe(*target)
    dec, size = model.get_layer("decoder"), tuple(x.shape[1:3])

    def build():
        def run(images, classes):
            a, g, logits, classes = probe.tape(images, classes)
            maps = normalize_maps_tf(upsample_maps_tf(MAP_FUNCTIONS[method](a, g, classes),
                                                      size, "bilinear"))
            return maps, dec(a, training=False), logits, classes

        return tf.function(run, input_signature=[probe.image_spec, probe.class_spec],
                           autograph=False)

    fn = probe.compiled(("perception", method, id(dec), size), build)
    outs = [[t.numpy() for t in fn(x[s:s + batch_size], cls[s:s + batch_size])]
            for s in range(0, len(x), batch_size)]
    return [np.concatenate([o[i] for o in outs]) for i in range(4)]


def _by_name(model, x, cls, method, layer, batch_size, target):
    """Any method of :mod:`cvkit.explain` by name, then the decoder."""
    from ... import explain

    rec = _compiled_reconstruct(model)
    outs = [[t.numpy() for t in rec(x[s:s + batch_size])] for s in range(0, len(x), batch_size)]
    x_hat, logits = (np.concatenate([o[i] for o in outs]) for i in range(2))
    classes = np.where(cls < 0, logits.argmax(1), cls).astype(np.int32)
    kwargs = {} if method == "rise" else {"layer": layer or target[1]}
    maps = getattr(explain, method)(target[0], x, class_index=classes, output=target[2],
                                    batch_size=batch_size, **kwargs)
    return maps, x_hat, logits, classes


def perception_visualization(model, images, class_index=None, method="grad_cam", layer=None,
                             dim=0.3, classify_reconstruction=False, classifier=None,
                             batch_size=32):
    r"""Perception Visualization of a batch: saliency, reconstruction and their blend.

    Parameters
    ----------
    model : PerceptionModel
        A trained decoder on the classifier (:func:`build_perception`, or the zoo's
        ``shapes_perception_mobilenetv2``).
    images : array (N, H, W, 3) or (H, W, 3), uint8 or float in [0, 1]
    class_index : None, int or sequence of int
        The class explained (None: each image's predicted class).
    method : str
        The saliency method, one of :data:`PV_METHODS`.
    layer : None, str
        The saliency layer (default: the decoder's layer). ``rise`` ignores it.
    dim : float
        Brightness of the original outside the map (:func:`pv_blend`).
    classify_reconstruction : bool
        Also pass the reconstructions through the classifier (one more forward pass) and return
        their classes.
    classifier : keras.Model, optional
        The classifier the decoder was built on, to compute the saliency on (needed only when
        the decoder's layer sits inside a nested backbone).
    batch_size : int

    Returns
    -------
    PerceptionResult

    Examples
    --------
    >>> from cvkit.models import small_cnn
    >>> from cvkit.explain import build_perception
    >>> model = build_perception(small_cnn(3, (16, 16, 3), widths=(4, 4, 4, 4)))
    >>> res = perception_visualization(model, np.zeros((2, 16, 16, 3)), class_index=1)
    >>> res.pv.shape, res.saliency.shape, res.class_index.tolist(), res.method
    ((2, 16, 16, 3), (2, 16, 16), [1, 1], 'grad_cam')
    """
    from .. import MAP_FUNCTIONS

    check_perception_model(model)
    if not isinstance(method, str) or method not in PV_METHODS:
        raise ValueError(f"`method` must be one of {list(PV_METHODS)}; got {method!r}.")
    x, single = check_model_images(model, images)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if layer is not None and not isinstance(layer, str):
        raise TypeError(f"`layer` must be None or a layer name; got {type(layer).__name__}.")
    cls = _classes(class_index, len(x), int(model.outputs[2].shape[-1]))
    target = _saliency_model(model, classifier, x)
    if method in MAP_FUNCTIONS and layer in (None, model.layer_name):
        maps, x_hat, logits, classes = _fused(model, x, cls, method, batch_size, target)
    else:
        maps, x_hat, logits, classes = _by_name(model, x, cls, method, layer, batch_size, target)
    pv = pv_blend(x, x_hat, maps, dim)
    again = None
    if check_bool(classify_reconstruction, "classify_reconstruction"):
        fn = compiled_scores(model)
        again = np.concatenate([fn(x_hat[s:s + batch_size]).numpy().argmax(1)
                                for s in range(0, len(x), batch_size)])
    return PerceptionResult(*(restore_rank(v, single) for v in (x, maps, x_hat, pv)),
                            classes, logits.argmax(1), again, method, model.layer_name)
