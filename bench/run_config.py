"""The run configuration: :class:`RunConfig` (the keys of a run file), reading YAML run files, and validation.

Every key is checked at the door with a one-line :class:`ConfigError` naming the key and its valid range, so a
bad value never starts a run (or, worse, runs and silently changes what was measured).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ledbench.bench.config import build_config
from ledbench.bench.errors import ConfigError

__all__ = ["EnhancerEntry", "RunConfig", "choose_run_dir", "default_run_file", "load_run_config",
           "measured_config_hash", "validate_run_config"]


@dataclass(frozen=True)
class RunConfig:
    """Keys of a run file / ``key=value`` overrides (see ``ledbench run --help``).

    ``metrics``: the quality metrics (task ``quality``); ``task_metrics``: ``{task name: [metric, ...]}`` for the
    downstream tasks (default: each task's ``default_metrics``). ``limit``: first N images (0: all).
    ``tile``: 0 (whole image), the tile size in pixels (larger than ``tile_overlap``) or ``auto`` (from a memory
    budget). ``amp``: false, true (float16 autocast on CUDA) or bf16. ``plan_memo``: remember each model's identity
    (:mod:`ledbench.bench.plans`) so a fully cached re-run builds no model and imports no torch (false: always build).
    ``severity``: a severity sweep in one run (``dataset=synth:FOLDER severity=1,3,5`` or ``dataset=synth_mini
    severity=1,3``; :mod:`ledbench.datasets.sweep`): results get a ``severity`` column, one cell per level.
    """

    name: str = "default"
    dataset: str = "synth_mini"
    dataset_args: dict = field(default_factory=dict)
    severity: tuple[float, ...] = ()
    enhancers: tuple[str, ...] = ("identity",)
    tasks: tuple[str, ...] = ("quality",)
    metrics: tuple[str, ...] = ("psnr", "ssim")
    task_metrics: dict = field(default_factory=dict)
    out: str = ""
    limit: int = 0
    device: str = "auto"
    batch: int = 1
    workers: int = 2
    on_error: Literal["skip", "fail"] = "skip"
    seed: int = 0
    skip_unavailable: bool = True
    include_reference: bool = True
    download: bool = False
    tile: int | str = 0
    tile_overlap: int = 32
    amp: bool | str = False
    cache_dir: str = ""
    quiet: bool = False
    verbose: bool = False
    save_images: bool = False
    exist_ok: bool = False
    plan_memo: bool = True
    description: str = ""
    version: int = 1

    @property
    def run_dir(self) -> Path:
        """The requested run directory (:func:`choose_run_dir` decides the one actually written)."""
        return Path(self.out) if self.out else Path("runs") / self.name


#: keys that do not change what a run measures (a re-run that differs only in these refreshes its directory)
PRESENTATION_KEYS = ("quiet", "verbose", "on_error", "workers", "out", "exist_ok", "cache_dir", "description", "name",
                     "plan_memo")


def measured_config_hash(cfg: RunConfig | Mapping[str, Any]) -> str:
    """Hash of the keys that decide what is measured (not ``quiet``, ``workers``, ``out`` ...), from a config or
    the ``run_config`` dict a run's manifest stores (keys missing there take today's defaults)."""
    from ledbench.bench.config import config_hash, config_to_dict

    data = {**config_to_dict(RunConfig()), **dict(cfg)} if isinstance(cfg, Mapping) else config_to_dict(cfg)
    if not data.get("severity"):  # runs that are not sweeps keep the hash they had before the key existed
        data.pop("severity", None)
    return config_hash({k: v for k, v in data.items() if k not in PRESENTATION_KEYS})


def choose_run_dir(cfg: RunConfig) -> Path:
    """The run directory to write: never silently replaces a different run.

    The same run again (same measured config) refreshes its directory (resuming from the cache). A directory that
    holds a different run is replaced only with ``exist_ok=true``; otherwise the default location ``runs/<name>``
    is numbered (``runs/<name>-2``, as ultralytics does) and an explicit ``out=`` is an error.
    """
    import json

    def holds_other(d: Path) -> bool:
        manifest = d / "manifest.json"
        if not d.exists():
            return False
        if not manifest.is_file():
            return any(d.iterdir()) if d.is_dir() else True
        try:
            stored = json.loads(manifest.read_text()).get("run_config")
            return not isinstance(stored, Mapping) or measured_config_hash(stored) != measured_config_hash(cfg)
        except (OSError, ValueError, TypeError):
            return True

    first = cfg.run_dir
    if cfg.exist_ok or not holds_other(first):
        return first
    if cfg.out:
        raise ConfigError(f"run directory {str(first)!r} holds a different run; pass exist_ok=true to replace it "
                          "or choose another out=DIR (cached work is reused either way)")
    for i in range(2, 10_000):
        cand = first.with_name(f"{first.name}-{i}")
        if not holds_other(cand):
            return cand
    raise ConfigError(f"too many numbered run directories beside {str(first)!r}; pass out=DIR")


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _shown(value: Any) -> str:
    """A key's value as the user typed it: ``(1.0, 3.0)`` -> ``1,3``, ``()`` -> ``''``, other values by repr."""
    if isinstance(value, (tuple, list)):
        return repr(",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value))
    return repr(value)


def validate_run_config(cfg: RunConfig) -> RunConfig:
    """Raise a one-line :class:`ConfigError` for the first key outside its valid range; return ``cfg``."""
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"run key {key}={_shown(getattr(cfg, key))}: {why}")

    if cfg.limit < 0:
        raise bad("limit", "must be >= 0 (0 means every image)")
    if cfg.batch < 1:
        raise bad("batch", "must be >= 1")
    if cfg.workers < 0:
        raise bad("workers", "must be >= 0 (0 reads images in the main thread)")
    if cfg.tile_overlap < 0:
        raise bad("tile_overlap", "must be >= 0")
    if isinstance(cfg.tile, str):
        if cfg.tile.strip().lower() != "auto":
            raise bad("tile", "must be 0 (no tiling), a size in pixels larger than tile_overlap, or auto")
    elif cfg.tile < 0 or (cfg.tile and cfg.tile <= cfg.tile_overlap):
        raise bad("tile", f"must be 0 (no tiling), auto, or larger than tile_overlap={cfg.tile_overlap}")
    if isinstance(cfg.amp, str) and cfg.amp.strip().lower() not in ("fp16", "float16", "half", "bf16", "bfloat16"):
        raise bad("amp", "must be false, true (float16 autocast on CUDA) or bf16")
    if not [e for e in cfg.enhancers if str(e).strip()]:
        raise bad("enhancers", "needs at least one enhancer, e.g. enhancers=identity,clahe (ledbench list enhancers)")
    if not [t for t in cfg.tasks if str(t).strip()]:
        raise bad("tasks", "needs at least one task, e.g. tasks=quality (ledbench list tasks)")
    if not isinstance(cfg.dataset_args, Mapping):
        raise bad("dataset_args", "must be a mapping, e.g. \"dataset_args={split: test}\"")
    if not isinstance(cfg.task_metrics, Mapping):
        raise bad("task_metrics", "must be a mapping of task name to metric list, e.g. "
                                  "\"task_metrics={det_yolo: [map50]}\"")
    if not _DEVICE.match(str(cfg.device)):
        raise bad("device", "must be auto, cpu, cuda, cuda:N or mps")
    if not str(cfg.dataset).strip():
        raise bad("dataset", "names a dataset, e.g. synth_mini or folder:/path (ledbench list datasets)")
    if cfg.severity:
        if len(set(cfg.severity)) != len(cfg.severity):
            raise bad("severity", "lists a severity twice")
        if str(cfg.dataset).partition(":")[0].strip() not in ("synth", "synth_mini"):
            raise bad("severity", f"sweeps dataset=synth:FOLDER (written by ledbench synth SHARP FOLDER "
                                  f"severity=1,3,5) or dataset=synth_mini, not dataset={cfg.dataset!r}")
    return cfg


def load_run_config(path: str | os.PathLike | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML run file (flat keys of :class:`RunConfig`; ``include: other.yaml`` merges a base file first),
    apply ``overrides`` and validate."""
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_yaml(Path(path))
    data.update(overrides or {})
    if isinstance(data.get("enhancers"), list):  # YAML mappings {name, weights, label} -> "name:weights=..:label=.."
        data["enhancers"] = [_entry_text(e) for e in data["enhancers"]]
    if "dataset_args" in data and not isinstance(data["dataset_args"], Mapping):
        raise ConfigError(f"run key dataset_args={data['dataset_args']!r}: must be a mapping, e.g. "
                          "\"dataset_args={split: test}\"")
    return validate_run_config(build_config(RunConfig, data, owner="run"))


def _entry_text(entry: Any) -> Any:
    if not isinstance(entry, Mapping):
        return entry
    entry = dict(entry)
    if "name" not in entry:
        raise ConfigError(f"enhancers entry {entry!r}: a mapping needs a name, e.g. {{name: dap_led_small, "
                          "weights: runs/x/final.pt}")
    name = str(entry.pop("name"))
    return ":".join([name] + [f"{k}={v}" for k, v in entry.items()])


def _read_yaml(path: Path, depth: int = 0) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ConfigError(f"run file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"run file {str(path)!r} is not valid YAML ({where}{what})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"run file {str(path)!r} must be a mapping of keys to values")
    inc = data.pop("include", None)
    if inc and depth < 5:
        base = _read_yaml((path.parent / inc).resolve(), depth + 1)
        base.update(data)
        data = base
    return data


def default_run_file() -> Path:
    """The embedded default benchmark (``ledbench run`` with no run file)."""
    return Path(__file__).resolve().parent / "runs" / "default.yaml"


@dataclass(frozen=True)
class EnhancerEntry:
    """One ``enhancers`` entry: ``name`` or ``name:weights=PATH[:label=ROW][:trust_weights=true]``.

    ``label`` is the results row (default: the name, or ``name@<weights file stem>`` with explicit weights), so a
    trained checkpoint is benchmarked beside the released ones: ``enhancers=identity,dap_led_small:weights=runs/x/
    final.pt``. In a YAML run file an entry may also be a mapping ``{name: ..., weights: ..., label: ...}``.
    """

    label: str
    name: str
    options: tuple[tuple[str, str], ...] = ()

    OPTIONS = ("weights", "label", "trust_weights")

    @classmethod
    def parse(cls, entry: str) -> EnhancerEntry:
        name, sep, rest = str(entry).strip().partition(":")
        opts: dict[str, str] = {}
        for part in rest.split(":") if sep else []:
            key, eq, value = part.partition("=")
            if not eq or key.strip() not in cls.OPTIONS:
                raise ConfigError(f"enhancers entry {entry!r}: expected NAME:KEY=VALUE with KEY one of "
                                  f"{', '.join(cls.OPTIONS)} (e.g. dap_led_small:weights=runs/x/final.pt)")
            opts[key.strip()] = value.strip()
        if "+" in name and "weights" in opts:
            raise ConfigError(f"enhancers entry {entry!r}: a cascade takes no weights; register a named stage")
        label = opts.pop("label", "") or (f"{name}@{Path(opts['weights']).stem}" if "weights" in opts else name)
        return cls(label, name, tuple(sorted(opts.items())))

    @property
    def weights(self) -> str | None:
        return dict(self.options).get("weights")
