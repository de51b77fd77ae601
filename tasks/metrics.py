"""Metric accumulator base classes (``Metric``, ``PerImageMetric``) and ``create_metric`` / ``list_metrics``.

Contract (modelled on ultralytics' ``update_stats``/``results_dict``): ``update(pred, target, image_id)`` for each
image, then ``compute() -> dict[str, float]`` and ``per_image() -> dict[image_id, dict[str, float]]``.
Semantics live on the metric, not in the run: ``directions`` maps each output name to ``higher_is_better``;
``task_kind`` says which predictions it scores; ``requires_reference`` whether it needs a target.

    from ledbench.tasks.metrics import create_metric, list_metrics
    m = create_metric("psnr"); m.update(pred, ref, "img1"); m.compute()   # {"psnr": ...}
    create_metric("psnr")(pred, ref)            # one image, nothing accumulated: a float (one output) ...
    create_metric("depth")(pred, gt)             # ... or a dict of that image's values (several outputs)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ledbench.bench.config import NoConfig, build_config, config_hash, config_to_dict
from ledbench.bench.registry import available_only
from ledbench.tasks.registry import METRICS

__all__ = ["Metric", "PerImageMetric", "METRICS", "create_metric", "list_metrics", "metric_availability",
           "metric_directions"]


class _DirectionsAlias:
    """``outputs``, the former name of ``directions``: reads and writes go to ``directions`` (class or instance).

    Kept for metric plugins written against the first API (``outputs = {...}`` on a subclass, ``metric.outputs``);
    ledbench itself reads and writes ``directions`` only."""

    def __get__(self, obj, owner=None):
        return (owner if obj is None else obj).directions

    def __set__(self, obj, value):
        obj.directions = value


class Metric:
    """Base accumulator. ``directions``: output name -> higher_is_better. ``range``: (lo, hi) of one value."""

    Config: ClassVar[type] = NoConfig
    directions: ClassVar[dict[str, bool]] = {}
    outputs = _DirectionsAlias()
    task_kind: ClassVar[str] = "quality"
    requires_reference: ClassVar[bool] = True
    range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    summary: ClassVar[str] = ""
    #: True when one image's value depends on that image only (cached per image by the scoring stage)
    per_image_cacheable: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        legacy = cls.__dict__.get("outputs")
        if isinstance(legacy, dict):  # a subclass still spelling it ``outputs = {...}``
            cls.directions = legacy
            delattr(cls, "outputs")

    def __init__(self, config: Any = None, *, name: str | None = None):
        self.config = config if config is not None else self.Config()
        self.name = name or type(self).__name__.lower()
        self.reset()

    def reset(self) -> None:
        self._per_image: dict[str, dict[str, float]] = {}

    def __call__(self, pred: Any, target: Any = None) -> dict[str, float]:
        """Score one image on its own and return ``{output: value}``; the accumulator is left untouched.

        A dataset-level metric (mAP, mIoU) is computed on a fresh copy holding only this image.
        :class:`PerImageMetric` returns a bare float when it has a single output."""
        import copy

        one = copy.copy(self)  # shares loaded models; reset() gives the copy its own (empty) state
        one.reset()
        one.update(pred, target, "image")
        return one.compute()

    def update(self, pred: Any, target: Any, image_id: str) -> None:
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        raise NotImplementedError

    def stderr(self) -> dict[str, float]:
        """Standard error of the per-image mean for each output (NaN when not defined)."""
        out = {}
        for key in self.directions:
            vals = [v[key] for v in self._per_image.values() if key in v and math.isfinite(v[key])]
            n = len(vals)
            if n < 2:
                out[key] = math.nan
                continue
            mean = sum(vals) / n
            var = sum((v - mean) ** 2 for v in vals) / (n - 1)
            out[key] = math.sqrt(var / n)
        return out

    def per_image(self) -> dict[str, dict[str, float]]:
        return dict(self._per_image)

    def add_image(self, image_id: str, values: dict[str, float]) -> None:
        """Record an image's already computed per-image values (a cache hit) as if :meth:`update` had run."""
        self._per_image[str(image_id)] = {k: float(v) for k, v in values.items()}

    def image_values(self, image_id: str) -> dict[str, float] | None:
        """The per-image values recorded for ``image_id`` (None when this metric keeps none for it)."""
        vals = self._per_image.get(str(image_id))
        return dict(vals) if vals is not None else None

    @property
    def n_images(self) -> int:
        return len(self._per_image)

    def output_counts(self) -> dict[str, int]:
        """Images behind each output's value: every scored image here; :class:`PerImageMetric` leaves out the
        images whose value is undefined (NaN) for that output."""
        return {key: self.n_images for key in self.directions}

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "config": config_to_dict(self.config)}

    @property
    def config_hash(self) -> str:
        return config_hash(self.identity())


class PerImageMetric(Metric):
    """A metric averaged over images (BasicSR / DepthMetrics convention): implement :meth:`score`."""

    #: the value of one image depends on that image only, so the runner caches it per (prediction, target)
    per_image_cacheable: ClassVar[bool] = True

    def score(self, pred: Any, target: Any) -> dict[str, float] | float:
        raise NotImplementedError

    def __call__(self, pred: Any, target: Any = None) -> dict[str, float] | float:
        """This image's value: a float for a single-output metric (``create_metric("psnr")(pred, ref)``), else
        ``{output: value}``. Exactly what :meth:`update` would record for it; nothing is recorded."""
        value = self.score(pred, target)
        values = ({k: float(v) for k, v in value.items()} if isinstance(value, dict)
                  else {next(iter(self.directions)): float(value)})
        return next(iter(values.values())) if len(self.directions) == 1 and len(values) == 1 else values

    def update(self, pred: Any, target: Any, image_id: str) -> None:
        value = self.score(pred, target)
        if not isinstance(value, dict):
            (key,) = self.directions
            value = {key: float(value)}
        self._per_image[str(image_id)] = {k: float(v) for k, v in value.items()}

    def output_counts(self) -> dict[str, int]:
        return {key: sum(1 for v in self._per_image.values() if key in v and not math.isnan(v[key]))
                for key in self.directions}

    def compute(self) -> dict[str, float]:
        """Mean over images. NaN scores (undefined for that image) are left out; +-inf propagates (an identical
        image has infinite PSNR, and dropping it would bias the mean)."""
        out = {}
        for key in self.directions:
            vals = [v[key] for v in self._per_image.values() if key in v and not math.isnan(v[key])]
            out[key] = sum(vals) / len(vals) if vals else math.nan
        return out


def create_metric(name: str, **overrides: Any) -> Metric:
    """Build a metric accumulator by registry name, with Config overrides."""
    cls = METRICS.get(name)
    entry = METRICS.entry(name)
    config = build_config(cls.Config, {**entry.meta.get("config", {}), **overrides}, owner=name)
    return cls(config, name=entry.name)


def list_metrics(filter: str | list[str] | None = None, exclude: str | list[str] | None = None, *,
                 available: bool = False) -> list[str]:
    """Registered metric names, naturally sorted; wildcards filter. ``available=True`` keeps only the metrics
    whose weights are present offline (:func:`metric_availability`)."""
    names = METRICS.names(filter, exclude)
    return available_only(names, metric_availability) if available else names



def metric_availability(name: str) -> tuple[bool, str]:
    """``(True, "")`` when metric ``name`` needs no weights or every file of its ``weights_tags`` is present
    locally (packaged or imported; no hashing, no network), else ``(False, how to get the first missing one)``.
    Strict on purpose: a metric with several declared files (LPIPS: VGG and AlexNet trunks) is listed only when
    all are here, unless its class answers itself with a ``availability()`` classmethod of the same signature."""
    from ledbench.bench.weights import find_local, unavailable_message

    cls = METRICS.get(name)
    own = getattr(cls, "availability", None)
    if callable(own):
        return own()
    for tag, spec in (getattr(cls, "weights_tags", None) or {}).items():
        if find_local(spec) is None:
            return False, unavailable_message(spec, f"{name.split('.')[0]}.{tag}")
    return True, ""


def metric_directions(name: str) -> dict[str, bool]:
    """Output name -> higher_is_better for metric ``name`` (imports the metric class)."""
    return dict(METRICS.get(name).directions)
