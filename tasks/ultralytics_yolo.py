"""ultralytics YOLO tasks: ``det_yolo`` (boxes) and ``seg_yolo`` (instance masks rasterised to a semantic map).

Both share :class:`UltralyticsTask`: weights resolved by ledbench (never by ultralytics' downloader), the
offline-safe environment of :mod:`ledbench.tasks.ultralytics_env` set before ultralytics is imported, and one
batched ``predict`` on uint8 BGR images (ultralytics' own convention).

- ``det_yolo``: ``{"boxes": float32 N x 4 xyxy in input-image pixels, "scores": float32 N, "labels": int64 N}``;
  COCO category ids for COCO-80 models (contiguous index ``i`` -> ``COCO80_TO_COCO91[i]``), else class indices.
  Default thresholds are evaluation thresholds (``conf`` 0.001 as ultralytics ``val``): the metric decides.
- ``seg_yolo``: ``{"mask": int64 H x W}``: 0 = background, ``1 + c`` = COCO-80 class ``c``; masks at input
  resolution (``retina_masks``); lower-score instances are painted first, so the most confident instance wins where
  masks overlap; instances below ``mask_conf`` are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ledbench.bench.errors import WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, find_local, resolve_weights, sha256_file, unavailable_message
from ledbench.tasks.base import Task, check_image, to_uint8_half_up
from ledbench.tasks.detection import COCO80_NAMES, COCO80_TO_COCO91, empty_detections

__all__ = ["UltralyticsTask", "YOLOConfig", "YOLOSegConfig", "YOLOSegTask", "YOLOTask", "ultra_spec"]

_ULTRA_ASSETS = "https://github.com/ultralytics/assets/releases/download/v8.3.0/"
_ULTRA_LICENSE = "AGPL-3.0 (ultralytics)"


def ultra_spec(filename: str, paper: str) -> WeightsSpec:
    return WeightsSpec(filename=filename, url=_ULTRA_ASSETS + filename, license=_ULTRA_LICENSE,
                       source="ultralytics/assets release v8.3.0", paper=paper, subdir="ultralytics",
                       extra={"content_check": "ledbench.tasks.ultralytics_env:check_ultralytics_checkpoint"})


@dataclass(frozen=True)
class YOLOConfig:
    """``model``: a .yaml (random init, offline) or .pt name/path; empty = the tag's weights file.

    ``label_space``: ``auto`` maps 80-class models to COCO ids, ``coco91`` forces it, ``index`` keeps class indices.
    """

    model: str = ""
    imgsz: int = 640
    conf: float = 0.001
    iou: float = 0.7
    max_det: int = 300
    half: bool = False
    batch: int = 8
    label_space: Literal["auto", "coco91", "index"] = "auto"


class UltralyticsTask(Task):
    """Shared model loading for ultralytics tasks (weights through :mod:`ledbench.bench.weights`)."""

    external_weights = True  # weights=FILE/FOLDER is resolved by this class (explicit_weights)

    Config = YOLOConfig
    weights_tags: dict[str, WeightsSpec] = {}

    @classmethod
    def availability(cls, tag: str | None = None, what: str | None = None) -> tuple[bool, str]:
        spec = cls.weights_tags.get(tag or cls.default_tag or "")
        if spec is None or find_local(spec) is not None:
            return True, ""
        return False, unavailable_message(spec, what or f"{cls.__name__}.{tag or cls.default_tag}")

    def _model_source(self) -> str:
        model = self.config.model
        if self.explicit_weights:
            path = Path(self.explicit_weights).expanduser()
            if not path.is_file():
                raise WeightsUnavailable(f"weights file {str(path)!r} for {self.name} does not exist; check the path")
            self.weights_path, self.weights_sha256 = path, sha256_file(path)
            return str(path)
        if model.endswith((".yaml", ".yml")):
            return model  # architecture only, random init (ultralytics ships the yaml files)
        if model:
            path = Path(model).expanduser()
            if path.is_file():
                self.weights_path, self.weights_sha256 = path, sha256_file(path)
                return str(path)
            spec = WeightsSpec(filename=path.name, url=_ULTRA_ASSETS + path.name, license=_ULTRA_LICENSE,
                               subdir="ultralytics")
        else:
            spec = self.weights_spec
            if spec is None:
                raise WeightsUnavailable(f"task {self.name} needs model=NAME.pt|.yaml or weights=PATH")
        self.weights_path = resolve_weights(spec, None, what=self.name, download=self.download)
        self.weights_sha256 = sha256_file(self.weights_path)
        return str(self.weights_path)

    def setup(self) -> None:
        from ledbench.tasks.ultralytics_env import prepare_ultralytics

        prepare_ultralytics()
        from ultralytics import YOLO

        src = self._model_source()
        if not src.endswith((".yaml", ".yml")) and not getattr(self, "trust_weights", False):
            from ledbench.tasks.ultralytics_env import check_ultralytics_checkpoint

            check_ultralytics_checkpoint(src, what=self.name)  # ultralytics unpickles in full: check it first
        self.model = YOLO(src, task=self.ultra_task)
        names = getattr(self.model, "names", None) or {}
        self.num_classes = len(names)
        space = self.config.label_space
        self.coco_ids = space == "coco91" or (space == "auto" and self.num_classes == 80)
        self._device_arg = "cpu" if self.device.type == "cpu" else str(self.device)

    def _predict_raw(self, images: list[np.ndarray]) -> list:
        bgr = [np.ascontiguousarray(to_uint8_half_up(check_image(im, i))[..., ::-1]) for i, im in enumerate(images)]
        out = []
        import torch

        with torch.inference_mode():
            for s in range(0, len(bgr), max(1, self.config.batch)):
                out.extend(self.model.predict(bgr[s:s + self.config.batch], imgsz=self.config.imgsz,
                                              conf=self.config.conf, iou=self.config.iou,
                                              max_det=self.config.max_det, half=self.config.half,
                                              device=self._device_arg, verbose=False, **self._predict_kwargs()))
        return out

    def _predict_kwargs(self) -> dict:
        return {}

    def _labels(self, cls: np.ndarray) -> np.ndarray:
        cls = cls.astype(np.int64)
        if self.coco_ids:
            table = np.asarray(COCO80_TO_COCO91, dtype=np.int64)
            return table[np.clip(cls, 0, 79)]
        return cls


class YOLOTask(UltralyticsTask):
    """ultralytics YOLO detector (any .pt or .yaml); boxes in input pixels, COCO ids for COCO-80 models."""

    kind = "detection"
    ultra_task = "detect"
    default_metrics = ("coco_map",)
    label_free_metrics = ("det_stats",)
    summary = "ultralytics YOLO object detection (YOLOv8 / YOLO11 .pt, or any .yaml)"
    weights_tags = {
        "yolov8n": ultra_spec("yolov8n.pt", "Jocher et al., Ultralytics YOLOv8 (2023)"),
        "yolov8s": ultra_spec("yolov8s.pt", "Jocher et al., Ultralytics YOLOv8 (2023)"),
        "yolo11n": ultra_spec("yolo11n.pt", "Jocher & Qiu, Ultralytics YOLO11 (2024)"),
        "yolo11s": ultra_spec("yolo11s.pt", "Jocher & Qiu, Ultralytics YOLO11 (2024)"),
    }
    default_tag = "yolov8n"

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        out = []
        for res in self._predict_raw(images):
            if res.boxes is None or len(res.boxes) == 0:
                out.append(empty_detections())
                continue
            b = res.boxes
            out.append({"boxes": b.xyxy.cpu().numpy().astype(np.float32),
                        "scores": b.conf.cpu().numpy().astype(np.float32),
                        "labels": self._labels(b.cls.cpu().numpy())})
        return out


# -- YOLO-seg -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class YOLOSegConfig(YOLOConfig):
    """YOLOConfig plus ``mask_conf``: instances below it are not painted (0.25, the usual display threshold)."""

    mask_conf: float = 0.25


class YOLOSegTask(UltralyticsTask):
    """ultralytics YOLO-seg; instance masks rasterised to a semantic map (0 background, 1 + COCO-80 index)."""

    kind = "segmentation"
    ultra_task = "segment"
    Config = YOLOSegConfig
    default_metrics = ("miou",)
    summary = "ultralytics YOLO-seg instance masks rasterised to a semantic map (0 = background)"
    weights_tags = {
        "yolov8n_seg": ultra_spec("yolov8n-seg.pt", "Jocher et al., Ultralytics YOLOv8 (2023)"),
        "yolo11n_seg": ultra_spec("yolo11n-seg.pt", "Jocher & Qiu, Ultralytics YOLO11 (2024)"),
    }
    default_tag = "yolov8n_seg"

    def setup(self) -> None:
        super().setup()
        names = self.model.names or {}
        if self.num_classes == 80 and self.config.label_space != "index":
            base = COCO80_NAMES
        else:
            base = tuple(str(names[i]) for i in range(self.num_classes))
        self.class_names = ("background",) + tuple(base)
        self.num_classes = len(self.class_names)  # mask classes: background + the detector's classes

    def _predict_kwargs(self) -> dict:
        return {"retina_masks": True}

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        out = []
        for im, res in zip(images, self._predict_raw(images)):
            h, w = np.asarray(im).shape[:2]
            sem = np.zeros((h, w), dtype=np.int64)
            if res.masks is not None and res.boxes is not None and len(res.boxes):
                masks = res.masks.data.cpu().numpy() > 0.5
                scores = res.boxes.conf.cpu().numpy()
                cls = res.boxes.cls.cpu().numpy().astype(np.int64)
                if masks.shape[1:] != (h, w):  # safety net; retina_masks gives input resolution
                    import cv2

                    masks = np.stack([cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
                                      for m in masks])
                for i in np.argsort(scores, kind="stable"):  # ascending: the most confident instance is painted last
                    if scores[i] >= self.config.mask_conf:
                        sem[masks[i]] = cls[i] + 1
            out.append({"mask": sem})
        return out
