"""Enhancers: DAP-LED, learned baselines, classical methods and cascades.

    from ledbench.enhancers import create_enhancer, list_enhancers
    enh = create_enhancer("zero_dce", weights="path/to/Epoch99.pth")
    out = enh.enhance(x)        # N x 3 x H x W float RGB in [0, 1] -> same
    cas = create_enhancer("clahe+richardson_lucy")

Names follow timm's ``arch.tag``: ``sci.medium`` selects the SCI weights tagged ``medium``; a bare ``sci`` uses the
default tag. The tags are the class's ``weights_tags`` (the registry derives the names from them); a tag's
``WeightsSpec.config`` is applied when the enhancer is built. ``a+b[+c]`` builds a cascade applied left to right.
Built-ins register lazily (import strings, ``_catalog.py``), so importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

from ledbench.bench.errors import ConfigError
from ledbench.bench.plugin import build_plan
from ledbench.bench.registry import available_only
from ledbench.enhancers.registry import ENHANCERS

__all__ = ["ENHANCERS", "create_enhancer", "list_enhancers", "enhancer_class", "enhancer_availability"]


def _check_name(name: str) -> None:
    if "/" in name or "\\" in name or name.endswith((".pth", ".pt", ".ckpt", ".safetensors")):
        raise ConfigError(f"{name!r} looks like a file path, not an enhancer name; pass it as weights=PATH")


def _split(name: str) -> tuple[str, dict[str, Any]]:
    """Registered name for ``name`` plus its meta: ``tag`` (None for a bare ``arch``) and ``config``, the Config
    overrides of the name (its preset, then its tag's, the default tag's for a bare ``arch``)."""
    _check_name(name)
    key, meta = ENHANCERS.lookup(name)
    cls = ENHANCERS.get(key)
    spec = cls.weights_tags.get(meta.get("tag") or cls.default_tag or "")
    return key, {**meta, "config": {**meta.get("config", {}), **(spec.config if spec else {})}}


def enhancer_class(name: str):
    """The class registered for ``name`` (imports it)."""
    _check_name(name)
    return ENHANCERS.get(name)


def create_enhancer(name: str, weights: str | None = None, device: Any = "cpu", *, download: bool = False,
                    tile: int = 0, tile_overlap: int = 32, amp: bool = False, pretrained: bool = True,
                    trust_weights: bool = False, **overrides: Any):
    """Build an enhancer by registry name.

    Args:
        name: ``arch``, ``arch.tag`` or a cascade ``a+b[+c]``.
        weights: a local file, a weights tag, or None for the entry's default weights.
        device: ``cpu``, ``cuda``, ``cuda:1`` or ``auto``.
        download: allow downloading missing weights (only when online).
        tile, tile_overlap, amp: inference options (recorded in the cache key).
        pretrained: False builds a learned model with random weights (tests, training from scratch).
        trust_weights: allow full unpickling of a checkpoint that stores Python objects (only for trusted files;
            the default ``weights_only`` load refuses them with a message saying so).
        **overrides: fields of the enhancer's ``Config`` dataclass.
    """
    name = name.strip()
    if "+" in name:
        from ledbench.enhancers.base import Cascade

        if overrides or weights:
            raise ConfigError(f"cascade {name!r} takes no overrides or weights; configure its stages by "
                              "registering a named variant")
        stages = [create_enhancer(s, device=device, download=download, tile=tile, tile_overlap=tile_overlap,
                                  amp=amp, pretrained=pretrained) for s in name.split("+")]
        return Cascade(stages)
    _check_name(name)
    cls, config, tag, weights = build_plan(ENHANCERS, name, weights, overrides)
    return cls(config, name=name, tag=tag, weights=weights, device=device, download=download, tile=tile,
               tile_overlap=tile_overlap, amp=amp, pretrained=pretrained, trust_weights=trust_weights)


def enhancer_availability(name: str) -> tuple[bool, str]:
    """``(True, "")`` when ``name`` can be built offline now, else ``(False, how to enable it)``."""
    if "+" in name:
        for stage in name.split("+"):
            ok, why = enhancer_availability(stage)
            if not ok:
                return ok, why
        return True, ""
    _check_name(name)
    key, meta = ENHANCERS.lookup(name)
    cls = ENHANCERS.get(key)
    tag = meta.get("tag") or cls.default_tag
    return cls.availability(meta.get("tag"), what=f"{key}.{tag}" if tag else key)


def list_enhancers(filter: str | list[str] | None = None, exclude: str | list[str] | None = None, *,
                   cascades: bool = True, available: bool = False) -> list[str]:
    """Registered enhancer names (``arch`` and every declared ``arch.tag``), then the standard cascades (``a+b``),
    each group naturally sorted; ``filter``/``exclude`` are shell-style wildcards. Listing tags imports the classes
    whose tags can match ``filter``. ``available=True`` keeps only the names that can be built offline now (no
    weights needed, or their weights file is present locally: :func:`enhancer_availability`)."""
    names = ENHANCERS.names(filter, exclude)
    if cascades:
        from ledbench.enhancers._catalog_cascades import standard_cascades

        names += [c for c in standard_cascades(filter, exclude) if c not in names]
    return available_only(names, enhancer_availability) if available else names

