"""Atomic file writes and content hashes: ``atomic_write_bytes``, ``write_json``, ``array_hash``, ``file_hash``, and
the :class:`StatMemo` that remembers a file's hash across runs while the file is unchanged.

Every file the harness writes goes through :func:`atomic_write_bytes` (temp file in the same folder +
``os.replace``), so an interrupted run never leaves a truncated file behind. JSON is written in one format
everywhere: indent 2, sorted keys, non-JSON values through ``str``, a final newline.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["StatMemo", "array_hash", "atomic_write_bytes", "file_hash", "use_stat_memo", "write_json"]


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process umask (read once, on first write: reading it means setting it, so not at import)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating parent folders; the file gets the usual permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON (indent 2, sorted keys, ``default=str``), atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def array_hash(arr: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (content hash of decoded pixels)."""
    h = hashlib.sha256()
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex); inside :func:`use_stat_memo` an unchanged file is not read again."""
    from ledbench.bench.weights import sha256_file

    memo = _ACTIVE_MEMOS[-1] if _ACTIVE_MEMOS else None
    if memo is None:
        return sha256_file(path)
    name = os.path.abspath(path)
    st = os.stat(name)
    digest = memo.get(name, "sha256", st)
    if digest is None:
        digest = sha256_file(name)
        memo.put(name, "sha256", st, digest)
    return digest


class StatMemo:
    """Values derived from a file's bytes (its SHA-256; "matches its digest" for a cache entry), remembered across
    processes for as long as the file's stat stamp is unchanged: size, mtime, ctime and inode. Any change made
    through the file system moves ctime (which user tools cannot set back) or the inode, so a changed file is read
    again; what the stamp cannot see is corruption below the file system.

    One JSON file (``CACHE/stat_memo.json``), read on first use and merged into on :meth:`save` (ranks of one run
    save in turn; an update lost in a race only costs a re-read). Beyond ``max_entries`` the oldest are dropped.
    """

    def __init__(self, path: str | os.PathLike, max_entries: int = 500_000):
        self.path = Path(path)
        self.max_entries = int(max_entries)
        self._entries: dict[str, list] | None = None
        self._changed: dict[str, list] = {}

    @staticmethod
    def stamp(st: os.stat_result) -> list[int]:
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]

    def _read(self) -> dict[str, list]:
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):  # absent, or cut short by a crash: start again (only costs re-reads)
            return {}
        return data if isinstance(data, dict) else {}

    def _all(self) -> dict[str, list]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def get(self, name: str, kind: str, st: os.stat_result) -> str | None:
        """The value stored for file ``name`` under ``kind`` if its stamp still equals ``st``'s, else None."""
        entry = self._all().get(f"{kind}:{name}")
        return entry[4] if isinstance(entry, list) and len(entry) == 5 and entry[:4] == self.stamp(st) else None

    def put(self, name: str, kind: str, st: os.stat_result, value: str) -> None:
        self._all()[f"{kind}:{name}"] = self._changed[f"{kind}:{name}"] = [*self.stamp(st), value]

    def save(self) -> None:
        """Merge this process's new entries into the file (atomically); a failed write is silently a no-op: the
        memo is a speed-up, never a result."""
        if not self._changed:
            return
        merged = self._read()
        merged.update(self._changed)
        if len(merged) > self.max_entries:
            merged = dict(list(merged.items())[-self.max_entries:])
        try:
            atomic_write_bytes(self.path, json.dumps(merged, separators=(",", ":")).encode())
        except OSError:
            return
        self._changed = {}


_ACTIVE_MEMOS: list[StatMemo] = []


@contextlib.contextmanager
def use_stat_memo(memo: StatMemo | None):
    """Within the block, :func:`file_hash` consults and fills ``memo`` (None: no memo); saved at the end."""
    if memo is None:
        yield
        return
    _ACTIVE_MEMOS.append(memo)
    try:
        yield memo
    finally:
        _ACTIVE_MEMOS.remove(memo)
        memo.save()
