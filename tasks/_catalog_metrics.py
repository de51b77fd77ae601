"""Built-in metrics: one line per metric name, where the registry learns its import string (lazy; pure python).

Quality (full reference): ``psnr``, ``ssim`` (RGB), ``psnr_y`` / ``ssim_y`` (Y channel), the GT-mean protocol
(``psnr_gtmean``, ``ssim_gtmean``), ``lpips`` (LPIPS v0.1 VGG, RGB), LEDNet-script variants (``lpips_lednet``,
``ssim_lednet``: BGR quirk) and ``ssim_pyiqa``. No reference: ``niqe`` (official pristine model, shipped),
``clip_iqa`` (open_clip ViT-B-32). Detection: ``coco_map`` (outputs map50_95, map50, map75, ar100; pycocotools).
Segmentation: ``miou`` (outputs miou, pixel_acc) and its presets for Cityscapes and Pascal VOC. Label-free
statistics (protocol ``label_free``, for photos without labels or references; :mod:`ledbench.tasks.label_free`):
``det_stats``, ``seg_stats``. Depth (protocol in
``ledbench.tasks.depth_metrics``): ``depth`` = least-squares scale and shift in disparity space, ``depth_median``,
``depth_none``; each output is also a metric of its own (``abs_rel``, ``abs_rel_median``, ``abs_rel_none`` ...).
"""

from __future__ import annotations

from ledbench.tasks.registry import METRICS
from ledbench.tasks.seg_metrics import CITYSCAPES_CLASSES, VOC_CLASSES

_M = "ledbench.tasks"

METRICS.register("psnr", f"{_M}.quality:PSNR")
METRICS.register("psnr_y", f"{_M}.quality:PSNRY")
METRICS.register("ssim", f"{_M}.quality:SSIM")
METRICS.register("ssim_y", f"{_M}.quality:SSIMY")
METRICS.register("psnr_gtmean", f"{_M}.quality:PSNRGTMean")
METRICS.register("ssim_gtmean", f"{_M}.quality:SSIMGTMean")
METRICS.register("ssim_lednet", f"{_M}.quality:SSIMLEDNet")
METRICS.register("ssim_pyiqa", f"{_M}.quality:SSIMPyiqa")
METRICS.register("lpips", f"{_M}.lpips:LPIPS", aliases=("lpips_vgg",))
METRICS.register("lpips_lednet", f"{_M}.lpips:LPIPSLEDNet")
METRICS.register("niqe", f"{_M}.niqe:NIQE")
METRICS.register("clip_iqa", f"{_M}.clip_iqa:CLIPIQA", aliases=("clipiqa_vitb32",))

METRICS.register("coco_map", f"{_M}.det_metrics:COCODetectionMetric", aliases=("map50_95", "map"))

METRICS.register("det_stats", f"{_M}.label_free:DetectionStats")
METRICS.register("seg_stats", f"{_M}.label_free:SegmentationStats")

METRICS.register("miou", f"{_M}.seg_metrics:ConfusionMatrixMetric", aliases=("seg_miou",))
METRICS.register("miou_cityscapes", f"{_M}.seg_metrics:ConfusionMatrixMetric",
                 config={"num_classes": 19, "class_names": CITYSCAPES_CLASSES})
METRICS.register("miou_voc", f"{_M}.seg_metrics:ConfusionMatrixMetric",
                 config={"num_classes": 21, "class_names": VOC_CLASSES})

METRICS.register("depth", f"{_M}.depth_metrics:DepthMetric", aliases=("depth_lstsq",))
METRICS.register("depth_median", f"{_M}.depth_metrics:DepthMedian")
METRICS.register("depth_none", f"{_M}.depth_metrics:DepthNone")
for _key, _cls in {"abs_rel": "AbsRel", "sq_rel": "SqRel", "rmse": "RMSE", "rmse_log": "RMSELog",
                   "delta1": "Delta1", "delta2": "Delta2", "delta3": "Delta3"}.items():
    METRICS.register(_key, f"{_M}.depth_metrics:{_cls}")
    METRICS.register(f"{_key}_median", f"{_M}.depth_metrics:{_cls}Median")
    METRICS.register(f"{_key}_none", f"{_M}.depth_metrics:{_cls}None")
