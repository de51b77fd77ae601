"""Classical, weight-free enhancers (lazy registration)."""

from ledbench.enhancers.registry import ENHANCERS

_M = "ledbench.enhancers.classical"
ENHANCERS.register("identity", f"{_M}:Identity")
ENHANCERS.register("gamma", f"{_M}:Gamma")
ENHANCERS.register("auto_gamma", f"{_M}:AutoGamma")
ENHANCERS.register("clahe", f"{_M}:CLAHE")
ENHANCERS.register("msr", f"{_M}:MultiScaleRetinex", aliases=("retinex",))
ENHANCERS.register("unsharp", f"{_M}:Unsharp")
ENHANCERS.register("wiener", f"{_M}:Wiener")
ENHANCERS.register("richardson_lucy", f"{_M}:RichardsonLucy", aliases=("rl",))
