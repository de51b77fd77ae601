"""Built-in quality task registration (lazy)."""

from ledbench.tasks.registry import TASKS

TASKS.register("quality", "ledbench.tasks.base:QualityTask")
