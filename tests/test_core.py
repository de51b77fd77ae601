"""Harness core: registry, configs, weights resolution, cache, runner stages, results, CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ledbench.bench.config import build_config, config_hash, parse_overrides
from ledbench.bench.errors import ChecksumError, ConfigError, UnknownNameError, WeightsUnavailable
from ledbench.bench.registry import Registry

sys.path.insert(0, str(Path(__file__).parent))
import tiny_dataset  # noqa: E402

tiny_dataset.register()


# -- import hygiene ---------------------------------------------------------------------------------------------

def test_import_ledbench_does_not_import_torch():
    """Registries, catalogs and listing stay torch-free; only listing the weight tags of a torch enhancer (which
    imports its class, the one place the tags are declared) imports torch."""
    code = ("import sys, ledbench, ledbench.enhancers, ledbench.tasks, ledbench.datasets, ledbench.tasks.metrics, "
            "ledbench.bench.registry; assert 'sci' in ledbench.enhancers.ENHANCERS; "
            "ledbench.enhancers.list_enhancers('clahe*'); ledbench.tasks.list_tasks(); "
            "ledbench.datasets.list_datasets(); ledbench.tasks.metrics.list_metrics(); "
            "bad = [m for m in ('torch', 'ultralytics', 'transformers', 'open_clip', 'cv2', 'timm') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


# -- registry ---------------------------------------------------------------------------------------------------

def test_registry_lazy_target_did_you_mean_and_wildcards():
    reg: Registry = Registry("thing")
    reg.register("alpha_one", "json:dumps")
    reg.register("alpha_two", "json:loads", aliases=("a2",))
    reg.register("beta10", "json:dumps")
    reg.register("beta9", "json:dumps")
    assert not reg.entry("alpha_one").is_loaded
    assert reg.get("alpha_one") is json.dumps and reg.entry("alpha_one").is_loaded
    assert reg.get("a2") is json.loads
    assert reg.names("beta*") == ["beta9", "beta10"]  # natural sort
    assert reg.names(exclude="beta*") == ["alpha_one", "alpha_two"]
    with pytest.raises(UnknownNameError, match="did you mean 'alpha_one'"):
        reg.get("alpha_on")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("beta9", "json:loads")
    with pytest.raises(ValueError, match="invalid"):
        reg.register("a+b", "json:loads")
    reg.freeze()
    with pytest.raises(RuntimeError):
        reg.register("gamma", "json:loads")


def test_registry_base_class_check():
    reg: Registry = Registry("thing", base_cls=dict)
    reg.register("bad", "json:dumps")
    with pytest.raises(TypeError):
        reg.get("bad")


def test_unknown_enhancer_suggests():
    from ledbench.enhancers import create_enhancer

    with pytest.raises(UnknownNameError, match="did you mean 'clahe'"):
        create_enhancer("clahee")
    with pytest.raises(ConfigError, match="file path"):
        create_enhancer("weights/model.pth")


# -- configs ----------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Cfg:
    a: int = 1
    b: float = 0.5
    names: tuple[str, ...] = ("x",)
    flag: bool = False


def test_config_hash_is_sha256_of_canonical_json_and_stable():
    cfg = _Cfg(a=2)
    text = '{"a":2,"b":0.5,"flag":false,"names":["x"]}'
    assert config_hash(cfg) == hashlib.sha256(text.encode()).hexdigest()
    assert config_hash(_Cfg(a=2)) == config_hash(cfg) != config_hash(_Cfg())


def test_build_config_coerces_and_rejects_unknown_keys():
    cfg = build_config(_Cfg, parse_overrides(["a=3", "b=1", "names=p,q", "flag=true"]))
    assert cfg == _Cfg(a=3, b=1.0, names=("p", "q"), flag=True)
    with pytest.raises(ConfigError, match=r"unknown key 'aa' \(did you mean 'a'\?\).*valid keys: a, b, flag, names"):
        build_config(_Cfg, {"aa": 1})
    with pytest.raises(ConfigError, match="expects an integer"):
        build_config(_Cfg, {"a": "x"})
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["oops"])


# -- weights ----------------------------------------------------------------------------------------------------

def test_weights_resolution_order_checksum_and_unavailable(tmp_path, monkeypatch):
    from ledbench.bench.weights import WeightsSpec, import_weights, resolve_weights

    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path / "home"))
    payload = b"weights!"
    digest = hashlib.sha256(payload).hexdigest()
    spec = WeightsSpec(filename="m.pth", sha256=digest, url="https://example.invalid/m.pth")
    with pytest.raises(WeightsUnavailable, match="m.pth not found.*ledbench weights import DIR"):
        resolve_weights(spec, what="toy")
    src = tmp_path / "downloads"
    src.mkdir()
    (src / "m.pth").write_bytes(payload)
    rows = import_weights(src, {"toy": spec})
    assert rows[0][2] == "imported"
    assert resolve_weights(spec) == tmp_path / "home" / "weights" / "m.pth"
    assert import_weights(src, {"toy": spec})[0][2] == "already present"
    # a second folder earlier in the search order wins
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "m.pth").write_bytes(payload)
    monkeypatch.setenv("LEDBENCH_WEIGHTS", str(extra))
    assert resolve_weights(spec) == extra / "m.pth"
    # a corrupted copy is refused, naming the file
    (extra / "m.pth").write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="extra/m.pth"):
        resolve_weights(spec)
    # offline: download=True fails fast, naming the unreachable host and the import route (not `weights fetch`)
    monkeypatch.delenv("LEDBENCH_WEIGHTS")
    (tmp_path / "home" / "weights" / "m.pth").unlink()
    with pytest.raises(WeightsUnavailable, match="cannot reach example.invalid.*ledbench weights import DIR"):
        resolve_weights(spec, what="toy", download=True)


# -- enhancer contract ------------------------------------------------------------------------------------------

def _enhancer_names():
    from ledbench.enhancers import list_enhancers

    return list_enhancers(cascades=False)  # cascades: see test_cascade_is_stages_in_order


@pytest.mark.parametrize("name", _enhancer_names())
def test_enhancer_contract(name):
    """Every registered enhancer: N x 3 x H x W in [0, 1] -> same shape and range, deterministic, stable hash."""
    import torch

    from ledbench.enhancers import create_enhancer, enhancer_availability

    available, _ = enhancer_availability(name)
    try:
        enh = create_enhancer(name, pretrained=available)
    except WeightsUnavailable as exc:  # e.g. needs CLIP weights that cannot exist offline
        pytest.skip(str(exc)[:120])
    torch.manual_seed(0)
    x = torch.rand(2, 3, 29, 35) * 0.3
    y1, y2 = enh.enhance(x), enh.enhance(x)
    assert y1.shape == x.shape and y1.dtype == torch.float32
    assert float(y1.min()) >= 0.0 and float(y1.max()) <= 1.0
    assert torch.equal(y1, y2)
    assert enh.config_hash == create_enhancer(name, pretrained=available).config_hash
    with pytest.raises(Exception, match="N x 3 x H x W"):
        enh.enhance(torch.rand(3, 8, 8))


def test_cascade_is_stages_in_order():
    import torch

    from ledbench.enhancers import create_enhancer

    x = torch.rand(1, 3, 16, 20) * 0.3
    cas = create_enhancer("gamma+unsharp")
    expected = create_enhancer("unsharp").enhance(create_enhancer("gamma").enhance(x))
    assert cas.name == "gamma+unsharp"
    assert torch.equal(cas.enhance(x), expected)
    assert cas.config_hash != create_enhancer("unsharp+gamma").config_hash


def test_classical_match_scikit_image():
    import torch
    from skimage.exposure import adjust_gamma
    from skimage.filters import unsharp_mask

    from ledbench.enhancers import create_enhancer

    img = np.random.default_rng(1).random((20, 24, 3)) * 0.4
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    out = create_enhancer("gamma", gamma=0.4).enhance(x)[0].permute(1, 2, 0).double().numpy()
    np.testing.assert_allclose(out, adjust_gamma(img.astype(np.float32).astype(np.float64), 0.4), atol=1e-6)
    out = create_enhancer("unsharp", radius=1.5, amount=0.7).enhance(x)[0].permute(1, 2, 0).double().numpy()
    ref = np.clip(unsharp_mask(img.astype(np.float32).astype(np.float64), radius=1.5, amount=0.7,
                               channel_axis=2), 0, 1)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    # auto_gamma maps the mean luma near its target
    ag = create_enhancer("auto_gamma", target_mean=0.5).enhance(x)[0].permute(1, 2, 0).double().numpy()
    assert abs((ag @ [0.299, 0.587, 0.114]).mean() - 0.5) < 0.08


def test_deconvolution_sharpens_motion_blur():
    """Richardson-Lucy and Wiener with the true PSF bring a blurred image closer to the sharp one."""
    import torch
    from scipy.ndimage import convolve

    from ledbench.enhancers import create_enhancer
    from ledbench.enhancers.classical import motion_psf

    rng = np.random.default_rng(0)
    sharp = np.kron(rng.random((8, 8, 3)), np.ones((6, 6, 1))) * 0.8 + 0.1  # blocky image with edges
    psf = motion_psf(7, 0.0)
    blurred = np.stack([convolve(sharp[..., c], psf, mode="reflect") for c in range(3)], -1)
    x = torch.from_numpy(blurred).permute(2, 0, 1)[None].float()
    err_blur = np.abs(blurred - sharp)[6:-6, 6:-6].mean()
    for name in ("richardson_lucy", "wiener"):
        out = create_enhancer(name, psf_length=7, num_iter=10, balance=0.1).enhance(x)[0]
        err = np.abs(out.permute(1, 2, 0).double().numpy() - sharp)[6:-6, 6:-6].mean()
        assert err < 0.8 * err_blur, (name, err, err_blur)


# -- metrics ----------------------------------------------------------------------------------------------------

def _wang_ssim(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """SSIM as Wang et al. 2004 define it (their ``ssim_index.m``): an 11 x 11 Gaussian window (sigma 1.5, weights
    summing to 1) slid over every position where it fits inside the image ('valid'), weighted means / variances /
    covariance per window, K1 = 0.01, K2 = 0.03, mean of the map. Written here with explicit windows, independently
    of scikit-image's filter-then-crop code that the metric calls."""
    from numpy.lib.stride_tricks import sliding_window_view

    t = np.arange(-5, 6, dtype=np.float64)
    g = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()
    wx, wy = sliding_window_view(x, (11, 11)), sliding_window_view(y, (11, 11))
    mx, my = (wx * g).sum((-1, -2)), (wy * g).sum((-1, -2))
    vx = (wx ** 2 * g).sum((-1, -2)) - mx ** 2
    vy = (wy ** 2 * g).sum((-1, -2)) - my ** 2
    cxy = (wx * wy * g).sum((-1, -2)) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return float((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))).mean())


def _score(name, pred, ref):
    from ledbench.tasks.metrics import create_metric

    m = create_metric(name)
    m.update(pred, ref, "a")
    return m.compute()[name]


def test_psnr_ssim_match_independent_references():
    """psnr / ssim / psnr_y / ssim_y against formulas written in the test (MSE by hand, Wang et al.'s windowed SSIM,
    BT.601 luma by hand), not against the library call the metrics make."""
    rng = np.random.default_rng(3)
    ref = rng.random((40, 48, 3))
    pred = np.clip(ref + 0.1 * rng.standard_normal(ref.shape), 0, 1)
    assert _score("psnr", pred, ref) == pytest.approx(10 * np.log10(1.0 / np.mean((ref - pred) ** 2)), abs=1e-10)
    wang = np.mean([_wang_ssim(pred[..., c], ref[..., c], 1.0) for c in range(3)])  # RGB: mean over channels
    assert _score("ssim", pred, ref) == pytest.approx(wang, abs=1e-10)
    luma = lambda im: 16.0 + im @ np.array([65.481, 128.553, 24.966])  # BT.601 studio range, 0..255 scale
    yr, yp = luma(ref), luma(pred)
    assert _score("psnr_y", pred, ref) == pytest.approx(10 * np.log10(255.0 ** 2 / np.mean((yr - yp) ** 2)), abs=1e-8)
    assert _score("ssim_y", pred, ref) == pytest.approx(_wang_ssim(yp, yr, 255.0), abs=1e-8)
    assert 0.5 < wang < 0.99 and _score("ssim", ref, ref) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_constant_images_is_the_closed_form():
    """Two flat images a and b: every window has zero variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1) exactly."""
    a, b = 0.2, 0.4
    c1 = (0.01 * 1.0) ** 2
    got = _score("ssim", np.full((16, 16, 3), b), np.full((16, 16, 3), a))
    assert got == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-9)  # 0.80010 (not 1 - |a-b|)
    assert _score("psnr", np.full((8, 8, 3), b), np.full((8, 8, 3), a)) == pytest.approx(-20 * np.log10(0.2))


def test_metric_accumulator_mean_and_stderr():
    from ledbench.tasks.metrics import create_metric

    rng = np.random.default_rng(0)
    m = create_metric("psnr")
    vals = []
    for i in range(4):
        ref = rng.random((8, 8, 3))
        pred = np.clip(ref + 0.05 * (i + 1) * rng.standard_normal(ref.shape), 0, 1)
        m.update(pred, ref, f"i{i}")
        vals.append(10 * np.log10(1 / np.mean((ref - pred) ** 2)))
    assert m.compute()["psnr"] == pytest.approx(np.mean(vals))
    assert m.stderr()["psnr"] == pytest.approx(np.std(vals, ddof=1) / 2)
    assert set(m.per_image()) == {"i0", "i1", "i2", "i3"}


# -- cache ------------------------------------------------------------------------------------------------------

def test_cache_keys_splice_the_identity_json_exactly():
    """Keys built with the identity's JSON serialised once equal sha256(canonical_json(whole mapping))."""
    from ledbench.bench.cache import CACHE_FORMAT, Identity, enhanced_key, prediction_key, score_key
    from ledbench.bench.config import canonical_json, sha256_text

    ident = {"name": "gamma", "config": {"gamma": 0.4, "nan": float("nan"), "t": (1, 2), "ü": True, "n": None},
             "weights_sha256": None, "tile": 0}
    for wrapped in (ident, Identity(ident)):
        assert enhanced_key(wrapped, "h1") == sha256_text(canonical_json(
            {"v": CACHE_FORMAT, "stage": "enhance", "enhancer": ident, "input": "h1"}))
        assert prediction_key(wrapped, "k\"2") == sha256_text(canonical_json(
            {"v": CACHE_FORMAT, "stage": "predict", "task": ident, "image": "k\"2"}))
        assert score_key(wrapped, "p", "ref:é") == sha256_text(canonical_json(
            {"v": CACHE_FORMAT, "stage": "score", "metric": ident, "pred": "p", "target": "ref:é"}))


def test_cache_roundtrip_is_bit_identical(tmp_path):
    from ledbench.bench.cache import Cache

    cache = Cache(tmp_path)
    img = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    cache.put_enhanced("ab" * 32, img)
    assert np.array_equal(cache.get_enhanced("ab" * 32), img)
    pred = {"boxes": np.arange(8, dtype=np.float32).reshape(2, 4), "labels": np.array([1, 3])}
    cache.put_prediction("cd" * 32, pred)
    got = cache.get_prediction("cd" * 32)
    assert all(np.array_equal(got[k], v) and got[k].dtype == v.dtype for k, v in pred.items())
    assert cache.get_enhanced("ef" * 32) is None
    assert dict(cache.stats) == {"enhance_hit": 1, "predict_hit": 1, "enhance_miss": 1}
    assert not list(tmp_path.rglob("*.tmp"))


# -- runner -----------------------------------------------------------------------------------------------------

def _run(tmp_path, **kw):
    from ledbench.bench.runner import RunConfig, run

    cfg = RunConfig(name="t", dataset="tiny_pairs", enhancers=("identity", "gamma", "clahe+unsharp"),
                    tasks=("quality",), metrics=("psnr", "ssim"), out=str(tmp_path / "run"),
                    cache_dir=str(tmp_path / "cache"), quiet=True, device="cpu", **kw)
    return run(cfg)


def test_run_writes_results_and_second_run_is_served_from_cache(tmp_path):
    from ledbench.bench.results import RESULT_COLUMNS, read_results
    from ledbench.enhancers import create_enhancer

    # quantisation written here with numpy (round half to even, as PNG writers of float images do), not the code's
    quantise = lambda x: np.rint(np.clip(np.asarray(x, np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    first = _run(tmp_path)
    assert first.cache_stats.get("enhance_computed") == 9 and not first.cache_stats.get("enhance_hit")
    df = read_results(first.run_dir)
    assert list(df.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS
    assert len(df) == 3 * 2  # enhancers x metrics
    assert set(df["protocol"]) == {"full_reference"} and df["higher_is_better"].all()
    assert (df["n_images"] == 3).all() and (df["n_images_total"] == 3).all()
    # identity's PSNR equals a hand computation on the quantised input
    from ledbench.datasets import create_dataset

    ds = create_dataset("tiny_pairs")
    vals = []
    for item in ds:
        out = quantise(item.load_input()).astype(np.float32) / np.float32(255)  # the cached PNG read back (float32)
        err = out.astype(np.float64) - item.load_reference().astype(np.float64)
        vals.append(10 * np.log10(1 / np.mean(err ** 2)))
    got = df[(df.enhancer == "identity") & (df.metric == "psnr")]["value"].item()
    assert got == pytest.approx(np.mean(vals), abs=1e-9)
    # gamma's cached PNG is exactly the quantised fresh computation
    import torch

    enh = create_enhancer("gamma")
    fresh = quantise(enh.enhance(torch.from_numpy(ds[0].load_input()).permute(2, 0, 1)[None])[0]
                     .permute(1, 2, 0).numpy())
    from ledbench.bench.cache import Cache, enhanced_key

    cached = Cache(tmp_path / "cache").get_enhanced(enhanced_key(enh.identity(), ds[0].input_hash()))
    assert np.array_equal(fresh, cached)

    second = _run(tmp_path)
    assert second.cache_stats.get("enhance_hit") == 9 and not second.cache_stats.get("enhance_computed")
    # each (enhancer, metric) result over the group comes back whole: no image is loaded or rescored
    assert second.cache_stats.get("group_hit") == 3 * 2 and not second.cache_stats.get("score_computed")
    df2 = read_results(second.run_dir)
    assert df2["value"].tolist() == df["value"].tolist()
    assert (second.run_dir / "per_image.csv").read_bytes() == (first.run_dir / "per_image.csv").read_bytes()
    # the bootstrap statistics come back from the cache with the same frame (column types included) and file
    import pandas as pd

    assert second.manifest["statistics"]["from_cache"] and "from_cache" not in first.manifest["statistics"]
    pd.testing.assert_frame_equal(second.statistics, first.statistics, check_exact=True)
    assert (second.run_dir / "statistics.csv").read_bytes() == (first.run_dir / "statistics.csv").read_bytes()
    # without the group results, the per-image scores are served from the cache: nothing is rescored either
    import shutil

    shutil.rmtree(tmp_path / "cache" / "groups")
    third = _run(tmp_path, exist_ok=True)
    assert third.cache_stats.get("score_hit") == 3 * 3 * 2 and not third.cache_stats.get("score_computed")
    assert read_results(third.run_dir)["value"].tolist() == df["value"].tolist()
    manifest = json.loads((second.run_dir / "manifest.json").read_text())
    for key in ("versions", "git", "device", "seeds", "wall_time_s", "run_config", "dataset"):
        assert key in manifest
    per_image = (second.run_dir / "per_image.csv").read_text().splitlines()
    assert len(per_image) == 1 + 3 * 2 * 3


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_prefetch_keeps_order_and_passes_read_errors_through(workers):
    import threading

    from ledbench.bench.errors import InputError
    from ledbench.bench.runner import prefetch

    threads = set()

    def load(k):
        threads.add(threading.current_thread().name)
        if k == 5:
            raise InputError("cannot read image '5.png'")
        return k * k

    got = list(prefetch(list(range(12)), load, workers))
    assert [k for k, _ in got] == list(range(12))
    assert [v for k, v in got if k != 5] == [k * k for k in range(12) if k != 5]
    assert isinstance(got[5][1], InputError)
    assert all(t.startswith("ledbench-read") for t in threads) == (workers > 0)
    # any failure of one read is that unit's failure (issue 12: a plugin's exception never aborts the run)
    got = list(prefetch([1, 2], lambda k: (_ for _ in ()).throw(RuntimeError("model bug")), workers))
    assert [type(v) for _, v in got] == [RuntimeError, RuntimeError]


def test_run_results_do_not_depend_on_reader_threads(tmp_path):
    from ledbench.bench.results import read_results

    bad = tmp_path / "extra"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    serial = _run(tmp_path / "a", dataset_args={"root": str(bad)}, workers=0)
    threaded = _run(tmp_path / "b", dataset_args={"root": str(bad)}, workers=3, batch=2)
    assert serial.errors == threaded.errors
    assert read_results(serial.run_dir)["value"].tolist() == read_results(threaded.run_dir)["value"].tolist()


def test_run_skips_corrupt_image_and_records_it(tmp_path):
    from ledbench.bench.errors import InputError
    from ledbench.bench.results import read_results

    bad = tmp_path / "extra"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = _run(tmp_path, dataset_args={"root": str(bad)})
    assert [e["item"] for e in out.errors] == ["broken"] * 3
    df = read_results(out.run_dir)
    assert (df["n_images"] == 3).all() and (df["n_images_total"] == 4).all()
    with pytest.raises(InputError, match="broken.png"):
        _run(tmp_path, dataset_args={"root": str(bad)}, on_error="fail")


def test_run_skips_unavailable_enhancer_with_the_fix(tmp_path):
    from ledbench.bench.runner import RunConfig, run
    from ledbench.bench.weights import WeightsSpec
    from ledbench.enhancers.base import TorchEnhancer
    from ledbench.enhancers.registry import ENHANCERS

    class NeedsWeights(TorchEnhancer):
        weights_tags = {"v1": WeightsSpec(filename="nowhere_v1.pth", url="https://example.invalid/nowhere.pth")}
        default_tag = "v1"

    ENHANCERS.register("needs_weights_test", NeedsWeights, overwrite=True)
    cfg = RunConfig(name="t", dataset="tiny_pairs", enhancers=("identity", "needs_weights_test"),
                    out=str(tmp_path / "r"), cache_dir=str(tmp_path / "c"), quiet=True, device="cpu")
    out = run(cfg)
    assert [s.name for s in out.skipped] == ["needs_weights_test"]
    assert "nowhere_v1.pth" in out.skipped[0].reason and "ledbench weights" in out.skipped[0].reason


def test_out_of_memory_names_the_size_and_the_tiling_fix(tmp_path):
    """A model that runs out of memory on a large input gives an error with the fix, tiling then works, and a run
    records the failing image and goes on."""
    import torch

    from ledbench.bench.errors import OutOfMemory
    from ledbench.bench.runner import RunConfig, run
    from ledbench.enhancers.base import TorchEnhancer, is_out_of_memory
    from ledbench.enhancers.registry import ENHANCERS

    class Brighten(torch.nn.Module):
        def forward(self, x):
            if x.shape[-2] * x.shape[-1] > 40 * 40:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return x * 0.5 + 0.25  # pointwise: tiled and whole-image outputs agree exactly

    class MemoryHungry(TorchEnhancer):
        requires_weights = False  # no learned weights: the runner may create it

        def build_model(self):
            return Brighten()

    x = torch.rand(2, 3, 64, 48)
    with pytest.raises(OutOfMemory, match=r"2 x 3 x 64 x 48 batch .*tile=512.*or batch=1"):
        MemoryHungry(pretrained=False).enhance(x)
    y = MemoryHungry(pretrained=False, tile=32, tile_overlap=8).enhance(x)
    torch.testing.assert_close(y, x * 0.5 + 0.25)
    with pytest.raises(OutOfMemory, match=r"with tile=128: set tile=64"):
        MemoryHungry(pretrained=False, tile=128).enhance(x)
    from ledbench.enhancers import create_enhancer
    from ledbench.enhancers.base import Cascade

    with pytest.raises(OutOfMemory, match=r"^memory_hungry: out of memory"):  # names the stage, not the cascade
        Cascade([create_enhancer("gamma"), MemoryHungry(name="memory_hungry", pretrained=False)]).enhance(x)
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))

    ENHANCERS.register("memory_hungry_test", MemoryHungry, overwrite=True)
    cfg = RunConfig(name="t", dataset="tiny_pairs", dataset_args={"size": 48}, out=str(tmp_path / "r"),
                    enhancers=("identity", "memory_hungry_test"), cache_dir=str(tmp_path / "c"), quiet=True,
                    device="cpu")
    out = run(cfg)
    assert {r.enhancer for r in out.rows} >= {"identity"}
    failures = [e for e in out.errors if e["enhancer"] == "memory_hungry_test"]
    assert failures and all("tile=512" in e["error"] for e in failures)


def test_run_config_rejects_unknown_key(tmp_path):
    from ledbench.bench.runner import load_run_config

    f = tmp_path / "r.yaml"
    f.write_text("dataset: tiny_pairs\nenhancer: [identity]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'enhancer' \(did you mean 'enhancers'\?\)"):
        load_run_config(f)
    f.write_text("dataset: tiny_pairs\nenhancers: [identity]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'tiles' \(did you mean 'tile'\?\)"):
        load_run_config(f, {"tiles": "512"})  # an override key is checked the same way


# -- CLI --------------------------------------------------------------------------------------------------------

def _cli(*args, env=None, cwd=None):
    import os

    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "ledbench.bench.cli", *args], capture_output=True, text=True,
                          env=e, cwd=cwd, timeout=600)


def test_cli_errors_are_one_line_with_suggestions(tmp_path):
    res = _cli("enhance", "clahee", str(tmp_path), str(tmp_path / "o"))
    assert res.returncode == 2
    assert "did you mean 'clahe'" in res.stderr and "Traceback" not in res.stderr
    res = _cli("enhance", "clahe", str(tmp_path / "missing"), str(tmp_path / "o"))
    assert res.returncode == 2 and "missing" in res.stderr and "Traceback" not in res.stderr
    res = _cli("run", "enhancer=identity")
    assert res.returncode == 2 and "valid keys" in res.stderr
    res = _cli("--help")
    assert res.returncode == 0 and "examples:" in res.stdout


def test_cli_unwritable_output_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = _cli("run", "enhancers=identity", "metrics=psnr", f"out={blocker}/run", "dataset=synth_mini", "limit=1")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"run directory '{blocker}/run' is not writable" in res.stderr
    res = _cli("run", "enhancers=identity", "metrics=psnr", f"out={tmp_path}/ok", f"cache_dir={blocker}/cache",
               "dataset=synth_mini", "limit=1")
    assert res.returncode == 2 and f"cache directory '{blocker}/cache' is not writable" in res.stderr
    res = _cli("run", "dataset=folder:/nonexistent/night", f"out={tmp_path}/x")
    assert res.returncode == 2 and "/nonexistent/night" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_cli_enhance_folder(tmp_path):
    from ledbench.bench.imageio import read_image, write_png

    src = tmp_path / "in" / "sub"
    src.mkdir(parents=True)
    write_png(src / "a.png", np.full((10, 12, 3), 0.2, dtype=np.float32))
    res = _cli("enhance", "gamma", str(tmp_path / "in"), str(tmp_path / "out"), "gamma=0.5", "--device", "cpu",
               "-q")
    assert res.returncode == 0, res.stderr
    out = read_image(tmp_path / "out" / "sub" / "a.png")
    assert out.shape == (10, 12, 3) and abs(float(out.mean()) - 0.2 ** 0.5) < 0.01


def test_registry_loads_entry_point_plugins(monkeypatch):
    import importlib.metadata as md

    def fake_entry_points(group=None):
        assert group == "ledbench.test_plugins"
        return [md.EntryPoint(name="third_party", value="json:dumps", group=group)]

    monkeypatch.setattr(md, "entry_points", fake_entry_points)
    reg: Registry = Registry("thing", entry_point_group="ledbench.test_plugins")
    reg.register("builtin", "json:loads")
    assert reg.names() == ["builtin", "third_party"]
    assert reg.get("third_party") is json.dumps and reg.entry("third_party").meta == {"plugin": True}


def test_weights_cli_imports_official_files_and_enables_them(tmp_path):
    """`ledbench weights import` copies the real Zero-DCE / Zero-DCE++ / RUAS files (both Zero-DCE releases are
    called Epoch99.pth: the sha256 tells them apart), after which the enhancers are available and verify passes.
    Those files are not redistributable, so this needs ``$LEDBENCH_ASSETS`` or ``../shared/assets``."""
    import os

    from asset_files import require

    for rel in ("zero_dce/Epoch99.pth", "zero_dce_pp/Epoch99.pth", "ruas/lol.pt"):
        require("weights", *rel.split("/"))
    weights_dir = require("weights", "zero_dce", "Epoch99.pth").parent.parent
    env = dict(os.environ, LEDBENCH_HOME=str(tmp_path / "home"))
    res = _cli("list", "enhancers", "--filter", "zero_dce*", "-v", env=env)
    assert "weights missing" in res.stdout
    res = _cli("weights", "import", str(weights_dir), env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("imported") >= 3 and "refused" not in res.stdout
    res = _cli("list", "enhancers", "--filter", "zero_dce*", "--exclude", "*+*", "-v", env=env)
    assert res.returncode == 0 and "weights missing" not in res.stdout and "available" in res.stdout
    res = _cli("weights", "verify", env=env)
    assert res.returncode == 0 and "MISMATCH" not in res.stdout
    # a tampered copy is refused by verify
    victim = next((tmp_path / "home" / "weights").rglob("Epoch99.pth"))
    victim.write_bytes(b"not a checkpoint")
    res = _cli("weights", "verify", env=env)
    assert res.returncode == 1 and "MISMATCH" in res.stdout


def test_checkpoint_with_python_objects_needs_trust_weights(tmp_path):
    """A checkpoint that stores Python objects (URetinex-style argparse options) is refused by the safe loader with
    a message naming the fix, and loads with trust_weights=True."""
    import argparse

    import torch

    from ledbench.enhancers import create_enhancer

    state = create_enhancer("sci", pretrained=False).model.state_dict()
    path = tmp_path / "with_opts.pt"
    torch.save({"params": state, "opts": argparse.Namespace(lr=1e-4)}, path)
    with pytest.raises(WeightsUnavailable, match="trust_weights=True"):
        create_enhancer("sci", weights=str(path))
    enh = create_enhancer("sci", weights=str(path), trust_weights=True)
    assert all(torch.equal(v, enh.model.state_dict()[k]) for k, v in state.items())


def test_run_records_a_failing_task_prediction_and_scores_the_rest(tmp_path):
    """A task model that fails on one image is recorded (on_error=skip): the other images are still scored."""
    from ledbench.bench.results import read_results
    from ledbench.bench.runner import RunConfig, run
    from ledbench.tasks.base import Task
    from ledbench.tasks.registry import TASKS

    class Brightness(Task):
        """'Segments' pixels brighter than the image mean; fails on flat images (the injected item)."""

        kind = "segmentation"
        default_metrics = ("miou",)

        def predict(self, images):
            out = []
            for img in images:
                if float(np.ptp(img)) == 0.0:  # the one item from `root`, a flat grey image, fails
                    raise RuntimeError("model exploded")
                out.append({"mask": (img.mean(-1) > img.mean()).astype(np.int64)})
            return out

    TASKS.register("seg_brightness_test", Brightness, overwrite=True)
    extra = tmp_path / "extra"
    extra.mkdir()
    from ledbench.bench.imageio import write_png

    write_png(extra / "odd.png", np.full((24, 32, 3), 0.2, np.float32))
    cfg = RunConfig(name="t", dataset="tiny_pairs", dataset_args={"root": str(extra)}, enhancers=("identity",),
                    tasks=("seg_brightness_test",), out=str(tmp_path / "r"), cache_dir=str(tmp_path / "c"),
                    quiet=True, device="cpu", batch=4)
    out = run(cfg)
    failed = [(e["enhancer"], e["item"], e["stage"], e["task"]) for e in out.errors]
    assert failed == [("identity", "odd", "predict", "seg_brightness_test")], out.errors
    df = read_results(out.run_dir)
    row = df[(df.enhancer == "identity") & (df.metric == "miou") & (df.protocol == "pseudo_gt")]
    assert row["n_images"].item() == 3 and row["n_images_total"].item() == 4


def test_gt_mean_metrics_follow_retinexformer_script():
    """GT-mean rescaling uses cv2.COLOR_BGR2GRAY on RGB arrays (Retinexformer --GT_mean); a globally darkened copy of
    the reference scores infinite PSNR after rescaling, a structural error does not."""
    import cv2

    from ledbench.tasks.metrics import create_metric
    from ledbench.tasks.quality import gt_mean_rescale

    rng = np.random.default_rng(5)
    ref = rng.random((32, 40, 3)).astype(np.float32) * 0.8
    pred = (ref * np.array([0.3, 0.5, 0.7], np.float32)).astype(np.float32)
    scale = cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY).mean() / cv2.cvtColor(pred, cv2.COLOR_BGR2GRAY).mean()
    np.testing.assert_allclose(gt_mean_rescale(pred.astype(np.float64), ref.astype(np.float64)),
                               np.clip(pred * scale, 0, 1), atol=1e-6)
    darker = ref * 0.4
    m = create_metric("psnr_gtmean")
    m.update(darker, ref, "a")
    assert m.compute()["psnr_gtmean"] > 60  # exact up to float rounding
    plain = create_metric("psnr")
    plain.update(darker, ref, "a")
    assert plain.compute()["psnr"] < 15
    s = create_metric("ssim_gtmean")
    s.update(np.clip(ref + 0.2 * rng.standard_normal(ref.shape), 0, 1), ref, "b")
    assert s.compute()["ssim_gtmean"] < 0.9


def test_interrupted_run_resumes_from_finished_units(tmp_path):
    """A run killed mid-way keeps every finished (item, stage) unit; the re-run computes only the rest."""
    import torch

    from ledbench.bench.runner import RunConfig, run
    from ledbench.enhancers.base import Enhancer
    from ledbench.enhancers.registry import ENHANCERS

    calls = {"n": 0, "crash_at": 3}

    class Flaky(Enhancer):
        """Halves the image; simulates a crash (Ctrl-C, OOM kill) on its ``crash_at``-th call."""

        def _enhance(self, x):
            calls["n"] += 1
            if calls["n"] == calls["crash_at"]:
                raise KeyboardInterrupt
            return x * 0.5 + torch.zeros_like(x)

    ENHANCERS.register("flaky_test", Flaky, overwrite=True)
    cfg = RunConfig(name="t", dataset="tiny_pairs", enhancers=("flaky_test",), metrics=("psnr",),
                    out=str(tmp_path / "r"), cache_dir=str(tmp_path / "c"), quiet=True, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        run(cfg)
    assert not (tmp_path / "r" / "results.csv").exists()
    assert len(list((tmp_path / "c" / "enhanced").rglob("*.png"))) == 2
    calls.update(n=0, crash_at=-1)
    out = run(cfg)
    assert out.cache_stats["enhance_hit"] == 2 and out.cache_stats["enhance_computed"] == 1 and calls["n"] == 1
    assert out.rows[0].n_images == 3


def test_unpaired_folder_gets_no_reference_scores_only(tmp_path):
    """Real night photos without ground truth: no-reference metrics are scored; full-reference ones produce no
    rows rather than fake ones, and detection (no labels, no reference) only its label-free statistics."""
    from ledbench.bench.imageio import write_png
    from ledbench.bench.results import read_results
    from ledbench.bench.runner import RunConfig, run

    rng = np.random.default_rng(0)
    for i in range(2):
        write_png(tmp_path / "night" / f"n{i}.png", (rng.random((100, 200, 3)) * 0.2).astype(np.float32))
    cfg = RunConfig(name="t", dataset=f"folder:{tmp_path / 'night'}", enhancers=("identity", "gamma"),
                    tasks=("quality", "det_yolo_fastest"), metrics=("psnr", "niqe"), out=str(tmp_path / "r"),
                    cache_dir=str(tmp_path / "c"), quiet=True, device="cpu", include_reference=True)
    out = run(cfg)
    df = read_results(out.run_dir)
    assert set(df["metric"]) == {"niqe", "dets_per_image", "det_conf"}
    assert set(df["protocol"]) == {"no_reference", "label_free"}
    assert set(df[df["protocol"] == "no_reference"]["metric"]) == {"niqe"}
    assert sorted(set(df["enhancer"])) == ["gamma", "identity"] and (df["n_images_total"] == 2).all()


def test_plan_memo_fingerprint_follows_files_not_folders(tmp_path, monkeypatch):
    """The memo's environment fingerprint changes when a file under a watched folder is added, removed or
    rewritten, and not when Python writes bytecode beside the sources."""
    import os

    from ledbench.bench.plans import PlanMemo, environment_fingerprint

    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path / "home"))
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text("x = 1\n")
    fp0 = environment_fingerprint([src])
    (src / "pkg" / "__pycache__").mkdir()
    (src / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    assert environment_fingerprint([src]) == fp0
    (tmp_path / "home" / "weights").mkdir(parents=True)
    (tmp_path / "home" / "weights" / "w.pth").write_bytes(b"w")
    fp1 = environment_fingerprint([src])
    assert fp1 != fp0
    st = os.stat(src / "pkg" / "mod.py")
    (src / "pkg" / "mod.py").write_text("x = 2\n")
    os.utime(src / "pkg" / "mod.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert environment_fingerprint([src]) != fp1
    from ledbench.bench.cache import Cache

    site = tmp_path / "lib" / "site-packages"
    (site / "ultralytics-8.0.dist-info").mkdir(parents=True)
    monkeypatch.setattr("sys.path", [*__import__("sys").path, str(site)])
    fp2 = environment_fingerprint([src])
    (site / "ultralytics-8.0.dist-info").rename(site / "ultralytics-8.1.dist-info")  # an upgraded package
    assert environment_fingerprint([src]) not in (fp2, fp1)
    memo = PlanMemo(Cache(tmp_path / "cache"), fp1)
    memo.put({"kind": "enhancer", "name": "gamma"}, {"available": True, "identity": {"name": "gamma"}})
    assert memo.get({"kind": "enhancer", "name": "gamma"})["identity"] == {"name": "gamma"}
    assert PlanMemo(Cache(tmp_path / "cache"), fp0).get({"kind": "enhancer", "name": "gamma"}) is None
    assert not PlanMemo(Cache(tmp_path / "cache"), None).enabled
