"""Built-in full-reference quality metrics (lazy registration)."""

from ledbench.tasks.registry import METRICS

METRICS.register("psnr", "ledbench.tasks.quality:PSNR")
METRICS.register("psnr_y", "ledbench.tasks.quality:PSNRY")
METRICS.register("ssim", "ledbench.tasks.quality:SSIM")
METRICS.register("ssim_y", "ledbench.tasks.quality:SSIMY")
METRICS.register("psnr_gtmean", "ledbench.tasks.quality:PSNRGTMean")
METRICS.register("ssim_gtmean", "ledbench.tasks.quality:SSIMGTMean")
