"""Restormer: efficient transformer for high-resolution image restoration (Zamir et al., CVPR 2022), motion deblurring.

Re-implementation of ``swz30/Restormer: basicsr/models/archs/restormer_arch.py`` @ df766d55. Module and parameter
names follow the official class exactly, so the released ``motion_deblurring.pth`` (GoPro-trained; state dict under
``params``) loads with ``strict=True``.

Architecture (config fields = official constructor arguments): a 4-level U-Net of transformer blocks. Each block is
LayerNorm (over channels, eps=1e-5, ``WithBias`` or ``BiasFree``) -> MDTA (multi-Dconv head *transposed*
attention: 1x1 + 3x3 depth-wise conv to q, k, v; L2-normalised q and k; a C x C attention map per head scaled by a
learnable ``temperature``) and LayerNorm -> GDFN (1x1 conv to 2 x ``int(dim * ffn_expansion_factor)``, 3x3
depth-wise conv, ``gelu(x1) * x2``, 1x1 conv), both residual. Down-sampling: conv3x3 (C -> C/2) + PixelUnshuffle(2);
up-sampling: conv3x3 (C -> 2C) + PixelShuffle(2); a refinement stage at full resolution and a global residual.
Official motion-deblurring config (``Motion_Deblurring/Options/Deblurring_Restormer.yml``): ``dim=48,
num_blocks=[4, 6, 6, 8], num_refinement_blocks=4, heads=[1, 2, 4, 8], ffn_expansion_factor=2.66, bias=False,
LayerNorm_type='WithBias'`` (26,126,644 parameters).

Official inference (``Motion_Deblurring/test.py``): RGB in [0, 1]; reflect-pad right/bottom to a multiple of 8,
run, crop back, clamp to [0, 1].
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ledbench.bench.errors import ConfigError
from ledbench.bench.weights import WeightsSpec
from ledbench.enhancers.base import TorchEnhancer

_COMMIT = "df766d5521afd21cce56e24159f300b30ebf3fb0"
_SRC = f"swz30/Restormer: basicsr/models/archs/restormer_arch.py@{_COMMIT}"
_PAPER = ("Zamir, Arora, Khan, Hayat, Khan, Yang. Restormer: Efficient Transformer for High-Resolution Image "
          "Restoration. CVPR 2022, arXiv:2111.09881")
_LICENSE = "ACADEMIC PUBLIC LICENSE (swz30/Restormer LICENSE.md; non-commercial research use)"


# -- building blocks (names as in the official code) ----------------------------------------------------------------

class BiasFreeLayerNorm(nn.Module):
    """``x / sqrt(var + 1e-5) * weight`` over the last axis (no mean subtraction, no bias)."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5) * self.weight


class WithBiasLayerNorm(nn.Module):
    """``(x - mean) / sqrt(var + 1e-5) * weight + bias`` over the last axis."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        mu = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(var + 1e-5) * self.weight + self.bias


class LayerNorm(nn.Module):
    """Channel LayerNorm of an N x C x H x W tensor, computed on the (N, H*W, C) view as the official code does."""

    def __init__(self, dim: int, layer_norm_type: str):
        super().__init__()
        self.body = BiasFreeLayerNorm(dim) if layer_norm_type == "BiasFree" else WithBiasLayerNorm(dim)

    def forward(self, x):
        n, c, h, w = x.shape
        y = self.body(x.flatten(2).transpose(1, 2))
        return y.transpose(1, 2).reshape(n, c, h, w)


class FeedForward(nn.Module):
    """Gated-Dconv feed-forward network (GDFN)."""

    def __init__(self, dim: int, ffn_expansion_factor: float, bias: bool):
        super().__init__()
        hidden = int(dim * ffn_expansion_factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)

    def forward(self, x):
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class Attention(nn.Module):
    """Multi-Dconv head transposed self-attention (MDTA): attention across channels, per head."""

    def __init__(self, dim: int, num_heads: int, bias: bool):
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(b, self.num_heads, c // self.num_heads, h * w) for t in (q, k, v))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        return self.project_out((attn @ v).reshape(b, c, h, w))


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, ffn_expansion_factor: float, bias: bool, layer_norm_type: str):
        super().__init__()
        self.norm1 = LayerNorm(dim, layer_norm_type)
        self.attn = Attention(dim, num_heads, bias)
        self.norm2 = LayerNorm(dim, layer_norm_type)
        self.ffn = FeedForward(dim, ffn_expansion_factor, bias)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class OverlapPatchEmbed(nn.Module):
    """3x3 conv embedding (no bias)."""

    def __init__(self, in_c: int = 3, embed_dim: int = 48, bias: bool = False):
        super().__init__()
        self.proj = nn.Conv2d(in_c, embed_dim, 3, padding=1, bias=bias)

    def forward(self, x):
        return self.proj(x)


class Downsample(nn.Module):
    def __init__(self, n_feat: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n_feat, n_feat // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))

    def forward(self, x):
        return self.body(x)


class Upsample(nn.Module):
    def __init__(self, n_feat: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n_feat, n_feat * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))

    def forward(self, x):
        return self.body(x)


class Restormer(nn.Module):
    """The official ``Restormer`` (same constructor arguments and defaults); H and W must be multiples of 8."""

    def __init__(self, inp_channels: int = 3, out_channels: int = 3, dim: int = 48,
                 num_blocks: tuple[int, ...] = (4, 6, 6, 8), num_refinement_blocks: int = 4,
                 heads: tuple[int, ...] = (1, 2, 4, 8), ffn_expansion_factor: float = 2.66, bias: bool = False,
                 LayerNorm_type: str = "WithBias", dual_pixel_task: bool = False):
        super().__init__()
        if len(num_blocks) != 4 or len(heads) != 4:
            raise ConfigError(f"Restormer: num_blocks and heads need 4 entries, got {list(num_blocks)}, {list(heads)}")

        def stage(d: int, n: int, nh: int) -> nn.Sequential:
            return nn.Sequential(*[TransformerBlock(d, nh, ffn_expansion_factor, bias, LayerNorm_type)
                                   for _ in range(n)])

        d1, d2, d3, d4 = dim, dim * 2, dim * 4, dim * 8
        self.patch_embed = OverlapPatchEmbed(inp_channels, dim)
        self.encoder_level1 = stage(d1, num_blocks[0], heads[0])
        self.down1_2 = Downsample(d1)
        self.encoder_level2 = stage(d2, num_blocks[1], heads[1])
        self.down2_3 = Downsample(d2)
        self.encoder_level3 = stage(d3, num_blocks[2], heads[2])
        self.down3_4 = Downsample(d3)
        self.latent = stage(d4, num_blocks[3], heads[3])
        self.up4_3 = Upsample(d4)
        self.reduce_chan_level3 = nn.Conv2d(d4, d3, 1, bias=bias)
        self.decoder_level3 = stage(d3, num_blocks[2], heads[2])
        self.up3_2 = Upsample(d3)
        self.reduce_chan_level2 = nn.Conv2d(d3, d2, 1, bias=bias)
        self.decoder_level2 = stage(d2, num_blocks[1], heads[1])
        self.up2_1 = Upsample(d2)  # level 1 keeps 2*dim channels after the concat (no 1x1 reduction)
        self.decoder_level1 = stage(d2, num_blocks[0], heads[0])
        self.refinement = stage(d2, num_refinement_blocks, heads[0])
        self.dual_pixel_task = dual_pixel_task
        if dual_pixel_task:
            self.skip_conv = nn.Conv2d(dim, d2, 1, bias=bias)
        self.output = nn.Conv2d(d2, out_channels, 3, padding=1, bias=bias)

    def forward(self, inp_img):
        e1_in = self.patch_embed(inp_img)
        e1 = self.encoder_level1(e1_in)
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        latent = self.latent(self.down3_4(e3))
        d3 = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(latent), e3], 1)))
        d2 = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(d3), e2], 1)))
        d1 = self.refinement(self.decoder_level1(torch.cat([self.up2_1(d2), e1], 1)))
        if self.dual_pixel_task:
            return self.output(d1 + self.skip_conv(e1_in))
        return self.output(d1) + inp_img


# -- enhancer ---------------------------------------------------------------------------------------------------

class RestormerEnhancer(TorchEnhancer):
    """Restormer (motion deblurring, GoPro). Input/output RGB [0, 1]; reflect-pad to a multiple of 8, crop back."""

    @dataclasses.dataclass(frozen=True)
    class Config:
        """Official ``Restormer`` constructor arguments (defaults: the motion-deblurring model).

        ``inp_channels``/``out_channels`` must be 3 and ``dual_pixel_task`` False here (ledbench enhancers map one
        RGB image to one RGB image; the dual-pixel defocus model takes 6 channels).
        """

        inp_channels: int = 3
        out_channels: int = 3
        dim: int = 48
        num_blocks: tuple[int, ...] = (4, 6, 6, 8)
        num_refinement_blocks: int = 4
        heads: tuple[int, ...] = (1, 2, 4, 8)
        ffn_expansion_factor: float = 2.66
        bias: bool = False
        LayerNorm_type: Literal["WithBias", "BiasFree"] = "WithBias"
        dual_pixel_task: bool = False

    summary: ClassVar[str] = "Restormer motion-deblurring transformer (GoPro weights)"
    paper: ClassVar[str] = _PAPER
    pad_multiple: ClassVar[int] = 8
    pad_mode: ClassVar[str] = "reflect"
    default_tag: ClassVar[str] = "motion_deblurring"
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "motion_deblurring": WeightsSpec(
            filename="motion_deblurring.pth", sha256=None,
            url="https://github.com/swz30/Restormer/releases/download/v1.0/motion_deblurring.pth",
            license=_LICENSE, source=_SRC, paper=_PAPER, state_dict_key="params", subdir="restormer", size_mb=105,
            notes="GoPro-trained (Motion_Deblurring/Options/Deblurring_Restormer.yml); no official sha256. "
                  "Official GoPro PSNR 32.92 / SSIM 0.961."),
    }

    @classmethod
    def network_from_config(cls, config) -> nn.Module:
        """The bare network for ``config`` (no weights; works under ``torch.device('meta')`` for profiling)."""
        c = config
        if c.inp_channels != 3 or c.out_channels != 3 or c.dual_pixel_task:
            raise ConfigError(f"{cls.__name__}: only the single-image RGB variant is supported (inp_channels=3, "
                              f"out_channels=3, dual_pixel_task=False); got {c.inp_channels}, {c.out_channels}, "
                              f"{c.dual_pixel_task}")
        if any(d % h for d, h in zip((c.dim, c.dim * 2, c.dim * 4, c.dim * 8), c.heads)):
            raise ConfigError(f"{cls.__name__}: dim * 2**level must be divisible by heads[level]; got dim={c.dim}, "
                              f"heads={list(c.heads)}")
        return Restormer(c.inp_channels, c.out_channels, c.dim, tuple(c.num_blocks), c.num_refinement_blocks,
                         tuple(c.heads), c.ffn_expansion_factor, c.bias, c.LayerNorm_type, c.dual_pixel_task)

    def build_model(self):
        return self.network_from_config(self.config)
