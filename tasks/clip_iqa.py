"""CLIP-IQA style no-reference metric ``clip_iqa`` (open_clip ViT-B-32, OpenAI weights).

Inputs: H x W x 3 float RGB in [0, 1] (or ``{"image": ...}``); no reference (``requires_reference = False``).

- ``clip_iqa``: CLIP-IQA style (Wang et al., AAAI 2023): softmax, at the model's logit scale (100 for OpenAI CLIP),
  of the cosine similarities between the image embedding and the antonym prompts ``"Good photo."`` /
  ``"Bad photo."``; the score is the probability of the positive prompt, in [0, 1], higher is better. Backbone
  open_clip ``ViT-B-32`` with the OpenAI weights (QuickGELU), input resized (shortest side, bicubic, antialiased)
  and centre-cropped to 224 with the CLIP mean / std. Differs from pyiqa's ``clipiqa`` (ResNet-50 backbone, no
  positional embedding, full-resolution input), so the numbers are not interchangeable.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ledbench.bench.errors import WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, find_local, resolve_weights
from ledbench.tasks.metrics import PerImageMetric
from ledbench.tasks.quality import rgb_image

__all__ = ["CLIPIQA", "CLIP_WEIGHTS"]

_MODEL_CACHE: dict[tuple, Any] = {}
_CACHE_LOCK = threading.Lock()


CLIP_WEIGHTS: dict[tuple[str, str], WeightsSpec] = {
    ("ViT-B-32", "openai"): WeightsSpec(
        filename="ViT-B-32.pt", sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        url="https://openaipublic.azureedge.net/clip/models/"
            "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
        license="MIT (openai/CLIP)", source="openai/CLIP clip/clip.py _MODELS['ViT-B/32'] (TorchScript archive)",
        paper="Radford et al., Learning Transferable Visual Models From Natural Language Supervision, ICML 2021",
        size_mb=338.0, subdir="clip", extra={"quick_gelu": True, "openai_jit": True}),
}


@dataclass(frozen=True)
class CLIPIQAConfig:
    """open_clip ``model`` / ``pretrained`` tag; ``weights``: an explicit checkpoint (OpenAI .pt or state dict)."""

    model: str = "ViT-B-32"
    pretrained: str = "openai"
    weights: str | None = None
    positive: str = "Good photo."
    negative: str = "Bad photo."
    download: bool = False
    device: str = "cpu"


class CLIPIQA(PerImageMetric):
    """CLIP-IQA style no-reference score: P("Good photo." | image) among the antonym pair. Higher is better."""

    Config = CLIPIQAConfig
    directions = {"clip_iqa": True}
    requires_reference = False
    range = (0.0, 1.0)
    weights_tags = {"vit_b_32_openai": CLIP_WEIGHTS[("ViT-B-32", "openai")]}
    summary = "CLIP-IQA style (open_clip ViT-B-32 OpenAI): softmax over 'Good photo.' / 'Bad photo.'"

    def reset(self) -> None:
        super().reset()
        self._state = None

    def _load(self):
        import open_clip
        import torch

        c = self.config
        spec = CLIP_WEIGHTS.get((c.model, c.pretrained))
        what = "clip_iqa.vit_b_32_openai" if (c.model, c.pretrained) == ("ViT-B-32", "openai") else \
            f"{self.name} ({c.model}, {c.pretrained})"
        if spec is None and c.weights is None:
            raise WeightsUnavailable(f"{what}: no weights registered for open_clip {c.model!r} / {c.pretrained!r}; "
                                     f"pass weights=PATH (an open_clip state dict or OpenAI .pt) or use "
                                     f"model='ViT-B-32', pretrained='openai'")
        explicit = c.weights
        if explicit is None and spec is not None and find_local(spec) is None:
            cached = Path(os.path.expanduser("~/.cache/clip")) / spec.filename  # where openai/clip downloads
            explicit = str(cached) if cached.is_file() else None
        try:
            path = resolve_weights(spec or WeightsSpec(filename=Path(str(explicit)).name), explicit, what=what,
                                   download=c.download)
        except WeightsUnavailable as exc:
            raise WeightsUnavailable(f"{exc} (~/.cache/clip/{spec.filename if spec else ''} is used too)") from None
        key = ("clip", c.model, str(path), c.device)
        with _CACHE_LOCK:
            if key not in _MODEL_CACHE:
                extra = spec.extra if spec else {}
                if extra.get("openai_jit") or _is_torchscript(path):
                    model = open_clip.load_openai_model(str(path), device="cpu")
                else:
                    model = open_clip.create_model(c.model, pretrained=str(path),
                                                   force_quick_gelu=bool(extra.get("quick_gelu", False)))
                model = model.to(c.device).eval()
                tok = open_clip.get_tokenizer(c.model)
                with torch.inference_mode():
                    text = model.encode_text(tok([c.positive, c.negative]).to(c.device)).float()
                    text = text / text.norm(dim=-1, keepdim=True)
                _MODEL_CACHE[key] = (model, text)
            model, text = _MODEL_CACHE[key]
        pre = getattr(model.visual, "preprocess_cfg", None) or {}
        size = model.visual.image_size
        size = size[0] if isinstance(size, (tuple, list)) else int(size)
        mean = pre.get("mean", open_clip.OPENAI_DATASET_MEAN)
        std = pre.get("std", open_clip.OPENAI_DATASET_STD)
        scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0
        return model, text, size, mean, std, scale

    def preprocess(self, img: np.ndarray, size: int, mean, std):
        """Resize the shortest side to ``size`` (bicubic, antialiased), centre-crop, normalise: 1 x 3 x S x S."""
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))[None]
        h, w = x.shape[-2:]
        s = size / min(h, w)
        nh, nw = max(size, round(h * s)), max(size, round(w * s))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
        top, left = (nh - size) // 2, (nw - size) // 2
        x = x[..., top:top + size, left:left + size]
        m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        sd = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        return (x - m) / sd

    def score(self, pred, target=None):
        import torch

        if self._state is None:
            self._state = self._load()
        model, text, size, mean, std, scale = self._state
        x = self.preprocess(rgb_image(pred), size, mean, std).to(text.device)
        with torch.inference_mode():
            f = model.encode_image(x).float()
            f = f / f.norm(dim=-1, keepdim=True)
            prob = torch.softmax(scale * f @ text.T, dim=-1)[0, 0]
        return float(prob.item())


def _is_torchscript(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("constants.pkl") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
