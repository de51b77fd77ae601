"""Label-free downstream statistics (protocol ``label_free``): the metrics against hand-computed values and scipy,
the segmentation tasks' uncertainty fields against the models' own logits, and runs on photos without labels or
references (the CLI a user runs, and the in-process runner)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from ledbench.tasks.metrics import create_metric


def test_det_stats_hand_computed():
    m = create_metric("det_stats")
    assert m.config.conf == 0.25  # ultralytics predict / darknet detector test default
    pred = {"boxes": np.zeros((5, 4), np.float32), "scores": np.array([0.9, 0.3, 0.25, 0.2, 0.01], np.float32),
            "labels": np.ones(5, np.int64)}
    m.update(pred, None, "a")
    m.update({**pred, "scores": np.array([0.1], np.float32)}, None, "b")  # nothing above conf
    assert m.per_image()["a"] == {"dets_per_image": 3.0, "det_conf": pytest.approx((0.9 + 0.3 + 0.25) / 3)}
    assert m.per_image()["b"]["dets_per_image"] == 0.0 and math.isnan(m.per_image()["b"]["det_conf"])
    out = m.compute()  # count over both images; confidence over the image that has detections
    assert out["dets_per_image"] == 1.5 and out["det_conf"] == pytest.approx((0.9 + 0.3 + 0.25) / 3)
    assert m.output_counts() == {"dets_per_image": 2, "det_conf": 1}  # n behind each value (results' n_images)
    assert create_metric("det_stats", conf=0.5)(pred) == {"dets_per_image": 1.0, "det_conf": pytest.approx(0.9)}
    with pytest.raises(Exception, match="conf"):
        create_metric("det_stats", conf=2.0)


def test_seg_uncertainty_equals_scipy_entropy():
    import torch
    from scipy.special import softmax
    from scipy.stats import entropy

    from ledbench.tasks.label_free import softmax_uncertainty

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2, 5, 7, 9)).astype(np.float32)
    logits[1, 0] = 80.0  # one class certain everywhere: entropy 0 (p log p -> 0), confidence 1
    ent, conf = softmax_uncertainty(torch.from_numpy(logits))
    p = softmax(logits.astype(np.float64), axis=1)
    np.testing.assert_allclose(ent.numpy(), entropy(p, axis=1).mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(conf.numpy(), p.max(1).mean(axis=(1, 2)), rtol=1e-6)
    assert ent[1] == pytest.approx(0.0, abs=1e-6) and conf[1] == pytest.approx(1.0)


def test_seg_stats_classes_and_missing_fields():
    m = create_metric("seg_stats")
    mask = np.zeros((10, 10), np.int64)
    mask[0, :5] = 3        # 5 % of the pixels
    mask[1, 0] = 7         # 1 %: counts at min_fraction 0.01
    mask[2, :] = 255       # no class: never counted
    pred = {"mask": mask, "entropy": np.float32(0.5), "confidence": np.float32(0.8)}
    assert m(pred) == {"seg_entropy": 0.5, "seg_conf": pytest.approx(0.8), "seg_classes": 3.0}
    assert create_metric("seg_stats", min_fraction=0.02)(pred)["seg_classes"] == 2.0
    with pytest.raises(Exception, match="per-pixel class probabilities.*seg_espnetv2"):
        m({"mask": mask})  # YOLO-seg style prediction: a mask only


def test_espnetv2_predictions_carry_the_models_uncertainty():
    """``entropy``/``confidence`` are those of the network's own logits (recomputed here with scipy), and the mask
    is unchanged by computing them (argmax of the same logits)."""
    import torch
    from scipy.special import softmax
    from scipy.stats import entropy

    from ledbench.tasks import create_task

    seg = create_task("seg_espnetv2")
    img = np.random.default_rng(3).random((64, 96, 3), dtype=np.float32)
    out = seg.predict([img])[0]
    x = torch.from_numpy(seg._preprocess(img)[None]).permute(0, 3, 1, 2)
    with torch.inference_mode():
        logits = seg.model((x - seg._mean) / seg._std).numpy().astype(np.float64)
    p = softmax(logits, axis=1)
    assert float(out["entropy"]) == pytest.approx(entropy(p, axis=1).mean(), rel=1e-5)
    assert float(out["confidence"]) == pytest.approx(p.max(1).mean(), rel=1e-5)
    assert np.array_equal(out["mask"], seg._postprocess(logits[0].argmax(0), 96, 64))
    assert 0.0 <= float(out["entropy"]) <= math.log(logits.shape[1])


def test_segmentation_prediction_keys_carry_their_format():
    """Segmentation predictions gained fields, so their cache keys changed (stale masks-only entries are never read
    back); other kinds keep their keys, so their caches stay valid."""
    from ledbench.bench.cache import CACHE_FORMAT, prediction_key
    from ledbench.bench.config import canonical_json, sha256_text

    ident = {"name": "t"}
    plain = sha256_text(canonical_json({"v": CACHE_FORMAT, "stage": "predict", "task": ident, "image": "k"}))
    assert prediction_key(ident, "k", "detection") == plain == prediction_key(ident, "k")
    assert prediction_key(ident, "k", "segmentation") == sha256_text(canonical_json(
        {"v": CACHE_FORMAT, "stage": "predict", "task": ident, "image": "k", "format": 2}))


def _night_folder(root, n=2):
    """``n`` unlabelled photos: the sharp images of synth_mini (street scenes with people and buses), darkened."""
    from ledbench.bench.imageio import write_png
    from ledbench.datasets import create_dataset

    root.mkdir(parents=True)
    for i, item in enumerate(list(create_dataset("synth_mini"))[:n]):
        write_png(root / f"night {i}.png", (item.load_reference() * 0.6).astype(np.float32))
    return root


def test_cli_night_photos_get_label_free_statistics(tmp_path):
    """The user's walk: a folder of photos without labels or references through a detector and a segmenter.
    Detection and segmentation get label-free rows (named as such), the accuracy metrics get a reason, and the
    per-image counts equal the detector's own output counted by hand."""
    folder = _night_folder(tmp_path / "night")
    env = {**os.environ, "LEDBENCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "ledbench", "run", f"dataset=folder:{folder}",
                          "enhancers=identity,gamma", "tasks=quality,det_yolo_fastest,seg_espnetv2", "metrics=niqe",
                          f"out={tmp_path / 'run'}", "device=cpu"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "label-free" in res.stdout and "not accuracy" in res.stdout  # the column group says what it is
    assert "detections/image" in res.stdout and "seg. entropy (nats)" in res.stdout
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    reasons = {(n["task"], n["metric"]): n["reason"] for n in manifest["not_scored"]}
    assert set(reasons) == {("det_yolo_fastest", "coco_map"), ("seg_espnetv2", "miou")}
    assert "label-free statistics det_stats" in reasons[("det_yolo_fastest", "coco_map")]
    assert "not scored" in res.stdout and "are reported instead" in res.stdout

    import pandas as pd

    df = pd.read_csv(tmp_path / "run" / "results.csv")
    free = df[df["protocol"] == "label_free"]
    assert set(free["metric"]) == {"dets_per_image", "det_conf", "seg_entropy", "seg_conf", "seg_classes"}
    assert set(free["enhancer"]) == {"identity", "gamma"} and (free["n_images_total"] == 2).all()
    per = pd.read_csv(tmp_path / "run" / "per_image.csv", dtype={"image_id": str})
    counts = per[(per["metric"] == "dets_per_image") & (per["enhancer"] == "identity")].set_index("image_id")
    assert counts["value"].sum() > 0  # the photos show people and vehicles

    from ledbench.bench.imageio import read_image
    from ledbench.tasks import create_task

    det = create_task("det_yolo_fastest")
    for i in range(2):
        scores = det.predict([read_image(folder / f"night {i}.png")])[0]["scores"]
        assert counts.loc[f"night {i}", "value"] == float((scores >= 0.25).sum())
    assert "pseudo_gt" not in set(df["protocol"]) and "real_gt" not in set(df["protocol"])
    for (enh, metric), g in per[per["protocol"] == "label_free"].groupby(["enhancer", "metric"]):
        row = free[(free["enhancer"] == enh) & (free["metric"] == metric)].iloc[0]
        assert row["n_images"] == g["value"].notna().sum()  # det_conf: only the images with a detection
        assert row["value"] == pytest.approx(g["value"].mean(), nan_ok=True)  # NaN: no detection at all


def test_label_free_on_request_beside_pseudo_gt(tmp_path):
    """On a paired dataset the label-free statistics run only when asked for, next to pseudo-GT, with the sharp
    reference as the ceiling row; the accuracy rows are unchanged by asking."""
    from ledbench.bench.runner import RunConfig, run

    common = dict(name="t", dataset="synth_mini", limit=2, enhancers=("identity",), tasks=("det_yolo_fastest",),
                  cache_dir=str(tmp_path / "c"), quiet=True, device="cpu")
    plain = run(RunConfig(**common, out=str(tmp_path / "a")))
    both = run(RunConfig(**common, out=str(tmp_path / "b"),
                         task_metrics={"det_yolo_fastest": ("coco_map", "det_stats")}))
    assert {r.protocol for r in plain.rows} == {"pseudo_gt"}
    assert {(r.enhancer, r.protocol) for r in both.rows} == {("identity", "pseudo_gt"), ("reference", "pseudo_gt"),
                                                             ("identity", "label_free"), ("reference", "label_free")}
    key = lambda r: (r.enhancer, r.metric)  # noqa: E731
    assert sorted((key(r), r.value) for r in plain.rows) == sorted(
        (key(r), r.value) for r in both.rows if r.protocol == "pseudo_gt")
    assert not both.manifest["not_scored"]


def test_task_without_label_free_statistic_gets_a_reason():
    """A downstream task with no label-free metric (depth here) on photos without labels: one reason naming that,
    and the task is dropped (no model runs for it)."""
    from types import SimpleNamespace

    from ledbench.bench.runner import RunConfig, Runner

    runner = Runner(RunConfig(name="t", dataset="folder:/x", enhancers=("identity",), tasks=("depth_dpt",)))
    task = SimpleNamespace(name="depth_dpt", kind="depth", default_metrics=("depth",), label_free_metrics=())
    item = SimpleNamespace(paired=False, labels={})
    assert runner._plan([task], [item], ["identity"]) == []
    (entry,) = runner.not_scored
    assert entry["metric"] == "depth" and "has no label-free statistic" in entry["reason"]
