"""Frozen dataclass configs, their canonical hash, and ``key=value`` overrides.

``config_hash`` is the SHA-256 of the canonical JSON of a resolved config (sorted keys, no whitespace, tuples as
lists), the lm-eval ``hash_args`` pattern: two objects with equal fields hash equal on every machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError


@dataclasses.dataclass(frozen=True)
class NoConfig:
    """Config of a plugin that has no options."""


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def canonical_json(value: Any) -> str:
    """Deterministic JSON text of a config / mapping (sorted keys, compact)."""
    return json.dumps(_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_hash(config: Any) -> str:
    """SHA-256 hex digest of the canonical JSON of ``config``."""
    return sha256_text(canonical_json(config))


def config_to_dict(config: Any) -> dict[str, Any]:
    return _jsonable(config)


# -- override parsing -------------------------------------------------------------------------------------------

def parse_scalar(text: str) -> Any:
    """Parse a CLI value the way YAML would (``3`` -> int, ``true`` -> bool, ``[1,2]`` -> list, else str)."""
    import re

    import yaml

    if re.fullmatch(r"0\d+", text):  # "0012" is an id (e.g. a LOL-Blur video), not YAML's octal 10
        return text
    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``["a=1", "b=x,y"]`` -> ``{"a": 1, "b": "x,y"}``; a token without ``=`` is an error naming it."""
    out: dict[str, Any] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected key=value, got {arg!r}")
        out[key.strip()] = parse_scalar(value.strip())
    return out


def _coerce(value: Any, annotation: Any, key: str, owner: str) -> Any:
    """Coerce ``value`` to a dataclass field annotation (best effort, strict on obvious mismatches)."""
    if isinstance(annotation, str):  # unresolved forward reference: leave as is
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, owner)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{owner}.{key}: cannot use {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{owner}.{key} must be one of {list(args)}, got {value!r}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v for v in (s.strip() for s in value.split(",")) if v]
        if not isinstance(value, (list, tuple)):
            value = [value]
        item_type = args[0] if args else Any
        items = [_coerce(v, item_type, key, owner) for v in value]
        return tuple(items) if origin is tuple else items
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{owner}.{key} expects true/false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{owner}.{key} expects an integer, got {value!r}")
        try:
            as_float = float(value)
        except ValueError:
            raise ConfigError(f"{owner}.{key} expects an integer, got {value!r}") from None
        if not as_float.is_integer():
            raise ConfigError(f"{owner}.{key} expects an integer, got {value!r}")
        return int(as_float)
    if annotation is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{owner}.{key} expects a number, got {value!r}") from None
    if annotation is str:
        if isinstance(value, (list, tuple)):
            return ",".join(str(v) for v in value)
        return "" if value is None else str(value)
    return value


def build_config(cls: type, overrides: Mapping[str, Any] | None = None, *, owner: str | None = None) -> Any:
    """Instantiate dataclass ``cls`` from ``overrides``; unknown keys raise an error listing the valid ones."""
    overrides = dict(overrides or {})
    owner = owner or cls.__name__
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in overrides if k not in fields]
    if unknown:
        import difflib

        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        valid = ", ".join(sorted(fields)) or "(none)"
        raise ConfigError(f"unknown key {', '.join(hints)} for {owner}; valid keys: {valid}")
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(v, hints.get(k, Any), k, owner) for k, v in overrides.items()}
    return cls(**kwargs)


def replace_config(config: Any, overrides: Mapping[str, Any] | None = None, *, owner: str | None = None) -> Any:
    """A copy of frozen dataclass ``config`` with ``overrides`` applied (validated like :func:`build_config`)."""
    if not overrides:
        return config
    base = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    checked = build_config(type(config), overrides, owner=owner)
    for key in overrides:
        base[key] = getattr(checked, key)
    return type(config)(**base)
