"""Sub-image progress: tiles reported by tiled_apply and enhancers, shown on the run's overall bar (image id, tile
k/n, a fractional advance that ends on the exact whole count), and a ``ledbench run`` that prints them."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from tiny_dataset import ArrayItem

from ledbench.enhancers.base import Cascade, TorchEnhancer, tiled_apply


class _Local(torch.nn.Module):
    """Two 3x3 convolutions (receptive radius 2)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.b = torch.nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x):
        return torch.sigmoid(self.b(torch.relu(self.a(x))))


def _enhancer(name="test", **kw):
    class E(TorchEnhancer):
        requires_weights = False

        def build_model(self):
            return _Local()

    return E(pretrained=False, name=name, **kw)


# 40 x 50 image, tile 16, overlap 4 (stride 12): rows start at 0, 12, 24 (24 + 16 = 40); columns at 0, 12, 24 and
# the flush-right 34 (24 + 16 = 40 < 50): 3 x 4 = 12 windows, counted by hand
H, W, TILE, OVERLAP, WINDOWS = 40, 50, 16, 4, 12


@pytest.mark.parametrize("blend", ["crop", "mean"])
def test_tiled_apply_reports_each_window_and_changes_nothing(blend):
    x = torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(1))
    model, calls, seen = _Local(), [], []

    def fn(t):
        calls.append(tuple(t.shape))
        return model(t)

    with torch.no_grad():
        plain = tiled_apply(model, x, TILE, OVERLAP, blend=blend)
        told = tiled_apply(fn, x, TILE, OVERLAP, blend=blend, on_tile=lambda d, n: seen.append((d, n)))
    assert len(calls) == WINDOWS
    assert seen == [(k, WINDOWS) for k in range(1, WINDOWS + 1)]
    assert torch.equal(told, plain)  # bit-identical


def test_enhancer_reports_tiles_through_its_callback_without_changing_output_or_identity():
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(2))
    enh = _enhancer(tile=TILE, tile_overlap=OVERLAP)
    ident, plain = enh.identity(), enh.enhance(x)
    seen = []
    with enh.reporting_tiles(lambda d, n: seen.append((d, n))):
        assert enh.identity() == ident  # the callback is no part of the cache key
        told = enh.enhance(x)
    assert seen == [(k, WINDOWS) for k in range(1, WINDOWS + 1)]
    assert torch.equal(told, plain)
    assert enh.progress_callback is None and "progress_callback" not in vars(enh)  # restored on exit
    seen.clear()
    enh.enhance(x)
    assert seen == []
    with enh.reporting_tiles(lambda d, n: seen.append((d, n))):
        enh.enhance(x[..., :TILE, :TILE])  # fits one tile: not tiled, nothing to report
    assert seen == []


def test_cascade_reports_its_stages_windows_as_one_increasing_count():
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(3))
    a, b = _enhancer("a", tile=TILE, tile_overlap=OVERLAP), _enhancer("b", tile=TILE, tile_overlap=OVERLAP)
    cas = Cascade([a, b])
    plain, seen = cas.enhance(x), []
    with cas.reporting_tiles(lambda d, n: seen.append((d, n))):
        told = cas.enhance(x)
    assert seen == [(k, 2 * WINDOWS) for k in range(1, 2 * WINDOWS + 1)]
    assert torch.equal(told, plain)
    assert a.progress_callback is None and b.progress_callback is None


def _run_stage(tmp_path, overall, seen):
    from ledbench.bench.cache import Cache
    from ledbench.bench.stages import StageRunner, enhanced_keys

    enh = _enhancer("slow", tile=TILE, tile_overlap=OVERLAP)
    calls = []
    real = enh.reporting_tiles

    def reporting_tiles(callback):  # records the overall bar as each tile's callback leaves it
        calls.append(callback)

        def rec(done, total):
            callback(done, total)
            seen.append((done, total, overall.n, overall.postfix, str(overall)))
        return real(rec)

    enh.reporting_tiles = reporting_tiles
    rng = np.random.default_rng(0)
    items = [ArrayItem(f"im{i}", rng.random((H, W, 3), dtype=np.float32)) for i in range(2)]
    stages = StageRunner(Cache(tmp_path / "cache"), batch=1, workers=0, on_error=lambda *a: pytest.fail(str(a)),
                         overall=overall)
    keys = enhanced_keys(enh.identity(), items, stages.on_error, "slow")
    done = stages.enhance(enh, items, keys)
    assert sorted(done) == ["im0", "im1"]
    return calls, [stages.cache.get_enhanced(keys[it.id], count=False) for it in items]


def test_overall_bar_names_image_and_tile_and_ends_on_the_exact_count(tmp_path):
    from ledbench.bench.stages import _bar_class

    buf = io.StringIO()
    overall = _bar_class()(total=2, desc="ledbench run", file=buf, mininterval=0, disable=False)
    seen: list = []
    calls, outputs = _run_stage(tmp_path / "a", overall, seen)
    assert len(calls) == 1  # listened once for the stage
    assert [(d, n) for d, n, *_ in seen] == [(k, WINDOWS) for k in range(1, WINDOWS + 1)] * 2
    for i, (d, n, count, postfix, text) in enumerate(seen):
        image = i // WINDOWS
        assert postfix == f"enhance slow: im{image}, tile {d}/{n}"
        assert count == pytest.approx(image + d / n)  # moves by fractions of the image ...
        assert f"| {image}/2 [" in text or (d == n and f"| {image + 1}/2 [" in text)  # ... shown as whole units
        assert not re.search(r"\d\.\d+/2", text)
    assert [c for *_, c, _, _ in seen] == sorted(c for *_, c, _, _ in seen)  # never backwards
    assert overall.n == 2 and isinstance(overall.n, int)  # exact, no float drift
    assert not overall.postfix  # cleared when the stage ended
    overall.close()
    assert "2/2" in buf.getvalue().replace("\r", "\n").splitlines()[-1]
    # a disabled (quiet) bar or none: the enhancer is never asked to report, and the outputs are the same
    for quiet in (_bar_class()(total=2, file=io.StringIO(), disable=True), None):
        seen2: list = []
        calls2, outputs2 = _run_stage(tmp_path / f"q{quiet is None}", quiet, seen2)
        assert calls2 == [] and seen2 == []
        for o, o2 in zip(outputs, outputs2):
            np.testing.assert_array_equal(o, o2)


def test_predict_names_the_image_on_the_overall_bar(tmp_path):
    from ledbench.bench.cache import Cache
    from ledbench.bench.stages import StageRunner, _bar_class

    overall = _bar_class()(total=1, file=io.StringIO(), mininterval=0, disable=False)
    seen = []

    class Task:
        name, kind = "count", "depth"

        def identity(self):
            return {"name": self.name}

        def predict(self, images):
            seen.append(overall.postfix)
            return [{"depth": np.zeros(img.shape[:2], np.float32)} for img in images]

    stages = StageRunner(Cache(tmp_path / "cache"), workers=0, on_error=lambda *a: pytest.fail(str(a)),
                         overall=overall)
    img = np.zeros((8, 8, 3), np.float32)
    stages.predict(Task(), {"img_0003": ("k" * 64, lambda: img)}, "restormer")
    assert seen == ["count on restormer: img_0003"]
    assert overall.n == 1 and not overall.postfix
    overall.close()


def test_cli_run_shows_the_image_and_its_tiles_on_stderr(tmp_path):
    """``ledbench run`` (no -q) with a tiled learned enhancer: the overall bar on stderr names the image and the
    tile; stdout is unchanged (the table)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}  # CI=true turns the bars off
    env.update(LEDBENCH_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "ledbench", "run", "dataset=synth_mini", "limit=1",
                          "enhancers=iat.lol_v1", "tile=32", "tile_overlap=8", "tasks=quality", "metrics=psnr",
                          f"out={tmp_path / 'run'}"], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    import csv

    with open(tmp_path / "run" / "per_image.csv", newline="") as fh:
        (image_id,) = {row["image_id"] for row in csv.DictReader(fh)}
    assert f"enhance iat.lol_v1: {image_id}" in res.stderr
    assert re.search(r"enhance iat\.lol_v1: \S+, tile \d+/\d+", res.stderr), res.stderr[-2000:]
    assert not re.search(r"tile \d+/\d+", res.stdout)  # progress goes to stderr only
