"""Generic image folders: paired (input tree + reference tree, matched by relative path) or unpaired.

``folder:ROOT`` layouts, detected in this order unless ``input=``/``reference=`` name the sub-folders:

- paired: ``ROOT/<input>/**`` and ``ROOT/<reference>/**`` where the pair of names is one of
  :data:`PAIR_NAMES` (``low``/``sharp`` as written by ``ledbench synth``, ``input``/``target``, ``lq``/``gt`` ...);
- unpaired: every image under ``ROOT`` (recursively); ids are relative paths without suffix, with it where two
  files share a stem (``x.png`` and ``x.jpg``: ids ``x.png`` and ``x.jpg``).

Symlink loops and dangling image links are not read; they are listed in ``dataset.skipped_files``.

``real_lolblur:ROOT`` is the unpaired Real-LOL-Blur set (1354 real night blurry images, LEDNet; no ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledbench.bench.errors import ConfigError, InputError
from ledbench.datasets.base import (
    Dataset,
    Item,
    list_images,
    pair_by_relative_path,
    require_dir,
    unique_ids,
)

#: (input folder, reference folder) names recognised in a paired folder, first match wins.
PAIR_NAMES: tuple[tuple[str, str], ...] = (
    ("low", "sharp"), ("input", "target"), ("input", "gt"), ("inputs", "references"), ("lq", "gt"), ("low", "high"),
    ("low_blur_noise", "high_sharp_scaled"), ("blur", "sharp"), ("degraded", "clean"), ("noisy", "clean"),
    ("input", "reference"),
)


@dataclass(frozen=True)
class FolderConfig:
    """``root``: the folder. ``paired``: auto | true | false. ``input``/``reference``: sub-folder names (paired).
    ``recursive``: search sub-folders. ``stride``/``offset``/``limit``: subsets. ``missing``: error | skip
    (inputs without a reference). ``split``: the name recorded in results."""

    root: str = ""
    paired: str = "auto"
    input: str = ""
    reference: str = ""
    recursive: bool = True
    missing: str = "error"
    split: str = "test"


class FolderDataset(Dataset):
    """Images in a folder; paired by relative path when an input/reference pair of sub-folders exists."""

    Config = FolderConfig
    summary = "any image folder: paired (input/reference sub-folders, matched by relative path) or unpaired"

    def _root(self) -> Path:
        if not self.config.root:
            raise ConfigError(f"dataset {self.name!r} needs a folder: use '{self.name}:/path/to/images'")
        root = Path(self.config.root).expanduser()
        if root.is_file():
            raise InputError(f"dataset {self.name}:ROOT needs a folder, but {str(root)!r} is a file; pass the folder "
                             f"that holds it (dataset={self.name}:{root.parent}) or copy the image into a folder")
        return require_dir(root, "image folder" if self.name == "folder" else f"{self.name} folder")

    def _layout(self, root: Path) -> tuple[Path, Path] | None:
        cfg = self.config
        mode = str(cfg.paired).lower()
        if mode not in ("auto", "true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{self.name}.paired must be auto, true or false, got {cfg.paired!r}")
        if cfg.missing not in ("error", "skip"):
            raise ConfigError(f"{self.name}.missing must be 'error' or 'skip', got {cfg.missing!r}")
        if mode in ("false", "0", "no"):
            return None
        if cfg.input or cfg.reference:
            if not (cfg.input and cfg.reference):
                raise ConfigError(f"{self.name}: give both input= and reference= sub-folder names (or neither)")
            return (require_dir(root / cfg.input, "input folder"), require_dir(root / cfg.reference,
                                                                               "reference folder"))
        for inp, ref in PAIR_NAMES:
            if (root / inp).is_dir() and (root / ref).is_dir():
                return root / inp, root / ref
        if mode != "auto":
            names = ", ".join(f"{a}/{b}" for a, b in PAIR_NAMES)
            raise InputError(f"{self.name}: paired=true but {str(root)!r} has no input/reference sub-folders "
                             f"({names}); name them with input=... reference=...")
        return None

    def build_items(self) -> list[Item]:
        cfg = self.config
        root = self._root()
        layout = self._layout(root)
        if layout is None:
            files = list_images(root, cfg.recursive, self.skipped_files)
            if not files:
                raise InputError(f"no images found under {str(root)!r} (looked for png/jpg/bmp/tif/webp)")
            items = [Item(id=i, input=p) for i, p in zip(unique_ids(files, root), files)]
        else:
            in_root, ref_root = layout
            pairs = pair_by_relative_path(in_root, ref_root, missing=cfg.missing, recursive=cfg.recursive,
                                          skipped=self.skipped_files)
            if not pairs:
                raise InputError(f"no image pairs found under {str(in_root)!r} and {str(ref_root)!r}")
            items = [Item(id=i, input=a, reference=b) for i, a, b in pairs]
            self._attach_params(root, items)
        return items

    @staticmethod
    def _attach_params(root: Path, items: list[Item]) -> None:
        """``ledbench synth`` output: record the params file of each item in ``meta`` (for explanations)."""
        params = root / "params"
        if not params.is_dir():
            return
        for it in items:
            pj = params / f"{it.id}.json"
            if pj.is_file():
                it.meta["synth_params"] = str(pj)


@dataclass(frozen=True)
class RealLOLBlurConfig:
    """``root``: folder of Real-LOL-Blur images (any depth). ``stride``/``offset``/``limit``: subsets."""

    root: str = ""
    recursive: bool = True
    split: str = "test"


class RealLOLBlur(FolderDataset):
    """Real-LOL-Blur (LEDNet, ECCV 2022): 482 RealBlur-J night images + 872 Sony RX10 IV images, no ground truth.

    Unpaired: score with no-reference metrics (MUSIQ / NRQM / NIQE in LEDNet's protocol) or pseudo-GT-free
    downstream checks. Download: LEDNet README (Google Drive ``1fXUA5SzXj46ISw9aUjSors1u6M9VlKAn``).
    """

    Config = RealLOLBlurConfig
    summary = "Real-LOL-Blur real night blurry photos (unpaired, 1354 images; needs a download)"

    def build_items(self) -> list[Item]:
        cfg = self.config
        root = require_dir(self.config.root, "Real-LOL-Blur folder", "Download it from the LEDNet README "
                           "(https://github.com/sczhou/LEDNet) and pass real_lolblur:/path/to/Real-LOL-Blur") \
            if cfg.root else self._root()
        files = list_images(root, cfg.recursive, self.skipped_files)
        if not files:
            raise InputError(f"no images found under {str(root)!r}")
        return [Item(id=i, input=p) for i, p in zip(unique_ids(files, root), files)]
