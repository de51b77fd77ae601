"""Registry instances: ``TASKS`` (downstream task models) and ``METRICS`` (metric accumulators)."""

from __future__ import annotations

from ledbench.bench.registry import Registry

TASKS: Registry = Registry("task", entry_point_group="ledbench.tasks")
METRICS: Registry = Registry("metric", entry_point_group="ledbench.metrics")
