"""The F-CAM tour section runs in quick mode and writes its figures."""
import pytest


@pytest.mark.slow
def test_fcam_tour_section_quick(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from cvkit.tour import TourContext
    from cvkit.tour import fcam

    ctx = TourContext(out_dir=tmp_path, quick=True, section="fcam")
    fcam.run(ctx)
    names = [f[1] for f in ctx.figures]
    assert names == ["fcam_seeds.png", "fcam_boxes.png", "fcam_curves.png"]
    assert all((tmp_path / n).stat().st_size > 1000 for n in names)
    assert all(f[2] and "\n" not in f[2] for f in ctx.figures)
