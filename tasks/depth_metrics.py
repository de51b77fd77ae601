"""Monocular depth metrics: AbsRel, SqRel, RMSE, RMSE-log, delta < 1.25^k, with a named per-image alignment.

Protocol (every step is a Config field; the alignment is part of the metric name):

1. **Inputs.** ``pred`` / ``target``: dicts with ``"depth"`` (float H x W), optionally ``"valid"`` (bool H x W) and
   ``"kind"`` (``"metric"``: depth in metres, ``"relative_inverse"``: affine-invariant inverse depth / disparity as
   DPT, MiDaS and Depth Anything output, ``"relative"``: depth up to scale). Without ``"kind"`` the Config's
   ``pred_kind`` is used for the prediction; for the target ``target_kind="auto"`` means "same kind as the
   prediction" (the ``pseudo_gt`` protocol, where the same task model on the sharp reference gives the target).
   Bare arrays are accepted too. A prediction of another size than the target is an error (the tasks return
   maps at input resolution).
2. **Target depth.** A ``relative_inverse`` target is turned into depth as ``1 / (d / median(d))`` over its
   positive pixels, i.e. relative depth in units of the target's median depth (so RMSE / SqRel are unitless and
   comparable across images); a ``relative`` target is divided by its median; a ``metric`` target is used as is.
3. **Valid pixels.** finite target depth strictly inside ``(min_depth, max_depth)`` (the Eigen / ultralytics
   ``DepthMetrics`` convention), and the ``valid`` masks of target and prediction where given. Images with fewer than
   ``min_valid_pixels`` valid pixels score NaN and are left out of the mean (Depth Anything V2 uses 10).
   Defaults: ``min_depth = 1e-3``; ``max_depth = 80`` (KITTI) for metric targets and ``20`` (twenty times the
   median depth, which keeps sky pixels with near-zero disparity out) for relative targets.
4. **Alignment** (per image, fitted on valid pixels only):

   - ``none``: the prediction is used in its own scale (a ``relative_inverse`` prediction is inverted after the
     same median normalisation as a relative target, so ``none`` compares one model's raw outputs in pseudo-GT);
   - ``median``: prediction depth is multiplied by ``median(target) / median(pred)`` (Eigen et al. 2014, monodepth2,
     ultralytics ``DepthMetrics(align="median")``);
   - ``lstsq``: least-squares scale and shift **in disparity space** (MiDaS, Ranftl et al. 2020; Depth Anything V2
     issue #157): ``s, t = argmin sum (s * disp_pred + t - 1 / target)^2``; the aligned disparity is clamped below
     at ``1 / max_depth`` and inverted. A depth prediction (``metric`` / ``relative``) is inverted first.

5. **Clamp** the aligned prediction depth into ``[min_depth, max_depth]`` (non-finite values go to the bound), then
   per image, over valid pixels, with ``p`` the prediction and ``t`` the target depth:
   ``abs_rel = mean |p - t| / t``, ``sq_rel = mean (p - t)^2 / t``, ``rmse = sqrt(mean (p - t)^2)``,
   ``rmse_log = sqrt(mean (ln p - ln t)^2)``, ``delta_k = mean(max(p / t, t / p) < 1.25^k)``.
6. **Average** per image (monodepth2, Depth Anything V2, ultralytics): every image weighs the same.

Directions: the errors are lower-is-better, the ``delta`` accuracies higher-is-better (range [0, 1]).

Metric names: the family ``depth`` uses the default protocol (``lstsq`` alignment) and outputs ``abs_rel``,
``sq_rel``, ``rmse``, ``rmse_log``, ``delta1``, ``delta2``, ``delta3``; ``depth_median`` and ``depth_none`` output
the same names with a ``_median`` / ``_none`` suffix (``abs_rel_median`` ...). Each output is also registered on its
own (``abs_rel``, ``abs_rel_median`` ...). With ``align="median"`` and metric inputs the numbers equal
``ultralytics.utils.metrics.DepthMetrics`` (``tests/test_depth.py`` checks this).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ledbench.bench.errors import ConfigError, InputError
from ledbench.tasks.metrics import PerImageMetric

__all__ = ["BASE_KEYS", "DepthConfig", "DepthMetric", "align_depth", "depth_errors", "fit_scale_shift"]

BASE_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "delta2", "delta3")
_HIGHER = {"delta1", "delta2", "delta3"}
KINDS = ("metric", "relative_inverse", "relative")
ALIGNS = ("none", "median", "lstsq")


@dataclass(frozen=True)
class DepthConfig:
    """Protocol parameters (see the module docstring). ``None`` depth bounds take the kind-specific default."""

    align: str = "lstsq"
    min_depth: float | None = None
    max_depth: float | None = None
    pred_kind: str = "relative_inverse"
    target_kind: str = "auto"
    min_valid_pixels: int = 10


def _unpack(x: Any) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    if isinstance(x, dict):
        depth = x["depth"]
        valid = x.get("valid")
        kind = x.get("kind")
    else:
        depth, valid, kind = x, None, None
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim == 3 and depth.shape[0] == 1:
        depth = depth[0]
    if depth.ndim != 2:
        raise InputError(f"depth map must be H x W, got shape {depth.shape}")
    if kind is not None:
        kind = str(np.asarray(kind).item()) if not isinstance(kind, str) else kind
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != depth.shape:
            raise InputError(f"valid mask {valid.shape} does not match depth map {depth.shape}")
    return depth, valid, kind


def fit_scale_shift(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Least-squares ``s, t`` minimising ``sum (s * pred + t - target)^2`` over the given (1-D) samples."""
    a00 = float(np.dot(pred, pred))
    a01 = float(pred.sum())
    a11 = float(pred.size)
    b0 = float(np.dot(pred, target))
    b1 = float(target.sum())
    det = a00 * a11 - a01 * a01
    if det <= 1e-12 * max(a00 * a11, 1e-300):
        # constant prediction: only a shift is identifiable
        return 0.0, float(target.mean()) if target.size else 0.0
    return (a11 * b0 - a01 * b1) / det, (-a01 * b0 + a00 * b1) / det


def _safe_inv(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, 1.0 / np.where(x > 0, x, 1.0), np.inf)


def align_depth(pred: np.ndarray, target: np.ndarray, mask: np.ndarray, *, pred_kind: str, align: str,
                min_depth: float, max_depth: float, norm: float = 1.0) -> np.ndarray:
    """Aligned prediction depth (full map, clamped to ``[min_depth, max_depth]``).

    Args:
        pred: raw prediction map of kind ``pred_kind``.
        target: target *depth* (already converted, see the module docstring).
        mask: valid pixels used for fitting.
        norm: median-normalisation constant of a relative-inverse target (used by ``align="none"`` so that a
            relative-inverse prediction is put on the target's scale).
    """
    if align not in ALIGNS:
        raise ConfigError(f"unknown depth alignment {align!r}; choose one of {', '.join(ALIGNS)}")
    if align == "lstsq":
        disp = pred if pred_kind == "relative_inverse" else _safe_inv(pred)
        ok = mask & np.isfinite(disp)
        s, t = fit_scale_shift(disp[ok], 1.0 / target[ok])
        aligned = s * disp + t
        aligned = np.maximum(aligned, 1.0 / max_depth)  # disparity cap (MiDaS eval)
        depth = 1.0 / aligned
    else:
        if pred_kind == "relative_inverse":
            depth = _safe_inv(pred / norm)
        else:
            depth = pred.copy()
        if align == "median":
            ok = mask & np.isfinite(depth)
            if ok.any():
                depth = depth * (np.median(target[ok]) / np.median(np.maximum(depth[ok], min_depth)))
    depth = np.nan_to_num(depth, nan=max_depth, posinf=max_depth, neginf=min_depth)
    return np.clip(depth, min_depth, max_depth)


def depth_errors(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """The seven standard errors over 1-D arrays of positive depths (see the module docstring)."""
    thresh = np.maximum(pred / target, target / pred)
    diff = pred - target
    return {
        "abs_rel": float(np.mean(np.abs(diff) / target)),
        "sq_rel": float(np.mean(diff ** 2 / target)),
        "rmse": float(np.sqrt(np.mean(diff ** 2))),
        "rmse_log": float(np.sqrt(np.mean((np.log(pred) - np.log(target)) ** 2))),
        "delta1": float(np.mean(thresh < 1.25)),
        "delta2": float(np.mean(thresh < 1.25 ** 2)),
        "delta3": float(np.mean(thresh < 1.25 ** 3)),
    }


class DepthMetric(PerImageMetric):
    """Depth error family with least-squares scale-and-shift alignment in disparity space (default protocol)."""

    Config = DepthConfig
    task_kind = "depth"
    suffix: ClassVar[str] = ""
    keys: ClassVar[tuple[str, ...]] = BASE_KEYS
    directions = {k: k in _HIGHER for k in BASE_KEYS}
    range = (0.0, math.inf)
    summary = "AbsRel, SqRel, RMSE, RMSE-log, delta<1.25^k after per-image alignment (module docstring)"

    def __init__(self, config: Any = None, *, name: str | None = None):
        super().__init__(config, name=name)
        c = self.config
        if c.align not in ALIGNS:
            raise ConfigError(f"depth metric {self.name}: align={c.align!r} is not one of {', '.join(ALIGNS)}")
        if c.align != self.Config.align:
            raise ConfigError(f"depth metric {self.name} is defined by align={self.Config.align!r} (its output names "
                              f"say so); for align={c.align!r} use the metric "
                              f"{'depth' if c.align == 'lstsq' else 'depth_' + c.align}")
        if c.pred_kind not in KINDS:
            raise ConfigError(f"depth metric {self.name}: pred_kind={c.pred_kind!r} is not one of {', '.join(KINDS)}")
        if c.target_kind not in KINDS + ("auto",):
            raise ConfigError(f"depth metric {self.name}: target_kind={c.target_kind!r} is not one of "
                              f"auto, {', '.join(KINDS)}")

    def _bounds(self, target_kind: str) -> tuple[float, float]:
        lo = self.config.min_depth if self.config.min_depth is not None else 1e-3
        hi = self.config.max_depth
        if hi is None:
            hi = 80.0 if target_kind == "metric" else 20.0
        if not 0 < lo < hi:
            raise ConfigError(f"depth metric {self.name}: need 0 < min_depth < max_depth, got {lo}, {hi}")
        return lo, hi

    def score(self, pred, target) -> dict[str, float]:
        p, p_valid, p_kind = _unpack(pred)
        t, t_valid, t_kind = _unpack(target)
        if p.shape != t.shape:
            raise InputError(f"depth prediction {p.shape} and target {t.shape} differ in size")
        p_kind = p_kind or self.config.pred_kind
        t_kind = t_kind or (p_kind if self.config.target_kind == "auto" else self.config.target_kind)
        for k in (p_kind, t_kind):
            if k not in KINDS:
                raise InputError(f"depth kind {k!r} is not one of {', '.join(KINDS)}")
        lo, hi = self._bounds(t_kind)

        norm = 1.0
        if t_kind == "relative_inverse":
            pos = np.isfinite(t) & (t > 0) & (t_valid if t_valid is not None else True)
            norm = float(np.median(t[pos])) if pos.any() else 1.0
            t_depth = _safe_inv(t / norm)
        elif t_kind == "relative":
            pos = np.isfinite(t) & (t > 0) & (t_valid if t_valid is not None else True)
            t_depth = t / (float(np.median(t[pos])) if pos.any() else 1.0)
        else:
            t_depth = t
        mask = np.isfinite(t_depth) & (t_depth > lo) & (t_depth < hi)
        if t_valid is not None:
            mask &= t_valid
        if p_valid is not None:
            mask &= p_valid
        if int(mask.sum()) < self.config.min_valid_pixels:
            return {k + self.suffix: math.nan for k in BASE_KEYS}
        aligned = align_depth(p, t_depth, mask, pred_kind=p_kind, align=self.config.align, min_depth=lo,
                              max_depth=hi, norm=norm)
        errs = depth_errors(aligned[mask], t_depth[mask])
        return {k + self.suffix: errs[k] for k in self.keys}


@dataclass(frozen=True)
class DepthMedianConfig(DepthConfig):
    align: str = "median"


@dataclass(frozen=True)
class DepthNoneConfig(DepthConfig):
    align: str = "none"


class DepthMedian(DepthMetric):
    """Depth error family with per-image median scaling (outputs suffixed ``_median``)."""

    Config = DepthMedianConfig
    suffix = "_median"
    directions = {k + "_median": k in _HIGHER for k in BASE_KEYS}


class DepthNone(DepthMetric):
    """Depth error family without alignment (outputs suffixed ``_none``): metric predictions, or pseudo-GT."""

    Config = DepthNoneConfig
    suffix = "_none"
    directions = {k + "_none": k in _HIGHER for k in BASE_KEYS}


def _single(base: type[DepthMetric], key: str) -> type[DepthMetric]:
    name = key + base.suffix
    cls = type(name, (base,), {"keys": (key,), "directions": {name: key in _HIGHER}, "__module__": __name__,
                               "__doc__": f"``{name}`` alone (protocol of :class:`{base.__name__}`)."})
    return cls


# single-output metrics, addressable as ledbench.tasks.depth_metrics:AbsRel, AbsRelMedian, AbsRelNone, ...
_CLASS_NAMES = {"abs_rel": "AbsRel", "sq_rel": "SqRel", "rmse": "RMSE", "rmse_log": "RMSELog", "delta1": "Delta1",
                "delta2": "Delta2", "delta3": "Delta3"}
for _key, _cname in _CLASS_NAMES.items():
    for _base, _tail in ((DepthMetric, ""), (DepthMedian, "Median"), (DepthNone, "None")):
        _cls = _single(_base, _key)
        _cls.__name__ = _cls.__qualname__ = _cname + _tail
        globals()[_cname + _tail] = _cls
del _key, _cname, _base, _tail, _cls
