"""The table ``ledbench run`` prints, and the run's Markdown report.

Rows are enhancers (the ``identity`` floor first, the ``reference`` ceiling last), columns are
``task_model protocol metric`` with an arrow from ``higher_is_better``. The fuller report builder (LaTeX, HTML,
best-value marks, merged runs) lives in :mod:`ledbench.reports`.
"""

from __future__ import annotations

import math
from typing import Any

ABBREV = {"full_reference": "", "no_reference": "NR", "real_gt": "GT", "pseudo_gt": "pGT"}


def _column(row) -> str:
    proto = ABBREV.get(row["protocol"], row["protocol"])
    model = "" if row["task_model"] == "quality" else row["task_model"].replace("det_", "").replace("seg_", "")
    arrow = "↑" if row["higher_is_better"] else "↓"
    return " ".join(p for p in (model, proto, row["metric"]) if p) + f" {arrow}"


def pivot(df):
    """Enhancer x column table of values (floor first, ceiling last, others in run order)."""
    import pandas as pd

    df = df.copy()
    df["column"] = df.apply(_column, axis=1)
    order = list(dict.fromkeys(df["enhancer"]))
    order = [e for e in order if e == "identity"] + [e for e in order if e not in ("identity", "reference")] + \
        [e for e in order if e == "reference"]
    cols = list(dict.fromkeys(df["column"]))
    table = df.pivot_table(index="enhancer", columns="column", values="value", aggfunc="mean", sort=False)
    return table.reindex(index=order, columns=cols), pd


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


def console_table(df) -> str:
    """A readable fixed-width table of a results DataFrame."""
    try:
        from ledbench.reports.tables import console_table as rich_table  # the report builder's version

        return rich_table(df)
    except ImportError:
        pass
    from tabulate import tabulate

    table, _ = pivot(df)
    rows = [[idx] + [_fmt(v) for v in table.loc[idx].tolist()] for idx in table.index]
    return tabulate(rows, headers=["enhancer"] + list(table.columns), tablefmt="simple", disable_numparse=True)


def markdown_report(df, outcome) -> str:
    """The run's ``report.md``: the table, what was skipped and how to enable it, errors, provenance pointers."""
    from tabulate import tabulate

    lines = [f"# ledbench run `{outcome.run_dir.name}`", ""]
    if df is not None and len(df):
        table, _ = pivot(df)
        rows = [[idx] + [_fmt(v) for v in table.loc[idx].tolist()] for idx in table.index]
        n = int(df["n_images_total"].max())
        lines += [f"Dataset `{df['dataset'].iloc[0]}` ({df['split'].iloc[0]}), {n} images, manifest "
                  f"`{df['dataset_manifest_hash'].iloc[0][:12]}`. ↑ higher is better, ↓ lower is better. "
                  "GT: dataset labels; pGT: the task model on the sharp reference gives the labels; "
                  "NR: no-reference. `identity` is the degraded input (floor), `reference` the sharp image "
                  "(ceiling).", "",
                  tabulate(rows, headers=["enhancer"] + list(table.columns), tablefmt="github",
                           disable_numparse=True), ""]
    else:
        lines += ["No results were produced.", ""]
    if outcome.skipped:
        lines += ["## Skipped", ""] + [f"- {s.kind} `{s.name}`: {s.reason}" for s in outcome.skipped] + [""]
    if outcome.errors:
        lines += ["## Errors (skipped units)", ""] + [f"- {e['enhancer']} / {e['item']} ({e['stage']}): "
                                                      f"{e['error']}" for e in outcome.errors] + [""]
    lines += [f"Wall time {outcome.wall_time_s:.1f} s. Provenance in `manifest.json`, per-image scores in "
              "`per_image.csv`.", ""]
    return "\n".join(lines)
