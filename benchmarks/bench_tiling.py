"""Benchmark: streaming tiles. (1) tiled vs whole-image output difference per model, on a size where both fit;
(2) peak memory and time of a large image through DAP-LED base (random init) with tiling.

    python benchmarks/bench_tiling.py [--quick] [--threads 1] [--big 3000x4000] [--tile 512]

Writes ``benchmarks/results/tiling.md``. Tiling (blend=crop) is exact, up to float summation order, for a
convolutional model whose receptive field reaches at most ``tile_overlap // 2`` pixels; models with global context
(IAT's global branch, Restormer / DAP-LED attention over channels of the whole image, image statistics) change,
and table (1) says by how much. Peak memory is the peak of live torch tensors counted by
``ledbench.enhancers.base.TensorMemoryTracker`` (kernels' scratch buffers not included) and the process peak RSS
growth measured in a fresh subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from _common import machine_note, parser, set_threads, test_image, write_table

DIFF_MODELS = [("zero_dce_pp", {"pretrained": False}), ("iat.lol_v1", {}), ("dap_led_small.noclip_synth", {}),
               ("restormer", {"pretrained": False}), ("nafnet.gopro_width32", {"pretrained": False})]


def diff_rows(size: int, tile: int, overlap: int) -> list[list]:
    import torch

    from ledbench.enhancers import create_enhancer

    x = test_image(size, size) * 0.3
    rows = []
    for name, kw in DIFF_MODELS:
        try:
            whole = create_enhancer(name, **kw)
            tiled = create_enhancer(name, tile=tile, tile_overlap=overlap, **kw)
            tiled.model.load_state_dict(whole.model.state_dict())  # same random init
        except Exception as exc:  # noqa: BLE001 - a missing checkpoint skips the row
            rows.append([name, "-", "-", "-", f"skipped: {str(exc).splitlines()[0][:80]}"])
            continue
        a, b = whole.enhance(x), tiled.enhance(x)
        d = (a - b).abs()
        psnr = float(10 * torch.log10(1 / d.pow(2).mean().clamp_min(1e-20)))
        rows.append([name + ("" if kw.get("pretrained", True) else " (random init)"), float(d.max()),
                     float(d.mean()), psnr, ""])
    return rows


def big_child(h: int, w: int, tile: int, overlap: int, device: str) -> None:
    """Run in a subprocess: one h x w image through DAP-LED base (random init, full-size random CLIP tower) with
    tiling on ``device``; print JSON (CPU: live tensor peak; CUDA: max_memory_allocated)."""
    import resource

    import torch

    from ledbench.enhancers import create_enhancer
    from ledbench.enhancers.base import TensorMemoryTracker

    try:
        enh = create_enhancer("dap_led", pretrained=False, clip_random_init=True, tile=tile, tile_overlap=overlap,
                              device=device)
        what = "with a random CLIP tower"
    except ImportError:  # open_clip not installed: the restoration network alone (clip_prior=False)
        enh = create_enhancer("dap_led", pretrained=False, clip_prior=False, tile=tile, tile_overlap=overlap,
                              device=device)
        what = "clip_prior=False (open_clip missing)"
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        enh.enhance(x)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        with TensorMemoryTracker() as tracker:
            enh.enhance(x)
        peak = tracker.peak
    wall = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"tensor_peak": peak, "rss_growth": rss1 - rss0, "wall_s": wall, "what": what}))


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--big", default="3000x4000", help="H x W of the large image (default 12 MP)")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--device", default="cpu", help="device of the large-image run (cpu or cuda)")
    ap.add_argument("--skip-diff", action="store_true", help="only the large-image run")
    ap.add_argument("--child", action="store_true", help=argparse_hidden())
    args = ap.parse_args(argv)
    set_threads(args.threads)
    h, w = (int(v) for v in (("256x256" if args.quick else args.big).lower().split("x")))
    if args.child:
        big_child(h, w, args.tile if not args.quick else 128, args.overlap, args.device)
        return 0
    size, tile = (128, 64) if args.quick else (512, 256)
    rows = [] if args.skip_diff else diff_rows(size, tile, args.overlap if not args.quick else 16)
    cmd = [sys.executable, __file__, "--child", "--threads", str(args.threads), "--big", f"{h}x{w}", "--device",
           args.device,
           "--tile", str(args.tile), "--overlap", str(args.overlap)] + (["--quick"] if args.quick else [])
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        big = [[f"dap_led base, {h}x{w}", "failed", res.stderr.strip().splitlines()[-1:], "", ""]]
    else:
        m = json.loads(res.stdout.strip().splitlines()[-1])
        big = [[f"dap_led base (random init), {h} x {w}, tile {args.tile if not args.quick else 128}, {args.device}",
                m["tensor_peak"] / 2**30, m["rss_growth"] / 2**30, m["wall_s"], m["what"]]]
    notes = [machine_note(args.threads),
             f"(1) {size} x {size} image, tile {tile}, overlap {args.overlap if not args.quick else 16} (blend=crop): "
             "max / mean abs difference to the whole-image output and the PSNR between the two (dB).",
             "(2) large image, tiled: peak live tensor memory (GiB), growth of the process peak RSS (GiB), wall time "
             "(s) of one call. Target for 12 MP: < 4 GiB."]
    suffix = ("_quick" if args.quick else "") + ("" if args.device == "cpu" else "_" + args.device.split(":")[0])
    if rows:
        write_table(args.out, "tiling" + suffix, "Tiled vs whole-image inference",
                    ["model", "max abs diff", "mean abs diff", "PSNR tiled vs whole (dB)", "note"], rows, notes)
    name = "tiling_memory" + suffix + ("" if args.big == "3000x4000" else "_" + args.big)
    write_table(args.out, name, "Large image through tiles",
                ["case", "tensor / CUDA peak (GiB)", "RSS growth (GiB)", "wall (s)", "note"], big,
                notes[:1] + notes[2:])
    return 0


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
