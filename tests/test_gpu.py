"""CUDA paths of TorchEnhancer: float32 on CUDA equals CPU, AMP (float16 / bfloat16) stays close to float32,
channels_last changes nothing. Skipped without CUDA (run ``benchmarks/gpu_check.py`` for the full acceptance check)."""

from __future__ import annotations

import math

import pytest
import torch

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (gpu marker)")]


def _psnr(a, b) -> float:
    mse = float((a.float().cpu() - b.float().cpu()).pow(2).mean())
    return 10 * math.log10(1 / max(mse, 1e-20))


@pytest.fixture(autouse=True)
def _no_tf32():
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@pytest.mark.parametrize("name", ["iat.lol_v1", "sci.medium", "dap_led_small.noclip_synth"])
def test_amp_and_channels_last_match_float32(name):
    from ledbench.enhancers import create_enhancer

    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(0)) * 0.3
    cpu = create_enhancer(name).enhance(x)
    fp32 = create_enhancer(name, device="cuda").enhance(x.cuda())
    assert float((fp32.cpu() - cpu).abs().max()) <= 1e-4  # the tolerance of the official-output fixtures
    cl = create_enhancer(name, device="cuda").use_channels_last().enhance(x.cuda())
    assert float((cl - fp32).abs().max()) <= 1e-4
    # the limits of benchmarks/gpu_check.py; an H100 gave 68-78 dB (fp16) and 46-58 dB (bf16) for these models
    assert _psnr(create_enhancer(name, device="cuda", amp=True).enhance(x.cuda()), fp32) >= 35
    assert _psnr(create_enhancer(name, device="cuda", amp="bf16").enhance(x.cuda()), fp32) >= 28


def test_amp_identity_names_the_dtype():
    from ledbench.enhancers import create_enhancer

    assert create_enhancer("sci.medium", device="cuda", amp=True).identity()["amp"] is True
    assert create_enhancer("sci.medium", device="cuda", amp="bf16").identity()["amp"] == "bfloat16"
    assert create_enhancer("sci.medium", device="cpu", amp="bf16").identity()["amp"] is False
