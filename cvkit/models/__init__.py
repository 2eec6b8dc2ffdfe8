"""Model builders, losses and metrics (Keras 3 / TensorFlow).

* :func:`backbone`: MobileNetV2, ResNet50 or EfficientNetB0 feature extractors taking [0, 1]
  images, flat (inner layers reachable by name) or nested as in the course code.
* :func:`localizer`, :func:`cam_classifier`, :func:`keypoint_regressor`: the heads of the course.
* :class:`LocalizationModel`: the two-headed model with its own multitask ``train_step``.
* ``blocks``: :func:`residual_block`, :func:`bottleneck_block`, :class:`InferenceOnly`,
  :class:`ConvBatchNorm`, :func:`num_replicas`.
* ``losses``: box losses (L2, smooth-L1, GIoU), the multitask loss, the keypoint L2 loss.
* ``metrics``: class accuracy, mean IoU, correct localization.
* ``fcn``: transposed convolution, FCN-32s/16s/8s, the mask head.
* ``zoo``: :func:`pretrained` MobileNetV2 models trained on ``shapes``, shipped with cvkit.

Submodules (and TensorFlow) are imported on first use, so ``import cvkit.models`` is cheap.
"""
import importlib

from .._lazy import attach

# public name -> submodule that defines it
_EXPORTS = {
    "backbone": "backbones",
    "mini_resnet": "backbones",
    "BACKBONES": "backbones",
    "ImagePreprocess": "backbones",
    "feature_layer_name": "backbones",
    "dilate": "backbones",
    "OUTPUT_STRIDES": "backbones",
    "localizer": "heads",
    "cam_classifier": "heads",
    "small_cnn": "heads",
    "keypoint_regressor": "heads",
    "normalize_keypoints": "heads",
    "denormalize_keypoints": "heads",
    "CAM_DENSE": "heads",
    "CAM_POOL": "heads",
    "LocalizationModel": "multitask",
    "residual_block": "blocks",
    "bottleneck_block": "blocks",
    "InferenceOnly": "blocks",
    "num_replicas": "blocks",
    "ConvBatchNorm": "blocks",
    "NO_BOX": "losses",
    "l2_box_loss": "losses",
    "smooth_l1_box_loss": "losses",
    "giou_box_loss": "losses",
    "box_loss": "losses",
    "classification_loss": "losses",
    "multitask_loss": "losses",
    "keypoint_l2_loss": "losses",
    "BoxLoss": "losses",
    "ClassAccuracy": "metrics",
    "BoxMeanIoU": "metrics",
    "CorrectLocalization": "metrics",
    "localization_scores": "metrics",
    # fully convolutional segmentation (notebook 07)
    "build_fcn": "fcn", "fcn32s": "fcn", "fcn16s": "fcn", "fcn8s": "fcn", "mask_head": "fcn",
    "transposed_conv2d": "fcn", "bilinear_kernel": "fcn", "tiny_backbone": "fcn",
    "pixel_mean_iou": "fcn", "FCN_SKIPS": "fcn",
    # models trained on shapes, shipped with the package
    "pretrained": "zoo", "train_zoo_model": "zoo", "zoo_data": "zoo", "zoo_card": "zoo",
    "ZOO": "zoo", "ZooEntry": "zoo", "ZOO_DIR": "zoo", "fit_classifier": "zoo",
    "fit_localizer": "zoo", "score_classifier": "zoo", "score_localizer": "zoo",
    "warmup_cosine": "zoo",
}

_SUBMODULES = ("backbones", "heads", "multitask", "blocks", "losses", "metrics", "fcn", "zoo")

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS, _SUBMODULES)
__all__ = __all__ + ["load_model"]


def load_model(path, **kwargs):
    """``keras.models.load_model`` after registering cvkit's custom layers, losses and metrics.

    A model saved with ``model.save('model.keras')`` comes back with identical predictions (and,
    for a compiled :class:`LocalizationModel`, its optimizer state and loss settings).

    Parameters
    ----------
    path : str or Path
        A ``.keras`` file.
    **kwargs
        Passed to ``keras.models.load_model`` (``compile``, ``safe_mode``).

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import keras, numpy as np
    >>> from cvkit.models import ImagePreprocess
    >>> model = keras.Sequential([keras.Input((3,)), ImagePreprocess("tf", name="pre")])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     model.save(Path(tmp) / "pre.keras")
    ...     back = load_model(Path(tmp) / "pre.keras")
    >>> type(back.get_layer("pre")).__name__, back.get_layer("pre").mode
    ('ImagePreprocess', 'tf')
    >>> back.predict(np.array([[0.0, 0.5, 1.0]]), verbose=0)   # x' = 2 x - 1
    array([[-1.,  0.,  1.]], dtype=float32)
    """
    import keras

    for sub in ("backbones", "multitask", "losses", "metrics"):
        importlib.import_module(f"{__name__}.{sub}")
    for module in _cvkit_modules(path):      # e.g. cvkit.wsol.fcam.model for a saved F-CAM
        importlib.import_module(module)
    return keras.models.load_model(path, **kwargs)


def _cvkit_modules(path):
    """The cvkit modules named in a ``.keras`` file's config (they register its custom classes)."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []                            # not a .keras zip: keras reports the error
    found, stack = set(), [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            module = item.get("module")
            if isinstance(module, str) and module.startswith("cvkit."):
                found.add(module)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(found)
