"""The dataset registry instance (``DATASETS``); built-ins are the import strings in ``_catalog.py``."""

from __future__ import annotations

from ledbench.bench.registry import Registry

DATASETS: Registry = Registry("dataset", base_cls="ledbench.datasets.base:Dataset",
                              entry_point_group="ledbench.datasets", catalogs=("ledbench.datasets._catalog",))
