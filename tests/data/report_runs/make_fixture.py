"""Writes the fixed report fixture (two seeds of a made-up run) next to this file.

The numbers are invented but self-consistent: each results.csv value is the mean of its per_image.csv rows and
stderr their standard error. Rerun only to change the fixture, then regenerate the golden files
(``LEDBENCH_UPDATE_GOLDEN=1 pytest tests/test_reports.py``).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ENHANCERS = ["input", "zero_dce", "clahe+richardson_lucy", "dap_led", "reference"]
# (task, task_model, protocol, metric, higher_is_better, per-enhancer means (input..dap_led), reference value, spread)
METRICS = [
    ("quality", "quality", "full_reference", "psnr", True, [12.31, 17.85, 16.02, 21.43], math.inf, 1.5),
    ("quality", "quality", "full_reference", "ssim", True, [0.412, 0.603, 0.571, 0.742], 1.0, 0.04),
    ("quality", "quality", "full_reference", "lpips", False, [0.612, 0.401, 0.455, 0.268], 0.0, 0.03),
    ("depth", "depth_dpt", "pseudo_gt", "abs_rel", False, [0.284, 0.171, 0.190, 0.121], 0.0, 0.02),
    ("depth", "depth_dpt", "pseudo_gt", "delta1", True, [0.552, 0.741, 0.712, 0.842], 1.0, 0.03),
    ("detection", "det_yolo", "pseudo_gt", "map50_95", True, [0.183, 0.301, 0.428, 0.402], 1.0, 0.0),
    ("segmentation", "seg_segformer", "pseudo_gt", "miou", True, [0.311, 0.452, 0.433, 0.561], 1.0, 0.0),
    ("segmentation", "seg_segformer", "pseudo_gt", "iou_road", True, [0.602, 0.751, 0.744, 0.823], 1.0, 0.0),
    ("segmentation", "seg_segformer", "pseudo_gt", "iou_car", True, [0.254, 0.402, 0.371, 0.514], 1.0, 0.0),
    ("segmentation", "seg_segformer", "pseudo_gt", "iou_person", True, [0.077, 0.203, 0.184, 0.346], 1.0, 0.0),
]
IMAGES = ["img0", "img1", "img2", "img3"]
HASH = {"input": ("", ""), "zero_dce": ("c0ffee01", "9a1b"), "clahe+richardson_lucy": ("c1a4e0rl", ""),
        "dap_led": ("da91ed00", "5eed"), "reference": ("", "")}


def write_run(seed: int) -> None:
    rng = np.random.default_rng(seed)
    out = HERE / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    res = [("enhancer,enhancer_config_hash,weights_sha256,dataset,dataset_manifest_hash,split,task,task_model,"
            "task_config_hash,protocol,metric,value,stderr,higher_is_better,n_images,n_images_total,run_id")]
    per = ["enhancer,dataset,split,task,task_model,protocol,metric,image_id,value"]
    for task, model, proto, metric, hib, means, ref, spread in METRICS:
        for k, enh in enumerate(ENHANCERS):
            if enh == "reference":
                vals = np.full(len(IMAGES), ref)
            else:
                shift = 0.0 if enh == "input" else rng.normal(0, 0.15 * spread + 0.003)
                vals = np.round(means[k] + shift + rng.normal(0, spread + 0.01, len(IMAGES)), 4)
            for img, v in zip(IMAGES, vals):
                per.append(f"{enh},synth_mini,test,{task},{model},{proto},{metric},{img},{float(v)!r}")
            mean = float(np.mean(vals))
            se = float(np.std(vals, ddof=1) / math.sqrt(len(vals))) if np.all(np.isfinite(vals)) else math.nan
            cfg, w = HASH[enh]
            res.append(f"{enh},{cfg},{w},synth_mini,5a7e0001,test,{task},{model},t{model[:4]},{proto},{metric},"
                       f"{mean!r},{se!r},{hib},{len(IMAGES)},{len(IMAGES)},seed{seed}")
    (out / "results.csv").write_text("\n".join(res) + "\n")
    (out / "per_image.csv").write_text("\n".join(per) + "\n")
    manifest = {  # the shape ledbench.bench.runner writes, trimmed
        "name": f"fixture_seed{seed}", "created": "2026-01-01T00:00:00+00:00", "ledbench_run_format": 1,
        "versions": {"ledbench": "0.1.0"}, "git": {"commit": "0123456789abcdef", "dirty": False},
        "device": {"device": "cpu", "cuda_available": False},
        "seeds": {"python_seed": seed, "numpy_seed": seed, "torch_seed": seed},
        "dataset": {"name": "synth_mini", "split": "test", "n_images": len(IMAGES), "manifest_hash": "5a7e0001"},
        "wall_time_s": 12.5, "errors": [],
        "run_config": {"enhancers": ENHANCERS[1:4], "dataset": "synth_mini", "seed": seed,
                       "tasks": ["quality", "depth_dpt", "det_yolo", "seg_segformer"]},
        "skipped": [{"enhancer": "lednet",
                     "reason": "weights unavailable: lednet.pth (ledbench weights fetch lednet)"}],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    for s in (0, 1):
        write_run(s)
    sys.exit(0)
