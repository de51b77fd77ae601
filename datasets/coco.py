"""Labelled detection data: COCO-format JSON, YOLO-format label folders (coco8) and ExDark.

Every item carries ``labels["detection"] = {"boxes": float32 N x 4 xyxy pixels, "labels": int64 N (COCO category
ids), "iscrowd": int64 N, "area": float32 N}``. Synthesis keeps geometry, so the labels stay valid for degraded
copies: point ``images=`` at the degraded images and ``reference=`` at the sharp ones (same relative names) to get a
paired, labelled set.

- ``coco:ROOT``: ``ROOT/annotations/instances_<split>*.json`` (or ``annotations=FILE``) and images under
  ``ROOT/images/<split>``, ``ROOT/<split>2017``, ``ROOT/images`` or ``ROOT`` (or ``images=DIR``).
- ``yolo:ROOT``: ``ROOT/images/<split>/*.jpg`` with ``ROOT/labels/<split>/*.txt`` lines
  ``class cx cy w h`` (normalised); class ids are 0-based COCO-80 indices mapped to COCO category ids
  (``class_map=coco80``, as in ultralytics' coco8) or kept as they are (``class_map=none``).
- ``exdark:ROOT``: the ExDark dataset (Loh & Chan, CVIU 2019): ``ROOT/ExDark/<Class>/<image>`` and
  ``ROOT/ExDark_Annno/<Class>/<image>.txt`` in Piotr Dollar's bbGt v3 format
  (``<Class> l t w h occ vl vt vw vh ign ang``). Converted once to COCO JSON (:func:`exdark_to_coco`), its 12
  classes mapped to COCO category ids (:data:`EXDARK_TO_COCO`; "People" -> person, "Table" -> dining table).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ledbench.bench.errors import ConfigError, InputError
from ledbench.datasets.base import MISSING_SKIP, Dataset, Item, index_by_id, list_images, natural_key, require_dir

#: COCO-80 contiguous index -> COCO category id (the 91-id scheme with gaps), as used by YOLO / ultralytics.
COCO80_TO_COCO91: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34,
    35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
    64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90)

#: COCO category id -> name (instances_val2017.json).
COCO_NAMES: dict[int, str] = dict(zip(COCO80_TO_COCO91, (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant",
    "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard",
    "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli",
    "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "dining table", "toilet",
    "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush")))

#: ExDark's 12 classes -> COCO category ids.
EXDARK_TO_COCO: dict[str, int] = {
    "Bicycle": 2, "Boat": 9, "Bottle": 44, "Bus": 6, "Car": 3, "Cat": 17, "Chair": 62, "Cup": 47, "Dog": 18,
    "Motorbike": 4, "People": 1, "Table": 67}


def empty_detection() -> dict[str, np.ndarray]:
    return {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64),
            "iscrowd": np.zeros(0, np.int64), "area": np.zeros(0, np.float32)}


def detection_target(boxes_xyxy, labels, iscrowd=None, area=None) -> dict[str, np.ndarray]:
    """Build the detection label dict (float32 xyxy boxes, int64 COCO ids, int64 iscrowd, float32 area)."""
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
    n = len(boxes)
    out = {"boxes": boxes, "labels": np.asarray(labels, np.int64).reshape(n),
           "iscrowd": np.zeros(n, np.int64) if iscrowd is None else np.asarray(iscrowd, np.int64).reshape(n)}
    out["area"] = (np.asarray(area, np.float32).reshape(n) if area is not None
                   else ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).astype(np.float32))
    return out


def load_coco_json(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"COCO annotation file {str(path)!r} does not exist")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read COCO annotation file {str(path)!r}: {exc}") from None
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise InputError(f"{str(path)!r} is not a COCO instances file (needs 'images' and 'annotations' lists)")
    return data


def _ann_where(source: str, ann: Any, index: int) -> str:
    ann_id = ann.get("id") if isinstance(ann, dict) else None
    return f"{source}: annotation {'id ' + repr(ann_id) if ann_id is not None else f'#{index}'}"


def _number(value: Any) -> float | None:
    """A finite real number, or None (bools and strings are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def validate_annotation(ann: Any, source: str, index: int = 0) -> tuple[int, list[float], int, int, float | None]:
    """Check one COCO instance annotation: ``(image_id, [x, y, w, h], category_id, iscrowd, area)``.

    An :class:`InputError` names the file and the annotation id for a non-object, a missing or non-integer
    ``image_id`` / ``category_id``, a ``bbox`` that is not 4 finite numbers (8-number polygons belong in
    ``segmentation``), or a negative width / height.
    """
    where = _ann_where(source, ann, index)
    if not isinstance(ann, dict):
        raise InputError(f"{where} is a {type(ann).__name__}, expected an object with image_id, category_id, bbox")
    fields = {}
    for key in ("image_id", "category_id"):
        if key not in ann:
            raise InputError(f"{where} has no {key!r}")
        v = ann[key]
        if isinstance(v, bool) or not isinstance(v, (int, float, str)) or not str(v).strip().lstrip("-").isdigit():
            raise InputError(f"{where}: {key} must be an integer, got {v!r}")
        fields[key] = int(v)
    box = ann.get("bbox")
    if not isinstance(box, (list, tuple)) or len(box) != 4 or any(_number(v) is None for v in box):
        raise InputError(f"{where}: 'bbox' must be 4 finite numbers [x, y, width, height], got "
                         f"{str(box)[:80] if box is not None else 'none'}")
    box = [float(v) for v in box]
    if box[2] < 0 or box[3] < 0:
        raise InputError(f"{where}: negative box size (width {box[2]:g}, height {box[3]:g}); COCO boxes are "
                         "[x, y, width, height] with width, height >= 0")
    crowd = ann.get("iscrowd", 0)
    if crowd not in (0, 1, True, False):
        raise InputError(f"{where}: iscrowd must be 0 or 1, got {crowd!r}")
    area = ann.get("area")
    if area is not None and (_number(area) is None or float(area) < 0):
        raise InputError(f"{where}: area must be a number >= 0, got {area!r}")
    return fields["image_id"], box, fields["category_id"], int(crowd), None if area is None else float(area)


def coco_targets(data: dict, source: str = "annotations") -> dict[int, dict[str, np.ndarray]]:
    """COCO image id -> detection target (boxes converted from xywh to xyxy); annotations are validated by
    :func:`validate_annotation` (one-line :class:`InputError` with the annotation id)."""
    anns = data.get("annotations")
    if not isinstance(anns, list):
        raise InputError(f"{source}: 'annotations' must be a list, got {type(anns).__name__}")
    per: dict[int, list[tuple]] = {}
    for index, ann in enumerate(anns):
        img_id, box, cat, crowd, area = validate_annotation(ann, source, index)
        per.setdefault(img_id, []).append((box, cat, crowd, area))
    out = {}
    for img_id, rows in per.items():
        xywh = np.asarray([r[0] for r in rows], np.float64).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        out[img_id] = detection_target(boxes, [r[1] for r in rows], [r[2] for r in rows],
                                       [r[3] if r[3] is not None else w * h for r, (w, h) in zip(rows, xywh[:, 2:])])
    return out


def safe_file_name(im: Any, source: str, index: int = 0) -> tuple[int, str]:
    """``(id, file_name)`` of a COCO ``images`` entry; refuses absolute names and ``..`` (a name may not point
    outside the image folder: item ids become output paths)."""
    where = f"{source}: image {'id ' + repr(im.get('id')) if isinstance(im, dict) and 'id' in im else f'#{index}'}"
    if not isinstance(im, dict):
        raise InputError(f"{where} is a {type(im).__name__}, expected an object with id and file_name")
    img_id = im.get("id")
    if isinstance(img_id, bool) or not isinstance(img_id, (int, str)) or not str(img_id).strip().isdigit():
        raise InputError(f"{where}: id must be an integer, got {img_id!r}")
    fname = im.get("file_name")
    if not isinstance(fname, str) or not fname.strip():
        raise InputError(f"{where}: file_name must be a non-empty string, got {fname!r}")
    posix = fname.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":") or ".." in posix.split("/"):
        raise InputError(f"{where}: file_name {fname!r} is absolute or contains '..'; names must be relative to "
                         "the image folder")
    return int(img_id), posix


@dataclass(frozen=True)
class CocoConfig:
    """``root``: dataset folder. ``annotations``: instances JSON (relative to root or absolute; "" = auto).
    ``images``: image folder ("" = auto). ``reference``: optional folder of sharp references with the same relative
    names (makes the set paired). ``split``: e.g. val, val2017. ``include_empty``: keep images without boxes.
    ``stride``/``offset``/``limit``: subsets. ``missing``: error | skip for images listed in the JSON but absent."""

    root: str = ""
    annotations: str = ""
    images: str = ""
    reference: str = ""
    split: str = "val"
    include_empty: bool = True
    missing: str = "error"


class CocoDetection(Dataset):
    """Images + COCO instances JSON; ``labels["detection"]`` with COCO category ids and iscrowd."""

    Config = CocoConfig
    label_kinds = frozenset({"detection"})
    summary = "COCO-format detection set (images + instances JSON), real boxes with COCO category ids"

    def _root(self) -> Path:
        if not self.config.root:
            raise ConfigError(f"dataset {self.name!r} needs a folder: '{self.name}:/path/to/data'")
        return require_dir(self.config.root, f"{self.name} folder")

    def _annotation_file(self, root: Path) -> Path:
        cfg = self.config
        if cfg.annotations:
            path = Path(cfg.annotations).expanduser()
            return path if path.is_absolute() else root / path
        split = cfg.split
        cands = []
        for folder in (root / "annotations", root):
            if folder.is_dir():
                cands += sorted(folder.glob(f"instances_{split}*.json")) + sorted(folder.glob(f"*{split}*.json"))
        if not cands:
            jsons = sorted((root / "annotations").glob("*.json")) if (root / "annotations").is_dir() else []
            jsons = jsons or sorted(root.glob("*.json"))
            if len(jsons) == 1:
                cands = jsons
        if not cands:
            raise InputError(f"no COCO annotation JSON for split {split!r} under {str(root)!r} (looked for "
                             f"annotations/instances_{split}*.json); pass annotations=FILE")
        return cands[0]

    def _image_dir(self, root: Path) -> Path:
        cfg = self.config
        if cfg.images:
            path = Path(cfg.images).expanduser()
            return require_dir(path if path.is_absolute() else root / path, "image folder")
        for cand in (root / "images" / cfg.split, root / f"{cfg.split}2017", root / cfg.split, root / "images"):
            if cand.is_dir():
                return cand
        return root

    def build_items(self) -> list[Item]:
        cfg = self.config
        if cfg.missing not in ("error", "skip"):
            raise ConfigError(f"{self.name}.missing must be 'error' or 'skip', got {cfg.missing!r}")
        root = self._root()
        ann_path = self._annotation_file(root)
        data = load_coco_json(ann_path)
        cats = data.get("categories", [])
        if not isinstance(cats, list) or not all(isinstance(c, dict) and "id" in c for c in cats):
            raise InputError(f"{str(ann_path)!r}: 'categories' must be a list of objects with an 'id'")
        try:
            self.class_names = {int(c["id"]): str(c.get("name", c["id"])) for c in cats}
        except (TypeError, ValueError):
            raise InputError(f"{str(ann_path)!r}: a category id is not an integer") from None
        targets = coco_targets(data, str(ann_path))
        img_dir = self._image_dir(root)
        ref_dir = None
        if cfg.reference:
            ref = Path(cfg.reference).expanduser()
            ref_dir = require_dir(ref if ref.is_absolute() else root / ref, "reference folder")
        by_id = _index_tree(img_dir, self.skipped_files)
        ref_by_id = _index_tree(ref_dir, self.skipped_files) if ref_dir else {}
        items, absent = [], []
        if not isinstance(data["images"], list):
            raise InputError(f"{str(ann_path)!r}: 'images' must be a list, got {type(data['images']).__name__}")
        checked = [(safe_file_name(im, str(ann_path), i), im) for i, im in enumerate(data["images"])]
        for (img_id, fname), im in sorted(checked, key=lambda c: natural_key(c[0][1])):
            key = Path(fname).with_suffix("").as_posix()
            path = by_id.get(key) or by_id.get(Path(fname).stem)
            if path is None and by_id.get(fname) is not None:  # x.png and x.jpg side by side: ids keep the suffix
                path, key = by_id[fname], fname
            if path is None:
                absent.append(str(img_dir / fname))
                continue
            target = targets.get(img_id, empty_detection())
            if not cfg.include_empty and len(target["boxes"]) == 0:
                continue
            reference = None
            if ref_dir is not None:
                reference = ref_by_id.get(key) or ref_by_id.get(Path(fname).stem)
                if reference is None:
                    absent.append(str(ref_dir / fname))
                    continue
            items.append(Item(id=key, input=path, reference=reference, labels={"detection": target},
                              meta={"coco_image_id": img_id, "width": im.get("width"),
                                    "height": im.get("height")}))
        if absent and cfg.missing == "error":
            more = f" and {len(absent) - 3} more" if len(absent) > 3 else ""
            raise InputError(f"{len(absent)} image(s) listed in {str(ann_path)!r} are missing: "
                             f"{', '.join(repr(a) for a in absent[:3])}{more}; fix images= or pass {MISSING_SKIP}")
        if not items:
            raise InputError(f"no usable images for {str(ann_path)!r} under {str(img_dir)!r}")
        return items


def _index_tree(folder: Path | None, skipped: list[tuple[str, str]] | None = None) -> dict[str, Path]:
    """Relative id -> path, plus bare stems when they are unique (COCO file_name is usually a bare name)."""
    if folder is None:
        return {}
    files = list_images(folder, skipped=skipped)
    out = dict(index_by_id(files, folder))
    stems: dict[str, list[Path]] = {}
    for p in files:
        stems.setdefault(p.stem, []).append(p)
    for stem, paths in stems.items():
        if len(paths) == 1:
            out.setdefault(stem, paths[0])
    return out


# -- YOLO-format labels (ultralytics coco8 and friends) ------------------------------------------------------------

def read_yolo_labels(path: Path, width: int, height: int, class_map: str = "coco80") -> dict[str, np.ndarray]:
    """Parse a YOLO ``class cx cy w h`` (normalised) label file into a detection target in pixels."""
    if not path.is_file():
        return empty_detection()
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        if len(tok) < 5:
            raise InputError(f"{str(path)!r} line {lineno}: expected 'class cx cy w h', got {line!r}")
        try:
            rows.append([float(t) for t in tok[:5]])
        except ValueError:
            raise InputError(f"{str(path)!r} line {lineno}: non-numeric value in {line!r}") from None
    if not rows:
        return empty_detection()
    arr = np.asarray(rows, np.float64)
    cls = arr[:, 0].astype(np.int64)
    if class_map == "coco80":
        if (cls < 0).any() or (cls >= 80).any():
            raise InputError(f"{str(path)!r}: class id outside 0..79 for class_map=coco80")
        labels = np.asarray(COCO80_TO_COCO91, np.int64)[cls]
    else:
        labels = cls
    cx, cy, w, h = arr[:, 1] * width, arr[:, 2] * height, arr[:, 3] * width, arr[:, 4] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return detection_target(boxes, labels)


@dataclass(frozen=True)
class YoloConfig:
    """``root``: folder with ``images/<split>`` and ``labels/<split>``. ``class_map``: coco80 (0-based COCO-80
    indices -> COCO category ids) | none. ``reference``: optional folder of sharp references (paired).
    ``stride``/``offset``/``limit``: subsets."""

    root: str = ""
    split: str = "val"
    class_map: str = "coco80"
    reference: str = ""


class YoloDetection(Dataset):
    """YOLO-format detection folders (``images/<split>``, ``labels/<split>``), e.g. ultralytics coco8."""

    Config = YoloConfig
    label_kinds = frozenset({"detection"})
    summary = "YOLO-format detection folders (images/<split>, labels/<split>), e.g. coco8; COCO category ids"

    def build_items(self) -> list[Item]:
        from ledbench.bench.imageio import image_size

        cfg = self.config
        if cfg.class_map not in ("coco80", "none"):
            raise ConfigError(f"yolo.class_map must be 'coco80' or 'none', got {cfg.class_map!r}")
        if not cfg.root:
            raise ConfigError("dataset 'yolo' needs a folder: yolo:/path/to/coco8")
        root = require_dir(cfg.root, "YOLO dataset folder")
        img_dir = require_dir(root / "images" / cfg.split, f"YOLO images/{cfg.split} folder")
        lbl_dir = root / "labels" / cfg.split
        self.class_names = dict(COCO_NAMES) if cfg.class_map == "coco80" else {}
        ref_by_id = {}
        if cfg.reference:
            ref_dir = require_dir(Path(cfg.reference).expanduser(), "reference folder")
            ref_by_id = index_by_id(list_images(ref_dir, skipped=self.skipped_files), ref_dir)
        items = []
        for key, path in index_by_id(list_images(img_dir, skipped=self.skipped_files), img_dir).items():
            label_file = lbl_dir / f"{key}.txt"

            def load(label_file=label_file, path=path):
                h, w = image_size(path)
                return read_yolo_labels(label_file, w, h, cfg.class_map)

            reference = None
            if ref_by_id:
                reference = ref_by_id.get(key)
                if reference is None:
                    raise InputError(f"missing reference for {str(path)!r} under {cfg.reference!r}")
            items.append(Item(id=key, input=path, reference=reference, labels={"detection": load}))
        if not items:
            raise InputError(f"no images under {str(img_dir)!r}")
        return items


# -- ExDark ------------------------------------------------------------------------------------------------------

def parse_bbgt(path: Path) -> list[tuple[str, float, float, float, float]]:
    """Read a bbGt v3 annotation file: ``[(class, left, top, width, height)]`` (ExDark's format)."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read ExDark annotation {str(path)!r}: {exc}") from None
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        tok = line.split()
        if len(tok) < 5:
            raise InputError(f"{str(path)!r} line {lineno}: expected '<class> l t w h ...', got {line!r}")
        try:
            out.append((tok[0], float(tok[1]), float(tok[2]), float(tok[3]), float(tok[4])))
        except ValueError:
            raise InputError(f"{str(path)!r} line {lineno}: non-numeric box in {line!r}") from None
    return out


def exdark_to_coco(image_root: str | Path, annotation_root: str | Path, out_json: str | Path | None = None,
                   images: list[Path] | None = None) -> dict[str, Any]:
    """Convert ExDark (``<Class>/<image>`` + ``<Class>/<image>.txt`` bbGt files) to a COCO instances dict.

    ``file_name`` is the image path relative to ``image_root``; category ids are COCO ids (:data:`EXDARK_TO_COCO`).
    Unknown class names raise :class:`InputError` naming the file. Writes ``out_json`` atomically if given.
    """
    from ledbench.bench.files import write_json
    from ledbench.bench.imageio import image_size

    image_root, annotation_root = Path(image_root), Path(annotation_root)
    files = images if images is not None else list_images(image_root)
    cats = [{"id": cid, "name": COCO_NAMES[cid], "exdark_name": name} for name, cid in EXDARK_TO_COCO.items()]
    out: dict[str, Any] = {"info": {"description": "ExDark converted by ledbench.datasets.coco.exdark_to_coco"},
                           "images": [], "annotations": [], "categories": sorted(cats, key=lambda c: c["id"])}
    lower = {k.lower(): v for k, v in EXDARK_TO_COCO.items()}
    ann_id = 1
    for img_id, path in enumerate(files, 1):
        rel = path.relative_to(image_root)
        h, w = image_size(path)
        out["images"].append({"id": img_id, "file_name": rel.as_posix(), "width": w, "height": h})
        ann_file = annotation_root / rel.parent / f"{path.name}.txt"
        if not ann_file.is_file():  # some releases differ in suffix case (.jpg vs .JPG)
            alts = [p for p in (annotation_root / rel.parent).glob(f"{path.stem}.*.txt")
                    if p.name.lower() == f"{path.name}.txt".lower()] if (annotation_root / rel.parent).is_dir() else []
            if not alts:
                continue
            ann_file = alts[0]
        for cls, left, top, bw, bh in parse_bbgt(ann_file):
            cid = lower.get(cls.lower())
            if cid is None:
                raise InputError(f"{str(ann_file)!r}: unknown ExDark class {cls!r}; known: {list(EXDARK_TO_COCO)}")
            out["annotations"].append({"id": ann_id, "image_id": img_id, "category_id": cid,
                                       "bbox": [left, top, bw, bh], "area": bw * bh, "iscrowd": 0})
            ann_id += 1
    if out_json is not None:
        write_json(out_json, out)
    return out


@dataclass(frozen=True)
class ExDarkConfig:
    """``root``: folder holding ``ExDark/`` (images) and ``ExDark_Annno/`` (annotations); or set ``images=`` and
    ``annotations=`` folders. ``classes``: keep only these ExDark class folders ("" = all).
    ``stride``/``offset``/``limit``: subsets."""

    root: str = ""
    images: str = "ExDark"
    annotations: str = "ExDark_Annno"
    classes: tuple[str, ...] = ()
    split: str = "test"


class ExDark(Dataset):
    """ExDark low-light detection (12 classes), converted to COCO once and cached under ``data_dir()/exdark``."""

    Config = ExDarkConfig
    label_kinds = frozenset({"detection"})
    summary = "ExDark real low-light photos with boxes (12 classes -> COCO ids); needs a download"

    def build_items(self) -> list[Item]:
        from ledbench.bench.config import sha256_text
        from ledbench.bench.paths import data_dir

        cfg = self.config
        if not cfg.root:
            raise ConfigError("dataset 'exdark' needs its folder: exdark:/path/to/ExDark_root "
                              "(holding ExDark/ and ExDark_Annno/; https://github.com/cs-chan/Exclusively-Dark-Image-Dataset)")
        root = require_dir(cfg.root, "ExDark folder")
        img_root = require_dir(root / cfg.images, "ExDark image folder")
        ann_root = require_dir(root / cfg.annotations, "ExDark annotation folder")
        files = list_images(img_root)
        if cfg.classes:
            wanted = {c.lower() for c in cfg.classes}
            files = [p for p in files if p.relative_to(img_root).parts[0].lower() in wanted]
        if not files:
            raise InputError(f"no ExDark images under {str(img_root)!r} (classes={list(cfg.classes)})")
        key = sha256_text("\n".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files))[:16]
        cache = data_dir() / "exdark" / f"instances_{key}.json"
        data = None
        if cache.is_file():
            try:
                data = load_coco_json(cache)
            except InputError:
                data = None
        if data is None:
            data = exdark_to_coco(img_root, ann_root, cache, images=files)
        self.class_names = {int(c["id"]): c["name"] for c in data["categories"]}
        targets = coco_targets(data, str(cache))
        items = [Item(id=Path(im["file_name"]).with_suffix("").as_posix(), input=img_root / im["file_name"],
                      labels={"detection": targets.get(int(im["id"]), empty_detection())},
                      meta={"coco_image_id": int(im["id"]), "annotations_json": str(cache)})
                 for im in data["images"]]
        return items
