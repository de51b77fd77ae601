"""Built-in task models: one line per architecture, where the registry learns its name and import string.

Pure python (no torch / transformers / ultralytics / cv2 import). Weight tags (``depth_dpt.large``,
``det_yolo.yolo11n``, ``seg_espnetv2.pascal`` ...) are the ``weights_tags`` each class declares; the registry derives
the ``arch.tag`` names from them. Models that load folders or hub ids also take ``weights=FOLDER`` / ``model=...``.
"""

from __future__ import annotations

from ledbench.tasks.registry import TASKS

_M = "ledbench.tasks"

TASKS.register("quality", f"{_M}.base:QualityTask")
# depth (transformers): DPT and Depth Anything
TASKS.register("depth_dpt", f"{_M}.depth:DPTDepth")
TASKS.register("depth_anything", f"{_M}.depth:DepthAnythingDepth")
# detection: ultralytics YOLO; Yolo-Fastest 1.1 COCO (darknet via OpenCV DNN, shipped: works offline)
TASKS.register("det_yolo", f"{_M}.ultralytics_yolo:YOLOTask")
TASKS.register("det_yolo_fastest", f"{_M}.detection:YoloFastestTask")
# segmentation: SegFormer (transformers), ultralytics YOLO-seg, ESPNetv2 (EdgeNets, MIT, shipped: works offline)
TASKS.register("seg_segformer", f"{_M}.segmentation:SegFormerTask")
TASKS.register("seg_yolo", f"{_M}.ultralytics_yolo:YOLOSegTask")
TASKS.register("seg_espnetv2", f"{_M}.segmentation:ESPNetv2Task")
