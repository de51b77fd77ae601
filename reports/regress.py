"""CI regression checks: compare a run's results with a committed baseline, direction-aware.

The baseline is a results CSV in the :class:`ledbench.bench.results.ResultRow` format (``update_baseline`` writes
one from a run, rows sorted by key). Rows are matched on ``KEY_COLUMNS`` (enhancer, dataset, split, task_kind,
task, protocol, metric, severity: each level of a sweep is its own row; files without ``severity`` read as "";
results files of format 1, with ``task``/``task_model``, are read too). A metric is *worse*
when it moved against its direction (``higher_is_better``) by
more than its tolerance:

- higher is better: ``baseline - current > tol``; lower is better: ``current - baseline > tol``;
- a finite baseline that became NaN is worse; equal infinities (PSNR of the reference) are equal;
- tolerances are absolute in metric units (``psnr=0.05`` dB) or relative with ``%`` (``lpips=2%``); keys match the
  metric name, ``task.metric`` or an fnmatch pattern (``map*``); the first, most specific match wins.

Exit codes: 0 pass; 1 a regression (a metric worse, a baseline row missing from the run, or the dataset manifest
changed); 2 the check could not be made: a file that is not a results CSV (a report table, ``per_image.csv``, an
empty or binary file, see :func:`read_results_file`), an unknown metric in ``--tol`` (with did-you-mean), or a bad
tolerance. Improvements and new rows are listed but do not fail; ``--update-baseline`` accepts them.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ledbench.bench.errors import ConfigError, InputError
from ledbench.bench.results import KEY_COLUMNS, LEGACY_COLUMNS, OPTIONAL_KEY_COLUMNS

__all__ = ["DEFAULT_TOL", "REQUIRED_COLUMNS", "Tolerance", "check_tolerance_keys", "parse_tolerances",
           "read_results_file", "regress", "update_baseline"]

DEFAULT_TOL = 1e-4


@dataclass(frozen=True)
class Tolerance:
    """``abs`` in metric units, or ``rel`` as a fraction of ``|baseline|``."""

    value: float
    relative: bool = False

    def allowed(self, baseline: float) -> float:
        return self.value * abs(baseline) if self.relative and math.isfinite(baseline) else self.value

    def __str__(self) -> str:
        return f"{self.value * 100:g}%" if self.relative else f"{self.value:g}"


def _tol(v: float | str | Tolerance) -> Tolerance:
    if isinstance(v, Tolerance):
        return v
    s = str(v).strip()
    try:
        t = Tolerance(float(s[:-1]) / 100.0, True) if s.endswith("%") else Tolerance(float(s))
    except ValueError:
        raise ConfigError(f"bad tolerance {v!r}; use a number in metric units (0.05) or a percentage (2%)") from None
    if not t.value >= 0:
        raise ConfigError(f"bad tolerance {v!r}: must be a number >= 0 in metric units (0.05) or a percentage (2%)")
    return t


def parse_tolerances(items: list[str] | None) -> dict[str, Tolerance]:
    """``["psnr=0.05", "lpips=2%", "depth.*=0.01"]`` -> {key: Tolerance}; ``*=x`` sets the default."""
    out: dict[str, Tolerance] = {}
    for item in items or []:
        for part in str(item).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ConfigError(f"bad --tol {part!r}; expected METRIC=VALUE, e.g. psnr=0.05 or lpips=2%")
            k, v = part.split("=", 1)
            out[k.strip()] = _tol(v)
    return out


#: columns a results file must have for regression checks and reports (the rest are provenance)
REQUIRED_COLUMNS = (*(k for k in KEY_COLUMNS if k not in OPTIONAL_KEY_COLUMNS), "value", "stderr", "higher_is_better")


def read_results_file(path: str | Path, what: str = "results"):
    """:func:`ledbench.bench.results.read_results` for one run directory or results CSV, refusing with one line
    (:class:`InputError`) an empty, binary or unparsable file and a CSV that lacks the results columns (a report
    table, ``per_image.csv``)."""
    import pandas as pd

    from ledbench.bench.results import read_results

    p = Path(path)
    f = p / "results.csv" if p.is_dir() else p
    hint = "pass a run directory (or its results.csv) written by `ledbench run`"
    if not f.exists():
        where = f"no run directory {str(p)!r}" if not p.exists() else f"no results.csv in {str(p)!r}"
        raise InputError(f"{what}: {where}; {hint}")
    if f.is_file():
        try:
            head = f.open("rb").read(4096)
        except OSError as exc:
            raise InputError(f"cannot read {what} file {str(f)!r}: {exc}") from None
        if not head.strip():
            raise InputError(f"{what} file {str(f)!r} is empty; {hint}")
        if b"\0" in head:
            raise InputError(f"{what} file {str(f)!r} is binary, not a results CSV; {hint}")
        try:
            header = pd.read_csv(f, nrows=0, encoding="utf-8").columns
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise InputError(f"{what} file {str(f)!r} is not a readable CSV ({type(exc).__name__}); {hint}") from None
        if "task_model" in header and "task_kind" not in header:  # a results file of format 1 (before the rename)
            header = [LEGACY_COLUMNS.get(c, c) for c in header]
        absent = [c for c in REQUIRED_COLUMNS if c not in header]
        if absent:
            kind = "a per-image file" if "image_id" in header else "not a results file"
            raise InputError(f"{what} file {str(f)!r} is {kind}: it lacks the column(s) {', '.join(absent[:4])}"
                             f"{' ...' if len(absent) > 4 else ''}; {hint}")
    try:
        return read_results(p)
    except (ValueError, TypeError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{what} file {str(f)!r} has unreadable values ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:100] if str(exc) else ''}); {hint}") from None


def check_tolerance_keys(tol: Mapping[str, object], metrics: set[str]) -> None:
    """Refuse a ``--tol`` key that names no metric of the run or baseline (did-you-mean); patterns such as
    ``map*`` and ``*`` must match at least one ``metric`` or ``task.metric``."""
    import difflib

    for key in tol:
        if key == "*" or key in metrics or any(fnmatch.fnmatchcase(m, key) for m in metrics):
            continue
        folded = {m.lower(): m for m in sorted(metrics)}
        close = [folded[c] for c in difflib.get_close_matches(key.lower(), list(folded), n=3, cutoff=0.6)]
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
            f"; metrics here: {', '.join(sorted(m for m in metrics if '.' not in m)[:12])}"
        raise ConfigError(f"--tol {key}=...: no metric {key!r} in the run or the baseline{hint}")


def _lookup_tol(kind: str, metric: str, tol: Mapping[str, Tolerance], default: Tolerance, *,
                task: str = "") -> Tolerance:
    """``task.metric`` (registry name) or ``kind.metric`` (``detection.map50``), then ``metric``, then patterns."""
    if task and f"{task}.{metric}" in tol:
        return tol[f"{task}.{metric}"]
    full = f"{kind}.{metric}"
    for key in (full, metric):  # exact matches first
        if key in tol:
            return tol[key]
    for key, t in tol.items():  # then patterns, longest first
        if key != "*" and any(fnmatch.fnmatchcase(x, key) for x in (full, metric)):
            return t
    return tol.get("*", default)


def _worse_by(base: float, cur: float, higher_is_better: bool) -> float:
    """How much worse ``cur`` is than ``base`` (positive = worse, negative = better); NaN rules in module doc."""
    if math.isnan(base) and math.isnan(cur):
        return 0.0
    if math.isnan(cur):
        return math.inf
    if math.isnan(base):
        return -math.inf  # a score where there was none: an improvement
    if base == cur:  # includes equal infinities
        return 0.0
    d = base - cur if higher_is_better else cur - base
    return d


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def _frame_text(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(r[k]) for r in [header] + rows) for k in range(len(header))]
    fmt = lambda r: "  " + "  ".join(c.ljust(widths[k]) if k < 2 else c.rjust(widths[k]) for k, c in enumerate(r))
    return [fmt(header)] + [fmt(r) for r in rows]


def regress(run_dir: str | Path, baseline_csv: str | Path, tol: Mapping[str, float | str | Tolerance] | None = None,
            default_tol: float | str | Tolerance = DEFAULT_TOL, check_manifest: bool = True) -> tuple[int, str]:
    """Compare ``run_dir``'s results.csv with ``baseline_csv``.

    Returns:
        (exit_code, text): 1 when a metric is worse beyond tolerance, a baseline row is missing, or (with
        ``check_manifest``) a dataset manifest hash changed; else 0. ``text`` is a readable report.
    """
    baseline_csv = Path(baseline_csv)
    if not baseline_csv.is_file():
        raise InputError(f"no baseline file at {str(baseline_csv)!r}; create it with "
                         f"`ledbench regress {run_dir} --baseline {baseline_csv} --update-baseline`")
    tols = {k: _tol(v) for k, v in (tol or {}).items()}
    dflt = _tol(default_tol)
    cur = read_results_file(run_dir, "run results")
    base = read_results_file(baseline_csv, "baseline")
    metrics = {name for df in (cur, base) for kind, task, metric in zip(df["task_kind"], df["task"], df["metric"])
               for name in (str(metric), f"{kind}.{metric}", f"{task}.{metric}")}
    check_tolerance_keys(tols, metrics)
    for name, df in (("run", cur), ("baseline", base)):
        dup = df[df.duplicated(KEY_COLUMNS, keep=False)]
        if len(dup):
            raise InputError(f"{name} {df['source'].iloc[0]!r} has duplicate rows for "
                             f"{'/'.join(map(str, dup[KEY_COLUMNS].iloc[0]))}; one row per key is expected")
    cur_map = {tuple(r[k] for k in KEY_COLUMNS): r for r in cur.to_dict("records")}
    base_map = {tuple(r[k] for k in KEY_COLUMNS): r for r in base.to_dict("records")}

    worse, better, same, missing, new, changed_data = [], [], 0, [], [], []
    for key, b in base_map.items():
        c = cur_map.get(key)
        if c is None:
            missing.append(key)
            continue
        hib = bool(c["higher_is_better"])
        t = _lookup_tol(key[3], key[6], tols, dflt, task=key[4])
        allowed = t.allowed(float(b["value"]))
        d = _worse_by(float(b["value"]), float(c["value"]), hib)
        row = (key, hib, float(b["value"]), float(c["value"]), d, t)
        if d > allowed:
            worse.append(row)
        elif -d > allowed:
            better.append(row)
        else:
            same += 1
    new = [k for k in cur_map if k not in base_map]
    if check_manifest:
        seen = set()
        for key, b in base_map.items():
            c = cur_map.get(key)
            ds = (key[1], key[2])
            if c is not None and ds not in seen and str(b.get("dataset_manifest_hash", "")) and \
                    str(b.get("dataset_manifest_hash")) != str(c.get("dataset_manifest_hash")):
                seen.add(ds)
                changed_data.append((ds, str(b["dataset_manifest_hash"]), str(c["dataset_manifest_hash"])))

    code = 1 if (worse or missing or changed_data) else 0
    verdict = "FAIL" if code else "PASS"
    tol_text = "".join(f", {k}={v}" for k, v in tols.items())
    lines = [f"ledbench regress: {run_dir} vs baseline {baseline_csv} (default tolerance {dflt}{tol_text})",
             (f"{verdict}: {len(worse)} worse, {len(missing)} missing, {len(changed_data)} dataset changed; "
              f"{len(better)} improved, {same} within tolerance, {len(new)} new")]

    def label(key: tuple) -> list[str]:
        enh, ds, split, task, model, proto, _metric, sev = key
        tm = task if model in (task, "") else f"{task}:{model}"
        return [enh, f"{ds}/{split}{f' severity {sev}' if sev else ''} {tm} [{proto}]"]

    def section(title: str, rows: list) -> None:
        if not rows:
            return
        body = []
        for key, hib, bv, cv, d, t in sorted(rows, key=lambda r: r[0]):
            change = "worse" if d > 0 else "better"
            body.append(label(key) + [f"{key[6]} {'↑' if hib else '↓'}", _fmt(bv), _fmt(cv),
                                      _fmt(cv - bv),
                                      f"{_fmt(abs(d))} {change}", str(t)])
        lines.append("")
        lines.append(title)
        lines.extend(_frame_text(body, ["enhancer", "where", "metric", "baseline", "current", "delta",
                                        "change", "tol"]))

    section("WORSE than baseline beyond tolerance:", worse)
    if missing:
        lines += ["", "MISSING from the run (present in the baseline):"]
        lines += [f"  {' '.join(label(k))} {k[6]}" for k in sorted(missing)]
    for (ds, split), bh, ch in changed_data:
        lines += ["", (f"DATASET CHANGED: {ds}/{split} manifest hash {bh} in the baseline, {ch} in the run; the "
                       "numbers are not comparable (update the baseline if the change is intended)")]
    section("IMPROVED beyond tolerance (run with --update-baseline to accept):", better)
    if new:
        lines += ["", "NEW in the run (not in the baseline; not checked):"]
        lines += [f"  {' '.join(label(k))} {k[6]}" for k in sorted(new)]
    if code:
        lines += ["", (f"If these changes are intended: ledbench regress {run_dir} --baseline {baseline_csv} "
                       "--update-baseline")]
    return code, "\n".join(lines) + "\n"


def update_baseline(run_dir: str | Path, baseline_csv: str | Path) -> str:
    """Write ``run_dir``'s results as the baseline (rows sorted by key, ``run_id`` cleared); returns a summary."""
    from ledbench.bench.files import atomic_write_bytes
    from ledbench.bench.results import RESULT_COLUMNS, csv_bytes

    df = read_results_file(run_dir, "run results")
    df = df.sort_values(KEY_COLUMNS, kind="stable")
    df["run_id"] = ""
    path = Path(baseline_csv)
    existed = path.is_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, csv_bytes(df.to_dict("records"), RESULT_COLUMNS))
    return f"{'updated' if existed else 'created'} baseline {path} with {len(df)} rows from {run_dir}\n"
