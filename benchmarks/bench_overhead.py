"""Benchmark: harness overhead. The same images through (a) a bare ``model(x)`` loop over already decoded tensors,
(b) ``ledbench.bench.runner.run(RunConfig(...))`` in-process, (c) the ``ledbench run`` CLI in a subprocess; cold
cache each time (a fresh cache folder), tasks=quality with PSNR only, one thread.

    python benchmarks/bench_overhead.py [--quick] [--n 8] [--size 256] [--enhancers iat.lol_v1,...]

Writes ``benchmarks/results/overhead.md``: wall times (min of repeats) and the ratios runner / bare and CLI / bare.
The runner's time includes PNG decoding and encoding, hashing, caching and PSNR; the CLI's adds interpreter start
and imports.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_note, make_folder, min_time, parser, set_threads, write_table


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=8, help="images")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--enhancers", default="iat.lol_v1,dap_led_small.noclip_synth")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    import torch

    from ledbench.bench.imageio import read_image
    from ledbench.bench.runner import RunConfig, run
    from ledbench.enhancers import create_enhancer

    n, size, repeats = (3, 64, 1) if args.quick else (args.n, args.size, args.repeats)
    tmp = Path(tempfile.mkdtemp(prefix="ledbench_overhead_"))
    data = make_folder(tmp / "data", n, size, size)
    os.environ["LEDBENCH_HOME"] = str(tmp / "home")
    rows = []
    runs = itertools.count()
    for name in [e for e in args.enhancers.split(",") if e]:
        enh = create_enhancer(name)
        images = [torch.from_numpy(read_image(p)).permute(2, 0, 1)[None].float()
                  for p in sorted((data / "low").glob("*.png"))]

        def bare(enh=enh, images=images):
            with torch.no_grad():
                for x in images:
                    enh.model(enh._to_model_range(x))

        def bare_enhance(enh=enh, images=images):
            for x in images:
                enh.enhance(x)

        def in_process(name=name):
            i = next(runs)
            run(RunConfig(name="bench", dataset=f"folder:{data}", enhancers=(name,), tasks=("quality",),
                          metrics=("psnr",), device="cpu", quiet=True, out=str(tmp / f"run{i}"),
                          cache_dir=str(tmp / f"cache{i}"), workers=0))

        def cli(name=name):
            i = next(runs)
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
            subprocess.run([sys.executable, "-m", "ledbench", "run", f"dataset=folder:{data}", f"enhancers={name}",
                            "tasks=quality", "metrics=psnr", "device=cpu", "quiet=true", f"out={tmp / f'run{i}'}",
                            f"cache_dir={tmp / f'cache{i}'}"], check=True, env=env, capture_output=True)

        t = {k: min_time(f, repeats) for k, f in
             (("bare", bare), ("enhance", bare_enhance), ("runner", in_process), ("cli", cli))}
        rows.append([name, n, t["bare"], t["enhance"], t["runner"], t["cli"], t["enhance"] / t["bare"],
                     t["runner"] / t["bare"], t["cli"] / t["bare"]])
    write_table(args.out, "overhead" + ("_quick" if args.quick else ""),
                f"Harness overhead ({n} images, {size} x {size})",
                ["enhancer", "images", "bare model(x) (s)", "enhance() (s)", "runner.run (s)", "CLI (s)",
                 "enhance / bare", "runner / bare", "CLI / bare"], rows,
                [machine_note(args.threads), f"Min of {repeats} repeat(s); runner and CLI start from an empty cache "
                 "each time (tasks=quality, metrics=psnr, workers=0). " + time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                          time.gmtime())])
    return 0


if __name__ == "__main__":
    sys.exit(main())
