"""Explicit, sha256-checked weight handling.

Every learned component declares a :class:`WeightsSpec`. :func:`resolve_weights` finds the file in this order:

1. an explicit path given by the user (``weights=path``),
2. a file shipped inside the package (``packaged``),
3. ``$LEDBENCH_WEIGHTS`` folders, then ``$LEDBENCH_HOME/weights`` (what ``ledbench weights import/fetch`` fill),
4. a download, only when allowed (``download=True``) and the network answers quickly,
5. otherwise :class:`WeightsUnavailable`, whose message names the file, where to get it and the command that
   imports it. A file whose sha256 differs from the declared one is refused (:class:`ChecksumError`).

Nothing downloads at import time, and never silently: downloads print what they fetch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ChecksumError, WeightsUnavailable
from .paths import home, weights_dirs


@dataclass(frozen=True)
class WeightsSpec:
    """Where a weights file comes from and how to check it (the role of timm's ``PretrainedCfg``).

    Attributes:
        filename: file name as published (also the name looked for in the weights folders).
        sha256: hex digest of the file; None only where no official digest exists yet (then a warning is shown
            and the digest of the file actually used is recorded in the results).
        url: direct download URL (GitHub release, Google Drive export link ...), or None.
        hf_repo: Hugging Face repo id to fetch ``filename`` from, or None.
        packaged: path relative to the ``ledbench`` package root of a file shipped in the wheel, or None.
        license / source / paper: provenance shown by ``ledbench weights list``.
        state_dict_key: key under which the state dict is stored in the checkpoint (``params``, ``model``), or None.
        subdir: sub-folder of a weights folder where the file may also live (``<subdir>/<filename>``).
        size_mb: approximate size, shown before downloading.
        config: the Config overrides the file needs (``{"width": 32}``); a weights tag is the single place that
            says so: the registry applies them once, when it builds the plugin, under the user's overrides.
        extra: loader hints a consumer reads itself (a metric's CLIP build options); never Config overrides.
    """

    filename: str
    sha256: str | None = None
    url: str | None = None
    hf_repo: str | None = None
    packaged: str | None = None
    license: str = "unknown"
    source: str = ""
    paper: str = ""
    state_dict_key: str | None = None
    subdir: str | None = None
    size_mb: float | None = None
    notes: str = ""
    config: dict = field(default_factory=dict, hash=False)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def can_download(self) -> bool:
        return bool(self.url or self.hf_repo)


# -- hashing ----------------------------------------------------------------------------------------------------

_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, memoised per (path, size, mtime) for the life of the process."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_MEMO:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(chunk), b""):
                h.update(block)
        _HASH_MEMO[key] = h.hexdigest()
    return _HASH_MEMO[key]


def verify_file(path: Path, spec: WeightsSpec) -> str:
    """Return the file's sha256; raise :class:`ChecksumError` if it differs from ``spec.sha256``."""
    digest = sha256_file(path)
    if spec.sha256 and digest != spec.sha256.lower():
        raise ChecksumError(
            f"weights file {str(path)!r} has sha256 {digest[:16]}..., expected {spec.sha256[:16]}... for "
            f"{spec.filename}; the file is corrupt or a different release: delete it and fetch it again "
            f"(`ledbench weights fetch`), or pass the right file")
    return digest


# -- network ----------------------------------------------------------------------------------------------------

def offline_requested() -> bool:
    """True when the user asked for offline mode (``LEDBENCH_OFFLINE``, ``HF_HUB_OFFLINE``, ``YOLO_OFFLINE``)."""
    for var in ("LEDBENCH_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "YOLO_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False


_ONLINE: bool | None = None


def network_available(host: str = "huggingface.co", port: int = 443, timeout: float = 1.5) -> bool:
    """A quick, memoised reachability probe, so hub calls fail fast instead of retrying for tens of seconds."""
    global _ONLINE
    if offline_requested():
        return False
    if _ONLINE is None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                _ONLINE = True
        except OSError:
            _ONLINE = False
    return _ONLINE


# -- resolution -------------------------------------------------------------------------------------------------

def packaged_path(spec: WeightsSpec) -> Path | None:
    """The shipped file for ``spec.packaged`` (``"enhancers/weights/x.pt"``: a path inside the ``ledbench``
    package), located through the sub-package so it works for wheels and editable installs alike."""
    if not spec.packaged:
        return None
    import importlib.util

    head, _, rest = spec.packaged.partition("/")
    found = importlib.util.find_spec(f"ledbench.{head}")
    for base in (found.submodule_search_locations or []) if found else []:
        cand = Path(base) / rest
        if cand.is_file():
            return cand
    return None


def local_candidates(spec: WeightsSpec) -> list[Path]:
    out = []
    for d in weights_dirs():
        if spec.subdir:
            out.append(d / spec.subdir / spec.filename)
        out.append(d / spec.filename)
    return out


def find_local(spec: WeightsSpec) -> Path | None:
    """The first local copy of ``spec`` (packaged, then weights folders), without hashing it."""
    p = packaged_path(spec)
    if p is not None:
        return p
    for cand in local_candidates(spec):
        if cand.is_file():
            return cand
    return None


def unavailable_message(spec: WeightsSpec, what: str) -> str:
    where = spec.url or (f"https://huggingface.co/{spec.hf_repo}" if spec.hf_repo else spec.source or "its authors")
    target = home() / "weights"
    fetch = f"`ledbench weights fetch {what}` (needs internet)" if spec.can_download else None
    parts = [f"weights unavailable for {what}: {spec.filename} not found in {', '.join(map(str, weights_dirs()))}."]
    notes = f" ({spec.notes})" if spec.notes and not spec.url else ""
    parts.append(f"Get it from {where}{notes}, then run `ledbench weights import DIR` (copies and checks it into "
                 f"{target})")
    if fetch:
        parts.append(f"or {fetch}")
    parts.append("or pass weights=PATH.")
    return " ".join(parts)


def resolve_weights(spec: WeightsSpec, explicit: str | os.PathLike | None = None, *, what: str | None = None,
                    download: bool = False, verify: bool = True) -> Path:
    """Find (and optionally download) the file for ``spec``; see the module docstring for the order."""
    what = what or spec.filename
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise WeightsUnavailable(f"weights file {str(path)!r} for {what} does not exist; check the path")
        # an explicit file may be a fine-tuned variant: hash it, but only refuse when names match and sha differs
        if verify and spec.sha256 and path.name == spec.filename:
            verify_file(path, spec)
        return path
    path = find_local(spec)
    if path is not None:
        if verify:
            verify_file(path, spec)
        return path
    if download and spec.can_download:
        if not network_available():
            raise WeightsUnavailable(offline_message(spec, what))
        return download_weights(spec, what=what)
    raise WeightsUnavailable(unavailable_message(spec, what))


def download_url(spec: WeightsSpec) -> str:
    """Where ``spec`` downloads from (its URL, or the Hugging Face file URL)."""
    return spec.url or f"https://huggingface.co/{spec.hf_repo}/resolve/main/{spec.filename}"


def offline_message(spec: WeightsSpec, what: str, why: str = "") -> str:
    """A download that cannot happen because the network is unreachable (or offline mode is set): what to do on
    another machine instead of pointing back at ``ledbench weights fetch``."""
    url = download_url(spec)
    host = urllib.parse.urlparse(url).hostname or url
    user_offline = os.environ.get("LEDBENCH_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    cause = ("offline mode is set (LEDBENCH_OFFLINE)" if user_offline
             else f"the network is unreachable from here{f' ({why})' if why else ''}")
    return (f"cannot download weights for {what}: cannot reach {host}: {cause}; download {url} on a machine with "
            f"internet and run `ledbench weights import DIR` here (DIR: the folder holding {spec.filename}), or "
            "pass weights=PATH")


def download_weights(spec: WeightsSpec, *, what: str | None = None) -> Path:
    """Download ``spec`` into ``$LEDBENCH_HOME/weights`` atomically and check its sha256."""
    target_dir = home() / "weights"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / spec.filename
    what = what or spec.filename
    if spec.hf_repo:
        try:
            from huggingface_hub import hf_hub_download

            got = Path(hf_hub_download(spec.hf_repo, spec.filename))
        except Exception as exc:
            if _unreachable(exc):
                raise WeightsUnavailable(offline_message(spec, what, type(exc).__name__)) from None
            raise WeightsUnavailable(f"download of {spec.filename} for {what} from {spec.hf_repo} failed: {exc}; "
                                     + unavailable_message(spec, what)) from None
        verify_file(got, spec)
        shutil.copyfile(got, target)
        return target
    assert spec.url
    print(f"ledbench: downloading {spec.filename} ({spec.size_mb or '?'} MB) from {spec.url}", file=sys.stderr)
    fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".download-")
    try:
        import urllib.request

        from tqdm.auto import tqdm

        with urllib.request.urlopen(spec.url, timeout=30) as resp, os.fdopen(fd, "wb") as out:
            if "text/html" in (resp.headers.get("Content-Type") or ""):
                raise ValueError("the server answered with a web page, not the file (Google Drive quota or "
                                 "confirmation page?); download it in a browser and use `ledbench weights import`")
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=spec.filename, leave=False) as bar:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
        digest = sha256_file(tmp)
        if spec.sha256 and digest != spec.sha256.lower():
            raise ChecksumError(f"downloaded {spec.filename} from {spec.url} has sha256 {digest}, expected "
                                f"{spec.sha256}; refusing it")
        os.replace(tmp, target)
    except (OSError, ValueError) as exc:
        if _unreachable(exc):
            raise WeightsUnavailable(offline_message(spec, what, str(getattr(exc, "reason", exc)))) from None
        raise WeightsUnavailable(f"download of {spec.filename} from {spec.url} failed ({exc}); "
                                 + unavailable_message(spec, what)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _unreachable(exc: BaseException) -> bool:
    """A connection that could not be made (no route, DNS failure, refused, timed out, hub offline mode), as
    opposed to a server that answered with an error."""
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        return False
    if isinstance(exc, (urllib.error.URLError, socket.timeout, socket.gaierror, ConnectionError, TimeoutError)):
        return True
    return type(exc).__name__ in ("OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectError")


def import_weights(directory: str | os.PathLike, specs: dict[str, WeightsSpec]) -> list[tuple[str, Path, str]]:
    """Copy every file in ``directory`` (recursively) whose name matches a spec into ``$LEDBENCH_HOME/weights``.

    Returns ``(what, destination, status)`` rows; status is ``imported``, ``already present`` or the reason a
    file was refused (checksum mismatch).
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise WeightsUnavailable(f"weights folder {str(directory)!r} does not exist")
    by_name: dict[str, list[tuple[str, WeightsSpec]]] = {}
    for what, spec in specs.items():
        by_name.setdefault(spec.filename, []).append((what, spec))
    target_dir = home() / "weights"
    target_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.name not in by_name:
            continue
        digest = sha256_file(path)
        candidates = by_name[path.name]
        # several specs may share a file name (two releases both called Epoch99.pth): the sha256 decides
        matching = [(w, sp) for w, sp in candidates if not sp.sha256 or digest == sp.sha256.lower()]
        if not matching:
            expected = ", ".join(sp.sha256[:12] for _, sp in candidates if sp.sha256)
            rows.append((candidates[0][0], path, f"refused: {path.name} is a known name but its sha256 "
                                                 f"{digest[:12]} matches none of the official ones ({expected}): "
                                                 "corrupt or a different file"))
            continue
        if any(sp.sha256 for _, sp in matching):
            matching = [(w, sp) for w, sp in matching if sp.sha256]
        else:  # no official digest to compare: read the contents safely instead (no code runs)
            problem = content_problem(path, matching[0][1], what=matching[0][0])
            if problem:
                rows.append((matching[0][0], path, f"refused: {problem}"))
                continue
        for what, spec in matching:
            dest_dir = target_dir / spec.subdir if spec.subdir else target_dir
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / spec.filename
            if dest.is_file() and sha256_file(dest) == digest:
                rows.append((what, dest, "already present"))
                continue
            tmp = dest.with_name(f".{dest.name}.tmp")
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)
            rows.append((what, dest, "imported"))
    return rows


#: file suffixes of checkpoints, beside those of the registered weights (what a skipped download may be)
WEIGHT_SUFFIXES = (".bin", ".ckpt", ".h5", ".npz", ".onnx", ".pkl", ".pt", ".pth", ".safetensors", ".tar",
                   ".weights")


def unrecognised_files(directory: str | os.PathLike, specs: dict[str, WeightsSpec]) -> list[Path]:
    """The weight-like files under ``directory`` (recursively; a checkpoint suffix, hidden ones left out) that
    :func:`import_weights` skips because no spec in ``specs`` has their file name."""
    names = {spec.filename for spec in specs.values()}
    suffixes = set(WEIGHT_SUFFIXES) | {Path(n).suffix.lower() for n in names if Path(n).suffix}
    directory = Path(directory).expanduser()
    return [p for p in sorted(directory.rglob("*")) if p.is_file() and p.name not in names
            and p.suffix.lower() in suffixes
            and not any(part.startswith(".") for part in p.relative_to(directory).parts)]


# -- safe loading: no code from weights without consent -----------------------------------------------------------

TRUST_HINT = "only if you trust where the file comes from, pass trust_weights=True (CLI: --trust-weights)"


class UnsafeCheckpoint(WeightsUnavailable):
    """A pickled checkpoint that references Python objects outside the allowed classes: loading it in full could run
    code, so it is refused unless the user passes ``trust_weights=True``."""


def not_a_checkpoint(path: str | os.PathLike, exc: BaseException | str) -> WeightsUnavailable:
    """The error for an unreadable, truncated or foreign file (never advises trusting it)."""
    detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
    if isinstance(exc, BaseException):
        detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return WeightsUnavailable(f"not a checkpoint / corrupt: {str(path)!r} ({detail}); download or export it again")


def _offending_globals(path: str | os.PathLike, exc: BaseException, allowed: set[str] = frozenset()) -> list[str]:
    import re

    try:
        import torch

        names = [n for n in torch.serialization.get_unsafe_globals_in_checkpoint(str(path)) if n not in allowed]
        if names:
            return names
    except Exception:  # noqa: BLE001 - legacy (non-zip) format: read the name from torch's message
        pass
    return re.findall(r"GLOBAL ([\w.]+)", str(exc))


def _is_unsafe_error(exc: BaseException) -> bool:
    """torch's weights_only unpickler refused a global / opcode (as opposed to a truncated or foreign file)."""
    import pickle

    text = str(exc)
    return isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in text


def safe_torch_load(path: str | os.PathLike, *, trust: bool = False, allowed_globals: list | None = None,
                    what: str | None = None) -> Any:
    """``torch.load`` with ``weights_only=True`` (plus ``allowed_globals``, entries as for
    ``torch.serialization.safe_globals``) unless ``trust``.

    Raises :class:`UnsafeCheckpoint` naming the first offending globals when the file stores other Python objects,
    and ``WeightsUnavailable("not a checkpoint / corrupt: ...")`` for a truncated or foreign file.
    """
    import contextlib
    import warnings

    import torch

    path = Path(path)
    try:
        if trust:
            return torch.load(path, map_location="cpu", weights_only=False)
        ctx = torch.serialization.safe_globals(allowed_globals) if allowed_globals else contextlib.nullcontext()
        with ctx, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        if isinstance(exc, (MemoryError, KeyboardInterrupt)):
            raise
        bad = _offending_globals(path, exc, {_global_name(e) for e in allowed_globals or []}) \
            if not trust and _is_unsafe_error(exc) else []
        if bad:  # a named global was refused; anything else (bad opcode, cut zip) is not a checkpoint
            listed = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise UnsafeCheckpoint(
                f"refusing to unpickle {str(path)!r}{f' ({what})' if what else ''}: it references {listed}, which "
                f"is not among the classes allowed in a model checkpoint, so loading it could run code. Use the "
                f"official file (or a state dict / safetensors export); {TRUST_HINT}") from None
        raise not_a_checkpoint(path, exc) from None


def _global_name(entry: Any) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f"{entry.__module__}.{entry.__qualname__}"


def content_problem(path: str | os.PathLike, spec: WeightsSpec, *, what: str | None = None) -> str | None:
    """Why a file without an official sha256 must not be imported, or None: ``spec.extra["content_check"]`` names
    (as ``"module:function"``) a check that raises on a file whose unpickling could run code or that is not a
    checkpoint (ultralytics ``.pt`` files use :func:`ledbench.tasks.ultralytics_env.check_ultralytics_checkpoint`).
    """
    target = (spec.extra or {}).get("content_check")
    if not target:
        return None
    import importlib

    module, _, func = str(target).partition(":")
    try:
        getattr(importlib.import_module(module), func)(path, what=what)
    except WeightsUnavailable as exc:
        return str(exc)
    return None


def load_checkpoint(path: str | os.PathLike, spec: WeightsSpec | None = None, *, trust: bool = False) -> dict:
    """Load a torch checkpoint safely (``weights_only=True`` unless ``trust``) and unwrap its state dict."""
    obj = safe_torch_load(path, trust=trust)
    key = spec.state_dict_key if spec else None
    if key and isinstance(obj, dict) and key in obj:
        obj = obj[key]
    elif isinstance(obj, dict):
        for k in ("params", "params_ema", "state_dict", "model"):
            if k in obj and isinstance(obj[k], dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict):
        raise WeightsUnavailable(f"{str(path)!r} does not hold a state dict (found {type(obj).__name__})")
    return obj


def load_state_dict_checked(model: Any, state: dict, *, source: str | os.PathLike | None = None,
                            arch: str | None = None, strict: bool = True) -> None:
    """``model.load_state_dict(state, strict)`` with a one-line error instead of torch's key dump.

    The message names the file, the architecture that expected the keys and the first few missing, unexpected and
    shape-mismatched keys (:class:`WeightsUnavailable`).
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state] if strict else []
    unexpected = [k for k in state if k not in own] if strict else []
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        def few(keys: list[str]) -> str:
            return ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")

        parts = [f"{len(missing)} missing: {few(missing)}" if missing else "",
                 f"{len(unexpected)} unexpected: {few(unexpected)}" if unexpected else "",
                 f"{len(shapes)} shape mismatches (file vs model): {few(shapes)}" if shapes else ""]
        arch = arch or type(model).__name__
        where = f"{str(source)!r}" if source is not None else "the state dict"
        raise WeightsUnavailable(f"{where} does not fit {arch}: {'; '.join(p for p in parts if p)}; pass the "
                                 f"checkpoint made for this architecture (or the matching weight tag / config)")
    model.load_state_dict(state, strict=strict)


def hf_pretrained_kwargs(folder: str | os.PathLike | None, *, trust: bool = False, what: str | None = None) -> dict:
    """Keyword arguments for transformers' ``from_pretrained`` that never unpickle code without consent.

    Not trusted: safetensors when the folder has them (``use_safetensors=True``); a folder with only pickled
    ``*.bin`` weights is read here first with ``weights_only=True`` (:class:`UnsafeCheckpoint` if it stores Python
    objects, "not a checkpoint / corrupt" if unreadable) and then loaded with ``weights_only=True``. Trusted: full
    unpickling is allowed (``weights_only=False``). ``folder`` None (a hub id) relies on ``weights_only=True``.
    """
    if trust:
        return {"weights_only": False}
    kwargs: dict[str, Any] = {"weights_only": True}
    if folder is not None and Path(folder).is_dir():
        folder = Path(folder)
        if any(folder.glob("*.safetensors")):
            kwargs["use_safetensors"] = True
        else:
            for binary in sorted(folder.glob("*.bin")):
                safe_torch_load(binary, what=what)
            kwargs["use_safetensors"] = False
    return kwargs


def spec_to_json(spec: WeightsSpec) -> str:
    from .config import config_to_dict

    return json.dumps(config_to_dict(spec), indent=2)


def url_filename(url: str) -> str:
    return Path(urllib.parse.urlparse(url).path).name
