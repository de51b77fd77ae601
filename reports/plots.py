"""Plots from stored results (matplotlib, Agg canvas, no pyplot global state); each saves PNG and SVG.

- :func:`plot_metric_vs_severity`: one line per enhancer, metric against degradation severity (error bars = stderr).
- :func:`plot_quality_vs_task`: image quality (e.g. PSNR) against a downstream metric, one point per enhancer,
  with Pearson and Spearman correlations in the title: does quality predict the task gain?
- :func:`plot_metric_vs_cost`: accuracy against latency / GMACs per enhancer, with the Pareto front.
- :func:`plot_correlations`: Kendall tau (or Spearman rho) between every quality metric and every downstream
  metric across enhancers, with bootstrap intervals (from :func:`ledbench.reports.stats.correlations`).
- :func:`plot_per_class`: grouped bars of per-class scores (``iou_<class>``, ``ap_<class>``...) per enhancer.

Every function takes a results DataFrame (:func:`ledbench.bench.results.read_results`), writes ``<out>.png`` and
``<out>.svg`` and returns both paths. Axis labels carry the direction arrow from ``higher_is_better``. The
floor (``input`` / ``identity``) and ceiling (``reference``) are drawn grey / black, dashed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ledbench.bench.errors import InputError

__all__ = [
    "enhancer_colors",
    "per_class_metrics",
    "plot_correlations",
    "plot_metric_vs_cost",
    "plot_metric_vs_severity",
    "plot_per_class",
    "plot_quality_vs_task",
    "place_labels",
    "label_overlaps",
    "save_figure",
    "severity_from_name",
]

_PSEUDO_STYLE = {"input": {"color": "0.55", "linestyle": "--"}, "identity": {"color": "0.55", "linestyle": "--"},
                 "reference": {"color": "black", "linestyle": "--"}}


def _figure(w: float = 6.4, h: float = 4.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100, layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def save_figure(fig: Any, out: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``out.<fmt>`` for each format (SVG without timestamps, so reruns are byte-stable)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = out.with_suffix("." + fmt)
        meta = {"Date": None} if fmt == "svg" else {"Software": "ledbench"}
        fig.savefig(p, format=fmt, dpi=150 if fmt == "png" else None, metadata=meta)
        paths.append(p)
    return paths


def enhancer_colors(names: Sequence[str]) -> dict[str, Any]:
    """Stable colours: tab10 over the real enhancers in order; ``input`` grey, ``reference`` black."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    out, k = {}, 0
    for n in names:
        if n in _PSEUDO_STYLE:
            out[n] = _PSEUDO_STYLE[n]["color"]
        else:
            out[n] = cmap(k % cmap.N)
            k += 1
    return out


def _enh_order(names) -> list[str]:
    names = list(dict.fromkeys(names))
    return sorted(names, key=lambda n: 0 if n in ("input", "identity") else 2 if n == "reference" else 1)


def _select(df, metric: str, task: str | None = None, protocol: str | None = None):
    sub = df[df["metric"] == metric]
    if task is not None:
        sub = sub[(sub["task_kind"] == task) | (sub["task"] == task)]
    if protocol is not None:
        sub = sub[sub["protocol"] == protocol]
    if sub.empty:
        have = ", ".join(sorted(df["metric"].unique()))
        raise InputError(f"no results for metric {metric!r}" + (f" task {task!r}" if task else "")
                         + f"; the results have: {have}")
    return sub


def _direction(sub) -> bool:
    return bool(sub["higher_is_better"].iloc[0])


def _label(metric: str, hib: bool | None) -> str:
    """Axis label with the display name, unit and direction (``PSNR (dB) ↑``; :mod:`ledbench.reports.names`)."""
    from ledbench.reports.names import metric_label

    return metric_label(metric, hib)


def _corr_tick(d: str) -> str:
    """``det_yolo_fastest.pseudo_gt.map50_95`` -> ``Yolo-Fastest 1.1\n(pseudo-GT)\nmAP50:95`` (one short line
    each, so neighbouring columns never overlap)."""
    from ledbench.reports.names import protocol_short, task_model_name

    parts = str(d).split(".")
    if len(parts) == 3:
        return f"{task_model_name(parts[0]) or parts[0]}\n({protocol_short(parts[1])})\n{_name(parts[2])}"
    task, _, metric = str(d).rpartition(".")
    return f"{task_model_name(task) or task}\n{_name(metric)}" if task else _name(metric)


def _name(metric: str) -> str:
    from ledbench.reports.names import metric_name

    return metric_name(metric)


# label offsets (points) tried in order; the first one whose box overlaps no placed label and no marker wins
_OFFSETS = [(4, 4), (4, -11), (-4, 4), (-4, -11), (4, 14), (-4, 14), (4, -21), (-4, -21), (12, -3), (-12, -3),
            (4, 24), (-4, 24), (4, -31), (-4, -31), (4, 34), (-4, 34), (4, -41), (-4, -41)]


def place_labels(ax: Any, points: Sequence[tuple[float, float, str]], fontsize: float = 8) -> list[Any]:
    """Annotate ``(x, y, text)`` points so that no two labels overlap (a small deterministic repel).

    Each label tries the offsets in ``_OFFSETS`` in turn (right/left, above/below, then further away) and takes the
    first whose box, in display coordinates, intersects no label placed before it nor another point's marker; if
    none is free it takes the offset with the least overlap and draws a thin leader line. Labels are placed in
    order of x then y, so the result does not depend on the input order. Returns the annotations.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.figure
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()  # final layout first, so display coordinates are those of the saved figure
    renderer = fig.canvas.get_renderer()
    marks = [ax.transData.transform((x, y)) for x, y, _ in points]
    marker_boxes = [(mx - 3, my - 3, mx + 3, my + 3) for mx, my in marks]
    placed: list[tuple[float, float, float, float]] = []
    out = []

    def overlap(a, b) -> float:
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
        return w * h if w > 0 and h > 0 else 0.0

    order = sorted(range(len(points)), key=lambda k: (points[k][0], points[k][1], points[k][2]))
    for k in order:
        x, y, text = points[k]
        best = None
        for dx, dy in _OFFSETS:
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                              ha="left" if dx >= 0 else "right", va="bottom")
            bb = ann.get_window_extent(renderer)
            box = (bb.x0 - 1, bb.y0 - 1, bb.x1 + 1, bb.y1 + 1)
            cost = sum(overlap(box, p) for p in placed) + sum(overlap(box, m) for i, m in enumerate(marker_boxes)
                                                              if i != k)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, ann, box, (dx, dy))
            else:
                ann.remove()
            if cost == 0:
                break
        cost, ann, box, (dx, dy) = best
        if abs(dx) > 4 or abs(dy) > 14:
            ann.remove()
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                              ha="left" if dx >= 0 else "right", va="bottom",
                              arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5})
        placed.append(box)
        out.append(ann)
    return out


def label_overlaps(fig: Any, texts: Sequence[Any]) -> list[tuple[str, str]]:
    """Pairs of text artists whose drawn boxes intersect (for tests and checks)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(r)) for t in texts]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:] if ba.overlaps(bb)]


_SEV_RE = re.compile(r"(?:severity|sev|level)[=_:-]?(\d+(?:\.\d+)?)", re.IGNORECASE)


def severity_from_name(name: str) -> float | None:
    """Parse a severity from names such as ``synth_mini:severity=0.5``, ``lolblur_sev3``, ``level-2``."""
    m = _SEV_RE.search(str(name))
    return float(m.group(1)) if m else None


def plot_metric_vs_severity(df, metric: str, out: str | Path, *, task: str | None = None,
                            severity: str | Mapping[str, float] | Callable[[str], float | None] | None = None,
                            severity_label: str = "degradation severity") -> list[Path]:
    """Metric against degradation severity, one line per enhancer (mean over runs, error bars = stderr).

    Args:
        severity: where the severity of each row comes from: a column name of ``df``; a mapping from dataset
            (or ``dataset/split``) to severity; a callable on ``dataset/split``; or None to use a ``severity``
            column if present, else parse it from the dataset/split names (:func:`severity_from_name`).
    """
    import numpy as np

    from ledbench.reports.tables import aggregate

    sub = _select(df, metric, task).copy()
    where = sub["dataset"].astype(str) + "/" + sub["split"].astype(str)
    if isinstance(severity, str) and severity in sub.columns:
        sev = sub[severity].astype(float)
    elif severity is None and "severity" in sub.columns and (sub["severity"].astype(str).str.strip() != "").any():
        sev = [float(v) if str(v).strip() else None for v in sub["severity"]]  # a sweep run's severity column
    elif isinstance(severity, Mapping):
        sev = [severity.get(w, severity.get(d)) for w, d in zip(where, sub["dataset"])]
    else:
        fn = severity if callable(severity) else severity_from_name
        sev = [fn(w) for w in where]
    sub["_sev"] = [math.nan if v is None else float(v) for v in sev]
    if sub["_sev"].isna().all():
        raise InputError(f"cannot tell the degradation severity of {sorted(set(where))}; pass severity= a column, "
                         "a mapping dataset -> severity, or name datasets like 'synth:severity=0.5'")
    sub = sub.dropna(subset=["_sev"])
    agg = aggregate(sub.assign(split=sub["split"] + "@" + sub["_sev"].astype(str)))
    agg["_sev"] = agg["split"].str.rsplit("@", n=1).str[-1].astype(float)
    hib = _direction(sub)
    fig, ax = _figure()
    names = _enh_order(agg["enhancer"])
    colors = enhancer_colors(names)
    for name in names:
        g = agg[agg["enhancer"] == name].sort_values("_sev")
        y = g["value"].to_numpy(float)
        if not np.isfinite(y).any():
            continue
        style = dict(_PSEUDO_STYLE.get(name, {}))
        style["color"] = colors[name]
        ax.errorbar(g["_sev"], y, yerr=np.nan_to_num(g["stderr"].to_numpy(float)), marker="o", ms=4, capsize=3,
                    label=name, **style)
    levels = sorted(set(agg["_sev"]))
    if levels and all(float(v).is_integer() for v in levels):  # integer severities: ticks at the levels only
        ax.set_xticks(levels, [str(int(v)) for v in levels])
    ax.set_xlabel(severity_label)
    ax.set_ylabel(_label(metric, hib))
    ax.set_title(f"{_name(metric)} vs {severity_label}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out)


def _pearson(x, y) -> float:
    import numpy as np

    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _ranks(v):
    import numpy as np

    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    r[order] = np.arange(len(v), dtype=float)
    for val in np.unique(v):  # average ranks for ties
        idx = v == val
        r[idx] = r[idx].mean()
    return r


def plot_quality_vs_task(df, quality_metric: str, task_metric: str, out: str | Path, *,
                         task: str | None = None, include_pseudo: bool = False) -> list[Path]:
    """Scatter: image quality (x) against a downstream metric (y), one point per enhancer, labelled.

    Correlations (Pearson r and Spearman rho, over real enhancers only) are in the title; with fewer than three
    points they are shown as n/a. ``input`` is drawn (the floor); ``reference`` only with ``include_pseudo``,
    because its quality is often infinite.
    """
    import numpy as np

    from ledbench.reports.tables import aggregate

    q = aggregate(_select(df, quality_metric))
    t = aggregate(_select(df, task_metric, task))
    if q["dataset"].nunique() > 1 or t["task"].nunique() > 1:
        raise InputError(f"{quality_metric}/{task_metric} span several datasets or task models; filter the "
                         "results first (e.g. df[df.dataset == 'lolblur'])")
    if "severity" in q.columns and q["severity"].astype(str).nunique() > 1:  # one point per enhancer and level
        raise InputError(f"{quality_metric}/{task_metric} span several severities of a sweep; filter one first "
                         "(e.g. df[df.severity == '3'])")
    qv = dict(zip(q["enhancer"], q["value"]))
    tv = dict(zip(t["enhancer"], t["value"]))
    names = [n for n in _enh_order(list(qv) + list(tv)) if n in qv and n in tv
             and (include_pseudo or n != "reference") and math.isfinite(qv[n]) and math.isfinite(tv[n])]
    if not names:
        raise InputError(f"no enhancer has both {quality_metric} and {task_metric}")
    colors = enhancer_colors(names)
    fig, ax = _figure()
    real = [n for n in names if n not in _PSEUDO_STYLE]
    x = np.array([qv[n] for n in real])
    y = np.array([tv[n] for n in real])
    for n in names:
        ax.scatter([qv[n]], [tv[n]], color=colors[n], s=40, marker="s" if n in _PSEUDO_STYLE else "o", zorder=3)
    if len(real) >= 2 and np.std(x) > 0:
        a, b = np.polyfit(x, y, 1)
        xs = np.linspace(x.min(), x.max(), 10)
        ax.plot(xs, a * xs + b, color="0.6", lw=1, zorder=1)
    r, rho = _pearson(x, y), _pearson(_ranks(x), _ranks(y)) if len(x) >= 3 else math.nan
    fmt = lambda v: "n/a" if math.isnan(v) else f"{v:+.2f}"
    ax.set_title(f"{_name(task_metric)} vs {_name(quality_metric)}: Pearson r {fmt(r)}, Spearman ρ {fmt(rho)} "
                 f"(n={len(real)})", fontsize=10)
    ax.set_xlabel(_label(quality_metric, _direction(_select(df, quality_metric))))
    ax.set_ylabel(_label(task_metric, _direction(_select(df, task_metric, task))))
    ax.grid(alpha=0.3)
    place_labels(ax, [(qv[n], tv[n], n) for n in names])
    return save_figure(fig, out)


def plot_metric_vs_cost(df, metric: str, out: str | Path, *, costs: Mapping[str, float] | None = None,
                        cost_name: str = "latency_ms", task: str | None = None, log_x: bool = True) -> list[Path]:
    """Accuracy (y) against cost (x: latency in ms, GMACs ...) per enhancer, with the Pareto front.

    Args:
        costs: enhancer -> cost. None reads rows whose metric is ``cost_name`` from ``df`` (as written by a
            profiling run). Lower cost is always better.
    """
    import numpy as np

    from ledbench.reports.tables import aggregate

    m = aggregate(_select(df, metric, task))
    if costs is None:
        costs = dict(zip(*[aggregate(_select(df, cost_name))[c] for c in ("enhancer", "value")]))
    hib = _direction(_select(df, metric, task))
    pts = [(n, float(costs[n]), float(v)) for n, v in zip(m["enhancer"], m["value"])
           if n in costs and math.isfinite(v) and costs[n] is not None and math.isfinite(float(costs[n]))]
    if not pts:
        raise InputError(f"no enhancer has both {metric} and a {cost_name} cost; pass costs={{enhancer: value}}")
    colors = enhancer_colors(_enh_order([p[0] for p in pts]))
    fig, ax = _figure()
    for n, c, v in pts:
        ax.scatter([c], [v], color=colors[n], s=40, zorder=3)
    front, best = [], -math.inf
    for n, c, v in sorted(pts, key=lambda p: (p[1], -p[2] if hib else p[2])):  # cheapest first
        score = v if hib else -v
        if score > best:
            front.append((c, v))
            best = score
    if len(front) > 1:
        fx, fy = np.array(front).T
        ax.step(fx, fy, where="post", color="0.5", lw=1, ls=":", label="Pareto front")
        ax.legend(fontsize=8)
    if log_x and all(c > 0 for _, c, _ in pts):
        ax.set_xscale("log")
    ax.set_xlabel(_label(cost_name, False))
    ax.set_ylabel(_label(metric, hib))
    ax.set_title(f"{_name(metric)} vs {_name(cost_name)}")
    ax.grid(alpha=0.3, which="both")
    place_labels(ax, [(c, v, n) for n, c, v in pts])
    return save_figure(fig, out)


_CLASS_RE = re.compile(r"^(?P<base>iou|ap|ap50|acc|recall|precision|f1)[_/](?P<cls>.+)$")


def per_class_metrics(df, task: str | None = None) -> dict[str, list[str]]:
    """Group per-class metric names by family: ``{"iou": ["iou_road", "iou_car"], ...}`` (first-seen order)."""
    sub = df if task is None else df[(df["task_kind"] == task) | (df["task"] == task)]
    out: dict[str, list[str]] = {}
    for m in dict.fromkeys(sub["metric"]):
        mm = _CLASS_RE.match(str(m))
        if mm:
            out.setdefault(mm.group("base"), []).append(str(m))
    return out


def plot_per_class(df, out: str | Path, *, family: str = "iou", task: str | None = None,
                   enhancers: Sequence[str] | None = None) -> list[Path]:
    """Grouped bars: classes on x, one bar per enhancer (error bars = stderr), from metrics ``<family>_<class>``."""
    import numpy as np

    from ledbench.reports.tables import aggregate

    metrics = per_class_metrics(df, task).get(family)
    if not metrics:
        raise InputError(f"no per-class metrics named {family}_<class> in the results"
                         + (f" for task {task!r}" if task else ""))
    sub = df[df["metric"].isin(metrics)]
    if task is not None:
        sub = sub[(sub["task_kind"] == task) | (sub["task"] == task)]
    agg = aggregate(sub)
    names = _enh_order(agg["enhancer"]) if enhancers is None else list(enhancers)
    classes = [m.split("_", 1)[1] if "_" in m else m.split("/", 1)[1] for m in metrics]
    colors = enhancer_colors(names)
    fig, ax = _figure(max(6.4, 0.5 * len(classes) * max(1, len(names)) / 2 + 2), 4.2)
    width = 0.8 / max(1, len(names))
    x = np.arange(len(classes))
    for k, n in enumerate(names):
        g = agg[agg["enhancer"] == n].set_index("metric")
        vals = np.array([float(g["value"].get(m, math.nan)) for m in metrics])
        err = np.nan_to_num(np.array([float(g["stderr"].get(m, math.nan)) for m in metrics]))
        hatch = "//" if n in _PSEUDO_STYLE else None
        ax.bar(x + (k - (len(names) - 1) / 2) * width, vals, width, yerr=err, capsize=2, label=n, color=colors[n],
               hatch=hatch, edgecolor="white" if hatch else None)
    hib = _direction(sub)
    ax.set_xticks(x, classes, rotation=30 if len(classes) > 6 else 0, ha="right" if len(classes) > 6 else "center")
    ax.set_ylabel(_label(family, hib) if family not in ("iou", "ap", "ap50") else
                  f"{ {'iou': 'IoU', 'ap': 'AP', 'ap50': 'AP50'}[family]} {'↑' if hib else '↓'}")
    ax.set_title(f"per-class {family}" + (f" ({task})" if task else ""))
    ax.grid(alpha=0.3, axis="y")
    ax.set_ylim(top=ax.get_ylim()[1] * 1.15)  # room for the legend above the bars
    ax.legend(fontsize=8, ncols=min(len(names), 5), loc="upper left")
    return save_figure(fig, out)


def plot_correlations(cor, out: str | Path, *, stat: str = "kendall_tau") -> list[Path]:
    """Heat map of rank correlations across enhancers (rows: quality metrics, columns: downstream metrics), from
    :func:`ledbench.reports.stats.correlations`; each cell prints the value and its bootstrap interval.

    The correlations are oriented (positive = better quality goes with better downstream), so red is "predicts".
    """
    import numpy as np

    short = {"kendall_tau": "tau", "spearman_rho": "rho"}[stat]
    if cor is None or len(cor) == 0 or stat not in cor.columns or not np.isfinite(cor[stat].astype(float)).any():
        raise InputError("no correlations to plot (need at least 3 enhancers with quality and downstream metrics)")
    qs = list(dict.fromkeys(cor["quality"]))
    ds = list(dict.fromkeys(cor["downstream"]))
    grid = np.full((len(qs), len(ds)), np.nan)
    text = [["" for _ in ds] for _ in qs]
    for r in cor.to_dict("records"):
        i, j = qs.index(r["quality"]), ds.index(r["downstream"])
        v = float(r.get(stat, math.nan))
        grid[i, j] = v
        lo, hi = r.get(f"{short}_ci_low", math.nan), r.get(f"{short}_ci_high", math.nan)
        if math.isfinite(v):
            text[i][j] = f"{v:+.2f}\n" + (f"[{lo:+.2f}, {hi:+.2f}]" if math.isfinite(lo) else "(no CI)")
    ticks = [_corr_tick(d) for d in ds]
    longest = max(len(line) for t in ticks for line in t.splitlines())
    column = max(1.25, 0.07 * longest)  # inches: about 0.06 in per character at 7 pt, plus a gap
    fig, ax = _figure(max(4.0, column * len(ds) + 2.0), max(2.5, 0.7 * len(qs) + 1.8))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for i in range(len(qs)):
        for j in range(len(ds)):
            dark = math.isfinite(grid[i, j]) and abs(grid[i, j]) > 0.6
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_xticks(range(len(ds)), ticks, fontsize=7)
    ax.set_yticks(range(len(qs)), [_name(q) for q in qs], fontsize=8)
    n_e = int(cor["n_enhancers"].max())
    name = "Kendall τ" if stat == "kendall_tau" else "Spearman ρ"
    ax.set_title(f"{name} across {n_e} enhancers (oriented: + = better quality, better task)", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return save_figure(fig, out)
