"""One generic registry with lazy ``"module:attr"`` targets, weight-tag names, aliases and did-you-mean errors.

Modelled on lm-eval's ``Registry`` and timm's ``default_cfgs``: built-ins register *strings* (one line per class in
a catalog module), so importing a registry never imports torch or a model library; the target is imported on first
:meth:`Registry.get`. In a registry made with ``tags=True`` a class declares its weight tags once (``weights_tags``,
a :class:`~ledbench.bench.weights.WeightsSpec` per tag) and the registry derives the ``arch.tag`` names from that
declaration, importing the class only when such a name is looked up or listed. Out-of-tree plugins register through
the entry-point group given at construction (``ledbench.enhancers`` ...), each entry point pointing at a
``"module:attr"`` target; its name is the registry name.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")

_VALID_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass
class Entry(Generic[T]):
    """One registered name. ``target`` is the object or a lazy ``"module:attr"`` string; ``meta["config"]`` holds
    Config overrides fixed for this name (a preset such as ``dap_led_small``)."""

    name: str
    target: Any
    meta: dict[str, Any] = field(default_factory=dict)
    checked: bool = False

    @property
    def is_loaded(self) -> bool:
        return not isinstance(self.target, str)


def _natural_key(text: str) -> list:
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", text)]


def _patterns(p: str | Iterable[str]) -> list[str]:
    return [p] if isinstance(p, str) else list(p)


def filter_names(names: Iterable[str], filter: str | Iterable[str] | None = None,
                 exclude: str | Iterable[str] | None = None) -> list[str]:
    """Keep names matching any ``filter`` wildcard and none of the ``exclude`` wildcards (order preserved)."""
    out = list(names)
    if filter:
        out = [n for n in out if any(fnmatch.fnmatchcase(n, p) for p in _patterns(filter))]
    if exclude:
        out = [n for n in out if not any(fnmatch.fnmatchcase(n, p) for p in _patterns(exclude))]
    return out


def available_only(names: Iterable[str], availability: Callable[[str], tuple[bool, str]]) -> list[str]:
    """The names whose ``availability(name)`` is ``(True, ...)``; a plugin that cannot even be imported counts as
    unavailable (``list_*(available=True)``)."""
    def ok(name: str) -> bool:
        try:
            return bool(availability(name)[0])
        except Exception:  # noqa: BLE001 - a broken plugin is not available, and listing goes on
            return False

    return [n for n in names if ok(n)]


def _may_match(prefix: str, filter: str | Iterable[str] | None) -> bool:
    """Whether some name starting with ``prefix`` can match a ``filter`` wildcard (the pattern's literal head must
    agree with ``prefix``); lets listing skip importing classes whose tags cannot match."""
    if not filter:
        return True
    for p in _patterns(filter):
        head = re.split(r"[*?\[]", p, maxsplit=1)[0]
        if head.startswith(prefix) or prefix.startswith(head):
            return True
    return False


def import_target(spec: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"lazy target {spec!r} must look like 'package.module:attr'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def tag_agrees(fixed: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """A tag whose ``WeightsSpec.config`` is ``wanted`` belongs to a name registered with config ``fixed`` when no
    key has two different values (``dap_led_small.noclip_synth`` exists, ``dap_led.noclip_synth`` does not)."""
    return all(fixed[k] == v for k, v in wanted.items() if k in fixed)


class Registry(Generic[T]):
    """Name -> object registry.

    Args:
        kind: what is registered, used in messages ("enhancer", "task", ...).
        base_cls: a class or a lazy ``"module:attr"`` string; every resolved target must be a subclass (or an
            instance) of it, checked when the target is first loaded.
        entry_point_group: importlib-metadata group scanned once, lazily, for plugins.
        catalogs: modules imported once, on first lookup, that register the built-ins; a missing one is an error.
        tags: derive ``arch.tag`` names from each class's ``weights_tags`` (registered names then hold no dot).
    """

    def __init__(self, kind: str, base_cls: type | str | None = None, entry_point_group: str | None = None,
                 catalogs: Iterable[str] = (), tags: bool = False):
        self.kind = kind
        self.base_cls = base_cls
        self.entry_point_group = entry_point_group
        self.catalogs = tuple(catalogs)
        self.tags_enabled = tags
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}
        self._frozen = False
        self._plugins_loaded = entry_point_group is None and not self.catalogs

    # -- registration -------------------------------------------------------------------------------------------
    def register(self, name: str, target: Any = None, *, aliases: Iterable[str] = (), overwrite: bool = False,
                 **meta: Any) -> Callable[[Any], Any] | Any:
        """Register ``target`` under ``name``; used bare as a decorator when ``target`` is None. ``config={...}``
        fixes Config overrides for this name (a named preset of a class)."""
        if target is None:
            def decorator(obj: Any) -> Any:
                self.register(name, obj, aliases=aliases, overwrite=overwrite, **meta)
                return obj
            return decorator
        if self._frozen:
            raise RuntimeError(f"the {self.kind} registry is frozen; cannot register {name!r}")
        self._check_name(name)
        old = self._entries.get(name)
        if old is not None and not overwrite and old.target != target:
            raise ValueError(f"{self.kind} {name!r} is already registered to {self.origin(name)}; "
                             "pass overwrite=True to replace it")
        self._entries[name] = Entry(name, target, dict(meta))
        for alias in aliases:
            self._check_name(alias)
            self._aliases[alias] = name
        return target

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not _VALID_NAME.match(name) or "+" in name:
            raise ValueError(f"invalid {self.kind} name {name!r}: use letters, digits, '_', '-' and '.'")
        if self.tags_enabled and "." in name:
            raise ValueError(f"invalid {self.kind} name {name!r}: '.' separates a weight tag; declare the tag in "
                             "the class's weights_tags and register the architecture name only")

    def freeze(self) -> None:
        self._frozen = True

    def _clear(self) -> None:
        """Test helper: forget everything (also un-freezes)."""
        self._entries.clear()
        self._aliases.clear()
        self._frozen = False

    # -- loading ------------------------------------------------------------------------------------------------
    def _load_plugins(self) -> None:
        """On first lookup: import the built-in catalog modules, then read the entry-point group for out-of-tree
        plugins (an entry point never replaces a built-in name)."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for module in self.catalogs:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                self._plugins_loaded = False
                raise ImportError(f"{self.kind} catalog module {module!r} cannot be imported ({exc}); the "
                                  "installation is incomplete: reinstall ledbench") from exc
        if self.entry_point_group:
            from importlib.metadata import entry_points

            for ep in entry_points(group=self.entry_point_group):
                if ep.name in self._entries:
                    continue
                try:
                    self._check_name(ep.name)
                except ValueError as exc:  # one badly named plugin must not hide the others
                    warnings.warn(f"entry point {ep.value!r} in {self.entry_point_group!r} skipped: {exc}",
                                  stacklevel=2)
                    continue
                self._entries[ep.name] = Entry(ep.name, ep.value, {"plugin": True})

    def _load(self, entry: Entry[T]) -> T:
        """Import a lazy target once and check it against ``base_cls``."""
        if not entry.is_loaded:
            entry.target = import_target(entry.target)
        if not entry.checked:
            base = import_target(self.base_cls) if isinstance(self.base_cls, str) else self.base_cls
            obj = entry.target
            if base is not None and not (isinstance(obj, base) or (isinstance(obj, type) and issubclass(obj, base))):
                raise TypeError(f"{self.kind} {entry.name!r} resolved to {obj!r}, which is not a {base.__name__}; "
                                f"register a subclass of {base.__module__}:{base.__qualname__}")
            entry.checked = True
        return entry.target

    # -- lookup -------------------------------------------------------------------------------------------------
    def canonical(self, name: str) -> str:
        self._load_plugins()
        return self._aliases.get(name, name)

    def _registered(self, name: str) -> Entry[T] | None:
        return self._entries.get(self.canonical(name))

    def entry(self, name: str) -> Entry[T]:
        """The registered entry of ``name``; for ``arch.tag`` that of ``arch`` once the tag is checked."""
        return self._entries[self.lookup(name)[0]]

    def tags(self, name: str) -> dict[str, Any]:
        """``{tag: WeightsSpec}`` of registered name ``name`` (imports its class): the class's ``weights_tags``
        whose config agrees with the name's fixed config (see :func:`tag_agrees`)."""
        entry = self._registered(name)
        if entry is None:
            raise UnknownNameError(self.unknown_message(name))
        if not self.tags_enabled:
            return {}
        cls = self._load(entry)
        fixed = entry.meta.get("config", {})
        return {tag: spec for tag, spec in (getattr(cls, "weights_tags", None) or {}).items()
                if tag_agrees(fixed, getattr(spec, "config", None) or {})}

    def lookup(self, name: str) -> tuple[str, dict[str, Any]]:
        """``(registered name, meta)`` for ``name``. In a tag registry ``arch.tag`` resolves to ``arch`` with
        ``meta["tag"] = tag`` when the class declares that tag; an undeclared tag is an :class:`UnknownNameError`
        naming the declared ones."""
        entry = self._registered(name)
        if entry is not None:
            return entry.name, dict(entry.meta)
        arch, dot, tag = name.partition(".")
        entry = self._registered(arch) if dot and self.tags_enabled else None
        if entry is None:
            raise UnknownNameError(self.unknown_message(name))
        tags = self.tags(arch)
        if tag not in tags:
            full = [f"{arch}.{t}" for t in tags]
            close = difflib.get_close_matches(name, full, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
            known = f"its tags: {', '.join(tags)}" if tags else f"{entry.name!r} declares no weight tags"
            raise UnknownNameError(f"unknown {self.kind} tag {tag!r} for {arch!r}; {hint}({known}; see "
                                   f"`ledbench list {self.kind}s`)")
        return entry.name, {**entry.meta, "tag": tag}

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.lookup(name)
        except UnknownNameError:
            return False
        return True

    def get(self, name: str) -> T:
        """Resolve ``name`` (``arch`` or ``arch.tag``) to its object, importing a lazy target on first use."""
        return self._load(self.entry(name))

    def origin(self, name: str) -> str:
        """Where ``name`` comes from, as ``module:attr`` (without importing a lazy target)."""
        entry = self._registered(name)
        if entry is None:
            entry = self.entry(name)
        target = entry.target
        if isinstance(target, str):
            return target
        return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"

    def names(self, filter: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> list[str]:
        """Registered names plus, in a tag registry, every declared ``arch.tag``; naturally sorted and filtered by
        shell-style wildcards (timm ``list_models``). Only classes whose tags can match ``filter`` are imported;
        a class that fails to import is listed without its tags, with a warning."""
        self._load_plugins()
        names = list(self._entries)
        if self.tags_enabled:
            for arch in list(self._entries):
                if not _may_match(f"{arch}.", filter):
                    continue
                try:
                    names += [f"{arch}.{tag}" for tag in self.tags(arch)]
                except Exception as exc:  # a broken plugin must not hide the others
                    warnings.warn(f"{self.kind} {arch!r}: cannot read its weight tags ({type(exc).__name__}: "
                                  f"{exc})", stacklevel=2)
        return sorted(filter_names(names, filter, exclude), key=_natural_key)

    def suggest(self, name: str, n: int = 3) -> list[str]:
        candidates = list(self._entries) + list(self._aliases)
        close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
        if not close:
            close = [c for c in candidates if name.lower() in c.lower()][:n]
        return close

    def unknown_message(self, name: str) -> str:
        close = self.suggest(name)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown {self.kind} {name!r}{hint} (see `ledbench list {self.kind}s`)"

    def __len__(self) -> int:
        self._load_plugins()
        return len(self._entries)

    def __iter__(self):
        return iter(self.names())
