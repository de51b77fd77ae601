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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledbench.bench.errors import ConfigError, InputError, LedbenchError

__all__ = ["auto_grids", "auto_plots", "build_report", "compare_main", "correlation_table", "regress_main",
           "report_main", "run_markdown", "RunTables", "run_tables"]

FORMAT_FILES = {"md": "report.md", "tex": "report.tex", "csv": "report.csv", "html": "report.html"}


def _parse_formats(formats: Sequence[str] | str) -> list[str]:
    if isinstance(formats, str):
        formats = [formats]
    out = [f.strip().lower() for item in formats for f in str(item).split(",") if f.strip()]
    alias = {"markdown": "md", "latex": "tex"}
    out = [alias.get(f, f) for f in out]
    bad = [f for f in out if f not in FORMAT_FILES and f not in ("plots", "grids")]
    if bad or not out:
        raise ConfigError(f"unknown report format(s) {bad or formats}; choose from md, tex, csv, html, plots, grids")
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
    from ledbench.reports import names as nm
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
            attempt(f"{nm.metric_name(m)} ({nm.task_model_name(model) or model}) vs {nm.metric_name(qmetric)}",
                    plots.plot_quality_vs_task, df, qmetric, m, out_dir / f"quality_vs_{model}_{m}", task=model)
    for (task, model), g in downstream.groupby(["task_kind", "task"], sort=False):
        for fam in plots.per_class_metrics(g):
            attempt(f"per-class {fam} ({nm.task_model_name(model) or model})", plots.plot_per_class, g,
                    out_dir / f"per_class_{model}_{fam}", family=fam)
    where = (df["dataset"].astype(str) + "/" + df["split"].astype(str)).unique()
    sev = {w: plots.severity_from_name(w) for w in where}
    from ledbench.reports.sweep import is_sweep

    if is_sweep(df) or len({v for v in sev.values() if v is not None}) >= 2:
        for m in list(dict.fromkeys(df["metric"]))[:3]:
            attempt(f"{nm.metric_name(m)} vs severity", plots.plot_metric_vs_severity, df, m,
                    out_dir / f"severity_{m}")
    for cost in ("latency_ms", "gmacs"):
        if (df["metric"] == cost).any():
            for m in [x for x in dict.fromkeys(downstream["metric"]) if x not in per_class][:2] or \
                     ([qmetric] if qmetric else []):
                attempt(f"{nm.metric_name(m)} vs {nm.metric_name(cost)}", plots.plot_metric_vs_cost, df, m,
                        out_dir / f"{m}_vs_{cost}", cost_name=cost)
    return figs, notes


PLOTS_NEED = ("the results allow none (plots need a downstream task beside a full-reference quality metric, "
              "per-class metrics, a severity sweep (severity=1,3,5) or a cost metric (latency_ms, gmacs))")
GRID_K = 3  # images per selected grid
GRID_TOP = 4  # default enhancer columns: the floor, the best GRID_TOP enhancers by the grid metric, the ceiling


def parse_grid_images(spec: str | Sequence[str] | None) -> tuple[str, str | None, int] | list[str] | None:
    """``--grid-images``: ``id1,id2`` -> a list of image ids; ``best:METRIC[:K]`` / ``worst:METRIC[:K]`` (or
    ``best`` / ``worst`` with the grid metric) -> (which, metric or None, k); None -> None."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    items = [x.strip() for x in (spec.split(",") if isinstance(spec, str) else spec) if str(x).strip()]
    head = items[0].split(":")
    if len(items) == 1 and head[0] in ("best", "worst"):
        if len(head) > 3:
            raise ConfigError(f"--grid-images {spec!r}: use best:METRIC[:K] or worst:METRIC[:K]")
        k = GRID_K
        if len(head) == 3:
            try:
                k = int(head[2])
            except ValueError:
                k = 0
            if k < 1:
                raise ConfigError(f"--grid-images {spec!r}: K must be a positive integer (e.g. best:psnr:4)")
        return head[0], (head[1] or None) if len(head) > 1 else None, k
    return items


def _split_list(spec: str | Sequence[str] | None) -> list[str] | None:
    if spec is None:
        return None
    items = [x.strip() for x in (spec.split(",") if isinstance(spec, str) else spec) if str(x).strip()]
    return items or None


def check_grid_options(df, per_image, *, enhancers=None, images=None, metric=None, crop=None) -> dict[str, Any]:
    """Validate the grid options against the results and ``per_image.csv`` rows; returns them parsed
    (``enhancers`` list or None, ``images`` list / (which, metric, k) / None, ``metric``, ``crop``).
    Raises a one-line :class:`ConfigError` naming the option and what is available."""
    from ledbench.reports import grids

    have_enh = list(dict.fromkeys(df["enhancer"]))
    enh = _split_list(enhancers)
    if enh:
        bad = [e for e in enh if e not in have_enh]
        if bad:
            raise ConfigError(f"--grid-enhancers: unknown enhancer(s) {', '.join(bad)}; the results have "
                              f"{', '.join(have_enh)}")
    imgs = parse_grid_images(images)
    pmetrics = list(dict.fromkeys(per_image["metric"])) if per_image is not None else []
    if isinstance(imgs, tuple) and imgs[1] is not None:
        metric = imgs[1] if metric is None or imgs[1] else metric
    if metric is not None and per_image is not None and metric not in pmetrics:
        raise ConfigError(f"grid metric {metric!r} has no per-image values; choose from {', '.join(pmetrics)}")
    if isinstance(imgs, list) and per_image is not None:
        ids = set(per_image["image_id"].astype(str))
        bad = [i for i in imgs if i not in ids]
        if bad:
            some = ", ".join(sorted(ids)[:6]) + (" ..." if len(ids) > 6 else "")
            raise ConfigError(f"--grid-images: unknown image id(s) {', '.join(bad)}; per_image.csv has {some} "
                              "(or use best:METRIC / worst:METRIC)")
    return {"enhancers": enh, "images": imgs, "metric": metric, "crop": grids.parse_crop(crop)}


def _default_grid_metric(df, per_image) -> str | None:
    q = df[(df["task_kind"] == "quality") & (df["protocol"] == "full_reference")]
    m = next(iter(dict.fromkeys(q["metric"])), None)
    if m is None and per_image is not None and len(per_image):
        m = str(per_image["metric"].iloc[0])
    return m


def _top_enhancers(df, metric: str, n: int) -> list[str]:
    """The ``n`` best real enhancers by the mean of ``metric`` (direction-aware; run order on ties)."""
    sub = df[(df["metric"] == metric) & ~df["enhancer"].isin(["input", "identity", "reference"])]
    if sub.empty:
        return [e for e in dict.fromkeys(df["enhancer"]) if e not in ("input", "identity", "reference")][:n]
    hib = bool(sub["higher_is_better"].iloc[0])
    mean = sub.groupby("enhancer", sort=False)["value"].mean()
    order = sorted(range(len(mean)), key=lambda i: (-mean.iloc[i] if hib else mean.iloc[i], i))
    return [str(mean.index[i]) for i in order[:n]]


def _image_roots(images_root: str | Path | None, run_dirs: Sequence[str | Path]) -> list[Path]:
    """Folders of saved images, searched in this order: ``images_root``, then each run's ``images/`` (written by
    ``ledbench run save_images=true``); only those that exist."""
    cand = ([Path(images_root)] if images_root is not None else []) + [Path(r) / "images" for r in run_dirs]
    out: list[Path] = []
    for c in cand:
        if c.is_dir() and c.resolve() not in {o.resolve() for o in out}:
            out.append(c)
    return out


def _per_image(run_dirs: Sequence[str | Path]):
    """The per-image rows of every run that has ``per_image.csv`` (repeats averaged per enhancer, image, metric);
    the first run's file is read (and its error raised) when none has one."""
    import pandas as pd

    from ledbench.bench.results import read_per_image

    frames = [read_per_image(r) for r in run_dirs if (Path(r) / "per_image.csv").is_file()]
    if not frames:
        return read_per_image(run_dirs[0])
    if len(frames) == 1:
        return frames[0]
    per = pd.concat(frames, ignore_index=True)
    keys = [c for c in per.columns if c != "value"]
    return per.groupby(keys, sort=False, dropna=False)["value"].mean().reset_index()


def auto_grids(run_dirs: Sequence[str | Path], df, out_dir: str | Path, images_root: str | Path | None,
               metric: str | None = None, k: int = GRID_K, input_paths: Mapping[str, str] | None = None,
               reference_paths: Mapping[str, str] | None = None, *, enhancers: str | Sequence[str] | None = None,
               images: str | Sequence[str] | None = None,
               crop: Any = None) -> tuple[list[tuple[str, Path]], list[str]]:
    """Qualitative grids from ``RUN/images`` (written by ``ledbench run save_images=true``); with several runs
    each column's images come from ``images_root`` or the first run that saved them.

    Columns: the floor once ("input (identity)"), ``enhancers`` (default: the best 4 by ``metric``), the
    reference. Rows: ``images`` = image ids, or ``best:METRIC[:K]`` / ``worst:METRIC[:K]``: the K images where the
    grid's enhancers (their mean, or the one enhancer) gain most / least over the degraded input on METRIC
    (direction-aware; by the absolute value when the run has no floor row); default: one grid of each.
    ``crop``: ``"auto"`` or ``x,y,w,h`` adds a zoomed sub-row (:func:`ledbench.reports.grids.make_grid`).
    Returns ((caption, png path) list, notes saying why grids or some of their columns are missing).
    """
    from ledbench.reports import grids

    roots = _image_roots(images_root, run_dirs)
    if not roots:
        return [], [("no qualitative grids: the run saved no images" if len(run_dirs) == 1 else
                     "no qualitative grids: none of the runs saved images")
                    + " (rerun with save_images=true; cached enhanced images are copied, nothing is recomputed)"]
    out: list[tuple[str, Path]] = []
    notes: list[str] = []
    where = ", ".join(str(r) for r in roots)
    try:
        per_image = _per_image(run_dirs)
        opts = check_grid_options(df, per_image, enhancers=enhancers, images=images, metric=metric, crop=crop)
        metric = opts["metric"] or _default_grid_metric(df, per_image)
        enh = opts["enhancers"] or _top_enhancers(df, metric, GRID_TOP)
        floor = [e for e in ("identity",) if e in set(df["enhancer"]) and e not in enh]
        wanted = [e for e in floor + list(enh) if e not in ("input", "reference")]
        enh = [e for e in wanted if any((r / e).is_dir() for r in roots)]
        dropped = [e for e in wanted if e not in enh]
        if not enh:
            return [], [f"no qualitative grids: none of the grid's enhancers ({', '.join(wanted)}) has images under "
                        f"{where} (rerun its run with save_images=true)"]
        if dropped:
            notes.append(f"grid columns left out: {', '.join(dropped)} (no saved images under {where}; rerun "
                         "the run that scored them with save_images=true)")
        sel = opts["images"]
        selections = [("best", metric, k), ("worst", metric, k)] if sel is None else [sel]
        has_floor = (per_image["enhancer"].isin(["input", "identity"]) & (per_image["metric"] == metric)).any()
        for s in selections:
            if isinstance(s, list):
                ids, name, what = s, "chosen", f"{len(s)} chosen images"
            else:
                which, m, kk = s
                m = m or metric
                mode = {"best": "gain", "worst": "loss"}[which] if has_floor else which
                ids = grids.select_images(per_image, m, k=kk, which=mode, results=df, enhancers=enh)
                name = f"{which}_{m}"
                who = "the enhancer" if len([e for e in enh if e != "identity"]) == 1 else "the enhancers' mean"
                what = (f"{which} {len(ids)} images by {m}: where {who} " + ("gains most" if which == "best"
                        else "gains least") + " over the input" if has_floor else f"{which} {len(ids)} images by {m}")
            cols = ["input"] + enh + ["reference"]
            path = Path(out_dir) / f"grid_{name}.png"
            grids.grid_from_folders(roots, ids, enh, path, input_paths=input_paths,
                                    reference_paths=reference_paths, crop=opts["crop"],
                                    notes=grids.metric_notes(per_image, metric, ids, cols), title=what)
            out.append((what, path))
    except (InputError, OSError, KeyError) as exc:
        return out, [*notes, f"grids skipped: {exc}"]
    return out, notes


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

    from ledbench.reports import names

    def down(d: str) -> str:  # "det_yolo_fastest.pseudo_gt.map50_95" -> "Yolo-Fastest 1.1 (pseudo-GT): mAP50:95"
        parts = str(d).split(".")
        if len(parts) != 3:
            return names.metric_name(d)
        model = names.task_model_name(parts[0]) or parts[0]
        return f"{model} ({names.protocol_short(parts[1])}): {names.metric_name(parts[2])}"

    rows = [(names.metric_name(r["quality"]), down(r["downstream"]), str(r["n_enhancers"]), f(r, "kendall_tau", "tau"),
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
                 grid_enhancers: str | Sequence[str] | None = None, grid_images: str | Sequence[str] | None = None,
                 grid_crop: Any = None, notes_out: list[str] | None = None,
                 **table_kwargs: Any) -> dict[str, Path]:
    """Write the requested report files into ``out_dir``; returns format -> path (``plots`` -> the plots folder,
    only when a plot was drawn; ``grids`` -> the grids folder, only when a grid was drawn).

    Every argument is checked before anything is written. ``grid_enhancers``, ``grid_images``, ``grid_crop``:
    see :func:`auto_grids` (grids come with the ``html`` and ``grids`` formats). ``table_kwargs`` may also carry
    ``caption`` / ``label`` (LaTeX) and ``show_stderr``. ``notes_out`` (a list) receives the reasons why plots or
    grids are missing.

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
    from ledbench.reports.tables import CI_MODES, parse_fields

    try:  # all checks before anything is written
        row_f, col_f = parse_fields(rows), parse_fields(cols)
    except ConfigError as exc:
        raise ConfigError(f"--rows {rows!r} / --cols {cols!r}: {exc}") from None
    if set(row_f) & set(col_f):
        raise ConfigError(f"--rows and --cols share {', '.join(sorted(set(row_f) & set(col_f)))}; a field is either "
                          "a row or a column field")
    if split_by is not None:
        parse_fields([split_by])
    if ci not in CI_MODES:
        raise ConfigError(f"unknown --ci {ci!r}; choose pm or interval")
    for run_dir in run_dirs:  # a non-results CSV (per_image.csv, a report table): one line, exit 2
        read_results_file(run_dir)
    from ledbench.reports.tables import FLOORS, unique_runs

    run_dirs, merge_notes = unique_runs(run_dirs)
    df = merge_runs(*run_dirs, allow_mismatch=allow_mismatch)
    merge_notes += df.attrs.get("notes", [])
    if notes_out is not None:
        notes_out.extend(merge_notes)
    base = table_kwargs.get("baseline")
    have = [str(e) for e in dict.fromkeys(df["enhancer"])]
    if base is not None and base not in have and not (base in FLOORS and any(f in have for f in FLOORS)):
        raise ConfigError(f"--baseline {base!r} is not an enhancer of the results; choose from {', '.join(have)}")
    from ledbench.reports.sweep import sweep_tables

    sweep_kw = {k: v for k, v in table_kwargs.items() if k in ("decimals", "show_stderr", "label")}
    want_grids = "html" in fmts or "grids" in fmts
    if want_grids and _image_roots(images_root, run_dirs):
        check_grid_options(df, _per_image(run_dirs), enhancers=grid_enhancers, images=grid_images,
                           metric=grid_metric, crop=grid_crop)
    elif grid_enhancers or grid_images or grid_crop:
        from ledbench.reports.grids import parse_crop

        parse_crop(grid_crop)
        parse_grid_images(grid_images)
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
            if fmt != "csv":  # a severity sweep: one enhancer x severity table per metric (reports/sweep.py)
                text += "".join(f"\n{'**' + t + '**' if fmt == 'md' else '% ' + t}\n\n{x}"
                                for t, x in sweep_tables(df, fmt, **sweep_kw))
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
        if figs:
            written["plots"] = out_dir / "plots"
        elif "plots" in fmts:
            notes.append("no plots: " + ("; ".join(notes) if notes else PLOTS_NEED))
        if notes_out is not None:
            notes_out.extend(notes)
    if want_grids:
        grid_list, gnotes = auto_grids(run_dirs, df, out_dir / "grids", images_root, grid_metric,
                                       enhancers=grid_enhancers, images=grid_images, crop=grid_crop)
        if grid_list:
            written["grids"] = out_dir / "grids"
        if notes_out is not None:
            notes_out.extend(gnotes)
    if "html" in fmts:
        manifests = {str(r): m for r in run_dirs if (m := _read_manifest(r)) is not None}
        tables = [("", format_table(df, rows, cols, fmt="html", **kw))] + sweep_tables(df, "html", **sweep_kw)
        if cor is not None and len(cor):
            tables.append(("What predicts downstream gains", correlation_table(cor, "html")))
        title = title or ("ledbench report: " + ", ".join(Path(r).name for r in run_dirs))
        sub = (f"{df['source'].nunique()} run(s); datasets: {', '.join(sorted(df['dataset'].unique()))}; "
               f"{df['enhancer'].nunique()} enhancers; {len(df)} result rows")
        written["html"] = html_mod.write_html(out_dir / FORMAT_FILES["html"], title=title, subtitle=sub,
                                              tables=tables, figures=figs, grids=grid_list, manifests=manifests,
                                              notes=merge_notes + notes + gnotes)
    return written


def report_main(run_dirs: list[str], formats: list[str], out_dir: str | None, rows: str = "enhancer",
                cols: str = "task.metric", *, allow_mismatch: bool = False, split_by: str | None = None,
                images_root: str | None = None, grid_metric: str | None = None, title: str | None = None,
                quiet: bool = False, stats: bool = True, ci: str | None = None,
                grid_enhancers: str | None = None, grid_images: str | None = None, grid_crop: str | None = None,
                caption: str | None = None, label: str | None = None, show_stderr: bool = False,
                **stat_kwargs: Any) -> int:
    """``ledbench report``: write report files and print the console table. 0 on success, 2 on a user error.

    ``grid_*``: see :func:`auto_grids`; ``caption`` / ``label``: the LaTeX ``\\caption`` text and ``\\label``;
    ``show_stderr``: ``± stderr`` after every value (over images for a value from one run, over runs for a value
    averaged over repeats; the legend says which); without it no ``±`` is shown. A run given twice is read once.

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
        if label is not None and not label.strip():
            raise ConfigError("--label is empty; give e.g. --label tab:night")
        tkw = {"caption": caption or "", "label": (label or "").strip()}
        if show_stderr:
            tkw["show_stderr"] = True
        notes: list[str] = []
        written = build_report(run_dirs, formats, out, rows=rows, cols=cols, allow_mismatch=allow_mismatch,
                               split_by=split_by, images_root=images_root, grid_metric=grid_metric, title=title,
                               stats=stats, ci=ci, grid_enhancers=grid_enhancers, grid_images=grid_images,
                               grid_crop=grid_crop, notes_out=notes, **tkw, **stat_kwargs)
        if not quiet:
            df = merge_runs(*run_dirs, allow_mismatch=True)  # already checked in build_report
            print(console_table(df, rows, cols, split_by=split_by, stats="auto" if stats else None, ci=ci,
                                **({"show_stderr": True} if show_stderr else {}), **stat_kwargs))
            for n in dict.fromkeys(notes):
                print(f"note: {n}")
            for fmt, p in written.items():
                print(f"{fmt:>5}: {p}")
        return 0
    except LedbenchError as exc:
        print(f"ledbench: error: {exc}", file=sys.stderr)
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
        print(f"ledbench: error: {exc}", file=sys.stderr)
        return 2


@dataclass
class RunTables:
    """What ``report.md`` and the console show of a run's results, built once from the results frame (pandas) and
    rendered as often as needed: the dataset line, the results table (:class:`~ledbench.reports.tables.Table`) and
    a sweep's per-metric tables (Markdown). :meth:`to_json` / :meth:`from_json` let a run keep it in its cache."""

    intro: str
    table: Any
    sweeps: list[tuple[str, str]]

    def to_json(self) -> dict[str, Any]:
        """JSON-able data, without what the statistics cost (it changes every run; :meth:`from_json` adds it)."""
        return {"intro": self.intro, "table": {**self.table.to_json(), "stats_cost": ""},
                "sweeps": [list(x) for x in self.sweeps]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], manifest: Mapping[str, Any]) -> RunTables:
        """Tables kept by :meth:`to_json`, their legend completed with what the statistics cost in the run of
        ``manifest`` (its ``statistics`` entry and wall time, as :func:`_with_run_wall` gives them)."""
        from ledbench.reports.tables import Table, stats_cost

        table = Table.from_json(data["table"])
        if table.stats_note:
            wall = manifest.get("wall_time_s")
            table.stats_cost = stats_cost((manifest.get("statistics") or {}).get("wall_s"),
                                          float(wall) if isinstance(wall, (int, float)) else None)
        return cls(data["intro"], table, [(t, x) for t, x in data["sweeps"]])


def run_tables(df, stats: Any = None) -> RunTables:
    """The tables of a run's ``report.md`` from its results (``df`` as :func:`ledbench.bench.results.read_results`
    returns it, not empty) and its bootstrap frame (``stats``, or None)."""
    from ledbench.reports.sweep import sweep_tables  # a severity sweep: enhancer x severity per metric
    from ledbench.reports.tables import build_table

    n = int(df.groupby("severity")["n_images_total"].max().sum()) if "severity" in df.columns \
        else int(df["n_images_total"].max())  # a sweep: the images of every level
    levels = sorted(set(df["severity"]) - {""}, key=float) if "severity" in df.columns else []
    intro = (f"Dataset `{df['dataset'].iloc[0]}` ({df['split'].iloc[0]}), {n} images"
             + (f" at severities {', '.join(levels)}" if levels else "") + ", manifest "
             f"`{df['dataset_manifest_hash'].iloc[0][:12]}`. ↑ higher is better, ↓ lower is better; best in "
             "bold, second underlined. Protocols: `full_reference` against the sharp reference, "
             "`no_reference`, `real_gt` (dataset labels), `pseudo_gt` (the task model on the sharp reference "
             "gives the labels), `label_free` (statistics of the task model's output on images without labels or "
             "references, not accuracy). `identity` is the degraded input (floor), `reference` the sharp image "
             "(ceiling).")
    return RunTables(intro, build_table(df, stats=stats), sweep_tables(df, "md"))


def run_markdown(df, manifest: Mapping[str, Any], run_name: str = "run", stats: Any = None,
                 tables: RunTables | None = None) -> str:
    """A run's ``report.md``: the results table, what was skipped and how to enable it, failed units, provenance.

    A pure function of the stored results (``df`` as :func:`ledbench.bench.results.read_results` returns it, or
    None when nothing was scored) and the run's ``manifest.json``; ``ledbench run`` writes it with the run.
    ``stats``: the run's :func:`ledbench.reports.stats.bootstrap_table` (significance markers and bootstrap-based
    best / second), ``"auto"`` (computed from the run directory ``df`` was read from) or None.
    ``tables``: the run's :func:`run_tables`, when already built (then ``df`` and ``stats`` are not read).
    """
    from ledbench.reports.tables import render_markdown

    if tables is None and df is not None and len(df):
        tables = run_tables(df, _with_run_wall(stats, manifest))
    lines = [f"# ledbench run `{run_name}`", ""]
    if tables is not None:
        lines += [tables.intro, "", render_markdown(tables.table), ""]
        for title, text in tables.sweeps:
            lines += [f"**{title}**", "", text, ""]
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
        print(f"ledbench: error: {exc}", file=sys.stderr)
        return 2
