"""Augmented Grad-CAM, the solvers: known-answer problems, each solver's objective, defaults, input checks."""
import numpy as np
import pytest

from cvkit.explain import augmented as A


def _psnr(x, ref):
    return 10 * np.log10(1.0 / np.mean((x - ref) ** 2))


def _iou(x, ref, t=0.5):
    a, b = x >= t * x.max(), ref >= t
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("size, map_size, seed", [
    (64, 4, 0), (64, 4, 1),                                        # factor 16
    pytest.param(96, 3, 0, marks=pytest.mark.slow), (96, 3, 2),    # factor 32
])
def test_superresolution_beats_bilinear_at_factor_16_and_32(size, map_size, seed):
    h_true, g, p = A.synthetic_superresolution_problem(size, map_size, n_augmentations=16,
                                                       seed=seed)
    h, info = A.superresolve(g, p, size, solver="fista")
    bil = A.upsample_baseline(g, size)
    assert _psnr(h, h_true) > _psnr(bil, h_true) + 1.0, (size, seed)
    assert _iou(h, h_true) > _iou(bil, h_true) + 0.02
    assert info["objective"][-1] < info["objective_initial"]


def test_each_solver_lowers_the_objective_and_fista_is_best(problem16):
    h_true, g, p = problem16
    op = A.AugmentationOperator(p, 64, 4)
    finals = {}
    for solver in A.SOLVERS:
        h, info = A.superresolve(g, p, 64, solver=solver, operator=op,
                                 iterations=60 if solver != "adam" else None)
        assert info["solver"] == solver
        assert info["iterations"] == len(info["objective"]) == len(info["times"])
        assert np.all(np.diff(info["times"]) >= 0)
        assert info["final_objective"] < info["objective_initial"]
        assert info["final_objective"] == pytest.approx(
            A.superresolution_objective(h, g, p, operator=op), rel=1e-4)
        finals[solver] = info["final_objective"]
        if solver == "adam":
            assert info["iterations"] == 200               # the authors' fixed count
    assert finals["fista"] <= finals["subgradient"]
    assert finals["fista"] <= finals["adam"]


def test_subgradient_returns_its_best_iterate(problem16):
    _, g, p = problem16
    h, info = A.superresolve(g, p, 64, solver="subgradient", iterations=40)
    assert info["final_objective"] == pytest.approx(info["objective"].min(), rel=1e-4)
    assert info["objective"][info["best_iteration"] - 1] == pytest.approx(info["objective"].min())


def test_fista_stops_at_tolerance_and_respects_init(problem16):
    _, g, p = problem16
    h, info = A.superresolve(g, p, 64, solver="fista", iterations=500, tol=1e-3)
    assert info["iterations"] < 500
    h2, info2 = A.superresolve(g, p, 64, solver="fista", iterations=5, init=h)
    assert info2["objective_initial"] == pytest.approx(info["final_objective"], rel=1e-4)


def test_default_lambdas_are_the_authors_at_factor_16(problem16):
    _, g, p = problem16
    _, info = A.superresolve(g, p, 64, solver="fista", iterations=2)
    assert info["lambda_tv"] == pytest.approx(0.002 * 8)
    assert info["lambda_energy"] == pytest.approx(0.0001 * 8)
    _, info = A.superresolve(g, p, 128, solver="fista", iterations=2)    # factor 32
    assert info["lambda_tv"] == pytest.approx(0.002 * 8 / 4)


@pytest.mark.parametrize("kw, exc, word", [
    (dict(low_res_maps=np.zeros((0, 4, 4))), ValueError, "`low_res_maps`"),
    (dict(low_res_maps=[np.zeros((4, 4)), np.zeros((5, 5))]), ValueError, "same size"),
    (dict(params=np.zeros((8, 2))), ValueError, "`params`"),
    (dict(params=np.zeros((7, 3))), ValueError, "one row per map"),
    (dict(output_size=4), ValueError, "`output_size`"),
    (dict(output_size=(64, 3)), ValueError, "`output_size`"),
    (dict(lambda_tv=-1.0), ValueError, "`lambda_tv`"),
    (dict(lambda_energy=-0.1), ValueError, "`lambda_energy`"),
    (dict(solver="newton"), ValueError, "`solver`"),
    (dict(downsample="nearest"), ValueError, "`downsample`"),
    (dict(iterations=0), ValueError, "`iterations`"),
    (dict(init=np.zeros((8, 8))), ValueError, "`init`"),
])
def test_superresolve_bad_input(problem16, kw, exc, word):
    _, g, p = problem16
    args = dict(low_res_maps=g, params=p, output_size=64)
    args.update(kw)
    with pytest.raises(exc, match=word):
        A.superresolve(**args)
