"""Task base class (a downstream model that turns images into predictions) and the input checks tasks share.

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
from ledbench.bench.errors import InputError
from ledbench.bench.plugin import WeightedPlugin


def check_image(img: np.ndarray, i: int) -> np.ndarray:
    """Image ``i`` of a ``predict`` batch as float32 H x W x 3; any other shape is an :class:`InputError`."""
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"image {i}: expected H x W x 3 RGB, got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


def to_uint8_half_up(img: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8 as ``floor(x * 255 + 0.5)`` after clipping (round half up; the tasks' model input).

    :func:`ledbench.bench.imageio.to_uint8` rounds half to even instead; they differ only where ``x * 255`` is
    exactly ``k + 0.5``, which an image decoded from 8 bits never hits."""
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class Task(WeightedPlugin):
    """Base class. Subclasses set ``kind``, ``Config``, ``default_metrics`` and implement :meth:`predict`."""

    kind: ClassVar[str] = "quality"
    default_metrics: ClassVar[tuple[str, ...]] = ()
    #: metrics of the ``label_free`` protocol, used where the dataset has neither labels nor references
    label_free_metrics: ClassVar[tuple[str, ...]] = ()
    depth_kind: ClassVar[str | None] = None  # depth tasks: "metric" or "relative_inverse"

    def __init__(self, config: Any = None, *, name: str | None = None, tag: str | None = None,
                 weights: str | None = None, device: Any = "cpu", download: bool = False,
                 trust_weights: bool = False):
        self.device = resolve_device(device)
        self.trust_weights = trust_weights  # full unpickling of a pickled checkpoint: trusted files only
        self._init_plugin(config, name, tag, weights, download)
        self.setup()

    def setup(self) -> None:
        """Load the model (once); called at the end of ``__init__``."""

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class QualityTask(Task):
    """Image quality: the enhanced image itself is the prediction (no model runs), so the scoring stage compares
    the cached enhanced image with the reference (``full_reference``) or scores it alone (``no_reference``).
    Metrics: the run's ``metrics`` key, else :attr:`default_metrics`."""

    kind = "quality"
    default_metrics = ("psnr", "ssim")
    summary = "image quality of the enhanced output (full-reference against the sharp reference, or no-reference)"
