"""Atomic file writes and content hashes: ``atomic_write_bytes``, ``write_json``, ``array_hash``, ``file_hash``.

Every file the harness writes goes through :func:`atomic_write_bytes` (temp file in the same folder +
``os.replace``), so an interrupted run never leaves a truncated file behind. JSON is written in one format
everywhere: indent 2, sorted keys, non-JSON values through ``str``, a final newline.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["array_hash", "atomic_write_bytes", "file_hash", "write_json"]


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
    """SHA-256 of a file's bytes (hex)."""
    from ledbench.bench.weights import sha256_file

    return sha256_file(path)
