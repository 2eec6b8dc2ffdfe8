"""The Perception Visualization tour section runs in quick mode and writes its figures."""
import pytest


@pytest.mark.slow
def test_perception_tour_section_quick(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from cvkit.tour import TourContext
    from cvkit.tour import perception

    ctx = TourContext(out_dir=tmp_path, quick=True, section="perception")
    perception.run(ctx)
    names = [f[1] for f in ctx.figures]
    assert names == ["perception_pv.png", "perception_depth.png"]
    assert all((tmp_path / n).stat().st_size > 1000 for n in names)
    assert all(f[2] and "\n" not in f[2] for f in ctx.figures)
    assert "keeps the class in" in ctx.figures[0][2]
