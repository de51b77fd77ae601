"""Dataset items and datasets: ids, images (file or array), optional reference, labels, content manifest.

A :class:`Dataset` yields :class:`Item` objects. Images load through :func:`ledbench.bench.imageio.read_image`
(H x W x 3 float32 RGB in [0, 1]). Labels travel with each item under task-kind keys:

- ``"detection"``: ``{"boxes": float N x 4 xyxy pixels, "labels": int N (COCO category ids), "iscrowd": int N}``
- ``"segmentation"``: ``int64 H x W`` class-index map (``ignore_index`` from the dataset, 255 by default)
- ``"depth"``: ``{"depth": float32 H x W (metres or dataset units), "valid": bool H x W}``

A label value may be a zero-argument callable (loaded lazily by :meth:`Item.label`).
The manifest lists every item id with the content hash of its input and reference; its hash is recorded in every
results row, so two runs are comparable only when they saw the same images.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ledbench.bench.config import NoConfig, config_hash, sha256_text
from ledbench.bench.errors import InputError
from ledbench.bench.files import array_hash, file_hash
from ledbench.bench.imageio import image_size, is_image_file, read_image

ImageSource = "Path | np.ndarray | Callable[[], np.ndarray]"


def _load(src: Any) -> np.ndarray:
    if isinstance(src, (str, os.PathLike)):
        return read_image(src)
    if callable(src):
        return np.asarray(src(), dtype=np.float32)
    return np.asarray(src, dtype=np.float32)


def _hash(src: Any) -> str:
    if isinstance(src, (str, os.PathLike)):
        return file_hash(src)
    return array_hash(np.asarray(_load(src)))


@dataclass
class Item:
    """One sample. ``input``/``reference`` are a file path, an H x W x 3 float array in [0, 1], or a callable."""

    id: str
    input: Any
    reference: Any = None
    labels: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    _hashes: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def paired(self) -> bool:
        return self.reference is not None

    def load_input(self) -> np.ndarray:
        return _load(self.input)

    def load_reference(self) -> np.ndarray | None:
        """The reference image, checked to have the input's height and width (else :class:`InputError`)."""
        if self.reference is None:
            return None
        ref = _load(self.reference)
        in_hw = self._input_hw()
        if in_hw is not None and tuple(ref.shape[:2]) != tuple(in_hw):
            raise InputError(f"size mismatch in pair {self.id!r}: input {self.describe()!r} is "
                             f"{in_hw[1]}x{in_hw[0]} but reference {self.describe_reference()!r} is "
                             f"{ref.shape[1]}x{ref.shape[0]} (W x H); pairs must have identical sizes")
        return ref

    def _input_hw(self) -> tuple[int, int] | None:
        if isinstance(self.input, (str, os.PathLike)):
            return image_size(self.input)
        if isinstance(self.input, np.ndarray):
            return tuple(self.input.shape[:2])
        return None  # a callable: not evaluated twice just to check

    def check_pair(self) -> None:
        """Header-only check that input and reference exist, decode and have equal sizes (:class:`InputError`)."""
        if self.reference is None:
            return
        in_hw = self._input_hw()
        if isinstance(self.reference, (str, os.PathLike)):
            ref_hw = image_size(self.reference)
        elif isinstance(self.reference, np.ndarray):
            ref_hw = tuple(self.reference.shape[:2])
        else:
            return
        if in_hw is not None and tuple(in_hw) != tuple(ref_hw):
            raise InputError(f"size mismatch in pair {self.id!r}: input {self.describe()!r} is "
                             f"{in_hw[1]}x{in_hw[0]} but reference {self.describe_reference()!r} is "
                             f"{ref_hw[1]}x{ref_hw[0]} (W x H); pairs must have identical sizes")

    def label(self, kind: str) -> Any:
        value = self.labels.get(kind)
        return value() if callable(value) else value

    def input_hash(self) -> str:
        if "input" not in self._hashes:
            self._hashes["input"] = _hash(self.input)
        return self._hashes["input"]

    def reference_hash(self) -> str | None:
        if self.reference is None:
            return None
        if "reference" not in self._hashes:
            self._hashes["reference"] = _hash(self.reference)
        return self._hashes["reference"]

    def describe(self) -> str:
        src = self.input if isinstance(self.input, (str, os.PathLike)) else self.id
        return str(src)

    def describe_reference(self) -> str:
        src = self.reference if isinstance(self.reference, (str, os.PathLike)) else f"{self.id} (reference)"
        return str(src)


class Dataset:
    """Base class. Subclasses set ``Config`` and implement :meth:`build_items`.

    Attributes:
        name: registry name (``synth_mini``, ``lolblur`` ...). ``split``: split name.
        label_kinds: task kinds that have real labels here (``{"detection"}`` ...).
        class_names: optional category id -> name mapping for detection / segmentation.
        ignore_index: segmentation ignore label.
    """

    Config: ClassVar[type] = NoConfig
    label_kinds: ClassVar[frozenset[str]] = frozenset()
    summary: ClassVar[str] = ""

    def __init__(self, config: Any = None, *, name: str | None = None):
        self.config = config if config is not None else self.Config()
        self.name = name or type(self).__name__.lower()
        self.split = str(getattr(self.config, "split", "test"))
        self._class_names: dict[int, str] = {}
        self.ignore_index = 255
        self._items: list[Item] | None = None

    def build_items(self) -> list[Item]:
        raise NotImplementedError

    @property
    def items(self) -> list[Item]:
        if self._items is None:
            items = self.build_items()
            limit = getattr(self.config, "limit", None)
            if limit:
                items = items[: int(limit)]
            ids = [it.id for it in items]
            if len(set(ids)) != len(ids):
                dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
                raise ValueError(f"dataset {self.name}: duplicate item ids {dup}")
            self._items = items
        return self._items

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __getitem__(self, idx: int) -> Item:
        return self.items[idx]

    @property
    def paired(self) -> bool:
        return any(it.paired for it in self.items)

    @property
    def class_names(self) -> dict[int, str]:
        """Category id -> name. Labelled sets read names from their annotation files, so this builds the items."""
        if not self._class_names and self._items is None and self.label_kinds:
            _ = self.items
        return self._class_names

    @class_names.setter
    def class_names(self, value: dict[int, str]) -> None:
        self._class_names = dict(value)

    @property
    def config_hash(self) -> str:
        return config_hash({"name": self.name, "config": self.config})

    def manifest(self) -> list[dict[str, Any]]:
        """``[{"id", "input_sha256", "reference_sha256"}]`` in item order."""
        return [{"id": it.id, "input_sha256": it.input_hash(), "reference_sha256": it.reference_hash()}
                for it in self.items]

    def manifest_hash(self) -> str:
        rows = self.manifest()
        text = "\n".join(f"{r['id']}\t{r['input_sha256']}\t{r['reference_sha256'] or '-'}" for r in rows)
        return sha256_text(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, n={len(self)})"


def relative_id(path: Path, root: Path) -> str:
    """Stable item id: POSIX relative path without suffix."""
    return path.relative_to(root).with_suffix("").as_posix()


def natural_key(text: str) -> list:
    """Sort key that orders ``frame2`` before ``frame10``."""
    import re

    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", text)]


def require_dir(path: str | os.PathLike, what: str, hint: str = "") -> Path:
    """``path`` as a Path if it is a folder, else an :class:`InputError` naming it (and what is there instead)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return path
    msg = f"{what} {str(path)!r} does not exist" if not path.exists() else f"{what} {str(path)!r} is not a folder"
    parent = path.parent
    if parent.is_dir():
        found = sorted(p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))[:12]
        if found:
            msg += f"; {str(parent)!r} contains: {', '.join(found)}"
    raise InputError(msg + (f". {hint}" if hint else ""))


def list_images(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (hidden files and folders skipped), sorted naturally by relative path."""
    root = Path(root)
    it = root.rglob("*") if recursive else root.iterdir()
    files = [p for p in it if p.is_file() and is_image_file(p)
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return sorted(files, key=lambda p: natural_key(p.relative_to(root).as_posix()))


def index_by_id(files: list[Path], root: Path) -> dict[str, Path]:
    """``{relative id: path}``; two files with the same id (``a.png`` and ``a.jpg``) are an :class:`InputError`."""
    out: dict[str, Path] = {}
    for path in files:
        key = relative_id(path, root)
        if key in out:
            raise InputError(f"ambiguous images {str(out[key])!r} and {str(path)!r} share the id {key!r}; "
                             "remove one of them")
        out[key] = path
    return out


def pair_by_relative_path(input_root: Path, reference_root: Path, *, missing: str = "error",
                          recursive: bool = True) -> list[tuple[str, Path, Path]]:
    """Pair images of two trees by relative path without suffix: ``[(id, input, reference)]`` in natural order.

    ``missing="error"`` raises an :class:`InputError` naming the unpaired files; ``"skip"`` drops inputs without
    a reference (references without an input are always ignored).
    """
    inputs = index_by_id(list_images(input_root, recursive), input_root)
    refs = index_by_id(list_images(reference_root, recursive), reference_root)
    lonely = [k for k in inputs if k not in refs]
    if lonely and missing == "error":
        first = ", ".join(repr(str(inputs[k])) for k in lonely[:3])
        more = f" and {len(lonely) - 3} more" if len(lonely) > 3 else ""
        raise InputError(f"missing reference for {len(lonely)} input image(s): {first}{more} have no counterpart "
                         f"under {str(reference_root)!r} (matched by relative path without suffix); add them or "
                         "pass missing=skip")
    return [(k, inputs[k], refs[k]) for k in inputs if k in refs]


def take_stride(items: list, stride: int, offset: int = 0) -> list:
    """Every ``stride``-th element starting at ``offset`` (stride <= 1 keeps all)."""
    stride = max(1, int(stride or 1))
    return list(items[int(offset)::stride]) if stride > 1 or offset else list(items)
