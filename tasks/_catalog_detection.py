"""Built-in detection tasks (lazy registration; no torch / cv2 / ultralytics import here)."""

from ledbench.tasks.registry import TASKS

# ultralytics YOLO: any .pt / .yaml via model=..., weights through ledbench's weights mechanism (tags = files)
TASKS.register("det_yolo", "ledbench.tasks.ultralytics_yolo:YOLOTask")
TASKS.register("det_yolo.yolov8n", "ledbench.tasks.ultralytics_yolo:YOLOTask", tag="yolov8n")
TASKS.register("det_yolo.yolo11n", "ledbench.tasks.ultralytics_yolo:YOLOTask", tag="yolo11n")
# Yolo-Fastest 1.1 COCO (darknet via OpenCV DNN), shipped in ledbench/tasks/weights: works offline
TASKS.register("det_yolo_fastest", "ledbench.tasks.detection:YoloFastestTask")
TASKS.register("det_yolo_fastest.v1.1_xl", "ledbench.tasks.detection:YoloFastestTask", tag="v1.1_xl")
