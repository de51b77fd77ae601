"""LEDNet: joint low-light enhancement and deblurring (Zhou, Li & Loy, ECCV 2022).

Re-implementation of ``sczhou/LEDNet: basicsr/archs/lednet_arch.py`` (+ ``lednet_submodules.py``) @ d3ee2104.
Module and parameter names follow the official class exactly, so the released checkpoints (``lednet.pth``,
``lednet_retrain_500000.pth``, ``lednetgan.pth``; state dict under ``params``) load with ``strict=True``.

Architecture (official kwargs ``channels=[32, 64, 128, 128], connection=False``; 7,408,893 parameters):
encoder at 1/2, 1/4, 1/8 scale with residual blur-pool down-sampling, a pyramid pooling module (bins 1, 2, 3, 6)
and a curve-estimation attention layer (``CurveCALayer``, 3 curves) at each scale; two middle blocks; a decoder
whose features at each scale are filtered by filter-adaptive convolution (FAC: per-pixel 5x5 kernels predicted
from the encoder features). A 1/8-scale side output is trained but not used at inference.

Official inference (``inference_lednet.py``): RGB in [0, 1]; the paper model takes it as is and its output is
clamped to [0, 1]; the retrain and GAN models take ``(x - 0.5) / 0.5`` and their output ``(clamp(y, -1, 1) + 1) / 2``.
The image is reflect-padded right/bottom to a multiple of 8 and the output cropped back.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ledbench.bench.errors import ConfigError, WeightsUnavailable
from ledbench.bench.weights import WeightsSpec
from ledbench.enhancers.base import TorchEnhancer

_SRC = "sczhou/LEDNet: basicsr/archs/lednet_arch.py@d3ee2104195db6bed37d95b76960877a2ed910a5"
_PAPER = "Zhou, Li, Loy. LEDNet: Joint Low-light Enhancement and Deblurring in the Dark. ECCV 2022, arXiv:2202.03373"
_LICENSE = "S-Lab License 1.0 (non-commercial; sczhou/LEDNet LICENSE)"
_RELEASE = "https://github.com/sczhou/LEDNet/releases/download/v0.1.0/"


# -- building blocks (names as in the official code) ----------------------------------------------------------------

class BlurPool(nn.Module):
    """Anti-aliased stride-2 down-sampling (official ``Downsample``, filt_size=3): reflect pad 1, [1,2,1]^2/16.

    The binomial filter is a persistent buffer ``filt`` (C x 1 x 3 x 3), so it is part of the official state dict.
    """

    def __init__(self, channels: int):
        super().__init__()
        a = torch.tensor([1.0, 2.0, 1.0])
        k = a[:, None] * a[None, :]
        self.register_buffer("filt", (k / k.sum())[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


class PPM(nn.Module):
    """Pyramid pooling: adaptive average pools (``bins``) -> 1x1 conv + PReLU -> bilinear (align_corners) -> fuse."""

    def __init__(self, in_dim: int, reduction_dim: int, bins=(1, 2, 3, 6)):
        super().__init__()
        self.features = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_dim, reduction_dim, 1, bias=False), nn.PReLU())
            for b in bins)
        self.fuse = nn.Sequential(nn.Conv2d(in_dim + reduction_dim * len(bins), in_dim, 3, padding=1, bias=False),
                                  nn.PReLU())

    def forward(self, x):
        size = x.shape[-2:]
        pooled = [F.interpolate(branch(x), size, mode="bilinear", align_corners=True) for branch in self.features]
        return self.fuse(torch.cat([x, *pooled], dim=1))


def _conv(cin: int, cout: int, k: int, bias: bool = True, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, bias=bias)


class ResidualDownSample(nn.Module):
    """Two-path 2x down-sampling: conv-PReLU-conv-PReLU-blurpool-1x1 plus blurpool-1x1 (no biases)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.top = nn.Sequential(_conv(cin, cin, 1, bias=False), nn.PReLU(), _conv(cin, cin, 3, bias=False),
                                 nn.PReLU(), BlurPool(cin), _conv(cin, cout, 1, bias=False))
        self.bot = nn.Sequential(BlurPool(cin), _conv(cin, cout, 1, bias=False))

    def forward(self, x):
        return self.top(x) + self.bot(x)


class ResidualUpSample(nn.Module):
    """Two-path 2x up-sampling: transposed conv path plus bilinear (align_corners=False) + 1x1 path (no biases)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.top = nn.Sequential(
            _conv(cin, cin, 1, bias=False), nn.PReLU(),
            nn.ConvTranspose2d(cin, cin, 3, stride=2, padding=1, output_padding=1, bias=False), nn.PReLU(),
            _conv(cin, cout, 1, bias=False))
        self.bot = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                 _conv(cin, cout, 1, bias=False))

    def forward(self, x):
        return self.top(x) + self.bot(x)


class BasicBlock_E(nn.Module):
    """Encoder block: residual (conv-PReLU-conv), conv-PReLU, optional residual down-sampling to ``cout``."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, mode: str | None = None):
        super().__init__()
        self.mode = mode
        self.body1 = nn.Sequential(_conv(cin, cin, kernel_size), nn.PReLU(), _conv(cin, cin, kernel_size))
        self.body2 = nn.Sequential(_conv(cin, cin, kernel_size), nn.PReLU())
        if mode == "down":
            self.reshape_conv = ResidualDownSample(cin, cout)

    def forward(self, x):
        out = self.body2(self.body1(x) + x)
        return self.reshape_conv(out) if self.mode is not None else out


class BasicBlock_D_2Res(nn.Module):
    """Decoder block: optional residual up-sampling ``cin -> cout``, then two residual conv-PReLU-conv units."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, mode: str | None = None):
        super().__init__()
        self.mode = mode
        if mode == "up":
            self.reshape_conv = ResidualUpSample(cin, cout)
        self.body1 = nn.Sequential(_conv(cout, cout, kernel_size), nn.PReLU(), _conv(cout, cout, kernel_size))
        self.body2 = nn.Sequential(_conv(cout, cout, kernel_size), nn.PReLU(), _conv(cout, cout, kernel_size))

    def forward(self, x):
        if self.mode is not None:
            x = self.reshape_conv(x)
        x = self.body1(x) + x
        return self.body2(x) + x


class CurveCALayer(nn.Module):
    """Curve attention: clip features to [0, 1], then apply ``n_curve`` LE-curves ``x + a x (1 - x)``.

    The per-pixel curve parameters ``a`` (sigmoid) are predicted from the unclipped input.
    """

    def __init__(self, channel: int, n_curve: int):
        super().__init__()
        self.n_curve = n_curve
        self.predict_a = nn.Sequential(
            _conv(channel, channel, 5), nn.ReLU(), _conv(channel, channel, 3), nn.ReLU(),
            _conv(channel, n_curve, 1), nn.Sigmoid())

    def forward(self, x):
        a = self.predict_a(x)
        x = F.relu(x) - F.relu(x - 1)  # clip to [0, 1] exactly as the official code does
        for i in range(self.n_curve):
            x = x + a[:, i:i + 1] * x * (1 - x)
        return x


def kernel_conv2d(feat, kernel, ksize: int = 5):
    """Filter-adaptive convolution (official ``KernelConv2D``): per-pixel, per-channel ``ksize``^2 kernels.

    ``feat``: N x C x H x W; ``kernel``: N x (C * ksize^2) x H x W, ordered channel-major (C, ky, kx). Replicate
    padding, then LeakyReLU(0.2).
    """
    n, c, h, w = feat.shape
    pad = (ksize - 1) // 2
    patches = F.unfold(F.pad(feat, (pad, pad, pad, pad), mode="replicate"), ksize)  # N x (C*k*k) x (H*W)
    out = (patches.view(n, c, ksize * ksize, h * w) * kernel.reshape(n, c, ksize * ksize, h * w)).sum(2)
    return F.leaky_relu(out.view(n, c, h, w), negative_slope=0.2)


def _fac_predictor(ch: int, ks: int) -> nn.Sequential:
    return nn.Sequential(_conv(ch, ch, 3), nn.ReLU(), _conv(ch, ch, 3), nn.ReLU(), _conv(ch, ch, 3), nn.ReLU(),
                         nn.Conv2d(ch, ch * ks * ks, 1))


class LEDNet(nn.Module):
    """LEDNet network; ``LEDNet(channels=[32, 64, 128, 128], connection=False)`` is the released model.

    ``forward(x, side_loss=False)`` returns the restored image in the input's value range (no clamp); with
    ``side_loss=True`` it returns ``(side_output_at_1/8, output)`` as the official code does.
    """

    def __init__(self, channels=(32, 64, 128, 128), connection: bool = False):
        super().__init__()
        ch1, ch2, ch3, ch4 = channels
        self.connection = connection
        self.ksize = 5
        self.E_block1 = nn.Sequential(_conv(3, ch1, 3), nn.PReLU(), BasicBlock_E(ch1, ch2, mode="down"))
        self.E_block2 = BasicBlock_E(ch2, ch3, mode="down")
        self.E_block3 = BasicBlock_E(ch3, ch4, mode="down")
        self.side_out = _conv(ch4, 3, 3)
        self.M_block1 = BasicBlock_E(ch4, ch4)
        self.M_block2 = BasicBlock_E(ch4, ch4)
        self.conv_fac_k3 = _fac_predictor(ch4, self.ksize)
        self.conv_fac_k2 = _fac_predictor(ch3, self.ksize)
        self.conv_fac_k1 = _fac_predictor(ch2, self.ksize)
        self.curve_n = 3
        self.conv_1c = CurveCALayer(ch2, self.curve_n)
        self.conv_2c = CurveCALayer(ch3, self.curve_n)
        self.conv_3c = CurveCALayer(ch4, self.curve_n)
        self.PPM1 = PPM(ch2, ch2 // 4)
        self.PPM2 = PPM(ch3, ch3 // 4)
        self.PPM3 = PPM(ch4, ch4 // 4)
        self.D_block3 = BasicBlock_D_2Res(ch4, ch4)
        self.D_block2 = BasicBlock_D_2Res(ch4, ch3, mode="up")
        self.D_block1 = BasicBlock_D_2Res(ch3, ch2, mode="up")
        self.D_block0 = nn.Sequential(BasicBlock_D_2Res(ch2, ch1, mode="up"), _conv(ch1, 3, 3))

    def forward(self, x, side_loss: bool = False):
        e1 = self.conv_1c(self.PPM1(self.E_block1(x)))   # 1/2
        e2 = self.conv_2c(self.PPM2(self.E_block2(e1)))  # 1/4
        e3 = self.conv_3c(self.PPM3(self.E_block3(e2)))  # 1/8
        d = self.M_block2(self.M_block1(e3))
        for block, fac, skip in ((self.D_block3, self.conv_fac_k3, e3), (self.D_block2, self.conv_fac_k2, e2),
                                 (self.D_block1, self.conv_fac_k1, e1)):
            d = kernel_conv2d(block(d), fac(skip), self.ksize)
            if self.connection:
                d = d + skip
        out = self.D_block0(d)
        return (self.side_out(e3), out) if side_loss else out


# -- enhancer -------------------------------------------------------------------------------------------------------

def _spec(filename: str, notes: str) -> WeightsSpec:
    return WeightsSpec(filename=filename, sha256=None, url=_RELEASE + filename, license=_LICENSE,
                       source="sczhou/LEDNet release v0.1.0 (inference_lednet.py pretrain_model_url)", paper=_PAPER,
                       state_dict_key="params", subdir="lednet", size_mb=29.7, notes=notes)


class LEDNetEnhancer(TorchEnhancer):
    """LEDNet (ECCV 2022) joint low-light enhancement + deblurring, official checkpoints.

    Tags: ``paper`` (``lednet.pth``, I/O in [0, 1]), ``retrain`` (``lednet_retrain_500000.pth``, BasicSR retrain,
    I/O in [-1, 1]; higher PSNR/SSIM than the paper model per the LEDNet README) and ``gan`` (``lednetgan.pth``,
    I/O in [-1, 1]). Input/output of :meth:`enhance`: RGB float in [0, 1]; reflect padding to a multiple of 8.
    """

    @dataclasses.dataclass(frozen=True)
    class Config:
        """Official constructor kwargs plus the value range of the network's input/output.

        ``io_range``: ``unit`` = [0, 1] (paper model), ``symmetric`` = [-1, 1] (retrain / GAN models), ``auto`` =
        from the weights tag (or the file name of explicit weights: ``lednet_retrain*`` / ``lednetgan*``).
        """

        channels: tuple[int, ...] = (32, 64, 128, 128)
        connection: bool = False
        io_range: Literal["auto", "unit", "symmetric"] = "auto"

    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "paper": _spec("lednet.pth", "paper model; network I/O in [0, 1]"),
        "retrain": _spec("lednet_retrain_500000.pth", "BasicSR retrain, 500k iterations; network I/O in [-1, 1]"),
        "gan": _spec("lednetgan.pth", "LEDNet-GAN; network I/O in [-1, 1]"),
    }
    default_tag: ClassVar[str] = "paper"
    summary: ClassVar[str] = "LEDNet joint low-light enhancement and deblurring (CNN, FAC, curve attention)"
    paper: ClassVar[str] = _PAPER
    #: the official architecture this module re-implements (repo: path@commit)
    architecture_source: ClassVar[str] = _SRC
    pad_multiple: ClassVar[int] = 8
    pad_mode: ClassVar[str] = "reflect"

    def build_model(self):
        channels = tuple(self.config.channels)
        if len(channels) != 4:
            raise ConfigError(f"{self.name}: channels must have 4 entries (official [32, 64, 128, 128]), "
                              f"got {list(channels)}")
        self.input_range = (-1.0, 1.0) if self._symmetric_io() else (0.0, 1.0)
        return LEDNet(channels=channels, connection=self.config.connection)

    def _symmetric_io(self) -> bool:
        mode = self.config.io_range
        if mode != "auto":
            return mode == "symmetric"
        if self.weights_path is not None and self.weights_spec is not None and \
                self.weights_path.name != self.weights_spec.filename:
            name = self.weights_path.name.lower()  # an explicit file: trust its official name
            return name.startswith(("lednet_retrain", "lednetgan"))
        return self.tag in ("retrain", "gan")

    def load_state_dict(self, state: dict) -> None:
        try:
            self.model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise WeightsUnavailable(
                f"{self.name}: {self.weights_path} does not match LEDNet(channels={list(self.config.channels)}, "
                f"connection={self.config.connection}); official checkpoints need the defaults. {exc}") from None
