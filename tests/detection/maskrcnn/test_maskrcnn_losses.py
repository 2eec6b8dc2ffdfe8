"""The five Mask R-CNN losses against hand-computed values (NumPy)."""
import numpy as np
import pytest

from cvkit.detection import rpn_loss
from cvkit.detection.maskrcnn import maskrcnn_losses, per_image_mean, rpn_image_losses


def _inputs(rng, b=2, r=4, p=2, k=3, a=6):
    rpn = {"logits": rng.normal(size=(b, a)), "deltas": rng.normal(size=(b, a, 4)),
           "labels": np.array([[1, 0, 0, -1, 1, 0], [0, 0, -1, -1, 0, 0]]),
           "targets": rng.normal(size=(b, a, 4))}
    heads = {"cls_logits": rng.normal(size=(b, r, k + 1)),
             "box_deltas": rng.normal(size=(b, r, k + 1, 4)),
             "mask_logits": rng.normal(size=(b, p, 5, 5, k))}
    targets = {"labels": np.array([[2, 3, 0, 0], [0, 0, 0, 0]]),
               "used": np.array([[True, True, True, False], [True, True, False, False]]),
               "positive": np.array([[True, True, False, False], [False] * 4]),
               "deltas": rng.normal(size=(b, r, 4)),
               "mask_targets": (rng.random((b, p, 5, 5)) > 0.5).astype(np.float32)}
    return rpn, heads, targets


def _smooth_l1(x):
    ax = np.abs(x)
    return np.where(ax < 1, 0.5 * x ** 2, ax - 0.5)


def _reference(rpn, heads, t, lam):
    lab = rpn["labels"]
    used, pos = lab >= 0, lab == 1
    p = 1 / (1 + np.exp(-rpn["logits"]))
    ce = -(pos * np.log(p) + (1 - pos) * np.log(1 - p))
    rpn_cls = np.mean([(ce[i] * used[i]).sum() / used[i].sum() for i in range(2)])
    reg = _smooth_l1(rpn["deltas"] - rpn["targets"]).sum(-1) * pos
    rpn_box = np.mean([reg[i].sum() / used[i].sum() for i in range(2)])
    z = heads["cls_logits"]
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, t["labels"][..., None], -1)[..., 0]
    per_img = [(ce[i] * t["used"][i]).sum() / max(t["used"][i].sum(), 1) for i in range(2)]
    cls = np.mean(per_img)
    d = np.take_along_axis(heads["box_deltas"], t["labels"][..., None, None], 2)[:, :, 0]
    err = _smooth_l1(d - t["deltas"]).sum(-1)
    box = np.mean([(err[i] * t["positive"][i]).sum() / max(t["positive"][i].sum(), 1)
                   for i in range(2)])
    n_m = heads["mask_logits"].shape[1]
    ch = np.maximum(t["labels"][:, :n_m] - 1, 0)
    logits = np.take_along_axis(heads["mask_logits"], ch[:, :, None, None, None], -1)[..., 0]
    y = t["mask_targets"]
    bce = (np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))).mean((2, 3))
    w = t["positive"][:, :n_m]
    mask = np.mean([(bce[i] * w[i]).sum() / max(w[i].sum(), 1) for i in range(2)])
    return {"rpn_cls": rpn_cls, "rpn_box": lam * rpn_box, "cls": cls, "box": box, "mask": mask}


def test_losses_equal_numpy_reference(rng):
    rpn, heads, targets = _inputs(rng)
    got = maskrcnn_losses(rpn, heads, targets, rpn_box_weight=10.0)
    ref = _reference(rpn, heads, targets, 10.0)
    for k in ref:
        assert float(got[k]) == pytest.approx(ref[k], rel=1e-5), k


def test_rpn_terms_equal_rpn_loss_on_one_image(rng):
    rpn, _, _ = _inputs(rng)
    _, cls, reg = rpn_loss(*(rpn[k][:1] for k in ("logits", "deltas", "labels", "targets")))
    got = rpn_image_losses(*(rpn[k][:1] for k in ("logits", "deltas", "labels", "targets")))
    assert float(got[0]) == pytest.approx(float(cls), rel=1e-6)
    assert float(got[1]) == pytest.approx(float(reg), rel=1e-6)


def test_mask_loss_reads_only_the_ground_truth_channel(rng):
    rpn, heads, targets = _inputs(rng)
    base = float(maskrcnn_losses(rpn, heads, targets)["mask"])
    # ROI 0 is class 2 (channel 1), ROI 1 class 3 (channel 2): channel 0 is nobody's
    heads["mask_logits"][..., 0] = 100.0
    assert float(maskrcnn_losses(rpn, heads, targets)["mask"]) == pytest.approx(base, rel=1e-6)
    heads["mask_logits"][0, 0, ..., 1] += 1.0
    assert float(maskrcnn_losses(rpn, heads, targets)["mask"]) != pytest.approx(base)


def test_batch_without_objects_has_zero_box_and_mask_loss(rng):
    rpn, heads, targets = _inputs(rng)
    rpn["labels"] = np.where(rpn["labels"] == 1, 0, rpn["labels"])
    targets["labels"][:] = 0
    targets["positive"][:] = False
    got = {k: float(v) for k, v in maskrcnn_losses(rpn, heads, targets).items()}
    assert got["box"] == 0.0 and got["mask"] == 0.0 and got["rpn_box"] == 0.0
    assert all(np.isfinite(v) for v in got.values()) and got["cls"] > 0


def test_per_image_mean_hand_worked():
    v = np.array([[2.0, 4.0, 100.0], [1.0, 1.0, 1.0]])
    w = np.array([[1, 1, 0], [0, 0, 0]])
    assert float(per_image_mean(v, w)) == pytest.approx((3.0 + 0.0) / 2)


def test_bad_shapes(rng):
    rpn, heads, targets = _inputs(rng)
    rpn["labels"] = rpn["labels"][:, :4]
    with pytest.raises(ValueError, match="labels"):
        maskrcnn_losses(rpn, heads, targets)
    with pytest.raises(ValueError, match="must agree"):
        rpn_image_losses(np.zeros((1, 3)), np.zeros((1, 2, 4)), np.zeros((1, 3)),
                         np.zeros((1, 3, 4)))


def test_per_image_mean_bad_shapes():
    with pytest.raises(ValueError, match="one shape"):
        per_image_mean(np.zeros((2, 3)), np.zeros((2, 4)))
