"""Device resolution: ``resolve_device("auto" | "cpu" | "cuda[:N]" | torch.device)`` -> ``torch.device``."""

from __future__ import annotations

from typing import Any

__all__ = ["resolve_device"]


def resolve_device(device: Any = "cpu"):
    """``"auto"`` (or None) -> cuda when available else cpu; anything else is passed to ``torch.device``."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
