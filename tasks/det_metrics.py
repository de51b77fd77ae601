"""COCO detection metrics through pycocotools on COCO-format predictions.

Protocol (one name per variant, stated here the way ultralytics documents ``DetMetrics``):

- boxes are xyxy in input-image pixels (the task output convention), converted to COCO ``[x, y, w, h]``;
- ``labels`` are category ids (COCO ids 1..90 for COCO models); evaluation is per category (``useCats=1``);
- ground-truth ``area`` is the box area (no segmentation polygons here), which drives small/medium/large;
- ``iscrowd`` (or ``ignore``) target boxes are COCO crowd regions: detections matched to them are neither true
  nor false positives, and unmatched crowd boxes are not misses (pycocotools sets ``ignore = iscrowd``);
- ``maxDets`` 1 / 10 / 100 as COCOeval; mAP@[.5:.95] is 101-point interpolated precision averaged over IoU
  thresholds 0.50:0.05:0.95 and categories with at least one ground-truth box (``stats[0]``), mAP@.5 is
  ``stats[1]``, AR@100 is ``stats[8]``;
- images with no ground truth are part of the evaluation (their detections are false positives); a dataset with
  no ground-truth box at all scores NaN; one with ground truth but no detection scores 0;
- ``pseudo_gt``: when the target carries ``scores`` (a model's own prediction on the reference), only target boxes
  with score >= ``target_score_thresh`` (0.25, the usual YOLO display threshold) are labels.

Outputs (all higher is better, range [0, 1]): ``map50_95``, ``map50``, ``map75``, ``ar100``. Per-class AP at
[.5:.95] comes from :meth:`COCODetectionMetric.per_class`; ``per_image()`` runs COCOeval on each image alone.

Sufficient statistics (for the paired bootstrap of :mod:`ledbench.reports.stats`): pycocotools' own per-image
matching (``COCOeval.evaluate``, area ``all``) gives one row per detection (image, category, score, rank in its
image, true / false positive at each IoU threshold) and the non-crowd ground-truth count per image and category.
:meth:`COCODetectionMetric.reduce` re-runs COCOeval's ``accumulate`` + ``summarize`` on any image weighting
(bootstrap counts, repeated images included), vectorised over resamples; ``compute()`` is ``reduce`` with unit
weights. A repeated image is the same as that image added again under a new id, except for detections with exactly
equal scores (pycocotools then orders them by image id, here by original image order).
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ledbench.bench.errors import InputError
from ledbench.tasks.metrics import Metric

__all__ = ["COCODetectionMetric", "coco_eval", "coco_reduce", "to_coco"]

_STAT_INDEX = {"map50_95": 0, "map50": 1, "map75": 2, "map_small": 3, "map_medium": 4, "map_large": 5,
               "ar1": 6, "ar10": 7, "ar100": 8}


@dataclass(frozen=True)
class DetMetricConfig:
    """``target_score_thresh``: pseudo-GT label threshold; ``max_dets``: COCOeval maxDets (last one used for mAP)."""

    target_score_thresh: float = 0.25
    max_dets: tuple[int, ...] = (1, 10, 100)
    per_image: bool = True
    class_names: tuple[str, ...] = ()  # optional names for per_class(), indexed by category id


def _as_det(obj: Any, what: str, image_id: str) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict) or "boxes" not in obj:
        raise InputError(f"{what} for image {image_id!r} must be a dict with 'boxes' and 'labels'")
    boxes = np.asarray(obj["boxes"], dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(obj.get("labels", np.zeros(len(boxes))), dtype=np.int64).reshape(-1)
    if len(labels) != len(boxes):
        raise InputError(f"{what} for image {image_id!r}: {len(boxes)} boxes but {len(labels)} labels")
    out = {"boxes": boxes, "labels": labels}
    if "scores" in obj and obj["scores"] is not None:
        out["scores"] = np.asarray(obj["scores"], dtype=np.float64).reshape(-1)
    crowd = np.zeros(len(boxes), dtype=bool)
    for key in ("iscrowd", "ignore"):
        if key in obj and obj[key] is not None:
            crowd |= np.asarray(obj[key]).reshape(-1).astype(bool)
    out["iscrowd"] = crowd
    return out


def to_coco(preds: dict[str, dict], targets: dict[str, dict]) -> tuple[dict, list[dict]]:
    """Build a COCO ground-truth dataset dict and a result list from per-image xyxy dicts (numbers only).

    Image ids are 1..N in the order of ``targets``; categories are every label seen in targets or predictions.
    """
    images, anns, results = [], [], []
    cats: set[int] = set()
    ann_id = 0
    for num, (image_id, tgt) in enumerate(targets.items(), start=1):
        images.append({"id": num, "file_name": str(image_id)})
        for box, label, crowd in zip(tgt["boxes"], tgt["labels"], tgt["iscrowd"]):
            x1, y1, x2, y2 = (float(v) for v in box)
            w, h = max(x2 - x1, 0.0), max(y2 - y1, 0.0)
            ann_id += 1
            anns.append({"id": ann_id, "image_id": num, "category_id": int(label), "bbox": [x1, y1, w, h],
                         "area": w * h, "iscrowd": int(bool(crowd))})
            cats.add(int(label))
        pred = preds.get(image_id)
        if pred is None:
            continue
        scores = pred.get("scores")
        if scores is None:
            scores = np.ones(len(pred["boxes"]))
        for box, label, score in zip(pred["boxes"], pred["labels"], scores):
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append({"image_id": num, "category_id": int(label), "bbox": [x1, y1, x2 - x1, y2 - y1],
                            "score": float(score)})
            cats.add(int(label))
    gt = {"images": images, "annotations": anns, "categories": [{"id": c, "name": str(c)} for c in sorted(cats)]}
    return gt, results


def coco_eval(gt: dict, results: list[dict], img_ids: list[int] | None = None,
              max_dets: tuple[int, ...] = (1, 10, 100)) -> tuple[np.ndarray, Any]:
    """Run pycocotools COCOeval (bbox) quietly; returns (``stats`` with NaN for undefined, the COCOeval)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if not results:
            return None, None
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.maxDets = list(max_dets)
        if img_ids is not None:
            ev.params.imgIds = list(img_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = np.array(ev.stats, dtype=np.float64)
    stats[stats < 0] = np.nan
    return stats, ev


def _coco_params(max_dets: tuple[int, ...]) -> Any:
    from pycocotools.cocoeval import Params

    p = Params(iouType="bbox")
    p.maxDets = sorted(int(m) for m in max_dets)
    return p


def coco_match_table(gt: dict, results: list[dict], max_dets: tuple[int, ...] = (1, 10, 100)) -> dict[str, np.ndarray]:
    """Per-image sufficient statistics of COCO box mAP/AR from pycocotools' own matching (area ``all``).

    Returns arrays (see :func:`coco_reduce`): ``det_image`` (index into ``gt["images"]``), ``det_cat`` (index into
    ``cat_ids``), ``det_score``, ``det_rank`` (rank by score within its image and category), ``det_tp`` / ``det_fp``
    (D x T, at each of ``iou_thrs``), ``npig`` (images x categories: non-crowd ground truth), plus the
    parameters ``cat_ids``, ``iou_thrs``, ``rec_thrs``, ``max_det`` (COCOeval's ``maxDets[2]``, used by every output).
    Detections are sorted by category, then score (descending), image and rank: the order of COCOeval's
    ``accumulate`` (stable merge sort over images in id order).
    """
    p = _coco_params(max_dets)
    img_ids = [im["id"] for im in gt["images"]]
    cat_ids = sorted({c["id"] for c in gt["categories"]})
    img_pos = {i: n for n, i in enumerate(img_ids)}
    cat_pos = {c: n for n, c in enumerate(cat_ids)}
    lo, hi = p.areaRng[0]
    npig = np.zeros((len(img_ids), len(cat_ids)), dtype=np.int64)
    for a in gt["annotations"]:  # COCOeval: ignore = iscrowd, or area outside the 'all' range
        if not a.get("iscrowd", 0) and lo <= a["area"] <= hi:
            npig[img_pos[a["image_id"]], cat_pos[a["category_id"]]] += 1
    rows_img, rows_cat, rows_score, rows_rank, rows_tp, rows_fp = [], [], [], [], [], []
    if results and gt["annotations"]:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO()
            coco_gt.dataset = gt
            coco_gt.createIndex()
            ev = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
            ev.params.maxDets = list(p.maxDets)
            ev.params.areaRng, ev.params.areaRngLbl = [p.areaRng[0]], ["all"]
            ev.evaluate()
        n_img = len(ev.params.imgIds)
        for k, cat in enumerate(ev.params.catIds):
            for i, img in enumerate(ev.params.imgIds):
                e = ev.evalImgs[k * n_img + i]
                if e is None or len(e["dtScores"]) == 0:
                    continue
                nd = len(e["dtScores"])
                matched, ign = e["dtMatches"] > 0, e["dtIgnore"].astype(bool)
                rows_img.append(np.full(nd, img_pos[img]))
                rows_cat.append(np.full(nd, cat_pos[cat]))
                rows_score.append(np.asarray(e["dtScores"], dtype=np.float64))
                rows_rank.append(np.arange(nd))
                rows_tp.append((matched & ~ign).T)
                rows_fp.append((~matched & ~ign).T)
    t = len(p.iouThrs)
    cat = lambda xs, dt, shape=(0,): np.concatenate(xs).astype(dt) if xs else np.zeros(shape, dtype=dt)  # noqa: E731
    det_img, det_cat = cat(rows_img, np.int64), cat(rows_cat, np.int64)
    det_score, det_rank = cat(rows_score, np.float64), cat(rows_rank, np.int64)
    det_tp, det_fp = cat(rows_tp, bool, (0, t)), cat(rows_fp, bool, (0, t))
    order = np.lexsort((det_rank, det_img, -det_score, det_cat))
    return {"det_image": det_img[order], "det_cat": det_cat[order], "det_score": det_score[order],
            "det_rank": det_rank[order], "det_tp": det_tp[order], "det_fp": det_fp[order], "npig": npig,
            "cat_ids": np.asarray(cat_ids, dtype=np.int64), "iou_thrs": np.asarray(p.iouThrs, dtype=np.float64),
            "rec_thrs": np.asarray(p.recThrs, dtype=np.float64), "max_det": np.asarray(p.maxDets[2])}


def coco_reduce(stats: dict[str, np.ndarray], weights: np.ndarray, chunk: int = 1 << 16) -> dict[str, np.ndarray]:
    """COCOeval ``accumulate`` + ``summarize`` (area ``all``) on weighted images, vectorised over resamples.

    Args:
        stats: :func:`coco_match_table` arrays.
        weights: ``(n_images,)`` or ``(B, n_images)`` non-negative integer counts (a bootstrap resample: how often
            each image was drawn; ones = the dataset itself).
        chunk: replicates x detections per work block (memory and cache bound; numbers do not depend on it).

    Returns ``map50_95``, ``map50``, ``map75``, ``ar100`` as float arrays of shape ``(B,)`` (0-d for 1-D weights),
    NaN where no category has ground truth. With integer weights every intermediate count is exact, so the numbers
    equal pycocotools on the resampled dataset: a repeated detection is counted with its weight at once, and only
    true positives can set the interpolated precision (a false positive adds a point of the same recall and lower
    precision), so the curve is evaluated at true positives only.

    Per category and IoU threshold, for a block of replicates (one row each, detections in accumulate order along
    the row): ``tp`` = running sum of the weights of the true positives, ``pr = tp / (seen + eps)`` (COCOeval's
    precision). COCOeval's interpolated precision at recall threshold ``r`` is ``max(pr_j : rc_j >= thr_r)``, i.e.
    the max over points whose count ``N_j`` of thresholds ``<= rc_j`` exceeds ``r`` (its ``searchsorted(rc, recThrs,
    'left')``): so the max of ``pr`` per ``N`` value (``np.maximum.at``), then the running max from the right over
    ``N``. ``N`` is looked up by integer ``tp`` in a table of ``searchsorted(recThrs, c / n_gt, 'right')`` per
    distinct ground-truth count. The row sums of the 101 precisions add up across categories in category order, so
    results are bit-identical to the per-column loop this replaced (tested).
    """
    w = np.asarray(weights, dtype=np.float64)
    single = w.ndim == 1
    w = np.atleast_2d(w)
    wi = w.astype(np.int32)
    if (wi != w).any() or (wi < 0).any():
        raise ValueError("coco_reduce: weights must be non-negative integer counts (bootstrap resample counts)")
    n_b = w.shape[0]
    iou_thrs, rec_thrs = stats["iou_thrs"], stats["rec_thrs"]
    n_t, n_r = len(iou_thrs), len(rec_thrs)
    n_k = stats["npig"].shape[1]
    if rec_thrs[0] > 0:
        raise ValueError("coco_reduce: recall thresholds must start at 0, as COCOeval's recThrs do")
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
    psum, rsum = np.zeros((n_t, n_b)), np.zeros((n_t, n_b))  # transposed while adding: contiguous rows
    bounds = np.searchsorted(d_cat, np.arange(n_k + 1))
    w_t = np.ascontiguousarray(wi.T)  # images x B: a category's detections gather whole rows
    eps = np.spacing(1)
    for k in range(n_k):
        rows = np.flatnonzero(npig[:, k] > 0)
        if rows.size == 0:
            continue
        a, b = bounds[k], bounds[k + 1]
        tp_k = d_tp[a:b]
        tps = [np.flatnonzero(tp_k[:, t]) for t in range(n_t)]
        if b == a or not any(p.size for p in tps):  # no detection, or no true positive: precision and recall 0
            if exact:
                precision[rows, :, :, k] = 0.0
                recall[rows, :, k] = 0.0
            continue
        # ignored detections (matched to crowd, or unmatched outside the area range) per threshold: usually few
        ignored = [np.flatnonzero(~(tp_k[:, t] | d_fp[a:b, t])) for t in range(n_t)]
        # N(c) - 1 = searchsorted(rec_thrs, c / n_gt, 'right') - 1 (>= 0: rec_thrs[0] is 0) for every true-positive
        # count c <= n_gt, per distinct n_gt
        g_u, g_inv = np.unique(npig[rows, k], return_inverse=True)
        width = int(g_u[-1]) + 1
        tab = np.searchsorted(rec_thrs, (np.arange(width)[None, :] / g_u[:, None]).ravel(), side="right")
        tab = tab.reshape(len(g_u), width) - 1
        whole = rows.size == n_b
        img_k = d_img[a:b]
        step = max(1, chunk // (b - a))
        for s in range(0, rows.size, step):
            r = rows[s:s + step]
            nb = len(r)
            cols = np.arange(nb)
            w_k = w_t[img_k, s:s + nb] if whole else w_t[np.ix_(img_k, r)]  # D x nb: whole rows of w_t
            wd = np.ascontiguousarray(w_k.T)  # nb x D: running sums along contiguous rows
            seen = np.cumsum(wd, axis=1)  # detections after each one
            den_eps = seen + eps
            tab_b = (tab[g_inv[s:s + nb]] + (cols * n_r)[:, None]).ravel()  # + a bin block per replicate
            g = npig[r, k]
            off = (cols * width)[:, None]
            for t in range(n_t):
                p = tps[t]
                if p.size == 0:  # detections but no true positive at this threshold: precision and recall 0
                    if exact:
                        precision[r, t, :, k] = 0.0
                        recall[r, t, k] = 0.0
                    continue
                tp_sum = np.cumsum(wd.take(p, axis=1, mode="clip"), axis=1)
                ign = ignored[t]
                if ign.size == 0:
                    den = den_eps.take(p, axis=1, mode="clip")
                else:  # tp + fp: all seen minus the ignored ones before each true positive (exact integers)
                    ign_sum = np.zeros((nb, ign.size + 1), dtype=np.int64)
                    np.cumsum(wd.take(ign, axis=1, mode="clip"), axis=1, out=ign_sum[:, 1:])
                    before = np.searchsorted(ign, p)
                    den = seen.take(p, axis=1, mode="clip") - ign_sum.take(before, axis=1, mode="clip") + eps
                pr = np.divide(tp_sum, den)
                # q_r = max(pr_j : N_j - 1 >= r): the max of pr per N - 1, then the running max from the right
                # (pr >= 0: its int64 bits order as the values do, and integer max is several times faster)
                seg = np.zeros((nb, n_r), dtype=np.int64)
                n_idx = tab_b.take((tp_sum + off).ravel(), mode="clip")
                np.maximum.at(seg.ravel(), n_idx, pr.view(np.int64).ravel())
                rev = seg[:, ::-1]
                np.maximum.accumulate(rev, axis=1, out=rev)
                q = seg.view(np.float64)  # nb x R interpolated precision
                rc_last = tp_sum[:, -1] / g
                if exact:
                    precision[r, t, :, k] = q
                    recall[r, t, k] = rc_last
                else:
                    rr = slice(s, s + nb) if whole else r
                    psum[t, rr] += q.sum(1)
                    rsum[t, rr] += rc_last
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
        psum, rsum = np.ascontiguousarray(psum.T), np.ascontiguousarray(rsum.T)  # sums over t as before
        with np.errstate(invalid="ignore", divide="ignore"):
            out = {"map50_95": psum.sum(1) / (n_cat * n_t * n_r),
                   "map50": psum[:, t50].sum(1) / (n_cat * n_r * len(t50)),
                   "map75": psum[:, t75].sum(1) / (n_cat * n_r * len(t75)),
                   "ar100": rsum.sum(1) / (n_cat * n_t)}
        out = {k: np.where(n_cat > 0, v, math.nan) for k, v in out.items()}
    return {k: v[0] if single else v for k, v in out.items()}


class COCODetectionMetric(Metric):
    """COCO box mAP@[.5:.95], mAP@.5, mAP@.75 and AR@100 via pycocotools (see module docstring). Higher is better."""

    Config = DetMetricConfig
    task_kind = "detection"
    directions = {"map50_95": True, "map50": True, "map75": True, "ar100": True}
    range = (0.0, 1.0)
    summary = "COCO box mAP@[.5:.95], mAP@.5, mAP@.75, AR@100 (pycocotools COCOeval, per-category, crowd-aware)"

    def reset(self) -> None:
        super().reset()
        self._preds: dict[str, dict] = {}
        self._targets: dict[str, dict] = {}
        self._cache: tuple | None = None
        self._stats: dict[str, np.ndarray] | None = None

    def update(self, pred: Any, target: Any, image_id: str) -> None:
        image_id = str(image_id)
        p = _as_det(pred, "prediction", image_id)
        if "scores" not in p:
            raise InputError(f"prediction for image {image_id!r} has no 'scores'")
        t = _as_det(target, "target", image_id)
        if "scores" in t:  # pseudo-GT: the model's own confident detections on the reference are the labels
            keep = t["scores"] >= self.config.target_score_thresh
            t = {"boxes": t["boxes"][keep], "labels": t["labels"][keep], "iscrowd": t["iscrowd"][keep]}
        self._preds[image_id] = p
        self._targets[image_id] = t
        self._cache = self._stats = None

    @property
    def n_images(self) -> int:
        return len(self._targets)

    def _evaluate(self) -> tuple[np.ndarray | None, Any, dict]:
        if self._cache is None:
            gt, res = to_coco(self._preds, self._targets)
            if not gt["annotations"] or all(a["iscrowd"] for a in gt["annotations"]):
                stats, ev = np.full(12, np.nan), None
            elif not res:
                stats, ev = np.zeros(12), None
            else:
                stats, ev = coco_eval(gt, res, max_dets=tuple(self.config.max_dets))
            self._cache = (stats, ev, gt)
        return self._cache

    def compute(self) -> dict[str, float]:
        """COCOeval numbers on the whole dataset: :meth:`reduce` of :meth:`sufficient_stats` with unit weights."""
        stats = self.sufficient_stats()
        out = self.reduce(stats, np.ones(len(stats["image_ids"])))
        return {k: float(out[k]) for k in self.directions}

    def sufficient_stats(self) -> dict[str, np.ndarray]:
        """Per-image match tables (:func:`coco_match_table`) plus ``image_ids`` (row order of the image axis)."""
        if self._stats is None:
            gt, res = to_coco(self._preds, self._targets)
            self._stats = {"image_ids": np.asarray(list(self._targets), dtype=str),
                           **coco_match_table(gt, res, tuple(self.config.max_dets))}
        return self._stats

    @staticmethod
    def reduce(stats: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs on a weighting of the images (``(n,)`` or ``(B, n)`` counts): :func:`coco_reduce`."""
        return coco_reduce(stats, weights)

    def coco_stats(self) -> dict[str, float]:
        """All twelve COCOeval summary numbers by name (``map_small``, ``ar10`` ...), NaN where undefined."""
        stats, _, _ = self._evaluate()
        names = list(_STAT_INDEX) + ["ar_small", "ar_medium", "ar_large"]
        return {n: float(stats[i]) for i, n in enumerate(names)}

    def per_class(self) -> dict[str, float]:
        """AP@[.5:.95] per category with ground truth (key: class name if configured, else the category id)."""
        _, ev, _ = self._evaluate()
        if ev is None:
            return {}
        prec = ev.eval["precision"][:, :, :, 0, -1]  # T x R x K, area 'all', last maxDets
        out = {}
        names = self.config.class_names
        for k, cat in enumerate(ev.params.catIds):
            p = prec[:, :, k]
            p = p[p > -1]
            if p.size == 0:
                continue
            key = names[cat] if 0 <= cat < len(names) and names[cat] else str(cat)
            out[key] = float(p.mean())
        return out

    def per_image(self) -> dict[str, dict[str, float]]:
        if not self.config.per_image:
            return {}
        out = {}
        for image_id in self._targets:
            t = self._targets[image_id]
            sub = {image_id: self._preds[image_id]}
            g, res = to_coco(sub, {image_id: t})
            if not g["annotations"] or all(a["iscrowd"] for a in g["annotations"]):
                vals = {k: math.nan for k in self.directions}
            elif not res:
                vals = {k: 0.0 for k in self.directions}
            else:
                stats, _ = coco_eval(g, res, max_dets=tuple(self.config.max_dets))
                vals = {k: float(stats[_STAT_INDEX[k]]) for k in self.directions}
            out[image_id] = vals
        self._per_image = out
        return dict(out)

    def stderr(self) -> dict[str, float]:
        if not self._per_image and self.config.per_image:
            self.per_image()
        return super().stderr()
