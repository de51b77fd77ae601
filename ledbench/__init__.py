"""ledbench: does this night-time image enhancer make the downstream models better?

Importing this package is cheap: it imports neither torch nor any model library and touches no network.
The public entry points live in the sub-packages::

    from ledbench.enhancers import create_enhancer, list_enhancers
    from ledbench.tasks import create_task, list_tasks
    from ledbench.tasks.metrics import create_metric, list_metrics
    from ledbench.datasets import create_dataset, list_datasets
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
