"""Depth ground truth: images + depth maps (16-bit PNG or .npy/.npz) with a scale and a valid mask.

``labels["depth"] = {"depth": float32 H x W in dataset units (raw / scale), "valid": bool H x W}`` where valid means
finite, > ``min_depth`` (raw 0 = no measurement, as in KITTI and NYU PNGs) and <= ``max_depth`` when it is > 0.
``meta["depth_kind"]`` is ``metric`` (or ``disparity``/``relative`` if ``kind=`` says so).

Layout ``depth:ROOT``: ``ROOT/images/**`` + ``ROOT/depth/**`` matched by relative path without suffix
(``images=``/``depth=`` override the folder names). Common scales: KITTI depth PNG 256 (metres),
NYU-v2 PNG 1000 (millimetres -> metres), .npy already in metres: 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ledbench.bench.errors import ConfigError, InputError
from ledbench.datasets.base import MISSING_SKIP, Dataset, Item, index_by_id, list_images, require_dir

DEPTH_SUFFIXES = (".png", ".npy", ".npz", ".tif", ".tiff")


@dataclass(frozen=True)
class DepthConfig:
    """``root``: dataset folder. ``images``/``depth``: sub-folders (or absolute). ``scale``: depth = raw / scale.
    ``min_depth``/``max_depth``: valid range (max 0 = unbounded). ``kind``: metric | disparity | relative.
    ``reference``: optional sharp references (paired). ``stride``/``offset``/``limit``: subsets. ``missing``:
    error | skip for images without a depth map."""

    root: str = ""
    images: str = "images"
    depth: str = "depth"
    scale: float = 1.0
    min_depth: float = 0.0
    max_depth: float = 0.0
    kind: str = "metric"
    reference: str = ""
    split: str = "test"
    missing: str = "error"


class DepthDataset(Dataset):
    """Images with depth ground truth and a valid mask."""

    Config = DepthConfig
    label_kinds = frozenset({"depth"})
    summary = "images + depth ground truth (16-bit PNG or .npy, scale, valid mask)"

    def build_items(self) -> list[Item]:
        cfg = self.config
        if cfg.kind not in ("metric", "disparity", "relative"):
            raise ConfigError(f"depth.kind must be metric, disparity or relative, got {cfg.kind!r}")
        if cfg.missing not in ("error", "skip"):
            raise ConfigError(f"depth.missing must be 'error' or 'skip', got {cfg.missing!r}")
        if not cfg.scale or cfg.scale <= 0:
            raise ConfigError(f"depth.scale must be > 0, got {cfg.scale!r}")
        if not cfg.root:
            raise ConfigError("dataset 'depth' needs a folder: depth:/path/to/data (images/ and depth/ inside)")
        root = require_dir(cfg.root, "depth dataset folder")

        def sub(name: str, what: str) -> Path:
            p = Path(name).expanduser()
            return require_dir(p if p.is_absolute() else root / p, what)

        img_dir, depth_dir = sub(cfg.images, "image folder"), sub(cfg.depth, "depth folder")
        ref_by_id: dict[str, Path] = {}
        if cfg.reference:
            ref_dir = sub(cfg.reference, "reference folder")
            ref_by_id = index_by_id(list_images(ref_dir, skipped=self.skipped_files), ref_dir)
        depth_files = [p for p in depth_dir.rglob("*") if p.is_file() and p.suffix.lower() in DEPTH_SUFFIXES]
        depths = index_by_id(sorted(depth_files), depth_dir)
        items, lonely = [], []
        for key, path in index_by_id(list_images(img_dir, skipped=self.skipped_files), img_dir).items():
            dpath = depths.get(key)
            ref = ref_by_id.get(key) if ref_by_id else None
            if dpath is None or (ref_by_id and ref is None):
                lonely.append(str(path))
                continue
            items.append(Item(id=key, input=path, reference=ref,
                              labels={"depth": _DepthLoader(path, dpath, cfg.scale, cfg.min_depth, cfg.max_depth)},
                              meta={"depth_kind": cfg.kind, "depth_file": str(dpath)}))
        if lonely and cfg.missing == "error":
            more = f" and {len(lonely) - 3} more" if len(lonely) > 3 else ""
            raise InputError(f"missing depth map for {len(lonely)} image(s): "
                             f"{', '.join(repr(x) for x in lonely[:3])}{more} (looked under {str(depth_dir)!r}, "
                             f"same relative path; .png/.npy/.npz); add them or pass {MISSING_SKIP}")
        if not items:
            raise InputError(f"no image/depth pairs under {str(img_dir)!r} and {str(depth_dir)!r}")
        return items


def depth_target(raw_depth: np.ndarray, min_depth: float = 0.0, max_depth: float = 0.0) -> dict[str, np.ndarray]:
    """``{"depth", "valid"}`` from a scaled depth map: valid = finite & > min_depth (& <= max_depth if > 0)."""
    depth = np.asarray(raw_depth, np.float32)
    valid = np.isfinite(depth) & (depth > float(min_depth))
    if max_depth and max_depth > 0:
        valid &= depth <= float(max_depth)
    return {"depth": np.where(np.isfinite(depth), depth, 0.0).astype(np.float32), "valid": valid}


class _DepthLoader:
    def __init__(self, image: Path, depth: Path, scale: float, min_depth: float, max_depth: float):
        self.image, self.depth, self.scale, self.min_depth, self.max_depth = image, depth, scale, min_depth, max_depth

    def __call__(self) -> dict[str, np.ndarray]:
        from ledbench.bench.imageio import image_size
        from ledbench.datasets.io import read_depth

        d = read_depth(self.depth, self.scale)
        hw = image_size(self.image)
        if tuple(d.shape) != tuple(hw):
            raise InputError(f"depth map {str(self.depth)!r} is {d.shape[1]}x{d.shape[0]} but image "
                             f"{str(self.image)!r} is {hw[1]}x{hw[0]} (W x H); they must match")
        return depth_target(d, self.min_depth, self.max_depth)

    def __repr__(self) -> str:
        return f"<depth {self.depth}>"
