"""Annotation files of datasets: class-index masks (:func:`read_label_map`) and depth maps (:func:`read_depth`).

Generic image I/O (``read_image``, ``write_png``, ``to_uint8`` ...) lives in :mod:`ledbench.bench.imageio`, atomic
writes, JSON and hashes in :mod:`ledbench.bench.files`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ledbench.bench.errors import InputError

__all__ = ["read_depth", "read_label_map"]


def read_label_map(path: str | os.PathLike) -> np.ndarray:
    """Read a class-index mask (PNG, palette PNG indices kept as they are, 8/16-bit, or .npy) as int64 H x W."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"label mask {str(path)!r} does not exist")
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"cannot read label mask {str(path)!r}: {exc}") from None
    else:
        try:
            with Image.open(path) as im:
                im.load()
                if im.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
                    arr = np.asarray(im)
                elif im.mode in ("RGB", "RGBA", "LA"):
                    arr = np.asarray(im)
                    if arr.ndim == 3 and not (arr[..., :1] == arr[..., 1:3 if arr.shape[2] >= 3 else 2]).all():
                        raise InputError(f"label mask {str(path)!r} is a colour image ({im.mode}); expected "
                                         "single-channel class indices (e.g. Cityscapes *_labelTrainIds.png)")
                    arr = arr[..., 0]
                else:
                    raise InputError(f"label mask {str(path)!r} has unsupported mode {im.mode}")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, ImportError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"cannot read label mask {str(path)!r}: {exc} (corrupt or not an image)") from None
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InputError(f"label mask {str(path)!r} must be H x W, got shape {arr.shape}")
    return arr.astype(np.int64)


def read_depth(path: str | os.PathLike, scale: float = 1.0) -> np.ndarray:
    """Read a depth map: 16-bit (or 8-bit) PNG/TIFF or .npy/.npz (first array), divided by ``scale``.

    Returns float32 H x W in dataset units (e.g. metres for KITTI PNGs with ``scale=256``, NYU with 1000).
    Non-finite values are returned as NaN so the caller's valid mask can exclude them.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"depth map {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                arr = data[data.files[0]]
        else:
            import cv2

            arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if arr is None:
                raise ValueError("OpenCV could not decode it")
    except (OSError, ValueError, EOFError, IndexError) as exc:
        raise InputError(f"cannot read depth map {str(path)!r}: {exc} (corrupt or unsupported format)") from None
    arr = np.asarray(arr)
    if arr.ndim == 3:
        if arr.shape[2] == 1 or (arr[..., :1] == arr).all():
            arr = arr[..., 0]
        else:
            raise InputError(f"depth map {str(path)!r} has {arr.shape[2]} differing channels; expected one")
    if arr.ndim != 2:
        raise InputError(f"depth map {str(path)!r} must be H x W, got shape {arr.shape}")
    out = arr.astype(np.float64) / float(scale)
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)
