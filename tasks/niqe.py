"""NIQE, the no-reference naturalness metric ``niqe`` (pyiqa-default protocol), and MATLAB-style ``imresize``.

Inputs: H x W x 3 float RGB in [0, 1] (or ``{"image": ...}``); no reference (``requires_reference = False``).

- ``niqe``: NIQE (Mittal et al., IEEE SPL 2013) as pyiqa's default ``niqe`` computes it: Y of YIQ at 0..255,
  rounded; 96 x 96 blocks without overlap (the image is cropped to whole blocks); MSCN coefficients with a 7 x 7
  Gaussian (sigma 7/6, replicate border, C = 1); 18 AGGD features per block at full and half scale (MATLAB
  ``imresize`` bicubic with antialiasing); distance between the multivariate Gaussians of the image and of the
  pristine model. Lower is better. Pristine-model parameters: the official MATLAB release values as packaged by
  BasicSR (``basicsr/metrics/niqe_pris_params.npz``, Apache-2.0), shipped as ``tasks/weights/niqe_pris_params.npz``.
  Needs an image of at least 96 x 96 pixels (192 x 192 or more recommended).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ledbench.bench.errors import InputError
from ledbench.bench.weights import WeightsSpec, resolve_weights
from ledbench.tasks.metrics import PerImageMetric
from ledbench.tasks.quality import fspecial_gauss_1d, rgb_image, yiq_luma_255

__all__ = ["NIQE", "NIQE_PARAMS", "matlab_imresize", "niqe_score"]

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
    g = fspecial_gauss_1d(7, 7.0 / 6.0)
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
    directions = {"niqe": False}
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
        img = rgb_image(pred)
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
