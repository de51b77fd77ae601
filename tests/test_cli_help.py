"""The command line as a new user meets it: each verb's --help lists its keys, `list KIND NAME` describes one entry,
and bad input (a device that is not here, a file given as a folder, a download without network) is one line.

Every case runs ``python -m ledbench`` in a subprocess (help texts and error paths only: nothing is enhanced or
trained), with the session's isolated LEDBENCH_HOME and offline flags from conftest.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest


def ledbench(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    full = {**os.environ, "CUDA_VISIBLE_DEVICES": "", **(env or {})}  # no CUDA, also on a GPU machine
    full = {k: v for k, v in full.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "ledbench", *args], capture_output=True, text=True, timeout=300,
                          env=full, cwd=cwd)


def assert_one_line_error(res: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, no traceback, and the last stderr line is the ``ledbench: error:`` line holding every needle."""
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("ledbench: error: "), res.stderr
    for n in needles:
        assert n in last, (n, last)
    return last


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    from ledbench.bench.imageio import write_png

    path = tmp_path_factory.mktemp("cli") / "photo.png"
    write_png(path, np.random.default_rng(0).random((16, 16, 3)).astype(np.float32))
    return path


# -- --help lists the keys -------------------------------------------------------------------------------------

def test_synth_help_lists_its_keys():
    from ledbench.datasets.synthesis import GRID_KEYS, SYNTH_KEYS

    res = ledbench("synth", "--help")
    assert res.returncode == 0, res.stderr
    for key in [*SYNTH_KEYS, *GRID_KEYS]:
        assert f"  {key} " in res.stdout, key


def test_synth_validates_the_keys_its_help_lists(tmp_path):
    res = ledbench("synth", str(tmp_path), str(tmp_path / "out"), "severty=3")
    assert_one_line_error(res, "severty", "jpeg_quality", "limit")


def test_train_help_lists_train_and_model_keys():
    from ledbench.enhancers.dap_led import DAPLEDConfig
    from ledbench.enhancers.dap_led_train import TrainConfig

    res = ledbench("train", "--help")
    assert res.returncode == 0, res.stderr
    for cfg in (TrainConfig, DAPLEDConfig):
        for f in dataclasses.fields(cfg):
            assert f"{f.name}=" in res.stdout, f.name
    assert "lr=0.0003" in res.stdout  # with its default


def test_profile_help_lists_profile_keys_and_the_enhancers():
    from ledbench.bench.profile import PROFILE_KEYS
    from ledbench.enhancers import enhancer_class

    res = ledbench("profile", "--help")
    assert res.returncode == 0, res.stderr
    for key in PROFILE_KEYS:
        assert key in res.stdout.split("profile keys (key=value):")[1], key
    res = ledbench("profile", "gamma", "--help")
    for f in dataclasses.fields(enhancer_class("gamma").Config):
        assert f"{f.name}={f.default}" in res.stdout


def test_enhance_help_names_the_enhancer_keys():
    from ledbench.enhancers import enhancer_class

    res = ledbench("enhance", "--help")
    assert res.returncode == 0, res.stderr
    assert "ledbench enhance NAME --help" in res.stdout
    res = ledbench("enhance", "sci.medium", "--help")
    assert res.returncode == 0, res.stderr
    fields = dataclasses.fields(enhancer_class("sci").Config)
    assert fields
    for f in fields:
        assert f"{f.name}=" in res.stdout.split("keys of sci.medium")[1], f.name


# -- list KIND NAME ---------------------------------------------------------------------------------------------

def test_list_enhancer_detail():
    res = ledbench("list", "enhancers", "sci", "-v")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "ledbench.enhancers.sci:" in out and "available offline" in out
    assert "layers=" in out  # a config field with its value
    assert "medium (default): medium.pt, present" in out and "license: MIT" in out and "vis-opt-group/SCI" in out


def test_list_enhancer_detail_says_missing_weights():
    res = ledbench("list", "enhancers", "zero_dce")
    assert res.returncode == 0, res.stderr
    assert "Epoch99 (default): Epoch99.pth, missing" in res.stdout
    assert "not available: weights unavailable" in res.stdout


def test_list_dataset_detail_shows_the_layout():
    res = ledbench("list", "datasets", "lolblur", "-v")
    assert res.returncode == 0, res.stderr
    assert "dataset=lolblur:ROOT" in res.stdout
    assert "ROOT/{train,test}/<folder>/<video>/<frame>.png" in res.stdout  # the module's layout
    assert "input=low_blur_noise" in res.stdout  # Config default


def test_list_datasets_verbose_says_what_each_needs():
    res = ledbench("list", "datasets", "-v")
    assert res.returncode == 0, res.stderr
    rows = {line.split()[0]: line for line in res.stdout.splitlines() if line.strip() and not line.startswith("`")}
    assert "bundled" in rows["synth_mini"] and "needs lolblur:ROOT" in rows["lolblur"]


def test_list_metric_detail_and_unknown_name():
    res = ledbench("list", "metrics", "psnr")
    assert res.returncode == 0, res.stderr
    assert "psnr (higher is better)" in res.stdout and "crop_border=0" in res.stdout
    assert_one_line_error(ledbench("list", "metrics", "psnrr"), "unknown metric 'psnrr'", "'psnr'")


def test_list_available():
    res = ledbench("list", "enhancers", "--available")
    names = res.stdout.split()
    assert {"iat.lol_v1", "sci.medium", "gamma"} <= set(names)
    assert "zero_dce" not in names and "zero_dce.Epoch99" not in names
    assert ledbench("list", "datasets", "--available").stdout.split() == ["synth_mini"]


# -- one-line errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device, needle", [("cuda", "CUDA is not available"), ("gpu", "is not a device"),
                                            ("cuda:7", "CUDA is not available")])
def test_enhance_device_not_here(image, tmp_path, device, needle):
    res = ledbench("enhance", "gamma", str(image), str(tmp_path / "out"), "--device", device)
    assert_one_line_error(res, f"device={device!r}", needle)
    assert not (tmp_path / "out").exists()


def test_profile_and_train_device_not_here(tmp_path):
    assert_one_line_error(ledbench("profile", "gamma", "device=gpu"), "device='gpu'", "is not a device")
    res = ledbench("train", "dap_led", "device=cuda", f"out={tmp_path / 'train'}")
    assert_one_line_error(res, "device='cuda'", "CUDA is not available")
    assert not (tmp_path / "train").exists()


def test_synth_given_a_file(image, tmp_path):
    res = ledbench("synth", str(image), str(tmp_path / "out"))
    assert_one_line_error(res, "is a file", f"ledbench synth {image} grid.png --grid")


def test_weights_fetch_without_network_says_so():
    """Offline (here: HF_HUB_OFFLINE, as on a machine whose network probe fails) the fetch names the host it cannot
    reach and the import route, instead of pointing back at `ledbench weights fetch`."""
    res = ledbench("weights", "fetch", "zero_dce", env={"LEDBENCH_OFFLINE": None, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 1, res.stderr
    assert "cannot reach raw.githubusercontent.com: the network is unreachable from here" in res.stdout
    assert "`ledbench weights import DIR`" in res.stdout and "Epoch99.pth" in res.stdout
    assert "weights fetch" not in res.stdout
