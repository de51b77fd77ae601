"""Built-in segmentation tasks (lazy registration; no torch / transformers / ultralytics import here)."""

from ledbench.tasks.registry import TASKS

TASKS.register("seg_segformer", "ledbench.tasks.segmentation:SegFormerTask")
TASKS.register("seg_segformer.b0_cityscapes", "ledbench.tasks.segmentation:SegFormerTask", tag="b0_cityscapes")
TASKS.register("seg_yolo", "ledbench.tasks.ultralytics_yolo:YOLOSegTask")
# ESPNetv2 (EdgeNets, MIT), shipped in ledbench/tasks/weights: works offline. Default tag: Cityscapes s=1.0
TASKS.register("seg_espnetv2", "ledbench.tasks.segmentation:ESPNetv2Task")
TASKS.register("seg_espnetv2.pascal", "ledbench.tasks.segmentation:ESPNetv2Task", tag="pascal")
TASKS.register("seg_espnetv2.city_s2", "ledbench.tasks.segmentation:ESPNetv2Task", tag="city_s2")
