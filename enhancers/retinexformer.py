"""Retinexformer: one-stage Retinex-based transformer for low-light enhancement (Cai et al., ICCV 2023).

Re-implementation of ``caiyuanhao1998/Retinexformer: basicsr/models/archs/RetinexFormer_arch.py@ad5c0918`` (class
``RetinexFormer``). Module names follow the official code, so the released checkpoints (``pretrained_weights/*.pth``,
state dict under ``params``) load with ``strict=True``.

Architecture (config fields = official constructor arguments ``in_channels, out_channels, n_feat, stage,
num_blocks``): ``stage`` single-stage bodies, each an illumination estimator (1x1 conv on RGB + channel mean, 5x5
conv with ``groups=4``, 1x1 conv -> illumination feature and map; lit-up image ``x * map + x``) and a 2-level U-Net
"denoiser" of illumination-guided attention blocks (IGAB: IG-MSA = channel-wise ("transposed") attention whose
values are modulated by the illumination feature, plus a depth-wise position embedding of the values; then a
pre-LayerNorm depth-wise conv FFN), stride-2 4x4 conv down-sampling, 2x2 transposed-conv up-sampling, 1x1 fusion and
a global residual. All released models use ``n_feat=40, stage=1, num_blocks=[1, 2, 2]`` (1,605,701 parameters;
``Options/RetinexFormer_*.yml``), which are this Config's defaults; the official class's own defaults
(``n_feat=31, stage=3, num_blocks=[1, 1, 1]``) are never used by a release.

Official inference (``Enhancement/test_from_dataset.py``): RGB in [0, 1]; REFLECT pad right/bottom to a multiple of
4, crop back, clamp to [0, 1]. Not reproduced: ``--self_ensemble`` (the NTIRE entry), ``--GT_mean`` (rescales by the
ground-truth mean: not an enhancer), and the even/odd column split for images >= 3000 px (use ``tile=``).
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

_COMMIT = "ad5c0918b94b9cec1dbd2fe296499c13e7ccac78"
_PAPER = ("Cai, Bian, Lin, Wang, Timofte, Zhang. Retinexformer: One-stage Retinex-based Transformer for Low-light "
          "Image Enhancement. ICCV 2023, arXiv:2303.06705")
_LICENSE = "MIT (caiyuanhao1998/Retinexformer LICENSE.txt, Copyright (c) 2023 Yuanhao Cai)"
_MODELS_PAGE = "https://drive.google.com/drive/folders/1ynK5hfQachzc8y96ZumhkPPDXzHJwaQV"
_MODELS_BAIDU = "https://pan.baidu.com/s/13zNqyKuxvLBiQunIxG_VhQ?pwd=cyh2"


class Illumination_Estimator(nn.Module):
    def __init__(self, n_fea_middle: int, n_fea_in: int = 4, n_fea_out: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(n_fea_in, n_fea_middle, kernel_size=1, bias=True)
        self.depth_conv = nn.Conv2d(n_fea_middle, n_fea_middle, kernel_size=5, padding=2, bias=True, groups=n_fea_in)
        self.conv2 = nn.Conv2d(n_fea_middle, n_fea_out, kernel_size=1, bias=True)

    def forward(self, img):
        x = torch.cat([img, img.mean(dim=1, keepdim=True)], dim=1)
        illu_fea = self.depth_conv(self.conv1(x))
        return illu_fea, self.conv2(illu_fea)


class IG_MSA(nn.Module):
    """Illumination-guided multi-head self-attention over channels; tensors are B x H x W x C."""

    def __init__(self, dim: int, dim_head: int = 64, heads: int = 8):
        super().__init__()
        self.num_heads = heads
        self.dim_head = dim_head
        self.to_q = nn.Linear(dim, dim_head * heads, bias=False)
        self.to_k = nn.Linear(dim, dim_head * heads, bias=False)
        self.to_v = nn.Linear(dim, dim_head * heads, bias=False)
        self.rescale = nn.Parameter(torch.ones(heads, 1, 1))
        self.proj = nn.Linear(dim_head * heads, dim, bias=True)
        self.pos_emb = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False, groups=dim), nn.GELU(),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False, groups=dim))

    def forward(self, x_in, illu_fea_trans):
        b, h, w, c = x_in.shape
        x = x_in.reshape(b, h * w, c)
        q_inp, k_inp, v_inp = self.to_q(x), self.to_k(x), self.to_v(x)

        def heads_first(t):  # b n (h d) -> b h d n  (the official rearrange followed by transpose(-2, -1))
            return t.reshape(b, h * w, self.num_heads, -1).permute(0, 2, 3, 1)

        q, k = heads_first(q_inp), heads_first(k_inp)
        v = heads_first(v_inp) * heads_first(illu_fea_trans.flatten(1, 2))
        q = F.normalize(q, dim=-1, p=2)
        k = F.normalize(k, dim=-1, p=2)
        attn = ((k @ q.transpose(-2, -1)) * self.rescale).softmax(dim=-1)
        out = (attn @ v).permute(0, 3, 1, 2).reshape(b, h * w, self.num_heads * self.dim_head)
        out_c = self.proj(out).view(b, h, w, c)
        out_p = self.pos_emb(v_inp.reshape(b, h, w, c).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return out_c + out_p


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim, dim * mult, 1, 1, bias=False), nn.GELU(),
            nn.Conv2d(dim * mult, dim * mult, 3, 1, 1, bias=False, groups=dim * mult), nn.GELU(),
            nn.Conv2d(dim * mult, dim, 1, 1, bias=False))

    def forward(self, x):  # B x H x W x C
        return self.net(x.permute(0, 3, 1, 2).contiguous()).permute(0, 2, 3, 1)


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.fn = fn  # registered before norm, as in the official code (state-dict order)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.fn(self.norm(x))


class IGAB(nn.Module):
    """``num_blocks`` x (IG-MSA + residual, PreNorm FFN + residual); input and output B x C x H x W."""

    def __init__(self, dim: int, dim_head: int = 64, heads: int = 8, num_blocks: int = 2):
        super().__init__()
        self.blocks = nn.ModuleList([
            nn.ModuleList([IG_MSA(dim=dim, dim_head=dim_head, heads=heads), PreNorm(dim, FeedForward(dim=dim))])
            for _ in range(num_blocks)])

    def forward(self, x, illu_fea):
        x = x.permute(0, 2, 3, 1)
        illu = illu_fea.permute(0, 2, 3, 1)
        for attn, ff in self.blocks:
            x = attn(x, illu) + x
            x = ff(x) + x
        return x.permute(0, 3, 1, 2)


class Denoiser(nn.Module):
    def __init__(self, in_dim: int = 3, out_dim: int = 3, dim: int = 31, level: int = 2,
                 num_blocks: tuple[int, ...] = (2, 4, 4)):
        super().__init__()
        self.dim = dim
        self.level = level
        self.embedding = nn.Conv2d(in_dim, dim, 3, 1, 1, bias=False)
        self.encoder_layers = nn.ModuleList()
        d = dim
        for i in range(level):
            self.encoder_layers.append(nn.ModuleList([
                IGAB(dim=d, num_blocks=num_blocks[i], dim_head=dim, heads=d // dim),
                nn.Conv2d(d, d * 2, 4, 2, 1, bias=False),
                nn.Conv2d(d, d * 2, 4, 2, 1, bias=False)]))
            d *= 2
        self.bottleneck = IGAB(dim=d, dim_head=dim, heads=d // dim, num_blocks=num_blocks[-1])
        self.decoder_layers = nn.ModuleList()
        for i in range(level):
            self.decoder_layers.append(nn.ModuleList([
                nn.ConvTranspose2d(d, d // 2, stride=2, kernel_size=2, padding=0, output_padding=0),
                nn.Conv2d(d, d // 2, 1, 1, bias=False),
                IGAB(dim=d // 2, num_blocks=num_blocks[level - 1 - i], dim_head=dim, heads=(d // 2) // dim)]))
            d //= 2
        self.mapping = nn.Conv2d(dim, out_dim, 3, 1, 1, bias=False)

    def forward(self, x, illu_fea):
        fea = self.embedding(x)
        skips, illus = [], []
        for igab, fea_down, illu_down in self.encoder_layers:
            fea = igab(fea, illu_fea)
            illus.append(illu_fea)
            skips.append(fea)
            fea, illu_fea = fea_down(fea), illu_down(illu_fea)
        fea = self.bottleneck(fea, illu_fea)
        for i, (up, fusion, igab) in enumerate(self.decoder_layers):
            fea = fusion(torch.cat([up(fea), skips[self.level - 1 - i]], dim=1))
            fea = igab(fea, illus[self.level - 1 - i])
        return self.mapping(fea) + x


class RetinexFormer_Single_Stage(nn.Module):
    def __init__(self, in_channels: int = 3, out_channels: int = 3, n_feat: int = 31, level: int = 2,
                 num_blocks: tuple[int, ...] = (1, 1, 1)):
        super().__init__()
        self.estimator = Illumination_Estimator(n_feat)
        self.denoiser = Denoiser(in_dim=in_channels, out_dim=out_channels, dim=n_feat, level=level,
                                 num_blocks=num_blocks)

    def forward(self, img):
        illu_fea, illu_map = self.estimator(img)
        return self.denoiser(img * illu_map + img, illu_fea)


class RetinexFormerNet(nn.Module):
    """Official ``RetinexFormer``: ``stage`` single-stage bodies in sequence (level 2, H and W multiples of 4)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, n_feat: int = 31, stage: int = 3,
                 num_blocks: tuple[int, ...] = (1, 1, 1)):
        super().__init__()
        self.stage = stage
        self.body = nn.Sequential(*[
            RetinexFormer_Single_Stage(in_channels=in_channels, out_channels=out_channels, n_feat=n_feat, level=2,
                                       num_blocks=tuple(num_blocks)) for _ in range(stage)])

    def forward(self, x):
        return self.body(x)


@dataclasses.dataclass(frozen=True)
class RetinexFormerConfig:
    """Official ``RetinexFormer`` constructor arguments; defaults = the released models (Options/*.yml)."""

    in_channels: int = 3
    out_channels: int = 3
    n_feat: int = 40
    stage: int = 1
    num_blocks: tuple[int, ...] = (1, 2, 2)

    def __post_init__(self):
        object.__setattr__(self, "num_blocks", tuple(int(n) for n in self.num_blocks))
        if len(self.num_blocks) != 3:
            raise ConfigError(f"retinexformer: num_blocks must have 3 entries (2 levels + bottleneck), got "
                              f"{list(self.num_blocks)}")
        if self.n_feat % 4:
            raise ConfigError(f"retinexformer: n_feat must be divisible by 4 (the illumination estimator's 5x5 conv "
                              f"has groups=4), got {self.n_feat}")


# official release names (README "pretrained_weights/<name>.pth"; test command and Options/RetinexFormer_<name>.yml)
_RELEASES = {
    "LOL_v1": "LOL-v1", "LOL_v2_real": "LOL-v2-real", "LOL_v2_synthetic": "LOL-v2-synthetic", "SID": "SID",
    "SMID": "SMID", "SDSD_indoor": "SDSD-indoor", "SDSD_outdoor": "SDSD-outdoor", "FiveK": "MIT-Adobe FiveK",
    "NTIRE": "NTIRE 2024 low-light challenge (official results use --self_ensemble)",
}


def _spec(tag: str, trained_on: str) -> WeightsSpec:
    return WeightsSpec(
        filename=f"{tag}.pth", sha256=None, url=None, license=_LICENSE,
        source=f"caiyuanhao1998/Retinexformer: README.md 'pretrained_weights/{tag}.pth'@{_COMMIT}",
        paper=_PAPER, state_dict_key="params", subdir="retinexformer", size_mb=6.5,
        notes=f"trained on {trained_on}; download {tag}.pth by hand from the official Google Drive folder "
              f"{_MODELS_PAGE} (or Baidu {_MODELS_BAIDU}); no official sha256 published")


class RetinexFormerEnhancer(TorchEnhancer):
    """Retinexformer; RGB [0, 1] in and out, reflect padding to a multiple of 4, output clamped."""

    Config = RetinexFormerConfig
    summary = "Retinexformer: one-stage Retinex transformer with illumination-guided attention"
    paper = _PAPER
    default_tag = "LOL_v1"
    pad_multiple = 4
    pad_mode = "reflect"
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {tag: _spec(tag, data) for tag, data in _RELEASES.items()}

    def build_model(self):
        c = self.config
        return RetinexFormerNet(in_channels=c.in_channels, out_channels=c.out_channels, n_feat=c.n_feat,
                                stage=c.stage, num_blocks=c.num_blocks)

    def load_state_dict(self, state: dict) -> None:
        """Strict load; a ``module.`` prefix (DataParallel checkpoints, which the official test accepts) is removed."""
        if state and all(k.startswith("module.") for k in state):
            state = {k[len("module."):]: v for k, v in state.items()}
        self.model.load_state_dict(state, strict=True)
