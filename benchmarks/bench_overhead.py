"""Benchmark: harness overhead. The same decoded images through (a) a bare loop, ``create_enhancer`` then
``enhance(x)`` per image over tensors decoded before timing, and (b) ``ledbench.bench.runner.run(RunConfig(...))``
in-process, from an empty cache each time (so it builds the model, decodes, enhances, encodes, caches and scores
PSNR); then (c) the ``ledbench run`` CLI in a subprocess and the CLI start-up alone (``ledbench --help``). One torch
thread; bare and runner repeats interleaved in one process, minimum of each.

    python benchmarks/bench_overhead.py [--quick] [--dataset synth_mini] [--enhancers iat.lol_v1,...]

Writes ``benchmarks/results/overhead.md``. Besides the wall-time ratio runner / bare (which the load of a shared
machine moves by several per cent from repeat to repeat), it reports the harness's own time in the runner: the
run's wall time minus the time spent inside ``create_enhancer`` and ``Enhancer.enhance`` in that same run, a
measure that the model's speed does not move. The runner uses its default reader/writer threads (``workers=2``:
decoding and PNG encoding overlap the model); torch runs one intra-op thread on both sides.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_note, parser, set_threads, write_table


class _Clock:
    """Wall time spent inside wrapped callables (not re-entrant: nested calls count once)."""

    def __init__(self):
        self.total, self.depth = 0.0, 0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            if self.depth:
                return fn(*args, **kwargs)
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - t0
                self.depth -= 1
        return timed


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--dataset", default="synth_mini", help="dataset spec (default synth_mini: 8 images, ~320 px)")
    ap.add_argument("--enhancers", default="iat.lol_v1,dap_led_small.noclip_natural")
    ap.add_argument("--workers", type=int, default=2, help="the runner's reader/writer threads (RunConfig.workers)")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    import ledbench.enhancers as enh_pkg
    from ledbench.bench.imageio import to_tensor
    from ledbench.bench.runner import RunConfig, run
    from ledbench.datasets import create_dataset
    from ledbench.enhancers.base import Enhancer

    repeats = 1 if args.quick else args.repeats
    tmp = Path(tempfile.mkdtemp(prefix="ledbench_overhead_"))
    os.environ.setdefault("LEDBENCH_HOME", str(tmp / "home"))  # datasets are generated once, outside the timing
    items = create_dataset(args.dataset).items[: 2 if args.quick else None]
    decoded = [to_tensor(it.load_input()) for it in items]  # the tensors the runner passes (same memory layout)
    clock = _Clock()  # time inside the model (build + enhance), for both sides
    enh_pkg.create_enhancer = clock.wrap(enh_pkg.create_enhancer)
    Enhancer.enhance = clock.wrap(Enhancer.enhance)
    runs = itertools.count()
    limit = ["limit=2"] if args.quick else []
    rows = []
    for name in [e for e in args.enhancers.split(",") if e]:
        def bare(name=name) -> float:
            enh = enh_pkg.create_enhancer(name, device="cpu")
            for x in decoded:
                enh.enhance(x)
            return 0.0

        def in_process(name=name) -> float:
            i = next(runs)
            before = clock.total
            t0 = time.perf_counter()
            run(RunConfig(name="bench", dataset=args.dataset, enhancers=(name,), tasks=("quality",),
                          metrics=("psnr",), device="cpu", quiet=True, out=str(tmp / f"run{i}"),
                          cache_dir=str(tmp / f"cache{i}"), workers=args.workers, limit=2 if args.quick else 0))
            return (time.perf_counter() - t0) - (clock.total - before)  # the harness's own time

        def cli(name=name) -> None:
            i = next(runs)
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
            subprocess.run([sys.executable, "-m", "ledbench", "run", f"dataset={args.dataset}", f"enhancers={name}",
                            "tasks=quality", "metrics=psnr", "device=cpu", "quiet=true", f"out={tmp / f'run{i}'}",
                            f"cache_dir={tmp / f'cache{i}'}", *limit], check=True, env=env, capture_output=True)

        bare(), in_process()  # warm-up: page cache, lazy imports
        t = {"bare": [], "runner": [], "self": [], "model_in_runner": [], "cpu_bare": [], "cpu_runner": []}
        for _ in range(repeats):
            for side, fn in (("bare", bare), ("runner", in_process)):
                c0, w0, m0 = time.process_time(), time.perf_counter(), clock.total
                own = fn()
                t[side].append(time.perf_counter() - w0)
                t["cpu_" + side].append(time.process_time() - c0)
                if side == "runner":
                    t["self"].append(own)
                    t["model_in_runner"].append(clock.total - m0)
        build = min(_build_time(enh_pkg.create_enhancer, name) for _ in range(repeats))
        t_cli = min(_timed(cli) for _ in range(repeats))
        best = {k: min(v) for k, v in t.items()}
        rows.append([name, len(items), build, best["bare"], best["runner"], best["runner"] / best["bare"],
                     best["self"], best["self"] / best["model_in_runner"], best["cpu_runner"] / best["cpu_bare"],
                     t_cli, t_cli / best["bare"]])
    startup = min(_timed(lambda: subprocess.run([sys.executable, "-m", "ledbench", "--help"], check=True,
                                                capture_output=True)) for _ in range(repeats))
    write_table(args.out, "overhead" + ("_quick" if args.quick else ""),
                f"Harness overhead ({args.dataset}, {len(items)} images, tasks=quality, metrics=psnr)",
                ["enhancer", "images", "model build (s)", "bare: build + enhance loop (s)", "runner.run (s)",
                 "runner / bare", "harness own time (s)", "own / model time", "CPU runner / bare", "CLI (s)",
                 "CLI / bare"], rows,
                [machine_note(args.threads),
                 f"Min of {repeats} interleaved repeat(s). Bare: `create_enhancer(name)` then `enhance(x)` over "
                 "tensors decoded before timing. Runner: `run(RunConfig(...))` from an empty cache each time "
                 f"(workers={args.workers}). Harness own time = runner wall time minus the time inside "
                 "`create_enhancer` and `Enhancer.enhance` in the same run (min over repeats); CPU = process CPU "
                 "time, all threads. CLI = `python -m ledbench run ...` in a new process (imports included); "
                 f"the CLI start-up alone (`python -m ledbench --help`) is {startup:.2f} s. "
                 + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())])
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _build_time(create, name: str) -> float:
    return _timed(lambda: create(name, device="cpu"))


if __name__ == "__main__":
    sys.exit(main())
