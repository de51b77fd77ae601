"""Device resolution: ``"auto" | "cpu" | "cuda[:N]" | "mps" | torch.device`` -> ``torch.device``.

:func:`resolve_device` passes anything through to ``torch.device``; :func:`check_device` refuses a device that does
not exist on this machine with a one-line :class:`ConfigError`. torch is imported only when called.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_device", "resolve_device"]


def resolve_device(device: Any = "cpu"):
    """``"auto"`` (or None) -> cuda when available else cpu; anything else is passed to ``torch.device``."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_device(device: Any = "auto", notice=None):
    """Like :func:`resolve_device`, but an explicit device that does not exist here is a one-line
    :class:`~ledbench.bench.errors.ConfigError` (``cuda`` without CUDA, ``cuda:7`` on a 1-GPU machine, ``gpu``), and
    ``auto`` on a machine without CUDA falls back to the CPU with a ``notice(message)``."""
    import torch

    from ledbench.bench.errors import ConfigError

    spec = "auto" if device is None else str(device)
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if notice is not None:
            notice("device=auto: no CUDA device here, running on the CPU")
        return torch.device("cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError):
        raise ConfigError(f"device={spec!r} is not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device={spec!r}: CUDA is not available on this machine (torch "
                              f"{torch.__version__}); use device=cpu or device=auto")
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"device={spec!r}: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device={spec!r}: MPS is not available on this machine; use device=cpu or device=auto")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device={spec!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return dev
