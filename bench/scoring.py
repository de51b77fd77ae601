"""The scoring stage: score units built from cache keys, scored by metric accumulators, one unit at a time.

A :class:`ScoreUnit` is one image of one results cell family (:class:`ScoreGroup`: enhancer, task, protocol). It
names what to compare as two :class:`Source` objects (a cached enhanced image, a cached prediction, the sharp
reference image, a dataset label, or nothing for no-reference metrics). Units are plain data, built by two pure
functions of cache keys (:func:`quality_units`, :func:`downstream_units`), so any process (any ``torchrun`` rank)
can build every unit of a run without running a stage.

:func:`score_stage` feeds the units to the metrics image by image (each source is loaded once per image and shared
by every group and metric that needs it). Per-image scores are cached under (metric identity, prediction key,
target key), so a re-run loads nothing it has already scored. A unit that fails (an unreadable reference, a metric
that raises) is reported through ``on_error`` and loses only its own score.

Protocols: ``full_reference`` (against the sharp reference) and ``no_reference`` for quality; ``real_gt`` (dataset
labels), ``pseudo_gt`` (the same task model on the sharp reference gives the labels) and ``label_free`` (statistics
of the prediction alone, for photos with neither) for downstream tasks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ledbench.bench.cache import CACHE_FORMAT, Cache, Identity, prediction_key, score_key
from ledbench.bench.results import PerImageRow, ResultRow, severity_text

SourceKind = Literal["enhanced", "prediction", "reference", "label", "none"]
QUALITY = "quality"
REFERENCE = "reference"
LABEL_FREE = "label_free"  # downstream statistics of the prediction alone (ledbench.tasks.label_free)

__all__ = ["Source", "ScoreGroup", "ScoreUnit", "quality_units", "downstream_units", "reference_image_key",
           "label_key", "RowCollector", "SourceLoader", "score_stage", "metric_directions_of", "MetricResult",
           "group_key", "REFERENCE", "QUALITY", "LABEL_FREE"]


@dataclass(frozen=True)
class Source:
    """What a unit compares: ``kind`` and the key that names its content (the cache key for cached data)."""

    kind: SourceKind
    key: str


NO_TARGET = Source("none", "-")


@dataclass(frozen=True)
class ScoreGroup:
    """One family of results rows: an enhancer (or the ``reference`` ceiling) x task x protocol (x severity in a
    severity sweep: each level is scored as its own set of images)."""

    enhancer: str
    task: str        # the task's registry name ("quality" for image quality)
    task_kind: str   # quality | detection | segmentation | depth
    protocol: str
    severity: float | None = None


def _at(group: ScoreGroup, item: Any) -> ScoreGroup:
    """``group`` at the severity of ``item`` (unchanged outside severity sweeps)."""
    sev = getattr(item, "severity", None)
    return group if sev is None else dataclasses.replace(group, severity=float(sev))


@dataclass(frozen=True)
class ScoreUnit:
    group: ScoreGroup
    image_id: str
    pred: Source
    target: Source


def reference_image_key(reference_hash: str) -> str:
    """The content key of a sharp reference image (as the enhanced-image keys name enhanced images)."""
    return "ref:" + reference_hash


def label_key(manifest_hash: str, image_id: str, task_kind: str) -> str:
    """The key of a dataset label: labels are fixed by the dataset manifest."""
    return f"label:{manifest_hash}:{image_id}:{task_kind}"


def quality_units(enhancer: str, enhanced_keys: Mapping[str, str], items_by_id: Mapping[str, Any]
                  ) -> list[ScoreUnit]:
    """Quality units of one enhancer: ``full_reference`` for paired images, ``no_reference`` for every image.

    ``enhanced_keys``: image id -> enhanced-image cache key (the images that were enhanced successfully).
    """
    full = ScoreGroup(enhancer, QUALITY, QUALITY, "full_reference")
    none = ScoreGroup(enhancer, QUALITY, QUALITY, "no_reference")
    units = []
    for iid, key in enhanced_keys.items():
        item = items_by_id[iid]
        if item.paired:
            units.append(ScoreUnit(_at(full, item), iid, Source("enhanced", key),
                                   Source("reference", reference_image_key(item.reference_hash()))))
    units += [ScoreUnit(_at(none, items_by_id[iid]), iid, Source("enhanced", key), NO_TARGET)
              for iid, key in enhanced_keys.items()]
    return units


def downstream_units(enhancer: str, task: str, task_kind: str, task_identity: dict[str, Any],
                     image_keys: Mapping[str, str], items_by_id: Mapping[str, Any], manifest_hash: str,
                     reference_pred_keys: Mapping[str, str], label_free: bool = False) -> list[ScoreUnit]:
    """Units of one (enhancer, downstream task): ``real_gt`` where the dataset has this task's label, ``pseudo_gt``
    where the reference's prediction exists (``reference_pred_keys``: image id -> prediction key), and with
    ``label_free`` a ``label_free`` unit for every image (the prediction alone, no target).

    ``image_keys``: image id -> key of the image the task ran on (enhanced-image key, or the reference key for the
    ``reference`` row); the prediction key is a pure function of it and the task identity.
    """
    real = ScoreGroup(enhancer, task, task_kind, "real_gt")
    pseudo = ScoreGroup(enhancer, task, task_kind, "pseudo_gt")
    free = ScoreGroup(enhancer, task, task_kind, LABEL_FREE)
    units = []
    for iid, ikey in image_keys.items():
        pred = Source("prediction", prediction_key(task_identity, ikey, task_kind))
        item = items_by_id[iid]
        if item.labels.get(task_kind) is not None:
            units.append(ScoreUnit(_at(real, item), iid, pred,
                                   Source("label", label_key(manifest_hash, iid, task_kind))))
        if iid in reference_pred_keys:
            units.append(ScoreUnit(_at(pseudo, item), iid, pred, Source("prediction", reference_pred_keys[iid])))
        if label_free:
            units.append(ScoreUnit(_at(free, item), iid, pred, NO_TARGET))
    return units


class SourceLoader:
    """Loads a :class:`Source` for an image: cached enhanced images (float RGB, ``{"image": ...}``), cached
    predictions, reference images and dataset labels. A missing cache entry is an error naming the unit."""

    def __init__(self, cache: Cache, items_by_id: Mapping[str, Any], memory: Mapping[str, Any] | None = None,
                 reference_memory_bytes: int = 512 << 20):
        from ledbench.bench.stages import Handoff

        self.cache = cache
        self.items = items_by_id
        self.memory = memory if memory is not None else {}
        self.references = Handoff(reference_memory_bytes)  # decoded references, shared by every enhancer's units

    def __call__(self, source: Source, image_id: str, task_kind: str) -> Any:
        from ledbench.bench.imageio import from_uint8

        if source.kind == "none":
            return None
        if source.kind == "reference":
            memo_key = f"{image_id}|{source.key}"
            img = self.references.get(memo_key)
            if img is None:
                img = self.items[image_id].load_reference()
                self.references.put(memo_key, img)
            return {"image": img}
        if source.kind == "label":
            return self.items[image_id].label(task_kind)
        if source.key in self.memory:  # handed over in memory by the stage that produced it
            value = self.memory[source.key]
        elif source.kind == "enhanced":
            value = self.cache.get_enhanced(source.key, count=False)
        else:
            value = self.cache.get_prediction(source.key, count=False)
        if value is None:
            raise LookupError(f"no cached {source.kind} {source.key[:12]} for image {image_id!r} "
                              "(its enhance or predict unit failed)")
        return {"image": from_uint8(value)} if source.kind == "enhanced" else value


def metric_directions_of(metric: Any) -> dict[str, bool]:
    """Output name -> higher_is_better of a metric instance."""
    return dict(metric.directions)


def score_stage(units: Iterable[ScoreUnit], make_metrics: Callable[[ScoreGroup], list[Any]], cache: Cache,
                load: Callable[[Source, str, str], Any],
                on_error: Callable[[ScoreUnit, str, BaseException], bool],
                on_group_done: Callable[[ScoreGroup, list[Any]], None],
                progress: Callable[[int], None] | None = None, *, group_cache: bool = True) -> None:
    """Score ``units`` group by group (in the order the groups first appear).

    With ``group_cache`` each metric's result over a whole group is frozen (:class:`MetricResult`) and cached
    under :func:`group_key` when no unit of it failed; a re-run with the same units gets it back without loading a
    prediction or building anything, and ``on_group_done`` receives frozen results. Without it (the non-zero
    ranks of a ``torchrun`` run, which only fill the per-image score cache) it receives the filled metrics.

    For each :class:`ScoreGroup` the accumulators come from ``make_metrics(group)``; every unit of the group is fed
    to them, and ``on_group_done(group, metrics)`` receives them filled (then they are released, so a heavy metric
    network lives for one group at a time). Per-image metrics (``metric.per_image_cacheable``) are served from the
    score cache when possible and their new values are cached. ``load(source, image_id, task_kind)`` returns a
    unit's prediction or target, loaded at most once per unit.

    A failure in one unit (loading its inputs, or one metric's update) goes to ``on_error(unit, metric_name, exc)``
    (``metric_name`` is empty for a load failure); it may raise (``on_error=fail``), or return True to drop that
    metric for the rest of the run (weights that turned out unavailable). ``KeyboardInterrupt`` is never caught.
    """
    groups: dict[ScoreGroup, list[ScoreUnit]] = {}
    for unit in units:
        groups.setdefault(unit.group, []).append(unit)
    for group, group_units in groups.items():
        made = make_metrics(group)
        frozen: dict[int, MetricResult] = {}  # position in ``made`` -> result served by the group cache
        gkeys: dict[int, str] = {}
        if group_cache:
            for i, metric in enumerate(made):
                gkeys[i] = group_key(metric, group_units)
                hit = cache.get_group(gkeys[i])
                if hit is not None:
                    frozen[i] = hit
                    cache.stats["group_hit"] += 1
        metrics = [m for i, m in enumerate(made) if i not in frozen]
        identities = {id(m): Identity(m.identity()) for m in metrics}  # serialised once per group, not per unit
        failed: set[int] = set()  # ids of metrics that lost a unit: their group result is not cached
        for unit in group_units if metrics else []:
            inputs = None
            for metric in list(metrics):
                skey = None
                if getattr(metric, "per_image_cacheable", False):
                    skey = score_key(identities[id(metric)], unit.pred.key, unit.target.key)
                    cached = cache.get_score(skey)
                    if cached is not None:
                        metric.add_image(unit.image_id, cached)
                        cache.stats["score_hit"] += 1
                        continue
                if inputs is None:
                    try:
                        inputs = (load(unit.pred, unit.image_id, group.task_kind),
                                  load(unit.target, unit.image_id, group.task_kind))
                    except Exception as exc:  # noqa: BLE001 - this unit loses its scores, the run goes on
                        on_error(unit, "", exc)
                        failed.update(id(m) for m in metrics)
                        break
                try:
                    metric.update(inputs[0], inputs[1], unit.image_id)
                except Exception as exc:  # noqa: BLE001
                    failed.add(id(metric))
                    if on_error(unit, metric.name, exc):
                        metrics.remove(metric)
                    continue
                if skey is not None:
                    values = metric.image_values(unit.image_id)
                    if values is not None:
                        cache.put_score(skey, values)
                        cache.stats["score_computed"] += 1
        kept = {id(m) for m in metrics}
        done: list[Any] = []
        for i, metric in enumerate(made):
            if i in frozen:
                done.append(frozen[i])
            elif id(metric) not in kept:  # dropped (its weights turned out unavailable)
                continue
            elif not group_cache or metric.n_images == 0:
                done.append(metric)
            else:
                try:
                    result = MetricResult.of(metric)
                except Exception:  # noqa: BLE001 - the collector reports it for this metric
                    done.append(metric)
                    continue
                if id(metric) not in failed and result.stats_error is None:
                    cache.put_group(gkeys[i], result)
                done.append(result)
        on_group_done(group, done)
        if progress is not None:
            progress(1)


class MetricResult:
    """A scored metric, frozen: outputs, standard errors, per-image values and, for dataset-level metrics, the
    per-image sufficient statistics of the bootstrap. It answers the calls the results collector makes on a metric
    (``compute``, ``stderr``, ``per_image``, ``sufficient_stats``) and is what the group cache stores."""

    def __init__(self, name: str, directions: Mapping[str, bool], n_images: int, values: Mapping[str, float],
                 stderrs: Mapping[str, float], per_image: Mapping[str, Mapping[str, float]],
                 stats: Mapping[str, Any] | None = None, reducer: str = "",
                 stats_error: BaseException | None = None, counts: Mapping[str, int] | None = None):
        self.name, self.directions, self.n_images = name, dict(directions), int(n_images)
        self.counts = {k: int(v) for k, v in (counts or {}).items()}  # images behind each output (NaN left out)
        self.values, self.stderrs = dict(values), dict(stderrs)
        self.per_image_values = {k: dict(v) for k, v in per_image.items()}
        self.stats, self.reducer, self.stats_error = (dict(stats) if stats is not None else None), reducer, stats_error
        if self.stats is not None:
            self.sufficient_stats = lambda: self.stats

    @classmethod
    def of(cls, metric: Any) -> MetricResult:
        """Freeze a filled metric (its ``compute`` / ``stderr`` errors propagate; a ``sufficient_stats`` error is
        kept in ``stats_error``: the cell keeps its value and loses only its interval)."""
        values, errs, per_image = metric.compute(), metric.stderr(), metric.per_image()
        get = getattr(metric, "sufficient_stats", None)
        stats, error = None, None
        if get is not None:
            try:
                stats = get()
            except Exception as exc:  # noqa: BLE001
                error = exc
        kind = type(metric)
        counts = getattr(metric, "output_counts", None)
        return cls(metric.name, metric_directions_of(metric), metric.n_images, values, errs, per_image, stats,
                   f"{kind.__module__}:{kind.__qualname__}", error, counts() if counts is not None else None)

    @property
    def outputs(self) -> list[str]:
        return list(self.directions)

    def compute(self) -> dict[str, float]:
        return dict(self.values)

    def stderr(self) -> dict[str, float]:
        return dict(self.stderrs)

    def per_image(self) -> dict[str, dict[str, float]]:
        return self.per_image_values

    def to_arrays(self) -> dict[str, Any]:
        """The npz form the cache stores: ``__meta__`` (JSON) plus the sufficient statistics as ``s/<name>``."""
        import json

        import numpy as np

        meta = {"name": self.name, "directions": self.directions, "n_images": self.n_images, "values": self.values,
                "stderrs": self.stderrs, "per_image": self.per_image_values, "reducer": self.reducer,
                "has_stats": self.stats is not None, "counts": self.counts}
        arrays = {f"s/{k}": np.asarray(v) for k, v in (self.stats or {}).items()}
        return {"__meta__": np.asarray(json.dumps(meta, default=float)), **arrays}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> MetricResult:
        import json

        meta = json.loads(str(arrays["__meta__"]))
        stats = {k[2:]: arrays[k] for k in arrays if k.startswith("s/")} if meta["has_stats"] else None
        return cls(meta["name"], meta["directions"], meta["n_images"], meta["values"], meta["stderrs"],
                   meta["per_image"], stats, meta["reducer"], counts=meta.get("counts"))


_CODE_DIGESTS: dict[type, str] = {}


def _code_digest(kind: type) -> str:
    """Digest of the source of every ledbench module in ``kind``'s MRO: a change in a metric's code (its
    aggregation, its standard error) invalidates the group results it produced."""
    if kind not in _CODE_DIGESTS:
        import hashlib
        import inspect
        import sys

        h = hashlib.sha256()
        for base in kind.__mro__:
            module = sys.modules.get(base.__module__)
            if module is None or not base.__module__.startswith("ledbench."):
                continue
            try:
                h.update(inspect.getsource(module).encode())
            except (OSError, TypeError):
                h.update(base.__module__.encode())
        _CODE_DIGESTS[kind] = h.hexdigest()
    return _CODE_DIGESTS[kind]


def group_key(metric: Any, units: list[ScoreUnit]) -> str:
    """Cache key of one metric's result over one group: the metric's identity and code, and every unit's image
    id, prediction key and target key, in order (keys are content-addressed, so equal keys mean equal inputs)."""
    from ledbench.bench.config import canonical_json, sha256_text

    return sha256_text(canonical_json({"v": CACHE_FORMAT, "stage": "group", "metric": metric.identity(),
                                       "code": _code_digest(type(metric)),
                                       "units": [[u.image_id, u.pred.key, u.target.key] for u in units]}))


class RowCollector:
    """Turns each scored group's metrics into results rows and per-image rows (called by the scoring stage)."""

    def __init__(self, rows, per_image, enhancers, tasks_by_name, dataset, manifest_hash, n_total, record):
        self.rows, self.per_image = rows, per_image
        self.enhancers, self.tasks = enhancers, tasks_by_name
        self.dataset, self.manifest_hash, self.n_total = dataset, manifest_hash, n_total
        self.record = record
        self.stats_files: dict[str, bytes] = {}  # stats/<...>.npz: per-image sufficient statistics (bootstrap)
        self._level_sizes: dict[float, int] | None = None
        self._level_hashes: dict[float, str] = {}

    def _manifest_hash(self, group: ScoreGroup) -> str:
        """The dataset's manifest hash, or that of the group's level in a severity sweep."""
        level = getattr(self.dataset, "level_manifest_hash", None)
        if group.severity is None or level is None:
            return self.manifest_hash
        if group.severity not in self._level_hashes:
            self._level_hashes[group.severity] = level(group.severity)
        return self._level_hashes[group.severity]

    def _n_total(self, group: ScoreGroup) -> int:
        """Items in the dataset, or in the group's level of a severity sweep."""
        if group.severity is None:
            return self.n_total
        if self._level_sizes is None:
            self._level_sizes = {}
            for it in self.dataset.items:
                if it.severity is not None:
                    self._level_sizes[float(it.severity)] = self._level_sizes.get(float(it.severity), 0) + 1
        return self._level_sizes.get(float(group.severity), 0)

    def __call__(self, group: ScoreGroup, metrics: list[Any]) -> None:
        from ledbench.reports.stats import sufficient_stats_file  # orchestration layer: may use reports

        enh = self.enhancers.get(group.enhancer)
        task = self.tasks[group.task]
        ds = self.dataset
        sev = severity_text(group.severity)
        for metric in metrics:
            if metric.n_images == 0:
                continue
            if not isinstance(metric, MetricResult):
                try:
                    metric = MetricResult.of(metric)
                except Exception as exc:  # noqa: BLE001 - a metric that cannot aggregate loses only its own rows
                    self.record("aggregate", group.enhancer, "*", exc, task=group.task, metric=metric.name)
                    continue
            values, errs = metric.values, metric.stderrs
            for out_name, higher in metric_directions_of(metric).items():
                if out_name not in values:
                    continue
                self.rows.append(ResultRow(
                    enhancer=group.enhancer, enhancer_config_hash=enh.config_hash if enh else "",
                    weights_sha256=(enh.weights_sha256 or "") if enh else "",
                    dataset=ds.name, dataset_manifest_hash=self._manifest_hash(group), split=ds.split,
                    task_kind=task.kind, task=task.name, task_config_hash=task.config_hash,
                    protocol=group.protocol, metric=out_name, value=float(values[out_name]),
                    stderr=float(errs.get(out_name, math.nan)), higher_is_better=bool(higher),
                    n_images=metric.counts.get(out_name, metric.n_images), n_images_total=self._n_total(group),
                    severity=sev))
            for iid, vals in metric.per_image().items():
                for out_name, v in vals.items():
                    self.per_image.append(PerImageRow(group.enhancer, ds.name, ds.split, task.kind, task.name,
                                                      group.protocol, out_name, iid, float(v), sev))
            try:
                if metric.stats_error is not None:
                    raise metric.stats_error
                got = sufficient_stats_file(metric, enhancer=group.enhancer, dataset=ds.name, split=ds.split,
                                            task_kind=task.kind, task=task.name, protocol=group.protocol,
                                            **({"severity": sev} if sev else {}))
            except Exception as exc:  # noqa: BLE001 - the cell keeps its value; only its interval is lost
                self.record("statistics", group.enhancer, "*", exc, task=group.task, metric=metric.name)
                got = None
            if got:
                self.stats_files[got[0]] = got[1]
