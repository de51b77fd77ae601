"""Severity sweeps in reports: the enhancer x severity pivot, its tables, and keeping different data apart.

A sweep run (``ledbench run dataset=synth:FOLDER severity=1,3,5``) has a ``severity`` column in its results;
:func:`severity_pivot` turns one metric into a table with one row per enhancer and one column per severity (pure
pandas), :func:`sweep_tables` renders every metric of a sweep through the report's table builder
(:func:`ledbench.reports.tables.format_table` with ``cols="severity"``), so Markdown, LaTeX and HTML share it.

:func:`separate_datasets` is the rule for ``ledbench report --allow-mismatch``: rows of runs that saw different
images under one dataset name are relabelled ``dataset@run`` so they become separate columns, never one mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["SWEEP_ADVICE", "is_sweep", "separate_datasets", "severity_levels", "severity_pivot", "sweep_tables"]

SWEEP_ADVICE = ("to compare severities run them as one sweep: ledbench run dataset=synth:FOLDER severity=1,2,3 "
                "(FOLDER written by ledbench synth SHARP FOLDER severity=1,2,3)")


def _levels(df) -> list:
    if "severity" not in df.columns:
        return []
    vals = {str(v) for v in df["severity"] if str(v).strip() and str(v) != "nan"}
    return sorted(vals, key=float)


def severity_levels(df) -> list[float]:
    """The severities present in a results frame, ascending (empty for runs that are not sweeps)."""
    return [float(v) for v in _levels(df)]


def is_sweep(df) -> bool:
    """Whether a results frame holds at least two severities."""
    return len(_levels(df)) >= 2


def severity_pivot(df, metric: str, *, task: str | None = None, protocol: str | None = None,
                   value: str = "value"):
    """One metric as a DataFrame: rows enhancers (first-seen order), columns severities (ascending, labelled as in
    the results: ``"1"``, ``"2.5"``), cells the mean over runs of ``value``. ``task`` (registry name or kind) and
    ``protocol`` narrow the rows when the metric name occurs in several tasks; if it still does, one-line error."""
    from ledbench.bench.errors import InputError

    sub = df[(df["metric"] == metric) & (df["severity"].astype(str).str.strip() != "")]
    if task is not None:
        sub = sub[(sub["task"] == task) | (sub["task_kind"] == task)]
    if protocol is not None:
        sub = sub[sub["protocol"] == protocol]
    if sub.empty:
        raise InputError(f"no severity-sweep rows for metric {metric!r}"
                         + (f" (task {task!r})" if task else "") + (f" (protocol {protocol!r})" if protocol else ""))
    where = sub[["task", "protocol"]].drop_duplicates()
    if len(where) > 1:
        raise InputError(f"metric {metric!r} occurs in {len(where)} task/protocol pairs; pass task= and protocol=")
    sub = sub.assign(severity=sub["severity"].astype(str))
    table = sub.pivot_table(index="enhancer", columns="severity", values=value, aggfunc="mean", sort=False)
    order = list(dict.fromkeys(sub["enhancer"]))
    table = table.reindex(index=order, columns=_levels(sub))
    table.columns.name = "severity"
    return table


def sweep_tables(df, fmt: str, **kwargs: Any) -> list[tuple[str, str]]:
    """``[(title, table text)]``: one enhancer x severity table per (task, protocol, metric) of a sweep, rendered
    by the report's table builder in ``fmt`` (md, tex, html); empty when ``df`` is not a sweep. ``kwargs`` go to
    :func:`~ledbench.reports.tables.format_table` (``decimals`` ...; bootstrap marks are off: cells of different
    severities are not compared). ``label``: the report's LaTeX label; each table gets its own, ``LABEL-psnr-sev``
    (the task and protocol added when a metric name occurs in several)."""
    from ledbench.reports import names as nm
    from ledbench.reports.tables import format_table, label_for

    if not is_sweep(df):
        return []
    sweep = df[df["severity"].astype(str).str.strip() != ""]
    order = sweep["severity"].astype(str).map(float).sort_values(kind="stable").index
    sweep = sweep.loc[order].assign(severity=lambda d: "severity " + d["severity"].astype(str))
    extra = dict(kwargs.pop("where", None) or {})
    base = kwargs.pop("label", None)
    groups = list(dict.fromkeys(zip(sweep["task_kind"], sweep["task"], sweep["protocol"], sweep["metric"])))
    n_metric = {m: sum(1 for g in groups if g[3] == m) for m in {g[3] for g in groups}}
    out = []
    for kind, task, proto, metric in groups:
        where = {"task_kind": kind, "task": task, "protocol": proto, "metric": metric}
        where.update(extra)
        title = f"{nm.metric_name(metric)} by severity ({nm.task_model_name(task) or task}, {proto})"
        label = label_for(base, metric, "sev") if n_metric[metric] == 1 else label_for(base, task, proto, metric, "sev")
        text = format_table(sweep, rows="enhancer", cols="severity", fmt=fmt, where=where, stats=None, label=label,
                            **kwargs)
        out.append((title, text))
    return out


def separate_datasets(df):
    """Rows of runs that saw different images under one ``(dataset, split, severity)`` get ``dataset`` relabelled
    ``<dataset>@<run folder name>``, so a table shows them as separate columns instead of averaging them.
    Returns ``(frame, note)``; the note (empty when nothing changed) names the relabelled data and the sweep advice.
    """
    if "dataset_manifest_hash" not in df.columns or "source" not in df.columns or df["source"].nunique() < 2:
        return df, ""
    keys = [k for k in ("dataset", "split", "severity") if k in df.columns]
    n_hashes = df.groupby(keys, sort=False)["dataset_manifest_hash"].transform("nunique")
    mixed = n_hashes > 1
    if not mixed.any():
        return df, ""
    df = df.copy()
    names = {s: Path(str(s)).name or str(s) for s in df["source"].unique()}
    if len(set(names.values())) < len(names):  # two runs with the same folder name: use the full path
        names = {s: str(s) for s in names}
    df.loc[mixed, "dataset"] = [f"{d}@{names[s]}" for d, s in zip(df.loc[mixed, "dataset"], df.loc[mixed, "source"])]
    shown = ", ".join(sorted(set(df.loc[mixed, "dataset"])))
    return df, (f"runs saw different images under one dataset name, shown as separate columns ({shown}); "
                + SWEEP_ADVICE)
