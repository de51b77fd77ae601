"""Semantic segmentation tasks: SegFormer (transformers), ultralytics YOLO-seg, and ESPNetv2 (shipped, offline).

Output per image: ``{"mask": int64 H x W}`` class-index map at input resolution; ``255`` marks pixels the model
leaves unlabelled (ESPNetv2-Cityscapes ``background``), excluded from scoring when they are labels
(pseudo-GT) and counted as misses when they are predictions. Each task exposes ``class_names`` (index -> name)
and ``num_classes``.

- ``seg_segformer``: ``SegformerForSemanticSegmentation``; ImageNet mean/std, resize to the processor size
  (512 x 512 ADE20K, 1024 x 1024 Cityscapes), logits upsampled bilinearly to the input size, argmax.
- ``seg_yolo``: ultralytics YOLO-seg instance masks (``retina_masks``) rasterised to a semantic map:
  0 = background, ``1 + c`` = COCO-80 class ``c``; lower-score instances are painted first, so the most
  confident instance wins where masks overlap; instances below ``mask_conf`` are left out.
- ``seg_espnetv2``: ESPNetv2 (Mehta et al., CVPR 2019) re-implemented from sacmehta/EdgeNets
  ``model/segmentation/espnetv2.py`` @ 2b232d3f (+ ``nn_layers/eesp.py``, ``efficient_pyramid_pool.py``,
  ``efficient_pt.py``, ``espnet_utils.py``, ``cnn_utils.py``), loading the official checkpoints unchanged.
  Pre/post-processing follow the official ``test_segmentation.py``: PIL bilinear resize of the uint8 image to the
  training size (W x H 512 x 256 Cityscapes, 256 x 256 VOC), ImageNet mean/std, argmax, PIL nearest resize of
  the label map back to the input size. Cityscapes output 19 (``background``) becomes 255, as the official
  ``relabel`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ledbench.bench.errors import WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, load_checkpoint, network_available, sha256_file
from ledbench.tasks.base import Task
from ledbench.tasks.detection import COCO80_NAMES, YOLOConfig, _check_image, _to_uint8, _ultra_spec, _UltralyticsBase
from ledbench.tasks.seg_metrics import CITYSCAPES_CLASSES, VOC_CLASSES

__all__ = ["ESPNetv2Seg", "ESPNetv2Task", "SegFormerTask", "YOLOSegTask", "build_espnetv2"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# -- ESPNetv2 ----------------------------------------------------------------------------------------------------
# Module and attribute names mirror the official code so that state-dict keys match exactly.

_ESPNET_CHANNELS = {0.5: (16, 32, 64, 128, 256, 1024), 1.0: (32, 64, 128, 256, 512, 1024),
                    1.25: (32, 80, 160, 320, 640, 1024), 1.5: (32, 96, 192, 384, 768, 1024),
                    2.0: (32, 128, 256, 512, 1024, 1280)}  # model/classification/espnetv2_config.py sc_ch_dict
_ESPNET_REPS = (0, 3, 7, 3)
_ESPNET_RLIM = (13, 11, 9, 7, 5)
_ESPNET_BRANCHES = 4
_INP_REINF = 3


def build_espnetv2(s: float = 1.0, classes: int = 20, dataset: str = "city"):
    """ESPNetv2 segmentation network (official class ``ESPNetv2Segmentation``) with random init."""
    import torch
    from torch import nn
    from torch.nn import functional as F

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
        def __init__(self):
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

    return ESPNetv2Segmentation()


ESPNetv2Seg = build_espnetv2  # alias for discoverability

_ESP_SOURCE = "sacmehta/EdgeNets : model/segmentation/model_zoo/espnetv2/ @ 2b232d3f"
_ESP_LICENSE = "MIT (Sachin Mehta); notice in ledbench/tasks/weights/LICENSE.espnetv2"
_ESP_PAPER = "Mehta et al., ESPNetv2: A Light-weight, Power Efficient, and General Purpose CNN, CVPR 2019"


def _esp_spec(filename: str, sha256: str, size_mb: float, **extra) -> WeightsSpec:
    return WeightsSpec(filename=filename, sha256=sha256, packaged=f"tasks/weights/{filename}", license=_ESP_LICENSE,
                       source=_ESP_SOURCE, paper=_ESP_PAPER, subdir="espnetv2_seg", size_mb=size_mb,
                       url=f"https://github.com/sacmehta/EdgeNets/raw/2b232d3f/model/segmentation/model_zoo/espnetv2/"
                           f"{filename}", extra=extra)


@dataclass(frozen=True)
class ESPNetv2Config:
    """``s`` width scale, ``dataset`` ``city`` | ``pascal``; ``size`` (W, H) network input, () = the tag's."""

    s: float = 1.0
    dataset: Literal["city", "pascal"] = "city"
    size: tuple[int, ...] = ()
    batch: int = 8


class ESPNetv2Task(Task):
    """ESPNetv2 semantic segmentation (Cityscapes 19 classes + ignore, or Pascal VOC 21); offline, shipped."""

    kind = "segmentation"
    Config = ESPNetv2Config
    requires_weights = True
    default_metrics = ("miou",)
    summary = "ESPNetv2 semantic segmentation (Cityscapes / Pascal VOC), shipped with ledbench, CPU-friendly"
    weights_tags = {
        "city": _esp_spec("espnetv2_s_1.0_city_512x256.pth",
                          "002121eee40c31c8b74186153878452e02ef834d35f3e4a8801b3a84fdc3ec7d", 1.1,
                          s=1.0, dataset="city", size=(512, 256)),
        "pascal": _esp_spec("espnetv2_s_1.0_pascal_256x256.pth",
                            "276d738e38733c136abf5ee9e8a801f5455b2751078c7c1d52a2b485460264be", 1.1,
                            s=1.0, dataset="pascal", size=(256, 256)),
        "city_s2": _esp_spec("espnetv2_s_2.0_city_512x256.pth",
                             "6b6f26b567c82bb4d6624387f24ed505613edafad19222e1707993fbe0d1d8f6", 3.4,
                             s=2.0, dataset="city", size=(512, 256)),
        "pascal_s2": _esp_spec("espnetv2_s_2.0_pascal_256x256.pth",
                               "e4883abccf8f042d422f2c66d69bd21b7af8d41680335e117eb2ee205f303d32", 3.4,
                               s=2.0, dataset="pascal", size=(256, 256)),
    }
    default_tag = "city"

    def setup(self) -> None:
        import torch

        extra = self.weights_spec.extra if (self.weights_spec and self.weights_path is not None
                                            and Path(self.weights_path).name == self.weights_spec.filename) else {}
        self.s = float(extra.get("s", self.config.s))
        self.dataset = extra.get("dataset", self.config.dataset)
        name = Path(self.weights_path).name if self.weights_path else ""
        if not extra and name:  # a user file: read s and dataset from the official naming when present
            for part in name.split("_"):
                if part in ("city", "pascal"):
                    self.dataset = part
            if "_s_" in name:
                try:
                    self.s = float(name.split("_s_")[1].split("_")[0])
                except ValueError:
                    pass
        size = tuple(self.config.size) or tuple(extra.get("size", ()))
        self.input_size = size or ((512, 256) if self.dataset == "city" else (256, 256))
        self.num_outputs = 20 if self.dataset == "city" else 21
        self.class_names = CITYSCAPES_CLASSES if self.dataset == "city" else VOC_CLASSES
        self.num_classes = len(self.class_names)
        self.model = build_espnetv2(self.s, self.num_outputs, self.dataset)
        if self.weights_path is not None:
            sd = load_checkpoint(self.weights_path, self.weights_spec)
            self.model.load_state_dict(sd, strict=True)
        self.model.eval().to(self.device)
        self._mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def _preprocess(self, img: np.ndarray) -> np.ndarray:
        from PIL import Image

        pil = Image.fromarray(_to_uint8(img)).resize(self.input_size, Image.BILINEAR)
        return np.asarray(pil, dtype=np.float32) / 255.0

    def _postprocess(self, labels: np.ndarray, width: int, height: int) -> np.ndarray:
        from PIL import Image

        out = np.asarray(Image.fromarray(labels.astype(np.uint8)).resize((width, height), Image.NEAREST))
        out = out.astype(np.int64)
        if self.dataset == "city":
            out[out == 19] = 255  # ``background`` is not a Cityscapes class (official relabel: 19 -> 255)
        return out

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        import torch

        imgs = [_check_image(im, i) for i, im in enumerate(images)]
        out = []
        step = max(1, self.config.batch)
        with torch.inference_mode():
            for s in range(0, len(imgs), step):
                chunk = imgs[s:s + step]
                x = torch.from_numpy(np.stack([self._preprocess(im) for im in chunk])).permute(0, 3, 1, 2)
                x = ((x - self._mean) / self._std).to(self.device)
                labels = self.model(x).argmax(1).cpu().numpy()
                for im, lab in zip(chunk, labels):
                    out.append({"mask": self._postprocess(lab, im.shape[1], im.shape[0])})
        return out


# -- SegFormer (transformers) -----------------------------------------------------------------------------------

_SEGFORMER_LICENSE = "NVIDIA Source Code License for SegFormer (non-commercial); see the model card"
_SEGFORMER_PAPER = "Xie et al., SegFormer: Simple and Efficient Design for Semantic Segmentation, NeurIPS 2021"


def _hf_spec(repo: str) -> WeightsSpec:
    return WeightsSpec(filename="config.json", hf_repo=repo, license=_SEGFORMER_LICENSE, source=f"hf:{repo}",
                       paper=_SEGFORMER_PAPER, notes="a transformers model folder (config.json + weights)")


@dataclass(frozen=True)
class SegFormerConfig:
    """``model``: hub id or local model folder ('' = the tag's hub id); ``size`` (W, H) () = processor's size."""

    model: str = ""
    size: tuple[int, ...] = ()
    batch: int = 4
    half: bool = False


class SegFormerTask(Task):
    """SegFormer semantic segmentation through transformers (ADE20K 150 / Cityscapes 19 heads, any folder)."""

    external_weights = True  # weights=FILE/FOLDER is resolved by this class (explicit_weights)

    kind = "segmentation"
    Config = SegFormerConfig
    default_metrics = ("miou",)
    summary = "SegFormer semantic segmentation (transformers; ADE20K or Cityscapes heads, or a local folder)"
    weights_tags = {
        "b0_ade": _hf_spec("nvidia/segformer-b0-finetuned-ade-512-512"),
        "b2_ade": _hf_spec("nvidia/segformer-b2-finetuned-ade-512-512"),
        "b0_cityscapes": _hf_spec("nvidia/segformer-b0-finetuned-cityscapes-1024-1024"),
        "b2_cityscapes": _hf_spec("nvidia/segformer-b2-finetuned-cityscapes-1024-1024"),
    }
    default_tag = "b0_ade"

    @classmethod
    def availability(cls, tag: str | None = None, what: str | None = None) -> tuple[bool, str]:
        spec = cls.weights_tags.get(tag or cls.default_tag)
        if spec is None:
            return True, ""
        try:
            from huggingface_hub import try_to_load_from_cache

            if isinstance(try_to_load_from_cache(spec.hf_repo, "config.json"), str):
                return True, ""
        except Exception:
            pass
        return False, (f"SegFormer {spec.hf_repo} is not in the Hugging Face cache: run once online with "
                       f"download=True (or `huggingface-cli download {spec.hf_repo}`), or pass model=LOCAL_FOLDER")

    def _source(self) -> tuple[str, bool]:
        src = self.explicit_weights or self.config.model
        if src:
            path = Path(src).expanduser()
            if path.is_file():
                path = path.parent
            if path.is_dir():
                return str(path), True
            if "/" not in src or src.startswith((".", "/", "~")):
                raise WeightsUnavailable(f"SegFormer model folder {src!r} for {self.name} does not exist")
            return src, False
        if self.weights_spec is None:
            raise WeightsUnavailable(f"task {self.name} needs model=HUB_ID|FOLDER")
        return self.weights_spec.hf_repo, False

    def setup(self) -> None:
        import torch
        from transformers import SegformerForSemanticSegmentation

        src, local = self._source()
        online = self.download and network_available()
        try:
            self.model = SegformerForSemanticSegmentation.from_pretrained(src, local_files_only=local or not online)
        except (OSError, ValueError) as exc:
            raise WeightsUnavailable(
                f"SegFormer weights unavailable for {self.name}: {src} is not a local folder or cached hub model "
                f"({type(exc).__name__}). Download it once online (create_task(..., download=True) or "
                f"`huggingface-cli download {src}`), or pass model=LOCAL_FOLDER.") from None
        folder = Path(src) if local else None
        if folder is not None:
            weights = [p for p in folder.glob("*.safetensors")] + [p for p in folder.glob("*.bin")]
            self.weights_sha256 = sha256_file(min(weights)) if weights else None
        else:
            self.weights_sha256 = f"hf:{src}@{getattr(self.model.config, '_commit_hash', None) or 'cache'}"
        self.model.eval().to(self.device)
        if self.config.half and self.device.type == "cuda":
            self.model.half()
        id2label = self.model.config.id2label or {}
        self.num_classes = int(self.model.config.num_labels)
        self.class_names = tuple(str(id2label.get(i, id2label.get(str(i), i))) for i in range(self.num_classes))
        size = tuple(self.config.size)
        if not size:
            size = (1024, 1024) if "cityscapes" in src.lower() else (512, 512)
            try:
                from transformers import AutoImageProcessor

                proc = AutoImageProcessor.from_pretrained(src, local_files_only=True)
                size = (int(proc.size["width"]), int(proc.size["height"]))
            except Exception:
                pass
        self.input_size = size
        self._mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        import torch
        from torch.nn import functional as F

        imgs = [_check_image(im, i) for i, im in enumerate(images)]
        out = []
        w, h = self.input_size
        step = max(1, self.config.batch)
        dtype = next(self.model.parameters()).dtype
        with torch.inference_mode():
            for s in range(0, len(imgs), step):
                chunk = imgs[s:s + step]
                # HF SegformerImageProcessor: bilinear resize of the image to (h, w), rescale 1/255, normalise
                x = torch.stack([torch.from_numpy(np.clip(im, 0, 1)).permute(2, 0, 1) for im in chunk]) \
                    if len({im.shape for im in chunk}) == 1 else None
                if x is not None:
                    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
                else:
                    x = torch.cat([F.interpolate(torch.from_numpy(np.clip(im, 0, 1)).permute(2, 0, 1)[None],
                                                 size=(h, w), mode="bilinear", align_corners=False) for im in chunk])
                x = ((x - self._mean) / self._std).to(self.device, dtype)
                logits = self.model(pixel_values=x).logits.float()
                for im, lg in zip(chunk, logits):
                    up = F.interpolate(lg[None], size=im.shape[:2], mode="bilinear", align_corners=False)
                    out.append({"mask": up[0].argmax(0).cpu().numpy().astype(np.int64)})
        return out


# -- ultralytics YOLO-seg ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class YOLOSegConfig(YOLOConfig):
    """YOLOConfig plus ``mask_conf``: instances below it are not painted (0.25, the usual display threshold)."""

    mask_conf: float = 0.25


class YOLOSegTask(_UltralyticsBase):
    """ultralytics YOLO-seg; instance masks rasterised to a semantic map (0 background, 1 + COCO-80 index)."""

    kind = "segmentation"
    ultra_task = "segment"
    Config = YOLOSegConfig
    default_metrics = ("miou",)
    summary = "ultralytics YOLO-seg instance masks rasterised to a semantic map (0 = background)"
    weights_tags = {
        "yolov8n_seg": _ultra_spec("yolov8n-seg.pt", "Jocher et al., Ultralytics YOLOv8 (2023)"),
        "yolo11n_seg": _ultra_spec("yolo11n-seg.pt", "Jocher & Qiu, Ultralytics YOLO11 (2024)"),
    }
    default_tag = "yolov8n_seg"

    def setup(self) -> None:
        super().setup()
        names = self.model.names or {}
        if self.num_classes == 80 and self.config.label_space != "index":
            base = COCO80_NAMES
        else:
            base = tuple(str(names[i]) for i in range(self.num_classes))
        self.class_names = ("background",) + tuple(base)

    def _predict_kwargs(self) -> dict:
        return {"retina_masks": True}

    def predict(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        out = []
        for im, res in zip(images, self._predict_raw(images)):
            h, w = np.asarray(im).shape[:2]
            sem = np.zeros((h, w), dtype=np.int64)
            if res.masks is not None and res.boxes is not None and len(res.boxes):
                masks = res.masks.data.cpu().numpy() > 0.5
                scores = res.boxes.conf.cpu().numpy()
                cls = res.boxes.cls.cpu().numpy().astype(np.int64)
                if masks.shape[1:] != (h, w):  # safety net; retina_masks gives input resolution
                    import cv2

                    masks = np.stack([cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
                                      for m in masks])
                for i in np.argsort(scores, kind="stable"):  # ascending: the most confident instance is painted last
                    if scores[i] >= self.config.mask_conf:
                        sem[masks[i]] = cls[i] + 1
            out.append({"mask": sem})
        return out
