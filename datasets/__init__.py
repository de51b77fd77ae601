"""Datasets: LOL-Blur, Real-LOL-Blur, paired/unpaired folders, labelled sets, synthesis, the embedded synth_mini.

    from ledbench.datasets import create_dataset, list_datasets
    ds = create_dataset("synth_mini")
    ds = create_dataset("folder:/data/night", paired=False)   # "name:PATH" sets the dataset's root

Built-ins register lazily (import strings); importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

from ledbench.bench.config import build_config
from ledbench.bench.errors import ConfigError
from ledbench.datasets.registry import DATASETS

__all__ = ["DATASETS", "create_dataset", "dataset_needs_root", "list_datasets", "parse_dataset_spec"]


def parse_dataset_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"lolblur:/data/LOLBlur"`` -> ``("lolblur", {"root": "/data/LOLBlur"})``; ``"synth_mini"`` -> no root."""
    name, sep, root = spec.partition(":")
    return name.strip(), ({"root": root} if sep else {})


def create_dataset(spec: str, **overrides: Any):
    """Build a dataset from ``name`` or ``name:ROOT`` plus Config overrides (``split=`` ...).

    ``limit``, ``stride`` and ``offset`` select a subset of any dataset (:class:`~ledbench.datasets.base.Subset`),
    unless the dataset's Config gives one of them its own meaning (LOL-Blur's ``stride``: every k-th frame of each
    video).
    """
    import dataclasses

    from ledbench.datasets.base import Subset

    name, extra = parse_dataset_spec(spec)
    cls = DATASETS.get(name)
    entry = DATASETS.entry(name)
    own = {f.name for f in dataclasses.fields(cls.Config)}
    merged = {**entry.meta.get("config", {}), **extra, **overrides}
    subset = {k: merged.pop(k) for k in Subset.KEYS if k in merged and k not in own}
    subset = {k: (0 if v is None and k == "limit" else build_config(Subset, {k: v}, owner=name).__dict__[k])
              for k, v in subset.items()}
    unknown = [k for k in merged if k not in own]
    if unknown:  # the subset keys are valid for every dataset: name them beside the Config's fields
        import difflib

        close = difflib.get_close_matches(unknown[0], [*sorted(own), *Subset.KEYS], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown key {unknown[0]!r}{hint} for dataset {name}; valid keys: {', '.join(sorted(own))}"
                          f", and for every dataset {', '.join(Subset.KEYS)} (e.g. \"dataset_args={{stride: 2}}\")")
    config = build_config(cls.Config, merged, owner=name)
    dataset = cls(config, name=entry.name)
    dataset.subset = Subset(**subset)  # items are built on first use, so the subset applies to them
    return dataset


def list_datasets(filter: str | list[str] | None = None, exclude: str | list[str] | None = None, *,
                  available: bool = False) -> list[str]:
    """Registered dataset names, naturally sorted; wildcards filter. ``available=True`` keeps only the datasets
    usable without a path, i.e. whose data ships with ledbench (``synth_mini``); the others need ``name:ROOT``."""
    names = DATASETS.names(filter, exclude)
    return [n for n in names if not dataset_needs_root(n)] if available else names


def dataset_needs_root(name: str) -> bool:
    """Whether dataset ``name`` reads its data from a user folder (``name:ROOT``), i.e. its Config has a ``root``
    without a default (imports the dataset class)."""
    import dataclasses

    cls = DATASETS.get(name)
    fixed = DATASETS.entry(name).meta.get("config", {})
    return any(f.name == "root" and not fixed.get("root", f.default) for f in dataclasses.fields(cls.Config))
