"""Scoring as a stage: units from pure key functions, per-unit isolation, cached per-image scores, validated run
keys, sharding by pure functions and an atomic run directory."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
import tiny_dataset

from ledbench.bench.errors import ConfigError, InputError

tiny_dataset.register()


class _Item:
    def __init__(self, iid, paired=True, labels=None):
        self.id = iid
        self.paired = paired
        self.labels = labels or {}

    def reference_hash(self):
        return "h" + self.id

    def describe(self):
        return f"/data/{self.id}.png"


def test_units_are_pure_functions_of_keys():
    from ledbench.bench.cache import prediction_key
    from ledbench.bench.scoring import downstream_units, label_key, quality_units

    items = {"a": _Item("a"), "b": _Item("b", paired=False, labels={"detection": {"boxes": []}})}
    q = quality_units("gamma", {"a": "ka", "b": "kb"}, items)
    assert [(u.group.protocol, u.image_id, u.target.kind) for u in q] == [
        ("full_reference", "a", "reference"), ("no_reference", "a", "none"), ("no_reference", "b", "none")]
    assert q[0].target.key == "ref:ha" and q[0].pred.key == "ka"
    ident = {"name": "det"}
    d = downstream_units("gamma", "det", "detection", ident, {"a": "ka", "b": "kb"}, items, "M", {"a": "pa"})
    assert [(u.group.protocol, u.image_id) for u in d] == [("pseudo_gt", "a"), ("real_gt", "b")]
    assert d[0].pred.key == prediction_key(ident, "ka") and d[0].target.key == "pa"
    assert d[1].target.key == label_key("M", "b", "detection") == "label:M:b:detection"
    # the same inputs give the same units (no stage has to run to learn a key)
    assert d == downstream_units("gamma", "det", "detection", ident, {"a": "ka", "b": "kb"}, items, "M",
                                 {"a": "pa"})


class _Mean:
    """A per-image metric: mean of pred - target; raises on the image named 'bad'."""

    name = "diff"
    directions = {"diff": True}
    per_image_cacheable = True

    def __init__(self):
        from ledbench.tasks.metrics import PerImageMetric

        self._impl = type("M", (PerImageMetric,), {"directions": {"diff": True},
                                                   "score": lambda s, p, t: float(np.mean(p - t))})(name="diff")
        self.calls = 0

    def __getattr__(self, item):
        return getattr(self._impl, item)

    def update(self, pred, target, image_id):
        self.calls += 1
        if image_id == "bad":
            raise ZeroDivisionError("plugin bug")
        self._impl.update(pred, target, image_id)


def _score(tmp_path, units, loader, metric=None):
    from ledbench.bench.cache import Cache
    from ledbench.bench.scoring import score_stage

    cache = Cache(tmp_path / "cache")
    metric = metric or _Mean()
    errors, done = [], {}
    score_stage(units, lambda g: [metric], cache, loader, lambda u, m, e: errors.append((u.image_id, m, str(e))),
                lambda g, ms: done.update({g: {k: v for m in ms for k, v in m.per_image().items()}}))
    return metric, errors, done, cache


def test_score_stage_isolates_failing_units_and_caches_per_image_scores(tmp_path):
    from ledbench.bench.scoring import ScoreGroup, ScoreUnit, Source

    g = ScoreGroup("gamma", "quality", "quality", "full_reference")
    units = [ScoreUnit(g, i, Source("enhanced", "k" + i), Source("reference", "r" + i))
             for i in ("a", "bad", "missing", "c")]
    values = {"ka": 3.0, "ra": 1.0, "kbad": 0.0, "rbad": 0.0, "kc": 5.0, "rc": 2.0}

    def load(src, iid, kind):
        if src.key not in values:
            raise InputError(f"cannot read {iid}.png")
        return np.array(values[src.key])

    metric, errors, done, cache = _score(tmp_path, units, load)
    assert errors == [("bad", "diff", "plugin bug"), ("missing", "", "cannot read missing.png")]
    assert done[g] == {"a": {"diff": 2.0}, "c": {"diff": 3.0}}
    # a second pass is served from the score cache: the metric is not called again for scored units
    metric2, errors2, done2, cache2 = _score(tmp_path, units, load)
    assert done2[g] == done[g] and metric2.calls == 1 and cache2.stats["score_hit"] == 2


def test_score_stage_loads_each_source_once_per_unit(tmp_path):
    from ledbench.bench.cache import Cache
    from ledbench.bench.scoring import ScoreGroup, ScoreUnit, Source, score_stage
    from ledbench.tasks.metrics import create_metric

    g = ScoreGroup("gamma", "quality", "quality", "full_reference")
    units = [ScoreUnit(g, "a", Source("enhanced", "ka"), Source("reference", "ra"))]
    calls = []
    rng = np.random.default_rng(0)
    imgs = {"ka": rng.random((16, 16, 3)), "ra": rng.random((16, 16, 3))}

    def load(src, iid, kind):
        calls.append(src.key)
        return {"image": imgs[src.key]}

    metrics = [create_metric("psnr"), create_metric("ssim")]
    score_stage(units, lambda grp: list(metrics), Cache(tmp_path), load, lambda *a: False, lambda *a: None)
    assert calls == ["ka", "ra"]
    from skimage.metrics import peak_signal_noise_ratio

    assert metrics[0].per_image()["a"]["psnr"] == pytest.approx(peak_signal_noise_ratio(imgs["ra"], imgs["ka"],
                                                                                        data_range=1.0))


def _tiny_run(tmp_path, **kw):
    from ledbench.bench.runner import RunConfig, run

    base = dict(name="t", dataset="tiny_pairs", enhancers=("identity", "gamma"), tasks=("quality",),
                metrics=("psnr", "ssim"), out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), quiet=True,
                device="cpu")
    base.update(kw)
    return run(RunConfig(**base))


def test_a_bad_reference_loses_only_its_own_scores(tmp_path):
    """A size-mismatched reference in a paired folder is one recorded score failure per enhancer, not a crash."""
    from ledbench.bench.imageio import write_png
    from ledbench.bench.results import read_results

    data = tmp_path / "data"
    rng = np.random.default_rng(1)
    for i in range(3):
        sharp = rng.random((24, 32, 3)).astype(np.float32)
        write_png(data / "sharp" / f"im{i}.png", sharp if i != 1 else sharp[:20])
        write_png(data / "low" / f"im{i}.png", sharp * 0.3)
    out = _tiny_run(tmp_path, dataset=f"folder:{data}")
    bad = [e for e in out.errors if e["item"] == "im1"]
    assert bad and all(e["stage"] in ("score", "read") for e in bad), out.errors
    assert any("size mismatch" in e["error"] for e in bad)
    df = read_results(out.run_dir)
    full = df[df.protocol == "full_reference"]
    assert set(full.enhancer) == {"identity", "gamma"} and (full.n_images == 2).all()
    assert (full.n_images_total == 3).all()
    manifest = json.loads((out.run_dir / "manifest.json").read_text())
    assert {e["item"] for e in manifest["errors"]} == {"im1"}


def test_on_error_fail_stops_with_one_line(tmp_path):
    from ledbench.bench.imageio import write_png

    data = tmp_path / "data"
    write_png(data / "sharp" / "a.png", np.zeros((20, 20, 3), np.float32))
    write_png(data / "low" / "a.png", np.zeros((20, 24, 3), np.float32))
    with pytest.raises(InputError, match=r"a\.png.*size mismatch.*on_error=skip"):
        _tiny_run(tmp_path, dataset=f"folder:{data}", on_error="fail")


@pytest.mark.parametrize("key,value,match", [
    ("limit", -1, "limit"), ("batch", 0, "batch"), ("workers", -3, "workers"), ("tile", -5, "tile"),
    ("tile", 8, "tile"),  # with the default tile_overlap=32: stride would be < 1
    ("enhancers", "", "enhancers"), ("device", "gpu", "device"), ("dataset_args", "notadict", "dataset_args"),
])
def test_run_keys_are_validated_at_the_door(key, value, match):
    from ledbench.bench.run_config import load_run_config

    with pytest.raises(ConfigError, match=match) as info:
        load_run_config(None, {key: value})
    assert "\n" not in str(info.value)


def test_explicit_cuda_without_cuda_is_an_error_and_auto_falls_back():
    import torch

    from ledbench.bench.device import check_device

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    notices = []
    assert check_device("auto", notice=notices.append).type == "cpu" and "CPU" in notices[0]
    for spec in ("cuda", "cuda:7"):
        with pytest.raises(ConfigError, match="CUDA is not available"):
            check_device(spec)


def test_metric_of_another_task_kind_is_rejected_before_running(tmp_path):
    with pytest.raises(ConfigError, match=r"'map50' is an output of the metric '\w+'"):
        _tiny_run(tmp_path, metrics=("map50",))
    from ledbench.tasks.metrics import list_metrics, metric_directions

    det = next(m for m in list_metrics() if "map50" in metric_directions(m))
    with pytest.raises(ConfigError, match=rf"'{det}' is a detection metric.*valid here: .*psnr"):
        _tiny_run(tmp_path, metrics=(det,))


def test_shard_items_is_a_pure_partition():
    from ledbench.bench.runner import shard_items

    items = list(range(11))
    sizes = [5, 1, 1, 9, 2, 2, 7, 1, 3, 3, 8]
    for world in (1, 2, 3):
        shards = [shard_items(items, r, world, sizes) for r in range(world)]
        assert sorted(x for s in shards for x in s) == items
        assert all(s == sorted(s) for s in shards)  # dataset order kept
        loads = [sum(sizes[i] for i in s) for s in shards]
        assert max(loads) - min(loads) <= max(sizes)
        assert shards == [shard_items(items, r, world, sizes) for r in range(world)]


def test_run_directory_is_swapped_in_whole(tmp_path, monkeypatch):
    """A write that fails half-way (full disk) leaves the previous run directory exactly as it was."""
    from ledbench.bench import results as runner  # write_run_dir lives in the results store

    run_dir = tmp_path / "run"
    runner.write_run_dir(run_dir, {"results.csv": b"old results\n", "manifest.json": {"run": 1}})
    (run_dir / "notes.txt").write_text("mine")
    (run_dir / "report").mkdir()
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}

    real = runner.atomic_write_bytes
    calls = []

    def full_disk(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(runner, "atomic_write_bytes", full_disk)
    with pytest.raises(InputError, match=r"cannot write the run directory .*No space left"):
        runner.write_run_dir(run_dir, {"results.csv": b"new\n", "per_image.csv": b"new\n"})
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    monkeypatch.setattr(runner, "atomic_write_bytes", real)
    runner.write_run_dir(run_dir, {"results.csv": b"new\n"})
    assert (run_dir / "results.csv").read_bytes() == b"new\n"
    assert not (run_dir / "manifest.json").exists()       # no file of the previous run survives beside the new one
    assert not (run_dir / "report").exists()              # nor an output derived from it
    assert (run_dir / "notes.txt").read_text() == "mine"  # a user's own file is kept


def test_quality_and_downstream_rows_come_from_one_scoring_path(tmp_path):
    """The floor row, pseudo-GT rows and the reference ceiling all come out of the same stage."""
    import torch

    from ledbench.bench.results import read_results
    from ledbench.tasks.base import Task
    from ledbench.tasks.registry import TASKS

    class Bright(Task):
        kind = "segmentation"
        default_metrics = ("miou",)

        def predict(self, images):
            return [{"mask": (img.mean(-1) > 0.25).astype(np.int64)} for img in images]

    TASKS.register("seg_bright_scoring_test", Bright, overwrite=True)
    del torch
    out = _tiny_run(tmp_path, tasks=("quality", "seg_bright_scoring_test"))
    df = read_results(out.run_dir)
    seg = df[df.task == "seg_bright_scoring_test"]
    assert set(seg.protocol) == {"pseudo_gt"}
    ref = seg[(seg.enhancer == "reference") & (seg.metric == "miou")]["value"].item()
    assert ref == pytest.approx(1.0)
    assert set(df[df.task_kind == "quality"].enhancer) == {"identity", "gamma"}




@pytest.mark.parametrize("fault", ["TypeError", "KeyError", "ZeroDivisionError", "AssertionError", "IndexError",
                                   "MemoryError", "nan", "shape", "x255", "minus"])
def test_a_faulty_plugin_enhancer_loses_only_its_own_units(tmp_path, fault):
    import builtins

    import torch

    from ledbench.bench.results import read_results
    from ledbench.enhancers.base import Enhancer
    from ledbench.enhancers.registry import ENHANCERS

    class Faulty(Enhancer):  # a plugin model in torch (a NumpyEnhancer clips by its documented contract)
        def _enhance(self, x):
            if fault == "nan":
                return x * torch.nan
            if fault == "shape":
                return x[..., :-1, :]
            if fault == "x255":
                return x * 255.0
            if fault == "minus":
                return x - 0.5
            raise getattr(builtins, fault)("plugin bug")

    ENHANCERS.register("faulty_scoring_test", Faulty, overwrite=True)
    out = _tiny_run(tmp_path, enhancers=("identity", "faulty_scoring_test", "gamma"))
    df = read_results(out.run_dir)
    assert {"identity", "gamma"} <= set(df.enhancer)
    manifest = json.loads((out.run_dir / "manifest.json").read_text())
    if fault in ("x255", "minus"):  # clamped and scored, but counted
        assert manifest["output_checks"]["faulty_scoring_test"]["out_of_range_images"] == 3
        assert (df[df.enhancer == "faulty_scoring_test"].n_images == 3).all()
    else:
        assert [e["item"] for e in manifest["errors"]] == ["img0", "img1", "img2"]
        assert all(e["enhancer"] == "faulty_scoring_test" and e["stage"] == "enhance" for e in manifest["errors"])
        assert "faulty_scoring_test" not in set(df.enhancer)


def test_unscorable_cells_get_a_reason_and_no_model_runs(tmp_path):
    """A folder of unlabeled, unpaired photos: detection cannot be scored (said once, the model never runs) and a
    full-reference metric cannot either; the no-reference metric is scored."""
    from ledbench.bench.imageio import write_png
    from ledbench.bench.results import read_results
    from ledbench.tasks.base import Task
    from ledbench.tasks.registry import TASKS

    calls = []

    class CountingDetector(Task):
        kind = "detection"
        default_metrics = ("coco_map",)

        def predict(self, images):
            calls.append(len(images))
            return [{"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32),
                     "labels": np.zeros(0, np.int64)} for _ in images]

    TASKS.register("det_counting_test", CountingDetector, overwrite=True)
    photos = tmp_path / "night"
    rng = np.random.default_rng(3)
    for i in range(2):
        write_png(photos / f"p{i}.png", rng.random((100, 200, 3)).astype(np.float32) * 0.2)
    from ledbench.tasks.metrics import list_metrics, metric_directions

    det_metric = next(m for m in list_metrics() if "map50" in metric_directions(m))
    out = _tiny_run(tmp_path, dataset=f"folder:{photos}", tasks=("quality", "det_counting_test"),
                    metrics=("psnr", "niqe"), task_metrics={"det_counting_test": [det_metric]})
    assert calls == []
    reasons = {(n["task"], n["metric"]): n["reason"] for n in out.manifest["not_scored"]}
    assert "neither real_gt nor pseudo_gt" in reasons[("det_counting_test", det_metric)]
    assert "no-reference" in reasons[("quality", "psnr")]
    df = read_results(out.run_dir)
    assert set(df.metric) == {"niqe"} and set(df.protocol) == {"no_reference"}
    assert "## Not scored" in (out.run_dir / "report.md").read_text()


def test_an_enhancer_entry_can_carry_its_weights(tmp_path):
    """Train then benchmark: `name:weights=PATH` (or a YAML mapping) runs a checkpoint as its own row."""
    import torch

    from ledbench.bench.results import read_results
    from ledbench.bench.run_config import load_run_config
    from ledbench.enhancers.base import TorchEnhancer
    from ledbench.enhancers.registry import ENHANCERS

    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = torch.nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x * self.gain

    class Gain(TorchEnhancer):
        def build_model(self):
            return Scale()

    ENHANCERS.register("gain_entry_test", Gain, overwrite=True)
    for g in (2.0, 3.0):
        torch.save({"gain": torch.tensor([g])}, tmp_path / f"g{int(g)}.pt")
    f = tmp_path / "r.yaml"
    f.write_text(f"dataset: tiny_pairs\nenhancers:\n  - identity\n  - {{name: gain_entry_test, weights: "
                 f"{tmp_path / 'g2.pt'}}}\n  - gain_entry_test:weights={tmp_path / 'g3.pt'}:label=three\n")
    cfg = load_run_config(f, {"out": str(tmp_path / "run"), "cache_dir": str(tmp_path / "c"), "quiet": True,
                              "device": "cpu", "metrics": ["psnr"]})
    from ledbench.bench.runner import run

    out = run(cfg)
    df = read_results(out.run_dir).set_index("enhancer")["value"]
    assert list(df.index) == ["identity", "gain_entry_test@g2", "three"]
    assert df["gain_entry_test@g2"] != df["three"]
    with pytest.raises(ConfigError, match="not found"):
        run(load_run_config(None, {"dataset": "tiny_pairs", "enhancers": "gain_entry_test:weights=/nope.pt",
                                   "out": str(tmp_path / "r2"), "quiet": True, "device": "cpu"}))
    with pytest.raises(ConfigError, match="KEY one of"):
        run(load_run_config(None, {"dataset": "tiny_pairs", "enhancers": "gain_entry_test:wieghts=x",
                                   "out": str(tmp_path / "r2"), "quiet": True, "device": "cpu"}))


def test_a_run_never_silently_replaces_a_different_run(tmp_path, monkeypatch):
    from ledbench.bench.run_config import RunConfig, choose_run_dir
    from ledbench.bench.runner import run

    first = _tiny_run(tmp_path, metrics=("psnr",))
    again = _tiny_run(tmp_path, metrics=("psnr",), quiet=False, workers=0)  # same measurement: refreshed in place
    assert again.run_dir == first.run_dir
    with pytest.raises(ConfigError, match="holds a different run.*exist_ok=true"):
        _tiny_run(tmp_path, metrics=("ssim",))
    replaced = _tiny_run(tmp_path, metrics=("ssim",), exist_ok=True)
    assert replaced.run_dir == first.run_dir
    assert "ssim" in (first.run_dir / "results.csv").read_text()
    # the default location is numbered instead (runs/<name>-2), as ultralytics does
    monkeypatch.chdir(tmp_path)
    base = dict(name="t", dataset="tiny_pairs", enhancers=("identity",), cache_dir=str(tmp_path / "cache"),
                quiet=True, device="cpu")
    a = run(RunConfig(**base, metrics=("psnr",)))
    b = run(RunConfig(**base, metrics=("ssim",)))
    assert (a.run_dir.as_posix(), b.run_dir.as_posix()) == ("runs/t", "runs/t-2")
    assert choose_run_dir(RunConfig(**base, metrics=("ssim",))).as_posix() == "runs/t-2"


_CONCURRENT_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
import tiny_dataset
tiny_dataset.register()
from ledbench.bench.runner import RunConfig, run
from ledbench.enhancers.base import NumpyEnhancer
from ledbench.enhancers.registry import ENHANCERS

class Slow(NumpyEnhancer):
    def enhance_array(self, img):
        with open({log!r}, "a") as fh:
            fh.write("x\\n")
        time.sleep(0.3)
        return img ** 0.5

ENHANCERS.register("slow_shared_test", Slow, overwrite=True)
out = run(RunConfig(dataset="tiny_pairs", dataset_args={{"n": 6}}, enhancers=("slow_shared_test",),
                    metrics=("psnr",), out=sys.argv[1], cache_dir={cache!r}, quiet=True, device="cpu", workers=0,
                    batch={batch}))
print(out.cache_stats.get("enhance_computed", 0), out.cache_stats.get("enhance_hit", 0))
"""


@pytest.mark.parametrize("batch", [1, 2])
def test_two_runs_sharing_a_cache_never_compute_a_unit_twice(tmp_path, batch):
    import subprocess
    import sys
    from pathlib import Path

    log = tmp_path / "calls.log"
    script = tmp_path / "run_shared.py"
    script.write_text(_CONCURRENT_SCRIPT.format(tests=str(Path(__file__).parent), log=str(log),
                                                cache=str(tmp_path / "cache"), batch=batch))
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / f"run{i}")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    computed = [tuple(map(int, o[0].split()[-2:])) for o in outs]
    assert len(log.read_text().splitlines()) == 6          # each image enhanced exactly once across both runs
    assert sum(c for c, _ in computed) == 6 and all(c + h == 6 for c, h in computed)
    a, b = ((tmp_path / f"run{i}" / "results.csv").read_text().splitlines() for i in range(2))
    assert a == b


def test_a_full_disk_is_one_line_and_loses_no_finished_work(tmp_path):
    """A run directory on a full file system (a real 64 KiB tmpfs, mounted where this is allowed): one-line error
    naming the path, the previous run directory intact, every finished unit still in the cache."""
    import subprocess

    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        first = _tiny_run(tmp_path, out=str(mnt / "run"), metrics=("psnr",))
        before = {p.name: p.read_bytes() for p in first.run_dir.iterdir() if p.is_file()}
        free = __import__("shutil").disk_usage(mnt).free
        with open(mnt / "filler", "wb") as fh:
            fh.write(b"\0" * max(0, free - 1024))
        with pytest.raises(InputError, match=r"cannot write the run directory .*run'.*No space left") as err:
            _tiny_run(tmp_path, out=str(mnt / "run"), metrics=("psnr",), exist_ok=True, quiet=True,
                      enhancers=("identity", "gamma", "clahe"))
        assert "\n" not in str(err.value)
        assert {p.name: p.read_bytes() for p in first.run_dir.iterdir() if p.is_file()} == before
        again = _tiny_run(tmp_path, out=str(tmp_path / "elsewhere"), metrics=("psnr",),
                          enhancers=("identity", "gamma", "clahe"))
        assert again.cache_stats.get("enhance_computed", 0) == 0  # the failed run's units were all cached
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_saved_images_have_one_floor_column(tmp_path):
    """save_images=true: one folder per enhancer plus the reference; the degraded input is saved as its own folder
    only when the identity enhancer (the same image) did not run, so grids never show the floor twice."""
    out = _tiny_run(tmp_path, save_images=True, metrics=("psnr",))
    folders = sorted(p.name for p in (out.run_dir / "images").iterdir())
    assert folders == ["gamma", "identity", "reference"]
    assert len(list((out.run_dir / "images" / "gamma").glob("*.png"))) == 3
    out2 = _tiny_run(tmp_path, save_images=True, metrics=("psnr",), enhancers=("gamma",), out=str(tmp_path / "r2"))
    assert sorted(p.name for p in (out2.run_dir / "images").iterdir()) == ["gamma", "input", "reference"]


_CACHED_RUN_SCRIPT = """
import sys
from ledbench.bench.cli import main
rc = main(["run", "dataset=folder:{root}", "enhancers=identity,gamma,sci.medium", "tasks=quality,det_yolo_fastest",
           "metrics=psnr", "device=auto", "out={out}", "exist_ok=true", "-q"])
print("RC", rc, "TORCH", "torch" in sys.modules)
"""


def test_a_fully_cached_run_builds_no_model_and_imports_no_torch(tmp_path):
    """Plan memo + group results: the second run of the same config reads everything from the cache without
    importing torch (no enhancer, task model or metric network is built) and writes the same files; a new file
    in a weights folder (the environment changed) makes the next run build its models again, same results."""
    import subprocess
    import sys

    from ledbench.bench.imageio import write_png

    rng = np.random.default_rng(5)
    for i in range(2):
        ref = rng.random((48, 64, 3)).astype(np.float32)
        write_png(tmp_path / "data" / "reference" / f"p{i}.png", ref)
        write_png(tmp_path / "data" / "input" / f"p{i}.png", ref * 0.25)
    env = {**__import__("os").environ, "LEDBENCH_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    script = _CACHED_RUN_SCRIPT.format(root=tmp_path / "data", out=tmp_path / "run")

    def run_once() -> tuple[str, bytes, bytes]:
        got = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
        assert got.returncode == 0, got.stderr[-2000:]
        line = got.stdout.strip().splitlines()[-1]
        return (line, (tmp_path / "run" / "results.csv").read_bytes(),
                (tmp_path / "run" / "per_image.csv").read_bytes())

    first = run_once()
    assert first[0] == "RC 0 TORCH True"
    assert b"det_yolo_fastest" in first[1] and b"sci.medium" in first[1]
    second = run_once()
    assert second[0] == "RC 0 TORCH False"
    assert second[1:] == first[1:]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert "not imported" in manifest["device"]["torch"]
    (tmp_path / "home" / "weights").mkdir(parents=True, exist_ok=True)
    (tmp_path / "home" / "weights" / "new_file.pth").write_bytes(b"x")
    third = run_once()
    assert third[0] == "RC 0 TORCH True" and third[1:] == first[1:]


def test_a_stale_plan_memo_stops_the_run_and_is_forgotten():
    from ledbench.bench.runner import LazyPlugin

    forgotten = []

    class Real:
        def identity(self):
            return {"name": "x", "config": {"a": 2}}

        def enhance(self, x):
            return x

    lazy = LazyPlugin("x", {"identity": {"name": "x", "config": {"a": 1}}}, Real, lambda: forgotten.append(1))
    assert lazy.config_hash and lazy.output_checks == {}
    with pytest.raises(InputError, match="changed while the run was being planned"):
        lazy.enhance(0)
    assert forgotten == [1]
    ok = LazyPlugin("x", {"identity": Real().identity()}, Real, lambda: None)
    assert ok.enhance(3) == 3
