"""The standard two-stage cascades: {Zero-DCE, SCI, RetinexFormer} x {MIMO-UNet, NAFNet, Restormer}, both orders.

A cascade ``a+b`` applies ``a`` then ``b`` (each stage takes and returns RGB [0, 1]; each stage's output is clamped
to [0, 1] before the next). ``create_enhancer`` builds any ``a+b[+c]`` name on the fly from registered stage names,
and the registry rejects ``+`` in registered names, so the standard set is published here as plain names instead of
registry entries: :data:`STANDARD_CASCADES` and :func:`standard_cascades` (used by ``list_enhancers``).

"LLE then deblur" is how LEDNet's and JUDE's baseline tables build cascades (e.g. RetinexFormer -> FFTFormer,
MIMO -> RetinexFormer in github.com/kc-ml2/jude README); both orders are listed so one run compares them with each
other and with the joint models (``runs/lolblur_cascades.yaml``). Pure python: importing this does not import torch.
"""

from __future__ import annotations

from collections.abc import Iterable

#: low-light enhancement stages (registry names)
LLE_STAGES: tuple[str, ...] = ("zero_dce", "sci", "retinexformer")
#: deblurring stages (registry names)
DEBLUR_STAGES: tuple[str, ...] = ("mimo_unet", "nafnet", "restormer")


def cascade_name(*stages: str) -> str:
    """Canonical cascade name: stage names joined with ``+``, applied left to right."""
    if len(stages) < 2 or any(not s or "+" in s for s in stages):
        raise ValueError(f"a cascade needs two or more plain stage names, got {stages!r}")
    return "+".join(stages)


#: LLE -> deblur first (9 names), then deblur -> LLE (9 names)
STANDARD_CASCADES: tuple[str, ...] = (
    tuple(cascade_name(a, b) for a in LLE_STAGES for b in DEBLUR_STAGES)
    + tuple(cascade_name(b, a) for a in LLE_STAGES for b in DEBLUR_STAGES)
)


def standard_cascades(filter: str | Iterable[str] | None = None,
                      exclude: str | Iterable[str] | None = None) -> list[str]:
    """The standard cascade names, in :data:`STANDARD_CASCADES` order, filtered by shell-style wildcards.

    Example: ``standard_cascades("zero_dce+*")`` -> the three Zero-DCE-first cascades.
    """
    from ledbench.bench.registry import filter_names

    return filter_names(STANDARD_CASCADES, filter, exclude)
