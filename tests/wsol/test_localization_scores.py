"""The zoo's CAM evaluator: held-out accuracy and the CAM's localization scores."""
import numpy as np
import pytest

from cvkit.datasets import shapes
from cvkit.models import small_cnn
from cvkit.wsol import max_box_acc, pixel_boxes, recipe_boxes
from cvkit.wsol.localization_scores import RECIPE_THRESHOLDS, score_cam_localization


@pytest.fixture(scope="module")
def scored():
    import keras

    keras.utils.set_random_seed(0)
    model = small_cnn(4, (32, 32, 3), widths=(4, 8, 8, 8))
    test = shapes(12, image_size=32, seed=3)
    return model, test, score_cam_localization(model, test)


def test_scores_agree_with_the_metrics_computed_directly(scored):
    from cvkit.explain import cam

    model, test, out = scored
    probs = model.predict(test.images, verbose=0)
    assert out["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == test.labels))
    maps = cam(model, test.images, class_index=test.labels)
    gt = pixel_boxes(test.boxes, (32, 32))[:, None]
    assert out["cam_maxboxacc"] == pytest.approx(max_box_acc(maps, gt).score, abs=1e-6)
    from cvkit.boxes import iou

    for t in RECIPE_THRESHOLDS:
        hit = np.mean(np.asarray(iou(recipe_boxes(maps, t), test.boxes)) >= 0.5)
        assert out[f"cam_recipe_iou50_at_{t}"] == pytest.approx(hit)
    for key in ("cam_peak_in_box", "cam_peak_in_box_resized"):
        assert 0.0 <= out[key] <= 1.0


def test_a_model_without_a_cam_head_is_refused():
    import keras

    inp = keras.Input((32, 32, 3))
    out = keras.layers.Dense(4, activation="softmax")(keras.layers.Flatten()(
        keras.layers.Conv2D(2, 3)(inp)))
    with pytest.raises(ValueError, match="GlobalAveragePooling2D"):
        score_cam_localization(keras.Model(inp, out), shapes(4, image_size=32))
