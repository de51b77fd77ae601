"""LPIPS, LEDNet-protocol variants and no-reference metrics (lazy registration; see ``ledbench.tasks.quality_extra``).

Full-reference: ``lpips`` (LPIPS v0.1 VGG, RGB), ``lpips_lednet`` (same on BGR, LEDNet script quirk), ``ssim_lednet``
(pyiqa default SSIM as LEDNet's script calls it, BGR quirk), ``ssim_pyiqa`` (pyiqa default SSIM on RGB).
No-reference: ``niqe`` (pyiqa-default protocol, official pristine model, shipped), ``clip_iqa`` (open_clip ViT-B-32).
"""

from ledbench.tasks.registry import METRICS

_M = "ledbench.tasks.quality_extra"
METRICS.register("lpips", f"{_M}:LPIPS", aliases=("lpips_vgg",))
METRICS.register("lpips_lednet", f"{_M}:LPIPSLEDNet")
METRICS.register("ssim_lednet", f"{_M}:SSIMLEDNet")
METRICS.register("ssim_pyiqa", f"{_M}:SSIMPyiqa")
METRICS.register("niqe", f"{_M}:NIQE")
METRICS.register("clip_iqa", f"{_M}:CLIPIQA", aliases=("clipiqa_vitb32",))
