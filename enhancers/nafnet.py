"""NAFNet: nonlinear-activation-free network for image restoration (Chen, Chu, Zhang, Sun, ECCV 2022), GoPro deblurring.

Re-implementation of ``megvii-research/NAFNet: basicsr/models/archs/NAFNet_arch.py`` (+ ``arch_util.py``
``LayerNorm2d``, ``local_arch.py`` TLC) @ 2b4af71e. Module and parameter names follow the official classes exactly,
so the released checkpoints (``NAFNet-GoPro-width32.pth``, ``NAFNet-GoPro-width64.pth``; state dict under
``params``) load with ``strict=True``.

Architecture (config fields = official constructor arguments ``img_channel, width, middle_blk_num, enc_blk_nums,
dec_blk_nums``): a U-Net of NAFBlocks (channel LayerNorm, 1x1 conv, 3x3 depth-wise conv, SimpleGate ``x1 * x2``,
simplified channel attention ``x * conv1x1(avgpool(x))``, 1x1 conv, learnable residual scales ``beta``/``gamma``;
then a gated 1x1 FFN), stride-2 2x2 conv down-sampling that doubles the channels, 1x1 conv + PixelShuffle(2)
up-sampling, additive skips and a global residual. GoPro: ``width`` 32 / 64, ``enc_blk_nums=[1, 1, 1, 28]``,
``middle_blk_num=1``, ``dec_blk_nums=[1, 1, 1, 1]`` (17,111,907 / 67,888,835 parameters).

TLC (``local=True``, the default): the official GoPro test configs (``options/test/GoPro/NAFNet-width*.yml``) build
``NAFNetLocal``, which replaces every global average pool of the channel attention by a local average pool whose
window is 1.5x the feature size seen at ``train_size`` (default 1x3x256x256: 384 px at full resolution, 24 at the
bottleneck), computed exactly (summed-area table) and replicate-padded back to the feature size (Chu et al.,
"Revisiting Global Statistics Aggregation for Improving Image Restoration", ECCV 2022). It changes no parameter; on
GoPro it is the difference between 33.08 and 33.71 dB (NAFNet issue #73). ``local=False`` is the plain ``NAFNet``.

Official inference (``basicsr/models/image_restoration_model.py``): RGB in [0, 1]; the network itself zero-pads
right/bottom to a multiple of ``2 ** len(enc_blk_nums)`` and crops back; the output is clamped to [0, 1].
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

_COMMIT = "2b4af71ebe098a92a75910c233a3965a3e93ede4"
_SRC = f"megvii-research/NAFNet: basicsr/models/archs/NAFNet_arch.py@{_COMMIT}"
_PAPER = "Chen, Chu, Zhang, Sun. Simple Baselines for Image Restoration. ECCV 2022, arXiv:2204.04676"
_LICENSE = "MIT (megvii-research/NAFNet LICENSE; parts Apache-2.0 from BasicSR)"


def _gdrive(file_id: str) -> str:
    """Direct-download form of a Google Drive share link (``confirm=t`` skips the large-file warning page)."""
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


# -- building blocks (names as in the official code) ----------------------------------------------------------------

class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of an N x C x H x W tensor (biased variance, eps=1e-6), affine per channel."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class LocalAvgPool2d(nn.Module):
    """TLC local average pool (official ``local_arch.AvgPool2d`` after conversion), stride 1.

    ``kernel_size`` is fixed at construction (the official code fixes it on the first forward, at ``train_size``).
    When the window covers the whole feature map this is the global average. Otherwise the exact window means
    (``fast_imp=False``: summed-area table over the valid positions) or the official approximate sub-sampled
    variant (``fast_imp=True``) are replicate-padded back to the input size.
    """

    _RS = (5, 4, 3, 2, 1)

    def __init__(self, kernel_size: tuple[int, int], fast_imp: bool = False, max_r: tuple[int, int] = (5, 5)):
        super().__init__()
        self.kernel_size = (int(kernel_size[0]), int(kernel_size[1]))
        self.fast_imp = bool(fast_imp)
        self.max_r = (int(max_r[0]), int(max_r[1]))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride=1, fast_imp={self.fast_imp}"

    def forward(self, x):
        h, w = x.shape[-2:]
        kh, kw = self.kernel_size
        if kh >= h and kw >= w:
            return F.adaptive_avg_pool2d(x, 1)
        if self.fast_imp:  # the official "non-equivalent implementation but faster"
            r1 = min(self.max_r[0], next(r for r in self._RS if h % r == 0))
            r2 = min(self.max_r[1], next(r for r in self._RS if w % r == 0))
            s = x[:, :, ::r1, ::r2].cumsum(dim=-1).cumsum(dim=-2)
            sh, sw = s.shape[-2:]
            k1, k2 = min(sh - 1, kh // r1), min(sw - 1, kw // r2)
            out = (s[:, :, :-k1, :-k2] - s[:, :, :-k1, k2:] - s[:, :, k1:, :-k2] + s[:, :, k1:, k2:]) / (k1 * k2)
            out = F.interpolate(out, scale_factor=(r1, r2))
        else:
            s = F.pad(x.cumsum(dim=-1).cumsum(dim=-2), (1, 0, 1, 0))
            k1, k2 = min(h, kh), min(w, kw)
            out = (s[:, :, k1:, k2:] + s[:, :, :-k1, :-k2] - s[:, :, :-k1, k2:] - s[:, :, k1:, :-k2]) / (k1 * k2)
        oh, ow = out.shape[-2:]
        pad = ((w - ow) // 2, (w - ow + 1) // 2, (h - oh) // 2, (h - oh + 1) // 2)
        return F.pad(out, pad, mode="replicate")


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them."""

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        return x1 * x2


class NAFBlock(nn.Module):
    """NAFNet block (DW_Expand = FFN_Expand = 2, no dropout at inference); ``pool`` is the attention's pooling."""

    def __init__(self, c: int, pool: nn.Module | None = None):
        super().__init__()
        dw = c * 2
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = nn.Sequential(pool if pool is not None else nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.sg = SimpleGate()
        self.conv4 = nn.Conv2d(c, c * 2, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))

    def forward(self, inp):
        x = self.sg(self.conv2(self.conv1(self.norm1(inp))))
        x = self.conv3(x * self.sca(x))
        y = inp + x * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNet(nn.Module):
    """The official ``NAFNet`` (``local=False``) or ``NAFNetLocal`` (``local=True``: TLC pooling at ``train_size``).

    ``forward`` zero-pads right/bottom to a multiple of ``2 ** len(enc_blk_nums)`` and crops back; the output is
    unclamped.
    """

    def __init__(self, img_channel: int = 3, width: int = 16, middle_blk_num: int = 1,
                 enc_blk_nums: tuple[int, ...] = (), dec_blk_nums: tuple[int, ...] = (), *, local: bool = False,
                 train_size: tuple[int, ...] = (1, 3, 256, 256), fast_imp: bool = False):
        super().__init__()
        if len(dec_blk_nums) != len(enc_blk_nums):
            raise ConfigError(f"NAFNet: enc_blk_nums {list(enc_blk_nums)} and dec_blk_nums {list(dec_blk_nums)} must "
                              "have the same length (the official forward zips them)")
        self.padder_size = 2 ** len(enc_blk_nums)
        pool_for = _tlc_pools(len(enc_blk_nums), train_size, fast_imp, self.padder_size) if local else (lambda _: None)

        self.intro = nn.Conv2d(img_channel, width, 3, padding=1)
        self.ending = nn.Conv2d(width, img_channel, 3, padding=1)
        # containers in the official registration order (it fixes the state-dict key order)
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.middle_blks = nn.Sequential()
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()
        chan = width
        for level, num in enumerate(enc_blk_nums):
            self.encoders.append(nn.Sequential(*[NAFBlock(chan, pool_for(level)) for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        depth = len(enc_blk_nums)
        self.middle_blks = nn.Sequential(*[NAFBlock(chan, pool_for(depth)) for _ in range(middle_blk_num)])
        for i, num in enumerate(dec_blk_nums):
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan, pool_for(depth - 1 - i)) for _ in range(num)]))

    def forward(self, inp):
        h, w = inp.shape[-2:]
        m = self.padder_size
        inp = F.pad(inp, (0, (m - w % m) % m, 0, (m - h % m) % m))
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = decoder(up(x) + skip)
        x = self.ending(x) + inp
        return x[:, :, :h, :w]


def _tlc_pools(depth: int, train_size, fast_imp: bool, padder: int):
    """Factory of TLC pools per U-Net level, with the kernels the official ``NAFNetLocal`` conversion fixes.

    Official: ``base_size = int(1.5 * train_size)``; at the first forward (on a ``train_size`` input, padded to
    ``padder``) each pool sets ``kernel = feature_size * base_size // train_size`` and, for the fast variant,
    ``max_r = max(1, 5 * feature_size // train_size)``.
    """
    if len(train_size) != 4:
        raise ConfigError(f"NAFNet: train_size must be (N, C, H, W), got {tuple(train_size)}")
    th, tw = int(train_size[-2]), int(train_size[-1])
    bh, bw = int(th * 1.5), int(tw * 1.5)
    ph, pw = -(-th // padder) * padder, -(-tw // padder) * padder

    def make(level: int) -> LocalAvgPool2d:
        fh, fw = ph >> level, pw >> level
        return LocalAvgPool2d((fh * bh // th, fw * bw // tw), fast_imp=fast_imp,
                              max_r=(max(1, 5 * fh // th), max(1, 5 * fw // tw)))

    return make


# -- enhancer ---------------------------------------------------------------------------------------------------

_GOPRO = {"middle_blk_num": 1, "enc_blk_nums": (1, 1, 1, 28), "dec_blk_nums": (1, 1, 1, 1)}


class NAFNetEnhancer(TorchEnhancer):
    """NAFNet (GoPro deblurring). Input/output RGB [0, 1]; the network zero-pads internally; TLC on by default."""

    @dataclasses.dataclass(frozen=True)
    class Config:
        """Official ``NAFNet`` constructor arguments, plus the ``NAFNetLocal`` (TLC) switch and its options.

        Attributes:
            img_channel, width, middle_blk_num, enc_blk_nums, dec_blk_nums: as the official constructor
                (defaults: the GoPro width-64 model).
            local: use ``NAFNetLocal`` (TLC local statistics), as the official GoPro test configs do.
            train_size: ``NAFNetLocal(train_size=...)``: (N, C, H, W) of the training crops that fixes the windows.
            fast_imp: ``NAFNetLocal(fast_imp=...)``: the official approximate (sub-sampled) local pooling.
        """

        img_channel: int = 3
        width: int = 64
        middle_blk_num: int = 1
        enc_blk_nums: tuple[int, ...] = (1, 1, 1, 28)
        dec_blk_nums: tuple[int, ...] = (1, 1, 1, 1)
        local: bool = True
        train_size: tuple[int, ...] = (1, 3, 256, 256)
        fast_imp: bool = False

    summary: ClassVar[str] = "NAFNet deblurring network (GoPro weights, TLC test-time local statistics)"
    paper: ClassVar[str] = _PAPER
    pad_multiple: ClassVar[int] = 1  # the network pads itself (zeros, to 2 ** len(enc_blk_nums))
    default_tag: ClassVar[str] = "gopro_width64"
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {
        "gopro_width64": WeightsSpec(
            filename="NAFNet-GoPro-width64.pth", sha256=None, url=_gdrive("1S0PVRbyTakYY9a82kujgZLbMihfNBLfC"),
            license=_LICENSE, source=_SRC, paper=_PAPER, state_dict_key="params", subdir="nafnet", size_mb=272,
            notes="README / docs/GoPro.md link https://drive.google.com/file/d/1S0PVRbyTakYY9a82kujgZLbMihfNBLfC "
                  "(also Baidu pan); no official sha256. Official GoPro PSNR 33.7103 / SSIM 0.9668 with NAFNetLocal.",
            config={"width": 64, **_GOPRO}),
        "gopro_width32": WeightsSpec(
            filename="NAFNet-GoPro-width32.pth", sha256=None, url=_gdrive("1Fr2QadtDCEXg6iwWX8OzeZLbHOx2t5Bj"),
            license=_LICENSE, source=_SRC, paper=_PAPER, state_dict_key="params", subdir="nafnet", size_mb=69,
            notes="README / docs/GoPro.md link https://drive.google.com/file/d/1Fr2QadtDCEXg6iwWX8OzeZLbHOx2t5Bj "
                  "(also Baidu pan); no official sha256. Official GoPro PSNR 32.8705 / SSIM 0.9606 with NAFNetLocal.",
            config={"width": 32, **_GOPRO}),
    }

    @classmethod
    def network_from_config(cls, config) -> nn.Module:
        """The bare network for ``config`` (no weights; works under ``torch.device('meta')`` for profiling)."""
        c = config
        if c.img_channel != 3:
            raise ConfigError(f"{cls.__name__}: img_channel must be 3 (ledbench images are RGB), got {c.img_channel}")
        if c.width < 1:
            raise ConfigError(f"{cls.__name__}: width must be >= 1, got {c.width}")
        return NAFNet(c.img_channel, c.width, c.middle_blk_num, tuple(c.enc_blk_nums), tuple(c.dec_blk_nums),
                      local=c.local, train_size=tuple(c.train_size), fast_imp=c.fast_imp)

    def build_model(self):
        return self.network_from_config(self.config)
