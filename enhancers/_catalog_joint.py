"""Registry entries of the joint low-light + deblur baselines (pure python: no torch import).

``lednet`` = the paper model (``lednet.pth``), ``lednet.retrain`` = the BasicSR retrain (``lednet_retrain_500000.pth``,
network I/O in [-1, 1]), ``lednet.gan``; ``darkir`` = ``darkir.m`` (width 32), ``darkir.l`` (width 64).
Sources: sczhou/LEDNet@d3ee2104 ``inference_lednet.py``; cidautai/DarkIR@09102911 ``options/*/LOLBlur.yml``.
"""

from __future__ import annotations

from ledbench.enhancers.registry import ENHANCERS

_LEDNET = "ledbench.enhancers.lednet:LEDNetEnhancer"
_DARKIR = "ledbench.enhancers.darkir:DarkIREnhancer"

ENHANCERS.register("lednet", _LEDNET, kind="joint")
ENHANCERS.register("lednet.paper", _LEDNET, tag="paper", kind="joint")
ENHANCERS.register("lednet.retrain", _LEDNET, tag="retrain", kind="joint")
ENHANCERS.register("lednet.gan", _LEDNET, tag="gan", kind="joint")

ENHANCERS.register("darkir", _DARKIR, kind="joint")
ENHANCERS.register("darkir.m", _DARKIR, tag="m", config={"width": 32}, kind="joint")
ENHANCERS.register("darkir.l", _DARKIR, tag="l", config={"width": 64}, kind="joint")

#: the joint models in the order used by the LOL-Blur comparison run
JOINT_MODELS: tuple[str, ...] = ("lednet", "lednet.retrain", "darkir.m", "darkir.l")
