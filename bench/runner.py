"""The benchmark runner: enhance -> predict -> score -> store, as separate, cached, restartable stages.

Work is organised as (item, stage) units. Each enhance unit (enhancer, item) and predict unit (task, image) is
cached content-addressed (:mod:`ledbench.bench.cache`), so a crashed run resumes where it stopped and a re-run is
served from the cache. Under ``torchrun`` (``RANK``/``WORLD_SIZE`` set) each rank computes the units of its share of
the items; after a barrier rank 0 scores everything (all cache hits) and writes the run directory.

Floor and ceiling: the ``identity`` enhancer is the degraded input as is; the pseudo-enhancer ``reference`` is the
sharp reference (downstream tasks only).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from ledbench.bench.cache import Cache, enhanced_key, prediction_key, score_key
from ledbench.bench.config import build_config, config_hash, config_to_dict
from ledbench.bench.errors import ConfigError, InputError, LedbenchError, WeightsUnavailable
from ledbench.bench.paths import cache_dir, ensure_writable_dir
from ledbench.bench.results import PerImageRow, ResultRow, write_json, write_per_image, write_results

REFERENCE = "reference"


@dataclass(frozen=True)
class RunConfig:
    """Keys of a run file / ``key=value`` overrides (see ``ledbench run --help``)."""

    name: str = "default"
    dataset: str = "synth_mini"
    dataset_args: dict = field(default_factory=dict)
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
    tile: int = 0
    tile_overlap: int = 32
    amp: bool = False
    cache_dir: str = ""
    quiet: bool = False
    save_images: bool = False
    description: str = ""
    version: int = 1

    @property
    def run_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / self.name


def load_run_config(path: str | os.PathLike | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML run file (flat keys of :class:`RunConfig`; ``include: other.yaml`` merges a base file first)."""
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_yaml(Path(path))
    data.update(overrides or {})
    return build_config(RunConfig, data, owner="run")


def _read_yaml(path: Path, depth: int = 0) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ConfigError(f"run file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"run file {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"run file {str(path)!r} must be a mapping of keys to values")
    inc = data.pop("include", None)
    if inc and depth < 5:
        base = _read_yaml((path.parent / inc).resolve(), depth + 1)
        base.update(data)
        data = base
    return data


def default_run_file() -> Path:
    return Path(__file__).resolve().parent / "runs" / "default.yaml"


# -- helpers ----------------------------------------------------------------------------------------------------

def _progress(iterable, total: int, desc: str, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=quiet, leave=False, dynamic_ncols=True)


def prefetch(keys: list, load: Callable[[Any], Any], workers: int):
    """Yield ``(key, load(key))`` in order, decoding up to ``2 * workers`` items ahead in background threads.

    Image decoding (PIL, zlib) releases the GIL, so the next images are read while the model runs. A failed read
    is yielded as the exception (:class:`InputError` / ``OSError``) so the caller records it and goes on.
    ``workers=0`` reads in the calling thread.
    """
    def safe(key):
        try:
            return load(key)
        except (InputError, OSError) as exc:
            return exc

    if workers <= 0:
        for key in keys:
            yield key, safe(key)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    ahead = 2 * workers
    with ThreadPoolExecutor(workers, thread_name_prefix="ledbench-read") as pool:
        window: deque = deque()
        for key in keys:
            window.append((key, pool.submit(safe, key)))
            if len(window) > ahead:
                done_key, fut = window.popleft()
                yield done_key, fut.result()
        while window:
            done_key, fut = window.popleft()
            yield done_key, fut.result()


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


def _expand(names: tuple[str, ...], lister: Callable[..., list[str]]) -> list[str]:
    out: list[str] = []
    for n in names:
        if any(ch in n for ch in "*?["):
            out.extend(lister(n))
        else:
            out.append(n)
    return list(dict.fromkeys(out))


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

    # -- resolution ---------------------------------------------------------------------------------------------
    def _dataset(self):
        from ledbench.datasets import create_dataset

        args = dict(self.cfg.dataset_args)
        if self.cfg.limit:
            args["limit"] = self.cfg.limit
        try:
            return create_dataset(self.cfg.dataset, **args)
        except ConfigError as exc:
            if "limit" in str(exc) and "limit" in args:  # a dataset without a limit field: cut the list here
                args.pop("limit")
                ds = create_dataset(self.cfg.dataset, **args)
                ds._items = ds.items[: self.cfg.limit]
                return ds
            raise

    def _enhancer_names(self) -> list[str]:
        from ledbench.enhancers import enhancer_availability, list_enhancers

        names = _expand(self.cfg.enhancers, list_enhancers)
        ok = []
        for name in names:
            available, why = enhancer_availability(name)
            if available:
                ok.append(name)
            elif self.cfg.skip_unavailable:
                self.skipped.append(Skipped("enhancer", name, why))
            else:
                raise WeightsUnavailable(why)
        return ok

    def _tasks(self, device) -> list[Any]:
        from ledbench.tasks import create_task, list_tasks, task_availability

        tasks = []
        for name in _expand(self.cfg.tasks, list_tasks):
            available, why = task_availability(name)
            if not available:
                if not self.cfg.skip_unavailable:
                    raise WeightsUnavailable(why)
                self.skipped.append(Skipped("task", name, why))
                continue
            try:
                tasks.append(create_task(name, device=device, download=self.cfg.download))
            except WeightsUnavailable as exc:
                if not self.cfg.skip_unavailable:
                    raise
                self.skipped.append(Skipped("task", name, str(exc)))
        return tasks

    def _metrics_for(self, task) -> list[str]:
        if task.kind == "quality":
            return list(self.cfg.metrics)
        return list(self.cfg.task_metrics.get(task.name, task.default_metrics))

    def _error(self, enhancer: str, item, stage: str, exc: Exception) -> None:
        """Apply the ``on_error`` policy to a failed unit: raise (``fail``) or record and go on (``skip``)."""
        where = item.describe() if hasattr(item, "describe") else str(item)
        item_id = getattr(item, "id", str(item))
        msg = f"{stage} failed for {enhancer} on {where}: {exc}"
        if self.cfg.on_error == "fail":
            raise InputError(msg + " (set on_error=skip to record and continue)") from None
        self.errors.append({"enhancer": enhancer, "item": item_id, "stage": stage, "error": str(exc)})
        self.log(f"warning: {msg}; skipped")

    # -- stage 1: enhance ---------------------------------------------------------------------------------------
    def enhance_stage(self, enhancer, items: list) -> dict[str, str]:
        """Enhance ``items`` (cache-aware, batched by equal size); returns item id -> enhanced cache key."""
        from ledbench.bench.imageio import from_tensor, to_tensor, to_uint8

        identity = enhancer.identity()
        keys: dict[str, str] = {}
        todo = []
        for item in items:
            try:
                key = enhanced_key(identity, item.input_hash())
            except (InputError, OSError) as exc:
                self._error(enhancer.name, item, "read", exc)
                continue
            keys[item.id] = key
            if self.cache.has_enhanced(key):
                self.cache.stats["enhance_hit"] += 1
            else:
                todo.append(item)
        batch = max(1, self.cfg.batch)
        bar = _progress(range(len(todo)), len(todo), f"enhance {enhancer.name}", self.cfg.quiet)
        pending: list[tuple[Any, np.ndarray]] = []

        def flush():
            if not pending:
                return
            import torch

            x = torch.cat([to_tensor(img) for _, img in pending])
            try:
                y = enhancer.enhance(x)
            except (InputError, RuntimeError, ValueError) as exc:
                if len(pending) > 1:  # retry one by one to isolate the failing item
                    for it, img in pending:
                        try:
                            yi = enhancer.enhance(to_tensor(img))
                            self.cache.put_enhanced(keys[it.id], to_uint8(from_tensor(yi)))
                        except (InputError, RuntimeError, ValueError) as exc1:
                            self._error(enhancer.name, it, "enhance", exc1)
                            keys.pop(it.id, None)
                else:
                    self._error(enhancer.name, pending[0][0], "enhance", exc)
                    keys.pop(pending[0][0].id, None)
            else:
                for (it, _), yi in zip(pending, y):
                    self.cache.put_enhanced(keys[it.id], to_uint8(from_tensor(yi)))
            self.cache.stats["enhance_computed"] += len(pending)
            bar.update(len(pending))
            pending.clear()

        for item, img in prefetch(todo, lambda it: it.load_input(), self.cfg.workers):
            if isinstance(img, Exception):
                self._error(enhancer.name, item, "read", img)
                keys.pop(item.id, None)
                bar.update(1)
                continue
            if pending and (len(pending) >= batch or pending[0][1].shape != img.shape):
                flush()
            pending.append((item, img))
        flush()
        bar.close()
        return keys

    # -- stage 2: predict ---------------------------------------------------------------------------------------
    def predict_stage(self, task, images: dict[str, tuple[str, Callable[[], np.ndarray]]], label: str) -> dict:
        """Run ``task`` on images given as id -> (image key, loader); returns id -> prediction key."""
        identity = task.identity()
        keys = {iid: prediction_key(identity, ikey) for iid, (ikey, _) in images.items()}
        todo = [iid for iid in images if not self.cache.has_prediction(keys[iid])]
        self.cache.stats["predict_hit"] += len(images) - len(todo)
        batch = max(1, self.cfg.batch)
        bar = _progress(range(len(todo)), len(todo), f"{task.name} on {label}", self.cfg.quiet)
        chunk: list[tuple[str, np.ndarray]] = []

        def flush():
            if not chunk:
                return
            try:
                results = list(zip([iid for iid, _ in chunk], task.predict([img for _, img in chunk])))
            except (InputError, RuntimeError, ValueError) as exc:
                results = []
                for iid, img in chunk:  # isolate the failing image(s)
                    try:
                        results += list(zip([iid], task.predict([img])))
                    except (InputError, RuntimeError, ValueError) as exc1:
                        self._error(label, iid, f"predict ({task.name})", exc1 if len(chunk) > 1 else exc)
            for iid, pred in results:
                self.cache.put_prediction(keys[iid], pred)
            self.cache.stats["predict_computed"] += len(results)
            bar.update(len(chunk))
            chunk.clear()

        for iid, img in prefetch(todo, lambda i: images[i][1](), self.cfg.workers):
            if isinstance(img, Exception):
                self._error(label, iid, f"predict ({task.name})", img)
                bar.update(1)
                continue
            chunk.append((iid, img))
            if len(chunk) >= batch:
                flush()
        flush()
        bar.close()
        return keys

    # -- the whole run ------------------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        from ledbench.bench.device import resolve_device
        from ledbench.bench.provenance import device_info, git_revision, now_iso, package_versions, seed_everything
        from ledbench.enhancers import create_enhancer
        from ledbench.tasks.metrics import PerImageMetric, create_metric

        t0 = time.time()
        cfg = self.cfg
        run_dir = cfg.run_dir
        if self.rank == 0:
            ensure_writable_dir(run_dir, "run directory")
        seeds = seed_everything(cfg.seed)
        dataset = self._dataset()
        items = dataset.items
        if not items:
            raise InputError(f"dataset {cfg.dataset!r} has no items")
        shard = items[self.rank::self.world]
        self.log(f"dataset {dataset.name} ({dataset.split}): {len(items)} images"
                 + (f", rank {self.rank}/{self.world}: {len(shard)}" if self.world > 1 else ""))
        manifest_rows = dataset.manifest()
        manifest_hash = self._manifest_hash = dataset.manifest_hash()
        device = init_distributed(resolve_device(cfg.device))
        enhancer_names = self._enhancer_names()
        tasks = self._tasks(device)

        # stage 1 + 2 on this rank's shard: enhance each item, run each task on each enhanced image
        enhancers: dict[str, Any] = {}
        enh_keys: dict[str, dict[str, str]] = {}
        for name in enhancer_names:
            try:
                enh = create_enhancer(name, device=device, download=cfg.download, tile=cfg.tile,
                                      tile_overlap=cfg.tile_overlap, amp=cfg.amp)
            except (WeightsUnavailable, LedbenchError) as exc:
                if not cfg.skip_unavailable:
                    raise
                self.skipped.append(Skipped("enhancer", name, str(exc)))
                continue
            enhancers[name] = enh
            enh_keys[name] = self.enhance_stage(enh, shard)
        downstream = [t for t in tasks if t.kind != "quality"]
        paired_ids = {it.id for it in shard if it.paired}
        for task in downstream:
            for name, keys in enh_keys.items():
                self.predict_stage(task, self._enhanced_images(keys), name)
            if cfg.include_reference:
                refs = {it.id: ("ref:" + it.reference_hash(), it.load_reference) for it in shard
                        if it.id in paired_ids}
                self.predict_stage(task, refs, REFERENCE)
        _barrier()
        if self.rank != 0:
            return RunOutcome(run_dir, [], self.skipped, self.errors, dict(self.cache.stats), time.time() - t0)

        # rank 0: the other ranks' units are in the cache now; collect keys for all items
        if self.world > 1:
            for name, enh in enhancers.items():
                enh_keys[name] = self.enhance_stage(enh, items)
            for task in downstream:
                for name, keys in enh_keys.items():
                    self.predict_stage(task, self._enhanced_images(keys), name)

        # stage 3: score
        rows: list[ResultRow] = []
        per_image: list[PerImageRow] = []
        by_id = {it.id: it for it in items}
        n_total = len(items)

        metric_skipped: set[str] = set()

        def make_metrics(metric_names, protocol):
            out = []
            for mname in metric_names:
                if mname in metric_skipped:
                    continue
                try:
                    metric = create_metric(mname)
                except WeightsUnavailable as exc:
                    if not cfg.skip_unavailable:
                        raise
                    metric_skipped.add(mname)
                    self.skipped.append(Skipped("metric", mname, str(exc)))
                    continue
                if protocol == "no_reference" and metric.requires_reference:
                    continue
                if protocol == "full_reference" and not metric.requires_reference:
                    continue
                out.append(metric)
            return out

        def emit(enh_name, enh_hash, weights_sha, task, protocol, metric_names, pairs):
            """Score every unit of ``pairs()`` with all metrics in one pass.

            ``pairs()`` yields ``(image id, prediction key, target key, loader)``; ``loader()`` returns
            ``(prediction, target)``. Per-image scores are cached under (metric, prediction key, target key), so a
            re-run loads nothing it has already scored.
            """
            metrics = make_metrics(metric_names, protocol)
            if not metrics:
                return
            idents = {id(m): m.identity() for m in metrics}
            for iid, pkey, tkey, loader in pairs():
                loaded = None
                for metric in list(metrics):
                    skey = None
                    if isinstance(metric, PerImageMetric):
                        skey = score_key(idents[id(metric)], pkey, tkey)
                        cached = self.cache.get_score(skey)
                        if cached is not None:
                            metric._per_image[str(iid)] = cached
                            self.cache.stats["score_hit"] += 1
                            continue
                    if loaded is None:
                        loaded = loader()
                    try:
                        metric.update(loaded[0], loaded[1], iid)
                    except WeightsUnavailable as exc:  # metrics that load their weights on first use
                        if not cfg.skip_unavailable:
                            raise
                        metrics.remove(metric)
                        metric_skipped.add(metric.name)
                        self.skipped.append(Skipped("metric", metric.name, str(exc)))
                        continue
                    if skey is not None and str(iid) in metric._per_image:
                        self.cache.put_score(skey, metric._per_image[str(iid)])
            for metric in metrics:
                if metric.n_images == 0:
                    continue
                values, errs = metric.compute(), metric.stderr()
                for out_name, higher in metric.outputs.items():
                    if out_name not in values:
                        continue
                    rows.append(ResultRow(
                        enhancer=enh_name, enhancer_config_hash=enh_hash, weights_sha256=weights_sha or "",
                        dataset=dataset.name, dataset_manifest_hash=manifest_hash, split=dataset.split,
                        task=task.kind, task_model=task.name, task_config_hash=task.config_hash,
                        protocol=protocol, metric=out_name, value=float(values[out_name]),
                        stderr=float(errs.get(out_name, math.nan)), higher_is_better=bool(higher),
                        n_images=metric.n_images, n_images_total=n_total))
                for iid, vals in metric.per_image().items():
                    for out_name, v in vals.items():
                        per_image.append(PerImageRow(enh_name, dataset.name, dataset.split, task.kind, task.name,
                                                     protocol, out_name, iid, float(v)))

        def load_enh(key):
            return self._load_enhanced(key)

        score_bar = _progress(range(len(enhancers) * max(1, len(tasks))), len(enhancers) * max(1, len(tasks)),
                              "score", cfg.quiet)
        ref_pred_keys = {}
        for task in downstream:
            if cfg.include_reference:
                ident = task.identity()
                ref_pred_keys[task.name] = {it.id: prediction_key(ident, "ref:" + it.reference_hash())
                                            for it in items if it.paired}
        for name, enh in enhancers.items():
            keys = enh_keys[name]
            for task in tasks:
                metric_names = self._metrics_for(task)
                if task.kind == "quality":
                    emit(name, enh.config_hash, enh.weights_sha256, task, "full_reference", metric_names,
                         lambda keys=keys: ((iid, k, "ref:" + by_id[iid].reference_hash(),
                                             lambda k=k, iid=iid: ({"image": load_enh(k)},
                                                                   {"image": by_id[iid].load_reference()}))
                                            for iid, k in keys.items() if by_id[iid].paired))
                    emit(name, enh.config_hash, enh.weights_sha256, task, "no_reference", metric_names,
                         lambda keys=keys: ((iid, k, "-", lambda k=k: ({"image": load_enh(k)}, None))
                                            for iid, k in keys.items()))
                else:
                    ident = task.identity()
                    pkeys = {iid: prediction_key(ident, k) for iid, k in keys.items()}
                    self._emit_downstream(emit, name, enh.config_hash, enh.weights_sha256, task, metric_names,
                                          pkeys, by_id, ref_pred_keys.get(task.name, {}))
                score_bar.update(1)
        score_bar.close()
        if cfg.include_reference:
            for task in downstream:
                rkeys = ref_pred_keys.get(task.name, {})
                self._emit_downstream(emit, REFERENCE, "", "", task, self._metrics_for(task), rkeys, by_id, rkeys)

        # stage 4: store
        if cfg.save_images:
            self._save_images(run_dir / "images", enh_keys, items)
        wall = time.time() - t0
        write_results(run_dir / "results.csv", rows)
        write_per_image(run_dir / "per_image.csv", per_image)
        write_json(run_dir / "dataset_manifest.json", {"dataset": dataset.name, "split": dataset.split,
                                                       "manifest_hash": manifest_hash, "items": manifest_rows})
        manifest = {
            "ledbench_run_format": 1, "name": cfg.name, "created": now_iso(), "wall_time_s": round(wall, 3),
            "run_config": config_to_dict(cfg), "run_config_hash": config_hash(cfg),
            "dataset": {"name": dataset.name, "split": dataset.split, "n_images": n_total,
                        "manifest_hash": manifest_hash, "config": config_to_dict(dataset.config)},
            "enhancers": {n: e.identity() for n, e in enhancers.items()},
            "tasks": {t.name: t.identity() for t in tasks},
            "skipped": [dataclasses.asdict(s) for s in self.skipped], "errors": self.errors,
            "cache": {"root": str(self.cache.root), **dict(self.cache.stats)},
            "seeds": seeds, "versions": package_versions(), "git": git_revision(),
            "device": device_info(device), "world_size": self.world,
        }
        write_json(run_dir / "manifest.json", manifest)
        return RunOutcome(run_dir, rows, self.skipped, self.errors, dict(self.cache.stats), wall)

    def _load_enhanced(self, key: str) -> np.ndarray:
        from ledbench.bench.imageio import from_uint8

        return from_uint8(self.cache.get_enhanced(key, count=False))

    def _enhanced_images(self, keys: dict[str, str]) -> dict[str, tuple[str, Callable[[], np.ndarray]]]:
        """item id -> (enhanced key, loader) for :meth:`predict_stage`."""
        return {iid: (k, lambda k=k: self._load_enhanced(k)) for iid, k in keys.items()}

    def _save_images(self, root: Path, enh_keys: dict[str, dict[str, str]], items: list) -> None:
        """Copy enhanced PNGs to ``root/<enhancer>/<item_id>.png`` (plus ``input``/``reference``) for grids."""
        import shutil

        from ledbench.bench.imageio import write_png

        for name, keys in enh_keys.items():
            for iid, key in keys.items():
                dest = root / name / f"{iid}.png"
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.cache.enhanced_path(key), dest)
        for item in items:
            write_png(root / "input" / f"{item.id}.png", item.load_input())
            if item.paired:
                write_png(root / REFERENCE / f"{item.id}.png", item.load_reference())

    def _emit_downstream(self, emit, name, enh_hash, weights_sha, task, metric_names, pkeys, by_id, ref_keys):
        cache = self.cache

        def real_pairs():
            for iid, k in pkeys.items():
                if by_id[iid].labels.get(task.kind) is not None and cache.has_prediction(k):
                    yield (iid, k, f"label:{self._manifest_hash}:{iid}:{task.kind}",
                           lambda k=k, iid=iid: (cache.get_prediction(k, count=False), by_id[iid].label(task.kind)))

        def pseudo_pairs():
            for iid, k in pkeys.items():
                if iid in ref_keys and cache.has_prediction(k) and cache.has_prediction(ref_keys[iid]):
                    yield (iid, k, ref_keys[iid],
                           lambda k=k, iid=iid: (cache.get_prediction(k, count=False),
                                                 cache.get_prediction(ref_keys[iid], count=False)))

        emit(name, enh_hash, weights_sha, task, "real_gt", metric_names, real_pairs)
        emit(name, enh_hash, weights_sha, task, "pseudo_gt", metric_names, pseudo_pairs)


def run(config: RunConfig, *, log: Callable[[str], None] | None = None) -> RunOutcome:
    """Run a benchmark and write its run directory; returns the outcome (rows, skipped, errors, cache stats)."""
    return Runner(config, log=log).run()
