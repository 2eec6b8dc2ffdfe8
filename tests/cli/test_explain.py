"""``python -m cvkit explain``: a zoo classifier and a user's .keras file on scikit-image photos,
checked against the library functions it calls; every bad input gives one line and status 2."""
import json

import numpy as np
import pytest
from PIL import Image

from cvkit.cli import main


def _run_json(capsys, *argv):
    status = main(["explain", *map(str, argv), "--format", "json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


def _error(capsys, *argv):
    status = main([*map(str, argv)])
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_zoo_classifier_on_two_photos(tmp_path, capsys, photos, cached_zoo, resized):
    from cvkit.explain import grad_cam
    from cvkit.wsol import recipe_boxes

    out = tmp_path / "overlays"
    res = _run_json(capsys, *photos, "--model", "shapes_cam_mobilenetv2_s8", "--out", out,
                    "--top", 4)
    model = cached_zoo("shapes_cam_mobilenetv2_s8")
    x = resized(photos, (128, 128))
    probs = model.predict(x, verbose=0)
    top = probs.argmax(1)
    boxes = recipe_boxes(grad_cam(model, x, class_index=top), 0.2)
    names = ("circle", "square", "triangle", "star")
    assert res["method"] == "grad-cam" and res["input_size"] == [128, 128]
    for rec, p, k, box, photo in zip(res["images"], probs, top, boxes, photos):
        assert rec["image"] == str(photo) and rec["size"] == list(np.asarray(Image.open(photo)).shape[:2])
        assert [t["class"] for t in rec["top"]] == [names[i] for i in np.argsort(-p)]
        np.testing.assert_allclose([t["probability"] for t in rec["top"]], np.sort(p)[::-1], atol=2e-3)
        assert rec["explained"]["index"] == k and rec["explained"]["class"] == names[k]
        np.testing.assert_allclose(rec["box"]["xyxy"], box, atol=0.02)
        with Image.open(rec["overlay"]) as png:
            assert png.format == "PNG" and png.size[0] > 400
    assert sorted(p.name for p in out.iterdir()) == ["chelsea_grad-cam.png", "coffee_grad-cam.png"]


def test_keras_file_with_class_names_and_a_fixed_class(tmp_path, capsys, photos, tiny_keras,
                                                       resized):
    from cvkit.explain import cam
    from cvkit.models import load_model
    from cvkit.wsol import recipe_boxes

    res = _run_json(capsys, photos[0].parent, "--model", tiny_keras, "--classes", "a,b,c",
                    "--class", "B", "--method", "cam", "--threshold", 0.4)
    assert all(r["overlay"] is None for r in res["images"])        # json without --out: no PNG
    model = load_model(tiny_keras)
    x = resized(photos, (32, 32))
    want = recipe_boxes(cam(model, x, class_index=1), 0.4)
    probs = model.predict(x, verbose=0)
    for rec, box, p in zip(res["images"], want, probs):
        assert rec["explained"] == {"class": "b", "index": 1, "probability": pytest.approx(p[1], abs=1e-3)}
        np.testing.assert_allclose(rec["box"]["xyxy"], box, atol=0.04)
        h, w = rec["size"]
        assert rec["box"]["pixels"] == [round(v * s) for v, s in zip(rec["box"]["xyxy"], (w, h, w, h))]


@pytest.mark.parametrize("method", ["grad-cam", "grad-cam++", "layer-cam", "xgrad-cam",
                                    "score-cam", "rise", "augmented"])
def test_every_method_gives_the_library_box(capsys, photos, tiny_keras, resized, method):
    from cvkit import explain
    from cvkit.cli.models import METHODS
    from cvkit.models import load_model
    from cvkit.wsol import recipe_boxes

    res = _run_json(capsys, photos[1], "--model", tiny_keras, "--method", method, "--class", 2)
    model = load_model(tiny_keras)
    x = resized(photos[1:], (32, 32))
    kwargs = {"max_shift": 4} if method == "augmented" else {}
    maps = getattr(explain, METHODS[method])(model, x, class_index=np.array([2]), **kwargs)
    box = recipe_boxes(np.asarray(maps).reshape(1, 32, 32), 0.2)[0]
    got = res["images"][0]["box"]
    assert got is not None and res["images"][0]["explained"]["index"] == 2
    np.testing.assert_allclose(got["xyxy"], box, atol=0.04)


def test_fcam_model_saved_as_keras(tmp_path, capsys, photos, resized):
    from cvkit.models import load_model, small_cnn
    from cvkit.wsol import recipe_boxes
    from cvkit.wsol.fcam import build_fcam, fcam_maps

    path = tmp_path / "fcam.keras"
    build_fcam(small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)), skips=["relu3", "relu2"]).save(path)
    res = _run_json(capsys, *photos, "--model", path, "--method", "fcam")
    model = load_model(path)
    x = resized(photos, (32, 32))
    boxes = recipe_boxes(fcam_maps(model, x), 0.2)
    probs = model.predict(x, verbose=0)[2]
    for rec, box, p in zip(res["images"], boxes, probs):
        assert rec["explained"]["index"] == int(p.argmax())
        np.testing.assert_allclose(rec["box"]["xyxy"] if rec["box"] else np.zeros(4), box,
                                   atol=0.04)
    line = _error(capsys, "explain", photos[0], "--model", path, "--method", "cam")
    assert "--method fcam" in line


def test_png_summary_is_printed(tmp_path, capsys, photos, tiny_keras):
    out = tmp_path / "o"
    assert main(["explain", str(photos[0]), str(photos[0]), "--model", str(tiny_keras),
                 "--out", str(out), "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert text.count("chelsea.png (451 x 300 px)") == 2 and "  2. " in text and "  3. " not in text
    assert sorted(p.name for p in out.iterdir()) == ["chelsea-2_grad-cam.png", "chelsea_grad-cam.png"]


def _models(tmp_path):
    """A model with two outputs, one without a 4-D layer and one on grey images, saved as .keras."""
    import keras

    inp = keras.Input((8, 8, 3))
    flat = keras.layers.Flatten()(inp)
    two = keras.Model(inp, [keras.layers.Dense(2)(flat), keras.layers.Dense(3)(flat)])
    dense = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    grey = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    for name, model in (("two", two), ("dense", dense), ("grey", grey)):
        model.save(tmp_path / f"{name}.keras")
    return [tmp_path / f"{name}.keras" for name in ("two", "dense", "grey")]


def test_bad_inputs_give_one_line_and_status_2(tmp_path, capsys, photos, tiny_keras):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no image here")
    broken = tmp_path / "broken.png"
    broken.write_text("not a png")
    two, dense, grey = _models(tmp_path)
    m = ["--model", tiny_keras]
    cases = [
        (["explain", tmp_path / "missing.png", *m], "missing.png does not exist"),
        (["explain", broken, *m], "broken.png cannot be read as an image"),
        (["explain", empty, *m], "holds no JPEG or PNG file"),
        (["explain", photos[0], *m, "--classes", "a,b,c", "--class", "dog"],
         "'dog' is not a class of the model"),
        (["explain", photos[0], *m, "--class", "dog"], "has no class names"),
        (["explain", photos[0], *m, "--class", 7], "out of range"),
        (["explain", photos[0], *m, "--classes", "a,b"], "gives 2 names; the model scores 3"),
        (["explain", photos[0], "--model", "no_such_model"], "neither a file nor a zoo name"),
        (["explain", photos[0], "--model", photos[1]], "is not a .keras file"),
        (["explain", photos[0], "--model", broken.with_suffix(".keras")], "neither a file"),
        (["explain", photos[0], "--model", two], "has 2 outputs"),
        (["explain", photos[0], "--model", dense], "no layer with a 4-D output"),
        (["explain", photos[0], "--model", grey], "takes 1-channel images"),
        (["explain", photos[0], *m, "--layer", "nope"], "`layer`"),
        (["explain", photos[0], *m, "--method", "rise", "--layer", "conv1"], "reads no layer"),
        (["explain", photos[0], *m, "--threshold", 1], "`--threshold`"),
        (["explain", photos[0], *m, "--top", 0], "`--top`"),
        (["explain", photos[0], *m, "--out", photos[1]], "is an existing file"),
    ]
    for argv, expected in cases:
        assert expected in _error(capsys, *argv), argv
    bad_keras = tmp_path / "bad.keras"
    bad_keras.write_text("not a zip")
    assert "could not be loaded as a Keras model" in _error(capsys, "explain", photos[0],
                                                             "--model", bad_keras)


def test_unknown_method_is_refused_by_the_parser(capsys, photos, tiny_keras):
    with pytest.raises(SystemExit) as exc:
        main(["explain", str(photos[0]), "--model", str(tiny_keras), "--method", "magic"])
    assert exc.value.code == 2 and "invalid choice: 'magic'" in capsys.readouterr().err


def test_traceback_flag_shows_the_traceback(photos, tiny_keras):
    with pytest.raises(ValueError, match="not a class of the model"):
        main(["--traceback", "explain", str(photos[0]), "--model", str(tiny_keras),
              "--classes", "a,b,c", "--class", "dog"])
