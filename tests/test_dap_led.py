"""DAP-LED re-implementation: shapes, gradients, ablation parameter counts, overfitting, resume, DDP, profiling.

Everything runs offline on the ``tiny`` preset with an in-process tiny open_clip config (random CLIP weights: a test
fixture only, never a DAP-LED model). Independent references: hand-computed parameter formulas and Restormer's
published size (26.13 M parameters, Zamir et al. CVPR 2022, Table 1) for the ``base`` backbone.
"""

from __future__ import annotations

import socket
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

from ledbench.bench.errors import ConfigError  # noqa: E402
from ledbench.enhancers import create_enhancer  # noqa: E402
from ledbench.enhancers import dap_led as D  # noqa: E402
from ledbench.enhancers import dap_led_train as T  # noqa: E402
from ledbench.enhancers.dap_led_losses import DAPLEDLoss, charbonnier  # noqa: E402

warnings.filterwarnings("ignore", message=".*RANDOM weights.*")

TINY = dict(preset="tiny", clip_model=D.TINY_CLIP_NAME, clip_pretrained="", clip_random_init=True)
RUNS = Path(__file__).resolve().parent.parent / "runs"


def tiny_cfg(**kw) -> D.DAPLEDConfig:
    return D.resolve_config(D.DAPLEDConfig(**{**TINY, **kw}))


def tiny_net(seed: int = 0, **kw) -> D.DAPLEDNet:
    torch.manual_seed(seed)
    return D.DAPLEDNet(tiny_cfg(**kw))


def n_trainable(m) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A random tiny full-model checkpoint in the trainer's export format."""
    path = tmp_path_factory.mktemp("dapled") / "tiny_full.pt"
    net = tiny_net(1)
    T.export_weights(path, net, net.cfg)
    return path, net


# -- enhancer: shapes, range, tiles, heatmaps -----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 21, 30)])
def test_enhancer_shape_range_odd_sizes(tiny_weights, shape):
    path, net = tiny_weights
    torch.manual_seed(1)  # the random test CLIP is not in the checkpoint: rebuild the same one
    enh = create_enhancer("dap_led", weights=str(path), **TINY)
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    y = enh.enhance(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    # the padded network output, cropped, is what the enhancer returns (reflect padding to a multiple of 8)
    h, w = shape[-2:]
    with torch.no_grad():
        ref = T.run_padded(net.eval(), x).clamp(0, 1)
    assert torch.allclose(y, ref, atol=1e-5)
    tiled = create_enhancer("dap_led", weights=str(path), tile=32, tile_overlap=8, **TINY).enhance(x)
    assert tiled.shape == x.shape and float(tiled.min()) >= 0 and float(tiled.max()) <= 1


def test_checkpoint_architecture_mismatch_is_reported(tiny_weights):
    path, _ = tiny_weights
    with pytest.raises(ConfigError, match="different architecture.*cetb"):
        create_enhancer("dap_led", weights=str(path), cetb=False, **TINY)


def test_save_heatmaps(tiny_weights, tmp_path):
    from PIL import Image

    path, _ = tiny_weights
    enh = create_enhancer("dap_led", weights=str(path), **TINY)
    x = torch.rand(1, 3, 40, 56)
    files = D.save_heatmaps(enh, x, tmp_path, "img")
    cfg = enh.config
    assert len(files) == len(cfg.prompt_names) * len(cfg.clip_scales)
    arr = np.asarray(Image.open(files[0]))
    assert arr.shape == (40, 56) and arr.dtype == np.uint8
    maps = enh.heatmaps(x)
    # heatmap = softmax over the (degraded, clean) prompt pair, probability of "degraded": inside [0, 1]
    assert all(float(m.min()) >= 0 and float(m.max()) <= 1 for m in maps.values())
    # window mode: a scale-s token covers s * 8 px (tiny CLIP patch 8): ceil(40/8) x ceil(56/8), ceil(20/8) x ceil(28/8)
    assert tuple(maps["darkness_s1"].shape[-2:]) == (5, 7) and tuple(maps["darkness_s2"].shape[-2:]) == (3, 4)
    noclip = tiny_net(clip_prior=False)
    p2 = tmp_path / "noclip.pt"
    T.export_weights(p2, noclip, noclip.cfg)
    enh2 = create_enhancer("dap_led", weights=str(p2), **{**TINY, "clip_prior": False})
    with pytest.raises(ConfigError, match="no CLIP prior"):
        D.save_heatmaps(enh2, x, tmp_path, "img")


def test_heatmap_matches_hand_computed_softmax():
    net = tiny_net()
    clip = net.clip
    tok = torch.nn.functional.normalize(torch.randn(1, clip.embed_dim, 2, 3), dim=1)
    hm = clip.heatmap(tok)
    t = clip.text_emb  # K x 2 x E
    k, i, j = 1, 1, 2
    a = float(tok[0, :, i, j] @ t[k, 0]) * 100.0
    b = float(tok[0, :, i, j] @ t[k, 1]) * 100.0
    assert hm[0, k, i, j].item() == pytest.approx(1.0 / (1.0 + np.exp(b - a)), rel=1e-4)


def test_full_model_needs_clip_weights_offline():
    ok, why = D.DAPLED.availability(None)
    assert not ok and "no public DAP-LED checkpoint" in why and "clip_checkpoint" in why
    ok, why = D.clip_weights_status(D.DAPLEDConfig())
    assert not ok and "CLIP weights unavailable" in why
    with pytest.raises(Exception, match="CLIP weights unavailable"):
        D.ClipPrior(D.DAPLEDConfig(preset="tiny"))  # ViT-B-32/openai: not cached, offline


# -- gradients ------------------------------------------------------------------------------------------------------

def test_gradients_reach_every_trainable_parameter_and_never_clip():
    net = tiny_net()
    net.train()
    loss_fn = DAPLEDLoss(w_identity=0.5, w_clip=0.5, clip=net.clip)
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    clip_before = [p.detach().clone() for p in net.clip.parameters()]
    total, parts = loss_fn(net(x), y, x)
    assert all(float(v) > 0 for v in parts.values())
    total.backward()
    for name, p in net.named_parameters():
        assert p.requires_grad
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    assert all(not p.requires_grad and p.grad is None for p in net.clip.parameters())
    assert not any(k.startswith("clip") or "visual" in k for k in net.state_dict())
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(clip_before, net.clip.parameters()))
    net.clip.train()
    assert not net.clip.training and not net.clip.visual.training  # the CLIP tower never leaves eval mode


# -- ablation switches ----------------------------------------------------------------------------------------------

def _conv(i, o, k=1, bias=True):
    return i * o * k * k + (o if bias else 0)


def test_ablation_switches_change_parameter_count_as_expected():
    cfg = tiny_cfg()
    d, nb, nref = cfg.dim, cfg.num_blocks, cfg.num_refinement_blocks
    hid, ccm = cfg.cetb_hidden, cfg.ccm_dim
    heat = len(cfg.prompts) * len(cfg.clip_scales)
    emb, lat = D.TINY_CLIP_CONFIG["embed_dim"], 8 * d
    stages = [(4 * d, nb[2]), (2 * d, nb[1]), (2 * d, nb[0]), (2 * d, nref)]  # dec3, dec2, dec1, refinement

    def cond(cin):  # CeTB scale/shift predictor of every conditioned block
        return sum(n * (_conv(cin, hid) + _conv(hid, 4 * c)) for c, n in stages)

    heat_embed = 4 * (_conv(heat, ccm, 3) + _conv(ccm, ccm, 3))
    fuse = 2 * lat + _conv(lat, lat) + 2 * _conv(emb, lat) + _conv(lat, lat) + _conv(emb, 2 * lat)

    backbone = n_trainable(tiny_net(clip_prior=False))
    assert n_trainable(tiny_net()) == backbone + fuse + heat_embed + cond(ccm)
    assert n_trainable(tiny_net(ccm=False)) == backbone + cond(heat)
    assert n_trainable(tiny_net(cetb=False)) == backbone + fuse
    assert n_trainable(tiny_net(ccm=False, cetb=False)) == backbone
    assert n_trainable(tiny_net(cetb_refinement=False)) == backbone + fuse + 3 * heat_embed // 4 + cond(ccm) - nref * (
        _conv(ccm, hid) + _conv(hid, 8 * d))


def test_base_backbone_has_restormer_size():
    # Restormer (dim 48, [4,6,6,8], 4 refinement blocks, heads [1,2,4,8], ffn 2.66, no bias): 26.13 M parameters
    net = D.DAPLEDNet(D.DAPLEDConfig(preset="base", clip_prior=False))
    assert round(n_trainable(net) / 1e6, 2) == 26.13


# -- training -------------------------------------------------------------------------------------------------------

def test_tiny_model_overfits_one_pair():
    torch.manual_seed(0)
    net = D.DAPLEDNet(tiny_cfg(clip_prior=False))
    g = torch.Generator().manual_seed(0)
    y = torch.rand(1, 3, 32, 32, generator=g)
    x = (y * 0.2 + 0.02 * torch.rand(1, 3, 32, 32, generator=g)).clamp(0, 1)  # dark + noisy version
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0)
    losses = []
    for _ in range(80):
        opt.zero_grad()
        loss = charbonnier(net(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.25 * losses[0], (losses[0], losses[-1])


def _train_overrides(out, **kw):
    base = dict(out=str(out), synth_images=["skimage:immunohistochemistry"], synth_val_images=["skimage:colorwheel"],
                synth_variants=1, synth_max_side=64, val_size=32, iters=4, patch_sizes=[32, 40], batch_sizes=[2, 1],
                stage_iters=[2, 2], warmup_iters=1, val_every=2, ckpt_every=2, log_every=1, device="cpu",
                tensorboard=False, keep_checkpoints=True, w_identity=0.1, w_clip=0.1, resume="", **TINY)
    base.update(kw)
    return base


def _losses(out):
    import csv

    with open(out / "train_log.csv") as fh:
        return {int(r["iter"]): (float(r["loss"]), float(r["charb"]), float(r["identity"]), float(r["clip"]))
                for r in csv.DictReader(fh)}


def test_checkpoint_roundtrip_and_exact_resume(tmp_path):
    a = tmp_path / "a"
    assert T.train_main(None, _train_overrides(a)) == 0
    full = _losses(a)
    assert set(full) == {1, 2, 3, 4} and all(v[2] > 0 and v[3] > 0 for v in full.values())
    b = tmp_path / "b"
    T.train_main(None, _train_overrides(b, resume=str(a / "iter_2.pt")))
    resumed = _losses(b)
    assert set(resumed) == {3, 4}
    for it in (3, 4):
        assert resumed[it] == full[it]  # bit-identical next-step losses
    fa = torch.load(a / "final.pt", weights_only=True)["model"]
    fb = torch.load(b / "final.pt", weights_only=True)["model"]
    assert all(torch.equal(fa[k], fb[k]) for k in fa)
    # weights-only export -> enhancer gives the same output as the trained network
    torch.manual_seed(5)
    net = D.DAPLEDNet(tiny_cfg())
    net.load_state_dict(fa)
    torch.manual_seed(5)  # same random test CLIP (CLIP weights are never part of a DAP-LED checkpoint)
    enh = create_enhancer("dap_led", weights=str(a / "final.pt"), **TINY)
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert torch.allclose(enh.enhance(x), net.eval()(x).clamp(0, 1), atol=1e-6)
    val = (a / "val_log.csv").read_text().splitlines()
    assert val[0] == "iter,psnr,ssim,n" and len(val) == 3


def test_train_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="stage_iters"):
        T.load_configs(None, {"iters": 5, "stage_iters": [2, 2], "patch_sizes": [32, 32], "batch_sizes": [1, 1]})
    with pytest.raises(ConfigError, match="did you mean"):
        T.load_configs(None, {"iterz": 5})
    with pytest.raises(ConfigError, match="both synth_images and synth_val_images"):
        T.load_configs(None, {"synth_val_images": ["skimage:brick"]})
    with pytest.raises(ConfigError, match="synth_mini benchmark images"):
        T.load_configs(None, {"synth_images": ["skimage:brick", "ultralytics:bus.jpg"]})
    T.load_configs(None, {"synth_images": ["ultralytics:bus.jpg"], "allow_benchmark_images": True})
    tc, mc = T.load_configs(None, {"model.clip_prior": "false", "preset": "tiny", "lr": 1e-3})
    assert mc.clip_prior is False and mc.dim == 8 and tc.lr == 1e-3
    assert T.lr_at(tc, tc.iters - 1) == pytest.approx(tc.min_lr, abs=1e-6)
    assert T.schedule(tc, 0) == (tc.patch_sizes[0], tc.batch_sizes[0])


def test_validation_uses_the_benchmark_metrics_on_quantised_outputs():
    """validate() = mean of skimage PSNR / SSIM (the benchmark's psnr / ssim settings) of uint8-quantised outputs."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    net = tiny_net(clip_prior=False)
    rng = np.random.default_rng(0)
    pairs = [(rng.random((20, 28, 3)).astype(np.float32), rng.random((20, 28, 3)).astype(np.float32))
             for _ in range(2)]
    got = T.validate(net, pairs, torch.device("cpu"), 0)
    ps, ss = [], []
    for x, y in pairs:
        with torch.no_grad():
            o = T.run_padded(net.eval(), torch.from_numpy(x).permute(2, 0, 1)[None])[0].clamp(0, 1)
        o = np.round(o.permute(1, 2, 0).numpy().astype(np.float64) * 255) / 255
        ps.append(peak_signal_noise_ratio(y.astype(np.float64), o, data_range=1.0))
        ss.append(structural_similarity(y.astype(np.float64), o, data_range=1.0, channel_axis=2,
                                        gaussian_weights=True, sigma=1.5, use_sample_covariance=False))
    assert got["psnr"] == pytest.approx(np.mean(ps), rel=1e-6) and got["ssim"] == pytest.approx(np.mean(ss), rel=1e-5)
    assert got["n"] == 2


# -- DDP ------------------------------------------------------------------------------------------------------------

def _batch():
    g = torch.Generator().manual_seed(3)
    return torch.rand(4, 3, 32, 32, generator=g), torch.rand(4, 3, 32, 32, generator=g)


@pytest.mark.slow
def test_ddp_step_matches_single_process(tmp_path):
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp.pt"
    train_kw = dict(w_identity=0.1, w_clip=0.1, grad_clip=0.01)
    mp.spawn(T.ddp_step_worker, args=(2, port, str(out), TINY, train_kw, _batch()), nprocs=2, join=True)
    net = tiny_net(0)
    tcfg = T.TrainConfig(**train_kw)
    crit = T.make_criterion(net, tcfg, net.cfg)
    opt = T.make_optimizer(net, tcfg)
    start = {k: v.detach().clone() for k, v in net.state_dict().items()}
    x, y = _batch()
    T.train_step(net, crit, opt, None, x, y, lr=1e-3, grad_clip=0.01, amp=False)
    ddp = torch.load(out, weights_only=True)
    moved = 0
    for k, v in net.state_dict().items():
        assert torch.allclose(ddp[k], v, atol=1e-6, rtol=1e-5), k
        moved += int(not torch.equal(v, start[k]))
    assert moved > 10  # the step did change the weights


def test_default_training_images_are_disjoint_from_synth_mini():
    """Pixel-level check against the benchmark's own source list (datasets/synth_mini.py)."""
    sm = pytest.importorskip("ledbench.datasets.synth_mini")
    from ledbench.bench.imageio import read_image

    bench = []
    for pkg, rel in sm.SOURCES.values():
        path = sm.source_path(pkg, rel)
        if path is not None:
            bench.append(read_image(path))
    assert bench
    for src in T.DEFAULT_TRAIN_IMAGES + T.DEFAULT_VAL_IMAGES:
        img = T.load_sharp(src)
        for ref in bench:
            assert not (img.shape == ref.shape and np.abs(img - ref).max() < 2 / 255), src


def test_ablation_runfile_trains_every_variant(tmp_path):
    import csv

    import yaml

    shared = _train_overrides(tmp_path / "abl", iters=2, stage_iters=[1, 1], val_every=2, ckpt_every=2,
                              keep_checkpoints=False)
    shared["variants"] = {"no_cetb": {"cetb": False}, "no_clip": {"clip_prior": False, "w_identity": 0, "w_clip": 0}}
    rf = tmp_path / "abl.yaml"
    rf.write_text(yaml.safe_dump(shared))
    assert T.train_main(str(rf), {}) == 0
    with open(tmp_path / "abl" / "ablation.csv") as fh:
        rows = {r["variant"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"no_cetb", "no_clip"}
    assert rows["no_clip"]["clip_prior"] == "False" and rows["no_cetb"]["cetb"] == "False"
    assert float(rows["no_cetb"]["params_m"]) > float(rows["no_clip"]["params_m"])  # the CCM fusion parameters
    assert (tmp_path / "abl" / "no_clip" / "final.pt").is_file()
    assert "| no_cetb | yes | yes | no |" in (tmp_path / "abl" / "ablation.md").read_text()


@pytest.mark.parametrize("tag, image", [("noclip_synth", "matplotlib:grace_hopper.jpg"),
                                        ("noclip_natural", "skimage:coins")])
def test_shipped_noclip_checkpoint_restores_a_held_out_image(tag, image):
    """The packaged no-CLIP ablations load (sha256-checked) and beat the degraded input on a held-out image."""
    from ledbench.datasets.synthesis import synthesize

    ok, why = D.DAPLED.availability(tag)
    if not ok:
        pytest.skip(why)
    enh = create_enhancer(f"dap_led_small.{tag}")
    assert enh.weights_sha256 == D.DAPLED.weights_tags[tag].sha256
    assert enh.config.clip_prior is False and enh.model.clip is None
    y = T.load_sharp(image, 256)  # in neither the checkpoint's training set nor synth_mini
    x, _ = synthesize(y, severity=3, seed=0)
    out = enh.enhance(torch.from_numpy(x).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    from ledbench.tasks.metrics import create_metric

    psnr, ssim = create_metric("psnr"), create_metric("ssim")
    assert psnr.score(out, y) > psnr.score(x, y) + 2.0
    assert ssim.score(out, y) > ssim.score(x, y) + 0.05


def test_cli_enhance_save_heatmaps(tmp_path):
    """`ledbench enhance dap_led_small --weights FILE --save-heatmaps` writes the output and one PNG per
    degradation and scale (tiny random CLIP registered in-process; never shipped)."""
    from ledbench.bench.cli import main
    from ledbench.bench.imageio import read_image, write_png
    from ledbench.enhancers import create_enhancer

    D.register_tiny_clip_config()
    enh = create_enhancer("dap_led_small", pretrained=False, **TINY)
    ckpt = tmp_path / "tiny.pt"
    torch.save(enh.model.state_dict(), ckpt)
    src = tmp_path / "in"
    write_png(src / "night.png", np.full((40, 56, 3), 0.1, np.float32))
    args = ["enhance", "dap_led_small", str(src), str(tmp_path / "out"), "--weights", str(ckpt), "--device", "cpu",
            "-q", "--save-heatmaps"] + [f"{k}={v}" for k, v in TINY.items()]
    assert main(args) == 0
    assert read_image(tmp_path / "out" / "night.png").shape == (40, 56, 3)
    heat = sorted(p.name for p in (tmp_path / "out" / "heatmaps").glob("*.png"))
    assert heat and all(name.startswith("night_heat_") for name in heat)
    assert {n.split("_heat_")[1].split("_s")[0] for n in heat} >= {"darkness", "blur", "noise"}


# -- data: the benchmark's datasets, on-the-fly synthesis -----------------------------------------------------------

_CODES = {"low_blur": 40, "low_blur_noise": 80, "high_sharp_scaled": 160}


def make_fake_lolblur(root, videos=None, frames=3, size=(24, 40)):
    """A LOL-Blur-shaped tree; pixel (R, G, B) = (folder code, 16 * video index, 16 * frame index)."""
    from ledbench.bench.imageio import write_png

    videos = videos or {"train": ["0000", "0001"], "test": ["0012", "0017"]}
    for split, vids in videos.items():
        for vi, vid in enumerate(vids):
            for f in range(frames):
                for folder, code in _CODES.items():
                    img = np.zeros((*size, 3), np.float32)
                    img[..., 0], img[..., 1], img[..., 2] = code / 255, 16 * vi / 255, 16 * f / 255
                    write_png(root / split / folder / vid / f"{f:04d}.png", img)
    return root


def _codes(img):
    return tuple(int(round(float(img[..., c].mean()) * 255)) for c in range(3))


def test_lolblur_pairing_follows_the_lednet_protocol(tmp_path):
    root = make_fake_lolblur(tmp_path / "LOLBlur")
    tcfg, _ = T.load_configs(None, {"data": f"lolblur:{root}", "val_data": f"lolblur:{root}", **TINY})
    train = T.resolve_data(tcfg.data, tcfg, "train")
    assert len(train) == 2 * 3
    seen = set()
    for item in train:
        x, y = T._as_arrays(item)
        cx, cy = _codes(x), _codes(y)
        assert cx[0] == _CODES["low_blur_noise"] and cy[0] == _CODES["high_sharp_scaled"]  # default LEDNet pair
        assert cx[1:] == cy[1:]  # same video and frame
        seen.add(cx[1:])
    assert seen == {(16 * v, 16 * f) for v in range(2) for f in range(3)}
    val = T.resolve_data(tcfg.val_data, tcfg, "val")
    assert {str(it.input).split("/test/")[1].split("/")[1] for it in val} == {"0012", "0017"}  # the test split
    tcfg2, _ = T.load_configs(None, {"data": f"lolblur:{root}", "lolblur_input": "low_blur", "val_stride": 2,
                                     "val_data": f"lolblur:{root}", **TINY})
    assert all(_codes(T._as_arrays(it)[0])[0] == _CODES["low_blur"] for it in T.resolve_data(tcfg2.data, tcfg2,
                                                                                             "train"))
    assert len(T.resolve_data(tcfg2.val_data, tcfg2, "val")) == 2 * 2  # frames 0 and 2 of each test video
    with pytest.raises(ConfigError, match="not a LOL-Blur folder"):
        T.resolve_data(tcfg.data, T.TrainConfig(data=f"lolblur:{root}", lolblur_input="low"), "train")


def test_benchmark_image_files_are_refused_as_training_data(tmp_path):
    import shutil

    from ledbench.datasets.synth_mini import SOURCES, source_path

    src = source_path(*SOURCES["skimage/camera"])
    if src is None:
        pytest.skip("scikit-image's camera.png is not installed")
    shutil.copy(src, tmp_path / "renamed.png")
    tcfg = T.TrainConfig(data=f"sharp:{tmp_path}", synth_mode="fly")
    with pytest.raises(ConfigError, match="synth_mini's image"):
        T.resolve_data(tcfg.data, tcfg, "train")


def test_folder_data_uses_the_folder_dataset(tmp_path):
    from ledbench.bench.imageio import write_png

    for i in range(3):
        write_png(tmp_path / "pairs" / "dark" / f"{i}.png", np.full((16, 16, 3), 0.1 * i, np.float32))
        write_png(tmp_path / "pairs" / "clean" / f"{i}.png", np.full((16, 16, 3), 0.1 * i + 0.5, np.float32))
    tcfg = T.TrainConfig(data=f"folder:{tmp_path / 'pairs'}", pair_input="dark", pair_reference="clean")
    items = T.resolve_data(tcfg.data, tcfg, "train")
    for it in items:
        x, y = T._as_arrays(it)
        assert float(y.mean() - x.mean()) == pytest.approx(0.5, abs=1 / 255)


def test_on_the_fly_synthesis_is_fresh_per_crop_and_reproducible():
    rng = np.random.default_rng(0)
    sharp = [np.clip(rng.random((80, 96, 3)) * 0.5 + 0.4, 0, 1).astype(np.float32)]
    ds = T.SynthPatchDataset(sharp, seed=3, augment=True, severities=(2, 3, 4), scale=(0.5, 1.0))
    a, b = ds[(5, 0, 0, 32)], ds[(5, 0, 0, 32)]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # a pure function of (seed, step, rank, slot)
    c = ds[(5, 0, 1, 32)]
    assert not torch.equal(a[0], c[0])  # another slot: another crop and another degradation
    for x, y in (a, c):
        assert x.shape == y.shape == (3, 32, 32)
        assert float(x.min()) >= 0 and float(x.max()) <= 1
        assert float(x.mean()) < 0.6 * float(y.mean())  # darkened (severity >= 2: exposure <= 0.25 linear)


def test_resume_truncates_the_logs_to_the_checkpoint(tmp_path):
    import csv

    log = tmp_path / "train_log.csv"
    log.write_text("iter,loss\n" + "".join(f"{i},{i / 10}\n" for i in range(1, 7)))
    T.truncate_log(log, 4)
    with open(log) as fh:
        assert [int(r["iter"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4]
    a = tmp_path / "a"
    assert T.train_main(None, _train_overrides(a, w_identity=0, w_clip=0)) == 0
    # a run killed after its iteration-2 checkpoint and restarted in the same folder: every iteration logged once
    T.train_main(None, _train_overrides(a, w_identity=0, w_clip=0, resume=str(a / "iter_2.pt")))
    with open(a / "train_log.csv") as fh:
        assert [int(r["iter"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4]
    with open(a / "val_log.csv") as fh:
        assert [int(r["iter"]) for r in csv.DictReader(fh)] == [2, 4]


def test_training_never_writes_into_the_package(tmp_path):
    import ledbench.enhancers as E

    pkg = Path(E.__file__).parent
    with pytest.raises(ConfigError, match="inside the ledbench package"):
        T.resolve_export(T.TrainConfig(out=str(tmp_path), export=str(pkg / "weights" / "x.pt")))
    # relative export paths are relative to out/, so the old `export: enhancers/weights/...` lands in out/
    p = T.resolve_export(T.TrainConfig(out=str(tmp_path), export="enhancers/weights/x.pt"))
    assert p == (tmp_path / "enhancers" / "weights" / "x.pt").resolve()
    assert T.resolve_export(T.TrainConfig(out=str(tmp_path), export=str(pkg / "x.pt"), allow_package_write=True))
    with pytest.raises(ConfigError, match="out=.*inside the ledbench package"):
        T.train_main(None, _train_overrides(pkg / "weights" / "run"))
    checkout = Path(T.package_dirs()[0]).parent
    if (checkout / "pyproject.toml").is_file():  # a source checkout: only its runs/ folder takes outputs
        assert T.inside_package(checkout / "docs" / "x.pt")
        assert not T.inside_package(checkout / "runs" / "dap_led_lolblur" / "x.pt")


def test_lolblur_runfile_dry_run(tmp_path):
    """runs/dap_led_lolblur.yaml, a few iterations on a fake tree (tiny preset + tiny random CLIP instead of base +
    ViT-B-32): trains, validates on the fixed test subset and exports the best weights inside out/."""
    import csv

    root = make_fake_lolblur(tmp_path / "LOLBlur", frames=4, size=(32, 48))
    out = tmp_path / "run"
    over = dict(out=str(out), data=f"lolblur:{root}", val_data=f"lolblur:{root}", iters=4, stage_iters=[2, 2],
                patch_sizes=[32, 24 + 8], batch_sizes=[2, 1], lr_hold_iters=2, val_every=2, ckpt_every=2,
                log_every=1, num_workers=0, device="cpu", tensorboard=False, **TINY)
    tcfg, mcfg = T.load_configs(str(RUNS / "dap_led_lolblur.yaml"), over)
    assert mcfg.clip_prior and mcfg.ccm and mcfg.cetb and tcfg.max_wall_minutes == 0
    assert not Path(tcfg.export).is_absolute()
    assert T.train_main(str(RUNS / "dap_led_lolblur.yaml"), over) == 0
    assert (out / "dap_led_lolblur.pt").is_file() and (out / "best.pt").is_file()
    with open(out / "val_log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["iter"]) for r in rows] == [2, 4] and all(int(r["n"]) == 2 for r in rows)  # frame 0 x 2 videos
    with open(out / "train_log.csv") as fh:
        first = next(csv.DictReader(fh))
    assert {"charb_w", "identity_w", "clip_w"} <= set(first) and float(first["identity_w"]) > 0
    full = T.load_configs(str(RUNS / "dap_led_lolblur.yaml"), {})[0]
    assert full.num_workers > 0 and full.lr_hold_iters == 92000 and T.lr_at(full, 50000) == full.lr
    assert T.lr_at(full, full.iters - 1) == pytest.approx(full.min_lr, abs=1e-8)


def test_lolblur_eval_runfile_dry_run(tmp_path, monkeypatch):
    """runs/dap_led_lolblur_eval.yaml on a fake tree: the run file parses, scores what is available offline
    (here the degraded input and the shipped no-CLIP ablation) and skips the rest with the reason."""
    from ledbench.bench.cli import main

    root = make_fake_lolblur(tmp_path / "LOLBlur", frames=2, size=(32, 48))
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "eval"
    rc = main(["run", str(RUNS / "dap_led_lolblur_eval.yaml"), f"dataset=lolblur:{root}", f"out={out}",
               "enhancers=identity,dap_led_small.noclip_synth,dap_led.lolblur", "metrics=psnr,ssim_lednet",
               "device=cpu", "quiet=true"])
    assert rc == 0
    import pandas as pd

    res = pd.read_csv(out / "results.csv")
    got = set(zip(res["enhancer"], res["metric"]))
    assert {("identity", "psnr"), ("identity", "ssim_lednet")} <= got
    assert not any(e == "dap_led.lolblur" for e, _ in got)  # no trained file here: skipped, not faked


# -- CLIP prior: scales in pixels, shared loss pass, heatmap sanity --------------------------------------------------

def test_window_heatmaps_of_a_crop_match_the_full_image():
    """window mode: a token covers the same pixels in a crop and in the full image, so where their windows coincide
    the heatmaps are equal; the old resize mode gives other values (its scale depends on the image size)."""
    net = tiny_net()
    clip = net.clip
    g = torch.Generator().manual_seed(0)
    full = torch.rand(1, 3, 128, 128, generator=g)
    crop = full[..., :64, :]  # 64 px = 2 windows of 32 px at scale 1, 1 window of 32 px at scale 2
    with torch.no_grad():
        _, maps_full = clip.encode(full, (1, 2))
        _, maps_crop = clip.encode(crop, (1, 2))
        h_full = [clip.heatmap(t) for t in maps_full]
        h_crop = [clip.heatmap(t) for t in maps_crop]
    assert tuple(h_full[0].shape[-2:]) == (16, 16) and tuple(h_crop[0].shape[-2:]) == (8, 16)  # 8 px per token
    assert tuple(h_full[1].shape[-2:]) == (8, 8) and tuple(h_crop[1].shape[-2:]) == (4, 8)  # 16 px per token
    assert torch.allclose(h_crop[0], h_full[0][..., :8, :], atol=1e-5)
    assert torch.allclose(h_crop[1], h_full[1][..., :4, :], atol=1e-5)  # 2x2 box shrink: same pixels, same windows
    clip.mode = "resize"
    try:
        with torch.no_grad():
            r_full = [clip.heatmap(t) for t in clip.encode(full, (1, 2))[1]]
            r_crop = [clip.heatmap(t) for t in clip.encode(crop, (1, 2))[1]]
    finally:
        clip.mode = "window"
    assert tuple(r_full[0].shape) == tuple(r_crop[0].shape)  # resize mode: the same grid whatever the size
    assert float((r_crop[0][..., :2, :] - r_full[0][..., :2, :]).abs().max()) > 1e-3


def test_value_tokens_equal_a_self_attending_last_block():
    """clip_tokens=value: the last block with its attention matrix replaced by the identity (MaskCLIP-style)."""
    net = tiny_net()
    clip = net.clip
    x = clip.prep(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)))
    v = clip.visual
    blocks = v.transformer.resblocks
    with torch.no_grad():
        _, tok, _ = clip.run(x, token_source="value")
        h = v._embeds(x)
        for blk in blocks[:-1]:
            h = blk(h)
        blk = blocks[-1]
        d = h.shape[-1]
        w, b = blk.attn.in_proj_weight, blk.attn.in_proj_bias
        # the block with an identity attention matrix: every token's output is its own value embedding
        q = torch.nn.functional.linear(blk.ln_1(h), w[2 * d:], b[2 * d:])
        h2 = h + blk.attn.out_proj(torch.eye(h.shape[1])[None] @ q)
        h2 = h2 + blk.mlp(blk.ln_2(h2))
        ref = (v.ln_post(h2)[:, 1:] @ v.proj).reshape(tok.shape)
        _, final, _ = clip.run(x, token_source="final")
    assert torch.allclose(tok, ref, atol=1e-5)
    assert not torch.allclose(tok, final, atol=1e-3)


def test_clip_losses_share_one_gradient_pass():
    net = tiny_net()
    loss_fn = DAPLEDLoss(w_identity=0.5, w_clip=0.5, clip=net.clip)
    calls = []
    real = net.clip.run

    def spy(x, layers=(), token_source=None):
        calls.append(torch.is_grad_enabled())
        return real(x, layers, token_source)

    net.clip.run = spy
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    out = net(x)
    calls.clear()
    total, parts = loss_fn(out, y, x)
    assert calls == [True, False]  # one pass of the output (with gradients) + one of the reference (without)
    assert float(total) == pytest.approx(float(parts["charb_w"] + parts["identity_w"] + parts["clip_w"]), rel=1e-5)
    # layer-normalised features: each layer's MSE is at most 4 (two unit-variance vectors), whatever CLIP's scale
    assert 0 < float(parts["identity"]) <= 4 * sum(loss_fn.identity_weights)


def _composite(sharp: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Left half degraded (``dark``: x 0.1 in linear light; ``blur``: Gaussian sigma 4 px), right half untouched."""
    from scipy.ndimage import gaussian_filter

    img = sharp.copy()
    h, w = img.shape[:2]
    if kind == "dark":
        img[:, : w // 2] = (img[:, : w // 2] ** 2.2 * 0.1) ** (1 / 2.2)
    else:
        img[:, : w // 2] = gaussian_filter(sharp, sigma=(4, 4, 0))[:, : w // 2]
    mask = np.zeros((h, w), bool)
    mask[:, : w // 2] = True
    return img.astype(np.float32), mask


def test_heatmap_sanity_with_real_clip_weights():
    """With real ViT-B-32 weights (skipped otherwise): half-dark / half-blurred composites of photos, heatmap AUC
    against the known mask for each token source. Prints the AUCs; asserts only that the darkness map separates the
    halves better than chance with at least one token source (final-layer patch tokens are known to be noisy)."""
    cfg = D.DAPLEDConfig(preset="tiny")
    ok, why = D.clip_weights_status(cfg)
    if not ok:
        pytest.skip(why)
    from ledbench.datasets.synth_mini import SOURCES, source_path

    photos = [T.load_sharp(str(p), 448) for p in (source_path(*SOURCES[k]) for k in ("skimage/astronaut",
                                                                                     "skimage/coffee")) if p]
    clip = D.ClipPrior(cfg)
    aucs = {}
    for source in ("final", "value"):
        clip.token_source = source
        for kind, name in (("dark", "darkness"), ("blur", "blur")):
            vals = []
            for photo in photos:
                img, mask = _composite(photo, kind)
                vals.append(D.heatmap_auc(clip, img, mask, name))
            aucs[(source, name)] = float(np.mean(vals))
    print("heatmap AUC (token source, degradation):", aucs)
    assert max(aucs[("final", "darkness")], aucs[("value", "darkness")]) > 0.5


def test_identity_names_clip_mode_only_when_clip_runs():
    """clip_mode / clip_tokens change a CLIP-prior model's output, so they are in its identity (cache key); the
    no-CLIP checkpoints keep the identity they had before these fields existed (ci/baseline_default.csv)."""
    full = create_enhancer("dap_led", pretrained=False, **TINY)
    assert full.identity()["config"]["clip_mode"] == "window"
    assert create_enhancer("dap_led", pretrained=False, clip_mode="resize", **TINY).config_hash != full.config_hash
    noclip = create_enhancer("dap_led_small.noclip_synth")
    assert "clip_mode" not in noclip.identity()["config"] and "clip_tokens" not in noclip.identity()["config"]
