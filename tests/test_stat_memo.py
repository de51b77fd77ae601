"""The stat-stamp memo: input hashes and cache verifications are remembered across runs while a file is unchanged,
and any change through the file system (even one that keeps the size and puts the mtime back) is read again."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from ledbench.bench import weights
from ledbench.bench.cache import Cache
from ledbench.bench.files import StatMemo, file_hash, use_stat_memo


@pytest.fixture
def reads(monkeypatch):
    """Paths whose bytes were hashed by ``sha256_file`` (the process-wide memo is bypassed)."""
    seen: list[str] = []
    real = weights.sha256_file

    def counting(path, chunk=1 << 20):
        seen.append(os.path.abspath(path))
        weights._HASH_MEMO.clear()
        return real(path, chunk)

    monkeypatch.setattr(weights, "sha256_file", counting)
    return seen


def _same_size_edit(path, data: bytes) -> None:
    """Rewrite ``path`` in place with other bytes of the same length and put its mtime back."""
    st = os.stat(path)
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_file_hash_is_remembered_across_processes_until_the_file_changes(tmp_path, reads):
    f = tmp_path / "img.png"
    f.write_bytes(b"a" * 1000)
    memo_path = tmp_path / "memo.json"
    with use_stat_memo(StatMemo(memo_path)):
        assert file_hash(f) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert reads == [str(f)]
    with use_stat_memo(StatMemo(memo_path)):  # a new process: the memo file answers
        assert file_hash(f) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert reads == [str(f)]
    _same_size_edit(f, b"b" * 1000)
    with use_stat_memo(StatMemo(memo_path)):
        assert file_hash(f) == hashlib.sha256(b"b" * 1000).hexdigest()
    assert reads == [str(f)] * 2
    assert file_hash(f) == hashlib.sha256(b"b" * 1000).hexdigest()  # no memo outside the block: always read
    assert len(reads) == 3


def test_memo_file_damage_and_size_bound(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"x")
    path = tmp_path / "memo.json"
    path.write_bytes(b'{"sha256:/x": [1, 2')  # cut short by a crash: read as empty
    memo = StatMemo(path, max_entries=3)
    assert memo.get(str(f), "sha256", os.stat(f)) is None
    for i in range(5):
        memo.put(f"/f{i}", "sha256", os.stat(f), str(i))
    memo.save()
    assert sorted(StatMemo(path)._read()) == ["sha256:/f2", "sha256:/f3", "sha256:/f4"]  # the oldest dropped


def test_cache_entry_verified_once_then_checked_again_when_changed(tmp_path, monkeypatch):
    cache = Cache(tmp_path / "c")
    img = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    cache.put_enhanced("k" * 64, img)
    cache.memo.save()
    fresh = Cache(tmp_path / "c")  # the next run
    full = []
    real = Cache.read_verified
    monkeypatch.setattr(Cache, "read_verified", lambda self, p: full.append(p) or real(self, p))
    assert fresh.has_enhanced("k" * 64) and full == []  # written and verified by this cache: not read again
    path = fresh.enhanced_path("k" * 64)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    _same_size_edit(path, bytes(data))
    assert not fresh.has_enhanced("k" * 64) and full == [path]
    assert fresh.stats["corrupt"] == 1 and not path.exists()


def test_second_run_reads_no_input_file_to_hash_it(tmp_path, reads):
    from ledbench.bench.imageio import write_png
    from ledbench.bench.runner import RunConfig, run

    rng = np.random.default_rng(0)
    for sub in ("input", "reference"):
        for i in range(3):
            write_png(tmp_path / "data" / sub / f"{i}.png", rng.random((16, 24, 3)).astype(np.float32))
    cfg = RunConfig(name="t", dataset=f"folder:{tmp_path / 'data'}", enhancers=("identity",), tasks=("quality",),
                    metrics=("psnr",), out=str(tmp_path / "r"), exist_ok=True, cache_dir=str(tmp_path / "c"),
                    quiet=True, device="cpu")
    first = run(cfg)
    inputs = [r for r in reads if r.startswith(str(tmp_path / "data"))]
    assert sorted(set(inputs)) == sorted(str(p) for p in (tmp_path / "data").rglob("*.png"))
    reads.clear()
    second = run(cfg)
    assert [r for r in reads if r.startswith(str(tmp_path / "data"))] == []
    assert [(r.metric, r.value) for r in second.rows] == [(r.metric, r.value) for r in first.rows]
    write_png(tmp_path / "data" / "input" / "0.png", rng.random((16, 24, 3)).astype(np.float32))  # a new image
    reads.clear()
    third = run(cfg)
    assert str(tmp_path / "data" / "input" / "0.png") in reads  # changed on disk: hashed again
    assert third.rows[0].value != first.rows[0].value
