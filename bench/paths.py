"""Where ledbench keeps things on disk: the user cache root, weights folders, assets.

``LEDBENCH_HOME`` (default ``~/.cache/ledbench``) holds ``cache/`` (enhanced images, predictions), ``weights/``
(downloaded or imported weight files) and ``datasets/`` (generated data such as synth_mini). Nothing is ever
written inside the installed package.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The user cache root (``$LEDBENCH_HOME`` or ``~/.cache/ledbench``)."""
    env = os.environ.get("LEDBENCH_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ledbench"


def cache_dir() -> Path:
    return home() / "cache"


def weights_dirs() -> list[Path]:
    """Folders searched for weight files: ``$LEDBENCH_WEIGHTS`` (os.pathsep-separated) then ``HOME/weights``."""
    dirs = [Path(p).expanduser() for p in os.environ.get("LEDBENCH_WEIGHTS", "").split(os.pathsep) if p]
    dirs.append(home() / "weights")
    return dirs


def data_dir() -> Path:
    return home() / "datasets"


def assets_dirs() -> list[Path]:
    """Folders searched for test assets, first match wins: ``$LEDBENCH_ASSETS``, the checkout's ``tests/fixtures``
    (the redistributable files, kept in git), then ``../shared/assets`` beside the checkout or the working directory
    (left out when ``LEDBENCH_NO_SHARED_ASSETS=1``, to check what a fresh clone runs). Only existing folders."""
    env = os.environ.get("LEDBENCH_ASSETS")
    candidates = [Path(env).expanduser()] if env else []
    here = Path(__file__).resolve().parent.parent  # checkout root for an editable install
    candidates.append(here / "tests" / "fixtures")
    if os.environ.get("LEDBENCH_NO_SHARED_ASSETS", "") in ("", "0"):
        candidates += [here.parent / "shared" / "assets", Path.cwd().parent / "shared" / "assets"]
    found: list[Path] = []
    for cand in candidates:
        if cand.is_dir() and cand.resolve() not in [f.resolve() for f in found]:
            found.append(cand)
    return found


def find_asset(*parts: str) -> Path | None:
    """``<folder>/<parts...>`` from the first of :func:`assets_dirs` that has it, else None."""
    for root in assets_dirs():
        path = root.joinpath(*parts)
        if path.exists():
            return path
    return None


def assets_dir() -> Path | None:
    """The first test-assets folder of :func:`assets_dirs` (use :func:`find_asset` for one file), if any."""
    dirs = assets_dirs()
    return dirs[0] if dirs else None


def ensure_writable_dir(path: Path, what: str) -> Path:
    """Create ``path`` if needed and check it is writable; raise a one-line error naming it otherwise."""
    from .errors import LedbenchError

    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise LedbenchError(f"{what} {str(path)!r} is not writable ({exc.strerror or exc}); "
                            f"choose another location") from None
    return path
