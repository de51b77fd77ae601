"""Enhancer base classes: the image contract, weights loading, padding, tiling, AMP, and cascades.

Contract (everywhere in ledbench): ``enhance(x)`` takes ``torch.float32`` ``N x 3 x H x W`` RGB in [0, 1] and
returns the same shape, dtype and range. Each enhancer converts to and from its own convention internally
(``input_range=(-1, 1)`` for LEDNet-retrain, BGR for some code bases, padding to a multiple, ...).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from ledbench.bench.config import NoConfig
from ledbench.bench.device import resolve_device
from ledbench.bench.errors import ConfigError, InputError, OutOfMemory, WeightsUnavailable
from ledbench.bench.plugin import WeightedPlugin
from ledbench.bench.weights import load_checkpoint, load_state_dict_checked


class Enhancer(WeightedPlugin):
    """Base class of every enhancer.

    ``pretrained=False`` builds a learned model with random initialisation (tests, training from scratch); its
    identity then carries ``weights_sha256=None``. Subclasses set ``Config`` (a frozen dataclass), optionally
    ``weights_tags`` (tag -> :class:`WeightsSpec`) and ``default_tag``, and implement :meth:`_enhance`. ``name`` is
    the registry name it was created under.

    ``progress_callback``: None, or a callable the caller sets to hear ``(tiles_done, tiles_total)`` after each
    tile of a tiled call (progress display only; not part of :meth:`identity`, so it changes no cache key).
    """

    trust_weights: ClassVar[bool] = False
    paper: ClassVar[str] = ""
    progress_callback: Callable[[int, int], None] | None = None

    def __init__(self, config: Any = None, *, name: str | None = None, tag: str | None = None,
                 weights: str | None = None, device: Any = "cpu", download: bool = False,
                 tile: int | str = 0, tile_overlap: int = 32, amp: bool | str = False, pretrained: bool = True,
                 trust_weights: bool = False):
        self.device = resolve_device(device)
        self.tile = parse_tile(tile)
        self.tile_overlap = int(tile_overlap)
        self.amp = parse_amp(amp)
        self.channels_last = False  # TorchEnhancer.use_channels_last() turns it on
        self.pretrained = pretrained
        # full unpickling of a checkpoint (files that store Python objects); only for files you trust
        self.trust_weights = trust_weights or type(self).trust_weights
        self._init_plugin(config, name, tag, weights, download, pretrained)
        self.setup()

    # -- hooks for subclasses -----------------------------------------------------------------------------------
    def setup(self) -> None:
        """Build models / load weights; called at the end of ``__init__``."""

    def _enhance(self, x):
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        """Everything that determines the output: name, config, weights digest, tiling / AMP options.

        ``amp`` is True for float16 autocast (the historical key) or ``"bfloat16"``; ``tile_blend`` and
        ``channels_last`` appear only when in use, so untiled fp32 identities (the default run) are unchanged."""
        ident = {**super().identity(), "tile": self.tile, "tile_overlap": self.tile_overlap if self.tile else 0,
                 "amp": self.amp if self.device.type == "cuda" else False}
        if self.tile:
            ident["tile_blend"] = "crop"  # tiled_apply keeps each window's core (see docs/tiling.md)
        if getattr(self, "channels_last", False):
            ident["channels_last"] = True
        return ident

    # -- public call --------------------------------------------------------------------------------------------
    def enhance(self, x):
        """Enhance ``x`` (N x 3 x H x W float RGB in [0, 1]) and return the same shape in [0, 1]."""
        import torch

        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 3:
            raise InputError(self._input_message(x))
        if not x.is_floating_point():
            raise InputError(f"{self.name}: expected a float tensor in [0, 1], got {x.dtype}")
        src_device = x.device
        x = x.float()
        try:
            with torch.no_grad():
                y = self._enhance(x)
        except RuntimeError as exc:
            if isinstance(exc, OutOfMemory) or not is_out_of_memory(exc):
                raise  # already explained (a cascade stage), or not a memory error
            if self.device.type == "cuda":
                torch.cuda.empty_cache()  # let the next (smaller) input or tile start from a clean allocator
            raise OutOfMemory(self._oom_message(x)) from exc
        if tuple(y.shape) != tuple(x.shape):
            raise InputError(f"{self.name}: produced shape {tuple(y.shape)} for input {tuple(x.shape)}")
        if not torch.isfinite(y).all():
            self.output_checks["non_finite_batches"] += 1
            raise InputError(f"{self.name} produced NaN/Inf values; the input may be out of the model's domain "
                             "or the weights are broken")
        y = y.float()
        outside = ((y < -OUTPUT_RANGE_TOL) | (y > 1.0 + OUTPUT_RANGE_TOL)).flatten(1).any(1)
        if bool(outside.any()):  # clamped below, but counted: a model returning x255 or [-1, 1] is a bug
            self.output_checks["out_of_range_images"] += int(outside.sum())
        return y.clamp(0.0, 1.0).to(src_device)

    def _input_message(self, x) -> str:
        """The one-line error for an input that is not an N x 3 x H x W torch tensor, with the conversion to use."""
        shape = tuple(getattr(x, "shape", ()))
        got = (f"a torch tensor of shape {shape}" if type(x).__module__.startswith("torch")
               else f"a {type(x).__module__.split('.')[0]}.{type(x).__name__} of shape {shape}" if shape
               else f"a {type(x).__name__}")
        return (f"{self.name}.enhance: expected a float torch tensor N x 3 x H x W (RGB in [0, 1]), got {got}; "
                "convert an H x W x 3 image (ledbench.bench.imageio.read_image) with "
                "ledbench.bench.imageio.to_tensor(img) and back with from_tensor(y); an N x 3 x H x W float array "
                "with torch.from_numpy(x)")

    @property
    def output_checks(self):
        """Counts of outputs outside the contract since creation: ``out_of_range_images`` (values outside [0, 1]
        by more than ``OUTPUT_RANGE_TOL``, clamped) and ``non_finite_batches`` (refused)."""
        if "_output_checks" not in self.__dict__:
            from collections import Counter

            self.__dict__["_output_checks"] = Counter()
        return self.__dict__["_output_checks"]

    __call__ = enhance

    @contextlib.contextmanager
    def reporting_tiles(self, callback: Callable[[int, int], None] | None):
        """Within the block, ``callback(tiles_done, tiles_total)`` is called after each tile of a tiled call (sets
        ``progress_callback``, restored on exit)."""
        had, own = "progress_callback" in self.__dict__, self.__dict__.get("progress_callback")
        self.progress_callback = callback
        try:
            yield self
        finally:
            if had:
                self.progress_callback = own
            else:
                del self.progress_callback

    def _oom_message(self, x) -> str:
        n, _, h, w = x.shape
        tile = self.tile if isinstance(self.tile, int) else getattr(self, "_tile_used", 0)
        smaller = max(64, tile // 2) if tile else 512
        how = (f"set tile={smaller} (`--tile {smaller}` for ledbench enhance: overlapping tiles of that size, moved to "
               f"the device one at a time; tile and tile_overlap are part of the cache key, and tiling can shift "
               f"scores slightly)")
        if n > 1:
            how += " or batch=1"
        if self.device.type == "cuda" and not self.amp:
            how += ", or amp=true (float16 autocast)"
        tiled = f" with tile={self.tile}" if self.tile == "auto" else (f" with tile={tile}" if tile else "")
        return (f"{self.name}: out of memory on {self.device} for a {n} x 3 x {h} x {w} batch "
                f"({h * w / 1e6:.1f} Mpx per image){tiled}: {how}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, config={self.config!r})"


#: how far outside [0, 1] an output value may be before it counts as out of range (float rounding of a sigmoid)
OUTPUT_RANGE_TOL = 1e-3


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's CUDA/MPS out-of-memory errors and a failed host allocation."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text


class NumpyEnhancer(Enhancer):
    """An enhancer written per image with numpy / scikit-image: implement :meth:`enhance_array`."""

    accepts_weights = False

    def enhance_array(self, img):
        """``img``: H x W x 3 float64 RGB in [0, 1] -> same shape (values outside [0, 1] are clipped)."""
        raise NotImplementedError

    def _enhance(self, x):
        import numpy as np
        import torch

        arrays = x.detach().cpu().double().permute(0, 2, 3, 1).numpy()
        out = [np.clip(self.enhance_array(a), 0.0, 1.0) for a in arrays]
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float().to(x.device)


class TorchEnhancer(Enhancer):
    """An enhancer wrapping an ``nn.Module`` whose state dict loads the official checkpoint unchanged.

    Subclasses implement :meth:`build_model` (from ``self.config``) and, when the model returns several outputs,
    :meth:`forward` to pick the final one. Class attributes state the official pre/post-processing:
    ``input_range`` ((0, 1) or (-1, 1)), ``pad_multiple`` and ``pad_mode`` ('reflect', 'constant' or 'crop').
    """

    requires_weights = True
    input_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    pad_multiple: ClassVar[int] = 1
    pad_mode: ClassVar[str] = "reflect"
    #: run CPU inference with subnormal floats flushed to zero (see :func:`flush_denormal`)
    flush_denormal: ClassVar[bool] = True

    def build_model(self):
        raise NotImplementedError

    def forward(self, x):
        """Run the model on a pre-processed, padded batch and return the final output tensor."""
        return self.model(x)

    def setup(self) -> None:
        self.model = self.build_model()
        if self.weights_path is not None:
            state = load_checkpoint(self.weights_path, self.weights_spec, trust=self.trust_weights)
            try:
                self.load_state_dict(state)
            except RuntimeError as exc:  # a subclass's own strict load: one line, not torch's key dump
                if "Error(s) in loading state_dict" not in str(exc):
                    raise
                load_state_dict_checked(self.model, state, source=self.weights_path,
                                        arch=f"{self.name} ({type(self.model).__name__})")
                raise WeightsUnavailable(f"{str(self.weights_path)!r} does not fit {self.name}: "
                                         f"{' '.join(str(exc).split())[:300]}") from None
        self.model.eval().to(self.device)
        for p in self.model.parameters():
            p.requires_grad_(False)

    def load_state_dict(self, state: dict) -> None:
        """Load an official state dict with ``strict=True`` (override to drop training-only keys); a key or shape
        mismatch is one line naming the file, the architecture and the first differing keys."""
        load_state_dict_checked(self.model, state, source=self.weights_path,
                                arch=f"{self.name} ({type(self.model).__name__})")

    # -- pre/post-processing ------------------------------------------------------------------------------------
    def _to_model_range(self, x):
        lo, hi = self.input_range
        return x if (lo, hi) == (0.0, 1.0) else x * (hi - lo) + lo

    def _from_model_range(self, y):
        lo, hi = self.input_range
        return y if (lo, hi) == (0.0, 1.0) else (y - lo) / (hi - lo)

    def _run_padded(self, x):
        import torch.nn.functional as F

        h, w = x.shape[-2:]
        m = self.pad_multiple
        if m > 1 and self.pad_mode != "crop":
            ph, pw = (m - h % m) % m, (m - w % m) % m
            if ph or pw:
                mode = self.pad_mode if self.pad_mode != "reflect" or (ph < h and pw < w) else "replicate"
                x = F.pad(x, (0, pw, 0, ph), mode=mode)
        if self.channels_last:
            import torch

            x = x.contiguous(memory_format=torch.channels_last)
        y = self.forward(self._to_model_range(x))
        return self._from_model_range(y[..., :h, :w])

    def use_channels_last(self, on: bool = True) -> TorchEnhancer:
        """Run the model in channels_last memory format (faster convolutions on recent GPUs); returns ``self``."""
        import torch

        self.channels_last = bool(on)
        self.model.to(memory_format=torch.channels_last if on else torch.contiguous_format)
        return self

    def _autocast(self):
        import torch

        if self.amp and self.device.type == "cuda":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16 if self.amp == "bfloat16" else torch.float16)
        return contextlib.nullcontext()

    def _enhance(self, x):
        with flush_denormal(self.flush_denormal and self.device.type == "cpu"), self._autocast():
            tile = self._tile_for(x)
            if tile and max(x.shape[-2:]) > tile:
                return tiled_apply(lambda t: self._run_padded(t.to(self.device)).float().cpu(), x.cpu(),
                                   tile, self.tile_overlap, on_tile=self.progress_callback).to(x.device)
            return self._run_padded(x.to(self.device)).float()

    # -- tile=auto ----------------------------------------------------------------------------------------------
    def _tile_for(self, x) -> int:
        """The tile size for ``x``: ``self.tile``, or for ``tile="auto"`` the one :func:`auto_tile` picks."""
        if self.tile != "auto":
            return self.tile
        n, _, h, w = x.shape
        if getattr(self, "_bytes_per_pixel", None) is None:
            self._bytes_per_pixel = self._probe_bytes_per_pixel()
        self._tile_used = auto_tile(n, h, w, self._bytes_per_pixel, memory_budget(self.device),
                                    overlap=self.tile_overlap, multiple=self.pad_multiple)
        return self._tile_used

    def _probe_bytes_per_pixel(self, side: int = 256) -> float:
        """Peak bytes the model allocates per input pixel, measured on one ``side`` x ``side`` probe image."""
        import torch

        m = max(1, self.pad_multiple)
        side = -(-side // m) * m
        probe = torch.full((1, 3, side, side), 0.5, device=self.device)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            base = torch.cuda.memory_allocated(self.device)
            self._run_padded(probe)
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) - base
        else:
            with TensorMemoryTracker(self.device.type) as tracker:
                self._run_padded(probe)
            peak = tracker.peak
        return max(peak, 1) / (side * side)


def parse_tile(tile: int | str) -> int | str:
    """``tile`` option: 0 (whole image), a window size in pixels, or ``"auto"`` (size from a memory budget)."""
    if isinstance(tile, str) and tile.strip().lower() == "auto":
        return "auto"
    try:
        value = int(tile)
    except (TypeError, ValueError):
        raise ConfigError(f"tile={tile!r}: use 0 (whole image), a window size in pixels, or auto") from None
    if value < 0:
        raise ConfigError(f"tile={tile!r}: use 0 (whole image), a window size in pixels, or auto")
    return value


def parse_amp(amp: bool | str) -> bool | str:
    """``amp`` option: False, True / ``"float16"`` (float16 autocast on CUDA) or ``"bfloat16"``."""
    if isinstance(amp, str):
        key = amp.strip().lower()
        if key in ("", "0", "false", "no", "off"):
            return False
        if key in ("1", "true", "yes", "on", "fp16", "float16", "half"):
            return True
        if key in ("bf16", "bfloat16"):
            return "bfloat16"
        raise ConfigError(f"amp={amp!r}: use false, true (float16 autocast on CUDA) or bf16")
    return bool(amp)


def _flush_denormal_is_on() -> bool:
    import torch

    return float(torch.tensor([1e-40], dtype=torch.float32).mul(1.0)[0]) == 0.0  # subnormal read or made as 0


@contextlib.contextmanager
def flush_denormal(enabled: bool = True):
    """Treat subnormal floats as zero on this thread for the block (``torch.set_flush_denormal``: x86 FTZ+DAZ).

    Why: the released Zero-DCE, Zero-DCE++ and IAT checkpoints hold thousands of subnormal weights, and x86 CPUs
    compute with subnormals through a slow microcode path. Flushing them leaves those models' outputs bit-identical
    (tests/test_tiling.py) and runs them several times faster (benchmarks/bench_denormal.py). The mode is a
    per-thread CPU flag: it is restored on exit (left on if it was already on), and torch's other intra-op worker
    threads keep their own flag, so the gain is largest with one thread. No effect where the CPU lacks the flags.
    """
    if not enabled:
        yield
        return
    import torch

    was_on = _flush_denormal_is_on()
    changed = not was_on and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)


class TensorMemoryTracker:
    """Peak bytes of live torch tensors created on ``device_type`` inside the ``with`` block.

    Counts every tensor an aten op returns (one count per storage, released when its last tensor object dies) via
    ``TorchDispatchMode``; tensors made before the block and kernels' internal scratch buffers are not counted.
    Used on CPU, where torch keeps no allocator statistics (on CUDA use ``torch.cuda.max_memory_allocated``).
    """

    def __init__(self, device_type: str = "cpu"):
        self.device_type = device_type
        self.current = 0
        self.peak = 0
        self._live: dict[int, list[int]] = {}
        self._mode = None

    def _release(self, key: int) -> None:
        entry = self._live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            self.current -= entry[0]
            del self._live[key]

    def _track(self, t, inputs: set[int]) -> None:
        if t.device.type != self.device_type:
            return
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key == 0 or (key in inputs and key not in self._live):
            return  # a view of (or in-place op on) a tensor made before the block
        if key in self._live:
            self._live[key][1] += 1
        else:
            self._live[key] = [storage.nbytes(), 1]
            self.current += storage.nbytes()
            self.peak = max(self.peak, self.current)
        weakref.finalize(t, self._release, key)

    def __enter__(self):
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_leaves

        tracker = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                inputs = {a.untyped_storage().data_ptr() for a in tree_leaves((args, kwargs))
                          if isinstance(a, torch.Tensor)}
                for leaf in tree_leaves(out):
                    if isinstance(leaf, torch.Tensor):
                        tracker._track(leaf, inputs)
                return out

        self._mode = _Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        return False


#: default CPU memory budget of ``tile="auto"``: what one window may use (inputs/outputs of the whole image, kept
#: on the host, come on top); override with ``$LEDBENCH_TILE_BUDGET_MB`` (on CPU and CUDA)
CPU_TILE_BUDGET_MB = 2048
#: share of the free CUDA memory (``torch.cuda.mem_get_info``) that ``tile="auto"`` plans to use
CUDA_FREE_FRACTION = 0.7
#: margin on the probed bytes per pixel (allocator fragmentation, kernels' scratch buffers)
AUTO_TILE_SAFETY = 1.5


def memory_budget(device) -> int:
    """Bytes one tile may use on ``device``: ``$LEDBENCH_TILE_BUDGET_MB``, else 70 % of free CUDA memory, else
    :data:`CPU_TILE_BUDGET_MB`."""
    env = os.environ.get("LEDBENCH_TILE_BUDGET_MB", "").strip()
    if env:
        try:
            return int(float(env) * 2**20)
        except ValueError:
            raise ConfigError(f"LEDBENCH_TILE_BUDGET_MB={env!r}: expected a number of MiB, e.g. 2048") from None
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free * CUDA_FREE_FRACTION)
    return CPU_TILE_BUDGET_MB * 2**20


def auto_tile(n: int, h: int, w: int, bytes_per_pixel: float, budget: int, *, overlap: int = 32,
              multiple: int = 1) -> int:
    """Tile size for an ``n x 3 x h x w`` batch: 0 when the whole batch fits ``budget``, else the largest square
    window (a multiple of 16 and of ``multiple``, larger than ``2 * overlap``) whose estimated memory fits.

    Assumes memory grows linearly with pixels (convolutions, Restormer-style channel attention); a model with
    spatial global attention grows faster: give it an explicit ``tile``.
    """
    per_pixel = bytes_per_pixel * AUTO_TILE_SAFETY * max(1, n)
    if per_pixel * h * w <= budget:
        return 0
    step = 16 * max(1, multiple) // math.gcd(16, max(1, multiple))
    side = int(math.sqrt(budget / per_pixel)) // step * step
    smallest = -(-(2 * overlap + step) // step) * step
    return max(side, smallest, 64)


def _window_starts(size: int, tile: int, stride: int) -> list[int]:
    starts = list(range(0, max(size - tile, 0) + 1, stride))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def _window_cores(starts: list[int], tile: int, size: int) -> list[tuple[int, int]]:
    """Per window, the range ``[lo, hi)`` it writes: neighbours meet in the middle of their overlap."""
    ends = [min(s + tile, size) for s in starts]
    cuts = [(starts[i + 1] + ends[i]) // 2 for i in range(len(starts) - 1)]
    return list(zip([0, *cuts], [*cuts, size]))


def tiled_apply(fn, x, tile: int, overlap: int, blend: str = "crop",
                on_tile: Callable[[int, int], None] | None = None):
    """Apply ``fn`` to overlapping ``tile`` x ``tile`` windows of ``x`` (N x C x H x W) and stitch the results.

    Windows start every ``tile - overlap`` pixels (the last one flush with the border) and are cut from ``x`` and
    passed to ``fn`` one at a time; results go straight into one preallocated host buffer, so peak memory is that
    buffer plus one window's work, whatever the image size (the Real-ESRGAN #184 lesson).

    ``blend="crop"`` (used by enhancers): each output pixel comes from one window, neighbours meeting in the middle
    of their overlap, so every kept pixel lies at least ``overlap // 2`` pixels inside its window. The result then
    equals the whole-image output exactly for a model whose receptive field reaches at most ``overlap // 2`` pixels
    (and whose padding to a multiple does not matter, e.g. ``tile`` a multiple of it); models with global context
    (attention over the whole image, global pooling, image statistics) change (docs/tiling.md). ``blend="mean"``
    averages all windows covering a pixel (ledbench before 0.2). ``on_tile(done, total)``, when given, is called
    after each window (``done`` = 1 .. ``total``, the number of windows), e.g. to show progress.
    """
    import torch

    if blend not in ("crop", "mean"):
        raise ConfigError(f"tiled_apply blend={blend!r}: use crop or mean")
    n, _, h, w = x.shape
    stride = max(1, tile - overlap)
    ys, xs = _window_starts(h, tile, stride), _window_starts(w, tile, stride)
    total, done = len(ys) * len(xs), 0
    out = weight = None
    if blend == "mean":
        weight = torch.zeros((1, 1, h, w), dtype=torch.float32)
    for y0, (ylo, yhi) in zip(ys, _window_cores(ys, tile, h)):
        for x0, (xlo, xhi) in zip(xs, _window_cores(xs, tile, w)):
            res = fn(x[..., y0:y0 + tile, x0:x0 + tile])
            if out is None:
                out = (torch.empty if blend == "crop" else torch.zeros)((n, res.shape[1], h, w), dtype=torch.float32)
            if blend == "crop":
                out[..., ylo:yhi, xlo:xhi] = res[..., ylo - y0:yhi - y0, xlo - x0:xhi - x0]
            else:
                out[..., y0:y0 + res.shape[-2], x0:x0 + res.shape[-1]] += res
                weight[..., y0:y0 + res.shape[-2], x0:x0 + res.shape[-1]] += 1
            del res
            if on_tile is not None:
                done += 1
                on_tile(done, total)
    return out if blend == "crop" else out.div_(weight)


class Cascade(Enhancer):
    """Stages applied left to right; the canonical name joins the stage names with ``+``."""

    def __init__(self, stages: list[Enhancer], *, name: str | None = None):
        self.stages = list(stages)
        self.config = NoConfig()
        self.name = name or "+".join(s.name for s in self.stages)
        self.device = self.stages[0].device
        self.tile, self.tile_overlap, self.amp = 0, 0, False
        self.tag = None
        self.weights_spec = None
        self.weights_path = None
        digests = [s.weights_sha256 or "-" for s in self.stages]
        self.weights_sha256 = (None if all(d == "-" for d in digests)
                               else hashlib.sha256("+".join(digests).encode()).hexdigest())

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "stages": [s.identity() for s in self.stages]}

    def _enhance(self, x):
        tell, m = self.progress_callback, len(self.stages)
        for i, stage in enumerate(self.stages):
            if tell is None:
                x = stage.enhance(x)
                continue
            # one count over the stages: window k of n in stage i of m is (i * n + k, m * n), a fraction that only grows
            with stage.reporting_tiles(lambda k, n, i=i: tell(i * n + k, m * n)):
                x = stage.enhance(x)
        return x


def fields_of(config_cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(config_cls)]
