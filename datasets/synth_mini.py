"""``synth_mini``: the embedded default benchmark, built from images that ship inside installed packages.

Sources (no download; see ``datasets/data/synth_mini_ATTRIBUTION.md`` for credits and licences): scikit-image's
bundled sample photos (astronaut, chelsea, coffee, rocket, the Middlebury motorcycle, camera) and ultralytics'
``assets/bus.jpg`` and ``assets/zidane.jpg`` (street scene and people, so detection has something to find).

Each source is resized (Lanczos) to ``size`` pixels on its longest side and centre-cropped to multiples of 16
(convenient for networks that pad to a multiple of 8/16); that sharp image is the reference. The input is
:func:`ledbench.datasets.synthesis.synthesize` of it at ``severity`` with seed ``seed + crc32(item id)``. Files are
generated once into ``data_dir()/synth_mini/<hash of (size, severity, seed, generator version)>/`` as
``reference/<id>.png``, ``input/<id>.png`` and ``params/<id>.json`` with atomic writes; ``complete.json`` (written
last, with every file's sha256) marks a finished set, otherwise it is regenerated. Item ids: ``skimage/astronaut``,
``ultralytics/bus`` ... No labels are attached (downstream tasks use the pseudo-GT protocol on these images).
"""

from __future__ import annotations

import json
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ledbench.bench.config import config_hash
from ledbench.bench.errors import ConfigError
from ledbench.datasets.base import Dataset, Item

GENERATOR_VERSION = 1

#: item id -> (package, file inside the package's data folder). Order = item order (varied first items).
SOURCES: dict[str, tuple[str, str]] = {
    "ultralytics/bus": ("ultralytics", "assets/bus.jpg"),
    "skimage/astronaut": ("skimage", "data/astronaut.png"),
    "ultralytics/zidane": ("ultralytics", "assets/zidane.jpg"),
    "skimage/chelsea": ("skimage", "data/chelsea.png"),
    "skimage/coffee": ("skimage", "data/coffee.png"),
    "skimage/rocket": ("skimage", "data/rocket.jpg"),
    "skimage/motorcycle": ("skimage", "data/motorcycle_left.png"),
    "skimage/camera": ("skimage", "data/camera.png"),
}


def source_path(package: str, rel: str) -> Path | None:
    """Path of a data file inside an installed package, without importing the package (None if absent)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        path = Path(base) / rel
        if path.is_file():
            return path
    return None


def prepare_reference(path: Path, size: int, multiple: int = 16) -> np.ndarray:
    """Read ``path``, resize so the longest side is ``size`` (Lanczos, on uint8), centre-crop to ``multiple``.

    Returns uint8 H x W x 3 RGB.
    """
    from PIL import Image

    from ledbench.bench.imageio import read_image, to_uint8

    img = to_uint8(read_image(path))
    h, w = img.shape[:2]
    scale = size / max(h, w)
    if scale != 1.0:
        nh, nw = max(multiple, round(h * scale)), max(multiple, round(w * scale))
        img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS))
    h, w = img.shape[:2]
    ch, cw = h - h % multiple, w - w % multiple
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(img[top:top + ch, left:left + cw])


@dataclass(frozen=True)
class SynthMiniConfig:
    """``n``: number of images (first n of the fixed list, max 8). ``images``: ids to keep (default all).
    ``size``: longest side in pixels. ``severity``: 1..5. ``seed``: base seed. ``limit``: first N items."""

    n: int = 8
    images: tuple[str, ...] = ()
    size: int = 320
    severity: int = 3
    seed: int = 0
    split: str = "test"


class SynthMini(Dataset):
    """The embedded default: 8 bundled photos degraded into dark + blurred + noisy inputs with sharp references."""

    Config = SynthMiniConfig
    summary = "embedded default: 8 bundled photos (skimage, ultralytics) made dark + blurred + noisy, paired"

    def generation_key(self) -> dict:
        cfg = self.config
        from ledbench.datasets import synthesis

        # the synthesis ranges and constants are part of the key: changing the generator regenerates the images
        return {"size": int(cfg.size), "severity": int(cfg.severity), "seed": int(cfg.seed),
                "version": GENERATOR_VERSION, "synthesis": config_hash(
                    {"severity": synthesis.SEVERITY, "gamma": synthesis.GAMMA, "sat": synthesis.SAT_THRESHOLD,
                     "area": synthesis.MAX_SOURCE_AREA, "version": synthesis.SYNTH_VERSION})[:16]}

    def folder(self) -> Path:
        from ledbench.bench.paths import data_dir

        return data_dir() / "synth_mini" / config_hash(self.generation_key())[:16]

    def _selected(self) -> dict[str, tuple[str, str]]:
        cfg = self.config
        if not 1 <= int(cfg.severity) <= 5:
            raise ConfigError(f"synth_mini.severity must be 1..5, got {cfg.severity}")
        if not 32 <= int(cfg.size) <= 4096:
            raise ConfigError(f"synth_mini.size must be 32..4096 pixels, got {cfg.size}")
        unknown = [i for i in cfg.images if i not in SOURCES]
        if unknown:
            raise ConfigError(f"synth_mini: unknown image id(s) {unknown}; available: {list(SOURCES)}")
        keys = [k for k in SOURCES if not cfg.images or k in cfg.images]
        if cfg.n is not None and int(cfg.n) > 0:
            keys = keys[: int(cfg.n)]
        return {k: SOURCES[k] for k in keys}

    def build_items(self) -> list[Item]:
        wanted = self._selected()
        folder = self.folder()
        done = _read_complete(folder)
        missing = [k for k in wanted if k not in done or not _files_ok(folder, k, done[k])]
        if missing:
            done = self._generate(folder, missing, done)
        items = []
        for key in wanted:
            if key not in done:
                continue  # source image absent from this installation (warned during generation)
            items.append(Item(id=key, input=folder / "input" / f"{key}.png",
                              reference=folder / "reference" / f"{key}.png",
                              meta={"source": done[key]["source"], "params": str(folder / "params" / f"{key}.json"),
                                    "severity": int(self.config.severity)},
                              _hashes={"input": done[key]["input_sha256"],
                                       "reference": done[key]["reference_sha256"]}))
        if not items:
            raise ConfigError("synth_mini: none of its bundled source images were found (needs scikit-image and/or "
                              "ultralytics installed)")
        return items

    def _generate(self, folder: Path, keys: list[str], done: dict) -> dict:
        from ledbench.bench.files import atomic_write_bytes, write_json
        from ledbench.bench.imageio import encode_png, to_uint8
        from ledbench.datasets.synthesis import synthesize

        cfg = self.config
        done = dict(done)
        for key in keys:
            package, rel = SOURCES[key]
            path = source_path(package, rel)
            if path is None:
                warnings.warn(f"synth_mini: {package}/{rel} is not installed; item {key!r} skipped", stacklevel=2)
                continue
            ref_u8 = prepare_reference(path, int(cfg.size))
            seed = int(cfg.seed) + zlib.crc32(key.encode())
            low, params = synthesize(ref_u8.astype(np.float32) / 255.0, severity=int(cfg.severity), seed=seed)
            params["source"] = f"{package}/{rel}"
            ref_png, low_png = encode_png(ref_u8), encode_png(to_uint8(low))
            atomic_write_bytes(folder / "reference" / f"{key}.png", ref_png)
            atomic_write_bytes(folder / "input" / f"{key}.png", low_png)
            write_json(folder / "params" / f"{key}.json", params)
            import hashlib

            done[key] = {"source": f"{package}/{rel}", "input_sha256": hashlib.sha256(low_png).hexdigest(),
                         "reference_sha256": hashlib.sha256(ref_png).hexdigest(), "shape": list(ref_u8.shape)}
        write_json(folder / "complete.json", {"generator": self.generation_key(), "items": done})
        return done


def _read_complete(folder: Path) -> dict:
    try:
        with open(folder / "complete.json", encoding="utf-8") as fh:
            return dict(json.load(fh).get("items", {}))
    except (OSError, ValueError, AttributeError):
        return {}


def _files_ok(folder: Path, key: str, rec: dict) -> bool:
    from ledbench.bench.files import file_hash

    for sub, field in (("input", "input_sha256"), ("reference", "reference_sha256")):
        path = folder / sub / f"{key}.png"
        try:
            if not path.is_file() or file_hash(path) != rec.get(field):
                return False
        except OSError:
            return False
    return (folder / "params" / f"{key}.json").is_file() and os.path.getsize(folder / "params" / f"{key}.json") > 0
