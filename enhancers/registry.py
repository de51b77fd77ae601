"""The enhancer registry instance (``ENHANCERS``); built-ins register lazily in the ``_catalog_*`` modules."""

from __future__ import annotations

from ledbench.bench.registry import Registry

ENHANCERS: Registry = Registry(
    "enhancer", entry_point_group="ledbench.enhancers",
    catalogs=tuple(f"ledbench.enhancers._catalog_{c}" for c in ("classical", "lle", "deblur", "joint", "dap_led")))
