"""Detection tasks and COCO metrics: parity with pycocotools run directly, crowd/empty cases, real Yolo-Fastest."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
import pytest
from asset_files import require

from ledbench.tasks.metrics import create_metric


def _coco_ids():
    from ledbench.tasks.detection import COCO80_TO_COCO91

    return COCO80_TO_COCO91


def _pycocotools_direct(preds: dict, targets: dict) -> np.ndarray:
    """Independent reference: hand-written COCO json (all 80 categories, 1-based ids) and COCOeval as documented."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for i, key in enumerate(targets):
        img_id = 1000 + i
        images.append({"id": img_id, "width": 640, "height": 480})
        t = targets[key]
        crowd = t.get("iscrowd", np.zeros(len(t["boxes"])))
        for b, lab, c in zip(t["boxes"], t["labels"], crowd):
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": int(lab), "iscrowd": int(c),
                         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                         "area": float((b[2] - b[0]) * (b[3] - b[1]))})
        p = preds[key]
        for b, lab, s in zip(p["boxes"], p["labels"], p["scores"]):
            dets.append({"image_id": img_id, "category_id": int(lab), "score": float(s),
                         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns,
                      "categories": [{"id": c, "name": str(c)} for c in _coco_ids()]}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    ids = np.asarray(_coco_ids())[[0, 1, 2, 15]]
    preds, targets = {}, {}
    for i in range(6):
        n = int(rng.integers(0, 6)) if i != 0 else 0  # image 0: no ground truth (its detections are FPs)
        xy = rng.uniform(0, 400, (n, 2))
        wh = rng.uniform(10, 200, (n, 2))
        gt_boxes = np.concatenate([xy, xy + wh], 1)
        gt_labels = rng.choice(ids, n)
        crowd = (rng.random(n) < 0.2).astype(int)
        targets[f"im{i}"] = {"boxes": gt_boxes, "labels": gt_labels, "iscrowd": crowd}
        # detections: jittered copies of some GT, plus random false positives, random scores
        keep = rng.random(n) < 0.8
        jit = gt_boxes[keep] + rng.normal(0, 8, (int(keep.sum()), 4))
        lab = gt_labels[keep].copy()
        flip = rng.random(len(lab)) < 0.15
        lab[flip] = rng.choice(ids, int(flip.sum()))
        m = int(rng.integers(0, 4)) if i != 5 else 0  # image 5: ground truth may exist, few detections
        fxy = rng.uniform(0, 400, (m, 2))
        fp = np.concatenate([fxy, fxy + rng.uniform(10, 150, (m, 2))], 1)
        boxes = np.concatenate([jit, fp]) if m else jit
        labels = np.concatenate([lab, rng.choice(ids, m)]) if m else lab
        if i == 5:
            boxes, labels = np.zeros((0, 4)), np.zeros(0, np.int64)
        preds[f"im{i}"] = {"boxes": boxes.astype(np.float32), "labels": labels.astype(np.int64),
                           "scores": rng.random(len(boxes)).astype(np.float32)}
    return preds, targets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_equals_pycocotools_direct(seed):
    preds, targets = _random_case(seed)
    m = create_metric("coco_map")
    for key in targets:
        m.update(preds[key], targets[key], key)
    ours = m.compute()
    ref = _pycocotools_direct(preds, targets)
    assert ours["map50_95"] == pytest.approx(ref[0], abs=1e-12)
    assert ours["map50"] == pytest.approx(ref[1], abs=1e-12)
    assert ours["map75"] == pytest.approx(ref[2], abs=1e-12)
    assert ours["ar100"] == pytest.approx(ref[8], abs=1e-12)
    assert 0.0 < ours["map50"] < 1.0  # a non-trivial case
    assert m.n_images == 6
    per = m.per_image()
    assert set(per) == set(targets)
    assert all(math.isnan(v) for v in per["im0"].values())  # no ground truth in that image


def test_hand_computed_iou_thresholds():
    # one GT 100x100, one detection shifted so that IoU = 0.6 exactly: TP at IoU 0.50, 0.55, 0.60 only
    gt = {"boxes": np.array([[0.0, 0.0, 100.0, 100.0]]), "labels": np.array([1])}
    # IoU of [0,0,100,100] with [0,0,100,h']: h'/100 for h'<100 -> use a box of height 60: IoU 0.6
    det = {"boxes": np.array([[0.0, 0.0, 100.0, 60.0]]), "labels": np.array([1]), "scores": np.array([0.9])}
    m = create_metric("coco_map")
    m.update(det, gt, "a")
    out = m.compute()
    assert out["map50"] == pytest.approx(1.0)
    assert out["map75"] == pytest.approx(0.0)
    assert out["map50_95"] == pytest.approx(0.3)
    assert out["ar100"] == pytest.approx(0.3)


def test_crowd_region_is_ignored():
    gt = {"boxes": np.array([[0, 0, 100, 100], [200, 200, 400, 400]], float), "labels": np.array([1, 1]),
          "iscrowd": np.array([0, 1])}
    det = {"boxes": np.array([[0, 0, 100, 100], [210, 210, 390, 390]], float), "labels": np.array([1, 1]),
           "scores": np.array([0.5, 0.9])}
    m = create_metric("coco_map")
    m.update(det, gt, "a")
    assert m.compute()["map50_95"] == pytest.approx(1.0)  # the higher-scored crowd match is not a false positive
    no_crowd = {**gt, "iscrowd": np.array([0, 0])}
    det_far = {**det, "boxes": np.array([[0, 0, 100, 100], [600, 600, 700, 700]], float)}
    m2 = create_metric("coco_map")
    m2.update(det_far, no_crowd, "a")
    # without crowd: one FP ranked first and one missed GT -> AP = precision 0.5 over recall [0, 0.5]
    assert m2.compute()["map50"] == pytest.approx(np.mean(np.where(np.linspace(0, 1, 101) <= 0.5, 0.5, 0.0)))
    ignore = {**gt, "iscrowd": None, "ignore": np.array([0, 1])}
    m3 = create_metric("coco_map")
    m3.update(det, ignore, "a")
    assert m3.compute()["map50_95"] == pytest.approx(1.0)


def test_empty_cases():
    empty_det = {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int), "scores": np.zeros(0)}
    empty_gt = {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)}
    gt = {"boxes": np.array([[0, 0, 10, 10]], float), "labels": np.array([3])}
    m = create_metric("coco_map")
    m.update(empty_det, empty_gt, "a")
    assert all(math.isnan(v) for v in m.compute().values())  # nothing to find: undefined, not 0 or 1
    m.update(empty_det, gt, "b")
    assert m.compute() == {"map50_95": 0.0, "map50": 0.0, "map75": 0.0, "ar100": 0.0}
    m.update({"boxes": np.array([[0, 0, 10, 10]], float), "labels": np.array([3]), "scores": np.array([0.8])},
             gt, "c")
    assert m.compute()["map50"] == pytest.approx(
        _pycocotools_direct({"b": empty_det, "c": m._preds["c"]}, {"b": gt, "c": gt})[1])


def test_pseudo_gt_self_scores_one():
    preds, _ = _random_case(3)
    m = create_metric("coco_map")
    for key, p in preds.items():
        m.update(p, p, key)  # target carries scores: thresholded at 0.25 (pseudo-GT labels)
    out = m.compute()
    assert out["map50_95"] == pytest.approx(1.0) and out["map50"] == pytest.approx(1.0)


def test_against_ultralytics_ap_per_class():
    """ultralytics' own AP (101-point trapezoid on the PR envelope) agrees with ours within its 0.5% quirk."""
    from ultralytics.utils.metrics import ap_per_class

    # 4 GT of class 0 over 2 images; 5 detections: TP, FP, TP, TP, FP (by descending score), all IoU 1 or 0
    gt = {"x": {"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), "labels": np.array([1, 1])},
          "y": {"boxes": np.array([[0, 0, 10, 10], [50, 50, 60, 60]], float), "labels": np.array([1, 1])}}
    det = {"x": {"boxes": np.array([[0, 0, 10, 10], [100, 100, 110, 110], [20, 20, 30, 30]], float),
                 "labels": np.array([1, 1, 1]), "scores": np.array([0.9, 0.8, 0.7])},
           "y": {"boxes": np.array([[0, 0, 10, 10], [200, 200, 210, 210]], float), "labels": np.array([1, 1]),
                 "scores": np.array([0.6, 0.5])}}
    m = create_metric("coco_map")
    for k in gt:
        m.update(det[k], gt[k], k)
    ours = m.compute()
    tp = np.array([1, 0, 1, 1, 0], bool)[:, None].repeat(10, 1)
    res = ap_per_class(tp, np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.zeros(5), np.zeros(4))
    ap = res[5]  # (nc, 10)
    assert ours["map50"] == pytest.approx(float(ap[0, 0]), abs=0.01)
    assert ours["map50_95"] == pytest.approx(float(ap.mean()), abs=0.01)
    # COCO 101-point interpolation by hand: precision envelope 1 up to recall .25, 2/3 up to .75, 0 after
    r = np.linspace(0, 1, 101)
    assert ours["map50"] == pytest.approx(np.mean(np.where(r <= 0.25, 1.0, np.where(r <= 0.75, 0.75, 0.0))))


def test_per_class_names():
    from ledbench.tasks.detection import coco_id_names

    m = create_metric("coco_map", class_names=coco_id_names())
    m.update({"boxes": np.array([[0, 0, 10, 10]], float), "labels": np.array([1]), "scores": np.array([0.9])},
             {"boxes": np.array([[0, 0, 10, 10], [5, 5, 20, 20]], float), "labels": np.array([1, 3])}, "a")
    assert m.per_class() == {"person": pytest.approx(1.0), "car": pytest.approx(0.0)}


# -- tasks -------------------------------------------------------------------------------------------------------

def test_ultralytics_env_offline():
    from ledbench.tasks.ultralytics_env import prepare_ultralytics, ultralytics_config_dir

    prepare_ultralytics()
    import os

    import ultralytics.utils as uu
    from ultralytics.utils.checks import check_font

    assert os.environ["YOLO_OFFLINE"] == "1" and uu.ONLINE is False
    assert uu.SETTINGS["sync"] is False
    font = Path(check_font("Arial.ttf"))
    assert font.is_file() and font.parent == Path(uu.USER_CONFIG_DIR)  # found locally, nothing downloaded
    if os.environ.get("YOLO_CONFIG_DIR") == str(ultralytics_config_dir()):
        assert (ultralytics_config_dir() / "Arial.ttf").is_file()


def test_yolo_yaml_random_model_end_to_end():
    import torch

    from ledbench.tasks import create_task
    from ledbench.tasks.detection import COCO80_TO_COCO91

    torch.manual_seed(0)
    det = create_task("det_yolo", model="yolov8n.yaml", imgsz=64, conf=0.0, max_det=20)
    assert det is create_task("det_yolo", model="yolov8n.yaml", imgsz=64, conf=0.0, max_det=20)  # loaded once
    rng = np.random.default_rng(0)
    imgs = [rng.random((48, 80, 3), dtype=np.float32), rng.random((64, 40, 3), dtype=np.float32)]
    out = det.predict(imgs)
    assert len(out) == 2
    for img, o in zip(imgs, out):
        assert o["boxes"].dtype == np.float32 and o["boxes"].shape[1] == 4 and 0 < len(o["boxes"]) <= 20
        assert o["labels"].dtype == np.int64 and set(o["labels"].tolist()) <= set(COCO80_TO_COCO91)
        h, w = img.shape[:2]
        assert o["boxes"][:, [0, 2]].min() >= 0 and o["boxes"][:, [0, 2]].max() <= w + 1e-3
        assert o["boxes"][:, [1, 3]].max() <= h + 1e-3
        assert np.all(np.diff(o["scores"]) <= 1e-6)
    m = create_metric("coco_map")
    m.update(out[0], out[0], "a")  # pipeline into the metric works


def test_yolo_missing_weights_message(tmp_path, monkeypatch):
    from ledbench.bench.errors import WeightsUnavailable
    from ledbench.tasks import create_task

    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path))
    monkeypatch.setenv("LEDBENCH_WEIGHTS", str(tmp_path / "none"))
    with pytest.raises(WeightsUnavailable, match=r"yolo11n\.pt.*weights=PATH"):
        create_task("det_yolo.yolo11n", reuse=False)


def test_yolo_fastest_shipped_and_letterbox_mapping():
    from ledbench.tasks import create_task, task_availability

    assert task_availability("det_yolo_fastest") == (True, "")
    det = create_task("det_yolo_fastest")
    assert det.input_size == (320, 320) and det.weights_sha256.startswith("1c445c42")
    img = np.full((100, 300, 3), 0.5, np.float32)
    _, mapping = det._prepare(img)
    assert mapping == pytest.approx((300 / 320, 100 / 320, 0.0, 0.0))
    lb = create_task("det_yolo_fastest", letterbox=True)
    blob, (sx, sy, px, py) = lb._prepare(img)
    # 300x100 -> 320x107, offset 106
    assert blob.shape == (3, 320, 320) and sx == sy == pytest.approx(300 / 320) and px == 0 and py == 106
    # a box covering the whole content area of the letterboxed input maps back to the whole image
    rows = np.zeros((1, 85), np.float32)
    rows[0, :4] = [0.5, (py + 107 / 2) / 320, 1.0, 107 / 320]
    rows[0, 5] = 0.9
    o = lb._decode(rows, (sx, sy, px, py), 300, 100)
    assert o["boxes"][0] == pytest.approx([0, 0, 300, 100], abs=1.0) and o["labels"].tolist() == [1]


def _coco8():
    coco8 = require("images", "coco8")
    from PIL import Image

    from ledbench.tasks.detection import read_yolo_labels

    items = []
    for img_path in sorted((coco8 / "images").glob("*/*.jpg")):
        img = np.asarray(Image.open(img_path).convert("RGB"), dtype=np.float32) / 255.0
        lab = img_path.parent.parent.parent / "labels" / img_path.parent.name / (img_path.stem + ".txt")
        items.append((img_path.stem, img, read_yolo_labels(lab, img.shape[1], img.shape[0])))
    return items


def _iou(a, b):
    x1, y1 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x2, y2 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)


def test_yolo_fastest_finds_person_on_coco8():
    from ledbench.tasks import create_task

    items = _coco8()
    det = create_task("det_yolo_fastest")
    preds = det.predict([im for _, im, _ in items])
    best = {}
    for (key, _, tgt), p in zip(items, preds):
        conf = p["boxes"][(p["labels"] == 1) & (p["scores"] >= 0.25)]
        for box in tgt["boxes"][tgt["labels"] == 1]:
            area = (box[2] - box[0]) * (box[3] - box[1])
            best.setdefault(key, []).append((area, float(_iou(box, conf).max()) if len(conf) else 0.0))
    # 10 labelled persons in 3 images; a 320x320 tiny model finds the large ones, not the 136-px-area ones
    assert set(best) == {"000000000036", "000000000049", "000000000061"}
    assert max(best["000000000036"])[1] >= 0.7  # the one big person of image 36 (area ~144k px)
    assert sum(iou >= 0.5 for v in best.values() for _, iou in v) >= 2
    m = create_metric("coco_map")
    for (key, _, tgt), p in zip(items, preds):
        m.update(p, tgt, key)
    res = m.compute()
    assert 0.2 < res["map50"] <= 1.0 and res["map50_95"] < res["map50"]
    # pseudo_gt on the undegraded image: prediction vs itself
    m2 = create_metric("coco_map")
    for (key, _, _), p in zip(items, preds):
        m2.update(p, p, key)
    assert m2.compute()["map50_95"] == pytest.approx(1.0)


def test_yolo_fastest_matches_opencv_detection_model():
    """OpenCV's own high-level DetectionModel (resize, decode, per-class NMS) is an independent reference."""
    import cv2

    from ledbench.tasks import create_task

    items = _coco8()[:5]
    det = create_task("det_yolo_fastest", multi_label=False, conf=0.25)
    ref = cv2.dnn_DetectionModel(str(det.cfg_path), str(det.weights_path))
    ref.setInputParams(size=(320, 320), scale=1 / 255, swapRB=True)
    ref.setNmsAcrossClasses(False)
    for (_, img, _), ours in zip(items, det.predict([im for _, im, _ in items])):
        bgr = np.ascontiguousarray((img * 255 + 0.5).astype(np.uint8)[..., ::-1])
        cls, conf, boxes = ref.detect(bgr, confThreshold=0.3, nmsThreshold=0.45)
        h, w = img.shape[:2]
        for c, s, (x, y, bw, bh) in zip(np.ravel(cls), np.ravel(conf), boxes):
            if x <= 0 or y <= 0:  # DetectionModel clamps the origin to 0 without shrinking the width: skip
                continue
            rb = np.array([x, y, min(x + bw, w), min(y + bh, h)], float)
            same = ours["labels"] == _coco_ids()[int(c)]
            assert same.any()
            ious = _iou(rb, ours["boxes"][same].astype(float))
            j = int(ious.argmax())
            assert ious[j] > 0.95 and abs(ours["scores"][same][j] - s) < 0.02
