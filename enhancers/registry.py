"""The enhancer registry instance (``ENHANCERS``): built-ins are the import strings in ``_catalog.py``; the
``arch.tag`` names come from each class's ``weights_tags``."""

from __future__ import annotations

from ledbench.bench.registry import Registry

ENHANCERS: Registry = Registry("enhancer", base_cls="ledbench.enhancers.base:Enhancer",
                               entry_point_group="ledbench.enhancers", catalogs=("ledbench.enhancers._catalog",),
                               tags=True)
