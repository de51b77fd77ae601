"""GPU acceptance check: one command on a CUDA machine, offline, < 5 min on one H100 (``--quick``: about 1 min).

    python benchmarks/gpu_check.py [--quick] [--compile] [--out benchmarks/results]

Checks, each against a stated tolerance (the summary table prints PASS / FAIL; exit status 1 on any FAIL, 2 without
CUDA):

1. official-output fixtures (tests/fixtures/reference or ../shared/assets/reference): the reduced official nets on
   CUDA in float32 (TF32 off) reproduce ``output.npy`` within 1e-4 (the CPU tests' tolerance);
   channels_last within 1e-4 of it; float16 / bfloat16 autocast within a PSNR of 35 / 28 dB of it;
   ``--compile``: torch.compile within 1e-4.
2. shipped and asset weights (iat.lol_v1, sci.medium, dap_led_small.noclip_synth, zero_dce, zero_dce_pp) on
   synth_mini images: CUDA float32 vs CPU float32 within 1e-4; AMP as in 1.
3. full-size random-init models (restormer, nafnet.gopro_width32, retinexformer, lednet, darkir.m, mimo_unet,
   dap_led base with a random CLIP tower): CUDA vs CPU on 128 x 128 within 1e-3 (deep nets, float32 summation
   order), then throughput (images/s) at 1024 x 1024 (512 with --quick) in fp32, fp16, bf16 and channels_last.
4. the runner: ``ledbench run`` on synth_mini (identity, gamma, sci.medium, iat.lol_v1; quality PSNR/SSIM) with
   device=cuda vs device=cpu: every results.csv value within 1e-3 relative (enhanced images are cached as 8-bit
   PNGs, so a float difference can flip one rounding); with 2+ GPUs also ``torchrun --nproc-per-node 2`` (NCCL)
   vs the one-GPU run.

Writes ``gpu_check.md`` (and .json) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF_DIRS = [ROOT / "tests" / "fixtures" / "reference", ROOT.parent / "shared" / "assets" / "reference"]
SHIPPED = [("iat.lol_v1", None), ("sci.medium", None), ("dap_led_small.noclip_synth", None),
           ("zero_dce", ("weights", "zero_dce", "Epoch99.pth")),
           ("zero_dce_pp", ("weights", "zero_dce_pp", "Epoch99.pth"))]
FULL = [("restormer", {}), ("nafnet.gopro_width32", {}), ("retinexformer", {}), ("lednet", {}), ("darkir.m", {}),
        ("mimo_unet", {}), ("dap_led", {"clip_random_init": True})]
TOL_FP32, TOL_FULL, PSNR_FP16, PSNR_BF16, TOL_RUN = 1e-4, 1e-3, 35.0, 28.0, 1e-3

RESULTS: list[dict] = []


def record(section: str, case: str, measure: str, value: float, limit: float, ok: bool, note: str = "") -> None:
    RESULTS.append({"section": section, "case": case, "measure": measure, "value": value, "limit": limit,
                    "status": "PASS" if ok else "FAIL", "note": note})
    print(f"[{'PASS' if ok else 'FAIL'}] {section} {case}: {measure} = {value:.4g} (limit {limit:g}) {note}",
          flush=True)


def skip(section: str, case: str, why: str) -> None:
    RESULTS.append({"section": section, "case": case, "measure": "-", "value": float("nan"), "limit": float("nan"),
                    "status": "SKIP", "note": why[:100]})
    print(f"[SKIP] {section} {case}: {why[:200]}", flush=True)


def maxdiff(a, b) -> float:
    import torch

    return float((a.detach().float().cpu() - torch.as_tensor(b).float().cpu()).abs().max())


def psnr(a, b) -> float:
    import torch

    mse = float((a.detach().float().cpu() - torch.as_tensor(b).float().cpu()).pow(2).mean())
    return 10 * math.log10(1 / max(mse, 1e-20))


def precision_checks(section: str, case: str, make, x, ref, tol: float, compile_: bool) -> None:
    """fp32 (vs ``ref``), channels_last, fp16 / bf16 autocast and optionally torch.compile on CUDA."""
    enh = make(amp=False)
    y = enh.enhance(x)
    record(section, case, "fp32 max|CUDA - ref|", maxdiff(y, ref), tol, maxdiff(y, ref) <= tol)
    try:
        y_cl = make(amp=False).use_channels_last().enhance(x)
        record(section, case, "channels_last max|diff|", maxdiff(y_cl, ref), tol, maxdiff(y_cl, ref) <= tol)
    except AttributeError:
        skip(section, case + " channels_last", "not a TorchEnhancer")
    for amp, limit in (("float16", PSNR_FP16), ("bfloat16", PSNR_BF16)):
        y_amp = make(amp=amp).enhance(x)
        p = psnr(y_amp, ref)
        record(section, case, f"{amp} PSNR vs fp32 ref (dB)", p, limit, p >= limit)
    if compile_:
        import torch

        c = make(amp=False)
        try:
            c.model = torch.compile(c.model)
            y_c = c.enhance(x)
            record(section, case, "torch.compile max|diff|", maxdiff(y_c, ref), tol, maxdiff(y_c, ref) <= tol)
        except Exception as exc:  # noqa: BLE001 - compile needs a compiler toolchain; report, do not crash
            record(section, case, "torch.compile", float("nan"), tol, False, f"error: {str(exc).splitlines()[0][:80]}")


def check_fixtures(compile_: bool, quick: bool) -> None:
    import numpy as np
    import torch

    from ledbench.enhancers import create_enhancer

    ref_root = next((d for d in REF_DIRS if d.is_dir()), None)
    if ref_root is None:
        skip("1 fixtures", "-", "no tests/fixtures/reference or ../shared/assets/reference")
        return
    folders = sorted(p.parent for p in ref_root.glob("*/state_dict.pth"))
    if quick:
        folders = folders[:4]
    for d in folders:
        meta = json.loads((d / "meta.json").read_text())
        name = meta.get("arch", d.name)
        ref = np.load(d / "output.npy")
        # Zero-DCE++'s official test crops H and W to multiples of its scale factor: compare on that crop
        x = torch.from_numpy(np.load(d / "input.npy"))[..., :ref.shape[-2], :ref.shape[-1]].contiguous().cuda()

        def make(amp, name=name, d=d, meta=meta):
            return create_enhancer(name, weights=str(d / "state_dict.pth"), device="cuda", amp=amp,
                                   **meta["reduced_kwargs"])

        try:
            make(False)
        except Exception as exc:  # noqa: BLE001
            skip("1 fixtures", name, f"cannot build: {str(exc).splitlines()[0]}")
            continue
        precision_checks("1 fixtures", name, make, x, ref, TOL_FP32, compile_)


def synth_images(n: int):
    import torch

    from ledbench.datasets import create_dataset

    ds = create_dataset("synth_mini")
    out = []
    for item in list(ds)[:n]:
        img = item.load_input()
        out.append(torch.as_tensor(img).permute(2, 0, 1)[None].float().contiguous())
    return out


def check_shipped(compile_: bool, quick: bool) -> None:
    from ledbench.bench.paths import find_asset
    from ledbench.enhancers import create_enhancer

    try:
        images = synth_images(1 if quick else 2)
    except Exception as exc:  # noqa: BLE001
        skip("2 shipped", "synth_mini", f"cannot load synth_mini: {exc}")
        return
    for name, asset in SHIPPED:
        weights = None
        if asset is not None:
            path = find_asset(*asset)
            if path is None:
                skip("2 shipped", name, f"asset {'/'.join(asset)} not found")
                continue
            weights = str(path)
        for i, x in enumerate(images):
            ref = create_enhancer(name, weights=weights).enhance(x)  # CPU float32

            def make(amp, name=name, weights=weights):
                return create_enhancer(name, weights=weights, device="cuda", amp=amp)

            precision_checks("2 shipped", f"{name} img{i}", make, x.cuda(), ref, TOL_FP32, compile_ and i == 0)


def throughput(enh, x, seconds: float = 1.0) -> float:
    import torch

    enh.enhance(x)
    torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        enh.enhance(x)
        n += 1
    torch.cuda.synchronize()
    return n * x.shape[0] / (time.perf_counter() - t0)


def check_full(quick: bool) -> list[list]:
    import torch

    from ledbench.enhancers import create_enhancer

    size = 512 if quick else 1024
    rows = []
    for name, kw in FULL[:3] if quick else FULL:
        try:
            cpu = create_enhancer(name, pretrained=False, **kw)
        except Exception as exc:  # noqa: BLE001
            skip("3 full-size", name, f"cannot build: {str(exc).splitlines()[0]}")
            continue
        state = cpu.model.state_dict()

        def make(amp, name=name, kw=kw, state=state):
            e = create_enhancer(name, pretrained=False, device="cuda", amp=amp, **kw)
            e.model.load_state_dict(state)
            return e

        x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
        d = maxdiff(make(False).enhance(x.cuda()), cpu.enhance(x))
        record("3 full-size", name, "fp32 max|CUDA - CPU| @128", d, TOL_FULL, d <= TOL_FULL)
        del cpu
        xb = torch.rand(1, 3, size, size, device="cuda")
        speeds = {}
        for label, amp, cl in (("fp32", False, False), ("fp16", "float16", False), ("bf16", "bfloat16", False),
                               ("fp16+channels_last", "float16", True)):
            try:
                e = make(amp)
                if cl:
                    e.use_channels_last()
                speeds[label] = throughput(e, xb, 0.5 if quick else 1.5)
                del e
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory: report it in the table
                speeds[label] = float("nan")
                print(f"{name} {label}: {str(exc).splitlines()[0][:120]}", flush=True)
            torch.cuda.empty_cache()
        rows.append([name, f"{size} x {size}", *(speeds[k] for k in ("fp32", "fp16", "bf16", "fp16+channels_last"))])
    return rows


def _run_results(path: Path) -> dict:
    import csv

    with open(path / "results.csv", newline="") as f:
        return {(r["enhancer"], r["task"], r.get("protocol", ""), r["metric"]): float(r["value"])
                for r in csv.DictReader(f)}


def compare_runs(case: str, a: dict, b: dict) -> None:
    if set(a) != set(b):
        record("4 runner", case, "same result rows", 0.0, 1.0, False, f"{len(a)} vs {len(b)} rows")
        return
    worst = max((abs(a[k] - b[k]) / max(abs(b[k]), 1e-12) for k in a if not (math.isnan(a[k]) and math.isnan(b[k]))),
                default=0.0)
    record("4 runner", case, "max relative diff over results.csv", worst, TOL_RUN, worst <= TOL_RUN, f"{len(a)} rows")


def check_runner(quick: bool) -> None:
    import torch

    tmp = Path(tempfile.mkdtemp(prefix="ledbench_gpu_check_"))
    env = dict(os.environ, LEDBENCH_HOME=str(tmp / "home"), LEDBENCH_OFFLINE="1", HF_HUB_OFFLINE="1")
    common = ["run", "dataset=synth_mini", "enhancers=identity,gamma,sci.medium,iat.lol_v1", "tasks=quality",
              "metrics=psnr,ssim", "quiet=true"] + (["limit=2"] if quick else [])

    def launch(tag: str, device: str, prefix: list[str]) -> Path | None:
        out = tmp / tag
        cmd = [*prefix, *common, f"device={device}", f"out={out}", f"cache_dir={tmp / ('cache_' + tag)}"]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if res.returncode != 0:
            record("4 runner", tag, "exit status", res.returncode, 0, False, res.stderr.strip()[-200:])
            return None
        return out

    py = [sys.executable, "-m", "ledbench"]
    cpu, gpu = launch("cpu", "cpu", py), launch("cuda", "cuda", py)
    if cpu and gpu:
        compare_runs("device=cuda vs cpu", _run_results(gpu), _run_results(cpu))
    if torch.cuda.device_count() >= 2 and gpu:
        torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
        dist = launch("cuda_2ranks", "cuda", [torchrun, "--nproc-per-node", "2", "--master-port", "29533", "-m",
                                              "ledbench"])
        if dist:
            compare_runs("torchrun 2 GPUs (NCCL) vs 1 GPU", _run_results(dist), _run_results(gpu))
            world = json.loads((dist / "manifest.json").read_text()).get("world_size")
            record("4 runner", "torchrun 2 GPUs", "manifest world_size", float(world or 0), 2, world == 2)
    else:
        skip("4 runner", "NCCL sharding", f"{torch.cuda.device_count()} GPU(s): needs 2")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer fixtures and models, smaller throughput images")
    ap.add_argument("--compile", action="store_true", help="also check torch.compile (slow first call)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: fixtures,shipped,full,runner")
    args = ap.parse_args(argv)
    os.environ.setdefault("LEDBENCH_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: CUDA is not available on this machine; nothing to check", file=sys.stderr)
        return 2
    torch.backends.cudnn.allow_tf32 = False  # float32 means float32 for the tolerance checks
    torch.backends.cuda.matmul.allow_tf32 = False
    t0 = time.perf_counter()
    skipped = set(args.skip.split(","))
    speed_rows = []
    sections = (("fixtures", lambda: check_fixtures(args.compile, args.quick)),
                ("shipped", lambda: check_shipped(args.compile, args.quick)),
                ("full", lambda: speed_rows.extend(check_full(args.quick))),
                ("runner", lambda: check_runner(args.quick)))
    for key, fn in sections:
        if key in skipped:
            continue
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others' results
            record(key, "-", "section crashed", float("nan"), float("nan"), False, f"{type(exc).__name__}: {exc}"[:200])
    wall = time.perf_counter() - t0
    n_fail = sum(r["status"] == "FAIL" for r in RESULTS)
    lines = [f"# GPU check: {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}, torch {torch.__version__}",
             "", f"{len(RESULTS)} checks, {n_fail} FAIL, {sum(r['status'] == 'SKIP' for r in RESULTS)} SKIP; "
             f"wall {wall:.0f} s{' (--quick)' if args.quick else ''}. TF32 off for the float32 comparisons.", "",
             "| section | case | measure | value | limit | status | note |", "|---|---|---|---:|---:|---|---|"]
    lines += [f"| {r['section']} | {r['case']} | {r['measure']} | {r['value']:.4g} | {r['limit']:g} | {r['status']} "
              f"| {r['note']} |" for r in RESULTS]
    if speed_rows:
        lines += ["", "Throughput (images/s, batch 1, random init, TF32 off):", "",
                  "| model | size | fp32 | fp16 | bf16 | fp16 + channels_last |", "|---|---|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row) + " |"
                  for row in speed_rows]
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "gpu_check" + ("_quick" if args.quick else "")
    (out / f"{name}.md").write_text(text)
    (out / f"{name}.json").write_text(json.dumps({"results": RESULTS, "throughput": speed_rows, "wall_s": wall},
                                                 indent=1, default=str) + "\n")
    print("\n" + text)
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
