"""The benchmark runner: enhance -> predict -> score -> store, each a stage over independent, cached units.

:class:`Runner` resolves the run (dataset, enhancers, tasks, metrics), then drives the stages:

1. enhance (:class:`ledbench.bench.stages.StageRunner`): one unit per (enhancer, image);
2. predict: one unit per (task, image the task runs on), including the sharp reference (the ``reference`` row);
3. score (:mod:`ledbench.bench.scoring`): one unit per (enhancer, task, protocol, image);
4. store: ``results.csv``, ``per_image.csv``, ``manifest.json``, ``dataset_manifest.json`` and ``report.md`` are
   written into a temporary sibling folder and swapped in, so a reader never sees a mix of two runs.

Every cache key is a pure function of identities and content hashes, so under ``torchrun`` (``RANK`` /
``WORLD_SIZE`` set) each rank computes only its share of the images (:func:`shard_items`), scores its per-image
units, and after a barrier rank 0 builds every unit from the keys (all cache hits) and writes the run directory; no
rank repeats another's work. With ``on_error=skip`` a unit that raises any ``Exception`` is recorded (stage,
enhancer, image, task, metric, message) and everything else goes on; with ``on_error=fail`` the run stops at the
first failure with one line, and every finished unit stays cached.

Floor and ceiling: the ``identity`` enhancer is the degraded input as is; the pseudo-enhancer ``reference`` is the
sharp reference (downstream tasks only).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledbench.bench.cache import Cache, Identity, prediction_key
from ledbench.bench.config import canonical_json, config_hash, config_to_dict
from ledbench.bench.errors import ConfigError, InputError, LedbenchError, WeightsUnavailable
from ledbench.bench.files import write_json
from ledbench.bench.paths import cache_dir, ensure_writable_dir
from ledbench.bench.results import PER_IMAGE_COLUMNS, RESULT_COLUMNS, PerImageRow, ResultRow, csv_bytes, write_run_dir
from ledbench.bench.run_config import (
    EnhancerEntry,
    RunConfig,
    choose_run_dir,
    default_run_file,
    load_run_config,
    measured_config_hash,
)
from ledbench.bench.scoring import (
    LABEL_FREE,
    QUALITY,
    REFERENCE,
    RowCollector,
    ScoreGroup,
    ScoreUnit,
    Source,
    SourceLoader,
    downstream_units,
    metric_directions_of,
    quality_units,
    reference_image_key,
    score_stage,
)
from ledbench.bench.stages import Handoff, StageRunner, enhanced_keys, prefetch, preload, progress_bar

__all__ = ["RunConfig", "RunOutcome", "Runner", "Skipped", "run", "load_run_config", "default_run_file",
           "shard_items", "dist_info", "init_distributed", "prefetch", "REFERENCE"]


# -- distributed helpers ----------------------------------------------------------------------------------------

def dist_info() -> tuple[int, int]:
    """(rank, world_size) from the torchrun environment; (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init_distributed(device) -> Any:
    """Under torchrun (``WORLD_SIZE`` > 1) join the process group (NCCL on CUDA, gloo on CPU) and return this
    rank's device (``cuda:LOCAL_RANK`` for CUDA); otherwise return ``device`` unchanged."""
    rank, world = dist_info()
    if world <= 1:
        return device
    import torch
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def _barrier() -> None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
    except ImportError:  # pragma: no cover
        pass


def shard_items(items: list, rank: int, world: int, sizes: list[int] | None = None) -> list:
    """This rank's share of ``items``: a pure function of the list, so every rank agrees without talking.

    With ``sizes`` (pixels per item) the items are balanced greedily by size (largest first onto the least loaded
    rank, ties by rank), else dealt round-robin. The share keeps the dataset order.
    """
    if world <= 1:
        return list(items)
    if sizes is None:
        return list(items[rank::world])
    load = [0] * world
    owner = [0] * len(items)
    for i in sorted(range(len(items)), key=lambda i: (-sizes[i], i)):
        r = min(range(world), key=lambda r: (load[r], r))
        owner[i] = r
        load[r] += sizes[i]
    return [it for it, r in zip(items, owner) if r == rank]


# -- outcome ----------------------------------------------------------------------------------------------------

@dataclass
class Skipped:
    kind: str
    name: str
    reason: str


@dataclass
class RunOutcome:
    run_dir: Path
    rows: list[ResultRow]
    skipped: list[Skipped]
    errors: list[dict[str, str]]
    cache_stats: dict[str, int]
    wall_time_s: float
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)
    tables: Any = None  # what report.md and the console show (reports.report.RunTables), when there were results
    _statistics: Any = dataclasses.field(default=None, repr=False)  # the frame, or a function that reads it

    @property
    def statistics(self) -> Any:
        """The paired bootstrap table (reports.stats.bootstrap_table), when there were results; statistics that
        came from the cache are read into a frame (pandas) on first access."""
        if callable(self._statistics):
            self._statistics = self._statistics()
        return self._statistics

    @statistics.setter
    def statistics(self, value: Any) -> None:
        self._statistics = value


def _pixel_counts(items: list) -> list[int]:
    """Pixels per item from file headers (no decoding), to balance ranks; an unreadable header counts as 1 (the
    failure is reported by the stage that reads it)."""
    import numpy as np

    from ledbench.bench.imageio import image_size

    sizes = []
    for it in items:
        try:
            h, w = (image_size(it.input, oriented=False) if isinstance(it.input, (str, os.PathLike))
                    else np.shape(it.input)[:2] if isinstance(it.input, np.ndarray) else (1, 1))
        except Exception:  # noqa: BLE001
            h, w = 1, 1
        sizes.append(int(h) * int(w))
    return sizes


def _output_checks(enhancer: Any) -> dict[str, int]:
    """Counts of contract violations in an enhancer's outputs (its cascade stages included)."""
    total: dict[str, int] = {}
    for part in [enhancer, *getattr(enhancer, "stages", [])]:
        for key, n in dict(getattr(part, "output_checks", {}) or {}).items():
            total[key] = total.get(key, 0) + int(n)
    return {k: v for k, v in total.items() if v}


def _is_label_free(metric_name: str) -> bool:
    """Whether registered metric ``metric_name`` belongs to the ``label_free`` protocol (imports its class)."""
    from ledbench.tasks.metrics import METRICS

    return getattr(METRICS.get(metric_name), "protocol", "") == LABEL_FREE


def _expand(names: tuple[str, ...], lister: Callable[..., list[str]]) -> list[str]:
    out: list[str] = []
    for n in names:
        n = str(n).strip()
        if not n:
            continue
        if any(ch in n for ch in "*?["):
            found = lister(n)
            if not found:
                raise ConfigError(f"the pattern {n!r} matches no registered name")
            out.extend(found)
        else:
            out.append(n)
    return list(dict.fromkeys(out))


class LazyPlugin:
    """An enhancer or task model known by its memoised identity (:mod:`ledbench.bench.plans`), built on first use.

    A run needs a plugin's identity to name its cache entries; the model itself only for a unit that is not
    cached. When every unit is cached the model is never built (and torch never imported). When it is built, its
    identity must equal the memoised one, else the run stops (the memo was stale: rerun)."""

    def __init__(self, name: str, answer: dict[str, Any], build: Callable[[], Any], forget: Callable[[], None]):
        self.name = name
        self._answer = answer
        self._build, self._forget = build, forget
        self._real: Any = None
        self.kind = answer.get("kind", "")
        self.default_metrics = tuple(answer.get("default_metrics", ()))
        self.label_free_metrics = tuple(answer.get("label_free_metrics", ()))
        self.weights_sha256 = answer.get("weights_sha256")
        self._identity = Identity(answer["identity"])

    @property
    def real(self) -> Any:
        if self._real is None:
            real = self._build()
            if canonical_json(real.identity()) != canonical_json(self._answer["identity"]):
                self._forget()
                raise InputError(f"{self.name}: its weights or code changed while the run was being planned; "
                                 "run again (finished units are kept)")
            self._real = real
        return self._real

    def identity(self) -> dict[str, Any]:
        return self._identity

    @property
    def config_hash(self) -> str:
        return config_hash(self._identity)

    def enhance(self, x):
        return self.real.enhance(x)

    def reporting_tiles(self, callback):
        """See ``Enhancer.reporting_tiles`` (builds the model: the stages call it only when the model runs)."""
        return self.real.reporting_tiles(callback)

    def predict(self, images):
        return self.real.predict(images)

    @property
    def output_checks(self) -> dict[str, int]:
        return _output_checks(self._real) if self._real is not None else {}


class Runner:
    """Runs one :class:`RunConfig`. Use :func:`run` for the one-call form."""

    def __init__(self, config: RunConfig, *, log: Callable[[str], None] | None = None):
        self.cfg = config
        self.log = log or (lambda msg: None)
        self.rank, self.world = dist_info()
        root = Path(config.cache_dir).expanduser() if config.cache_dir else cache_dir()
        self.cache = Cache(ensure_writable_dir(root, "cache directory"))
        self.skipped: list[Skipped] = []
        self.errors: list[dict[str, str]] = []
        self._items_by_id: dict[str, Any] = {}
        self._skipped_metrics: set[str] = set()
        self.not_scored: list[dict[str, str]] = []
        self._label_free_auto: dict[str, list[str]] = {}  # task -> label-free metrics used in place of unscorable ones
        self._memo: Any = None          # PlanMemo, opened by run()
        self._tables_key: str | None = None  # cache key of report.md's tables, once the statistics are known
        self._device: Any = None        # the torch device, resolved on first need (torch import)
        self._device_kind = ""          # cpu | cuda | mps, known without torch where possible

    # -- device and models, on demand ---------------------------------------------------------------------------
    def _torch_device(self):
        """The run's torch device (imports torch, seeds it, joins the process group under torchrun): called the
        first time a model is built, so a fully cached run never imports torch."""
        if self._device is None:
            from ledbench.bench.device import check_device
            from ledbench.bench.provenance import seed_torch

            seed_torch(self.cfg.seed)
            notice = None if self._device_kind else self.log
            self._device = init_distributed(check_device(self.cfg.device, notice=notice))
            self._device_kind = self._device.type
        return self._device

    def _resolve_device_kind(self) -> str:
        """``cpu``/``cuda``/``mps`` for the identities, without importing torch where possible: the CPU where no
        CUDA device can exist; on a GPU machine the answer torch gave for the same request and device nodes
        (memoised), else torch is asked (and the answer memoised)."""
        import glob

        from ledbench.bench.plans import cuda_impossible

        spec = "auto" if self.cfg.device is None else str(self.cfg.device)
        if self.world <= 1 and (spec == "cpu" or spec == "auto" and cuda_impossible()):
            if spec == "auto":
                self.log("device=auto: no CUDA device here, running on the CPU")
            self._device_kind = "cpu"
            return self._device_kind
        # a GPU machine: what torch answered last time for this request and these device nodes (no torch import)
        request = {"kind": "device", "spec": spec, "nodes": sorted(glob.glob("/dev/nvidia[0-9]*"))}
        known = self._memo.get(request) if self._memo is not None and self.world <= 1 else None
        if known and known.get("type"):
            self._device_kind = known["type"]
        else:
            self._device_kind = self._torch_device().type
            if self._memo is not None:
                self._memo.put(request, {"type": self._device_kind})
        return self._device_kind

    def _memoised(self, request: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        answer = self._memo.get(request) if self._memo is not None else None
        if answer is None or answer.get("stale"):
            answer = compute()
            if self._memo is not None and answer.get("memo", True):
                self._memo.put(request, {k: v for k, v in answer.items() if not k.startswith("_")})
        return answer

    def _forget(self, request: dict[str, Any]) -> Callable[[], None]:
        def forget() -> None:
            if self._memo is not None:
                self._memo.put(request, {"stale": True, "available": None})
        return forget

    # -- resolution ---------------------------------------------------------------------------------------------
    def _dataset(self):
        from ledbench.datasets import create_dataset

        args = dict(self.cfg.dataset_args)
        if self.cfg.limit:
            args["limit"] = self.cfg.limit
        if self.cfg.severity:  # a severity sweep: one dataset over the levels, items carry their severity
            from ledbench.datasets.sweep import create_sweep_dataset

            return create_sweep_dataset(self.cfg.dataset, self.cfg.severity, **args)
        return create_dataset(self.cfg.dataset, **args)

    def _skip_or_raise(self, kind: str, name: str, why: str) -> None:
        if not self.cfg.skip_unavailable:
            raise WeightsUnavailable(why)
        self.skipped.append(Skipped(kind, name, why))

    def _enhancer_entries(self) -> list[EnhancerEntry]:
        from ledbench.enhancers import enhancer_availability, list_enhancers

        entries: list[EnhancerEntry] = []
        for raw in self.cfg.enhancers:
            if ":" in str(raw):
                entries.append(EnhancerEntry.parse(raw))
            else:
                entries += [EnhancerEntry(n, n) for n in _expand((raw,), list_enhancers)
                            if n not in {e.label for e in entries}]
        labels = [e.label for e in entries]
        if len(set(labels)) != len(labels):
            dup = sorted({x for x in labels if labels.count(x) > 1})
            raise ConfigError(f"enhancers: the row name(s) {dup} appear twice; give one entry :label=ROW")
        ok = []
        for entry in entries:
            if entry.weights is not None:
                if not Path(entry.weights).expanduser().is_file():
                    raise ConfigError(f"enhancers entry {entry.label!r}: weights file {entry.weights!r} not found")
                ok.append(entry)
                continue
            answer = self._memoised({"kind": "enhancer-availability", "name": entry.name},
                                    lambda e=entry: dict(zip(("available", "why"), enhancer_availability(e.name))))
            available, why = answer["available"], answer.get("why", "")
            if available:
                ok.append(entry)
            else:
                self._skip_or_raise("enhancer", entry.name, why)
        return ok

    def _enhancer(self, entry: EnhancerEntry) -> LazyPlugin:
        """The enhancer of a run entry as a :class:`LazyPlugin` (its identity memoised; built on first use).
        A build failure is a :class:`LedbenchError` (the entry is skipped or, with explicit weights, refused)."""
        from ledbench.enhancers import create_enhancer

        cfg = self.cfg
        opts = dict(entry.options)
        weights = opts.get("weights")
        stat = None
        if weights:
            st = Path(weights).expanduser().stat()
            stat = [str(Path(weights).expanduser().resolve()), st.st_size, st.st_mtime_ns]

        def build():
            enh = create_enhancer(entry.name, weights=weights, device=self._torch_device(), download=cfg.download,
                                  tile=cfg.tile, tile_overlap=cfg.tile_overlap, amp=cfg.amp,
                                  trust_weights=str(opts.get("trust_weights", "")).lower() == "true")
            enh.name = entry.label
            return enh

        def plan() -> dict[str, Any]:
            try:
                enh = build()
            except LedbenchError as exc:
                return {"available": False, "why": str(exc), "error": type(exc).__name__,
                        "memo": not cfg.download and not weights}
            return {"available": True, "identity": enh.identity(), "weights_sha256": enh.weights_sha256,
                    "_built": enh}

        request = {"kind": "enhancer", "name": entry.name, "label": entry.label, "weights": stat,
                   "options": sorted((k, str(v)) for k, v in opts.items() if k != "weights"),
                   "tile": cfg.tile, "tile_overlap": cfg.tile_overlap, "amp": cfg.amp, "download": cfg.download,
                   "device": self._device_kind}
        answer = self._memoised(request, plan)
        if not answer["available"]:
            raise WeightsUnavailable(answer["why"])
        handle = LazyPlugin(entry.label, answer, build, self._forget(request))
        handle._real = answer.pop("_built", None)
        return handle

    def _tasks(self) -> list[Any]:
        """The run's task models as :class:`LazyPlugin` handles (built only for a prediction that is not cached)."""
        from ledbench.tasks import create_task, list_tasks, task_availability

        def build(name: str):
            return create_task(name, device=self._torch_device(), download=self.cfg.download)

        def plan(name: str) -> dict[str, Any]:
            available, why = task_availability(name)
            if not available:
                return {"available": False, "why": why}
            try:
                task = build(name)
            except WeightsUnavailable as exc:
                return {"available": False, "why": str(exc), "memo": not self.cfg.download}
            return {"available": True, "identity": task.identity(), "kind": task.kind, "name": task.name,
                    "default_metrics": list(task.default_metrics), "weights_sha256": task.weights_sha256,
                    "label_free_metrics": list(getattr(task, "label_free_metrics", ())),
                    "_built": task}

        tasks = []
        for name in _expand(self.cfg.tasks, list_tasks):
            request = {"kind": "task", "name": name, "device": self._device_kind, "download": self.cfg.download}
            answer = self._memoised(request, lambda n=name: plan(n))
            if not answer["available"]:
                self._skip_or_raise("task", name, answer["why"])
                continue
            handle = LazyPlugin(answer.get("name", name), answer, lambda n=name: build(n), self._forget(request))
            handle._real = answer.pop("_built", None)
            tasks.append(handle)
        return tasks

    def _metric_names(self, task) -> list[str]:
        """``task_metrics[task]`` > the run's ``metrics`` (quality) > the task's ``default_metrics``; a task that
        only the ``label_free`` protocol can score on this dataset uses its ``label_free_metrics`` (see
        :meth:`_plan`)."""
        if task.name in self._label_free_auto:
            return list(self._label_free_auto[task.name])
        if task.name in self.cfg.task_metrics:
            return list(self.cfg.task_metrics[task.name])
        if task.kind == QUALITY and self.cfg.metrics:
            return list(self.cfg.metrics)
        return list(task.default_metrics)

    def _check_metrics(self, tasks: list[Any]) -> None:
        """Unknown metric names, or a metric of another task kind, are errors before any model runs."""
        from ledbench.tasks import list_tasks
        from ledbench.tasks.metrics import METRICS, list_metrics

        requested = set(_expand(self.cfg.tasks, list_tasks))
        for key in self.cfg.task_metrics:
            if key not in requested:
                raise ConfigError(f"task_metrics names task {key!r}, which is not in tasks={list(self.cfg.tasks)}")
        for task in tasks:
            for mname in self._metric_names(task):
                try:
                    kind = getattr(METRICS.get(mname), "task_kind", QUALITY)
                except LedbenchError:  # not a metric name: maybe one of a metric's outputs (map50 of coco_map)
                    owners = [m for m in list_metrics() if mname in metric_directions_of(METRICS.get(m))]
                    if not owners:
                        raise
                    owner = METRICS.get(owners[0])
                    where = ("" if getattr(owner, "task_kind", QUALITY) == task.kind else
                             f" of a {owner.task_kind} task, e.g. task_metrics={{TASK: [{owners[0]}]}}")
                    raise ConfigError(f"{mname!r} is an output of the metric {owners[0]!r}, not a metric name; "
                                      f"request {owners[0]!r}{where} (it reports "
                                      f"{', '.join(metric_directions_of(owner))})") from None
                if kind != task.kind:
                    valid = [m for m in list_metrics() if getattr(METRICS.get(m), "task_kind", None) == task.kind]
                    where = "metrics" if task.kind == QUALITY else f"task_metrics[{task.name}]"
                    raise ConfigError(f"{where}: {mname!r} is a {kind} metric, not a {task.kind} one; "
                                      f"valid here: {', '.join(valid)}")

    def _plan(self, tasks: list[Any], items: list, enhancer_names: list[str]) -> list[Any]:
        """Keep the tasks that can be scored on this dataset; every requested cell that cannot gets a reason in
        ``not_scored`` (and no model runs for it)."""
        from ledbench.tasks.metrics import METRICS

        paired = any(it.paired for it in items)
        kept = []
        for task in tasks:
            names = self._metric_names(task)
            if task.kind == QUALITY:
                for mname in names:
                    if getattr(METRICS.get(mname), "requires_reference", True) and not paired:
                        self._not_scored("*", task.name, mname,
                                         f"{mname} compares with a sharp reference and dataset {self.cfg.dataset!r} "
                                         "has none; use a no-reference metric (niqe, clip_iqa) or a paired dataset")
                kept.append(task)
                continue
            labelled = any(it.labels.get(task.kind) is not None for it in items)
            pseudo = paired and self.cfg.include_reference
            if labelled or pseudo:
                kept.append(task)
                continue
            why = (f"dataset {self.cfg.dataset!r} has no {task.kind} labels and "
                   + ("include_reference=false" if paired else "no references")
                   + ", so neither real_gt nor pseudo_gt applies; use a labelled dataset (coco:, yolo:, a "
                   "segmentation or depth dataset) or a paired folder (folder:ROOT with input/reference subfolders)")
            free = [m for m in names if _is_label_free(m)]
            if not free and getattr(task, "label_free_metrics", ()):
                free = self._label_free_auto[task.name] = list(task.label_free_metrics)
                why += (f"; the label-free statistics {', '.join(free)} ("
                        + ", ".join(o for m in free for o in metric_directions_of(METRICS.get(m)))
                        + ") are reported instead")
            elif not free:
                why += f"; {task.name} has no label-free statistic"
            for mname in names:
                if mname not in free:
                    self._not_scored("*", task.name, mname, why)
            if free:
                kept.append(task)
        return kept

    def _explain_empty_cells(self, rows: list[ResultRow], enhancer_names: list[str], tasks: list[Any]) -> None:
        """A reason for every requested (enhancer, task, metric) that has no row and no reason yet."""
        have = {(r.enhancer, r.task) for r in rows}
        explained = {(n["task"], n["metric"]) for n in self.not_scored}
        skipped_metrics = {s.name for s in self.skipped if s.kind == "metric"}
        failed = {(e["enhancer"], e.get("task", "")) for e in self.errors}
        for name in enhancer_names:
            for task in tasks:
                if (name, task.name) in have:
                    continue
                for mname in self._metric_names(task):
                    if (task.name, mname) in explained or mname in skipped_metrics:
                        continue
                    if (name, task.name) in failed or (name, "") in failed:  # its own units, or the enhancer's
                        why = "every unit failed: " + self._first_error(name, task.name, mname)
                    else:
                        why = "no image could be scored"
                    self._not_scored(name, task.name, mname, why)

    def _first_error(self, enhancer: str, task: str, metric: str) -> str:
        """The first recorded error behind an empty cell (its metric's, else its task's, else its enhancer's), with
        how many units failed: the reason a user needs without opening manifest.json."""
        mine = [e for e in self.errors if e["enhancer"] == enhancer and e.get("task", "") in (task, "")]
        first = next((e for e in mine if e.get("metric") == metric), None) or \
            next((e for e in mine if e.get("task") == task), None) or (mine[0] if mine else None)
        if first is None:
            return "see errors in manifest.json"
        where = f"{first.get('stage', '?')} of {first.get('item', '?')}"
        more = f"; {len(mine) - 1} more in manifest.json" if len(mine) > 1 else ""
        return f"{first.get('error', '?')} ({where}{more})"

    def _not_scored(self, enhancer: str, task: str, metric: str, reason: str) -> None:
        self.not_scored.append({"enhancer": enhancer, "task": task, "metric": metric, "reason": reason})

    def _make_metrics(self, task, protocol: str) -> list[Any]:
        from ledbench.tasks.metrics import create_metric

        out = []
        for mname in self._metric_names(task):
            if mname in self._skipped_metrics:
                continue
            try:
                metric = create_metric(mname)
                check = getattr(metric, "check_available", None)  # weights a metric loads on first use
                if check is not None:
                    check()
            except WeightsUnavailable as exc:
                self._skipped_metrics.add(mname)
                self._skip_or_raise("metric", mname, str(exc))
                continue
            needs_ref = bool(getattr(metric, "requires_reference", True))
            if protocol == "no_reference" and needs_ref or protocol == "full_reference" and not needs_ref:
                continue
            if task.kind != QUALITY and (protocol == LABEL_FREE) != (getattr(metric, "protocol", "") == LABEL_FREE):
                continue
            out.append(metric)
        return out

    # -- error policy -------------------------------------------------------------------------------------------
    def _describe(self, image_id: str) -> str:
        item = self._items_by_id.get(image_id)
        return item.describe() if item is not None else str(image_id)

    def _record(self, stage: str, enhancer: str, image_id: str, exc: BaseException, *, task: str = "",
                metric: str = "") -> None:
        """Apply ``on_error``: raise one line (``fail``) or record the failed unit and go on (``skip``)."""
        what = f"{stage} failed for {enhancer}" + (f" / {task}" if task else "") + (f" / {metric}" if metric else "")
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not isinstance(exc, (LedbenchError, OSError)):
            text = f"{type(exc).__name__}: {text}"
        msg = f"{what} on {self._describe(image_id)}: {text}"
        if self.cfg.on_error == "fail":
            raise InputError(msg + " (set on_error=skip to record failed units and continue)") from None
        self.errors.append({"stage": stage, "enhancer": enhancer, "item": image_id, "task": task, "metric": metric,
                            "error": text})
        self.log(f"warning: {msg}; skipped")

    def _stage_error(self, stage: str, who: str, image_id: str, exc: BaseException) -> None:
        if stage == "predict":  # who = "task on enhancer"
            task, _, enhancer = who.partition(" on ")
            self._record(stage, enhancer, image_id, exc, task=task)
        else:
            self._record(stage, who, image_id, exc)

    def _score_error(self, unit: ScoreUnit, metric: str, exc: BaseException) -> bool:
        """Record a failed score unit; True (drop the metric) for a metric whose weights turned out missing."""
        if isinstance(exc, WeightsUnavailable) and metric:  # a metric that loads its weights on first use
            if metric not in self._skipped_metrics:
                self._skipped_metrics.add(metric)
                self._skip_or_raise("metric", metric, str(exc))
            return True
        self._record("score", unit.group.enhancer, unit.image_id, exc, task=unit.group.task, metric=metric)
        return False

    # -- the whole run ------------------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        """Run the benchmark and write the run directory. Input files and cache entries seen unchanged in an earlier
        run are not hashed or verified again (:class:`ledbench.bench.files.StatMemo`)."""
        from ledbench.bench.files import use_stat_memo

        with use_stat_memo(self.cache.memo):
            return self._run()

    def _run(self) -> RunOutcome:
        from ledbench.bench.plans import PlanMemo, environment_fingerprint
        from ledbench.bench.provenance import (
            device_info,
            now_iso,
            package_versions,
            seed_python_numpy,
            start_git_revision,
        )

        t0 = time.time()
        git_revision = start_git_revision()  # runs git in the background while the stages run
        cfg = self.cfg
        seeds = {**seed_python_numpy(cfg.seed), "torch_seed": cfg.seed, "cudnn_deterministic": True}
        self._memo = PlanMemo(self.cache, environment_fingerprint()) if cfg.plan_memo else None
        dataset = self._dataset()  # before the run directory: a bad dataset= is the first thing to fix
        items = dataset.items
        if not items:
            raise InputError(f"dataset {cfg.dataset!r} has no items")
        run_dir = choose_run_dir(cfg)
        if run_dir != cfg.run_dir:
            self.log(f"{cfg.run_dir} holds a different run: writing {run_dir} (exist_ok=true replaces it)")
        if self.rank == 0:
            ensure_writable_dir(run_dir, "run directory")
        self._items_by_id = by_id = {it.id: it for it in items}
        shard = shard_items(items, self.rank, self.world, _pixel_counts(items) if self.world > 1 else None)
        self.log(f"dataset {dataset.name} ({dataset.split}): {len(items)} images"
                 + (f", rank {self.rank}/{self.world}: {len(shard)}" if self.world > 1 else ""))
        manifest_hash = dataset.manifest_hash()
        self._resolve_device_kind()
        entries = self._enhancer_entries()
        tasks = self._tasks()
        self._check_metrics(tasks)
        tasks = self._plan(tasks, items, [e.label for e in entries])
        downstream = [t for t in tasks if t.kind != QUALITY]
        n_units = len(shard) * len(entries) * (1 + len(downstream)) + (
            len(downstream) * sum(1 for it in shard if it.paired) if cfg.include_reference else 0)
        overall = progress_bar(n_units, "ledbench run", cfg.quiet, leave=True)
        stages = StageRunner(self.cache, batch=cfg.batch, workers=cfg.workers, quiet=cfg.quiet,
                             on_error=self._stage_error, handoff=Handoff(), overall=overall, stage_bars=cfg.verbose)
        loader = SourceLoader(self.cache, by_id, memory=stages.handoff)  # decodes each reference once

        def reference(iid: str) -> Any:
            return loader(Source("reference", reference_image_key(by_id[iid].reference_hash())), iid, QUALITY)

        warm = preload([it.id for it in shard if it.paired] if self._uses_references(tasks) else [], reference,
                       loader.references, cfg.workers)  # decoded in the background while the models run

        # stage 1: enhance this rank's share
        enhancers: dict[str, Any] = {}
        all_keys: dict[str, dict[str, str]] = {}   # enhancer -> image id -> enhanced key (every image)
        done: dict[str, dict[str, str]] = {}       # enhancer -> image id -> enhanced key (this rank, succeeded)
        for entry in entries:
            name = entry.label
            try:
                enh = self._enhancer(entry)
            except LedbenchError as exc:
                if entry.weights is not None:
                    raise ConfigError(f"enhancers entry {name!r}: {exc}") from None
                self._skip_or_raise("enhancer", name, str(exc))
                continue
            enhancers[name] = enh
            all_keys[name] = enhanced_keys(enh.identity(), items if self.rank == 0 else shard,
                                           lambda *a: self._stage_error(*a), name)
            shard_keys = {it.id: all_keys[name][it.id] for it in shard if it.id in all_keys[name]}
            done[name] = stages.enhance(enh, shard, shard_keys)
            checks = _output_checks(enh)
            if checks.get("out_of_range_images"):
                self.log(f"warning: {name} returned values outside [0, 1] for {checks['out_of_range_images']} "
                         "image(s); they were clamped (counted in manifest.json under output_checks)")

        # stage 2: predict on this rank's share (enhanced images, then the sharp references)
        self._ref_keys = self._reference_keys(items if self.rank == 0 else shard)
        shard_refs = {it.id: self._ref_keys[it.id] for it in shard if it.id in self._ref_keys}
        for task in downstream:
            for name, keys in done.items():
                stages.predict(task, {iid: (k, lambda k=k: stages.load_enhanced(k)) for iid, k in keys.items()},
                               name)
            if cfg.include_reference:  # a copy: the task may not alter the scoring stage's reference
                stages.predict(task, {iid: (k, lambda iid=iid: reference(iid)["image"].copy())
                                      for iid, k in shard_refs.items()}, REFERENCE)

        # stage 3: score. Every rank scores its own units (per-image scores land in the cache); rank 0 then scores
        # every unit of the run, served from the cache for the other ranks' images.
        warm()
        self._tasks_by_name = {t.name: t for t in tasks}
        if self.world > 1:
            units = self._units(done, tasks, shard, manifest_hash, stages.handoff)
            score_stage(units, self._group_metrics, self.cache, loader, self._score_error, lambda g, m: None,
                        group_cache=False)
            self._write_rank_errors(run_dir)
            _barrier()
            if self.rank != 0:
                overall.close()
                return RunOutcome(run_dir, [], self.skipped, self.errors, dict(self.cache.stats), time.time() - t0)
            self._merge_rank_errors(run_dir)
            done = {n: {iid: k for iid, k in keys.items() if self.cache.enhanced_path(k).is_file()}
                    for n, keys in all_keys.items()}
        units = self._units(done, tasks, items, manifest_hash, stages.handoff)
        rows: list[ResultRow] = []
        per_image: list[PerImageRow] = []
        store = RowCollector(rows, per_image, enhancers, self._tasks_by_name, dataset, manifest_hash, len(items),
                              self._record)
        overall.total += len({u.group for u in units})
        overall.set_description("ledbench run (scoring)")
        score_stage(units, self._group_metrics, self.cache, loader, self._score_error, store,
                    progress=overall.update)
        overall.close()

        self._explain_empty_cells(rows, list(enhancers), tasks)

        # stage 4: store
        manifest = {
            "ledbench_run_format": 2, "name": cfg.name, "created": now_iso(),
            "run_config": config_to_dict(cfg), "run_config_hash": config_hash(cfg),
            "measured_config_hash": measured_config_hash(cfg),
            "dataset": {"name": dataset.name, "split": dataset.split, "n_images": len(items),
                        **({"severities": list(dataset.severities)} if getattr(dataset, "severities", None) else {}),
                        "manifest_hash": manifest_hash, "config": config_to_dict(dataset.config),
                        "subset": config_to_dict(getattr(dataset, "subset", {})),
                        "skipped_files": [list(map(str, s)) for s in getattr(dataset, "skipped_files", [])]},
            "enhancers": {n: e.identity() for n, e in enhancers.items()},
            "output_checks": {n: _output_checks(e) for n, e in enhancers.items() if _output_checks(e)},
            "tasks": {t.name: t.identity() for t in tasks},
            "skipped": [dataclasses.asdict(s) for s in self.skipped], "errors": self.errors,
            "not_scored": self.not_scored,
            "cache": {"root": str(self.cache.root), **dict(self.cache.stats)},
            "seeds": seeds, "versions": self._memoised({"kind": "package-versions"}, package_versions),
            "git": git_revision(),
            "device": device_info(self._device or self._device_kind), "world_size": self.world,
        }
        outcome = RunOutcome(run_dir, rows, self.skipped, self.errors, dict(self.cache.stats), 0.0, manifest)
        files: dict[str, Any] = {
            "results.csv": csv_bytes(rows, RESULT_COLUMNS),
            "per_image.csv": csv_bytes(per_image, PER_IMAGE_COLUMNS),
            "dataset_manifest.json": {"dataset": dataset.name, "split": dataset.split,
                                      "manifest_hash": manifest_hash, "items": dataset.manifest()},
        }
        outcome.statistics = self._statistics(files, store.stats_files, manifest, run_dir)
        outcome.wall_time_s = manifest["wall_time_s"] = round(time.time() - t0, 3)
        files["manifest.json"] = manifest
        files["report.md"] = self._report_md(files["results.csv"], outcome).encode()
        write_run_dir(run_dir, files, images=(lambda root: self._save_images(root, done, items))
                      if cfg.save_images else None)
        return outcome

    # -- unit and metric construction ---------------------------------------------------------------------------
    def _uses_references(self, tasks: list[Any]) -> bool:
        """Whether a stage reads the sharp references: a full-reference quality metric, or a downstream task run
        on the references (``include_reference``)."""
        from ledbench.tasks.metrics import METRICS

        if self.cfg.include_reference and any(t.kind != QUALITY for t in tasks):
            return True
        for task in tasks:
            for mname in self._metric_names(task) if task.kind == QUALITY else ():
                try:
                    if getattr(METRICS.get(mname), "requires_reference", True):
                        return True
                except LedbenchError:
                    continue
        return False

    def _reference_keys(self, items: list) -> dict[str, str]:
        """Image id -> content key of the sharp reference, for paired items whose reference can be read."""
        keys = {}
        for it in items:
            if not it.paired:
                continue
            try:
                keys[it.id] = reference_image_key(it.reference_hash())
            except Exception as exc:  # noqa: BLE001
                self._record("read", REFERENCE, it.id, exc)
        return keys

    def _group_metrics(self, group: ScoreGroup) -> list[Any]:
        return self._make_metrics(self._tasks_by_name[group.task], group.protocol)

    def _units(self, done: dict[str, dict[str, str]], tasks: list, items: list, manifest_hash: str,
               memory: Handoff) -> list[ScoreUnit]:
        """Every score unit of ``items``, in results order: per enhancer, per task (run order), per protocol; then
        the ``reference`` rows. Downstream units exist only where both predictions exist (failed units were
        recorded where they failed)."""
        by_id = self._items_by_id
        ids = {it.id for it in items}

        def exists(key: str) -> bool:  # the stage verified (or wrote) it; loading it verifies again, once
            return key in memory or self.cache.prediction_path(key).is_file()

        label_free = {task.name: any(_is_label_free(m) for m in self._metric_names(task)) for task in tasks}
        ref_preds: dict[str, dict[str, str]] = {}
        for task in tasks:
            if task.kind != QUALITY:
                ident = task.identity()
                ref_preds[task.name] = {
                    iid: pk for iid, rk in self._ref_keys.items()
                    if iid in ids and self.cfg.include_reference and exists(pk := prediction_key(ident, rk, task.kind))}
        units: list[ScoreUnit] = []
        for name, keys in done.items():
            keys = {iid: k for iid, k in keys.items() if iid in ids}
            for task in tasks:
                if task.kind == QUALITY:
                    units += quality_units(name, keys, by_id)
                    continue
                ident = task.identity()
                have = {iid: k for iid, k in keys.items() if exists(prediction_key(ident, k, task.kind))}
                units += downstream_units(name, task.name, task.kind, ident, have, by_id, manifest_hash,
                                          ref_preds[task.name], label_free[task.name])
        for task in tasks if self.cfg.include_reference else []:
            if task.kind != QUALITY:
                refs = ref_preds[task.name]
                units += downstream_units(REFERENCE, task.name, task.kind, task.identity(),
                                          {iid: self._ref_keys[iid] for iid in refs}, by_id, manifest_hash, refs,
                                          label_free[task.name])
        return units

    def _statistics(self, files: dict[str, Any], stats_files: dict[str, bytes], manifest: dict[str, Any],
                    run_dir: Path) -> Any:
        """Paired bootstrap statistics of the run (:mod:`ledbench.reports.stats`): ``statistics.csv``, the
        per-image sufficient statistics under ``stats/``, and the settings in the manifest. A failure here costs the
        intervals, never the results. Statistics from the cache come back as a function that reads the frame (a
        run whose tables are cached too never imports pandas)."""
        self._tables_key = None
        if not files["results.csv"].count(b"\n") > 1:
            return None
        key = self._statistics_key(files, stats_files)
        cached = self._cached_statistics(key, manifest) if key else None
        if cached is not None:
            boot, extra, entry = cached
        else:
            import io

            import pandas as pd

            from ledbench.bench.results import results_frame
            from ledbench.reports.stats import statistics_for_run

            try:
                df = results_frame(files["results.csv"], source=str(run_dir))
                per_image = pd.read_csv(io.BytesIO(files["per_image.csv"]), dtype={"image_id": str},
                                        keep_default_na=False, na_values={"value": ["nan"]})
                boot, extra, entry = statistics_for_run(df, per_image, stats_files, seed=self.cfg.seed)
            except Exception as exc:  # noqa: BLE001
                self._record("statistics", "*", "*", exc)
                return None
            if key:
                dtypes = {c: boot[c].dtype.kind for c in boot.columns}
                self.cache.put_blob("statistics", key, canonical_json(
                    {"csv": extra["statistics.csv"].decode("utf-8", "surrogateescape"), "dtypes": dtypes,
                     "entry": entry}).encode())
        files.update(stats_files)
        files.update(extra)
        manifest["statistics"] = entry
        if key:
            self._tables_key = config_hash({"v": 1, "stage": "report tables", "statistics": key})
        return boot

    def _statistics_key(self, files: dict[str, Any], stats_files: dict[str, bytes]) -> str | None:
        """Cache key of a run's statistics: its results, per-image rows and sufficient statistics (bytes), the
        seed, and the code (the plan memo's fingerprint covers the ledbench source); None without a memo."""
        import hashlib

        if self._memo is None or not self._memo.enabled:
            return None
        digest = {name: hashlib.sha256(data).hexdigest() for name, data in
                  [("results.csv", files["results.csv"]), ("per_image.csv", files["per_image.csv"]),
                   *sorted(stats_files.items())]}
        return config_hash({"v": 1, "stage": "statistics", "code": self._memo.fingerprint, "seed": self.cfg.seed,
                            "inputs": digest})

    def _cached_statistics(self, key: str, manifest: dict[str, Any]) -> tuple[Any, dict[str, bytes],
                                                                             dict[str, Any]] | None:
        """A function that reads the bootstrap table (with its column types), the files and the manifest entry
        stored under ``key``, or None."""
        import json

        t0 = time.perf_counter()
        data = self.cache.get_blob("statistics", key)
        if data is None:
            return None
        try:
            stored = json.loads(data.decode())
            kinds = dict(stored["dtypes"])
            csv = stored["csv"].encode("utf-8", "surrogateescape")
            entry = {**stored["entry"], "wall_s": round(time.perf_counter() - t0, 4), "from_cache": True}
        except (ValueError, KeyError, TypeError, UnicodeError):
            return None

        def frame():
            import io

            import pandas as pd

            from ledbench.reports.report import _with_run_wall

            floats = [c for c, k in kinds.items() if k == "f"]
            numpy_type = {"f": "float64", "b": "bool", "i": "int64", "u": "uint64"}
            types = {c: numpy_type.get(k, str) for c, k in kinds.items()}
            try:
                boot = pd.read_csv(io.BytesIO(csv), dtype=types, keep_default_na=False,
                                   na_values={c: ["nan"] for c in floats})
            except Exception as exc:  # noqa: BLE001 - costs the intervals, never the results
                self._record("statistics", "*", "*", exc)
                return None
            boot.attrs["bootstrap"] = {k: v for k, v in entry.items() if k != "file"}
            return _with_run_wall(boot, manifest)

        return frame, {"statistics.csv": csv}, entry

    def _report_md(self, results_csv: bytes, outcome: RunOutcome) -> str:
        """``report.md``; its tables (``outcome.tables``, the console prints them too) are built once from the
        results (pandas), or read back from the cache where these results and statistics were tabulated before."""
        import json

        from ledbench.bench.results import results_frame
        from ledbench.reports.report import RunTables, _with_run_wall, run_markdown, run_tables

        manifest, key = outcome.manifest, self._tables_key
        if outcome.rows:
            data = self.cache.get_blob("report_tables", key) if key else None
            try:
                outcome.tables = RunTables.from_json(json.loads(data.decode()), manifest) if data else None
            except (ValueError, KeyError, TypeError, UnicodeError):
                outcome.tables = None
            if outcome.tables is None:
                df = results_frame(results_csv, source=str(outcome.run_dir))
                outcome.tables = run_tables(df, _with_run_wall(outcome.statistics, manifest))
                try:
                    data = json.dumps(outcome.tables.to_json()).encode() if key else None
                except (TypeError, ValueError):  # a value JSON cannot hold: the tables are built again next time
                    data = None
                if data:
                    self.cache.put_blob("report_tables", key, data)
        return run_markdown(None, manifest, run_name=outcome.run_dir.name, tables=outcome.tables)

    def _write_rank_errors(self, run_dir: Path) -> None:
        write_json(run_dir.parent / f".{run_dir.name}.rank{self.rank}.json",
                   {"errors": self.errors, "skipped": [dataclasses.asdict(s) for s in self.skipped],
                    "stats": dict(self.cache.stats)})

    def _merge_rank_errors(self, run_dir: Path) -> None:
        import json

        for r in range(1, self.world):
            p = run_dir.parent / f".{run_dir.name}.rank{r}.json"
            try:
                data = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            self.errors += data.get("errors", [])
            for key, n in data.get("stats", {}).items():
                self.cache.stats[key] += n
            p.unlink(missing_ok=True)
        (run_dir.parent / f".{run_dir.name}.rank0.json").unlink(missing_ok=True)

    def _save_images(self, root: Path, done: dict[str, dict[str, str]], items: list) -> None:
        """Copy enhanced PNGs to ``root/<enhancer>/<item_id>.png`` (plus ``input``/``reference``) for grids."""
        from ledbench.bench.imageio import write_png

        def dest(sub: str, iid: str) -> Path:
            p = (root / sub / f"{iid}.png").resolve()
            if root.resolve() not in p.parents:  # ids come from datasets; never write outside the run directory
                raise InputError(f"image id {iid!r} would be written outside the run directory; not saved")
            p.parent.mkdir(parents=True, exist_ok=True)
            return p

        for name, keys in done.items():
            for iid, key in keys.items():
                shutil.copyfile(self.cache.enhanced_path(key), dest(name, iid))
        for item in items:
            if "identity" not in done:  # the floor column of the grids is identity's output when it ran
                write_png(dest("input", item.id), item.load_input())
            if item.paired:
                write_png(dest(REFERENCE, item.id), item.load_reference())


def run(config: RunConfig, *, log: Callable[[str], None] | None = None) -> RunOutcome:
    """Run a benchmark and write its run directory; returns the outcome (rows, skipped, errors, cache stats).

    >>> from ledbench.bench.runner import RunConfig, run
    >>> out = run(RunConfig(enhancers=("identity", "gamma"), limit=2, out="runs/try"))   # doctest: +SKIP
    """
    return Runner(config, log=log).run()
