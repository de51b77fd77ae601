"""A fully cached ``ledbench run`` prints and writes the same tables as a run that builds them, without importing
pandas (report.md's tables come back from the cache)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_RUN = """
import sys
sys.path.insert(0, {tests!r})
import tiny_dataset
tiny_dataset.register()
from ledbench.bench.cli import main
main(["run", "dataset=tiny_pairs", "enhancers=identity,gamma", "tasks=quality", "metrics=psnr,ssim",
      "out={out}", "cache_dir={cache}", "exist_ok=true", "-q"])
print("pandas imported:", "pandas" in sys.modules)
"""


def _timings_masked(text: str) -> str:
    text = re.sub(r"; statistics took [0-9.]+ s( \([^)]*wall time\))?", "", text)
    return re.sub(r"(Wall time|in) [0-9.]+ s", r"\1 T s", text)


def test_cached_run_serves_its_tables_from_the_cache_without_pandas(tmp_path):
    cache = tmp_path / "cache"

    def cli_run() -> tuple[str, str]:
        code = _RUN.format(tests=str(HERE), out=str(tmp_path / "run"), cache=str(cache))
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
        return res.stdout, (tmp_path / "run" / "report.md").read_text()

    cold_out, cold_md = cli_run()
    assert "pandas imported: True" in cold_out and (cache / "report_tables").is_dir()
    cached_out, cached_md = cli_run()
    assert "pandas imported: False" in cached_out
    assert "†" in cached_md and "statistics took" in cached_md  # bootstrap marks and the cost sentence
    shutil.rmtree(cache / "report_tables")
    rebuilt_out, rebuilt_md = cli_run()  # the tables built again from the results (pandas)
    assert "pandas imported: True" in rebuilt_out
    console = [_timings_masked(out.split("\nwrote ")[0]) for out in (cold_out, cached_out, rebuilt_out)]
    assert console[0] == console[1] == console[2]  # the table and the notes (the last line counts cache hits)
    assert _timings_masked(cold_md) == _timings_masked(cached_md) == _timings_masked(rebuilt_md)
