"""Content-addressed cache for enhanced images and task predictions.

Keys are SHA-256 digests of canonical JSON:

- enhanced image: (cache format, enhancer identity = name + config + weights sha256 + tiling/AMP, input content
  hash) -> lossless PNG (uint8 RGB). Scores are computed on this quantised image, so a hit is bit-identical to a
  fresh computation.
- prediction: (cache format, task identity = name + config + weights sha256, image key) -> ``.npz``.
- per-image score: (cache format, metric identity, prediction key, target key) -> ``.json`` (per-image metrics
  only; dataset-level metrics such as COCO mAP are recomputed from cached predictions).

Files are written atomically (temp file + ``os.replace``): a crash never leaves a truncated entry, and every
finished unit survives for the next run (per-item resume). The root is ``$LEDBENCH_HOME/cache``, never inside the
package.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ledbench.bench.config import canonical_json, sha256_text
from ledbench.bench.files import atomic_write_bytes
from ledbench.bench.imageio import encode_png, read_png_u8

CACHE_FORMAT = 1


def enhanced_key(enhancer_identity: dict[str, Any], input_hash: str) -> str:
    return sha256_text(canonical_json({"v": CACHE_FORMAT, "stage": "enhance", "enhancer": enhancer_identity,
                                       "input": input_hash}))


def score_key(metric_identity: dict[str, Any], pred_key: str, target_key: str) -> str:
    return sha256_text(canonical_json({"v": CACHE_FORMAT, "stage": "score", "metric": metric_identity,
                                       "pred": pred_key, "target": target_key}))


def prediction_key(task_identity: dict[str, Any], image_key: str) -> str:
    return sha256_text(canonical_json({"v": CACHE_FORMAT, "stage": "predict", "task": task_identity,
                                       "image": image_key}))


class Cache:
    """Enhanced-image and prediction store under ``root``; ``stats`` counts hits and misses per stage."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.stats: Counter = Counter()

    def _path(self, kind: str, key: str, suffix: str) -> Path:
        return self.root / kind / key[:2] / f"{key}{suffix}"

    # -- enhanced images ----------------------------------------------------------------------------------------
    def enhanced_path(self, key: str) -> Path:
        return self._path("enhanced", key, ".png")

    def has_enhanced(self, key: str) -> bool:
        return self.enhanced_path(key).is_file()

    def get_enhanced(self, key: str, *, count: bool = True) -> np.ndarray | None:
        """The cached uint8 image or None; ``count=False`` for re-reads that should not count as hits."""
        path = self.enhanced_path(key)
        img = None
        if path.is_file():
            try:
                img = read_png_u8(path)
            except OSError:  # unreadable entry: treat as a miss (it is overwritten on recomputation)
                img = None
        if count:
            self.stats["enhance_hit" if img is not None else "enhance_miss"] += 1
        return img

    def put_enhanced(self, key: str, img_u8: np.ndarray) -> Path:
        path = self.enhanced_path(key)
        atomic_write_bytes(path, encode_png(img_u8))
        return path

    # -- predictions --------------------------------------------------------------------------------------------
    def prediction_path(self, key: str) -> Path:
        return self._path("predictions", key, ".npz")

    def has_prediction(self, key: str) -> bool:
        return self.prediction_path(key).is_file()

    def get_prediction(self, key: str, *, count: bool = True) -> dict[str, np.ndarray] | None:
        path = self.prediction_path(key)
        pred = None
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    pred = {k: data[k] for k in data.files}
            except (OSError, ValueError):
                pred = None
        if count:
            self.stats["predict_hit" if pred is not None else "predict_miss"] += 1
        return pred

    def put_prediction(self, key: str, pred: dict[str, Any]) -> Path:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in pred.items()})
        path = self.prediction_path(key)
        atomic_write_bytes(path, buf.getvalue())
        return path

    # -- per-image scores ---------------------------------------------------------------------------------------
    def get_score(self, key: str) -> dict[str, float] | None:
        import json

        path = self._path("scores", key, ".json")
        try:
            return {k: float(v) for k, v in json.loads(path.read_text()).items()}
        except (OSError, ValueError):
            return None

    def put_score(self, key: str, values: dict[str, float]) -> None:
        import json

        atomic_write_bytes(self._path("scores", key, ".json"), json.dumps(values).encode())
