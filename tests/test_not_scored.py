"""Every requested cell gets a number or a reason, and the reason is the real one: an empty cell names the first
error behind it in the terminal, not only in manifest.json; a run that scored nothing says so and exits non-zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np


def test_empty_cell_names_its_first_error_and_run_exits_1(tmp_path):
    from ledbench.bench.imageio import write_png

    rng = np.random.default_rng(0)
    for i in range(2):  # too small for NIQE's 96 x 96 blocks
        write_png(tmp_path / "small" / f"s{i}.png", (rng.random((64, 96, 3)) * 0.3).astype(np.float32))
    env = {**os.environ, "LEDBENCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "ledbench", "run", f"dataset=folder:{tmp_path / 'small'}",
                          "enhancers=identity,gamma", "tasks=quality", "metrics=niqe", f"out={tmp_path / 'r'}", "-q"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert "every unit failed: NIQE needs at least two 96 x 96 blocks" in res.stdout, res.stdout
    assert "1 more in manifest.json" in res.stdout
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert {n["enhancer"] for n in manifest["not_scored"]} == {"identity", "gamma"}
    assert res.returncode == 1 and "nothing was scored" in res.stderr, (res.returncode, res.stderr[-500:])


def test_weights_given_to_a_classical_method_are_an_error_not_ignored(tmp_path):
    from ledbench.bench.errors import ConfigError
    from ledbench.enhancers import create_enhancer

    (tmp_path / "x.pt").write_bytes(b"\0")
    for name in ("gamma", "identity", "clahe"):
        try:
            create_enhancer(name, weights=str(tmp_path / "x.pt"))
        except ConfigError as exc:
            assert "has no weights to load" in str(exc) and "remove weights=" in str(exc)
        else:
            raise AssertionError(f"{name} accepted weights it cannot use")
    create_enhancer("gamma")  # without weights it builds


def _cli(*args, home):
    env = {**os.environ, "LEDBENCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "ledbench", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_enhance_never_overwrites_its_inputs_and_takes_a_file_to_a_file(tmp_path):
    from ledbench.bench.imageio import read_image, write_png

    photos = tmp_path / "photos"
    img = (np.random.default_rng(0).random((20, 30, 3)) * 0.4).astype(np.float32)
    write_png(photos / "a.png", img)
    before = (photos / "a.png").read_bytes()
    res = _cli("enhance", "gamma", str(photos), str(photos), home=tmp_path / "h")
    assert res.returncode == 2 and "is the input folder" in res.stderr and "Traceback" not in res.stderr
    assert (photos / "a.png").read_bytes() == before
    for _ in range(2):  # an output folder inside the input: its own outputs are never enhanced again
        res = _cli("enhance", "gamma", str(photos), str(photos / "out"), home=tmp_path / "h")
        assert res.returncode == 0, res.stderr
    assert sorted(p.relative_to(photos).as_posix() for p in photos.rglob("*.png")) == ["a.png", "out/a.png"]
    assert (photos / "a.png").read_bytes() == before
    res = _cli("enhance", "gamma", str(photos / "a.png"), str(tmp_path / "one.png"), home=tmp_path / "h")
    assert res.returncode == 0 and (tmp_path / "one.png").is_file(), res.stderr
    assert np.array_equal(read_image(tmp_path / "one.png"), read_image(photos / "out" / "a.png"))
    (photos / "bad.png").write_bytes(b"not a png")  # one image fails: the others are written, the exit code says so
    res = _cli("enhance", "gamma", str(photos), str(tmp_path / "o2"), "-q", home=tmp_path / "h")
    assert res.returncode == 1 and "bad.png" in res.stderr and (tmp_path / "o2" / "a.png").is_file()
