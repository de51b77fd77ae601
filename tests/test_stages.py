"""The enhance/predict stages' hot path: the background cache writer, and header-only image sizes."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from tiny_dataset import ArrayItem


class _Sqrt:
    name = "sqrt"

    def __init__(self):
        self.calls = 0

    def enhance(self, x):
        self.calls += 1
        return x.clamp(0, 1) ** 0.5


def _items(n=5):
    rng = np.random.default_rng(0)
    shapes = [(16, 24, 3), (16, 24, 3), (8, 8, 3), (16, 24, 3), (8, 8, 3)]
    return [ArrayItem(f"im{i}", rng.random(shapes[i % len(shapes)], dtype=np.float32)) for i in range(n)]


def _stage(tmp_path, workers, batch=2, fail_key=None):
    from ledbench.bench.cache import Cache
    from ledbench.bench.stages import StageRunner, enhanced_keys

    class _Cache(Cache):
        writers: set = set()

        def put_enhanced(self, key, img_u8):
            self.writers.add(threading.current_thread().name)
            if key == fail_key:
                raise OSError(28, "No space left on device")
            return super().put_enhanced(key, img_u8)

    cache = _Cache(tmp_path / f"cache{workers}")
    errors = []
    stages = StageRunner(cache, batch=batch, workers=workers, on_error=lambda *a: errors.append(a))
    items = _items()
    keys = enhanced_keys({"name": "sqrt"}, items, stages.on_error, "sqrt")
    return stages, cache, items, keys, errors


@pytest.mark.parametrize("workers", [0, 2])
def test_enhance_writes_every_unit_before_returning_and_matches_the_serial_path(tmp_path, workers):
    """The writer thread (workers > 0) encodes in the background, yet when the stage returns every entry is on disk
    and verified, equal to what the in-memory hand-off holds and to a direct computation (sqrt, uint8)."""
    from ledbench.bench.imageio import to_uint8

    stages, cache, items, keys, errors = _stage(tmp_path, workers)
    done = stages.enhance(_Sqrt(), items, keys)
    assert not errors and done == keys
    assert cache.stats["enhance_computed"] == len(items)
    for it in items:
        expected = to_uint8(np.sqrt(it.img))
        np.testing.assert_array_equal(cache.get_enhanced(keys[it.id], count=False), expected)
        np.testing.assert_array_equal(stages.handoff[keys[it.id]], expected)
    assert all(t.startswith("ledbench-write") for t in cache.writers) == (workers > 0)
    assert not [t for t in threading.enumerate() if t.name.startswith("ledbench-write")]  # the thread stopped
    again = stages.enhance(_Sqrt(), items, keys)
    assert again == keys and cache.stats["enhance_hit"] == len(items)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_failed_write_fails_only_its_unit_and_releases_its_claim(tmp_path, workers):
    stages, cache, items, keys, errors = _stage(tmp_path, workers, fail_key="FAIL")
    bad = items[2].id
    keys = dict(keys)
    keys[bad] = "FAIL"
    done = stages.enhance(_Sqrt(), items, keys)
    assert sorted(done) == sorted(k for k in keys if k != bad)
    assert [(e[0], e[1], e[2], type(e[3])) for e in errors] == [("enhance", "sqrt", bad, OSError)]
    assert "FAIL" not in stages.handoff  # not scored from memory either
    lock = cache.claim("FAIL")  # released: another run may compute it
    assert lock is not None
    lock.release()
    for iid in done:
        assert cache.has_enhanced(keys[iid])


def test_writer_keeps_order_bounds_its_queue_and_hands_errors_back():
    from ledbench.bench.stages import Writer

    gate = threading.Event()
    seen, outcomes = [], []

    def write(i):
        def run():
            gate.wait(5)
            seen.append(i)
            if i == 3:
                raise OSError("disk")
        return run

    w = Writer(depth=2)
    caller = threading.current_thread().name
    for i in range(2):
        w.submit(write(i), lambda exc, i=i: outcomes.append((i, exc, threading.current_thread().name)))
    assert outcomes == []  # queued, not waited for
    gate.set()
    for i in range(2, 5):
        w.submit(write(i), lambda exc, i=i: outcomes.append((i, exc, threading.current_thread().name)))
    assert len(outcomes) >= 3 - 1  # at most ``depth`` writes stay queued
    w.close()
    assert seen == [0, 1, 2, 3, 4]
    assert [i for i, _, _ in outcomes] == [0, 1, 2, 3, 4]
    assert [type(e).__name__ for _, e, _ in outcomes] == ["NoneType"] * 3 + ["OSError", "NoneType"]
    assert {t for _, _, t in outcomes} == {caller}  # callbacks run in the caller's thread


def test_writer_depth_zero_writes_at_once():
    from ledbench.bench.stages import Writer

    out = []
    w = Writer(depth=0)
    w.submit(lambda: out.append("written"), lambda exc: out.append(("done", exc)))
    assert out == ["written", ("done", None)]
    w.close()


def _png(path, size=(12, 7), **save):
    from PIL import Image

    Image.fromarray(np.zeros((size[1], size[0], 3), np.uint8)).save(path, **save)
    return path


def test_image_size_reads_png_headers_only_and_still_honours_orientation(tmp_path, monkeypatch):
    """A PNG without metadata chunks is sized from its header (Pillow would decode it to look for EXIF); a PNG
    with an EXIF orientation that swaps the axes gives the size read_image returns."""
    from PIL import Image

    from ledbench.bench.imageio import _png_without_metadata, image_size, read_image

    plain = _png(tmp_path / "plain.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: width and height swap
    rotated = _png(tmp_path / "rot.png", exif=exif.tobytes())
    assert _png_without_metadata(plain) and not _png_without_metadata(rotated)
    assert image_size(rotated) == read_image(rotated).shape[:2] == (12, 7)
    assert image_size(rotated, oriented=False) == (7, 12)

    def no_decode(self, *a, **k):
        raise AssertionError("decoded")
    monkeypatch.setattr(Image.Image, "load", no_decode)
    from PIL import PngImagePlugin
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decode, raising=False)
    assert image_size(plain) == (7, 12)


def test_preload_fills_the_store_in_the_background_and_stops_when_half_full():
    from ledbench.bench.stages import Handoff, preload

    store = Handoff(max_bytes=10 * 800)
    loaded = []

    def load(k):
        if k == 2:
            raise OSError("unreadable: reported later by the stage that needs it")
        loaded.append(k)
        store.put(str(k), np.zeros(100, np.float64))  # 800 bytes each

    join = preload(list(range(20)), load, store, workers=1)
    deadline = time.monotonic() + 10
    while len(loaded) < 5 and time.monotonic() < deadline:  # join() stops it early: let it run first
        time.sleep(0.01)
    time.sleep(0.05)
    join()
    assert loaded == [0, 1, 3, 4, 5]  # the failure skipped; stopped at half the budget (5 entries)
    assert store.nbytes == 5 * 800
    assert preload([1], load, store, workers=0)() is None and loaded == [0, 1, 3, 4, 5]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_run_decodes_each_reference_once(tmp_path, monkeypatch, workers):
    """Two enhancers, PSNR and SSIM: every reference is decoded once per process (preloaded while the models run
    when workers > 0), and the results equal those of a run that decodes them one by one."""
    import sys
    from pathlib import Path

    from ledbench.bench.results import read_results
    from ledbench.bench.runner import RunConfig, run
    from ledbench.datasets.base import Item

    sys.path.insert(0, str(Path(__file__).parent))
    import tiny_dataset

    tiny_dataset.register()
    calls = []
    real = Item.load_reference
    monkeypatch.setattr(Item, "load_reference", lambda self: calls.append(self.id) or real(self))
    cfg = dict(name="t", dataset="tiny_pairs", enhancers=("identity", "gamma"), tasks=("quality",),
               metrics=("psnr", "ssim"), quiet=True, device="cpu")
    out = run(RunConfig(**cfg, out=str(tmp_path / "a"), cache_dir=str(tmp_path / "ca"), workers=workers))
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 3  # tiny_pairs: 3 paired images
    monkeypatch.setattr(Item, "load_reference", real)
    other = run(RunConfig(**cfg, out=str(tmp_path / "b"), cache_dir=str(tmp_path / "cb"), workers=1 - min(workers, 1)))
    assert read_results(out.run_dir)["value"].tolist() == read_results(other.run_dir)["value"].tolist()
