"""DAP-LED training objective: Charbonnier + L_identity + L_clip.

Provenance: the three names come from a SECONDARY source only (the sciencestack TL;DR of arXiv 2409.13496,
REFERENCE.md 1.3); the paper's abstract names none of them and their definitions are not public. The forms below
are ANCHORS (CLIP-LIT) or OURS:

* Charbonnier ``mean(sqrt((out - gt)^2 + eps^2))`` (REFERENCE.md 2.3; eps 1e-3 is the MPRNet/Restormer-family
  convention, ours).
* L_identity: frozen-CLIP feature distance. ANCHOR: CLIP-LIT's ``clip_MSE`` (github.com/ZhexinLiang/CLIP-LIT
  clip_score.py), a weighted sum over intermediate layers of the MSE between features of two images. OURS: the
  residual streams of ViT blocks of the tower that also builds the heatmaps (CLIP-LIT uses RN101 stages), layers
  evenly spaced through the tower (last one weighted 0.5 like CLIP-LIT's ``[1, 1, 1, 1, 0.5]``), each token's
  feature layer-normalised (zero mean, unit variance over channels, no affine) before the MSE, because a few
  channels of late CLIP layers are orders of magnitude larger than the rest and would otherwise set the loss
  scale; the reference is the ground truth (``identity_target="gt"``; CLIP-LIT, being unpaired, uses the input).
* L_clip: prompt-pair softmax. ANCHOR: CLIP-LIT ``L_clip``: ``softmax(100 * cos(E_img(out), [t_degraded,
  t_clean]))[degraded]`` averaged over the batch; ours averages it over the degradation prompt pairs of the model
  config (darkness, blur, noise, over-exposure), with handcrafted (not learned) prompts.

Both CLIP terms share ONE gradient-carrying pass of the output through the tower (the output resized to CLIP's
input, whole crop), plus one no-grad pass of the reference for L_identity. All inputs are ``N x 3 x H x W`` RGB in
[0, 1]. Lower is better for every term. The CLIP tower is frozen: gradients flow through it to the restored image
only.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ledbench.bench.errors import ConfigError


def charbonnier(x, y, eps: float = 1e-3):
    """Mean Charbonnier distance ``mean(sqrt((x - y)^2 + eps^2))``."""
    return torch.sqrt((x - y) ** 2 + eps * eps).mean()


class DAPLEDLoss(nn.Module):
    """Weighted sum ``w_charb * Charbonnier + w_identity * L_identity + w_clip * L_clip``.

    Args:
        clip: a :class:`~ledbench.enhancers.dap_led.ClipPrior` (needed when ``w_identity`` or ``w_clip`` > 0).
        identity_layers: ViT block indices for L_identity (() = 4 evenly spaced blocks ending at the last).
        identity_weights: per-layer weights (() = ones, last 0.5).
        identity_target: ``gt`` or ``input``.

    ``forward(out, gt, inp)`` returns ``(total, parts)`` where ``parts`` maps ``charb``, ``identity``, ``clip`` to
    detached unweighted scalar tensors (0 for disabled terms) and ``charb_w``, ``identity_w``, ``clip_w`` to the
    weighted terms (their sum is ``total``), so the scale of each term is logged.
    """

    def __init__(self, *, charb_eps: float = 1e-3, w_charb: float = 1.0, w_identity: float = 0.0,
                 w_clip: float = 0.0, clip=None, identity_layers: tuple[int, ...] = (),
                 identity_weights: tuple[float, ...] = (), identity_target: str = "gt"):
        super().__init__()
        self.charb_eps, self.w_charb, self.w_identity, self.w_clip = charb_eps, w_charb, w_identity, w_clip
        if (w_identity > 0 or w_clip > 0) and clip is None:
            raise ConfigError("dap_led loss: w_identity / w_clip > 0 need a CLIP tower; set them to 0 for the no-CLIP "
                              "ablation or provide CLIP weights (clip_pretrained / clip_checkpoint)")
        if identity_target not in ("gt", "input"):
            raise ConfigError(f"dap_led loss: identity_target must be 'gt' or 'input', got {identity_target!r}")
        self._clip = [clip] if clip is not None else []  # not a child module: never trained, never saved
        self.identity_target = identity_target
        if clip is not None:
            n = clip.num_layers
            layers = tuple(identity_layers) or tuple(sorted({max(0, math.ceil(n * (i + 1) / 4) - 1) for i in range(4)}))
            if any(not 0 <= li < n for li in layers):
                raise ConfigError(f"dap_led loss: identity_layers {layers} out of range for a {n}-block CLIP tower")
            weights = tuple(identity_weights) or tuple([1.0] * (len(layers) - 1) + [0.5])
            if len(weights) != len(layers):
                raise ConfigError(f"dap_led loss: {len(layers)} identity_layers but {len(weights)} identity_weights")
            self.identity_layers, self.identity_weights = layers, weights

    @property
    def clip(self):
        return self._clip[0] if self._clip else None

    def clip_terms(self, out, ref=None, identity: bool = True, prompts: bool = True):
        """``(L_identity, L_clip)`` from one pass of ``out`` through the tower (``ref``: L_identity's reference)."""
        clip = self.clip
        layers = self.identity_layers if identity else ()
        pooled, _, f_out = clip.run(clip.prep(out.float()), layers, token_source="final")
        l_id = l_clip = out.new_zeros(())
        if identity:
            with torch.no_grad():
                _, _, f_ref = clip.run(clip.prep(ref.float()), layers, token_source="final")
            l_id = sum(w * F.mse_loss(_ln(a), _ln(b)) for w, a, b in zip(self.identity_weights, f_out, f_ref))
        if prompts:
            l_clip = clip.prompt_probs(F.normalize(pooled.float(), dim=-1)).mean()
        return l_id, l_clip

    def identity_loss(self, out, ref):
        return self.clip_terms(out, ref, identity=True, prompts=False)[0]

    def clip_loss(self, out):
        return self.clip_terms(out, identity=False, prompts=True)[1]

    def forward(self, out, gt, inp=None):
        zero = out.new_zeros(())
        l_charb = charbonnier(out.float(), gt.float(), self.charb_eps)
        total = self.w_charb * l_charb
        l_id = l_clip = zero
        if self.w_identity > 0 or self.w_clip > 0:
            ref = gt if self.identity_target == "gt" else inp
            l_id, l_clip = self.clip_terms(out, ref, identity=self.w_identity > 0, prompts=self.w_clip > 0)
            total = total + self.w_identity * l_id + self.w_clip * l_clip
        parts = {"charb": l_charb.detach(), "identity": l_id.detach(), "clip": l_clip.detach(),
                 "charb_w": (self.w_charb * l_charb).detach(), "identity_w": (self.w_identity * l_id).detach(),
                 "clip_w": (self.w_clip * l_clip).detach()}
        return total, parts


def _ln(f):
    """Per-token layer normalisation over channels (no affine): the scale-free features L_identity compares."""
    return F.layer_norm(f.float(), f.shape[-1:])
