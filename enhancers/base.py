"""Enhancer base classes: the image contract, weights loading, padding, tiling, AMP, and cascades.

Contract (everywhere in ledbench): ``enhance(x)`` takes ``torch.float32`` ``N x 3 x H x W`` RGB in [0, 1] and
returns the same shape, dtype and range. Each enhancer converts to and from its own convention internally
(``input_range=(-1, 1)`` for LEDNet-retrain, BGR for some code bases, padding to a multiple, ...).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, ClassVar

from ledbench.bench.config import NoConfig
from ledbench.bench.device import resolve_device as resolve_device  # re-export: old import path
from ledbench.bench.errors import InputError, OutOfMemory
from ledbench.bench.plugin import WeightedPlugin
from ledbench.bench.weights import load_checkpoint


class Enhancer(WeightedPlugin):
    """Base class of every enhancer.

    ``pretrained=False`` builds a learned model with random initialisation (tests, training from scratch); its
    identity then carries ``weights_sha256=None``. Subclasses set ``Config`` (a frozen dataclass), optionally
    ``weights_tags`` (tag -> :class:`WeightsSpec`) and ``default_tag``, and implement :meth:`_enhance`. ``name`` is
    the registry name it was created under.
    """

    trust_weights: ClassVar[bool] = False
    paper: ClassVar[str] = ""

    def __init__(self, config: Any = None, *, name: str | None = None, tag: str | None = None,
                 weights: str | None = None, device: Any = "cpu", download: bool = False,
                 tile: int = 0, tile_overlap: int = 32, amp: bool = False, pretrained: bool = True,
                 trust_weights: bool = False):
        self.device = resolve_device(device)
        self.tile = int(tile)
        self.tile_overlap = int(tile_overlap)
        self.amp = bool(amp)
        self.pretrained = pretrained
        # full unpickling of a checkpoint (files that store Python objects); only for files you trust
        self.trust_weights = trust_weights or type(self).trust_weights
        self._init_plugin(config, name, tag, weights, download, pretrained)
        self.setup()

    # -- hooks for subclasses -----------------------------------------------------------------------------------
    def setup(self) -> None:
        """Build models / load weights; called at the end of ``__init__``."""

    def _enhance(self, x):
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        """Everything that determines the output: name, config, weights digest, tiling / AMP options."""
        return {**super().identity(), "tile": self.tile, "tile_overlap": self.tile_overlap if self.tile else 0,
                "amp": self.amp and self.device.type == "cuda"}

    # -- public call --------------------------------------------------------------------------------------------
    def enhance(self, x):
        """Enhance ``x`` (N x 3 x H x W float RGB in [0, 1]) and return the same shape in [0, 1]."""
        import torch

        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
            raise InputError(f"{self.name}: expected an N x 3 x H x W tensor, got {shape}")
        if not x.is_floating_point():
            raise InputError(f"{self.name}: expected a float tensor in [0, 1], got {x.dtype}")
        src_device = x.device
        x = x.float()
        try:
            with torch.no_grad():
                y = self._enhance(x)
        except RuntimeError as exc:
            if isinstance(exc, OutOfMemory) or not is_out_of_memory(exc):
                raise  # already explained (a cascade stage), or not a memory error
            if self.device.type == "cuda":
                torch.cuda.empty_cache()  # let the next (smaller) input or tile start from a clean allocator
            raise OutOfMemory(self._oom_message(x)) from exc
        if tuple(y.shape) != tuple(x.shape):
            raise InputError(f"{self.name}: produced shape {tuple(y.shape)} for input {tuple(x.shape)}")
        if not torch.isfinite(y).all():
            raise InputError(f"{self.name} produced NaN/Inf values; the input may be out of the model's domain "
                             "or the weights are broken")
        return y.float().clamp(0.0, 1.0).to(src_device)

    __call__ = enhance

    def _oom_message(self, x) -> str:
        n, _, h, w = x.shape
        smaller = max(64, self.tile // 2) if self.tile else 512
        how = (f"set tile={smaller} (`--tile {smaller}` for ledbench enhance: overlapping tiles of that size, moved to "
               f"the device one at a time; tile and tile_overlap are part of the cache key, and tiling can shift "
               f"scores slightly)")
        if n > 1:
            how += " or batch=1"
        if self.device.type == "cuda" and not self.amp:
            how += ", or amp=true (float16 autocast)"
        tiled = f" with tile={self.tile}" if self.tile else ""
        return (f"{self.name}: out of memory on {self.device} for a {n} x 3 x {h} x {w} batch "
                f"({h * w / 1e6:.1f} Mpx per image){tiled}: {how}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, config={self.config!r})"


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's CUDA/MPS out-of-memory errors and a failed host allocation."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text


class NumpyEnhancer(Enhancer):
    """An enhancer written per image with numpy / scikit-image: implement :meth:`enhance_array`."""

    def enhance_array(self, img):
        """``img``: H x W x 3 float64 RGB in [0, 1] -> same shape (values outside [0, 1] are clipped)."""
        raise NotImplementedError

    def _enhance(self, x):
        import numpy as np
        import torch

        arrays = x.detach().cpu().double().permute(0, 2, 3, 1).numpy()
        out = [np.clip(self.enhance_array(a), 0.0, 1.0) for a in arrays]
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float().to(x.device)


class TorchEnhancer(Enhancer):
    """An enhancer wrapping an ``nn.Module`` whose state dict loads the official checkpoint unchanged.

    Subclasses implement :meth:`build_model` (from ``self.config``) and, when the model returns several outputs,
    :meth:`forward` to pick the final one. Class attributes state the official pre/post-processing:
    ``input_range`` ((0, 1) or (-1, 1)), ``pad_multiple`` and ``pad_mode`` ('reflect', 'constant' or 'crop').
    """

    requires_weights = True
    input_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    pad_multiple: ClassVar[int] = 1
    pad_mode: ClassVar[str] = "reflect"

    def build_model(self):
        raise NotImplementedError

    def forward(self, x):
        """Run the model on a pre-processed, padded batch and return the final output tensor."""
        return self.model(x)

    def setup(self) -> None:
        self.model = self.build_model()
        if self.weights_path is not None:
            state = load_checkpoint(self.weights_path, self.weights_spec, trust=self.trust_weights)
            self.load_state_dict(state)
        self.model.eval().to(self.device)
        for p in self.model.parameters():
            p.requires_grad_(False)

    def load_state_dict(self, state: dict) -> None:
        """Load an official state dict with ``strict=True`` (override to drop training-only keys)."""
        self.model.load_state_dict(state, strict=True)

    # -- pre/post-processing ------------------------------------------------------------------------------------
    def _to_model_range(self, x):
        lo, hi = self.input_range
        return x if (lo, hi) == (0.0, 1.0) else x * (hi - lo) + lo

    def _from_model_range(self, y):
        lo, hi = self.input_range
        return y if (lo, hi) == (0.0, 1.0) else (y - lo) / (hi - lo)

    def _run_padded(self, x):
        import torch.nn.functional as F

        h, w = x.shape[-2:]
        m = self.pad_multiple
        if m > 1 and self.pad_mode != "crop":
            ph, pw = (m - h % m) % m, (m - w % m) % m
            if ph or pw:
                mode = self.pad_mode if self.pad_mode != "reflect" or (ph < h and pw < w) else "replicate"
                x = F.pad(x, (0, pw, 0, ph), mode=mode)
        y = self.forward(self._to_model_range(x))
        return self._from_model_range(y[..., :h, :w])

    def _enhance(self, x):
        import torch

        autocast = (torch.autocast(device_type="cuda", dtype=torch.float16)
                    if self.amp and self.device.type == "cuda" else _nullcontext())
        with autocast:
            if self.tile and max(x.shape[-2:]) > self.tile:
                return tiled_apply(lambda t: self._run_padded(t.to(self.device)).float().cpu(), x.cpu(),
                                   self.tile, self.tile_overlap).to(x.device)
            return self._run_padded(x.to(self.device)).float()


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def tiled_apply(fn, x, tile: int, overlap: int):
    """Apply ``fn`` to overlapping ``tile`` x ``tile`` windows of ``x`` (N x C x H x W) and average the overlaps.

    Windows are cut on the host and moved one at a time, so images larger than device memory work (the
    Real-ESRGAN #184 lesson). Tiling changes outputs slightly; the tile settings are part of the cache key.
    """
    import torch

    n, c, h, w = x.shape
    stride = max(1, tile - overlap)
    ys = list(range(0, max(h - tile, 0) + 1, stride))
    xs = list(range(0, max(w - tile, 0) + 1, stride))
    if ys[-1] + tile < h:
        ys.append(h - tile)
    if xs[-1] + tile < w:
        xs.append(w - tile)
    out = torch.zeros((n, c, h, w), dtype=torch.float32)
    weight = torch.zeros((1, 1, h, w), dtype=torch.float32)
    for y0 in ys:
        for x0 in xs:
            patch = x[..., y0:y0 + tile, x0:x0 + tile]
            res = fn(patch)
            out[..., y0:y0 + patch.shape[-2], x0:x0 + patch.shape[-1]] += res
            weight[..., y0:y0 + patch.shape[-2], x0:x0 + patch.shape[-1]] += 1
    return out / weight


class Cascade(Enhancer):
    """Stages applied left to right; the canonical name joins the stage names with ``+``."""

    def __init__(self, stages: list[Enhancer], *, name: str | None = None):
        self.stages = list(stages)
        self.config = NoConfig()
        self.name = name or "+".join(s.name for s in self.stages)
        self.device = self.stages[0].device
        self.tile, self.tile_overlap, self.amp = 0, 0, False
        self.tag = None
        self.weights_spec = None
        self.weights_path = None
        digests = [s.weights_sha256 or "-" for s in self.stages]
        self.weights_sha256 = (None if all(d == "-" for d in digests)
                               else hashlib.sha256("+".join(digests).encode()).hexdigest())

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "stages": [s.identity() for s in self.stages]}

    def _enhance(self, x):
        for stage in self.stages:
            x = stage.enhance(x)
        return x


def fields_of(config_cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(config_cls)]
