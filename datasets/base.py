"""Dataset items and datasets: ids, images (file or array), optional reference, labels, content manifest.

A :class:`Dataset` yields :class:`Item` objects. Images load through :func:`ledbench.datasets.io.read_image`
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

import numpy as np

from ledbench.bench.config import NoConfig, config_hash, sha256_text
from ledbench.datasets.io import array_hash, file_hash, read_image

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
        return None if self.reference is None else _load(self.reference)

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
        self.class_names: dict[int, str] = {}
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
