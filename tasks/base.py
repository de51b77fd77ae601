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
from ledbench.bench.config import NoConfig, config_hash, config_to_dict
from ledbench.bench.errors import WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, find_local, resolve_weights, sha256_file, unavailable_message


class Task:
    """Base class. Subclasses set ``kind``, ``Config``, ``default_metrics`` and implement :meth:`predict`."""

    kind: ClassVar[str] = "quality"
    Config: ClassVar[type] = NoConfig
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {}
    default_tag: ClassVar[str | None] = None
    requires_weights: ClassVar[bool] = False
    default_metrics: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    depth_kind: ClassVar[str | None] = None  # depth tasks: "metric" or "relative_inverse"

    def __init__(self, config: Any = None, *, name: str | None = None, tag: str | None = None,
                 weights: str | None = None, device: Any = "cpu", download: bool = False):
        from ledbench.enhancers.base import resolve_device

        self.config = config if config is not None else self.Config()
        self.name = name or type(self).__name__.lower()
        self.device = resolve_device(device)
        self.tag = tag or self.default_tag
        self.weights_path = None
        self.weights_sha256: str | None = None
        if weights is not None and weights in self.weights_tags:
            self.tag, weights = weights, None
        self.weights_spec = self.weights_tags.get(self.tag) if self.tag else None
        if self.requires_weights or weights is not None:
            spec = self.weights_spec or WeightsSpec(filename=str(weights).rsplit("/", 1)[-1])
            if self.weights_spec is None and weights is None:
                raise WeightsUnavailable(f"task {self.name} needs weights=PATH")
            self.weights_path = resolve_weights(spec, weights, what=self.name, download=download)
            self.weights_sha256 = sha256_file(self.weights_path)
        self.setup()

    def setup(self) -> None:
        """Load the model (once); called at the end of ``__init__``."""

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        raise NotImplementedError

    @classmethod
    def availability(cls, tag: str | None = None, what: str | None = None) -> tuple[bool, str]:
        if not cls.requires_weights:
            return True, ""
        tag = tag or cls.default_tag
        spec = cls.weights_tags.get(tag) if tag else None
        if spec is None:
            return False, "needs weights=PATH"
        if find_local(spec) is not None:
            return True, ""
        return False, unavailable_message(spec, what or f"{cls.__name__}.{tag}")

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "config": config_to_dict(self.config), "weights_sha256": self.weights_sha256}

    @property
    def config_hash(self) -> str:
        return config_hash(self.identity())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class QualityTask(Task):
    """The image itself is the prediction; quality metrics compare it with the reference (or score it alone)."""

    kind = "quality"
    default_metrics = ("psnr", "ssim")
    summary = "image quality of the enhanced output (full-reference against the sharp reference, or no-reference)"

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        return [{"image": np.asarray(img, dtype=np.float32)} for img in images]
