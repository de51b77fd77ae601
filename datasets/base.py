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

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ledbench.bench.config import NoConfig, config_hash
from ledbench.bench.errors import ConfigError, InputError
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
    """One sample. ``input``/``reference`` are a file path, an H x W x 3 float array in [0, 1], or a callable.
    ``severity``: the degradation level of a severity sweep (:mod:`ledbench.datasets.sweep`), None elsewhere."""

    id: str
    input: Any
    reference: Any = None
    labels: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    severity: float | None = None
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


@dataclass(frozen=True)
class Subset:
    """Which items a run uses, the same for every dataset: every ``stride``-th item from ``offset``, then the first
    ``limit`` (0: all). Applied once, by :attr:`Dataset.items`; the manifest lists the items after it."""

    limit: int = 0
    stride: int = 1
    offset: int = 0

    KEYS = ("limit", "stride", "offset")

    def __post_init__(self):
        for key, low in (("limit", 0), ("stride", 1), ("offset", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"dataset subset {key}={value!r}: expected an integer >= {low}")

    def apply(self, items: list) -> list:
        items = list(items[self.offset::self.stride])
        return items[: self.limit] if self.limit else items


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

    def __init__(self, config: Any = None, *, name: str | None = None, subset: Subset | None = None):
        self.config = config if config is not None else self.Config()
        self.subset = subset or Subset()
        self.name = name or type(self).__name__.lower()
        self.split = str(getattr(self.config, "split", "test"))
        self._class_names: dict[int, str] = {}
        self.ignore_index = 255
        self._items: list[Item] | None = None
        #: ``(path, reason)`` for files found but not used (symlink loops, dangling links), for the run manifest
        self.skipped_files: list[tuple[str, str]] = []

    def build_items(self) -> list[Item]:
        raise NotImplementedError

    @property
    def items(self) -> list[Item]:
        if self._items is None:
            items = self.subset.apply(self.build_items())
            ids = [it.id for it in items]
            if len(set(ids)) != len(ids):
                dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
                raise InputError(f"dataset {self.name}: duplicate item ids {dup}; every item needs its own id")
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
        return manifest_rows_hash(self.manifest())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, n={len(self)})"


def manifest_rows_hash(rows: list[dict[str, Any]]) -> str:
    """The hash of :meth:`Dataset.manifest` rows (id, input and reference content hashes, in order)."""
    text = "\n".join(f"{r['id']}\t{r['input_sha256']}\t{r['reference_sha256'] or '-'}" for r in rows)
    # ids from non-UTF-8 file names carry surrogate escapes: hash their original bytes (the same digest as
    # sha256_text for every UTF-8 name)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def relative_id(path: Path, root: Path) -> str:
    """Stable item id: POSIX relative path without suffix (see :func:`unique_ids` for shared stems)."""
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


def list_images(root: str | os.PathLike, recursive: bool = True,
                skipped: list[tuple[str, str]] | None = None) -> list[Path]:
    """Image files under ``root`` (hidden files and folders skipped), sorted naturally by relative path.

    Symlinked folders are not followed. Entries that cannot be read as files (a symlink loop, a dangling symlink
    named like an image) and symlinked folders are appended to ``skipped`` as ``(path, reason)`` instead of
    vanishing without a word.
    """
    root = Path(root)
    it = root.rglob("*") if recursive else root.iterdir()
    files = []
    for p in it:
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file():
            if is_image_file(p):
                files.append(p)
            continue
        if skipped is not None and p.is_symlink():
            reason = _symlink_problem(p)
            if reason and (is_image_file(p) or reason != "dangling symlink"):
                skipped.append((str(p), reason))
    return sorted(files, key=lambda p: natural_key(p.relative_to(root).as_posix()))


def _symlink_problem(path: Path) -> str | None:
    """Why a symlink is not read as an image: ``symlink loop``, ``dangling symlink``, ``symlinked folder``."""
    import errno

    try:
        path.stat()
    except OSError as exc:
        return "symlink loop" if exc.errno == errno.ELOOP else "dangling symlink"
    if path.is_dir():
        try:
            target, here = path.resolve(strict=True), path.parent.resolve()
            loop = target == here or target in here.parents
        except (OSError, RuntimeError):
            loop = True
        return "symlink loop (a folder link to its own ancestor; not followed)" if loop else \
            "symlinked folder (not followed)"
    return None


def unique_ids(files: list[Path], root: Path) -> list[str]:
    """Item ids for ``files``: the relative path without suffix, or *with* its suffix for files that share a stem
    (``x.png`` and ``x.jpg`` become ids ``x.png`` and ``x.jpg``), so ids are unique and outputs never collide."""
    keys = [relative_id(p, root) for p in files]
    count: dict[str, int] = {}
    for key in keys:
        count[key] = count.get(key, 0) + 1
    return [key if count[key] == 1 else p.relative_to(root).as_posix() for key, p in zip(keys, files)]


def index_by_id(files: list[Path], root: Path) -> dict[str, Path]:
    """``{item id: path}`` with :func:`unique_ids` (files that share a stem keep their suffix in the id)."""
    return dict(zip(unique_ids(files, root), files))


#: how to skip unmatched inputs, as the error messages say it (dataset config key; ``ledbench run`` form)
MISSING_SKIP = "missing=skip (in ledbench run: \"dataset_args={missing: skip}\")"


def pair_by_relative_path(input_root: Path, reference_root: Path, *, missing: str = "error",
                          recursive: bool = True,
                          skipped: list[tuple[str, str]] | None = None) -> list[tuple[str, Path, Path]]:
    """Pair images of two trees by relative path without suffix: ``[(id, input, reference)]`` in natural order.

    ``missing="error"`` raises an :class:`InputError` naming the unpaired files; ``"skip"`` drops inputs without
    a reference (references without an input are always ignored).
    """
    inputs = index_by_id(list_images(input_root, recursive, skipped), input_root)
    refs = index_by_id(list_images(reference_root, recursive, skipped), reference_root)
    shared = [k for k in inputs if k not in refs and k != relative_id(inputs[k], input_root)]
    if shared:  # x.png and x.jpg inputs, but the reference tree does not tell which pairs with what
        stem = relative_id(inputs[shared[0]], input_root)
        same = [str(p) for k, p in inputs.items() if relative_id(p, input_root) == stem]
        raise InputError(f"ambiguous images {' and '.join(repr(x) for x in same[:3])} share the id {stem!r}; pairs "
                         f"are matched by relative path without suffix: remove one of them (or give the references "
                         f"the same file names)")
    lonely = [k for k in inputs if k not in refs]
    if lonely and missing == "error":
        first = ", ".join(repr(str(inputs[k])) for k in lonely[:3])
        more = f" and {len(lonely) - 3} more" if len(lonely) > 3 else ""
        raise InputError(f"missing reference for {len(lonely)} input image(s): {first}{more} have no counterpart "
                         f"under {str(reference_root)!r} (matched by relative path without suffix); add them or "
                         f"pass {MISSING_SKIP}")
    return [(k, inputs[k], refs[k]) for k in inputs if k in refs]

