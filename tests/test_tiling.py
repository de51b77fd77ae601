"""Streaming tiles (exactness, coverage, bounded memory, tile=auto) and flushing subnormals on CPU."""

from __future__ import annotations

import pytest
import torch

from ledbench.enhancers.base import (
    TensorMemoryTracker,
    TorchEnhancer,
    _flush_denormal_is_on,
    _window_cores,
    _window_starts,
    auto_tile,
    flush_denormal,
    parse_amp,
    parse_tile,
    tiled_apply,
)


class _Local(torch.nn.Module):
    """Two 3x3 convolutions: each output pixel sees the input up to 2 pixels away (zero padding at the border)."""

    def __init__(self, width: int = 8):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Conv2d(3, width, 3, padding=1)
        self.b = torch.nn.Conv2d(width, 3, 3, padding=1)

    def forward(self, x):
        return torch.sigmoid(self.b(torch.relu(self.a(x))))


class _Pointwise(torch.nn.Module):
    def forward(self, x):
        return x * 0.5 + 0.25


def _enhancer(module, **kw):
    class E(TorchEnhancer):
        requires_weights = False

        def build_model(self):
            return module

    return E(pretrained=False, name="test", **kw)


@pytest.mark.parametrize("size,tile,overlap", [(40, 16, 4), (37, 16, 5), (64, 64, 8), (10, 16, 4), (100, 33, 0)])
def test_window_cores_partition_the_axis(size, tile, overlap):
    starts = _window_starts(size, tile, max(1, tile - overlap))
    cores = _window_cores(starts, tile, size)
    assert cores[0][0] == 0 and cores[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(cores, cores[1:]))  # no gap, no double write
    for s, (lo, hi) in zip(starts, cores):  # kept pixels lie >= overlap // 2 inside interior window edges
        assert lo < hi
        if lo > 0:
            assert lo - s >= overlap // 2
        if hi < size:
            assert min(s + tile, size) - hi >= overlap // 2


@pytest.mark.parametrize("shape", [(1, 3, 100, 77), (2, 3, 64, 130), (1, 3, 20, 20)])
def test_tiled_equals_whole_image_when_overlap_covers_receptive_field(shape):
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    whole = _enhancer(_Local()).enhance(x)
    tiled = _enhancer(_Local(), tile=32, tile_overlap=4).enhance(x)  # receptive radius 2 <= overlap // 2
    # exact up to float rounding: oneDNN may sum a convolution in another order for another input width
    torch.testing.assert_close(tiled, whole, atol=2e-7, rtol=0)
    assert torch.equal(_enhancer(_Pointwise(), tile=16, tile_overlap=0).enhance(x), x * 0.5 + 0.25)


def test_tiled_differs_when_overlap_is_too_small():
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    whole = _enhancer(_Local()).enhance(x)
    small = _enhancer(_Local(), tile=24, tile_overlap=2).enhance(x)  # radius 2 > overlap // 2 = 1
    assert float((small - whole).abs().max()) > 1e-3
    with torch.no_grad():
        mean = tiled_apply(_Local(), x, 24, 8, blend="mean")  # averaging keeps window-edge pixels
    assert float((mean - whole).abs().max()) > 1e-3


def test_tiling_memory_is_bounded_by_the_tile():
    x = torch.rand(1, 3, 1200, 1600)
    image_bytes = x.numel() * 4
    model = _Local(width=16)
    with torch.no_grad():
        with TensorMemoryTracker() as whole:
            model(x)
        with TensorMemoryTracker() as tiled:
            tiled_apply(model, x, 256, 16)
    # whole image: 16-channel activations (>= 5x the image); tiled: the output buffer plus one window's work
    assert whole.peak > 5 * image_bytes
    assert tiled.peak < image_bytes + 256 * 256 * 16 * 4 * 4
    assert tiled.current == 0  # nothing kept once the result is dropped
    with TensorMemoryTracker() as probe:  # the tracker counts what it should
        a = torch.empty(1000, 1000)
        del a
        b = torch.empty(500, 1000)
    assert probe.peak == 4_000_000 and probe.current == 2_000_000
    del b


def test_tile_auto_picks_a_fitting_tile(monkeypatch):
    assert auto_tile(1, 100, 100, 1000.0, 10**9) == 0  # fits: whole image
    t = auto_tile(1, 3000, 4000, 1000.0, 2**30, overlap=32, multiple=8)
    assert t % 16 == 0 and 1000 * 1.5 * t * t <= 2**30 < 1000 * 1.5 * (t + 16) ** 2
    assert auto_tile(4, 3000, 4000, 1e6, 2**20, overlap=32) == 80  # never below 2 * overlap + one step
    monkeypatch.setenv("LEDBENCH_TILE_BUDGET_MB", "0.5")
    enh = _enhancer(_Local(), tile="auto", tile_overlap=4)
    x = torch.rand(1, 3, 120, 90, generator=torch.Generator().manual_seed(2))
    y = enh.enhance(x)
    assert enh._bytes_per_pixel == 2 * 8 * 4  # conv output and its ReLU: two 8-channel float maps alive at once
    assert enh._tile_used == 64  # sqrt(0.5 MiB / (64 B * 1.5)) = 73.9 -> a multiple of 16
    torch.testing.assert_close(y, _enhancer(_Local()).enhance(x), atol=2e-7, rtol=0)
    assert enh.identity()["tile"] == "auto"


def test_options_parse_and_default_identity_is_unchanged():
    assert parse_tile("auto") == "auto" and parse_tile("0") == 0 and parse_tile(256) == 256
    with pytest.raises(ValueError, match="tile='big'"):
        parse_tile("big")
    assert parse_amp(False) is False and parse_amp(True) is True and parse_amp("bf16") == "bfloat16"
    with pytest.raises(ValueError, match="amp='int8'"):
        parse_amp("int8")
    ident = _enhancer(_Pointwise()).identity()
    assert ident["tile"] == 0 and ident["tile_overlap"] == 0 and ident["amp"] is False
    assert "tile_blend" not in ident and "channels_last" not in ident
    assert _enhancer(_Pointwise(), tile=64).identity()["tile_blend"] == "crop"


def test_flush_denormal_is_scoped():
    assert not _flush_denormal_is_on()
    with flush_denormal():
        assert _flush_denormal_is_on()
        assert float(torch.tensor([1e-40]) * 1.0) == 0.0
    assert not _flush_denormal_is_on()
    torch.set_flush_denormal(True)
    try:
        with flush_denormal():
            pass
        assert _flush_denormal_is_on()  # a mode the caller set stays set
    finally:
        torch.set_flush_denormal(False)


def _subnormal_count(module) -> int:
    tiny = torch.finfo(torch.float32).tiny
    return sum(int(((p.abs() > 0) & (p.abs() < tiny)).sum()) for p in module.parameters())


@pytest.mark.parametrize("name,asset", [("iat.lol_v1", None), ("sci.medium", None),
                                        ("dap_led_small.noclip_synth", None),
                                        ("zero_dce", ("weights", "zero_dce", "Epoch99.pth")),
                                        ("zero_dce_pp", ("weights", "zero_dce_pp", "Epoch99.pth"))])
def test_flushing_subnormals_leaves_outputs_bit_identical(name, asset):
    from ledbench.enhancers import create_enhancer

    weights = None
    if asset is not None:
        from asset_files import require

        weights = str(require(*asset))
    enh = create_enhancer(name, weights=weights)
    if name.startswith(("iat", "zero_dce")):
        assert _subnormal_count(enh.model) > 500  # the released checkpoints do hold subnormal weights
    x = torch.rand(1, 3, 96, 120, generator=torch.Generator().manual_seed(3)) * 0.3
    flushed = enh.enhance(x)
    assert not _flush_denormal_is_on()
    enh.flush_denormal = False
    plain = enh.enhance(x)
    assert torch.equal(flushed, plain)
