"""Deblurring baselines (MIMO-UNet, MIMO-UNet+, NAFNet, Restormer) against the official-code fixtures.

Independent references: ``tests/fixtures/reference/<arch>/`` holds state dicts saved from the OFFICIAL classes
(reduced configs, random weights), an input and the official outputs, plus the full-size key/shape layouts
(``full_*.json``); a test whose file is absent skips with a reason naming it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from asset_files import require

from ledbench.bench.config import build_config
from ledbench.bench.errors import WeightsUnavailable
from ledbench.enhancers import create_enhancer, enhancer_availability, enhancer_class, list_enhancers

ATOL = 1e-4
NAMES = ["mimo_unet", "mimo_unet_plus", "nafnet", "restormer"]
# registry name -> official checkpoint wrapper key
WRAP = {"mimo_unet": "model", "mimo_unet_plus": "model", "nafnet": "params", "restormer": "params"}


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _ref(folder: str):
    d = require("reference", folder, "state_dict.pth").parent
    return d, json.loads((d / "meta.json").read_text())


def _maxdiff(a, b) -> float:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max())


def _wrapped_checkpoint(d, key: str, tmp_path):
    """The fixture state dict saved the way the official releases store it (``{key: state_dict}``)."""
    sd = torch.load(d / "state_dict.pth", map_location="cpu", weights_only=True)
    path = tmp_path / f"official_{key}.pth"
    torch.save({key: sd}, path)
    return path, sd


# -- official fixtures: strict loading and numerics -------------------------------------------------------------------

@pytest.mark.assets
@pytest.mark.parametrize("name", NAMES)
def test_fixture_reproduces_official_output(name, tmp_path):
    d, meta = _ref(name)
    path, sd = _wrapped_checkpoint(d, WRAP[name], tmp_path)
    enh = create_enhancer(name, weights=str(path), **meta["reduced_kwargs"])
    assert list(enh.model.state_dict()) == list(sd)  # same keys, same order: loaded strict=True
    assert sum(p.numel() for p in enh.model.parameters()) == meta["reduced_param_count"]
    x = torch.from_numpy(np.load(d / "input.npy"))
    out = enh.enhance(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert _maxdiff(out, np.load(d / "output.npy")) <= ATOL
    with torch.no_grad():
        raw = enh.forward(x)  # 64x64 needs no padding: the unclamped final output
    assert _maxdiff(raw, np.load(d / "output_raw.npy")) <= ATOL


@pytest.mark.assets
@pytest.mark.parametrize("name", ["mimo_unet", "mimo_unet_plus"])
def test_mimo_all_three_scales(name, tmp_path):
    d, meta = _ref(name)
    enh = create_enhancer(name, weights=str(d / "state_dict.pth"), **meta["reduced_kwargs"])
    x = torch.from_numpy(np.load(d / "input.npy"))
    with torch.no_grad():
        quarter, half, full = enh.model(x)
    assert _maxdiff(quarter, np.load(d / "output_quarter.npy")) <= ATOL
    assert _maxdiff(half, np.load(d / "output_half.npy")) <= ATOL
    assert _maxdiff(full, np.load(d / "output_raw.npy")) <= ATOL


@pytest.mark.assets
def test_nafnet_local_tlc_matches_official_nafnetlocal():
    d, meta = _ref("nafnet")
    kw = meta["reduced_kwargs"]
    x = torch.from_numpy(np.load(d / "input.npy"))
    local = create_enhancer("nafnet", weights=str(d / "state_dict.pth"), local=True, train_size=(1, 3, 32, 32), **kw)
    plain = create_enhancer("nafnet", weights=str(d / "state_dict.pth"), local=False, **kw)
    ref_local, ref_plain = np.load(d / "output_local_raw.npy"), np.load(d / "output_raw.npy")
    with torch.no_grad():
        y_local, y_plain = local.forward(x), plain.forward(x)
    assert _maxdiff(y_local, ref_local) <= ATOL
    assert _maxdiff(local.enhance(x), np.load(d / "output_local.npy")) <= ATOL
    assert _maxdiff(y_plain, ref_plain) <= ATOL
    # the two variants really differ here (kernel 48 < 64 at level 0), so the check above tells them apart
    assert _maxdiff(y_local, ref_plain) > ATOL
    # the official default train_size (256) gives windows larger than these features: global pooling = plain NAFNet
    default_local = create_enhancer("nafnet", weights=str(d / "state_dict.pth"), local=True, **kw)
    with torch.no_grad():
        assert _maxdiff(default_local.forward(x), ref_plain) <= ATOL


# -- full-size official layouts (built on the meta device, never run) -------------------------------------------------

FULL = [("mimo_unet", "mimo_unet", "full_num_res8.json"),
        ("mimo_unet_plus", "mimo_unet_plus", "full_num_res20.json"),
        ("nafnet.gopro_width32", "nafnet", "full_gopro_width32.json"),
        ("nafnet.gopro_width64", "nafnet", "full_gopro_width64.json"),
        ("restormer", "restormer", "full_motion_deblurring.json")]


def _meta(name: str) -> dict:
    """``tag`` and ``config`` (the name's preset plus its tag's ``WeightsSpec.config``) of an enhancer name."""
    from ledbench.enhancers import _split

    return _split(name)[1]


def _full_config(name: str, kwargs: dict | None = None):
    cls = enhancer_class(name)
    return cls, build_config(cls.Config, {**_meta(name).get("config", {}), **(kwargs or {})}, owner=name)


@pytest.mark.assets
@pytest.mark.parametrize("name,folder,fname", FULL)
def test_full_size_layout_matches_official(name, folder, fname):
    d, _ = _ref(folder)
    spec = json.loads((d / fname).read_text())
    cls, config = _full_config(name)
    # the registered defaults alone must give the official architecture, and so must the official kwargs
    assert config == _full_config(name, spec["constructor_kwargs"])[1]
    with torch.device("meta"):
        model = cls.network_from_config(config)
    got = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    want = [(k, list(shape)) for k, shape, _ in spec["state_dict"]]
    assert got == want
    assert sum(p.numel() for p in model.parameters()) == spec["param_count"]


def test_default_tags_and_registry_names():
    names = list_enhancers("*")
    for n in ("mimo_unet", "mimo_unet_plus", "nafnet", "nafnet.gopro_width32", "nafnet.gopro_width64", "restormer"):
        assert n in names
    expect = {"mimo_unet": ("MIMO-UNet.pkl", "model"), "mimo_unet_plus": ("MIMO-UNetPlus.pkl", "model"),
              "nafnet": ("NAFNet-GoPro-width64.pth", "params"), "nafnet.gopro_width32": ("NAFNet-GoPro-width32.pth",
                                                                                        "params"),
              "restormer": ("motion_deblurring.pth", "params")}
    for name, (fname, key) in expect.items():
        cls = enhancer_class(name)
        tag = _meta(name).get("tag") or cls.default_tag
        spec = cls.weights_tags[tag]
        assert (spec.filename, spec.state_dict_key) == (fname, key)
        assert spec.url and spec.license and spec.source and spec.paper


def test_missing_weights_fail_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("LEDBENCH_WEIGHTS", raising=False)
    monkeypatch.setenv("LEDBENCH_OFFLINE", "1")
    ok, why = enhancer_availability("nafnet.gopro_width32")
    assert not ok and "NAFNet-GoPro-width32.pth" in why
    with pytest.raises(WeightsUnavailable, match="motion_deblurring.pth"):
        create_enhancer("restormer", download=True)


def test_catalog_import_does_not_import_torch():
    code = ("import sys; import ledbench.enhancers._catalog; from ledbench.enhancers import ENHANCERS; "
            "assert 'nafnet' in ENHANCERS and 'mimo_unet_plus' in ENHANCERS; "
            "assert 'torch' not in sys.modules; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


# -- contract on arbitrary sizes (tiny random models) ----------------------------------------------------------------

TINY = {
    "mimo_unet": {"num_res": 1},
    "mimo_unet_plus": {"num_res": 1},
    "nafnet": {"width": 4, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1],
               "train_size": [1, 3, 16, 16]},
    "restormer": {"dim": 4, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 2, 2]},
}


def _tiny(name: str, tmp_path, **extra):
    cls, config = _full_config(name, {**TINY[name], **extra})
    torch.manual_seed(0)
    model = cls.network_from_config(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path / f"{name}_tiny.pth"
    torch.save(model.state_dict(), path)
    return create_enhancer(name, weights=str(path), **TINY[name], **extra)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hw", [(37, 29), (6, 5)])
def test_contract_odd_sizes(name, hw, tmp_path):
    enh = _tiny(name, tmp_path)
    torch.manual_seed(1)
    x = torch.rand(2, 3, *hw)
    x0 = x.clone()
    y = enh.enhance(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert torch.isfinite(y).all() and float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert torch.equal(x, x0)  # input untouched
    # batch items are independent
    assert torch.allclose(enh.enhance(x[1:]), y[1:], atol=1e-5)


def test_restormer_pads_like_official_test_script(tmp_path):
    """Motion_Deblurring/test.py: reflect-pad right/bottom to a multiple of 8, run, crop, clamp."""
    enh = _tiny("restormer", tmp_path)
    x = torch.rand(1, 3, 37, 29)
    h, w = x.shape[-2:]
    H, W = ((h + 8) // 8) * 8, ((w + 8) // 8) * 8
    padh, padw = (H - h if h % 8 else 0), (W - w if w % 8 else 0)
    with torch.no_grad():
        ref = enh.model(F.pad(x, (0, padw, 0, padh), "reflect"))[:, :, :h, :w].clamp(0, 1)
    assert _maxdiff(enh.enhance(x), ref.numpy()) <= 1e-6


def test_mimo_pads_to_multiple_of_four_and_keeps_exact_sizes(tmp_path):
    enh = _tiny("mimo_unet", tmp_path)
    x = torch.rand(1, 3, 23, 18)
    with torch.no_grad():
        ref = enh.model(F.pad(x, (0, 2, 0, 1), "reflect"))[-1][:, :, :23, :18].clamp(0, 1)
        assert _maxdiff(enh.enhance(x), ref.numpy()) <= 1e-6
        x4 = torch.rand(1, 3, 24, 20)  # a multiple of 4: the official path, no padding at all
        assert _maxdiff(enh.enhance(x4), enh.model(x4)[-1].clamp(0, 1).numpy()) <= 1e-6


def test_nafnet_tlc_window_sizes_follow_official_conversion():
    """NAFNetLocal fixes kernel = feature_size * int(1.5 * train) // train at each level
    (256 -> 384, 192, 96, 48, 24)."""
    from ledbench.enhancers.nafnet import LocalAvgPool2d, NAFNet

    with torch.device("meta"):
        net = NAFNet(3, 8, 1, (1, 1, 1, 1), (1, 1, 1, 1), local=True)
    pools = {name: m.kernel_size for name, m in net.named_modules() if isinstance(m, LocalAvgPool2d)}
    assert pools["encoders.0.0.sca.0"] == (384, 384)
    assert pools["encoders.3.0.sca.0"] == (48, 48)
    assert pools["middle_blks.0.sca.0"] == (24, 24)
    assert pools["decoders.0.0.sca.0"] == (48, 48) and pools["decoders.3.0.sca.0"] == (384, 384)
    # exact local mean: one window position checked by hand
    pool = LocalAvgPool2d((3, 4))
    x = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(1, 2, 5, 6)
    y = pool(x)
    assert y.shape == x.shape
    assert torch.allclose(y[0, :, 1, 1], x[0, :, 0:3, 0:4].mean(dim=(-1, -2)))
    assert torch.allclose(pool.__class__((8, 8))(x), x.mean(dim=(-1, -2), keepdim=True))


def test_nafnet_weights_tag_selects_its_width(tmp_path, monkeypatch):
    """``create_enhancer('nafnet', weights='gopro_width32')`` builds the width-32 net for that release file."""
    cls, config = _full_config("nafnet.gopro_width32")
    net = cls.network_from_config(config)
    wdir = tmp_path / "w"
    wdir.mkdir()
    torch.save({"params": net.state_dict()}, wdir / "NAFNet-GoPro-width32.pth")
    monkeypatch.setenv("LEDBENCH_WEIGHTS", str(wdir))
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path / "home"))
    enh = create_enhancer("nafnet", weights="gopro_width32")
    assert enh.config.width == 32 and enh.tag == "gopro_width32"
    assert sum(p.numel() for p in enh.model.parameters()) == 17_111_907
