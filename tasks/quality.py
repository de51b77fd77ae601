"""Full-reference quality metrics PSNR and SSIM, on RGB and on the luma channel, through scikit-image.

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

Inputs: H x W x 3 float RGB in [0, 1] (the harness scores the uint8-quantised cached output). Higher is better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledbench.bench.errors import InputError
from ledbench.tasks.metrics import PerImageMetric


def _pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred["image"] if isinstance(pred, dict) else pred, dtype=np.float64)
    target = np.asarray(target["image"] if isinstance(target, dict) else target, dtype=np.float64)
    if pred.shape != target.shape:
        raise InputError(f"prediction {pred.shape} and reference {target.shape} differ in shape")
    return pred, target


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
    outputs = {"psnr": True}
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

    outputs = {"psnr_y": True}

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
    outputs = {"ssim": True}
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

    outputs = {"ssim_y": True}

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

    outputs = {"psnr_gtmean": True}

    def score(self, pred, target):
        p, t = _pair(pred, target)
        return super().score(gt_mean_rescale(p, t), t)


class SSIMGTMean(SSIM):
    """SSIM (RGB, Gaussian window) after GT-mean brightness rescaling. Higher is better."""

    outputs = {"ssim_gtmean": True}

    def score(self, pred, target):
        p, t = _pair(pred, target)
        return super().score(gt_mean_rescale(p, t), t)
