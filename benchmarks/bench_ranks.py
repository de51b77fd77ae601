"""Benchmark: one process vs two ranks (``torchrun --nproc-per-node 2 -m ledbench run``, gloo on CPU), same images,
cold cache each time, one thread per rank.

    python benchmarks/bench_ranks.py [--quick] [--n 16] [--size 256] [--enhancers gamma,clahe,iat.lol_v1]

Writes ``benchmarks/results/ranks.md``: wall time (min of repeats) and speed-up. Two ranks need two free cores to
gain; both runs include interpreter start-up and imports (the 2-rank run pays them twice, in parallel).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import machine_note, make_folder, min_time, parser, write_table


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--enhancers", default="gamma,clahe,iat.lol_v1")
    args = ap.parse_args(argv)
    n, size, repeats = (4, 64, 1) if args.quick else (args.n, args.size, args.repeats)
    tmp = Path(tempfile.mkdtemp(prefix="ledbench_ranks_"))
    data = make_folder(tmp / "data", n, size, size)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               LEDBENCH_HOME=str(tmp / "home"))
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    runs = itertools.count()
    common = [f"dataset=folder:{data}", f"enhancers={args.enhancers}", "tasks=quality", "metrics=psnr,ssim",
              "device=cpu", "quiet=true"]

    def launch(ranks: int) -> None:
        i = next(runs)
        where = [f"out={tmp / f'run{i}'}", f"cache_dir={tmp / f'cache{i}'}"]
        if ranks == 1:
            cmd = [sys.executable, "-m", "ledbench", "run", *common, *where]
        else:
            with __import__("socket").socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            cmd = [torchrun, "--nproc-per-node", str(ranks), "--master-port", str(port), "-m", "ledbench", "run",
                   *common, *where]
        subprocess.run(cmd, check=True, env=env, capture_output=True)

    t1 = min_time(lambda: launch(1), repeats, warmup=0)
    t2 = min_time(lambda: launch(2), repeats, warmup=0)
    write_table(args.out, "ranks" + ("_quick" if args.quick else ""),
                f"One process vs two torchrun ranks ({n} images, {size} x {size})",
                ["enhancers", "1 process (s)", "2 ranks (s)", "speed-up"], [[args.enhancers, t1, t2, t1 / t2]],
                [machine_note(args.threads) + f" {args.threads} thread(s) per rank; min of {repeats} repeat(s); "
                 "cold cache; tasks=quality (psnr, ssim)."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
