"""Execute every notebook in a fresh kernel; check the student copies hold no solution."""
import json
import sys
from pathlib import Path

import pytest

from cvkit.exercises import BEGIN, END, strip_solutions, write_student_copies
from cvkit.exercises.headlines import MIME, headlines, read_headlines

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: what each notebook must demonstrate: headline name -> (comparison, target). A name compared
#: with another headline's name (a str target) asserts the order of two measured numbers.
TARGETS = {
    "00_datasets_and_preprocessing": {
        # same MLP, seed, batches and SGD rate: standardised pixels reach the loss far sooner,
        # also when each input gets its best rate of the grid
        "epochs_normalised": ("<", "epochs_raw"), "epochs_zero_centred": ("<", "epochs_raw"),
        "speedup": (">=", 3.0), "epochs_normalised_best": ("<", "epochs_raw_best"),
        "speedup_best": (">=", 3.0),
        # pixels chosen on all the data before cross-validating: accuracy on coin flips
        "leaked_accuracy": (">=", 0.8), "honest_accuracy": ("<=", 0.6),
        "fresh_accuracy": ("<=", 0.6), "leak_inflation": (">=", 0.3),
    },
    "01_localization": {
        "localizer_accuracy": (">=", 0.97), "localizer_mean_iou": (">=", 0.85),
        "localizer_correct_localization": (">=", 0.95),
        "live_heads_accuracy": (">=", 0.9),
        "pose_l2": ("<", "pose_baseline_l2"),
    },
    "02_cam_gap_mobilenet": {
        "accuracy_os8": (">=", 0.97), "cam_maxboxacc_os8": (">=", 70.0),
        "cam_recipe_iou50_os8": (">=", 0.70), "cam_peak_in_box_os8": (">=", 0.95),
        "cam_maxboxacc_os8_vs_os32": (">", 0.0),
        "gap_accuracy_shifted": (">=", 0.9), "flatten_accuracy_shifted": ("<", "gap_accuracy_shifted"),
        "accuracy_192px": (">=", 0.9), "gmp_object_cover": ("<", "gap_object_cover"),
    },
    "03_gradcam_deep_dive": {
        # the zoo's fine-map classifier: every gradient method localizes, on the same 96 images
        "accuracy": (">=", 0.97), "grad_cam_maxboxacc": (">=", 65.0),
        "grad_cam_pxap": (">=", 55.0), "cam_maxboxacc": (">=", 65.0),
        "grad_cam_plus_plus_maxboxacc": (">=", 65.0), "layer_cam_maxboxacc": (">=", 65.0),
        "xgrad_cam_maxboxacc": (">=", 65.0), "smooth_grad_cam_plus_plus_maxboxacc": (">=", 65.0),
        "score_cam_maxboxacc_16": (">=", "grad_cam_maxboxacc_16"),
    },
    "04_augmented_gradcam": {
        # the default of augmented_grad_cam localizes at least as well as Grad-CAM (same images)
        "grad_cam_maxboxacc": (">=", 65.0),
        "augmented_maxboxacc": (">=", "grad_cam_maxboxacc"),
        "augmented_pxap": (">=", "grad_cam_pxap"),
    },
    "05_wsol_evaluation": {
        "cam_maxboxacc": (">=", 70.0), "cam_pxap": (">=", 55.0),
    },
    "07_mask_rcnn_building_blocks": {
        # the skips put the FCN's blob on the object; the mask head beats filling the box
        "fcn_16s_miou": (">", "fcn_32s_miou"), "fcn_8s_miou": (">", "fcn_32s_miou"),
        "mask_head_iou": (">", "mask_all_ones_iou"),
    },
    "08_inside_cnns": {
        "small_cnn_accuracy": (">=", 0.95), "class_model_hits": (">=", 3),
        "class_model_hits_vs_plain": (">", 0),
        "mobilenet_self_hits": (">=", 3),
        "dE_dw1": ("<", 0.00044), "dE_dw1_with_sums": (">", 0.02),
        "vanishing_ratio": ("<", 1e-6), "residual_vanishing_ratio": (">", 1e-2),
        "exploding_ratio": (">", 1e3), "residual_exploding_ratio": (">", "exploding_ratio"),
        "residual_final_loss": ("<", "plain_final_loss"),
        "bn_loss_lr1e3": ("<", "no_bn_loss_lr1e3"), "bn_loss_lr3e3": ("<", "no_bn_loss_lr3e3"),
    },
    "09_fcam": {
        # the zoo's decoders on 200 held-out images: F-CAM at least 10 points above the map it
        # learned from, for CAM and Grad-CAM seeds; maps near 1 on the object (the second mode)
        "fcam_maxboxacc_gain": (">=", 10.0), "fcam_pxap_gain": (">=", 10.0),
        "gradcam_fcam_maxboxacc_gain": (">=", 10.0), "gradcam_fcam_pxap_gain": (">=", 10.0),
        "fcam_object_above_09": (">", "cam_object_above_09"),
        # the live run (a fresh decoder, 2 epochs on 256 images) learns within its cell
        "live_pxap_after": (">", "live_pxap_before"),
        "live_seed_ce_after": ("<", "live_seed_ce_before"),
    },
    "10_mask_rcnn": {
        # the zoo's Mask R-CNN on 200 held-out multi-object images (issue 18's targets), cvkit's
        # COCO AP equal to pycocotools', and the losses of the trained model below an untrained one
        "box_ap50": (">=", 0.85), "mask_ap50": (">=", 0.80), "mask_ap": (">=", 0.6),
        "coco_max_diff": ("<=", 1e-6), "loss_trained": ("<", "loss_untrained"),
        # the live cell: 40 steps from scratch lower the held-out loss (3.98 -> 3.30) and the
        # RPN's object / background loss (0.70 -> 0.11)
        "live_loss_after": ("<", "live_loss_before"), "live_rpn_cls_after": ("<", 0.3),
        # new heads on the zoo model's frozen backbone: 40 steps find and outline the objects
        "heads_box_ap50": (">=", 0.7), "heads_mask_ap50": (">=", 0.7),
    },
    "11_perception_visualization": {
        # the zoo's stride-32 decoder (with its class term) on the 500 held-out images of its card
        # keeps the class of 90 % (issue 19), as the stride-8 decoder does without one; the
        # notebook shows at least two of the classifier's real mistakes next to their PV
        "consistency_s32": (">=", 0.9), "consistency_s8": (">=", 0.9),
        "mistakes_shown": (">=", 2.0),
    },
}

#: how far a fresh run's headline may be from the saved notebook's (issue: a student's run shows
#: what the saved copy shows). Zoo-model numbers are deterministic; the live-training cells are
#: seeded (keras.utils.set_random_seed) and repeat on the same kind of machine to float round-off,
#: but thread counts change the order of float sums: (relative, absolute) tolerance, and per-key
#: overrides where a number spans orders of magnitude ("log10": allowed difference of log10).
REPEAT = {"default": (0.05, 0.02),
          "08_inside_cnns": {"vanishing_ratio": ("log10", 1.0), "exploding_ratio": ("log10", 0.5),
                             "residual_exploding_ratio": ("log10", 0.5),
                             "residual_vanishing_ratio": ("log10", 0.5)}}


def compare_to_saved(stem, fresh, saved):
    """Messages for every headline of a fresh run that strays from the saved notebook's."""
    import math

    bad = []
    for key in sorted(set(fresh) & set(saved)):
        a, b = float(fresh[key]), float(saved[key])
        rule = REPEAT.get(stem, {}).get(key, REPEAT["default"])
        if rule[0] == "log10":
            ok = a > 0 and b > 0 and abs(math.log10(a) - math.log10(b)) <= rule[1]
        else:
            ok = abs(a - b) <= max(rule[0] * abs(b), rule[1])
        if not ok:
            bad.append(f"{key} = {a:.4g} in this run, {b:.4g} in the saved notebook")
    missing = sorted(set(saved) - set(fresh))
    if missing:
        bad.append(f"not recorded in this run: {missing}")
    return bad


def test_compare_to_saved_flags_strays_and_missing_numbers():
    saved = {"acc": 0.90, "loss": 10.0, "gone": 1.0, "vanishing_ratio": 1e-12}
    fresh = {"acc": 0.905, "loss": 11.0, "vanishing_ratio": 1e-11, "new": 3.0}
    bad = compare_to_saved("08_inside_cnns", fresh, saved)
    assert bad == ["loss = 11 in this run, 10 in the saved notebook",
                   "not recorded in this run: ['gone']"]
    assert compare_to_saved("08_inside_cnns", {"vanishing_ratio": 1e-10},
                            {"vanishing_ratio": 1e-12}) != []


_OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b}


def check_targets(stem, found):
    """Messages for every target of ``stem`` that ``found`` misses or fails."""
    bad = []
    for key, (op, target) in TARGETS.get(stem, {}).items():
        ref = found.get(target) if isinstance(target, str) else target
        if key not in found or ref is None:
            bad.append(f"{key}: not recorded (call cvkit.exercises.headlines.headlines)")
        elif not _OPS[op](found[key], ref):
            bad.append(f"{key} = {found[key]:.4g}, expected {op} {target} ({ref:.4g})")
    return bad


def test_check_targets_catches_missing_and_failing_numbers():
    TARGETS["_demo"] = {"a": (">=", 0.9), "b": ("<", "c"), "d": (">", 0.0)}
    try:
        bad = check_targets("_demo", {"a": 0.5, "b": 2.0, "c": 1.0})
    finally:
        del TARGETS["_demo"]
    assert len(bad) == 3 and "a = 0.5" in bad[0] and "b = 2" in bad[1] and "not recorded" in bad[2]


def test_headlines_round_trip_and_bad_input():
    nb = {"cells": [{"cell_type": "code", "outputs": [{"data": {MIME: {"x": 1.0}}}]},
                    {"cell_type": "code", "outputs": [{"data": {MIME: {"x": 2.0, "y": 3.0}}}]}]}
    assert read_headlines(nb) == {"x": 2.0, "y": 3.0}
    with pytest.raises(ValueError, match="`accuracy` must be a finite"):
        headlines(accuracy=float("nan"))
    with pytest.raises(ValueError, match="`flag` must be a finite"):
        headlines(flag=True)
    with pytest.raises(ValueError, match="at least one"):
        headlines()


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    sys.path.insert(0, str(ROOT / "notebooks"))
    from execute import execute

    # run from notebooks/ (relative paths such as ../datasets/fixtures), never saving over it
    saved = read_headlines(json.loads(path.read_text(encoding="utf-8")))
    nb, elapsed = execute(path, timeout=600, save=False)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    bad = check_targets(path.stem, read_headlines(nb))
    assert not bad, f"{path.name} no longer demonstrates what it claims: " + "; ".join(bad)
    strays = compare_to_saved(path.stem, read_headlines(nb), saved)
    assert not strays, (f"{path.name} shows other numbers than its saved copy (re-execute it with "
                        "notebooks/execute.py, or seed its live cells): " + "; ".join(strays))
    print(f"{path.name}: {elapsed:.1f} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_checked_exercises(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    ex = [c for c in nb["cells"] if "exercise" in c.get("metadata", {}).get("tags", [])]
    assert ex, f"{path.name} has no cell tagged 'exercise'"
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "cvkit.exercises" in text, f"{path.name} never calls a checker from cvkit.exercises"


def test_student_copies_hold_no_solution(tmp_path):
    written = write_student_copies(ROOT / "notebooks", tmp_path)
    assert len(written) == len(NOTEBOOKS)
    for out in written:
        nb = json.loads(out.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            src = "".join(cell["source"])
            assert BEGIN not in src and END not in src
            if "exercise" in cell.get("metadata", {}).get("tags", []):
                assert "NotImplementedError" in src and not cell["outputs"]


def test_committed_student_copies_are_current(tmp_path):
    written = write_student_copies(ROOT / "notebooks", tmp_path)
    for out in written:
        committed = ROOT / "notebooks" / "exercises" / out.name
        assert committed.exists(), f"run `python -m cvkit exercises` to write {committed}"
        assert json.loads(committed.read_text()) == json.loads(out.read_text()), (
            f"{committed} is stale: run `python -m cvkit exercises`")


def test_strip_solutions_replaces_block_and_keeps_the_rest():
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["exercise"]}, "outputs": [1],
                     "execution_count": 3,
                     "source": "def f(x):\n    " + BEGIN + "\n    return x + 1\n    " + END
                               + "\n\ncheck(f)\n"},
                    {"cell_type": "markdown", "metadata": {}, "source": "text"}]}
    out = strip_solutions(nb)
    src = out["cells"][0]["source"]
    assert src == ("def f(x):\n    raise NotImplementedError('Exercise: write your solution here')"
                   "\n\ncheck(f)\n")
    assert out["cells"][0]["outputs"] == [] and nb["cells"][0]["outputs"] == [1]


def test_strip_solutions_rejects_untagged_or_unbalanced():
    untagged = {"cells": [{"cell_type": "code", "metadata": {}, "source": BEGIN + "\nx\n" + END}]}
    with pytest.raises(ValueError, match="no 'exercise' tag"):
        strip_solutions(untagged)
    unbalanced = {"cells": [{"cell_type": "code", "metadata": {"tags": ["exercise"]},
                             "source": BEGIN + "\nx\n"}]}
    with pytest.raises(ValueError, match="unbalanced"):
        strip_solutions(unbalanced)


def test_write_student_copies_bad_folder(tmp_path):
    with pytest.raises(ValueError, match="src_dir"):
        write_student_copies(tmp_path / "missing")
