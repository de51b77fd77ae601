"""DAP-LED re-implementation: shapes, gradients, ablation parameter counts, overfitting, resume, DDP, profiling.

Everything runs offline on the ``tiny`` preset with an in-process tiny open_clip config (random CLIP weights: a test
fixture only, never a DAP-LED model). Independent references: hand-computed parameter formulas and Restormer's
published size (26.13 M parameters, Zamir et al. CVPR 2022, Table 1) for the ``base`` backbone.
"""

from __future__ import annotations

import socket
import warnings

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
        ref = net.eval()(T.pad_to(x))[..., :h, :w].clamp(0, 1)
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
    assert maps["darkness_s2"].shape[-1] == 2 * maps["darkness_s1"].shape[-1]  # 2x2 crops -> twice the grid
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


def test_metrics_match_skimage():
    from skimage.metrics import peak_signal_noise_ratio

    rng = np.random.default_rng(0)
    a = rng.random((16, 16, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    assert T.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), rel=1e-6)
    assert T.psnr(a, a) == float("inf")


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


# -- profiling ------------------------------------------------------------------------------------------------------

def test_profile_main_tiny():
    from ledbench.enhancers.dap_led_profile import profile_main

    out = profile_main("dap_led", {"preset": "tiny", "size": 32, "repeats": 1, "warmup": 0,
                                   "clip_model": D.TINY_CLIP_NAME, "clip_pretrained": ""})
    net = tiny_net()
    assert out["params_m"] == pytest.approx(n_trainable(net) / 1e6)
    assert out["clip_params_m"] > 0 and out["random_weights"] is True
    # GMACs of the backbone alone: at least the patch-embedding conv (3 -> dim, 3x3) on 32 x 32 pixels
    assert out["gmacs"] > 32 * 32 * 3 * 8 * 9 / 1e9
    assert out["latency_ms"] > 0 and out["peak_mem_mb"] > 0
    small = profile_main("dap_led", {"preset": "tiny", "size": "32x48", "repeats": 1, "warmup": 0,
                                     "clip_prior": False})
    # FLOPs scale with the pixel count for the attention-free-in-space backbone (channel attention is linear in HW)
    small2 = profile_main("dap_led", {"preset": "tiny", "size": "64x48", "repeats": 1, "warmup": 0,
                                      "clip_prior": False})
    assert small2["gmacs"] == pytest.approx(2 * small["gmacs"], rel=1e-6)


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


def test_shipped_noclip_checkpoint_restores_a_held_out_image():
    """The packaged no-CLIP ablation loads (sha256-checked) and beats the degraded input on a held-out image."""
    from ledbench.datasets.synthesis import synthesize

    ok, why = D.DAPLED.availability("noclip_synth")
    if not ok:
        pytest.skip(why)
    enh = create_enhancer("dap_led_small.noclip_synth")
    assert enh.weights_sha256 == D.NOCLIP_SYNTH.sha256
    assert enh.config.clip_prior is False and enh.model.clip is None
    y = T.load_sharp("matplotlib:grace_hopper.jpg", 256)  # a validation image, not in training or synth_mini
    x, _ = synthesize(y, severity=3, seed=0)
    out = enh.enhance(torch.from_numpy(x).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    assert T.psnr(out, y) > T.psnr(x, y) + 2.0
    assert T.ssim(out, y) > T.ssim(x, y) + 0.05


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
