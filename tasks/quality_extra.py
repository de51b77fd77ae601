"""Quality metrics beyond PSNR / SSIM: LPIPS, the LEDNet-protocol variants, and no-reference NIQE and CLIP-IQA.

Inputs everywhere: H x W x 3 float RGB in [0, 1] (or ``{"image": ...}``), as the quality task returns them.

Full-reference:

- ``lpips``: LPIPS v0.1 with the VGG-16 trunk (Zhang et al., CVPR 2018; the ``lpips`` package), inputs scaled to
  [-1, 1]. Lower is better. Trunk weights: torchvision ``vgg16-397923af.pth`` (ImageNet), resolved through the
  weights mechanism (never downloaded implicitly); linear-layer weights: ``lpips/weights/v0.1/vgg.pth`` from the
  ``lpips`` wheel (sha256-checked).
- ``lpips_lednet``: the same network fed **BGR** images, which is what LEDNet's ``scripts/calculate_iqa_pair.py``
  does (it reads with ``cv2.imread`` and passes the arrays to pyiqa unconverted; sczhou/LEDNet, REFERENCE.md §3.4).
  Use it only to compare with published LEDNet-protocol numbers.
- ``ssim_lednet``: pyiqa's default ``ssim`` as LEDNet's script calls it: luma ``Y = 0.299 R + 0.587 G + 0.114 B``
  (Y of YIQ) on a 0..255 scale **rounded to integers**, an 11 x 11 Gaussian window (sigma 1.5, MATLAB
  ``fspecial``), 'valid' filtering (no padding), no downsampling, K1 0.01, K2 0.03, the contrast-structure term
  clipped at 0 (pyiqa's ``F.relu(cs_map)``), mean of the map; with LEDNet's BGR quirk, i.e. Y computed with the R
  and B weights swapped. Higher is better. (pyiqa ``pyiqa/archs/ssim_arch.py``, ``utils/color_util.py``.)
- ``ssim_pyiqa``: the same on correctly ordered RGB (pyiqa's ``ssim`` default as a user would call it).

No-reference (``requires_reference = False``; the target is ignored):

- ``niqe``: NIQE (Mittal et al., IEEE SPL 2013) as pyiqa's default ``niqe`` computes it: Y of YIQ at 0..255,
  rounded; 96 x 96 blocks without overlap (the image is cropped to whole blocks); MSCN coefficients with a 7 x 7
  Gaussian (sigma 7/6, replicate border, C = 1); 18 AGGD features per block at full and half scale (MATLAB
  ``imresize`` bicubic with antialiasing); distance between the multivariate Gaussians of the image and of the
  pristine model. Lower is better. Pristine-model parameters: the official MATLAB release values as packaged by
  BasicSR (``basicsr/metrics/niqe_pris_params.npz``, Apache-2.0), shipped as ``tasks/weights/niqe_pris_params.npz``.
  Needs an image of at least 96 x 96 pixels (192 x 192 or more recommended).
- ``clip_iqa``: CLIP-IQA style (Wang et al., AAAI 2023): softmax, at the model's logit scale (100 for OpenAI CLIP),
  of the cosine similarities between the image embedding and the antonym prompts ``"Good photo."`` /
  ``"Bad photo."``; the score is the probability of the positive prompt, in [0, 1], higher is better. Backbone
  open_clip ``ViT-B-32`` with the OpenAI weights (QuickGELU), input resized (shortest side, bicubic, antialiased)
  and centre-cropped to 224 with the CLIP mean / std. Differs from pyiqa's ``clipiqa`` (ResNet-50 backbone, no
  positional embedding, full-resolution input), so the numbers are not interchangeable.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ledbench.bench.errors import InputError, WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, find_local, resolve_weights, sha256_file
from ledbench.tasks.metrics import PerImageMetric

__all__ = [
    "CLIPIQA",
    "CLIP_WEIGHTS",
    "LPIPS",
    "LPIPS_WEIGHTS",
    "NIQE",
    "NIQE_PARAMS",
    "LPIPSLEDNet",
    "SSIMLEDNet",
    "SSIMPyiqa",
    "matlab_imresize",
    "niqe_score",
    "ssim_pyiqa_style",
]


def _image(x: Any) -> np.ndarray:
    arr = np.asarray(x["image"] if isinstance(x, dict) else x, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"quality metrics expect H x W x 3 RGB images, got shape {arr.shape}")
    return arr


def _pair(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = _image(pred), _image(target)
    if p.shape != t.shape:
        raise InputError(f"prediction {p.shape} and reference {t.shape} differ in shape")
    return p, t


_YIQ_Y = np.array([0.299, 0.587, 0.114])


def yiq_luma_255(img: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Y of YIQ on a 0..255 scale, rounded half-to-even (``bgr``: the weights applied to B, G, R).

    Computed in float32 like pyiqa's ``rgb2yiq`` on float32 tensors, so values that land near .5 round the same
    way (float64 flips a few dozen pixels per image and moves SSIM by ~1e-5).
    """
    a = np.asarray(img, dtype=np.float32)
    if bgr:
        a = a[..., ::-1]  # the BGR array taken for RGB: same float32 summation order as pyiqa on that array
    w = _YIQ_Y.astype(np.float32)
    y = a[..., 0] * w[0] + a[..., 1] * w[1] + a[..., 2] * w[2]
    return np.round(y * np.float32(255.0)).astype(np.float64)


# -- SSIM, pyiqa / LEDNet protocol ------------------------------------------------------------------------------

def _fspecial_gauss_1d(size: int, sigma: float) -> np.ndarray:
    """1-D factor of MATLAB ``fspecial('gaussian', size, sigma)`` (the 2-D window is its outer product)."""
    r = (size - 1) / 2.0
    x = np.arange(-r, r + 1)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D array with the window ``outer(g, g)``."""
    from scipy.ndimage import correlate1d

    r = (len(g) - 1) // 2
    y = correlate1d(x, g, axis=0, mode="constant")[r:x.shape[0] - r]
    return correlate1d(y, g, axis=1, mode="constant")[:, r:x.shape[1] - r]


def ssim_pyiqa_style(x: np.ndarray, y: np.ndarray, data_range: float = 255.0, win: int = 11,
                     sigma: float = 1.5) -> float:
    """SSIM of two 2-D arrays with pyiqa's ``ssim()`` conventions ('valid' Gaussian filtering, relu on cs)."""
    if min(x.shape) < win:
        raise InputError(f"SSIM needs images of at least {win} x {win} pixels, got {x.shape}")
    g = _fspecial_gauss_1d(win, sigma)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu1, mu2 = _filter_valid(x, g), _filter_valid(y, g)
    s11 = _filter_valid(x * x, g) - mu1 * mu1
    s22 = _filter_valid(y * y, g) - mu2 * mu2
    s12 = _filter_valid(x * y, g) - mu1 * mu2
    cs = np.maximum((2 * s12 + c2) / (s11 + s22 + c2), 0.0)
    return float(np.mean((2 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1) * cs))


@dataclass(frozen=True)
class SSIMLEDNetConfig:
    bgr_quirk: bool = True


@dataclass(frozen=True)
class SSIMPyiqaConfig:
    bgr_quirk: bool = False


class SSIMLEDNet(PerImageMetric):
    """SSIM as LEDNet's official metric script computes it (pyiqa default, BGR quirk); see the module docstring."""

    Config = SSIMLEDNetConfig
    outputs = {"ssim_lednet": True}
    range = (0.0, 1.0)
    summary = "SSIM, LEDNet protocol: pyiqa default (Y of YIQ, 255, valid 11x11 Gaussian) on BGR-read images"

    def score(self, pred, target):
        p, t = _pair(pred, target)
        bgr = bool(self.config.bgr_quirk)
        return ssim_pyiqa_style(yiq_luma_255(p, bgr), yiq_luma_255(t, bgr))


class SSIMPyiqa(SSIMLEDNet):
    """pyiqa's default SSIM on correctly ordered RGB (Y of YIQ at 255, 'valid' 11 x 11 Gaussian). Higher is better."""

    Config = SSIMPyiqaConfig
    outputs = {"ssim_pyiqa": True}
    summary = "SSIM, pyiqa default: Y of YIQ at 255 (rounded), 11x11 Gaussian, valid filtering, no downsampling"


# -- LPIPS ----------------------------------------------------------------------------------------------------------

LPIPS_WEIGHTS: dict[str, WeightsSpec] = {
    "vgg_trunk": WeightsSpec(
        filename="vgg16-397923af.pth", url="https://download.pytorch.org/models/vgg16-397923af.pth",
        license="BSD-3-Clause (torchvision); trained on ImageNet", source="pytorch/vision torchvision.models.vgg16 "
        "IMAGENET1K_V1", paper="Simonyan & Zisserman, ICLR 2015", size_mb=528.0, subdir="lpips",
        notes="ImageNet VGG-16 trunk of LPIPS-VGG; the name's 397923af is the sha256 prefix (torch.hub convention)",
        extra={"sha256_prefix": "397923af"}),
    "alex_trunk": WeightsSpec(
        filename="alexnet-owt-7be5be79.pth", url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        license="BSD-3-Clause (torchvision); trained on ImageNet", source="pytorch/vision torchvision.models.alexnet "
        "IMAGENET1K_V1", paper="Krizhevsky et al., NeurIPS 2012", size_mb=233.0, subdir="lpips",
        extra={"sha256_prefix": "7be5be79"}),
    "vgg_lin": WeightsSpec(
        filename="vgg.pth", sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        license="BSD-2-Clause", source="richzhang/PerceptualSimilarity lpips/weights/v0.1/vgg.pth (in the lpips wheel)",
        paper="Zhang et al., The Unreasonable Effectiveness of Deep Features as a Perceptual Metric, CVPR 2018",
        subdir="lpips_v0.1"),
    "alex_lin": WeightsSpec(
        filename="alex.pth", sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        license="BSD-2-Clause",
        source="richzhang/PerceptualSimilarity lpips/weights/v0.1/alex.pth (in the lpips wheel)",
        paper="Zhang et al., CVPR 2018", subdir="lpips_v0.1"),
}


def _torch_hub_file(filename: str) -> Path | None:
    """A file already in torch.hub's checkpoint cache (where torchvision would have put it), or None."""
    try:
        import torch

        cand = Path(torch.hub.get_dir()) / "checkpoints" / filename
    except Exception:  # noqa: BLE001  # pragma: no cover
        return None
    return cand if cand.is_file() else None


def _resolve_trunk(spec: WeightsSpec, explicit: str | None, what: str, download: bool) -> Path:
    if explicit is None and find_local(spec) is None:
        explicit = _torch_hub_file(spec.filename)
        explicit = str(explicit) if explicit else None
    try:
        path = resolve_weights(spec, explicit, what=what, download=download)
    except WeightsUnavailable as exc:
        raise WeightsUnavailable(f"{exc} (a copy in torch.hub's cache, {Path('~/.cache/torch/hub/checkpoints')}, is "
                                 f"used too)") from None
    prefix = spec.extra.get("sha256_prefix")
    if prefix and path.name == spec.filename and not sha256_file(path).startswith(prefix):
        from ledbench.bench.errors import ChecksumError

        raise ChecksumError(f"{str(path)!r}: sha256 does not start with {prefix} as the published file does; it is "
                            f"corrupt or a different file: delete it and fetch {spec.url} again")
    return path


def _lin_path(net: str, explicit: str | None) -> Path:
    spec = LPIPS_WEIGHTS[f"{net}_lin"]
    if explicit is None and find_local(spec) is None:
        try:
            import lpips

            cand = Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / spec.filename
            explicit = str(cand) if cand.is_file() else None
        except ImportError:
            explicit = None
    return resolve_weights(spec, explicit, what=f"lpips {net} linear layers")


@dataclass(frozen=True)
class LPIPSConfig:
    """``backbone_weights`` / ``lin_weights``: explicit files (else resolved); ``download``: may fetch the trunk."""

    net: str = "vgg"
    backbone_weights: str | None = None
    lin_weights: str | None = None
    download: bool = False
    device: str = "cpu"
    bgr_quirk: bool = False


@dataclass(frozen=True)
class LPIPSLEDNetConfig(LPIPSConfig):
    bgr_quirk: bool = True


_MODEL_CACHE: dict[tuple, Any] = {}
_CACHE_LOCK = threading.Lock()


def build_lpips(net: str, backbone: Path, lin: Path):
    """``lpips.LPIPS`` v0.1 with its trunk loaded from a torchvision state dict file (no implicit download)."""
    import lpips

    from ledbench.bench.weights import load_checkpoint

    with warnings.catch_warnings():  # torchvision's deprecation notice for lpips' pretrained=False call
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, version="0.1", pretrained=True, model_path=str(lin), pnet_rand=True,
                            verbose=False)
    state = load_checkpoint(backbone)
    # torchvision keys "features.<i>.weight" -> lpips trunk keys "slice<k>.<i>.weight" (the same layer index i)
    mapped, missing = {}, []
    for key in model.net.state_dict():
        _, idx, leaf = key.split(".")
        src = f"features.{idx}.{leaf}"
        if src in state:
            mapped[key] = state[src]
        else:
            missing.append(src)
    if missing:
        raise WeightsUnavailable(f"{str(backbone)!r} is not a torchvision {net} state dict: missing {missing[:3]}")
    model.net.load_state_dict(mapped, strict=True)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


class LPIPS(PerImageMetric):
    """LPIPS v0.1 (VGG trunk), inputs scaled to [-1, 1]. Lower is better; see the module docstring."""

    Config = LPIPSConfig
    outputs = {"lpips": False}
    range = (0.0, math.inf)
    weights_tags = LPIPS_WEIGHTS  # listed / imported / fetched by `ledbench weights`
    summary = "LPIPS v0.1, VGG-16 trunk (lpips package), RGB in [-1, 1]"

    def _model(self):
        c = self.config
        if c.net not in ("vgg", "alex"):
            raise InputError(f"lpips net {c.net!r}: use 'vgg' or 'alex'")
        trunk = _resolve_trunk(LPIPS_WEIGHTS[f"{c.net}_trunk"], c.backbone_weights, f"lpips.{c.net}_trunk",
                               c.download)
        lin = _lin_path(c.net, c.lin_weights)
        key = (c.net, str(trunk), str(lin), c.device)
        with _CACHE_LOCK:
            if key not in _MODEL_CACHE:
                _MODEL_CACHE[key] = build_lpips(c.net, trunk, lin).to(c.device)
            return _MODEL_CACHE[key]

    def reset(self) -> None:
        super().reset()
        self._net = None

    def score(self, pred, target):
        import torch

        if self._net is None:
            self._net = self._model()
        p, t = _pair(pred, target)
        if self.config.bgr_quirk:
            p, t = p[..., ::-1], t[..., ::-1]
        dev = next(self._net.parameters()).device

        def tens(a):
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)[None], dtype=np.float32)).to(dev)

        with torch.inference_mode():
            return float(self._net(tens(p) * 2 - 1, tens(t) * 2 - 1).item())


class LPIPSLEDNet(LPIPS):
    """LPIPS-VGG on BGR-ordered inputs, as LEDNet's metric script computes it. Lower is better."""

    Config = LPIPSLEDNetConfig
    outputs = {"lpips_lednet": False}
    summary = "LPIPS-VGG v0.1 on BGR-read images (LEDNet scripts/calculate_iqa_pair.py quirk)"


# -- NIQE -----------------------------------------------------------------------------------------------------------

NIQE_PARAMS = WeightsSpec(
    filename="niqe_pris_params.npz", sha256="2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296",
    packaged="tasks/weights/niqe_pris_params.npz", license="Apache-2.0 (BasicSR packaging of the LIVE NIQE release "
    "parameters)", source="XPixelGroup/BasicSR basicsr/metrics/niqe_pris_params.npz (PyPI basicsr 1.4.2); values "
    "from http://live.ece.utexas.edu/research/quality/niqe_release.zip modelparameters.mat",
    paper="Mittal, Soundararajan & Bovik, Making a 'Completely Blind' Image Quality Analyzer, IEEE SPL 2013",
    size_mb=0.02)


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _resize_axis(x: np.ndarray, out_len: int, scale: float, axis: int, antialias: bool) -> np.ndarray:
    in_len = x.shape[axis]
    width = 4.0 / scale if (scale < 1 and antialias) else 4.0
    u = np.arange(1, out_len + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left[:, None] + np.arange(taps)[None]           # 1-based source indices
    dist = u[:, None] - idx
    w = scale * _cubic(dist * scale) if (scale < 1 and antialias) else _cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])  # MATLAB 'symmetric' border
    src = mirror[(idx.astype(np.int64) - 1) % (2 * in_len)]
    xm = np.moveaxis(x, axis, 0)
    out = np.einsum("ot,ot...->o...", w, xm[src])
    return np.moveaxis(out, 0, axis)


def matlab_imresize(x: np.ndarray, scale: float, antialias: bool = True) -> np.ndarray:
    """MATLAB ``imresize(x, scale)`` (bicubic, ``'Antialiasing'`` on when shrinking) of a 2-D array, float64."""
    x = np.asarray(x, dtype=np.float64)
    for axis in (0, 1):
        x = _resize_axis(x, math.ceil(x.shape[axis] * scale), scale, axis, antialias)
    return x


_GAM = np.arange(0.2, 10.001, 0.001)


def _aggd(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AGGD parameters (alpha, beta_l, beta_r) of each row of ``blocks`` (moment matching on a 0.001 grid)."""
    from scipy.special import gammaln

    r_gam = np.exp(2 * gammaln(2 / _GAM) - gammaln(1 / _GAM) - gammaln(3 / _GAM))
    neg, pos = blocks < 0, blocks > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.sqrt((blocks ** 2 * neg).sum(1) / neg.sum(1))
        right = np.sqrt((blocks ** 2 * pos).sum(1) / pos.sum(1))
        gh = left / right
        rhat = np.mean(np.abs(blocks), 1) ** 2 / np.mean(blocks ** 2, 1)
        rnorm = rhat * (gh ** 3 + 1) * (gh + 1) / (gh ** 2 + 1) ** 2
    alpha = _GAM[np.argmin((r_gam[None] - rnorm[:, None]) ** 2, axis=1)]
    k = np.sqrt(np.exp(gammaln(1 / alpha) - gammaln(3 / alpha)))
    return alpha, left * k, right * k


def _block_features(norm: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """18 NIQE features for each non-overlapping ``bh x bw`` block of an MSCN map (blocks x 18)."""
    from scipy.special import gammaln

    nh, nw = norm.shape[0] // bh, norm.shape[1] // bw
    blocks = norm[:nh * bh, :nw * bw].reshape(nh, bh, nw, bw).transpose(0, 2, 1, 3).reshape(nh * nw, bh, bw)
    flat = blocks.reshape(len(blocks), -1)
    a, bl, br = _aggd(flat)
    feats = [a, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        prod = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(len(blocks), -1)
        a, bl, br = _aggd(prod)
        mean = (br - bl) * np.exp(gammaln(2 / a) - gammaln(1 / a))
        feats += [a, mean, bl, br]
    return np.stack(feats, 1)


def niqe_score(y255: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray, block: int = 96) -> float:
    """NIQE of a 2-D luma image on a 0..255 scale (already rounded); see the module docstring."""
    from scipy.ndimage import correlate

    h, w = y255.shape
    nh, nw = h // block, w // block
    if nh * nw < 2:  # the distorted-feature covariance needs at least two blocks
        raise InputError(f"NIQE needs at least two {block} x {block} blocks (e.g. {block} x {2 * block} pixels), "
                         f"got {h} x {w}")
    img = np.asarray(y255, dtype=np.float64)[:nh * block, :nw * block]
    g = _fspecial_gauss_1d(7, 7.0 / 6.0)
    win = np.outer(g, g)
    feats = []
    for scale in (1, 2):
        mu = correlate(img, win, mode="nearest")
        sigma = np.sqrt(np.abs(correlate(img * img, win, mode="nearest") - mu * mu))
        feats.append(_block_features((img - mu) / (sigma + 1.0), block // scale, block // scale))
        if scale == 1:
            img = matlab_imresize(img / 255.0, 0.5) * 255.0
    dist = np.concatenate(feats, 1)
    mu_d = np.nanmean(dist, 0)
    rows = dist[~np.isnan(dist).any(1)]
    cov_d = np.cov(rows, rowvar=False)
    diff = mu_pris - mu_d
    q = diff @ np.linalg.pinv((cov_pris + cov_d) / 2) @ diff
    return float(np.sqrt(q))


@dataclass(frozen=True)
class NIQEConfig:
    """``color_space``: ``yiq`` (pyiqa default) or ``ycbcr`` (BasicSR: BT.601 studio-range Y); ``params``: a file."""

    color_space: str = "yiq"
    crop_border: int = 0
    params: str | None = None


class NIQE(PerImageMetric):
    """NIQE, pyiqa-default protocol (Y of YIQ, 96 x 96 blocks). Lower is better; no reference needed."""

    Config = NIQEConfig
    outputs = {"niqe": False}
    requires_reference = False
    range = (0.0, math.inf)
    weights_tags = {"pristine_params": NIQE_PARAMS}
    summary = "NIQE (no-reference; Y of YIQ at 255, 96x96 blocks, official pristine model). Lower is better"
    _params_cache: ClassVar[dict[str, tuple[np.ndarray, np.ndarray]]] = {}

    def _params(self) -> tuple[np.ndarray, np.ndarray]:
        path = resolve_weights(NIQE_PARAMS, self.config.params, what="niqe pristine-model parameters")
        key = str(path)
        if key not in self._params_cache:
            with np.load(path) as data:
                self._params_cache[key] = (np.ravel(data["mu_pris_param"]).astype(np.float64),
                                           np.asarray(data["cov_pris_param"], dtype=np.float64))
        return self._params_cache[key]

    def score(self, pred, target=None):
        img = _image(pred)
        if self.config.color_space == "yiq":
            y = yiq_luma_255(img)
        elif self.config.color_space == "ycbcr":
            y = np.round(16.0 + img @ np.array([65.481, 128.553, 24.966]))
        else:
            raise InputError(f"niqe color_space {self.config.color_space!r}: use 'yiq' or 'ycbcr'")
        b = self.config.crop_border
        if b:
            y = y[b:-b, b:-b]
        mu, cov = self._params()
        return niqe_score(y, mu, cov)


# -- CLIP-IQA ---------------------------------------------------------------------------------------------------

CLIP_WEIGHTS: dict[tuple[str, str], WeightsSpec] = {
    ("ViT-B-32", "openai"): WeightsSpec(
        filename="ViT-B-32.pt", sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        url="https://openaipublic.azureedge.net/clip/models/"
            "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
        license="MIT (openai/CLIP)", source="openai/CLIP clip/clip.py _MODELS['ViT-B/32'] (TorchScript archive)",
        paper="Radford et al., Learning Transferable Visual Models From Natural Language Supervision, ICML 2021",
        size_mb=338.0, subdir="clip", extra={"quick_gelu": True, "openai_jit": True}),
}


@dataclass(frozen=True)
class CLIPIQAConfig:
    """open_clip ``model`` / ``pretrained`` tag; ``weights``: an explicit checkpoint (OpenAI .pt or state dict)."""

    model: str = "ViT-B-32"
    pretrained: str = "openai"
    weights: str | None = None
    positive: str = "Good photo."
    negative: str = "Bad photo."
    download: bool = False
    device: str = "cpu"


class CLIPIQA(PerImageMetric):
    """CLIP-IQA style no-reference score: P("Good photo." | image) among the antonym pair. Higher is better."""

    Config = CLIPIQAConfig
    outputs = {"clip_iqa": True}
    requires_reference = False
    range = (0.0, 1.0)
    weights_tags = {"vit_b_32_openai": CLIP_WEIGHTS[("ViT-B-32", "openai")]}
    summary = "CLIP-IQA style (open_clip ViT-B-32 OpenAI): softmax over 'Good photo.' / 'Bad photo.'"

    def reset(self) -> None:
        super().reset()
        self._state = None

    def _load(self):
        import open_clip
        import torch

        c = self.config
        spec = CLIP_WEIGHTS.get((c.model, c.pretrained))
        what = "clip_iqa.vit_b_32_openai" if (c.model, c.pretrained) == ("ViT-B-32", "openai") else \
            f"{self.name} ({c.model}, {c.pretrained})"
        if spec is None and c.weights is None:
            raise WeightsUnavailable(f"{what}: no weights registered for open_clip {c.model!r} / {c.pretrained!r}; "
                                     f"pass weights=PATH (an open_clip state dict or OpenAI .pt) or use "
                                     f"model='ViT-B-32', pretrained='openai'")
        explicit = c.weights
        if explicit is None and spec is not None and find_local(spec) is None:
            cached = Path(os.path.expanduser("~/.cache/clip")) / spec.filename  # where openai/clip downloads
            explicit = str(cached) if cached.is_file() else None
        try:
            path = resolve_weights(spec or WeightsSpec(filename=Path(str(explicit)).name), explicit, what=what,
                                   download=c.download)
        except WeightsUnavailable as exc:
            raise WeightsUnavailable(f"{exc} (~/.cache/clip/{spec.filename if spec else ''} is used too)") from None
        key = ("clip", c.model, str(path), c.device)
        with _CACHE_LOCK:
            if key not in _MODEL_CACHE:
                extra = spec.extra if spec else {}
                if extra.get("openai_jit") or _is_torchscript(path):
                    model = open_clip.load_openai_model(str(path), device="cpu")
                else:
                    model = open_clip.create_model(c.model, pretrained=str(path),
                                                   force_quick_gelu=bool(extra.get("quick_gelu", False)))
                model = model.to(c.device).eval()
                tok = open_clip.get_tokenizer(c.model)
                with torch.inference_mode():
                    text = model.encode_text(tok([c.positive, c.negative]).to(c.device)).float()
                    text = text / text.norm(dim=-1, keepdim=True)
                _MODEL_CACHE[key] = (model, text)
            model, text = _MODEL_CACHE[key]
        pre = getattr(model.visual, "preprocess_cfg", None) or {}
        size = model.visual.image_size
        size = size[0] if isinstance(size, (tuple, list)) else int(size)
        mean = pre.get("mean", open_clip.OPENAI_DATASET_MEAN)
        std = pre.get("std", open_clip.OPENAI_DATASET_STD)
        scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0
        return model, text, size, mean, std, scale

    def preprocess(self, img: np.ndarray, size: int, mean, std):
        """Resize the shortest side to ``size`` (bicubic, antialiased), centre-crop, normalise: 1 x 3 x S x S."""
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))[None]
        h, w = x.shape[-2:]
        s = size / min(h, w)
        nh, nw = max(size, round(h * s)), max(size, round(w * s))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
        top, left = (nh - size) // 2, (nw - size) // 2
        x = x[..., top:top + size, left:left + size]
        m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        sd = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        return (x - m) / sd

    def score(self, pred, target=None):
        import torch

        if self._state is None:
            self._state = self._load()
        model, text, size, mean, std, scale = self._state
        x = self.preprocess(_image(pred), size, mean, std).to(text.device)
        with torch.inference_mode():
            f = model.encode_image(x).float()
            f = f / f.norm(dim=-1, keepdim=True)
            prob = torch.softmax(scale * f @ text.T, dim=-1)[0, 0]
        return float(prob.item())


def _is_torchscript(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("constants.pkl") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
