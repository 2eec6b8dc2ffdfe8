"""The model zoo: shipped weights load and score as their card says; an entry is any builder with
its trainer and evaluator; re-training writes loadable weights; bad names, presets and missing or
corrupt files give clear errors that say how to re-train."""
import json
import os

import numpy as np
import pytest

from cvkit.models import zoo as Z
from cvkit.models.zoo import registry as R

MB = 1 << 20


@pytest.mark.parametrize("name", sorted(Z.ZOO))
def test_shipped_model_scores_as_its_card(name):
    card = Z.zoo_card(name)
    assert card["recipe_overridden"] is False
    assert card["recipe"]["builder"] == Z.ZOO[name].builder
    model = Z.pretrained(name)
    test = Z.zoo_data(name, 200)           # the first 200 of the card's 500 held-out images
    scores = R._resolve(Z.ZOO[name].evaluator, "evaluator")(model, test)
    for key, value in card["held_out"].items():
        if key in ("n", "seed") or key.endswith("best_tau"):
            continue
        tol = 8.0 if value > 1.5 else 0.06      # percentages vs fractions
        assert scores[key] >= value - tol, (key, scores[key], value)
    if "accuracy" in card["held_out"]:       # a classifier (or a decoder on one) worth explaining
        assert scores["accuracy"] >= 0.95
    else:                                    # the detector: its COCO AP50 on the same images
        assert scores["mask_ap50"] >= 0.8 and scores["box_ap50"] >= 0.85


def test_zoo_is_small_and_stored_as_float16():
    import h5py

    total = sum(os.path.getsize(p) for p in Z.ZOO_DIR.iterdir())
    assert total < 20 * MB
    for name in Z.ZOO:
        with h5py.File(Z.ZOO_DIR / f"{name}.weights.h5") as f:
            dtypes = set()
            f.visititems(lambda k, o: dtypes.add(o.dtype) if hasattr(o, "dtype") else None)
        assert np.dtype("float32") not in dtypes and np.dtype("float16") in dtypes


def test_zoo_data_is_held_out_and_matches_the_recipe():
    from cvkit.datasets import shapes

    e = Z.ZOO["shapes_small_cnn"]
    test = Z.zoo_data("shapes_small_cnn", 3)
    assert test.images.shape == (3, 64, 64, 3)
    same = shapes(3, image_size=64, seed=e.test_seed, scale=(0.4, 0.8), distractors=(0, 1),
                  min_contrast=0.5)
    np.testing.assert_array_equal(test.images, same.images)
    with pytest.raises(ValueError, match="training seed"):
        Z.zoo_data("shapes_small_cnn", 3, seed=e.train_seed)


def test_init_from_copies_matching_layers():
    from cvkit.models import cam_classifier

    model = cam_classifier(4, input_shape=(128, 128, 3), alpha=0.35, output_stride=8)
    n = R._init_from(model, "shapes_cam_mobilenetv2")
    parent = Z.pretrained("shapes_cam_mobilenetv2")
    assert n == sum(1 for la in parent.layers if la.weights)
    np.testing.assert_array_equal(model.get_layer("Conv_1").kernel.numpy(),
                                  parent.get_layer("Conv_1").kernel.numpy())


def _tiny_builder(num_classes, input_shape):
    from cvkit.models import small_cnn

    return small_cnn(num_classes, input_shape=input_shape, widths=(4, 4, 8, 8))


def _tiny_trainer(model, train, epochs=1, callbacks=()):
    return Z.fit_classifier(model, train, epochs=epochs, batch_size=8, lr=1e-2, warmup_epochs=0,
                            callbacks=callbacks)


def _tiny_eval(model, test):
    return {**Z.score_classifier(model, test), "mean_prob": float(model.predict(
        test.images, verbose=0).max(1).mean())}


def test_any_builder_trainer_and_evaluator_make_an_entry(tmp_path, monkeypatch):
    entry = Z.ZooEntry(builder=f"{__name__}:_tiny_builder", trainer=f"{__name__}:_tiny_trainer",
                       evaluator=f"{__name__}:_tiny_eval", description="tiny", preset="easy",
                       image_size=32, n_train=16, train=dict(epochs=1))
    monkeypatch.setitem(Z.ZOO, "tiny", entry)
    model, card = Z.train_zoo_model("tiny", tmp_path, n_test=8, verbose=0)
    assert card["recipe_overridden"] is False and set(card["held_out"]) >= {"accuracy",
                                                                            "mean_prob"}
    assert json.loads((tmp_path / "tiny.json").read_text())["trained_on"].startswith(("CPU",
                                                                                       "GPU"))
    back = Z.pretrained("tiny", tmp_path)
    x = Z.zoo_data("tiny", 4).images
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    _, card = Z.train_zoo_model("tiny", tmp_path, n_train=8, epochs=2, n_test=8, verbose=0)
    assert card["recipe_overridden"] is True and card["train"]["epochs"] == 2


@pytest.mark.slow
def test_localizer_entry_trains_and_loads(tmp_path, monkeypatch):
    entry = Z.ZooEntry(builder="localizer", trainer="fit_localizer", evaluator="score_localizer",
                       description="tiny localizer", image_size=32, preset="easy", n_train=16,
                       builder_kwargs={"box_features": "spatial", "alpha": 0.35},
                       train=dict(epochs=1, batch_size=8, box_loss="giou", box_weight=5.0))
    monkeypatch.setitem(Z.ZOO, "tiny_localizer", entry)
    model, card = Z.train_zoo_model("tiny_localizer", tmp_path, n_test=8, verbose=0)
    assert set(card["held_out"]) >= {"accuracy", "mean_iou", "correct_localization"}
    back = Z.pretrained("tiny_localizer", tmp_path)
    assert model.box_loss == back.box_loss == "giou"
    x = Z.zoo_data("tiny_localizer", 4).images
    for a, b in zip(back.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_zoo_bad_input(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="`name` must be one of"):
        Z.pretrained("resnet_imagenet")
    with pytest.raises(FileNotFoundError, match="zoo train shapes_small_cnn"):
        Z.pretrained("shapes_small_cnn", tmp_path)
    with pytest.raises(FileNotFoundError, match="no card"):
        Z.zoo_card("shapes_small_cnn", tmp_path)
    with pytest.raises(ValueError, match="`n_train`"):
        Z.train_zoo_model("shapes_small_cnn", tmp_path, n_train=0)
    (tmp_path / "shapes_small_cnn.weights.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="corrupt.*zoo train shapes_small_cnn"):
        Z.pretrained("shapes_small_cnn", tmp_path)
    (tmp_path / "shapes_small_cnn.json").write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON.*zoo train shapes_small_cnn"):
        Z.zoo_card("shapes_small_cnn", tmp_path)
    monkeypatch.setitem(Z.ZOO, "bad", Z.ZooEntry(builder="no_such_builder", description="x"))
    with pytest.raises(ValueError, match="`builder` 'no_such_builder' does not name a function"):
        Z.train_zoo_model("bad", tmp_path, verbose=0)
    monkeypatch.setitem(Z.ZOO, "bad", Z.ZooEntry(builder="small_cnn", description="x",
                                                 preset="hard"))
    with pytest.raises(ValueError, match="`preset` must be None or one of"):
        Z.zoo_data("bad", 2, seed=5)


def test_pretrained_classifier_checks_classes_and_input_shape():
    clf = Z.pretrained_classifier("shapes_small_cnn", 4, (64, 64, 3))
    x = Z.zoo_data("shapes_small_cnn", 8).images
    np.testing.assert_array_equal(clf.predict(x, verbose=0),
                                  Z.pretrained("shapes_small_cnn").predict(x, verbose=0))
    with pytest.raises(ValueError, match=r"asks for \(5, \(64, 64, 3\)\).*has \(4, \(64, 64, 3\)\)"):
        Z.pretrained_classifier("shapes_small_cnn", 5, (64, 64, 3))
    with pytest.raises(ValueError, match=r"has \(4, \(64, 64, 3\)\)"):
        Z.pretrained_classifier("shapes_small_cnn", 4, [128, 128, 3])
    with pytest.raises(ValueError, match="`name` must be one of"):
        Z.pretrained_classifier("no_such_entry", 4, (64, 64, 3))
