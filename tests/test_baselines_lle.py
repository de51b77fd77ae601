"""Low-light baselines (Zero-DCE, Zero-DCE++, SCI, RUAS, IAT, RetinexFormer) against the official code.

Independent references:

- ``tests/fixtures/reference/<arch>/``: state dicts saved from the OFFICIAL classes (random, perturbed weights),
  an input and the official outputs (``output.npy``, ``output_raw.npy``, extras), the full-size key/shape layouts
  (``full_*.json``) and, in ``real_weights/``, the outputs of the official released checkpoints;
- the released checkpoints themselves: SCI and IAT ship in the package; Zero-DCE, Zero-DCE++ and RUAS are not
  redistributable and are read from ``$LEDBENCH_ASSETS/weights`` or ``../shared/assets/weights``;
- IAT has no reference folder: ``IAT_OFFICIAL`` below holds values computed by running the official
  ``IAT_enhance/model/IAT_main.py`` @ c7647226 (timm 1.0, torch 2.14, CPU float32) on the real-weights input.

Tests needing a file that is absent skip with a reason naming it (counted in the terminal summary).
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

from ledbench.bench.errors import ConfigError, WeightsUnavailable
from ledbench.bench.weights import sha256_file
from ledbench.enhancers import create_enhancer, enhancer_availability, enhancer_class, list_enhancers

ATOL = 1e-4
FIXTURES = ["zero_dce", "zero_dce_pp", "sci", "ruas", "retinexformer"]
ALL = ["zero_dce", "zero_dce_pp", "sci", "ruas", "iat", "retinexformer"]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _ref(folder: str):
    d = require("reference", folder, "state_dict.pth").parent
    return d, json.loads((d / "meta.json").read_text())


_asset = require


def _maxdiff(a, b) -> float:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max())


def _fixture_model(name: str, **extra):
    d, meta = _ref(name)
    sd = torch.load(d / "state_dict.pth", map_location="cpu", weights_only=True)
    enh = create_enhancer(name, pretrained=False, **meta["reduced_kwargs"], **extra)
    enh.load_state_dict(sd)
    assert list(enh.model.state_dict()) == list(sd)  # same keys in the same order, loaded strict=True
    assert sum(p.numel() for p in enh.model.parameters()) == meta["reduced_param_count"]
    return enh, d, torch.from_numpy(np.load(d / "input.npy"))


# -- official fixtures: strict loading and numerics -------------------------------------------------------------------

@pytest.mark.assets
@pytest.mark.parametrize("name", [n for n in FIXTURES if n != "zero_dce_pp"])
def test_fixture_reproduces_official_output(name):
    enh, d, x = _fixture_model(name)
    out = enh.enhance(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert _maxdiff(out, np.load(d / "output.npy")) <= ATOL
    with torch.no_grad():
        raw = enh.forward(x)  # 64x64 needs no padding: the unclamped final output
    assert _maxdiff(raw, np.load(d / "output_raw.npy")) <= ATOL


@pytest.mark.assets
def test_zero_dce_pp_fixture_on_the_official_crop():
    """Official test crops 64x64 to 60x60 (scale 12); inside that crop our same-size output is the official one."""
    enh, d, x = _fixture_model("zero_dce_pp")
    ref, ref_raw = np.load(d / "output.npy"), np.load(d / "output_raw.npy")
    h, w = ref.shape[-2:]
    with torch.no_grad():
        raw = enh.model(x[..., :h, :w])[0]  # the official call on the official crop
    assert _maxdiff(raw, ref_raw) <= ATOL
    out = enh.enhance(x)
    assert out.shape == x.shape
    assert _maxdiff(out[..., :h, :w], ref) <= ATOL


@pytest.mark.assets
def test_sci_illumination_and_shared_block():
    enh, d, x = _fixture_model("sci")
    assert enh.model.enhance.conv is enh.model.enhance.blocks[0]  # official: the same module registered twice
    with torch.no_grad():
        i, _ = enh.model(x)
    assert _maxdiff(i, np.load(d / "output_illumination.npy")) <= ATOL


@pytest.mark.assets
@pytest.mark.parametrize("tag", ["upe", "dark"])
def test_ruas_enhance_only_output_for_upe_and_dark(tag):
    """test.py saves u_list[-2] (no denoising) for the upe / dark checkpoints."""
    d, _ = _ref("ruas")
    sd = torch.load(d / "state_dict.pth", map_location="cpu", weights_only=True)
    enh = create_enhancer(f"ruas.{tag}", pretrained=False)
    enh.load_state_dict(sd)
    x = torch.from_numpy(np.load(d / "input.npy"))
    assert _maxdiff(enh.enhance(x), np.load(d / "output_enhance_only.npy")) <= ATOL
    forced = create_enhancer(f"ruas.{tag}", pretrained=False, denoise=True)
    forced.load_state_dict(sd)
    assert _maxdiff(forced.enhance(x), np.load(d / "output.npy")) <= ATOL


# -- real official checkpoints ----------------------------------------------------------------------------------------

# rel None: the official file shipped in the package (SCI); the others are not redistributable (fixtures README)
REAL = [("zero_dce", "Epoch99", "zero_dce/Epoch99.pth"), ("zero_dce_pp", "Epoch99", "zero_dce_pp/Epoch99.pth"),
        ("sci", "easy", None), ("sci", "medium", None), ("sci", "difficult", None),
        ("ruas", "lol", "ruas/lol.pt"), ("ruas", "upe", "ruas/upe.pt"), ("ruas", "dark", "ruas/dark.pt")]


@pytest.mark.assets
@pytest.mark.parametrize("name,tag,rel", REAL, ids=[f"{n}.{t}" for n, t, _ in REAL])
def test_real_checkpoint_reproduces_official_output(name, tag, rel):
    path = _asset("weights", rel) if rel else create_enhancer(f"{name}.{tag}").weights_path
    ref_dir = _asset("reference", name, "real_weights")
    enh = create_enhancer(f"{name}.{tag}", weights=str(path))  # loads the file unchanged, strict=True
    assert enh.weights_sha256 == enh.weights_spec.sha256 == json.loads((ref_dir / tag / "weights.json").read_text())[
        "weights_sha256"]
    x = torch.from_numpy(np.load(ref_dir / "input.npy"))
    out = enh.enhance(x)
    assert out.shape == x.shape
    ref = np.load(ref_dir / tag / "output.npy")
    h, w = ref.shape[-2:]  # Zero-DCE++: the official output is the 120x120 crop of the 128x128 input
    assert _maxdiff(out[..., :h, :w], ref) <= ATOL


# values of the official IAT code (IAT_main.IAT, eval, clamp as save_image) on reference/*/real_weights/input.npy;
# "lol" fed with Normalize(0.5, 0.5) as evaluation_lol_v2.py. Pixels are [R, G, B] at PIXELS.
PIXELS = [(0, 0), (5, 100), (17, 33), (64, 64), (90, 7), (127, 127), (40, 120), (111, 58)]
IAT_OFFICIAL = {
    "lol_v1": (0.40603, [[0.446838, 0.492058, 0.419336], [0.446496, 0.371979, 0.170606], [0.619669, 0.602979, 0.581066],
                         [0.195072, 0.163723, 0.173944], [0.679299, 0.562039, 0.561045], [0.13247, 0.116463, 0.142164],
                         [0.651628, 0.64293, 0.632598], [0.631442, 0.288783, 0.161913]]),
    "lol": (0.352597, [[0.407054, 0.394559, 0.33547], [0.417999, 0.354266, 0.193202], [0.53726, 0.530087, 0.50911],
                       [0.225418, 0.184344, 0.197686], [0.601361, 0.483376, 0.473213], [0.22093, 0.086298, 0.0],
                       [0.567376, 0.570585, 0.554164], [0.512807, 0.297737, 0.169815]]),
    "exposure": (0.119072, [[0.141629, 0.166647, 0.164357], [0.054369, 0.054552, 0.0], [0.212816, 0.195202, 0.175304],
                            [0.0, 0.0, 0.0], [0.295645, 0.177779, 0.156163], [0.0, 0.0, 0.0],
                            [0.231843, 0.222099, 0.211771], [0.241251, 0.064841, 0.0]]),
}


@pytest.mark.assets
@pytest.mark.parametrize("tag", list(IAT_OFFICIAL))
def test_iat_packaged_checkpoints_reproduce_official_code(tag):
    x = torch.from_numpy(np.load(_asset("reference", "zero_dce", "real_weights", "input.npy")))
    enh = create_enhancer(f"iat.{tag}")  # the packaged official file
    out = enh.enhance(x)
    mean, pixels = IAT_OFFICIAL[tag]
    assert abs(float(out.mean()) - mean) <= ATOL
    got = np.array([[float(v) for v in out[0, :, i, j]] for i, j in PIXELS])
    assert np.abs(got - np.array(pixels)).max() <= ATOL


@pytest.mark.assets
@pytest.mark.parametrize("tag", ["easy", "medium", "difficult"])
def test_sci_packaged_checkpoints_match_the_assets(tag):
    enh = create_enhancer(f"sci.{tag}")
    ref_dir = _asset("reference", "sci", "real_weights")
    x = torch.from_numpy(np.load(ref_dir / "input.npy"))
    assert _maxdiff(enh.enhance(x), np.load(ref_dir / tag / "output.npy")) <= ATOL


# -- full-size layouts ------------------------------------------------------------------------------------------------

LAYOUTS = [("zero_dce", "full_default.json"), ("zero_dce_pp", "full_scale12.json"), ("sci", "full_finetune.json"),
           ("ruas", "full_default.json"), ("retinexformer", "full_lol_v1.json")]


@pytest.mark.assets
@pytest.mark.parametrize("name,fname", LAYOUTS)
def test_full_size_layout_matches_official(name, fname):
    full = json.loads(_asset("reference", name, fname).read_text())
    enh = create_enhancer(name, pretrained=False, **full["constructor_kwargs"])
    got = [(k, list(v.shape)) for k, v in enh.model.state_dict().items()]
    assert got == [(k, list(shape)) for k, shape, _ in full["state_dict"]]
    assert sum(p.numel() for p in enh.model.parameters()) == full["param_count"]
    assert full["param_count"] == {"zero_dce": 79416, "zero_dce_pp": 10561, "sci": 258, "ruas": 3438,
                                   "retinexformer": 1605701}[name]


def test_default_configs_are_the_released_sizes():
    """Without assets: default configs give the published parameter counts (IAT: 91,348 incl. BN buffers)."""
    counts = {}
    for name in ALL:
        model = create_enhancer(name, pretrained=False).model
        counts[name] = sum(p.numel() for p in model.parameters())
    assert counts == {"zero_dce": 79416, "zero_dce_pp": 10561, "sci": 258, "ruas": 3438, "iat": 91154,
                      "retinexformer": 1605701}
    iat_sd = create_enhancer("iat", pretrained=False).model.state_dict()
    assert sum(v.numel() for v in iat_sd.values()) == 91348 and len(iat_sd) == 161


# -- contract ---------------------------------------------------------------------------------------------------------

SMALL = {"retinexformer": {"n_feat": 8, "num_blocks": [1, 1, 1]}}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("hw", [(37, 53), (5, 7)])
def test_contract_odd_sizes(name, hw):
    torch.manual_seed(0)
    enh = create_enhancer(name, pretrained=False, **SMALL.get(name, {}))
    x = torch.rand(2, 3, *hw) * 0.3
    out = enh.enhance(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert torch.allclose(enh.enhance(x[:1]), out[:1], atol=1e-5)  # per image: batching changes nothing


def test_zero_dce_pp_odd_size_is_official_inside_the_crop():
    """37x53 at scale 12: official output on the 36x48 crop, the extra row/columns reuse the edge curves."""
    torch.manual_seed(1)
    enh = create_enhancer("zero_dce_pp", pretrained=False)
    x = torch.rand(1, 3, 37, 53) * 0.4
    out = enh.enhance(x)
    with torch.no_grad():
        official, x_r = enh.model(x[..., :36, :48])
    assert torch.allclose(out[..., :36, :48], official.clamp(0, 1), atol=1e-6)
    # the last column uses the curve map of column 47 (edge replication), applied to its own input values
    border = x[..., :36, 52:53]
    expected = border
    for _ in range(8):
        expected = expected + x_r[..., :, 47:48] * (expected ** 2 - expected)
    assert torch.allclose(out[..., :36, 52:53], expected.clamp(0, 1), atol=1e-6)


def test_retinexformer_reflect_pads_to_multiple_of_4():
    torch.manual_seed(2)
    enh = create_enhancer("retinexformer", pretrained=False, **SMALL["retinexformer"])
    x = torch.rand(1, 3, 37, 53)
    with torch.no_grad():
        ref = enh.model(F.pad(x, (0, 3, 0, 3), mode="reflect"))[..., :37, :53].clamp(0, 1)
    assert torch.allclose(enh.enhance(x), ref, atol=1e-6)


def test_iat_normalize_follows_official_evaluation_per_tag():
    assert create_enhancer("iat.lol").normalize is True  # evaluation_lol_v2.py --pre_norm True
    assert create_enhancer("iat.lol_v1").normalize is False
    exp = create_enhancer("iat.exposure")
    assert exp.normalize is False and exp.config.type == "exp"
    assert create_enhancer("iat.lol", normalize=False).normalize is False


def test_ruas_output_selection_per_tag():
    assert create_enhancer("ruas", pretrained=False).use_denoise is True
    assert create_enhancer("ruas.upe", pretrained=False).use_denoise is False
    assert create_enhancer("ruas.dark", pretrained=False).use_denoise is False


def test_config_validation():
    with pytest.raises(ConfigError):
        create_enhancer("retinexformer", pretrained=False, n_feat=10)
    with pytest.raises(ConfigError):
        create_enhancer("retinexformer", pretrained=False, num_blocks=[1, 2])
    with pytest.raises(ConfigError):
        create_enhancer("zero_dce_pp", pretrained=False, scale_factor=0)
    with pytest.raises(ConfigError):
        create_enhancer("iat", pretrained=False, type="foo")
    enh = create_enhancer("zero_dce_pp", pretrained=False, scale_factor=1)
    assert enh.enhance(torch.rand(1, 3, 9, 11)).shape == (1, 3, 9, 11)


# -- registry and weights handling ------------------------------------------------------------------------------------

def test_registry_names_and_tags():
    names = list_enhancers()
    for n in ALL + ["sci.easy", "sci.medium", "sci.difficult", "ruas.lol", "ruas.upe", "ruas.dark", "iat.lol_v1",
                    "iat.lol", "iat.exposure", "retinexformer.LOL_v1", "retinexformer.LOL_v2_real"]:
        assert n in names, n
    cls = enhancer_class("retinexformer")
    assert cls.default_tag == "LOL_v1" and cls.weights_tags["LOL_v2_real"].filename == "LOL_v2_real.pth"
    assert all(s.state_dict_key == "params" and s.sha256 is None for s in cls.weights_tags.values())
    assert enhancer_class("sci").default_tag == "medium" and enhancer_class("iat").default_tag == "lol_v1"


@pytest.mark.parametrize("name", ["sci.easy", "sci.medium", "sci.difficult", "iat.lol_v1", "iat.lol",
                                  "iat.exposure"])
def test_packaged_weights_are_the_official_files(name):
    assert enhancer_availability(name) == (True, "")
    enh = create_enhancer(name)
    assert "enhancers" in enh.weights_path.parts and enh.weights_path.parent.name == "weights"
    assert sha256_file(enh.weights_path) == enh.weights_spec.sha256 == enh.weights_sha256


@pytest.mark.parametrize("name,fname", [("zero_dce", "Epoch99.pth"), ("zero_dce_pp", "Epoch99.pth"),
                                        ("ruas.upe", "upe.pt"), ("retinexformer.SID", "SID.pth")])
def test_unshipped_weights_fail_fast_with_instructions(name, fname, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("LEDBENCH_WEIGHTS", raising=False)
    ok, why = enhancer_availability(name)
    assert not ok and fname in why
    with pytest.raises(WeightsUnavailable, match="ledbench weights import"):
        create_enhancer(name)


@pytest.mark.assets
def test_zero_dce_and_pp_weights_do_not_collide(tmp_path, monkeypatch):
    """Both releases are called Epoch99.pth: the sha256 keeps them apart (the wrong file is refused)."""
    from ledbench.bench.errors import ChecksumError

    pp = _asset("weights", "zero_dce_pp", "Epoch99.pth")
    with pytest.raises(ChecksumError):
        create_enhancer("zero_dce", weights=str(pp))


def test_catalog_import_does_not_import_torch():
    code = ("import sys, ledbench.enhancers._catalog; from ledbench.enhancers import ENHANCERS, list_enhancers; "
            "assert all(n in ENHANCERS for n in ('zero_dce', 'sci', 'ruas', 'iat', 'retinexformer')); "
            "list_enhancers('clahe*'); print('torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
