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
    if download and spec.can_download and network_available():
        return download_weights(spec, what=what)
    raise WeightsUnavailable(unavailable_message(spec, what))


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
        raise WeightsUnavailable(f"download of {spec.filename} from {spec.url} failed ({exc}); "
                                 + unavailable_message(spec, what)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


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
            rows.append((candidates[0][0], path, f"refused: sha256 {digest[:12]} matches none of {expected}"))
            continue
        if any(sp.sha256 for _, sp in matching):
            matching = [(w, sp) for w, sp in matching if sp.sha256]
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


def load_checkpoint(path: str | os.PathLike, spec: WeightsSpec | None = None, *, trust: bool = False) -> dict:
    """Load a torch checkpoint safely (``weights_only=True`` unless ``trust``) and unwrap its state dict."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trust)
    except Exception as exc:
        if not trust and "weights_only" in str(exc):
            raise WeightsUnavailable(
                f"{str(path)!r} needs full unpickling (it stores Python objects); if you trust its source, pass "
                f"trust_weights=True") from None
        raise WeightsUnavailable(f"cannot read weights file {str(path)!r}: {exc}") from None
    key = spec.state_dict_key if spec else None
    if key and isinstance(obj, dict) and key in obj:
        obj = obj[key]
    elif isinstance(obj, dict):
        for k in ("params", "params_ema", "state_dict", "model"):
            if k in obj and isinstance(obj[k], dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict):
        raise WeightsUnavailable(f"{str(path)!r} does not hold a state dict")
    return obj


def spec_to_json(spec: WeightsSpec) -> str:
    from .config import config_to_dict

    return json.dumps(config_to_dict(spec), indent=2)


def url_filename(url: str) -> str:
    return Path(urllib.parse.urlparse(url).path).name
