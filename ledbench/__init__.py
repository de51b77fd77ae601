"""ledbench: does this night-time image enhancer make the downstream models better?

Importing this package is cheap: it imports neither torch nor any model library and touches no network.
The public entry points live in the sub-packages::

    from ledbench.enhancers import create_enhancer, list_enhancers
    from ledbench.tasks import create_task, list_tasks
    from ledbench.tasks.metrics import create_metric, list_metrics
    from ledbench.datasets import create_dataset, list_datasets

A whole benchmark from Python (what ``ledbench run`` does, without the console table)::

    import ledbench
    cfg = ledbench.load_run_config(None, {"enhancers": "identity,gamma", "limit": 2, "out": "runs/try"})
    outcome = ledbench.run(cfg)        # writes runs/try/results.csv ...; outcome.rows, .skipped, .errors

``ledbench.run``, ``ledbench.RunConfig`` and ``ledbench.load_run_config`` are
:mod:`ledbench.bench.runner`'s, imported on first access (so ``import ledbench`` stays light).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__"]

_LAZY = {"run": "ledbench.bench.runner", "RunConfig": "ledbench.bench.runner",
         "load_run_config": "ledbench.bench.runner"}


def __getattr__(name: str) -> Any:
    """``ledbench.run`` / ``RunConfig`` / ``load_run_config``, imported on first use (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ledbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
