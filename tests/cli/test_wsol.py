"""``python -m cvkit wsol`` on the dataset fixtures, checked against :func:`cvkit.wsol.evaluate` on
the same images held in memory; bad input gives one line and status 2."""
import json

import numpy as np
import pytest

from cvkit.cli import main

FIXTURES = "datasets/fixtures"
SHAPES = ("circle", "square", "triangle", "star")


@pytest.fixture(autouse=True)
def _repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


def _metrics(capsys, out, *argv):
    status = main(["wsol", *map(str, argv), "--out", str(out)])
    text, err = capsys.readouterr()
    assert status == 0, err
    assert "MaxBoxAcc" in text and f"wrote {out / 'curves.png'}" in text
    assert (out / "metrics.txt").read_text().splitlines()[1].startswith("method")
    return json.loads((out / "metrics.json").read_text())


def _reference(recs, model, method, size, names=SHAPES):
    """evaluate() on the fixture loaded in memory, its labels matched to ``names``."""
    from cvkit.wsol import evaluate

    lookup = np.array([[n.lower() for n in names].index(c.lower()) for c in recs.class_names])
    data = {"images": recs.load_images(size), "labels": lookup[recs.labels], "boxes": recs.boxes}
    if recs.has_masks:
        data["masks"] = recs.load_masks(size)
    return evaluate(model, data, method, progress=False, keep_maps=False).summary()


def test_cub_fixture_with_the_zoo_classifier(tmp_path, capsys, cached_zoo):
    from cvkit.datasets import load_cub200

    got = _metrics(capsys, tmp_path, "--data", f"{FIXTURES}/cub200", "--format", "cub",
                   "--model", "shapes_cam_mobilenetv2_s8", "--method", "cam")
    want = _reference(load_cub200(f"{FIXTURES}/cub200"), cached_zoo("shapes_cam_mobilenetv2_s8"),
                      "cam", 128)
    assert got["n_images"] == 8 and got["format"] == "cub" and "PxAP" not in got["metrics"]
    for key in ("MaxBoxAcc", "MaxBoxAccV2", "top-1 loc", "top-1 cls"):
        assert got["metrics"][key] == pytest.approx(want[key], abs=1e-6), key
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert sorted(curves["box_acc"]) == ["0.3", "0.5", "0.7"] and len(curves["thresholds"]) == 1000
    assert max(curves["max_box_acc_curve"]) == pytest.approx(want["MaxBoxAcc"])


def test_pet_fixture_has_pxap_and_csv_labels_are_matched_by_name(tmp_path, capsys, tiny_keras4):
    from cvkit.datasets import load_csv, load_oxford_pet
    from cvkit.models import load_model

    model = load_model(tiny_keras4)
    named = ["--model", tiny_keras4, "--classes", ",".join(SHAPES)]
    pet = _metrics(capsys, tmp_path / "pet", "--data", f"{FIXTURES}/oxford_pet", "--format",
                   "pet", *named)
    want = _reference(load_oxford_pet(f"{FIXTURES}/oxford_pet"), model, "grad_cam", 32)
    assert pet["n_images"] == 5
    for key in ("MaxBoxAcc", "MaxBoxAccV2", "PxAP", "top-1 loc"):
        assert pet["metrics"][key] == pytest.approx(want[key], abs=1e-6), key
    csv = _metrics(capsys, tmp_path / "csv", "--data", f"{FIXTURES}/csv", "--format", "csv",
                   *named, "--method", "layer-cam", "--limit", 4)
    want = _reference(load_csv(f"{FIXTURES}/csv/boxes.csv").subset(slice(0, 4)), model,
                      "layer_cam", 32)
    assert csv["n_images"] == 4
    for key in ("MaxBoxAcc", "MaxBoxAccV2", "top-1 loc"):
        assert csv["metrics"][key] == pytest.approx(want[key], abs=1e-6), key


@pytest.fixture(scope="module")
def tiny_keras4(tmp_path_factory):
    """A 4-class small CNN on 32 x 32 images saved as .keras (untrained, fixed seed)."""
    import keras

    from cvkit.models import small_cnn

    keras.utils.set_random_seed(1)
    path = tmp_path_factory.mktemp("wsol_models") / "tiny4.keras"
    small_cnn(4, (32, 32, 3), widths=(4, 4, 8, 8)).save(path)
    return path


def test_bad_inputs_give_one_line_and_status_2(tmp_path, capsys, tiny_keras, tiny_keras4):
    two = tmp_path / "two_csv"
    two.mkdir()
    for name in ("a.csv", "b.csv"):
        (two / name).write_text("path,label,x_min,y_min,x_max,y_max\n")
    cub = ["--data", f"{FIXTURES}/cub200", "--format", "cub"]
    cases = [
        (["--data", tmp_path / "nowhere", "--format", "cub", "--model", tiny_keras4],
         "nowhere does not exist"),
        (["--data", two, "--format", "csv", "--model", tiny_keras4], "holds 2 .csv files"),
        ([*cub, "--model", tiny_keras4, "--classes", "circle,square,triangle,hexagon"],
         "['star'] of the dataset are not classes of the model"),
        ([*cub, "--model", tiny_keras], "labels up to 3 but the model"),
        ([*cub, "--model", tiny_keras4, "--limit", 0], "`--limit`"),
        ([*cub, "--model", tiny_keras4, "--out", f"{FIXTURES}/cub200/images.txt"],
         "is an existing file"),
        (["--data", f"{FIXTURES}/csv", "--format", "csv", "--split", "test", "--model",
          tiny_keras4], "a CSV has no splits"),
    ]
    for argv, expected in cases:
        status = main(["wsol", *map(str, argv)])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1 and err[0].startswith("error: "), (argv, err)
        assert expected in err[0], (argv, err)
    with pytest.raises(SystemExit) as exc:
        main(["wsol", "--data", FIXTURES, "--format", "voc", "--model", str(tiny_keras4)])
    assert exc.value.code == 2 and "invalid choice: 'voc'" in capsys.readouterr().err
