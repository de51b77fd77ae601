"""MIMO-UNet and MIMO-UNet+: multi-input multi-output U-Net for single-image motion deblurring (Cho et al., ICCV 2021).

Re-implementation of ``chosj95/MIMO-UNet: models/MIMOUNet.py`` (+ ``models/layers.py``) @ 5c580135. Module and
parameter names follow the official classes exactly, so the released GoPro checkpoints (``MIMO-UNet.pkl``,
``MIMO-UNetPlus.pkl``; state dict under ``model``) load with ``strict=True``.

Architecture (the only constructor argument is ``num_res``; ``base_channel=32`` is fixed): a three-level U-Net with
``num_res`` residual blocks per encoder / decoder level. The 1/2 and 1/4 scale inputs (nearest ``F.interpolate``,
the official default mode) enter the encoder through shallow convolutional modules (SCM) merged by feature
attention (FAM); asymmetric feature fusion (AFF) mixes the three encoder scales for the skip connections; the
decoder emits a deblurred image at 1/4, 1/2 and full scale (each one a residual on the resized input).
MIMO-UNet: ``num_res=8`` (6,807,171 parameters); MIMO-UNet+: ``num_res=20`` and ``Dropout2d(0.1)`` on the fused skips
(identity at inference; 16,107,651 parameters).

Official inference (``eval.py``): RGB in [0, 1] (``F.to_tensor``), no padding (GoPro 1280x720 is a multiple of 4;
H and W must be), output ``model(x)[2]`` clamped to [0, 1]. For arbitrary sizes this wrapper reflect-pads
right/bottom to a multiple of 4 and crops back (identical to the official path when H, W are multiples of 4).
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

_COMMIT = "5c580135ed1c03344ac9c741267324ff90b5f209"
_SRC = f"chosj95/MIMO-UNet: models/MIMOUNet.py@{_COMMIT}"
_PAPER = ("Cho, Ji, Hong, Jung, Ko. Rethinking Coarse-to-Fine Approach in Single Image Deblurring. ICCV 2021, "
          "arXiv:2108.05054")
_LICENSE = "none stated (chosj95/MIMO-UNet has no LICENSE file: all rights reserved; research use only)"
_BASE_CHANNEL = 32


def _gdrive(file_id: str) -> str:
    """Direct-download form of a Google Drive share link (``confirm=t`` skips the large-file warning page)."""
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


# -- building blocks (names as in the official code) ----------------------------------------------------------------

class BasicConv(nn.Module):
    """Conv (or stride-2 transposed conv, padding k//2-1) + optional ReLU, wrapped in ``main`` (official layout).

    The official class also has a BatchNorm option; no MIMO-UNet layer uses it, so it is left out.
    """

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int, stride: int, relu: bool = True,
                 transpose: bool = False):
        super().__init__()
        if transpose:
            conv = nn.ConvTranspose2d(in_channel, out_channel, kernel_size, stride=stride,
                                      padding=kernel_size // 2 - 1)
        else:
            conv = nn.Conv2d(in_channel, out_channel, kernel_size, stride=stride, padding=kernel_size // 2)
        layers = [conv, nn.ReLU(inplace=True)] if relu else [conv]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x)


class ResBlock(nn.Module):
    """conv3x3-ReLU-conv3x3 plus identity."""

    def __init__(self, channel: int):
        super().__init__()
        self.main = nn.Sequential(BasicConv(channel, channel, 3, 1, relu=True),
                                  BasicConv(channel, channel, 3, 1, relu=False))

    def forward(self, x):
        return self.main(x) + x


class ResStack(nn.Module):
    """``num_res`` residual blocks under ``layers`` (the official ``EBlock`` / ``DBlock``, which are identical)."""

    def __init__(self, channel: int, num_res: int):
        super().__init__()
        self.layers = nn.Sequential(*[ResBlock(channel) for _ in range(num_res)])

    def forward(self, x):
        return self.layers(x)


class AFF(nn.Module):
    """Asymmetric feature fusion: concat the three scales -> 1x1 conv + ReLU -> 3x3 conv."""

    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.conv = nn.Sequential(BasicConv(in_channel, out_channel, 1, 1, relu=True),
                                  BasicConv(out_channel, out_channel, 3, 1, relu=False))

    def forward(self, x1, x2, x4):
        return self.conv(torch.cat([x1, x2, x4], dim=1))


class SCM(nn.Module):
    """Shallow convolutional module: features of a down-scaled input image, concatenated with the image itself."""

    def __init__(self, out_plane: int):
        super().__init__()
        self.main = nn.Sequential(
            BasicConv(3, out_plane // 4, 3, 1, relu=True),
            BasicConv(out_plane // 4, out_plane // 2, 1, 1, relu=True),
            BasicConv(out_plane // 2, out_plane // 2, 3, 1, relu=True),
            BasicConv(out_plane // 2, out_plane - 3, 1, 1, relu=True),
        )
        self.conv = BasicConv(out_plane, out_plane, 1, 1, relu=False)

    def forward(self, x):
        return self.conv(torch.cat([x, self.main(x)], dim=1))


class FAM(nn.Module):
    """Feature attention module: ``x1 + conv3x3(x1 * x2)``."""

    def __init__(self, channel: int):
        super().__init__()
        self.merge = BasicConv(channel, channel, 3, 1, relu=False)

    def forward(self, x1, x2):
        return x1 + self.merge(x1 * x2)


def _half(x):
    return F.interpolate(x, scale_factor=0.5)  # nearest, as in the official code


def _double(x):
    return F.interpolate(x, scale_factor=2)


class MIMOUNet(nn.Module):
    """The official ``MIMOUNet(num_res=8)``; ``forward`` returns ``[1/4, 1/2, full]``-scale outputs (unclamped).

    H and W must be multiples of 4.
    """

    def __init__(self, num_res: int = 8):
        super().__init__()
        c = _BASE_CHANNEL
        self.Encoder = nn.ModuleList([ResStack(c, num_res), ResStack(c * 2, num_res), ResStack(c * 4, num_res)])
        self.feat_extract = nn.ModuleList([
            BasicConv(3, c, 3, 1, relu=True),
            BasicConv(c, c * 2, 3, 2, relu=True),
            BasicConv(c * 2, c * 4, 3, 2, relu=True),
            BasicConv(c * 4, c * 2, 4, 2, relu=True, transpose=True),
            BasicConv(c * 2, c, 4, 2, relu=True, transpose=True),
            BasicConv(c, 3, 3, 1, relu=False),
        ])
        self.Decoder = nn.ModuleList([ResStack(c * 4, num_res), ResStack(c * 2, num_res), ResStack(c, num_res)])
        self.Convs = nn.ModuleList([BasicConv(c * 4, c * 2, 1, 1, relu=True), BasicConv(c * 2, c, 1, 1, relu=True)])
        self.ConvsOut = nn.ModuleList([BasicConv(c * 4, 3, 3, 1, relu=False), BasicConv(c * 2, 3, 3, 1, relu=False)])
        self.AFFs = nn.ModuleList([AFF(c * 7, c), AFF(c * 7, c * 2)])
        self.FAM1 = FAM(c * 4)
        self.SCM1 = SCM(c * 4)
        self.FAM2 = FAM(c * 2)
        self.SCM2 = SCM(c * 2)

    def _skip_dropout(self, res1, res2):
        return res1, res2

    def forward(self, x):
        x_2 = _half(x)
        x_4 = _half(x_2)
        z2 = self.SCM2(x_2)
        z4 = self.SCM1(x_4)

        res1 = self.Encoder[0](self.feat_extract[0](x))
        z = self.FAM2(self.feat_extract[1](res1), z2)
        res2 = self.Encoder[1](z)
        z = self.FAM1(self.feat_extract[2](res2), z4)
        z = self.Encoder[2](z)

        z42 = _double(z)
        res2_fused = self.AFFs[1](_half(res1), res2, z42)
        res1_fused = self.AFFs[0](res1, _double(res2), _double(z42))
        res1, res2 = self._skip_dropout(res1_fused, res2_fused)

        z = self.Decoder[0](z)
        out_4 = self.ConvsOut[0](z) + x_4
        z = self.feat_extract[3](z)

        z = self.Decoder[1](self.Convs[0](torch.cat([z, res2], dim=1)))
        out_2 = self.ConvsOut[1](z) + x_2
        z = self.feat_extract[4](z)

        z = self.Decoder[2](self.Convs[1](torch.cat([z, res1], dim=1)))
        out = self.feat_extract[5](z) + x
        return [out_4, out_2, out]


class MIMOUNetPlus(MIMOUNet):
    """The official ``MIMOUNetPlus(num_res=20)``: deeper stacks and ``Dropout2d(0.1)`` on the fused skips."""

    def __init__(self, num_res: int = 20):
        super().__init__(num_res)
        self.drop1 = nn.Dropout2d(0.1)
        self.drop2 = nn.Dropout2d(0.1)

    def _skip_dropout(self, res1, res2):
        return self.drop1(res1), self.drop2(res2)


# -- enhancers --------------------------------------------------------------------------------------------------

class MIMOUNetEnhancer(TorchEnhancer):
    """MIMO-UNet (GoPro). Input/output RGB [0, 1]; reflect-pad to a multiple of 4; the full-scale output is used."""

    @dataclasses.dataclass(frozen=True)
    class Config:
        """``num_res``: residual blocks per encoder/decoder level (official constructor argument)."""

        num_res: int = 8

    summary: ClassVar[str] = "MIMO-UNet deblurring network (GoPro weights)"
    paper: ClassVar[str] = _PAPER
    arch_cls: ClassVar[type] = MIMOUNet
    pad_multiple: ClassVar[int] = 4
    pad_mode: ClassVar[str] = "reflect"
    default_tag: ClassVar[str] = "gopro"
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "gopro": WeightsSpec(
            filename="MIMO-UNet.pkl", sha256=None, url=_gdrive("1EQJoQj3YMLFfzrbgzWMD3Xj96RqLdIlx"),
            license=_LICENSE, source=_SRC, paper=_PAPER, state_dict_key="model", subdir="mimo_unet", size_mb=27,
            notes="GoPro-trained, num_res=8; README link https://drive.google.com/file/d/"
                  "1EQJoQj3YMLFfzrbgzWMD3Xj96RqLdIlx (no official sha256). Official GoPro PSNR 31.73 / SSIM 0.951."),
    }

    @classmethod
    def network_from_config(cls, config) -> nn.Module:
        """The bare network for ``config`` (no weights; works under ``torch.device('meta')`` for profiling)."""
        if config.num_res < 1:
            raise ConfigError(f"{cls.__name__}: num_res must be >= 1, got {config.num_res}")
        return cls.arch_cls(num_res=config.num_res)

    def build_model(self):
        return self.network_from_config(self.config)

    def forward(self, x):
        return self.model(x)[-1]


class MIMOUNetPlusEnhancer(MIMOUNetEnhancer):
    """MIMO-UNet+ (GoPro): ``num_res=20``; same pre/post-processing as MIMO-UNet."""

    @dataclasses.dataclass(frozen=True)
    class Config:
        """``num_res``: residual blocks per encoder/decoder level (official constructor argument)."""

        num_res: int = 20

    summary: ClassVar[str] = "MIMO-UNet+ deblurring network (GoPro weights)"
    arch_cls: ClassVar[type] = MIMOUNetPlus
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "gopro": WeightsSpec(
            filename="MIMO-UNetPlus.pkl", sha256=None, url=_gdrive("166sufeHcdDTgXHNbCRzTC4T6DzuflB5m"),
            license=_LICENSE, source=_SRC, paper=_PAPER, state_dict_key="model", subdir="mimo_unet", size_mb=65,
            notes="GoPro-trained, num_res=20; README link https://drive.google.com/file/d/"
                  "166sufeHcdDTgXHNbCRzTC4T6DzuflB5m (no official sha256). Official GoPro PSNR 32.45 / SSIM 0.957."),
    }
