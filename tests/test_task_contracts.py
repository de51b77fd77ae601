"""Contract over every registered task entry (``list_tasks()``, every ``arch`` and ``arch.tag``).

Each entry either builds offline (weights shipped in the package) and its ``predict`` follows the convention of
DESIGN.md "Task outputs and metric inputs" (``quality`` runs no model: the enhanced image is its prediction), or
it is unavailable with a one-line message that names the file (or Hugging Face repo) and a command that gets it.
An unavailable architecture is then built from a tiny randomly initialised config (TINY below) and its ``predict``
checked the same way, so every architecture's output is checked offline. Inputs are two small images of different
sizes (64 x 64 and 48 x 80), so outputs must follow each input.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from ledbench.bench.errors import WeightsUnavailable
from ledbench.tasks import create_task, list_tasks, task_availability, task_class
from ledbench.tasks.registry import TASKS

KINDS = {"quality", "detection", "segmentation", "depth"}
#: a command in backticks that gets weights: ``ledbench weights import/fetch`` or ``huggingface-cli download``
GET_COMMAND = re.compile(r"`(ledbench weights (import|fetch)|huggingface-cli download)[^`]*`")


def _images():
    rng = np.random.default_rng(0)
    return [rng.random((64, 64, 3), dtype=np.float32), rng.random((48, 80, 3), dtype=np.float32)]


@pytest.fixture(autouse=True)
def _offline_and_empty(tmp_path, monkeypatch):
    """No weights but the shipped ones: an empty weights folder and Hugging Face cache."""
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEDBENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("LEDBENCH_OFFLINE", "1")


# -- tiny random builds of the architectures whose weights are not shipped -------------------------------------------

def _tiny_dpt(tmp):
    import torch
    import transformers as tr

    torch.manual_seed(0)
    cfg = tr.DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37,
                       image_size=32, patch_size=8, backbone_out_indices=[0, 1, 2, 3],
                       neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, head_in_index=-1)
    tr.DPTForDepthEstimation(cfg).eval().save_pretrained(tmp)
    return create_task("depth_dpt", weights=str(tmp), input_size=64, reuse=False)


def _tiny_depth_anything(tmp):
    import torch
    import transformers as tr

    torch.manual_seed(0)
    bb = tr.Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37,
                         image_size=28, patch_size=14, out_features=["stage1", "stage2", "stage3", "stage4"],
                         reshape_hidden_states=False)
    cfg = tr.DepthAnythingConfig(backbone_config=bb, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 32, 32],
                                 fusion_hidden_size=16, head_hidden_size=8, patch_size=14)
    tr.DepthAnythingForDepthEstimation(cfg).eval().save_pretrained(tmp)
    return create_task("depth_anything", weights=str(tmp), input_size=56, reuse=False)


def _tiny_segformer(tmp):
    import torch
    import transformers as tr

    torch.manual_seed(0)
    cfg = tr.SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                             patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                             decoder_hidden_size=16, num_labels=4, id2label={i: f"c{i}" for i in range(4)},
                             label2id={f"c{i}": i for i in range(4)})
    tr.SegformerForSemanticSegmentation(cfg).eval().save_pretrained(tmp)
    return create_task("seg_segformer", model=str(tmp), size=[64, 64], reuse=False)


def _tiny_yolo(tmp):
    import torch

    torch.manual_seed(0)
    return create_task("det_yolo", model="yolov8n.yaml", imgsz=64, conf=0.0, max_det=10, reuse=False)


def _tiny_yolo_seg(tmp):
    import torch

    torch.manual_seed(0)
    return create_task("seg_yolo", model="yolov8n-seg.yaml", imgsz=64, conf=0.0, mask_conf=0.0, max_det=10,
                       reuse=False)


#: architecture -> tiny offline build (needed for every architecture that does not ship its weights)
TINY = {"depth_dpt": _tiny_dpt, "depth_anything": _tiny_depth_anything, "seg_segformer": _tiny_segformer,
        "det_yolo": _tiny_yolo, "seg_yolo": _tiny_yolo_seg}
_BUILT: dict[str, object] = {}  # one tiny build per architecture per session


# -- the convention ---------------------------------------------------------------------------------------------------

def check_predictions(task, images, preds) -> None:
    """``preds`` (from ``task.predict(images)``) follows DESIGN.md's task-output convention."""
    from ledbench.tasks.detection import COCO80_TO_COCO91

    assert task.kind in KINDS - {"quality"}
    assert isinstance(preds, list) and len(preds) == len(images)
    for img, p in zip(images, preds):
        h, w = img.shape[:2]
        assert isinstance(p, dict) and all(isinstance(v, np.ndarray) for v in p.values()), "dict of numpy arrays"
        if task.kind == "detection":
            boxes, scores, labels = p["boxes"], p["scores"], p["labels"]
            n = len(boxes)
            assert boxes.dtype == np.float32 and boxes.shape == (n, 4)
            assert scores.dtype == np.float32 and scores.shape == (n,)
            assert labels.dtype == np.int64 and labels.shape == (n,)
            assert np.all(boxes[:, 2] >= boxes[:, 0]) and np.all(boxes[:, 3] >= boxes[:, 1]), "xyxy"
            assert np.all(boxes >= -1) and np.all(boxes[:, [0, 2]] <= w + 1) and np.all(boxes[:, [1, 3]] <= h + 1)
            assert np.all((scores >= 0) & (scores <= 1))
            assert set(labels.tolist()) <= set(COCO80_TO_COCO91), "COCO category ids"
        elif task.kind == "segmentation":
            mask = p["mask"]
            assert mask.dtype == np.int64 and mask.shape == (h, w)
            assert mask.min() >= 0 and mask.max() < len(task.class_names)
        else:
            depth = p["depth"]
            assert depth.dtype == np.float32 and depth.shape == (h, w) and np.isfinite(depth).all()
            assert task.depth_kind in ("metric", "relative_inverse")


def _arch(name: str) -> str:
    return TASKS.lookup(name)[0]


def _expected_source(name: str) -> str:
    """The file name or Hugging Face repo id that the unavailable message must name."""
    key, meta = TASKS.lookup(name)
    cls = task_class(name)
    spec = cls.weights_tags[meta.get("tag") or cls.default_tag]
    return spec.hf_repo or spec.filename


@pytest.mark.parametrize("name", list_tasks())
def test_task_contract(name, tmp_path):
    ok, why = task_availability(name)
    images = _images()
    if ok:
        task = create_task(name, reuse=False)
        if task.kind == "quality":  # no model: the enhanced image itself is what the quality metrics score
            assert task.default_metrics
            return
        check_predictions(task, images, task.predict(images))
        return
    # unavailable: a one-line message naming the file and the command; create_task refuses saying the same
    assert "\n" not in why and _expected_source(name) in why, why
    assert GET_COMMAND.search(why), f"no command to get the weights in: {why}"
    with pytest.raises(WeightsUnavailable) as err:
        create_task(name, reuse=False)
    msg = str(err.value)
    assert "\n" not in msg and _expected_source(name) in msg and GET_COMMAND.search(msg), msg
    # the architecture itself, tiny and random, follows the convention
    arch = _arch(name)
    assert arch in TINY, f"{arch}: weights not shipped, add a tiny offline build to TINY in this file"
    if arch not in _BUILT:
        _BUILT[arch] = TINY[arch](tmp_path / "tiny")
    task = _BUILT[arch]
    assert task.kind == task_class(name).kind
    check_predictions(task, images, task.predict(images))


def test_check_predictions_rejects_convention_breaks():
    """The checker itself fails on the usual mistakes (float labels, yxyx boxes, float masks, wrong size)."""
    det = create_task("det_yolo_fastest")
    img = _images()[:1]
    good = {"boxes": np.array([[1, 2, 30, 40]], np.float32), "scores": np.array([0.5], np.float32),
            "labels": np.array([1], np.int64)}
    check_predictions(det, img, [good])
    for bad in ({**good, "labels": np.array([1.0], np.float32)}, {**good, "boxes": good["boxes"][:, [2, 3, 0, 1]]},
                {**good, "labels": np.array([0], np.int64)}, {**good, "scores": good["scores"].astype(np.float64)}):
        with pytest.raises(AssertionError):
            check_predictions(det, img, [bad])
    seg = create_task("seg_espnetv2")
    for bad in ({"mask": np.zeros((64, 64), np.float32)}, {"mask": np.zeros((32, 64), np.int64)},
                {"mask": np.full((64, 64), 255, np.int64)}):
        with pytest.raises(AssertionError):
            check_predictions(seg, img, [bad])


def test_segmentation_num_classes_counts_every_mask_class():
    for arch in ("seg_espnetv2", "seg_yolo"):
        task = create_task("seg_espnetv2") if arch == "seg_espnetv2" else _tiny_yolo_seg(None)
        assert task.num_classes == len(task.class_names), arch
