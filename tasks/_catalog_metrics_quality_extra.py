"""LPIPS, LEDNet-protocol variants and no-reference metrics (lazy registration; modules named below).

Full-reference: ``lpips`` (LPIPS v0.1 VGG, RGB), ``lpips_lednet`` (same on BGR, LEDNet script quirk), ``ssim_lednet``
(pyiqa default SSIM as LEDNet's script calls it, BGR quirk), ``ssim_pyiqa`` (pyiqa default SSIM on RGB).
No-reference: ``niqe`` (pyiqa-default protocol, official pristine model, shipped), ``clip_iqa`` (open_clip ViT-B-32).
"""

from ledbench.tasks.registry import METRICS

METRICS.register("lpips", "ledbench.tasks.lpips:LPIPS", aliases=("lpips_vgg",))
METRICS.register("lpips_lednet", "ledbench.tasks.lpips:LPIPSLEDNet")
METRICS.register("ssim_lednet", "ledbench.tasks.quality:SSIMLEDNet")
METRICS.register("ssim_pyiqa", "ledbench.tasks.quality:SSIMPyiqa")
METRICS.register("niqe", "ledbench.tasks.niqe:NIQE")
METRICS.register("clip_iqa", "ledbench.tasks.clip_iqa:CLIPIQA", aliases=("clipiqa_vitb32",))
