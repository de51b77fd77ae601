"""Benchmark: the paired bootstrap of ledbench.reports.stats on COCO-sized synthetic columns.

    .venv/bin/python benchmarks/bench_stats.py [--images 5000] [--resamples 2000] [--enhancers 12] [--repeats 3]
        [--skip means,seg,det] [--out DIR]

Times, for ``--images`` images and ``--resamples`` replicates (one thread recommended: OMP_NUM_THREADS=1):

- drawing the resample counts;
- a mean-metric column (PSNR-like) of ``--enhancers`` enhancers: percentile and BCa (with jackknife);
- a segmentation column (19 classes, per-image confusion matrices) per enhancer: ``ConfusionMatrixMetric.reduce``;
- a detection column per enhancer (``--dets`` detections per image over 80 categories, pycocotools matching once,
  then ``coco_reduce`` on every replicate; the detection reducer is timed ``--repeats`` times and the minimum kept).

Prints a table and writes ``bench_stats.json`` to ``--out``. Timings on shared VMs jump; not a test.

Measured (OMP_NUM_THREADS=1, a 2-core VM shared with other jobs at load 2-3, min of 3, old and new interleaved in
one process): the detection reduce of 5,000 images x 2,000 resamples (50,000 detections, 80 categories) took
22.7-32.0 s with the per-column loop of git a7cd120 (52.6 s in an earlier session) and 3.9-5.2 s after the
vectorisation of git 3ee79e4 (the same floats, bit for bit; tests/test_det_metrics_bootstrap.py).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def bench_means(n_img: int, b: int, n_enh: int) -> dict[str, float]:
    from ledbench.reports import stats as st

    rng = np.random.default_rng(0)
    vals = 20 + rng.normal(0, 2, (n_enh, n_img))
    ids = [f"i{k}" for k in range(n_img)]
    col = st._Column(("d", "s", "quality", "quality", "full_reference", "psnr"), True,
                     ["identity"] + [f"e{k}" for k in range(1, n_enh)], ids, vals, [], vals)
    out = {}
    for method in ("percentile", "bca"):
        s = st.BootstrapSettings(n_resamples=b, method=method)
        out[f"mean_column_{method}_s"], _ = _timed(st._column_stats, col, s, ("identity",))
    return out


def bench_segmentation(n_img: int, b: int) -> dict[str, float]:
    from ledbench.reports import stats as st
    from ledbench.tasks.seg_metrics import ConfusionMatrixMetric

    rng = np.random.default_rng(1)
    m = ConfusionMatrixMetric(ConfusionMatrixMetric.Config(num_classes=19))
    t0 = time.perf_counter()
    for i in range(n_img):  # small maps: the matrices, not the pixels, are what the bootstrap sees
        t = rng.integers(0, 19, (24, 32))
        p = np.where(rng.random(t.shape) < 0.6, t, rng.integers(0, 19, t.shape))
        m.update(p, t, f"i{i}")
    build = time.perf_counter() - t0
    suff = m.sufficient_stats()
    w = st.resample_counts(n_img, b, 0)
    reduce_s, res = _timed(m.reduce, suff, w)
    assert res["miou"].shape == (b,)
    return {"seg_update_all_images_s": build, "seg_reduce_per_enhancer_s": reduce_s}


def bench_detection(n_img: int, b: int, dets: int, repeats: int = 1) -> dict[str, float]:
    from ledbench.reports import stats as st
    from ledbench.tasks.det_metrics import COCODetectionMetric

    rng = np.random.default_rng(2)
    m = COCODetectionMetric()
    for i in range(n_img):
        ng = int(rng.integers(1, 2 * dets // 3 + 2))
        xy = rng.uniform(0, 600, (ng, 2))
        gb = np.c_[xy, xy + rng.uniform(10, 150, (ng, 2))]
        gl = rng.integers(1, 81, ng)
        src = rng.integers(0, ng, dets)
        db = gb[src] + rng.normal(0, 6, (dets, 4))
        dl = np.where(rng.random(dets) < 0.85, gl[src], rng.integers(1, 81, dets))
        m.update({"boxes": db, "labels": dl, "scores": rng.random(dets)}, {"boxes": gb, "labels": gl}, f"i{i}")
    match_s, suff = _timed(m.sufficient_stats)
    w = st.resample_counts(n_img, b, 0)
    runs = [_timed(m.reduce, suff, w) for _ in range(max(1, repeats))]
    reduce_s, res = min(runs, key=lambda x: x[0])
    assert res["map50_95"].shape == (b,)
    return {"det_pycocotools_matching_s": match_s, "det_reduce_per_enhancer_s": reduce_s,
            "det_detections": int(len(suff["det_score"]))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--enhancers", type=int, default=12)
    ap.add_argument("--dets", type=int, default=10, help="detections per image")
    ap.add_argument("--repeats", type=int, default=3, help="detection reduce timings (the minimum is kept)")
    ap.add_argument("--skip", default="", help="comma-separated: means, seg, det")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args(argv)
    from ledbench.reports import stats as st

    skip = set(args.skip.split(","))
    res: dict[str, float] = {"images": args.images, "resamples": args.resamples, "enhancers": args.enhancers}
    res["resample_counts_s"], _ = _timed(st.resample_counts, args.images, args.resamples, 0)
    if "means" not in skip:
        res.update(bench_means(args.images, args.resamples, args.enhancers))
    if "seg" not in skip:
        res.update(bench_segmentation(args.images, args.resamples))
    if "det" not in skip:
        res.update(bench_detection(args.images, args.resamples, args.dets, args.repeats))
    for k, v in res.items():
        print(f"{k:32s} {v:.3f}" if isinstance(v, float) else f"{k:32s} {v}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_stats.json").write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
