"""Small first-use defects of the command line (issue 14, items 5-7): every verb's error is one
``ledbench: error:`` line, ``--help`` explains each option, ``weights list`` prints names ``run`` accepts, ``weights
import`` names the files it skipped, and ``Enhancer.enhance`` says what input it needs.

The CLI cases run ``python -m ledbench`` in a subprocess (error paths and help texts only, nothing is enhanced), with
the session's isolated LEDBENCH_HOME from conftest.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def ledbench(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", "ledbench", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


@pytest.mark.parametrize("argv", [["report", "{d}/nope"],
                                  ["regress", "{d}/nope", "--baseline", "{d}/nope.csv"],
                                  ["compare", "{d}/nope", "a", "b"]], ids=["report", "regress", "compare"])
def test_report_regress_compare_errors_are_ledbench_error_lines(tmp_path, argv):
    res = ledbench(*(a.format(d=tmp_path) for a in argv))
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ledbench: error: "), res.stderr


def test_report_and_regress_help_explain_every_option():
    from ledbench.bench.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "verb").choices
    for verb in ("report", "regress", "compare"):
        bare = [a.option_strings for a in sub[verb]._actions if a.option_strings and not a.help]
        assert not bare, (verb, bare)
    report = " ".join(ledbench("report", "--help").stdout.split())
    for text in ("--rows FIELDS", "e.g. enhancer.severity", "default task.metric", "-METRIC-sev",
                 "over runs for repeats; no ± without it"):
        assert text in report, text
    regress = " ".join(ledbench("regress", "--help").stdout.split())
    assert "--baseline CSV" in regress and "--tol psnr=0.05,lpips=2%" in regress, regress


def test_weights_list_prints_enhancer_names_that_run_accepts():
    from ledbench.enhancers import ENHANCERS, list_enhancers

    res = ledbench("weights", "list")
    assert res.returncode == 0, res.stderr
    names = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]
    archs = {n for n in list_enhancers(cascades=False) if "." not in n}
    enhancer_names = [n for n in names if n.partition(".")[0] in archs]
    assert "dap_led_small.noclip_natural" in enhancer_names and "dap_led.noclip_natural" not in names
    for name in enhancer_names:
        ENHANCERS.lookup(name)  # raises UnknownNameError for a tag the preset does not have
    assert set(enhancer_names) == {n for n in list_enhancers(cascades=False) if "." in n}  # and every tag is listed


def test_weights_import_names_the_files_it_did_not_recognise(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".cache").mkdir()
    for rel in ("a.pth", "sub/b.bin", ".cache/hidden.pt", "README.md"):
        (tmp_path / rel).write_bytes(b"not weights")
    res = ledbench("weights", "import", str(tmp_path))
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("2 file(s) not recognised: a.pth, b.bin (no registered weights file has that name"), last
    assert "hidden.pt" not in res.stdout and "README" not in res.stdout


def test_enhance_with_a_numpy_array_says_how_to_make_a_tensor():
    import numpy as np

    from ledbench.bench.errors import InputError
    from ledbench.bench.imageio import from_tensor, to_tensor
    from ledbench.enhancers import create_enhancer

    enh = create_enhancer("gamma")
    img = np.random.default_rng(0).random((32, 48, 3), dtype=np.float32)
    for bad, got in ((img.transpose(2, 0, 1)[None], "a numpy.ndarray of shape (1, 3, 32, 48)"),
                     (img, "a numpy.ndarray of shape (32, 48, 3)"),
                     (to_tensor(img)[0], "a torch tensor of shape (3, 32, 48)"),
                     ([0.5], "a list")):
        with pytest.raises(InputError) as info:
            enh.enhance(bad)
        msg = str(info.value)
        assert "\n" not in msg and got in msg and "ledbench.bench.imageio.to_tensor(img)" in msg, msg
    out = from_tensor(enh.enhance(to_tensor(img)))  # the conversion the message names works
    assert out.shape == img.shape


@pytest.mark.parametrize("dataset, needle", [("nosuch", "unknown dataset 'nosuch'"),
                                             ("folder:{d}/missing", "does not exist")], ids=["name", "folder"])
def test_a_bad_dataset_is_reported_before_a_run_directory_clash(tmp_path, dataset, needle):
    out = tmp_path / "other"
    out.mkdir()
    (out / "keep.txt").write_text("another run's file")  # out= holds a different run: an error of its own
    res = ledbench("run", f"dataset={dataset.format(d=tmp_path)}", f"out={out}", "enhancers=identity",
                   "tasks=quality", "metrics=psnr", "-q")
    assert res.returncode == 2, (res.stdout, res.stderr)
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("ledbench: error: ") and needle in last and "holds a different run" not in last, last
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
