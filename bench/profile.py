"""Cost profile of enhancers (``ledbench profile``): parameters, GMACs, latency and peak memory.

Definitions:

* ``params_m``: parameters of the enhancer's ``nn.Module`` (``.model``; cascades sum their stages), in millions.
  Frozen sub-models held outside the module tree (DAP-LED's CLIP tower, ``model._clip``) are reported separately
  as ``frozen_params_m``.
* ``gmacs``: ``torch.utils.flop_counter.FlopCounterMode`` FLOPs / 2 / 1e9 of one ``enhance`` call on a
  ``batch x 3 x H x W`` input (matmul, convolution and attention products; element-wise ops are not counted, the
  thop / ptflops convention). Counting runs under ``torch.no_grad`` with PyTorch's fused attention paths made
  countable: ``torch.backends.mha.set_fastpath_enabled(False)`` (``nn.MultiheadAttention``'s inference fast path
  is one fused op that FlopCounterMode does not see: open_clip's ViT-B/32 counted 2.95 instead of 4.41 GMACs per
  224 x 224 pass), and the CPU kernel of ``scaled_dot_product_attention``
  (``aten._scaled_dot_product_flash_attention_for_cpu``, absent from FlopCounterMode's table) is counted with
  the formula FlopCounterMode uses for the CUDA kernels. ``frozen_gmacs`` is the part spent in frozen
  sub-models (a model's ``prior(x)``, DAP-LED's CLIP prior). Numpy / classical enhancers report None.
* ``latency_ms``: minimum wall time of ``repeats`` ``enhance`` calls after ``warmup`` calls (CUDA synchronised);
  ``latency_ms_median`` the median.
* ``peak_mem_mb``: CUDA ``max_memory_allocated`` during the timed calls; on CPU the process peak RSS
  (``resource.getrusage``), an upper bound that includes Python and the libraries.

Learned enhancers without local weights are built with ``create_enhancer(name, pretrained=False)`` (random
weights: sizes and speed only; ``random_weights`` says so). If a frozen sub-model's weights are missing too and
the enhancer's Config has a ``clip_random_init`` switch, that switch is set (same architecture, random values).
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

from ledbench.bench.errors import ConfigError, WeightsUnavailable

#: ``ledbench profile`` keys that are not enhancer config overrides.
PROFILE_KEYS = ("size", "batch", "repeats", "warmup", "device", "threads", "weights", "random_init")

#: Columns of the printed table: (key, header, format).
#: ``"sig"``: three significant digits, so that a 258-parameter SCI reads 0.000258, not 0.000.
TABLE_COLUMNS = (("name", "enhancer", "{}"), ("size", "size", "{}"), ("params_m", "params (M)", "sig"),
                 ("frozen_params_m", "frozen (M)", "sig"), ("gmacs", "GMACs", "sig"),
                 ("frozen_gmacs", "of which frozen", "sig"), ("latency_ms", "latency (ms)", "sig"),
                 ("peak_mem_mb", "peak mem (MB)", "{:.0f}"), ("random_weights", "random weights", "{}"))


def _sig(v: float) -> str:
    """Three significant digits without exponent: 0.000258, 0.0913, 1.23, 26.1, 1234."""
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    digits = max(0, 2 - math.floor(math.log10(abs(v))))
    return f"{v:.{digits}f}"


def parse_size(size: Any) -> tuple[int, int]:
    """``256`` or ``"256"`` -> (256, 256); ``"256x384"`` -> (256, 384) (H x W)."""
    if isinstance(size, int):
        return size, size
    parts = [p for p in str(size).lower().split("x") if p.strip()]
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if len(dims) not in (1, 2) or min(dims) < 1:
        raise ConfigError(f"profile: size must be N or HxW (e.g. 256 or 256x384), got {size!r}")
    return (dims[0], dims[0]) if len(dims) == 1 else (dims[0], dims[1])


def parse_sizes(sizes: Any) -> list[tuple[int, int]]:
    """``"256,512"`` / ``[256, "256x384"]`` / ``256`` -> a list of (H, W)."""
    if isinstance(sizes, (list, tuple)):
        items = list(sizes)
    else:
        items = [s for s in str(sizes).split(",") if s.strip()]
    if not items:
        raise ConfigError("profile: size= is empty; give N or HxW, several separated by commas")
    return [parse_size(s if isinstance(s, int) else s.strip()) for s in items]


def _modules(enh) -> list:
    if hasattr(enh, "stages"):
        return [m for s in enh.stages for m in _modules(s)]
    m = getattr(enh, "model", None)
    return [m] if m is not None else []


def build_for_profile(name: str, overrides: dict[str, Any] | None = None, device: str = "cpu",
                      weights: str | None = None, random_init: bool = True):
    """``(enhancer, random_weights)``: the entry with its weights when present (or ``weights=``), else (with
    ``random_init``) built by ``create_enhancer(name, pretrained=False)``."""
    from ledbench.enhancers import create_enhancer, enhancer_availability

    overrides = dict(overrides or {})
    ok, why = enhancer_availability(name)
    if weights is not None or ok:
        return create_enhancer(name, weights=weights, device=device, **overrides), False
    if not random_init:
        raise ConfigError(f"profile: {name} has no weights here ({why}); pass weights=PATH or random_init=true")
    try:
        enh = create_enhancer(name, device=device, pretrained=False, **overrides)
    except WeightsUnavailable:
        if "+" in name or "clip_random_init" not in _config_fields(name):
            raise
        enh = create_enhancer(name, device=device, pretrained=False, clip_random_init=True, **overrides)
    return enh, True


def _check_config_keys(name: str, cfg: dict) -> None:
    """Refuse a key that is neither a profile key nor a config field of ``name`` (did-you-mean over both)."""
    import difflib

    if "+" in name or not cfg:  # cascades: the stages check their own keys when built
        return
    fields = _config_fields(name)
    for key in cfg:
        if key in fields:
            continue
        close = difflib.get_close_matches(key, [*PROFILE_KEYS, *sorted(fields)], n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"profile: unknown key {key!r}{hint}; profile keys: {', '.join(PROFILE_KEYS)}; "
                          f"{name} config keys: {', '.join(sorted(fields)) or 'none'}")


def _config_fields(name: str) -> set[str]:
    import dataclasses

    from ledbench.enhancers import enhancer_class

    cfg = getattr(enhancer_class(name), "Config", None)
    return {f.name for f in dataclasses.fields(cfg)} if cfg is not None and dataclasses.is_dataclass(cfg) else set()


@contextlib.contextmanager
def countable_attention():
    """Within the block, ``nn.MultiheadAttention`` takes its unfused path (fast path off), so FlopCounterMode
    sees its products; the previous setting is restored on exit."""
    import torch

    mha = getattr(torch.backends, "mha", None)
    if mha is None:  # pragma: no cover - torch < 2.1 has no switch; its fast path is then counted as zero
        yield
        return
    old = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(old)


def count_gmacs(fn, *args, **kwargs) -> float:
    """GMACs (FlopCounterMode FLOPs / 2 / 1e9) of ``fn(*args, **kwargs)``, attention included (module docstring)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    extra = {}
    cpu_sdpa = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_sdpa is not None:
        extra[cpu_sdpa] = cpu_sdpa_flop
    with countable_attention(), torch.no_grad(), FlopCounterMode(display=False, custom_mapping=extra) as fc:
        fn(*args, **kwargs)
    return fc.get_total_flops() / 2 / 1e9


def profile_enhancer(enh, size: tuple[int, int], *, batch: int = 1, repeats: int = 5, warmup: int = 1) -> dict:
    """Measure one built enhancer at ``size`` = (H, W) (see the module docstring for the definitions)."""
    import resource

    import torch

    h, w = size
    x = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(0))
    mods = _modules(enh)
    params = sum(p.numel() for m in mods for p in m.parameters())
    frozen = [c for m in mods for c in getattr(m, "_clip", [])]
    frozen_params = sum(p.numel() for c in frozen for p in c.parameters())
    gmacs = count_gmacs(enh.enhance, x) if mods else None
    frozen_gmacs = 0.0
    for m in mods:
        if getattr(m, "_clip", None) and hasattr(m, "prior"):
            dev = next(m.parameters()).device
            frozen_gmacs += count_gmacs(m.prior, x.to(dev))
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
        peak_mb, peak_kind = torch.cuda.max_memory_allocated() / 2**20, "cuda_max_allocated"
    else:
        peak_mb, peak_kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "cpu_process_peak_rss"
    return {"params_m": params / 1e6, "frozen_params_m": frozen_params / 1e6, "gmacs": gmacs,
            "frozen_gmacs": frozen_gmacs, "latency_ms": min(times) * 1000,
            "latency_ms_median": sorted(times)[len(times) // 2] * 1000, "peak_mem_mb": peak_mb,
            "peak_mem_kind": peak_kind, "size": f"{h}x{w}", "batch": batch, "repeats": repeats,
            "device": str(dev) if dev is not None else "cpu", "torch_threads": torch.get_num_threads()}


def _split_keys(overrides: dict | None) -> tuple[dict, dict]:
    overrides = dict(overrides or {})
    prof = {k: overrides.pop(k) for k in list(overrides) if k in PROFILE_KEYS}
    return prof, overrides


def _truthy(v: Any) -> bool:
    return str(v).lower() in ("1", "true", "yes", "on")


def profile_many(names: str | list[str], overrides: dict | None = None) -> list[dict]:
    """Profile every enhancer of ``names`` (a list or comma-separated) at every ``size`` (``"256,512"``).

    ``overrides`` holds the profile keys (:data:`PROFILE_KEYS`: ``size`` default 256, ``batch`` 1, ``repeats`` 5,
    ``warmup`` 1, ``device`` cpu, ``threads`` 0 = torch default, ``weights`` a file, ``random_init`` true) and any
    enhancer config override (applied to every name). One dict per (enhancer, size), in that order, each with
    ``name``, ``overrides``, ``random_weights`` and the measurements of :func:`profile_enhancer`.
    """
    import torch

    prof, cfg = _split_keys(overrides)
    name_list = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    if not name_list:
        raise ConfigError("profile: no enhancer named; e.g. ledbench profile restormer,nafnet size=256,512")
    sizes = parse_sizes(prof.get("size", 256))
    if prof.get("threads"):
        torch.set_num_threads(int(prof["threads"]))
    for name in name_list:
        _check_config_keys(name, cfg)
    rows = []
    for name in name_list:
        enh, random_w = build_for_profile(name, cfg, device=str(prof.get("device", "cpu")),
                                          weights=prof.get("weights"),
                                          random_init=_truthy(prof.get("random_init", True)))
        for size in sizes:
            res = profile_enhancer(enh, size, batch=int(prof.get("batch", 1)), repeats=int(prof.get("repeats", 5)),
                                   warmup=int(prof.get("warmup", 1)))
            res.update({"name": name, "overrides": cfg, "random_weights": random_w})
            rows.append(res)
    return rows


def profile_main(name: str, overrides: dict | None = None) -> dict:
    """One enhancer at one size (the first of ``size=``): the measurements as a dict (see :func:`profile_many`)."""
    prof, _ = _split_keys(overrides)
    size = parse_sizes(prof.get("size", 256))[0]
    return profile_many([name], {**dict(overrides or {}), "size": f"{size[0]}x{size[1]}"})[0]


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`profile_many` rows (None = not applicable)."""
    from tabulate import tabulate

    def cell(r, key, fmt):
        v = r.get(key)
        if v is None:
            return "-"
        if key.startswith("frozen") and not v:
            return "-"
        return _sig(v) if fmt == "sig" else fmt.format(v)

    body = [[cell(r, k, f) for k, _, f in TABLE_COLUMNS] for r in rows]
    cpu_rss = any(r.get("peak_mem_kind") == "cpu_process_peak_rss" for r in rows)
    headers = [("process peak RSS (MB)" if k == "peak_mem_mb" and cpu_rss else h) for k, h, _ in TABLE_COLUMNS]
    note = ("GMACs = FlopCounterMode FLOPs / 2 for one call (attention fast paths disabled so that they are "
            "counted); latency = min over repeats on " + (rows[0].get("device", "cpu") if rows else "cpu")
            + (f", {rows[0].get('torch_threads')} thread(s)" if rows else ""))
    if cpu_rss:
        note += ("\nprocess peak RSS: the whole process's peak so far (Python, libraries and the rows above "
                 "included), an upper bound; it never decreases down the table")
    return tabulate(body, headers=headers, tablefmt="github", disable_numparse=True) + "\n" + note
