"""Downstream tasks (depth, segmentation, detection, quality) and their metrics.

    from ledbench.tasks import create_task, list_tasks
    det = create_task("det_yolo_fastest")
    preds = det.predict([img])            # img: H x W x 3 float32 RGB in [0, 1]

Task models are created once per process and reused (``create_task`` caches instances by name, config and
weights). Built-ins register lazily; importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

from ledbench.bench.config import build_config, canonical_json
from ledbench.tasks.registry import TASKS

__all__ = ["TASKS", "create_task", "list_tasks", "task_availability", "task_class"]

_INSTANCES: dict[str, Any] = {}


def _split(name: str) -> tuple[str, dict[str, Any]]:
    return TASKS.lookup(name)


def task_class(name: str):
    key, _ = _split(name)
    return TASKS.get(key)


def create_task(name: str, weights: str | None = None, device: Any = "cpu", *, download: bool = False,
                reuse: bool = True, **overrides: Any):
    """Build (or reuse) a task model by registry name (``arch`` or ``arch.tag``) with Config overrides."""
    key, meta = _split(name)
    cls = TASKS.get(key)
    config = build_config(cls.Config, {**meta.get("config", {}), **overrides}, owner=name)
    cache_key = canonical_json([name, weights, str(device), config])
    if reuse and cache_key in _INSTANCES:
        return _INSTANCES[cache_key]
    task = cls(config, name=name, tag=meta.get("tag"), weights=weights, device=device, download=download)
    if reuse:
        _INSTANCES[cache_key] = task
    return task


def task_availability(name: str) -> tuple[bool, str]:
    key, meta = _split(name)
    cls = TASKS.get(key)
    tag = meta.get("tag") or cls.default_tag
    return cls.availability(meta.get("tag"), what=f"{key.split('.')[0]}.{tag}" if tag else key)


def list_tasks(filter: str | list[str] | None = None, exclude: str | list[str] | None = None) -> list[str]:
    return TASKS.names(filter, exclude)
