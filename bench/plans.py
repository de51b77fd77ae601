"""Memo of what building a plugin told us (availability, identity), so a fully cached run builds no model.

Building an enhancer or a task model imports torch (and ultralytics, transformers ...) and reads its weights; a
run needs from it only its availability and its *identity* (name, class, config, weights digest, options), which
names every cache entry it produced. :class:`PlanMemo` stores that answer under a key made of the request (registry
name, weights option, run options such as tiling and AMP, the device kind) and an **environment fingerprint**:

- the ledbench source files (path, size, mtime; not ``__pycache__``) — an edited class or default config changes
  the fingerprint;
- every folder a weights file is looked up in (``$LEDBENCH_WEIGHTS``, ``$LEDBENCH_HOME/weights``, the asset folders,
  the Hugging Face hub cache), walked to file level (path, size, mtime) — an imported or fetched weights file, or
  one replaced in place, changes it;
- the environment variables that steer lookups (``LEDBENCH_*``, ``HF_*``, ``TRANSFORMERS_*``, ``YOLO_*``,
  ``CUDA_VISIBLE_DEVICES``), the Python executable and version, and the installed packages with their versions
  (the ``*.dist-info`` names of site-packages).

Anything that changes an answer therefore changes the key, and the memo can only be stale if a file changes while
keeping its size and modification time. A fingerprint that would walk more than :data:`MAX_ENTRIES` files is not
taken (the memo is off for that run and every plugin is built, as without it). Entries live under
``<cache>/plans/`` and are verified like every cache entry.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ledbench.bench.config import canonical_json, sha256_text

__all__ = ["PlanMemo", "environment_fingerprint", "cuda_impossible", "installed_packages"]

MAX_ENTRIES = 50_000
_ENV_PREFIXES = ("LEDBENCH_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_", "YOLO_", "TORCH_HOME", "CUDA_VISIBLE_DEVICES",
                 "XDG_CACHE_HOME")
MEMO_FORMAT = 1


def _hub_cache() -> Path:
    """The Hugging Face hub cache folder, resolved as ``huggingface_hub`` does (without importing it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "huggingface" / "hub"


def _source_dirs() -> list[Path]:
    import ledbench

    pkg = Path(ledbench.__file__).resolve().parent
    dirs = [pkg]
    for sub in ("bench", "enhancers", "tasks", "datasets", "reports"):
        mod = sys.modules.get(f"ledbench.{sub}")
        found = Path(mod.__file__).resolve().parent if mod is not None and getattr(mod, "__file__", None) else None
        if found is None:
            import importlib.util

            spec = importlib.util.find_spec(f"ledbench.{sub}")
            found = Path(spec.origin).resolve().parent if spec and spec.origin else None
        if found is not None:
            dirs.append(found)
    return dirs


def _walk(root: Path, out: list[tuple[str, int, int]], budget: list[int]) -> bool:
    """Append (path, size, mtime_ns) of every file under ``root`` (folders are walked, not recorded: their mtime
    moves when Python writes ``__pycache__``); False when over budget."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.name == "__pycache__" or e.name.endswith((".lock", ".pyc")):
                continue
            budget[0] -= 1
            if budget[0] < 0:
                return False
            try:
                if e.is_dir(follow_symlinks=True):
                    stack.append(Path(e.path))
                    continue
                st = e.stat()
            except OSError:
                continue
            out.append((e.path, st.st_size, st.st_mtime_ns))
    return True


def environment_fingerprint(extra_roots: list[Path] | None = None) -> str | None:
    """A digest of everything that can change a plugin's availability or identity (see the module docstring), or
    None when the folders hold more than :data:`MAX_ENTRIES` files (then no memo is used)."""
    from ledbench.bench.paths import assets_dirs, weights_dirs

    roots = [*_source_dirs(), *weights_dirs(), *assets_dirs(), _hub_cache(), *(extra_roots or [])]
    entries: list[tuple[str, int, int]] = []
    budget = [MAX_ENTRIES]
    seen: set[str] = set()
    for root in roots:
        key = str(Path(root).expanduser().resolve())
        if key in seen:
            continue
        seen.add(key)
        if not os.path.isdir(key):
            entries.append((key, -1, -1))  # absent now (or a file): creating it changes the fingerprint
            continue
        if not _walk(Path(key), entries, budget):
            return None
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES))
    return sha256_text(canonical_json({"v": MEMO_FORMAT, "files": sorted(entries), "env": env, "python": sys.executable,
                                       "version": sys.version, "packages": installed_packages()}))


def installed_packages() -> list[str]:
    """The ``*.dist-info`` names of every site-packages folder (they carry the versions): installing, removing or
    upgrading a package (ultralytics, transformers, torch) changes the fingerprint."""
    names: set[str] = set()
    for folder in sys.path:
        if not folder.endswith(("site-packages", "dist-packages")):
            continue
        try:
            names.update(n for n in os.listdir(folder) if n.endswith(".dist-info"))
        except OSError:
            continue
    return sorted(names)


def cuda_impossible() -> bool:
    """True when this machine certainly has no CUDA device torch could see (Linux without NVIDIA device nodes,
    or macOS), so ``device=auto`` means the CPU without importing torch. False means "ask torch"."""
    if sys.platform == "darwin":
        return True
    if not sys.platform.startswith("linux"):
        return False
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return True
    return not any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/dxg",
                                               "/dev/kfd"))


class PlanMemo:
    """``get(request)`` / ``put(request, answer)`` for JSON answers, keyed by the request and the environment
    fingerprint (computed once per memo). ``enabled`` is False when no fingerprint could be taken."""

    def __init__(self, cache: Any, fingerprint: str | None):
        self.cache = cache
        self.fingerprint = fingerprint

    @property
    def enabled(self) -> bool:
        return self.fingerprint is not None

    def _path(self, request: dict[str, Any]) -> Path:
        key = sha256_text(canonical_json({"fingerprint": self.fingerprint, "request": request}))
        return self.cache.root / "plans" / key[:2] / f"{key}.json"

    def get(self, request: dict[str, Any]) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        data = self.cache.read_verified(self._path(request))
        if data is None:
            return None
        try:
            return json.loads(data.decode())
        except (ValueError, UnicodeDecodeError):
            return None

    def put(self, request: dict[str, Any], answer: dict[str, Any]) -> None:
        if not self.enabled:
            return
        try:
            self.cache._write(self._path(request), canonical_json(answer).encode())
        except OSError:  # a read-only shared cache: the memo is an optimisation only
            pass
