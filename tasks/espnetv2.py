"""ESPNetv2 segmentation network (Mehta et al., CVPR 2019), a port of sacmehta/EdgeNets @ 2b232d3f.

Sources: ``model/segmentation/espnetv2.py`` (+ ``nn_layers/eesp.py``, ``efficient_pyramid_pool.py``,
``efficient_pt.py``, ``espnet_utils.py``, ``cnn_utils.py``; MIT, notice in ``ledbench/tasks/weights/LICENSE.espnetv2``).
Module and attribute names mirror the official code, so the official checkpoints load with ``strict=True`` and
unchanged keys. The task wrapper (pre/post-processing, weights) is ``ledbench.tasks.segmentation.ESPNetv2Task``.
Importing this module imports torch.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ESPNetv2Segmentation", "build_espnetv2"]

_ESPNET_CHANNELS = {0.5: (16, 32, 64, 128, 256, 1024), 1.0: (32, 64, 128, 256, 512, 1024),
                    1.25: (32, 80, 160, 320, 640, 1024), 1.5: (32, 96, 192, 384, 768, 1024),
                    2.0: (32, 128, 256, 512, 1024, 1280)}  # model/classification/espnetv2_config.py sc_ch_dict
_ESPNET_REPS = (0, 3, 7, 3)
_ESPNET_RLIM = (13, 11, 9, 7, 5)
_ESPNET_BRANCHES = 4
_INP_REINF = 3


class CBR(nn.Module):  # nn_layers/espnet_utils.py: conv, bn, act
    def __init__(self, nin, nout, k, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(nin, nout, k, stride=stride, padding=(k - 1) // 2, bias=False, groups=groups)
        self.bn = nn.BatchNorm2d(nout)
        self.act = nn.PReLU(nout)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))

class CB(nn.Module):
    def __init__(self, nin, nout, k, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(nin, nout, k, stride=stride, padding=(k - 1) // 2, bias=False, groups=groups)
        self.bn = nn.BatchNorm2d(nout)

    def forward(self, x):
        return self.bn(self.conv(x))

class BR(nn.Module):
    def __init__(self, nout):
        super().__init__()
        self.bn = nn.BatchNorm2d(nout)
        self.act = nn.PReLU(nout)

    def forward(self, x):
        return self.act(self.bn(x))

class CDilated(nn.Module):
    def __init__(self, nin, nout, k, stride=1, d=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(nin, nout, k, stride=stride, padding=(k - 1) // 2 * d, bias=False, dilation=d,
                              groups=groups)

    def forward(self, x):
        return self.conv(x)

class SeqCBR(nn.Module):  # nn_layers/cnn_utils.py CBR: a Sequential named ``cbr``
    def __init__(self, nin, nout, k, stride=1, groups=1):
        super().__init__()
        self.cbr = nn.Sequential(nn.Conv2d(nin, nout, k, stride=stride, padding=(k - 1) // 2, bias=False,
                                           groups=groups), nn.BatchNorm2d(nout), nn.PReLU(nout))

    def forward(self, x):
        return self.cbr(x)

class SeqBR(nn.Module):  # nn_layers/cnn_utils.py BR: a Sequential named ``br``
    def __init__(self, nout):
        super().__init__()
        self.br = nn.Sequential(nn.BatchNorm2d(nout), nn.PReLU(nout))

    def forward(self, x):
        return self.br(x)

class Shuffle(nn.Module):
    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        b, c, h, w = x.shape
        return x.view(b, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(b, c, h, w)

class EESP(nn.Module):
    """Reduce (grouped 1x1) -> split into k dilated depth-wise branches -> hierarchical fusion -> merge."""

    def __init__(self, nin, nout, stride=1, k=4, r_lim=7, down_avg=False):
        super().__init__()
        self.stride = stride
        n = nout // k
        assert n * k == nout, f"EESP needs nout divisible by k ({nout}, {k})"
        self.proj_1x1 = CBR(nin, n, 1, stride=1, groups=k)
        ksizes = sorted(3 + 2 * i if 3 + 2 * i <= r_lim else 3 for i in range(k))
        self.spp_dw = nn.ModuleList(CDilated(n, n, 3, stride=stride, groups=n, d=(ks - 1) // 2)
                                    for ks in ksizes)
        self.conv_1x1_exp = CB(nout, nout, 1, 1, groups=k)
        self.br_after_cat = BR(nout)
        self.module_act = nn.PReLU(nout)
        self.down_avg = down_avg

    def forward(self, x):
        o1 = self.proj_1x1(x)
        outs = [self.spp_dw[0](o1)]
        for branch in self.spp_dw[1:]:
            outs.append(branch(o1) + outs[-1])
        expanded = self.conv_1x1_exp(self.br_after_cat(torch.cat(outs, 1)))
        if self.stride == 2 and self.down_avg:
            return expanded
        if expanded.shape == x.shape:
            expanded = expanded + x
        return self.module_act(expanded)

class DownSampler(nn.Module):
    """Avg-pool branch || strided EESP, plus the input-reinforcement shortcut from the (pooled) RGB image."""

    def __init__(self, nin, nout, k=4, r_lim=9, reinf=True):
        super().__init__()
        self.eesp = EESP(nin, nout - nin, stride=2, k=k, r_lim=r_lim, down_avg=True)
        self.avg = nn.AvgPool2d(kernel_size=3, padding=1, stride=2)
        if reinf:
            self.inp_reinf = nn.Sequential(CBR(3, _INP_REINF, 3, 1), CB(_INP_REINF, nout, 1, 1))
        self.act = nn.PReLU(nout)

    def forward(self, x, x2=None):
        avg_out = self.avg(x)
        out = torch.cat([avg_out, self.eesp(x)], 1)
        if x2 is not None:
            for _ in range(32):  # pool the image until its height matches (official: ``while True``)
                x2 = F.avg_pool2d(x2, kernel_size=3, padding=1, stride=2)
                if x2.shape[2] == avg_out.shape[2]:
                    break
            out = out + self.inp_reinf(x2)
        return self.act(out)

class EESPNetBase(nn.Module):
    def __init__(self, s):
        super().__init__()
        ch = _ESPNET_CHANNELS[s]
        k = _ESPNET_BRANCHES
        rl = _ESPNET_RLIM
        self.input_reinforcement = True
        self.level1 = CBR(3, ch[0], 3, 2)
        self.level2_0 = DownSampler(ch[0], ch[1], k=k, r_lim=rl[0])
        self.level3_0 = DownSampler(ch[1], ch[2], k=k, r_lim=rl[1])
        self.level3 = nn.ModuleList(EESP(ch[2], ch[2], 1, k, rl[2]) for _ in range(_ESPNET_REPS[1]))
        self.level4_0 = DownSampler(ch[2], ch[3], k=k, r_lim=rl[2])
        self.level4 = nn.ModuleList(EESP(ch[3], ch[3], 1, k, rl[3]) for _ in range(_ESPNET_REPS[2]))
        self.config = ch

class EfficientPyrPool(nn.Module):
    def __init__(self, in_planes, proj_planes, out_planes, scales=(2.0, 1.5, 1.0, 0.5, 0.1), last_br=True):
        super().__init__()
        self.stages = nn.ModuleList()  # registered first, as in the official code (key order)
        self.projection_layer = SeqCBR(in_planes, proj_planes, 1, 1)
        self.scales = sorted(scales, reverse=True)
        for _ in self.scales:
            self.stages.append(nn.Conv2d(proj_planes, proj_planes, 3, 1, 1, bias=False, groups=proj_planes))
        n = len(self.scales)
        self.merge_layer = nn.Sequential(SeqBR(proj_planes * n), Shuffle(n),
                                         SeqCBR(proj_planes * n, proj_planes, 3, 1, groups=proj_planes),
                                         nn.Conv2d(proj_planes, out_planes, 1, 1, bias=not last_br))
        if last_br:
            self.br = SeqBR(out_planes)
        self.last_br = last_br

    def forward(self, x):
        x = self.projection_layer(x)
        h, w = x.shape[2:]
        hs = []
        for scale, stage in zip(self.scales, self.stages):
            hh, ww = max(math.ceil(h * scale), 5), max(math.ceil(w * scale), 5)
            if scale < 1.0:
                y = stage(F.adaptive_avg_pool2d(x, (hh, ww)))
                y = F.interpolate(y, (h, w), mode="bilinear", align_corners=True)
            elif scale > 1.0:
                y = stage(F.interpolate(x, (hh, ww), mode="bilinear", align_corners=True))
                y = F.adaptive_avg_pool2d(y, (h, w))
            else:
                y = stage(x)
            hs.append(y)
        out = self.merge_layer(torch.cat(hs, 1))
        return self.br(out) if self.last_br else out

class EfficientPWConv(nn.Module):
    def __init__(self, nin, nout):
        super().__init__()
        self.wt_layer = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(nin, nout, 1, 1, 0, bias=False),
                                      nn.Sigmoid())
        self.expansion_layer = SeqCBR(nin, nout, 3, 1, groups=math.gcd(nin, nout))

    def forward(self, x):
        return self.expansion_layer(x) * self.wt_layer(x)


class ESPNetv2Segmentation(nn.Module):
    """The official ``ESPNetv2Segmentation`` (``model/segmentation/espnetv2.py``): EESPNet encoder with input
    reinforcement, bottom-up decoder of efficient pyramid pools. ``s``: width scale (a key of the channel table),
    ``classes``: output channels, ``dataset``: ``city`` | ``pascal`` | ``coco`` (sets the decoder width)."""

    def __init__(self, s: float = 1.0, classes: int = 20, dataset: str = "city"):
        super().__init__()
        self.base_net = EESPNetBase(s)
        cfg = self.base_net.config
        base = {"pascal": 16, "city": 16, "coco": 32}[dataset]
        dec = (4 * base, 3 * base, 2 * base, classes)
        proj = min(classes // 2, base)
        self.bu_dec_l1 = EfficientPyrPool(cfg[3], proj, dec[0])
        self.bu_dec_l2 = EfficientPyrPool(dec[0], proj, dec[1])
        self.bu_dec_l3 = EfficientPyrPool(dec[1], proj, dec[2])
        self.bu_dec_l4 = EfficientPyrPool(dec[2], proj, dec[3], last_br=False)
        self.merge_enc_dec_l2 = EfficientPWConv(cfg[2], dec[0])
        self.merge_enc_dec_l3 = EfficientPWConv(cfg[1], dec[1])
        self.merge_enc_dec_l4 = EfficientPWConv(cfg[0], dec[2])
        self.bu_br_l2 = nn.Sequential(nn.BatchNorm2d(dec[0]), nn.PReLU(dec[0]))
        self.bu_br_l3 = nn.Sequential(nn.BatchNorm2d(dec[1]), nn.PReLU(dec[1]))
        self.bu_br_l4 = nn.Sequential(nn.BatchNorm2d(dec[2]), nn.PReLU(dec[2]))

    @staticmethod
    def upsample(x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)

    def forward(self, x):
        size = x.shape[2:]
        b = self.base_net
        e1 = b.level1(x)
        e2 = b.level2_0(e1, x)
        e3 = b.level3_0(e2, x)
        for layer in b.level3:
            e3 = layer(e3)
        e4 = b.level4_0(e3, x)
        for layer in b.level4:
            e4 = layer(e4)
        y = self.bu_dec_l1(e4)
        y = self.bu_dec_l2(self.bu_br_l2(self.upsample(y) + self.merge_enc_dec_l2(e3)))
        y = self.bu_dec_l3(self.bu_br_l3(self.upsample(y) + self.merge_enc_dec_l3(e2)))
        y = self.bu_dec_l4(self.bu_br_l4(self.upsample(y) + self.merge_enc_dec_l4(e1)))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=True)


def build_espnetv2(s: float = 1.0, classes: int = 20, dataset: str = "city") -> ESPNetv2Segmentation:
    """ESPNetv2 segmentation network with random initialisation (load an official state dict into it)."""
    return ESPNetv2Segmentation(s, classes, dataset)
