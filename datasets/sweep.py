"""Severity sweeps: one dataset over several degradation levels, each item carrying its ``severity``.

``synth:FOLDER`` reads what ``ledbench synth SHARP FOLDER severity=1,3,5`` writes: one paired sub-folder
``FOLDER/s<k>/{low,sharp,params,synth.json}`` per level (a single-level FOLDER, with ``synth.json`` at its top,
is one level). ``severity=`` (a run key, or this dataset's ``severity`` config) selects levels; by default every
level found. Item ids are ``s<k>/<relative path>`` so they stay unique across levels.

``synth_mini`` with a list of severities (:func:`create_sweep_dataset`) generates the embedded set once per level.
Results of a sweep carry a ``severity`` column; every score, statistic and table cell is per level.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledbench.bench.errors import ConfigError, InputError
from ledbench.datasets.base import Dataset, Item, Subset, manifest_rows_hash, require_dir

__all__ = ["SweepDataset", "SynthFolderSweep", "create_sweep_dataset", "format_severity", "parse_severities"]

_LEVEL_DIR = re.compile(r"^s(\d+(?:\.\d+)?)$")


def format_severity(value: float | None) -> str:
    """A severity as written in results (``3`` for 3.0, ``2.5``; ``""`` for None)."""
    from ledbench.bench.results import severity_text

    return severity_text(value)


def parse_severities(value: Any, owner: str = "severity") -> tuple[float, ...]:
    """``"1,3"`` / ``[1, 3]`` / ``3`` -> ``(1.0, 3.0)``; a one-line :class:`ConfigError` for anything else."""
    if value is None or value == "" or value == ():
        return ()
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out = []
    for p in parts:
        try:
            if isinstance(p, bool):
                raise ValueError
            out.append(float(str(p).strip()))
        except ValueError:
            raise ConfigError(f"{owner}={value!r}: expected a number or a comma-separated list, e.g. "
                              "severity=1,3,5") from None
    if len(set(out)) != len(out):
        raise ConfigError(f"{owner}={value!r}: a severity is listed twice")
    return tuple(out)


class SweepDataset(Dataset):
    """Several datasets, one per severity, as one: items keep their level in :attr:`Item.severity` and get ids
    ``s<k>/<id>``. ``parts``: ``[(severity, dataset)]`` in the order to run."""

    def __init__(self, parts: Sequence[tuple[float, Dataset]], *, name: str, split: str = "test",
                 config: Any = None):
        super().__init__(config, name=name)
        self.split = split
        self.parts = list(parts)
        self.severities = tuple(float(s) for s, _ in self.parts)
        self.label_kinds = frozenset().union(*(d.label_kinds for _, d in self.parts))

    def build_items(self) -> list[Item]:
        items = []
        for sev, ds in self.parts:
            self.skipped_files.extend(getattr(ds, "skipped_files", []))
            if not self._class_names and ds.label_kinds:
                self._class_names = dict(ds.class_names)
            for it in ds.items:
                items.append(Item(id=f"s{format_severity(sev)}/{it.id}", input=it.input, reference=it.reference,
                                  labels=it.labels, meta={**it.meta, "severity": sev}, severity=sev,
                                  _hashes=it._hashes))
        return items

    @property
    def config_hash(self) -> str:
        from ledbench.bench.config import config_hash

        return config_hash({"name": self.name, "parts": [[s, d.config_hash] for s, d in self.parts]})

    def level_manifest_hash(self, severity: float) -> str:
        """The manifest hash of one level's items: results rows of a level carry it, so a level of a sweep and a
        run of that level alone are recognised as the same data."""
        rows = [r for r, it in zip(self.manifest(), self.items) if it.severity == float(severity)]
        return manifest_rows_hash(rows)


@dataclass(frozen=True)
class SynthFolderConfig:
    """``root``: a folder written by ``ledbench synth``. ``severity``: the levels to use (``1,3``; default: every
    ``s<k>`` sub-folder). ``missing``: error | skip (inputs without a reference). ``split``: recorded in results."""

    root: str = ""
    severity: str = ""
    missing: str = "error"
    split: str = "test"


def synth_levels(root: Path) -> dict[float, Path]:
    """``{severity: folder}`` of a ``ledbench synth`` output: its ``s<k>`` sub-folders, or the folder itself when it
    holds one level (its ``synth.json`` names the severity)."""
    levels = {float(m.group(1)): p for p in sorted(root.iterdir())
              if p.is_dir() and (m := _LEVEL_DIR.match(p.name))}
    if not levels and (root / "synth.json").is_file():
        try:
            levels = {float(json.loads((root / "synth.json").read_text())["severity"]): root}
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"synth: {str(root / 'synth.json')!r} does not name a severity; rewrite the folder "
                             "with ledbench synth SHARP_DIR OUT_DIR severity=1,3,5") from None
    return dict(sorted(levels.items()))


class SynthFolderSweep(SweepDataset):
    """``synth:FOLDER``: the output of ``ledbench synth`` (one ``s<k>`` paired sub-folder per severity)."""

    Config = SynthFolderConfig
    summary = ("severity sweep over a `ledbench synth` output (FOLDER/s<k>/low, sharp); severity=1,3 picks levels; "
               "results get a severity column")

    def __init__(self, config: Any = None, *, name: str | None = None, subset: Any = None):
        Dataset.__init__(self, config, name=name or "synth", subset=subset)
        self.parts = None
        self.label_kinds = frozenset()

    def _resolve(self) -> None:
        from ledbench.datasets.folder import FolderConfig, FolderDataset

        cfg = self.config
        if not cfg.root:
            raise ConfigError(f"dataset {self.name!r} needs a folder written by ledbench synth: "
                              f"use '{self.name}:/path/to/synth_out'")
        root = require_dir(cfg.root, f"{self.name} folder", "Write one with: ledbench synth SHARP_DIR OUT_DIR "
                           "severity=1,3,5")
        levels = synth_levels(root)
        if not levels:
            raise InputError(f"{self.name}: {str(root)!r} has no severity sub-folders s1..s5 and no synth.json; write "
                             "it with ledbench synth SHARP_DIR OUT_DIR severity=1,3,5 (or use folder:PATH)")
        wanted = parse_severities(cfg.severity, f"{self.name}.severity") or tuple(levels)
        lacking = [s for s in wanted if s not in levels]
        if lacking:
            raise ConfigError(f"{self.name}: {str(root)!r} has no severity {', '.join(map(format_severity, lacking))};"
                              f" present: {', '.join(map(format_severity, levels))}")
        self.parts = [(s, FolderDataset(FolderConfig(root=str(levels[s]), paired="true", missing=cfg.missing,
                                                     split=cfg.split), name="folder")) for s in wanted]
        for _, part in self.parts:  # limit / stride / offset select images within each level
            part.subset = self.subset
        self.subset = Subset()
        self.severities = tuple(wanted)

    @property
    def items(self) -> list[Item]:
        if self.parts is None:  # before the subset is applied: it moves to each level
            self._resolve()
        return super().items

    def build_items(self) -> list[Item]:
        if self.parts is None:
            self._resolve()
        return super().build_items()

    @property
    def config_hash(self) -> str:
        return Dataset.config_hash.fget(self)


def create_sweep_dataset(spec: str, severities: Sequence[float], **overrides: Any) -> Dataset:
    """The dataset of a run with ``severity=``: ``synth:FOLDER`` at those levels, or ``synth_mini`` generated at
    each level. Subset keys (``limit`` ...) apply per level. Other datasets have no severity: one-line error."""
    from ledbench.datasets import create_dataset, parse_dataset_spec

    name, _ = parse_dataset_spec(spec)
    sevs = parse_severities(list(severities))
    if name == "synth":
        return create_dataset(spec, severity=",".join(map(format_severity, sevs)), **overrides)
    if name == "synth_mini":
        if "severity" in overrides:
            raise ConfigError("give the severity once: the run key severity=1,3 or dataset_args={severity: 3}")
        bad = [s for s in sevs if not s.is_integer()]
        if bad:
            raise ConfigError(f"synth_mini severities are integers 1..5, got {', '.join(map(format_severity, bad))}")
        parts = [(s, create_dataset(spec, severity=int(s), **overrides)) for s in sevs]
        return SweepDataset(parts, name="synth_mini", split=parts[0][1].split)
    raise ConfigError(f"run key severity= applies to dataset=synth:FOLDER (written by ledbench synth ... "
                      f"severity=1,3,5) or dataset=synth_mini, not {spec!r}; drop severity= or sweep one of those")
