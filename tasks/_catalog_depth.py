"""Built-in depth tasks (lazy registration; importing this module does not import torch or transformers).

``depth_dpt`` (tags ``hybrid`` = Intel/dpt-hybrid-midas, default, and ``large`` = Intel/dpt-large) and
``depth_anything`` (tags ``small`` = LiheYoung/depth-anything-small-hf, default, and ``v2_small``); both accept
``weights=FOLDER`` for any local transformers checkpoint folder of their family.
"""

from ledbench.tasks.registry import TASKS

TASKS.register("depth_dpt", "ledbench.tasks.depth:DPTDepth")
TASKS.register("depth_anything", "ledbench.tasks.depth:DepthAnythingDepth")
