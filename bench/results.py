"""The results store: long-format rows, a per-image sidecar and a run manifest.

A run directory holds:

- ``results.csv``: one :class:`ResultRow` per enhancer x dataset x split x task x protocol x metric (``task`` is the
  task's registry name, ``task_kind`` its family);
  ``value`` is always a float, ``higher_is_better`` a bool (from the metric, never from the run).
- ``per_image.csv``: one :class:`PerImageRow` per image and metric (the lm-eval ``samples_*.jsonl`` role).
- ``manifest.json``: provenance (see :mod:`ledbench.bench.provenance`), the run config and skipped entries.

Reports and regression checks read only these files (:func:`read_results`).

Protocols: ``full_reference`` / ``no_reference`` for quality; ``real_gt`` (dataset labels) and ``pseudo_gt`` (the
same task model on the sharp normal-light reference gives the labels) for downstream tasks, and ``label_free``
(statistics of the prediction alone, e.g. detections per image, for photos without labels or references). The
pseudo-enhancers
``input`` (the degraded image as is) and ``reference`` (the sharp reference) give each table its floor and ceiling.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ledbench.bench.errors import InputError
from ledbench.bench.files import atomic_write_bytes, write_json

PROTOCOLS = ("full_reference", "no_reference", "real_gt", "pseudo_gt", "label_free")


@dataclass
class ResultRow:
    """One aggregated score."""

    enhancer: str
    enhancer_config_hash: str
    weights_sha256: str
    dataset: str
    dataset_manifest_hash: str
    split: str
    task_kind: str       # quality | detection | segmentation | depth
    task: str            # the task's registry name (det_yolo_fastest, ...; "quality" for image quality)
    task_config_hash: str
    protocol: str        # one of PROTOCOLS
    metric: str
    value: float
    stderr: float
    higher_is_better: bool
    n_images: int        # images that contributed to value
    n_images_total: int  # items in the dataset (after limit)
    run_id: str = ""
    severity: str = ""   # the level of a severity sweep ("1", "2.5"); "" for runs that are not sweeps


@dataclass
class PerImageRow:
    enhancer: str
    dataset: str
    split: str
    task_kind: str
    task: str
    protocol: str
    metric: str
    image_id: str
    value: float
    severity: str = ""


RESULT_COLUMNS = [f.name for f in dataclasses.fields(ResultRow)]
PER_IMAGE_COLUMNS = [f.name for f in dataclasses.fields(PerImageRow)]
#: one results row per key; ``severity`` comes last (files written before sweeps lack it: read as "")
KEY_COLUMNS = ["enhancer", "dataset", "split", "task_kind", "task", "protocol", "metric", "severity"]
#: key columns that older results files may lack (:func:`normalize_columns` adds them)
OPTIONAL_KEY_COLUMNS = ("severity",)
#: results files written before the rename (format 1) called the kind ``task`` and the registry name ``task_model``
LEGACY_COLUMNS = {"task": "task_kind", "task_model": "task"}


def normalize_columns(df):
    """A results / per-image frame in today's column names (older files: ``task`` = kind, ``task_model`` = name)
    with a text ``severity`` column (``""`` outside sweeps and in files written before sweeps)."""
    if "task_model" in df.columns and "task_kind" not in df.columns:
        df = df.rename(columns=LEGACY_COLUMNS)
    if len(df.columns):
        df = df.assign(severity=[severity_text(v) for v in df["severity"]] if "severity" in df.columns else "")
    return df


def severity_text(value: Any) -> str:
    """A severity as results store it: ``"3"`` for 3 / 3.0 / "3.0", ``"2.5"``; ``""`` for None, NaN or ""."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return ""
    return str(int(v)) if v.is_integer() else repr(v)


def csv_bytes(rows: Iterable[Any], columns: list[str]) -> bytes:
    """Rows (dataclasses or dicts) as CSV: floats by ``repr`` (round-trip exact), non-finite as nan/inf/-inf."""
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        if dataclasses.is_dataclass(row):  # its fields as they are (asdict would deep-copy each row)
            values = [getattr(row, col, "") for col in columns]
        else:
            rec = dict(row)
            values = [rec.get(col, "") for col in columns]
        out = []
        for v in values:
            if isinstance(v, float):
                v = repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
            out.append(v)
        writer.writerow(out)
    return buf.getvalue().encode("utf-8", errors="backslashreplace")  # ids from non-UTF-8 file names


def write_results(path: str | Path, rows: Iterable[ResultRow]) -> None:
    atomic_write_bytes(Path(path), csv_bytes(rows, RESULT_COLUMNS))


def write_per_image(path: str | Path, rows: Iterable[PerImageRow]) -> None:
    atomic_write_bytes(Path(path), csv_bytes(rows, PER_IMAGE_COLUMNS))


def results_frame(data: bytes, source: str = ""):
    """A results CSV (bytes) as a typed pandas DataFrame with a ``source`` column (see :func:`read_results`)."""
    import pandas as pd

    df = pd.read_csv(io.BytesIO(data), dtype={"weights_sha256": str, "enhancer_config_hash": str,
                                              "task_config_hash": str, "dataset_manifest_hash": str, "run_id": str,
                                              "severity": str},
                     keep_default_na=False, na_values={"value": ["nan"], "stderr": ["nan"]})
    df = normalize_columns(df)
    df["source"] = source
    df["value"] = df["value"].astype(float)
    df["stderr"] = pd.to_numeric(df["stderr"], errors="coerce")
    df["higher_is_better"] = df["higher_is_better"].astype(str).str.lower().isin(["true", "1"])
    return df


def read_results(*paths: str | Path):
    """Read ``results.csv`` files or run directories into one pandas DataFrame with typed columns."""
    import pandas as pd

    frames = []
    for p in paths:
        p = Path(p)
        f = p / "results.csv" if p.is_dir() else p
        if not f.is_file():
            raise InputError(f"no results file at {str(f)!r}; pass a run directory written by `ledbench run`")
        frames.append(results_frame(f.read_bytes(), source=str(p)))
    return pd.concat(frames, ignore_index=True)


def read_per_image(run_dir: str | Path):
    import pandas as pd

    return normalize_columns(pd.read_csv(Path(run_dir) / "per_image.csv", dtype={"image_id": str, "severity": str},
                                         keep_default_na=False, na_values={"value": ["nan"]}))


#: what a run writes into its directory (besides the result files): never carried over from a previous run
RUN_PRODUCTS = frozenset({"results.csv", "per_image.csv", "manifest.json", "dataset_manifest.json", "report.md",
                          "images", "report", "stats"})


def write_run_dir(run_dir: Path, files: dict[str, Any], images: Callable[[Path], None] | None = None) -> None:
    """Write a run directory atomically: every file into a temporary sibling folder, then a swap by rename.

    A reader sees the previous complete run or the new complete run, never a mix: outputs derived from the previous
    run (``images/``, ``report/``) are dropped; anything else found there (a user's notes) is carried over.
    ``bytes`` values are written as is, anything else as JSON. A full or read-only disk is a one-line error naming
    the path; the previous run directory and the cache stay intact.
    """
    run_dir = Path(run_dir)
    parent = run_dir.parent
    tmp = parent / f".{run_dir.name}.writing-{os.getpid()}"
    old = parent / f".{run_dir.name}.old-{os.getpid()}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, data in files.items():
            if isinstance(data, bytes):
                atomic_write_bytes(tmp / name, data)
            else:
                write_json(tmp / name, data)
        if images is not None:
            images(tmp / "images")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"cannot write the run directory {str(run_dir)!r}: {exc.strerror or exc}; free space or "
                         "choose another out=DIR (finished units are cached and will not be recomputed)") from None
    if run_dir.is_dir():  # renames within one file system: they do not need space
        for child in run_dir.iterdir():
            if child.name not in files and child.name not in RUN_PRODUCTS and not child.name.startswith("."):
                os.replace(child, tmp / child.name)
        os.replace(run_dir, old)
    os.replace(tmp, run_dir)
    shutil.rmtree(old, ignore_errors=True)
