"""Hugging Face model folders for the transformers-backed tasks: finding one (:func:`resolve_hf_folder`) and its digest.

A model folder holds ``config.json`` and the weights (``model.safetensors`` or ``pytorch_model.bin``). Resolution
order: an explicit folder > ``$LEDBENCH_WEIGHTS`` / ``$LEDBENCH_HOME/weights`` sub-folder ``spec.subdir``
(``<owner>--<name>`` by convention) > the Hugging Face cache > a download only with ``download=True`` and a
reachable hub > :class:`WeightsUnavailable` naming the repo and the fix. Nothing is downloaded implicitly.
"""

from __future__ import annotations

from pathlib import Path

from ledbench.bench.errors import WeightsUnavailable
from ledbench.bench.paths import home, weights_dirs
from ledbench.bench.weights import WeightsSpec, network_available, sha256_file

__all__ = ["HF_WEIGHT_FILES", "folder_weights_sha256", "hub_spec", "is_model_dir", "resolve_hf_folder"]

HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def hub_spec(repo: str, license: str, paper: str, size_mb: float | None = None, notes: str = "") -> WeightsSpec:
    """The :class:`WeightsSpec` of a hub model folder (found locally under the sub-folder ``<owner>--<name>``)."""
    return WeightsSpec(filename="model.safetensors", hf_repo=repo, license=license, source=f"hf:{repo}",
                       paper=paper, subdir=repo.replace("/", "--"), size_mb=size_mb, notes=notes)


def is_model_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def resolve_hf_folder(spec: WeightsSpec, explicit: str | Path | None = None, *, what: str, download: bool = False,
                      patterns: tuple[str, ...] = ("*.json", "*.safetensors", "*.txt"),
                      fix: str = "pass weights=FOLDER (a checkpoint folder of the same family)") -> Path:
    """Find a Hugging Face model folder for ``spec`` (see the module docstring for the order).

    ``explicit``: a folder (or a file inside one). ``patterns``: the files a download fetches. ``fix``: the last
    remedy the "unavailable" message offers."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_file() and is_model_dir(path.parent):
            path = path.parent
        if not is_model_dir(path):
            raise WeightsUnavailable(f"{str(path)!r} given for {what} is not a Hugging Face model folder (it needs "
                                     f"config.json and model.safetensors); pass the folder that holds them")
        return path
    for d in weights_dirs():
        for cand in (d / (spec.subdir or ""), d / spec.filename):
            if is_model_dir(cand):
                return cand
    repo = spec.hf_repo
    if repo:
        try:
            from huggingface_hub import snapshot_download

            cached = Path(snapshot_download(repo, local_files_only=True))
            if is_model_dir(cached):
                return cached
        except Exception:  # noqa: BLE001, S110 - not in the cache (LocalEntryNotFoundError) or no hub client
            pass
        if download and network_available():
            try:
                from huggingface_hub import snapshot_download

                print(f"ledbench: downloading {repo} ({spec.size_mb or '?'} MB) from the Hugging Face hub")
                got = Path(snapshot_download(repo, allow_patterns=list(patterns)))
                if is_model_dir(got):
                    return got
            except Exception as exc:  # noqa: BLE001
                raise WeightsUnavailable(f"download of {repo} for {what} failed: {exc}") from None
    target = home() / "weights" / (spec.subdir or "MODEL")
    raise WeightsUnavailable(
        f"weights unavailable for {what}: no Hugging Face model folder for {repo} in "
        f"{', '.join(str(d / (spec.subdir or '')) for d in weights_dirs())} or the Hugging Face cache. "
        f"Get it with `huggingface-cli download {repo} --local-dir {target}` (needs internet), or create the task "
        f"with download=True while online, or {fix}.")


def folder_weights_sha256(folder: Path) -> str | None:
    """SHA-256 of the folder's weights file: the first of :data:`HF_WEIGHT_FILES` present, else the first
    ``*.safetensors`` / ``*.bin`` by name (a sharded checkpoint's first shard); None when there is none."""
    for fname in HF_WEIGHT_FILES:
        if (folder / fname).is_file():
            return sha256_file(folder / fname)
    others = sorted([*folder.glob("*.safetensors"), *folder.glob("*.bin")])
    return sha256_file(others[0]) if others else None
