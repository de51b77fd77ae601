"""Registry entries of the low-light enhancement baselines (pure python: no torch import).

``zero_dce``, ``zero_dce_pp`` (``scale_factor`` 12 as the official test), ``sci`` (= ``sci.medium``; ``sci.easy``,
``sci.difficult``), ``ruas`` (= ``ruas.lol``; ``ruas.upe``, ``ruas.dark``), ``iat`` (= ``iat.lol_v1``; ``iat.lol``
= LOL-v2-real, ``iat.exposure``), ``retinexformer`` (= ``retinexformer.LOL_v1``; one entry per official release).
SCI and IAT weights ship with the package (MIT / Apache-2.0); the others resolve from the weights folders
(``ledbench weights import DIR``). Sources and licenses: the ``weights_tags`` of each class.
"""

from __future__ import annotations

from ledbench.enhancers.registry import ENHANCERS

_M = "ledbench.enhancers"

ENHANCERS.register("zero_dce", f"{_M}.zero_dce:ZeroDCEEnhancer", kind="lle")
ENHANCERS.register("zero_dce_pp", f"{_M}.zero_dce:ZeroDCEPPEnhancer", kind="lle")

ENHANCERS.register("sci", f"{_M}.sci:SCIEnhancer", kind="lle")
for _tag in ("easy", "medium", "difficult"):
    ENHANCERS.register(f"sci.{_tag}", f"{_M}.sci:SCIEnhancer", tag=_tag, kind="lle")

ENHANCERS.register("ruas", f"{_M}.ruas:RUASEnhancer", kind="lle")
for _tag in ("lol", "upe", "dark"):
    ENHANCERS.register(f"ruas.{_tag}", f"{_M}.ruas:RUASEnhancer", tag=_tag, kind="lle")

ENHANCERS.register("iat", f"{_M}.iat:IATEnhancer", kind="lle")
ENHANCERS.register("iat.lol_v1", f"{_M}.iat:IATEnhancer", tag="lol_v1", kind="lle")
ENHANCERS.register("iat.lol", f"{_M}.iat:IATEnhancer", tag="lol", kind="lle")
ENHANCERS.register("iat.exposure", f"{_M}.iat:IATEnhancer", tag="exposure", config={"type": "exp"}, kind="lle")

RETINEXFORMER_TAGS: tuple[str, ...] = ("LOL_v1", "LOL_v2_real", "LOL_v2_synthetic", "SID", "SMID", "SDSD_indoor",
                                       "SDSD_outdoor", "FiveK", "NTIRE")
ENHANCERS.register("retinexformer", f"{_M}.retinexformer:RetinexFormerEnhancer", kind="lle")
for _tag in RETINEXFORMER_TAGS:
    ENHANCERS.register(f"retinexformer.{_tag}", f"{_M}.retinexformer:RetinexFormerEnhancer", tag=_tag, kind="lle")

#: the low-light enhancers in the order used by comparison runs
LLE_MODELS: tuple[str, ...] = ("zero_dce", "zero_dce_pp", "sci", "ruas", "iat", "retinexformer")
