"""The zoo entry shapes_maskrcnn: builder, recipe, predictions as per-image lists, and the shipped
model's held-out COCO scores (equal to pycocotools on its own detections)."""
import numpy as np
import pytest

from cvkit.detection.coco_eval import coco_evaluate, pycocotools_evaluate
from cvkit.detection.maskrcnn.zoo import (HELD_OUT_SEED, held_out, maskrcnn_builder,
                                          predict_instances)
from cvkit.models import ZOO


def test_entry_and_held_out_seed():
    e = ZOO["shapes_maskrcnn"]
    assert e.test_seed == HELD_OUT_SEED != e.train_seed
    assert e.builder.endswith("maskrcnn_builder") and e.num_classes == 4
    data = held_out(3, 64)
    assert len(data) == 3 and data.images.shape[1] == 64


def test_builder_bad_input():
    with pytest.raises(ValueError, match="input_shape"):
        maskrcnn_builder(4, (64, 32, 3))
    with pytest.raises(ValueError, match="input_shape"):
        maskrcnn_builder(4, (64, 64, 1))


def test_predict_instances_lists_the_detections():
    model = maskrcnn_builder(4, (32, 32, 3), width=4, box_hidden=8, mask_filters=4,
                             score_threshold=0.0, max_detections=3)
    images = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    dets = predict_instances(model, images, batch_size=2)
    out = model.predict(images, verbose=0)
    for i, d in enumerate(dets):
        k = out["num_detections"][i]
        assert len(d["scores"]) == k == len(d["masks"]) == len(d["boxes"])
        np.testing.assert_allclose(d["boxes"], out["boxes"][i, :k] * 32)


@pytest.mark.slow
def test_shipped_model_finds_the_shapes():
    from cvkit.models import pretrained, zoo_card

    model = pretrained("shapes_maskrcnn")
    card = zoo_card("shapes_maskrcnn")["held_out"]
    data = held_out(60)
    dets = predict_instances(model, data.images)
    truth = []
    for i in range(len(data)):
        b, c, m = data.objects(i)
        truth.append({"boxes": b * 128, "classes": c, "masks": m})
    for kind in ("box", "mask"):
        ours = coco_evaluate(dets, truth, iou_type=kind, num_classes=4)
        ref = pycocotools_evaluate(dets, truth, iou_type=kind)
        for key in ("AP", "AP50", "AP75"):
            assert ours[key] == pytest.approx(ref[key], abs=1e-6)
        # the first 60 of the card's 500 held-out images score like the card (within noise)
        assert ours["AP50"] > card[f"{kind}_ap50"] - 0.1
    assert card["mask_ap50"] >= 0.6
