"""LOL-Blur (LEDNet, Zhou, Li & Loy, ECCV 2022): 170 train + 30 test videos x 60 frames of paired data.

Layout (github.com/sczhou/LEDNet README, options/train_LEDNet.yml; REFERENCE.md section 3.1)::

    ROOT/{train,test}/<folder>/<video>/<frame>.png
    folder in low_blur | low_blur_noise | low_sharp | high_sharp_scaled | high_sharp_original

The standard pair is ``low_blur_noise -> high_sharp_scaled`` (``input=``/``reference=`` select others; JUDE, for
instance, tests on ``low_blur``). ``ROOT`` may also be the split folder itself. Pairs match by relative path
``<video>/<frame>`` without suffix, as BasicSR's ``paired_paths_from_folder`` does by basename. Item ids are
``<video>/<frame>``. Subsets: ``videos=0012,0017`` (or a glob like ``00*``), ``stride=k`` (every k-th frame of each
video), ``frames=a:b`` (frame index range within each video), ``limit=N`` (first N items overall).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from ledbench.bench.errors import ConfigError, InputError
from ledbench.datasets.base import Dataset, Item, natural_key, pair_by_relative_path, require_dir

FOLDERS = ("low_blur", "low_blur_noise", "low_sharp", "high_sharp_scaled", "high_sharp_original")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class LOLBlurConfig:
    """``root``: LOLBlur folder (holding train/ and test/) or one split folder. ``split``: train | test.
    ``input``/``reference``: LOL-Blur sub-folders (reference "" or "none" = unpaired). ``videos``: video ids or
    globs ("" = all). ``stride``: every k-th frame per video; ``frames``: "start:stop" frame slice per video.
    ``limit``: first N items. ``missing``: error | skip for inputs without a reference."""

    root: str = ""
    split: str = "test"
    input: str = "low_blur_noise"
    reference: str = "high_sharp_scaled"
    videos: tuple[str, ...] = ()
    stride: int = 1
    frames: str = ""
    missing: str = "error"


class LOLBlur(Dataset):
    """LOL-Blur paired low-light + blur frames (default ``low_blur_noise`` -> ``high_sharp_scaled``)."""

    Config = LOLBlurConfig
    summary = "LOL-Blur (LEDNet): 10,200 train / 1,800 test synthetic night blur pairs; needs a download"

    def _split_root(self) -> Path:
        cfg = self.config
        if not cfg.root:
            raise ConfigError("dataset 'lolblur' needs its folder: lolblur:/path/to/LOLBlur (download: "
                              "https://github.com/sczhou/LEDNet, Google Drive 11HcsiHNvM7JUlbuHIniREdQ2peDUhtwX)")
        if cfg.split not in SPLITS:
            raise ConfigError(f"lolblur.split must be one of {list(SPLITS)}, got {cfg.split!r}")
        for name in (cfg.input, cfg.reference):
            if name and name.lower() != "none" and name not in FOLDERS:
                raise ConfigError(f"lolblur folder {name!r} is not a LOL-Blur folder; choose from {list(FOLDERS)}")
        if cfg.missing not in ("error", "skip"):
            raise ConfigError(f"lolblur.missing must be 'error' or 'skip', got {cfg.missing!r}")
        root = require_dir(cfg.root, "LOL-Blur folder",
                           "Pass the folder holding test/ and train/ (after a run file: dataset=lolblur:/data/LOLBlur)")
        if (root / cfg.split).is_dir():
            return root / cfg.split
        if (root / cfg.input).is_dir():
            return root  # ROOT is the split folder itself
        require_dir(root / cfg.split, f"LOL-Blur {cfg.split} split folder",
                    f"expected ROOT/{cfg.split}/{cfg.input}/<video>/<frame>.png")
        raise AssertionError("unreachable")

    def _video_selected(self, video: str) -> bool:
        pats = [str(v) for v in self.config.videos if str(v)]
        # numeric ids also match without leading zeros ("12" selects "0012"; CLI/YAML may drop the zeros)
        return not pats or any(fnmatch.fnmatchcase(video, p) or (p.isdigit() and video.isdigit()
                                                                 and int(p) == int(video)) for p in pats)

    def build_items(self) -> list[Item]:
        cfg = self.config
        split_root = self._split_root()
        in_root = require_dir(split_root / cfg.input, f"LOL-Blur {cfg.input} folder")
        paired = bool(cfg.reference) and cfg.reference.lower() != "none"
        if paired:
            ref_root = require_dir(split_root / cfg.reference, f"LOL-Blur {cfg.reference} folder")
            triples = pair_by_relative_path(in_root, ref_root, missing=cfg.missing)
        else:
            from ledbench.datasets.base import index_by_id, list_images

            triples = [(k, p, None) for k, p in index_by_id(list_images(in_root), in_root).items()]
        by_video: dict[str, list[tuple[str, Path, Path | None]]] = {}
        for key, a, b in triples:
            video = key.split("/", 1)[0] if "/" in key else ""
            by_video.setdefault(video, []).append((key, a, b))
        videos = sorted((v for v in by_video if self._video_selected(v)), key=natural_key)
        if cfg.videos and not videos:
            raise InputError(f"lolblur: no video matches {list(cfg.videos)} under {str(in_root)!r}; available: "
                             f"{', '.join(sorted(by_video, key=natural_key)[:10])}")
        start, stop = _parse_slice(cfg.frames)
        stride = max(1, int(cfg.stride or 1))
        items: list[Item] = []
        for video in videos:
            frames = by_video[video][start:stop:stride]
            for key, a, b in frames:
                items.append(Item(id=key, input=a, reference=b, meta={"video": video}))
        if not items:
            raise InputError(f"lolblur: no frames selected under {str(in_root)!r} (videos={list(cfg.videos)}, "
                             f"frames={cfg.frames!r}, stride={stride})")
        return items


def _parse_slice(text: str) -> tuple[int | None, int | None]:
    text = (text or "").strip()
    if not text:
        return None, None
    a, sep, b = text.partition(":")
    try:
        if not sep:
            i = int(a)
            return i, i + 1
        return (int(a) if a.strip() else None), (int(b) if b.strip() else None)
    except ValueError:
        raise ConfigError(f"lolblur.frames must look like 'start:stop' (e.g. 0:30), got {text!r}") from None
