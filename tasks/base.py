"""Task base class: a downstream model that turns images into predictions.

``predict(images)`` takes a list of H x W x 3 float32 RGB arrays in [0, 1] (sizes may differ) and returns one
prediction per image as a dict of numpy arrays (so it can be cached as ``.npz``), in the project-wide convention:

- detection: ``{"boxes": float32 N x 4 xyxy in input pixels, "scores": float32 N, "labels": int64 N}`` with COCO
  category ids;
- segmentation: ``{"mask": int64 H x W}`` class-index map at input resolution;
- depth: ``{"depth": float32 H x W}``; the task's ``depth_kind`` says ``metric`` or ``relative_inverse``;
- quality: ``{"image": float32 H x W x 3}`` (the image itself; quality metrics compare it with the reference).

Task models are loaded once per process (see :func:`ledbench.tasks.create_task`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ledbench.bench.device import resolve_device
from ledbench.bench.plugin import WeightedPlugin


class Task(WeightedPlugin):
    """Base class. Subclasses set ``kind``, ``Config``, ``default_metrics`` and implement :meth:`predict`."""

    kind: ClassVar[str] = "quality"
    default_metrics: ClassVar[tuple[str, ...]] = ()
    depth_kind: ClassVar[str | None] = None  # depth tasks: "metric" or "relative_inverse"

    def __init__(self, config: Any = None, *, name: str | None = None, tag: str | None = None,
                 weights: str | None = None, device: Any = "cpu", download: bool = False):
        self.device = resolve_device(device)
        self._init_plugin(config, name, tag, weights, download)
        self.setup()

    def setup(self) -> None:
        """Load the model (once); called at the end of ``__init__``."""

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class QualityTask(Task):
    """The image itself is the prediction; quality metrics compare it with the reference (or score it alone)."""

    kind = "quality"
    default_metrics = ("psnr", "ssim")
    summary = "image quality of the enhanced output (full-reference against the sharp reference, or no-reference)"

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        return [{"image": np.asarray(img, dtype=np.float32)} for img in images]
