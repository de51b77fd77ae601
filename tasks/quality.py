"""Full-reference quality metrics PSNR and SSIM: on RGB, on luma, after GT-mean rescaling, and pyiqa's SSIM.

Protocols (stated per metric name, never per run):

- ``psnr``: RGB, all three channels, data range 1, no border crop (LEDNet / BasicSR ``test_y_channel: false``).
- ``ssim``: RGB, mean over channels, Gaussian window sigma 1.5 (11 x 11 support), population covariance, K1 0.01,
  K2 0.03, data range 1, no downsampling, no crop (Wang et al. 2004 settings, as BasicSR).
- ``psnr_y`` / ``ssim_y``: on ITU-R BT.601 luma in the studio range, ``Y = 16 + 65.481 R + 128.553 G + 24.966 B``
  on a 0..255 scale, data range 255 (BasicSR ``test_y_channel: true``; equals ``skimage.color.rgb2ycbcr`` Y).
- ``psnr_gtmean`` / ``ssim_gtmean``: the output is first rescaled so its mean grey level equals the reference's,
  ``clip(pred * mean_gray(ref) / mean_gray(pred), 0, 1)``, then ``psnr`` / ``ssim`` as above. This is the "GT-mean"
  setting of KinD / LLFlow / Retinexformer (``--GT_mean`` in caiyuanhao1998/Retinexformer
  ``Enhancement/test_from_dataset.py``), whose grey level is ``cv2.COLOR_BGR2GRAY`` applied to RGB arrays, i.e.
  ``0.114 R + 0.587 G + 0.299 B``; reproduced here. It hides global brightness errors, so it is its own metric name
  and never the default (Retinexformer's author calls it "not formal"; USER-NEEDS pain 3).
- ``ssim_lednet``: pyiqa's default ``ssim`` as LEDNet's script calls it: luma ``Y = 0.299 R + 0.587 G + 0.114 B``
  (Y of YIQ) on a 0..255 scale **rounded to integers**, an 11 x 11 Gaussian window (sigma 1.5, MATLAB
  ``fspecial``), 'valid' filtering (no padding), no downsampling, K1 0.01, K2 0.03, the contrast-structure term
  clipped at 0 (pyiqa's ``F.relu(cs_map)``), mean of the map; with LEDNet's BGR quirk, i.e. Y computed with the R
  and B weights swapped. Higher is better. (pyiqa ``pyiqa/archs/ssim_arch.py``, ``utils/color_util.py``.)
- ``ssim_pyiqa``: the same on correctly ordered RGB (pyiqa's ``ssim`` default as a user would call it).

PSNR / SSIM / GT-mean go through scikit-image; the pyiqa-protocol SSIM is computed here (scipy filters).

Inputs: H x W x 3 float RGB in [0, 1] (the harness scores the uint8-quantised cached output). Higher is better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledbench.bench.errors import InputError
from ledbench.tasks.metrics import PerImageMetric


def unit_float(x, role: str = "image") -> np.ndarray:
    """An image (or ``{"image": ...}``) as float64, refusing the usual scale mistake: integer pixels (uint8 0..255)
    or floats far above 1 would give plausible-looking but wrong scores (PSNR of uint8 input: about -22 dB)."""
    arr = np.asarray(x["image"] if isinstance(x, dict) else x)
    if arr.dtype.kind in "iub":
        raise InputError(f"the {role} has dtype {arr.dtype}; quality metrics take float RGB in [0, 1]: pass "
                         "img / 255.0 (or ledbench.bench.imageio.from_uint8(img))")
    arr = arr.astype(np.float64, copy=False)
    if arr.size and np.nanmax(arr) > 1.5:
        raise InputError(f"the {role} has values up to {np.nanmax(arr):.4g}; quality metrics take float RGB in "
                         "[0, 1]: divide 0..255 images by 255")
    return arr


def _pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    pred, target = unit_float(pred, "prediction"), unit_float(target, "reference")
    if pred.shape != target.shape:
        raise InputError(f"prediction {pred.shape} and reference {target.shape} differ in shape")
    return pred, target


def rgb_image(x) -> np.ndarray:
    """An H x W x 3 image (or ``{"image": ...}``) as float64; anything else is an :class:`InputError`."""
    arr = unit_float(x)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"quality metrics expect H x W x 3 RGB images, got shape {arr.shape}")
    return arr


def rgb_pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rgb_image` of both, which must have the same shape."""
    p, t = rgb_image(pred), rgb_image(target)
    if p.shape != t.shape:
        raise InputError(f"prediction {p.shape} and reference {t.shape} differ in shape")
    return p, t



def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 studio-range luma on a 0..255 scale from RGB in [0, 1]."""
    return 16.0 + img[..., 0] * 65.481 + img[..., 1] * 128.553 + img[..., 2] * 24.966


@dataclass(frozen=True)
class PSNRConfig:
    crop_border: int = 0


@dataclass(frozen=True)
class SSIMConfig:
    crop_border: int = 0
    gaussian_sigma: float = 1.5


def _crop(img: np.ndarray, border: int) -> np.ndarray:
    return img[border:-border, border:-border] if border > 0 else img


class PSNR(PerImageMetric):
    """Peak signal-to-noise ratio in dB on RGB [0, 1] (``skimage.metrics.peak_signal_noise_ratio``). Higher better."""

    Config = PSNRConfig
    directions = {"psnr": True}
    range = (0.0, float("inf"))

    def score(self, pred, target):
        from skimage.metrics import peak_signal_noise_ratio

        p, t = _pair(pred, target)
        p, t = _crop(p, self.config.crop_border), _crop(t, self.config.crop_border)
        if np.array_equal(p, t):
            return float("inf")
        return peak_signal_noise_ratio(t, p, data_range=1.0)


class PSNRY(PSNR):
    """PSNR on BT.601 luma (0..255 scale, data range 255). Higher is better."""

    directions = {"psnr_y": True}

    def score(self, pred, target):
        from skimage.metrics import peak_signal_noise_ratio

        p, t = (rgb_to_y(a) for a in _pair(pred, target))
        p, t = _crop(p, self.config.crop_border), _crop(t, self.config.crop_border)
        if np.array_equal(p, t):
            return float("inf")
        return peak_signal_noise_ratio(t, p, data_range=255.0)


class SSIM(PerImageMetric):
    """Structural similarity on RGB [0, 1], Gaussian window (``skimage.metrics.structural_similarity``)."""

    Config = SSIMConfig
    directions = {"ssim": True}
    range = (-1.0, 1.0)

    def _ssim(self, p, t, data_range, channel_axis):
        from skimage.metrics import structural_similarity

        return structural_similarity(t, p, data_range=data_range, channel_axis=channel_axis, gaussian_weights=True,
                                     sigma=self.config.gaussian_sigma, use_sample_covariance=False)

    def score(self, pred, target):
        p, t = _pair(pred, target)
        p, t = _crop(p, self.config.crop_border), _crop(t, self.config.crop_border)
        return self._ssim(p, t, 1.0, 2)


class SSIMY(SSIM):
    """SSIM on BT.601 luma (0..255 scale, data range 255). Higher is better."""

    directions = {"ssim_y": True}

    def score(self, pred, target):
        p, t = (rgb_to_y(a) for a in _pair(pred, target))
        p, t = _crop(p, self.config.crop_border), _crop(t, self.config.crop_border)
        return self._ssim(p, t, 255.0, None)


def gt_mean_rescale(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Scale ``pred`` so its mean grey level matches ``target``'s (Retinexformer ``--GT_mean``, BGR2GRAY weights on
    RGB data as in its script), clipped to [0, 1]."""
    weights = np.array([0.114, 0.587, 0.299])  # cv2.COLOR_BGR2GRAY applied to an RGB array
    mean_pred = float((pred @ weights).mean())
    mean_target = float((target @ weights).mean())
    return np.clip(pred * (mean_target / max(mean_pred, 1e-12)), 0.0, 1.0)


class PSNRGTMean(PSNR):
    """PSNR after GT-mean brightness rescaling (see the module docstring). Higher is better."""

    directions = {"psnr_gtmean": True}

    def score(self, pred, target):
        p, t = _pair(pred, target)
        return super().score(gt_mean_rescale(p, t), t)


class SSIMGTMean(SSIM):
    """SSIM (RGB, Gaussian window) after GT-mean brightness rescaling. Higher is better."""

    directions = {"ssim_gtmean": True}

    def score(self, pred, target):
        p, t = _pair(pred, target)
        return super().score(gt_mean_rescale(p, t), t)


# -- SSIM, pyiqa / LEDNet protocol ----------------------------------------------------------------------------

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


def fspecial_gauss_1d(size: int, sigma: float) -> np.ndarray:
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
    g = fspecial_gauss_1d(win, sigma)
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
    directions = {"ssim_lednet": True}
    range = (0.0, 1.0)
    summary = "SSIM, LEDNet protocol: pyiqa default (Y of YIQ, 255, valid 11x11 Gaussian) on BGR-read images"

    def score(self, pred, target):
        p, t = rgb_pair(pred, target)
        bgr = bool(self.config.bgr_quirk)
        return ssim_pyiqa_style(yiq_luma_255(p, bgr), yiq_luma_255(t, bgr))


class SSIMPyiqa(SSIMLEDNet):
    """pyiqa's default SSIM on correctly ordered RGB (Y of YIQ at 255, 'valid' 11 x 11 Gaussian). Higher is better."""

    Config = SSIMPyiqaConfig
    directions = {"ssim_pyiqa": True}
    summary = "SSIM, pyiqa default: Y of YIQ at 255 (rounded), 11x11 Gaussian, valid filtering, no downsampling"
