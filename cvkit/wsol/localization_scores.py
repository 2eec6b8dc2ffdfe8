"""How well a classifier's CAM localizes, on held-out images: the evaluator of the zoo's CAM entries.

Used by :mod:`cvkit.models.zoo` (``evaluator='cvkit.wsol.localization_scores:score_cam_localization'``)
and ``notebooks/02_cam_gap_mobilenet.ipynb``.
"""
from __future__ import annotations

import numpy as np

from ..boxes import iou
from ..explain import cam, find_layer, normalize_maps, upsample_maps
from ..inside import receptive_field
from . import evaluate_maps, peak_in_box, pixel_boxes, recipe_boxes

__all__ = ["score_cam_localization", "RECIPE_THRESHOLDS"]


def score_cam_localization(model, test):
    """Accuracy and the CAM's localization on held-out images: MaxBoxAcc, MaxBoxAccV2, PxAP of the
    true class's CAM (:func:`cvkit.wsol.evaluate`), the course's recipe (threshold at a fraction
    of the max, each of :data:`RECIPE_THRESHOLDS`; largest component; box: IoU >= 0.5) and how
    often the map's maximum is in the box: ``cam_peak_in_box`` places the arg-max cell of the raw
    map at the centre of its receptive field (the image point it looks at),
    ``cam_peak_in_box_resized`` takes the arg-max of the map resized to the image
    (:func:`cvkit.wsol.peak_in_box`).

    Parameters
    ----------
    model : keras.Model
        A classifier ending in global average pooling -> Dense (what CAM needs).
    test : ShapesDataset
        Held-out images with ``labels``, ``boxes`` and ``masks``.

    Returns
    -------
    dict
        Scores by name: accuracy in [0, 1], MaxBoxAcc / V2 / PxAP in percent, the rest in [0, 1].

    Examples
    --------
    >>> from cvkit.datasets import shapes
    >>> from cvkit.models import small_cnn
    >>> out = score_cam_localization(small_cnn(4, (32, 32, 3)), shapes(4, image_size=32))
    >>> sorted(out)[:4]
    ['accuracy', 'cam_best_tau', 'cam_maxboxacc', 'cam_maxboxacc_v2']
    """

    probs = model.predict(test.images, batch_size=100, verbose=0)
    out = {"accuracy": float(np.mean(probs.argmax(1) == test.labels))}
    # one CAM pass: the raw maps, then the up-sampled, normalised ones exactly as cam() makes them
    raw = cam(model, test.images, class_index=test.labels, upsample=False, normalize=False)
    maps = normalize_maps(upsample_maps(raw, test.images.shape[1:3], "bilinear"))
    rep = evaluate_maps(maps, pixel_boxes(test.boxes, test.images.shape[1:3])[:, None],
                        masks=test.masks, scores=probs, labels=test.labels, method="cam",
                        keep_maps=False).summary()
    field = receptive_field(model, find_layer(model).name)   # the maps entering pooling
    out.update({"cam_maxboxacc": float(rep["MaxBoxAcc"]), "cam_maxboxacc_v2":
                float(rep["MaxBoxAccV2"]), "cam_pxap": float(rep["PxAP"]),
                "cam_best_tau": float(rep["best tau"]),
                **{f"cam_recipe_iou50_at_{t}": float(np.mean(
                    np.asarray(iou(recipe_boxes(maps, t), test.boxes)) >= 0.5))
                   for t in RECIPE_THRESHOLDS},
                "cam_peak_in_box": float(np.mean(peak_in_box(raw, test.boxes, field))),
                "cam_peak_in_box_resized": float(np.mean(peak_in_box(maps, test.boxes)))})
    return out


#: fractions of the maximum at which :func:`score_cam_localization` runs the course's CAM -> box
#: recipe (0.2 is the CAM paper's)
RECIPE_THRESHOLDS = (0.2, 0.3, 0.4, 0.5)
