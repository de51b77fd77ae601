"""Offline-safe, quiet ultralytics: call :func:`prepare_ultralytics` before the first ``import ultralytics``.

ultralytics reads its environment once at import time and then may, on first use, download ``Arial.ttf`` for
plots, ping its hub for settings sync, auto-install missing requirements, and log every prediction (see
ultralytics issues #7645, YOLOv5 #5159 / #5078). ledbench sets, unless the user already set them:

- ``YOLO_OFFLINE=1`` (``ultralytics.utils.is_online`` returns False), ``YOLO_AUTOINSTALL=False``,
  ``YOLO_VERBOSE=False``;
- ``YOLO_CONFIG_DIR=$LEDBENCH_HOME/ultralytics`` (its ``settings.json`` lives there, not in the user's
  global ultralytics folder), with ``sync`` turned off;
- ``Arial.ttf`` and ``Arial.Unicode.ttf`` in that folder, copied from matplotlib's bundled DejaVuSans, so
  ``check_font`` finds a local font and never downloads one.

Nothing here runs at ``import ledbench``; :func:`prepare_ultralytics` is called lazily by the tasks that use
ultralytics. Model weights never go through ultralytics' downloader: ledbench resolves them itself
(:mod:`ledbench.bench.weights`) and hands ultralytics a local file, and only after
:func:`check_ultralytics_checkpoint` has read it with ``torch.load(weights_only=True)`` against an allow-list derived
from the installed torch / ultralytics model classes (ultralytics itself unpickles ``.pt`` files in full, so a file
with a ``__reduce__`` payload would otherwise run it); ``trust_weights=True`` skips the check for trusted files.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

_READY = False

__all__ = ["check_ultralytics_checkpoint", "prepare_ultralytics", "ultralytics_allowed_globals",
           "ultralytics_config_dir"]


def ultralytics_config_dir() -> Path:
    """The folder ultralytics uses for ``settings.json`` and fonts (``$YOLO_CONFIG_DIR`` if the user set it)."""
    from ledbench.bench.paths import home

    env = os.environ.get("YOLO_CONFIG_DIR")
    return Path(env).expanduser() if env else home() / "ultralytics"


def _install_fonts(folder: Path) -> None:
    try:
        import matplotlib

        src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except Exception:  # pragma: no cover - matplotlib is an ultralytics dependency
        return
    if not src.is_file():  # pragma: no cover
        return
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        dest = folder / name
        if not dest.is_file():
            tmp = folder / f".{name}.{os.getpid()}.tmp"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)


def prepare_ultralytics() -> None:
    """Set the offline/quiet environment, the private config folder and local fonts; then turn settings sync off.

    Idempotent. If ultralytics was already imported by someone else, the module-level switches are patched too.
    """
    global _READY
    if _READY:
        return
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    folder = ultralytics_config_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("YOLO_CONFIG_DIR", str(folder))
        _install_fonts(folder)
    except OSError:  # read-only home: ultralytics falls back to a temp dir; fonts then come from matplotlib
        pass
    already = "ultralytics" in sys.modules
    import ultralytics.utils as uu

    if already:  # constants were read at import time: patch what we can, fonts into the folder it really uses
        try:
            _install_fonts(Path(uu.USER_CONFIG_DIR))
        except OSError:
            pass
        uu.VERBOSE = False
        uu.AUTOINSTALL = False
        import logging

        uu.LOGGER.setLevel(logging.WARNING)
    try:
        if uu.SETTINGS.get("sync", True):
            uu.SETTINGS.update({"sync": False})
    except Exception:  # pragma: no cover - unwritable settings file must not stop inference
        pass
    _READY = True


# -- safe loading of ultralytics checkpoints ---------------------------------------------------------------------

_ULTRA_ALLOWED: list | None = None


def _restricted_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as official ultralytics checkpoints pickle it (``Detect.forward``): model classes only."""
    import pickle

    import torch

    if isinstance(obj, type) and issubclass(obj, torch.nn.Module) and not name.startswith("_"):
        return getattr(obj, name)
    if isinstance(obj, torch.nn.Module) and name in ("forward", "forward_fuse"):
        return getattr(obj, name)
    raise pickle.UnpicklingError(f"getattr({type(obj).__name__}, {name!r}) is not allowed in a model checkpoint")


def ultralytics_allowed_globals() -> list:
    """The allow-list for ultralytics ``.pt`` files, derived from the installed packages (not hand-listed).

    Every ``torch.nn.Module`` subclass defined in ``torch.nn.modules.*``, ``ultralytics.nn.modules.*`` and
    ``ultralytics.nn.tasks``, plus the data types official checkpoints pickle next to the model: ultralytics'
    ``IterableSimpleNamespace`` (train args), numpy dtypes and scalars (metrics), ``pathlib`` paths, and a
    ``getattr`` restricted to model classes. Nothing else (no ``os``, ``subprocess``, ``builtins.eval`` ...).
    """
    global _ULTRA_ALLOWED
    if _ULTRA_ALLOWED is not None:
        return _ULTRA_ALLOWED
    import importlib
    import pathlib
    import pkgutil

    import numpy as np
    import torch

    entries: list = []
    packages = [torch.nn.modules]
    prepare_ultralytics()
    import ultralytics.nn.modules as um
    import ultralytics.nn.tasks as ut

    packages.append(um)
    modules = [ut]
    for pkg in packages:
        modules.append(pkg)
        for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
            try:
                modules.append(importlib.import_module(info.name))
            except Exception:  # noqa: BLE001 - an optional sub-module that does not import is not needed
                continue
    seen = set()
    for mod in modules:
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, torch.nn.Module) and obj.__module__ == mod.__name__ \
                    and obj not in seen:
                seen.add(obj)
                entries.append(obj)
    from ultralytics.utils import IterableSimpleNamespace

    entries.append(IterableSimpleNamespace)
    entries.append((IterableSimpleNamespace, "ultralytics.yolo.utils.IterableSimpleNamespace"))
    scalar = np.float64(0).__reduce__()[0]
    entries += [np.dtype, (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar")]
    entries += [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32, np.bool_)]
    entries += [(pathlib.PosixPath, f"{m}.{c}") for m in ("pathlib", "pathlib._local")
                for c in ("PosixPath", "WindowsPath")]
    entries.append((_restricted_getattr, "builtins.getattr"))
    _ULTRA_ALLOWED = entries
    return entries


def check_ultralytics_checkpoint(path: str | os.PathLike, *, what: str | None = None) -> None:
    """Refuse an ultralytics ``.pt`` file that a full unpickle would let run code (:class:`UnsafeCheckpoint`), or
    that is not a checkpoint (``not a checkpoint / corrupt``). Reads it with ``weights_only=True`` and
    :func:`ultralytics_allowed_globals`; an ultralytics checkpoint holds its model under ``model`` or ``ema``."""
    import torch

    from ledbench.bench.weights import not_a_checkpoint, safe_torch_load

    obj = safe_torch_load(path, allowed_globals=ultralytics_allowed_globals(), what=what or "ultralytics model")
    model = obj.get("ema") or obj.get("model") if isinstance(obj, dict) else None
    if not isinstance(model, torch.nn.Module):
        raise not_a_checkpoint(path, "no ultralytics model inside (expected a dict with 'model')")
