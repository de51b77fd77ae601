"""Segmentation tasks and confusion-matrix metrics: hand-built references, ultralytics parity, real ESPNetv2."""

from __future__ import annotations

import math

import numpy as np
import pytest
from asset_files import require

from ledbench.tasks.metrics import create_metric


def _hand_miou(preds, targets, n, ignore=255):
    """Independent reference: count every pixel in a Python loop, then IoU per class over non-empty unions."""
    cm = np.zeros((n, n), dtype=np.int64)
    missed = np.zeros(n, dtype=np.int64)
    for p, t in zip(preds, targets):
        for pv, tv in zip(p.ravel().tolist(), t.ravel().tolist()):
            if tv == ignore or not 0 <= tv < n:
                continue
            if 0 <= pv < n:
                cm[tv, pv] += 1
            else:
                missed[tv] += 1
    ious = []
    for c in range(n):
        tp = cm[c, c]
        union = cm[c, :].sum() + missed[c] + cm[:, c].sum() - tp
        if union > 0:
            ious.append(tp / union)
    acc = np.trace(cm) / (cm.sum() + missed.sum())
    return float(np.mean(ious)), float(acc)


def _random_maps(seed, n=5, shape=(17, 23), k=3):
    rng = np.random.default_rng(seed)
    targets = [rng.integers(0, n, shape) for _ in range(k)]
    for t in targets:
        t[rng.random(shape) < 0.1] = 255
    preds = [np.where(rng.random(shape) < 0.6, t, rng.integers(0, n, shape)) for t in targets]
    preds = [np.where(p == 255, 0, p) for p in preds]
    return preds, targets


@pytest.mark.parametrize("seed", [0, 1])
def test_miou_equals_hand_built_confusion_matrix(seed):
    preds, targets = _random_maps(seed)
    preds[1][0, :5] = 255  # void predictions on valid labels count as misses
    m = create_metric("miou", num_classes=5)
    for i, (p, t) in enumerate(zip(preds, targets)):
        m.update({"mask": p}, {"mask": t}, f"im{i}")
    out = m.compute()
    ref_miou, ref_acc = _hand_miou(preds, targets, 5)
    assert out["miou"] == pytest.approx(ref_miou, abs=1e-12)
    assert out["pixel_acc"] == pytest.approx(ref_acc, abs=1e-12)
    grow = create_metric("miou")  # num_classes inferred from the labels seen
    for i, (p, t) in enumerate(zip(preds, targets)):
        grow.update(p, t, f"im{i}")
    assert grow.compute()["miou"] == pytest.approx(ref_miou, abs=1e-12)
    assert set(m.per_image()) == {"im0", "im1", "im2"}
    assert m.per_image()["im0"]["miou"] == pytest.approx(_hand_miou(preds[:1], targets[:1], 5)[0])


def test_hand_computed_tiny_example():
    t = np.array([[0, 0, 1], [1, 255, 2]])
    p = np.array([[0, 1, 1], [1, 2, 0]])
    m = create_metric("miou", num_classes=3, class_names=("a", "b", "c"), per_class=True)
    m.update(p, t, "x")
    out = m.compute()
    # class 0: tp1, gt2, pred2 -> 1/3; class 1: tp2, gt2, pred3 -> 2/3; class 2: tp0, gt1, pred0 -> 0
    assert out["iou_a"] == pytest.approx(1 / 3) and out["iou_b"] == pytest.approx(2 / 3) and out["iou_c"] == 0.0
    assert out["miou"] == pytest.approx(1 / 3) and out["pixel_acc"] == pytest.approx(3 / 5)
    assert m.directions["iou_b"] is True
    assert m.per_class() == {"a": pytest.approx(1 / 3), "b": pytest.approx(2 / 3), "c": 0.0}


def test_class_predicted_but_absent_counts_unless_gt_present():
    t = np.zeros((4, 4), int)
    p = t.copy()
    p[0, 0] = 1  # class 1 hallucinated
    assert create_metric("miou", num_classes=2).update(p, t, "a") is None
    m = create_metric("miou", num_classes=2)
    m.update(p, t, "a")
    assert m.compute()["miou"] == pytest.approx((15 / 16 + 0.0) / 2)  # mmseg / cityscapesScripts convention
    g = create_metric("miou", num_classes=2, average="gt_present")
    g.update(p, t, "a")
    assert g.compute()["miou"] == pytest.approx(15 / 16)  # ultralytics SemanticMetrics convention


def test_matches_ultralytics_semantic_metrics():
    import torch
    from ultralytics.utils import metrics as um

    if not hasattr(um, "SemanticMetrics"):
        pytest.skip("this ultralytics version has no SemanticMetrics")
    preds, targets = _random_maps(3, n=6, shape=(20, 24), k=4)
    ref = um.SemanticMetrics(names={i: str(i) for i in range(6)})
    ref.update_stats(torch.from_numpy(np.stack(preds)), torch.from_numpy(np.stack(targets)))
    ref.process()
    ours = create_metric("miou", num_classes=6, average="gt_present")
    for i, (p, t) in enumerate(zip(preds, targets)):
        ours.update(p, t, str(i))
    out = ours.compute()
    assert out["miou"] == pytest.approx(ref._miou, abs=1e-6)
    assert out["pixel_acc"] == pytest.approx(ref._pixel_accuracy, abs=1e-6)
    assert np.allclose(list(ours.per_class().values()), ref._per_class_iou, atol=1e-6)


def test_shape_mismatch_and_empty():
    from ledbench.bench.errors import InputError

    m = create_metric("miou_cityscapes")
    with pytest.raises(InputError, match="differ in shape"):
        m.update(np.zeros((2, 2), int), np.zeros((2, 3), int), "a")
    m.update(np.zeros((2, 2), int), np.full((2, 2), 255), "b")  # all ignored
    assert math.isnan(m.compute()["miou"])


# -- ESPNetv2 ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fname,s,classes,dataset", [("espnetv2_s_1.0_city_512x256.pth", 1.0, 20, "city"),
                                                      ("espnetv2_s_2.0_pascal_256x256.pth", 2.0, 21, "pascal")])
def test_espnetv2_state_dict_keys_match_official(fname, s, classes, dataset):
    keys_file = require("weights", "espnetv2_seg", f"{fname}.keys.txt")
    from ledbench.tasks.espnetv2 import build_espnetv2

    model = build_espnetv2(s, classes, dataset)
    rows = [line.split("\t") for line in keys_file.read_text().splitlines() if line and not line.startswith("#")]
    ours = model.state_dict()
    assert [r[0] for r in rows] == list(ours)
    for key, spec in rows:
        shape = spec.split("[", 1)[1].split("]", 1)[0]
        assert tuple(int(v) for v in shape.split(",") if v.strip()) == tuple(ours[key].shape), key


def _street_photo():
    path = require("images", "lowlight", "difficult_NPE_89.png")
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


def test_espnetv2_cityscapes_labels_road_and_sky():
    from ledbench.tasks import create_task, task_availability

    assert task_availability("seg_espnetv2") == (True, "")  # shipped in the package
    img = _street_photo()  # NPE street canyon: road at the bottom, a strip of sky at the top
    seg = create_task("seg_espnetv2")
    assert seg.weights_sha256.startswith("002121ee") and seg.num_classes == 19
    mask = seg.predict([img])[0]["mask"]
    assert mask.shape == img.shape[:2] and mask.dtype == np.int64
    h = mask.shape[0]
    road, sky = seg.class_names.index("road"), seg.class_names.index("sky")
    bottom, top = mask[-h // 5:], mask[: h // 5]
    assert (bottom == road).mean() > 0.4 and np.bincount(bottom[bottom != 255].ravel()).argmax() == road
    assert (top == sky).mean() > 0.3
    assert (top == road).mean() < 0.02 and (bottom == sky).mean() < 0.02  # and not the other way round
    m = create_metric("miou_cityscapes")
    m.update({"mask": mask}, {"mask": mask}, "npe89")  # pseudo_gt on the undegraded image
    assert m.compute() == {"miou": 1.0, "pixel_acc": 1.0}
    # darkening the input costs the model something
    m2 = create_metric("miou_cityscapes")
    m2.update(seg.predict([img * 0.15])[0], {"mask": mask}, "npe89")
    assert m2.compute()["miou"] < 1.0


def test_espnetv2_pascal_tag_batched():
    from ledbench.tasks import create_task

    seg = create_task("seg_espnetv2.pascal")
    assert seg.num_classes == 21 and seg.input_size == (256, 256)
    rng = np.random.default_rng(0)
    imgs = [rng.random((40, 60, 3), dtype=np.float32), rng.random((50, 30, 3), dtype=np.float32)]
    batched = seg.predict(imgs)
    single = [seg.predict([im])[0] for im in imgs]
    for b, s_, im in zip(batched, single, imgs):
        assert b["mask"].shape == im.shape[:2] and b["mask"].max() < 21
        assert np.array_equal(b["mask"], s_["mask"])


# -- SegFormer and YOLO-seg, tiny random models offline ----------------------------------------------------------

def test_tiny_segformer_end_to_end(tmp_path, monkeypatch):
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    from ledbench.tasks import create_task

    cfg = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                          patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                          decoder_hidden_size=16, num_labels=4, id2label={i: f"c{i}" for i in range(4)},
                          label2id={f"c{i}": i for i in range(4)})
    torch.manual_seed(0)
    model = SegformerForSemanticSegmentation(cfg).eval()
    model.save_pretrained(tmp_path)
    seg = create_task("seg_segformer", model=str(tmp_path), size=[64, 64])
    assert seg.class_names == ("c0", "c1", "c2", "c3")
    rng = np.random.default_rng(1)
    img = rng.random((40, 56, 3), dtype=np.float32)
    out = seg.predict([img, img[:30]])
    assert out[0]["mask"].shape == (40, 56) and out[1]["mask"].shape == (30, 56)
    # reference: the transformers model itself on the same normalised, resized input
    x = torch.nn.functional.interpolate(torch.from_numpy(img).permute(2, 0, 1)[None], size=(64, 64),
                                        mode="bilinear", align_corners=False)
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1)
    with torch.no_grad():
        logits = model(pixel_values=x).logits
    ref = torch.nn.functional.interpolate(logits, size=(40, 56), mode="bilinear", align_corners=False)[0].argmax(0)
    assert np.array_equal(out[0]["mask"], ref.numpy())
    monkeypatch.setattr("ledbench.tasks.segmentation.UPSAMPLE_BUDGET_BYTES", 1)  # one class at a time
    assert np.array_equal(seg.predict([img])[0]["mask"], ref.numpy())
    m = create_metric("miou", num_classes=4)
    m.update(out[0], out[0], "a")
    assert m.compute()["miou"] == 1.0


@pytest.mark.parametrize("budget", [1, 5 * 4 * 37 * 53, 1 << 30])
def test_upsampled_argmax_equals_full_upsample_argmax(budget):
    """Classes upsampled a chunk at a time (1, 5 or all 23 per chunk) give the mask of upsampling all of them at
    once. A chunk is interpolated with other SIMD lanes than the whole stack (values differ by <= 1e-6), so near-exact
    ties may go either way: integer logits (many ties) agree wherever the top two classes differ by more than that,
    and one chunk (what images under the memory budget get) is bit-identical."""
    import torch
    from torch.nn import functional as F

    from ledbench.tasks.segmentation import upsampled_argmax

    rng = np.random.default_rng(0)
    for logits in (rng.normal(0, 3, (23, 9, 13)), rng.integers(0, 4, (23, 9, 13))):
        logits = torch.from_numpy(logits.astype(np.float32))
        up = F.interpolate(logits[None], size=(37, 53), mode="bilinear", align_corners=False)[0]
        top2 = up.topk(2, dim=0).values
        clear = (top2[0] - top2[1]) > 1e-5
        got = upsampled_argmax(logits, (37, 53), budget)
        assert torch.equal(got[clear], up.argmax(0)[clear])
        if budget == 1 << 30:
            assert torch.equal(got, up.argmax(0))
    assert clear.float().mean() > 0.5  # the check is not vacuous


def test_segformer_unavailable_is_clear(tmp_path, monkeypatch):
    from ledbench.bench.errors import WeightsUnavailable
    from ledbench.tasks import create_task

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailable, match="model=LOCAL_FOLDER"):
        create_task("seg_segformer.b0_cityscapes", reuse=False)


def test_tiny_yolo_seg_rasterises_instances():
    import torch

    from ledbench.tasks import create_task

    torch.manual_seed(0)
    seg = create_task("seg_yolo", model="yolov8n-seg.yaml", imgsz=64, conf=0.0, mask_conf=0.0, max_det=10)
    assert seg.class_names[0] == "background" and len(seg.class_names) == 81
    rng = np.random.default_rng(0)
    imgs = [rng.random((48, 80, 3), dtype=np.float32), rng.random((64, 40, 3), dtype=np.float32)]
    out = seg.predict(imgs)
    for im, o in zip(imgs, out):
        assert o["mask"].shape == im.shape[:2] and o["mask"].dtype == np.int64
        assert o["mask"].min() >= 0 and o["mask"].max() <= 80
