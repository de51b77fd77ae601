"""Qualitative grids: degraded input | each enhancer | reference, one row per image, with optional task overlays.

Images are RGB; arrays may be ``H x W x 3`` (or ``3 x H x W``) uint8 or float in [0, 1], or paths to image files.
Overlays (:class:`Overlay`) follow the harness's task-output convention:

- ``depth``: float ``H x W`` map; ``depth_kind="metric"`` (near = small) or ``"relative_inverse"`` (near = large);
  shown as a colour map (magma, near = bright, 2nd-98th percentile range) in a sub-row below the image by default;
- ``segmentation``: int ``H x W`` class map, ``ignore_index`` (255) left uncoloured; Cityscapes palette for up to
  19 classes, else the Pascal VOC bit palette; blended over the image by default;
- ``detection``: ``{"boxes": N x 4 xyxy in input-image pixels, "scores": N, "labels": N}`` with COCO category ids,
  drawn as boxes labelled "name score".

    rows = select_images(read_per_image(run), "psnr", k=3, which="worst", higher_is_better=True)
    grid_from_folders("out/images", rows, ["zero_dce", "dap_led"], "grid.png",
                      input_paths={i: f"data/low/{i}.png" for i in rows},
                      reference_paths={i: f"data/high/{i}.png" for i in rows})
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledbench.bench.errors import InputError

__all__ = [
    "CITYSCAPES_PALETTE",
    "COCO_NAMES",
    "Overlay",
    "auto_crop",
    "colorize_depth",
    "colorize_segmentation",
    "draw_detections",
    "grid_from_folders",
    "make_grid",
    "metric_notes",
    "parse_crop",
    "select_images",
    "voc_palette",
]

COCO_NAMES = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train", 8: "truck", 9: "boat",
    10: "traffic light", 11: "fire hydrant", 13: "stop sign", 14: "parking meter", 15: "bench", 16: "bird", 17: "cat",
    18: "dog", 19: "horse", 20: "sheep", 21: "cow", 22: "elephant", 23: "bear", 24: "zebra", 25: "giraffe",
    27: "backpack", 28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase", 34: "frisbee", 35: "skis",
    36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat", 40: "baseball glove", 41: "skateboard",
    42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass", 47: "cup", 48: "fork", 49: "knife",
    50: "spoon", 51: "bowl", 52: "banana", 53: "apple", 54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot",
    58: "hot dog", 59: "pizza", 60: "donut", 61: "cake", 62: "chair", 63: "couch", 64: "potted plant", 65: "bed",
    67: "dining table", 70: "toilet", 72: "tv", 73: "laptop", 74: "mouse", 75: "remote", 76: "keyboard",
    77: "cell phone", 78: "microwave", 79: "oven", 80: "toaster", 81: "sink", 82: "refrigerator", 84: "book",
    85: "clock", 86: "vase", 87: "scissors", 88: "teddy bear", 89: "hair drier", 90: "toothbrush",
}  # COCO 2017 category ids (instances_val2017.json "categories")

# Cityscapes train-id colours (mcordts/cityscapesScripts: cityscapesscripts/helpers/labels.py)
CITYSCAPES_PALETTE = [
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0),
    (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
]


def voc_palette(n: int = 256) -> list[tuple[int, int, int]]:
    """The Pascal VOC colour map: class bits spread over the high bits of R, G, B."""
    out = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out.append((r, g, b))
    return out


@dataclass
class Overlay:
    """A task output drawn on (or below) one grid tile. ``mode``: auto | blend | below | replace | draw."""

    kind: str
    data: Any
    mode: str = "auto"
    alpha: float = 0.5
    depth_kind: str = "metric"
    palette: Sequence[tuple[int, int, int]] | None = None
    ignore_index: int = 255
    class_names: Mapping[int, str] | None = None
    min_score: float = 0.25

    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return {"depth": "below", "segmentation": "blend", "detection": "draw"}.get(self.kind, "replace")


# --------------------------------------------------------------------------------------------------- helpers


def _font(size: int = 14):
    from PIL import ImageFont

    try:
        import matplotlib

        return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf"), size)
    except Exception:  # noqa: BLE001 - any font problem falls back to PIL's bitmap font
        return ImageFont.load_default()


def to_pil(img: Any):
    """Path / uint8 / float [0, 1] array (HWC or CHW, RGB or grey) / PIL image -> PIL RGB image."""
    import numpy as np
    from PIL import Image

    if isinstance(img, Image.Image):
        return img.convert("RGB")
    if isinstance(img, (str, os.PathLike)):
        p = Path(img)
        if not p.is_file():
            raise InputError(f"grid image not found: {str(p)!r}")
        with Image.open(p) as im:
            return im.convert("RGB")
    a = np.asarray(img)
    if hasattr(img, "detach"):  # a torch tensor
        a = img.detach().cpu().numpy()
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise InputError(f"grid image must be H x W x 3 (or 3 x H x W), got shape {a.shape}")
    if a.dtype != np.uint8:
        a = (np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(a), "RGB")


def colorize_depth(depth: Any, depth_kind: str = "metric", valid: Any = None):
    """Depth -> RGB uint8 (magma, near = bright); invalid / non-finite pixels black."""
    import numpy as np
    from matplotlib import colormaps

    d = np.asarray(depth, dtype=np.float64)
    ok = np.isfinite(d) & (np.asarray(valid, bool) if valid is not None else True)
    if depth_kind == "metric":
        ok &= d > 0
        d = np.where(ok, 1.0 / np.where(ok, d, 1.0), 0.0)  # near = large disparity
    out = np.zeros(d.shape + (3,), np.uint8)
    if ok.any():
        lo, hi = np.percentile(d[ok], [2, 98])
        t = np.clip((d - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
        out = (colormaps["magma"](t)[..., :3] * 255 + 0.5).astype(np.uint8)
        out[~ok] = 0
    return out


def colorize_segmentation(seg: Any, palette: Sequence[tuple[int, int, int]] | None = None,
                          ignore_index: int = 255):
    """Class map -> (RGB uint8, mask of coloured pixels)."""
    import numpy as np

    s = np.asarray(seg).astype(np.int64)
    if palette is None:
        top = int(s[s != ignore_index].max()) if (s != ignore_index).any() else 0
        palette = CITYSCAPES_PALETTE if top < len(CITYSCAPES_PALETTE) else voc_palette()
    pal = np.zeros((max(len(palette), 256), 3), np.uint8)
    pal[: len(palette)] = np.asarray(palette, np.uint8)
    mask = (s != ignore_index) & (s >= 0) & (s < len(pal))
    return pal[np.where(mask, s, 0)], mask


def draw_detections(im, det: Mapping[str, Any], scale: float = 1.0, class_names: Mapping[int, str] | None = None,
                    min_score: float = 0.25, max_boxes: int = 50):
    """Draw boxes (xyxy, input-image pixels times ``scale``) labelled "name score" on a PIL image (in place)."""
    import numpy as np
    from PIL import ImageDraw

    names = COCO_NAMES if class_names is None else class_names
    boxes = np.asarray(det.get("boxes", np.zeros((0, 4))), dtype=float).reshape(-1, 4)
    scores = np.asarray(det.get("scores", np.ones(len(boxes))), dtype=float).reshape(-1)
    labels = np.asarray(det.get("labels", np.zeros(len(boxes))), dtype=int).reshape(-1)
    order = np.argsort(-scores, kind="stable")[:max_boxes]
    draw = ImageDraw.Draw(im)
    font = _font(11)
    pal = voc_palette(96)
    for k in order:
        if scores[k] < min_score:
            continue
        x0, y0, x1, y1 = (boxes[k] * scale).tolist()
        col = pal[(int(labels[k]) % 95) + 1]
        draw.rectangle([x0, y0, x1, y1], outline=col, width=2)
        text = f"{names.get(int(labels[k]), str(int(labels[k])))} {scores[k]:.2f}"
        tb = draw.textbbox((x0, y0), text, font=font)
        ty = max(0, y0 - (tb[3] - tb[1]) - 3)
        draw.rectangle([x0, ty, x0 + tb[2] - tb[0] + 4, ty + tb[3] - tb[1] + 3], fill=col)
        draw.text((x0 + 2, ty), text, fill=(0, 0, 0) if sum(col) > 380 else (255, 255, 255), font=font)
    return im


def _apply_overlay(tile, ov: Overlay, scale: float):
    """Returns (tile for the image row, tile for the sub-row or None)."""
    import numpy as np
    from PIL import Image

    mode = ov.resolved_mode()
    size = tile.size
    if ov.kind == "depth":
        vis = Image.fromarray(colorize_depth(ov.data, ov.depth_kind)).resize(size, Image.BILINEAR)
    elif ov.kind == "segmentation":
        rgb, mask = colorize_segmentation(ov.data, ov.palette, ov.ignore_index)
        vis = Image.fromarray(rgb).resize(size, Image.NEAREST)
        if mode == "blend":
            m = Image.fromarray((mask * int(255 * ov.alpha)).astype(np.uint8)).resize(size, Image.NEAREST)
            out = tile.copy()
            out.paste(vis, (0, 0), m)
            return out, None
    elif ov.kind == "detection":
        out = tile.copy()
        draw_detections(out, ov.data, scale, ov.class_names, ov.min_score)
        return (out, None) if mode in ("draw", "blend", "replace") else (tile, out)
    else:
        raise InputError(f"unknown overlay kind {ov.kind!r}; use depth, segmentation or detection")
    if mode == "below":
        return tile, vis
    if mode == "blend":
        return Image.blend(tile, vis, ov.alpha), None
    return vis, None


# --------------------------------------------------------------------------------------------------- grids


def make_grid(rows: Mapping[str, Mapping[str, Any]], out: str | Path | None = None, *,
              columns: Sequence[str] | None = None, overlays: Mapping[tuple[str, str], Overlay] | None = None,
              notes: Mapping[tuple[str, str], str] | None = None, tile_height: int = 160,
              max_tile_width: int | None = None, title: str = "", pad: int = 4,
              column_labels: Mapping[str, str] | None = None, crop: Any = None):
    """Compose a grid image; one row per item, one column per image source.

    Args:
        rows: item_id -> {column name -> image (path, array or PIL image)}; row order is kept.
        out: PNG (or JPEG) path to write; None only returns the image.
        columns: column order (default: first-seen order, ``input`` first and ``reference`` last).
        overlays: (item_id, column) -> :class:`Overlay`.
        notes: (item_id, column) -> short text under the tile (e.g. "psnr 21.3").
        tile_height: every tile is resized to this height, keeping its aspect ratio ...
        max_tile_width: ... unless wider than this (default 1.5 x tile_height); then it fits this width.
        column_labels: column -> header text (default the column name).
        crop: a zoomed crop in a sub-row under each image row, the region outlined on the tiles: ``"auto"`` (per
            row, the patch where the columns differ most: :func:`auto_crop`), ``(x, y, w, h)`` relative to the
            image (all <= 1) or in pixels of the first column's image, or a :func:`parse_crop` string.

    Returns:
        The PIL image; ``image.info["ledbench_tiles"]`` maps (item, column) to the tile's (x, y, w, h), and
        (item, column + ":below") to an overlay sub-row tile.
    """
    from PIL import Image, ImageDraw

    if not rows:
        raise InputError("no images for the grid; pass at least one item")
    overlays, notes = dict(overlays or {}), dict(notes or {})
    labels = dict(column_labels or {})
    crop = parse_crop(crop) if isinstance(crop, str) else crop
    if columns is None:
        seen = list(dict.fromkeys(c for r in rows.values() for c in r))
        columns = sorted(seen, key=lambda c: 0 if c in ("input", "identity") else 2 if c == "reference" else 1)
    max_w = max_tile_width or int(1.5 * tile_height)
    font, small = _font(14), _font(12)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = lambda s, f: probe.textbbox((0, 0), s, font=f)[2]

    tiles: dict[tuple[str, str], Any] = {}
    subs: dict[tuple[str, str], Any] = {}
    crops: dict[str, tuple[float, float, float, float]] = {}  # item -> relative crop box
    for item, imgs in rows.items():
        pils = {col: to_pil(imgs[col]) for col in columns if imgs.get(col) is not None}
        if crop is not None and pils:
            crops[item] = auto_crop(list(pils.values())) if crop == "auto" else \
                _relative_box(crop, next(iter(pils.values())).size)
        for col, im in pils.items():
            scale = min(tile_height / im.height, max_w / im.width)
            tile = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
            ov = overlays.get((item, col))
            if ov is not None:
                tile, sub = _apply_overlay(tile, ov, scale)
                if sub is not None:
                    subs[(item, col)] = sub
            if item in crops and (item, col) not in subs:
                fx, fy, fw, fh = crops[item]
                box = (round(fx * im.width), round(fy * im.height), round((fx + fw) * im.width),
                       round((fy + fh) * im.height))
                zoom = im.crop(box)
                zs = min(tile.height / zoom.height, tile.width / zoom.width)
                subs[(item, col)] = zoom.resize((max(1, round(zoom.width * zs)), max(1, round(zoom.height * zs))),
                                                Image.NEAREST if zs >= 2 else Image.LANCZOS)
                tile = tile.copy()
                ImageDraw.Draw(tile).rectangle([fx * tile.width, fy * tile.height, (fx + fw) * tile.width - 1,
                                                (fy + fh) * tile.height - 1], outline=(255, 40, 40), width=2)
            tiles[(item, col)] = tile
    col_w = [max([t.width for (i, c), t in tiles.items() if c == col] + [text_w(labels.get(col, col), font) + 8, 40])
             for col in columns]
    label_w = max(text_w(str(i), small) for i in rows) + 2 * pad
    note_h = 16 if notes else 0
    head_h = 22 + (24 if title else 0)
    row_h = {i: tile_height + note_h + (tile_height + pad if any((i, c) in subs for c in columns) else 0)
             for i in rows}
    W = label_w + sum(col_w) + pad * (len(columns) + 1)
    H = head_h + sum(row_h.values()) + pad * (len(rows) + 1)
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad, 4), title, fill=(0, 0, 0), font=font)
    x = label_w + pad
    for col, w in zip(columns, col_w):
        lab = labels.get(col, col)
        draw.text((x + (w - text_w(lab, font)) // 2, head_h - 20), lab, fill=(0, 0, 0), font=font)
        x += w + pad
    y = head_h + pad
    boxes: dict[tuple[str, str], tuple[int, int, int, int]] = {}  # (item, col) -> x, y, w, h of the pasted tile
    for item in rows:
        draw.text((pad, y + tile_height // 2 - 7), str(item), fill=(60, 60, 60), font=small)
        x = label_w + pad
        for col, w in zip(columns, col_w):
            t = tiles.get((item, col))
            if t is None:
                draw.rectangle([x, y, x + w - 1, y + tile_height - 1], fill=(235, 235, 235))
                draw.text((x + 6, y + 6), "missing", fill=(150, 150, 150), font=small)
            else:
                tx, ty = x + (w - t.width) // 2, y + (tile_height - t.height) // 2
                canvas.paste(t, (tx, ty))
                boxes[(item, col)] = (tx, ty, t.width, t.height)
            if (item, col) in notes:
                s = notes[(item, col)]
                draw.text((x + (w - text_w(s, small)) // 2, y + tile_height + 1), s, fill=(0, 0, 0), font=small)
            if (item, col) in subs:
                s_img = subs[(item, col)]
                canvas.paste(s_img, (x + (w - s_img.width) // 2, y + tile_height + note_h + pad))
                boxes[(item, col + ":below")] = (x + (w - s_img.width) // 2, y + tile_height + note_h + pad,
                                                 s_img.width, s_img.height)
            x += w + pad
        y += row_h[item] + pad
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(out)
    canvas.info["ledbench_tiles"] = boxes
    return canvas


def parse_crop(spec: str | None):
    """``"auto"`` | ``"x,y,w,h"`` (relative when every number is <= 1, else pixels) | None -> ``"auto"``, a 4-tuple
    or None; anything else is a one-line :class:`InputError`."""
    if spec is None or str(spec).strip() == "":
        return None
    spec = str(spec).strip()
    if spec.lower() == "auto":
        return "auto"
    try:
        vals = tuple(float(v) for v in spec.split(","))
    except ValueError:
        vals = ()
    if len(vals) != 4 or any(v < 0 or not math.isfinite(v) for v in vals) or vals[2] <= 0 or vals[3] <= 0:
        raise InputError(f"--grid-crop {spec!r}: give x,y,w,h (relative, e.g. 0.25,0.25,0.2,0.2, or pixels, e.g. "
                         "100,80,64,64) or auto")
    if all(v <= 1 for v in vals) and (vals[0] + vals[2] > 1 + 1e-9 or vals[1] + vals[3] > 1 + 1e-9):
        raise InputError(f"--grid-crop {spec!r}: the relative box leaves the image (x + w and y + h must be <= 1)")
    return vals


def _relative_box(box: Sequence[float], size: tuple[int, int]) -> tuple[float, float, float, float]:
    """A crop box (relative, or pixels of an image of ``size`` = (W, H)) -> relative, clipped to the image."""
    x, y, w, h = (float(v) for v in box)
    if not all(v <= 1 for v in (x, y, w, h)):
        x, y, w, h = x / size[0], y / size[1], w / size[0], h / size[1]
    x, y = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
    w, h = max(min(w, 1.0 - x), 1.0 / size[0]), max(min(h, 1.0 - y), 1.0 / size[1])
    return x, y, w, h


def auto_crop(images: Sequence[Any], frac: float = 0.25) -> tuple[float, float, float, float]:
    """The patch (``frac`` of each side) where the images differ most in detail: the largest mean, over the
    patch, of the per-pixel standard deviation across the images of the luminance gradient magnitude (each image's
    luminance standardised first, so a brightness change alone does not pick a flat region); summed-area table.
    Returns a relative (x, y, w, h); the first such patch in raster order on ties (deterministic)."""
    import numpy as np
    from PIL import Image

    pils = [to_pil(im) for im in images]
    W, H = pils[0].size
    s = min(1.0, 256 / max(W, H))  # work at <= 256 px
    w, h = max(2, round(W * s)), max(2, round(H * s))
    stack = np.stack([np.asarray(p.convert("L").resize((w, h), Image.BILINEAR), dtype=np.float64) for p in pils])
    stack = (stack - stack.mean(axis=(1, 2), keepdims=True)) / (stack.std(axis=(1, 2), keepdims=True) + 1e-6)
    gy, gx = np.gradient(stack, axis=(1, 2))
    grad = np.hypot(gx, gy)
    dev = grad.std(axis=0) if len(pils) > 1 else grad[0]
    pw, ph = max(1, round(w * frac)), max(1, round(h * frac))
    sat = np.pad(dev.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = sat[ph:, pw:] - sat[:-ph, pw:] - sat[ph:, :-pw] + sat[:-ph, :-pw]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return x / w, y / h, pw / w, ph / h


def grid_from_folders(images_root: str | Path | Sequence[str | Path] | None, item_ids: Sequence[str],
                      enhancers: Sequence[str],
                      out: str | Path | None = None, *, input_paths: Mapping[str, str | Path] | None = None,
                      reference_paths: Mapping[str, str | Path] | None = None, ext: str = ".png",
                      **kwargs: Any):
    """Grid from ``<images_root>/<enhancer>/<item_id>.png`` plus input / reference paths given by the caller.
    ``images_root`` may be a list of such folders (e.g. the ``images/`` of several runs): each tile comes from the
    first that has it.

    ``input`` and ``reference`` columns come from ``input_paths`` / ``reference_paths`` (item -> path), else from
    ``<images_root>/input/`` and ``<images_root>/reference/`` when present; a missing enhancer output is drawn as
    a grey "missing" tile. The floor is shown once: with ``identity`` among ``enhancers`` (the same image as the
    input) there is no separate ``input`` column and ``identity`` is headed "input (identity)". Other keyword
    arguments go to :func:`make_grid`.
    """
    enhancers = [e for e in enhancers if e not in ("input", "reference")]
    floor_is_identity = "identity" in enhancers
    if images_root is None:
        roots: list[Path] = []
    elif isinstance(images_root, (str, Path)):
        roots = [Path(images_root)]
    else:
        roots = [Path(x) for x in images_root]

    def find(col: str, item: str) -> Path | None:
        return next((p for r in roots if (p := r / col / f"{item}{ext}").is_file()), None)

    rows: dict[str, dict[str, Any]] = {}
    for item in item_ids:
        r: dict[str, Any] = {}
        for col, given in (("input", input_paths), ("reference", reference_paths)):
            if col == "input" and floor_is_identity:
                continue
            if given and item in given:
                r[col] = given[item]
            elif (p := find(col, item)) is not None:
                r[col] = p
        for e in enhancers:
            r[e] = find(e, item)
        rows[item] = r
    cols = (["input"] if any("input" in r for r in rows.values()) else []) + list(enhancers) \
        + (["reference"] if any("reference" in r for r in rows.values()) else [])
    if all(v is None for r in rows.values() for v in r.values()):
        raise InputError(f"no images found for {list(item_ids)} under {', '.join(map(str, roots)) or 'no folder'} "
                         "(expected <images_root>/<enhancer>/<item_id>.png)")
    if floor_is_identity:  # floor first
        cols = ["identity"] + [c for c in cols if c != "identity"]
        kwargs["column_labels"] = {"identity": "input (identity)", **(kwargs.get("column_labels") or {})}
    return make_grid(rows, out, columns=kwargs.pop("columns", cols), **kwargs)


def select_images(per_image, metric: str, k: int = 4, which: str = "worst", *, enhancer: str | None = None,
                  higher_is_better: bool | None = None, results=None, task: str | None = None,
                  enhancers: Sequence[str] | None = None) -> list[str]:
    """Pick image ids from ``per_image.csv`` rows by a metric.

    Args:
        which: ``worst`` / ``best`` (by the mean over real enhancers, or over ``enhancer`` only), ``gain`` /
            ``loss`` (largest improvement / degradation of ``enhancer``, or the enhancer mean, over the floor
            ``input`` / ``identity``).
        higher_is_better: the metric direction; None takes it from ``results`` (a results DataFrame) and fails
            if it cannot.
        enhancers: average over these enhancers instead of every real one (``enhancer`` wins when given).
    """
    import pandas as pd

    sub = per_image[per_image["metric"] == metric]
    if task is not None:
        sub = sub[(sub["task_kind"] == task) | (sub["task"] == task)]
    if sub.empty:
        raise InputError(f"no per-image values for metric {metric!r}; have {sorted(per_image['metric'].unique())}")
    if higher_is_better is None:
        if results is None or not (results["metric"] == metric).any():
            raise InputError(f"direction of {metric!r} unknown: pass higher_is_better= or the results DataFrame")
        higher_is_better = bool(results.loc[results["metric"] == metric, "higher_is_better"].iloc[0])
    sub = sub.assign(value=pd.to_numeric(sub["value"], errors="coerce"))
    floor = "input" if (sub["enhancer"] == "input").any() else "identity"
    if enhancer is not None:
        real = sub[sub["enhancer"] == enhancer]
    elif enhancers:
        real = sub[sub["enhancer"].isin([e for e in enhancers if e not in ("input", "identity", "reference")])]
    else:
        real = sub[~sub["enhancer"].isin(["input", "identity", "reference"])]
    if real.empty:
        raise InputError(f"no per-image {metric} rows for enhancer {enhancer!r}")
    score = real.groupby("image_id", sort=True)["value"].mean()
    if which in ("gain", "loss"):
        base = sub[sub["enhancer"] == floor].groupby("image_id")["value"].mean()
        score = (score - base).dropna() * (1 if higher_is_better else -1)  # positive = improvement
        ascending = which == "loss"
    elif which in ("worst", "best"):
        ascending = (which == "worst") == bool(higher_is_better)
    else:
        raise InputError(f"which must be worst, best, gain or loss, got {which!r}")
    score = score[score.map(lambda v: math.isfinite(v))]
    return [str(i) for i in score.sort_values(ascending=ascending, kind="stable").index[:k]]


def metric_notes(per_image, metric: str, item_ids: Sequence[str], columns: Sequence[str],
                 decimals: int = 2) -> dict[tuple[str, str], str]:
    """(item, column) -> "metric value" from per-image rows, for :func:`make_grid` ``notes``."""
    from ledbench.reports.names import metric_name

    label = metric_name(metric)
    sub = per_image[per_image["metric"] == metric]
    out = {}
    for rec in sub.to_dict("records"):
        key = (str(rec["image_id"]), str(rec["enhancer"]))
        if key[0] in item_ids and key[1] in columns:
            v = float(rec["value"])
            out[key] = f"{label} {'∞' if math.isinf(v) else f'{v:.{decimals}f}'}"
    return out
