"""Registry entries of DAP-LED (pure python: no torch import).

``dap_led`` = our re-implementation with the CLIP prior, ``base`` preset (Restormer-sized); ``dap_led_small`` = the
``small`` preset with the CLIP prior. Neither has public weights (the authors released none): train them with
``ledbench train dap_led RUNFILE.yaml`` and pass ``weights=PATH``; they also need open_clip CLIP weights.
``dap_led_small.noclip_synth`` = the NO-CLIP ABLATION (``clip_prior=False``) of the small preset, trained by ledbench
on CPU on synthesised pairs and shipped in the package (docs/dap_led.md). It is not DAP-LED's CLIP-prior model.
"""

from __future__ import annotations

from ledbench.enhancers.registry import ENHANCERS

_DAPLED = "ledbench.enhancers.dap_led:DAPLED"

ENHANCERS.register("dap_led", _DAPLED, kind="dap_led", config={"preset": "base"})
ENHANCERS.register("dap_led_small", _DAPLED, kind="dap_led", config={"preset": "small"})
ENHANCERS.register("dap_led_small.noclip_synth", _DAPLED, kind="dap_led", tag="noclip_synth",
                   config={"preset": "small", "clip_prior": False})
