"""Benchmark: the embedded default run (cold vs cached) and per-enhancer cost, measured in one process.

    .venv/bin/python benchmarks/bench_default.py [--out benchmarks/results] [--size 256] [--threads 1] [--quick]

``--quick``: a smoke run (two images of the default run, 64 px, three enhancers). The default run is timed as a
user runs it (``python -m ledbench run`` in a new process, cold cache, then cached). The cached run is timed twice:
in this shell's environment as is, and with bytecode caching allowed (``PYTHONDONTWRITEBYTECODE`` removed, after
one untimed run that writes ``__pycache__``): a machine that sets ``PYTHONDONTWRITEBYTECODE=1`` recompiles every
ledbench module on every run, which a user's default Python does not.

Writes ``bench_default.json`` and ``bench_default.md``. Timings on shared 2-core VMs jump at random, so every
latency is the minimum of repeats on one thread and the report gives ratios measured in the same run (cached /
cold wall time; each enhancer's latency relative to ``dap_led_small.noclip_synth``). Not a test: targets are read
from the output, never asserted on a timer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def time_default_run(home: Path, quick: bool = False, threads: int = 1, repeats: int = 3) -> dict:
    """Wall time of ``ledbench run`` (the embedded default) as a user runs it: a new process each time, with a
    fresh ``LEDBENCH_HOME`` (cold), then again on the filled cache (cached: min of ``repeats``), in this
    environment as is and with bytecode caching allowed (``cached_bytecode_s``). Also says whether the cached run
    imported torch (its manifest records it) and the bare start-up cost (``ledbench --help``)."""
    import subprocess

    env = {**os.environ, "LEDBENCH_HOME": str(home), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env_bytecode = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "ledbench", "run", f"out={home / 'run'}", "exist_ok=true", "-q"]
    if quick:
        cmd += ["limit=2", "enhancers=identity,gamma,sci.medium", "tasks=quality"]

    def timed(argv: list[str], environ: dict = env) -> float:
        t0 = time.perf_counter()
        subprocess.run(argv, env=environ, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0

    cold = timed(cmd)
    cached = min(timed(cmd) for _ in range(repeats))
    startup = min(timed([sys.executable, "-m", "ledbench", "--help"]) for _ in range(repeats))
    timed(cmd, env_bytecode)  # writes __pycache__ where missing or stale
    cached_bytecode = min(timed(cmd, env_bytecode) for _ in range(repeats))
    manifest = json.loads((home / "run" / "manifest.json").read_text())
    return {"cold_s": cold, "cached_s": cached, "startup_s": startup, "cached_bytecode_s": cached_bytecode,
            "dont_write_bytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
            "cached_imported_torch": "torch" not in manifest.get("device", {}) or
                                     "not imported" not in str(manifest["device"].get("torch"))}


def enhancer_costs(names: list[str], size: int) -> list[dict]:
    from ledbench.bench.profile import profile_main

    rows = []
    for name in names:
        res = profile_main(name, {"size": size, "repeats": 3, "warmup": 1, "random_init": True})
        rows.append({k: res.get(k) for k in ("name", "params_m", "gmacs", "latency_ms", "peak_mem_mb",
                                             "random_weights")})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 images, 3 enhancers, 64 px")
    ap.add_argument("--enhancers", default="sci.medium,iat.lol_v1,dap_led_small.noclip_synth,zero_dce,retinexformer,"
                                           "nafnet.gopro_width32,darkir.m,lednet,restormer")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        timing = time_default_run(Path(tmp), args.quick, args.threads)
    cold, warm, warm_pyc = timing["cold_s"], timing["cached_s"], timing["cached_bytecode_s"]
    names = [n for n in args.enhancers.split(",") if n]
    if args.quick:
        names, args.size = names[:3], 64
    costs = enhancer_costs(names, args.size)
    ref = next((r["latency_ms"] for r in costs if r["name"] == "dap_led_small.noclip_synth"), None)
    for r in costs:
        r["latency_vs_dap_led_small"] = round(r["latency_ms"] / ref, 3) if ref else None
    result = {"default_run_cold_s": round(cold, 2), "default_run_cached_s": round(warm, 2),
              "cold_over_cached": round(cold / warm, 1), "default_run_cached_bytecode_s": round(warm_pyc, 2),
              "cold_over_cached_bytecode": round(cold / warm_pyc, 1),
              "pythondontwritebytecode_set": timing["dont_write_bytecode"],
              "cli_startup_s": round(timing["startup_s"], 3),
              "cached_run_imported_torch": timing["cached_imported_torch"], "size": args.size,
              "threads": args.threads, "enhancers": costs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_default.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"`ledbench run` (default benchmark, new process each, {args.threads} thread): cold {cold:.1f} s, "
             f"cached {warm:.2f} s (min of 3): {cold / warm:.1f}x faster; the cached run imported torch: "
             f"{timing['cached_imported_torch']}; CLI start-up alone (`ledbench --help`) {timing['startup_s']:.2f} s",
             "",
             f"Cached with bytecode caching allowed (PYTHONDONTWRITEBYTECODE "
             f"{'set here, removed for this measure' if timing['dont_write_bytecode'] else 'not set here either'}; "
             f"after one run that writes `__pycache__`): {warm_pyc:.2f} s (min of 3): {cold / warm_pyc:.1f}x faster "
             "than cold.", "",
             time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + f"; {os.cpu_count()} CPUs visible.", "",
             f"| enhancer | params (M) | GMACs @{args.size} | latency (ms, min of 3, {args.threads} thread) | "
             "x DAP-LED small | random weights |", "|---|---:|---:|---:|---:|---|"]
    for r in costs:
        lines.append(f"| {r['name']} | {r['params_m']:.3f} | {r['gmacs']:.2f} | {r['latency_ms']:.0f} | "
                     f"{r['latency_vs_dap_led_small']} | {r['random_weights']} |")
    (out / "bench_default.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
