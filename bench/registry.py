"""One generic registry with lazy ``"module:attr"`` targets, aliases and did-you-mean errors.

Modelled on lm-eval's ``Registry`` and pyiqa's suggestions: built-ins register *strings*, so importing a registry
never imports torch or a model library; the target is imported on first :meth:`Registry.get`. Out-of-tree plugins
register through the entry-point group given at construction (``ledbench.enhancers`` ...), each entry point
pointing at a ``"module:attr"`` target; its name is the registry name.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")

_VALID_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass
class Entry(Generic[T]):
    """One registered name. ``target`` is the object or a lazy ``"module:attr"`` string."""

    name: str
    target: Any
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_loaded(self) -> bool:
        return not isinstance(self.target, str)


def _natural_key(text: str) -> list:
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", text)]


def filter_names(names: Iterable[str], filter: str | Iterable[str] | None = None,
                 exclude: str | Iterable[str] | None = None) -> list[str]:
    """Keep names matching any ``filter`` wildcard and none of the ``exclude`` wildcards (order preserved)."""
    def patterns(p):
        return [p] if isinstance(p, str) else list(p)

    out = list(names)
    if filter:
        out = [n for n in out if any(fnmatch.fnmatchcase(n, p) for p in patterns(filter))]
    if exclude:
        out = [n for n in out if not any(fnmatch.fnmatchcase(n, p) for p in patterns(exclude))]
    return out


def import_target(spec: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"lazy target {spec!r} must look like 'package.module:attr'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Name -> object registry.

    Args:
        kind: what is registered, used in messages ("enhancer", "task", ...).
        base_cls: if given, a resolved target must be a subclass (or instance) of it.
        entry_point_group: importlib-metadata group scanned once, lazily, for plugins.
    """

    def __init__(self, kind: str, base_cls: type | None = None, entry_point_group: str | None = None,
                 catalogs: Iterable[str] = ()):
        self.kind = kind
        self.base_cls = base_cls
        self.entry_point_group = entry_point_group
        self.catalogs = tuple(catalogs)
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}
        self._frozen = False
        self._plugins_loaded = entry_point_group is None and not self.catalogs

    # -- registration -------------------------------------------------------------------------------------------
    def register(self, name: str, target: Any = None, *, aliases: Iterable[str] = (), overwrite: bool = False,
                 **meta: Any) -> Callable[[Any], Any] | Any:
        """Register ``target`` under ``name``; used bare as a decorator when ``target`` is None."""
        if target is None:
            def decorator(obj: Any) -> Any:
                self.register(name, obj, aliases=aliases, overwrite=overwrite, **meta)
                return obj
            return decorator
        if self._frozen:
            raise RuntimeError(f"the {self.kind} registry is frozen; cannot register {name!r}")
        if not _VALID_NAME.match(name) or "+" in name:
            raise ValueError(f"invalid {self.kind} name {name!r}: use letters, digits, '_', '-' and '.'")
        old = self._entries.get(name)
        if old is not None and not overwrite and old.target != target:
            raise ValueError(f"{self.kind} {name!r} is already registered to {self.origin(name)}; "
                             "pass overwrite=True to replace it")
        self._entries[name] = Entry(name, target, dict(meta))
        for alias in aliases:
            self._aliases[alias] = name
        return target

    def freeze(self) -> None:
        self._frozen = True

    def _clear(self) -> None:
        """Test helper: forget everything (also un-freezes)."""
        self._entries.clear()
        self._aliases.clear()
        self._frozen = False

    # -- lookup -------------------------------------------------------------------------------------------------
    def _load_plugins(self) -> None:
        """On first lookup: import the built-in catalog modules (pure-python modules that register import
        strings; missing ones are skipped), then read the entry-point group for out-of-tree plugins."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for module in self.catalogs:
            if importlib.util.find_spec(module) is not None:
                importlib.import_module(module)
        if self.entry_point_group:
            from importlib.metadata import entry_points

            for ep in entry_points(group=self.entry_point_group):
                if ep.name not in self._entries:
                    self._entries[ep.name] = Entry(ep.name, ep.value, {"plugin": True})

    def canonical(self, name: str) -> str:
        self._load_plugins()
        return self._aliases.get(name, name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) in self._entries

    def entry(self, name: str) -> Entry[T]:
        key = self.canonical(name)
        try:
            return self._entries[key]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def lookup(self, name: str) -> tuple[str, dict[str, Any]]:
        """``(registered name, meta)`` for ``name``; an unregistered ``arch.tag`` whose ``arch`` is registered
        resolves to ``arch`` with ``meta["tag"] = tag`` (timm-style weight tags)."""
        if name in self:
            entry = self.entry(name)
            return entry.name, dict(entry.meta)
        arch, dot, tag = name.rpartition(".")
        if dot and arch in self:
            entry = self.entry(arch)
            return entry.name, {**entry.meta, "tag": tag}
        raise UnknownNameError(self.unknown_message(name))

    def get(self, name: str) -> T:
        """Resolve ``name`` to its object, importing a lazy target on first use."""
        entry = self.entry(name)
        if not entry.is_loaded:
            entry.target = import_target(entry.target)
            if self.base_cls is not None:
                obj = entry.target
                ok = isinstance(obj, self.base_cls) or (isinstance(obj, type) and issubclass(obj, self.base_cls))
                if not ok:
                    raise TypeError(f"{self.kind} {name!r} resolved to {obj!r}, not a {self.base_cls.__name__}")
        return entry.target

    def origin(self, name: str) -> str:
        """Where ``name`` comes from, as ``module:attr`` (without importing a lazy target)."""
        target = self.entry(name).target
        if isinstance(target, str):
            return target
        return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"

    def names(self, filter: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> list[str]:
        """Registered names, naturally sorted, filtered by shell-style wildcards (timm ``list_models``)."""
        self._load_plugins()
        return sorted(filter_names(self._entries, filter, exclude), key=_natural_key)

    def suggest(self, name: str, n: int = 3) -> list[str]:
        candidates = list(self._entries) + list(self._aliases)
        close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
        if not close:
            close = [c for c in candidates if name.lower() in c.lower()][:n]
        return close

    def unknown_message(self, name: str) -> str:
        close = self.suggest(name)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (f"unknown {self.kind} {name!r}{hint} (see `ledbench list {self.kind}s`)")

    def __len__(self) -> int:
        self._load_plugins()
        return len(self._entries)

    def __iter__(self):
        return iter(self.names())
