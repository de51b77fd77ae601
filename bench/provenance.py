"""Run provenance: package versions, git revision (+ dirty flag), device, seeds, determinism flags, timing."""

from __future__ import annotations

import datetime as _dt
import functools
import platform
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGES = ("ledbench", "torch", "torchvision", "numpy", "scikit-image", "opencv-python", "ultralytics",
            "transformers", "open_clip_torch", "timm", "pycocotools", "pandas", "lpips")


def package_versions() -> dict[str, str | None]:
    """Installed versions of :data:`PACKAGES` (None where one is not installed), read again in a process only
    when the installed packages changed (the ``*.dist-info`` names of site-packages carry the versions)."""
    from ledbench.bench.plans import installed_packages

    return dict(_package_versions(tuple(installed_packages())))


@functools.lru_cache(maxsize=1)
def _package_versions(installed: tuple[str, ...]) -> dict[str, str | None]:
    from importlib import metadata

    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision(path: str | Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout holding ledbench (if any)."""
    path = Path(path) if path else Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5).stdout.strip() or None
        if commit is None:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5).stdout
        return {"commit": commit, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def start_git_revision(path: str | Path | None = None) -> Callable[[], dict[str, Any]]:
    """Start :func:`git_revision` in a background thread (it runs two ``git`` processes); the returned function
    waits for its answer. A run starts it first and reads it when it writes the manifest."""
    answer: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: answer.append(git_revision(path)), daemon=True)
    thread.start()

    def result() -> dict[str, Any]:
        thread.join()
        return answer[0] if answer else {"commit": None, "dirty": None}

    return result


def device_info(device: Any = None) -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": sys.version.split()[0],
                            "processor": platform.processor() or platform.machine()}
    if "torch" not in sys.modules:  # a fully cached run builds no model and never imports torch
        info["torch"] = "not imported: every unit of the run came from the cache"
        if device is not None:
            info["device"] = str(device)
        return info
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info["cuda_device"] = torch.cuda.get_device_name(0)
            info["cuda_version"] = torch.version.cuda
        info["deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()
        info["cudnn_benchmark"] = torch.backends.cudnn.benchmark
    except ImportError:  # pragma: no cover
        pass
    if device is not None:
        info["device"] = str(device)
    return info


def seed_everything(seed: int, deterministic: bool = True) -> dict[str, int | bool]:
    """Seed python, numpy and torch (separately recorded) and turn on deterministic kernels where cheap."""
    seeds = seed_python_numpy(seed)
    seed_torch(seed, deterministic)
    return {**seeds, "torch_seed": seed, "cudnn_deterministic": deterministic}


def seed_python_numpy(seed: int) -> dict[str, int]:
    """The torch-free half of :func:`seed_everything` (a run seeds torch only when it builds a model)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    return {"python_seed": seed, "numpy_seed": seed % (2 ** 32)}


def seed_torch(seed: int, deterministic: bool = True) -> None:
    """Seed torch and turn on deterministic cuDNN kernels (imports torch)."""
    import torch

    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
