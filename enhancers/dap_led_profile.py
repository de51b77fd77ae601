"""``ledbench profile ENHANCER [key=value ...]``: parameters, GMACs, latency and peak memory of any enhancer.

* params: trainable + frozen parameters of the enhancer's ``nn.Module`` (``.model``; cascades sum their stages);
  for DAP-LED the frozen CLIP tower is counted separately (``clip_params``).
* GMACs: ``torch.utils.flop_counter.FlopCounterMode`` FLOPs / 2 / 1e9 for one ``enhance`` call at ``size`` (counts
  matmul / conv / attention ops only, not element-wise ops, which is the usual "MACs" convention of thop / ptflops
  for these models). Numpy/classical enhancers report None. For DAP-LED ``gmacs`` includes the frozen CLIP prior
  (multi-scale CLIP encoding), which is also reported alone as ``clip_gmacs``.
* latency: minimum wall time of ``repeats`` calls of ``enhancer.enhance`` after ``warmup`` calls (CUDA synchronised).
* peak memory: CUDA ``max_memory_allocated`` during one call; on CPU the process peak RSS
  (``resource.getrusage``), an upper bound that includes Python and libraries.
"""

from __future__ import annotations

import time
from typing import Any

from ledbench.bench.errors import ConfigError

_PROFILE_KEYS = ("size", "batch", "repeats", "warmup", "device", "threads", "weights", "random_init")


def _parse_size(size: Any) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    text = str(size).lower().replace(",", "x")
    parts = [p for p in text.split("x") if p]
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"profile: size must be N or HxW, got {size!r}") from None
    return (dims[0], dims[0]) if len(dims) == 1 else (dims[0], dims[1])


def _modules(enh) -> list:
    if hasattr(enh, "stages"):
        return [m for s in enh.stages for m in _modules(s)]
    m = getattr(enh, "model", None)
    return [m] if m is not None else []


def build_for_profile(name: str, overrides: dict[str, Any], device: str = "cpu", weights: str | None = None,
                      random_init: bool = True):
    """An enhancer for profiling; learned models without local weights get random weights (size/speed only).

    For DAP-LED with the CLIP prior and no CLIP weights on disk, the CLIP tower of the same architecture is built
    with random weights (``clip_random_init``); parameter counts and GMACs are unaffected.
    """
    from ledbench.enhancers import create_enhancer, enhancer_availability, enhancer_class

    if "+" in name:
        return create_enhancer(name, device=device), False
    cls = enhancer_class(name)
    ok, _ = enhancer_availability(name)
    if weights is not None or ok:
        try:
            return create_enhancer(name, weights=weights, device=device, **overrides), False
        except Exception:
            if not random_init:
                raise
    if not random_init:
        raise ConfigError(f"profile: {name} has no weights here; pass weights=PATH or random_init=true")
    from ledbench.bench.config import build_config
    from ledbench.enhancers import _split
    from ledbench.enhancers.base import resolve_device

    key, meta = _split(name)
    cfg_over = {**meta.get("config", {}), **overrides}
    if cls.__module__.endswith("dap_led"):
        from ledbench.enhancers.dap_led import clip_weights_status

        probe = build_config(cls.Config, cfg_over, owner=name)
        if probe.clip_prior and not probe.clip_checkpoint and not clip_weights_status(probe)[0]:
            cfg_over["clip_random_init"] = True
    config = build_config(cls.Config, cfg_over, owner=name)
    enh = cls.__new__(cls)  # bypass weight resolution: random initialisation
    enh.config, enh.name, enh.device = config, name, resolve_device(device)
    enh.tile, enh.tile_overlap, enh.amp, enh.tag = 0, 32, False, meta.get("tag")
    enh.weights_spec, enh.weights_path, enh.weights_sha256 = None, None, None
    enh.model = enh.build_model()
    enh.model.eval().to(enh.device)
    for p in enh.model.parameters():
        p.requires_grad_(False)
    return enh, True


def profile_enhancer(enh, size: tuple[int, int], *, batch: int = 1, repeats: int = 5, warmup: int = 1) -> dict:
    """Measure one built enhancer (see the module docstring for the definitions)."""
    import resource

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    h, w = size
    x = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(0))
    mods = _modules(enh)
    params = sum(p.numel() for m in mods for p in m.parameters())
    clip_params = 0
    for m in mods:
        for c in getattr(m, "_clip", []):
            clip_params += sum(p.numel() for p in c.parameters())
    gmacs = None
    if mods:
        with FlopCounterMode(display=False) as fc:
            enh.enhance(x)
        gmacs = fc.get_total_flops() / 2 / 1e9
    clip_gmacs = 0.0
    for m in mods:
        if getattr(m, "_clip", None) and hasattr(m, "prior"):
            with FlopCounterMode(display=False) as fc2, torch.inference_mode():
                m.prior(x.to(enh.device))
            clip_gmacs += fc2.get_total_flops() / 2 / 1e9
    dev = getattr(enh, "device", None)
    cuda = dev is not None and getattr(dev, "type", "cpu") == "cuda"
    for _ in range(max(0, warmup)):
        enh.enhance(x)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        enh.enhance(x)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    if cuda:
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
        peak_kind = "cuda_max_allocated"
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_kind = "cpu_process_peak_rss"
    return {"params_m": params / 1e6, "clip_params_m": clip_params / 1e6,
            "gmacs": gmacs, "clip_gmacs": clip_gmacs, "latency_ms": min(times) * 1000,
            "latency_ms_median": sorted(times)[len(times) // 2] * 1000,
            "peak_mem_mb": peak_mb, "peak_mem_kind": peak_kind, "size": f"{h}x{w}", "batch": batch,
            "repeats": repeats, "device": str(dev) if dev is not None else "cpu",
            "torch_threads": torch.get_num_threads()}


def profile_main(name: str, overrides: dict) -> dict:
    """Entry point of ``ledbench profile ENHANCER [key=value ...]``; returns the measurements as a dict.

    Profile keys: ``size`` (N or HxW, default 256), ``batch`` (1), ``repeats`` (5; latency = minimum), ``warmup``
    (1), ``device`` (cpu), ``threads`` (0 = torch default), ``weights`` (a file; default: the entry's weights if
    present, else random initialisation), ``random_init`` (true: allow random weights when none are present).
    Any other key is a config override of the enhancer, e.g. ``ledbench profile dap_led preset=base size=256``.
    The result also has ``name``, ``random_weights`` (whether weights were random) and ``note``.
    """
    import torch

    overrides = dict(overrides or {})
    prof = {k: overrides.pop(k) for k in list(overrides) if k in _PROFILE_KEYS}
    size = _parse_size(prof.get("size", 256))
    if prof.get("threads"):
        torch.set_num_threads(int(prof["threads"]))
    enh, random_w = build_for_profile(name, overrides, device=str(prof.get("device", "cpu")),
                                      weights=prof.get("weights"),
                                      random_init=str(prof.get("random_init", True)).lower() in ("1", "true", "yes"))
    res = profile_enhancer(enh, size, batch=int(prof.get("batch", 1)), repeats=int(prof.get("repeats", 5)),
                           warmup=int(prof.get("warmup", 1)))
    res.update({"name": name, "overrides": overrides, "random_weights": random_w,
                "note": "GMACs = FlopCounterMode FLOPs / 2 (matmul, conv, attention); latency = min over repeats"})
    return res
