"""Downstream tasks (depth, segmentation, detection, quality) and their metrics.

    from ledbench.tasks import create_task, list_tasks
    det = create_task("det_yolo_fastest")
    preds = det.predict([img])            # img: H x W x 3 float32 RGB in [0, 1]

Task models are created once per process and reused (``create_task`` caches instances by name, config and
weights). Built-ins register lazily; importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

from ledbench.bench.config import canonical_json
from ledbench.bench.plugin import build_plan
from ledbench.bench.registry import available_only
from ledbench.tasks.registry import TASKS

__all__ = ["TASKS", "create_task", "list_tasks", "task_availability", "task_class"]

_INSTANCES: dict[str, Any] = {}


def task_class(name: str):
    """The class registered for ``name`` (``arch`` or ``arch.tag``; imports it)."""
    return TASKS.get(name)


def create_task(name: str, weights: str | None = None, device: Any = "cpu", *, download: bool = False,
                reuse: bool = True, trust_weights: bool = False, **overrides: Any):
    """Build (or reuse) a task model by registry name (``arch`` or ``arch.tag``) with Config overrides.

    ``trust_weights``: allow full unpickling of a checkpoint that stores Python objects (files you trust only);
    by default every checkpoint is read with ``weights_only=True`` or from safetensors."""
    cls, config, tag, weights = build_plan(TASKS, name, weights, overrides)
    cache_key = canonical_json([name, tag, weights, str(device), config, bool(trust_weights)])
    if reuse and cache_key in _INSTANCES:
        return _INSTANCES[cache_key]
    task = cls(config, name=name, tag=tag, weights=weights, device=device, download=download,
               trust_weights=trust_weights)
    if reuse:
        _INSTANCES[cache_key] = task
    return task


def task_availability(name: str) -> tuple[bool, str]:
    """``(True, "")`` when ``name`` can be built offline now, else ``(False, how to enable it)``."""
    key, meta = TASKS.lookup(name)
    cls = TASKS.get(key)
    tag = meta.get("tag") or cls.default_tag
    return cls.availability(meta.get("tag"), what=f"{key}.{tag}" if tag else key)


def list_tasks(filter: str | list[str] | None = None, exclude: str | list[str] | None = None, *,
               available: bool = False) -> list[str]:
    """Registered task names (``arch`` and every declared ``arch.tag``), naturally sorted; wildcards filter.
    ``available=True`` keeps only the names whose weights are present offline (:func:`task_availability`)."""
    names = TASKS.names(filter, exclude)
    return available_only(names, task_availability) if available else names

