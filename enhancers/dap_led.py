"""DAP-LED re-implementation: 4-level transformer encoder-decoder + CLIP degradation prior (CCM, CeTB).

Paper: Wang, Wu & Wang, "DAP-LED: Learning Degradation-Aware Priors with CLIP for Joint Low-light Enhancement and
Deblurring", arXiv 2409.13496 (ICRA 2025). No official code, weights or implementation details are public. The
paper's abstract confirms only: a transformer-based joint framework, a CLIP-guided cross-fusion module (CCM)
producing multi-scale patch-wise degradation heatmaps from CLIP image embeddings, and CLIP-enhanced transformer
blocks (CeTB) fusing them. A 4-level encoder-decoder and a Charbonnier + L_identity + L_clip objective come only
from a SECONDARY third-party summary (../shared/REFERENCE.md sections 1.3-1.4; docs/dap_led.md labels every part).
Every other choice below is OURS and is a named field of :class:`DAPLEDConfig`:

* backbone blocks: Restormer-style MDTA (transposed channel attention) + GDFN (gated depthwise FFN), re-implemented
  from the design in github.com/swz30/Restormer basicsr/models/archs/restormer_arch.py (an ANCHOR, not DAP-LED);
* CLIP prior: a frozen open_clip ViT; at scale ``s`` a token covers ``s x patch`` pixels of the image being
  restored (``clip_mode="window"``: the image is box-shrunk by ``s`` and cut into CLIP-input-sized windows whose
  token maps are stitched), so training crops and full test frames are seen at the same scale; the tokens (final
  projected patch tokens, or MaskCLIP-style value embeddings with ``clip_tokens="value"``) are compared with text
  embeddings of configurable "degraded|clean" prompt pairs (darkness, blur, noise, over-exposure); the heatmap of
  degradation ``k`` is ``softmax(logit_scale * cos(token, [t_deg, t_clean]))[0]``, in [0, 1] (1 = the patch looks
  degraded);
* CCM (learned): per decoder stage a conv embedding of the heatmaps resized to that stage, plus cross-attention from
  the latent (level-4) features to the multi-scale CLIP patch tokens and the global image embedding, plus a FiLM
  of the latent by the global image embedding ("fuses the image embedding into the restoration features");
* CeTB: a transformer block whose two pre-norms are modulated, per pixel, by a scale/shift predicted from the
  stage's heatmap condition (``LN(x) * (1 + gamma) + beta``, SFT/AdaLN style), used in every decoder level and
  the refinement stage.

Ablation switches: ``clip_prior`` (no CLIP at all: the plain backbone), ``ccm`` (off: the heatmaps are still
computed and the raw resized heatmaps condition the CeTBs directly; no learned heatmap embedding, no latent fusion),
``cetb`` (off: plain decoder blocks, the CCM only fuses into the latent); ``ccm`` and ``cetb`` both off: no CLIP in
the network (the tower may still serve the losses). Image contract: ``N x 3 x H x W`` float RGB in [0, 1]; the
network predicts a residual added to the input (global residual), and the enhancer clamps the result to [0, 1].
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ledbench.bench.config import config_to_dict, replace_config
from ledbench.bench.errors import ConfigError, WeightsUnavailable
from ledbench.bench.weights import WeightsSpec, safe_torch_load
from ledbench.enhancers.base import TorchEnhancer
from ledbench.enhancers.restormer import Attention as ChannelAttention
from ledbench.enhancers.restormer import FeedForward as GatedFFN

# -- configuration -------------------------------------------------------------------------------------------------

#: Architecture presets (ours). ``base`` = the Restormer defaults (ANCHOR: REFERENCE.md 2.1), ``small`` = what a CPU
#: can train in minutes, ``tiny`` = tests.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"dim": 8, "num_blocks": (1, 1, 1, 1), "num_refinement_blocks": 1, "heads": (1, 1, 2, 2),
             "ffn_expansion_factor": 2.0},
    "small": {"dim": 16, "num_blocks": (1, 2, 2, 2), "num_refinement_blocks": 1, "heads": (1, 2, 4, 8),
              "ffn_expansion_factor": 2.0},
    "base": {"dim": 48, "num_blocks": (4, 6, 6, 8), "num_refinement_blocks": 4, "heads": (1, 2, 4, 8),
             "ffn_expansion_factor": 2.66},
}

#: Default degradation prompt pairs (ours): ``"degraded prompt|clean prompt"``; ``;`` separates ensembled prompts.
DEFAULT_PROMPTS = (
    "a dark photo;a photo taken at night with low light|a well-lit photo;a photo taken in daylight",
    "a blurry photo;a photo with motion blur|a sharp photo;a photo in focus",
    "a noisy photo;a grainy photo|a clean photo;a noise-free photo",
    "an over-exposed photo;a photo with blown-out highlights|a well-exposed photo;a photo with balanced exposure",
)
DEFAULT_PROMPT_NAMES = ("darkness", "blur", "noise", "overexposure")

#: Name of the in-process tiny open_clip config used by tests / profiling without weights (random init only).
TINY_CLIP_NAME = "ledbench-tiny-clip"
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@dataclasses.dataclass(frozen=True)
class DAPLEDConfig:
    """DAP-LED configuration. Architecture fields left at 0 / () take the value of ``preset``.

    Attributes (all choices are ours unless stated; docs/dap_led.md lists provenance):
        preset: ``tiny`` | ``small`` | ``base`` (base = Restormer defaults, an anchor, not a paper number).
        dim, num_blocks, num_refinement_blocks, heads, ffn_expansion_factor: backbone size (level channels
            dim, 2dim, 4dim, 8dim; blocks / heads per level 1..4).
        bias, layernorm_type: conv bias; ``WithBias`` or ``BiasFree`` channel LayerNorm.
        clip_prior, ccm, cetb: ablation switches (see the module docstring).
        clip_model, clip_pretrained: open_clip architecture and pretrained tag (downloaded and cached when online).
        clip_checkpoint: a local open_clip checkpoint file (takes precedence over ``clip_pretrained``).
        clip_random_init: TEST/PROFILING ONLY: build the CLIP tower with random weights. A model built this way is
            not DAP-LED and is never registered or shipped.
        clip_input_size: CLIP input side (0 = the model's native ``image_size``).
        clip_scales: the heatmaps' scales. ``window`` mode: a token of scale ``s`` covers ``s x patch`` pixels of the
            working image (ViT-B/32: 32 and 64 px for (1, 2)), the same in training crops and full frames;
            ``resize`` mode: the image squashed to ``s x R`` square and cut into ``s x s`` crops (pixels per token
            depend on the image size, so training crops and test frames differ).
        clip_mode: ``window`` (default) or ``resize`` (see :meth:`ClipPrior.encode`).
        clip_tokens: token source of the heatmaps: ``final`` (patch tokens after ``ln_post`` + ``proj``) or
            ``value`` (MaskCLIP-style value embeddings of the last block; see :meth:`ClipPrior.run`).
        prompts, prompt_names: degradation prompt pairs ``"degraded|clean"`` (``;`` ensembles prompts) and names.
        heatmap_logit_scale: softmax temperature of the prompt-pair heatmaps (100 = CLIP's trained logit scale).
        ccm_dim: channels of the CCM heatmap embedding (0 = dim).
        cetb_hidden: hidden channels of the CeTB scale/shift predictor (0 = dim).
        cetb_refinement: also use CeTBs in the refinement stage.
    """

    preset: str = "base"
    dim: int = 0
    num_blocks: tuple[int, ...] = ()
    num_refinement_blocks: int = -1
    heads: tuple[int, ...] = ()
    ffn_expansion_factor: float = 0.0
    bias: bool = False
    layernorm_type: str = "WithBias"
    clip_prior: bool = True
    ccm: bool = True
    cetb: bool = True
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "openai"
    clip_checkpoint: str = ""
    clip_random_init: bool = False
    clip_input_size: int = 0
    clip_scales: tuple[int, ...] = (1, 2)
    clip_mode: str = "window"
    clip_tokens: str = "final"
    prompts: tuple[str, ...] = DEFAULT_PROMPTS
    prompt_names: tuple[str, ...] = DEFAULT_PROMPT_NAMES
    heatmap_logit_scale: float = 100.0
    ccm_dim: int = 0
    cetb_hidden: int = 0
    cetb_refinement: bool = True


ARCH_FIELDS = ("dim", "num_blocks", "num_refinement_blocks", "heads", "ffn_expansion_factor", "bias",
               "layernorm_type", "clip_prior", "ccm", "cetb", "clip_model", "clip_scales", "prompts", "ccm_dim",
               "cetb_hidden", "cetb_refinement", "clip_mode", "clip_tokens")
#: Architecture fields added after the first checkpoints: a checkpoint without them is compared on the rest.
_LATER_ARCH_FIELDS = ("clip_mode", "clip_tokens")
#: Architecture fields a ``preset`` sets (``ccm_dim`` / ``cetb_hidden`` follow ``dim`` when left at 0).
_PRESET_FIELDS = ("dim", "num_blocks", "num_refinement_blocks", "heads", "ffn_expansion_factor", "ccm_dim",
                  "cetb_hidden")
#: Attribute of a config made by :meth:`DAPLED.make_config`: the fields that bind a checkpoint's architecture.
_BINDING = "_ledbench_binding_fields"


def resolve_config(cfg: DAPLEDConfig) -> DAPLEDConfig:
    """Fill the preset's values into unset architecture fields and validate the result."""
    if cfg.preset not in PRESETS:
        raise ConfigError(f"dap_led: unknown preset {cfg.preset!r}; choose one of {sorted(PRESETS)}")
    p = PRESETS[cfg.preset]
    out = dataclasses.replace(
        cfg,
        dim=cfg.dim or p["dim"],
        num_blocks=tuple(cfg.num_blocks) or tuple(p["num_blocks"]),
        num_refinement_blocks=p["num_refinement_blocks"] if cfg.num_refinement_blocks < 0
        else cfg.num_refinement_blocks,
        heads=tuple(cfg.heads) or tuple(p["heads"]),
        ffn_expansion_factor=cfg.ffn_expansion_factor or p["ffn_expansion_factor"],
    )
    out = dataclasses.replace(out, ccm_dim=out.ccm_dim or out.dim, cetb_hidden=out.cetb_hidden or out.dim)
    if len(out.num_blocks) != 4 or len(out.heads) != 4:
        raise ConfigError(f"dap_led: num_blocks and heads need 4 entries (levels 1..4), got {out.num_blocks}, "
                          f"{out.heads}")
    for lvl, (mult, h) in enumerate(zip((1, 2, 4, 8), out.heads), 1):
        if (out.dim * mult) % h:
            raise ConfigError(f"dap_led: level {lvl} has {out.dim * mult} channels, not divisible by {h} heads")
    if out.dim % 2:
        raise ConfigError(f"dap_led: dim must be even, got {out.dim}")
    if out.layernorm_type not in ("WithBias", "BiasFree"):
        raise ConfigError(f"dap_led: layernorm_type must be WithBias or BiasFree, got {out.layernorm_type!r}")
    if len(out.prompts) != len(out.prompt_names):
        raise ConfigError(f"dap_led: {len(out.prompts)} prompts but {len(out.prompt_names)} prompt_names")
    for pr in out.prompts:
        if pr.count("|") != 1:
            raise ConfigError(f"dap_led: prompt {pr!r} must look like 'degraded prompt|clean prompt'")
    if not out.clip_scales or any(s < 1 for s in out.clip_scales):
        raise ConfigError(f"dap_led: clip_scales must be positive integers, got {out.clip_scales}")
    if out.clip_mode not in ("window", "resize"):
        raise ConfigError(f"dap_led: clip_mode must be 'window' or 'resize', got {out.clip_mode!r}")
    if out.clip_tokens not in ("final", "value"):
        raise ConfigError(f"dap_led: clip_tokens must be 'final' or 'value', got {out.clip_tokens!r}")
    return out


# -- backbone blocks -------------------------------------------------------------------------------------------------
# MDTA attention and the GDFN feed-forward are Restormer's (enhancers/restormer.py); the layer norm below is a
# faster equivalent of Restormer's (same maths, flat parameter names).

class LayerNorm2d(nn.Module):
    """Per-pixel LayerNorm over channels of an ``N x C x H x W`` map (``WithBias`` or ``BiasFree``)."""

    def __init__(self, channels: int, kind: str = "WithBias"):
        super().__init__()
        self.kind = kind
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if kind == "WithBias" else None

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        if self.bias is not None:
            x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, 1e-5)
        else:
            x = x / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5) * self.weight
        return x.permute(0, 3, 1, 2)


class CeTB(nn.Module):
    """Transformer block; with ``cond_channels > 0`` it is a CLIP-enhanced transformer block (CeTB, our design).

    ``x = x + attn(LN1(x) * (1 + g1) + b1)``; ``x = x + ffn(LN2(x) * (1 + g2) + b2)`` where ``g1, b1, g2, b2`` come
    from a per-pixel 2-layer 1x1-conv predictor applied to the stage's heatmap condition. Without a condition it is
    the plain (Restormer-style) block.
    """

    def __init__(self, dim: int, heads: int, ffn: float, bias: bool, ln: str, cond_channels: int = 0,
                 cond_hidden: int = 0):
        super().__init__()
        self.norm1 = LayerNorm2d(dim, ln)
        self.attn = ChannelAttention(dim, heads, bias)
        self.norm2 = LayerNorm2d(dim, ln)
        self.ffn = GatedFFN(dim, ffn, bias)
        self.cond = None
        if cond_channels > 0:
            self.cond = nn.Sequential(nn.Conv2d(cond_channels, cond_hidden, 1), nn.GELU(),
                                      nn.Conv2d(cond_hidden, 4 * dim, 1))
            nn.init.normal_(self.cond[2].weight, std=1e-2)  # start close to the plain block, but not exactly
            nn.init.zeros_(self.cond[2].bias)

    def forward(self, x, cond=None):
        if self.cond is None or cond is None:
            x = x + self.attn(self.norm1(x))
            return x + self.ffn(self.norm2(x))
        g1, b1, g2, b2 = self.cond(cond).chunk(4, dim=1)
        x = x + self.attn(self.norm1(x) * (1 + g1) + b1)
        return x + self.ffn(self.norm2(x) * (1 + g2) + b2)


class Stage(nn.ModuleList):
    """A sequence of :class:`CeTB` sharing one condition."""

    def forward(self, x, cond=None):  # type: ignore[override]
        for blk in self:
            x = blk(x, cond)
        return x


def _down(c: int, bias: bool) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c, c // 2, 3, padding=1, bias=bias), nn.PixelUnshuffle(2))


def _up(c: int, bias: bool) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c, c * 2, 3, padding=1, bias=bias), nn.PixelShuffle(2))


# -- CLIP prior ----------------------------------------------------------------------------------------------------

def register_tiny_clip_config() -> str:
    """Register :data:`TINY_CLIP_CONFIG` with open_clip (idempotent) and return its name. Tests / profiling only."""
    import open_clip

    if TINY_CLIP_NAME not in open_clip.list_models():
        d = Path(tempfile.mkdtemp(prefix="ledbench-clipcfg-"))
        (d / f"{TINY_CLIP_NAME}.json").write_text(json.dumps(TINY_CLIP_CONFIG))
        open_clip.add_model_config(d)
    return TINY_CLIP_NAME


def clip_weights_status(cfg: DAPLEDConfig) -> tuple[bool, str]:
    """Whether CLIP weights for ``cfg`` are usable now (local file, HF cache, or online), without loading them."""
    from ledbench.bench.weights import network_available

    if cfg.clip_checkpoint:
        if Path(cfg.clip_checkpoint).expanduser().is_file():
            return True, ""
        return False, (f"CLIP checkpoint {cfg.clip_checkpoint!r} does not exist; pass clip_checkpoint=FILE with an "
                       f"open_clip {cfg.clip_model} checkpoint")
    if cfg.clip_random_init:
        return True, ""
    fix = (f"CLIP weights unavailable for DAP-LED's prior: open_clip {cfg.clip_model}/{cfg.clip_pretrained} is not "
           f"in the Hugging Face cache and the network is unreachable. Fix: run once online (open_clip downloads and "
           f"caches it: python -c \"import open_clip; open_clip.create_model('{cfg.clip_model}', "
           f"pretrained='{cfg.clip_pretrained}')\"), or pass clip_checkpoint=/path/to/open_clip_model.bin, or use "
           f"the no-CLIP ablation dap_led_small.noclip_natural")
    if not cfg.clip_pretrained:
        return False, fix
    try:
        import open_clip

        pcfg = open_clip.get_pretrained_cfg(cfg.clip_model, cfg.clip_pretrained)
    except Exception:  # pragma: no cover - depends on open_clip internals
        pcfg = {}
    if not pcfg:
        return False, (f"open_clip has no pretrained tag {cfg.clip_pretrained!r} for {cfg.clip_model!r}; see "
                       f"open_clip.list_pretrained()")
    hub = (pcfg.get("hf_hub") or "").strip("/")
    if hub:
        try:
            from huggingface_hub import try_to_load_from_cache

            for fname in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
                hit = try_to_load_from_cache(hub, fname)
                if isinstance(hit, str) and os.path.isfile(hit):
                    return True, ""
        except Exception:  # pragma: no cover
            pass
    if network_available():
        return True, ""
    return False, fix


def _load_open_clip(cfg: DAPLEDConfig):
    import open_clip

    if cfg.clip_model == TINY_CLIP_NAME:
        register_tiny_clip_config()
    if cfg.clip_checkpoint:
        path = Path(cfg.clip_checkpoint).expanduser()
        if not path.is_file():
            raise WeightsUnavailable(clip_weights_status(cfg)[1])
        model = open_clip.create_model(cfg.clip_model, pretrained=None)
        open_clip.load_checkpoint(model, str(path))
        return model
    if cfg.clip_random_init:
        warnings.warn("dap_led: CLIP tower has RANDOM weights (clip_random_init=True): for tests/profiling only, "
                      "this is not DAP-LED", stacklevel=3)
        return open_clip.create_model(cfg.clip_model, pretrained=None)
    ok, why = clip_weights_status(cfg)
    if not ok:
        raise WeightsUnavailable(why)
    pcfg = open_clip.get_pretrained_cfg(cfg.clip_model, cfg.clip_pretrained)
    try:
        return open_clip.create_model(cfg.clip_model, pretrained=cfg.clip_pretrained,
                                      force_quick_gelu=bool(pcfg.get("quick_gelu", False)))
    except Exception as exc:
        raise WeightsUnavailable(f"{clip_weights_status(cfg)[1] or 'CLIP weights could not be loaded'} ({exc})") \
            from None


class ClipPrior(nn.Module):
    """Frozen open_clip ViT image tower + fixed text embeddings of the degradation prompt pairs.

    All parameters are frozen (``requires_grad=False``) and the tower always stays in eval mode. Inputs are
    ``N x 3 x H x W`` RGB in [0, 1]; they are resized (bilinear, antialiased) to the CLIP input size and normalised
    with the model's mean / std.
    """

    def __init__(self, cfg: DAPLEDConfig):
        super().__init__()
        import open_clip

        model = _load_open_clip(cfg)
        visual = model.visual
        if not hasattr(visual, "_embeds") or not hasattr(visual, "transformer"):
            raise ConfigError(f"dap_led: CLIP model {cfg.clip_model!r} has no ViT image tower; the patch-wise "
                              "heatmaps need a ViT (e.g. ViT-B-32, ViT-B-16)")
        self.input_size = int(cfg.clip_input_size or visual.image_size[0])
        if self.input_size % visual.patch_size[0] or self.input_size != visual.image_size[0]:
            raise ConfigError(f"dap_led: clip_input_size={self.input_size} must equal the CLIP model's image size "
                              f"{visual.image_size[0]} (positional embeddings are not interpolated)")
        self.grid = self.input_size // visual.patch_size[0]
        self.mode, self.token_source = cfg.clip_mode, cfg.clip_tokens
        self.logit_scale = float(cfg.heatmap_logit_scale)
        self.names = tuple(cfg.prompt_names)
        mean = getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
        std = getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        # text embeddings of (degraded, clean) per degradation, prompt-ensembled; computed once, text tower dropped
        try:
            tokenizer = open_clip.get_tokenizer(cfg.clip_model)
        except Exception:
            tokenizer = open_clip.SimpleTokenizer(context_length=getattr(model, "context_length", 77))
        model.eval()
        embs = []
        with torch.no_grad():
            for pair in cfg.prompts:
                sides = []
                for side in pair.split("|"):
                    texts = [t.strip() for t in side.split(";") if t.strip()]
                    e = F.normalize(model.encode_text(tokenizer(texts)).float(), dim=-1).mean(0)
                    sides.append(F.normalize(e, dim=-1))
                embs.append(torch.stack(sides))
        self.register_buffer("text_emb", torch.stack(embs), persistent=False)  # K x 2 x E
        self.visual = visual
        for p in self.visual.parameters():
            p.requires_grad_(False)
        self.train(False)
        del model

    def train(self, mode: bool = True):  # the CLIP tower never leaves eval mode
        return super().train(False)

    @property
    def embed_dim(self) -> int:
        return int(self.text_emb.shape[-1])

    @property
    def num_layers(self) -> int:
        return len(self.visual.transformer.resblocks)

    def prep(self, x, size: int | None = None):
        size = size or self.input_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    def run(self, x_norm, layers: tuple[int, ...] = (), token_source: str | None = None):
        """Run the tower on normalised ``B x 3 x R x R``: (pooled B x E, tokens B x g x g x E, [layer outputs]).

        ``layers``: block indices whose output residual streams (``B x (1 + g*g) x D``, class token first) are
        returned. ``token_source``: ``final`` (patch tokens after the last block, ``ln_post`` and ``proj``) or
        ``value`` (MaskCLIP-style: the last block's attention replaced by each token attending only to itself,
        i.e. its value embedding through ``out_proj``, then the block's MLP, ``ln_post`` and ``proj``); default
        the config's ``clip_tokens``. The pooled embedding always comes from the unmodified tower.
        """
        v = self.visual
        source = token_source or self.token_source
        blocks = v.transformer.resblocks
        batch_first = getattr(v.transformer, "batch_first", True)
        h = v._embeds(x_norm)
        if not batch_first:
            h = h.transpose(0, 1)
        inter, last_in = [], None
        for i, blk in enumerate(blocks):
            if i == len(blocks) - 1:
                last_in = h
            h = blk(h)
            if i in layers:
                inter.append(h if batch_first else h.transpose(0, 1))
        if not batch_first:
            h, last_in = h.transpose(0, 1), last_in.transpose(0, 1)
        pooled, tokens = v._pool(h)
        if source == "value":
            _, tokens = v._pool(_self_attending_block(blocks[-1], last_in))
        if v.proj is not None:
            pooled, tokens = pooled @ v.proj, tokens @ v.proj
        b = x_norm.shape[0]
        return pooled, tokens.reshape(b, self.grid, self.grid, -1), inter

    def encode(self, x, scales: tuple[int, ...]):
        """Multi-scale encoding of ``x`` in [0, 1]: (unit pooled embedding B x E, [unit token maps B x E x h x w]).

        ``window`` mode (``clip_mode``): at scale ``s`` one token covers ``s * patch`` pixels of ``x`` (32 and 64
        px for ViT-B/32 with scales (1, 2)) whatever the image size: ``x`` is shrunk by ``s`` (s x s box
        average), padded
        (replicate, bottom / right) to a multiple of the patch and at least one window, cut into CLIP-input-sized
        windows on the token grid (stride one window; the last row / column of windows is moved back to end at the
        border, overlaps averaged), and the token maps are stitched; the map has ``ceil(H / (s * patch))`` x
        ``ceil(W / (s * patch))`` tokens. The pooled embedding is the normalised mean of the scale-``scales[0]``
        windows' embeddings. ``resize`` mode (the earlier behaviour): ``x`` is resized to ``s * R`` square and cut
        into ``s x s`` crops, so the pixels per token depend on the image size.
        """
        if self.mode == "resize":
            return self._encode_resize(x, scales)
        pooled, token_maps = None, []
        for s in scales:
            tok, pw = self._encode_windows(x, s)
            token_maps.append(F.normalize(tok.float(), dim=1))
            if pooled is None:
                pooled = pw
        return F.normalize(pooled.float(), dim=-1), token_maps

    def _encode_windows(self, x, s: int):
        r, p = self.input_size, self.input_size // self.grid
        b, _, h, w = x.shape
        if s > 1:  # area (box) downscale: local to s x s blocks, so a crop on the block grid gives the same pixels
            x = F.avg_pool2d(x, s, ceil_mode=True)
        hs, ws = x.shape[-2:]
        th, tw = -(-hs // p), -(-ws // p)  # tokens covering the image
        hp, wp = max(r, th * p), max(r, tw * p)
        x = F.pad(x, (0, wp - ws, 0, hp - hs), mode="replicate") if (hp, wp) != (hs, ws) else x
        x = (x - self.mean) / self.std
        ys, xs = _window_starts(hp, r), _window_starts(wp, r)
        crops = torch.cat([x[..., y:y + r, z:z + r] for y in ys for z in xs], 0)  # (nwin * b) x 3 x r x r
        pooled, tok, _ = self.run(crops)
        g, e = self.grid, tok.shape[-1]
        acc = tok.new_zeros(b, e, hp // p, wp // p)
        cnt = tok.new_zeros(1, 1, hp // p, wp // p)
        for i, (y, z) in enumerate((y, z) for y in ys for z in xs):
            acc[..., y // p:y // p + g, z // p:z // p + g] += tok[i * b:(i + 1) * b].permute(0, 3, 1, 2)
            cnt[..., y // p:y // p + g, z // p:z // p + g] += 1
        tokens = (acc / cnt)[..., :th, :tw]
        pooled = F.normalize(pooled.float(), dim=-1).reshape(len(ys) * len(xs), b, -1).mean(0)
        return tokens, pooled

    def _encode_resize(self, x, scales):
        r = self.input_size
        pooled, token_maps = None, []
        for s in scales:
            xs = self.prep(x, r * s)
            b = xs.shape[0]
            if s > 1:
                xs = xs.reshape(b, 3, s, r, s, r).permute(0, 2, 4, 1, 3, 5).reshape(b * s * s, 3, r, r)
            p, tok, _ = self.run(xs)
            g, e = self.grid, tok.shape[-1]
            tok = tok.reshape(b, s, s, g, g, e).permute(0, 5, 1, 3, 2, 4).reshape(b, e, s * g, s * g)
            token_maps.append(F.normalize(tok.float(), dim=1))
            if s == 1:
                pooled = p
        if pooled is None:
            pooled = self.run(self.prep(x))[0]
        return F.normalize(pooled.float(), dim=-1), token_maps

    def heatmap(self, tokens):
        """Degradation heatmaps ``B x K x h x w`` in [0, 1] from unit tokens ``B x E x h x w``."""
        sim = torch.einsum("behw,kse->bkshw", tokens, self.text_emb.to(tokens.dtype))
        return torch.softmax(self.logit_scale * sim, dim=2)[:, :, 0]

    def prompt_probs(self, pooled):
        """Probability of the degraded prompt per pair, ``B x K``, from unit image embeddings ``B x E``."""
        sim = torch.einsum("be,kse->bks", pooled, self.text_emb.to(pooled.dtype))
        return torch.softmax(self.logit_scale * sim, dim=2)[:, :, 0]


def _window_starts(n: int, r: int) -> list[int]:
    """Window origins along a side of ``n`` pixels (``n >= r``): 0, r, 2r, ... and a last one ending at ``n``."""
    starts = list(range(0, n - r + 1, r))
    if starts[-1] != n - r:
        starts.append(n - r)
    return starts


def _self_attending_block(blk, x):
    """An open_clip ``ResidualAttentionBlock`` on ``x`` (``B x L x D``) with its attention matrix replaced by the
    identity (each token attends only to itself): ``x + out_proj(V ln_1(x))``, then the block's MLP residual."""
    attn = blk.attn
    d = x.shape[-1]
    v = F.linear(blk.ln_1(x), attn.in_proj_weight[2 * d:], attn.in_proj_bias[2 * d:] if attn.in_proj_bias
                 is not None else None)
    x = x + blk.ls_1(attn.out_proj(v))
    return x + blk.ls_2(blk.mlp(blk.ln_2(x)))


class TokenCrossAttention(nn.Module):
    """Cross-attention from latent features (queries, ``B x C x h x w``) to CLIP tokens (``B x N x E``)."""

    def __init__(self, dim: int, embed_dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(embed_dim, dim)
        self.v = nn.Linear(embed_dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, tokens):
        b, c, h, w = x.shape
        q = self.q(self.norm(x.flatten(2).transpose(1, 2)))
        k, v = self.k(tokens), self.v(tokens)
        split = lambda t: t.reshape(b, t.shape[1], self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        o = F.scaled_dot_product_attention(split(q), split(k), split(v))
        o = self.out(o.transpose(1, 2).reshape(b, h * w, c))
        return x + o.transpose(1, 2).reshape(b, c, h, w)


class CCM(nn.Module):
    """CLIP-guided cross-fusion module (our design; see the module docstring)."""

    def __init__(self, heat_channels: int, ccm_dim: int, stages: tuple[str, ...], latent_dim: int, embed_dim: int,
                 heads: int):
        super().__init__()
        self.heat_embed = nn.ModuleDict({
            s: nn.Sequential(nn.Conv2d(heat_channels, ccm_dim, 3, padding=1), nn.GELU(),
                             nn.Conv2d(ccm_dim, ccm_dim, 3, padding=1)) for s in stages})
        self.fuse = TokenCrossAttention(latent_dim, embed_dim, heads)
        self.global_film = nn.Linear(embed_dim, 2 * latent_dim)
        nn.init.normal_(self.global_film.weight, std=1e-2)
        nn.init.zeros_(self.global_film.bias)

    def fuse_latent(self, x, tokens, pooled):
        x = self.fuse(x, tokens)
        g, b = self.global_film(pooled).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return x * (1 + g) + b


# -- the network ---------------------------------------------------------------------------------------------------

class DAPLEDNet(nn.Module):
    """DAP-LED network (our re-implementation). ``forward(x)`` maps ``N x 3 x H x W`` in [0, 1] (H, W multiples of
    8) to the restored image (unclamped); ``forward(x, return_aux=True)`` also returns the heatmaps.

    The frozen CLIP tower is held outside the module tree (``self.clip``, not a registered child), so the state
    dict, ``parameters()`` and DDP only see the restoration network; ``.to()`` moves CLIP along.
    """

    STAGES = ("dec3", "dec2", "dec1", "refine")

    def __init__(self, cfg: DAPLEDConfig, clip: ClipPrior | None = None):
        super().__init__()
        cfg = resolve_config(cfg)
        self.cfg = cfg
        d, nb, hd, ffn, bias, ln = (cfg.dim, cfg.num_blocks, cfg.heads, cfg.ffn_expansion_factor, cfg.bias,
                                    cfg.layernorm_type)
        self._clip: list[ClipPrior] = []
        use_clip = cfg.clip_prior and (cfg.ccm or cfg.cetb)
        if use_clip:
            self._clip.append(clip if clip is not None else ClipPrior(cfg))
        self.use_ccm = use_clip and cfg.ccm
        self.use_cetb = use_clip and cfg.cetb
        self.heat_channels = len(cfg.prompts) * len(cfg.clip_scales)
        cond_ch = (cfg.ccm_dim if self.use_ccm else self.heat_channels) if self.use_cetb else 0
        cond_stages = tuple(s for s in self.STAGES if s != "refine" or cfg.cetb_refinement) if self.use_cetb else ()
        self.cond_stages = cond_stages

        def stage(n, c, h, name):
            cc = cond_ch if name in cond_stages else 0
            return Stage([CeTB(c, h, ffn, bias, ln, cc, cfg.cetb_hidden) for _ in range(n)])

        self.patch_embed = nn.Conv2d(3, d, 3, padding=1, bias=bias)
        self.encoder_level1 = stage(nb[0], d, hd[0], "enc1")
        self.down1_2 = _down(d, bias)
        self.encoder_level2 = stage(nb[1], 2 * d, hd[1], "enc2")
        self.down2_3 = _down(2 * d, bias)
        self.encoder_level3 = stage(nb[2], 4 * d, hd[2], "enc3")
        self.down3_4 = _down(4 * d, bias)
        self.latent = stage(nb[3], 8 * d, hd[3], "latent")
        self.up4_3 = _up(8 * d, bias)
        self.reduce_chan_level3 = nn.Conv2d(8 * d, 4 * d, 1, bias=bias)
        self.decoder_level3 = stage(nb[2], 4 * d, hd[2], "dec3")
        self.up3_2 = _up(4 * d, bias)
        self.reduce_chan_level2 = nn.Conv2d(4 * d, 2 * d, 1, bias=bias)
        self.decoder_level2 = stage(nb[1], 2 * d, hd[1], "dec2")
        self.up2_1 = _up(2 * d, bias)
        self.decoder_level1 = stage(nb[0], 2 * d, hd[0], "dec1")
        self.refinement = stage(cfg.num_refinement_blocks, 2 * d, hd[0], "refine")
        self.output = nn.Conv2d(2 * d, 3, 3, padding=1, bias=bias)
        self.ccm = None
        if self.use_ccm:
            self.ccm = CCM(self.heat_channels, cfg.ccm_dim, cond_stages, 8 * d, self.clip.embed_dim, hd[3])

    @property
    def clip(self) -> ClipPrior | None:
        return self._clip[0] if self._clip else None

    def _apply(self, fn, *args, **kwargs):  # move the frozen CLIP tower along with .to() / .cuda() / .half()
        super()._apply(fn, *args, **kwargs)
        for c in getattr(self, "_clip", []):
            c._apply(fn, *args, **kwargs)
        return self

    def prior(self, x):
        """CLIP prior of ``x`` in [0, 1]: dict with ``pooled`` (B x E), ``tokens`` (B x N x E, all scales + the
        global embedding) and ``heatmaps`` (list per scale of B x K x sg x sg in [0, 1]). No gradient flows."""
        clip = self.clip
        with torch.no_grad():
            pooled, token_maps = clip.encode(x.float(), self.cfg.clip_scales)
            heat = [clip.heatmap(t) for t in token_maps]
            tokens = torch.cat([t.flatten(2).transpose(1, 2) for t in token_maps] + [pooled[:, None]], dim=1)
        return {"pooled": pooled, "tokens": tokens, "heatmaps": heat}

    def _conditions(self, heat, sizes):
        conds = {}
        for name in self.cond_stages:
            h, w = sizes[name]
            m = torch.cat([F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False) for t in heat], 1)
            conds[name] = self.ccm.heat_embed[name](m) if self.ccm is not None else m
        return conds

    def forward(self, x, return_aux: bool = False):
        prior = self.prior(x) if self._clip else None
        h, w = x.shape[-2:]
        if h % 8 or w % 8:
            raise ValueError(f"DAPLEDNet needs H and W multiples of 8 (got {h}x{w}); the enhancer pads for you")
        sizes = {"dec3": (h // 4, w // 4), "dec2": (h // 2, w // 2), "dec1": (h, w), "refine": (h, w)}
        conds = self._conditions(prior["heatmaps"], sizes) if self.use_cetb else {}
        e1 = self.encoder_level1(self.patch_embed(x))
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        lat = self.latent(self.down3_4(e3))
        if self.ccm is not None:
            lat = self.ccm.fuse_latent(lat, prior["tokens"].to(lat.dtype), prior["pooled"].to(lat.dtype))
        d3 = self.reduce_chan_level3(torch.cat([self.up4_3(lat), e3], 1))
        d3 = self.decoder_level3(d3, conds.get("dec3"))
        d2 = self.reduce_chan_level2(torch.cat([self.up3_2(d3), e2], 1))
        d2 = self.decoder_level2(d2, conds.get("dec2"))
        d1 = self.decoder_level1(torch.cat([self.up2_1(d2), e1], 1), conds.get("dec1"))
        d1 = self.refinement(d1, conds.get("refine"))
        out = self.output(d1) + x
        if return_aux:
            return out, {"heatmaps": prior["heatmaps"] if prior else []}
        return out


def build_model(cfg: DAPLEDConfig, clip: ClipPrior | None = None) -> DAPLEDNet:
    """Build :class:`DAPLEDNet` from a (possibly unresolved) config."""
    return DAPLEDNet(cfg, clip)


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def arch_dict(cfg: DAPLEDConfig) -> dict[str, Any]:
    """The architecture-defining fields of a resolved config (stored in checkpoints, compared on load)."""
    r = resolve_config(cfg)
    d = config_to_dict(r)
    return {k: d[k] for k in ARCH_FIELDS}


def arch_mismatch(saved: dict, cfg: DAPLEDConfig) -> dict[str, tuple[Any, Any]]:
    """``{field: (checkpoint value, config value)}`` for every architecture field that differs (fields added later
    than a checkpoint, :data:`_LATER_ARCH_FIELDS`, are skipped when the checkpoint lacks them)."""
    want = arch_dict(cfg)
    return {k: (saved.get(k), want.get(k)) for k in want if _norm(saved.get(k)) != _norm(want.get(k))
            and not (k in _LATER_ARCH_FIELDS and k not in saved)}


# -- the enhancer --------------------------------------------------------------------------------------------------

NOCLIP_SYNTH = WeightsSpec(
    filename="dap_led_small_noclip_synth.pt",
    sha256="0b7364f1d49190d0c2fc45e493bc212fb55f88930005ce5a48b2f7923d7ef404",
    packaged="enhancers/weights/dap_led_small_noclip_synth.pt",
    license="same as ledbench",
    source="trained by ledbench on CPU (docs/dap_led.md: command, log, wall time)",
    paper="arXiv 2409.13496 (architecture family only; NOT the authors' weights)",
    state_dict_key="model",
    size_mb=4.2,
    config={"preset": "small", "clip_prior": False},  # so it is a tag of dap_led_small only
    notes="No-CLIP ablation (clip_prior=False) of our DAP-LED re-implementation, small preset, trained on pairs "
          "synthesised from package-bundled images. Not DAP-LED's CLIP prior, not the paper's model.",
)


NOCLIP_NATURAL = WeightsSpec(
    filename="dap_led_small_noclip_natural.pt",
    sha256="28b5d6631dbc656a08c58d13309536e3f644ea3ac5c997f107b009ef30dfeb8e",
    packaged="enhancers/weights/dap_led_small_noclip_natural.pt",
    license="same as ledbench (training photos: COCO train2017 images, CC BY 4.0; matplotlib's grace_hopper.jpg)",
    source="trained by ledbench on CPU with runs/dap_led_train_natural.yaml (docs/dap_led.md section 4.2: data, "
           "command, log, wall time)",
    paper="arXiv 2409.13496 (architecture family only; NOT the authors' weights)",
    state_dict_key="model",
    size_mb=4.2,
    config={"preset": "small", "clip_prior": False},  # a tag of dap_led_small only
    notes="No-CLIP ablation (clip_prior=False) of our DAP-LED re-implementation, small preset, fine-tuned from "
          "noclip_synth on natural photos (not in synth_mini) degraded on the fly; best of 7 validations on held-out "
          "photos. Not DAP-LED's CLIP prior, not the paper's model.",
)


LOLBLUR_USER = WeightsSpec(
    filename="dap_led_lolblur.pt",
    sha256=None,
    license="yours",
    source="trained by the user with runs/dap_led_lolblur.yaml (exported to out/dap_led_lolblur.pt); put the file "
           "in $LEDBENCH_WEIGHTS or import it with `ledbench weights import DIR`",
    paper="arXiv 2409.13496 (architecture family only; NOT the authors' weights)",
    state_dict_key="model",
    config={"preset": "base"},
    notes="A user-trained full model (base preset, CLIP prior) of our DAP-LED re-implementation, scored by "
          "runs/dap_led_lolblur_eval.yaml. No such file is shipped and none exists publicly.",
)


class DAPLED(TorchEnhancer):
    """DAP-LED enhancer (our re-implementation; see the module docstring and docs/dap_led.md).

    Input / output: ``N x 3 x H x W`` float RGB in [0, 1]. The input is reflect-padded to a multiple of 8 (three
    2x downsamplings) and cropped back; ``tile=`` enables overlapping tiles, ``amp=True`` float16 autocast on CUDA
    (both inherited from :class:`TorchEnhancer`). Checkpoints written by ``ledbench train dap_led`` store the
    architecture, and a checkpoint's stored architecture is what gets built, whatever the registered name's preset:
    ``dap_led_small:weights=F`` and ``dap_led:weights=F`` build the same network (a no-CLIP checkpoint under
    ``dap_led`` builds the no-CLIP model, with no CLIP tower); the identity records the built architecture. Only a
    field the user set explicitly (``create_enhancer(..., clip_prior=True)``, ``ledbench enhance ... key=value``) or a
    weights tag declares, and that disagrees with the checkpoint, is an error (one line per conflict list). A
    checkpoint without a stored architecture (a bare state dict) is loaded into the configured one, as before.
    """

    Config = DAPLEDConfig
    weights_tags = {"noclip_synth": NOCLIP_SYNTH, "noclip_natural": NOCLIP_NATURAL, "lolblur": LOLBLUR_USER}
    default_tag = None
    pad_multiple = 8
    pad_mode = "reflect"
    summary = "DAP-LED re-implementation (Restormer-style 4-level transformer + CLIP degradation prior)"
    paper = "Wang, Wu & Wang, DAP-LED, arXiv 2409.13496 (ICRA 2025)"

    @classmethod
    def availability(cls, tag: str | None = None, what: str | None = None) -> tuple[bool, str]:
        """Weights check; for a CLIP-prior model also whether CLIP weights are cached / reachable."""
        if tag is not None:
            return super().availability(tag, what)
        cfg = DAPLEDConfig()
        # no checkpoint means unavailable whatever CLIP's state; say what the full model needs without importing
        # open_clip (seconds of import time on every `ledbench run`)
        msg = ("no public DAP-LED checkpoint exists (the authors released none): train one, e.g. on LOL-Blur "
               "with a GPU: `ledbench train dap_led runs/dap_led_lolblur.yaml data=lolblur:ROOT "
               "val_data=lolblur:ROOT` and score it as dap_led.lolblur (runs/dap_led_lolblur_eval.yaml), or pass "
               f"weights=out/best.pt; the model's CLIP prior needs open_clip {cfg.clip_model}/{cfg.clip_pretrained} "
               "weights (downloaded and cached by open_clip when online) or clip_checkpoint=FILE. Offline, use the "
               "no-CLIP ablations dap_led_small.noclip_natural or dap_led_small.noclip_synth")
        return False, msg

    def build_model(self):
        self.config = resolve_config(self.config)
        return DAPLEDNet(self.config)

    def identity(self) -> dict[str, Any]:
        """The plugin identity; ``clip_mode`` / ``clip_tokens`` (added later) are left out when the network runs no
        CLIP tower, where they change nothing, so the no-CLIP checkpoints keep their config hash and cache keys."""
        ident = super().identity()
        cfg = self.config
        if not (cfg.clip_prior and (cfg.ccm or cfg.cetb)):
            ident["config"] = {k: v for k, v in ident["config"].items() if k not in _LATER_ARCH_FIELDS}
        return ident

    @classmethod
    def make_config(cls, tag: str | None = None, overrides: Any = None, *, fixed: Any = None,
                    owner: str | None = None) -> DAPLEDConfig:
        """As :meth:`WeightedPlugin.make_config`; the result also remembers which fields BIND a checkpoint's
        architecture: the user's ``overrides`` and the tag's declared config (not the registered name's preset, which
        a checkpoint that stores its architecture replaces). Kept as an attribute, not a field: not in the identity."""
        config = super().make_config(tag, overrides, fixed=fixed, owner=owner)
        spec = cls.weights_tags.get(tag or cls.default_tag or "")
        object.__setattr__(config, _BINDING, frozenset(overrides or ()) | frozenset(spec.config if spec else ()))
        return config

    def setup(self) -> None:
        if self.weights_path is not None:
            # an unreadable / truncated / foreign file is one line here, before any CLIP tower is looked for
            obj = safe_torch_load(self.weights_path, trust=self.trust_weights, what=self.name)
            saved = obj.get("arch") if isinstance(obj, dict) else None
            if isinstance(saved, dict):
                self.config = self._config_from_checkpoint(saved)
        super().setup()

    def _config_from_checkpoint(self, saved: dict) -> DAPLEDConfig:
        """The config with the checkpoint's stored architecture applied (the checkpoint wins over the registered
        name's preset); a field the user set explicitly (or the tag declares) that disagrees is a ConfigError. A
        config passed whole (``DAPLED(cfg, weights=...)``, not built by :meth:`make_config`) binds every field."""
        binding = getattr(self.config, _BINDING, None)
        requested = resolve_config(self.config)
        diff = arch_mismatch(saved, requested)
        if binding is None:
            bad = diff
        else:
            from_preset = "preset" in binding
            bad = {k: v for k, v in diff.items() if k in binding or (from_preset and k in _PRESET_FIELDS)}
        if bad:
            rows = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}"
                             + (f" (from preset={requested.preset!r})" if binding is not None and k not in binding
                                else "") for k, (a, b) in bad.items())
            keys = ", ".join(sorted({k if binding is None or k in binding else "preset" for k in bad}))
            fix = (f"set {keys} to the checkpoint's values in the config" if binding is None else
                   f"drop the {keys} override (the architecture is read from the checkpoint) or use a checkpoint "
                   "trained with it")
            raise ConfigError(f"{self.name}: weights {str(self.weights_path)!r} were trained with a different "
                              f"architecture ({rows}); {fix}")
        arch = {k: saved[k] for k in ARCH_FIELDS if k in saved}
        out = replace_config(requested, arch, owner=self.name)
        if len(out.prompt_names) != len(out.prompts):  # prompt names are labels only (heatmap file names)
            out = dataclasses.replace(out, prompt_names=tuple(f"prompt{i}" for i in range(len(out.prompts))))
        match = [p for p, v in PRESETS.items() if all(_norm(getattr(out, k)) == _norm(v[k]) for k in v)]
        if match and requested.preset not in match:  # name the preset the checkpoint's backbone is, if it is one
            out = dataclasses.replace(out, preset=match[0])
        return resolve_config(out)

    def forward(self, x):
        return self.model(x)

    def heatmaps(self, x):
        """Degradation heatmaps of ``x`` (N x 3 x H x W in [0, 1]): ``{f"{name}_s{scale}": N x h x w in [0, 1]}``.

        Raises ConfigError for models without a CLIP prior (the no-CLIP ablation has no heatmaps).
        """
        if not self.model._clip:
            raise ConfigError(f"{self.name} has no CLIP prior (clip_prior=False or ccm=cetb=False), so there are no "
                              "degradation heatmaps to save; use a CLIP-prior DAP-LED model")
        with torch.inference_mode():
            prior = self.model.prior(x.to(self.device).float())
        out = {}
        for s, hm in zip(self.config.clip_scales, prior["heatmaps"]):
            for k, name in enumerate(self.config.prompt_names):
                out[f"{name}_s{s}"] = hm[:, k].float().cpu()
        return out


def _norm(v):
    if isinstance(v, (list, tuple)):
        return [_norm(t) for t in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def heatmap_auc(clip: ClipPrior, image, mask, degradation: str, scale: int = 1) -> float:
    """Area under the ROC curve of one degradation heatmap against a known pixel mask (a sanity check).

    ``image``: H x W x 3 float RGB in [0, 1]; ``mask``: H x W bool, True where the image was degraded;
    ``degradation``: a prompt name (``darkness``, ``blur`` ...); ``scale``: the heatmap scale. A token is a
    positive (negative) when at least 90 % of its pixels are inside (outside) the mask; mixed tokens are left out.
    AUC = P(heat of a positive token > heat of a negative one) (Mann-Whitney U / (n_pos n_neg)); 0.5 is chance.
    """
    import numpy as np
    from scipy.stats import mannwhitneyu

    k = clip.names.index(degradation)
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        _, maps = clip.encode(x, (scale,))
        heat = clip.heatmap(maps[0])[0, k].numpy()
    th, tw = heat.shape
    m = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
    frac = F.adaptive_avg_pool2d(F.interpolate(m, size=(th * 8, tw * 8), mode="nearest"), (th, tw))[0, 0].numpy()
    pos, neg = heat[frac >= 0.9], heat[frac <= 0.1]
    if not len(pos) or not len(neg):
        raise ValueError("heatmap_auc: the mask leaves no clean or no degraded token")
    return float(mannwhitneyu(pos, neg, alternative="two-sided").statistic / (len(pos) * len(neg)))


def save_heatmaps(enhancer, x, out_dir, stem: str) -> list[str]:
    """Write the degradation heatmaps of ``x`` as 8-bit grayscale PNGs (0 = clean, 255 = degraded).

    Args:
        enhancer: a :class:`DAPLED` with a CLIP prior (anything else raises ConfigError naming the fix).
        x: ``1 x 3 x H x W`` (or ``N x ...``; image ``i`` gets suffix ``_i``) float RGB in [0, 1].
        out_dir: folder (created).
        stem: file-name stem; files are ``{stem}_heat_{degradation}_s{scale}.png`` upsampled (nearest) to H x W.

    Returns:
        The written paths.
    """
    from PIL import Image

    if not hasattr(enhancer, "heatmaps"):
        raise ConfigError(f"{getattr(enhancer, 'name', enhancer)!r} has no degradation heatmaps; --save-heatmaps "
                          "needs a DAP-LED model with a CLIP prior")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    maps = enhancer.heatmaps(x)
    h, w = x.shape[-2:]
    paths = []
    for key, m in maps.items():
        up = F.interpolate(m[:, None], size=(h, w), mode="nearest")[:, 0]
        for i in range(up.shape[0]):
            arr = (up[i].clamp(0, 1).numpy() * 255.0 + 0.5).astype("uint8")
            suffix = f"_{i}" if up.shape[0] > 1 else ""
            p = out_dir / f"{stem}{suffix}_heat_{key}.png"
            Image.fromarray(arr, mode="L").save(p)
            paths.append(str(p))
    return paths
