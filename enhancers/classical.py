"""Classical enhancers that need no learned weights (scikit-image where it has the operation).

All take and return H x W x 3 float RGB in [0, 1] per image (see :class:`NumpyEnhancer`). Defaults are our
choices for dark, motion-blurred night images; every parameter is a config field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledbench.enhancers.base import Enhancer, NumpyEnhancer


class Identity(Enhancer):
    """Returns the input unchanged: the 'raw degraded input' row (the floor of every table)."""

    summary = "no enhancement (the degraded input as is)"
    accepts_weights = False

    def _enhance(self, x):
        return x.clone()


def luminance(img: np.ndarray) -> np.ndarray:
    """Rec. 601 luma (0.299 R + 0.587 G + 0.114 B) of RGB in [0, 1]."""
    return img @ np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class GammaConfig:
    gamma: float = 0.5  # out = in ** gamma; < 1 brightens


class Gamma(NumpyEnhancer):
    """Global power-law brightening ``out = in ** gamma`` (``skimage.exposure.adjust_gamma``)."""

    Config = GammaConfig
    summary = "fixed gamma curve"

    def enhance_array(self, img):
        from skimage.exposure import adjust_gamma

        return adjust_gamma(img, self.config.gamma)


@dataclass(frozen=True)
class AutoGammaConfig:
    target_mean: float = 0.45  # luma mean the curve maps the image's mean luma to
    min_gamma: float = 0.1
    max_gamma: float = 1.0


class AutoGamma(NumpyEnhancer):
    """Per-image gamma chosen so the mean luma becomes ``target_mean``: ``gamma = log(target) / log(mean)``."""

    Config = AutoGammaConfig
    summary = "gamma chosen per image from its mean brightness"

    def enhance_array(self, img):
        mean = float(np.clip(luminance(img).mean(), 1e-4, 0.9999))
        gamma = float(np.clip(np.log(self.config.target_mean) / np.log(mean), self.config.min_gamma,
                              self.config.max_gamma))
        return np.power(img, gamma)


@dataclass(frozen=True)
class CLAHEConfig:
    clip_limit: float = 0.01
    kernel_size: int = 0  # 0: scikit-image default (1/8 of each dimension)
    nbins: int = 256


class CLAHE(NumpyEnhancer):
    """Contrast-limited adaptive histogram equalisation of the HSV value channel
    (``skimage.exposure.equalize_adapthist``), hue and saturation kept."""

    Config = CLAHEConfig
    summary = "CLAHE on the value channel"

    def enhance_array(self, img):
        from skimage.color import hsv2rgb, rgb2hsv
        from skimage.exposure import equalize_adapthist

        hsv = rgb2hsv(img)
        k = self.config.kernel_size or None
        hsv[..., 2] = equalize_adapthist(hsv[..., 2], kernel_size=k, clip_limit=self.config.clip_limit,
                                         nbins=self.config.nbins)
        return hsv2rgb(hsv)


@dataclass(frozen=True)
class MSRConfig:
    sigmas: tuple[float, ...] = (15.0, 80.0, 250.0)
    low_clip: float = 0.01   # percentile (fraction) clipped at the dark end before stretching
    high_clip: float = 0.99
    eps: float = 1.0 / 255.0


class MultiScaleRetinex(NumpyEnhancer):
    """Multi-scale Retinex (Jobson et al. 1997): mean over scales of ``log I - log(G_sigma * I)`` per channel,
    then a percentile stretch to [0, 1] (simplest colour balance). Sigmas in pixels, capped at a third of the
    shorter image side so small images still see several scales."""

    Config = MSRConfig
    summary = "multi-scale Retinex with percentile stretch"

    def enhance_array(self, img):
        from skimage.filters import gaussian

        eps = self.config.eps
        log_i = np.log(img + eps)
        cap = min(img.shape[:2]) / 3.0
        r = np.zeros_like(img)
        for sigma in self.config.sigmas:
            blurred = gaussian(img, sigma=min(sigma, cap), channel_axis=2, preserve_range=True)
            r += log_i - np.log(blurred + eps)
        r /= len(self.config.sigmas)
        lo, hi = np.quantile(r, [self.config.low_clip, self.config.high_clip])
        return (r - lo) / max(hi - lo, 1e-8)


@dataclass(frozen=True)
class UnsharpConfig:
    radius: float = 2.0
    amount: float = 1.0


class Unsharp(NumpyEnhancer):
    """Unsharp masking (``skimage.filters.unsharp_mask``) on all channels."""

    Config = UnsharpConfig
    summary = "unsharp mask"

    def enhance_array(self, img):
        from skimage.filters import unsharp_mask

        return unsharp_mask(img, radius=self.config.radius, amount=self.config.amount, channel_axis=2)


def motion_psf(length: int, angle_deg: float, size: int | None = None) -> np.ndarray:
    """A normalised linear-motion PSF of ``length`` pixels at ``angle_deg`` (0 = horizontal), odd square support."""
    length = max(1, int(length))
    size = size or (length if length % 2 else length + 1)
    psf = np.zeros((size, size))
    c = size // 2
    t = np.linspace(-(length - 1) / 2, (length - 1) / 2, max(2 * length, 2))
    a = np.deg2rad(angle_deg)
    xs = np.clip(np.rint(c + t * np.cos(a)).astype(int), 0, size - 1)
    ys = np.clip(np.rint(c - t * np.sin(a)).astype(int), 0, size - 1)
    psf[ys, xs] = 1.0
    return psf / psf.sum()


@dataclass(frozen=True)
class DeconvConfig:
    psf_length: int = 9        # assumed linear motion blur length (pixels); non-blind deconvolution
    psf_angle: float = 0.0     # degrees
    balance: float = 0.05      # Wiener regularisation (ignored by Richardson-Lucy)
    num_iter: int = 10         # Richardson-Lucy iterations (ignored by Wiener)


class Wiener(NumpyEnhancer):
    """Non-blind Wiener deconvolution with an assumed linear motion PSF (``skimage.restoration.wiener``)."""

    Config = DeconvConfig
    summary = "Wiener deconvolution, assumed motion PSF"

    def enhance_array(self, img):
        from skimage.restoration import wiener

        psf = motion_psf(self.config.psf_length, self.config.psf_angle)
        return np.stack([wiener(img[..., c], psf, self.config.balance, clip=False) for c in range(3)], axis=-1)


class RichardsonLucy(NumpyEnhancer):
    """Richardson-Lucy deconvolution with an assumed linear motion PSF (``skimage.restoration.richardson_lucy``)."""

    Config = DeconvConfig
    summary = "Richardson-Lucy deconvolution, assumed motion PSF"

    def enhance_array(self, img):
        from skimage.restoration import richardson_lucy

        psf = motion_psf(self.config.psf_length, self.config.psf_angle)
        return np.stack([richardson_lucy(img[..., c], psf, num_iter=self.config.num_iter, clip=True)
                         for c in range(3)], axis=-1)
