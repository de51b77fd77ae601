"""The DAP-LED trainer's validation PSNR / SSIM (``dap_led_train.validate``, which picks ``best.pt``) against
scikit-image, called here with the benchmark's documented conventions (RGB, data range 1; SSIM Gaussian sigma 1.5,
population covariance, mean over channels). The benchmark metrics themselves are checked against formulas written
in tests/test_core.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ledbench.enhancers import dap_led_train


def _pairs():
    """Inputs on the uint8 grid (so the trainer's optional quantisation of the output changes nothing) and noisy
    targets; odd sizes exercise the pad-to-8 / crop-back path."""
    rng = np.random.default_rng(5)
    pairs = []
    for h, w in ((37, 45), (40, 40)):
        x = (rng.integers(0, 256, (h, w, 3)) / 255.0).astype(np.float32)
        y = np.clip(x + 0.05 * rng.standard_normal(x.shape), 0, 1).astype(np.float32)
        pairs.append((x, y))
    return pairs


def _sk(x, y):
    return (peak_signal_noise_ratio(y, x, data_range=1.0),
            structural_similarity(y, x, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False))


@pytest.mark.parametrize("val_size", [0, 24])
def test_validate_equals_scikit_image(val_size):
    pairs = _pairs()
    got = dap_led_train.validate(torch.nn.Identity(), pairs, "cpu", val_size)
    expected = []
    for x, y in pairs:
        if val_size:  # centre crop, as documented
            top, left = (x.shape[0] - val_size) // 2, (x.shape[1] - val_size) // 2
            x, y = x[top:top + val_size, left:left + val_size], y[top:top + val_size, left:left + val_size]
        expected.append(_sk(x, y))
    psnr, ssim = np.mean(expected, axis=0)
    assert got["n"] == 2
    assert got["psnr"] == pytest.approx(psnr, abs=1e-6)
    assert got["ssim"] == pytest.approx(ssim, abs=1e-6)
    assert 20 < psnr < 40 and 0.5 < ssim < 0.99  # a real comparison, not a trivial 1.0

