"""Physically motivated low-light + motion-blur degradation of sharp, normal-light images.

Pipeline (one call of :func:`synthesize`, every random draw from ``numpy.random.default_rng(seed)``):

1. **Inverse camera response**: sRGB-ish values in [0, 1] -> linear radiance, ``g^-1(v) = v ** 2.2`` (the gamma
   2.2 response LEDNet's blur synthesis is reported to use, REFERENCE.md section 3.3; ``crf="srgb"`` selects the
   exact sRGB EOTF, ``crf="linear"`` disables it).
2. **Saturated light sources**: pixels clipped in every channel (>= ``sat_threshold``, 0.97, the Lab-L threshold of
   LEDNet's ``RandomLowLight``) in regions no larger than ``max_source_area`` of the image are treated as light
   sources; their radiance is restored to ``sat_gain / exposure`` (sat_gain in [1.2, 2]: LEDNet keeps such pixels
   at their own level instead of darkening them, we also restore a little clipped energy), so they stay saturated
   after darkening and smear into bright light streaks under blur (LEDNet's "realistic blurs in saturated
   regions").
3. **Camera-shake blur**: a random 2-D trajectory (random walk with inertia and occasional jerks, after Boracchi &
   Foi, "Modeling the performance of image restoration from motion blur", TIP 2012) of extent ``blur_length``
   pixels is rasterised with bilinear splatting into a normalised kernel whose centroid is the kernel centre,
   so the blur does not shift the image (labels stay valid). Convolution is in linear radiance (FFT, reflect pad).
4. **Exposure darkening**: linear radiance times ``exposure`` (LEDNet samples exposure in [0.05, 0.3] for its
   Zero-DCE-based darkening on L; here it is a linear-domain scale, see ``SEVERITY``).
5. **Poisson-Gaussian sensor noise** on the linear signal ``x`` in [0, 1]:
   ``y = Poisson(photons * x) / photons + N(0, read_noise^2)``, i.e. ``Var[y | x] = x / photons + read_noise^2``
   (per channel, independent), then clipping to [0, 1]; pixels whose expected signal reaches full scale read
   full scale (full-well / ADC saturation), so clipped light sources stay clipped.
6. **Camera response** back to display values, then optional JPEG (``jpeg_quality``; off unless asked).

Every sampled parameter (kernel included) is returned as a JSON-serialisable dict; passing the same values back as
keyword overrides (``synthesize(img, seed=s, **params)``) or just the same ``seed``/``severity`` regenerates the
same bytes. Output: H x W x 3 float32 RGB in [0, 1], same geometry as the input.

Severity (1 = mild .. 5 = extreme) sets the sampling ranges in :data:`SEVERITY`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

#: Sampling ranges per severity: blur extent in pixels; linear exposure (display brightness scales by about
#: ``exposure ** (1 / 2.2)``: 0.6 at level 1 .. 0.12 at level 5, LOL-Blur-like darkness at 3-5); photons at full
#: scale (``1 / lambda_shot`` of Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019, whose
#: full range is lambda_shot in [1e-4, 1.2e-2]; we use [6e-5, 4e-3] because the signal is also darkened, giving a
#: per-pixel SNR at mid-grey of about 20, 8, 5, 2, 0.6 for levels 1..5); light-source gain (multiples of the clip
#: level after darkening).
#: The read-noise std follows that paper's fit: ``log(read_noise^2) = 2.18 log(lambda_shot) + 1.20 + N(0, 0.26^2)``
#: (google-research/google-research: unprocessing/unprocess.py, ``random_noise_levels``).
SEVERITY: dict[int, dict[str, tuple[float, float]]] = {
    1: {"blur_length": (3.0, 6.0), "exposure": (0.25, 0.45), "photons": (4000.0, 16000.0), "sat_gain": (1.2, 2.0)},
    2: {"blur_length": (6.0, 10.0), "exposure": (0.10, 0.25), "photons": (2000.0, 6000.0), "sat_gain": (1.2, 2.0)},
    3: {"blur_length": (10.0, 16.0), "exposure": (0.04, 0.10), "photons": (1000.0, 3000.0), "sat_gain": (1.2, 2.0)},
    4: {"blur_length": (16.0, 24.0), "exposure": (0.015, 0.04), "photons": (500.0, 1500.0), "sat_gain": (1.2, 2.0)},
    5: {"blur_length": (24.0, 34.0), "exposure": (0.006, 0.015), "photons": (250.0, 700.0), "sat_gain": (1.2, 2.0)},
}

#: Bump when the algorithm changes (part of synth_mini's cache key). 2: shot noise by inverse CDF (one uniform per
#: value), so the output is the same on every CPU (see :func:`poisson_inverse_cdf`); 1 used numpy's Poisson sampler.
SYNTH_VERSION = 2
GAMMA = 2.2
SAT_THRESHOLD = 0.97
#: Saturated connected regions larger than this fraction of the image are lit surfaces (sky, a white wall), not
#: light sources: they are darkened like everything else.
MAX_SOURCE_AREA = 0.005

_OPTION_KEYS = ("kernel", "blur_length", "exposure", "photons", "read_noise", "sat_gain", "sat_threshold", "crf",
                "blur", "noise", "jpeg_quality", "trajectory_steps", "max_source_area")


# -- camera response ----------------------------------------------------------------------------------------------

def inverse_crf(img: np.ndarray, crf: str = "gamma2.2") -> np.ndarray:
    """Display values in [0, 1] -> linear radiance in [0, 1] (``gamma2.2``, ``srgb`` or ``linear``)."""
    img = np.clip(img, 0.0, 1.0).astype(np.float64)
    if crf == "gamma2.2":
        return img ** GAMMA
    if crf == "srgb":
        return np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4)
    if crf == "linear":
        return img
    raise ValueError(f"unknown crf {crf!r}; use 'gamma2.2', 'srgb' or 'linear'")


def forward_crf(lin: np.ndarray, crf: str = "gamma2.2") -> np.ndarray:
    """Linear radiance in [0, 1] -> display values in [0, 1] (inverse of :func:`inverse_crf`)."""
    lin = np.clip(lin, 0.0, 1.0)
    if crf == "gamma2.2":
        return lin ** (1.0 / GAMMA)
    if crf == "srgb":
        return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    if crf == "linear":
        return lin
    raise ValueError(f"unknown crf {crf!r}; use 'gamma2.2', 'srgb' or 'linear'")


# -- blur kernels ---------------------------------------------------------------------------------------------------

def shake_trajectory(rng: np.random.Generator, length: float, steps: int = 96) -> np.ndarray:
    """Random camera-shake trajectory (``steps`` x 2 points, x/y in pixels), max extent ``length``, centroid 0.

    A particle with inertia driven by Gaussian acceleration plus rare impulsive jerks and a weak pull back to the
    start (after Boracchi & Foi 2012); the path is rescaled so its largest axis-aligned extent equals ``length``.
    """
    anxiety = rng.uniform(0.0, 0.5)          # strength of random acceleration
    centripetal = rng.uniform(0.0, 0.1)      # pull towards the origin
    jerk_prob = rng.uniform(0.0, 0.05)       # probability of a big impulsive jerk per step
    angle = rng.uniform(0.0, 2 * math.pi)
    v = complex(math.cos(angle), math.sin(angle))
    pos = [0j]
    for _ in range(steps - 1):
        acc = anxiety * complex(rng.normal(), rng.normal())
        if rng.uniform() < jerk_prob:
            acc += 2.0 * v * complex(math.cos(rng.uniform(-1, 1) * math.pi / 2), 0) * rng.choice([-1.0, 1.0])
        acc -= centripetal * pos[-1] / max(1, len(pos))
        v = v + acc
        speed = abs(v)
        if speed > 0:
            v = v / speed  # constant speed: trajectory shape from direction changes only
        pos.append(pos[-1] + v)
    traj = np.array([[p.real, p.imag] for p in pos], dtype=np.float64)
    extent = float(np.max(traj.max(axis=0) - traj.min(axis=0)))
    if length <= 0 or extent == 0:
        return np.zeros((steps, 2))
    traj *= length / extent
    return traj - traj.mean(axis=0)


def rasterize_kernel(traj: np.ndarray) -> np.ndarray:
    """Bilinear splat of equally weighted trajectory points into an odd-sized, normalised kernel.

    The trajectory centroid lands exactly on the kernel centre, so convolution does not translate the image.
    """
    radius = math.ceil(np.abs(traj).max()) + 1 if len(traj) else 1
    size = 2 * radius + 1
    k = np.zeros((size, size), dtype=np.float64)
    for x, y in traj:
        cx, cy = x + radius, y + radius
        x0, y0 = math.floor(cx), math.floor(cy)
        fx, fy = cx - x0, cy - y0
        k[y0, x0] += (1 - fx) * (1 - fy)
        k[y0, x0 + 1] += fx * (1 - fy)
        k[y0 + 1, x0] += (1 - fx) * fy
        k[y0 + 1, x0 + 1] += fx * fy
    k /= k.sum()
    # trim empty border rows/cols symmetrically (keeps the centre)
    while k.shape[0] > 3 and not k[0].any() and not k[-1].any() and not k[:, 0].any() and not k[:, -1].any():
        k = k[1:-1, 1:-1]
    return k


def motion_kernel(rng: np.random.Generator, length: float, steps: int = 96) -> np.ndarray:
    """A random camera-shake kernel of extent ``length`` pixels (sum 1, centroid at the centre)."""
    if length < 1.0:
        return np.ones((1, 1))
    return rasterize_kernel(shake_trajectory(rng, length, steps))


def convolve(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve H x W x C ``img`` with a 2-D ``kernel`` (FFT, reflect padding, same size output)."""
    from scipy.signal import fftconvolve

    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.size == 1:
        return img * float(kernel.ravel()[0])
    ph, pw = kernel.shape[0] // 2, kernel.shape[1] // 2
    pad = np.pad(img, ((ph, ph), (pw, pw), (0, 0)), mode="reflect" if min(img.shape[:2]) > max(ph, pw) else "edge")
    out = fftconvolve(pad, kernel[:, :, None], mode="valid", axes=(0, 1))
    return out


# -- the generator --------------------------------------------------------------------------------------------------

def light_source_mask(sharp: np.ndarray, threshold: float = SAT_THRESHOLD,
                      max_area: float = MAX_SOURCE_AREA) -> np.ndarray:
    """Boolean H x W mask of clipped light sources: every channel >= ``threshold``, in 8-connected regions no larger
    than ``max_area`` x image area (``max_area >= 1`` keeps every saturated pixel)."""
    mask = np.min(sharp, axis=2) >= threshold  # clipped in every channel: white, like an overexposed lamp
    if not mask.any() or max_area >= 1.0:
        return mask
    from scipy import ndimage

    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes <= max_area * mask.size
    keep[0] = False
    return keep[labels]


def read_noise_for(photons: float, jitter: float = 0.0) -> float:
    """Read-noise std (linear units) paired with a shot-noise level, Brooks et al. 2019's log-linear fit."""
    lambda_shot = 1.0 / float(photons)
    return float(math.sqrt(math.exp(2.18 * math.log(lambda_shot) + 1.20 + jitter)))


def poisson_inverse_cdf(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson(``lam``) samples as the quantiles of uniforms ``u`` in [0, 1): the smallest k with P(X <= k) >= u.

    Why not ``Generator.poisson``: its rejection sampler consumes a number of random draws that depends on the
    exact value of ``lam``, and ``lam`` differs in the last bit between CPUs (numpy's SIMD ``power`` on AVX-512 vs
    AVX2, FFT rounding). One flipped accept/reject shifts every later draw, so the same seed gave a different
    image on another machine. Here each value uses exactly one uniform, and a last-bit change of ``lam`` alters a
    sample only if its uniform lies within that bit of a CDF step.

    Exact search on the CDF (``scipy.special.pdtr``) from a Cornish-Fisher first guess, usually 2 CDF evaluations
    per value; equal to ``scipy.stats.poisson.ppf`` (tested) and about 10x faster.
    """
    from scipy import special

    u = np.asarray(u, dtype=np.float64)
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), u.shape)
    z = special.ndtri(np.clip(u, 1e-300, 1.0 - 1e-16))
    guess = lam + np.sqrt(lam) * z + (z * z - 1.0) / 6.0
    k = np.maximum(np.floor(np.nan_to_num(guess)), 0.0).ravel()
    u, lam = u.ravel(), lam.ravel()
    # up: while P(X <= k) < u, k += 1 ; then down: while k > 0 and P(X <= k - 1) >= u, k -= 1
    todo = np.flatnonzero(special.pdtr(k, lam) < u)
    while todo.size:
        k[todo] += 1.0
        todo = todo[special.pdtr(k[todo], lam[todo]) < u[todo]]
    todo = np.flatnonzero(k > 0)
    todo = todo[special.pdtr(k[todo] - 1.0, lam[todo]) >= u[todo]]
    while todo.size:
        k[todo] -= 1.0
        todo = todo[k[todo] > 0]
        todo = todo[special.pdtr(k[todo] - 1.0, lam[todo]) >= u[todo]]
    return k.reshape(z.shape)


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float], log: bool = False) -> float:
    lo, hi = lo_hi
    if log:
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return float(rng.uniform(lo, hi))


def synthesize(sharp: np.ndarray, *, severity: int = 3, seed: int, **opts: Any) -> tuple[np.ndarray, dict]:
    """Degrade a sharp normal-light image into a dark, motion-blurred, noisy one.

    Args:
        sharp: H x W x 3 float RGB in [0, 1] (display-referred, e.g. an sRGB photo).
        severity: 1 (mild) .. 5 (extreme); selects the sampling ranges of :data:`SEVERITY`.
        seed: seeds every random draw; equal (image, severity, seed, opts) give identical bytes.
        **opts: overrides of sampled values or switches: ``kernel`` (2-D array/list, sum 1), ``blur_length``,
            ``exposure``, ``photons``, ``read_noise``, ``sat_gain``, ``sat_threshold``, ``crf``
            (``gamma2.2``/``srgb``/``linear``), ``blur``/``noise`` (bool), ``jpeg_quality`` (int, None = no JPEG),
            ``trajectory_steps``. Extra keys present in a saved params dict (``severity``, ``seed``, ``version``
            ...) are accepted and ignored so ``synthesize(img, **params)`` regenerates a sample.

    Returns:
        ``(degraded, params)``: degraded H x W x 3 float32 RGB in [0, 1]; params a JSON-serialisable dict with the
        kernel (list of rows), exposure, noise model and switches used.
    """
    sharp = np.asarray(sharp)
    if sharp.ndim != 3 or sharp.shape[2] != 3:
        raise ValueError(f"synthesize expects an H x W x 3 image, got shape {sharp.shape}")
    severity = int(severity)
    if severity not in SEVERITY:
        raise ValueError(f"severity must be 1..5, got {severity}")
    ranges = SEVERITY[severity]
    recorded_only = {"version", "gamma", "image_shape", "n_saturated", "noise_model", "source"}
    unknown = set(opts) - set(_OPTION_KEYS) - recorded_only
    if unknown:
        raise ValueError(f"unknown synthesis option(s) {sorted(unknown)}; valid: {list(_OPTION_KEYS)}")

    rng = np.random.default_rng(int(seed))
    # Draw every random value in a fixed order whatever the overrides, so overriding one keeps the others.
    sampled = {
        "blur_length": _uniform(rng, ranges["blur_length"]),
        "exposure": _uniform(rng, ranges["exposure"], log=True),
        "photons": _uniform(rng, ranges["photons"], log=True),
        "sat_gain": _uniform(rng, ranges["sat_gain"]),
    }
    read_jitter = float(rng.normal(0.0, 0.26))
    kernel_seed = int(rng.integers(0, 2**31 - 1))
    noise_seed = int(rng.integers(0, 2**31 - 1))
    p = {k: float(opts[k]) if opts.get(k) is not None else v for k, v in sampled.items()}
    p["read_noise"] = (float(opts["read_noise"]) if opts.get("read_noise") is not None
                       else read_noise_for(p["photons"], read_jitter))
    crf = str(opts.get("crf") or "gamma2.2")
    do_blur = bool(opts.get("blur", True))
    do_noise = bool(opts.get("noise", True))
    sat_threshold = float(opts.get("sat_threshold") if opts.get("sat_threshold") is not None else SAT_THRESHOLD)
    jpeg_quality = opts.get("jpeg_quality")
    steps = int(opts.get("trajectory_steps") or 96)

    if opts.get("kernel") is not None:
        kernel = np.asarray(opts["kernel"], dtype=np.float64)
        if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
            raise ValueError(f"kernel must be a 2-D odd-sized array, got shape {kernel.shape}")
        if not np.isfinite(kernel).all() or (kernel < 0).any() or kernel.sum() <= 0:
            raise ValueError("kernel must be finite, non-negative and have a positive sum")
        if abs(kernel.sum() - 1.0) > 1e-9:
            kernel = kernel / kernel.sum()
    elif do_blur:
        kernel = motion_kernel(np.random.default_rng(kernel_seed), p["blur_length"], steps)
    else:
        kernel = np.ones((1, 1))

    # 1. display -> linear radiance
    lin = inverse_crf(sharp, crf)
    # 2. restore clipped light sources: radiance sat_gain / exposure (stays >= clip level after darkening)
    max_area = float(opts["max_source_area"]) if opts.get("max_source_area") is not None else MAX_SOURCE_AREA
    sat_mask = light_source_mask(sharp, sat_threshold, max_area)
    n_sat = int(sat_mask.sum())
    if n_sat:
        boost = p["sat_gain"] / p["exposure"]
        lin = np.where(sat_mask[..., None], np.maximum(lin, 1e-3) * boost / np.maximum(lin.max(axis=2,
                       keepdims=True), 1e-3), lin)
    # 3. camera shake in linear radiance
    blurred = convolve(lin, kernel) if kernel.size > 1 else lin
    # 4. exposure
    dark = blurred * p["exposure"]
    # 5. Poisson-Gaussian noise, then sensor clipping
    dark = np.clip(dark, 0.0, None)
    if do_noise:
        nrng = np.random.default_rng(noise_seed)
        signal = np.minimum(dark, 1.0)
        shot = poisson_inverse_cdf(nrng.random(dark.shape), signal * p["photons"])
        noisy = shot / p["photons"] + nrng.normal(0.0, p["read_noise"], dark.shape)
        # full-well / ADC clipping: a pixel whose expected signal reaches full scale reads full scale
        noisy = np.where(dark >= 1.0, 1.0, noisy)
    else:
        noisy = dark
    raw = np.clip(noisy, 0.0, 1.0)
    # 6. camera response and optional JPEG
    out = forward_crf(raw, crf).astype(np.float32)
    if jpeg_quality is not None:
        out = _jpeg_roundtrip(out, int(jpeg_quality))

    params = {
        "version": SYNTH_VERSION,
        "severity": severity,
        "seed": int(seed),
        "crf": crf,
        "gamma": GAMMA if crf == "gamma2.2" else None,
        "blur": do_blur,
        "blur_length": p["blur_length"],
        "kernel": kernel.tolist(),
        "exposure": p["exposure"],
        "noise": do_noise,
        "noise_model": "poisson_gaussian: y = Poisson(photons*x)/photons + N(0, read_noise^2), x linear in [0,1]",
        "photons": p["photons"],
        "read_noise": p["read_noise"],
        "sat_threshold": sat_threshold,
        "sat_gain": p["sat_gain"],
        "max_source_area": max_area,
        "n_saturated": n_sat,
        "jpeg_quality": None if jpeg_quality is None else int(jpeg_quality),
        "image_shape": list(sharp.shape),
    }
    return np.clip(out, 0.0, 1.0).astype(np.float32), params


def _jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    import io

    from PIL import Image

    from ledbench.bench.imageio import to_uint8

    buf = io.BytesIO()
    Image.fromarray(to_uint8(img)).save(buf, format="JPEG", quality=int(quality), subsampling=0)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def regenerate(sharp: np.ndarray, params: dict) -> np.ndarray:
    """Re-create a degraded sample from its saved params (kernel, exposure, noise, seed)."""
    opts = {k: v for k, v in params.items() if k in _OPTION_KEYS}
    out, _ = synthesize(sharp, severity=int(params["severity"]), seed=int(params["seed"]), **opts)
    return out


# -- `ledbench synth SHARP_DIR OUT_DIR` --------------------------------------------------------------------------

#: ``ledbench synth`` keys (``key=value``) and what they do; ``--grid`` takes ``GRID_KEYS`` (also shown by --help).
SYNTH_KEYS = {"severity": "1..5 or a list like 1,3,5 (one sub-folder s<k> per level); default 3",
              "seed": "base seed; each image uses seed + crc32(its relative path); default 0",
              "jpeg_quality": "JPEG-compress the output at this quality (default: none)",
              "crf": "camera response: gamma2.2 | srgb | linear (default gamma2.2)",
              "limit": "only the first N images (default: all)"}
GRID_KEYS = {"seed": "seed of the degradations; default 0"}


def synth_main(sharp_dir: str | os.PathLike, out_dir: str | os.PathLike, overrides: dict) -> int:
    """Degrade every image under ``sharp_dir`` into ``out_dir`` (returns a process exit code).

    Writes ``OUT_DIR/low/<rel>.png`` (degraded), ``OUT_DIR/sharp/<rel>.png`` (the reference as read),
    ``OUT_DIR/params/<rel>.json`` (everything needed to regenerate it) and ``OUT_DIR/synth.json`` (the run).
    Overrides: ``severity`` (1..5 or a list -> ``OUT_DIR/s<k>/...`` per level), ``seed`` (base seed; each image
    uses ``seed + crc32(relative path)``), ``jpeg_quality``, ``crf``, ``limit``.
    The output is usable as ``synth:OUT_DIR`` (every level in one run, a ``severity`` column in the results; see
    :mod:`ledbench.datasets.sweep`) and, for one level, as ``folder:OUT_DIR`` (paired low -> sharp).
    """
    import zlib

    from ledbench.bench.errors import ConfigError, InputError
    from ledbench.bench.files import write_json
    from ledbench.bench.imageio import is_image_file, read_image, write_png

    overrides = dict(overrides or {})
    valid = set(SYNTH_KEYS)
    unknown = set(overrides) - valid
    if unknown:
        import difflib

        key = sorted(unknown)[0]
        close = difflib.get_close_matches(key, sorted(valid), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown key {key!r}{hint} for synth; valid keys: {', '.join(sorted(valid))}")
    sev = overrides.get("severity", 3)
    sevs = [int(s) for s in (sev if isinstance(sev, (list, tuple)) else str(sev).split(","))]
    for s in sevs:
        if s not in SEVERITY:
            raise ConfigError(f"synth: severity must be in 1..5, got {s}")
    base_seed = int(overrides.get("seed", 0))
    extra = {k: overrides[k] for k in ("jpeg_quality", "crf") if k in overrides}
    sharp_root = Path(sharp_dir)
    if not sharp_root.is_dir():
        raise InputError(f"synth: sharp image folder {str(sharp_root)!r} does not exist")
    files = sorted(p for p in sharp_root.rglob("*") if p.is_file() and is_image_file(p))
    if overrides.get("limit"):
        files = files[: int(overrides["limit"])]
    if not files:
        raise InputError(f"synth: no images found under {str(sharp_root)!r}")
    out_root = Path(out_dir)
    for s in sevs:
        root = out_root / f"s{s}" if len(sevs) > 1 else out_root
        for path in files:
            rel = path.relative_to(sharp_root).with_suffix("")
            seed = base_seed + zlib.crc32(rel.as_posix().encode())
            sharp = read_image(path)
            low, params = synthesize(sharp, severity=s, seed=seed, **extra)
            params["source"] = str(path)
            write_png(root / "sharp" / f"{rel}.png", sharp)
            write_png(root / "low" / f"{rel}.png", low)
            write_json(root / "params" / f"{rel}.json", params)
        write_json(root / "synth.json", {"sharp_dir": str(sharp_root), "severity": s, "seed": base_seed,
                                         "n_images": len(files), **extra,
                                         "layout": {"input": "low", "reference": "sharp", "params": "params"}})
        print(f"synth: wrote {len(files)} degraded images (severity {s}) to {root}")
    levels = ",".join(map(str, sevs))
    print(f"synth: benchmark every level in one run: ledbench run dataset=synth:{out_root} severity={levels}")
    return 0


def severity_grid(sharp: np.ndarray, *, seed: int = 0, severities=(1, 2, 3, 4, 5)) -> tuple[np.ndarray, list[dict]]:
    """A visual check: top row the reference then each severity; bottom row the kernel (enlarged, top-left inset)
    and each output brightened by ``mean(reference) / mean(output)`` so blur and noise are visible.

    Returns ``(uint8 grid, [params per severity])``.
    """
    from ledbench.bench.imageio import to_uint8

    h, w = sharp.shape[:2]
    top, bottom, all_params = [sharp], [sharp], []
    for s in severities:
        out, params = synthesize(sharp, severity=s, seed=seed)
        all_params.append(params)
        gain = float(sharp.mean() / max(out.mean(), 1e-6))
        bright = np.clip(out * gain, 0, 1)
        k = np.asarray(params["kernel"])
        scale = max(1, min(h, w) // (3 * k.shape[0]))
        kb = np.kron(k / k.max(), np.ones((scale, scale)))[..., None].repeat(3, axis=2)
        bright = bright.copy()
        bright[: kb.shape[0], : kb.shape[1]] = kb
        top.append(out)
        bottom.append(bright)
    sep = np.ones((h, 4, 3), np.float32)
    row = lambda imgs: np.concatenate([x for im in imgs for x in (im, sep)][:-1], axis=1)
    grid = np.concatenate([row(top), np.ones((4, row(top).shape[1], 3), np.float32), row(bottom)], axis=0)
    return to_uint8(grid), all_params


def severity_stats(sharp: np.ndarray, *, seed: int = 0, severities=(1, 2, 3, 4, 5)) -> list[dict]:
    """Measured statistics of :func:`synthesize` on one image, per severity (the physics check behind the grid).

    ``brightness``: output mean / reference mean (display values). ``noise_ratio``: variance of (noisy - noise-free
    output) in linear radiance over the noise model's mean variance ``x / photons + read_noise^2`` at the noise-free
    level ``x``, on pixels below full scale: 1.0 means the noise is as modelled; below 1 where clipping at 0 cuts
    the negative half of the noise of nearly black pixels (severity 5).
    """
    sharp = np.asarray(sharp, dtype=np.float64)
    rows = []
    for s in severities:
        out, p = synthesize(sharp, severity=s, seed=seed)
        clean, _ = synthesize(sharp, severity=s, seed=seed, noise=False)
        lin_out, lin_clean = inverse_crf(out, p["crf"]), inverse_crf(clean, p["crf"])
        valid = lin_clean < 1.0
        model = lin_clean[valid] / p["photons"] + p["read_noise"] ** 2
        rows.append({
            "severity": s, "brightness": float(out.mean() / sharp.mean()), "blur_length": p["blur_length"],
            "exposure": p["exposure"], "photons": p["photons"], "read_noise": p["read_noise"],
            "noise_ratio": float(np.var(lin_out[valid] - lin_clean[valid]) / model.mean()),
        })
    return rows


def grid_main(image: str | os.PathLike, out_png: str | os.PathLike, overrides: dict) -> int:
    """``ledbench synth IMAGE OUT.png --grid``: :func:`severity_grid` picture + :func:`severity_stats` table
    (printed, and saved as ``OUT.json`` beside the picture with every severity's parameters)."""
    from tabulate import tabulate

    from ledbench.bench.errors import ConfigError
    from ledbench.bench.files import write_json
    from ledbench.bench.imageio import read_image, write_png

    unknown = set(overrides or {}) - set(GRID_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} for synth --grid; valid keys: {sorted(GRID_KEYS)}")
    seed = int((overrides or {}).get("seed", 0))
    sharp = read_image(image)
    grid, params = severity_grid(sharp, seed=seed)
    stats = severity_stats(sharp, seed=seed)
    out_png = Path(out_png)
    write_png(out_png, grid)
    write_json(out_png.with_suffix(".json"),
               {"image": str(image), "seed": seed, "version": SYNTH_VERSION, "stats": stats, "params": params})
    print(tabulate(stats, headers="keys", floatfmt=".4g"))
    print(f"synth: wrote {out_png} (top: reference, severities 1..5; bottom: kernel inset, brightened to the "
          f"reference mean) and {out_png.with_suffix('.json')}")
    return 0
