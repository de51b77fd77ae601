"""Benchmark: CPU inference with subnormal floats flushed to zero vs not, for the released checkpoints that hold
subnormal weights (IAT, Zero-DCE, Zero-DCE++), on one 600 x 400 image.

    python benchmarks/bench_denormal.py [--quick] [--threads 1] [--repeats 5]

Writes ``benchmarks/results/denormal.md``: per model, the number of subnormal weights, the minimum latency with and
without flushing (same process, alternating), the speed ratio and the max abs output difference (expected 0.0).
Zero-DCE / Zero-DCE++ need their checkpoints in ../shared/assets or $LEDBENCH_ASSETS (skipped otherwise).
"""

from __future__ import annotations

import sys

from _common import machine_note, min_time, parser, set_threads, test_image, write_table

MODELS = [("iat.lol_v1", None), ("zero_dce", ("weights", "zero_dce", "Epoch99.pth")),
          ("zero_dce_pp", ("weights", "zero_dce_pp", "Epoch99.pth")), ("sci.medium", None)]


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__).parse_args(argv)
    set_threads(args.threads)
    import torch

    from ledbench.bench.paths import find_asset
    from ledbench.enhancers import create_enhancer

    h, w = (200, 300) if args.quick else (400, 600)
    repeats = 1 if args.quick else args.repeats
    x = test_image(h, w) * 0.3
    tiny = torch.finfo(torch.float32).tiny
    rows = []
    for name, asset in MODELS:
        weights = None
        if asset is not None:
            path = find_asset(*asset)
            if path is None:
                rows.append([name, "-", "-", "-", "-", "checkpoint not found"])
                continue
            weights = str(path)
        enh = create_enhancer(name, weights=weights)
        subnormal = sum(int(((p.abs() > 0) & (p.abs() < tiny)).sum()) for p in enh.model.parameters())
        times = {}
        outs = {}
        for flush in (True, False):
            enh.flush_denormal = flush
            outs[flush] = enh.enhance(x)
        for _ in range(2):  # alternate the two modes so a slow spell of the machine hits both
            for flush in (False, True):
                enh.flush_denormal = flush
                t = min_time(lambda e=enh: e.enhance(x), repeats, warmup=0)
                times[flush] = min(times.get(flush, t), t)
        diff = float((outs[True] - outs[False]).abs().max())
        rows.append([name, subnormal, times[False] * 1e3, times[True] * 1e3, times[False] / times[True], diff])
    write_table(args.out, "denormal" + ("_quick" if args.quick else ""),
                f"Flushing subnormals on CPU ({w} x {h} image)",
                ["enhancer", "subnormal weights", "plain (ms)", "flushed (ms)", "speed-up", "max abs diff"], rows,
                [machine_note(args.threads), f"Min of {2 * repeats} timed calls per mode, modes alternated. "
                 "`flushed` is the default path (TorchEnhancer.flush_denormal=True on CPU)."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
