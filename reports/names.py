"""Display names for reports: metric output name -> "PSNR (dB) ↑", task model -> "Yolo-Fastest 1.1", protocols in words.

One table, used by every renderer (terminal, Markdown, HTML, LaTeX, plot axes). Display only: results.csv, report
CSV files and every key keep the raw names. An unknown name falls back to itself, so a new metric still shows.

    metric_label("psnr", True)        # 'PSNR (dB) ↑'
    metric_label("map50_95", True)    # 'mAP50:95 ↑'
    group_label("detection", "det_yolo_fastest", "pseudo_gt", 8)
    # 'Detection: Yolo-Fastest 1.1, pseudo-GT (labels = the task model on the sharp reference), n=8'
"""

from __future__ import annotations

import re

__all__ = ["ARROW", "METRICS", "PROTOCOLS", "TASK_KINDS", "TASK_MODELS", "group_label", "group_parts",
           "group_short", "metric_label", "metric_name", "metric_unit", "protocol_long", "protocol_short",
           "task_model_name"]

ARROW = {True: "↑", False: "↓"}

# metric output name -> (display name, unit or ""); names as the metrics write them (tasks/*metrics.py, quality.py)
METRICS: dict[str, tuple[str, str]] = {
    "psnr": ("PSNR", "dB"), "psnr_y": ("PSNR-Y", "dB"), "psnr_gtmean": ("PSNR (GT-mean)", "dB"),
    "ssim": ("SSIM", ""), "ssim_y": ("SSIM-Y", ""), "ssim_gtmean": ("SSIM (GT-mean)", ""),
    "ssim_lednet": ("SSIM (LEDNet)", ""), "ssim_pyiqa": ("SSIM (pyiqa)", ""),
    "lpips": ("LPIPS", ""), "lpips_vgg": ("LPIPS", ""), "lpips_lednet": ("LPIPS (LEDNet)", ""),
    "niqe": ("NIQE", ""), "clip_iqa": ("CLIP-IQA", ""), "clipiqa_vitb32": ("CLIP-IQA", ""),
    "map50_95": ("mAP50:95", ""), "map": ("mAP50:95", ""), "coco_map": ("mAP50:95", ""),
    "map50": ("mAP50", ""), "map75": ("mAP75", ""), "ar100": ("AR100", ""),
    "miou": ("mIoU", ""), "seg_miou": ("mIoU", ""), "miou_cityscapes": ("mIoU", ""), "miou_voc": ("mIoU", ""),
    "pixel_acc": ("pixel acc.", ""),
    "dets_per_image": ("detections/image", ""), "det_conf": ("mean det. confidence", ""),
    "seg_entropy": ("seg. entropy", "nats"), "seg_conf": ("seg. confidence", ""), "seg_classes": ("classes/image", ""),
    "abs_rel": ("AbsRel", ""), "sq_rel": ("SqRel", ""), "rmse": ("RMSE", ""), "rmse_log": ("RMSE-log", ""),
    "delta1": ("δ<1.25", ""), "delta2": ("δ<1.25²", ""), "delta3": ("δ<1.25³", ""),
    "latency_ms": ("latency", "ms"), "gmacs": ("GMACs", ""), "params_m": ("params", "M"),
}
_SUFFIX = {"_median": " (median-aligned)", "_none": " (not aligned)", "_lstsq": ""}
_PER_CLASS = re.compile(r"^(?P<base>iou|ap|ap50|acc|recall|precision|f1)[_/](?P<cls>.+)$")
_PER_CLASS_NAMES = {"iou": "IoU", "ap": "AP", "ap50": "AP50", "acc": "acc.", "recall": "recall",
                    "precision": "precision", "f1": "F1"}

TASK_KINDS = {"quality": "Image quality", "detection": "Detection", "segmentation": "Segmentation",
              "depth": "Depth"}
# task model (registry name in tasks/_catalog.py) -> human name (from each task class's ``summary``)
TASK_MODELS = {"quality": "", "det_yolo_fastest": "Yolo-Fastest 1.1", "det_yolo": "YOLO (ultralytics)",
               "seg_espnetv2": "ESPNetv2", "seg_segformer": "SegFormer", "seg_yolo": "YOLO-seg (ultralytics)",
               "depth_dpt": "DPT (MiDaS v3)", "depth_anything": "Depth Anything"}
# protocol -> (short, in words)
PROTOCOLS = {"full_reference": ("full-reference", "full-reference (against the sharp reference image)"),
             "no_reference": ("no-reference", "no-reference (the enhanced image alone)"),
             "real_gt": ("real GT", "real GT (the dataset's labels)"),
             "pseudo_gt": ("pseudo-GT", "pseudo-GT (labels = the task model on the sharp reference)"),
             "label_free": ("label-free", "label-free (statistics of the task model's output, not accuracy)")}


def metric_name(name: str) -> str:
    """``map50_95`` -> ``mAP50:95``; ``abs_rel_median`` -> ``AbsRel (median-aligned)``; ``iou_car`` -> ``IoU car``;
    an unknown name is returned as is."""
    name = str(name)
    if name in METRICS:
        return METRICS[name][0]
    for suf, words in _SUFFIX.items():
        if name.endswith(suf) and name[: -len(suf)] in METRICS:
            return METRICS[name[: -len(suf)]][0] + words
    m = _PER_CLASS.match(name)
    if m:
        return f"{_PER_CLASS_NAMES[m.group('base')]} {m.group('cls')}"
    return name


def metric_unit(name: str) -> str:
    """The unit of a metric (``dB`` for PSNR), "" when unitless or unknown."""
    name = str(name)
    base = next((name[: -len(s)] for s in _SUFFIX if name.endswith(s) and name[: -len(s)] in METRICS), name)
    return METRICS.get(base, ("", ""))[1]


def metric_label(name: str, higher_is_better: bool | None = None, *, unit: bool = True, arrow: bool = True) -> str:
    """``PSNR (dB) ↑``: display name, unit in parentheses, direction arrow (omitted when the direction is None)."""
    s = metric_name(name)
    u = metric_unit(name) if unit else ""
    if u:
        s += f" ({u})"
    if arrow and higher_is_better is not None:
        s += " " + ARROW[bool(higher_is_better)]
    return s


def task_model_name(task: str) -> str:
    """``det_yolo_fastest`` -> ``Yolo-Fastest 1.1``; ``quality`` -> "" (no model); unknown names as is."""
    return TASK_MODELS.get(str(task), str(task))


def protocol_short(protocol: str) -> str:
    return PROTOCOLS.get(str(protocol), (str(protocol), str(protocol)))[0]


def protocol_long(protocol: str) -> str:
    return PROTOCOLS.get(str(protocol), (str(protocol), str(protocol)))[1]


def _kind(task_kind: str) -> str:
    return TASK_KINDS.get(str(task_kind), str(task_kind).replace("_", " ").capitalize())


def group_parts(task_kind: str, task: str, protocol: str | None, n: int | None) -> tuple[str, str]:
    """(``Yolo-Fastest 1.1``, ``pseudo-GT, n=8``): the two lines of a narrow group header."""
    model = task_model_name(task) or _kind(task_kind)
    detail = ", ".join(x for x in (protocol_short(protocol) if protocol else "", f"n={n}" if n and n > 0 else "")
                       if x)
    return model, detail


def group_short(task_kind: str, task: str, protocol: str | None, n: int | None) -> str:
    """``Yolo-Fastest 1.1 (pseudo-GT, n=8)``; the quality task: ``Image quality (full-reference, n=8)``."""
    model = task_model_name(task) or _kind(task_kind)
    inner = ", ".join(x for x in (protocol_short(protocol) if protocol else "", f"n={n}" if n and n > 0 else "")
                      if x)
    if not inner:
        return model
    return f"{model}, {inner}" if model.endswith(")") else f"{model} ({inner})"


def group_label(task_kind: str, task: str, protocol: str | None, n: int | None) -> str:
    """``Detection: Yolo-Fastest 1.1, pseudo-GT (labels = the task model on the sharp reference), n=8``."""
    parts = [task_model_name(task)] + ([protocol_long(protocol)] if protocol else []) \
        + ([f"n={n}"] if n and n > 0 else [])
    return f"{_kind(task_kind)}: " + ", ".join(p for p in parts if p)
