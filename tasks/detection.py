"""Object detection: COCO-80 label tables, YOLO label files, Yolo-Fastest via OpenCV DNN (``det_yolo_fastest``).

Output per image (DESIGN.md "Task outputs"): ``{"boxes": float32 N x 4 xyxy in input-image pixels,
"scores": float32 N, "labels": int64 N}``; labels are COCO category ids (1..90) for COCO-80 models (contiguous
index ``i`` -> ``COCO80_TO_COCO91[i]``), else the model's class index.

The ultralytics detector ``det_yolo`` lives in :mod:`ledbench.tasks.ultralytics_yolo`. Default thresholds are
evaluation thresholds (low ``conf``, as ultralytics ``val`` 0.001 and darknet ``map`` 0.005): the metric, not the
task, decides what counts. pseudo-GT labels are thresholded by the metric
(``target_score_thresh``, see :mod:`ledbench.tasks.det_metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ledbench.bench.errors import WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, resolve_weights, sha256_file
from ledbench.tasks.base import Task, check_image

__all__ = ["COCO80_NAMES", "COCO80_TO_COCO91", "YoloFastestTask", "coco_id_names", "empty_detections",
           "read_yolo_labels"]

# COCO 2017 category ids of the 80 contiguous detection classes (cocodataset.org annotations, instances_*.json).
COCO80_TO_COCO91 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
                    31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
                    56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
                    85, 86, 87, 88, 89, 90)
COCO80_NAMES = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
                "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse",
                "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie",
                "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
                "skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon",
                "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut",
                "cake", "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
                "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
                "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush")


def coco_id_names() -> tuple[str, ...]:
    """Names indexed by COCO category id (0..90; unused ids are empty strings), for per-class reports."""
    names = [""] * 91
    for idx, cid in enumerate(COCO80_TO_COCO91):
        names[cid] = COCO80_NAMES[idx]
    return tuple(names)


def read_yolo_labels(path: str | Path, width: int, height: int, coco_ids: bool = True) -> dict[str, np.ndarray]:
    """YOLO-format label file (``class cx cy w h`` normalised) -> target dict in pixels (xyxy, COCO ids)."""
    path = Path(path)
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 5:
                rows.append([float(v) for v in parts[:5]])
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    cls = arr[:, 0].astype(np.int64)
    cx, cy, w, h = arr[:, 1] * width, arr[:, 2] * height, arr[:, 3] * width, arr[:, 4] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)
    labels = np.asarray([COCO80_TO_COCO91[c] for c in cls], dtype=np.int64) if coco_ids else cls
    return {"boxes": boxes.reshape(-1, 4), "labels": labels}


def empty_detections() -> dict[str, np.ndarray]:
    """A prediction with no boxes (the detection convention's arrays, length 0)."""
    return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32), "labels": np.zeros(0, np.int64)}


# -- Yolo-Fastest (darknet) through OpenCV DNN ---------------------------------------------------------------------

_YF_SOURCE = "dog-qiuqiu/Yolo-Fastest : ModelZoo/yolo-fastest-1.1_coco/ @ 96a2900d"
_YF_LICENSE = "YOLO license v2 (public domain); notice in ledbench/tasks/weights/LICENSE.yolo-fastest"
_YF_PAPER = "dog-qiuqiu, Yolo-Fastest (2020), https://github.com/dog-qiuqiu/Yolo-Fastest"


def _yf_spec(filename: str, sha256: str, size_mb: float) -> WeightsSpec:
    return WeightsSpec(filename=filename, sha256=sha256, packaged=f"tasks/weights/{filename}", license=_YF_LICENSE,
                       source=_YF_SOURCE, paper=_YF_PAPER, subdir="yolo_fastest", size_mb=size_mb,
                       url="https://github.com/dog-qiuqiu/Yolo-Fastest/raw/96a2900d/ModelZoo/"
                           f"yolo-fastest-1.1_coco/{filename}")


YOLO_FASTEST_CFGS = {
    "yolo-fastest-1.1.weights": _yf_spec("yolo-fastest-1.1.cfg",
                                         "f6df5775c1e862998cf69046eba9265be3ae84dfe8b2caab7529823f0795bf70", 0.01),
    "yolo-fastest-1.1-xl.weights": _yf_spec("yolo-fastest-1.1-xl.cfg",
                                            "c458427acc4fbeabceff4528ef7b65b066c0308ce599460f8ba299eba63abad3", 0.01),
}


@dataclass(frozen=True)
class YoloFastestConfig:
    """Darknet inference settings.

    ``size`` 0 = the cfg's ``width``/``height`` (320). ``letterbox`` False = plain resize, as darknet does for
    cfgs without ``letter_box=1`` (these). ``conf`` 0.005 and per-class greedy NMS at ``iou`` 0.45 are darknet's
    ``detector map`` defaults; ``multi_label`` keeps every class whose score passes ``conf`` (darknet behaviour).
    """

    cfg: str = ""
    size: int = 0
    letterbox: bool = False
    conf: float = 0.005
    iou: float = 0.45
    max_det: int = 300
    multi_label: bool = True
    batch: int = 8


class YoloFastestTask(Task):
    """Yolo-Fastest 1.1 COCO-80 darknet detector via OpenCV DNN (cv2 4.x ``readNetFromDarknet``); CPU, no torch.

    Pre-processing: RGB [0, 1] -> resize (bilinear) or letterbox (grey 0.5 border) to the network size, NCHW.
    Post-processing: the YOLO layers' rows ``[cx, cy, w, h, obj, p_1..p_80]`` (OpenCV already multiplies class
    probabilities by objectness), mapped back to input pixels, per-class NMS, top ``max_det`` by score.
    """

    kind = "detection"
    Config = YoloFastestConfig
    requires_weights = True
    default_metrics = ("coco_map",)
    label_free_metrics = ("det_stats",)
    summary = "Yolo-Fastest 1.1 (COCO-80, 320x320, darknet via OpenCV DNN); shipped with ledbench, offline"
    weights_tags = {
        "v1.1": _yf_spec("yolo-fastest-1.1.weights",
                         "1c445c42bbd6df63edea2cc69f99667b5650d663ca11e34b116240740cd42890", 1.4),
        "v1.1_xl": _yf_spec("yolo-fastest-1.1-xl.weights",
                            "fac5fb41786c1f38f04972a658443b189f48720d7d117f9a044100e98a35b0c5", 3.7),
    }
    default_tag = "v1.1"

    def _cfg_path(self) -> Path:
        if self.config.cfg:
            path = Path(self.config.cfg).expanduser()
            if not path.is_file():
                raise WeightsUnavailable(f"darknet cfg {str(path)!r} for {self.name} does not exist; check cfg=PATH")
            return path
        beside = Path(self.weights_path).with_suffix(".cfg")
        spec = YOLO_FASTEST_CFGS.get(Path(self.weights_path).name)
        if spec is not None:
            return resolve_weights(spec, None, what=f"{self.name} cfg")
        if beside.is_file():
            return beside
        raise WeightsUnavailable(f"no darknet .cfg for {self.weights_path}: put {beside.name} beside it or pass "
                                 f"cfg=PATH")

    def setup(self) -> None:
        import cv2

        if int(cv2.__version__.split(".")[0]) >= 5:
            raise WeightsUnavailable(f"OpenCV {cv2.__version__} has no darknet reader; det_yolo_fastest needs "
                                     f"opencv-python 4.x (pip install 'opencv-python-headless<5')")
        self.cfg_path = self._cfg_path()
        self.net = cv2.dnn.readNetFromDarknet(str(self.cfg_path), str(self.weights_path))
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self.out_names = self.net.getUnconnectedOutLayersNames()
        w = h = self.config.size
        if not w:
            text = self.cfg_path.read_text().split("[", 2)[1]  # the [net] section
            vals = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
            w, h = int(vals.get("width", 320)), int(vals.get("height", 320))
        self.input_size = (int(w), int(h))
        self.coco_ids = np.asarray(COCO80_TO_COCO91, dtype=np.int64)

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["cfg_sha256"] = sha256_file(self.cfg_path)
        return ident

    def _prepare(self, img: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """Network input (3 x h x w float32) and the (sx, sy, px, py) mapping network pixels back to input pixels."""
        import cv2

        H, W = img.shape[:2]
        nw, nh = self.input_size
        if not self.config.letterbox:
            resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
            return resized.transpose(2, 0, 1), (W / nw, H / nh, 0.0, 0.0)
        r = min(nw / W, nh / H)
        rw, rh = max(1, round(W * r)), max(1, round(H * r))
        canvas = np.full((nh, nw, 3), 0.5, np.float32)
        px, py = (nw - rw) // 2, (nh - rh) // 2
        canvas[py:py + rh, px:px + rw] = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
        return canvas.transpose(2, 0, 1), (1 / r, 1 / r, float(px), float(py))

    def _decode(self, rows: np.ndarray, mapping, W: int, H: int) -> dict[str, np.ndarray]:
        import cv2

        sx, sy, px, py = mapping
        nw, nh = self.input_size
        probs = rows[:, 5:]
        if self.config.multi_label:
            ri, ci = np.nonzero(probs >= self.config.conf)
        else:
            ci = probs.argmax(1)
            ri = np.nonzero(probs[np.arange(len(probs)), ci] >= self.config.conf)[0]
            ci = ci[ri]
        if ri.size == 0:
            return empty_detections()
        scores = probs[ri, ci]
        cx, cy, bw, bh = (rows[ri, k] for k in range(4))
        x1 = ((cx - bw / 2) * nw - px) * sx
        y1 = ((cy - bh / 2) * nh - py) * sy
        x2 = ((cx + bw / 2) * nw - px) * sx
        y2 = ((cy + bh / 2) * nh - py) * sy
        boxes = np.stack([np.clip(x1, 0, W), np.clip(y1, 0, H), np.clip(x2, 0, W), np.clip(y2, 0, H)], 1)
        xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1)
        keep = cv2.dnn.NMSBoxesBatched(xywh.astype(np.float32).tolist(), scores.astype(np.float32).tolist(),
                                       ci.astype(np.int32).tolist(), float(self.config.conf), float(self.config.iou))
        keep = np.asarray(keep, dtype=np.int64).reshape(-1)
        keep = keep[np.argsort(-scores[keep], kind="stable")][: self.config.max_det]
        return {"boxes": boxes[keep].astype(np.float32), "scores": scores[keep].astype(np.float32),
                "labels": self.coco_ids[ci[keep]]}

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        out = []
        imgs = [check_image(im, i) for i, im in enumerate(images)]
        step = max(1, self.config.batch)
        for s in range(0, len(imgs), step):
            chunk = imgs[s:s + step]
            prepared = [self._prepare(np.clip(im, 0.0, 1.0)) for im in chunk]
            blob = np.ascontiguousarray(np.stack([p[0] for p in prepared]).astype(np.float32))
            self.net.setInput(blob)
            layer_outs = self.net.forward(self.out_names)
            n = len(chunk)
            per_img = [np.concatenate([np.asarray(o).reshape(n, -1, o.shape[-1])[b] for o in layer_outs], 0)
                       for b in range(n)]
            for im, (_, mapping), rows in zip(chunk, prepared, per_img):
                out.append(self._decode(rows, mapping, im.shape[1], im.shape[0]))
        return out
