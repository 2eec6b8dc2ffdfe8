"""Tests of cvkit.wsol.evaluate / evaluate_maps / center_gaussian and of the WSOL plots."""
import numpy as np
import pytest

from cvkit.wsol import (WSOLReport, boxes_mask, center_gaussian, evaluate, evaluate_maps,
                        max_box_acc, max_box_acc_v2, pixel_boxes, pxap, report_table,
                        top_k_localization)


def _blob_maps(ds, noise=0.0, seed=0):
    """Maps that are the object masks, blurred a little, plus optional noise."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    maps = np.stack([gaussian_filter(m.astype(float), 1.5) for m in ds.masks])
    return maps + noise * rng.random(maps.shape)


def test_center_gaussian_closed_form():
    g = center_gaussian(2, (5, 7), sigma=0.5)
    assert g.shape == (2, 5, 7) and g.dtype == np.float32
    yy, xx = np.mgrid[:5, :7]
    ref = np.exp(-((xx - 3) ** 2 + (yy - 2) ** 2) / (2 * 3.5 ** 2))
    ref = (ref - ref.min()) / (ref.max() - ref.min())
    np.testing.assert_allclose(g[1], ref, atol=1e-6)
    assert g[0, 2, 3] == 1.0 and np.allclose(g[0], g[0, ::-1, ::-1])
    with pytest.raises(ValueError, match="`sigma`"):
        center_gaussian(1, 8, sigma=0)
    with pytest.raises(ValueError, match="`n`"):
        center_gaussian(0, 8)
    with pytest.raises(TypeError, match="`image_size`"):
        center_gaussian(1, "big")


def test_evaluate_maps_agrees_with_the_single_metrics(small_shapes):
    ds = small_shapes
    gts = pixel_boxes(ds.boxes, 64)[:, None]
    maps = _blob_maps(ds)
    th = np.arange(0, 1, 0.01)
    scores = np.eye(4)[ds.labels] + 0.1
    rep = evaluate_maps(maps, gts, masks=ds.masks, scores=scores, labels=ds.labels, thresholds=th,
                        method="blobs", top_k=(1, 4))
    assert rep.max_box_acc.score == max_box_acc(maps, gts, thresholds=th).score
    assert rep.max_box_acc_v2.score == max_box_acc_v2(maps, gts, thresholds=th).score
    assert rep.pxap.score == pytest.approx(pxap(maps, ds.masks, thresholds=th).score)
    tk = top_k_localization(scores, ds.labels, maps, gts, k=(1, 4), thresholds=th)
    assert rep.top_k.localization == tk.localization
    assert rep.max_box_acc.score > 90  # blurred masks localise their objects
    s = rep.summary()
    assert set(s) >= {"MaxBoxAcc", "MaxBoxAccV2", "PxAP", "top-1 loc", "top-4 loc", "best tau"}
    text = str(rep)
    assert "blobs" in text and "MaxBoxAccV2" in text
    # histogram: object pixels sit higher than background pixels
    h = rep.histogram
    centres = (h["bins"][1:] + h["bins"][:-1]) / 2
    assert (centres * h["inside"]).sum() > (centres * h["outside"]).sum()
    assert rep.maps.shape == maps.shape


def test_center_baseline_below_good_maps(small_shapes):
    ds = small_shapes
    rep_c = evaluate(None, ds, "center_gaussian", thresholds=np.arange(0, 1, 0.01))
    rep_b = evaluate_maps(_blob_maps(ds), pixel_boxes(ds.boxes, 64)[:, None], masks=ds.masks,
                          thresholds=np.arange(0, 1, 0.01))
    assert rep_c.top_k is None
    assert rep_c.max_box_acc.score < rep_b.max_box_acc.score
    assert rep_c.pxap.score < rep_b.pxap.score
    table = report_table([rep_c, rep_b])
    assert "center_gaussian" in table and table.count("\n") == 3


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", activation="relu", name="feat")(inp)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out)


def test_evaluate_runs_explain_methods_with_true_class(small_shapes, tiny_model):
    from cvkit import explain

    ds = small_shapes.subset(np.arange(12))
    th = np.arange(0, 1, 0.05)
    rep = evaluate(tiny_model, ds, "grad_cam", batch_size=5, thresholds=th, progress=False)
    maps = explain.grad_cam(tiny_model, ds.images, class_index=ds.labels)
    ref = evaluate_maps(maps, pixel_boxes(ds.boxes, 64)[:, None], masks=ds.masks, thresholds=th)
    assert rep.max_box_acc.score == ref.max_box_acc.score
    assert rep.pxap.score == pytest.approx(ref.pxap.score)
    assert isinstance(rep, WSOLReport) and rep.method == "grad_cam"
    assert rep.top_k is not None and set(rep.top_k.localization) == {1}  # 4 classes: no top-5

    seen = []

    def custom(model, images, class_index=None, scale=1.0):
        seen.append(class_index.copy())
        return np.ones((len(images), 64, 64)) * scale

    rep2 = evaluate(tiny_model, ds, custom, batch_size=8, thresholds=th, progress=False,
                    method_kwargs={"scale": 2.0})
    np.testing.assert_array_equal(np.concatenate(seen), ds.labels)  # GT-known
    assert rep2.method == "custom" and rep2.max_box_acc.score == 0.0


def test_evaluate_bad_inputs(small_shapes, tiny_model):
    with pytest.raises(ValueError, match="`method` must be one of"):
        evaluate(tiny_model, small_shapes, "gradcam")
    with pytest.raises(ValueError, match="`model` is required"):
        evaluate(None, small_shapes, "cam")
    with pytest.raises(TypeError, match="`dataset` must have"):
        evaluate(None, {"images": small_shapes.images}, "center_gaussian")
    with pytest.raises(ValueError, match="`batch_size`"):
        evaluate(tiny_model, small_shapes, "cam", batch_size=0)

    def wrong(model, images, class_index=None):
        return np.zeros((len(images), 8, 8))

    with pytest.raises(ValueError, match="returned maps of shape"):
        evaluate(tiny_model, small_shapes, wrong, progress=False)
    with pytest.raises(ValueError, match="`masks` must have"):
        evaluate_maps(np.zeros((2, 8, 8)), [[0, 0, 1, 1]] * 2, masks=np.zeros((2, 4, 4), bool))
    with pytest.raises(TypeError, match="`reports`"):
        report_table([1, 2])


def test_boxes_mask():
    m = boxes_mask([np.array([[0, 0, 1, 1], [3, 3, 3, 4]])], (1, 6, 6))
    ref = np.zeros((1, 6, 6), bool)
    ref[0, 0:2, 0:2] = True
    ref[0, 3:5, 3] = True
    np.testing.assert_array_equal(m, ref)


def test_plots(small_shapes):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cvkit.visualize import (draw_wsol_boxes, plot_activation_histogram, plot_boxacc_curves,
                                 plot_precision_recall)

    ds = small_shapes
    gts = pixel_boxes(ds.boxes, 64)[:, None]
    rep = evaluate_maps(_blob_maps(ds), gts, masks=ds.masks, thresholds=np.arange(0, 1, 0.02))
    fig = rep.plot()
    assert len(fig.axes) == 3
    ax = fig.axes[0]
    best = rep.max_box_acc_v2.max_per_iou
    # the marked maxima sit at the curves' maxima
    ys = sorted(line.get_ydata()[0] for line in ax.lines if len(line.get_ydata()) == 1)
    np.testing.assert_allclose(ys, sorted(best))
    plt.close(fig)
    fig = plot_boxacc_curves([rep.max_box_acc, rep.max_box_acc_v2], labels=["largest", "all"])
    assert len(fig.axes[0].get_legend().get_texts()) == 2
    plt.close(fig)
    fig = plot_precision_recall(rep.pxap)
    x, y = fig.axes[0].lines[0].get_data()
    ok = np.isfinite(rep.pxap.precision)
    np.testing.assert_allclose(y, rep.pxap.precision[ok])
    plt.close(fig)
    fig = plot_activation_histogram(rep.maps, ds.masks)
    plt.close(fig)
    fig = draw_wsol_boxes(ds.images[0], rep.maps[0], gts[0], [[1, 1, 10, 10]], threshold=0.3)
    assert len(fig.axes[0].patches) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="`cam` must have"):
        draw_wsol_boxes(ds.images[0], np.zeros((8, 8)))
    with pytest.raises(ValueError, match="`masks` must have"):
        plot_activation_histogram(rep.maps, ds.masks[:, :5])
    with pytest.raises(TypeError, match="result objects"):
        plot_boxacc_curves([1])
    with pytest.raises(ValueError, match="`labels` must have"):
        plot_precision_recall([rep.pxap], labels=["a", "b"])
    plt.close("all")
