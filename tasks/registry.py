"""Registry instances: ``TASKS`` (downstream task models; ``arch.tag`` names from each class's ``weights_tags``)
and ``METRICS`` (metric accumulators). Built-ins: the import strings in ``_catalog.py`` and ``_catalog_metrics.py``."""

from __future__ import annotations

from ledbench.bench.registry import Registry

TASKS: Registry = Registry("task", base_cls="ledbench.tasks.base:Task", entry_point_group="ledbench.tasks",
                           catalogs=("ledbench.tasks._catalog",), tags=True)
METRICS: Registry = Registry("metric", base_cls="ledbench.tasks.metrics:Metric", entry_point_group="ledbench.metrics",
                             catalogs=("ledbench.tasks._catalog_metrics",))
