"""Image I/O with one contract: ``read_image`` returns H x W x 3 float32 RGB in [0, 1].

Handles EXIF orientation, grayscale, RGBA (alpha dropped), palette, 16-bit and float images. Any failure raises
:class:`InputError` naming the file. ``write_png`` writes atomically (temp file + ``os.replace``), so an
interrupted run never leaves a truncated image behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from ledbench.bench.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as H x W x 3 float32 RGB in [0, 1] (EXIF-rotated; 16-bit scaled by 65535)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {str(path)!r} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                scale = 65535.0 if arr.max(initial=0) > 255 or mode.startswith("I;16") else 255.0
                arr = np.clip(arr / scale, 0, 1)
            elif mode == "F":
                arr = np.clip(np.asarray(im, dtype=np.float64), 0, 1)
            else:
                if mode == "P":
                    im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                if im.mode in ("RGBA", "LA"):
                    im = im.convert("RGB")
                elif im.mode not in ("RGB", "L"):
                    im = im.convert("RGB")
                arr = np.asarray(im, dtype=np.float64) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"cannot read image {str(path)!r}: {exc} (corrupt, truncated or not an image; "
                         "replace or remove the file)") from None
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise InputError(f"image {str(path)!r} has unsupported shape {arr.shape}")
    return np.ascontiguousarray(arr[..., :3], dtype=np.float32)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Quantise a float image in [0, 1] to uint8 with round-half-to-even (``np.rint``) after clipping."""
    return np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)


def from_uint8(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def encode_png(img_u8: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img_u8).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def write_png(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write ``img`` (uint8, or float in [0, 1] which is quantised) as PNG, atomically."""
    img_u8 = img if img.dtype == np.uint8 else to_uint8(img)
    atomic_write_bytes(Path(path), encode_png(img_u8))


def read_png_u8(path: str | os.PathLike) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def array_hash(arr: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (content hash of decoded pixels)."""
    h = hashlib.sha256()
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def file_hash(path: str | os.PathLike) -> str:
    from ledbench.bench.weights import sha256_file

    return sha256_file(path)


def to_tensor(img: np.ndarray):
    """H x W x 3 float array -> 1 x 3 x H x W float32 tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


def from_tensor(t) -> np.ndarray:
    """1 x 3 x H x W (or 3 x H x W) tensor -> H x W x 3 float32 array."""
    if t.ndim == 4:
        t = t[0]
    return t.detach().cpu().float().permute(1, 2, 0).numpy()
