"""DarkIR: robust low-light image restoration (Feijoo, Benito, Garcia & Conde, CVPR 2025).

Re-implementation of ``cidautai/DarkIR: archs/DarkIR.py`` (+ ``archs/arch_model.py`` EBlock/DBlock,
``archs/arch_util.py`` LayerNorm2d/CustomSequential) @ 09102911. Module and parameter names follow the official
classes exactly, so the released checkpoints (state dict under ``params``) load with ``strict=True``.

Architecture: a NAFNet-style U-Net. Encoder blocks (``EBlock``) pair a depth-wise gated branch and simplified
channel attention with a frequency-domain MLP (``FreMLP``: 1x1 convs on the rfft2 magnitude, phase kept);
decoder blocks (``DBlock``) sum dilated depth-wise branches (dilations 1, 4, 9) before the gate. DarkIR-m is
``width=32`` (3,321,638 parameters; README: 3.31 M, 7.25 GMACs), DarkIR-l is ``width=64`` (12,957,254; README:
12.96 M, 27.19 GMACs); both with ``enc_blk_nums=[1, 2, 3]``, ``dec_blk_nums=[3, 1, 1]``, two middle blocks each.

Official inference (``inference.py``): RGB in [0, 1] (PIL + ToTensor), zero-pad right/bottom to a multiple of 8,
``model(x, side_loss=False)``, clamp to [0, 1], crop back. The network also zero-pads to ``2**len(enc_blk_nums)``
internally and adds its input back (global residual).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ledbench.bench.errors import ConfigError, WeightsUnavailable
from ledbench.bench.weights import WeightsSpec
from ledbench.enhancers.base import TorchEnhancer
from ledbench.enhancers.nafnet import LayerNorm2d

_SRC = "cidautai/DarkIR: archs/DarkIR.py@0910291157ad04f210481a002cf6bb480f6a7f18"
_PAPER = ("Feijoo, Benito, Garcia, Conde. DarkIR: Robust Low-Light Image Restoration. CVPR 2025, "
          "arXiv:2412.13443")
_LICENSE = "MIT (code, cidautai/DarkIR LICENSE); Hugging Face model card Cidaut/DarkIR: CC-BY-4.0"
_ONEDRIVE = ("https://cidautes-my.sharepoint.com/:f:/g/personal/alvgar_cidaut_es/"
             "Epntbl4SucFNpeIT_jyYZ-cB9BamMbacbyq_svrkMCpShA?e=XB9YBB")


# -- building blocks (names as in the official code) ----------------------------------------------------------------
# LayerNorm2d is NAFNet's (DarkIR builds on NAFNet's blocks).

class CustomSequential(nn.Module):
    """Sequential container whose children live in ``modules_list`` (official key layout)."""

    def __init__(self, *mods: nn.Module):
        super().__init__()
        self.modules_list = nn.ModuleList(mods)

    def forward(self, x):
        for m in self.modules_list:
            x = m(x)
        return x


def _simple_gate(x):
    a, b = x.chunk(2, dim=1)
    return a * b


class FreMLP(nn.Module):
    """Frequency MLP: 1x1 conv - LeakyReLU(0.1) - 1x1 conv on the rfft2 magnitude, phase unchanged, irfft2."""

    def __init__(self, nc: int, expand: int = 2):
        super().__init__()
        self.process1 = nn.Sequential(nn.Conv2d(nc, expand * nc, 1), nn.LeakyReLU(0.1),
                                      nn.Conv2d(expand * nc, nc, 1))

    def forward(self, x):
        h, w = x.shape[-2:]
        dtype = x.dtype
        # FFTs in float32 even under AMP (half-precision cuFFT needs power-of-two sizes); no-op in float32
        with torch.autocast(device_type=x.device.type, enabled=False):
            spec = torch.fft.rfft2(x.float(), norm="backward")
            mag = self.process1(torch.abs(spec))
            pha = torch.angle(spec)
            out = torch.fft.irfft2(torch.complex(mag * torch.cos(pha), mag * torch.sin(pha)), s=(h, w),
                                   norm="backward")
        return out.to(dtype)


class Branch(nn.Module):
    """One depth-wise 3x3 convolution with ``dilation`` (padding = dilation) on ``DW_Expand * c`` channels."""

    def __init__(self, c: int, DW_Expand: int, dilation: int = 1):
        super().__init__()
        ch = DW_Expand * c
        self.branch = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=dilation, groups=ch, dilation=dilation))

    def forward(self, x):
        return self.branch(x)


def _sca(ch: int) -> nn.Sequential:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(ch, ch, 1))


class EBlock(nn.Module):
    """Encoder block: LN - (dw 3x3) - 1x1 expand - dw branch - gate - SCA - 1x1, then LN - FreMLP gating."""

    def __init__(self, c: int, DW_Expand: int = 2, dilations=(1,), extra_depth_wise: bool = False):
        super().__init__()
        dw = DW_Expand * c
        self.dw_channel = dw
        self.extra_conv = nn.Conv2d(c, c, 3, padding=1, groups=c) if extra_depth_wise else nn.Identity()
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.branches = nn.ModuleList(Branch(c, DW_Expand, dilation=d) for d in dilations)
        self.sca = _sca(dw // 2)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.freq = FreMLP(nc=c, expand=2)
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))

    def forward(self, inp):
        x = self.conv1(self.extra_conv(self.norm1(inp)))
        z = 0
        for branch in self.branches:
            z = z + branch(x)
        z = _simple_gate(z)
        y = inp + self.beta * self.conv3(self.sca(z) * z)
        x = y * self.freq(self.norm2(y))
        return y + x * self.gamma


class DBlock(nn.Module):
    """Decoder block: LN - 1x1 expand - (dw 3x3) - sum of dilated dw branches - gate - SCA - 1x1, then a gated FFN."""

    def __init__(self, c: int, DW_Expand: int = 2, FFN_Expand: int = 2, dilations=(1,),
                 extra_depth_wise: bool = False):
        super().__init__()
        dw = DW_Expand * c
        self.dw_channel = dw
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.extra_conv = nn.Conv2d(dw, dw, 3, padding=1, groups=c) if extra_depth_wise else nn.Identity()
        self.branches = nn.ModuleList(Branch(dw, DW_Expand=1, dilation=d) for d in dilations)
        self.sca = _sca(dw // 2)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        ffn = FFN_Expand * c
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))

    def forward(self, inp):
        x = self.extra_conv(self.conv1(self.norm1(inp)))
        z = 0
        for branch in self.branches:
            z = z + branch(x)
        z = _simple_gate(z)
        y = inp + self.beta * self.conv3(self.sca(z) * z)
        x = self.conv5(_simple_gate(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class DarkIR(nn.Module):
    """DarkIR network; kwargs as the official class. ``forward(x, side_loss=False)`` returns the restored image
    (input range [0, 1], no clamp), or ``(side_output_at_1/2**len(enc), output)`` with ``side_loss=True``."""

    def __init__(self, img_channel: int = 3, width: int = 32, middle_blk_num_enc: int = 2,
                 middle_blk_num_dec: int = 2, enc_blk_nums=(1, 2, 3), dec_blk_nums=(3, 1, 1), dilations=(1, 4, 9),
                 extra_depth_wise: bool = True):
        super().__init__()
        self.intro = nn.Conv2d(img_channel, width, 3, padding=1)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.middle_blks = nn.ModuleList()  # unused, kept for the official module layout
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()
        chan = width
        for num in enc_blk_nums:
            self.encoders.append(CustomSequential(*[EBlock(chan, extra_depth_wise=extra_depth_wise)
                                                    for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        self.middle_blks_enc = CustomSequential(*[EBlock(chan, extra_depth_wise=extra_depth_wise)
                                                  for _ in range(middle_blk_num_enc)])
        self.middle_blks_dec = CustomSequential(*[DBlock(chan, dilations=dilations, extra_depth_wise=extra_depth_wise)
                                                  for _ in range(middle_blk_num_dec)])
        for num in dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(CustomSequential(*[DBlock(chan, dilations=dilations,
                                                           extra_depth_wise=extra_depth_wise) for _ in range(num)]))
        self.padder_size = 2 ** len(self.encoders)
        self.side_out = nn.Conv2d(width * 2 ** len(self.encoders), img_channel, 3, padding=1)

    def forward(self, inp, side_loss: bool = False):
        h, w = inp.shape[-2:]
        m = self.padder_size
        inp = F.pad(inp, (0, (m - w % m) % m, 0, (m - h % m) % m), value=0.0)
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x_light = self.middle_blks_enc(x)
        x = self.middle_blks_dec(x_light) + x_light
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = decoder(up(x) + skip)
        out = (self.ending(x) + inp)[:, :, :h, :w]
        return (self.side_out(x_light), out) if side_loss else out


# -- enhancer -------------------------------------------------------------------------------------------------------

class DarkIREnhancer(TorchEnhancer):
    """DarkIR (CVPR 2025) joint low-light enhancement + deblurring, official LOL-Blur checkpoints.

    Tags: ``m`` (``DarkIR_384.pt``, width 32, on Hugging Face ``Cidaut/DarkIR``; the width-32 LOL-Blur model of
    ``options/test/LOLBlur.yml``) and ``l`` (``DarkIR_64width.pt``, width 64, ``options/inference/LOLBlur.yml``; on
    the authors' OneDrive only). Input/output of :meth:`enhance`: RGB float in [0, 1]; zero padding to a multiple
    of 8 as ``inference.py`` does.
    """

    @dataclasses.dataclass(frozen=True)
    class Config:
        """Official ``DarkIR`` constructor kwargs (defaults = DarkIR-m)."""

        img_channel: int = 3
        width: int = 32
        middle_blk_num_enc: int = 2
        middle_blk_num_dec: int = 2
        enc_blk_nums: tuple[int, ...] = (1, 2, 3)
        dec_blk_nums: tuple[int, ...] = (3, 1, 1)
        dilations: tuple[int, ...] = (1, 4, 9)
        extra_depth_wise: bool = True

    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "m": WeightsSpec(
            filename="DarkIR_384.pt", sha256=None, hf_repo="Cidaut/DarkIR", license=_LICENSE,
            source=f"https://huggingface.co/Cidaut/DarkIR (also the authors' OneDrive: {_ONEDRIVE})", paper=_PAPER,
            state_dict_key="params", subdir="darkir", size_mb=13.4, config={"width": 32},
            notes="DarkIR-m (width 32), trained on LOL-Blur only; README: 27.00 dB / 0.883 / 0.162 on LOL-Blur. "
                  "sha256 not published by the authors (a third party reports 61eee7d5cfb5...4fde, 13,397,397 "
                  "bytes; unverified here)."),
        "l": WeightsSpec(
            filename="DarkIR_64width.pt", sha256=None, url=None, license=_LICENSE, source=_ONEDRIVE, paper=_PAPER,
            state_dict_key="params", subdir="darkir", size_mb=52.0, config={"width": 64},
            notes="DarkIR-l (width 64), LOL-Blur; README: 27.30 dB / 0.898 / 0.137. Only on the authors' OneDrive "
                  "(no direct link): download it, then `ledbench weights import DIR`."),
    }
    default_tag: ClassVar[str] = "m"
    summary: ClassVar[str] = "DarkIR joint low-light enhancement and deblurring (efficient CNN, frequency MLP)"
    paper: ClassVar[str] = _PAPER
    #: the official architecture this module re-implements (repo: path@commit)
    architecture_source: ClassVar[str] = _SRC
    pad_multiple: ClassVar[int] = 8
    pad_mode: ClassVar[str] = "constant"

    def build_model(self):
        cfg = self.config
        if not (len(cfg.enc_blk_nums) == len(cfg.dec_blk_nums) and cfg.dilations):
            raise ConfigError(f"{self.name}: enc_blk_nums and dec_blk_nums need the same length and dilations at "
                              f"least one entry (official: [1, 2, 3], [3, 1, 1], [1, 4, 9])")
        return DarkIR(**dataclasses.asdict(cfg))

    def forward(self, x):
        return self.model(x, side_loss=False)

    def load_state_dict(self, state: dict) -> None:
        if state and all(k.startswith("module.") for k in state):  # a DDP-wrapped save
            state = {k[len("module."):]: v for k, v in state.items()}
        try:
            self.model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise WeightsUnavailable(f"{self.name}: {self.weights_path} does not match DarkIR with config "
                                     f"{self.config} (DarkIR-m is width=32, `darkir.m`; DarkIR-l is width=64, "
                                     f"`darkir.l`): {exc}") from None
