"""The enhance and predict stages: cache-aware, batched by equal image size, one failed unit loses only itself.

A unit is (enhancer, image) or (task, image). Keys are pure functions of identities and content hashes
(:func:`ledbench.bench.cache.enhanced_key`, :func:`~ledbench.bench.cache.prediction_key`), computed before any model
runs. Finished units go to the content-addressed cache through one background writer thread (:class:`Writer`:
PNG/npz encoding and file writes release the GIL, so the model never waits on them; a crash loses at most the batch
in flight and the few queued writes) and, within one process, stay in a bounded in-memory store (:class:`Handoff`)
so the next stage does not decode again. A stage returns only when its writes are on disk.
Image contract: H x W x 3 float32 RGB in [0, 1] between stages; enhanced images are quantised to uint8 exactly as
cached, so an in-memory hand-off and a cache hit give the same numbers.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from ledbench.bench.cache import Cache, enhanced_key, prediction_key
from ledbench.bench.errors import InputError

__all__ = ["Handoff", "SilentBar", "StageRunner", "Writer", "prefetch", "preload", "progress_bar", "enhanced_keys"]

OnError = Callable[[str, str, str, BaseException], None]  # (stage, who, image id, exception)


def progress_bar(total: int, desc: str, quiet: bool, *, leave: bool = False):
    """A tqdm bar counting units; while a fraction of a unit is done (tiles of an image) it shows the whole units
    done (``7/8``, never ``7.42/8``), and its bar and ETA move with the fraction. ``quiet``: a silent counter with the
    same calls (tqdm is not imported: a cached quiet run starts faster)."""
    if quiet:
        return SilentBar(total)
    return _bar_class()(total=total, desc=desc, disable=quiet, leave=leave, dynamic_ncols=True)


class SilentBar:
    """The calls the harness makes on a tqdm bar, counting and showing nothing (``disable`` is True, as tqdm's)."""

    disable = True

    def __init__(self, total: int = 0):
        self.total, self.n, self.postfix = total, 0, ""

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


_BAR_CLASS: list = []


def _bar_class() -> type:
    if not _BAR_CLASS:
        from tqdm.auto import tqdm

        class WholeCountBar(tqdm):
            @property
            def format_dict(self):
                d = super().format_dict
                n = d.get("n")
                if isinstance(n, float) and d.get("bar_format") is None:  # tqdm's default layout, whole count
                    d["bar_format"] = ("{l_bar}{bar}| " + str(math.floor(n)) +
                                       "/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]")
                return d

        _BAR_CLASS.append(WholeCountBar)
    return _BAR_CLASS[0]


#: least seconds between two redraws of the overall bar forced by its "working on" text (tqdm redraws on updates)
POSTFIX_INTERVAL = 0.2


class _Progress:
    """A stage's bar (shown only with ``stage_bars``) that also advances the run's overall bar and names on it what
    the model is working on (``enhance restormer: img_0003, tile 5/12``, cleared by :meth:`close`).

    Tiles of a batch (:meth:`on_tile`, the enhancer's ``progress_callback``) move the overall bar by fractions of the
    batch's units, so its ETA moves during a long image; the batch's :meth:`update` sets it back to the whole count
    it had plus the batch's units, so the count stays exact. Everything runs in the model's thread; with no overall
    bar, or a disabled one (quiet), nothing but the stage bar is touched."""

    def __init__(self, total: int, desc: str, runner: StageRunner):
        self.bar = progress_bar(total, desc, runner.quiet or not runner.stage_bars)
        self.overall = runner.overall
        self.live = self.overall is not None and not getattr(self.overall, "disable", True)
        self.desc = desc
        self._what = ""        # postfix text of the batch in progress
        self._base: Any = None  # overall.n when the batch in progress began (None: no batch)
        self._units = 0
        self._shown = 0.0      # time.time() of the last redraw forced here
        self._listening: contextlib.ExitStack | None = None

    def update(self, n: int = 1) -> None:
        self.bar.update(n)
        if self.overall is not None:
            if self._base is not None:  # a batch ends: drop its fraction, count its units
                self.overall.n, self._base = self._base, None
            self.overall.update(n)

    def working(self, ids: list[str]) -> None:
        """The model starts on the batch of images ``ids``."""
        if not self.live or not ids:
            return
        self._what = f"{self.desc}: {ids[0]}" + (f" +{len(ids) - 1}" if len(ids) > 1 else "")
        self._base, self._units = self.overall.n, len(ids)
        self._show(self._what, force=True)

    def on_tile(self, done: int, total: int) -> None:
        """``done`` of ``total`` windows of the batch in progress are finished (called by the enhancer)."""
        if self._base is None or total <= 0:
            return
        self.overall.set_postfix_str(f"{self._what}, tile {done}/{total}", refresh=False)
        target = self._base + self._units * min(done / total, 1.0)
        if target > self.overall.n:
            self.overall.update(target - self.overall.n)  # tqdm redraws here when its mininterval has passed
        self._show(None, force=False)

    def _show(self, text: str | None, force: bool) -> None:
        if text is not None:
            self.overall.set_postfix_str(text, refresh=False)
        now = time.time()  # tqdm's clock (last_print_t: its own last redraw)
        last = self._shown if force else max(self._shown, getattr(self.overall, "last_print_t", 0.0))
        if now - last >= POSTFIX_INTERVAL:
            self._shown = now
            self.overall.refresh()

    def listen(self, enhancer: Any) -> None:
        """From now until :meth:`stop_listening`, ``enhancer`` reports its tiles to :meth:`on_tile` (its
        ``reporting_tiles``; nothing when not live or it has none). Call it when the model is about to run: a lazily
        built enhancer is built here."""
        if not self.live or self._listening is not None:
            return
        report = getattr(enhancer, "reporting_tiles", None)
        self._listening = contextlib.ExitStack()
        if report is not None:
            self._listening.enter_context(report(self.on_tile))

    def stop_listening(self) -> None:
        if self._listening is not None:
            self._listening.close()
            self._listening = None

    def close(self) -> None:
        self.bar.close()
        if self.live and self._what:
            self.overall.set_postfix_str("", refresh=False)  # the next stage's first redraw has no stale text
            self._what = ""


def prefetch(keys: list, load: Callable[[Any], Any], workers: int):
    """Yield ``(key, load(key))`` in order, decoding up to ``2 * workers`` items ahead in background threads.

    Image decoding (PIL, zlib) releases the GIL, so the next images are read while the model runs. A failed read
    is yielded as the exception instance so the caller records it and goes on. ``workers=0`` reads in the calling
    thread.
    """
    def safe(key):
        try:
            return load(key)
        except Exception as exc:  # noqa: BLE001 - any failure of one read is that unit's failure
            return exc

    if workers <= 0:
        for key in keys:
            yield key, safe(key)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    ahead = 2 * workers
    with ThreadPoolExecutor(workers, thread_name_prefix="ledbench-read") as pool:
        window: deque = deque()
        for key in keys:
            window.append((key, pool.submit(safe, key)))
            if len(window) > ahead:
                done_key, fut = window.popleft()
                yield done_key, fut.result()
        while window:
            done_key, fut = window.popleft()
            yield done_key, fut.result()


def preload(keys: list, load: Callable[[Any], Any], store: Handoff, workers: int) -> Callable[[], None]:
    """Call ``load(key)`` for each key in one background thread (``load`` memoises into ``store``) while the caller
    goes on, stopping once ``store`` is full; returns ``join``. For images a later stage needs (the references the
    scoring stage compares with), decoded while the models run. Failures are ignored here: the stage that needs
    the image loads it again and reports them. ``workers=0``: nothing is preloaded."""
    if workers <= 0 or not keys:
        return lambda: None
    import threading

    stop = threading.Event()

    def work() -> None:
        for key in keys:
            if stop.is_set() or store.nbytes >= store.max_bytes // 2:  # leave room: never evict what it loaded
                return
            try:
                load(key)
            except Exception:  # noqa: BLE001 - reported by the stage that needs it
                pass

    thread = threading.Thread(target=work, name="ledbench-preload", daemon=True)
    thread.start()

    def join() -> None:
        stop.set()  # what is not loaded yet is loaded when needed
        thread.join()
    return join


class Writer:
    """Runs cache writes in one background thread, at most ``depth`` queued (the caller waits beyond that), and
    hands each outcome back to the calling thread: ``done(exc)`` (``exc`` is None, or the write's exception) runs in
    the caller's thread when the write has finished, in submission order (so claims are released, and failures
    reported, by the thread that owns them). ``depth=0`` writes in the calling thread at once."""

    def __init__(self, depth: int = 4):
        from collections import deque

        self.depth = max(0, int(depth))
        self._queue: deque = deque()
        self._pool: Any = None

    def submit(self, write: Callable[[], Any], done: Callable[[BaseException | None], None]) -> None:
        if self.depth == 0:
            done(_outcome(write))
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="ledbench-write")
        self._queue.append((self._pool.submit(_outcome, write), done))
        while len(self._queue) > self.depth:
            self._finish_one()

    def _finish_one(self) -> None:
        fut, done = self._queue.popleft()
        done(fut.result())

    def drain(self) -> None:
        """Wait for every queued write and run its ``done``."""
        while self._queue:
            self._finish_one()

    def close(self) -> None:
        """Drain, then stop the thread (also after an exception, so no write is left half done)."""
        try:
            self.drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def _outcome(write: Callable[[], Any]) -> BaseException | None:
    try:
        write()
    except Exception as exc:  # noqa: BLE001 - handed to the caller's thread, which reports or re-raises it
        return exc
    return None


class Handoff:
    """Bounded in-memory store of the latest stage outputs (uint8 images, predictions) by cache key.

    Oldest entries are dropped beyond ``max_bytes``; a dropped entry is read back from the cache when needed.
    Safe to use from several threads (reader and preload threads fill it).
    """

    def __init__(self, max_bytes: int = 1 << 30):
        import threading

        self._lock = threading.Lock()
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self.nbytes = 0

    @staticmethod
    def _size(value: Any) -> int:
        if isinstance(value, np.ndarray):
            return value.nbytes
        if isinstance(value, Mapping):
            return sum(np.asarray(v).nbytes for v in value.values())
        return 0

    def put(self, key: str, value: Any) -> None:
        size = self._size(value)
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._data:
                self.nbytes -= self._sizes.pop(key)
                del self._data[key]
            self._data[key] = value
            self._sizes[key] = size
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                old, _ = self._data.popitem(last=False)
                self.nbytes -= self._sizes.pop(old)

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def discard(self, key: str) -> None:
        with self._lock:
            if key in self._data:
                self.nbytes -= self._sizes.pop(key)
                del self._data[key]


def enhanced_keys(identity: dict[str, Any], items: Iterable[Any], on_error: OnError, who: str) -> dict[str, str]:
    """Image id -> enhanced-image cache key for ``items`` (hashing the inputs' bytes, no decoding). An unreadable
    input is reported as a ``read`` failure and left out."""
    keys: dict[str, str] = {}
    for item in items:
        try:
            keys[item.id] = enhanced_key(identity, item.input_hash())
        except Exception as exc:  # noqa: BLE001
            on_error("read", who, item.id, exc)
    return keys


class _Claims:
    """Per-unit cross-process claims on a shared cache (:meth:`Cache.claim`): a unit is computed only by the
    process that holds its lock; units another process holds are deferred, then waited for (usually a hit)."""

    def __init__(self, cache: Cache, exists: Callable[[str], bool], on_hit: Callable[[], None]):
        self.cache, self.exists, self.on_hit = cache, exists, on_hit
        self.locks: dict[str, Any] = {}
        self.deferred: list = []

    def take(self, unit: Any, key: str, block: bool) -> bool:
        lk = self.cache.claim(key, block=block)
        if lk is None:
            self.deferred.append(unit)
            return False
        if self.exists(key):  # finished by another process meanwhile
            lk.release()
            self.on_hit()
            return False
        self.locks[key] = lk
        return True

    def release(self, key: str) -> None:
        lk = self.locks.pop(key, None)
        if lk is not None:
            lk.release()

    def release_all(self) -> None:
        for key in list(self.locks):
            self.release(key)


class StageRunner:
    """Runs enhance and predict units against one cache, with one error policy and one hand-off store."""

    def __init__(self, cache: Cache, *, batch: int = 1, workers: int = 2, quiet: bool = True,
                 on_error: OnError, handoff: Handoff | None = None, overall: Any = None, stage_bars: bool = False):
        self.cache = cache
        self.batch = max(1, int(batch))
        self.workers = max(0, int(workers))
        self.quiet = quiet
        self.overall = overall        # the run's one progress bar (units done, cache hits included), or None
        self.stage_bars = stage_bars  # one bar per stage and model as well (ledbench run -v)
        self.on_error = on_error
        self.handoff = handoff if handoff is not None else Handoff()
        self.write_depth = 2 * self.batch if self.workers > 0 else 0  # queued cache writes (0: in this thread)

    # -- loading ------------------------------------------------------------------------------------------------
    def load_enhanced(self, key: str) -> np.ndarray:
        """The enhanced image ``key`` as float32 RGB in [0, 1] (hand-off store first, then the cache)."""
        from ledbench.bench.imageio import from_uint8

        img = self.handoff.get(key)
        if img is None:
            img = self.cache.get_enhanced(key, count=False)
            if img is None:
                raise InputError(f"enhanced image {key[:12]} is not in the cache {str(self.cache.root)!r}")
        return from_uint8(img)

    # -- enhance ------------------------------------------------------------------------------------------------
    def enhance(self, enhancer: Any, items: list, keys: Mapping[str, str]) -> dict[str, str]:
        """Enhance the ``items`` whose key is not cached yet; returns image id -> key of every image that has an
        enhanced result now (cached or computed). Failed units are reported and left out."""
        from ledbench.bench.imageio import from_tensor, to_tensor, to_uint8

        todo = [it for it in items if it.id in keys and not self.cache.has_enhanced(keys[it.id])]
        self.cache.stats["enhance_hit"] += sum(1 for it in items if it.id in keys) - len(todo)
        done = {it.id: keys[it.id] for it in items if it.id in keys}
        if self.overall is not None:
            self.overall.update(len(items) - len(todo))
        bar = _Progress(len(todo), f"enhance {enhancer.name}", self)
        pending: list[tuple[Any, np.ndarray]] = []

        def hit() -> None:
            self.cache.stats["enhance_hit"] += 1
            bar.update(1)

        claims = _Claims(self.cache, self.cache.has_enhanced, hit)

        writer = Writer(self.write_depth)

        def store(item, y) -> None:
            """Hand the image over in memory now; encode and write it in the background, then release its claim
            (a write that fails with ``OSError`` fails the unit; any other error is a bug and is raised)."""
            key = keys[item.id]
            u8 = to_uint8(from_tensor(y))
            self.handoff.put(key, u8)

            def written(exc: BaseException | None) -> None:
                claims.release(key)
                if isinstance(exc, OSError):
                    self.handoff.discard(key)
                    fail(item, exc)
                elif exc is not None:
                    raise exc

            writer.submit(lambda: self.cache.put_enhanced(key, u8), written)

        def fail(item, exc: BaseException) -> None:
            done.pop(item.id, None)
            self.on_error("enhance", enhancer.name, item.id, exc)

        def flush() -> None:
            if not pending:
                return
            import torch

            bar.working([it.id for it, _ in pending])
            try:
                bar.listen(enhancer)  # inside the try: building a lazy enhancer may fail (that unit's failure)
                y = enhancer.enhance(torch.cat([to_tensor(img) for _, img in pending]))
                outputs = list(zip([it for it, _ in pending], y))
            except Exception as exc:  # noqa: BLE001 - isolate below
                if len(pending) == 1:
                    fail(pending[0][0], exc)
                    outputs = []
                else:  # retry one by one to find the failing image(s)
                    outputs = []
                    for it, img in pending:
                        try:
                            outputs.append((it, enhancer.enhance(to_tensor(img))[0]))
                        except Exception as exc1:  # noqa: BLE001
                            fail(it, exc1)
            stored = set()
            for it, y_i in outputs:
                store(it, y_i)
                stored.add(it.id)
            for it, _ in pending:
                if it.id not in stored:  # failed: nothing to write, release now
                    claims.release(keys[it.id])
            self.cache.stats["enhance_computed"] += len(outputs)
            bar.update(len(pending))
            pending.clear()

        def process(units: list, block: bool) -> None:
            for item, img in prefetch(units, lambda it: it.load_input(), self.workers):
                if isinstance(img, BaseException):
                    fail(item, img)
                    bar.update(1)
                    continue
                if block:  # never wait for a lock while holding others (two runs could wait on each other)
                    flush()
                    writer.drain()
                if not claims.take(item, keys[item.id], block):
                    continue
                if pending and (len(pending) >= self.batch or pending[0][1].shape != img.shape):
                    flush()
                pending.append((item, img))
            flush()

        try:
            process(todo, block=False)
            writer.drain()
            deferred, claims.deferred = claims.deferred, []
            process(deferred, block=True)  # units another process was computing: wait, then (usually) a hit
            writer.drain()
        finally:
            bar.stop_listening()
            writer.close()
            claims.release_all()
        bar.close()
        return done

    # -- predict ------------------------------------------------------------------------------------------------
    def predict(self, task: Any, images: Mapping[str, tuple[str, Callable[[], np.ndarray]]], label: str
                ) -> dict[str, str]:
        """Run ``task`` on images given as id -> (image key, loader); returns id -> prediction key of every image
        that has a prediction now. ``label`` names the image source (an enhancer, or ``reference``)."""
        identity = task.identity()
        keys = {iid: prediction_key(identity, ikey, task.kind) for iid, (ikey, _) in images.items()}
        todo = [iid for iid in images if not self.cache.has_prediction(keys[iid])]
        self.cache.stats["predict_hit"] += len(images) - len(todo)
        done = dict(keys)
        who = f"{task.name} on {label}"
        if self.overall is not None:
            self.overall.update(len(images) - len(todo))
        bar = _Progress(len(todo), who, self)
        chunk: list[tuple[str, np.ndarray]] = []

        def fail(iid: str, exc: BaseException) -> None:
            done.pop(iid, None)
            self.on_error("predict", who, iid, exc)

        def hit() -> None:
            self.cache.stats["predict_hit"] += 1
            bar.update(1)

        claims = _Claims(self.cache, self.cache.has_prediction, hit)
        writer = Writer(self.write_depth)

        def store(iid: str, pred: Mapping[str, Any]) -> None:
            """As in :meth:`enhance`: in memory now, on disk in the background; ``OSError`` / ``ValueError`` /
            ``TypeError`` (a prediction that cannot be stored) fail the unit."""
            key = keys[iid]
            arrays = {k: np.asarray(v) for k, v in pred.items()}
            self.handoff.put(key, arrays)

            def written(exc: BaseException | None) -> None:
                claims.release(key)
                if isinstance(exc, (OSError, ValueError, TypeError)):
                    self.handoff.discard(key)
                    fail(iid, exc)
                elif exc is not None:
                    raise exc

            writer.submit(lambda: self.cache.put_prediction(key, arrays), written)

        def flush() -> None:
            if not chunk:
                return
            bar.working([iid for iid, _ in chunk])
            try:
                results = list(zip([iid for iid, _ in chunk], task.predict([img for _, img in chunk])))
            except Exception as exc:  # noqa: BLE001
                results = []
                for iid, img in chunk:  # isolate the failing image(s)
                    try:
                        results += list(zip([iid], task.predict([img])))
                    except Exception as exc1:  # noqa: BLE001
                        fail(iid, exc1 if len(chunk) > 1 else exc)
            stored = set()
            for iid, pred in results:
                try:
                    store(iid, pred)
                except (ValueError, TypeError) as exc:  # not a mapping of arrays
                    fail(iid, exc)
                    continue
                stored.add(iid)
            for iid, _ in chunk:
                if iid not in stored:
                    claims.release(keys[iid])
            self.cache.stats["predict_computed"] += len(results)
            bar.update(len(chunk))
            chunk.clear()

        def process(units: list, block: bool) -> None:
            for iid, img in prefetch(units, lambda i: images[i][1](), self.workers):
                if isinstance(img, BaseException):
                    fail(iid, img)
                    bar.update(1)
                    continue
                if block:  # never wait for a lock while holding others
                    flush()
                    writer.drain()
                if not claims.take(iid, keys[iid], block):
                    continue
                chunk.append((iid, img))
                if len(chunk) >= self.batch:
                    flush()
            flush()

        try:
            process(todo, block=False)
            writer.drain()
            deferred, claims.deferred = claims.deferred, []
            process(deferred, block=True)
            writer.drain()
        finally:
            writer.close()
            claims.release_all()
        bar.close()
        return done
