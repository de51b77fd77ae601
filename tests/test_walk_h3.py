"""First-use walk (issue 14, helper h3): the one-line errors a new user meets on their own folders, checked through
the CLI where the user sees them (a file given as a folder, unpaired inputs and the advice that fixes it, typos in
dataset / synth / profile keys, a missing run directory for regress) and the profile table's number format."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ledbench.bench.errors import ConfigError


def _cli(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEDBENCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "ledbench.bench.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def _one_line_error(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr[-1500:])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr[-1500:]
    return lines[0]


def _png(path: Path, h: int = 24, w: int = 32, seed: int = 0) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)


RUN = ["enhancers=identity", "tasks=quality", "metrics=psnr", "-q", "workers=0", "exist_ok=true"]


def test_folder_dataset_given_a_file_or_a_missing_folder(tmp_path):
    photo = tmp_path / "My Photos" / "Night 01.PNG"
    _png(photo)
    line = _one_line_error(_cli(tmp_path / "home", "run", f"dataset=folder:{photo}", *RUN, f"out={tmp_path / 'r'}"))
    assert "is a file" in line and f"dataset=folder:{photo.parent}" in line, line
    line = _one_line_error(_cli(tmp_path / "home", "run", f"dataset=folder:{tmp_path / 'nope'}", *RUN,
                                f"out={tmp_path / 'r'}"))
    assert "image folder" in line and "folder folder" not in line and "does not exist" in line, line


def test_unpaired_input_error_gives_advice_that_works(tmp_path):
    data = tmp_path / "pairs"
    for i in range(2):
        _png(data / "input" / f"im{i}.png", seed=i)
        _png(data / "reference" / f"im{i}.png", seed=i)
    _png(data / "input" / "lonely.png", seed=9)
    home, out = tmp_path / "home", tmp_path / "r"
    line = _one_line_error(_cli(home, "run", f"dataset=folder:{data}", *RUN, f"out={out}"))
    assert "lonely.png" in line and 'dataset_args={missing: skip}' in line, line
    res = _cli(home, "run", f"dataset=folder:{data}", "dataset_args={missing: skip}", *RUN, f"out={out}")
    assert res.returncode == 0, res.stderr[-1500:]
    assert "im0" in (out / "per_image.csv").read_text() and "lonely" not in (out / "per_image.csv").read_text()


def test_dataset_key_typo_names_the_subset_keys(tmp_path):
    _png(tmp_path / "imgs" / "a.png")
    line = _one_line_error(_cli(tmp_path / "home", "run", f"dataset=folder:{tmp_path / 'imgs'}",
                                "dataset_args={strid: 2}", *RUN, f"out={tmp_path / 'r'}"))
    assert "did you mean 'stride'?" in line and "limit, stride, offset" in line, line


def test_synth_and_profile_key_typos_suggest_the_key(tmp_path):
    _png(tmp_path / "sharp" / "a.png")
    line = _one_line_error(_cli(tmp_path / "home", "synth", str(tmp_path / "sharp"), str(tmp_path / "o"),
                                "severty=2"))
    assert "did you mean 'severity'?" in line, line
    line = _one_line_error(_cli(tmp_path / "home", "profile", "sci.medium", "sze=64"))
    assert "did you mean 'size'?" in line and "profile keys: size" in line and "channels, layers" in line, line


def test_regress_missing_run_dir_is_one_plain_line(tmp_path):
    base = tmp_path / "base.csv"
    base.write_text("x\n1\n")
    line = _one_line_error(_cli(tmp_path / "home", "regress", str(tmp_path / "no_such_run"), "--baseline", str(base)))
    assert "no run directory" in line and "InputError" not in line, line


def test_regress_tolerance_messages():
    from ledbench.reports import regress as rg

    with pytest.raises(ConfigError, match=r"did you mean 'psnr'\?"):
        rg.check_tolerance_keys({"PSNR": 1}, {"psnr", "ssim"})
    with pytest.raises(ConfigError, match=r"bad tolerance '-1': must be a number >= 0"):
        rg.parse_tolerances(["psnr=-1"])


def test_run_key_list_values_shown_as_typed():
    from ledbench.bench.run_config import load_run_config

    with pytest.raises(ConfigError, match=r"run key severity='1,3,3': lists a severity twice"):
        load_run_config(None, {"dataset": "synth_mini", "severity": "1,3,3"})


def test_profile_table_keeps_small_models_readable():
    """SCI medium has 258 parameters (3x3 convs 3->3 with bias: in 84 + one block 84 + BatchNorm 6 + out 84): the
    table must not round them to 0.000 M; CPU memory is labelled as the process's peak RSS."""
    pytest.importorskip("torch")
    from ledbench.bench import profile as P

    assert [P._sig(v) for v in (0.000258, 0.0912, 1.236, 26.14, 1234.4, 0.0)] == \
        ["0.000258", "0.0912", "1.24", "26.1", "1234", "0"]
    rows = P.profile_many("sci.medium", {"size": 32, "repeats": 1, "warmup": 0, "device": "cpu"})
    assert rows[0]["params_m"] * 1e6 == 258
    table = P.format_table(rows)
    assert "| 0.000258 " in table and "process peak RSS (MB)" in table, table


def test_bad_yaml_and_placeholder_dataset_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("enhancers: [identity\n")
    line = _one_line_error(_cli(tmp_path / "home", "run", str(bad)))
    assert "not valid YAML (line 2, column 1:" in line, line
    placeholder = tmp_path / "lb.yaml"
    placeholder.write_text('dataset: "lolblur:PATH/TO/LOLBlur"\nenhancers: [identity]\ntasks: [quality]\n')
    line = _one_line_error(_cli(tmp_path / "home", "run", str(placeholder), f"out={tmp_path / 'r'}"))
    assert "does not exist" in line and "dataset=lolblur:" in line, line
