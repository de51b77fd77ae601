"""Built-in depth metrics (lazy registration); the protocol is in ``ledbench.tasks.depth_metrics``' docstring.

``depth`` (alias ``depth_lstsq``): least-squares scale and shift in disparity space, the default for the
relative-inverse outputs of DPT / Depth Anything; ``depth_median``: median scaling; ``depth_none``: no alignment.
Each output is also a metric of its own: ``abs_rel``, ``abs_rel_median``, ``abs_rel_none``, ``delta1`` ...
"""

from ledbench.tasks.registry import METRICS

_M = "ledbench.tasks.depth_metrics"
METRICS.register("depth", f"{_M}:DepthMetric", aliases=("depth_lstsq",))
METRICS.register("depth_median", f"{_M}:DepthMedian")
METRICS.register("depth_none", f"{_M}:DepthNone")

_CLASSES = {"abs_rel": "AbsRel", "sq_rel": "SqRel", "rmse": "RMSE", "rmse_log": "RMSELog", "delta1": "Delta1",
            "delta2": "Delta2", "delta3": "Delta3"}
for _key, _cls in _CLASSES.items():
    METRICS.register(_key, f"{_M}:{_cls}")
    METRICS.register(f"{_key}_median", f"{_M}:{_cls}Median")
    METRICS.register(f"{_key}_none", f"{_M}:{_cls}None")
