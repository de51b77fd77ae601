"""SCI: self-calibrated illumination learning (Ma, Ma, Liu, Fan, Luo, CVPR 2022), inference model.

Re-implementation of ``vis-opt-group/SCI: model.py@9d28a3f1`` (``Finetunemodel`` -> ``EnhanceNetwork(layers=1,
channels=3)``). The illumination network: 3x3 conv + ReLU, ``layers`` residual 3x3 conv + BatchNorm + ReLU blocks,
3x3 conv + sigmoid; ``i = clamp(fea + x, 1e-4, 1)``; the enhanced image is ``r = clamp(x / i, 0, 1)`` (258
parameters). Only the illumination estimator is used at test time.

State-dict quirks kept on purpose (so the official files load with ``strict=True``):

- ``EnhanceNetwork`` appends the SAME ``self.conv`` module ``layers`` times to ``self.blocks``, so the state dict
  holds the shared tensors twice, as ``enhance.conv.*`` and ``enhance.blocks.<k>.*``;
- the released ``easy.pt`` / ``medium.pt`` / ``difficult.pt`` also carry the training-only ``calibrate.*`` keys of
  the self-calibration module; ``Finetunemodel`` drops them (it keeps only its own keys), and so does
  :meth:`SCIEnhancer.load_state_dict` before its strict load.

Official pre/post-processing (``test.py``): PIL RGB -> ``ToTensor`` ([0, 1]), no padding or resizing; ``r`` is
saved (already clamped in the model). BatchNorm in eval mode. Any H x W works.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import nn

from ledbench.bench.weights import WeightsSpec
from ledbench.enhancers.base import TorchEnhancer

_COMMIT = "9d28a3f1237df248bb765e7fee16f7c4ac7dbeee"
_PAPER = ("Ma, Ma, Liu, Fan, Luo. Toward Fast, Flexible, and Robust Low-Light Image Enhancement. CVPR 2022, "
          "arXiv:2204.10137")
_LICENSE = "MIT (vis-opt-group/SCI LICENSE, Copyright (c) 2022 Tengyu Ma)"


class EnhanceNetwork(nn.Module):
    """The official illumination estimator; ``forward`` returns the illumination ``i`` in [1e-4, 1]."""

    def __init__(self, layers: int, channels: int):
        super().__init__()
        self.in_conv = nn.Sequential(nn.Conv2d(3, channels, 3, 1, 1), nn.ReLU())
        self.conv = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels), nn.ReLU())
        self.blocks = nn.ModuleList([self.conv for _ in range(layers)])  # the same module, registered again
        self.out_conv = nn.Sequential(nn.Conv2d(channels, 3, 3, 1, 1), nn.Sigmoid())

    def forward(self, x):
        fea = self.in_conv(x)
        for conv in self.blocks:
            fea = fea + conv(fea)
        return torch.clamp(self.out_conv(fea) + x, 0.0001, 1)


class SCINet(nn.Module):
    """Official ``Finetunemodel`` (without its constructor-time file loading); ``forward`` returns ``(i, r)``."""

    def __init__(self, layers: int = 1, channels: int = 3):
        super().__init__()
        self.enhance = EnhanceNetwork(layers=layers, channels=channels)

    def forward(self, x):
        i = self.enhance(x)
        return i, torch.clamp(x / i, 0, 1)


@dataclasses.dataclass(frozen=True)
class SCIConfig:
    """``EnhanceNetwork`` arguments; ``Finetunemodel`` hard-codes ``layers=1, channels=3`` (all releases)."""

    layers: int = 1
    channels: int = 3


def _spec(tag: str, sha256: str, trained_on: str) -> WeightsSpec:
    return WeightsSpec(
        filename=f"{tag}.pt", sha256=sha256,
        url=f"https://raw.githubusercontent.com/vis-opt-group/SCI/{_COMMIT}/weights/{tag}.pt",
        packaged=f"enhancers/weights/sci_{tag}.pt", license=_LICENSE,
        source=f"vis-opt-group/SCI: weights/{tag}.pt@{_COMMIT}", paper=_PAPER, subdir="sci", size_mb=0.04,
        notes=f"plain state dict incl. training-only calibrate.* keys (dropped); {trained_on}")


class SCIEnhancer(TorchEnhancer):
    """SCI; RGB [0, 1] in and out, no padding; output ``r = clamp(x / i, 0, 1)``.

    Tags (official README): ``easy`` (mainly MIT-Adobe FiveK), ``medium`` (LOL + LSRW; the default of the official
    ``test.py``), ``difficult`` (DARK FACE). The README notes these are not the models of the paper's tables.
    """

    Config = SCIConfig
    summary = "SCI: self-calibrated illumination (Retinex x / i with a 3-conv illumination estimator)"
    paper = _PAPER
    default_tag = "medium"
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "easy": _spec("easy", "b17326a26a93bf187ecbab217f9d3c57467a8b56020d4d9ff600ba257bbffb36",
                      "trained mainly on MIT-Adobe FiveK"),
        "medium": _spec("medium", "4ff1e7e66e8f18114f790e5085ca4c936f0858e329e7ad1cb65b8aa09a9c6916",
                        "trained mainly on LOL and LSRW"),
        "difficult": _spec("difficult", "657fa1f280cae1035df0d5cbe628e91f2d0f28660df608a3fa3f7e9a71da5a13",
                           "trained mainly on DARK FACE"),
    }

    def build_model(self):
        return SCINet(layers=self.config.layers, channels=self.config.channels)

    def load_state_dict(self, state: dict) -> None:
        """Drop the training-only ``calibrate.*`` keys (as ``Finetunemodel`` does), then load strictly."""
        state = {k: v for k, v in state.items() if not k.startswith("calibrate.")}
        self.model.load_state_dict(state, strict=True)

    def forward(self, x):
        return self.model(x)[1]
