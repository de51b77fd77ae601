"""benchmarks/bench_throughput.py: size-skip estimates, table rows, and a --quick smoke run (no timing asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_throughput.py"


@pytest.fixture(scope="module")
def bt():
    sys.path.insert(0, str(SCRIPT.parent))  # the script imports its sibling _common
    try:
        spec = importlib.util.spec_from_file_location("bench_throughput_under_test", SCRIPT)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_extrapolate(bt):
    assert bt._extrapolate([], 10) == (0.0, 0.0)
    assert bt._extrapolate([(100, 2.0, 50)], 400) == (8.0, 200.0)  # one size: proportional to pixels
    assert bt._extrapolate([(100, 2.0, 50)], 400, fixed_input=True) == (2.0, 50.0)  # a task's fixed network input
    # two sizes: the line through them (fixed cost 1 s + 0.01 s / px; memory 10 + 1 / px)
    assert bt._extrapolate([(100, 2.0, 110), (300, 4.0, 310)], 1000) == pytest.approx((11.0, 1010.0))
    # a size that got cheaper never predicts less than the largest measured value
    assert bt._extrapolate([(100, 3.0, 90), (300, 2.0, 80)], 1000) == (2.0, 80.0)


def test_table_rows_ratio_and_skips(bt):
    recs = [{"item": "enhancer:sci.medium", "build_s": 0.1, "params_m": 0.000258, "weights": "pretrained"},
            {"item": "enhancer:sci.medium", "size": [8, 8], "latency_s": 0.5, "timed_calls": 3,
             "tensor_peak": 2**20, "rss_growth": 2**21},
            {"item": "task:x", "build_s": 0.1, "params_m": 12.0, "weights": "shipped"},
            {"item": "task:x", "size": [8, 8], "latency_s": 2.0, "timed_calls": 0, "tensor_peak": 0,
             "rss_growth": 0},
            {"item": "task:x", "size": [16, 8], "skipped": "est. 300 s"},
            {"item": "task:y", "error": "RuntimeError: no weights"}]
    rows = bt.table_rows(recs, "sci.medium")
    assert rows[0][:8] == ["sci.medium", "enhancer", "0.3 k", "8 x 8", 2.0, 500.0, 1.0, 1.0]
    assert rows[1][2] == "12.0 M" and rows[1][6] == 4.0 and rows[1][-1] == "shipped; one (warm-up) call"
    assert rows[2][3] == "8 x 16" and rows[2][-1] == "skipped: est. 300 s"
    assert rows[3][0] == "y" and rows[3][-1].startswith("skipped: RuntimeError")


def test_quick_run_writes_tables(tmp_path):
    res = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    saved = json.loads((tmp_path / "throughput_quick.json").read_text())
    measured = [r for r in saved["records"] if "latency_s" in r]
    assert {r["item"] for r in measured} == {"enhancer:gamma", "enhancer:sci.medium", "task:seg_espnetv2"}
    assert all(r["latency_s"] > 0 and r["tensor_peak"] >= 0 for r in measured)
    # seg_espnetv2 resizes to its 512 x 256 network input: live tensors do not depend on the image size
    esp = [r["tensor_peak"] for r in measured if r["item"] == "task:seg_espnetv2"]
    assert len(esp) == 2 and esp[0] > 0
    text = (tmp_path / "throughput_quick.md").read_text()
    assert "| sci.medium | enhancer |" in text and "| seg_espnetv2 | task |" in text
