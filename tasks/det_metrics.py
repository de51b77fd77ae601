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

__all__ = ["COCODetectionMetric", "coco_eval", "to_coco"]

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


class COCODetectionMetric(Metric):
    """COCO box mAP@[.5:.95], mAP@.5, mAP@.75 and AR@100 via pycocotools (see module docstring). Higher is better."""

    Config = DetMetricConfig
    task_kind = "detection"
    outputs = {"map50_95": True, "map50": True, "map75": True, "ar100": True}
    range = (0.0, 1.0)
    summary = "COCO box mAP@[.5:.95], mAP@.5, mAP@.75, AR@100 (pycocotools COCOeval, per-category, crowd-aware)"

    def reset(self) -> None:
        super().reset()
        self._preds: dict[str, dict] = {}
        self._targets: dict[str, dict] = {}
        self._cache: tuple | None = None

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
        self._cache = None

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
        stats, _, _ = self._evaluate()
        return {k: float(stats[_STAT_INDEX[k]]) for k in self.outputs}

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
                vals = {k: math.nan for k in self.outputs}
            elif not res:
                vals = {k: 0.0 for k in self.outputs}
            else:
                stats, _ = coco_eval(g, res, max_dets=tuple(self.config.max_dets))
                vals = {k: float(stats[_STAT_INDEX[k]]) for k in self.outputs}
            out[image_id] = vals
        self._per_image = out
        return dict(out)

    def stderr(self) -> dict[str, float]:
        if not self._per_image and self.config.per_image:
            self.per_image()
        return super().stderr()
