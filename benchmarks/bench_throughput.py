"""Benchmark: images/s and peak memory per enhancer and task model at 256 x 256, 1 MP (1024 x 1024) and 12 MP
(4000 x 3000); one thread, batch 1, min of repeats, latency ratios to a reference model measured in the same run.

    python benchmarks/bench_throughput.py [--quick] [--threads 1] [--enhancers a,b] [--tasks a,b] [--device cpu]

Writes ``benchmarks/results/throughput.md`` and ``throughput.json`` (raw records). Each model runs in its own
subprocess (fresh allocator, so the process peak RSS means something), sizes in increasing order; ``--quick`` runs
in-process on 64 / 128 px as a smoke test.

- Enhancers: ``enhance(x)`` on a ``1 x 3 x H x W`` tensor. Models without local weights use random init (same cost).
- Task models: ``predict([img])`` on an ``H x W x 3`` float32 array, pre- and post-processing included. They resize
  to a fixed network input (Yolo-Fastest 320, ESPNetv2 512 x 256, YOLO 640 letterbox, DPT 384, SegFormer 512 / 640),
  so their cost grows with the image only through resizing and the full-size output. Without local weights the
  transformers models are random-init folders of the real size built offline (DPT-Hybrid / MiDaS v3: the
  ``DPTConfig`` of transformers' ``convert_dpt_hybrid_to_pytorch.py``; SegFormer MiT-B0 / B5 with an ADE20K head:
  ``SegformerConfig`` of the ``nvidia/segformer-b{0,5}`` configs) and YOLO is ``yolov8n.yaml`` (random init).

Timing: one 64 px call after building the model (lazy imports, one-time set-up); then per size the first call is
the untimed warm-up and the memory measurement, then ``--repeats`` timed calls (one when the warm-up took over
``--slow`` s) and the minimum is reported. A size is skipped ("skipped: est. N s /
N GiB") when the estimate from the smaller sizes (linear in pixels) exceeds ``--max-call`` seconds or
``--max-mem`` GiB of tensors (a task model's first size counts as its cost at any size: fixed network input);
12 MP is skipped for any model slower than 60 s per 1 MP image.

Peak memory on CPU: live torch tensors during the warm-up call (``TensorMemoryTracker``: kernels' scratch buffers
and OpenCV / numpy arrays not counted) and the growth of the process peak RSS over the RSS after the model was
built (includes the input, numpy / OpenCV buffers and allocator slack). On CUDA: ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _common import machine_note, parser, set_threads, test_image, write_table

ENHANCERS = ("gamma,clahe,sci.medium,zero_dce_pp,iat.lol_v1,dap_led_small.noclip_synth,zero_dce,retinexformer,"
             "nafnet.gopro_width32,restormer")
TASKS = "det_yolo_fastest,seg_espnetv2,det_yolo,depth_dpt,seg_segformer.b0,seg_segformer.b5"
SIZES = [(256, 256), (1024, 1024), (3000, 4000)]
QUICK_SIZES = [(64, 64), (128, 128)]
REF = "sci.medium"

# Random-init stand-ins of the real size (transformers configs), used when no local checkpoint is found.
SEGFORMER = {"b0": {"kw": {}, "size": 512, "what": "MiT-B0, ADE20K head, 512 x 512"},
             "b5": {"kw": {"depths": [3, 6, 40, 3], "hidden_sizes": [64, 128, 320, 512], "decoder_hidden_size": 768},
                    "size": 640, "what": "MiT-B5, ADE20K head, 640 x 640"}}


def hf_folder(key: str, root: Path) -> tuple[Path, str]:
    """A random-init transformers model folder of the real size for ``depth_dpt`` / ``seg_segformer.bN`` (built once
    into ``root``), and what it stands for."""
    import torch
    import transformers as tr

    if key == "depth_dpt":
        folder, what = root / "dpt_hybrid_midas_random", "DPT-Hybrid (MiDaS v3) config"
        cfg = tr.DPTConfig(is_hybrid=True, hidden_size=768, patch_size=16, image_size=384, readout_type="project",
                           reassemble_factors=[1, 1, 1, 0.5], neck_hidden_sizes=[256, 512, 768, 768],
                           use_batch_norm_in_fusion_residual=False)
        make = tr.DPTForDepthEstimation
    else:
        spec = SEGFORMER[key.split(".")[1]]
        folder, what = root / f"segformer_{key.split('.')[1]}_ade_random", spec["what"] + " config"
        cfg = tr.SegformerConfig(num_labels=150, **spec["kw"])
        make = tr.SegformerForSemanticSegmentation
    if not (folder / "config.json").is_file():
        torch.manual_seed(0)
        make(cfg).eval().save_pretrained(folder)
    return folder, what


def build_task(key: str, device: str, model_dir: Path):
    """``(task, weights note)`` for a benchmark task key (a registry name, or ``seg_segformer.b0`` / ``.b5``)."""
    from ledbench.tasks import create_task, task_availability

    if key == "det_yolo":
        ok, _ = task_availability("det_yolo")
        if ok:
            return create_task("det_yolo", device=device), "yolov8n.pt"
        return create_task("det_yolo", model="yolov8n.yaml", device=device), "random init (yolov8n.yaml)"
    if key == "depth_dpt" or key.startswith("seg_segformer."):
        name = key.split(".")[0]
        tag = "hybrid" if key == "depth_dpt" else key.split(".")[1] + "_ade"
        ok, _ = task_availability(f"{name}.{tag}") if key != "seg_segformer.b5" else (False, "")
        if ok:
            return create_task(f"{name}.{tag}", device=device), "pretrained"
        folder, what = hf_folder(key, model_dir)
        extra = {} if key == "depth_dpt" else {"size": [SEGFORMER[key.split(".")[1]]["size"]] * 2}
        return create_task(name, weights=str(folder), device=device, **extra), f"random init ({what})"
    ok, why = task_availability(key)
    if not ok:
        raise RuntimeError(why)
    return create_task(key, device=device), "shipped"


def build(item: str, device: str, model_dir: Path):
    """``(call(h, w) -> (fn, x), torch module or None, weights note)`` for ``enhancer:NAME`` / ``task:KEY``."""
    kind, name = item.split(":", 1)
    if kind == "enhancer":
        from ledbench.enhancers import create_enhancer, enhancer_availability

        ok, _ = enhancer_availability(name)
        enh = create_enhancer(name, device=device, pretrained=ok)

        def prepare(h, w):
            return enh.enhance, test_image(h, w).to(device)

        return prepare, getattr(enh, "model", None), "pretrained" if ok else "random init"
    task, note = build_task(name, device, model_dir)

    def prepare_task(h, w):
        img = test_image(h, w)[0].permute(1, 2, 0).numpy().copy()
        return (lambda x: task.predict([x])), img

    return prepare_task, getattr(task, "model", None), note


def _rss_now() -> int:
    import os

    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _params(module) -> float | None:
    try:
        return sum(p.numel() for p in module.parameters()) / 1e6
    except Exception:  # noqa: BLE001 - gamma / clahe / an OpenCV net have no torch parameters
        return None


def measure(item: str, sizes, args):
    """Yield one record per size (a dict), after a first record describing the built model."""
    import resource

    import torch

    from ledbench.enhancers.base import TensorMemoryTracker

    device = args.device
    t0 = time.perf_counter()
    prepare, module, note = build(item, device, Path(args.model_dir))
    fn, x = prepare(64, 64)
    fn(x)  # lazy imports and one-time set-up stay out of the first size's numbers
    rss_load = _rss_now()
    yield {"item": item, "build_s": time.perf_counter() - t0, "params_m": _params(module), "weights": note}
    done: list[tuple[int, float, int]] = []  # (pixels, latency s, tensor peak bytes)
    for h, w in sizes:
        px = h * w
        est_t, est_m = _extrapolate(done, px, fixed_input=item.startswith("task:"))
        rec = {"item": item, "size": [h, w]}
        too_slow = px > 2e6 and any(p >= 1e6 and t > 60 * p / 2**20 for p, t, _ in done)
        if est_t > args.max_call or too_slow:
            yield {**rec, "skipped": f"est. {est_t:.0f} s"}
            continue
        if est_m > args.max_mem * 2**30:
            yield {**rec, "skipped": f"est. {est_m / 2**30:.1f} GiB"}
            continue
        fn, x = prepare(h, w)
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        start = time.perf_counter()
        if device.startswith("cuda"):
            fn(x)
            sync()
            peak = torch.cuda.max_memory_allocated() - base
        else:
            with TensorMemoryTracker() as tracker:
                fn(x)
            peak = tracker.peak
        first = time.perf_counter() - start
        n = args.repeats if first <= args.slow else (1 if first <= args.max_call / 2 else 0)
        times = []
        for _ in range(n):
            s = time.perf_counter()
            fn(x)
            sync()
            times.append(time.perf_counter() - s)
        latency = min(times) if times else first
        rss_growth = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_load)
        done.append((px, latency, peak))
        yield {**rec, "latency_s": latency, "timed_calls": len(times), "tensor_peak": peak, "rss_growth": rss_growth}
        del x


def _extrapolate(done: list[tuple[int, float, int]], px: int, fixed_input: bool = False) -> tuple[float, float]:
    """Time and tensor-memory estimates at ``px`` pixels: from one measured size, proportional to pixels (the
    measured values themselves for a ``fixed_input`` task model, which resizes to its network input); from two or
    more, the line through the two largest (never below the largest measured value)."""
    if not done:
        return 0.0, 0.0
    if len(done) == 1:
        p, t, m = done[0]
        return (float(t), float(m)) if fixed_input else (t * px / p, m * px / p)
    (p0, t0, m0), (p1, t1, m1) = done[-2], done[-1]
    slope_t, slope_m = max(0.0, (t1 - t0) / (p1 - p0)), max(0.0, (m1 - m0) / (p1 - p0))
    return t1 + slope_t * (px - p1), m1 + slope_m * (px - p1)


def child(args) -> int:
    set_threads(args.threads)
    try:
        import cv2

        cv2.setNumThreads(args.threads)  # Yolo-Fastest runs on OpenCV DNN
    except ImportError:
        pass
    for rec in measure(args.child, _sizes(args), args):
        print(json.dumps(rec), flush=True)
    return 0


def _sizes(args):
    return QUICK_SIZES if args.quick else SIZES


def run_item(item: str, args) -> list[dict]:
    """Records of one model: in this process (``--quick``/``--in-process``) or in a fresh subprocess."""
    if args.quick or args.in_process:
        try:
            return list(measure(item, _sizes(args), args))
        except Exception as exc:  # noqa: BLE001 - e.g. an optional dependency is missing
            return [{"item": item, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"}]
    cmd = [sys.executable, __file__, "--child", item, "--threads", str(args.threads), "--repeats", str(args.repeats),
           "--device", args.device, "--model-dir", args.model_dir, "--slow", str(args.slow),
           "--max-call", str(args.max_call), "--max-mem", str(args.max_mem)]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    recs = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    if res.returncode != 0:
        err = (res.stderr.strip().splitlines() or ["no output"])[-1][:100]
        recs.append({"item": item, "error": f"exit {res.returncode}: {err}"})
    print(f"{item}: {time.perf_counter() - t0:.0f} s wall", file=sys.stderr, flush=True)
    return recs


def table_rows(records: list[dict], ref: str) -> list[list]:
    """One Markdown row per (model, size); latency ratio to ``ref`` at the same size."""
    ref_lat = {tuple(r["size"]): r["latency_s"] for r in records
               if r["item"].split(":", 1)[1] == ref and "latency_s" in r}
    info = {r["item"]: r for r in records if "build_s" in r}
    rows = []
    for r in records:
        kind, name = r["item"].split(":", 1)
        meta = info.get(r["item"], {})
        params = meta.get("params_m")
        head = [name, kind, _count(params)]
        if "error" in r:
            rows.append(head + ["-", "-", "-", "-", "-", "-", f"skipped: {r['error']}"])
            continue
        if "size" not in r:
            continue
        size = f"{r['size'][1]} x {r['size'][0]}"
        if "skipped" in r:
            rows.append(head + [size, "-", "-", "-", "-", "-", f"skipped: {r['skipped']}"])
            continue
        lat = r["latency_s"]
        ratio = lat / ref_lat[tuple(r["size"])] if tuple(r["size"]) in ref_lat else "-"
        calls = f"min of {r['timed_calls']}" if r["timed_calls"] else "one (warm-up) call"
        weights = "no weights" if kind == "enhancer" and params is None else meta.get("weights", "")
        rows.append(head + [size, 1 / lat, lat * 1e3, ratio, r["tensor_peak"] / 2**20, r["rss_growth"] / 2**20,
                            f"{weights}; {calls}"])
    return rows


def _count(params_m: float | None) -> str:
    if params_m is None:
        return "-"
    return f"{params_m:.1f} M" if params_m >= 1 else f"{params_m * 1e3:.1f} k"


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--enhancers", default=ENHANCERS, help="comma-separated enhancer names ('' = none)")
    ap.add_argument("--tasks", default=TASKS, help="comma-separated task keys ('' = none); seg_segformer.b0 / .b5 "
                                                   "pick the SegFormer size")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--ref", default=REF, help=f"reference model of the latency ratio (default {REF})")
    ap.add_argument("--slow", type=float, default=5.0, help="a warm-up call over this (s) gets one timed repeat")
    ap.add_argument("--max-call", type=float, default=240.0, help="skip a size estimated to take longer (s)")
    ap.add_argument("--max-mem", type=float, default=4.0, help="skip a size estimated to need more tensors (GiB)")
    ap.add_argument("--model-dir", default=str(Path("/tmp") / "ledbench-bench-models"),
                    help="where random-init transformers folders are built")
    ap.add_argument("--in-process", action="store_true", help="no subprocess per model (RSS growth less telling)")
    ap.add_argument("--render", metavar="JSON", help="only rewrite the Markdown table from a saved throughput JSON")
    ap.add_argument("--child", help=_hidden())
    args = ap.parse_args(argv)
    if args.child:
        return child(args)
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        write_table(Path(args.render).parent, Path(args.render).stem, saved["title"], saved["header"],
                    table_rows(saved["records"], saved["ref"]), saved["notes"])
        return 0
    if args.quick:
        args.repeats = 1
        args.enhancers = ",".join(n for n in args.enhancers.split(",") if n in ("gamma", "sci.medium"))
        args.tasks = ",".join(n for n in args.tasks.split(",") if n in ("seg_espnetv2",))
    set_threads(args.threads)
    items = [f"enhancer:{n}" for n in args.enhancers.split(",") if n] + [f"task:{n}" for n in args.tasks.split(",")
                                                                         if n]
    t0 = time.perf_counter()
    records = [rec for item in items for rec in run_item(item, args)]
    wall = time.perf_counter() - t0
    name = "throughput" + ("_quick" if args.quick else "") + ("" if args.device == "cpu" else "_" +
                                                              args.device.split(":")[0])
    notes = [machine_note(args.threads) + " " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             f"Batch 1; first call per size untimed (warm-up and memory), then min of {args.repeats} timed call(s), "
             f"one when the warm-up took over {args.slow:g} s. `x {args.ref}`: latency divided by {args.ref}'s at the "
             f"same size in this run (the machine is shared, absolute timings jump; ratios are steadier).",
             "Tensor peak: live torch tensors during one call (TensorMemoryTracker; OpenCV / numpy buffers and "
             "kernel scratch not counted). RSS growth: process peak RSS over the RSS after the model was built, one "
             "subprocess per model, sizes ascending (includes making the input from the source photo and allocator "
             "slack).",
             "Task models resize to a fixed network input, so only resizing and the full-size output grow with the "
             "image (SegFormer upsamples all class logits to the image size before the argmax: 150 x H x W float32); "
             "enhancers run at full resolution. Skips: estimated from the smaller sizes (linear in pixels) over "
             f"{args.max_call:g} s or {args.max_mem:g} GiB, or 12 MP for models over 60 s per 1 MP image.",
             f"Total wall time of the benchmark: {wall:.0f} s."]
    header = ["model", "kind", "params", "size (W x H)", "images/s", "latency (ms)", f"x {args.ref}",
              "tensor peak (MiB)", "RSS growth (MiB)", "weights; timing"]
    title = f"Throughput and peak memory per enhancer and task model ({args.device})"
    write_table(args.out, name, title, header, table_rows(records, args.ref), notes)
    out = Path(args.out) / f"{name}.json"
    out.write_text(json.dumps({"title": title, "header": header, "ref": args.ref, "notes": notes,
                               "records": records}, indent=1) + "\n")
    return 0


def _hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
