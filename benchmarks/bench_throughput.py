"""Benchmark: images/s and peak memory per enhancer at 256 x 256 and 1 MP (1024 x 1024), and 12 MP (3000 x 4000)
for the cheap ones; one thread, batch 1, min of repeats. Models without shipped weights use random init (same cost).

    python benchmarks/bench_throughput.py [--quick] [--threads 1] [--enhancers ...] [--device cpu]

Writes ``benchmarks/results/throughput.md``. Peak memory: live torch tensors during one call on CPU
(``TensorMemoryTracker``, in an untimed call), ``torch.cuda.max_memory_allocated`` on CUDA.
"""

from __future__ import annotations

import sys

from _common import machine_note, min_time, parser, set_threads, test_image, write_table

DEFAULT = ("gamma,clahe,sci.medium,zero_dce_pp,iat.lol_v1,dap_led_small.noclip_synth,zero_dce,retinexformer,"
           "nafnet.gopro_width32,restormer")
CHEAP = {"gamma", "clahe", "sci.medium", "zero_dce_pp", "iat.lol_v1", "zero_dce"}


def peak_bytes(enh, x) -> int:
    import torch

    from ledbench.enhancers.base import TensorMemoryTracker

    if enh.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        enh.enhance(x)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    with TensorMemoryTracker() as tracker:
        enh.enhance(x)
    return tracker.peak


def build(name: str, device: str):
    from ledbench.enhancers import create_enhancer, enhancer_availability

    ok, _ = enhancer_availability(name)
    return create_enhancer(name, device=device, pretrained=ok), ok


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--enhancers", default=DEFAULT)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--big", action="store_true", help="also 12 MP for the cheap enhancers")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    import torch

    sizes = [(64, 64)] if args.quick else [(256, 256), (1024, 1024)] + ([(3000, 4000)] if args.big else [])
    names = [n for n in args.enhancers.split(",") if n][: 3 if args.quick else None]
    repeats = 1 if args.quick else args.repeats
    rows = []
    for name in names:
        try:
            enh, pretrained = build(name, args.device)
        except Exception as exc:  # noqa: BLE001 - e.g. an optional dependency is missing
            rows.append([name, "-", "-", "-", "-", f"skipped: {str(exc).splitlines()[0][:60]}"])
            continue
        for h, w in sizes:
            if h * w > 2e6 and name not in CHEAP:
                continue
            x = test_image(h, w).to(args.device)

            def call(enh=enh, x=x):
                enh.enhance(x)
                if x.is_cuda:
                    torch.cuda.synchronize()

            t = min_time(call, repeats)
            rows.append([name, f"{w} x {h}", 1 / t, t * 1e3, peak_bytes(enh, x) / 2**20,
                         "" if pretrained else "random init"])
    write_table(args.out, "throughput" + ("_quick" if args.quick else "") +
                ("" if args.device == "cpu" else "_" + args.device.split(":")[0]),
                f"Throughput and peak memory per enhancer ({args.device})",
                ["enhancer", "size", "images/s", "latency (ms)", "peak memory (MiB)", "weights"], rows,
                [machine_note(args.threads), f"Batch 1, min of {repeats} repeat(s) after one warm-up."])
    return 0


if __name__ == "__main__":
    sys.exit(main())
