"""Built-in segmentation metrics (lazy registration)."""

from ledbench.tasks.registry import METRICS
from ledbench.tasks.seg_metrics import CITYSCAPES_CLASSES, VOC_CLASSES

# outputs: miou, pixel_acc (higher is better); per-class IoU via .per_class() or per_class=true
METRICS.register("miou", "ledbench.tasks.seg_metrics:ConfusionMatrixMetric", aliases=("seg_miou",))
METRICS.register("miou_cityscapes", "ledbench.tasks.seg_metrics:ConfusionMatrixMetric",
                 config={"num_classes": 19, "class_names": CITYSCAPES_CLASSES})
METRICS.register("miou_voc", "ledbench.tasks.seg_metrics:ConfusionMatrixMetric",
                 config={"num_classes": 21, "class_names": VOC_CLASSES})
