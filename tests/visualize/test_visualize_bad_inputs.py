"""Bad inputs of the drawing functions (issue 17): every case asserts the error type and that the
message names the argument; a few valid edge cases check what is drawn."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cvkit import visualize as V  # noqa: E402

IMG = np.random.default_rng(0).random((8, 8, 3))
HM = np.random.default_rng(1).random((8, 8))
BOX = [[0.1, 0.1, 0.5, 0.5]]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_draw_boxes_labels_are_checked_against_class_names():
    ax = V.draw_boxes(IMG, BOX + [[0.5, 0.5, 0.9, 0.9]], labels=[1, 0], scores=[0.9, 0.25],
                      class_names=["disc", "square"])
    assert sorted(t.get_text() for t in ax.texts) == ["disc 0.25", "square 0.90"]
    with pytest.raises(ValueError, match="`labels` must index `class_names`"):
        V.draw_boxes(IMG, BOX, labels=[2], class_names=["disc", "square"])


def test_draw_wsol_boxes_reads_uint8_and_grey_images():
    fig = V.draw_wsol_boxes((IMG * 255).astype(np.uint8), cam=HM, gt_boxes=[[1, 1, 4, 4]])
    shown = fig.axes[0].images[0].get_array()
    assert float(np.max(shown)) <= 1.0                       # uint8 read as [0, 1]
    fig = V.draw_wsol_boxes(HM, gt_boxes=[[1, 1, 4, 4]], pred_boxes=[[2, 2, 1, 1]])
    assert len(fig.axes[0].patches) == 1                     # the empty predicted box is skipped


BAD = [
    # (call, error type, the argument the message names)
    (lambda: V.draw_boxes(IMG, BOX, labels=[np.nan]), ValueError, "labels"),
    (lambda: V.draw_boxes(IMG, BOX, labels=[0.5]), ValueError, "labels"),
    (lambda: V.draw_boxes(IMG, BOX, labels=[0, 1]), ValueError, "labels"),
    (lambda: V.draw_boxes(IMG, BOX, scores=["high"]), TypeError, "scores"),
    (lambda: V.draw_boxes(IMG, BOX, linewidth="2"), TypeError, "linewidth"),
    (lambda: V.draw_boxes(IMG, BOX, linewidth=-1), ValueError, "linewidth"),
    (lambda: V.draw_boxes(IMG, BOX, show_image="no"), TypeError, "show_image"),
    (lambda: V.draw_boxes(IMG, BOX, fmt="yxyx"), ValueError, "fmt"),
    (lambda: V.draw_boxes(IMG * 255, BOX), ValueError, "image"),
    (lambda: V.image_grid(np.stack([IMG, IMG]), size=10 ** 9), ValueError, "size"),
    (lambda: V.image_grid(np.stack([IMG, IMG]), size="1"), TypeError, "size"),
    (lambda: V.image_grid(np.stack([IMG, IMG]), ncols=0), ValueError, "ncols"),
    (lambda: V.compare_methods(IMG[None], {"a": HM[None]}, max_images=0), ValueError,
     "max_images"),
    (lambda: V.compare_methods(IMG[None], {"a": HM[None]}, max_images=float("inf")), TypeError,
     "max_images"),
    (lambda: V.compare_methods(IMG[None], {"a": HM[None]}, alpha=2), ValueError, "alpha"),
    (lambda: V.plot_cam_box(IMG, HM, alpha="0.5"), TypeError, "alpha"),
    (lambda: V.overlay_heatmap(IMG, HM, alpha=-0.1), ValueError, "alpha"),
    (lambda: V.overlay_heatmap(IMG, np.full((8, 8), np.nan)), ValueError, "heatmap"),
    (lambda: V.plot_iou_histogram([0.2, np.nan]), ValueError, "ious"),
    (lambda: V.plot_iou_histogram([]), ValueError, "ious"),
    (lambda: V.plot_iou_histogram([0.2], bins=0), ValueError, "bins"),
    (lambda: V.plot_iou_histogram([0.2], threshold="0.5"), TypeError, "threshold"),
    (lambda: V.draw_wsol_boxes(IMG, cam=HM, threshold=float("inf")), ValueError, "threshold"),
    (lambda: V.draw_wsol_boxes(IMG, cam=HM.astype(str)), TypeError, "cam"),
    (lambda: V.draw_wsol_boxes(IMG, cam=HM, alpha=[0.5]), TypeError, "alpha"),
    (lambda: V.draw_wsol_boxes(IMG, gt_boxes=[[1, 2]]), ValueError, "gt_boxes"),
    (lambda: V.draw_wsol_boxes(IMG, pred_boxes=[["a"] * 4]), TypeError, "pred_boxes"),
    (lambda: V.draw_wsol_boxes(np.stack([IMG, IMG])), ValueError, "image"),
    (lambda: V.plot_activation_histogram(HM[None], bins=float("nan")), TypeError, "bins"),
    (lambda: V.plot_activation_histogram(HM.astype(str)), TypeError, "maps"),
    (lambda: V.overlay_labels(IMG, (HM > 0.5).astype(float) + 0.5), ValueError, "labels"),
    (lambda: V.overlay_labels(IMG, HM > 0.5, alpha=3), ValueError, "alpha"),
    (lambda: V.overlay_labels(IMG * 300, HM > 0.5), ValueError, "image"),
    (lambda: V.plot_threshold_histogram((HM * 255).astype(np.uint8), ["a"]), TypeError,
     "thresholds"),
    (lambda: V.draw_anchors(IMG, [[0, 0, 4, 4]], labels=[1, 0]), ValueError, "labels"),
    (lambda: V.draw_anchors(IMG, [[0, 0, 4]]), ValueError, "anchor_boxes"),
    (lambda: V.draw_anchors(IMG, [[0, 0, 4, 4]], max_boxes=0), ValueError, "max_boxes"),
    (lambda: V.draw_anchors(IMG, [[0, 0, 4, 4]], seed=-1), ValueError, "seed"),
    (lambda: V.plot_roi_grid(HM, [0, 0, 4, 4], output_size="2"), TypeError, "output_size"),
    (lambda: V.plot_roi_grid(HM[None], [0, 0, 4, 4]), ValueError, "feature_map"),
    (lambda: V.plot_localization(IMG[None], [[0, 0, 1]], BOX, [0], [0]), ValueError,
     "true_boxes"),
    (lambda: V.plot_localization(IMG[None], BOX, BOX, [0.5], [0]), ValueError, "true_labels"),
    (lambda: V.plot_localization(IMG[None], BOX, BOX, [0], [0], iou_threshold=2), ValueError,
     "iou_threshold"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_arguments_name_the_argument(case):
    call, error, arg = BAD[case]
    with pytest.raises(error) as err:
        call()
    assert f"`{arg}`" in str(err.value)
