"""Depth task models (tiny random transformers configs, offline) and depth metrics against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ledbench.bench.errors import WeightsUnavailable
from ledbench.tasks.metrics import create_metric, list_metrics, metric_directions

KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "delta2", "delta3")


def _numpy_errors(p: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """The textbook formulas (Eigen et al. 2014), written out independently of the module."""
    ratio = np.maximum(p / t, t / p)
    return {
        "abs_rel": np.mean(np.abs(p - t) / t),
        "sq_rel": np.mean((p - t) ** 2 / t),
        "rmse": np.sqrt(np.mean((p - t) ** 2)),
        "rmse_log": np.sqrt(np.mean((np.log(p) - np.log(t)) ** 2)),
        "delta1": np.mean(ratio < 1.25),
        "delta2": np.mean(ratio < 1.5625),
        "delta3": np.mean(ratio < 1.953125),
    }


def _scene(seed: int = 0, shape=(24, 32)):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.5, 60.0, shape)
    pred = gt * rng.lognormal(0.0, 0.3, shape)
    return pred, gt


def _assert_close(got: dict, want: dict, suffix: str = "", tol: float = 1e-10):
    for k in KEYS:
        assert got[k + suffix] == pytest.approx(want[k], rel=tol, abs=tol), k


# -- metrics ------------------------------------------------------------------------------------------------------

def test_no_alignment_equals_numpy_formulas():
    pred, gt = _scene()
    m = create_metric("depth_none", pred_kind="metric", max_depth=100.0)
    m.update({"depth": pred}, {"depth": gt, "kind": "metric"}, "a")
    want = _numpy_errors(np.clip(pred, 1e-3, 100.0), gt)
    _assert_close(m.compute(), want, "_none")


def test_min_max_depth_and_valid_masks_exclude_pixels():
    pred, gt = _scene(1)
    gt[0, :] = 0.0          # invalid (no depth)
    gt[1, :] = 200.0        # beyond max_depth
    valid = np.ones_like(gt, dtype=bool)
    valid[2, :] = False     # masked by the dataset
    pred_valid = np.ones_like(gt, dtype=bool)
    pred_valid[3, :5] = False
    m = create_metric("depth_none", pred_kind="metric", min_depth=0.1, max_depth=80.0)
    m.update({"depth": pred, "valid": pred_valid}, {"depth": gt, "valid": valid, "kind": "metric"}, "a")
    keep = (gt > 0.1) & (gt < 80.0) & valid & pred_valid
    want = _numpy_errors(np.clip(pred[keep], 0.1, 80.0), gt[keep])
    _assert_close(m.compute(), want, "_none")


def test_median_alignment_equals_numpy_and_ultralytics():
    pred, gt = _scene(2)
    pred = pred * 0.01  # arbitrary scale
    m = create_metric("depth_median", pred_kind="metric", max_depth=100.0)
    m.update(pred, {"depth": gt, "kind": "metric"}, "a")
    scaled = pred * np.median(gt) / np.median(pred)
    _assert_close(m.compute(), _numpy_errors(np.clip(scaled, 1e-3, 100.0), gt), "_median")

    ul = pytest.importorskip("ultralytics.utils.metrics")
    import torch

    # torch.median takes the lower middle value where numpy averages the two: odd pixel counts make them agree
    dm = ul.DepthMetrics(min_depth=1e-3, max_depth=100.0, align="median")
    (p1, g1), (p2, g2) = _scene(3, (25, 31)), _scene(8, (17, 21))
    preds, gts = [p1 * 0.02, p2 * 3.0], [g1, g2]
    ours = create_metric("depth_median", pred_kind="metric", max_depth=100.0)
    for i, (p, g) in enumerate(zip(preds, gts)):
        dm.update_stats(torch.from_numpy(p)[None].double(), torch.from_numpy(g)[None].double())
        ours.update(p, {"depth": g, "kind": "metric"}, str(i))
    dm.process()
    res = ours.compute()
    for key in ("abs_rel", "rmse", "delta1", "delta2", "delta3"):
        assert res[key + "_median"] == pytest.approx(dm.results_dict[f"metrics/{key}"], rel=1e-5, abs=1e-6), key


def test_lstsq_alignment_equals_numpy_lstsq():
    rng = np.random.default_rng(4)
    gt = rng.uniform(1.0, 15.0, (20, 20))
    disp = 3.0 / gt + 0.2 + rng.normal(0, 0.02, gt.shape)  # noisy affine disparity
    m = create_metric("depth", target_kind="metric", max_depth=80.0)
    m.update({"depth": disp}, {"depth": gt}, "a")
    A = np.stack([disp.ravel(), np.ones(disp.size)], 1)
    (s, t), *_ = np.linalg.lstsq(A, 1.0 / gt.ravel(), rcond=None)
    aligned = 1.0 / np.maximum(s * disp + t, 1.0 / 80.0)
    _assert_close(m.compute(), _numpy_errors(np.clip(aligned, 1e-3, 80.0), gt), tol=1e-8)


def test_alignment_recovers_known_scale_and_shift_exactly():
    from ledbench.tasks.depth_metrics import fit_scale_shift

    rng = np.random.default_rng(5)
    gt = rng.uniform(2.0, 50.0, (16, 16))
    s_true, t_true = 0.37, -0.011
    disp_pred = (1.0 / gt - t_true) / s_true  # exact affine transform of the true disparity
    s, t = fit_scale_shift(disp_pred.ravel(), 1.0 / gt.ravel())
    assert s == pytest.approx(s_true, rel=1e-9) and t == pytest.approx(t_true, rel=1e-7)
    m = create_metric("depth", target_kind="metric")
    m.update(disp_pred, {"depth": gt}, "a")
    res = m.compute()
    assert res["abs_rel"] < 1e-9 and res["rmse"] < 1e-8 and res["delta1"] == 1.0
    # median scaling recovers a pure scale exactly
    mm = create_metric("depth_median", pred_kind="metric")
    mm.update(gt * 7.5, {"depth": gt, "kind": "metric"}, "a")
    assert mm.compute()["abs_rel_median"] < 1e-12


@pytest.mark.parametrize("name,suffix", [("depth", ""), ("depth_median", "_median"), ("depth_none", "_none")])
def test_pseudo_gt_prediction_against_itself_is_perfect(name, suffix):
    rng = np.random.default_rng(6)
    disp = rng.uniform(0.05, 20.0, (32, 48)).astype(np.float32)  # a relative inverse depth map
    disp[:4] = 0.0  # "sky": zero disparity is infinitely far and excluded
    m = create_metric(name)
    m.update({"depth": disp}, {"depth": disp}, "img")
    res = m.compute()
    assert res["abs_rel" + suffix] == pytest.approx(0.0, abs=1e-6)
    assert res["rmse" + suffix] == pytest.approx(0.0, abs=1e-5)
    for k in ("delta1", "delta2", "delta3"):
        assert res[k + suffix] == 1.0


def test_per_image_average_and_too_few_pixels():
    pred, gt = _scene(7)
    m = create_metric("abs_rel_none", pred_kind="metric")
    m.update(pred, {"depth": gt, "kind": "metric"}, "a")
    m.update(pred * 2, {"depth": gt, "kind": "metric"}, "b")
    empty = np.zeros_like(gt)
    m.update(pred, {"depth": empty, "kind": "metric"}, "c")  # no valid pixel -> NaN, left out of the mean
    per = m.per_image()
    assert math.isnan(per["c"]["abs_rel_none"])
    assert m.compute()["abs_rel_none"] == pytest.approx((per["a"]["abs_rel_none"] + per["b"]["abs_rel_none"]) / 2)
    assert set(m.compute()) == {"abs_rel_none"}


def test_registry_names_and_directions():
    names = list_metrics("*")
    for base in KEYS:
        for suffix in ("", "_median", "_none"):
            assert base + suffix in names
    assert metric_directions("depth") == {"abs_rel": False, "sq_rel": False, "rmse": False, "rmse_log": False,
                                          "delta1": True, "delta2": True, "delta3": True}
    assert metric_directions("delta2_median") == {"delta2_median": True}
    assert create_metric("depth_lstsq").config.align == "lstsq"
    from ledbench.bench.errors import ConfigError

    with pytest.raises(ConfigError):
        create_metric("depth", align="mean")


# -- task models --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_dpt_dir(tmp_path_factory):
    torch = pytest.importorskip("torch")
    tr = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = tr.DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37,
                       image_size=32, patch_size=8, backbone_out_indices=[0, 1, 2, 3],
                       neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, head_in_index=-1)
    path = tmp_path_factory.mktemp("tiny_dpt")
    tr.DPTForDepthEstimation(cfg).eval().save_pretrained(path)
    return path


def _images(rng):
    return [rng.random((40, 50, 3), dtype=np.float32), rng.random((40, 50, 3), dtype=np.float32),
            rng.random((30, 20, 3), dtype=np.float32)]


def test_tiny_dpt_end_to_end_batched(tiny_dpt_dir):
    from ledbench.tasks import create_task

    task = create_task("depth_dpt", weights=str(tiny_dpt_dir), input_size=64, batch_size=2)
    assert task.kind == "depth" and task.depth_kind == "relative_inverse"
    assert task.weights_sha256 and len(task.weights_sha256) == 64
    imgs = _images(np.random.default_rng(0))
    out = task.predict(imgs)
    assert [o["depth"].shape for o in out] == [(40, 50), (40, 50), (30, 20)]
    assert all(o["depth"].dtype == np.float32 and np.isfinite(o["depth"]).all() for o in out)
    # batching does not change the result
    single = task.predict([imgs[1]])[0]["depth"]
    np.testing.assert_allclose(single, out[1]["depth"], rtol=1e-4, atol=1e-5)
    # same model on the same image as its own pseudo-GT: AbsRel 0, delta1 1
    m = create_metric("depth")
    m.update(out[0], task.predict([imgs[0]])[0], "x")
    res = m.compute()
    assert res["abs_rel"] < 1e-4 and res["delta1"] == 1.0
    # instances are cached per process
    assert create_task("depth_dpt", weights=str(tiny_dpt_dir), input_size=64, batch_size=2) is task


def test_preprocessing_matches_transformers_processor(tiny_dpt_dir):
    tr = pytest.importorskip("transformers")
    from ledbench.tasks import create_task

    task = create_task("depth_dpt", weights=str(tiny_dpt_dir), input_size=64, keep_aspect_ratio=True)
    img = np.random.default_rng(1).random((45, 70, 3), dtype=np.float32)
    ours = task.preprocess([img])[0].numpy()
    proc = tr.DPTImageProcessor(size={"height": 64, "width": 64}, keep_aspect_ratio=True, ensure_multiple_of=1)
    ref = proc(images=[img.transpose(2, 0, 1)], do_rescale=False, return_tensors="np")["pixel_values"]
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_tiny_depth_anything_end_to_end(tmp_path):
    torch = pytest.importorskip("torch")
    tr = pytest.importorskip("transformers")
    from ledbench.tasks import create_task

    torch.manual_seed(0)
    bb = tr.Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37,
                         image_size=28, patch_size=14, out_features=["stage1", "stage2", "stage3", "stage4"],
                         reshape_hidden_states=False)
    cfg = tr.DepthAnythingConfig(backbone_config=bb, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32],
                                 fusion_hidden_size=16, head_hidden_size=8, patch_size=14)
    tr.DepthAnythingForDepthEstimation(cfg).eval().save_pretrained(tmp_path)
    task = create_task("depth_anything", weights=str(tmp_path), input_size=56)
    img = np.random.default_rng(2).random((33, 47, 3), dtype=np.float32)
    (x,) = task.preprocess([img])
    assert x.shape[-2] % 14 == 0 and x.shape[-1] % 14 == 0  # ensure_multiple_of=14, aspect kept
    out = task.predict([img, img])
    assert out[0]["depth"].shape == (33, 47)
    np.testing.assert_allclose(out[0]["depth"], out[1]["depth"], rtol=1e-5, atol=1e-6)


def test_missing_hub_weights_fail_fast_with_the_fix():
    import time

    from ledbench.tasks import create_task, task_availability

    t0 = time.time()
    with pytest.raises(WeightsUnavailable) as err:
        create_task("depth_dpt.large", reuse=False)
    msg = str(err.value)
    assert "Intel/dpt-large" in msg and "weights=FOLDER" in msg
    ok, why = task_availability("depth_anything")
    assert not ok and "LiheYoung/depth-anything-small-hf" in why
    with pytest.raises(WeightsUnavailable, match="not a Hugging Face model folder"):
        create_task("depth_dpt", weights="/nonexistent/folder", reuse=False)
    assert time.time() - t0 < 10
