"""``ledbench profile`` (bench/profile.py): MAC counts against hand-computed formulas, attention included.

Independent reference: the multiply-accumulate count of a ViT written out by hand (patch embedding, per block the
qkv / output / MLP projections and the two attention products q k^T and attn v, the final projection). The point
of the check: ``FlopCounterMode`` alone misses ``nn.MultiheadAttention``'s inference fast path (one fused op) and
the CPU kernel of ``scaled_dot_product_attention``.
"""

from __future__ import annotations

import json
import warnings

import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

from ledbench.bench import profile as P  # noqa: E402
from ledbench.enhancers import dap_led as D  # noqa: E402

warnings.filterwarnings("ignore", message=".*RANDOM weights.*")

TINY = dict(preset="tiny", clip_model=D.TINY_CLIP_NAME, clip_pretrained="")


def vit_macs(image: int, patch: int, width: int, layers: int, mlp: int, embed: int) -> int:
    """Hand count of one CLIP ViT image-tower pass (class token included; LayerNorm / GELU / softmax not counted)."""
    n = (image // patch) ** 2 + 1
    block = n * width * 3 * width + n * width * width + 2 * n * width * mlp + 2 * n * n * width
    return layers * block + (n - 1) * 3 * patch * patch * width + width * embed


def _tiny_visual():
    D.register_tiny_clip_config()
    return open_clip.create_model(D.TINY_CLIP_NAME, pretrained=None).visual.eval()


def test_count_includes_attention_on_the_fast_path():
    from torch.utils.flop_counter import FlopCounterMode

    v = _tiny_visual()
    c = D.TINY_CLIP_CONFIG["vision_cfg"]
    x = torch.rand(2, 3, 32, 32)
    hand = 2 * vit_macs(32, c["patch_size"], c["width"], c["layers"], 4 * c["width"], D.TINY_CLIP_CONFIG["embed_dim"])
    assert P.count_gmacs(v, x) * 1e9 == pytest.approx(hand, rel=1e-9)
    with FlopCounterMode(display=False) as fc, torch.inference_mode():  # the earlier way of counting
        v(x)
    assert fc.get_total_flops() / 2 < 0.9 * hand  # the fused fast path is invisible to the plain counter
    assert torch.backends.mha.get_fastpath_enabled()  # restored after counting


def test_vit_b32_pass_costs_4_41_gmacs():
    """open_clip ViT-B-32 (random init): 4.409 GMACs per 224 x 224 pass, equal to the hand count; the plain counter
    under inference_mode gives 2.95 (fast path) and 4.36 with the fast path off (the CPU attention kernel is not
    in FlopCounterMode's table)."""
    v = open_clip.create_model("ViT-B-32", pretrained=None).visual.eval()
    hand = vit_macs(224, 32, 768, 12, 3072, 512)
    assert hand == 4_408_811_520
    assert P.count_gmacs(v, torch.rand(1, 3, 224, 224)) * 1e9 == pytest.approx(hand, rel=1e-9)


def test_profile_many_dap_led_sizes_and_table():
    rows = P.profile_many("dap_led", {**TINY, "size": "32,32x48", "repeats": 1, "warmup": 0})
    assert [r["size"] for r in rows] == ["32x32", "32x48"]
    torch.manual_seed(0)
    net = D.DAPLEDNet(D.DAPLEDConfig(**TINY, clip_random_init=True))
    assert rows[0]["params_m"] == pytest.approx(sum(p.numel() for p in net.parameters()) / 1e6)
    assert rows[0]["random_weights"] is True and rows[0]["frozen_params_m"] > 0
    # the CLIP prior at 32 x 32 (window mode): one tiny-ViT pass per scale (scale 2: 16 px padded to one window)
    c = D.TINY_CLIP_CONFIG["vision_cfg"]
    one = vit_macs(32, c["patch_size"], c["width"], c["layers"], 4 * c["width"], D.TINY_CLIP_CONFIG["embed_dim"])
    assert rows[0]["frozen_gmacs"] * 1e9 >= 2 * one
    assert rows[0]["gmacs"] > rows[0]["frozen_gmacs"]
    a, b = P.profile_many("dap_led", {"preset": "tiny", "clip_prior": False, "size": "32x48,64x48", "repeats": 1,
                                      "warmup": 0})
    # no CLIP: convolutions and channel attention are linear in the pixel count
    assert b["gmacs"] == pytest.approx(2 * a["gmacs"], rel=1e-6) and a["frozen_gmacs"] == 0
    table = P.format_table(rows)
    assert "dap_led" in table and "GMACs" in table and "32x48" in table


def test_cli_profile_several_enhancers_json(capsys):
    from ledbench.bench.cli import main

    assert main(["profile", "identity,gamma", "size=32,24x40", "repeats=1", "warmup=0", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["size"]) for r in rows] == [("identity", "32x32"), ("identity", "24x40"),
                                                      ("gamma", "32x32"), ("gamma", "24x40")]
    assert all(r["gmacs"] is None for r in rows)  # not torch models
    assert main(["profile", "gamma", "size=32", "repeats=1", "warmup=0"]) == 0
    assert "| gamma" in capsys.readouterr().out


def test_profile_errors():
    from ledbench.bench.errors import ConfigError

    with pytest.raises(ConfigError, match="size must be N or HxW"):
        P.parse_sizes("32xfoo")
    assert P.parse_sizes("256,256x384") == [(256, 256), (256, 384)]
