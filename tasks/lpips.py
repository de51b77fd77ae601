"""LPIPS full-reference metrics: ``lpips`` (VGG trunk, RGB) and ``lpips_lednet`` (the same on BGR-read images).

Inputs: H x W x 3 float RGB in [0, 1] (or ``{"image": ...}``), as the quality task returns them.

- ``lpips``: LPIPS v0.1 with the VGG-16 trunk (Zhang et al., CVPR 2018; the ``lpips`` package), inputs scaled to
  [-1, 1]. Lower is better. Trunk weights: torchvision ``vgg16-397923af.pth`` (ImageNet), resolved through the
  weights mechanism (never downloaded implicitly); linear-layer weights: ``lpips/weights/v0.1/vgg.pth`` from the
  ``lpips`` wheel (sha256-checked).
- ``lpips_lednet``: the same network fed **BGR** images, which is what LEDNet's ``scripts/calculate_iqa_pair.py``
  does (it reads with ``cv2.imread`` and passes the arrays to pyiqa unconverted; sczhou/LEDNet, REFERENCE.md §3.4).
  Use it only to compare with published LEDNet-protocol numbers.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ledbench.bench.errors import InputError, WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, find_local, resolve_weights, sha256_file
from ledbench.tasks.metrics import PerImageMetric
from ledbench.tasks.quality import rgb_pair

__all__ = ["LPIPS", "LPIPSLEDNet", "LPIPS_WEIGHTS", "build_lpips"]

LPIPS_WEIGHTS: dict[str, WeightsSpec] = {
    "vgg_trunk": WeightsSpec(
        filename="vgg16-397923af.pth", url="https://download.pytorch.org/models/vgg16-397923af.pth",
        license="BSD-3-Clause (torchvision); trained on ImageNet", source="pytorch/vision torchvision.models.vgg16 "
        "IMAGENET1K_V1", paper="Simonyan & Zisserman, ICLR 2015", size_mb=528.0, subdir="lpips",
        notes="ImageNet VGG-16 trunk of LPIPS-VGG; the name's 397923af is the sha256 prefix (torch.hub convention)",
        extra={"sha256_prefix": "397923af"}),
    "alex_trunk": WeightsSpec(
        filename="alexnet-owt-7be5be79.pth", url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        license="BSD-3-Clause (torchvision); trained on ImageNet", source="pytorch/vision torchvision.models.alexnet "
        "IMAGENET1K_V1", paper="Krizhevsky et al., NeurIPS 2012", size_mb=233.0, subdir="lpips",
        extra={"sha256_prefix": "7be5be79"}),
    "vgg_lin": WeightsSpec(
        filename="vgg.pth", sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        license="BSD-2-Clause", source="richzhang/PerceptualSimilarity lpips/weights/v0.1/vgg.pth (in the lpips wheel)",
        paper="Zhang et al., The Unreasonable Effectiveness of Deep Features as a Perceptual Metric, CVPR 2018",
        subdir="lpips_v0.1"),
    "alex_lin": WeightsSpec(
        filename="alex.pth", sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        license="BSD-2-Clause",
        source="richzhang/PerceptualSimilarity lpips/weights/v0.1/alex.pth (in the lpips wheel)",
        paper="Zhang et al., CVPR 2018", subdir="lpips_v0.1"),
}


def _torch_hub_file(filename: str) -> Path | None:
    """A file already in torch.hub's checkpoint cache (where torchvision would have put it), or None."""
    import os
    import sys

    if "torch" in sys.modules:  # torch.hub.set_dir() may have moved it in this process
        try:
            hub = Path(sys.modules["torch"].hub.get_dir())
        except Exception:  # noqa: BLE001  # pragma: no cover
            return None
    else:  # torch.hub.get_dir()'s documented default, without importing torch
        base = os.environ.get("TORCH_HOME") or str(Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "torch")
        hub = Path(base).expanduser() / "hub"
    cand = hub / "checkpoints" / filename
    return cand if cand.is_file() else None


def _resolve_trunk(spec: WeightsSpec, explicit: str | None, what: str, download: bool) -> Path:
    if explicit is None and find_local(spec) is None:
        explicit = _torch_hub_file(spec.filename)
        explicit = str(explicit) if explicit else None
    try:
        path = resolve_weights(spec, explicit, what=what, download=download)
    except WeightsUnavailable as exc:
        raise WeightsUnavailable(f"{exc} (a copy in torch.hub's cache, {Path('~/.cache/torch/hub/checkpoints')}, is "
                                 f"used too)") from None
    prefix = spec.extra.get("sha256_prefix")
    if prefix and path.name == spec.filename and not sha256_file(path).startswith(prefix):
        from ledbench.bench.errors import ChecksumError

        raise ChecksumError(f"{str(path)!r}: sha256 does not start with {prefix} as the published file does; it is "
                            f"corrupt or a different file: delete it and fetch {spec.url} again")
    return path


def _lin_path(net: str, explicit: str | None) -> Path:
    spec = LPIPS_WEIGHTS[f"{net}_lin"]
    if explicit is None and find_local(spec) is None:
        try:
            import lpips

            cand = Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / spec.filename
            explicit = str(cand) if cand.is_file() else None
        except ImportError:
            explicit = None
    return resolve_weights(spec, explicit, what=f"lpips {net} linear layers")


@dataclass(frozen=True)
class LPIPSConfig:
    """``backbone_weights`` / ``lin_weights``: explicit files (else resolved); ``download``: may fetch the trunk."""

    net: str = "vgg"
    backbone_weights: str | None = None
    lin_weights: str | None = None
    download: bool = False
    device: str = "cpu"
    bgr_quirk: bool = False


@dataclass(frozen=True)
class LPIPSLEDNetConfig(LPIPSConfig):
    bgr_quirk: bool = True


_MODEL_CACHE: dict[tuple, Any] = {}
_CACHE_LOCK = threading.Lock()


def build_lpips(net: str, backbone: Path, lin: Path):
    """``lpips.LPIPS`` v0.1 with its trunk loaded from a torchvision state dict file (no implicit download)."""
    import lpips

    from ledbench.bench.weights import load_checkpoint

    with warnings.catch_warnings():  # torchvision's deprecation notice for lpips' pretrained=False call
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, version="0.1", pretrained=True, model_path=str(lin), pnet_rand=True,
                            verbose=False)
    state = load_checkpoint(backbone)
    # torchvision keys "features.<i>.weight" -> lpips trunk keys "slice<k>.<i>.weight" (the same layer index i)
    mapped, missing = {}, []
    for key in model.net.state_dict():
        _, idx, leaf = key.split(".")
        src = f"features.{idx}.{leaf}"
        if src in state:
            mapped[key] = state[src]
        else:
            missing.append(src)
    if missing:
        raise WeightsUnavailable(f"{str(backbone)!r} is not a torchvision {net} state dict: missing {missing[:3]}")
    model.net.load_state_dict(mapped, strict=True)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


class LPIPS(PerImageMetric):
    """LPIPS v0.1 (VGG trunk), inputs scaled to [-1, 1]. Lower is better; see the module docstring."""

    Config = LPIPSConfig
    directions = {"lpips": False}
    range = (0.0, math.inf)
    weights_tags = LPIPS_WEIGHTS  # listed / imported / fetched by `ledbench weights`
    summary = "LPIPS v0.1, VGG-16 trunk (lpips package), RGB in [-1, 1]"

    def _model(self):
        c = self.config
        if c.net not in ("vgg", "alex"):
            raise InputError(f"lpips net {c.net!r}: use 'vgg' or 'alex'")
        trunk = _resolve_trunk(LPIPS_WEIGHTS[f"{c.net}_trunk"], c.backbone_weights, f"lpips.{c.net}_trunk",
                               c.download)
        lin = _lin_path(c.net, c.lin_weights)
        key = (c.net, str(trunk), str(lin), c.device)
        with _CACHE_LOCK:
            if key not in _MODEL_CACHE:
                _MODEL_CACHE[key] = build_lpips(c.net, trunk, lin).to(c.device)
            return _MODEL_CACHE[key]

    def check_available(self) -> None:
        """Raise the :class:`WeightsUnavailable` that :meth:`score` would raise when the trunk file is missing.
        Cheap (file lookups only: no torch import, no hashing), so a run skips a metric it cannot compute before
        scoring anything; with ``download=True`` the check is left to the first score."""
        c = self.config
        spec = LPIPS_WEIGHTS.get(f"{c.net}_trunk")
        if spec is None or c.backbone_weights is not None or c.download:
            return
        if find_local(spec) is None and _torch_hub_file(spec.filename) is None:
            _resolve_trunk(spec, None, f"lpips.{c.net}_trunk", download=False)  # raises, naming the fix

    def reset(self) -> None:
        super().reset()
        self._net = None

    def score(self, pred, target):
        import torch

        if self._net is None:
            self._net = self._model()
        p, t = rgb_pair(pred, target)
        if self.config.bgr_quirk:
            p, t = p[..., ::-1], t[..., ::-1]
        dev = next(self._net.parameters()).device

        def tens(a):
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)[None], dtype=np.float32)).to(dev)

        with torch.inference_mode():
            return float(self._net(tens(p) * 2 - 1, tens(t) * 2 - 1).item())


class LPIPSLEDNet(LPIPS):
    """LPIPS-VGG on BGR-ordered inputs, as LEDNet's metric script computes it. Lower is better."""

    Config = LPIPSLEDNetConfig
    directions = {"lpips_lednet": False}
    summary = "LPIPS-VGG v0.1 on BGR-read images (LEDNet scripts/calculate_iqa_pair.py quirk)"
