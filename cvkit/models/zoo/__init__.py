"""The model zoo: models trained on ``shapes`` by cvkit's own recipes, shipped as float16 weights
and JSON cards in this folder (see :mod:`cvkit.models.zoo.registry`), so that notebooks, the tour and
the benchmarks run offline on converged models.

Examples
--------
>>> from cvkit.models.zoo import ZOO
>>> "shapes_cam_mobilenetv2_s8" in ZOO
True
"""
from .recipes import (fit_classifier, fit_localizer, score_classifier, score_localizer,
                      warmup_cosine)
from .registry import (ZOO, ZOO_DIR, ZooEntry, pretrained, pretrained_classifier,
                       train_zoo_model, zoo_card, zoo_data)

__all__ = ["ZOO", "ZOO_DIR", "ZooEntry", "pretrained", "pretrained_classifier", "train_zoo_model",
           "zoo_card", "zoo_data", "fit_classifier", "fit_localizer", "score_classifier", "score_localizer",
           "warmup_cosine"]
