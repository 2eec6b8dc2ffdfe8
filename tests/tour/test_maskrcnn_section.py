"""The Mask R-CNN tour section runs in quick mode and writes its figures."""
import pytest


@pytest.mark.slow
def test_maskrcnn_tour_section_quick(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from cvkit.tour import TourContext
    from cvkit.tour import maskrcnn

    ctx = TourContext(out_dir=tmp_path, quick=True, section="maskrcnn")
    maskrcnn.run(ctx)
    names = [f[1] for f in ctx.figures]
    assert names == ["maskrcnn_stages.png", "maskrcnn_detections.png", "maskrcnn_pr_curves.png"]
    assert all((tmp_path / n).stat().st_size > 1000 for n in names)
    assert all(f[2] and "\n" not in f[2] for f in ctx.figures)
    assert "mask AP50" in ctx.figures[2][2]
