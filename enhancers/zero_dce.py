"""Zero-DCE and Zero-DCE++: zero-reference deep curve estimation (Guo et al. CVPR 2020; Li et al. TPAMI 2021).

Re-implementations of ``Li-Chongyi/Zero-DCE: Zero-DCE_code/model.py@e0f4adc5`` and
``Li-Chongyi/Zero-DCE_extension: Zero-DCE++/model.py@09f202b6`` (class ``enhance_net_nopool`` in both). Module
names follow the official code, so the released ``Epoch99.pth`` files (plain state dicts) load with ``strict=True``.

Both predict per-pixel light-enhancement curves ``LE(x) = x + r * (x^2 - x)`` and apply them 8 times.

- Zero-DCE: 7 plain 3x3 convs (32 features, symmetric skip concatenations), ``tanh`` -> 24 maps = 8 curves x RGB;
  79,416 parameters. No resizing, so any H x W works unchanged.
- Zero-DCE++: depth-wise separable convs (``CSDN_Tem``), ONE 3-channel curve map reused for all 8 iterations,
  estimated on an input down-sampled by ``scale_factor`` (``F.interpolate(bilinear, align_corners=False)``) and
  up-sampled back with ``align_corners=True`` (``nn.UpsamplingBilinear2d``); 10,561 parameters.

Official pre/post-processing: RGB / 255 in [0, 1], no padding; the output is clamped at save time
(``torchvision.utils.save_image``). The official Zero-DCE++ test (``lowlight_test.py``, ``scale_factor=12``)
CROPS H and W down to multiples of ``scale_factor``, so its output is smaller than the input. The harness needs a
same-size output, so :class:`ZeroDCEPPEnhancer` estimates the curve map on exactly that official crop and extends the
(up-sampled) map to the cropped-away border (at most ``scale_factor - 1`` rows/columns at the bottom/right) by
edge replication before applying the curves to the whole image: inside the official crop the output is identical
to the official one, the border gets the curve of its nearest cropped pixel. Images smaller than
``scale_factor`` are replicate-padded up to it for the curve estimate.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ledbench.bench.errors import ConfigError
from ledbench.bench.weights import WeightsSpec
from ledbench.enhancers.base import TorchEnhancer

_DCE_COMMIT = "e0f4adc54d0f23348c4a9b84acc08fe8778d5bfd"
_DCEPP_COMMIT = "09f202b690f82da939b8e6ec8535960ae97ad8bd"
_LICENSE = "CC BY-NC 4.0 (README: academic research only; no LICENSE file) - not redistributed by ledbench"
_DCE_PAPER = ("Guo, Li, Guo, Loy, Hou, Kwong, Cong. Zero-Reference Deep Curve Estimation for Low-Light Image "
              "Enhancement. CVPR 2020, arXiv:2001.06826")
_DCEPP_PAPER = ("Li, Guo, Loy. Learning to Enhance Low-Light Image via Zero-Reference Deep Curve Estimation. "
                "TPAMI 2021, arXiv:2103.00860")


def _apply_curves(x, maps):
    """Apply ``x <- x + r * (x^2 - x)`` for each 3-channel curve map ``r`` in order."""
    for r in maps:
        x = x + r * (torch.pow(x, 2) - x)
    return x


class ZeroDCENet(nn.Module):
    """Official ``enhance_net_nopool`` of Zero-DCE; ``forward`` returns ``(enhance_image_1, enhance_image, r)``."""

    def __init__(self, number_f: int = 32):
        super().__init__()
        self.relu = nn.ReLU(inplace=True)
        self.e_conv1 = nn.Conv2d(3, number_f, 3, 1, 1, bias=True)
        self.e_conv2 = nn.Conv2d(number_f, number_f, 3, 1, 1, bias=True)
        self.e_conv3 = nn.Conv2d(number_f, number_f, 3, 1, 1, bias=True)
        self.e_conv4 = nn.Conv2d(number_f, number_f, 3, 1, 1, bias=True)
        self.e_conv5 = nn.Conv2d(number_f * 2, number_f, 3, 1, 1, bias=True)
        self.e_conv6 = nn.Conv2d(number_f * 2, number_f, 3, 1, 1, bias=True)
        self.e_conv7 = nn.Conv2d(number_f * 2, 24, 3, 1, 1, bias=True)
        # the official class also creates (unused, parameter-free) MaxPool2d / UpsamplingBilinear2d modules

    def forward(self, x):
        x1 = self.relu(self.e_conv1(x))
        x2 = self.relu(self.e_conv2(x1))
        x3 = self.relu(self.e_conv3(x2))
        x4 = self.relu(self.e_conv4(x3))
        x5 = self.relu(self.e_conv5(torch.cat([x3, x4], 1)))
        x6 = self.relu(self.e_conv6(torch.cat([x2, x5], 1)))
        x_r = torch.tanh(self.e_conv7(torch.cat([x1, x6], 1)))
        maps = torch.split(x_r, 3, dim=1)
        enhance_image_1 = _apply_curves(x, maps[:4])
        enhance_image = _apply_curves(enhance_image_1, maps[4:])
        return enhance_image_1, enhance_image, x_r


class CSDN_Tem(nn.Module):
    """Depth-wise 3x3 conv followed by a point-wise 1x1 conv (both with bias)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.depth_conv = nn.Conv2d(in_ch, in_ch, 3, 1, 1, groups=in_ch)
        self.point_conv = nn.Conv2d(in_ch, out_ch, 1, 1, 0)

    def forward(self, x):
        return self.point_conv(self.depth_conv(x))


class ZeroDCEPPNet(nn.Module):
    """Official ``enhance_net_nopool(scale_factor)`` of Zero-DCE++; ``forward`` returns ``(enhance_image, x_r)``.

    ``forward`` expects H and W divisible by ``scale_factor`` (the official test crops to that); otherwise the
    up-sampled curve map does not match the input size.
    """

    def __init__(self, scale_factor: int = 1, number_f: int = 32):
        super().__init__()
        self.relu = nn.ReLU(inplace=True)
        self.scale_factor = scale_factor
        self.e_conv1 = CSDN_Tem(3, number_f)
        self.e_conv2 = CSDN_Tem(number_f, number_f)
        self.e_conv3 = CSDN_Tem(number_f, number_f)
        self.e_conv4 = CSDN_Tem(number_f, number_f)
        self.e_conv5 = CSDN_Tem(number_f * 2, number_f)
        self.e_conv6 = CSDN_Tem(number_f * 2, number_f)
        self.e_conv7 = CSDN_Tem(number_f * 2, 3)

    def curve_map(self, x):
        """The 3-channel curve map ``x_r`` at the input resolution (before the 8 curve iterations)."""
        sf = self.scale_factor
        x_down = x if sf == 1 else F.interpolate(x, scale_factor=1 / sf, mode="bilinear")
        x1 = self.relu(self.e_conv1(x_down))
        x2 = self.relu(self.e_conv2(x1))
        x3 = self.relu(self.e_conv3(x2))
        x4 = self.relu(self.e_conv4(x3))
        x5 = self.relu(self.e_conv5(torch.cat([x3, x4], 1)))
        x6 = self.relu(self.e_conv6(torch.cat([x2, x5], 1)))
        x_r = torch.tanh(self.e_conv7(torch.cat([x1, x6], 1)))
        if sf != 1:  # nn.UpsamplingBilinear2d == bilinear with align_corners=True
            x_r = F.interpolate(x_r, scale_factor=sf, mode="bilinear", align_corners=True)
        return x_r

    @staticmethod
    def enhance(x, x_r):
        return _apply_curves(x, [x_r] * 8)

    def forward(self, x):
        x_r = self.curve_map(x)
        return self.enhance(x, x_r), x_r


@dataclasses.dataclass(frozen=True)
class ZeroDCEConfig:
    """Zero-DCE: the official class takes no arguments; ``number_f`` is its hard-coded width (32)."""

    number_f: int = 32


@dataclasses.dataclass(frozen=True)
class ZeroDCEPPConfig:
    """Zero-DCE++: ``scale_factor`` as the official constructor (12 in the official test); ``number_f`` = 32."""

    scale_factor: int = 12
    number_f: int = 32

    def __post_init__(self):
        if int(self.scale_factor) < 1:
            raise ConfigError(f"zero_dce_pp: scale_factor must be a positive integer, got {self.scale_factor}")


class ZeroDCEEnhancer(TorchEnhancer):
    """Zero-DCE; RGB [0, 1] in and out, no padding; the output after all 8 curves (official index 1)."""

    Config = ZeroDCEConfig
    summary = "Zero-DCE: zero-reference deep curve estimation (8 pixel-wise quadratic curves)"
    paper = _DCE_PAPER
    default_tag = "Epoch99"
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "Epoch99": WeightsSpec(
            filename="Epoch99.pth",
            sha256="a4395acb874f320375d9704997cef874eaaaaa26a1777ceb29a92b70f74c3612",
            url=f"https://raw.githubusercontent.com/Li-Chongyi/Zero-DCE/{_DCE_COMMIT}/Zero-DCE_code/snapshots/"
                "Epoch99.pth",
            license=_LICENSE, source=f"Li-Chongyi/Zero-DCE: Zero-DCE_code/snapshots/Epoch99.pth@{_DCE_COMMIT}",
            paper=_DCE_PAPER, subdir="zero_dce", size_mb=0.3,
            notes="plain state dict (old non-zip torch format); same file name as Zero-DCE++'s, hence subdir"),
    }

    def build_model(self):
        return ZeroDCENet(number_f=self.config.number_f)

    def forward(self, x):
        return self.model(x)[1]


class ZeroDCEPPEnhancer(TorchEnhancer):
    """Zero-DCE++; RGB [0, 1]; curve map on the official crop, extended to the border (see the module docstring)."""

    Config = ZeroDCEPPConfig
    summary = "Zero-DCE++: fast Zero-DCE with a shared curve map estimated at 1/scale_factor resolution"
    paper = _DCEPP_PAPER
    default_tag = "Epoch99"
    pad_mode = "crop"
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "Epoch99": WeightsSpec(
            filename="Epoch99.pth",
            sha256="ca8855b90df9a80fa4195a831f33d3476b1964f787eb70602797c773067f3b84",
            url=f"https://raw.githubusercontent.com/Li-Chongyi/Zero-DCE_extension/{_DCEPP_COMMIT}/Zero-DCE%2B%2B/"
                "snapshots_Zero_DCE%2B%2B/Epoch99.pth",
            license=_LICENSE,
            source=f"Li-Chongyi/Zero-DCE_extension: Zero-DCE++/snapshots_Zero_DCE++/Epoch99.pth@{_DCEPP_COMMIT}",
            paper=_DCEPP_PAPER, subdir="zero_dce_pp", size_mb=0.05,
            notes="plain state dict; trained and tested with scale_factor=12; same file name as Zero-DCE's"),
    }

    def build_model(self):
        return ZeroDCEPPNet(scale_factor=int(self.config.scale_factor), number_f=self.config.number_f)

    def forward(self, x):
        """Official output on the crop to multiples of ``scale_factor``; border pixels reuse the edge curves."""
        sf = self.model.scale_factor
        h, w = x.shape[-2:]
        ph, pw = max(sf - h, 0), max(sf - w, 0)  # tiny images: pad up to one down-sampled pixel
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        hc, wc = (xp.shape[-2] // sf) * sf, (xp.shape[-1] // sf) * sf
        x_r = self.model.curve_map(xp[..., :hc, :wc])[..., :h, :w]
        if x_r.shape[-2:] != (h, w):
            x_r = F.pad(x_r, (0, w - x_r.shape[-1], 0, h - x_r.shape[-2]), mode="replicate")
        return self.model.enhance(x, x_r)
