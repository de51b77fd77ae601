"""Registry instances: ``TASKS`` (downstream task models) and ``METRICS`` (metric accumulators)."""

from __future__ import annotations

from ledbench.bench.registry import Registry

TASKS: Registry = Registry(
    "task", entry_point_group="ledbench.tasks",
    catalogs=tuple(f"ledbench.tasks._catalog_{c}" for c in ("quality", "detection", "segmentation", "depth")))
METRICS: Registry = Registry(
    "metric", entry_point_group="ledbench.metrics",
    catalogs=tuple(f"ledbench.tasks._catalog_metrics_{c}"
                   for c in ("quality", "quality_extra", "detection", "segmentation", "depth")))
