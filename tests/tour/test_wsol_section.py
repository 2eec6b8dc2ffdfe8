"""The WSOL tour section runs in quick mode and writes its figures."""
import pytest


@pytest.mark.slow
def test_tour_section_quick(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from cvkit.tour import TourContext
    from cvkit.tour import wsol

    ctx = TourContext(out_dir=tmp_path, quick=True, section="wsol")
    wsol.run(ctx)
    names = [f[1] for f in ctx.figures]
    assert names == ["wsol_curves.png", "wsol_histograms.png", "wsol_boxes.png", "wsol_table.png"]
    assert all((tmp_path / n).stat().st_size > 1000 for n in names)
    assert all(f[2] and "\n" not in f[2] for f in ctx.figures)
