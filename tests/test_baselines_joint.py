"""Joint low-light + deblur baselines (LEDNet, DarkIR) and the standard cascade catalog.

Numeric checks use the official-code fixtures in ``tests/fixtures/reference/{lednet,darkir}`` (state dicts of
reduced configs saved from the official classes, input and official outputs): strict
``load_state_dict`` and max |ours - official| <= 1e-4. Full-size layouts are compared key by key, in order, with
the official ``full_*.json`` files (7,408,893 / 3,321,638 / 12,957,254 parameters).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from asset_files import require

from ledbench.bench.errors import WeightsUnavailable
from ledbench.enhancers import create_enhancer, list_enhancers
from ledbench.enhancers._catalog_cascades import (
    DEBLUR_STAGES,
    LLE_STAGES,
    STANDARD_CASCADES,
    cascade_name,
    standard_cascades,
)

ATOL = 1e-4
LEDNET_SMALL = {"channels": [8, 16, 32, 32], "connection": False}
DARKIR_SMALL = {"img_channel": 3, "width": 8, "middle_blk_num_enc": 1, "middle_blk_num_dec": 1,
                "enc_blk_nums": [1, 1, 1], "dec_blk_nums": [1, 1, 1], "dilations": [1, 4, 9], "extra_depth_wise": True}


@pytest.fixture(autouse=True)
def _one_thread(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    # an empty weights cache, so nothing the developer has installed leaks into the tests
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEDBENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("LEDBENCH_OFFLINE", "1")


def _ref(arch: str):
    return require("reference", arch, "state_dict.pth").parent


def _load(folder, name):
    return np.load(folder / f"{name}.npy")


def _raw(enh, x):
    """The enhancer's output before the final [0, 1] clamp (same padding / range conversion)."""
    with torch.no_grad():
        return enh._run_padded(x).numpy()


# -- official fixtures ----------------------------------------------------------------------------------------------

@pytest.mark.assets
@pytest.mark.parametrize("io_range, out_name", [("unit", "output"), ("symmetric", "output_retrain")])
def test_lednet_reproduces_official_fixture(io_range, out_name):
    ref = _ref("lednet")
    meta = json.loads((ref / "meta.json").read_text())
    assert meta["reduced_kwargs"] == LEDNET_SMALL
    from ledbench.enhancers.lednet import LEDNet

    net = LEDNet(**LEDNET_SMALL)
    net.load_state_dict(torch.load(ref / "state_dict.pth", weights_only=True), strict=True)
    enh = create_enhancer("lednet", weights=str(ref / "state_dict.pth"), io_range=io_range, **LEDNET_SMALL)
    assert enh.input_range == ((-1.0, 1.0) if io_range == "symmetric" else (0.0, 1.0))
    x = torch.from_numpy(_load(ref, "input"))
    y = enh.enhance(x).numpy()
    assert y.shape == x.shape
    assert np.abs(y - _load(ref, out_name)).max() <= ATOL
    assert np.abs(_raw(enh, x) - _load(ref, out_name + "_raw")).max() <= ATOL


@pytest.mark.assets
def test_darkir_reproduces_official_fixture():
    ref = _ref("darkir")
    meta = json.loads((ref / "meta.json").read_text())
    assert meta["reduced_kwargs"] == DARKIR_SMALL
    enh = create_enhancer("darkir", weights=str(ref / "state_dict.pth"), **DARKIR_SMALL)
    x = torch.from_numpy(_load(ref, "input"))
    y = enh.enhance(x).numpy()
    assert np.abs(y - _load(ref, "output")).max() <= ATOL
    raw = _raw(enh, x)
    assert raw.min() < 0 and raw.max() > 1  # the fixture exercises the clamp
    assert np.abs(raw - _load(ref, "output_raw")).max() <= ATOL


@pytest.mark.assets
def test_lednet_retrain_tag_and_params_wrapper(tmp_path):
    """A file named like the official retrain checkpoint, state dict under ``params``, found in the weights folder:
    ``lednet.retrain`` must pick it up and use the [-1, 1] convention (official ``inference_lednet.py``)."""
    ref = _ref("lednet")
    folder = tmp_path / "weights"
    folder.mkdir()
    state = torch.load(ref / "state_dict.pth", weights_only=True)
    torch.save({"params": state}, folder / "lednet_retrain_500000.pth")
    x = torch.from_numpy(_load(ref, "input"))
    enh = create_enhancer("lednet.retrain", **LEDNET_SMALL)
    assert enh.tag == "retrain" and enh.input_range == (-1.0, 1.0)
    assert np.abs(enh.enhance(x).numpy() - _load(ref, "output_retrain")).max() <= ATOL
    # an explicit file keeps the official name -> same convention through the bare name
    enh2 = create_enhancer("lednet", weights=str(folder / "lednet_retrain_500000.pth"), **LEDNET_SMALL)
    assert enh2.input_range == (-1.0, 1.0)
    # and the paper convention differs (the fixture's two outputs are not interchangeable)
    assert np.abs(_load(ref, "output") - _load(ref, "output_retrain")).max() > 0.1


# -- full-size layouts ----------------------------------------------------------------------------------------------

def _layout(model):
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]


@pytest.mark.assets
@pytest.mark.parametrize("arch, file", [("lednet", "full_official.json"), ("darkir", "full_m.json"),
                                        ("darkir", "full_l.json")])
def test_full_size_layout_matches_official(arch, file):
    ref = json.loads(require("reference", arch, file).read_text())
    if arch == "lednet":
        from ledbench.enhancers.lednet import LEDNet as Net
    else:
        from ledbench.enhancers.darkir import DarkIR as Net
    with torch.device("meta"):
        net = Net(**ref["constructor_kwargs"])
    assert _layout(net) == ref["state_dict"]
    assert sum(p.numel() for p in net.parameters()) == ref["param_count"]


def test_config_defaults_are_the_official_full_models():
    from ledbench.enhancers.darkir import DarkIREnhancer
    from ledbench.enhancers.lednet import LEDNetEnhancer

    assert LEDNetEnhancer.Config().channels == (32, 64, 128, 128) and LEDNetEnhancer.Config().connection is False
    cfg = DarkIREnhancer.Config()
    assert (cfg.width, cfg.enc_blk_nums, cfg.dec_blk_nums, cfg.dilations) == (32, (1, 2, 3), (3, 1, 1), (1, 4, 9))
    with torch.device("meta"):
        from ledbench.enhancers.darkir import DarkIR
        from ledbench.enhancers.lednet import LEDNet

        counts = [sum(p.numel() for p in m.parameters()) for m in (LEDNet(), DarkIR(), DarkIR(width=64))]
    assert counts == [7_408_893, 3_321_638, 12_957_254]  # official repos / README: 7.4 M, 3.31 M, 12.96 M


# -- contract on odd sizes, random weights (no assets needed) -------------------------------------------------------

@pytest.mark.parametrize("name, small", [("lednet", LEDNET_SMALL), ("lednet.retrain", LEDNET_SMALL),
                                         ("darkir", DARKIR_SMALL)])
@pytest.mark.parametrize("hw", [(13, 21), (5, 6), (16, 8)])
def test_odd_size_contract(tmp_path, name, small, hw):
    arch = name.split(".")[0]
    if arch == "lednet":
        from ledbench.enhancers.lednet import LEDNet as Net
    else:
        from ledbench.enhancers.darkir import DarkIR as Net
    torch.manual_seed(0)
    path = tmp_path / "random.pth"
    torch.save(Net(**small).state_dict(), path)
    enh = create_enhancer(name, weights=str(path), **small)
    x = torch.rand(2, 3, *hw)
    y = enh.enhance(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1
    # batch items are independent (no cross-talk through padding or normalisation)
    assert torch.allclose(enh.enhance(x[1:]), y[1:], atol=1e-5)


def test_darkir_residual_and_internal_padding_crop():
    """With the last conv zeroed the network is the identity (global residual), at any size."""
    from ledbench.enhancers.darkir import DarkIR

    torch.manual_seed(0)
    net = DarkIR(**DARKIR_SMALL).eval()
    torch.nn.init.zeros_(net.ending.weight)
    torch.nn.init.zeros_(net.ending.bias)
    x = torch.rand(1, 3, 11, 14)
    with torch.no_grad():
        assert torch.equal(net(x), x)


def test_lednet_fac_matches_explicit_loop():
    """Filter-adaptive convolution against a direct per-pixel sum (replicate padding, channel-major kernels)."""
    from ledbench.enhancers.lednet import kernel_conv2d

    torch.manual_seed(0)
    n, c, h, w, k = 1, 2, 4, 5, 5
    feat, kern = torch.randn(n, c, h, w), torch.randn(n, c * k * k, h, w)
    padded = torch.nn.functional.pad(feat, (2, 2, 2, 2), mode="replicate")
    ref = torch.zeros(n, c, h, w)
    for ch in range(c):
        for i in range(h):
            for j in range(w):
                ker = kern[0, ch * k * k:(ch + 1) * k * k, i, j].view(k, k)
                ref[0, ch, i, j] = (padded[0, ch, i:i + k, j:j + k] * ker).sum()
    ref = torch.nn.functional.leaky_relu(ref, 0.2)
    assert torch.allclose(kernel_conv2d(feat, kern, k), ref, atol=1e-5)


# -- registry and weights handling ----------------------------------------------------------------------------------

def test_registered_names_and_tags():
    names = list_enhancers()
    for n in ("lednet", "lednet.retrain", "lednet.paper", "darkir", "darkir.m", "darkir.l"):
        assert n in names
    from ledbench.enhancers import enhancer_class
    from ledbench.enhancers.darkir import DarkIREnhancer
    from ledbench.enhancers.lednet import LEDNetEnhancer

    assert enhancer_class("lednet.retrain") is LEDNetEnhancer
    spec = LEDNetEnhancer.weights_tags["retrain"]
    assert spec.filename == "lednet_retrain_500000.pth" and spec.state_dict_key == "params"
    assert spec.url == "https://github.com/sczhou/LEDNet/releases/download/v0.1.0/lednet_retrain_500000.pth"
    assert DarkIREnhancer.weights_tags["m"].hf_repo == "Cidaut/DarkIR"
    assert DarkIREnhancer.weights_tags["l"].filename == "DarkIR_64width.pt"


@pytest.mark.parametrize("name, filename", [("lednet", "lednet.pth"), ("lednet.retrain", "lednet_retrain_500000.pth"),
                                            ("darkir.m", "DarkIR_384.pt"), ("darkir.l", "DarkIR_64width.pt")])
def test_missing_weights_fail_fast_with_the_fix(name, filename):
    with pytest.raises(WeightsUnavailable) as err:
        create_enhancer(name)
    msg = str(err.value)
    assert filename in msg and "ledbench weights import" in msg


def test_wrong_checkpoint_is_a_clear_error(tmp_path):
    from ledbench.enhancers.lednet import LEDNet

    path = tmp_path / "lednet.pth"
    torch.save({"params": LEDNet(**LEDNET_SMALL).state_dict()}, path)
    with pytest.raises(WeightsUnavailable, match="does not match LEDNet"):
        create_enhancer("lednet", weights=str(path))  # full-size config, reduced checkpoint


def test_darkir_tag_selects_width(tmp_path):
    """``weights="l"`` on the bare name builds the width-64 model its checkpoint needs (state dict under params)."""
    from ledbench.enhancers.darkir import DarkIR

    folder = tmp_path / "weights" / "darkir"
    folder.mkdir(parents=True)
    torch.save({"params": DarkIR(width=64).state_dict()}, folder / "DarkIR_64width.pt")
    enh = create_enhancer("darkir", weights="l")
    assert enh.tag == "l" and enh.config.width == 64
    assert create_enhancer("darkir.l").config.width == 64


# -- cascades -------------------------------------------------------------------------------------------------------

def test_standard_cascades_are_both_orders_of_the_product():
    assert len(STANDARD_CASCADES) == len(set(STANDARD_CASCADES)) == 18
    expected = {f"{a}+{b}" for a in LLE_STAGES for b in DEBLUR_STAGES}
    expected |= {f"{b}+{a}" for a in LLE_STAGES for b in DEBLUR_STAGES}
    assert set(STANDARD_CASCADES) == expected
    assert set(LLE_STAGES) == {"zero_dce", "sci", "retinexformer"}
    assert set(DEBLUR_STAGES) == {"mimo_unet", "nafnet", "restormer"}
    assert standard_cascades("zero_dce+*") == ["zero_dce+mimo_unet", "zero_dce+nafnet", "zero_dce+restormer"]
    assert standard_cascades(exclude="*+*") == []
    assert cascade_name("sci", "nafnet") == "sci+nafnet"
    with pytest.raises(ValueError):
        cascade_name("sci")


def test_registry_refuses_plus_names():
    """Why the standard cascades are a tuple and not registry entries."""
    from ledbench.enhancers.registry import ENHANCERS

    with pytest.raises(ValueError):
        ENHANCERS.register("zero_dce+mimo_unet", "ledbench.enhancers.base:Cascade")


def test_standard_cascade_stages_are_registered():
    from ledbench.enhancers import enhancer_class

    for stage in LLE_STAGES + DEBLUR_STAGES:
        enhancer_class(stage)  # raises UnknownNameError if missing


def test_cascade_runs_stages_left_to_right(tmp_path):
    """A cascade of two joint models built by name applies them in order (checked against manual chaining)."""
    from ledbench.enhancers.base import Cascade
    from ledbench.enhancers.darkir import DarkIR
    from ledbench.enhancers.lednet import LEDNet

    torch.manual_seed(0)
    p1, p2 = tmp_path / "a.pth", tmp_path / "b.pth"
    torch.save(LEDNet(**LEDNET_SMALL).state_dict(), p1)
    torch.save(DarkIR(**DARKIR_SMALL).state_dict(), p2)
    a = create_enhancer("lednet", weights=str(p1), **LEDNET_SMALL)
    b = create_enhancer("darkir", weights=str(p2), **DARKIR_SMALL)
    x = torch.rand(1, 3, 12, 10)
    cas = Cascade([a, b])
    assert cas.name == "lednet+darkir"
    assert torch.allclose(cas.enhance(x), b.enhance(a.enhance(x)))
    assert not torch.allclose(cas.enhance(x), a.enhance(b.enhance(x)), atol=1e-3)


def test_lolblur_cascades_run_file():
    from pathlib import Path

    from ledbench.bench.runner import load_run_config

    path = Path(__file__).resolve().parent.parent / "runs" / "lolblur_cascades.yaml"
    cfg = load_run_config(path)
    assert cfg.name == "lolblur_cascades" and cfg.dataset.startswith("lolblur:")
    assert set(STANDARD_CASCADES) <= set(cfg.enhancers)
    assert {"identity", "lednet", "lednet.retrain", "darkir.m", "darkir.l"} <= set(cfg.enhancers)
    assert tuple(cfg.tasks) == ("quality",) and tuple(cfg.metrics) == ("psnr", "ssim", "lpips")
    registered = set(list_enhancers())
    stage_names = {s for n in cfg.enhancers for s in n.split("+")}
    joint = {"lednet", "lednet.retrain", "darkir.m", "darkir.l"}
    assert joint <= registered
    assert stage_names <= registered, sorted(stage_names - registered)
