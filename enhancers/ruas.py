"""RUAS: Retinex-inspired unrolling with cooperative prior architecture search (Liu et al., CVPR 2021).

Re-implementation of ``KarelZhang/RUAS: model.py, operations.py, genotypes.py@f621bb19`` (class ``Network``).
Module names follow the official code, so the released ``ckpt/lol.pt``, ``upe.pt``, ``dark.pt`` (plain state dicts)
load with ``strict=True``. 3,438 parameters.

Architecture: an illumination estimation module (IEM) is unrolled ``iem_nums`` = 3 times. Stage ``k`` forms
``t_hat`` = 2x2 max filter of the input (k = 0) or of the previous estimate ``u`` minus ``0.5 (u - y)``, refines it
with a searched cell (``SearchBlock``, genotype ``IEM``), ``t = clamp(sigmoid(.), 1e-3, 1)`` and returns
``u = clamp(y / t, 0, 1)``. A noise removal module (``nrm_nums`` = 3 cells with genotype ``NRM`` on 6 channels)
subtracts predicted noise from the last ``u``. ``forward`` returns ``(u_list, t_list)`` with
``u_list = [u_1, u_2, u_3, u_denoised]``.

Official test (``test.py``): PIL RGB -> ``ToTensor`` ([0, 1]), no padding; it saves ``u_list[-1]`` (enhanced +
denoised) for the ``lol`` checkpoint and ``u_list[-2]`` (enhanced only) for ``upe`` and ``dark``, clipped to
[0, 1]. ``Config.denoise`` = None follows that per tag. The official constructor also loads ``./model/denoise.pt``
(NRM pre-training) from the working directory; that is training initialisation and is not needed here (the
released checkpoints hold the NRM weights). Any H x W works.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import nn

from ledbench.bench.weights import WeightsSpec
from ledbench.enhancers.base import TorchEnhancer

_COMMIT = "f621bb19ceffbe27b2d9625bb806bc7cc60aea7b"
_PAPER = ("Liu, Ma, Zhang, Fan, Luo. Retinex-inspired Unrolling with Cooperative Prior Architecture Search for "
          "Low-light Image Enhancement. CVPR 2021, arXiv:2012.05609")
_LICENSE = "none stated (no LICENSE file, all rights reserved by default) - not redistributed by ledbench"

# genotypes.py: the searched operations of the 7 op slots of a SearchBlock
IEM_GENOTYPE = ("skip_connect", "resconv_1x1", "resdilconv_3x3", "conv_3x3", "conv_3x3", "skip_connect", "conv_3x3")
NRM_GENOTYPE = ("resconv_1x1", "resconv_1x1", "resdilconv_3x3", "skip_connect", "resconv_1x1", "resconv_1x1",
                "skip_connect")


class ConvBlock(nn.Module):
    """``op``: a same-padding conv (operations.py ``ConvBlock``)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int = 1):
        super().__init__()
        self.op = nn.Conv2d(c_in, c_out, kernel_size, 1, padding=(kernel_size - 1) // 2 * dilation,
                            dilation=dilation, bias=True)

    def forward(self, x):
        return self.op(x)


class ResBlock(ConvBlock):
    """``op(x) + x`` (operations.py ``ResBlock``)."""

    def forward(self, x):
        return self.op(x) + x


def make_op(name: str, c_in: int, c_out: int) -> nn.Module:
    """The operations of ``operations.OPS`` used by the two released genotypes."""
    table = {
        "skip_connect": lambda: nn.Identity(),
        "conv_1x1": lambda: ConvBlock(c_in, c_out, 1),
        "conv_3x3": lambda: ConvBlock(c_in, c_out, 3),
        "dilconv_3x3": lambda: ConvBlock(c_in, c_out, 3, dilation=2),
        "resconv_1x1": lambda: ResBlock(c_in, c_out, 1),
        "resconv_3x3": lambda: ResBlock(c_in, c_out, 3),
        "resdilconv_3x3": lambda: ResBlock(c_in, c_out, 3, dilation=2),
    }
    return table[name]()


class SearchBlock(nn.Module):
    """Searched distillation cell: three (distilled, residual) op pairs, a last op, concat and 1x1 fusion."""

    def __init__(self, channel: int, genotype: tuple[str, ...]):
        super().__init__()
        c = channel
        self.c1_d, self.c1_r = make_op(genotype[0], c, c), make_op(genotype[1], c, c)
        self.c2_d, self.c2_r = make_op(genotype[2], c, c), make_op(genotype[3], c, c)
        self.c3_d, self.c3_r = make_op(genotype[4], c, c), make_op(genotype[5], c, c)
        self.c4 = make_op(genotype[6], c, c)
        self.act = nn.LeakyReLU(negative_slope=0.05)
        self.c5 = nn.Conv2d(c * 4, c, 1, bias=True)

    def forward(self, x):
        d1 = self.act(self.c1_d(x))
        r1 = self.act(self.c1_r(x) + x)
        d2 = self.act(self.c2_d(r1))
        r2 = self.act(self.c2_r(r1) + r1)
        d3 = self.act(self.c3_d(r2))
        r3 = self.act(self.c3_r(r2) + r2)
        r4 = self.act(self.c4(r3))
        return self.c5(torch.cat([d1, d2, d3, r4], dim=1))


def _max_filter(x):
    """The official ``max_operation``: 2x2 max over the pixel and its up/left neighbours (zero padding)."""
    x = nn.functional.pad(x, (1, 1, 1, 1))[:, :, 1:, 1:]
    x = torch.max(x[:, :, :-1, :], x[:, :, 1:, :])
    return torch.max(x[:, :, :, :-1], x[:, :, :, 1:])


class IEM(nn.Module):
    def __init__(self, channel: int, genotype: tuple[str, ...]):
        super().__init__()
        self.cell = SearchBlock(channel, genotype)

    def forward(self, y, u, k: int):
        t_hat = _max_filter(y) if k == 0 else _max_filter(u) - 0.5 * (u - y)
        t = torch.clamp(torch.sigmoid(self.cell(t_hat)), 0.001, 1.0)
        return torch.clamp(y / t, 0.0, 1.0), t


class EnhanceNetwork(nn.Module):
    def __init__(self, iteratioin: int, channel: int, genotype: tuple[str, ...]):  # official spelling
        super().__init__()
        self.iems = nn.ModuleList([IEM(channel, genotype) for _ in range(iteratioin)])

    def forward(self, y):
        u_list, t_list = [], []
        u = torch.ones_like(y)
        for k, iem in enumerate(self.iems):
            u, t = iem(y, u, k)
            u_list.append(u)
            t_list.append(t)
        return u_list, t_list


class DenoiseNetwork(nn.Module):
    def __init__(self, layers: int, channel: int, genotype: tuple[str, ...]):
        super().__init__()
        self.stem = nn.Conv2d(3, channel, 3, 1, 1, bias=True)
        self.nrms = nn.ModuleList([SearchBlock(channel, genotype) for _ in range(layers)])
        self.activate = nn.Sequential(nn.Conv2d(channel, 3, 3, 1, 1, bias=True))

    def forward(self, x):
        feat = self.stem(x)
        for nrm in self.nrms:
            feat = nrm(feat)
        n = self.activate(feat)
        return x - n, n


class RUASNet(nn.Module):
    """Official ``Network``; ``forward`` returns ``(u_list, t_list)``, ``u_list[-1]`` the denoised output."""

    def __init__(self, iem_nums: int = 3, nrm_nums: int = 3, enhance_channel: int = 3, denoise_channel: int = 6):
        super().__init__()
        self.enhance_net = EnhanceNetwork(iem_nums, enhance_channel, IEM_GENOTYPE)
        self.denoise_net = DenoiseNetwork(nrm_nums, denoise_channel, NRM_GENOTYPE)

    def forward(self, x):
        u_list, t_list = self.enhance_net(x)
        u_d, _ = self.denoise_net(u_list[-1])
        return [*u_list, u_d], t_list


@dataclasses.dataclass(frozen=True)
class RUASConfig:
    """The official ``Network()`` takes no arguments; these are its hard-coded sizes.

    ``denoise``: output ``u_list[-1]`` (True) or ``u_list[-2]`` (False); None follows the official ``test.py`` for
    the weights tag (``lol``: True; ``upe``, ``dark``: False).
    """

    iem_nums: int = 3
    nrm_nums: int = 3
    enhance_channel: int = 3
    denoise_channel: int = 6
    denoise: bool | None = None


def _spec(tag: str, sha256: str, trained_on: str) -> WeightsSpec:
    return WeightsSpec(
        filename=f"{tag}.pt", sha256=sha256,
        url=f"https://raw.githubusercontent.com/KarelZhang/RUAS/{_COMMIT}/ckpt/{tag}.pt",
        license=_LICENSE, source=f"KarelZhang/RUAS: ckpt/{tag}.pt@{_COMMIT}", paper=_PAPER, subdir="ruas",
        size_mb=0.03, notes=f"plain state dict; {trained_on}")


class RUASEnhancer(TorchEnhancer):
    """RUAS; RGB [0, 1] in and out, no padding; output chosen per tag as in the official ``test.py``."""

    Config = RUASConfig
    summary = "RUAS: Retinex-inspired unrolled illumination estimation + noise removal found by NAS"
    paper = _PAPER
    default_tag = "lol"
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "lol": _spec("lol", "f45a881a9b836fff4a3172481f28c9eb4d91bc4df54ec064092f39ce40abcdcd",
                     "LOL; official test saves the denoised output"),
        "upe": _spec("upe", "2252d3d909e346b547232c7015f034685aac75181171c6caf90ee12d87ca36c1",
                     "MIT-Adobe FiveK (UPE split); official test saves the enhance-only output"),
        "dark": _spec("dark", "59083ec4dd4a2b7926c182a4add1519b9646a3aca6c39cfdb7d496fe885828e4",
                      "DARK FACE; official test saves the enhance-only output"),
    }

    @property
    def use_denoise(self) -> bool:
        if self.config.denoise is not None:
            return bool(self.config.denoise)
        return self.tag not in ("upe", "dark")

    def build_model(self):
        c = self.config
        return RUASNet(c.iem_nums, c.nrm_nums, c.enhance_channel, c.denoise_channel)

    def forward(self, x):
        u_list, _ = self.model(x)
        return u_list[-1] if self.use_denoise else u_list[-2]
