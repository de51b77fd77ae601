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
(:mod:`ledbench.bench.weights`) and hands ultralytics a local file.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

_READY = False

__all__ = ["prepare_ultralytics", "ultralytics_config_dir"]


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
