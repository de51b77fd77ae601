"""Benchmark: one torchrun rank vs two (``torchrun --nproc-per-node N -m ledbench run``, gloo on CPU), same images,
same launcher, cold cache each time, one thread per rank.

    python benchmarks/bench_ranks.py [--quick] [--n 48] [--size 256] [--enhancers dap_led_small.noclip_natural,...]

Writes ``benchmarks/results/ranks.md``: wall time (min of repeats, 1 and 2 ranks interleaved), the speed-up, whether
the two runs' results are identical, and the fixed cost of a launch (the same command on ``--fixed-n`` images per
rank: interpreter and torch start-up in the launcher and each rank, model construction, rendezvous, writing the run
directory), from which the Amdahl bound ``(F + W) / (F + W / 2)`` of the measured workload is given. Two ranks need
two free cores to gain: the table also gives the CPU time of each launch (launcher and ranks, all processes), whose
ratio shows how much work the second rank adds (its own start-up) independently of other load on the machine, and
the load average when the runs ended.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_note, make_folder, parser, write_table


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=48, help="images")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--enhancers", default="dap_led_small.noclip_natural,iat.lol_v1")
    ap.add_argument("--fixed-n", type=int, default=1, help="images per rank of the fixed-cost launch")
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

    cpu: dict[int, list[float]] = {1: [], 2: []}

    def launch(ranks: int, *extra: str) -> tuple[float, Path]:
        i = next(runs)
        out = tmp / f"run{i}"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [torchrun, "--nproc-per-node", str(ranks), "--master-port", str(port), "-m", "ledbench", "run",
               *common, f"out={out}", f"cache_dir={tmp / f'cache{i}'}", *extra]
        c0 = _children_cpu()
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        wall = time.perf_counter() - t0
        if not extra:
            cpu[ranks].append(_children_cpu() - c0)
        return wall, out

    t1, t2 = [], []
    for _ in range(repeats):
        (a, out1), (b, out2) = launch(1), launch(2)
        t1.append(a)
        t2.append(b)
    same = _sorted_lines(out1 / "results.csv") == _sorted_lines(out2 / "results.csv")
    same_per_image = _sorted_lines(out1 / "per_image.csv") == _sorted_lines(out2 / "per_image.csv")
    f1 = min(launch(1, f"limit={args.fixed_n}")[0] for _ in range(repeats))
    f2 = min(launch(2, f"limit={2 * args.fixed_n}")[0] for _ in range(repeats))
    one, two = min(t1), min(t2)
    work = one - f1
    bound = one / (f1 + work / 2)
    load = os.getloadavg()[0]
    write_table(args.out, "ranks" + ("_quick" if args.quick else ""),
                f"One vs two torchrun ranks ({n} images, {size} x {size}, {args.enhancers})",
                ["1 rank (s)", "2 ranks (s)", "speed-up", "results identical", "fixed cost 1 rank (s)",
                 "fixed cost 2 ranks (s)", "Amdahl bound with 1-rank fixed cost", "CPU 1 rank (s)", "CPU 2 ranks (s)",
                 "load average"],
                [[one, two, one / two, same and same_per_image, f1, f2, bound, min(cpu[1]), min(cpu[2]), load]],
                [machine_note(args.threads) + f" {args.threads} thread(s) per rank; min of {repeats} interleaved "
                 "repeat(s); cold cache; tasks=quality (psnr, ssim); both runs through torchrun. Fixed cost: the "
                 f"same launch on {args.fixed_n} image(s) per rank. " + time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                     time.gmtime())])
    return 0


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sorted_lines(path: Path) -> list[str]:
    return sorted(path.read_text().splitlines())


if __name__ == "__main__":
    sys.exit(main())
