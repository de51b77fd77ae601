"""Deblurring baselines (lazy registration; no torch import): MIMO-UNet, MIMO-UNet+, NAFNet, Restormer.

Names follow ``../shared/assets/reference/``; ``arch.tag`` selects a released checkpoint (``nafnet.gopro_width32``).
"""

from __future__ import annotations

from ledbench.enhancers.registry import ENHANCERS

_GOPRO_NAFNET = {"middle_blk_num": 1, "enc_blk_nums": [1, 1, 1, 28], "dec_blk_nums": [1, 1, 1, 1]}

ENHANCERS.register("mimo_unet", "ledbench.enhancers.mimo_unet:MIMOUNetEnhancer")
ENHANCERS.register("mimo_unet_plus", "ledbench.enhancers.mimo_unet:MIMOUNetPlusEnhancer")
ENHANCERS.register("nafnet", "ledbench.enhancers.nafnet:NAFNetEnhancer")  # default tag gopro_width64
ENHANCERS.register("nafnet.gopro_width64", "ledbench.enhancers.nafnet:NAFNetEnhancer", tag="gopro_width64",
                   config={"width": 64, **_GOPRO_NAFNET})
ENHANCERS.register("nafnet.gopro_width32", "ledbench.enhancers.nafnet:NAFNetEnhancer", tag="gopro_width32",
                   config={"width": 32, **_GOPRO_NAFNET})
ENHANCERS.register("restormer", "ledbench.enhancers.restormer:RestormerEnhancer")  # tag motion_deblurring
