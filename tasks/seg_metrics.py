"""Semantic-segmentation metrics from one confusion matrix accumulated over the dataset.

Protocol:

- inputs are ``int`` H x W class-index maps (or ``{"mask": ...}``); prediction and target must have the same shape;
- target pixels equal to ``ignore_index`` (255) or outside ``[0, num_classes)`` are excluded;
- a prediction outside ``[0, num_classes)`` (for example an ignore/void label) on a valid target pixel is a miss
  for the target class and a false positive for no class;
- the confusion matrix ``M[t, p]`` is summed over all images; ``IoU_c = M[c, c] / (sum_p M[c, p] + sum_t M[t, c]
  - M[c, c])``; ``pixel_acc = trace(M) / valid pixels``;
- ``miou`` averages IoU over classes whose union is non-empty (present in the labels or predicted), as
  mmsegmentation / cityscapesScripts (a class predicted but absent from the labels scores 0 and counts);
  ``average="gt_present"`` averages only over classes present in the labels, as ultralytics ``SemanticMetrics``;
- ``pseudo_gt``: the target is the same model's map on the sharp normal-light reference.

Outputs (higher is better, range [0, 1]): ``miou``, ``pixel_acc``. Per-class IoU:
:meth:`ConfusionMatrixMetric.per_class` (keys are ``class_names`` when given), also in ``compute()`` as
``iou_<name>`` when ``per_class=True``.
``per_image()`` scores each image on its own matrix.

Sufficient statistics (for the paired bootstrap of :mod:`ledbench.reports.stats`): the per-image confusion matrices
(:meth:`ConfusionMatrixMetric.sufficient_stats`); :meth:`ConfusionMatrixMetric.reduce` sums them with any image
weights and scores the sum, and ``compute()`` is that reduction with unit weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ledbench.bench.errors import InputError
from ledbench.tasks.metrics import Metric

__all__ = [
    "CITYSCAPES_CLASSES",
    "VOC_CLASSES",
    "ConfusionMatrixMetric",
    "confusion_matrix",
    "scores_from_confusion",
]

CITYSCAPES_CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                      "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
                      "motorcycle", "bicycle")
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor")


@dataclass(frozen=True)
class SegMetricConfig:
    """``num_classes`` 0 = grow with the largest label seen; ``class_names`` index -> name."""

    num_classes: int = 0
    ignore_index: int = 255
    class_names: tuple[str, ...] = ()
    average: Literal["union_present", "gt_present"] = "union_present"
    per_class: bool = False


def _mask(obj: Any, what: str, image_id: str) -> np.ndarray:
    if isinstance(obj, dict):
        if "mask" not in obj:
            raise InputError(f"{what} for image {image_id!r} must hold a 'mask' class-index map")
        obj = obj["mask"]
    arr = np.asarray(obj)
    if arr.ndim != 2:
        raise InputError(f"{what} for image {image_id!r} must be an H x W class-index map, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InputError(f"{what} for image {image_id!r} must hold integer class indices")
    return arr.astype(np.int64, copy=False)


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """``num_classes x (num_classes + 1)`` counts ``M[t, p]``; the last column counts void/out-of-range predictions."""
    valid = (target != ignore_index) & (target >= 0) & (target < num_classes)
    t = target[valid]
    p = pred[valid]
    p = np.where((p >= 0) & (p < num_classes), p, num_classes)
    idx = t * (num_classes + 1) + p
    return np.bincount(idx.ravel(), minlength=num_classes * (num_classes + 1)).reshape(num_classes, num_classes + 1)


def scores_from_confusion(matrix: np.ndarray, average: str = "union_present") -> dict[str, Any]:
    """mIoU, pixel accuracy and the per-class IoU array (NaN for classes with empty union) from ``M[t, p]``."""
    n = matrix.shape[0]
    m = matrix.astype(np.float64)
    tp = np.diag(m[:, :n])
    gt = m.sum(1)  # includes void predictions
    pr = m[:, :n].sum(0)
    union = gt + pr - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    if average == "gt_present":
        sel = gt > 0
    else:
        sel = union > 0
    miou = float(np.mean(iou[sel])) if sel.any() else math.nan
    total = m.sum()
    pixel_acc = float(tp.sum() / total) if total > 0 else math.nan
    return {"miou": miou, "pixel_acc": pixel_acc, "iou": iou}


class ConfusionMatrixMetric(Metric):
    """Confusion-matrix mIoU and pixel accuracy (see module docstring). Higher is better."""

    Config = SegMetricConfig
    task_kind = "segmentation"
    directions = {"miou": True, "pixel_acc": True}
    range = (0.0, 1.0)
    summary = "mIoU and pixel accuracy from a dataset confusion matrix, ignore index excluded"

    def __init__(self, config: Any = None, *, name: str | None = None):
        super().__init__(config, name=name)
        if self.config.per_class:
            names = self.config.class_names or tuple(str(i) for i in range(self.config.num_classes))
            self.directions = {**type(self).directions, **{f"iou_{n}": True for n in names}}

    def reset(self) -> None:
        super().reset()
        self._n = int(self.config.num_classes)
        self.matrix = np.zeros((self._n, self._n + 1), dtype=np.int64)
        self._image_cms: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _grow(self, n: int) -> None:
        if n <= self._n:
            return
        new = np.zeros((n, n + 1), dtype=np.int64)
        old = self._n
        new[:old, :old] = self.matrix[:, :old]
        new[:old, n] = self.matrix[:, old]
        self.matrix, self._n = new, n

    def update(self, pred: Any, target: Any, image_id: str) -> None:
        image_id = str(image_id)
        p = _mask(pred, "prediction", image_id)
        t = _mask(target, "target", image_id)
        if p.shape != t.shape:
            raise InputError(f"image {image_id!r}: prediction {p.shape} and target {t.shape} differ in shape")
        if self.config.num_classes <= 0:
            valid_t = t[(t != self.config.ignore_index) & (t >= 0)]
            valid_p = p[(p != self.config.ignore_index) & (p >= 0)]
            top = max(int(valid_t.max()) if valid_t.size else -1, int(valid_p.max()) if valid_p.size else -1)
            self._grow(top + 1)
        cm = confusion_matrix(p, t, self._n, self.config.ignore_index)
        self.matrix += cm
        t_idx, p_idx = np.nonzero(cm)  # sparse per-image matrix; the void column is stored as -1
        self._image_cms[image_id] = (t_idx, np.where(p_idx == self._n, -1, p_idx), cm[t_idx, p_idx])
        s = scores_from_confusion(cm, self.config.average)
        self._per_image[image_id] = {"miou": s["miou"], "pixel_acc": s["pixel_acc"]}

    def sufficient_stats(self) -> dict[str, np.ndarray]:
        """Per-image confusion matrices, sparse: entry ``j`` adds ``cm_count[j]`` to ``M[cm_target[j], cm_pred[j]]``
        of image ``cm_image[j]`` (index into ``image_ids``; ``cm_pred == num_classes`` is the void column), plus
        ``num_classes`` and ``average`` (the mIoU convention) for :meth:`reduce`."""
        parts = list(self._image_cms.values())
        img = np.concatenate([np.full(len(p[0]), i) for i, p in enumerate(parts)]) if parts else np.zeros(0)
        cat = (lambda j: np.concatenate([p[j] for p in parts]) if parts else np.zeros(0))  # noqa: E731
        pred = cat(1).astype(np.int64)
        return {"image_ids": np.asarray(list(self._image_cms), dtype=str), "cm_image": img.astype(np.int64),
                "cm_target": cat(0).astype(np.int64), "cm_pred": np.where(pred < 0, self._n, pred),
                "cm_count": cat(2).astype(np.int64), "num_classes": np.asarray(self._n),
                "average": np.asarray(self.config.average)}

    @staticmethod
    def reduce(stats: dict[str, np.ndarray], weights: np.ndarray, chunk: int = 256) -> dict[str, np.ndarray]:
        """``miou`` and ``pixel_acc`` of the weighted sum of the per-image matrices (:func:`scores_from_confusion`).

        ``weights``: ``(n,)`` or ``(B, n)`` image counts (a bootstrap resample); returns 0-d or ``(B,)`` arrays.
        Counts are summed in float64, exact for integers up to 2**53 pixels.
        """
        w = np.asarray(weights, dtype=np.float64)
        single = w.ndim == 1
        w = np.atleast_2d(w)
        c = int(stats["num_classes"])
        n_img, n_f = len(stats["image_ids"]), c * (c + 1)
        cell = stats["cm_image"] * n_f + stats["cm_target"] * (c + 1) + stats["cm_pred"]
        if n_img * n_f <= 1 << 24:  # images x matrix cells, dense (a few hundred classes and images: BLAS)
            flat = np.bincount(cell, weights=stats["cm_count"].astype(np.float64),
                               minlength=n_img * n_f).reshape(n_img, n_f)
        else:
            from scipy.sparse import csr_matrix

            flat = csr_matrix((stats["cm_count"].astype(np.float64), (stats["cm_image"], cell % n_f)),
                              shape=(n_img, n_f))
        average = str(stats["average"])
        if len(w) == 1:  # one weighting (compute()): exactly scores_from_confusion
            sc = scores_from_confusion(np.asarray(flat.T @ w[0]).reshape(c, c + 1), average)
            res = {k: np.array([sc[k]]) for k in ("miou", "pixel_acc")}
            return {k: v[0] if single else v for k, v in res.items()}
        parts = []
        for s in range(0, len(w), chunk):  # the same formulas, vectorised over replicates
            m = np.asarray((flat.T @ w[s:s + chunk].T).T).reshape(-1, c, c + 1)
            tp = np.diagonal(m[:, :, :c], axis1=1, axis2=2)
            gt, pr = m.sum(2), m[:, :, :c].sum(1)
            union = gt + pr - tp
            with np.errstate(invalid="ignore", divide="ignore"):
                iou = np.where(union > 0, tp / np.where(union > 0, union, 1), 0.0)
                sel = gt > 0 if average == "gt_present" else union > 0
                miou = np.where(sel.any(1), (iou * sel).sum(1) / sel.sum(1), math.nan)
                total = m.sum((1, 2))
                acc = np.where(total > 0, tp.sum(1) / np.where(total > 0, total, 1), math.nan)
            parts.append((miou, acc))
        res = {"miou": np.concatenate([p[0] for p in parts]), "pixel_acc": np.concatenate([p[1] for p in parts])}
        return {k: v[0] if single else v for k, v in res.items()}

    def compute(self) -> dict[str, float]:
        s = scores_from_confusion(self.matrix, self.config.average)
        out = {"miou": s["miou"], "pixel_acc": s["pixel_acc"]}
        if self.config.per_class:
            for key, val in self.per_class(include_absent=True).items():
                out[f"iou_{key}"] = val
        return out

    def per_class(self, include_absent: bool = False) -> dict[str, float]:
        """IoU per class (name if ``class_names`` covers it, else the index); NaN/absent for empty unions."""
        iou = scores_from_confusion(self.matrix, self.config.average)["iou"]
        names = self.config.class_names
        n = max(len(iou), len(names)) if include_absent else len(iou)
        out = {}
        for i in range(n):
            val = float(iou[i]) if i < len(iou) else math.nan
            if not include_absent and not math.isfinite(val):
                continue
            out[names[i] if i < len(names) else str(i)] = val
        return out
