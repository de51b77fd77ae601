"""Entry points for ``ledbench report``, ``compare`` and ``regress`` (the CLI in bench/ parses arguments).

    ledbench report RUN_DIR... --format md,tex,csv,html --rows enhancer --cols task.metric [--ci pm]
    ledbench compare RUN_DIR A B [metric,...]
    ledbench regress RUN_DIR --baseline FILE --tol psnr=0.05 [--update-baseline]

All return a process exit code; user errors (:class:`LedbenchError`) print one line to stderr and return 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ledbench.bench.errors import ConfigError, InputError, LedbenchError

__all__ = ["auto_grids", "auto_plots", "build_report", "compare_main", "correlation_table", "regress_main",
           "report_main", "run_markdown"]

FORMAT_FILES = {"md": "report.md", "tex": "report.tex", "csv": "report.csv", "html": "report.html"}


def _parse_formats(formats: Sequence[str] | str) -> list[str]:
    if isinstance(formats, str):
        formats = [formats]
    out = [f.strip().lower() for item in formats for f in str(item).split(",") if f.strip()]
    alias = {"markdown": "md", "latex": "tex"}
    out = [alias.get(f, f) for f in out]
    bad = [f for f in out if f not in FORMAT_FILES and f != "plots"]
    if bad or not out:
        raise ConfigError(f"unknown report format(s) {bad or formats}; choose from md, tex, csv, html, plots")
    return list(dict.fromkeys(out))


def _read_manifest(run_dir: str | Path) -> dict[str, Any] | None:
    p = Path(run_dir) / "manifest.json"
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        return {"error": f"unreadable manifest.json: {exc}"}


def auto_plots(df, out_dir: str | Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """Draw every plot the results allow; returns ((caption, png path) list, notes on plots skipped and why)."""
    from ledbench.reports import plots

    out_dir = Path(out_dir)
    figs: list[tuple[str, Path]] = []
    notes: list[str] = []

    def attempt(caption: str, fn, *args, **kwargs) -> None:
        try:
            figs.append((caption, fn(*args, **kwargs)[0]))
        except InputError as exc:
            notes.append(f"plot '{caption}' skipped: {exc}")

    quality = df[(df["task_kind"] == "quality") & (df["protocol"] == "full_reference")]
    qmetric = next(iter(dict.fromkeys(quality["metric"])), None)
    downstream = df[df["task_kind"] != "quality"]
    per_class = set()
    for fam, names in plots.per_class_metrics(downstream).items():
        per_class.update(names)
    for (task, model), g in downstream.groupby(["task_kind", "task"], sort=False):
        m = next((x for x in dict.fromkeys(g["metric"]) if x not in per_class), None)
        if qmetric and m and df["dataset"].nunique() == 1:
            attempt(f"{m} ({model}) vs {qmetric}", plots.plot_quality_vs_task, df, qmetric, m,
                    out_dir / f"quality_vs_{model}_{m}", task=model)
    for (task, model), g in downstream.groupby(["task_kind", "task"], sort=False):
        for fam in plots.per_class_metrics(g):
            attempt(f"per-class {fam} ({model})", plots.plot_per_class, g, out_dir / f"per_class_{model}_{fam}",
                    family=fam)
    where = (df["dataset"].astype(str) + "/" + df["split"].astype(str)).unique()
    sev = {w: plots.severity_from_name(w) for w in where}
    if len({v for v in sev.values() if v is not None}) >= 2:
        for m in list(dict.fromkeys(df["metric"]))[:3]:
            attempt(f"{m} vs severity", plots.plot_metric_vs_severity, df, m, out_dir / f"severity_{m}")
    for cost in ("latency_ms", "gmacs"):
        if (df["metric"] == cost).any():
            for m in [x for x in dict.fromkeys(downstream["metric"]) if x not in per_class][:2] or \
                     ([qmetric] if qmetric else []):
                attempt(f"{m} vs {cost}", plots.plot_metric_vs_cost, df, m, out_dir / f"{m}_vs_{cost}",
                        cost_name=cost)
    return figs, notes


def auto_grids(run_dirs: Sequence[str | Path], df, out_dir: str | Path, images_root: str | Path | None,
               metric: str | None = None, k: int = 3, input_paths: Mapping[str, str] | None = None,
               reference_paths: Mapping[str, str] | None = None) -> tuple[list[tuple[str, Path]], list[str]]:
    """Worst and best images by ``metric`` (default: the first full-reference quality metric) as grids."""
    from ledbench.bench.results import read_per_image
    from ledbench.reports import grids

    if images_root is None or not Path(images_root).is_dir():
        return [], ["no qualitative grids: the run saved no images (rerun it with save_images=true; the cached "
                    "images are copied, nothing is recomputed)"]
    out: list[tuple[str, Path]] = []
    try:
        per_image = read_per_image(run_dirs[0])
        if metric is None:
            q = df[(df["task_kind"] == "quality") & (df["protocol"] == "full_reference")]
            metric = next(iter(dict.fromkeys(q["metric"])), None) or str(per_image["metric"].iloc[0])
        enhancers = [e for e in dict.fromkeys(df["enhancer"]) if e not in ("input", "reference")]  # identity stays
        enhancers = [e for e in enhancers if (Path(images_root) / e).is_dir()]
        for which in ("worst", "best"):
            ids = grids.select_images(per_image, metric, k=k, which=which, results=df)
            cols = ["input"] + enhancers + ["reference"]
            path = Path(out_dir) / f"grid_{which}_{metric}.png"
            grids.grid_from_folders(images_root, ids, enhancers, path, input_paths=input_paths,
                                    reference_paths=reference_paths,
                                    notes=grids.metric_notes(per_image, metric, ids, cols),
                                    title=f"{which} {len(ids)} images by {metric} (mean over enhancers)")
            out.append((f"{which} {len(ids)} images by {metric}", path))
    except (InputError, OSError, KeyError) as exc:
        return out, [f"grids skipped: {exc}"]
    return out, []


STAT_KEYS = ("baseline", "level", "n_resamples", "seed", "method")


def _statistics(run_dirs: Sequence[str | Path], out_dir: Path, stat_kw: dict[str, Any]):
    """For a single run: write ``statistics.csv`` (per-row bootstrap), ``statistics.json`` (its settings) and
    ``correlations.csv``; returns the correlations DataFrame (or None) and notes."""
    from ledbench.bench.files import atomic_write_bytes
    from ledbench.bench.results import csv_bytes
    from ledbench.reports import stats as st

    if len(run_dirs) != 1 or not (Path(run_dirs[0]) / "per_image.csv").is_file():
        return None, ["bootstrap statistics need one run directory with per_image.csv"]
    rd = st.load_run(run_dirs[0])
    boot = st.bootstrap_table(rd.results, rd.per_image, rd.suff, **stat_kw)
    atomic_write_bytes(out_dir / "statistics.csv", csv_bytes(boot.to_dict("records"), list(boot.columns)))
    atomic_write_bytes(out_dir / "statistics.json",  # the settings (seed, resamples, level, method, baseline)
                       (json.dumps(boot.attrs["bootstrap"], indent=2, sort_keys=True) + "\n").encode())
    ckw = {k: v for k, v in stat_kw.items() if k in ("level", "n_resamples", "seed")}
    cor = st.correlations(rd.results, rd.per_image, rd.suff, **ckw)
    if len(cor):
        atomic_write_bytes(out_dir / "correlations.csv", csv_bytes(cor.to_dict("records"), list(cor.columns)))
    return cor, []


def correlation_table(cor, fmt: str = "md") -> str:
    """Quality-vs-downstream rank correlations as a Markdown or HTML table (oriented: + = better goes with better)."""
    import html as _html
    import math

    if cor is None or len(cor) == 0 or "kendall_tau" not in cor.columns:
        return ""
    lvl = int(round(100 * cor.attrs.get("bootstrap", {}).get("level", 0.95)))

    def f(r, name, short):
        v = r.get(name, math.nan)
        if not isinstance(v, float) or not math.isfinite(v):
            return "—"
        lo, hi = r.get(short + "_ci_low", math.nan), r.get(short + "_ci_high", math.nan)
        if not (isinstance(lo, float) and math.isfinite(lo)):
            return f"{v:+.2f} (no bootstrap)"
        return f"{v:+.2f} [{lo:+.2f}, {hi:+.2f}]"

    rows = [(r["quality"], r["downstream"], str(r["n_enhancers"]), f(r, "kendall_tau", "tau"),
             f(r, "spearman_rho", "rho")) for r in cor.to_dict("records")]
    head = ("quality metric", "downstream metric", "enhancers", f"Kendall τ [{lvl}% CI]", f"Spearman ρ [{lvl}% CI]")
    caption = (f"Rank correlation across enhancers (ceiling excluded), oriented so that + means a better quality score "
               f"goes with a better downstream score; {lvl}% percentile intervals from the paired bootstrap over "
               "images. An interval that contains 0 means the quality metric does not predict that downstream gain "
               "on these images.")
    if fmt == "html":
        e = _html.escape
        out = ['<table class="ledbench"><thead><tr>' + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead>"]
        out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
        return "\n".join(out) + f'</table>\n<p class="legend">{e(caption)}</p>\n'
    lines = ["| " + " | ".join(head) + " |", "|:---|:---|---:|---:|---:|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + f"\n\n_{caption}_\n"


def build_report(run_dirs: Sequence[str | Path], formats: Sequence[str] | str, out_dir: str | Path, *,
                 rows: str = "enhancer", cols: str = "task.metric", allow_mismatch: bool = False,
                 split_by: str | None = None, images_root: str | Path | None = None, grid_metric: str | None = None,
                 title: str | None = None, stats: bool = True, ci: str | None = None,
                 **table_kwargs: Any) -> dict[str, Path]:
    """Write the requested report files into ``out_dir``; returns format -> path (``plots`` -> the plots folder).

    ``stats`` (one run only): paired bootstrap markers in the tables, ``statistics.csv`` and the quality-vs-
    downstream correlations (``correlations.csv``, a table and a plot); ``ci``: ``pm`` / ``interval`` shows the
    intervals; ``table_kwargs`` may carry the bootstrap settings ``baseline``, ``level``, ``n_resamples``, ``seed``,
    ``method``.
    """
    from ledbench.reports import html as html_mod
    from ledbench.reports import plots
    from ledbench.reports.tables import format_table, merge_runs

    fmts = _parse_formats(formats)
    from ledbench.reports.regress import read_results_file

    for run_dir in run_dirs:  # a non-results CSV (per_image.csv, a report table): one line, exit 2
        read_results_file(run_dir)
    df = merge_runs(*run_dirs, allow_mismatch=allow_mismatch)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    kw = dict(split_by=split_by, stats="auto" if stats else None, ci=ci, **table_kwargs)
    cor, stat_notes = None, []
    if stats:
        cor, stat_notes = _statistics(run_dirs, out_dir, {k: v for k, v in table_kwargs.items() if k in STAT_KEYS})
        if (out_dir / "statistics.csv").is_file():
            written["statistics"] = out_dir / "statistics.csv"
    for fmt in ("md", "tex", "csv"):
        if fmt in fmts:
            p = out_dir / FORMAT_FILES[fmt]
            text = format_table(df, rows, cols, fmt=fmt, **kw)
            if fmt == "md" and cor is not None and len(cor):
                text += "\n**What predicts downstream gains**\n\n" + correlation_table(cor, "md")
            p.write_text(text, encoding="utf-8")
            written[fmt] = p
    if "html" in fmts or "plots" in fmts:
        figs, notes = auto_plots(df, out_dir / "plots")
        notes += stat_notes
        if cor is not None and len(cor):
            try:
                figs.append(("What predicts downstream gains: Kendall τ across enhancers",
                             plots.plot_correlations(cor, out_dir / "plots" / "correlations")[0]))
            except InputError as exc:
                notes.append(f"plot 'correlations' skipped: {exc}")
        written["plots"] = out_dir / "plots"
    if "html" in fmts:
        grid_list, gnotes = auto_grids(run_dirs, df, out_dir / "grids", images_root, grid_metric)
        manifests = {str(r): m for r in run_dirs if (m := _read_manifest(r)) is not None}
        tables = [("", format_table(df, rows, cols, fmt="html", **kw))]
        if cor is not None and len(cor):
            tables.append(("What predicts downstream gains", correlation_table(cor, "html")))
        title = title or ("ledbench report: " + ", ".join(Path(r).name for r in run_dirs))
        sub = (f"{df['source'].nunique()} run(s); datasets: {', '.join(sorted(df['dataset'].unique()))}; "
               f"{df['enhancer'].nunique()} enhancers; {len(df)} result rows")
        written["html"] = html_mod.write_html(out_dir / FORMAT_FILES["html"], title=title, subtitle=sub,
                                              tables=tables, figures=figs, grids=grid_list, manifests=manifests,
                                              notes=notes + gnotes)
    return written


def report_main(run_dirs: list[str], formats: list[str], out_dir: str | None, rows: str = "enhancer",
                cols: str = "task.metric", *, allow_mismatch: bool = False, split_by: str | None = None,
                images_root: str | None = None, grid_metric: str | None = None, title: str | None = None,
                quiet: bool = False, stats: bool = True, ci: str | None = None, **stat_kwargs: Any) -> int:
    """``ledbench report``: write report files and print the console table. 0 on success, 2 on a user error.

    ``out_dir`` defaults to ``RUN_DIR/report`` for one run (beside, not over, the run's own ``report.md``) and
    to ``./ledbench-report`` for several. ``stats``, ``ci`` and ``stat_kwargs`` (baseline, level, n_resamples,
    seed, method): see :func:`build_report`.
    """
    from ledbench.reports.tables import console_table, merge_runs

    try:
        if not run_dirs:
            raise InputError("no run directory given: ledbench report RUN_DIR... [--format md,tex,csv,html]")
        out = Path(out_dir) if out_dir else (Path(run_dirs[0]) / "report" if len(run_dirs) == 1
                                             else Path("ledbench-report"))
        stat_kwargs = {k: v for k, v in stat_kwargs.items() if v is not None}
        bad = sorted(set(stat_kwargs) - set(STAT_KEYS))
        if bad:
            raise ConfigError(f"unknown statistics option(s) {', '.join(bad)}; choose from {', '.join(STAT_KEYS)}")
        written = build_report(run_dirs, formats, out, rows=rows, cols=cols, allow_mismatch=allow_mismatch,
                               split_by=split_by, images_root=images_root, grid_metric=grid_metric, title=title,
                               stats=stats, ci=ci, **stat_kwargs)
        if not quiet:
            df = merge_runs(*run_dirs, allow_mismatch=True)  # already checked in build_report
            print(console_table(df, rows, cols, split_by=split_by, stats="auto" if stats else None, ci=ci,
                                **stat_kwargs))
            for fmt, p in written.items():
                print(f"{fmt:>5}: {p}")
        return 0
    except LedbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def regress_main(run_dir: str, baseline: str, tol: list[str] | None = None, update_baseline: bool = False,
                 default_tol: float | str | None = None) -> int:
    """``ledbench regress``: print the direction-aware diff; 1 on regression / missing rows, 0 otherwise, 2 on a
    user error. With ``update_baseline`` the baseline is (re)written from the run and 0 is returned."""
    from ledbench.reports import regress as rg

    try:
        if update_baseline:
            if Path(baseline).is_file():
                code, text = rg.regress(run_dir, baseline, rg.parse_tolerances(tol),
                                        rg.DEFAULT_TOL if default_tol is None else default_tol)
                print(text.replace("FAIL:", "was:").replace("PASS:", "was:"), end="")
            print(rg.update_baseline(run_dir, baseline), end="")
            return 0
        code, text = rg.regress(run_dir, baseline, rg.parse_tolerances(tol),
                                rg.DEFAULT_TOL if default_tol is None else default_tol)
        print(text, end="")
        return code
    except LedbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run_markdown(df, manifest: Mapping[str, Any], run_name: str = "run", stats: Any = None) -> str:
    """A run's ``report.md``: the results table, what was skipped and how to enable it, failed units, provenance.

    A pure function of the stored results (``df`` as :func:`ledbench.bench.results.read_results` returns it, or
    None when nothing was scored) and the run's ``manifest.json``; ``ledbench run`` writes it with the run.
    ``stats``: the run's :func:`ledbench.reports.stats.bootstrap_table` (significance markers and bootstrap-based
    best / second), ``"auto"`` (computed from the run directory ``df`` was read from) or None.
    """
    from ledbench.reports.tables import format_table

    lines = [f"# ledbench run `{run_name}`", ""]
    if df is not None and len(df):
        n = int(df["n_images_total"].max())
        lines += [f"Dataset `{df['dataset'].iloc[0]}` ({df['split'].iloc[0]}), {n} images, manifest "
                  f"`{df['dataset_manifest_hash'].iloc[0][:12]}`. ↑ higher is better, ↓ lower is better; best in "
                  "bold, second underlined. Protocols: `full_reference` against the sharp reference, "
                  "`no_reference`, `real_gt` (dataset labels), `pseudo_gt` (the task model on the sharp reference "
                  "gives the labels). `identity` is the degraded input (floor), `reference` the sharp image "
                  "(ceiling).", "", format_table(df, fmt="md", stats=_with_run_wall(stats, manifest)), ""]
    else:
        lines += ["No results were produced.", ""]
    skipped = manifest.get("skipped") or []
    if skipped:
        lines += ["## Skipped", ""] + [f"- {s['kind']} `{s['name']}`: {s['reason']}" for s in skipped] + [""]
    not_scored = manifest.get("not_scored") or []
    if not_scored:
        lines += ["## Not scored", ""]
        for n in not_scored:
            who = "" if n.get("enhancer") == "*" else f"{n.get('enhancer')} / "
            lines.append(f"- {who}`{n.get('task')}` `{n.get('metric')}`: {n.get('reason')}")
        lines.append("")
    errors = manifest.get("errors") or []
    if errors:
        lines += ["## Errors (skipped units)", ""]
        for e in errors:
            where = " / ".join(x for x in (e.get("enhancer"), e.get("task"), e.get("metric")) if x)
            lines.append(f"- {where} / {e.get('item')} ({e.get('stage')}): {e.get('error')}")
        lines.append("")
    wall = manifest.get("wall_time_s")
    lines += [(f"Wall time {wall:.1f} s. " if isinstance(wall, (int, float)) else "")
              + "Provenance in `manifest.json`, per-image scores in `per_image.csv`; `ledbench report` makes LaTeX, "
              "CSV and HTML from the same files.", ""]
    return "\n".join(lines)


def _with_run_wall(stats: Any, manifest: Mapping[str, Any]) -> Any:
    """The bootstrap frame with the run's wall time attached (the caption gives the statistics' share of it)."""
    if stats is None or isinstance(stats, str):
        return stats
    wall = manifest.get("wall_time_s")
    if isinstance(wall, (int, float)) and "bootstrap" in stats.attrs:
        stats.attrs["bootstrap"].setdefault("run_wall_s", float(wall))
    return stats


def compare_main(run_dir: str, a: str, b: str, metrics: str | None = None, *, n_resamples: int = 2000,
                 level: float = 0.95, seed: int = 0, method: str = "percentile", csv: str | None = None) -> int:
    """``ledbench compare RUN A B [metrics]``: one screen of paired differences A - B; 0, or 2 on a user error."""
    from ledbench.reports import stats as st

    try:
        df = st.compare(run_dir, a, b, metrics, n_resamples=n_resamples, level=level, seed=seed, method=method)
        if len(df) == 0:
            raise InputError(f"{a} and {b} share no scored column with per-image values in {run_dir}")
        print(st.format_compare(df), end="")
        if csv:
            df.to_csv(csv, index=False)
            print(f"wrote {csv}")
        return 0
    except LedbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
