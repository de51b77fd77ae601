"""Comparison tables from stored results: Markdown, LaTeX (booktabs), CSV, HTML and a console view.

Pure functions of the long-format results (:func:`ledbench.bench.results.read_results`); nothing here reruns a
model. Conventions:

- Direction comes from each row's ``higher_is_better`` (set by the metric, never by the run): column headers carry
  ``↑`` (higher is better) or ``↓`` (lower is better).
- Headers show display names (:mod:`ledbench.reports.names`: ``PSNR (dB) ↑``, ``mAP50:95 ↑``) under a header group
  per task model and protocol (``Yolo-Fastest 1.1 (pseudo-GT, n=8)``), and a caption line says each group in words;
  the CSV renderer and every key keep the raw names.
- Per column, the best value is **bold** and the second best underlined (``<ins>`` in Markdown, ``\\underline`` in
  LaTeX), ranked on the values as displayed (rounded), so ties look tied. The floor (``input`` or ``identity``:
  the degraded image as is) and the ceiling (``reference``) are shown, first and last, but not ranked.
- Rows with the same key (enhancer, dataset, split, task_kind, task, protocol, metric) from several runs (seeds)
  are averaged. A cell shows its value alone; ``show_stderr=True`` adds ``± stderr``: over the runs (sample std /
  sqrt(n_runs)) for a row averaged over several runs, the run's own per-image standard error for a row from one run,
  and the legend says which. The same run directory given twice is read once (:func:`unique_runs`).
- With ``stats`` (a :func:`ledbench.reports.stats.bootstrap_table` frame, or ``"auto"``: computed from the single
  run directory the rows come from), each column is judged by the paired bootstrap over images: ``†`` marks a cell
  whose difference to the baseline (default the degraded input) excludes 0 at ``level`` after Holm correction
  across the column's enhancers, and best / second marks go only to rows the bootstrap separates from the next one
  (none when the top two are indistinguishable); ``ci="pm"`` (``± half-width``) or ``ci="interval"``
  (``[lo, hi]``) shows the interval. Columns without bootstrap (several runs averaged, or a dataset-level metric
  without stored sufficient statistics) keep the value ranking, and the caption says so.
- Runs are merged only when they saw the same data and protocol: rows whose ``dataset_manifest_hash``, protocol set,
  ``task_config_hash`` or enhancer config/weights differ between runs are refused (:class:`MergeMismatch`) unless
  ``allow_mismatch=True``.

    df = merge_runs("runs/seed0", "runs/seed1")
    print(format_table(df, rows="enhancer", cols="task.metric", fmt="md"))
"""

from __future__ import annotations

import csv
import dataclasses
import html as _html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledbench.bench.errors import ConfigError, InputError
from ledbench.bench.results import KEY_COLUMNS
from ledbench.reports import names

__all__ = [
    "CEILING",
    "FLOOR",
    "FLOORS",
    "PSEUDO_ENHANCERS",
    "Cell",
    "MergeMismatch",
    "Table",
    "aggregate",
    "auto_statistics",
    "build_table",
    "check_mergeable",
    "console_table",
    "format_table",
    "label_for",
    "merge_runs",
    "parse_fields",
    "unique_runs",
]

FLOOR, CEILING = "input", "reference"
FLOORS = ("input", "identity")  # the degraded image as is: the pseudo-enhancer or the identity enhancer
PSEUDO_ENHANCERS = (*FLOORS, CEILING)
FORMATS = ("md", "tex", "csv", "html", "console")
DEFAULT_LABEL = "tab:ledbench"
ARROW = {True: "↑", False: "↓"}
SIG = "†"
CI_MODES = (None, "pm", "interval")


class MergeMismatch(InputError):
    """Runs that saw different data or protocols were asked to be merged into one table."""


# --------------------------------------------------------------------------------------------------- merging


def _source_col(df) -> str:
    return "source" if "source" in df.columns else "run_id"


def check_mergeable(df) -> list[str]:
    """Return readable reasons why the runs in ``df`` (column ``source``) must not be merged; empty when fine."""
    src = _source_col(df)
    if src not in df.columns or df[src].nunique() < 2:
        return []
    problems: list[str] = []

    def _differs(group_cols: list[str], value_col: str, what: str, fix: str) -> None:
        if value_col not in df.columns:
            return
        sub = df[group_cols + [value_col, src]].drop_duplicates()
        for key, g in sub.groupby(group_cols, sort=True):
            if g[value_col].nunique() > 1:
                key = key if isinstance(key, tuple) else (key,)
                per_run = "; ".join(f"{s}: {', '.join(sorted(map(str, v[value_col].unique())))}"
                                    for s, v in g.groupby(src, sort=True))
                problems.append(f"{what} differs for {'/'.join(map(str, key))} ({per_run}); {fix}")

    _differs([c for c in ("dataset", "split", "severity") if c in df.columns], "dataset_manifest_hash",
             "dataset_manifest_hash",
             "the runs saw different images: rerun on the same data")
    _differs(["dataset", "split", "task_kind", "task", "metric"], "task_config_hash", "task_config_hash",
             "the task/metric protocol parameters differ: rerun with the same task config")
    _differs(["enhancer"], "enhancer_config_hash", "enhancer_config_hash",
             "the same enhancer name ran with different configs: rename one or rerun")
    _differs(["enhancer"], "weights_sha256", "weights_sha256",
             "the same enhancer name ran with different weights: rename one or rerun")
    # The protocol set per (dataset, split, task_kind, task, metric) must be the same in every run that has it.
    keys = ["dataset", "split", "task_kind", "task", "metric"]
    protos = df.groupby(keys + [src], sort=True)["protocol"].agg(lambda s: ",".join(sorted(set(s))))
    for key, g in protos.groupby(level=list(range(len(keys))), sort=True):
        if g.nunique() > 1:
            per_run = "; ".join(f"{idx[-1]}: {v}" for idx, v in g.items())
            problems.append(f"protocol differs for {'/'.join(map(str, key))} ({per_run}); "
                            "real_gt and pseudo_gt numbers are not comparable")
    return problems


def unique_runs(run_dirs: Sequence[str | Path]) -> tuple[list[str | Path], list[str]]:
    """``run_dirs`` without repeats of one run (a directory and its ``results.csv`` count as one; paths are
    compared resolved), first occurrence kept; returns (runs, notes naming what was dropped). The same files read
    twice are not a repeated experiment: averaging them would show a zero spread."""
    seen: dict[Path, str] = {}
    out: list[str | Path] = []
    notes: list[str] = []
    for r in run_dirs:
        p = Path(r)
        key = (p.parent if p.name == "results.csv" else p).resolve()
        if key in seen:
            what = f"run {r} given twice" if str(r) == seen[key] else f"{r} is run {seen[key]} again"
            notes.append(f"{what}: read once (a repeat is a second run directory, e.g. ledbench run ... seed=1 "
                         "out=runs/seed1)")
            continue
        seen[key] = str(r)
        out.append(r)
    return out, notes


def merge_runs(*run_dirs: str | Path, allow_mismatch: bool = False):
    """Read several run directories (or results.csv files) into one DataFrame, refusing incompatible runs.
    A run given twice is read once (:func:`unique_runs`); ``df.attrs["notes"]`` says so, and names data shown
    apart under ``allow_mismatch``.

    Raises:
        MergeMismatch: when :func:`check_mergeable` finds differences and ``allow_mismatch`` is False.
    """
    from ledbench.bench.results import read_results
    from ledbench.reports.sweep import SWEEP_ADVICE, separate_datasets

    if not run_dirs:
        raise InputError("no run directory given; pass one or more directories written by `ledbench run`")
    run_dirs, dup_notes = unique_runs(run_dirs)
    df = read_results(*run_dirs)
    if dup_notes:
        df.attrs["notes"] = [*df.attrs.get("notes", []), *dup_notes]
    problems = check_mergeable(df)
    if problems and not allow_mismatch:
        lines = "\n  - ".join(problems)
        raise MergeMismatch(f"refusing to merge {len(run_dirs)} runs:\n  - {lines}\n"
                            "Pass allow_mismatch=True (CLI: --allow-mismatch) to merge anyway"
                            + (" (different data stays in separate columns); " + SWEEP_ADVICE
                               if any(p.startswith("dataset_manifest_hash") for p in problems) else "."))
    if problems:  # different images under one dataset name are never averaged: separate columns
        df, note = separate_datasets(df)
        if note:
            df.attrs["notes"] = [*df.attrs.get("notes", []), note]
    return df


def aggregate(df):
    """Average rows sharing a key over runs: returns one row per key with value, stderr, n_runs, higher_is_better.

    ``stderr`` is the standard error over runs when ``n_runs > 1`` (sample std / sqrt(n)), otherwise the run's own
    per-image stderr. Infinite values (e.g. PSNR of the reference against itself) average to inf.
    """
    import numpy as np
    import pandas as pd

    keys = [k for k in KEY_COLUMNS if k in df.columns]
    if df.empty:
        return pd.DataFrame(columns=keys + ["value", "stderr", "n_runs", "higher_is_better", "n_images"])
    if not df.duplicated(keys).any():  # one run: every key once, nothing to average (the loop below, vectorised)
        hib = df["higher_is_better"].astype(bool)
        one = pd.DataFrame({k: df[k].to_numpy() for k in keys})
        one["value"] = df["value"].to_numpy(dtype=float)
        one["stderr"] = df["stderr"].to_numpy(dtype=float) if "stderr" in df.columns else math.nan
        one["n_runs"] = 1
        one["higher_is_better"] = hib.to_numpy()
        one["n_images"] = df["n_images"].astype(int).to_numpy() if "n_images" in df.columns else -1
        one["n_images_total"] = df["n_images_total"].astype(int).to_numpy() if "n_images_total" in df.columns else -1
        return one
    rows = []
    for key, g in df.groupby(keys, sort=False, dropna=False):
        vals = g["value"].to_numpy(dtype=float)
        n = len(vals)
        with np.errstate(invalid="ignore"):
            mean = float(np.mean(vals))
            if n > 1:
                se = float(np.std(vals, ddof=1) / math.sqrt(n)) if np.all(np.isfinite(vals)) else math.nan
            else:
                se = float(g["stderr"].iloc[0]) if "stderr" in g.columns else math.nan
        hib = g["higher_is_better"].astype(bool)
        if hib.nunique() > 1:
            raise InputError(f"rows for {'/'.join(map(str, key))} disagree on higher_is_better; "
                             "the results files were written by different metric versions")
        rec = dict(zip(keys, key))
        rec.update(value=mean, stderr=se, n_runs=n, higher_is_better=bool(hib.iloc[0]),
                   n_images=int(g["n_images"].min()) if "n_images" in g.columns else -1,
                   n_images_total=int(g["n_images_total"].max()) if "n_images_total" in g.columns else -1)
        rows.append(rec)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------- the table


@dataclass
class Cell:
    """One table cell: the mean value, its stderr, how many runs, and its rank mark (1 best, 2 second, 0 none)."""

    value: float
    stderr: float = math.nan
    n_runs: int = 1
    n_images: int = -1
    rank: int = 0
    n_total: int = -1  # images in the dataset: a cell with n_images < n_total is marked (n=k/N)
    significant: bool = False
    ci: tuple[float, float] | None = None
    p_best: float = math.nan


@dataclass
class Table:
    """A pivoted table ready to render. ``col_keys[j]`` are the values of ``col_fields`` for column j."""

    row_fields: list[str]
    col_fields: list[str]
    row_keys: list[tuple]
    col_keys: list[tuple]
    higher_is_better: list[bool]
    cells: list[list[Cell | None]]
    decimals: list[int]
    show_stderr: bool
    n_runs: int
    excluded: tuple[str, ...] = PSEUDO_ENHANCERS
    title: str = ""
    notes: list[str] = field(default_factory=list)
    ci_mode: str | None = None
    stats_note: str = ""
    stats_cost: str = ""  # what the statistics cost ("statistics took 0.02 s ..."): apart, it changes every run
    col_info: list[dict[str, Any]] = field(default_factory=list)  # per column: task_kind, task, protocol, n
    caption: str = ""  # LaTeX caption text before the generated column description and legend
    label: str = ""  # LaTeX \label (default tab:ledbench)
    data_groups: dict[tuple, tuple[int, list[str]]] = field(default_factory=dict)  # (kind, task, protocol): n, metrics
    metric_dirs: dict[str, bool] = field(default_factory=dict)  # metric -> higher_is_better

    def col_label(self, j: int, sep: str = ".") -> str:
        return sep.join(str(v) for v in self.col_keys[j])

    def stats_text(self, cost: bool = True) -> str:
        """The bootstrap sentence of the legend, followed by what the statistics cost (``cost``: the terminal and
        Markdown summaries say it; a paper's LaTeX caption and the HTML legend do not)."""
        return "; ".join(s for s in (self.stats_note, self.stats_cost if cost else "") if s)

    def stderr_text(self) -> str:
        """What ``±`` means in this table ("" when no stderr is shown): over images for a value from one run, over
        runs for a value averaged over several."""
        if not self.show_stderr:
            return ""
        runs = {c.n_runs for row in self.cells for c in row if c is not None and math.isfinite(c.stderr)}
        if not runs or runs == {1}:
            return "± standard error over images"
        over_runs = "± standard error over runs (sample SD / √runs; 0 when the runs agree)"
        if 1 not in runs:
            return over_runs
        return over_runs + " for a value averaged over several runs, over images for a value from one run"

    def to_json(self) -> dict[str, Any]:
        """The table as JSON-able data (:meth:`from_json` reads it back; both render the same text)."""
        data = dataclasses.asdict(self)
        data["data_groups"] = [[list(k), [n, list(ms)]] for k, (n, ms) in self.data_groups.items()]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Table:
        cells = [[None if c is None else Cell(**{**c, "ci": None if c["ci"] is None else tuple(c["ci"])})
                  for c in row] for row in data["cells"]]
        return cls(**{**data, "row_keys": [tuple(k) for k in data["row_keys"]],
                      "col_keys": [tuple(k) for k in data["col_keys"]], "cells": cells,
                      "excluded": tuple(data["excluded"]),
                      "data_groups": {tuple(k): (n, list(ms)) for k, (n, ms) in data["data_groups"]}})

    # display names (reports/names.py): raw keys stay in col_keys, CSV and results.csv
    def _group_fields(self) -> list[int]:
        return [k for k, f in enumerate(self.col_fields) if f != "metric"]

    def head(self, j: int, *, arrow: bool = True, prefix: bool = True) -> str:
        """Column header: ``PSNR (dB) ↑``, prefixed by what tells its group apart (``Yolo-Fastest 1.1: mAP50 ↑``)."""
        ck = self.col_keys[j]
        hib = self.higher_is_better[j] if arrow and self.has_direction() else None
        if "metric" not in self.col_fields:
            return self.col_label(j) + (f" {ARROW[hib]}" if hib is not None else "")
        lab = names.metric_label(ck[self.col_fields.index("metric")], hib)
        pre = self.group_prefix(j) if prefix else ""
        return f"{pre}: {lab}" if pre else lab

    def has_direction(self) -> bool:
        """False when each column mixes metrics (the metric is a row field): no arrows, no ranking."""
        return "metric" not in self.row_fields

    def group_prefix(self, j: int) -> str:
        """Short words for the column fields other than the metric (task model, protocol, dataset ...)."""
        out = []
        for k in self._group_fields():
            f, v = self.col_fields[k], self.col_keys[j][k]
            if f == "task":
                out.append(names.task_model_name(v))
            elif f == "task_kind":
                out.append("" if "task" in self.col_fields else names.TASK_KINDS.get(str(v), str(v)))
            elif f == "protocol":
                out.append(names.protocol_short(v))
            else:
                out.append(_field_text(f, v))
        return " ".join(x for x in out if x)

    def group_of(self, j: int) -> tuple:
        """Columns share a group when they share every column field but the metric and the protocol (a task's
        metrics can differ in protocol, e.g. PSNR full-reference and NIQE no-reference)."""
        return tuple(self.col_keys[j][k] for k in self._group_fields()) + (self._info(j).get("protocol"),)

    def groups(self) -> list[tuple[int, int]]:
        """Runs of adjacent columns sharing everything but the metric: (first, last) column index."""
        spans: list[tuple[int, int]] = []
        for j in range(len(self.col_keys)):
            if spans and self.group_of(spans[-1][0]) == self.group_of(j):
                spans[-1] = (spans[-1][0], j)
            else:
                spans.append((j, j))
        return spans

    def _info(self, j: int) -> dict[str, Any]:
        return self.col_info[j] if j < len(self.col_info) else {}

    def group_short(self, j: int) -> str:
        """``Yolo-Fastest 1.1 (pseudo-GT, n=8)`` (plus any other column field, e.g. ``dataset=lol``)."""
        i = self._info(j)
        s = names.group_short(i.get("task_kind", ""), i.get("task", ""), i.get("protocol"), i.get("n"))
        return " ".join([s] + self._other_group_fields(j))

    def group_long(self, j: int) -> str:
        """``Detection: Yolo-Fastest 1.1, pseudo-GT (labels = ...), n=8``."""
        i = self._info(j)
        s = names.group_label(i.get("task_kind", ""), i.get("task", ""), i.get("protocol"), i.get("n"))
        return ", ".join([s] + self._other_group_fields(j))

    def _other_group_fields(self, j: int) -> list[str]:
        """``field=value`` for the group fields of column ``j`` that the task / protocol names do not already say."""
        out = [_field_text(self.col_fields[k], self.col_keys[j][k]) for k in self._group_fields()
               if self.col_fields[k] not in ("task", "task_kind", "protocol")]
        return [x for x in out if x]

    def columns_caption(self) -> str:
        """One sentence per column group: what was measured, by which model, under which protocol, on n images.
        (With the metric not a column field: the same per task model and protocol, over the whole table.)"""
        if not self.col_info:
            return ""
        if "metric" not in self.col_fields or len(self.col_fields) < 2:
            parts = [f"{names.group_label(k, tk, p, n)} ({', '.join(names.metric_name(m) for m in ms)})"
                     for (k, tk, p), (n, ms) in self.data_groups.items()]
            return ("Measured: " + "; ".join(parts) + ".") if parts else ""
        parts = []
        for a, b in self.groups():
            mets = ", ".join(self.head(j, arrow=False, prefix=False) for j in range(a, b + 1))
            parts.append(f"{self.group_long(a)} ({mets})")
        return "Columns: " + "; ".join(parts) + "."

    def row_cells(self, i: int) -> list[str]:
        """Row key values for display: metric and task names through :mod:`ledbench.reports.names`."""
        show = {"metric": lambda v: names.metric_label(v, self.metric_dirs.get(v)),
                "task": lambda v: names.task_model_name(v) or str(v),
                "protocol": names.protocol_short}
        return [show[f](v) if f in show else str(v) for f, v in zip(self.row_fields, self.row_keys[i])]

    def row_label(self, i: int, sep: str = " / ") -> str:
        return sep.join(self.row_cells(i))


def _field_text(f: str, v: Any) -> str:
    """``severity=3`` for a header; "" for an empty value (a run that is not a sweep has severity "")."""
    return "" if v is None or v != v or str(v).strip() == "" else f"{f}={v}"


def parse_fields(spec: str | Sequence[str]) -> list[str]:
    """``"task.metric"`` / ``"task,metric"`` / ``["task", "metric"]`` -> ``["task", "metric"]`` (validated)."""
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.replace(",", ".").split(".") if p.strip()]
    else:
        parts = [str(p) for p in spec]
    bad = [p for p in parts if p not in KEY_COLUMNS]
    if bad or not parts:
        raise ConfigError(f"unknown table field(s) {bad or spec!r}; choose from {', '.join(KEY_COLUMNS)} "
                          "(e.g. rows=enhancer cols=task.metric)")
    return parts


def _auto_decimals(values: Iterable[float]) -> int:
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return 2
    m = max(finite)
    return 1 if m >= 100 else 2 if m >= 10 else 3


def _fmt_num(v: float, d: int) -> str:
    if v is None or math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    s = f"{v:.{d}f}"
    return "0." + "0" * d if s == "-0." + "0" * d else s  # no "-0.000"


def _filter(df, where: dict[str, Any] | None):
    if not where:
        return df
    for col, want in where.items():
        if col not in df.columns:
            raise ConfigError(f"cannot filter on unknown column {col!r}; choose from {', '.join(df.columns)}")
        want = [want] if isinstance(want, str) or not isinstance(want, Iterable) else list(want)
        df = df[df[col].astype(str).isin([str(w) for w in want])]
    return df


_AUTO_CACHE: dict[tuple, Any] = {}


def auto_statistics(df, *, baseline: str = "identity", level: float = 0.95, n_resamples: int = 2000, seed: int = 0,
                    method: str = "percentile", exclude_from_ranking: Sequence[str] = PSEUDO_ENHANCERS):
    """Bootstrap statistics of the single run directory ``df`` was read from (``source``), or None (several runs,
    no run directory, no ``per_image.csv``). Cached per run files and settings."""
    from ledbench.reports import stats as st

    src = _source_col(df)
    if src not in df.columns or df[src].nunique() != 1:
        return None
    run = Path(str(df[src].iloc[0]))
    files = [run / "results.csv", run / "per_image.csv", run / st.STATS_DIR]
    if not run.is_dir() or not files[1].is_file():
        return None
    key = (str(run.resolve()), tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files), baseline, level,
           n_resamples, seed, method, tuple(exclude_from_ranking))
    if key not in _AUTO_CACHE:
        boot = st.bootstrap_run(run, baseline=baseline, level=level, n_resamples=n_resamples, seed=seed,
                                method=method, exclude_from_ranking=exclude_from_ranking)
        wall = None
        try:
            import json

            wall = float(json.loads((run / "manifest.json").read_text()).get("wall_time_s"))
        except (OSError, ValueError, TypeError):
            pass
        boot.attrs["bootstrap"]["run_wall_s"] = wall
        _AUTO_CACHE.clear()
        _AUTO_CACHE[key] = boot
    boot = _AUTO_CACHE[key]
    # the files on disk must be the rows being shown (not an edited frame, nor an older run in the same folder)
    on_disk = {tuple(str(r[k]) for k in KEY_COLUMNS): r["value"] for r in boot.to_dict("records")}
    for rec in df[KEY_COLUMNS + ["value"]].to_dict("records"):
        v = on_disk.get(tuple(str(rec[k]) for k in KEY_COLUMNS))
        if v is None or not (v == rec["value"] or (math.isnan(v) and math.isnan(rec["value"]))):
            return None
    return boot


def _stats_note(boot, n_enh: int, unboot: list[str], baseline_used: str) -> str:
    """The legend's bootstrap sentence (settings, Holm correction, how best / second are chosen)."""
    from ledbench.reports.stats import min_n_for_level

    b = boot.attrs.get("bootstrap", {})
    lvl = int(round(100 * float(b.get("level", 0.95))))
    n_img = int(boot["n_boot_images"].max()) if len(boot) else 0
    n_min = min_n_for_level(lvl / 100)
    tests = set(boot["test"].astype(str)) if "test" in boot.columns else set()  # stats.py: which test gave p
    how = (f"exact sign-flip test for n ≤ {b.get('exact_max_n', 12)}, paired bootstrap above"
           if "sign-flip exact" in tests else "paired bootstrap")
    parts = [f"{SIG} differs from {baseline_used or 'the baseline'}: two-sided p < {1 - lvl / 100:g} ({how}; over "
             f"{n_img} images, {b.get('n_resamples')} resamples, seed {b.get('seed')}, {lvl}% {b.get('method')} "
             f"intervals) after Holm correction across the {n_enh} enhancer{'s' if n_enh != 1 else ''} of each column",
             f"best / second only where the bootstrap separates them from the next row (beats it in at least "
             f"{(100 + lvl) / 2:g}% of the resamples) and n ≥ {n_min}"]
    if "note" in boot.columns and boot["note"].astype(str).str.contains("no paired test can reach").any():
        parts.append(f"fewer than {n_min} images: no paired test can reach that p (no best / second, no p for "
                     "dataset-level metrics; statistics.csv note)")
    if unboot:
        parts.append("no bootstrap for " + ", ".join(unboot) + " (best / second by value there)")
    return "; ".join(parts)


def stats_cost(wall: float | None, run_wall: float | None) -> str:
    """``statistics took 0.02 s (1.1% of the run's 1.5 s wall time)``; "" when the statistics were not timed."""
    if wall is None:
        return ""
    cost = f"statistics took {wall:.2f} s"
    if run_wall:
        cost += f" ({100 * wall / run_wall:.2g}% of the run's {run_wall:.1f} s wall time)"
    return cost


def build_table(df, rows: str | Sequence[str] = "enhancer", cols: str | Sequence[str] = "task.metric", *,
                where: dict[str, Any] | None = None, decimals: int | dict[str, int] | None = None,
                show_stderr: bool | None = None, exclude_from_ranking: Sequence[str] = PSEUDO_ENHANCERS,
                title: str = "", stats: Any = None, ci: str | None = None, baseline: str = "identity",
                level: float = 0.95, n_resamples: int = 2000, seed: int = 0, method: str = "percentile",
                caption: str = "", label: str = "") -> Table:
    """Pivot results into a :class:`Table`.

    Args:
        df: results rows (one or several runs; see :func:`merge_runs`).
        rows, cols: key fields for rows and columns. Key fields in neither are added to the columns only where
            needed to keep cells unambiguous (e.g. ``protocol`` when a task has both real_gt and pseudo_gt rows).
        where: keep only rows whose column equals one of the given values, e.g. ``{"protocol": "pseudo_gt"}``.
        decimals: digits after the point: one int, or a dict metric -> int; default by magnitude (>=100: 1,
            >=10: 2, else 3).
        show_stderr: ``± stderr`` after each value (over runs for a row averaged over several, over images for a
            row from one run; the legend says which); None or False: values alone.
        exclude_from_ranking: enhancer names never bolded/underlined (floor and ceiling by default).
        stats: None, ``"auto"`` (bootstrap the single run the rows come from) or a ``bootstrap_table`` frame:
            significance markers and bootstrap-based best / second (module docstring).
        ci: None, ``"pm"`` or ``"interval"``: show the bootstrap interval of each mean (needs ``stats``).
        baseline, level, n_resamples, seed, method: bootstrap settings for ``stats="auto"``.
        caption, label: LaTeX ``\\caption`` text (the column description and legend follow it) and ``\\label``.
    """
    df = _filter(df, where)
    if df.empty:
        raise InputError("no results rows to tabulate" + (f" after filtering with {where}" if where else ""))
    row_fields, col_fields = parse_fields(rows), parse_fields(cols)
    if set(row_fields) & set(col_fields):
        raise ConfigError(f"a field cannot be both a row and a column field: {set(row_fields) & set(col_fields)}")
    agg = aggregate(df)
    recs = agg.to_dict("records")
    extra = []
    for f in KEY_COLUMNS:  # add a field only where it disambiguates cells
        used = row_fields + col_fields + extra
        if f not in used and f in agg.columns and _varies_within(recs, used, f):
            extra.append(f)
    src = _source_col(df)
    if any(f in extra for f in ("split", "severity")) and "dataset" not in row_fields + col_fields + extra \
            and src in df.columns and df[src].nunique() > 1:
        extra.append("dataset")  # several runs' data told apart by split or severity: the header names the dataset
    if extra:  # e.g. task.metric + protocol -> task.protocol.metric
        col_fields = [f for f in KEY_COLUMNS if f in col_fields or f in extra]

    row_keys = list(dict.fromkeys(tuple(r) for r in agg[row_fields].itertuples(index=False)))
    col_keys = list(dict.fromkeys(tuple(r) for r in agg[col_fields].itertuples(index=False)))
    if "enhancer" in row_fields:  # floor first, ceiling last, others in run order
        e = row_fields.index("enhancer")
        row_keys.sort(key=lambda k: 0 if k[e] in FLOORS else 2 if k[e] == CEILING else 1)

    lookup = {}
    for rec in recs:
        lookup[(tuple(rec[f] for f in row_fields), tuple(rec[f] for f in col_fields))] = rec
    hib = []
    for ck in col_keys:
        dirs = {bool(rec["higher_is_better"]) for (rk, c), rec in lookup.items() if c == ck}
        hib.append(dirs.pop() if len(dirs) == 1 else True)
    cells: list[list[Cell | None]] = [[None] * len(col_keys) for _ in row_keys]
    for i, rk in enumerate(row_keys):
        for j, ck in enumerate(col_keys):
            rec = lookup.get((rk, ck))
            if rec is not None:
                cells[i][j] = Cell(float(rec["value"]), float(rec["stderr"]), int(rec["n_runs"]), int(rec["n_images"]),
                                   n_total=int(rec.get("n_images_total", -1)))
    col_info = [_column_info([rec for (rk, c), rec in lookup.items() if c == ck]) for ck in col_keys]
    n_runs = int(agg["n_runs"].max())

    metric_pos = col_fields.index("metric") if "metric" in col_fields else None
    decs = []
    for j, ck in enumerate(col_keys):
        metric = ck[metric_pos] if metric_pos is not None else None
        if isinstance(decimals, int):
            decs.append(decimals)
        elif isinstance(decimals, dict) and metric in decimals:
            decs.append(int(decimals[metric]))
        else:
            decs.append(_auto_decimals(c.value for row in cells if (c := row[j]) is not None))

    e_pos = row_fields.index("enhancer") if "enhancer" in row_fields else None
    for j in range(len(col_keys) if "metric" not in row_fields else 0):  # no ranking across different metrics
        ranked = []
        for i, rk in enumerate(row_keys):
            c = cells[i][j]
            if c is None or math.isnan(c.value) or (e_pos is not None and rk[e_pos] in exclude_from_ranking):
                continue
            ranked.append((float(_fmt_num(c.value, decs[j])), i))
        if len(ranked) < 2:
            continue
        distinct = sorted({v for v, _ in ranked}, reverse=hib[j])
        if len(distinct) == 1:  # everyone tied (e.g. all 0.000): nothing to mark
            continue
        for v, i in ranked:
            cells[i][j].rank = 1 if v == distinct[0] else 2 if len(distinct) > 1 and v == distinct[1] else 0

    notes = []
    if n_runs > 1:
        notes.append(f"mean over up to {n_runs} runs")
    if ci not in CI_MODES:
        raise ConfigError(f"unknown ci display {ci!r}; choose pm or interval")
    boot = None
    if isinstance(stats, str):
        if stats != "auto":
            raise ConfigError(f"stats must be None, 'auto' or a bootstrap_table frame, got {stats!r}")
        boot = auto_statistics(df, baseline=baseline, level=level, n_resamples=n_resamples, seed=seed,
                               method=method, exclude_from_ranking=exclude_from_ranking) if n_runs == 1 else None
    elif stats is not None:
        boot = stats
    stats_note = cost = ""
    if boot is not None and len(boot):
        stats_note = _apply_bootstrap(boot, recs, row_fields, col_fields, row_keys, col_keys, cells)
        b = boot.attrs.get("bootstrap", {})
        cost = stats_cost(b.get("wall_s"), b.get("run_wall_s"))
    notes += _honest_marks(cells, row_keys, e_pos, hib, decs, bootstrapped=boot is not None and len(boot) > 0)
    present = {rk[e_pos] for rk in row_keys} if e_pos is not None else set()
    excluded = tuple(x for x in exclude_from_ranking if x in present)  # named in the legend
    groups: dict[tuple, tuple[int, list[str]]] = {}
    for rec in recs:
        key = (str(rec.get("task_kind", "")), str(rec.get("task", "")), str(rec.get("protocol", "")))
        n, ms = groups.get(key, (-1, []))
        if rec.get("metric") not in ms:
            ms.append(rec.get("metric"))
        groups[key] = (max(n, int(rec.get("n_images_total", -1))), ms)
    return Table(row_fields, col_fields, row_keys, col_keys, hib, cells, decs, bool(show_stderr) and ci is None,
                 n_runs, excluded, title, notes, ci if boot is not None else None, stats_note, cost, col_info,
                 caption, label, groups, {str(m): bool(h) for m, h in zip(agg["metric"], agg["higher_is_better"])})


def _varies_within(recs: list[dict], fields: list[str], f: str) -> bool:
    """Whether rows that share ``fields`` differ in ``f`` (``groupby(fields)[f].nunique().max() > 1``; missing
    values are skipped, as there)."""
    def missing(v: Any) -> bool:
        return v is None or v != v  # None or NaN

    first: dict[tuple, Any] = {}
    for r in recs:
        key, v = tuple(r[k] for k in fields), r[f]
        if missing(v) or any(missing(k) for k in key):
            continue
        if first.setdefault(key, v) != v:
            return True
    return False


def _column_info(recs: list[dict]) -> dict[str, Any]:
    """What a column measured: task kind, task model, protocol (one, or several joined) and n (dataset images)."""
    def one(key: str) -> str:
        vals = list(dict.fromkeys(str(r[key]) for r in recs if key in r))
        return "/".join(vals)

    ns = [int(r.get("n_images_total", -1)) for r in recs] or [-1]
    if max(ns) < 0:
        ns = [int(r.get("n_images", -1)) for r in recs] or [-1]
    return {"task_kind": one("task_kind"), "task": one("task"), "protocol": one("protocol") or None, "n": max(ns)}


def _honest_marks(cells, row_keys, e_pos, hib, decs, *, bootstrapped: bool) -> list[str]:
    """No best/second mark on a result worse than the degraded input (the floor row), and, without the bootstrap
    (which compares rows on the images all of them completed), none in a column where some row covers fewer images
    than the others. Returns the notes that say so."""
    notes = []
    partial_cols = False
    for j in range(len(hib)):
        col = [(i, cells[i][j]) for i in range(len(row_keys)) if cells[i][j] is not None]
        floor = next((c for i, c in col if e_pos is not None and row_keys[i][e_pos] in FLOORS), None)
        for _, c in col:
            if floor is not None and c.rank and math.isfinite(floor.value):
                worse = (c.value < floor.value) if hib[j] else (c.value > floor.value)
                if worse and _fmt_num(c.value, decs[j]) != _fmt_num(floor.value, decs[j]):
                    c.rank = 0
        ns = {c.n_images for _, c in col if c.n_images >= 0}
        if any(0 <= c.n_images < c.n_total for _, c in col):
            partial_cols = True
            if not bootstrapped and len(ns) > 1:
                for _, c in col:
                    c.rank = 0
    notes.append("no mark on a result worse than the degraded input")
    if partial_cols:
        notes.append("n=k/N: the mean covers k of the N images (the others failed, see manifest.json, or have no "
                     "value, e.g. no detection for a mean confidence); "
                     + ("best / second compare the rows on the images all of them completed" if bootstrapped
                        else "no best / second in a column whose rows cover different images"))
    return notes


def _apply_bootstrap(boot, recs, row_fields, col_fields, row_keys, col_keys, cells) -> str:
    """Copy significance, intervals and bootstrap marks onto the cells (``recs``: the aggregated rows); returns the
    caption sentence."""
    lookup = {tuple(str(r.get(k, "")) for k in KEY_COLUMNS): r for r in boot.to_dict("records")}
    full = {}  # a frame without a severity column (written before sweeps) matches severity ""
    for rec in recs:
        full[(tuple(rec[f] for f in row_fields), tuple(rec[f] for f in col_fields))] = \
            tuple(str(rec.get(k, "")) for k in KEY_COLUMNS)
    unboot, n_enh, bases = [], 0, set()
    for j, ck in enumerate(col_keys):
        recs = {}
        for i, rk in enumerate(row_keys):
            fk = full.get((rk, ck))
            if fk is not None and fk in lookup:
                recs[i] = lookup[fk]
        has = any(math.isfinite(r["ci_low"]) for r in recs.values())
        if not has:
            unboot.append(".".join(str(v) for v in ck))
            continue
        n_enh = max(n_enh, sum(1 for r in recs.values() if math.isfinite(r["p_value"])))
        for i, r in recs.items():
            c = cells[i][j]
            if c is None:
                continue
            bases.add(r.get("baseline", ""))
            c.rank = int(r["mark"])
            c.significant = bool(r["significant"])
            c.p_best = float(r["p_best"])
            if math.isfinite(r["ci_low"]):
                c.ci = (float(r["ci_low"]), float(r["ci_high"]))
    bases.discard("")
    if n_enh == 0:  # nothing was compared: no significance sentence ("across the 0 enhancers")
        if len(unboot) == len(col_keys):
            return "no bootstrap (a column needs at least 2 images): best / second by value"
        base = boot.attrs.get("bootstrap", {}).get("baseline") or "identity"
        return (f"no significance test: no enhancer to compare with the baseline {base} (it is absent or the only "
                "row); best / second only where the paired bootstrap separates them from the next row"
                + (f"; no bootstrap for {', '.join(unboot)} (best / second by value there)" if unboot else ""))
    return _stats_note(boot, n_enh, unboot, ", ".join(sorted(bases)))


# --------------------------------------------------------------------------------------------------- renderers


def _cell_text(t: Table, c: Cell | None, j: int, *, pm: str = " ± ", inf: str = "∞", missing: str = "—") -> str:
    if c is None:
        return missing
    if math.isinf(c.value):
        return inf if c.value > 0 else "-" + inf
    s = _fmt_num(c.value, t.decimals[j])
    if 0 <= c.n_images < c.n_total:
        s += f" (n={c.n_images}/{c.n_total})"
    if t.show_stderr and c.stderr is not None and math.isfinite(c.stderr):
        s += pm + _fmt_num(c.stderr, t.decimals[j])
    if t.ci_mode and c.ci is not None:
        lo, hi = c.ci
        if t.ci_mode == "pm":
            s += pm + _fmt_num((hi - lo) / 2, t.decimals[j])
        else:
            s += f" [{_fmt_num(lo, t.decimals[j])}, {_fmt_num(hi, t.decimals[j])}]"
    return s


def _legend(t: Table, bold: str, under: str, *, cost: bool = True) -> str:
    """The table's legend: direction, marks, what ± means, the bootstrap sentence (``cost``: with what the
    statistics cost) and the table's notes."""
    ex = " and ".join(t.excluded)
    parts = [f"↑ higher is better, ↓ lower is better; best {bold}, second {under} per column"
             + (f" ({ex} not ranked)" if ex else "") if t.has_direction()
             else "↑ higher is better, ↓ lower is better; not ranked (each column mixes metrics)"]
    if t.stderr_text():
        parts.append(t.stderr_text())
    if t.ci_mode:
        parts.append("± half-width of the bootstrap interval" if t.ci_mode == "pm" else "[lo, hi]: bootstrap interval")
    if t.stats_note:
        parts.append(t.stats_text(cost))
    parts += t.notes
    return "; ".join(parts) + "."


def _sentences(*parts: str) -> str:
    """Join caption parts as sentences: a part not ending in ``.``, ``!``, ``?`` or ``:`` gets a full stop (a user
    caption "My sweep" then reads "My sweep. Columns: ...")."""
    out = []
    for x in (str(p).strip() for p in parts):
        if x:
            out.append(x if x[-1] in ".!?:" else x + ".")
    return " ".join(out)


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def render_markdown(t: Table) -> str:
    """GitHub Markdown: display names in the header (``PSNR (dB) ↑``), a line saying what each column group
    measured (task model, protocol, n), the table and the legend."""
    header = [" / ".join(t.row_fields)] + [t.head(j) for j in range(len(t.col_keys))]
    lines = []
    if t.title:
        lines += [f"**{t.title}**", ""]
    if t.columns_caption():
        lines += [_md_escape(t.columns_caption()), ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
    lines.append("|" + "|".join([":---"] + ["---:"] * len(t.col_keys)) + "|")
    for i in range(len(t.row_keys)):
        out = [_md_escape(t.row_label(i))]
        for j, c in enumerate(t.cells[i]):
            s = _cell_text(t, c, j)
            if c is not None and c.rank == 1:
                s = f"**{s}**"
            elif c is not None and c.rank == 2:
                s = f"<ins>{s}</ins>"
            if c is not None and c.significant:
                s += SIG
            out.append(s)
        lines.append("| " + " | ".join(out) + " |")
    lines += ["", "_" + _legend(t, "**bold**", "<ins>underlined</ins>") + "_"]
    return "\n".join(lines) + "\n"


_TEX_ESC = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"$<$", ">": r"$>$", "δ": r"$\delta$", "²": r"$^2$", "³": r"$^3$", "↑": r"$\uparrow$",
            "↓": r"$\downarrow$", "±": r"$\pm$", "∞": r"$\infty$", "†": r"$^\dagger$", "τ": r"$\tau$",
            "ρ": r"$\rho$", "—": "---", "–": "--", "×": r"$\times$", "≥": r"$\geq$", "≤": r"$\leq$"}


def tex_escape(s: str) -> str:
    """Plain text -> LaTeX (pdflatex-safe: special characters escaped, Greek letters and arrows in math mode)."""
    return "".join(_TEX_ESC.get(ch, ch) for ch in str(s)).replace("$$", "")  # adjacent math joined


def render_latex(t: Table, *, float_env: bool = True) -> str:
    r"""booktabs table: one header row naming each column group (task model, protocol, n) over ``\cmidrule``,
    display metric names with arrows, best ``\textbf``, second ``\underline``, ``$^\dagger$`` significance; in a
    ``table`` float with ``\caption`` (the table's caption text, what each column group measured and the legend,
    which explains the marks) and ``\label`` (``tab:ledbench`` unless given)."""
    nrf, ncol = len(t.row_fields), len(t.col_keys)
    lines = ["% requires \\usepackage{booktabs}"]
    if t.title:
        lines.append(f"% {t.title}")
    if float_env:
        caption = _sentences(t.caption, t.columns_caption(), _legend(t, "bold", "underlined", cost=False))
        lines += ["\\begin{table}[t]", "\\centering", "\\small",
                  f"\\caption{{{tex_escape(caption)}}}", f"\\label{{{t.label or DEFAULT_LABEL}}}"]
    lines.append("\\begin{tabular}{" + "l" * nrf + "r" * ncol + "}")
    lines.append("\\toprule")
    if "metric" in t.col_fields and len(t.col_fields) > 1:  # the column groups, spanning their metrics
        cells, rules = [""] * nrf, []
        for a, b in t.groups():
            w = b - a + 1
            cells.append(f"\\multicolumn{{{w}}}{{c}}{{{tex_escape(t.group_short(a))}}}")
            rules.append(f"\\cmidrule(lr){{{nrf + a + 1}-{nrf + b + 1}}}")
        lines.append(" & ".join(cells) + " \\\\")
        lines.append(" ".join(rules))
    arrows = {True: "$\\uparrow$", False: "$\\downarrow$"}
    head = [tex_escape(f.replace("_", " ").capitalize()) for f in t.row_fields]
    head += [f"{tex_escape(t.head(j, arrow=False, prefix='metric' not in t.col_fields))} "
             f"{arrows[t.higher_is_better[j]] if t.has_direction() else ''}".rstrip() for j in range(ncol)]
    lines.append(" & ".join(head) + " \\\\")
    lines.append("\\midrule")
    e_pos = t.row_fields.index("enhancer") if "enhancer" in t.row_fields else None
    prev_group = None
    for i, rk in enumerate(t.row_keys):
        group = None if e_pos is None else (0 if rk[e_pos] in FLOORS else 2 if rk[e_pos] == CEILING else 1)
        if prev_group is not None and group != prev_group:
            lines.append("\\midrule")
        prev_group = group
        out = [tex_escape(v) for v in t.row_cells(i)]
        for j, c in enumerate(t.cells[i]):
            s = _cell_text(t, c, j, pm="{\\scriptsize${}\\pm{}$", inf="$\\infty$", missing="--")
            if c is not None and "{\\scriptsize" in s:
                s += "}"
            s = s.replace("-$\\infty$", "$-\\infty$")
            if c is not None and c.rank == 1:
                s = f"\\textbf{{{s}}}"
            elif c is not None and c.rank == 2:
                s = f"\\underline{{{s}}}"
            if c is not None and c.significant:
                s += "$^\\dagger$"
            out.append(s)
        lines.append(" & ".join(out) + " \\\\")
    lines.append("\\bottomrule")
    lines.append("\\end{tabular}")
    if float_env:
        lines.append("\\end{table}")
    else:
        lines.append("% " + _legend(t, "bold", "underlined", cost=False).replace(SIG, "$^\\dagger$"))
    return "\n".join(lines) + "\n"


def _csv_num(v: float) -> str:
    if v is None or math.isnan(v):
        return ""
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def render_csv(t: Table) -> str:
    """Plain numbers (6 significant digits) for spreadsheets; one ``stderr`` column per value column if shown."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = list(t.row_fields)
    for j in range(len(t.col_keys)):
        lab = f"{t.col_label(j)} {ARROW[t.higher_is_better[j]]}"
        header.append(lab)
        if t.show_stderr:
            header.append(f"{t.col_label(j)} stderr")
        if t.ci_mode:
            header += [f"{t.col_label(j)} ci_low", f"{t.col_label(j)} ci_high", f"{t.col_label(j)} significant"]
    w.writerow(header)
    for i, rk in enumerate(t.row_keys):
        out = [str(v) for v in rk]
        for c in t.cells[i]:
            out.append("" if c is None else _csv_num(c.value))
            if t.show_stderr:
                out.append("" if c is None else _csv_num(c.stderr))
            if t.ci_mode:
                lo, hi = c.ci if c is not None and c.ci is not None else (math.nan, math.nan)
                out += [_csv_num(lo), _csv_num(hi), "" if c is None else str(bool(c.significant)).lower()]
        w.writerow(out)
    return buf.getvalue()


def render_html(t: Table) -> str:
    """An HTML ``<table class="ledbench">`` fragment (no styles; see :mod:`ledbench.reports.html`): a header row
    per column group (task model, protocol, n; the full wording as a tooltip), then display metric names."""
    e = _html.escape
    lines = ['<table class="ledbench">']
    cap = _sentences(t.title, t.caption, t.columns_caption())
    if cap:
        lines.append(f"<caption>{e(cap)}</caption>")
    lines.append("<thead>")
    grouped = "metric" in t.col_fields and len(t.col_fields) > 1
    if grouped:
        lines.append("<tr>" + f'<th colspan="{len(t.row_fields)}"></th>'
                     + "".join(f'<th class="group" colspan="{b - a + 1}" title="{e(t.group_long(a))}">'
                               + "<br>".join(e(x) for x in _group_lines(t, a)) + "</th>" for a, b in t.groups())
                     + "</tr>")
    lines.append("<tr>" + "".join(f"<th>{e(f)}</th>" for f in t.row_fields)
                 + "".join(f'<th title="{"higher" if t.higher_is_better[j] else "lower"} is better">'
                           f"{e(t.head(j, prefix=not grouped))}</th>"
                           for j in range(len(t.col_keys))) + "</tr></thead>")
    lines.append("<tbody>")
    for i, rk in enumerate(t.row_keys):
        e_pos = t.row_fields.index("enhancer") if "enhancer" in t.row_fields else None
        cls = ' class="pseudo"' if e_pos is not None and rk[e_pos] in PSEUDO_ENHANCERS else ""
        tds = "".join(f'<th scope="row">{e(v)}</th>' for v in t.row_cells(i))
        for j, c in enumerate(t.cells[i]):
            s = e(_cell_text(t, c, j))
            tip = ""
            if c is not None:
                extra = ""
                if c.ci is not None:
                    extra = f", CI=[{_csv_num(c.ci[0])}, {_csv_num(c.ci[1])}], P(best)={_csv_num(c.p_best) or 'n/a'}"
                tip = (f' title="n_runs={c.n_runs}, n_images={c.n_images}, stderr={_csv_num(c.stderr) or "n/a"}'
                       f'{extra}"')
                s = f"<b>{s}</b>" if c.rank == 1 else f"<u>{s}</u>" if c.rank == 2 else s
                if c.significant:
                    s += f"<sup>{SIG}</sup>"
            tds += f"<td{tip}>{s}</td>"
        lines.append(f"<tr{cls}>{tds}</tr>")
    lines.append("</tbody></table>")
    lines.append(f'<p class="legend">{e(_legend(t, "bold", "underlined", cost=False))}</p>')
    return "\n".join(lines) + "\n"


def _group_lines(t: Table, a: int) -> list[str]:
    """A column group's header in two lines: the task model (or kind), then protocol, n and other fields."""
    i = t._info(a)
    name, detail = names.group_parts(i.get("task_kind", ""), i.get("task", ""), i.get("protocol"), i.get("n"))
    detail = ", ".join(x for x in [detail] + t._other_group_fields(a) if x)
    return [name, detail] if detail else [name]


def render_console(t: Table) -> str:
    """Fixed-width text: a header line naming each column group (task model, protocol, n) over its columns, then
    the display metric names; best ``*``, second ``+``; the column groups in full below the legend."""
    grouped = "metric" in t.col_fields and len(t.col_fields) > 1
    header = [" / ".join(t.row_fields)] + [t.head(j, prefix=not grouped) for j in range(len(t.col_keys))]
    body = []
    for i in range(len(t.row_keys)):
        out = [t.row_label(i)]
        for j, c in enumerate(t.cells[i]):
            mark = " " if c is None or c.rank == 0 else "*" if c.rank == 1 else "+"
            sig = SIG if c is not None and c.significant else " " if t.stats_note else ""
            out.append(_cell_text(t, c, j, pm=" ± ", inf="inf", missing="-") + mark + sig)
        body.append(out)
    widths = [max(len(r[k]) for r in [header] + body) for k in range(len(header))]
    tops: list[str] = []
    if grouped:  # each group spans its columns in two lines: model, then protocol and n
        labels = [(a, b, *(_group_lines(t, a) + [""])[:2]) for a, b in t.groups()]
        for a, b, name, detail in labels:  # widen the group's columns evenly when a label is longer
            need = max(len(name), len(detail)) - (sum(widths[1 + a: 2 + b]) + 2 * (b - a))
            for k in range(max(0, need)):
                widths[1 + a + k % (b - a + 1)] += 1
        for row in (0, 1):
            txt = " " * widths[0]
            for a, b, name, detail in labels:
                span = sum(widths[1 + a: 2 + b]) + 2 * (b - a)
                txt += "  " + (name if row == 0 else detail).center(span)
            tops.append(txt)

    def line(r: list[str]) -> str:
        return "  ".join(r[0].ljust(widths[0]) if k == 0 else r[k].rjust(widths[k]) for k in range(len(r)))

    out = [x for x in tops if x.strip()] + [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in body]
    out.append(("* best, + second per column" + (f" ({' and '.join(t.excluded)} not ranked)" if t.excluded else "")
                if t.has_direction() else "not ranked (each column mixes metrics)")
               + (f"; {t.stderr_text()}" if t.stderr_text() else "")
               + ("; ± half-width of the bootstrap interval" if t.ci_mode == "pm" else "")
               + ("; [lo, hi] bootstrap interval" if t.ci_mode == "interval" else "")
               + "".join(f"; {n}" for n in t.notes))
    if t.stats_note:
        out.append(t.stats_text())
    if t.columns_caption():
        out.append(t.columns_caption())
    return "\n".join(s.rstrip() for s in out) + "\n"


_RENDERERS = {"md": render_markdown, "markdown": render_markdown, "tex": render_latex, "latex": render_latex,
              "csv": render_csv, "html": render_html, "console": render_console, "txt": render_console}


def format_table(df, rows: str | Sequence[str] = "enhancer", cols: str | Sequence[str] = "task.metric",
                 fmt: str = "md", *, split_by: str | None = None, **kwargs: Any) -> str:
    """Render results as a table string.

    Args:
        df: results DataFrame (:func:`merge_runs` or ``read_results``).
        rows, cols: key fields, e.g. ``rows="enhancer"``, ``cols="task.metric"`` (``"."`` or ``","`` separated).
        fmt: ``md`` | ``tex`` | ``csv`` | ``html`` | ``console``.
        split_by: a key field (e.g. ``"protocol"`` or ``"dataset"``): one table per value, each titled.
        **kwargs: passed to :func:`build_table` (``where``, ``decimals``, ``show_stderr``, ``exclude_from_ranking``,
            ``stats``, ``ci``, ``baseline``, ``level``, ``n_resamples``, ``seed``, ``method``).
    """
    render = _RENDERERS.get(fmt)
    if render is None:
        raise ConfigError(f"unknown table format {fmt!r}; choose from md, tex, csv, html, console")
    if split_by is None:
        return render(build_table(df, rows, cols, **kwargs))
    if split_by not in KEY_COLUMNS:
        raise ConfigError(f"split_by must be one of {', '.join(KEY_COLUMNS)}, got {split_by!r}")
    parts = []
    where = dict(kwargs.pop("where", None) or {})
    for value in dict.fromkeys(_filter(df, where)[split_by]):
        kw = dict(kwargs)
        kw["label"] = label_for(kw.get("label"), value)  # one \label per table
        t = build_table(df, rows, cols, where={**where, split_by: value}, title=f"{split_by}: {value}", **kw)
        parts.append(render(t))
    return "\n".join(parts)


def label_for(base: str | None, *parts: Any) -> str:
    """A distinct LaTeX ``\\label`` for one of several tables: ``base`` (default ``tab:ledbench``) and the parts, each
    reduced to letters, digits and ``-``: ``label_for("tab:night", "psnr", "sev")`` -> ``tab:night-psnr-sev``."""
    slug = ["".join(ch if ch.isalnum() else "-" for ch in str(x)).strip("-") for x in parts]
    return "-".join([(base or "").strip() or DEFAULT_LABEL] + [x for x in slug if x])


def console_table(df, rows: str | Sequence[str] = "enhancer", cols: str | Sequence[str] = "task.metric",
                  **kwargs: Any) -> str:
    """Readable fixed-width table for the end of ``ledbench run``; empty results give a one-line message.
    Bootstrap statistics are on (``stats="auto"``) unless ``stats=None`` is passed."""
    if df is None or len(df) == 0:
        return "(no results)\n"
    kwargs.setdefault("stats", "auto")
    return format_table(df, rows, cols, fmt="console", **kwargs)
