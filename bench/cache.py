"""Content-addressed, verified cache for enhanced images, task predictions and per-image scores.

Keys are SHA-256 digests of canonical JSON:

- enhanced image: (cache format, enhancer identity = name + config + weights sha256 + tiling/AMP, input content
  hash) -> lossless PNG (uint8 RGB). Scores are computed on this quantised image, so a hit is bit-identical to a
  fresh computation.
- prediction: (cache format, task identity = name + config + weights sha256, image key) -> ``.npz``.
- per-image score: (cache format, metric identity, prediction key, target key) -> ``.json`` (per-image metrics
  only).
- group result: (cache format, metric identity and source code, every unit's image id, prediction key and target
  key) -> ``.npz``: a metric's frozen result over a whole results group (values, standard errors, per-image values,
  sufficient statistics), so a fully cached run loads no prediction (dataset-level metrics such as COCO mAP
  included). Written only when no unit of the group failed.

Integrity: every entry is written atomically (temp file + ``os.replace``) and followed by a sidecar
``<entry>.b2`` holding the BLAKE2b digest and size of its bytes. A read (``has_*`` and ``get_*``) verifies the bytes
against the sidecar: a truncated PNG, a cut ``.npz`` or a flipped bit in a score is reported once (a ``WARNING`` on
the ``ledbench.cache`` logger naming the file), removed, counted in ``stats["corrupt"]`` and treated as a miss, so
the caller recomputes it. Entries written by older versions (no sidecar) are misses and are overwritten on
recomputation (nothing from before verification is trusted).

Sharing: processes that share one cache root take a per-key file lock (:meth:`Cache.lock`, ``filelock``), and
:meth:`Cache.once` computes a unit only when no one else did it while this process waited, so no work is done twice
and no write interleaves. The root is ``$LEDBENCH_HOME/cache``, never inside the package.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ledbench.bench.config import canonical_json, sha256_text
from ledbench.bench.files import StatMemo, atomic_write_bytes
from ledbench.bench.imageio import encode_png, read_png_u8

CACHE_FORMAT = 1


class Identity(dict):
    """An identity mapping whose canonical JSON is computed once. Plugins' identities are fixed once built, and a
    run derives one cache key per (plugin, image): serialising the identity once per key would cost more than
    the key at scale. Never mutate one after creation."""

    __slots__ = ("canonical",)

    def __init__(self, value: Any = ()):
        super().__init__(value)
        self.canonical = canonical_json(dict(self))


def _identity_text(identity: Any) -> str:
    return identity.canonical if isinstance(identity, Identity) else canonical_json(identity)


def _key(fields: dict[str, Any], identity_field: str) -> str:
    """``sha256(canonical_json(fields))``, with the identity's JSON spliced in: the same text as serialising the
    whole mapping (sorted keys, compact separators), without re-serialising the identity each time."""
    if not all(isinstance(v, (str, int)) for k, v in fields.items() if k != identity_field):
        return sha256_text(canonical_json(fields))
    parts = [f"{json.dumps(k)}:" + (_identity_text(v) if k == identity_field else json.dumps(v))
             for k, v in sorted(fields.items())]
    return sha256_text("{" + ",".join(parts) + "}")


def enhanced_key(enhancer_identity: dict[str, Any], input_hash: str) -> str:
    return _key({"v": CACHE_FORMAT, "stage": "enhance", "enhancer": enhancer_identity, "input": input_hash},
                "enhancer")


def score_key(metric_identity: dict[str, Any], pred_key: str, target_key: str) -> str:
    return _key({"v": CACHE_FORMAT, "stage": "score", "metric": metric_identity, "pred": pred_key,
                 "target": target_key}, "metric")


# task kind -> version of its cached prediction layout, where it changed after CACHE_FORMAT (keys of the other
# kinds are unchanged). segmentation 2: the mask plus the model's mean softmax entropy and confidence.
PREDICTION_FORMAT = {"segmentation": 2}


def prediction_key(task_identity: dict[str, Any], image_key: str, task_kind: str = "") -> str:
    fields = {"v": CACHE_FORMAT, "stage": "predict", "task": task_identity, "image": image_key}
    if task_kind in PREDICTION_FORMAT:
        fields["format"] = PREDICTION_FORMAT[task_kind]
    return _key(fields, "task")


DIGEST_SUFFIX = ".b2"
_log = logging.getLogger("ledbench.cache")


def _digest(data: bytes) -> str:
    return f"blake2b-128 {hashlib.blake2b(data, digest_size=16).hexdigest()} {len(data)}"


class Cache:
    """Enhanced-image, prediction and score store under ``root``; ``stats`` counts hits and misses per stage (and
    ``corrupt`` entries removed)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.stats: Counter = Counter()
        self._reported: set[str] = set()
        # entries already verified against their digest, by stat stamp (and the input files' hashes, see
        # ledbench.bench.files.use_stat_memo): a re-run checks that an entry exists without reading it again
        self.memo = StatMemo(self.root / "stat_memo.json")

    def _path(self, kind: str, key: str, suffix: str) -> Path:
        return self.root / kind / key[:2] / f"{key}{suffix}"

    # -- verified bytes -----------------------------------------------------------------------------------------
    def _write(self, path: Path, data: bytes) -> None:
        """Entry first, then its digest: a reader never sees a digest for bytes that are not there yet."""
        atomic_write_bytes(path, data)
        digest = _digest(data)
        atomic_write_bytes(path.with_name(path.name + DIGEST_SUFFIX), digest.encode())
        try:
            self.memo.put(str(path), "verified", path.stat(), digest)
        except OSError:
            pass

    def _bad(self, path: Path, why: str) -> None:
        """Report a corrupt entry once, remove it (and its digest) and count it; the caller treats it as a miss."""
        if str(path) not in self._reported:
            self._reported.add(str(path))
            _log.warning("ledbench cache: corrupt entry %s (%s); removed, it will be recomputed", path, why)
        self.stats["corrupt"] += 1
        for p in (path, path.with_name(path.name + DIGEST_SUFFIX)):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:  # read-only shared cache: say so, the entry stays a miss for this process
                _log.warning("ledbench cache: cannot remove %s: %s", p, exc)

    def read_verified(self, path: Path) -> bytes | None:
        """The entry's bytes if present and matching its digest; None for a miss (absent, or written by a version
        without digests); a corrupt entry is reported, removed and None."""
        side = path.with_name(path.name + DIGEST_SUFFIX)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._bad(path, f"unreadable: {exc}")
            return None
        try:
            expected = side.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None  # legacy entry or a write in progress: a miss, overwritten when recomputed
        except (OSError, UnicodeDecodeError) as exc:
            self._bad(path, f"unreadable digest: {exc}")
            return None
        if _digest(data) != expected:
            self._bad(path, f"content does not match its digest ({len(data)} bytes)")
            return None
        return data

    def _has(self, path: Path) -> bool:
        """Whether a verified entry exists. An entry verified before (same stat stamp, same digest file) is not
        read again; a changed one is read and checked in full."""
        try:
            st = path.stat()
            expected = path.with_name(path.name + DIGEST_SUFFIX).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return self.read_verified(path) is not None  # absent, legacy or unreadable: the full path says which
        if self.memo.get(str(path), "verified", st) == expected:
            return True
        if self.read_verified(path) is None:
            return False
        self.memo.put(str(path), "verified", st, expected)
        return True

    # -- shared caches ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, key: str, timeout: float = -1):
        """Exclusive per-key lock across processes (``filelock`` on ``ROOT/locks/<k>/<key>.lock``).

        Use it as "compute unless someone else did it while I waited"::

            with cache.lock(key):
                if not cache.has_enhanced(key):
                    cache.put_enhanced(key, compute())

        (or :meth:`once`). Lock files are left in place: deleting one while another process waits on it would
        let two processes hold "the" lock.
        """
        from filelock import FileLock

        path = self._path("locks", key, ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path), timeout=timeout):
            yield

    def claim(self, key: str, *, block: bool = False):
        """Take ``key``'s lock and return it (call ``.release()`` when the entry is stored), or None when another
        process holds it and ``block`` is false. The stages claim each unit before computing it, so two runs that
        share a cache never compute the same unit twice."""
        from filelock import FileLock, Timeout

        path = self._path("locks", key, ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        lk = FileLock(str(path), timeout=-1 if block else 0)
        try:
            lk.acquire()
        except Timeout:
            return None
        return lk

    def once(self, key: str, exists: Callable[[], bool], compute: Callable[[], Any]) -> bool:
        """Run ``compute()`` (which stores the entry) under ``key``'s lock unless ``exists()`` is true before or
        after waiting for the lock. True when this process computed it."""
        if exists():
            return False
        with self.lock(key):
            if exists():
                return False
            compute()
            return True

    # -- enhanced images ----------------------------------------------------------------------------------------
    def enhanced_path(self, key: str) -> Path:
        return self._path("enhanced", key, ".png")

    def has_enhanced(self, key: str) -> bool:
        """True when a verified entry exists (a corrupt one is removed and reported)."""
        return self._has(self.enhanced_path(key))

    def get_enhanced(self, key: str, *, count: bool = True) -> np.ndarray | None:
        """The cached uint8 image or None; ``count=False`` for re-reads that should not count as hits."""
        path = self.enhanced_path(key)
        data = self.read_verified(path)
        img = None
        if data is not None:
            try:
                img = read_png_u8(io.BytesIO(data))
            except Exception as exc:  # noqa: BLE001 - digest matched but PIL refuses it: written broken
                self._bad(path, f"cannot decode: {exc}")
        if count:
            self.stats["enhance_hit" if img is not None else "enhance_miss"] += 1
        return img

    def put_enhanced(self, key: str, img_u8: np.ndarray) -> Path:
        path = self.enhanced_path(key)
        self._write(path, encode_png(img_u8))
        return path

    # -- predictions --------------------------------------------------------------------------------------------
    def prediction_path(self, key: str) -> Path:
        return self._path("predictions", key, ".npz")

    def has_prediction(self, key: str) -> bool:
        return self._has(self.prediction_path(key))

    def get_prediction(self, key: str, *, count: bool = True) -> dict[str, np.ndarray] | None:
        path = self.prediction_path(key)
        data = self.read_verified(path)
        pred = None
        if data is not None:
            try:
                with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                    pred = {k: npz[k] for k in npz.files}
            except Exception as exc:  # noqa: BLE001 - zipfile/zlib/ValueError for a broken archive
                self._bad(path, f"cannot decode: {exc}")
        if count:
            self.stats["predict_hit" if pred is not None else "predict_miss"] += 1
        return pred

    def put_prediction(self, key: str, pred: dict[str, Any]) -> Path:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in pred.items()})
        path = self.prediction_path(key)
        self._write(path, buf.getvalue())
        return path

    # -- per-image scores ---------------------------------------------------------------------------------------
    def score_path(self, key: str) -> Path:
        return self._path("scores", key, ".json")

    def get_score(self, key: str) -> dict[str, float] | None:
        path = self.score_path(key)
        data = self.read_verified(path)
        if data is None:
            return None
        try:
            return {k: float(v) for k, v in json.loads(data.decode()).items()}
        except (ValueError, AttributeError, TypeError, UnicodeDecodeError) as exc:
            self._bad(path, f"cannot decode: {exc}")
            return None

    def put_score(self, key: str, values: dict[str, float]) -> None:
        self._write(self.score_path(key), json.dumps(values).encode())

    # -- other verified entries (run statistics) ------------------------------------------------------------------
    def get_blob(self, kind: str, key: str, suffix: str = ".json") -> bytes | None:
        """The verified bytes of entry ``kind/key`` or None (group results, run statistics and report.md's tables
        use it)."""
        return self.read_verified(self._path(kind, key, suffix))

    def put_blob(self, kind: str, key: str, data: bytes, suffix: str = ".json") -> None:
        try:
            self._write(self._path(kind, key, suffix), data)
        except OSError:  # a read-only shared cache: these entries are an optimisation only
            pass

    # -- group results ------------------------------------------------------------------------------------------
    def group_path(self, key: str) -> Path:
        return self._path("groups", key, ".npz")

    def get_group(self, key: str):
        """A metric's frozen result over a score group (:class:`ledbench.bench.scoring.MetricResult`), or None."""
        from ledbench.bench.scoring import MetricResult

        data = self.get_blob("groups", key, ".npz")
        if data is None:
            return None
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return MetricResult.from_arrays({k: npz[k] for k in npz.files})
        except Exception as exc:  # noqa: BLE001 - a broken archive or meta: recompute
            self._bad(self.group_path(key), f"cannot decode: {exc}")
            return None

    def put_group(self, key: str, result: Any) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **result.to_arrays())
        self.put_blob("groups", key, buf.getvalue(), ".npz")
