"""Semantic segmentation tasks SegFormer (transformers, ``seg_segformer``) and ESPNetv2 (shipped, ``seg_espnetv2``).

Output per image: ``{"mask": int64 H x W, "entropy": float32, "confidence": float32}``: the class-index map at input
resolution, and the mean per-pixel softmax entropy (nats) and top-class probability at the model's output resolution
(for the label-free ``seg_stats``, :mod:`ledbench.tasks.label_free`); ``255`` marks pixels the model
leaves unlabelled (ESPNetv2-Cityscapes ``background``), excluded from scoring when they are labels
(pseudo-GT) and counted as misses when they are predictions. Each task exposes ``class_names`` (index -> name)
and ``num_classes``. The ultralytics ``seg_yolo`` lives in :mod:`ledbench.tasks.ultralytics_yolo`.

- ``seg_segformer``: ``SegformerForSemanticSegmentation``; ImageNet mean/std, resize to the processor size
  (512 x 512 ADE20K, 1024 x 1024 Cityscapes), logits upsampled bilinearly to the input size, argmax. The model
  folder comes from :func:`ledbench.tasks.hf.resolve_hf_folder` (``model=`` / ``weights=`` a folder or hub id).
- ``seg_espnetv2``: ESPNetv2 (Mehta et al., CVPR 2019), network in :mod:`ledbench.tasks.espnetv2`, loading the
  official checkpoints unchanged. Pre/post-processing follow the official ``test_segmentation.py``: PIL bilinear
  resize of the uint8 image to the training size (W x H 512 x 256 Cityscapes, 256 x 256 VOC), ImageNet mean/std,
  argmax, PIL nearest resize of the label map back to the input size. Cityscapes output 19 (``background``)
  becomes 255, as the official ``relabel`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ledbench.bench.errors import WeightsUnavailable
from ledbench.bench.weights import (
    WeightsSpec,
    hf_pretrained_kwargs,
    load_checkpoint,
    load_state_dict_checked,
)
from ledbench.tasks.base import Task, check_image, to_uint8_half_up
from ledbench.tasks.hf import folder_weights_sha256, hub_spec, resolve_hf_folder
from ledbench.tasks.label_free import softmax_uncertainty, uncertainty_fields
from ledbench.tasks.seg_metrics import CITYSCAPES_CLASSES, VOC_CLASSES

__all__ = ["ESPNetv2Task", "SegFormerTask"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# -- ESPNetv2 (network in ledbench.tasks.espnetv2) ----------------------------------------------------------------

_ESP_SOURCE = "sacmehta/EdgeNets : model/segmentation/model_zoo/espnetv2/ @ 2b232d3f"
_ESP_LICENSE = "MIT (Sachin Mehta); notice in ledbench/tasks/weights/LICENSE.espnetv2"
_ESP_PAPER = "Mehta et al., ESPNetv2: A Light-weight, Power Efficient, and General Purpose CNN, CVPR 2019"


def _esp_spec(filename: str, sha256: str, size_mb: float, **config) -> WeightsSpec:
    return WeightsSpec(filename=filename, sha256=sha256, packaged=f"tasks/weights/{filename}", license=_ESP_LICENSE,
                       source=_ESP_SOURCE, paper=_ESP_PAPER, subdir="espnetv2_seg", size_mb=size_mb,
                       url=f"https://github.com/sacmehta/EdgeNets/raw/2b232d3f/model/segmentation/model_zoo/espnetv2/"
                           f"{filename}", config=config)


@dataclass(frozen=True)
class ESPNetv2Config:
    """``s`` width scale, ``dataset`` ``city`` | ``pascal`` (each tag sets both); ``size`` (W, H) network input,
    () = the dataset's (512 x 256 for city, 256 x 256 for pascal, as the released files' names say)."""

    s: float = 1.0
    dataset: Literal["city", "pascal"] = "city"
    size: tuple[int, ...] = ()
    batch: int = 8


class ESPNetv2Task(Task):
    """ESPNetv2 semantic segmentation (Cityscapes 19 classes + ignore, or Pascal VOC 21); offline, shipped."""

    kind = "segmentation"
    Config = ESPNetv2Config
    requires_weights = True
    default_metrics = ("miou",)
    label_free_metrics = ("seg_stats",)
    summary = "ESPNetv2 semantic segmentation (Cityscapes / Pascal VOC), shipped with ledbench, CPU-friendly"
    weights_tags = {
        "city": _esp_spec("espnetv2_s_1.0_city_512x256.pth",
                          "002121eee40c31c8b74186153878452e02ef834d35f3e4a8801b3a84fdc3ec7d", 1.1,
                          s=1.0, dataset="city"),
        "pascal": _esp_spec("espnetv2_s_1.0_pascal_256x256.pth",
                            "276d738e38733c136abf5ee9e8a801f5455b2751078c7c1d52a2b485460264be", 1.1,
                            s=1.0, dataset="pascal"),
        "city_s2": _esp_spec("espnetv2_s_2.0_city_512x256.pth",
                             "6b6f26b567c82bb4d6624387f24ed505613edafad19222e1707993fbe0d1d8f6", 3.4,
                             s=2.0, dataset="city"),
        "pascal_s2": _esp_spec("espnetv2_s_2.0_pascal_256x256.pth",
                               "e4883abccf8f042d422f2c66d69bd21b7af8d41680335e117eb2ee205f303d32", 3.4,
                               s=2.0, dataset="pascal"),
    }
    default_tag = "city"

    def setup(self) -> None:
        import torch

        from ledbench.tasks.espnetv2 import build_espnetv2

        self.s = float(self.config.s)
        self.dataset = self.config.dataset
        name = Path(self.weights_path).name if self.weights_path else ""
        if name and not (self.weights_spec and name == self.weights_spec.filename):
            # a user file: read s and dataset from the official naming when present
            for part in name.split("_"):
                if part in ("city", "pascal"):
                    self.dataset = part
            if "_s_" in name:
                try:
                    self.s = float(name.split("_s_")[1].split("_")[0])
                except ValueError:
                    pass
        self.input_size = tuple(self.config.size) or ((512, 256) if self.dataset == "city" else (256, 256))
        self.num_outputs = 20 if self.dataset == "city" else 21
        self.class_names = CITYSCAPES_CLASSES if self.dataset == "city" else VOC_CLASSES
        self.num_classes = len(self.class_names)
        self.model = build_espnetv2(self.s, self.num_outputs, self.dataset)
        if self.weights_path is not None:
            sd = load_checkpoint(self.weights_path, self.weights_spec, trust=getattr(self, "trust_weights", False))
            load_state_dict_checked(self.model, sd, source=self.weights_path,
                                    arch=f"ESPNetv2 (s={self.s}, {self.dataset})")
        self.model.eval().to(self.device)
        self._mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def _preprocess(self, img: np.ndarray) -> np.ndarray:
        from PIL import Image

        pil = Image.fromarray(to_uint8_half_up(img)).resize(self.input_size, Image.BILINEAR)
        return np.asarray(pil, dtype=np.float32) / 255.0

    def _postprocess(self, labels: np.ndarray, width: int, height: int) -> np.ndarray:
        from PIL import Image

        out = np.asarray(Image.fromarray(labels.astype(np.uint8)).resize((width, height), Image.NEAREST))
        out = out.astype(np.int64)
        if self.dataset == "city":
            out[out == 19] = 255  # ``background`` is not a Cityscapes class (official relabel: 19 -> 255)
        return out

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        import torch

        imgs = [check_image(im, i) for i, im in enumerate(images)]
        out = []
        step = max(1, self.config.batch)
        with torch.inference_mode():
            for s in range(0, len(imgs), step):
                chunk = imgs[s:s + step]
                x = torch.from_numpy(np.stack([self._preprocess(im) for im in chunk])).permute(0, 3, 1, 2)
                x = ((x - self._mean) / self._std).to(self.device)
                logits = self.model(x)
                entropy, confidence = softmax_uncertainty(logits)
                labels = logits.argmax(1).cpu().numpy()
                for i, (im, lab) in enumerate(zip(chunk, labels)):
                    out.append({"mask": self._postprocess(lab, im.shape[1], im.shape[0]),
                                **uncertainty_fields(entropy, confidence, i)})
        return out


# -- SegFormer (transformers) -----------------------------------------------------------------------------------

_SEGFORMER_LICENSE = "NVIDIA Source Code License for SegFormer (non-commercial); see the model card"
_SEGFORMER_PAPER = "Xie et al., SegFormer: Simple and Efficient Design for Semantic Segmentation, NeurIPS 2021"


_SEGFORMER_FIX = "pass model=LOCAL_FOLDER (any SegFormer checkpoint folder)"
# the nvidia/segformer-* repos hold pytorch_model.bin (some also model.safetensors)
_SEGFORMER_FILES = ("*.json", "*.safetensors", "*.bin", "*.txt")


def _hf_spec(repo: str) -> WeightsSpec:
    return hub_spec(repo, _SEGFORMER_LICENSE, _SEGFORMER_PAPER, notes="a transformers model folder (config.json + "
                    "weights)")


@dataclass(frozen=True)
class SegFormerConfig:
    """``model``: hub id or local model folder ('' = the tag's hub id); ``size`` (W, H) () = processor's size."""

    model: str = ""
    size: tuple[int, ...] = ()
    batch: int = 4
    half: bool = False


class SegFormerTask(Task):
    """SegFormer semantic segmentation through transformers (ADE20K 150 / Cityscapes 19 heads, any folder)."""

    external_weights = True  # weights=FILE/FOLDER is resolved by this class (explicit_weights)

    kind = "segmentation"
    Config = SegFormerConfig
    default_metrics = ("miou",)
    label_free_metrics = ("seg_stats",)
    summary = "SegFormer semantic segmentation (transformers; ADE20K or Cityscapes heads, or a local folder)"
    weights_tags = {
        "b0_ade": _hf_spec("nvidia/segformer-b0-finetuned-ade-512-512"),
        "b2_ade": _hf_spec("nvidia/segformer-b2-finetuned-ade-512-512"),
        "b0_cityscapes": _hf_spec("nvidia/segformer-b0-finetuned-cityscapes-1024-1024"),
        "b2_cityscapes": _hf_spec("nvidia/segformer-b2-finetuned-cityscapes-1024-1024"),
    }
    default_tag = "b0_ade"

    @classmethod
    def availability(cls, tag: str | None = None, what: str | None = None) -> tuple[bool, str]:
        spec = cls.weights_tags.get(tag or cls.default_tag)
        if spec is None:
            return True, ""
        try:
            resolve_hf_folder(spec, what=what or f"{cls.__name__}.{tag or cls.default_tag}", fix=_SEGFORMER_FIX)
        except WeightsUnavailable as exc:
            return False, str(exc)
        return True, ""

    def _folder(self) -> Path:
        """The model folder: ``weights=`` / ``model=`` as a local folder or hub id, else the tag's hub repo."""
        src = self.explicit_weights or self.config.model
        if src and (Path(src).expanduser().exists() or "/" not in src or src.startswith((".", "/", "~"))):
            if not Path(src).expanduser().exists():
                raise WeightsUnavailable(f"SegFormer model folder {src!r} for {self.name} does not exist")
            return resolve_hf_folder(_hf_spec(""), src, what=self.name, fix=_SEGFORMER_FIX)
        spec = _hf_spec(src) if src else self.weights_spec
        if spec is None:
            raise WeightsUnavailable(f"task {self.name} needs model=HUB_ID|FOLDER")
        return resolve_hf_folder(spec, what=self.name, download=self.download, patterns=_SEGFORMER_FILES,
                                 fix=_SEGFORMER_FIX)

    def setup(self) -> None:
        import torch
        from transformers import SegformerForSemanticSegmentation

        folder = self._folder()
        safe = hf_pretrained_kwargs(folder, trust=getattr(self, "trust_weights", False), what=self.name)
        try:
            self.model = SegformerForSemanticSegmentation.from_pretrained(str(folder), local_files_only=True, **safe)
        except (OSError, ValueError) as exc:
            raise WeightsUnavailable(f"cannot load the SegFormer model in {str(folder)!r} for {self.name}: "
                                     f"{type(exc).__name__}: {exc}; {_SEGFORMER_FIX}") from None
        self.weights_path = folder
        self.weights_sha256 = folder_weights_sha256(folder)
        self.model.eval().to(self.device)
        if self.config.half and self.device.type == "cuda":
            self.model.half()
        id2label = self.model.config.id2label or {}
        self.num_classes = int(self.model.config.num_labels)
        self.class_names = tuple(str(id2label.get(i, id2label.get(str(i), i))) for i in range(self.num_classes))
        size = tuple(self.config.size)
        if not size:
            size = (1024, 1024) if "cityscapes" in str(folder).lower() else (512, 512)
            try:
                from transformers import AutoImageProcessor

                proc = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
                size = (int(proc.size["width"]), int(proc.size["height"]))
            except Exception:
                pass
        self.input_size = size
        self._mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        import torch
        from torch.nn import functional as F

        imgs = [check_image(im, i) for i, im in enumerate(images)]
        out = []
        w, h = self.input_size
        step = max(1, self.config.batch)
        dtype = next(self.model.parameters()).dtype
        with torch.inference_mode():
            for s in range(0, len(imgs), step):
                chunk = imgs[s:s + step]
                # HF SegformerImageProcessor: bilinear resize of the image to (h, w), rescale 1/255, normalise
                x = torch.stack([torch.from_numpy(np.clip(im, 0, 1)).permute(2, 0, 1) for im in chunk]) \
                    if len({im.shape for im in chunk}) == 1 else None
                if x is not None:
                    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
                else:
                    x = torch.cat([F.interpolate(torch.from_numpy(np.clip(im, 0, 1)).permute(2, 0, 1)[None],
                                                 size=(h, w), mode="bilinear", align_corners=False) for im in chunk])
                x = ((x - self._mean) / self._std).to(self.device, dtype)
                logits = self.model(pixel_values=x).logits.float()
                entropy, confidence = softmax_uncertainty(logits)
                for i, (im, lg) in enumerate(zip(chunk, logits)):
                    out.append({"mask": upsampled_argmax(lg, im.shape[:2]).cpu().numpy().astype(np.int64),
                                **uncertainty_fields(entropy, confidence, i)})
        return out


#: bytes of upsampled logits held at once by :func:`upsampled_argmax` (a 12 MP image: 5 classes per chunk)
UPSAMPLE_BUDGET_BYTES = 256 << 20


def upsampled_argmax(logits, size: tuple[int, int], budget: int | None = None):
    """``argmax`` over classes of the logits (C x h x w) upsampled bilinearly to ``size`` (H, W), as
    ``F.interpolate(...).argmax(0)`` computes it, without holding all C upsampled maps when they exceed ``budget``
    bytes: classes are then upsampled a chunk at a time and a running maximum keeps the first class on ties, as
    ``argmax`` does. Under the budget (one chunk) the result is bit-identical; chunked, a channel's values can differ
    from the whole stack's by float rounding (<= 1e-6, other SIMD lanes), so only exact near-ties may change class.
    Peak memory: the budget plus 12 bytes per pixel instead of 4 C bytes per pixel (SegFormer-ADE20K, 150 classes,
    on a 12 MP image, measured: tensor peak 6958 -> 744 MiB, 1.06x the time, no pixel changed)."""
    import torch
    from torch.nn import functional as F

    budget = UPSAMPLE_BUDGET_BYTES if budget is None else budget
    h, w = size
    step = max(1, int(budget) // max(1, 4 * h * w))
    best = arg = None
    for c0 in range(0, logits.shape[0], step):
        up = F.interpolate(logits[None, c0:c0 + step], size=(h, w), mode="bilinear", align_corners=False)[0]
        val, idx = torch.max(up, 0)  # documented: the first maximal class of the chunk, as argmax
        if best is None:
            best, arg = val, idx
            continue
        better = val > best  # strictly: an equal value keeps the earlier class, as argmax does
        torch.where(better, val, best, out=best)
        torch.where(better, idx + c0, arg, out=arg)
    return arg
