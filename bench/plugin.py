"""The part every registered model shares: a frozen ``Config``, weight tags, weights resolution, availability and
the identity that goes into cache keys and results rows. :class:`ledbench.enhancers.base.Enhancer` and
:class:`ledbench.tasks.base.Task` build on it."""

from __future__ import annotations

from typing import Any, ClassVar

from ledbench.bench.config import NoConfig, config_hash, config_to_dict
from ledbench.bench.errors import WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, find_local, resolve_weights, sha256_file, unavailable_message


class WeightedPlugin:
    """Config + weights handling. ``weights_tags`` maps a tag to its :class:`WeightsSpec`; ``default_tag`` is used
    when a name has no ``.tag``; ``requires_weights`` says whether the model is unusable without them."""

    Config: ClassVar[type] = NoConfig
    weights_tags: ClassVar[dict[str, WeightsSpec]] = {}
    default_tag: ClassVar[str | None] = None
    requires_weights: ClassVar[bool] = False
    #: True for models that load an external source themselves (a Hugging Face folder, an ultralytics .pt/.yaml):
    #: ``weights=`` other than a tag is then kept as ``explicit_weights`` instead of being resolved as a file here
    external_weights: ClassVar[bool] = False
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
