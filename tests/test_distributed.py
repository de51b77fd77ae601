"""Sharding a run across ranks with torchrun (gloo on CPU) gives the same results as one process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_folder(root: Path, n: int = 5) -> None:
    from ledbench.bench.imageio import write_png

    rng = np.random.default_rng(0)
    for i in range(n):
        sharp = rng.random((20, 28, 3)).astype(np.float32)
        write_png(root / "sharp" / f"im{i}.png", sharp)
        write_png(root / "low" / f"im{i}.png", sharp * 0.3)


@pytest.mark.slow
def test_torchrun_two_ranks_match_single_process(tmp_path):
    import pandas as pd

    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    if not Path(torchrun).exists():
        pytest.skip("torchrun not installed")
    data = tmp_path / "data"
    _make_folder(data)
    common = [f"dataset=folder:{data}", "enhancers=identity,gamma,clahe", "tasks=quality", "metrics=psnr,ssim",
              "device=cpu", "quiet=true"]
    env = dict(os.environ, OMP_NUM_THREADS="1", LEDBENCH_HOME=str(tmp_path / "home"))
    dist = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", str(_free_port()), "-m",
                           "ledbench.bench.cli", "run", *common, f"out={tmp_path / 'dist'}",
                           f"cache_dir={tmp_path / 'cache_dist'}"], capture_output=True, text=True, env=env,
                          timeout=600)
    assert dist.returncode == 0, dist.stdout[-2000:] + dist.stderr[-4000:]
    single = subprocess.run([sys.executable, "-m", "ledbench.bench.cli", "run", *common, f"out={tmp_path / 'one'}",
                             f"cache_dir={tmp_path / 'cache_one'}"], capture_output=True, text=True, env=env,
                            timeout=600)
    assert single.returncode == 0, single.stderr[-4000:]
    a = pd.read_csv(tmp_path / "dist" / "results.csv").sort_values(["enhancer", "metric"]).reset_index(drop=True)
    b = pd.read_csv(tmp_path / "one" / "results.csv").sort_values(["enhancer", "metric"]).reset_index(drop=True)
    assert len(a) == 3 * 2 and (a["n_images"] == 5).all()
    assert a[["enhancer", "metric"]].equals(b[["enhancer", "metric"]])
    np.testing.assert_array_equal(a["value"].to_numpy(), b["value"].to_numpy())
    # every enhanced image was computed exactly once across the two ranks
    pngs = list((tmp_path / "cache_dist" / "enhanced").rglob("*.png"))
    assert len(pngs) == 3 * 5
    import json

    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    assert manifest["world_size"] == 2
    # the manifest sums both ranks: every unit computed once in all (rank 0: items 0, 2, 4; rank 1: 1, 3), no rank
    # re-ran a stage to learn the other's keys, and rank 0's scoring of rank 1's images was served from the cache
    assert manifest["cache"]["enhance_computed"] == 3 * 5 and not manifest["cache"].get("enhance_hit")


def _results(run_dir: Path):
    import pandas as pd

    return pd.read_csv(run_dir / "results.csv").sort_values(["enhancer", "metric"]).reset_index(drop=True)


@pytest.mark.slow
def test_torchrun_two_nodes_on_loopback_match_single_process(tmp_path):
    """Two torchrun agents (--nnodes 2, one process each) meet through a c10d rendezvous on 127.0.0.1, as two
    machines would (docs/distributed.md); the merged results equal a single-process run value for value."""
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    if not Path(torchrun).exists():
        pytest.skip("torchrun not installed")
    data = tmp_path / "data"
    _make_folder(data, n=4)
    common = [f"dataset=folder:{data}", "enhancers=identity,gamma", "tasks=quality", "metrics=psnr,ssim",
              "device=cpu", "quiet=true"]
    env = dict(os.environ, OMP_NUM_THREADS="1", LEDBENCH_HOME=str(tmp_path / "home"))
    port = _free_port()
    # one cache and one run directory shared by both "nodes", as on a cluster's shared file system
    args = ["--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint",
            f"127.0.0.1:{port}", "--rdzv-id", "ledbench-test", "-m", "ledbench", "run", *common,
            f"out={tmp_path / 'dist'}", f"cache_dir={tmp_path / 'cache_dist'}"]
    nodes = [subprocess.Popen([torchrun, "--node-rank", str(rank), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for rank in (0, 1)]
    outputs = []
    try:
        for proc in nodes:
            outputs.append(proc.communicate(timeout=600))
    finally:
        for proc in nodes:
            if proc.poll() is None:
                proc.kill()
    for proc, (out, err) in zip(nodes, outputs):
        assert proc.returncode == 0, out[-2000:] + err[-4000:]
    single = subprocess.run([sys.executable, "-m", "ledbench", "run", *common, f"out={tmp_path / 'one'}",
                             f"cache_dir={tmp_path / 'cache_one'}"], capture_output=True, text=True, env=env,
                            timeout=600)
    assert single.returncode == 0, single.stderr[-4000:]
    a, b = _results(tmp_path / "dist"), _results(tmp_path / "one")
    assert len(a) == 2 * 2 and (a["n_images"] == 4).all()
    assert a[["enhancer", "metric"]].equals(b[["enhancer", "metric"]])
    np.testing.assert_array_equal(a["value"].to_numpy(), b["value"].to_numpy())
    import json

    assert json.loads((tmp_path / "dist" / "manifest.json").read_text())["world_size"] == 2
