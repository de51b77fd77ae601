"""The run's Markdown report (``report.md``) and the table ``ledbench run`` prints.

Tables come from :mod:`ledbench.reports.tables` (arrows from ``higher_is_better``, best bold / second underlined per
column, ``identity`` floor and ``reference`` ceiling not ranked); this module adds the run's context: dataset,
skipped entries with the command that enables them, and failed units.
"""

from __future__ import annotations

from ledbench.reports.tables import console_table, format_table

__all__ = ["console_table", "markdown_report"]


def markdown_report(df, outcome) -> str:
    """The run's ``report.md``: the table, what was skipped and how to enable it, errors, provenance pointers."""
    lines = [f"# ledbench run `{outcome.run_dir.name}`", ""]
    if df is not None and len(df):
        n = int(df["n_images_total"].max())
        lines += [f"Dataset `{df['dataset'].iloc[0]}` ({df['split'].iloc[0]}), {n} images, manifest "
                  f"`{df['dataset_manifest_hash'].iloc[0][:12]}`. ↑ higher is better, ↓ lower is better; best in "
                  "bold, second underlined. Protocols: `full_reference` against the sharp reference, "
                  "`no_reference`, `real_gt` (dataset labels), `pseudo_gt` (the task model on the sharp reference "
                  "gives the labels). `identity` is the degraded input (floor), `reference` the sharp image "
                  "(ceiling).", "", format_table(df, fmt="md"), ""]
    else:
        lines += ["No results were produced.", ""]
    if outcome.skipped:
        lines += ["## Skipped", ""] + [f"- {s.kind} `{s.name}`: {s.reason}" for s in outcome.skipped] + [""]
    if outcome.errors:
        lines += ["## Errors (skipped units)", ""] + [f"- {e['enhancer']} / {e['item']} ({e['stage']}): "
                                                      f"{e['error']}" for e in outcome.errors] + [""]
    lines += [f"Wall time {outcome.wall_time_s:.1f} s. Provenance in `manifest.json`, per-image scores in "
              "`per_image.csv`; `ledbench report` makes LaTeX, CSV and HTML from the same files.", ""]
    return "\n".join(lines)
