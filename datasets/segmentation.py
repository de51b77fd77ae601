"""Semantic segmentation sets with class-index masks (Cityscapes trainIds, ACDC, Dark Zurich, generic folders).

``labels["segmentation"]`` is an int64 H x W map of Cityscapes trainIds (0..18) with ``ignore_index`` (255) for
unlabelled pixels, loaded lazily. Layouts (``layout=``):

- ``cityscapes``: ``leftImg8bit/<split>/<city>/<x>_leftImg8bit.png`` +
  ``gtFine/<split>/<city>/<x>_gtFine_labelTrainIds.png`` (or ``*_gtFine_labelIds.png``, converted with
  :data:`CITYSCAPES_ID_TO_TRAINID`; cityscapesScripts ``helpers/labels.py``).
- ``acdc``: ``rgb_anon/<condition>/<split>/<seq>/<x>_rgb_anon.png`` +
  ``gt/<condition>/<split>/<seq>/<x>_gt_labelTrainIds.png`` (condition ``night`` by default).
- ``dark_zurich``: ``rgb_anon/<split>/night/<seq>/<x>_rgb_anon.png`` +
  ``gt/<split>/night/<seq>/<x>_gt_labelTrainIds.png``.
- ``generic``: ``images/**`` + ``masks/**`` (or ``labels/**``) matched by relative path without suffix; masks are
  single-channel PNGs (palette indices are kept as indices) or ``.npy``.

Synthesis keeps geometry: ``images=`` may point at degraded copies and ``reference=`` at the sharp originals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ledbench.bench.errors import ConfigError, InputError
from ledbench.datasets.base import MISSING_SKIP, Dataset, Item, index_by_id, list_images, natural_key, require_dir

#: The 19 Cityscapes evaluation classes, trainId order.
CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")

#: Cityscapes labelId -> trainId (255 = ignore), from cityscapesScripts helpers/labels.py.
CITYSCAPES_ID_TO_TRAINID: dict[int, int] = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14,
    28: 15, 31: 16, 32: 17, 33: 18}


def labelids_to_trainids(mask: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """Map a Cityscapes labelId mask to trainIds (unlisted ids and -1 -> ``ignore_index``)."""
    lut = np.full(256, ignore_index, np.int64)
    for lid, tid in CITYSCAPES_ID_TO_TRAINID.items():
        lut[lid] = tid
    out = np.full(mask.shape, ignore_index, np.int64)
    ok = (mask >= 0) & (mask < 256)
    out[ok] = lut[mask[ok]]
    return out


#: layout -> (image folder parts, mask folder parts, image name suffix, mask name suffixes (first found wins))
LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str, tuple[str, ...]]] = {
    "cityscapes": (("leftImg8bit", "{split}"), ("gtFine", "{split}"), "_leftImg8bit",
                   ("_gtFine_labelTrainIds", "_gtFine_labelIds")),
    "acdc": (("rgb_anon", "{condition}", "{split}"), ("gt", "{condition}", "{split}"), "_rgb_anon",
             ("_gt_labelTrainIds", "_gt_labelIds")),
    "dark_zurich": (("rgb_anon", "{split}", "night"), ("gt", "{split}", "night"), "_rgb_anon",
                    ("_gt_labelTrainIds", "_gt_labelIds")),
}


@dataclass(frozen=True)
class SegmentationConfig:
    """``root``: dataset folder. ``layout``: generic | cityscapes | acdc | dark_zurich. ``split``: train | val ...
    ``condition``: ACDC condition (night, fog, rain, snow). ``images``/``masks``: folders overriding the layout
    (relative to root or absolute). ``reference``: optional sharp references (same relative names; paired).
    ``classes``: cityscapes | none (names attached). ``ignore_index``: unlabelled value. ``stride``/``offset``/
    ``limit``: subsets. ``missing``: error | skip for images without a mask."""

    root: str = ""
    layout: str = "generic"
    split: str = "val"
    condition: str = "night"
    images: str = ""
    masks: str = ""
    reference: str = ""
    classes: str = "cityscapes"
    ignore_index: int = 255
    missing: str = "error"


class SegmentationDataset(Dataset):
    """Images with class-index masks; ``labels["segmentation"]`` (int64 H x W, ignore_index excluded)."""

    Config = SegmentationConfig
    label_kinds = frozenset({"segmentation"})
    summary = "semantic segmentation images + trainId masks (Cityscapes / ACDC / Dark Zurich / generic)"

    def __init__(self, config=None, *, name=None):
        super().__init__(config, name=name)
        self.ignore_index = int(self.config.ignore_index)
        if self.config.classes == "cityscapes":
            self.class_names = dict(enumerate(CITYSCAPES_CLASSES))
        elif self.config.classes not in ("none", ""):
            raise ConfigError(f"{self.name}.classes must be 'cityscapes' or 'none', got {self.config.classes!r}")

    def _dir(self, root: Path, override: str, parts: tuple[str, ...], what: str) -> Path:
        if override:
            path = Path(override).expanduser()
            return require_dir(path if path.is_absolute() else root / path, what)
        cfg = self.config
        path = root.joinpath(*[p.format(split=cfg.split, condition=cfg.condition) for p in parts])
        return require_dir(path, what, f"expected the {cfg.layout} layout (see ledbench.datasets.segmentation)")

    def build_items(self) -> list[Item]:
        cfg = self.config
        if cfg.missing not in ("error", "skip"):
            raise ConfigError(f"{self.name}.missing must be 'error' or 'skip', got {cfg.missing!r}")
        if not cfg.root:
            raise ConfigError(f"dataset {self.name!r} needs a folder: '{self.name}:/path/to/data'")
        root = require_dir(cfg.root, f"{self.name} folder")
        if cfg.layout == "generic":
            img_dir = self._dir(root, cfg.images, ("images",), "image folder")
            mask_dir = self._dir(root, cfg.masks, ("masks" if (root / "masks").is_dir() or cfg.masks else "labels",),
                                 "mask folder")
            img_suffix, mask_suffixes = "", ("",)
        elif cfg.layout in LAYOUTS:
            img_parts, mask_parts, img_suffix, mask_suffixes = LAYOUTS[cfg.layout]
            img_dir = self._dir(root, cfg.images, img_parts, "image folder")
            mask_dir = self._dir(root, cfg.masks, mask_parts, "mask folder")
        else:
            raise ConfigError(f"{self.name}.layout must be one of {['generic', *LAYOUTS]}, got {cfg.layout!r}")
        ref_by_id: dict[str, Path] = {}
        if cfg.reference:
            ref = Path(cfg.reference).expanduser()
            ref_dir = require_dir(ref if ref.is_absolute() else root / ref, "reference folder")
            ref_by_id = index_by_id(list_images(ref_dir, skipped=self.skipped_files), ref_dir)
        masks = _mask_index(mask_dir)
        items, lonely = [], []
        for rel_id, path in index_by_id(list_images(img_dir, skipped=self.skipped_files), img_dir).items():
            key = rel_id[: -len(img_suffix)] if img_suffix and rel_id.endswith(img_suffix) else rel_id
            mask_path, is_label_ids = None, False
            for suffix in mask_suffixes:
                mask_path = masks.get(key + suffix)
                if mask_path is not None:
                    is_label_ids = suffix.endswith("_labelIds")
                    break
            if mask_path is None:
                lonely.append(str(path))
                continue
            reference = None
            if ref_by_id:
                reference = ref_by_id.get(rel_id)
                if reference is None:
                    lonely.append(f"{path} (no reference)")
                    continue
            items.append(Item(id=key, input=path, reference=reference,
                              labels={"segmentation": _MaskLoader(path, mask_path, is_label_ids, self.ignore_index)},
                              meta={"mask": str(mask_path)}))
        if lonely and cfg.missing == "error":
            more = f" and {len(lonely) - 3} more" if len(lonely) > 3 else ""
            raise InputError(f"missing mask for {len(lonely)} image(s): {', '.join(repr(x) for x in lonely[:3])}"
                             f"{more} (looked under {str(mask_dir)!r}); add them or pass {MISSING_SKIP}")
        if not items:
            raise InputError(f"no image/mask pairs under {str(img_dir)!r} and {str(mask_dir)!r}")
        items.sort(key=lambda it: natural_key(it.id))
        return items


def _mask_index(folder: Path) -> dict[str, Path]:
    files = sorted([p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".png", ".npy", ".tif",
                                                                                           ".tiff", ".bmp")])
    out: dict[str, Path] = {}
    for p in files:
        key = p.relative_to(folder).with_suffix("").as_posix()
        if key in out:
            raise InputError(f"ambiguous masks {str(out[key])!r} and {str(p)!r}; remove one of them")
        out[key] = p
    return out


class _MaskLoader:
    """Callable label: reads the mask, maps labelIds to trainIds if needed, checks it matches the image size."""

    def __init__(self, image: Path, mask: Path, label_ids: bool, ignore_index: int):
        self.image, self.mask, self.label_ids, self.ignore_index = image, mask, label_ids, ignore_index

    def __call__(self) -> np.ndarray:
        from ledbench.bench.imageio import image_size
        from ledbench.datasets.io import read_label_map

        mask = read_label_map(self.mask)
        if self.label_ids:
            mask = labelids_to_trainids(mask, self.ignore_index)
        hw = image_size(self.image)
        if tuple(mask.shape) != tuple(hw):
            raise InputError(f"mask {str(self.mask)!r} is {mask.shape[1]}x{mask.shape[0]} but image "
                             f"{str(self.image)!r} is {hw[1]}x{hw[0]} (W x H); they must match")
        return mask

    def __repr__(self) -> str:
        return f"<mask {self.mask}>"
