"""Built-in enhancers: one line per architecture, where the registry learns its name and import string.

Pure python (no torch import). Weight tags (``sci.medium``, ``nafnet.gopro_width32`` ...) are not listed here:
each class declares them in ``weights_tags``, and the registry derives the ``arch.tag`` names from that. A
``config=`` here names a preset of a class (``dap_led_small``); only the tags whose config agrees with it belong to
that name. Sources, licenses and released checkpoints: the ``weights_tags`` of each class.
"""

from __future__ import annotations

from ledbench.enhancers.registry import ENHANCERS

_M = "ledbench.enhancers"

# classical, weight-free
ENHANCERS.register("identity", f"{_M}.classical:Identity")
ENHANCERS.register("gamma", f"{_M}.classical:Gamma")
ENHANCERS.register("auto_gamma", f"{_M}.classical:AutoGamma")
ENHANCERS.register("clahe", f"{_M}.classical:CLAHE")
ENHANCERS.register("msr", f"{_M}.classical:MultiScaleRetinex", aliases=("retinex",))
ENHANCERS.register("unsharp", f"{_M}.classical:Unsharp")
ENHANCERS.register("wiener", f"{_M}.classical:Wiener")
ENHANCERS.register("richardson_lucy", f"{_M}.classical:RichardsonLucy", aliases=("rl",))

# low-light enhancement
ENHANCERS.register("zero_dce", f"{_M}.zero_dce:ZeroDCEEnhancer")
ENHANCERS.register("zero_dce_pp", f"{_M}.zero_dce:ZeroDCEPPEnhancer")
ENHANCERS.register("sci", f"{_M}.sci:SCIEnhancer")
ENHANCERS.register("ruas", f"{_M}.ruas:RUASEnhancer")
ENHANCERS.register("iat", f"{_M}.iat:IATEnhancer")
ENHANCERS.register("retinexformer", f"{_M}.retinexformer:RetinexFormerEnhancer")

# deblurring
ENHANCERS.register("mimo_unet", f"{_M}.mimo_unet:MIMOUNetEnhancer")
ENHANCERS.register("mimo_unet_plus", f"{_M}.mimo_unet:MIMOUNetPlusEnhancer")
ENHANCERS.register("nafnet", f"{_M}.nafnet:NAFNetEnhancer")
ENHANCERS.register("restormer", f"{_M}.restormer:RestormerEnhancer")

# joint low-light + deblur
ENHANCERS.register("lednet", f"{_M}.lednet:LEDNetEnhancer")
ENHANCERS.register("darkir", f"{_M}.darkir:DarkIREnhancer")

# DAP-LED (our re-implementation): the base and small presets; the shipped no-CLIP ablation is the tag
# dap_led_small.noclip_synth (docs/dap_led.md)
ENHANCERS.register("dap_led", f"{_M}.dap_led:DAPLED", config={"preset": "base"})
ENHANCERS.register("dap_led_small", f"{_M}.dap_led:DAPLED", config={"preset": "small"})
