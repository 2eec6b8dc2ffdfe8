"""The model zoo: shipped weights load and score as their card says; re-training writes loadable
weights; bad names and missing files give clear errors."""
import json

import numpy as np
import pytest

from cvkit.models import zoo as Z


@pytest.mark.parametrize("name", sorted(Z.ZOO))
def test_shipped_model_scores_as_its_card(name):
    card = Z.zoo_card(name)
    assert card["recipe_overridden"] is False
    model = Z.pretrained(name)
    test = Z.zoo_data(name, 200)           # held-out images (the card's seed)
    if Z.ZOO[name].builder == "localizer":
        from cvkit.models import localization_scores

        probs, boxes = model.predict(test.images, batch_size=100, verbose=0)
        s = localization_scores(test.labels, test.boxes, probs, boxes)
        assert s["mean_iou"] >= card["held_out"]["mean_iou"] - 0.05
        acc = s["accuracy"]
    else:
        acc = float(np.mean(model.predict(test.images, verbose=0).argmax(1) == test.labels))
    # the first 200 of the card's 500 held-out images: within a few points of the card
    assert acc >= card["held_out"]["accuracy"] - 0.05
    assert acc >= 0.85                       # and a model worth explaining


@pytest.mark.slow
def test_train_writes_loadable_weights_and_card(tmp_path):
    name = "shapes_cam_mobilenetv2"
    model, card = Z.train_zoo_model(name, tmp_path, n_train=16, epochs=1, n_test=8, verbose=0)
    assert card["recipe_overridden"] is True and card["held_out"]["n"] == 8
    assert json.loads((tmp_path / f"{name}.json").read_text())["n_train"] == 16
    back = Z.pretrained(name, tmp_path)
    x = Z.zoo_data(name, 4).images
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_zoo_data_is_held_out_and_matches_the_recipe():
    e = Z.ZOO["shapes_cam_mobilenetv2"]
    test = Z.zoo_data("shapes_cam_mobilenetv2", 3)
    assert test.images.shape == (3, e.image_size, e.image_size, 3)
    with pytest.raises(ValueError, match="training seed"):
        Z.zoo_data("shapes_cam_mobilenetv2", 3, seed=e.train_seed)


def test_zoo_bad_input(tmp_path):
    with pytest.raises(ValueError, match="`name` must be one of"):
        Z.pretrained("resnet_imagenet")
    with pytest.raises(FileNotFoundError, match="zoo train shapes_cam_mobilenetv2"):
        Z.pretrained("shapes_cam_mobilenetv2", tmp_path)
    with pytest.raises(FileNotFoundError, match="no card"):
        Z.zoo_card("shapes_cam_mobilenetv2", tmp_path)
    with pytest.raises(ValueError, match="`n_train`"):
        Z.train_zoo_model("shapes_cam_mobilenetv2", tmp_path, n_train=0)


@pytest.mark.slow
def test_localizer_entry_trains_and_loads(tmp_path, monkeypatch):
    entry = Z.ZooEntry(builder="localizer", description="tiny localizer", image_size=32,
                       data={"scale": (0.4, 0.8), "distractors": (0, 0)},
                       builder_kwargs={"box_features": "spatial"}, box_loss="giou")
    monkeypatch.setitem(Z.ZOO, "tiny_localizer", entry)
    model, card = Z.train_zoo_model("tiny_localizer", tmp_path, n_train=16, epochs=1, n_test=8,
                                    verbose=0)
    assert set(card["held_out"]) >= {"accuracy", "mean_iou", "correct_localization"}
    back = Z.pretrained("tiny_localizer", tmp_path)
    assert model.box_loss == back.box_loss == "giou" and card["recipe"]["box_loss"] == "giou"
    x = Z.zoo_data("tiny_localizer", 4).images
    for a, b in zip(back.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert back.evaluate(x, (np.zeros(4, int), np.tile([[0.2, 0.2, 0.6, 0.6]], (4, 1))),
                         verbose=0) is not None
