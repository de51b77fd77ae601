"""LPIPS, LEDNet-protocol SSIM, NIQE and CLIP-IQA: hand computations, reference values and offline behaviour.

Reference values marked ``pyiqa 0.1.16`` / ``BasicSR 1.4.2`` were computed once with those packages (pyiqa in a
throw-away virtual environment, NIQE with the same pristine parameters converted to pyiqa's .mat format) on the
deterministic image pair built by :func:`_pair`; they are calibration constants in the style of pyiqa's
``ResultsCalibra``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ledbench.bench.errors import InputError, WeightsUnavailable
from ledbench.tasks.metrics import create_metric, list_metrics, metric_directions


def _pair(seed: int = 0, h: int = 64, w: int = 80):
    """Deterministic smooth 'scene' and a noisy, darker copy, both uint8-quantised, RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.5 + 0.4 * np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in (0.0, 1.0, 2.0)], -1)
    ref = np.round(np.clip(base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1) * 255) / 255
    deg = np.round(np.clip(0.7 * ref + 0.08 * rng.standard_normal((h, w, 3)), 0, 1) * 255) / 255
    return deg, ref


def _score(name, a, b=None, **cfg):
    m = create_metric(name, **cfg)
    m.update(a, b, "x")
    return m.compute()[name]


# -- SSIM, LEDNet / pyiqa protocol ------------------------------------------------------------------------------

def _hand_ssim_yiq(a, b):
    """pyiqa's SSIM written out: Y of YIQ x 255 rounded, 2-D 11x11 Gaussian, 'valid' 2-D convolution, relu(cs)."""
    from scipy.signal import convolve2d

    def y(img):  # float32 like pyiqa's tensors: values near .5 must round the same way
        a, w = img.astype(np.float32), np.array([0.299, 0.587, 0.114], np.float32)
        return np.round((a[..., 0] * w[0] + a[..., 1] * w[1] + a[..., 2] * w[2]) * np.float32(255)).astype(float)

    x1, x2 = y(a), y(b)
    ax = np.arange(11) - 5.0
    win = np.exp(-(ax[:, None] ** 2 + ax[None] ** 2) / (2 * 1.5 ** 2))
    win /= win.sum()

    def f(z):
        return convolve2d(z, win, mode="valid")

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    m1, m2 = f(x1), f(x2)
    v1, v2, v12 = f(x1 * x1) - m1 ** 2, f(x2 * x2) - m2 ** 2, f(x1 * x2) - m1 * m2
    cs = np.maximum((2 * v12 + c2) / (v1 + v2 + c2), 0)
    return np.mean((2 * m1 * m2 + c1) / (m1 ** 2 + m2 ** 2 + c1) * cs)


def test_ssim_pyiqa_equals_hand_computation_and_pyiqa_reference():
    deg, ref = _pair()
    ours = _score("ssim_pyiqa", deg, ref)
    assert ours == pytest.approx(_hand_ssim_yiq(deg, ref), abs=1e-12)
    assert ours == pytest.approx(0.4805840679035731, abs=1e-6)  # pyiqa 0.1.16 create_metric('ssim')
    assert _score("ssim_pyiqa", ref, ref) == pytest.approx(1.0, abs=1e-12)


def test_ssim_lednet_is_pyiqa_on_bgr_arrays():
    deg, ref = _pair()
    ours = _score("ssim_lednet", deg, ref)
    assert ours == pytest.approx(0.4846751815295795, abs=1e-6)  # pyiqa 0.1.16 ssim on the channel-swapped arrays
    assert ours == pytest.approx(_score("ssim_pyiqa", deg[..., ::-1], ref[..., ::-1]), abs=1e-12)
    assert abs(ours - _score("ssim_pyiqa", deg, ref)) > 1e-3  # the quirk matters on coloured images


def test_ssim_inputs_are_checked():
    deg, ref = _pair()
    with pytest.raises(InputError):
        _score("ssim_lednet", deg, ref[:-1])
    with pytest.raises(InputError):
        _score("ssim_pyiqa", deg[:8, :8], ref[:8, :8])


# -- NIQE -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed,which,basicsr,pyiqa", [
    (1, 0, 20.632441340608807, 20.63243692057903),
    (1, 1, 16.796940714379563, 16.795042219307927),
    (2, 0, 19.09271433066679, 19.092707364419365),
])
def test_niqe_matches_basicsr_and_pyiqa(seed, which, basicsr, pyiqa):
    img = _pair(seed, 200, 260)[which]
    ours = _score("niqe", img)
    # BasicSR 1.4.2 basicsr.metrics.niqe.niqe on the same rounded Y of YIQ; pyiqa 0.1.16 create_metric('niqe')
    assert ours == pytest.approx(basicsr, rel=2e-5)
    assert ours == pytest.approx(pyiqa, rel=2e-4)


def test_niqe_params_are_packaged_and_checked():
    from ledbench.bench.weights import find_local, sha256_file
    from ledbench.tasks.niqe import NIQE_PARAMS

    path = find_local(NIQE_PARAMS)
    assert path is not None and sha256_file(path) == NIQE_PARAMS.sha256
    m = create_metric("niqe")
    assert m.requires_reference is False and metric_directions("niqe") == {"niqe": False}
    with pytest.raises(InputError, match="96 x 96"):
        _score("niqe", np.zeros((50, 200, 3)))


def test_matlab_imresize_known_values():
    from ledbench.tasks.niqe import matlab_imresize

    const = np.full((9, 13), 7.0)
    np.testing.assert_allclose(matlab_imresize(const, 0.5), 7.0, atol=1e-12)
    assert matlab_imresize(const, 0.5).shape == (5, 7)  # MATLAB: ceil(9 / 2), ceil(13 / 2)
    ramp = np.tile(np.arange(16, dtype=float), (4, 1))
    # a linear ramp stays linear away from the borders: output sample j sits at input position 2j + 0.5 (0-based)
    out = matlab_imresize(ramp, 0.5)[0]
    np.testing.assert_allclose(out[2:6], 2 * np.arange(2, 6) + 0.5, atol=1e-12)


# -- LPIPS ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def random_vgg(tmp_path_factory):
    """A randomly initialised torchvision VGG-16, and its features saved as a torchvision-style state dict."""
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    from types import SimpleNamespace

    torch.manual_seed(0)
    features = tv.models.vgg.make_layers(tv.models.vgg.cfgs["D"])  # VGG-16's trunk, same layer indices
    path = tmp_path_factory.mktemp("vgg") / "random_vgg16_features.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return SimpleNamespace(features=features), path


def test_lpips_pipeline_with_random_trunk_matches_lpips_package(random_vgg, monkeypatch):
    import lpips
    import lpips.pretrained_networks as pn
    import torch

    vgg, path = random_vgg
    deg, ref = _pair(0, 48, 48)
    ours = _score("lpips", deg, ref, backbone_weights=str(path))
    assert ours > 0 and _score("lpips", ref, ref, backbone_weights=str(path)) == pytest.approx(0.0, abs=1e-7)
    # independent route: the lpips package building its own trunk, handed our random VGG in place of ImageNet's
    monkeypatch.setattr(pn.tv, "vgg16", lambda *a, **k: vgg)
    ref_net = lpips.LPIPS(net="vgg", version="0.1", verbose=False).eval()

    def t(a):
        return torch.from_numpy(a.transpose(2, 0, 1)[None].astype(np.float32))

    with torch.no_grad():
        want = float(ref_net(t(deg), t(ref), normalize=True))
    assert ours == pytest.approx(want, rel=1e-5)
    # LEDNet variant = the same network on channel-swapped images
    quirk = _score("lpips_lednet", deg, ref, backbone_weights=str(path))
    assert quirk == pytest.approx(_score("lpips", deg[..., ::-1], ref[..., ::-1], backbone_weights=str(path)),
                                  rel=1e-6)


def test_lpips_without_trunk_weights_fails_fast_with_the_fix(monkeypatch, tmp_path):
    import time

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no torch.hub cached copy either
    deg, ref = _pair()
    t0 = time.time()
    with pytest.raises(WeightsUnavailable) as err:
        _score("lpips", deg, ref)
    msg = str(err.value)
    assert "vgg16-397923af.pth" in msg and "download.pytorch.org" in msg and "weights import" in msg
    assert time.time() - t0 < 5


def test_lpips_lin_layers_come_from_the_lpips_wheel_with_checksum():
    from ledbench.bench.weights import sha256_file
    from ledbench.tasks.lpips import LPIPS_WEIGHTS, _lin_path

    path = _lin_path("vgg", None)
    assert path.name == "vgg.pth" and sha256_file(path) == LPIPS_WEIGHTS["vgg_lin"].sha256


# -- CLIP-IQA -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    torch = pytest.importorskip("torch")
    open_clip = pytest.importorskip("open_clip")
    d = tmp_path_factory.mktemp("tinyclip")
    cfg = {"embed_dim": 16,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (d / "ledbench-tiny-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(d / "ledbench-tiny-clip.json")
    torch.manual_seed(0)
    model = open_clip.create_model("ledbench-tiny-clip").eval()
    path = d / "tiny_clip.pt"
    torch.save(model.state_dict(), path)
    return model, path


def test_clip_iqa_with_tiny_random_open_clip(tiny_clip):
    import open_clip
    import torch

    from ledbench.tasks.clip_iqa import CLIPIQA

    model, path = tiny_clip
    deg, ref = _pair(0, 40, 56)
    m = create_metric("clip_iqa", model="ledbench-tiny-clip", pretrained="random-test", weights=str(path))
    m.update(deg, None, "a")
    m.update(ref, None, "b")
    per = m.per_image()
    assert 0.0 < per["a"]["clip_iqa"] < 1.0 and per["a"]["clip_iqa"] != per["b"]["clip_iqa"]
    # by hand with open_clip: softmax(logit_scale * cos(image, [good, bad]))[good]
    tok = open_clip.get_tokenizer("ledbench-tiny-clip")
    with torch.no_grad():
        x = CLIPIQA.preprocess(m, deg, 32, open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)
        f = model.encode_image(x)
        t = model.encode_text(tok(["Good photo.", "Bad photo."]))
        f, t = f / f.norm(dim=-1, keepdim=True), t / t.norm(dim=-1, keepdim=True)
        want = torch.softmax(model.logit_scale.exp() * f @ t.T, -1)[0, 0].item()
    assert per["a"]["clip_iqa"] == pytest.approx(want, rel=1e-5)
    assert metric_directions("clip_iqa") == {"clip_iqa": True} and m.requires_reference is False


def test_clip_iqa_default_weights_unavailable_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.cache/clip copy
    with pytest.raises(WeightsUnavailable) as err:
        _score("clip_iqa", _pair()[0])
    assert "ViT-B-32.pt" in str(err.value) and "openaipublic" in str(err.value)


def test_registry_lists_quality_extra_metrics():
    names = list_metrics()
    for n in ("lpips", "lpips_lednet", "ssim_lednet", "ssim_pyiqa", "niqe", "clip_iqa"):
        assert n in names
    assert metric_directions("lpips") == {"lpips": False}
    assert metric_directions("ssim_lednet") == {"ssim_lednet": True}


@pytest.mark.parametrize("name", ["psnr", "ssim", "psnr_y", "niqe"])
def test_integer_or_0_255_images_are_refused_not_scored(name):
    """uint8 pixels (or floats on a 0..255 scale) would give a plausible wrong number (PSNR about -22 dB): one line
    says to divide by 255; the same images in [0, 1] score normally."""
    img = (np.random.default_rng(0).random((96, 192, 3)) * 255).astype(np.uint8)
    metric = create_metric(name)
    for bad in (img, img.astype(np.float32)):
        with pytest.raises(InputError, match="255"):
            metric(bad, bad) if metric.requires_reference else metric(bad)
    good = img / 255.0
    value = metric(good, good) if metric.requires_reference else metric(good)
    assert np.isfinite(value) or value == np.inf
