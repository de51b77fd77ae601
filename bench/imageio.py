"""Image I/O with one contract: ``read_image`` returns H x W x 3 float32 RGB in [0, 1]; PNG writing; conversions.

``read_image`` handles EXIF orientation, grayscale, RGBA (alpha dropped), palette, 16-bit and float images; any
failure raises :class:`InputError` naming the file (ImportError included: once ultralytics is imported, its patched
``Image.open`` answers an unidentifiable file by trying to import an optional HEIF plugin). ``image_size`` reads
the header only (Pillow decodes a whole PNG to look for EXIF, so a PNG without metadata chunks is answered from
its chunk list). ``write_png`` writes atomically (:func:`ledbench.bench.files.atomic_write_bytes`). Conversions:
``to_uint8`` / ``from_uint8`` (float [0, 1] <-> uint8, round half to even) and ``to_tensor`` / ``from_tensor``
(H x W x 3 array <-> 1 x 3 x H x W torch tensor; torch is imported only by these two).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ledbench.bench.errors import InputError
from ledbench.bench.files import atomic_write_bytes

__all__ = ["IMAGE_SUFFIXES", "apply_orientation", "encode_png", "from_tensor", "from_uint8", "image_size",
           "is_image_file", "read_image", "read_png_u8", "to_tensor", "to_uint8", "write_png"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


_EXIF_ORIENTATION = 0x0112


def _exif_orientation(im) -> int:
    try:
        return int(im.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except Exception:  # noqa: BLE001 - broken EXIF must not make a readable image unreadable
        return 1


def apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation tag (1..8) to an H x W [x C] array (what ``ImageOps.exif_transpose`` does)."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
           7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1], 8: lambda a: np.swapaxes(a, 0, 1)[::-1]}
    op = ops.get(int(orientation))
    return np.ascontiguousarray(op(arr)) if op else arr


def _bad(path: Path, exc: BaseException | str) -> InputError:
    return InputError(f"cannot read image {str(path)!r}: {exc} (corrupt, truncated or not an image; "
                      "replace or remove the file)")


def _read_high_depth(path: Path) -> np.ndarray | None:
    """16-bit colour PNG/TIFF through OpenCV (Pillow truncates them to 8 bits); None if not such a file."""
    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        return None
    if path.suffix.lower() == ".png":
        with open(path, "rb") as fh:
            head = fh.read(26)
        # IHDR: bit depth at byte 24, colour type at byte 25 (2 = RGB, 6 = RGBA)
        if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[24] != 16 or head[25] not in (2, 6):
            return None
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    arr = arr[..., [2, 1, 0]] if arr.shape[2] >= 3 else arr  # BGR(A) -> RGB
    return arr.astype(np.float64) / 65535.0


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as H x W x 3 float32 RGB in [0, 1].

    EXIF orientation applied; grayscale replicated to 3 channels; alpha dropped; palette expanded; 8-bit / 255,
    16-bit / 65535 (colour 16-bit PNG/TIFF through OpenCV, which keeps all bits); float images clipped to [0, 1].
    A missing, corrupt, truncated or non-image file raises :class:`InputError` naming it.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {str(path)!r} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        with Image.open(path) as im:
            orientation = _exif_orientation(im)
            im.load()
            mode = im.mode
            arr = None
            if mode in ("RGB", "RGBA", "I;16", "I;16B", "I;16L", "I;16N"):
                arr = _read_high_depth(path)
            if arr is not None:
                pass
            elif mode.startswith("I;16") or mode == "I":
                arr = np.asarray(im, dtype=np.float64)
                scale = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
                arr = np.clip(arr / scale, 0, 1)
            elif mode == "F":
                arr = np.clip(np.nan_to_num(np.asarray(im, dtype=np.float64)), 0, 1)
            else:
                if mode == "P":
                    im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                if im.mode == "1":
                    im = im.convert("L")
                if im.mode in ("LA", "La"):
                    im = im.convert("L")
                elif im.mode not in ("RGB", "L"):
                    im = im.convert("RGB")  # RGBA, CMYK, YCbCr, LAB ...
                arr = np.asarray(im, dtype=np.float64) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, ImportError) as exc:
        raise _bad(path, exc) from None
    except Image.DecompressionBombError as exc:
        raise _bad(path, exc) from None
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] < 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"image {str(path)!r} has unsupported shape {arr.shape}")
    arr = apply_orientation(arr[..., :3], orientation)
    return np.ascontiguousarray(arr, dtype=np.float32)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunks that can carry an orientation Pillow honours (eXIf; EXIF or XMP in text chunks)
_PNG_METADATA = {b"eXIf", b"tEXt", b"zTXt", b"iTXt"}


def _png_without_metadata(path: Path) -> bool:
    """True for a PNG file none of whose chunks can hold an orientation (read from the chunk headers only)."""
    with open(path, "rb") as fh:
        if fh.read(8) != _PNG_SIGNATURE:
            return False
        while True:
            head = fh.read(8)
            if len(head) < 8:
                return False  # truncated: let Pillow say so
            kind = head[4:]
            if kind in _PNG_METADATA:
                return False
            if kind == b"IEND":
                return True
            fh.seek(int.from_bytes(head[:4], "big") + 4, os.SEEK_CUR)  # data and CRC


def image_size(path: str | os.PathLike, *, oriented: bool = True) -> tuple[int, int]:
    """``(height, width)`` from the file header, after EXIF orientation (no pixel decoding). ``oriented=False``
    skips the orientation (the pixel count is the same either way)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {str(path)!r} does not exist")
    try:
        with Image.open(path) as im:
            w, h = im.size
            if (oriented and not (im.format == "PNG" and _png_without_metadata(path))
                    and _exif_orientation(im) in (5, 6, 7, 8)):
                w, h = h, w
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, ImportError) as exc:
        raise _bad(path, exc) from None
    return int(h), int(w)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Quantise a float image in [0, 1] to uint8 with round-half-to-even (``np.rint``) after clipping."""
    return np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)


def from_uint8(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


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
    """Decode an 8-bit image file to H x W x 3 uint8 RGB (no EXIF handling; for files we wrote)."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def to_tensor(img: np.ndarray):
    """H x W x 3 float array -> 1 x 3 x H x W float32 tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


def from_tensor(t) -> np.ndarray:
    """1 x 3 x H x W (or 3 x H x W) tensor -> H x W x 3 float32 array."""
    if t.ndim == 4:
        t = t[0]
    return t.detach().cpu().float().permute(1, 2, 0).numpy()
