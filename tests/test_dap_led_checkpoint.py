"""A DAP-LED checkpoint restores its own architecture: train-then-benchmark as the README says (issue 14 item 4).

A tiny no-CLIP checkpoint is written in the trainer's export format (``dap_led_train.export_weights``, what
``ledbench train`` leaves as ``OUT/final.pt``); ``ledbench run`` with ``dap_led_small:weights=F`` and
``dap_led:weights=F`` must build that architecture (not the names' presets) and give exactly the outputs of the
network built directly from the stored architecture (independent reference: our own reflect padding, no registry).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ledbench.bench.errors import ConfigError, WeightsUnavailable  # noqa: E402
from ledbench.enhancers import create_enhancer  # noqa: E402
from ledbench.enhancers import dap_led as D  # noqa: E402
from ledbench.enhancers import dap_led_train as T  # noqa: E402

warnings.filterwarnings("ignore", message=".*RANDOM weights.*")


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEDBENCH_HOME": str(home), "OMP_NUM_THREADS": "1", "LEDBENCH_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "ledbench", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A random tiny no-CLIP checkpoint (the ``tiny`` preset: neither ``dap_led_small``'s nor ``dap_led``'s)."""
    root = tmp_path_factory.mktemp("dapled_ckpt")
    torch.manual_seed(3)
    cfg = D.resolve_config(D.DAPLEDConfig(preset="tiny", clip_prior=False))
    net = D.DAPLEDNet(cfg)
    path = root / "final.pt"
    T.export_weights(path, net, cfg)
    return path, net.eval()


def _reference(net, x):
    """The network applied directly: reflect-pad to a multiple of 8, crop, clamp, quantise to 8 bits."""
    h, w = x.shape[-2:]
    xp = torch.nn.functional.pad(x, (0, -w % 8, 0, -h % 8), mode="reflect")
    with torch.no_grad():
        y = net(xp)[..., :h, :w].clamp(0, 1)
    return np.floor(y[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


def test_run_builds_the_checkpoint_architecture_and_rerun_is_cached(ckpt, tmp_path):
    path, net = ckpt
    home = tmp_path / "home"
    args = ["run", "dataset=synth_mini", "limit=1", f"enhancers=dap_led_small:weights={path},dap_led:weights={path}",
            "tasks=quality", "metrics=psnr", "save_images=true", "device=cpu"]
    res = _cli(*args, f"out={tmp_path / 'a'}", home=home)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "different architecture" not in res.stderr and "enhanced: 2 computed, 0 from cache" in res.stdout

    from PIL import Image

    from ledbench.datasets import create_dataset

    (item,) = list(create_dataset("synth_mini", limit=1))
    x = torch.from_numpy(np.ascontiguousarray(item.load_input(), dtype=np.float32)).permute(2, 0, 1)[None]
    ref = _reference(net, x).astype(int)
    got = {}
    for row in ("dap_led_small@final", "dap_led@final"):
        with Image.open(tmp_path / "a" / "images" / row / f"{item.id}.png") as im:
            got[row] = np.asarray(im.convert("RGB")).astype(int)
        assert got[row].shape == ref.shape
        # the same network: at most one 8-bit level off (float rounding at a .5 boundary) on a few values; a
        # different architecture could not even load these weights
        diff = np.abs(got[row] - ref)
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (row, diff.max(), (diff > 0).mean())
    assert np.array_equal(got["dap_led_small@final"], got["dap_led@final"])

    again = _cli(*args, f"out={tmp_path / 'b'}", home=home)  # same checkpoint: served from the cache
    assert again.returncode == 0, again.stderr[-2000:]
    assert "enhanced: 0 computed, 2 from cache" in again.stdout


def test_enhancer_config_and_identity_follow_the_checkpoint(ckpt):
    path, _ = ckpt
    small = create_enhancer("dap_led_small", weights=str(path))
    full = create_enhancer("dap_led", weights=str(path))  # the CLIP variant's name, a no-CLIP checkpoint
    for enh in (small, full):
        assert enh.config.preset == "tiny" and enh.config.dim == 8 and enh.config.clip_prior is False
        assert not enh.model._clip  # no CLIP tower is built (or looked for)
    a, b = small.identity(), full.identity()
    assert a["config"] == b["config"] and a["weights_sha256"] == b["weights_sha256"]
    # an explicit override that agrees with the checkpoint is the same model
    assert create_enhancer("dap_led", weights=str(path), clip_prior=False, dim=8).identity() == b


@pytest.mark.parametrize("override, field", [({"clip_prior": True}, "clip_prior"), ({"dim": 16}, "dim"),
                                             ({"preset": "small"}, "preset")])
def test_conflicting_explicit_override_is_one_line(ckpt, override, field):
    """``create_enhancer(..., key=value)`` and ``ledbench enhance NAME IN OUT key=value`` (the same call) are where
    overrides come from; ``ledbench run``'s enhancers entries take none."""
    path, _ = ckpt
    with pytest.raises(ConfigError) as info:
        create_enhancer("dap_led_small", weights=str(path), **override)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and "different architecture" in msg
    assert f"drop the {field} override" in msg
    if field != "preset":
        assert f"{field}: checkpoint" in msg


def test_truncated_or_garbage_file_is_not_a_checkpoint(ckpt, tmp_path):
    path, _ = ckpt
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[:3000])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a torch file\n")
    for bad in (cut, junk):
        for name in ("dap_led", "dap_led_small"):  # dap_led would otherwise go looking for CLIP weights
            with pytest.raises(WeightsUnavailable) as info:
                create_enhancer(name, weights=str(bad))
            msg = str(info.value)
            assert "\n" not in msg and "not a checkpoint / corrupt" in msg and str(bad) in msg
            assert "CLIP" not in msg
    res = _cli("run", "dataset=synth_mini", "limit=1", f"enhancers=dap_led:weights={cut}", "tasks=quality",
               "metrics=psnr", "device=cpu", f"out={tmp_path / 'r'}", home=tmp_path / "home")
    assert "not a checkpoint / corrupt" in res.stderr and str(cut) in res.stderr and "CLIP" not in res.stderr


def test_checkpoint_without_stored_arch_keeps_the_configured_architecture(ckpt, tmp_path):
    path, net = ckpt
    bare = tmp_path / "bare.pt"
    torch.save({k: v.clone() for k, v in net.state_dict().items()}, bare)  # a release-style bare state dict
    enh = create_enhancer("dap_led_small", weights=str(bare), preset="tiny", clip_prior=False)
    assert enh.config.dim == 8
    with pytest.raises(WeightsUnavailable, match="does not fit"):  # no arch stored: the name's preset is built
        create_enhancer("dap_led_small", weights=str(bare), clip_prior=False)
