"""The dataset registry instance (``DATASETS``)."""

from __future__ import annotations

from ledbench.bench.registry import Registry

DATASETS: Registry = Registry("dataset", entry_point_group="ledbench.datasets",
                              catalogs=("ledbench.datasets._catalog_builtin",))
