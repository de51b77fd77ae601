"""The part every registered model shares: a frozen ``Config``, weight tags, weights resolution, availability and
the identity that goes into cache keys and results rows. :class:`ledbench.enhancers.base.Enhancer` and
:class:`ledbench.tasks.base.Task` build on it; :func:`build_plan` turns a registry name into what builds one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ledbench.bench.config import NoConfig, build_config, config_hash, config_to_dict
from ledbench.bench.errors import ConfigError, WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, find_local, resolve_weights, sha256_file, unavailable_message


class WeightedPlugin:
    """Config + weights handling. ``weights_tags`` maps a tag to its :class:`WeightsSpec` (the one declaration the
    registry derives the ``arch.tag`` names from; ``WeightsSpec.config`` holds the Config overrides the tag needs);
    ``default_tag`` is used when a name has no ``.tag``; ``requires_weights`` says whether the model is unusable
    without them."""

    Config: ClassVar[type] = NoConfig
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {}
    default_tag: ClassVar[str | None] = None
    requires_weights: ClassVar[bool] = False
    #: True for models that load an external source themselves (a Hugging Face folder, an ultralytics .pt/.yaml):
    #: ``weights=`` other than a tag is then kept as ``explicit_weights`` instead of being resolved as a file here
    external_weights: ClassVar[bool] = False
    #: False for methods with nothing to load (classical enhancers): ``weights=`` is then an error, never ignored
    accepts_weights: ClassVar[bool] = True
    summary: ClassVar[str] = ""

    def _init_plugin(self, config: Any, name: str | None, tag: str | None, weights: str | None, download: bool,
                     pretrained: bool = True) -> None:
        """Set ``config``, ``name``, ``tag``, ``weights_spec`` and resolve ``weights_path`` / ``weights_sha256``.

        ``weights`` is a local file or a tag name (``weights="medium"`` selects that tag); with
        ``pretrained=False`` a model that requires weights is built without them (random initialisation).
        """
        self.config = config if config is not None else self.Config()
        self.name = name or type(self).__name__.lower()
        self.tag = tag or self.default_tag
        self.weights_path = None
        self.weights_sha256: str | None = None
        self.download = download
        self.explicit_weights: str | None = None
        if weights is not None and not self.accepts_weights:
            raise ConfigError(f"{self.name} has no weights to load ({type(self).__name__} is not a learned model): "
                              f"remove weights={weights}")
        if weights is not None and weights in self.weights_tags:
            self.tag, weights = weights, None
        elif weights is not None and self.external_weights:
            self.explicit_weights, weights = str(weights), None
            pretrained = False  # the subclass resolves (and hashes) its own source
        self.weights_spec: WeightsSpec | None = self.weights_tags.get(self.tag) if self.tag else None
        if (self.requires_weights and pretrained) or weights is not None:
            spec = self.weights_spec
            if spec is None and weights is None:
                raise WeightsUnavailable(f"{self.name} needs weights: pass weights=PATH "
                                         f"(known tags: {', '.join(self.weights_tags) or 'none'})")
            spec = spec or WeightsSpec(filename=str(weights).rsplit("/", 1)[-1])
            self.weights_path = resolve_weights(spec, weights, what=self.name, download=download)
            self.weights_sha256 = sha256_file(self.weights_path)

    @classmethod
    def make_config(cls, tag: str | None = None, overrides: Mapping[str, Any] | None = None, *,
                    fixed: Mapping[str, Any] | None = None, owner: str | None = None) -> Any:
        """The frozen Config for one build, made once: class defaults < ``fixed`` (the registered name's preset)
        < the ``WeightsSpec.config`` of ``tag`` (``default_tag`` when None) < the user's ``overrides``."""
        spec = cls.weights_tags.get(tag or cls.default_tag or "")
        return build_config(cls.Config, {**(fixed or {}), **(spec.config if spec else {}), **(overrides or {})},
                            owner=owner or cls.__name__)

    @classmethod
    def availability(cls, tag: str | None = None, what: str | None = None) -> tuple[bool, str]:
        """Cheap check (no hashing, no network) whether weights for ``tag`` are present locally; ``what`` is the
        name used in the message (``arch.tag``, as ``ledbench weights fetch`` takes it)."""
        if not cls.requires_weights:
            return True, ""
        tag = tag or cls.default_tag
        spec = cls.weights_tags.get(tag) if tag else None
        if spec is None:
            return False, "needs weights=PATH"
        if find_local(spec) is not None:
            return True, ""
        return False, unavailable_message(spec, what or f"{cls.__name__}.{tag}")

    def identity(self) -> dict[str, Any]:
        """What determines the outputs: name, class, config and weights digest (subclasses add options)."""
        return {"name": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "config": config_to_dict(self.config), "weights_sha256": self.weights_sha256}

    @property
    def config_hash(self) -> str:
        return config_hash(self.identity())


def build_plan(registry: Any, name: str, weights: Any = None,
               overrides: Mapping[str, Any] | None = None) -> tuple[type, Any, str | None, Any]:
    """``(class, config, tag, weights)`` to build registry name ``name`` (``arch`` or ``arch.tag``).

    ``weights`` naming a tag of the architecture selects that tag (``weights="gopro_width32"``) and is then None;
    any other value (a file) is passed through. The tag's Config overrides are applied here, once.
    """
    arch, meta = registry.lookup(name)
    cls = registry.get(arch)
    tag = meta.get("tag")
    if isinstance(weights, str) and weights in getattr(cls, "weights_tags", {}):
        tags = registry.tags(arch)
        if weights not in tags:
            raise ConfigError(f"weights tag {weights!r} does not fit {arch!r} (its tags: {', '.join(tags) or 'none'})")
        tag, weights = weights, None
    config = cls.make_config(tag, overrides, fixed=meta.get("config"), owner=name)
    return cls, config, tag, weights
