"""Contract tests over every registered metric and dataset, and the end-to-end CLI on synth_mini."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from ledbench.bench.errors import LedbenchError, WeightsUnavailable
from ledbench.datasets import create_dataset, list_datasets
from ledbench.tasks.metrics import create_metric, list_metrics

KINDS = {"quality", "detection", "segmentation", "depth"}


def _sample(kind: str, rng, perturb: bool):
    """A (prediction, target) pair in the task-output convention; ``perturb`` degrades the prediction."""
    if kind == "quality":
        ref = rng.random((96, 192, 3)).astype(np.float32)  # NIQE needs two 96 x 96 blocks
        pred = np.clip(ref + (0.1 * rng.standard_normal(ref.shape) if perturb else 0), 0, 1).astype(np.float32)
        return {"image": pred}, {"image": ref}
    if kind == "detection":
        boxes = np.array([[2, 2, 20, 20], [25, 5, 45, 30]], dtype=np.float32)
        target = {"boxes": boxes, "scores": np.ones(2, np.float32), "labels": np.array([1, 3])}
        pred_boxes = boxes + (np.array([6, 4, 6, 4], np.float32) if perturb else 0)
        return {"boxes": pred_boxes, "scores": np.array([0.9, 0.8], np.float32), "labels": np.array([1, 3])}, target
    if kind == "segmentation":
        mask = rng.integers(0, 5, (32, 40)).astype(np.int64)
        pred = mask.copy()
        if perturb:
            pred[:10] = (pred[:10] + 1) % 5
        unc = {"entropy": np.float32(0.5), "confidence": np.float32(0.8)}  # ESPNetv2/SegFormer carry these too
        return {"mask": pred, **unc}, {"mask": mask, **unc}
    if kind == "depth":
        depth = (1.0 + rng.random((32, 40))).astype(np.float32)
        pred = depth * (1 + 0.2 * rng.standard_normal(depth.shape).astype(np.float32)) if perturb else depth
        return {"depth": np.abs(pred).astype(np.float32) + 0.01}, {"depth": depth}
    raise AssertionError(kind)


@pytest.mark.parametrize("name", list_metrics())
def test_metric_contract(name):
    """Declared directions; a perfect prediction scores at least as well as a perturbed one; a no-reference score
    gets worse, in its declared direction, with more noise and more blur on a natural photo."""
    try:
        metric = create_metric(name)
    except WeightsUnavailable as exc:
        pytest.skip(str(exc)[:100])
    assert metric.directions and all(isinstance(v, bool) for v in metric.directions.values())
    assert metric.task_kind in KINDS
    rng = np.random.default_rng(0)
    results = {}
    for perturb in (False, True):
        m = create_metric(name)
        pred, target = _sample(m.task_kind, np.random.default_rng(0), perturb)
        try:
            for i in range(3):
                m.update(pred, target if m.requires_reference else None, f"img{i}")
        except WeightsUnavailable as exc:
            pytest.skip(str(exc)[:100])
        values = m.compute()
        assert set(m.directions) <= set(values), (set(m.directions), set(values))
        assert m.n_images == 3 and set(m.per_image()) == {"img0", "img1", "img2"}
        results[perturb] = values
    if getattr(metric, "protocol", "") == "label_free":  # statistics of one prediction: defined, nothing to beat
        assert all(math.isfinite(v) for v in results[False].values()), results[False]
        return
    if not metric.requires_reference:
        _no_reference_tracks_degradation(name, metric.directions)
        return
    del rng
    for key, higher in metric.directions.items():
        perfect, worse = results[False][key], results[True][key]
        assert not math.isnan(perfect)
        if higher:
            assert perfect >= worse, (key, perfect, worse)
        else:
            assert perfect <= worse, (key, perfect, worse)


def _natural_image() -> np.ndarray:
    """skimage's astronaut photo (NASA, public domain), 192 x 192 float32: NIQE needs 2 x 2 blocks of 96."""
    from skimage import data, transform

    return transform.resize(data.astronaut(), (192, 192), anti_aliasing=True).astype(np.float32)


def _no_reference_tracks_degradation(name: str, outputs: dict[str, bool]) -> None:
    """A no-reference score must get worse, in its declared direction, as noise or blur grows on a natural photo
    (NIQE here: 4.72 clean; noise sigma 0.05/0.1/0.2 -> 7.50/10.94/14.95; blur sigma 1/2/3 px -> 6.06/8.24/9.86)."""
    from scipy.ndimage import gaussian_filter

    img = _natural_image()
    noise = np.random.default_rng(0).standard_normal(img.shape).astype(np.float32)
    ladders = {"noise": [img + s * noise for s in (0.05, 0.1, 0.2)],
               "blur": [gaussian_filter(img, (s, s, 0)) for s in (1.0, 2.0, 3.0)]}
    clean = _nr_scores(name, img)
    for kind, images in ladders.items():
        scores = [clean] + [_nr_scores(name, im) for im in images]
        for key, higher in outputs.items():
            seq = [sc[key] for sc in scores]
            assert all(math.isfinite(v) for v in seq), (key, kind, seq)
            worse = [b < a if higher else b > a for a, b in zip(seq, seq[1:])]
            assert all(worse), f"{key} does not get worse with more {kind} (higher_is_better={higher}): {seq}"


def _nr_scores(name: str, img: np.ndarray) -> dict[str, float]:
    m = create_metric(name)
    try:
        m.update({"image": np.clip(img, 0, 1).astype(np.float32)}, None, "a")
    except WeightsUnavailable as exc:
        pytest.skip(str(exc)[:100])
    return m.compute()


def _builtin_datasets() -> list[str]:
    from ledbench.datasets.registry import DATASETS

    return [n for n in list_datasets() if DATASETS.origin(n).startswith("ledbench.datasets")]


@pytest.mark.parametrize("name", _builtin_datasets())
def test_dataset_contract(name):
    """synth_mini builds offline with stable ids and manifest; the others need a root and say so clearly."""
    if name != "synth_mini":
        with pytest.raises(LedbenchError) as err:
            ds = create_dataset(name)
            len(ds)
        assert "root" in str(err.value).lower() or "folder" in str(err.value).lower() or "path" in str(err.value)
        return
    ds = create_dataset(name, limit=2)
    assert len(ds) == 2 and ds.paired
    item = ds[0]
    x, ref = item.load_input(), item.load_reference()
    assert x.dtype == np.float32 and x.ndim == 3 and x.shape == ref.shape and 0 <= x.min() and x.max() <= 1
    assert x.mean() < ref.mean()  # degraded input is darker than its reference
    assert ds.manifest_hash() == create_dataset(name, limit=2).manifest_hash()
    assert ds.manifest_hash() != create_dataset(name, limit=2, seed=1).manifest_hash()


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "ledbench.bench.cli", *args], capture_output=True, text=True,
                          env=env, timeout=900)


@pytest.mark.slow
def test_cli_run_synth_mini_end_to_end_and_cached_rerun(tmp_path):
    import os

    env = dict(os.environ, LEDBENCH_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    args = ["run", "enhancers=identity,gamma,sci.medium", "tasks=quality,det_yolo_fastest", "metrics=psnr,ssim",
            "limit=3", f"out={tmp_path / 'run'}", "device=cpu", "-q"]
    first = _cli(*args, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "PSNR (dB)" in first.stdout and "sci.medium" in first.stdout and "reference" in first.stdout
    m1 = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m1["cache"]["enhance_computed"] == 9 and m1["cache"].get("enhance_hit", 0) == 0
    r1 = (tmp_path / "run" / "results.csv").read_text()
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| identity |" in report and "Yolo-Fastest 1.1: mAP50 ↑" in report and "pseudo-GT" in report
    second = _cli(*args, env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    m2 = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m2["cache"].get("enhance_computed", 0) == 0 and m2["cache"]["enhance_hit"] == 9
    assert m2["cache"].get("predict_computed", 0) == 0 and m2["cache"]["predict_hit"] == 3 * 3 + 3
    assert (tmp_path / "run" / "results.csv").read_text() == r1
