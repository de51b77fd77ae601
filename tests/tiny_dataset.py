"""A tiny in-memory paired dataset for pipeline tests (the lm-eval DummyLM role)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledbench.datasets.base import Dataset, Item


@dataclass(frozen=True)
class TinyConfig:
    n: int = 3
    size: int = 24
    seed: int = 0
    split: str = "test"
    limit: int = 0
    root: str = ""  # a folder of extra files (used to inject a broken image)


class TinyPairs(Dataset):
    """``n`` random sharp images and darkened, noisy copies (deterministic)."""

    Config = TinyConfig

    def build_items(self):
        from pathlib import Path

        rng = np.random.default_rng(self.config.seed)
        items = []
        for i in range(self.config.n):
            ref = rng.random((self.config.size, self.config.size + 8, 3)).astype(np.float32)
            low = np.clip(ref * 0.3 + 0.02 * rng.standard_normal(ref.shape), 0, 1).astype(np.float32)
            low = np.rint(low * 255) / 255  # representable in uint8, like a PNG input
            items.append(Item(id=f"img{i}", input=low.astype(np.float32), reference=ref))
        if self.config.root:
            for path in sorted(Path(self.config.root).glob("*.png")):
                items.append(Item(id=path.stem, input=path, reference=items[0].reference))
        return items


def register() -> None:
    from ledbench.datasets.registry import DATASETS

    if "tiny_pairs" not in DATASETS:
        DATASETS.register("tiny_pairs", TinyPairs)


@dataclass
class ArrayItem:
    """The least a stage needs of an item: an id, an in-memory input and a fixed input hash (stage-level tests)."""

    id: str
    img: np.ndarray

    def load_input(self):
        return self.img

    def input_hash(self):
        return f"h-{self.id}"
