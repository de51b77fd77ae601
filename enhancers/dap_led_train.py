"""Training DAP-LED (``ledbench train dap_led RUNFILE.yaml key=value ...``), torchrun-ready.

Recipe (ours unless stated; the paper's recipe is not public): AdamW (Restormer's lr 3e-4, wd 1e-4, betas
(0.9, 0.999) as the anchor), linear warm-up, optional constant phase (``lr_hold_iters``; Restormer holds 92k), then
cosine decay to ``min_lr``, progressive patch sizes / per-process batch sizes (Restormer's schedule as an anchor),
random flips and 90-degree rotations, float16 autocast + GradScaler on CUDA, gradient-norm clipping, checkpoints
with exact resume (model, optimizer, scaler, iteration, RNG states, best validation; logs truncated to the resumed
iteration), periodic validation with the benchmark's ``psnr`` / ``ssim`` on uint8-quantised outputs (the best one
kept as ``best.pt``), CSV + TensorBoard logs with every loss term unweighted and weighted, and DDP under
``torchrun`` (NCCL on CUDA, gloo on CPU).

Data (``data=``), read through the benchmark's own datasets and synthesis: ``lolblur:ROOT`` (the ``lolblur``
dataset: ``lolblur_input`` -> ``lolblur_reference`` of ``train/``, default ``low_blur_noise`` ->
``high_sharp_scaled`` as LEDNet / DarkIR; validation on ``test/``), ``folder:ROOT`` (the ``folder`` dataset, paired
sub-folders), ``sharp:DIR`` (sharp photos degraded on the fly by ``ledbench.datasets.synthesis``: a fresh kernel,
exposure and noise for every crop) or ``synth`` (the ``synth_images`` list, ``synth_mode`` fixed or fly). Every
training sample is a pure function of ``(seed, step, rank, slot)``, so resuming at step ``k`` reproduces the data
stream exactly, with any number of DataLoader workers. Training never writes inside the ledbench package unless
``allow_package_write=true``; a relative ``export`` path is relative to ``out``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ledbench.bench.config import build_config, config_to_dict
from ledbench.bench.errors import ConfigError, InputError
from ledbench.enhancers.dap_led import DAPLEDConfig, DAPLEDNet, arch_dict, arch_mismatch, resolve_config
from ledbench.enhancers.dap_led_losses import DAPLEDLoss

#: Sharp training images bundled with installed packages (no download): ``skimage:<name>`` is
#: ``skimage.data.<name>()``, ``ultralytics:<file>`` is ``ultralytics/assets/<file>``, ``matplotlib:<file>`` is
#: ``matplotlib/mpl-data/sample_data/<file>``. Chosen DISJOINT from the synth_mini benchmark images (bus, astronaut,
#: zidane, chelsea, coffee, rocket, motorcycle, camera; ledbench/datasets/synth_mini.py) and from the validation list.
DEFAULT_TRAIN_IMAGES = ("skimage:hubble_deep_field", "skimage:immunohistochemistry", "skimage:retina",
                        "skimage:colorwheel", "skimage:brick", "skimage:gravel", "skimage:grass", "skimage:page",
                        "skimage:text", "skimage:moon", "skimage:cell")
DEFAULT_VAL_IMAGES = ("matplotlib:grace_hopper.jpg", "skimage:coins")
#: synth_mini's sources (``ledbench.datasets.synth_mini.SOURCES``), refused as training images unless
#: ``allow_benchmark_images=true``.
SYNTH_MINI_IMAGES = ("skimage:astronaut", "skimage:chelsea", "skimage:coffee", "skimage:rocket",
                     "skimage:stereo_motorcycle", "skimage:camera", "ultralytics:bus.jpg", "ultralytics:zidane.jpg")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training options (run-file keys; model keys go under ``model:`` or are given flat, e.g. ``preset=small``).

    Attributes:
        out: run directory (checkpoints, ``train_log.csv``, ``val_log.csv``, ``tb/``, ``final.pt``).
        data, val_data: ``synth`` (``synth_images`` / ``synth_val_images``) | ``sharp:DIR`` (every image under DIR,
            degraded by ``ledbench.datasets.synthesis``) | ``folder:ROOT`` (= ``paired:ROOT``; the benchmark's
            ``folder`` dataset, sub-folders ``pair_input`` / ``pair_reference`` or auto-detected) |
            ``lolblur:ROOT`` (the benchmark's ``lolblur`` dataset: ``lolblur_input`` -> ``lolblur_reference`` of
            ``train/``; validation on ``test/``) | '' (no validation).
        lolblur_input, lolblur_reference: LOL-Blur sub-folders (default ``low_blur_noise`` -> ``high_sharp_scaled``,
            the LEDNet / DarkIR protocol).
        pair_input, pair_reference: sub-folder names for ``folder:`` ('' = auto-detect).
        val_stride, val_limit: validation subset of a dataset (every k-th item, at most N; 0 = all).
        synth_images, synth_val_images: sharp sources for ``synth`` (``skimage:NAME``, ``ultralytics:FILE``,
            ``matplotlib:FILE``, an image path or a folder of images); train and val lists must not overlap.
        synth_mode: ``fixed`` (``synth_variants`` degraded copies per image, made once) or ``fly`` (every
            training crop degraded afresh: new kernel, exposure and noise per crop; severity uniform in
            ``synth_severities``; crop scale uniform in ``synth_scale``).
        synth_severities: severities (1..5): cycled over the variants (``fixed``) or drawn per crop (``fly``).
        synth_variants: degraded variants per training image (``fixed``).
        synth_scale: (min, max) image-scale factor of a ``fly`` crop (a crop covers patch / s pixels).
        synth_max_side: sharp images are downscaled so that their longer side is at most this.
        synth_val_severities, synth_val_variants, synth_val_max_side: the fixed validation degradations
            (``synth_val_max_side`` 0 = ``synth_max_side``).
        val_size: centre crop side for validation images (0 = full image).
        iters: total iterations; must equal ``sum(stage_iters)``.
        patch_sizes, batch_sizes, stage_iters: progressive schedule (per-GPU batch).
        lr, min_lr, weight_decay, betas, warmup_iters, lr_hold_iters: AdamW + warm-up + constant until
            ``lr_hold_iters`` + cosine to ``min_lr``.
        grad_clip: max gradient L2 norm (0 = off).
        augment: random h/v flips and 90-degree rotations.
        amp: float16 autocast + GradScaler on CUDA (ignored on CPU).
        charb_eps, w_charb, w_identity, w_clip, identity_layers, identity_weights, identity_target: the loss.
        val_every, ckpt_every, log_every: intervals in iterations.
        seed, device, threads (0 = torch default), num_workers.
        resume: ``auto`` (``out/last.pt`` if present), a checkpoint path, or ``''`` (start fresh).
        init_weights: start from these weights (a weights-only file written by this trainer; not a resume).
        best_metric: validation metric that selects ``out/best.pt`` (``psnr`` or ``ssim``).
        export_which: ``final`` or ``best``: which weights ``export`` copies.
        max_wall_minutes: stop (with a checkpoint) once this wall time is spent (0 = no limit).
        tensorboard: also write TensorBoard scalars to ``out/tb`` when tensorboard is installed.
        export: also copy the weights-only checkpoint (``export_which``) to this path ('' = none). A relative
            path is relative to ``out``; the installed package and the source tree are written only with
            ``allow_package_write=true``.
        allow_benchmark_images: allow synth_mini's images in ``synth_images`` (off: they are refused, so the
            embedded benchmark never scores a model on its own training images).
        keep_checkpoints: also keep ``out/iter_<n>.pt`` at every checkpoint (``last.pt`` is always written).
    """

    out: str = "runs/dap_led_train"
    data: str = "synth"
    val_data: str = "synth"
    lolblur_input: str = "low_blur_noise"
    lolblur_reference: str = "high_sharp_scaled"
    pair_input: str = ""
    pair_reference: str = ""
    val_stride: int = 1
    val_limit: int = 0
    synth_images: tuple[str, ...] = DEFAULT_TRAIN_IMAGES
    synth_val_images: tuple[str, ...] = DEFAULT_VAL_IMAGES
    synth_mode: str = "fixed"
    synth_severities: tuple[int, ...] = (2, 3, 4)
    synth_variants: int = 3
    synth_scale: tuple[float, ...] = (1.0, 1.0)
    synth_max_side: int = 512
    synth_val_severities: tuple[int, ...] = (3,)
    synth_val_variants: int = 1
    synth_val_max_side: int = 0
    val_size: int = 256
    iters: int = 1000
    patch_sizes: tuple[int, ...] = (96, 128)
    batch_sizes: tuple[int, ...] = (4, 4)
    stage_iters: tuple[int, ...] = (400, 600)
    lr: float = 3e-4
    min_lr: float = 1e-6
    weight_decay: float = 1e-4
    betas: tuple[float, ...] = (0.9, 0.999)
    warmup_iters: int = 50
    lr_hold_iters: int = 0
    grad_clip: float = 0.01
    augment: bool = True
    amp: bool = True
    charb_eps: float = 1e-3
    w_charb: float = 1.0
    w_identity: float = 0.1
    w_clip: float = 0.05
    identity_layers: tuple[int, ...] = ()
    identity_weights: tuple[float, ...] = ()
    identity_target: str = "gt"
    val_every: int = 200
    ckpt_every: int = 200
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    num_workers: int = 0
    resume: str = "auto"
    init_weights: str = ""
    best_metric: str = "psnr"
    export_which: str = "final"
    max_wall_minutes: float = 0.0
    tensorboard: bool = True
    export: str = ""
    allow_package_write: bool = False
    keep_checkpoints: bool = False
    allow_benchmark_images: bool = False


# -- configuration -------------------------------------------------------------------------------------------------

def load_configs(runfile: str | None, overrides: dict[str, Any]) -> tuple[TrainConfig, DAPLEDConfig]:
    """Merge a YAML run file and ``key=value`` overrides into (TrainConfig, DAPLEDConfig).

    Model keys may sit under ``model:``, be dotted (``model.clip_prior=false``) or be flat (``preset=small``).
    """
    import yaml

    raw: dict[str, Any] = {}
    if runfile:
        path = Path(runfile)
        if not path.is_file():
            raise ConfigError(f"run file {runfile!r} does not exist")
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"run file {runfile!r} must hold a mapping of keys")
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    model_fields = {f.name for f in dataclasses.fields(DAPLEDConfig)}
    tkw: dict[str, Any] = {}
    mkw: dict[str, Any] = {}
    for source in (raw, dict(overrides or {})):
        for key, value in source.items():
            if key == "model" and isinstance(value, dict):
                mkw.update(value)
            elif key.startswith("model."):
                mkw[key[6:]] = value
            elif key in ("name", "enhancer", "variants"):
                continue  # documentation keys of a run file
            elif key in train_fields:
                tkw[key] = value
            elif key in model_fields:
                mkw[key] = value
            else:
                tkw[key] = value  # let build_config report it with a did-you-mean
    tcfg = build_config(TrainConfig, tkw, owner="dap_led train")
    mcfg = resolve_config(build_config(DAPLEDConfig, mkw, owner="dap_led model"))
    if sum(tcfg.stage_iters) != tcfg.iters:
        raise ConfigError(f"dap_led train: sum(stage_iters)={sum(tcfg.stage_iters)} must equal iters={tcfg.iters}")
    if not len(tcfg.patch_sizes) == len(tcfg.batch_sizes) == len(tcfg.stage_iters):
        raise ConfigError("dap_led train: patch_sizes, batch_sizes and stage_iters need the same length")
    if any(p % 8 for p in tcfg.patch_sizes):
        raise ConfigError(f"dap_led train: patch sizes must be multiples of 8, got {tcfg.patch_sizes}")
    if tcfg.synth_mode not in ("fixed", "fly"):
        raise ConfigError(f"dap_led train: synth_mode must be 'fixed' or 'fly', got {tcfg.synth_mode!r}")
    if tcfg.best_metric not in ("psnr", "ssim") or tcfg.export_which not in ("final", "best"):
        raise ConfigError("dap_led train: best_metric must be psnr or ssim and export_which final or best")
    bench = sorted(set(tcfg.synth_images) & set(SYNTH_MINI_IMAGES)) if tcfg.data == "synth" else []
    if bench and not tcfg.allow_benchmark_images:
        raise ConfigError(f"dap_led train: synth_images {bench} are synth_mini benchmark images; training on them "
                          "would inflate the embedded benchmark. Remove them or set allow_benchmark_images=true")
    overlap = set(tcfg.synth_images) & set(tcfg.synth_val_images)
    if overlap:
        raise ConfigError(f"dap_led train: images {sorted(overlap)} are in both synth_images and synth_val_images")
    return tcfg, mcfg


def schedule(cfg: TrainConfig, it: int) -> tuple[int, int]:
    """(patch size, per-process batch size) at iteration ``it`` (0-based)."""
    acc = 0
    for p, b, n in zip(cfg.patch_sizes, cfg.batch_sizes, cfg.stage_iters):
        acc += n
        if it < acc:
            return p, b
    return cfg.patch_sizes[-1], cfg.batch_sizes[-1]


def lr_at(cfg: TrainConfig, it: int) -> float:
    """Linear warm-up over ``warmup_iters``, constant ``lr`` until ``lr_hold_iters``, then cosine from ``lr`` to
    ``min_lr`` at ``iters`` (Restormer's schedule: hold 92k, cosine over the remaining 208k)."""
    if cfg.warmup_iters and it < cfg.warmup_iters:
        return cfg.lr * (it + 1) / cfg.warmup_iters
    start = max(cfg.warmup_iters, cfg.lr_hold_iters)
    if it < start:
        return cfg.lr
    span = max(1, cfg.iters - start)
    t = min(1.0, (it - start) / span)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t))


# -- data ----------------------------------------------------------------------------------------------------------

def _bundled_path(kind: str, name: str) -> Path:
    import importlib

    pkg = Path(importlib.import_module(kind).__file__).parent
    return pkg / ("assets" if kind == "ultralytics" else "mpl-data/sample_data") / name


def expand_sources(sources) -> list[str]:
    """Sharp-image sources with every folder replaced by the images under it (sorted by relative path)."""
    from ledbench.datasets.base import list_images

    out: list[str] = []
    for src in sources:
        src = str(src)
        kind = src.partition(":")[0]
        if kind not in ("skimage", "ultralytics", "matplotlib") and Path(src).expanduser().is_dir():
            files = list_images(Path(src).expanduser())
            if not files:
                raise InputError(f"dap_led train: no images under {src!r}")
            out.extend(str(p) for p in files)
        else:
            out.append(src)
    return out


def refuse_benchmark_files(sources) -> None:
    """ConfigError if a file among ``sources`` is byte-identical to one of synth_mini's source images (the named
    ``skimage:`` / ``ultralytics:`` sources are checked by :func:`load_configs`)."""
    import hashlib

    from ledbench.datasets.synth_mini import SOURCES, source_path

    def digest(p) -> str:
        return hashlib.sha256(Path(p).read_bytes()).hexdigest()

    bench = {digest(p): str(p) for p in (source_path(*v) for v in SOURCES.values()) if p is not None}
    for src in sources:
        if Path(src).is_file() and digest(src) in bench:
            raise ConfigError(f"dap_led train: {src!r} is synth_mini's image {bench[digest(src)]!r}; training on it "
                              "would inflate the embedded benchmark. Remove it or set allow_benchmark_images=true")


def load_sharp(source: str, max_side: int = 0) -> np.ndarray:
    """``skimage:NAME`` | ``ultralytics:FILE`` | ``matplotlib:FILE`` | a path -> H x W x 3 float32 RGB in [0, 1]
    whose longer side is at most ``max_side`` (PIL bilinear per channel on float data, no antialias gap)."""
    from ledbench.bench.imageio import read_image

    kind, _, name = source.partition(":")
    if kind == "skimage" and name:
        import skimage.data

        fn = getattr(skimage.data, name, None)
        if fn is None:
            raise ConfigError(f"skimage.data has no image {name!r}")
        arr = fn()
        arr = np.asarray(arr[0] if isinstance(arr, tuple) else arr)  # stereo_motorcycle -> the left view
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        arr = arr[..., :3]
        img = arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else float(max(arr.max(), 1)))
    elif kind in ("ultralytics", "matplotlib") and name:
        img = read_image(_bundled_path(kind, name))
    else:
        img = read_image(source)
    if max_side and max(img.shape[:2]) > max_side:
        s = max_side / max(img.shape[:2])
        img = _resize(img, (max(8, round(img.shape[0] * s)), max(8, round(img.shape[1] * s))))
    return np.ascontiguousarray(img)


def _resize(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Resize H x W x 3 float [0, 1] to ``hw`` (PIL bilinear per channel; antialiased when shrinking)."""
    from PIL import Image

    size = (int(hw[1]), int(hw[0]))
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c])).resize(size, Image.BILINEAR,
                                                                                    reducing_gap=None))
             for c in range(3)]
    return np.clip(np.stack(chans, axis=2), 0, 1).astype(np.float32)


def synth_pairs(sources, severities, variants: int, seed: int, max_side: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Degrade every source ``variants`` times (severity cycled, seed ``seed*1000003 + 1000*i + v``)."""
    from ledbench.datasets.synthesis import synthesize

    pairs = []
    for i, src in enumerate(sources):
        sharp = load_sharp(src, max_side)
        for v in range(variants):
            sev = int(severities[(i + v) % len(severities)])
            low, _ = synthesize(sharp, severity=sev, seed=seed * 1000003 + 1000 * i + v)
            pairs.append((np.ascontiguousarray(low, dtype=np.float32), sharp))
    return pairs


def dataset_pairs(spec: str, cfg: TrainConfig, split: str) -> list:
    """``folder:ROOT`` / ``paired:ROOT`` / ``lolblur:ROOT`` -> the benchmark dataset's :class:`Item` list.

    LOL-Blur uses :class:`ledbench.datasets.lolblur.LOLBlur` (pairing by ``<video>/<frame>``) with
    ``lolblur_input`` -> ``lolblur_reference`` (default ``low_blur_noise`` -> ``high_sharp_scaled``, the LEDNet
    protocol), split ``train`` for training and ``test`` for validation; validation takes every
    ``val_stride``-th frame (a fixed subset) and at most ``val_limit`` of them.
    """
    from ledbench.datasets import create_dataset

    kind, _, root = spec.partition(":")
    kw: dict[str, Any] = {}
    if kind == "lolblur":
        kw = {"split": "train" if split == "train" else "test", "input": cfg.lolblur_input,
              "reference": cfg.lolblur_reference}
    elif kind in ("folder", "paired"):
        kind = "folder"
        kw = {"paired": "true"}
        if cfg.pair_input or cfg.pair_reference:
            kw.update(input=cfg.pair_input, reference=cfg.pair_reference)
    if split != "train":
        kw.update(stride=max(1, cfg.val_stride), limit=cfg.val_limit or None)
    items = create_dataset(f"{kind}:{root}", **kw).items
    if not items or not all(it.paired for it in items):
        raise InputError(f"dap_led train: {spec!r} has no paired images (every input needs a reference)")
    return list(items)


def resolve_data(spec: str, cfg: TrainConfig, split: str) -> list:
    """``spec`` -> a list of (input, reference) array pairs, of :class:`Item`, or of sharp sources (``fly``)."""
    kind, _, path = spec.partition(":")
    if spec == "synth" or (kind == "sharp" and path):
        if kind == "sharp":
            srcs = (path,)
        else:
            srcs = cfg.synth_images if split == "train" else cfg.synth_val_images
        srcs = expand_sources(srcs)
        if split == "train" and not cfg.allow_benchmark_images:
            refuse_benchmark_files(srcs)
        if split == "train" and cfg.synth_mode == "fly":
            return [load_sharp(s, cfg.synth_max_side) for s in srcs]
        if split == "train":
            return synth_pairs(srcs, cfg.synth_severities, cfg.synth_variants, cfg.seed, cfg.synth_max_side)
        return synth_pairs(srcs, cfg.synth_val_severities, cfg.synth_val_variants, cfg.seed + 777,
                           cfg.synth_val_max_side or cfg.synth_max_side)
    if kind in ("paired", "folder", "lolblur") and path:
        return dataset_pairs(spec, cfg, split)
    raise ConfigError(f"dap_led train: data {spec!r} must be synth, sharp:DIR, folder:ROOT (or paired:ROOT) or "
                      "lolblur:ROOT")


def _as_arrays(pair):
    if hasattr(pair, "load_input"):  # a benchmark dataset Item
        return pair.load_input(), pair.load_reference()
    return pair


class PatchDataset(torch.utils.data.Dataset):
    """Random crops of training pairs. ``ds[(step, rank, slot, patch)]`` is a pure function of its key + seed."""

    def __init__(self, pairs, seed: int, augment: bool):
        self.pairs, self.seed, self.augment = pairs, int(seed), bool(augment)

    def __len__(self):
        return len(self.pairs)

    def _pick(self, rng, patch):
        x, y = _as_arrays(self.pairs[int(rng.integers(len(self.pairs)))])
        return _crop_pair(rng, x, y, patch)

    def __getitem__(self, key):
        step, rank, slot, patch = key
        rng = np.random.default_rng([self.seed, step, rank, slot])
        x, y = self._pick(rng, patch)
        if self.augment:
            k, flip = int(rng.integers(4)), bool(rng.integers(2))
            if flip:
                x, y = x[:, ::-1], y[:, ::-1]
            x, y = np.rot90(x, k), np.rot90(y, k)
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32))  # noqa: E731
        return to(x), to(y)


def _crop_pair(rng, x, y, patch):
    h, w = x.shape[:2]
    if h < patch or w < patch:  # small image: reflect-pad up to the patch
        ph, pw = max(0, patch - h), max(0, patch - w)
        x = np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="reflect")
        y = np.pad(y, ((0, ph), (0, pw), (0, 0)), mode="reflect")
        h, w = x.shape[:2]
    top, left = int(rng.integers(h - patch + 1)), int(rng.integers(w - patch + 1))
    return x[top:top + patch, left:left + patch], y[top:top + patch, left:left + patch]


class SynthPatchDataset(PatchDataset):
    """Crops of sharp images degraded on the fly: every crop gets a fresh blur kernel, exposure and noise draw.

    A crop covers ``patch / s`` pixels of a stored image (``s`` uniform in ``scale``) resized to ``patch``, so the
    image scale varies too; the severity is drawn uniformly from ``severities``; the synthesis seed comes from the
    crop's own generator, so the sample is still a pure function of ``(seed, step, rank, slot)``.
    """

    def __init__(self, images, seed: int, augment: bool, severities, scale=(1.0, 1.0)):
        super().__init__(images, seed, augment)
        self.severities, self.scale = tuple(int(s) for s in severities), (float(scale[0]), float(scale[-1]))

    def _pick(self, rng, patch):
        from ledbench.datasets.synthesis import synthesize

        sharp = self.pairs[int(rng.integers(len(self.pairs)))]
        s = float(rng.uniform(*self.scale))
        side = min(max(patch, round(patch / s)), *sharp.shape[:2]) if min(sharp.shape[:2]) >= patch else patch
        crop, _ = _crop_pair(rng, sharp, sharp, side)
        if side != patch:
            crop = _resize(crop, (patch, patch))
        sev = self.severities[int(rng.integers(len(self.severities)))]
        low, _ = synthesize(crop, severity=sev, seed=int(rng.integers(2**31 - 1)))
        return low.astype(np.float32), np.ascontiguousarray(crop, dtype=np.float32)


class StepSampler(torch.utils.data.Sampler):
    """Yields, for every step from ``start`` to ``cfg.iters``, the batch keys of this rank."""

    def __init__(self, cfg: TrainConfig, start: int, rank: int):
        self.cfg, self.start, self.rank = cfg, start, rank

    def __iter__(self):
        for it in range(self.start, self.cfg.iters):
            patch, bs = schedule(self.cfg, it)
            yield [(it, self.rank, s, patch) for s in range(bs)]

    def __len__(self):
        return max(0, self.cfg.iters - self.start)


# -- validation ----------------------------------------------------------------------------------------------------

@torch.no_grad()
def validate(model, pairs, device, val_size: int) -> dict[str, float]:
    """Mean PSNR / SSIM (the benchmark's ``psnr`` / ``ssim`` metrics) of the model output, clamped and quantised to
    uint8 as the harness does, over the validation pairs (centre-cropped to ``val_size``; 0 = full image)."""
    from ledbench.tasks.metrics import create_metric

    was = model.training
    model.eval()
    metrics = [create_metric("psnr"), create_metric("ssim")]
    for i, pair in enumerate(pairs):
        x, y = _as_arrays(pair)
        if val_size:
            h, w = x.shape[:2]
            s = min(val_size, h, w)
            top, left = (h - s) // 2, (w - s) // 2
            x, y = x[top:top + s, left:left + s], y[top:top + s, left:left + s]
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32))[None].to(device)
        o = run_padded(model, xt)[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()
        o = np.round(o * 255.0) / 255.0
        for m in metrics:
            m.update(o, y, str(i))
    model.train(was)
    out = {k: float(v) for m in metrics for k, v in m.compute().items()}
    return {"psnr": out.get("psnr", float("nan")), "ssim": out.get("ssim", float("nan")), "n": len(pairs)}


def run_padded(model, x):
    """``model`` on ``x`` reflect-padded to a multiple of 8 (as the DAPLED enhancer pads), cropped back."""
    h, w = x.shape[-2:]
    ph, pw = (8 - h % 8) % 8, (8 - w % 8) % 8
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
    return model(x)[..., :h, :w]


# -- one optimisation step -----------------------------------------------------------------------------------------

def train_step(model, criterion, optimizer, scaler, inp, tgt, *, lr: float, grad_clip: float,
               amp: bool) -> dict[str, float]:
    """One AdamW step at learning rate ``lr``; returns the (local) loss parts and the gradient norm."""
    for g in optimizer.param_groups:
        g["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    use_amp = amp and inp.device.type == "cuda"
    with torch.autocast(device_type=inp.device.type, dtype=torch.float16, enabled=use_amp):
        out = model(inp)
    total, parts = criterion(out.float(), tgt, inp)
    if scaler is not None and use_amp:
        scaler.scale(total).backward()
        scaler.unscale_(optimizer)
    else:
        total.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    if grad_clip > 0:
        gn = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    else:
        gn = torch.norm(torch.stack([p.grad.norm() for p in params if p.grad is not None]))
    if scaler is not None and use_amp:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    row = {"loss": float(total.detach()), "grad_norm": float(gn)}
    row.update({k: float(v) for k, v in parts.items()})
    return row


def make_optimizer(model, cfg: TrainConfig):
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                             weight_decay=cfg.weight_decay, betas=tuple(cfg.betas))


def make_criterion(net: DAPLEDNet, tcfg: TrainConfig, mcfg: DAPLEDConfig) -> DAPLEDLoss:
    clip = net.clip
    if clip is None and (tcfg.w_identity > 0 or tcfg.w_clip > 0) and mcfg.clip_prior:
        from ledbench.enhancers.dap_led import ClipPrior

        clip = ClipPrior(mcfg)
    if clip is None and (tcfg.w_identity > 0 or tcfg.w_clip > 0):
        raise ConfigError("dap_led train: clip_prior=false (the no-CLIP ablation) has no CLIP tower for L_identity / "
                          "L_clip: set w_identity=0 w_clip=0")
    return DAPLEDLoss(charb_eps=tcfg.charb_eps, w_charb=tcfg.w_charb, w_identity=tcfg.w_identity,
                      w_clip=tcfg.w_clip, clip=clip, identity_layers=tcfg.identity_layers,
                      identity_weights=tcfg.identity_weights, identity_target=tcfg.identity_target)


# -- checkpoints ---------------------------------------------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    st = np.random.get_state()
    out = {"python": repr(random.getstate()), "numpy": [st[0], st[1].tolist(), int(st[2]), int(st[3]), float(st[4])],
           "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(st: dict[str, Any]) -> None:
    import ast

    random.setstate(_tuplify(ast.literal_eval(st["python"])))
    n = st["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _tuplify(v):
    return tuple(_tuplify(t) for t in v) if isinstance(v, (list, tuple)) else v


def save_checkpoint(path: Path, net, optimizer, scaler, it: int, tcfg: TrainConfig, mcfg: DAPLEDConfig,
                    extra: dict | None = None) -> None:
    """Full training state (atomic write): model, optimizer, scaler, next iteration, configs, RNG states."""
    state = {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
             "scaler": scaler.state_dict() if scaler is not None else None, "iter": int(it),
             "arch": arch_dict(mcfg), "model_config": config_to_dict(mcfg), "train_config": config_to_dict(tcfg),
             "rng": rng_state(), **(extra or {})}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def export_weights(path: Path, net, mcfg: DAPLEDConfig, meta: dict | None = None) -> None:
    """Weights-only checkpoint for ``create_enhancer('dap_led', weights=PATH)``: ``{"model", "arch", "meta"}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"model": sd, "arch": arch_dict(mcfg), "meta": meta or {}}, tmp)
    os.replace(tmp, path)


#: Loss columns of ``train_log.csv``: the total, each term unweighted and each term times its weight.
LOSS_KEYS = ("loss", "charb", "identity", "clip", "charb_w", "identity_w", "clip_w")


def _is_fly(cfg: TrainConfig) -> bool:
    return cfg.data.startswith("sharp:") or (cfg.data == "synth" and cfg.synth_mode == "fly")


def truncate_log(path: Path, last_iter: int) -> None:
    """Drop the rows of a CSV log whose ``iter`` is beyond ``last_iter`` (rows written after the checkpoint a run
    resumes from), so a resumed run's log has every iteration once."""
    if not path.is_file():
        return
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
        fields = list(rows[0]) if rows else None
    if not fields:
        return
    keep = [r for r in rows if int(float(r["iter"])) <= last_iter]
    if len(keep) == len(rows):
        return
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(keep)
    os.replace(tmp, path)


def resolve_export(cfg: TrainConfig) -> Path | None:
    """``export`` as a path (relative paths are relative to ``out``); refuses the installed package or the source
    tree unless ``allow_package_write=true`` (a training run must not overwrite shipped weights by accident)."""
    if not cfg.export:
        return None
    p = Path(cfg.export).expanduser()
    if not p.is_absolute():
        p = Path(cfg.out) / p
    p = p.resolve()
    if not cfg.allow_package_write and inside_package(p):
        raise ConfigError(f"dap_led train: export={cfg.export!r} resolves to {str(p)!r}, inside the ledbench "
                          "package or its source tree; use a path outside it (relative paths are relative to out=) "
                          "or set allow_package_write=true")
    return p


def package_dirs() -> list[Path]:
    """The folders of the ledbench packages (source folders in an editable install), found without importing."""
    import importlib.util

    dirs = []
    for mod in ("ledbench", "ledbench.bench", "ledbench.enhancers", "ledbench.tasks", "ledbench.datasets",
                "ledbench.reports"):
        spec = importlib.util.find_spec(mod)
        for loc in (spec.submodule_search_locations or []) if spec else []:
            dirs.append(Path(loc).resolve())
    return dirs


def inside_package(path: Path) -> bool:
    """Whether ``path`` lies in a ledbench package folder, or in the source checkout (the folder holding the
    ``ledbench`` package and ``pyproject.toml``) outside its ``runs/`` output folder."""
    p = Path(path).resolve()
    dirs = package_dirs()
    if any(p == d or d in p.parents for d in dirs):
        return True
    roots = {d.parent for d in dirs[:1]}  # the folder holding ledbench/
    return any((r / "pyproject.toml").is_file() and (p == r or r in p.parents)
               and not (p == r / "runs" or (r / "runs") in p.parents) for r in roots)


# -- the loop ------------------------------------------------------------------------------------------------------

class _Logger:
    def __init__(self, out: Path, rank: int, tensorboard: bool):
        self.rank, self.out, self.tb = rank, out, None
        if rank == 0 and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out / "tb"))
            except Exception:  # tensorboard not installed: CSV only
                self.tb = None

    def row(self, fname: str, row: dict[str, Any]) -> None:
        if self.rank:
            return
        path = self.out / fname
        new = not path.exists()
        with open(path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
        if self.tb is not None:
            for k, v in row.items():
                if k != "iter" and isinstance(v, (int, float)):
                    self.tb.add_scalar(f"{fname.split('_')[0]}/{k}", v, row["iter"])
            self.tb.flush()

    def close(self):
        if self.tb is not None:
            self.tb.close()


def _dist_env() -> tuple[int, int, int]:
    ws = int(os.environ.get("WORLD_SIZE", "1"))
    return ws, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


def train(tcfg: TrainConfig, mcfg: DAPLEDConfig) -> dict[str, Any]:
    """Run training; returns a summary (final iteration, last validation, wall time, paths)."""
    import torch.distributed as dist

    world, rank, local = _dist_env()
    if tcfg.threads:
        torch.set_num_threads(int(tcfg.threads))
    from ledbench.bench.device import check_device  # one-line error for cuda without CUDA, cuda:7, gpu

    device = check_device(tcfg.device, notice=lambda m: print(f"dap_led train: {m}", file=sys.stderr, flush=True))
    if world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend=backend)
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
    torch.manual_seed(tcfg.seed)
    np.random.seed(tcfg.seed)
    random.seed(tcfg.seed)
    out = Path(tcfg.out)
    if not tcfg.allow_package_write and inside_package(out):
        raise ConfigError(f"dap_led train: out={tcfg.out!r} is inside the ledbench package or its source tree; "
                          "use runs/NAME, a folder outside the checkout, or set allow_package_write=true")
    out.mkdir(parents=True, exist_ok=True)

    net = DAPLEDNet(mcfg).to(device)
    criterion = make_criterion(net, tcfg, mcfg)
    if criterion.clip is not None:
        criterion.clip.to(device)
    optimizer = make_optimizer(net, tcfg)
    scaler = torch.amp.GradScaler("cuda") if (tcfg.amp and device.type == "cuda") else None
    start = 0
    ckpt = None
    best: dict[str, Any] = {}
    export_path = resolve_export(tcfg)
    if tcfg.resume:
        path = out / "last.pt" if tcfg.resume == "auto" else Path(tcfg.resume)
        if path.is_file():
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        elif tcfg.resume != "auto":
            raise ConfigError(f"dap_led train: resume checkpoint {str(path)!r} does not exist")
    if ckpt is not None:
        if not isinstance(ckpt.get("arch"), dict) or arch_mismatch(ckpt["arch"], mcfg):
            raise ConfigError(f"dap_led train: {str(path)!r} was written for another model config; use another "
                              "out= or resume=''")
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scaler is not None and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        start = int(ckpt["iter"])
        set_rng_state(ckpt["rng"])
        best = dict(ckpt.get("best") or {})
        if rank == 0:
            for fname in ("train_log.csv", "val_log.csv"):
                truncate_log(out / fname, start)
            print(f"dap_led train: resumed from iteration {start}", flush=True)
    elif tcfg.init_weights:
        obj = torch.load(tcfg.init_weights, map_location="cpu", weights_only=True)
        if isinstance(obj.get("arch"), dict) and arch_mismatch(obj["arch"], mcfg):
            raise ConfigError(f"dap_led train: init_weights {tcfg.init_weights!r} has another architecture")
        net.load_state_dict(obj["model"] if "model" in obj else obj)
        if rank == 0:
            print(f"dap_led train: initialised from {tcfg.init_weights}", flush=True)
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[local] if device.type == "cuda" else None)

    log = _Logger(out, rank, tcfg.tensorboard)
    if rank == 0:
        (out / "config.json").write_text(json.dumps({"train": config_to_dict(tcfg), "model": config_to_dict(mcfg),
                                                     "world_size": world}, indent=2))
    t_data = time.time()
    train_pairs = resolve_data(tcfg.data, tcfg, "train")
    val_pairs = resolve_data(tcfg.val_data, tcfg, "val") if (tcfg.val_data and rank == 0) else []
    if rank == 0:
        print(f"dap_led train: {len(train_pairs)} training pairs, {len(val_pairs)} validation pairs "
              f"({time.time() - t_data:.1f}s), params {sum(p.numel() for p in net.parameters()):,}, device {device}, "
              f"world {world}", flush=True)
    if _is_fly(tcfg):
        ds = SynthPatchDataset(train_pairs, tcfg.seed, tcfg.augment, tcfg.synth_severities, tcfg.synth_scale)
    else:
        ds = PatchDataset(train_pairs, tcfg.seed, tcfg.augment)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=StepSampler(tcfg, start, rank),
                                         num_workers=tcfg.num_workers, pin_memory=device.type == "cuda")
    t0 = time.time()
    last_val: dict[str, Any] = {}
    done = start
    stopped_early = False
    model.train()
    t_last = time.time()
    for it, (inp, tgt) in enumerate(loader, start=start):
        inp, tgt = inp.to(device, non_blocking=True), tgt.to(device, non_blocking=True)
        row = train_step(model, criterion, optimizer, scaler, inp, tgt, lr=lr_at(tcfg, it), grad_clip=tcfg.grad_clip,
                         amp=tcfg.amp)
        done = it + 1
        if world > 1:
            vals = torch.tensor([row[k] for k in LOSS_KEYS], dtype=torch.float64)
            dist.all_reduce(vals)
            row.update(zip(LOSS_KEYS, (vals / world).tolist()))
        if done % tcfg.log_every == 0 or done == tcfg.iters:
            now = time.time()
            patch, bs = schedule(tcfg, it)
            log.row("train_log.csv", {"iter": done, "lr": lr_at(tcfg, it), "patch": patch, "batch": bs * world,
                                      **{k: row[k] for k in (*LOSS_KEYS, "grad_norm")},
                                      "sec_per_iter": (now - t_last) / tcfg.log_every, "wall_s": now - t0})
            t_last = now
            if rank == 0:
                print(f"iter {done}/{tcfg.iters} loss {row['loss']:.5f} charb {row['charb']:.5f} "
                      f"id {row['identity']:.5f} clip {row['clip']:.5f} lr {lr_at(tcfg, it):.2e}", flush=True)
        over = tcfg.max_wall_minutes and (time.time() - t0) > 60 * tcfg.max_wall_minutes
        if rank == 0 and val_pairs and (done % tcfg.val_every == 0 or done == tcfg.iters or over):
            last_val = {"iter": done, **validate(net, val_pairs, device, tcfg.val_size)}
            log.row("val_log.csv", last_val)
            is_best = not best or last_val[tcfg.best_metric] > best[tcfg.best_metric]
            if is_best:
                best = dict(last_val)
                export_weights(out / "best.pt", net, mcfg, {"iters_done": done, "val": best,
                                                            "train_config": config_to_dict(tcfg)})
            print(f"val iter {done}: PSNR {last_val['psnr']:.3f} SSIM {last_val['ssim']:.4f}"
                  f"{' (best)' if is_best else ''}", flush=True)
        if done % tcfg.ckpt_every == 0 or done == tcfg.iters or over:
            if rank == 0:
                save_checkpoint(out / "last.pt", net, optimizer, scaler, done, tcfg, mcfg, {"best": best})
                if tcfg.keep_checkpoints:
                    shutil.copyfile(out / "last.pt", out / f"iter_{done}.pt")
        if over:
            stopped_early = True
            if rank == 0:
                print(f"dap_led train: max_wall_minutes={tcfg.max_wall_minutes} reached at iteration {done}",
                      flush=True)
            break
    wall = time.time() - t0
    summary = {"iters_done": int(done), "stopped_early": stopped_early,
               "wall_s": wall, "last_val": last_val, "best_val": best, "out": str(out)}
    if rank == 0:
        meta = {"iters_done": summary["iters_done"], "wall_s": round(wall, 1), "last_val": last_val,
                "train_config": config_to_dict(tcfg)}
        export_weights(out / "final.pt", net, mcfg, meta)
        if export_path is not None:
            src_file = out / ("best.pt" if tcfg.export_which == "best" and (out / "best.pt").is_file() else "final.pt")
            export_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src_file, export_path)
            summary["exported"] = {"path": str(export_path), "from": src_file.name}
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        print(f"dap_led train: done in {wall:.1f}s; weights {out / 'final.pt'}", flush=True)
    log.close()
    if world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return summary


def ddp_step_worker(rank: int, world: int, port: int, out_path: str, model_kw: dict, train_kw: dict,
                    batch: tuple, lr: float = 1e-3) -> None:
    """One DDP training step on CPU / gloo, for ``torch.multiprocessing.spawn`` (a DDP smoke check and test helper).

    Every rank builds the model with seed 0, takes its contiguous slice of ``batch = (inp, tgt)`` (``N / world``
    samples each), runs :func:`train_step` under DDP; rank 0 saves the resulting state dict to ``out_path``.
    """
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        mcfg = resolve_config(DAPLEDConfig(**model_kw))
        torch.manual_seed(0)
        net = DAPLEDNet(mcfg)
        model = torch.nn.parallel.DistributedDataParallel(net)
        tcfg = TrainConfig(**train_kw)
        crit = make_criterion(net, tcfg, mcfg)
        opt = make_optimizer(net, tcfg)
        inp, tgt = batch
        n = inp.shape[0] // world
        sl = slice(rank * n, (rank + 1) * n)
        train_step(model, crit, opt, None, inp[sl], tgt[sl], lr=lr, grad_clip=tcfg.grad_clip, amp=False)
        if rank == 0:
            torch.save({k: v.detach().clone() for k, v in net.state_dict().items()}, out_path)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def train_main(runfile: str | None, overrides: dict) -> int:
    """Entry point of ``ledbench train dap_led [RUNFILE.yaml] [key=value ...]``.

    Reads the run file (YAML mapping of :class:`TrainConfig` keys plus a ``model:`` mapping of
    :class:`~ledbench.enhancers.dap_led.DAPLEDConfig` keys; flat or ``model.``-prefixed model keys also work),
    applies the overrides, trains (DDP when launched by ``torchrun``), writes ``out/last.pt`` (resumable),
    ``out/final.pt`` (weights for ``create_enhancer('dap_led', weights=...)``), ``train_log.csv``,
    ``val_log.csv``, ``tb/`` and ``summary.json``. Returns the process exit code (0 on success).

    A run file with a ``variants:`` mapping (name -> overrides) is an ablation sweep: every variant is trained into
    ``out/<name>`` with the shared keys plus its overrides, then ``out/ablation.csv`` and ``out/ablation.md`` list
    each variant's switches, trainable parameters and final validation PSNR / SSIM (see runs/dap_led_ablation.yaml).
    """
    variants = _variants(runfile)
    if not variants:
        tcfg, mcfg = load_configs(runfile, overrides)
        train(tcfg, mcfg)
        return 0
    rows = []
    base_t, _ = load_configs(runfile, {k: v for k, v in overrides.items()})
    root = Path(base_t.out)
    for vname, vover in variants.items():
        if not isinstance(vover, dict):
            raise ConfigError(f"ablation variant {vname!r} must map to a mapping of overrides")
        tcfg, mcfg = load_configs(runfile, {**vover, **overrides, "out": str(root / vname)})
        summary = train(tcfg, mcfg)
        if int(os.environ.get("RANK", "0")) == 0:
            count_cfg = (dataclasses.replace(mcfg, clip_random_init=True)  # counting only: CLIP is not counted
                         if mcfg.clip_prior and not mcfg.clip_checkpoint else mcfg)
            n = sum(p.numel() for p in DAPLEDNet(count_cfg).parameters())
            val = summary.get("last_val") or {}
            rows.append({"variant": vname, "clip_prior": mcfg.clip_prior, "ccm": mcfg.ccm and mcfg.clip_prior,
                         "cetb": mcfg.cetb and mcfg.clip_prior, "params_m": round(n / 1e6, 4),
                         "psnr": val.get("psnr"), "ssim": val.get("ssim"), "iters": summary["iters_done"],
                         "weights": str(root / vname / "final.pt")})
    if rows:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / "ablation.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        lines = ["| variant | CLIP prior | CCM | CeTB | params (M) | PSNR | SSIM |", "|---|---|---|---|---|---|---|"]
        yn = lambda b: "yes" if b else "no"  # noqa: E731
        for r in rows:
            ps = "-" if r["psnr"] is None else f"{r['psnr']:.2f}"
            ss = "-" if r["ssim"] is None else f"{r['ssim']:.4f}"
            lines.append(f"| {r['variant']} | {yn(r['clip_prior'])} | {yn(r['ccm'])} | {yn(r['cetb'])} | "
                         f"{r['params_m']:.3f} | {ps} | {ss} |")
        (root / "ablation.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)
    return 0


def _variants(runfile: str | None) -> dict[str, Any]:
    if not runfile:
        return {}
    import yaml

    path = Path(runfile)
    if not path.is_file():
        raise ConfigError(f"run file {runfile!r} does not exist")
    raw = yaml.safe_load(path.read_text()) or {}
    return dict(raw.get("variants") or {}) if isinstance(raw, dict) else {}


if __name__ == "__main__":  # python -m ledbench.enhancers.dap_led_train RUNFILE.yaml key=value ...
    from ledbench.bench.config import parse_overrides

    args = sys.argv[1:]
    rf = args[0] if args and "=" not in args[0] else None
    sys.exit(train_main(rf, parse_overrides(args[1:] if rf else args)))
