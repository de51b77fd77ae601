"""IAT: Illumination-Adaptive Transformer (Cui et al., BMVC 2022), low-light enhancement / exposure correction.

Re-implementation of ``cuiziteng/Illumination-Adaptive-Transformer: IAT_enhance/model/IAT_main.py, global_net.py,
blocks.py@c7647226`` (class ``IAT``). Module names follow the official code, so the released
``best_Epoch_lol_v1.pth``, ``best_Epoch_lol.pth`` and ``best_Epoch_exposure.pth`` (plain state dicts, 91,348
parameters) load with ``strict=True``.

Architecture:

- local branch (``Local_pred_S``, type ``ccc``): 3x3 conv + LeakyReLU(0.2) to 16 channels, two stacks of three
  ``CBlock_ln`` (depth-wise pos-embedding, ``Aff_channel`` norm = colour matrix then per-channel affine, 1x1 ->
  5x5 depth-wise -> 1x1 "attention" conv, conv MLP, layer scales ``gamma_1/2``) with a short cut, ending in
  conv + ReLU (``mul``) and conv + tanh (``add``); ``img_high = img * mul + add``;
- global branch (``Global_pred``): two stride-2 convs with BatchNorm, one attention block whose 10 learned queries
  attend to all positions (query 0 -> gamma, queries 1..9 -> 3x3 colour matrix, added to ``gamma_base`` /
  ``color_base``); ``out = clamp(img_high @ ccm^T, 1e-8, 1) ** gamma`` per image.

Official pre/post-processing: RGB in [0, 1] (``/ 255`` or ``ToTensor``), no padding (any H x W works), output saved
with ``torchvision.utils.save_image`` (clamped to [0, 1]). The LOL-v2 model (``best_Epoch_lol.pth``) is trained and
evaluated with ``Normalize(0.5, 0.5)`` on the INPUT (``evaluation_lol_v2.py --pre_norm True``, ``train_lol_v2.py``
normalises by default) while its output stays in [0, 1]; ``lol_v1`` (``evaluation_lol_v1.py``, ``img_demo.py``)
and ``exposure`` (``evaluation_exposure.py``, ``IAT(type='exp')``) take [0, 1] input. ``Config.normalize`` = None
follows that per tag.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import nn

from ledbench.bench.errors import ConfigError
from ledbench.bench.weights import WeightsSpec
from ledbench.enhancers.base import TorchEnhancer

_COMMIT = "c76472265247f47cea57649af28b15018bb64cb1"
_PAPER = ("Cui, Li, Gu, Su, Ma, Shen, Harada. You Only Need 90K Parameters to Adapt Light: a Light Weight "
          "Transformer for Image Enhancement and Exposure Correction. BMVC 2022, arXiv:2205.14871")
_LICENSE = "Apache-2.0 (cuiziteng/Illumination-Adaptive-Transformer LICENSE)"


# -- local branch (blocks.py) -----------------------------------------------------------------------------------------

class Aff_channel(nn.Module):
    """Colour normalisation on tokens (B x N x C): ``(x @ color^T) * alpha + beta`` (``channel_first=True``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones([1, 1, dim]))
        self.beta = nn.Parameter(torch.zeros([1, 1, dim]))
        self.color = nn.Parameter(torch.eye(dim))

    def forward(self, x):
        return torch.tensordot(x, self.color, dims=[[-1], [-1]]) * self.alpha + self.beta


class CMlp(nn.Module):
    """1x1 conv -> GELU -> 1x1 conv."""

    def __init__(self, in_features: int, hidden_features: int):
        super().__init__()
        self.fc1 = nn.Conv2d(in_features, hidden_features, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden_features, in_features, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CBlock_ln(nn.Module):
    """Conv block with ``Aff_channel`` norms and layer scales (drop path is identity at inference)."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, init_values: float = 1e-4):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = Aff_channel(dim)
        self.conv1 = nn.Conv2d(dim, dim, 1)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.attn = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.norm2 = Aff_channel(dim)
        self.gamma_1 = nn.Parameter(init_values * torch.ones((1, dim, 1, 1)))
        self.gamma_2 = nn.Parameter(init_values * torch.ones((1, dim, 1, 1)))
        self.mlp = CMlp(dim, int(dim * mlp_ratio))

    @staticmethod
    def _norm(norm, x):
        b, c, h, w = x.shape
        return norm(x.flatten(2).transpose(1, 2)).view(b, h, w, c).permute(0, 3, 1, 2)

    def forward(self, x):
        x = x + self.pos_embed(x)
        x = x + self.gamma_1 * self.conv2(self.attn(self.conv1(self._norm(self.norm1, x))))
        return x + self.gamma_2 * self.mlp(self._norm(self.norm2, x))


class Local_pred_S(nn.Module):
    """Local branch (type ``ccc``; the official code hard-codes 16-channel blocks): returns ``(mul, add)``."""

    def __init__(self, in_dim: int = 3, dim: int = 16):
        super().__init__()
        self.conv1 = nn.Conv2d(in_dim, dim, 3, padding=1)
        self.relu = nn.LeakyReLU(negative_slope=0.2)
        self.mul_blocks = nn.Sequential(*[CBlock_ln(dim) for _ in range(3)])
        self.add_blocks = nn.Sequential(*[CBlock_ln(dim) for _ in range(3)])
        self.mul_end = nn.Sequential(nn.Conv2d(dim, 3, 3, 1, 1), nn.ReLU())
        self.add_end = nn.Sequential(nn.Conv2d(dim, 3, 3, 1, 1), nn.Tanh())

    def forward(self, img):
        img1 = self.relu(self.conv1(img))
        mul = self.mul_end(self.mul_blocks(img1) + img1)
        add = self.add_end(self.add_blocks(img1) + img1)
        return mul, add


# -- global branch (global_net.py) ------------------------------------------------------------------------------------

class Mlp(nn.Module):
    def __init__(self, in_features: int, hidden_features: int):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class query_Attention(nn.Module):
    """10 learned queries attend over the tokens (no bias on k/v, scale ``head_dim ** -0.5``)."""

    def __init__(self, dim: int, num_heads: int = 2, num_queries: int = 10):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Parameter(torch.ones((1, num_queries, dim)))
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        nh = self.num_heads
        k = self.k(x).reshape(b, n, nh, c // nh).permute(0, 2, 1, 3)
        v = self.v(x).reshape(b, n, nh, c // nh).permute(0, 2, 1, 3)
        q = self.q.expand(b, -1, -1).reshape(b, -1, nh, c // nh).permute(0, 2, 1, 3)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b, q.shape[2], c)
        return self.proj(x)


class query_SABlock(nn.Module):
    """pos-embedding, then the query attention REPLACES the tokens (no residual, as official), then an MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = query_Attention(dim, num_heads=num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.pos_embed(x)
        x = self.attn(self.norm1(x.flatten(2).transpose(1, 2)))
        return x + self.mlp(self.norm2(x))


class conv_embedding(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(in_channels, out_channels // 2, 3, 2, 1), nn.BatchNorm2d(out_channels // 2), nn.GELU(),
            nn.Conv2d(out_channels // 2, out_channels, 3, 2, 1), nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return self.proj(x)


class Global_pred(nn.Module):
    """Returns ``gamma`` (B x 1) and the colour matrix (B x 3 x 3)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 64, num_heads: int = 4, type: str = "exp"):
        super().__init__()
        # 'exp' freezes gamma_base during training; it is a parameter (in the state dict) either way
        self.gamma_base = nn.Parameter(torch.ones(1), requires_grad=type != "exp")
        self.color_base = nn.Parameter(torch.eye(3))
        self.conv_large = conv_embedding(in_channels, out_channels)
        self.generator = query_SABlock(dim=out_channels, num_heads=num_heads)
        self.gamma_linear = nn.Linear(out_channels, 1)
        self.color_linear = nn.Linear(out_channels, 1)

    def forward(self, x):
        x = self.generator(self.conv_large(x))
        gamma = self.gamma_linear(x[:, :1]).squeeze(-1) + self.gamma_base
        color = self.color_linear(x[:, 1:]).squeeze(-1).view(-1, 3, 3) + self.color_base
        return gamma, color


class IATNet(nn.Module):
    """Official ``IAT(in_dim, with_global, type)``; ``forward`` returns ``(mul, add, img_high)``."""

    def __init__(self, in_dim: int = 3, with_global: bool = True, type: str = "lol"):
        super().__init__()
        self.local_net = Local_pred_S(in_dim=in_dim)
        self.with_global = with_global
        if with_global:
            self.global_net = Global_pred(in_channels=in_dim, type=type)

    def forward(self, img_low):
        mul, add = self.local_net(img_low)
        img_high = img_low * mul + add
        if not self.with_global:
            return mul, add, img_high
        gamma, color = self.global_net(img_low)
        hwc = img_high.permute(0, 2, 3, 1)
        hwc = torch.einsum("bhwc,bdc->bhwd", hwc, color).clamp(1e-8, 1.0) ** gamma.view(-1, 1, 1, 1)
        return mul, add, hwc.permute(0, 3, 1, 2)


@dataclasses.dataclass(frozen=True)
class IATConfig:
    """Official ``IAT`` constructor arguments, plus the input normalisation of the official evaluation.

    ``type``: ``'lol'`` or ``'exp'`` (exposure release); it only freezes ``gamma_base`` in training.
    ``normalize``: feed ``(x - 0.5) / 0.5`` instead of ``x``; None = as the official evaluation of the weights tag
    (True only for ``lol``, the LOL-v2-real model).
    """

    in_dim: int = 3
    with_global: bool = True
    type: str = "lol"
    normalize: bool | None = None

    def __post_init__(self):
        if self.type not in ("lol", "exp"):
            raise ConfigError(f"iat: type must be 'lol' or 'exp', got {self.type!r}")


def _spec(name: str, sha256: str, notes: str, config: dict | None = None) -> WeightsSpec:
    return WeightsSpec(config=config or {},
        filename=name, sha256=sha256,
        url=f"https://raw.githubusercontent.com/cuiziteng/Illumination-Adaptive-Transformer/{_COMMIT}/IAT_enhance/"
            f"{name}",
        packaged=f"enhancers/weights/{name}", license=_LICENSE,
        source=f"cuiziteng/Illumination-Adaptive-Transformer: IAT_enhance/{name}@{_COMMIT}", paper=_PAPER,
        subdir="iat", size_mb=0.43, notes=notes)


class IATEnhancer(TorchEnhancer):
    """IAT; RGB [0, 1] in and out (``lol`` tag: normalised input, see the module docstring), no padding."""

    Config = IATConfig
    summary = "IAT: illumination-adaptive transformer (local mul/add maps + global gamma and colour matrix)"
    paper = _PAPER
    default_tag = "lol_v1"
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "lol_v1": _spec("best_Epoch_lol_v1.pth", "6fb32236152283d3f3633ea1b79601c7e819efbf9d87d6b4767e1db0f1f3435b",
                        "LOL-v1 (PSNR 23.38 / SSIM 0.809 on eval15 per IAT_enhance/readme.md); [0,1] input"),
        "lol": _spec("best_Epoch_lol.pth", "9564b7e10882e688ac817ae6fd164544d05b9f74232de56c33ed7f9dabf7bdc4",
                     "LOL-v2-real; input normalised (x-0.5)/0.5 as in evaluation_lol_v2.py"),
        "exposure": _spec("best_Epoch_exposure.pth",
                          "15a9494582f028bef996d4af7145860eaa5d67799d2b0625ed93ff8c546ea3ee",
                          "exposure correction (Afifi et al. CVPR 2021 data), IAT(type='exp'); [0,1] input",
                          config={"type": "exp"}),
    }

    @property
    def normalize(self) -> bool:
        if self.config.normalize is not None:
            return bool(self.config.normalize)
        return self.tag == "lol"

    def build_model(self):
        c = self.config
        return IATNet(in_dim=c.in_dim, with_global=c.with_global, type=c.type)

    def forward(self, x):
        return self.model((x - 0.5) / 0.5 if self.normalize else x)[2]
