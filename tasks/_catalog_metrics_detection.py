"""Built-in detection metrics (lazy registration; pycocotools is imported only when a metric computes)."""

from ledbench.tasks.registry import METRICS

# outputs: map50_95, map50, map75, ar100 (all higher is better); per-class AP via .per_class()
METRICS.register("coco_map", "ledbench.tasks.det_metrics:COCODetectionMetric", aliases=("map50_95", "map"))
