"""Exceptions with messages meant for users: each names the offending thing and the fix."""

from __future__ import annotations


class LedbenchError(Exception):
    """Base class; the CLI prints these as one line (no traceback unless ``--debug``)."""


class ConfigError(LedbenchError, ValueError):
    """Bad config key or value (unknown override key, wrong type, bad run file)."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup failed (unknown name or weight tag); the message carries did-you-mean suggestions."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class WeightsUnavailable(LedbenchError):
    """Weights could not be found locally and could not (or may not) be downloaded."""


class ChecksumError(LedbenchError):
    """A weights file exists but its sha256 differs from the declared one."""


class OutOfMemory(LedbenchError, RuntimeError):
    """A model ran out of device (or host) memory on an input; the message gives the size and the tiling fix."""


class InputError(LedbenchError, ValueError):
    """Bad input data: missing folder, corrupt image, mismatched pair, wrong shape, NaNs from a model."""
