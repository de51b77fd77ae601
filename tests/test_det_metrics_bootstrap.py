"""The vectorised COCO mAP reducer (``coco_reduce``) against the loop it replaced and against pycocotools.

``_reference_reduce`` is ``ledbench.tasks.det_metrics.coco_reduce`` as of git a7cd120 (a loop over categories,
replicate blocks and IoU thresholds with a ``searchsorted`` of every point's recall), itself tested against
pycocotools in ``test_stats.py``. The fast path must give the same floats, bit for bit, on random data with crowd
boxes, images without ground truth, categories without detections, truncation at ``maxDets`` and zero weights.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from ledbench.reports import stats as st
from ledbench.tasks.det_metrics import COCODetectionMetric, DetMetricConfig, coco_eval, coco_reduce, to_coco

OUTPUTS = ("map50_95", "map50", "map75", "ar100")


def _reference_reduce(stats: dict[str, np.ndarray], weights: np.ndarray, chunk: int = 1 << 22) -> dict[str, np.ndarray]:
    """The per-column loop ``coco_reduce`` was before vectorisation (git a7cd120), kept as the reference."""
    w = np.asarray(weights, dtype=np.float64)
    single = w.ndim == 1
    w = np.atleast_2d(w)
    n_b = w.shape[0]
    iou_thrs, rec_thrs = stats["iou_thrs"], stats["rec_thrs"]
    n_t, n_r = len(iou_thrs), len(rec_thrs)
    n_k = stats["npig"].shape[1]
    keep = stats["det_rank"] < int(stats["max_det"])
    d_img, d_cat = stats["det_image"][keep], stats["det_cat"][keep]
    d_tp, d_fp = stats["det_tp"][keep], stats["det_fp"][keep]
    npig = w @ stats["npig"].astype(np.float64)  # B x K, exact integer counts
    # One weighting (compute()): COCOeval's precision / recall arrays and its np.mean, bit for bit. Resamples: only
    # sums (every entry of a category with ground truth counts, none of the others), no B x T x R x K array.
    exact = n_b == 1
    if exact:
        precision = -np.ones((n_b, n_t, n_r, n_k))
        recall = -np.ones((n_b, n_t, n_k))
    psum, rsum = np.zeros((n_b, n_t)), np.zeros((n_b, n_t))
    bounds = np.searchsorted(d_cat, np.arange(n_k + 1))
    w_t = np.ascontiguousarray(w.T)  # images x B
    eps = np.spacing(1)
    for k in range(n_k):
        rows = np.flatnonzero(npig[:, k] > 0)
        if rows.size == 0:
            continue
        a, b = bounds[k], bounds[k + 1]
        nd = b - a
        if nd == 0:  # ground truth but no detection: precision and recall 0
            if exact:
                precision[rows, :, :, k] = 0.0
                recall[rows, :, k] = 0.0
            continue
        tp_k, img_k = d_tp[a:b], d_img[a:b]
        counted = tp_k | d_fp[a:b]  # D x T: not ignored (matched to crowd / outside the area range)
        plain = bool(counted.all())
        step = max(1, chunk // nd)
        for s in range(0, rows.size, step):
            r = rows[s:s + step]
            cols = np.arange(len(r))
            # D x b: detections (in accumulate order) down, replicates across, so every running sum below adds
            # whole rows at a time
            wd = w_t[np.ix_(img_k, r)]
            seen = np.cumsum(wd, axis=0) if plain else None  # tp + fp after each detection
            for t in range(n_t):
                p = np.flatnonzero(tp_k[:, t])
                if p.size == 0:  # detections but no true positive: precision and recall 0
                    if exact:
                        precision[r, t, :, k] = 0.0
                        recall[r, t, k] = 0.0
                    continue
                # Only true positives can set the interpolated precision (a false positive adds a point of the
                # same recall and lower precision), so the curve is evaluated at those points only.
                tp_sum = np.cumsum(wd[p], axis=0)
                den = seen[p] if plain else np.cumsum(wd * counted[:, t, None], axis=0)[p]
                pr = tp_sum / (den + eps)
                env = np.maximum.accumulate(pr[::-1], axis=0)[::-1]
                # COCOeval: searchsorted(rc, recThrs, 'left') = number of points with rc < thr: a histogram of how
                # many thresholds each point reaches, accumulated over the thresholds
                m = p.size
                rc = tp_sum / npig[r, k][None, :]
                bins = np.searchsorted(rec_thrs, rc, side="right")  # thresholds <= rc
                hist = np.bincount((bins + cols * (n_r + 1)).ravel(),
                                   minlength=len(r) * (n_r + 1)).reshape(-1, n_r + 1)
                pos = np.cumsum(hist, axis=1)[:, :n_r]  # b x R
                q = env[np.minimum(pos, m - 1), cols[:, None]]
                q[pos >= m] = 0.0
                if exact:
                    precision[r, t, :, k] = q
                    recall[r, t, k] = rc[-1]
                else:
                    psum[r, t] += q.sum(1)
                    rsum[r, t] += rc[-1]
    t50 = np.flatnonzero(iou_thrs == 0.5)
    t75 = np.flatnonzero(iou_thrs == 0.75)

    if exact:  # COCOeval summarize: np.mean over the entries > -1
        def mean_valid(x: np.ndarray) -> np.ndarray:
            v = x[x > -1]
            return np.array([np.mean(v) if v.size else math.nan])

        out = {"map50_95": mean_valid(precision[0]), "map50": mean_valid(precision[0][t50]),
               "map75": mean_valid(precision[0][t75]), "ar100": mean_valid(recall[0])}
    else:
        n_cat = (npig > 0).sum(1).astype(np.float64)  # categories with ground truth, per replicate
        with np.errstate(invalid="ignore", divide="ignore"):
            out = {"map50_95": psum.sum(1) / (n_cat * n_t * n_r),
                   "map50": psum[:, t50].sum(1) / (n_cat * n_r * len(t50)),
                   "map75": psum[:, t75].sum(1) / (n_cat * n_r * len(t75)),
                   "ar100": rsum.sum(1) / (n_cat * n_t)}
        out = {k: np.where(n_cat > 0, v, math.nan) for k, v in out.items()}
    return {k: v[0] if single else v for k, v in out.items()}


def _case(rng, n_img=30, n_cat=5, max_det=100, crowd=0.1):
    """Random boxes: jittered copies of ground truth (TP at some IoU thresholds), random false positives, crowd
    boxes, some images without ground truth, scores with ties."""
    m = COCODetectionMetric(DetMetricConfig(max_dets=(1, min(10, max_det), max_det)))
    preds, tgts = {}, {}
    for i in range(n_img):
        ng = int(rng.integers(0, 7)) if i % 7 else 0
        xy = rng.uniform(0, 300, (ng, 2))
        gb = np.c_[xy, xy + rng.uniform(6, 120, (ng, 2))]
        gl = rng.integers(1, n_cat + 1, ng)
        nd = int(rng.integers(0, 12))
        if ng:
            src = rng.integers(0, ng, nd)
            db = gb[src] + rng.normal(0, 7, (nd, 4))
            dl = np.where(rng.random(nd) < 0.8, gl[src], rng.integers(1, n_cat + 2, nd))
        else:
            xy2 = rng.uniform(0, 300, (nd, 2))
            db, dl = np.c_[xy2, xy2 + 25], rng.integers(1, n_cat + 2, nd)
        scores = np.round(rng.random(nd), 1)  # ties across images
        preds[f"im{i}"] = {"boxes": db, "labels": dl, "scores": scores}
        tgts[f"im{i}"] = {"boxes": gb, "labels": gl, "iscrowd": rng.random(ng) < crowd}
        m.update(preds[f"im{i}"], tgts[f"im{i}"], f"im{i}")
    return m, preds, tgts


def _assert_same(a: dict, b: dict) -> None:
    for k in OUTPUTS:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.shape == y.shape, k
        assert np.array_equal(x, y, equal_nan=True), (k, x[x != y][:5], y[x != y][:5])


@pytest.mark.parametrize("seed", range(6))
def test_fast_reduce_equals_previous_loop_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    m, _, _ = _case(rng, max_det=(100, 5)[seed % 2], crowd=(0.0, 0.15)[seed % 3 > 0])
    suff = m.sufficient_stats()
    n = len(suff["image_ids"])
    w = st.resample_counts(n, 300, seed).copy()
    w[:5, : n // 2] = 0.0  # replicates where some categories have no ground truth at all
    _assert_same(coco_reduce(suff, w), _reference_reduce(suff, w))
    _assert_same(coco_reduce(suff, w, chunk=7), _reference_reduce(suff, w, chunk=50))  # blocking changes nothing
    for one in (np.ones(n), w[0], w[1]):  # one weighting: COCOeval's precision array and np.mean
        _assert_same(coco_reduce(suff, one), _reference_reduce(suff, one))
    jack = np.ones((n, n)) - np.eye(n)  # the BCa jackknife weights
    _assert_same(coco_reduce(suff, jack), _reference_reduce(suff, jack))


def test_edge_cases_equal_previous_loop():
    rng = np.random.default_rng(11)
    m, _, _ = _case(rng, n_img=8)
    suff = m.sufficient_stats()
    n = len(suff["image_ids"])
    for w in (np.zeros((3, n)), np.eye(n), 3 * np.ones((2, n))):
        _assert_same(coco_reduce(suff, w), _reference_reduce(suff, w))
    none = COCODetectionMetric()
    none.update({"boxes": np.zeros((0, 4)), "labels": [], "scores": []},
                {"boxes": [[0, 0, 10, 10]], "labels": [1]}, "a")
    s0 = none.sufficient_stats()
    _assert_same(coco_reduce(s0, np.ones((4, 1))), _reference_reduce(s0, np.ones((4, 1))))
    assert coco_reduce(s0, np.ones(1))["map50_95"] == 0.0


def test_weights_must_be_integer_counts():
    m, _, _ = _case(np.random.default_rng(3), n_img=5)
    suff = m.sufficient_stats()
    with pytest.raises(ValueError, match="integer counts"):
        coco_reduce(suff, np.full((2, 5), 0.5))
    with pytest.raises(ValueError, match="integer counts"):
        coco_reduce(suff, -np.ones(5))


def test_resampled_map_with_crowd_and_truncation_equals_pycocotools():
    """Each replicate rebuilt as a dataset (a drawn image repeated under new ids) and scored by COCOeval."""
    rng = np.random.default_rng(5)
    m, preds, tgts = _case(rng, n_img=14, n_cat=2, max_det=5, crowd=0.2)
    for p in preds.values():  # distinct scores: pycocotools orders equal scores by image id, we by first drawing
        p["scores"] = p["scores"] + rng.random(len(p["scores"])) * 1e-3
    m = COCODetectionMetric(DetMetricConfig(max_dets=(1, 3, 5)))
    for k in tgts:
        m.update(preds[k], tgts[k], k)
    suff = m.sufficient_stats()
    ids = [str(i) for i in suff["image_ids"]]
    idx = st.resample_indices(len(ids), 4, seed=2)
    counts = np.stack([np.bincount(r, minlength=len(ids)) for r in idx]).astype(float)
    ours = coco_reduce(suff, counts)
    assert max(np.bincount(p["labels"]).max(initial=0) for p in preds.values()) > 5  # maxDets truncates
    assert any(t["iscrowd"].any() for t in tgts.values())
    for r, row in enumerate(idx):
        assert len(set(row)) < len(row)  # repeated images
        p2 = {f"c{j}": preds[ids[i]] for j, i in enumerate(row)}
        t2 = {f"c{j}": tgts[ids[i]] for j, i in enumerate(row)}
        gt, res = to_coco(p2, t2)
        _, ev = coco_eval(gt, res, max_dets=(1, 3, 5))
        # summarize()'s stats[0] looks for maxDets=100 only: read COCOeval's arrays (area 'all', maxDets 5)
        prec, rec = ev.eval["precision"][:, :, :, 0, 2], ev.eval["recall"][:, :, 0, 2]
        ref = {"map50_95": prec, "map50": prec[:1], "map75": prec[5:6], "ar100": rec}
        for k, v in ref.items():
            assert ours[k][r] == pytest.approx(np.mean(v[v > -1]), abs=1e-12), (r, k)


def test_reduce_speed_coco_sized():
    """COCO-sized: 5,000 images, 50,000 detections, 80 categories (benchmarks/bench_stats.py times 2,000 resamples).
    Here 500 resamples (about 1 s on one shared core), with a loose bound that still catches a lost vectorisation."""
    rng = np.random.default_rng(2)
    n_img, n_det = 5000, 10
    img = np.repeat(np.arange(n_img), n_det)
    cat = rng.integers(0, 80, img.size)
    score = rng.random(img.size)
    tp = rng.random(img.size)[:, None] < np.linspace(0.45, 0.01, 10)  # nested: a TP at .95 is one at .5
    order = np.lexsort((img, -score, cat))
    npig = np.zeros((n_img, 80), dtype=np.int64)
    np.add.at(npig, (img[tp[:, 0]], cat[tp[:, 0]]), 1)
    np.add.at(npig, (rng.integers(0, n_img, 5000), rng.integers(0, 80, 5000)), 1)
    suff = {"det_image": img[order], "det_cat": cat[order], "det_score": score[order],
            "det_rank": np.zeros(img.size, dtype=np.int64), "det_tp": tp[order], "det_fp": ~tp[order], "npig": npig,
            "iou_thrs": np.linspace(0.5, 0.95, 10), "rec_thrs": np.linspace(0.0, 1.00, 101), "max_det": np.asarray(100)}
    w = st.resample_counts(n_img, 500, 0)
    t0 = time.perf_counter()
    out = coco_reduce(suff, w)
    assert time.perf_counter() - t0 < 10.0
    assert np.all((out["map50_95"] > 0) & (out["map50_95"] < 1))


def test_sufficient_stats_memo_reuses_read_only_weights_and_never_serves_stale_results():
    calls = []

    def reducer(arrays, w):
        calls.append(w.copy())
        return {"s": w @ arrays["x"]}

    suff = st.SufficientStats({}, {"image_ids": np.array(["a", "b", "c"]), "x": np.array([1.0, 10.0, 100.0])}, reducer)
    w = st.resample_counts(2, 5, seed=4)  # read-only: known by identity
    pos = np.array([2, 0])
    first = suff.reduce(w, pos)["s"]
    np.testing.assert_array_equal(first, w[:, 0] * 100.0 + w[:, 1])  # the image at position 1 weighs 0
    assert suff.reduce(w, pos.copy())["s"] is first and len(calls) == 1  # every output column asks again
    np.testing.assert_array_equal(suff.reduce(w, np.array([0, 1]))["s"], w[:, 0] + 10.0 * w[:, 1])
    v = np.ones((2, 3))
    a = suff.reduce(v)["s"].copy()
    v[0, 2] = 0.0  # a writable array is known by its bytes: changed, so computed again
    assert suff.reduce(v)["s"][0] == a[0] - 100.0 and len(calls) == 4
