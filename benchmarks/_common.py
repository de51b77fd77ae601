"""Shared helpers of the benchmark scripts: thread pinning, min-of-repeats timing, test images, Markdown tables.

Timings on shared machines jump at random, so every script pins the thread count (one thread by default), takes the
minimum of repeats and reports ratios measured in the same process and run. Nothing here is a test: targets are read
from the tables, never asserted on a timer.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def parser(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(RESULTS), help="folder for the result table (default benchmarks/results)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats; the minimum is reported")
    ap.add_argument("--quick", action="store_true", help="small sizes and one repeat: a smoke run of the script")
    return ap


def set_threads(n: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["MKL_NUM_THREADS"] = str(n)
    import torch

    torch.set_num_threads(n)


def min_time(fn, repeats: int = 3, warmup: int = 1) -> float:
    """Minimum wall time of ``fn()`` over ``repeats`` calls after ``warmup`` untimed calls (seconds)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def test_image(h: int, w: int):
    """A real night photo (assets night_real, else a COCO fixture, else noise) resized to ``h x w``:
    ``1 x 3 x h x w`` float32 in [0, 1]."""
    import numpy as np
    import torch
    from PIL import Image

    candidates = [ROOT.parent / "shared" / "assets" / "images" / "night_real" / "0000_0082.png",
                  ROOT / "tests" / "fixtures" / "images" / "coco8" / "images" / "train" / "000000000009.jpg"]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        arr = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    else:
        arr = np.asarray(Image.open(path).convert("RGB").resize((w, h), Image.BICUBIC), dtype=np.float32) / 255
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None].contiguous()


def make_folder(root: Path, n: int, h: int, w: int) -> Path:
    """A paired folder dataset (``low/``, ``sharp/``) of ``n`` PNGs made from :func:`test_image` crops."""
    import numpy as np

    from ledbench.bench.imageio import write_png

    big = test_image(h * 2, w * 2)[0].permute(1, 2, 0).numpy()
    rng = np.random.default_rng(0)
    for i in range(n):
        y, x = rng.integers(0, h), rng.integers(0, w)
        sharp = big[y:y + h, x:x + w]
        write_png(root / "sharp" / f"im{i:03d}.png", sharp)
        write_png(root / "low" / f"im{i:03d}.png", sharp * 0.25)
    return root


def write_table(out: str | Path, name: str, title: str, header: list[str], rows: list[list], notes: list[str]) -> Path:
    """Write ``out/name.md`` (title, notes, a Markdown table) and print it."""
    lines = [f"# {title}", "", *notes, "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    text = "\n".join(lines) + "\n"
    path = Path(out) / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)
    return path


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def machine_note(threads: int) -> str:
    import platform

    import torch

    return (f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, torch "
            f"{torch.__version__}, {threads} intra-op thread(s); python {sys.version.split()[0]}.")
