"""Paired bootstrap statistics over images: confidence intervals, differences to a baseline, Holm-corrected
significance, rank stability, quality-vs-downstream correlations and two-enhancer comparisons.

Pure functions of stored results (``results.csv``, ``per_image.csv`` and the sufficient statistics in ``stats/``).
Conventions:

- **Columns.** A column is one (dataset, split, task_kind, task, protocol, metric); its rows are enhancers. The
  ceiling ``reference`` is never resampled or compared.
- **Paired resampling.** Each replicate draws ``n`` image indices with replacement (``n`` = the images every
  compared enhancer completed, with a finite score) and evaluates *every* enhancer of the column on the same draw,
  so differences are paired. Draws come from ``numpy.random.default_rng(seed).integers(0, n, (n_resamples, n))``:
  exactly the draw of ``scipy.stats.bootstrap(..., n_resamples=B, rng=seed)`` with ``batch=None`` (one sample, or
  ``paired=True``), so the same seed gives the same resamples as scipy. Every column with the same ``n`` gets the
  same draws.
- **Statistics.** Mean metrics (PSNR, SSIM, LPIPS, NIQE, depth errors ...) are the mean of per-image values.
  Dataset-level metrics (COCO mAP/AR, confusion-matrix mIoU / pixel accuracy) are recomputed on every replicate from
  per-image sufficient statistics by the metric's own ``reduce`` (the code path of its ``compute()``), with the
  bootstrap counts as image weights; a column whose table value is not a per-image mean and has no stored
  sufficient statistics is left without intervals.
- **Intervals.** ``method="percentile"`` (linear-interpolated quantiles of the bootstrap distribution, as scipy) or
  ``"bca"`` (bias-corrected and accelerated, Efron & Tibshirani 1993 §14.3, acceleration from the jackknife, as
  scipy). ``delta = value(enhancer) - value(baseline)`` with its interval from the paired replicates.
- **p-value** of ``delta = 0`` (column ``test`` says which test gave it):

  * ``sign-flip exact`` for a per-image mean column with ``n <= exact_max_n`` images (default 12): the exact
    two-sided paired randomisation test (Fisher's sign-flip test; P. Good, *Permutation Tests*, Springer;
    Dror et al. 2018, *The Hitchhiker's Guide to Testing Statistical Significance in NLP*, ACL): under the null
    each per-image difference ``d_i`` to the baseline is as likely as ``-d_i``, so ``p`` = share of the ``2^n``
    sign patterns whose ``|mean(s_i d_i)|`` reaches ``|mean(d_i)|`` (a relative tolerance of 1e-9 absorbs
    rounding). All patterns are enumerated (4,096 at n = 12); it equals ``scipy.stats.permutation_test`` with
    ``permutation_type="samples"`` and exact enumeration. Its smallest value is ``2 / 2^n`` (0.25 at n = 3): the
    percentile bootstrap p below is anti-conservative at such n (it reports 0.001 with 3 images).
  * ``bootstrap`` above ``exact_max_n`` and for dataset-level columns: ``min(1, 2 min(P*(delta <= 0),
    P*(delta >= 0)))`` with the ``+1`` correction of Davison & Hinkley (1997, eq. 4.11): ``(1 + #{delta* <= 0}) /
    (B + 1)``; it is below ``1 - level`` when the percentile interval excludes 0.
  * none (NaN) for a dataset-level column (mAP, mIoU: no per-image additive differences, so no sign-flip test)
    with ``n < min_n_for_level(level)`` images (6 at level 0.95: ``2 / 2^5 = 0.0625``): no paired randomisation
    test can reach the level there; ``note`` says so.

  ``p_holm``: Holm's step-down adjustment across the enhancers compared with the baseline in the column (Holm
  1979); ``significant = p_holm < 1 - level``.
- **Rank stability.** Over the ranked enhancers (floor and ceiling excluded, as in the tables): ``p_best`` = share
  of replicates in which the enhancer is best (ties shared), ``mean_rank`` (1 = best, ties averaged). ``mark``:
  1 on the best row when it beats the second in at least ``(1 + level) / 2`` of the replicates (the paired
  interval of their difference excludes 0), 2 on the second when, in addition, it beats the third the same way;
  no mark when the top two are indistinguishable, and none at all with ``n < min_n_for_level(level)`` images
  (the same bound as above; ``note`` says so).

    boot = bootstrap_run("runs/default")                    # one row per results row, with ci_low ... mark
    cmp = compare("runs/default", "sci.medium", "gamma")      # paired comparison of two enhancers
    cor = correlations_run("runs/default")                  # Kendall tau / Spearman rho across enhancers
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ledbench.bench.errors import ConfigError, InputError
from ledbench.bench.results import KEY_COLUMNS

__all__ = [
    "COLUMN_KEYS",
    "STAT_COLUMNS",
    "BootstrapSettings",
    "SufficientStats",
    "bootstrap_interval",
    "bootstrap_run",
    "bootstrap_table",
    "compare",
    "correlations",
    "correlations_run",
    "format_compare",
    "holm",
    "kendall_tau_b",
    "load_run",
    "load_sufficient_stats",
    "min_n_for_level",
    "p_value",
    "resample_counts",
    "save_sufficient_stats",
    "sign_flip_p",
    "spearman_rho",
    "statistics_for_run",
    "sufficient_stats_file",
    "sufficient_stats_from_bytes",
    "write_statistics",
]

#: one statistics column per key; ``severity`` last ("" outside sweeps): images are paired within one level only
COLUMN_KEYS = ["dataset", "split", "task_kind", "task", "protocol", "metric", "severity"]
_METRIC = COLUMN_KEYS.index("metric")
STAT_COLUMNS = ["ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high", "p_value", "p_holm", "significant",
                "test", "p_best", "mean_rank", "mark", "n_boot_images"]
CEILING = "reference"
FLOORS = ("identity", "input")
METHODS = ("percentile", "bca")
STATS_DIR = "stats"
STATS_FORMAT = 1
EXACT_TEST = "sign-flip exact"  # the ``test`` column: which test gave ``p_value``
BOOT_TEST = "bootstrap"
MAX_EXACT_N = 16  # 2^16 sign patterns at most


@dataclass(frozen=True)
class BootstrapSettings:
    """Bootstrap parameters; recorded with the statistics (``statistics.json`` / the run manifest).

    ``exact_max_n``: per-image mean columns with at most this many images get the exact sign-flip p-value instead of
    the bootstrap one (module docstring; 0 turns it off, at most 16).
    """

    n_resamples: int = 2000
    level: float = 0.95
    seed: int = 0
    method: str = "percentile"
    baseline: str = "identity"
    exact_max_n: int = 12

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"unknown bootstrap method {self.method!r}; choose percentile or bca")
        if not 0 < self.level < 1:
            raise ConfigError(f"confidence level must be in (0, 1), got {self.level}")
        if self.n_resamples < 10:
            raise ConfigError(f"n_resamples must be at least 10, got {self.n_resamples}")
        if not 0 <= self.exact_max_n <= MAX_EXACT_N:
            raise ConfigError(f"exact_max_n must be in 0..{MAX_EXACT_N} (2^n sign patterns), got {self.exact_max_n}")


# --------------------------------------------------------------------------------------------------- numerics


def resample_indices(n: int, n_resamples: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``(n_resamples, n)`` image indices, drawn as ``scipy.stats.bootstrap`` draws them (module docstring)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.integers(0, n, (n_resamples, n))


def resample_counts(n: int, n_resamples: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``(n_resamples, n)`` float64 counts: how often each image is drawn in each replicate (read-only; the last
    draw for an integer seed is reused, as every column with the same image count shares it)."""
    if isinstance(seed, np.random.Generator):
        return _counts_from(resample_indices(n, n_resamples, seed))
    return _cached_counts(int(n), int(n_resamples), int(seed))


def _counts_from(idx: np.ndarray) -> np.ndarray:
    b, n = idx.shape
    offs = np.arange(b)[:, None] * n
    out = np.bincount((idx + offs).ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=2)
def _cached_counts(n: int, n_resamples: int, seed: int) -> np.ndarray:
    return _counts_from(resample_indices(n, n_resamples, seed))


def _quantile_rows(theta_b: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Linear-interpolated quantile ``q[...]`` of each row of ``theta_b[..., B]`` (numpy's default method)."""
    s = np.sort(theta_b, axis=-1)
    b = s.shape[-1]
    pos = np.clip(q, 0.0, 1.0) * (b - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, b - 1)
    frac = pos - lo
    a_lo = np.take_along_axis(s, lo[..., None], axis=-1)[..., 0]
    a_hi = np.take_along_axis(s, hi[..., None], axis=-1)[..., 0]
    out = a_lo + (a_hi - a_lo) * frac
    return np.where(np.isnan(q), np.nan, out)


def bootstrap_interval(theta_b: np.ndarray, theta_hat: np.ndarray, level: float = 0.95, method: str = "percentile",
                       jackknife: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided interval from a bootstrap distribution.

    Args:
        theta_b: ``(..., B)`` replicates.
        theta_hat: ``(...)`` the statistic on the data (BCa bias correction).
        method: ``percentile`` or ``bca``.
        jackknife: ``(..., n)`` leave-one-image-out statistics (BCa acceleration); required for ``bca``.
    """
    theta_b = np.asarray(theta_b, dtype=np.float64)
    alpha = (1.0 - level) / 2.0
    if method == "percentile":
        q = np.quantile(theta_b, [alpha, 1.0 - alpha], axis=-1)
        return q[0], q[1]
    if method != "bca":
        raise ConfigError(f"unknown bootstrap method {method!r}; choose percentile or bca")
    if jackknife is None:
        raise ConfigError("the BCa interval needs the jackknife statistics")
    from scipy.special import ndtr, ndtri
    hat = np.asarray(theta_hat, dtype=np.float64)[..., None]
    b = theta_b.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        z0 = ndtri(((theta_b < hat).sum(-1) + (theta_b <= hat).sum(-1)) / (2.0 * b))
        u = np.mean(jackknife, axis=-1, keepdims=True) - jackknife
        a = np.sum(u ** 3, axis=-1) / (6.0 * np.sum(u ** 2, axis=-1) ** 1.5)
        a = np.where(np.isfinite(a), a, 0.0)  # constant jackknife: no acceleration
        z = ndtri(alpha)
        a1 = ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))
        a2 = ndtr(z0 + (z0 - z) / (1 - a * (z0 - z)))
    return _quantile_rows(theta_b, a1), _quantile_rows(theta_b, a2)


def p_value(delta_b: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-value of ``delta = 0`` from ``(..., B)`` paired replicates (module docstring)."""
    d = np.asarray(delta_b, dtype=np.float64)
    b = d.shape[-1]
    lo = (1.0 + (d <= 0).sum(-1)) / (b + 1.0)
    hi = (1.0 + (d >= 0).sum(-1)) / (b + 1.0)
    p = np.minimum(1.0, 2.0 * np.minimum(lo, hi))
    return np.where(np.isnan(d).any(-1), np.nan, p)


def sign_flip_p(diff: np.ndarray) -> np.ndarray:
    """Exact two-sided paired sign-flip p-value of ``mean = 0`` for ``(..., n)`` per-image differences: the share of
    the ``2^n`` sign patterns ``s`` with ``|mean(s * d)| >= |mean(d)|`` (module docstring); NaN where a row holds
    NaN. Enumerates every pattern, so keep ``n`` small (at most 16)."""
    d = np.asarray(diff, dtype=np.float64)
    n = d.shape[-1]
    if n > MAX_EXACT_N:
        raise ConfigError(f"the exact sign-flip test enumerates 2^n patterns; n={n} is over {MAX_EXACT_N}")
    signs = 1.0 - 2.0 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)  # (2^n, n), row 0: all +1
    flipped = np.abs(d @ signs.T) / n  # (..., 2^n)
    observed = np.abs(d.mean(-1, keepdims=True))
    tol = 1e-9 * np.abs(d).mean(-1, keepdims=True)  # rounding of the n-term sums, not a real difference
    p = (flipped >= observed - tol).mean(-1)
    return np.where(np.isnan(d).any(-1), np.nan, p)


def min_n_for_level(level: float) -> int:
    """Smallest image count at which a two-sided paired randomisation test can reach ``p < 1 - level``: its
    smallest p-value is ``2 / 2^n`` (6 at level 0.95)."""
    n = 1
    while 2.0 ** (1 - n) >= 1.0 - level:
        n += 1
    return n


def holm(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries are left out of the family and stay NaN)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="mergesort")]
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


def _ranks(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Average ranks (1 = smallest, ties share their mean rank) along ``axis``; O(n^2) compares, for few rows."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    less = (x[..., None, :] < x[..., :, None]).sum(-1)
    leq = (x[..., None, :] <= x[..., :, None]).sum(-1)
    return np.moveaxis((less + leq + 1) / 2.0, -1, axis)


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b along the last axis (vectorised over leading axes; equals ``scipy.stats.kendalltau``)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    i, j = np.triu_indices(x.shape[-1], k=1)
    sx, sy = np.sign(x[..., i] - x[..., j]), np.sign(y[..., i] - y[..., j])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(-1) / np.sqrt((sx != 0).sum(-1) * (sy != 0).sum(-1))


def spearman_rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho (Pearson correlation of average ranks) along the last axis, vectorised."""
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    rx = rx - rx.mean(-1, keepdims=True)
    ry = ry - ry.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(-1) / np.sqrt((rx ** 2).sum(-1) * (ry ** 2).sum(-1))


# --------------------------------------------------------------------------------------------------- sufficient stats


@dataclass
class SufficientStats:
    """Stored per-image sufficient statistics of one (enhancer, column family): arrays and the reducer."""

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]
    reducer: Callable[[dict[str, np.ndarray], np.ndarray], dict[str, np.ndarray]]

    _memo: dict[Any, tuple[np.ndarray | None, dict[str, np.ndarray]]] = field(default_factory=dict)

    @property
    def image_ids(self) -> list[str]:
        return [str(i) for i in self.arrays["image_ids"]]

    def reduce(self, weights: np.ndarray, positions: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """All outputs for ``(B, n_images)`` weights, or ``(B, k)`` weights of the images at ``positions`` (the others
        weigh 0). The last few results are kept, since every output of the metric (mAP, mAP50, ...) is a column of
        its own that asks for the same weights: a read-only array (``resample_counts``) is known by its identity,
        any other by a hash of its bytes (for 2,000 x 5,000 weights that hash and the zero-filled copy cost 0.4 s
        per column)."""
        import hashlib

        def digest(a: np.ndarray) -> bytes:
            return hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=16).digest()

        w = np.asarray(weights, dtype=np.float64)
        pos = None if positions is None else np.asarray(positions, dtype=np.int64)
        where = None if pos is None else digest(pos)
        known = not w.flags.writeable and w.flags.owndata  # cannot change under us
        key = (w.shape, where, id(w)) if known else (w.shape, where, digest(w))
        hit = self._memo.get(key)
        if hit is not None and (hit[0] is None or hit[0] is w):
            return hit[1]
        if pos is None:
            full = np.ascontiguousarray(w)
        else:
            full = np.zeros((len(w), len(self.arrays["image_ids"])))
            full[:, pos] = w
        if len(self._memo) >= 4:
            self._memo.pop(next(iter(self._memo)))
        out = self.reducer(self.arrays, full)
        self._memo[key] = (w if known else None, out)  # holding the array keeps its id from being reused
        return out


def _safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", str(s))


def sufficient_stats_file(metric: Any, *, enhancer: str, dataset: str, split: str, task_kind: str, task: str,
                          protocol: str, severity: str = "") -> tuple[str, bytes] | None:
    """``("stats/<task>__<protocol>__<enhancer>__<metric>.npz", npz bytes)`` for a scored metric, or None for
    metrics without ``sufficient_stats`` (per-image means: their ``per_image.csv`` values suffice).

    Call after the metric's last ``update``. The file holds the arrays plus ``__meta__`` (JSON: the key fields, the
    output names and the import path of the class whose ``reduce`` recomputes them).
    """
    get = getattr(metric, "sufficient_stats", None)
    if get is None:
        return None
    arrays = get()
    cls = type(metric)
    reducer = getattr(metric, "reducer", None) or f"{cls.__module__}:{cls.__qualname__}"  # a frozen MetricResult
    meta = {"format": STATS_FORMAT, "enhancer": enhancer, "dataset": dataset, "split": split, "task_kind": task_kind,
            "task": task, "protocol": protocol, "metric": metric.name,
            "outputs": list(metric.directions), "reducer": reducer, **({"severity": severity} if severity else {})}
    parts = (task, protocol, enhancer, metric.name) + ((f"s{severity}",) if severity else ())
    name = "__".join(_safe_name(x) for x in parts) + ".npz"
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.asarray(json.dumps(meta, sort_keys=True)), **arrays)
    return f"{STATS_DIR}/{name}", buf.getvalue()


def save_sufficient_stats(run_dir: str | Path, metric: Any, **key: str) -> Path | None:
    """Write :func:`sufficient_stats_file` into ``run_dir`` (atomically); returns the path, or None."""
    from ledbench.bench.files import atomic_write_bytes

    got = sufficient_stats_file(metric, **key)
    if got is None:
        return None
    path = Path(run_dir) / got[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, got[1])
    return path


def _import_reducer(spec: str, path: Path) -> Callable:
    module, _, name = spec.partition(":")
    if not module.startswith("ledbench."):
        raise InputError(f"{path}: reducer {spec!r} is not a ledbench metric; delete the file and re-score the run")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj.reduce


def _parse_stats(name: str, data: bytes | Path) -> SufficientStats:
    try:
        with np.load(io.BytesIO(data) if isinstance(data, bytes) else data, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"unreadable sufficient-statistics file {name}: {exc}; delete it and re-score the run") \
            from exc
    if meta.get("format") != STATS_FORMAT:
        raise InputError(f"{name}: stats format {meta.get('format')} is not {STATS_FORMAT}; re-score the run")
    return SufficientStats(meta, arrays, _import_reducer(meta["reducer"], Path(name)))


def _index(parsed: list[SufficientStats]) -> dict[tuple, SufficientStats]:
    out: dict[tuple, SufficientStats] = {}
    for st in parsed:
        m = st.meta
        for output in m["outputs"]:
            out[(m["enhancer"], m["dataset"], m["split"], m["task_kind"], m["task"], m["protocol"], output,
                 m.get("severity", ""))] = st
    return out


def load_sufficient_stats(run_dir: str | Path) -> dict[tuple, SufficientStats]:
    """All stored sufficient statistics of a run: ``(enhancer, dataset, split, task_kind, task, protocol, output,
    severity)`` -> :class:`SufficientStats` (one entry per output name of the metric). Empty when the run has none."""
    root = Path(run_dir) / STATS_DIR
    if not root.is_dir():
        return {}
    return _index([_parse_stats(str(p), p) for p in sorted(root.glob("*.npz"))])


def sufficient_stats_from_bytes(files: dict[str, bytes]) -> dict[tuple, SufficientStats]:
    """:func:`load_sufficient_stats` for in-memory :func:`sufficient_stats_file` results (name -> bytes)."""
    return _index([_parse_stats(name, data) for name, data in sorted(files.items())])


def statistics_for_run(results, per_image, stats_files: dict[str, bytes] | None = None, **kwargs: Any):
    """Everything a run stores about its statistics, from in-memory results (for the runner, before it writes).

    Args:
        results, per_image: DataFrames of the run's rows (``read_results`` / ``read_per_image`` columns).
        stats_files: ``{"stats/<name>.npz": bytes}`` from :func:`sufficient_stats_file`.
        **kwargs: :func:`bootstrap_table` settings.

    Returns ``(bootstrap frame, {"statistics.csv": bytes}, manifest entry)``; the manifest entry holds the settings
    (seed, resamples, level, method, baseline) and the wall time of the statistics.
    """
    from ledbench.bench.results import csv_bytes

    boot = bootstrap_table(results, per_image, sufficient_stats_from_bytes(stats_files or {}), **kwargs)
    entry = {**boot.attrs["bootstrap"], "file": "statistics.csv"}
    return boot, {"statistics.csv": csv_bytes(boot.to_dict("records"), list(boot.columns))}, entry


# --------------------------------------------------------------------------------------------------- columns


@dataclass
class _Column:
    """One results column restricted to the images every enhancer completed (finite score)."""

    key: tuple
    higher: bool
    enhancers: list[str]
    image_ids: list[str]
    values: np.ndarray | None = None  # E x n per-image values (mean metrics)
    suff: list[tuple[SufficientStats, np.ndarray, str]] = field(default_factory=list)  # (stats, positions, output)
    per_image: np.ndarray | None = None  # E x n per-image values (for wins), may hold NaN

    @property
    def n(self) -> int:
        return len(self.image_ids)

    @property
    def dataset_level(self) -> bool:
        return self.values is None

    def evaluate(self, weights: np.ndarray) -> np.ndarray:
        """``(E, B)`` statistics for ``(B, n)`` image weights (counts)."""
        w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        if self.values is not None:
            return (self.values @ w.T) / w.sum(1)
        out = np.empty((len(self.enhancers), len(w)))
        for e, (st, pos, output) in enumerate(self.suff):
            out[e] = np.asarray(st.reduce(w, pos)[output], dtype=np.float64)
        return out

    def point(self) -> np.ndarray:
        return self.evaluate(np.ones((1, self.n)))[:, 0]

    def jackknife(self) -> np.ndarray:
        """``(E, n)`` leave-one-image-out statistics."""
        if self.values is not None:
            total = self.values.sum(1, keepdims=True)
            return (total - self.values) / (self.n - 1)
        out = []
        for s in range(0, self.n, 256):  # blocks of leave-one-out weightings (an n x n matrix can be large)
            w = np.ones((min(256, self.n - s), self.n))
            w[np.arange(len(w)), s + np.arange(len(w))] = 0.0
            out.append(self.evaluate(w))
        return np.concatenate(out, axis=1)

    def subset(self, enhancers: Sequence[str] | None = None, image_ids: Sequence[str] | None = None) -> _Column:
        e_idx = [self.enhancers.index(e) for e in (enhancers if enhancers is not None else self.enhancers)]
        pos_of = {iid: i for i, iid in enumerate(self.image_ids)}
        ids = list(image_ids) if image_ids is not None else list(self.image_ids)
        i_idx = np.asarray([pos_of[i] for i in ids], dtype=np.int64)
        return _Column(self.key, self.higher, [self.enhancers[i] for i in e_idx], ids,
                       None if self.values is None else self.values[np.ix_(e_idx, i_idx)],
                       [(s, p[i_idx], o) for s, p, o in (self.suff[i] for i in e_idx)] if self.suff else [],
                       None if self.per_image is None else self.per_image[np.ix_(e_idx, i_idx)])


def _is_per_image_mean(value: float, vals: np.ndarray) -> bool:
    """Whether a results value is the mean of its per-image values (PerImageMetric) rather than dataset-level."""
    v = vals[~np.isnan(vals)]
    if v.size == 0 or not math.isfinite(value):
        return False
    m = float(np.mean(v))
    return math.isfinite(m) and abs(m - value) <= 1e-9 * max(1.0, abs(value))


def _pivot(pg):
    """Per-image rows of one column -> DataFrame enhancer x image_id (first value wins, NaN where missing)."""
    import pandas as pd

    e_codes, e_names = pd.factorize(pg["enhancer"], sort=False)
    i_codes, i_names = pd.factorize(pg["image_id"].astype(str), sort=False)
    out = np.full((len(e_names), len(i_names)), np.nan)
    vals = pg["value"].to_numpy(dtype=np.float64)
    out[e_codes[::-1], i_codes[::-1]] = vals[::-1]  # reversed: the first duplicate is written last
    return pd.DataFrame(out, index=list(e_names), columns=list(i_names))


def build_columns(results, per_image, suff: dict[tuple, SufficientStats] | None = None,
                  exclude: Sequence[str] = (CEILING,)) -> tuple[dict[tuple, _Column], dict[tuple, str]]:
    """Columns of a single run: ``(COLUMN_KEYS values) -> _Column``, plus ``key -> reason`` for columns left out."""
    from ledbench.bench.results import normalize_columns

    suff = suff or {}
    skipped: dict[tuple, str] = {}
    cols: dict[tuple, _Column] = {}
    results = normalize_columns(results)
    per_image = normalize_columns(per_image) if per_image is not None else None
    res = results[~results["enhancer"].isin(list(exclude))]
    pi = per_image[~per_image["enhancer"].isin(list(exclude))] if per_image is not None else None
    pi_groups = dict(iter(pi.groupby(COLUMN_KEYS, sort=False))) if pi is not None and len(pi) else {}
    for key, g in res.groupby(COLUMN_KEYS, sort=False):
        key = tuple(key)
        enhancers = list(dict.fromkeys(g["enhancer"]))
        higher = bool(g["higher_is_better"].iloc[0])
        value_of = dict(zip(g["enhancer"], g["value"].astype(float)))
        pg = pi_groups.get(key)
        table = _pivot(pg) if pg is not None and len(pg) else None
        have_suff = [e for e in enhancers if (e, *key) in suff]
        if have_suff:  # dataset-level metric with stored sufficient statistics
            enh = have_suff
            ids = None
            for e in enh:
                s = set(suff[(e, *key)].image_ids)
                ids = s if ids is None else ids & s
            order = [i for i in suff[(enh[0], *key)].image_ids if i in ids]
            entries = []
            for e in enh:
                st = suff[(e, *key)]
                pos_of = {iid: i for i, iid in enumerate(st.image_ids)}
                entries.append((st, np.asarray([pos_of[i] for i in order], dtype=np.int64), key[_METRIC]))
            pim = None
            if table is not None:
                pim = table.reindex(index=enh, columns=order).to_numpy(dtype=np.float64)
            cols[key] = _Column(key, higher, enh, order, None, entries, pim)
            if len(enh) < len(enhancers):
                skipped[key] = f"no sufficient statistics for {', '.join(sorted(set(enhancers) - set(enh)))}"
            continue
        if table is None:
            skipped[key] = "no per-image values"
            continue
        enh = [e for e in enhancers if e in table.index]
        vals = table.loc[enh].to_numpy(dtype=np.float64)
        not_mean = [e for i, e in enumerate(enh) if not _is_per_image_mean(value_of[e], vals[i])]
        if not_mean:
            skipped[key] = ("dataset-level metric without stored sufficient statistics "
                            f"(not a per-image mean for {', '.join(not_mean[:3])})")
            continue
        ok = np.isfinite(vals).all(0)
        ids = [str(c) for c, k in zip(table.columns, ok) if k]
        cols[key] = _Column(key, higher, enh, ids, vals[:, ok], [], vals[:, ok])
    return cols, skipped


# --------------------------------------------------------------------------------------------------- tables


def _resolve_baseline(baseline: str | None, enhancers: Sequence[str]) -> str | None:
    if baseline is None:
        return None
    if baseline in enhancers:
        return baseline
    if baseline in FLOORS:  # "identity" and "input" are both the degraded image
        return next((f for f in FLOORS if f in enhancers), None)
    return None


def _column_stats(col: _Column, s: BootstrapSettings, ranked_exclude: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per-enhancer statistics of one column (see the module docstring)."""
    n = col.n
    nan = math.nan
    out = {name: {"value_boot": nan, "ci_low": nan, "ci_high": nan, "delta": nan, "delta_ci_low": nan,
                  "delta_ci_high": nan, "p_value": nan, "p_holm": nan, "significant": False, "test": "",
                  "p_best": nan, "mean_rank": nan, "mark": 0, "n_boot_images": n, "dataset_level": col.dataset_level,
                  "note": ""} for name in col.enhancers}
    if n < 2:
        return out
    n_min = min_n_for_level(s.level)
    few = n < n_min  # no paired test can reach the level: no p for dataset-level columns, no best / second mark
    few_note = (f"n={n} < {n_min}: no paired test can reach p < {1 - s.level:.2g} (the exact sign-flip test's "
                f"smallest p is 2/2^n = {2.0 ** (1 - n):.3g})")
    w = resample_counts(n, s.n_resamples, s.seed)
    theta_b = col.evaluate(w)
    theta_hat = col.point()
    jack = col.jackknife() if s.method == "bca" else None
    lo, hi = bootstrap_interval(theta_b, theta_hat, s.level, s.method, jack)
    for i, name in enumerate(col.enhancers):
        out[name].update(value_boot=float(theta_hat[i]), ci_low=float(lo[i]), ci_high=float(hi[i]))
    base = _resolve_baseline(s.baseline, col.enhancers)
    if base is not None:
        b = col.enhancers.index(base)
        d_b = theta_b - theta_b[b]
        d_hat = theta_hat - theta_hat[b]
        d_lo, d_hi = bootstrap_interval(d_b, d_hat, s.level, s.method, None if jack is None else jack - jack[b])
        p, test = _p_values(col, b, d_b, s, few)
        p[b] = nan
        p_adj = holm(p)
        for i, name in enumerate(col.enhancers):
            if i == b:
                out[name].update(delta=0.0)
                continue
            out[name].update(delta=float(d_hat[i]), delta_ci_low=float(d_lo[i]), delta_ci_high=float(d_hi[i]),
                             p_value=float(p[i]), p_holm=float(p_adj[i]),
                             significant=bool(p_adj[i] < 1.0 - s.level), test=test if math.isfinite(p[i]) else "")
    ranked = [i for i, name in enumerate(col.enhancers) if name not in ranked_exclude]
    if len(ranked) >= 2:
        sign = 1.0 if col.higher else -1.0
        sc = sign * theta_b[ranked]  # R x B, larger is better
        with np.errstate(invalid="ignore"):
            is_best = sc == np.nanmax(sc, axis=0)
            p_best = (is_best / np.maximum(is_best.sum(0), 1)).mean(1)
        mean_rank = _ranks(-sc, axis=0).mean(1)
        order = sorted(range(len(ranked)), key=lambda r: -sign * theta_hat[ranked[r]])
        need = (1.0 + s.level) / 2.0

        def beats(a: int, c: int) -> float:
            return float(np.mean(sc[a] > sc[c]) + 0.5 * np.mean(sc[a] == sc[c]))

        for r, i in enumerate(ranked):
            out[col.enhancers[i]].update(p_best=float(p_best[r]), mean_rank=float(mean_rank[r]))
        if not few and beats(order[0], order[1]) >= need:
            out[col.enhancers[ranked[order[0]]]]["mark"] = 1
            if len(order) == 2 or beats(order[1], order[2]) >= need:
                out[col.enhancers[ranked[order[1]]]]["mark"] = 2
    if few:
        what = "no p-value (dataset-level metric) and no" if col.dataset_level and base is not None else "no"
        for name in col.enhancers:
            out[name]["note"] = f"{few_note}; {what} best / second mark"
    return out


def _p_values(col: _Column, b: int, d_b: np.ndarray, s: BootstrapSettings, few: bool) -> tuple[np.ndarray, str]:
    """p-values of every enhancer's difference to row ``b`` and the test that gave them (module docstring)."""
    if not col.dataset_level and col.n <= s.exact_max_n:
        return sign_flip_p(col.values - col.values[b]), EXACT_TEST
    if col.dataset_level and few:
        return np.full(len(col.enhancers), math.nan), ""
    return p_value(d_b), BOOT_TEST


def bootstrap_table(results, per_image, suff: dict[tuple, SufficientStats] | None = None, *,
                    baseline: str | None = "identity", n_resamples: int = 2000, level: float = 0.95, seed: int = 0,
                    method: str = "percentile", exclude_from_ranking: Sequence[str] = (*FLOORS, CEILING),
                    exact_max_n: int = 12):
    """Paired bootstrap statistics for every results row of one run (see the module docstring).

    Args:
        results, per_image: ``read_results`` / ``read_per_image`` DataFrames of one run.
        suff: :func:`load_sufficient_stats` of the run (dataset-level metrics); without it those columns get NaN.
        baseline: the row differences are taken against (default the degraded input; ``input`` counts as
            ``identity``); None: no differences.
        exact_max_n: per-image mean columns with at most this many images get the exact sign-flip p-value.

    Returns:
        DataFrame: the key columns, ``value`` (the table's), ``value_boot`` (the statistic on the bootstrapped
        images), :data:`STAT_COLUMNS`, ``dataset_level``, ``baseline`` and ``note``; ``attrs["bootstrap"]`` holds the
        settings and the wall time.
    """
    import pandas as pd

    from ledbench.bench.results import normalize_columns

    t0 = time.perf_counter()
    s = BootstrapSettings(int(n_resamples), float(level), int(seed), method, baseline or "", int(exact_max_n))
    results = normalize_columns(results)
    cols, skipped = build_columns(results, per_image, suff)
    records = []
    for key, g in results.groupby(COLUMN_KEYS, sort=False):
        key = tuple(key)
        col = cols.get(key)
        stats = _column_stats(col, s, exclude_from_ranking) if col is not None else {}
        base = _resolve_baseline(baseline, col.enhancers) if col is not None else None
        for rec in g.to_dict("records"):
            row = {k: rec[k] for k in KEY_COLUMNS}
            row["value"] = float(rec["value"])
            st = stats.get(rec["enhancer"])
            if st is None:
                st = {"value_boot": math.nan, **{c: math.nan for c in STAT_COLUMNS}, "significant": False, "test": "",
                      "mark": 0, "n_boot_images": 0, "dataset_level": False}
            note = st.get("note", "")
            row.update({k: v for k, v in st.items() if k != "note"})
            row["baseline"] = base or ""
            row["note"] = (skipped.get(key) or note) if rec["enhancer"] != CEILING else "ceiling: not compared"
            records.append(row)
    df = pd.DataFrame.from_records(records)
    df.attrs["bootstrap"] = {"n_resamples": s.n_resamples, "level": s.level, "seed": s.seed, "method": s.method,
                             "baseline": baseline, "resampling": "paired over images, numpy default_rng(seed)",
                             "exact_max_n": s.exact_max_n, "p_value": _P_VALUE_NOTE,
                             "wall_s": round(time.perf_counter() - t0, 4)}
    return df


_P_VALUE_NOTE = ("exact paired sign-flip test for per-image mean columns with n <= exact_max_n images, paired "
                 "bootstrap otherwise; none for dataset-level columns below the n at which the level is reachable "
                 "(column test)")


# --------------------------------------------------------------------------------------------------- run level


@dataclass
class RunData:
    results: Any
    per_image: Any
    suff: dict[tuple, SufficientStats]
    manifest: dict[str, Any] | None


def load_run(run_dir: str | Path) -> RunData:
    """Results, per-image values, sufficient statistics and manifest of one run directory."""

    from ledbench.bench.results import read_per_image, read_results

    run_dir = Path(run_dir)
    results = read_results(run_dir)
    if not (run_dir / "per_image.csv").is_file():
        raise InputError(f"no per_image.csv in {str(run_dir)!r}; the bootstrap needs the per-image scores of a run")
    # image ids stay strings ("0001" must match the ids in the sufficient statistics)
    per_image = read_per_image(run_dir)
    manifest = None
    if (run_dir / "manifest.json").is_file():
        try:
            manifest = json.loads((run_dir / "manifest.json").read_text())
        except ValueError:
            manifest = None
    return RunData(results, per_image, load_sufficient_stats(run_dir), manifest)


def bootstrap_run(run_dir: str | Path, **kwargs: Any):
    """:func:`bootstrap_table` of a run directory (``kwargs``: baseline, n_resamples, level, seed, method)."""
    rd = load_run(run_dir)
    return bootstrap_table(rd.results, rd.per_image, rd.suff, **kwargs)


def write_statistics(run_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    """Compute :func:`bootstrap_run` and write ``RUN/statistics.csv``; returns the settings and wall time (for the
    run manifest's ``statistics`` entry)."""
    from ledbench.bench.files import atomic_write_bytes
    from ledbench.bench.results import csv_bytes

    df = bootstrap_run(run_dir, **kwargs)
    path = Path(run_dir) / "statistics.csv"
    atomic_write_bytes(path, csv_bytes(df.to_dict("records"), list(df.columns)))
    return {**df.attrs["bootstrap"], "file": path.name}


# --------------------------------------------------------------------------------------------------- comparisons


def compare(run: str | Path | RunData, a: str, b: str, metrics: Sequence[str] | str | None = None, *,
            n_resamples: int = 2000, level: float = 0.95, seed: int = 0, method: str = "percentile",
            exact_max_n: int = 12):
    """Paired comparison of enhancers ``a`` and ``b`` in every column where both have results.

    Returns a DataFrame per column: ``value_a``, ``value_b``, ``delta`` (a - b), ``ci_low``, ``ci_high`` (bootstrap),
    ``p_value`` and ``test`` (the exact sign-flip test for a per-image mean column with ``n <= exact_max_n``, else
    the bootstrap; NaN and "" for a dataset-level column with too few images to reach the level: module docstring),
    ``better`` (a, b, or "" when the interval contains 0 or ``p >= 1 - level``), ``a_wins`` / ``b_wins`` / ``ties``
    (images where the per-image score favours each, direction-aware) and ``n_images``.
    """
    import pandas as pd

    rd = run if isinstance(run, RunData) else load_run(run)
    s = BootstrapSettings(int(n_resamples), float(level), int(seed), method, a, int(exact_max_n))
    names = set(rd.results["enhancer"])
    for e in (a, b):
        if e not in names:
            raise InputError(f"enhancer {e!r} is not in this run; choose from {', '.join(sorted(names))}")
    res = rd.results
    if metrics:
        want = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else list(metrics)
        unknown = sorted(set(want) - set(res["metric"]))
        if unknown:
            have = ", ".join(sorted(set(res["metric"])))
            raise InputError(f"unknown metric(s) {', '.join(unknown)}; this run has {have}")
        res = res[res["metric"].isin(want)]
    res = res[res["enhancer"].isin([a, b])]
    cols, skipped = build_columns(res, rd.per_image, rd.suff, exclude=())
    rows = []
    for key, col in cols.items():
        if a not in col.enhancers or b not in col.enhancers:
            continue
        col = col.subset([a, b])
        rec = dict(zip(COLUMN_KEYS, key))
        rec.update(higher_is_better=col.higher, n_images=col.n)
        if col.n < 2:
            rows.append(rec)
            continue
        w = resample_counts(col.n, s.n_resamples, s.seed)
        th = col.evaluate(w)
        hat = col.point()
        d_b, d_hat = th[0] - th[1], hat[0] - hat[1]
        jack = None
        if s.method == "bca":
            j = col.jackknife()
            jack = j[0] - j[1]
        lo, hi = bootstrap_interval(d_b, d_hat, s.level, s.method, jack)
        p_ab, test = _p_values(col, 1, np.stack([d_b, np.zeros_like(d_b)]), s, col.n < min_n_for_level(s.level))
        p = float(p_ab[0])
        sign = 1.0 if col.higher else -1.0
        better = "" if lo <= 0 <= hi or not p < 1.0 - s.level else (a if sign * d_hat > 0 else b)
        wins = {"a_wins": -1, "b_wins": -1, "ties": -1}
        if col.per_image is not None and np.isfinite(col.per_image).all():
            diff = sign * (col.per_image[0] - col.per_image[1])
            wins = {"a_wins": int((diff > 0).sum()), "b_wins": int((diff < 0).sum()), "ties": int((diff == 0).sum())}
        rec.update(value_a=float(hat[0]), value_b=float(hat[1]), delta=float(d_hat), ci_low=float(lo),
                   ci_high=float(hi), p_value=p, test=test if math.isfinite(p) else "", better=better, **wins)
        rows.append(rec)
    df = pd.DataFrame(rows)
    df.attrs["bootstrap"] = {"n_resamples": s.n_resamples, "level": s.level, "seed": s.seed, "method": s.method,
                             "exact_max_n": s.exact_max_n}
    df.attrs["skipped"] = {"/".join(map(str, k)): v for k, v in skipped.items()}
    df.attrs["enhancers"] = (a, b)
    return df


def format_compare(df) -> str:
    """One screen of text for :func:`compare`'s result."""
    a, b = df.attrs.get("enhancers", ("A", "B"))
    bs = df.attrs.get("bootstrap", {})
    lvl = int(round(100 * bs.get("level", 0.95)))
    head = ["column", a, b, f"delta ({a} - {b})", f"{lvl}% CI", "p", "better", f"{a} wins/ties/{b} wins"]
    body = []
    for r in df.to_dict("records"):
        label = (f"{r['task']}.{r['protocol']}.{r['metric']}" if r["task_kind"] != "quality"
                 else f"quality.{r['metric']}") + (" ↑" if r["higher_is_better"] else " ↓")
        if "delta" not in r or r.get("delta") is None or (isinstance(r.get("delta"), float) and math.isnan(r["delta"])):
            body.append([label, "-", "-", "-", "-", "-", "", f"n={r.get('n_images', 0)}"])
            continue
        d = 3 if max(abs(r["value_a"]), abs(r["value_b"])) < 10 else 2
        wins = (f"{r['a_wins']}/{r['ties']}/{r['b_wins']}" if r.get("a_wins", -1) >= 0
                else "n/a")
        p = r["p_value"]
        p_txt = "n/a" if not math.isfinite(p) else f"{p:.3f}" + ("*" if r.get("test") == EXACT_TEST else "")
        body.append([label, f"{r['value_a']:.{d}f}", f"{r['value_b']:.{d}f}", f"{r['delta']:+.{d}f}",
                     f"[{r['ci_low']:+.{d}f}, {r['ci_high']:+.{d}f}]", p_txt, r["better"] or "-", wins])
    widths = [max(len(str(x[k])) for x in [head] + body) for k in range(len(head))]
    lines = ["  ".join(str(x[k]).ljust(widths[k]) if k in (0, 6) else str(x[k]).rjust(widths[k])
                       for k in range(len(head))).rstrip() for x in [head] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n = int(df["n_images"].max()) if "n_images" in df.columns and len(df) else 0
    tests = set(df["test"].dropna()) if "test" in df.columns else set()
    exact = f"*: exact paired sign-flip test (per-image means, n <= {bs.get('exact_max_n')}), otherwise the paired "
    p_how = "two-sided p-value (not corrected for multiple comparisons): " + \
        (exact + "bootstrap" if EXACT_TEST in tests else "paired bootstrap")
    if "" in tests:
        p_how += (f"; n/a: a dataset-level metric over fewer than {min_n_for_level(bs.get('level', 0.95))} images, "
                  "where no paired test can reach the level")
    lines.append(f"paired bootstrap over up to {n} images: {bs.get('n_resamples')} resamples, seed {bs.get('seed')}, "
                 f"{bs.get('method')} {lvl}% interval of {a} - {b}; p: {p_how}; better: interval and p agree; wins: "
                 "images where the per-image score favours each (direction-aware).")
    for k, v in df.attrs.get("skipped", {}).items():
        lines.append(f"skipped {k}: {v}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------- correlations


def correlations(results, per_image, suff: dict[tuple, SufficientStats] | None = None, *,
                 quality: Sequence[str] | None = None, downstream: Sequence[str] | None = None,
                 n_resamples: int = 2000, level: float = 0.95, seed: int = 0,
                 exclude: Sequence[str] = (CEILING,), min_enhancers: int = 3):
    """What predicts downstream gains: rank correlation across enhancers between each quality metric and each
    downstream metric, with percentile bootstrap intervals (images resampled jointly for both metrics).

    Correlations are *oriented*: each metric is multiplied by +1 (higher is better) or -1 (lower is better) first,
    so a positive tau / rho means "better on the quality metric goes with better downstream" for NIQE or LPIPS too.

    Columns without a bootstrap (a dataset-level metric without stored sufficient statistics) get the point
    estimate from the results values and NaN intervals (``n_images`` 0).

    Args:
        quality, downstream: metric names to use (default: every ``task_kind == "quality"`` metric / every other one).
    """
    import pandas as pd

    from ledbench.bench.results import normalize_columns

    s = BootstrapSettings(int(n_resamples), float(level), int(seed), "percentile", "")
    results = normalize_columns(results)
    cols, _ = build_columns(results, per_image, suff, exclude=exclude)
    res = results[~results["enhancer"].isin(list(exclude))]
    points = {tuple(k): (dict(zip(g["enhancer"], g["value"].astype(float))), bool(g["higher_is_better"].iloc[0]))
              for k, g in res.groupby(COLUMN_KEYS, sort=False)}
    qkeys = [k for k in points if k[2] == "quality" and (quality is None or k[_METRIC] in quality)]
    dkeys = [k for k in points if k[2] != "quality" and (downstream is None or k[_METRIC] in downstream)]
    rows = []
    for qk in qkeys:
        for dk in dkeys:
            if qk[:2] != dk[:2] or qk[-1] != dk[-1]:  # same dataset / split / severity only
                continue
            level = {"severity": qk[-1]} if qk[-1] else {}
            qc, dc = cols.get(qk), cols.get(dk)
            if qc is None or dc is None:  # no bootstrap for one of them: the point estimate from the results
                (qv, qh), (dv, dh) = points[qk], points[dk]
                enh = [e for e in qv if e in dv and math.isfinite(qv[e]) and math.isfinite(dv[e])]
                rec = {"quality": qk[5], "downstream": f"{dk[3]}.{dk[4]}.{dk[5]}", **level, "n_enhancers": len(enh),
                       "n_images": 0}
                if len(enh) >= min_enhancers:
                    x = (1.0 if qh else -1.0) * np.array([qv[e] for e in enh])
                    y = (1.0 if dh else -1.0) * np.array([dv[e] for e in enh])
                    rec.update(kendall_tau=float(kendall_tau_b(x, y)), tau_ci_low=math.nan, tau_ci_high=math.nan,
                               spearman_rho=float(spearman_rho(x, y)), rho_ci_low=math.nan, rho_ci_high=math.nan)
                rows.append(rec)
                continue
            enh = [e for e in qc.enhancers if e in dc.enhancers]
            ids = [i for i in qc.image_ids if i in set(dc.image_ids)]
            rec = {"quality": qc.key[5], "downstream": f"{dc.key[3]}.{dc.key[4]}.{dc.key[5]}", **level,
                   "n_enhancers": len(enh), "n_images": len(ids)}
            if len(enh) < min_enhancers or len(ids) < 2:
                rows.append(rec)
                continue
            q, d = qc.subset(enh, ids), dc.subset(enh, ids)
            w = resample_counts(len(ids), s.n_resamples, s.seed)
            sq, sd = (1.0 if qc.higher else -1.0), (1.0 if dc.higher else -1.0)
            xq, xd = sq * q.evaluate(w).T, sd * d.evaluate(w).T  # B x E
            pq, pd_ = sq * q.point(), sd * d.point()
            for name, fn in (("kendall_tau", kendall_tau_b), ("spearman_rho", spearman_rho)):
                rb = fn(xq, xd)
                lo, hi = np.nanquantile(rb, [(1 - s.level) / 2, (1 + s.level) / 2]) if np.isfinite(rb).any() \
                    else (math.nan, math.nan)
                short = name.split("_")[0][:3] if name == "kendall_tau" else "rho"
                short = "tau" if name == "kendall_tau" else short
                rec.update({name: float(fn(pq, pd_)), f"{short}_ci_low": float(lo), f"{short}_ci_high": float(hi)})
            rows.append(rec)
    df = pd.DataFrame(rows)
    df.attrs["bootstrap"] = {"n_resamples": s.n_resamples, "level": s.level, "seed": s.seed, "method": "percentile"}
    return df


def correlations_run(run_dir: str | Path, **kwargs: Any):
    """:func:`correlations` of a run directory."""
    rd = load_run(run_dir)
    return correlations(rd.results, rd.per_image, rd.suff, **kwargs)
