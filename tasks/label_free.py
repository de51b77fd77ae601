"""Label-free downstream statistics: what a task model does on images that have no labels and no sharp reference.

Real night photos come without boxes, masks or a reference, so neither ``real_gt`` nor ``pseudo_gt`` applies.
These metrics (protocol ``label_free``) describe the task model's output on each image instead. They are
**statistics, not accuracy**: more or more confident detections on an enhanced photo are a hint that the detector
sees more, never proof that what it sees is right. Directions follow that reading and are our convention.

- ``det_stats`` (detection): ``dets_per_image`` = number of detections with score >= ``conf`` (↑) and
  ``det_conf`` = mean score of those detections (↑; an image without any is left out of this mean). ``conf`` 0.25
  is the default confidence of ultralytics ``predict`` and of darknet's ``detector test``; the cached predictions
  keep every box down to the task's own (much lower) mAP threshold.
- ``seg_stats`` (segmentation): ``seg_entropy`` = mean per-pixel predictive entropy of the model's softmax in nats
  (↓: a more certain model) and ``seg_conf`` = mean per-pixel top-class probability (↑), both at the model's output
  resolution (before upsampling to the image); ``seg_classes`` = number of classes covering at least
  ``min_fraction`` of the image's pixels (↑; 255 = no class is not counted). Needs a task whose predictions carry
  ``entropy`` and ``confidence`` (ESPNetv2, SegFormer); YOLO-seg has no per-pixel probabilities.

Both are per-image means (n = images), so the run's paired bootstrap gives their intervals like PSNR's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ledbench.bench.errors import InputError
from ledbench.tasks.metrics import PerImageMetric

__all__ = ["DetectionStats", "SegmentationStats", "LABEL_FREE"]

LABEL_FREE = "label_free"
IGNORE_INDEX = 255  # "no class" in the masks (Cityscapes/VOC convention); never counted as a class


@dataclass(frozen=True)
class DetectionStatsConfig:
    """``conf``: a detection counts when its score is at least this (ultralytics and darknet default 0.25)."""

    conf: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"conf must be in [0, 1], got {self.conf}")


class DetectionStats(PerImageMetric):
    """Detections per image and their mean confidence (label-free; see the module docstring)."""

    Config = DetectionStatsConfig
    directions: ClassVar[dict[str, bool]] = {"dets_per_image": True, "det_conf": True}
    task_kind = "detection"
    requires_reference = False
    protocol: ClassVar[str] = LABEL_FREE
    range = (0.0, math.inf)
    summary = "label-free: detections per image (score >= conf) and their mean confidence"

    def score(self, pred: Any, target: Any = None) -> dict[str, float]:
        if not isinstance(pred, dict) or "scores" not in pred:
            raise InputError("det_stats expects a detection prediction with 'scores'")
        scores = np.asarray(pred["scores"], dtype=np.float64).reshape(-1)
        kept = scores[scores >= self.config.conf]
        return {"dets_per_image": float(kept.size),
                "det_conf": float(kept.mean()) if kept.size else math.nan}


@dataclass(frozen=True)
class SegmentationStatsConfig:
    """``min_fraction``: a class counts in ``seg_classes`` when it covers at least this share of the pixels."""

    min_fraction: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 < self.min_fraction <= 1.0:
            raise ValueError(f"min_fraction must be in (0, 1], got {self.min_fraction}")


class SegmentationStats(PerImageMetric):
    """Predictive entropy, top-class probability and number of classes seen (label-free; see the module
    docstring)."""

    Config = SegmentationStatsConfig
    directions: ClassVar[dict[str, bool]] = {"seg_entropy": False, "seg_conf": True, "seg_classes": True}
    task_kind = "segmentation"
    requires_reference = False
    protocol: ClassVar[str] = LABEL_FREE
    range = (0.0, math.inf)
    summary = "label-free: mean predictive entropy (nats), top-class probability, classes per image"

    def score(self, pred: Any, target: Any = None) -> dict[str, float]:
        if not isinstance(pred, dict) or "mask" not in pred:
            raise InputError("seg_stats expects a segmentation prediction with 'mask'")
        missing = [k for k in ("entropy", "confidence") if k not in pred]
        if missing:
            raise InputError("seg_stats needs per-pixel class probabilities, and this task model's predictions "
                             f"have no {' or '.join(missing)}; use seg_espnetv2 or seg_segformer")
        mask = np.asarray(pred["mask"]).reshape(-1)
        counts = np.bincount(mask[(mask >= 0) & (mask != IGNORE_INDEX)].astype(np.int64))
        share = counts / max(1, mask.size)
        return {"seg_entropy": float(np.asarray(pred["entropy"]).item()),
                "seg_conf": float(np.asarray(pred["confidence"]).item()),
                "seg_classes": float(np.count_nonzero(share >= self.config.min_fraction))}


def softmax_uncertainty(logits: Any) -> tuple[Any, Any]:
    """Mean per-pixel predictive entropy (nats) and mean top-class probability of ``logits`` (N x C x H x W torch
    tensor) for each of the N images: two float32 tensors of shape N. Computed in float32 with log-softmax, so a
    class with probability 0 contributes 0 (the limit of p log p)."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=1)
    p = logp.exp()
    entropy = -(p * logp).sum(1).flatten(1).mean(1)
    confidence = p.amax(1).flatten(1).mean(1)
    return entropy, confidence


def uncertainty_fields(entropy: Any, confidence: Any, i: int) -> dict[str, np.ndarray]:
    """Image ``i``'s ``entropy`` and ``confidence`` as 0-d float32 arrays (prediction fields cached as .npz)."""
    return {"entropy": np.asarray(float(entropy[i]), dtype=np.float32),
            "confidence": np.asarray(float(confidence[i]), dtype=np.float32)}
