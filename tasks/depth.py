"""Monocular depth task models through Hugging Face ``transformers``: DPT (MiDaS v3) and Depth Anything.

Both families output **relative inverse depth** (affine-invariant disparity: larger = nearer), resized back to the
input size with bicubic interpolation (as ``DPTImageProcessor.post_process_depth_estimation``), as
``{"depth": float32 H x W}``; ``depth_kind`` is ``"relative_inverse"`` (``"metric"`` for a Depth Anything checkpoint
whose config says ``depth_estimation_type="metric"``). Score them with a depth metric that aligns per image
(``ledbench.tasks.depth_metrics``).

Pre-processing re-implements the transformers ``DPTImageProcessor`` geometry in batched torch: resize to
``size`` (optionally keeping the aspect ratio, each side rounded to ``ensure_multiple_of``) with antialiased bicubic
interpolation, then ``(x - mean) / std``; parameters come from the checkpoint's ``preprocessor_config.json`` when it
has one, else the family defaults below (transformers ``models/dpt/image_processing_dpt.py``; the Depth Anything
hub configs). Images are grouped by network input size and run in batches of ``batch_size`` in inference mode.

Weights are Hugging Face model folders (``config.json`` + ``model.safetensors``), found by
:func:`ledbench.tasks.hf.resolve_hf_folder` (``weights=FOLDER`` > ``$LEDBENCH_WEIGHTS`` / ``$LEDBENCH_HOME/weights``
sub-folder ``<owner>--<name>`` > the Hugging Face cache > a download only with ``download=True``).

Sources: DPT, Ranftl et al., ICCV 2021 (huggingface/transformers ``models/dpt``); Depth Anything, Yang et al.,
CVPR 2024 (``models/depth_anything``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ledbench.bench.errors import InputError, WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, hf_pretrained_kwargs
from ledbench.tasks.base import Task
from ledbench.tasks.hf import folder_weights_sha256, hub_spec, resolve_hf_folder

__all__ = ["DPTDepth", "DepthAnythingDepth", "HFDepthTask", "resize_output_size", "resolve_hf_folder"]

_FIX = "pass weights=FOLDER (any DPT / Depth Anything checkpoint folder)"


def resize_output_size(height: int, width: int, size: tuple[int, int], keep_aspect_ratio: bool,
                       multiple: int) -> tuple[int, int]:
    """Network input size for an image, exactly as transformers ``dpt.get_resize_output_image_size``."""

    def constrain(val: float) -> int:
        x = round(val / multiple) * multiple
        if x < 0:
            x = math.ceil(val / multiple) * multiple
        return int(x)

    scale_h, scale_w = size[0] / height, size[1] / width
    if keep_aspect_ratio:
        if abs(1 - scale_w) < abs(1 - scale_h):
            scale_h = scale_w
        else:
            scale_w = scale_h
    return constrain(scale_h * height), constrain(scale_w * width)


@dataclass(frozen=True)
class HFDepthConfig:
    """Run options. ``input_size`` / ``keep_aspect_ratio`` override the checkpoint's pre-processing when set."""

    batch_size: int = 4
    input_size: int | None = None
    keep_aspect_ratio: bool | None = None
    amp: bool = False  # float16 autocast on CUDA


class HFDepthTask(Task):
    """Base for transformers ``AutoModelForDepthEstimation`` checkpoints; subclasses set the family defaults."""

    external_weights = True  # weights=FILE/FOLDER is resolved by this class (explicit_weights)

    kind = "depth"
    Config = HFDepthConfig
    depth_kind = "relative_inverse"
    default_metrics = ("depth", "depth_median")
    # family pre-processing defaults (overridden by preprocessor_config.json)
    pre_size: ClassVar[tuple[int, int]] = (384, 384)
    pre_keep_aspect: ClassVar[bool] = False
    pre_multiple: ClassVar[int] = 1
    pre_mean: ClassVar[tuple[float, float, float]] = (0.5, 0.5, 0.5)
    pre_std: ClassVar[tuple[float, float, float]] = (0.5, 0.5, 0.5)

    @classmethod
    def availability(cls, tag: str | None = None, what: str | None = None) -> tuple[bool, str]:
        spec = cls.weights_tags.get(tag or cls.default_tag or "")
        if spec is None:
            return False, "needs weights=FOLDER (a Hugging Face depth checkpoint folder)"
        try:
            resolve_hf_folder(spec, what=what or f"{cls.__name__}.{tag or cls.default_tag}", fix=_FIX)
        except WeightsUnavailable as exc:
            return False, str(exc)
        return True, ""

    def setup(self) -> None:
        import torch
        import transformers
        from transformers import AutoModelForDepthEstimation

        transformers.utils.logging.disable_progress_bar()  # quiet: no per-load progress bars in benchmark logs

        spec = self.weights_spec
        if spec is None and self.explicit_weights is None:
            raise WeightsUnavailable(f"task {self.name} needs a tag ({', '.join(self.weights_tags)}) or "
                                     f"weights=FOLDER")
        folder = resolve_hf_folder(spec or WeightsSpec(filename="model.safetensors"), self.explicit_weights,
                                   what=self.name, download=self.download, fix=_FIX)
        self.weights_path = folder
        digest = folder_weights_sha256(folder)
        if digest:
            self.weights_sha256 = digest
        safe = hf_pretrained_kwargs(folder, trust=getattr(self, "trust_weights", False), what=self.name)
        try:
            model = AutoModelForDepthEstimation.from_pretrained(str(folder), local_files_only=True, **safe)
        except Exception as exc:  # noqa: BLE001
            raise WeightsUnavailable(f"cannot load the depth model in {str(folder)!r} for {self.name}: {exc}") from None
        self.model = model.to(self.device).eval()
        if getattr(model.config, "depth_estimation_type", "relative") == "metric":
            self.depth_kind = "metric"
        self._pre = self._preprocessing(folder)
        self._torch = torch

    def _preprocessing(self, folder: Path) -> dict[str, Any]:
        pre = {"size": self.pre_size, "keep": self.pre_keep_aspect, "multiple": self.pre_multiple,
               "mean": self.pre_mean, "std": self.pre_std, "normalize": True}
        path = folder / "preprocessor_config.json"
        if path.is_file():
            cfg = json.loads(path.read_text())
            size = cfg.get("size")
            if isinstance(size, int):
                pre["size"] = (size, size)
            elif isinstance(size, dict) and "height" in size:
                pre["size"] = (int(size["height"]), int(size["width"]))
            pre["keep"] = bool(cfg.get("keep_aspect_ratio", pre["keep"]))
            pre["multiple"] = int(cfg.get("ensure_multiple_of", pre["multiple"]) or 1)
            pre["mean"] = tuple(cfg.get("image_mean", pre["mean"]))
            pre["std"] = tuple(cfg.get("image_std", pre["std"]))
            pre["normalize"] = bool(cfg.get("do_normalize", True))
        if self.config.input_size is not None:
            pre["size"] = (int(self.config.input_size), int(self.config.input_size))
        if self.config.keep_aspect_ratio is not None:
            pre["keep"] = bool(self.config.keep_aspect_ratio)
        return pre

    def preprocess(self, images: list[np.ndarray]):
        """Network inputs: a list of 1 x 3 x h x w float32 tensors (antialiased bicubic resize, normalised)."""
        torch = self._torch
        import torch.nn.functional as F

        pre = self._pre
        mean = torch.tensor(pre["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(pre["std"], dtype=torch.float32).view(1, 3, 1, 1)
        out = []
        for img in images:
            arr = np.asarray(img, dtype=np.float32)
            if arr.ndim != 3 or arr.shape[2] != 3:
                raise InputError(f"{self.name} expects H x W x 3 RGB images, got shape {arr.shape}")
            x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
            h, w = resize_output_size(arr.shape[0], arr.shape[1], pre["size"], pre["keep"], pre["multiple"])
            if (h, w) != tuple(arr.shape[:2]):
                x = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False, antialias=True)
            if pre["normalize"]:
                x = (x - mean) / std
            out.append(x)
        return out

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        torch = self._torch
        import torch.nn.functional as F

        inputs = self.preprocess(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, x in enumerate(inputs):
            groups.setdefault(tuple(x.shape[-2:]), []).append(i)
        results: list[dict[str, np.ndarray] | None] = [None] * len(images)
        bs = max(1, int(self.config.batch_size))
        use_amp = bool(self.config.amp) and self.device.type == "cuda"
        with torch.inference_mode():
            for idx in groups.values():
                for start in range(0, len(idx), bs):
                    chunk = idx[start:start + bs]
                    batch = torch.cat([inputs[i] for i in chunk]).to(self.device)
                    with torch.autocast(self.device.type, dtype=torch.float16, enabled=use_amp):
                        depth = self.model(pixel_values=batch).predicted_depth
                    depth = depth.float()
                    if depth.ndim == 3:
                        depth = depth[:, None]
                    for j, i in enumerate(chunk):
                        h, w = np.asarray(images[i]).shape[:2]
                        d = F.interpolate(depth[j:j + 1], size=(h, w), mode="bicubic", align_corners=False)
                        results[i] = {"depth": d[0, 0].cpu().numpy().astype(np.float32)}
        return results  # type: ignore[return-value]


class DPTDepth(HFDepthTask):
    """DPT (MiDaS v3.0) relative inverse depth. Tags: ``hybrid`` (Intel/dpt-hybrid-midas), ``large`` (Intel/dpt-large).

    Pre-processing default (transformers ``DPTImageProcessor``): 384 x 384 without keeping the aspect ratio, bicubic,
    mean = std = 0.5.
    """

    summary = "DPT / MiDaS v3 relative inverse depth (transformers); any DPT checkpoint folder via weights=FOLDER"
    weights_tags = {
        "hybrid": hub_spec("Intel/dpt-hybrid-midas", "Apache-2.0", "Ranftl et al., Vision Transformers for Dense "
                            "Prediction, ICCV 2021", 490.0, "MiDaS v3.0 DPT-Hybrid (ViT-hybrid, BiT-R50 stem)"),
        "large": hub_spec("Intel/dpt-large", "Apache-2.0", "Ranftl et al., Vision Transformers for Dense Prediction, "
                           "ICCV 2021", 1370.0, "MiDaS v3.0 DPT-Large (ViT-L/16)"),
    }
    default_tag = "hybrid"


class DepthAnythingDepth(HFDepthTask):
    """Depth Anything relative inverse depth. Tags: ``small`` (V1, LiheYoung/depth-anything-small-hf) and
    ``v2_small`` (depth-anything/Depth-Anything-V2-Small-hf).

    Pre-processing default (the hub ``preprocessor_config.json``): short-side-preserving resize towards 518 x 518 with
    each side a multiple of 14 (aspect ratio kept), bicubic, ImageNet mean / std.
    """

    summary = "Depth Anything relative inverse depth (transformers); any checkpoint folder via weights=FOLDER"
    pre_size = (518, 518)
    pre_keep_aspect = True
    pre_multiple = 14
    pre_mean = (0.485, 0.456, 0.406)
    pre_std = (0.229, 0.224, 0.225)
    weights_tags = {
        "small": hub_spec("LiheYoung/depth-anything-small-hf", "Apache-2.0", "Yang et al., Depth Anything, CVPR 2024",
                           100.0, "ViT-S DINOv2 encoder + DPT head"),
        "v2_small": hub_spec("depth-anything/Depth-Anything-V2-Small-hf", "Apache-2.0",
                              "Yang et al., Depth Anything V2, NeurIPS 2024", 100.0, "ViT-S DINOv2 encoder + DPT head"),
    }
    default_tag = "small"
