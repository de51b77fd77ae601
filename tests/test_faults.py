"""Fault injection: hostile weights, corrupted cache entries, a cache shared by two processes, hostile input folders,
broken COCO files, and regress/report fed files that are not results. Temporary folders only; CPU-cheap."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny_dataset

from ledbench.bench.errors import InputError, WeightsUnavailable

tiny_dataset.register()


class _Payload:
    """Unpickling this runs ``touch MARKER``: the payload a hostile checkpoint carries."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _save_png(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# -- A. no code from weights ---------------------------------------------------------------------------------------

def _official_like_yolo(path: Path) -> Path:
    """A checkpoint in the official ultralytics layout (random weights; ultralytics' own save)."""
    from ledbench.tasks.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    path.parent.mkdir(parents=True, exist_ok=True)
    YOLO("yolov8n.yaml").save(str(path))
    return path


def test_ultralytics_payload_never_runs(tmp_path, monkeypatch):
    import torch

    from ledbench.bench.weights import UnsafeCheckpoint, import_weights
    from ledbench.tasks import create_task, task_class

    good = _official_like_yolo(tmp_path / "good" / "yolov8n.pt")
    marker = tmp_path / "PWNED"
    ckpt = torch.load(good, weights_only=False)  # our own file: full load is fine here
    ckpt["train_args"] = _Payload(marker)
    evil_dir = tmp_path / "download"
    evil_dir.mkdir()
    torch.save(ckpt, evil_dir / "yolov8n.pt")

    # create_task("det_yolo", model=PATH) and weights=PATH: refused before ultralytics unpickles it
    for kw in ({"model": str(evil_dir / "yolov8n.pt")}, {"weights": str(evil_dir / "yolov8n.pt")}):
        with pytest.raises(UnsafeCheckpoint, match=r"posix\.system|os\.system") as exc:
            create_task("det_yolo", reuse=False, **kw)
        assert "trust_weights=True" in str(exc.value)
        assert not marker.exists()
    # a plain run: the default tag's file found in a weights folder (put there by hand) is refused the same way
    monkeypatch.setenv("LEDBENCH_WEIGHTS", str(evil_dir))
    with pytest.raises(UnsafeCheckpoint):
        create_task("det_yolo", reuse=False)
    monkeypatch.delenv("LEDBENCH_WEIGHTS")
    assert not marker.exists()
    # `ledbench weights import` refuses it under its known name
    spec = task_class("det_yolo").weights_tags["yolov8n"]
    rows = import_weights(evil_dir, {"det_yolo.yolov8n": spec})
    assert len(rows) == 1 and rows[0][2].startswith("refused") and "could run code" in rows[0][2]
    assert not marker.exists()
    # the official layout passes the allow-list and predicts
    task = create_task("det_yolo", model=str(good), reuse=False, imgsz=64)
    out = task.predict([np.zeros((48, 64, 3), np.float32)])
    assert set(out[0]) >= {"boxes", "scores", "labels"}
    rows = import_weights(good.parent, {"det_yolo.yolov8n": spec})
    assert rows[0][2] == "imported"
    # a truncated / foreign file is "not a checkpoint / corrupt", never advice to trust it
    data = good.read_bytes()
    for name, blob in (("cut.pt", data[: len(data) // 2]), ("text.pt", b"hello, not a checkpoint\n")):
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(WeightsUnavailable, match="not a checkpoint / corrupt") as exc:
            create_task("det_yolo", model=str(tmp_path / name), reuse=False)
        assert "trust" not in str(exc.value)
    assert not marker.exists()


def test_huggingface_pickled_bin_payload_never_runs(tmp_path):
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    from ledbench.bench.weights import UnsafeCheckpoint, hf_pretrained_kwargs
    from ledbench.tasks import create_task

    cfg = SegformerConfig(num_encoder_blocks=1, depths=[1], sr_ratios=[1], hidden_sizes=[8], num_attention_heads=[1],
                          mlp_ratios=[1], decoder_hidden_size=8, num_labels=3, patch_sizes=[3], strides=[2])
    model = SegformerForSemanticSegmentation(cfg)
    tensors_only = tmp_path / "tensors_only"
    model.save_pretrained(tensors_only)
    for f in tensors_only.glob("*.safetensors"):  # the pickled layout older checkpoints ship
        f.unlink()
    torch.save(model.state_dict(), tensors_only / "pytorch_model.bin")
    task = create_task("seg_segformer", model=str(tensors_only), reuse=False, size=(32, 32))
    assert task.predict([np.zeros((20, 24, 3), np.float32)])[0]["mask"].shape == (20, 24)

    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "config.json").write_text((tensors_only / "config.json").read_text())
    torch.save({**model.state_dict(), "x": _Payload(marker)}, evil / "pytorch_model.bin")
    with pytest.raises(UnsafeCheckpoint, match="trust_weights=True"):
        create_task("seg_segformer", model=str(evil), reuse=False)
    with pytest.raises(UnsafeCheckpoint):
        hf_pretrained_kwargs(evil, what="depth")  # the same check guards the depth tasks' folders
    assert not marker.exists()
    # a safetensors folder is read with use_safetensors=True
    model.save_pretrained(tmp_path / "st")
    assert hf_pretrained_kwargs(tmp_path / "st") == {"weights_only": True, "use_safetensors": True}


def test_enhancer_checkpoint_payload_mismatch_and_corrupt(tmp_path):
    import torch

    from ledbench.bench.weights import UnsafeCheckpoint
    from ledbench.enhancers import create_enhancer

    ref = create_enhancer("zero_dce", pretrained=False)
    marker = tmp_path / "PWNED"
    evil = tmp_path / "finetuned.pth"
    torch.save({**ref.model.state_dict(), "evil": _Payload(marker)}, evil)
    with pytest.raises(UnsafeCheckpoint, match="trust_weights=True"):
        create_enhancer("zero_dce", weights=str(evil))
    assert not marker.exists()
    # key / shape mismatch: one line with the architecture and the first keys, not torch's dump
    sd = ref.model.state_dict()
    first, second = list(sd)[:2]
    bad = {**sd, first: torch.zeros(3), "extra.weight": torch.zeros(1)}
    del bad[second]
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(WeightsUnavailable) as exc:
        create_enhancer("zero_dce", weights=str(tmp_path / "bad.pth"))
    msg = str(exc.value)
    assert "\n" not in msg and "ZeroDCE" in msg and second in msg and "extra.weight" in msg and first in msg
    # corrupt file
    (tmp_path / "junk.pth").write_bytes(b"\x00\x01garbage")
    with pytest.raises(WeightsUnavailable, match="not a checkpoint / corrupt") as exc:
        create_enhancer("zero_dce", weights=str(tmp_path / "junk.pth"))
    assert "trust" not in str(exc.value)


# -- B. verified, shareable cache ----------------------------------------------------------------------------------

def _corrupt_each_kind(root: Path) -> dict[str, Path]:
    """Truncate one PNG and one npz, flip one bit of one score, cut every group result; returns kind -> (first)
    damaged file."""
    hit = {}
    png = sorted((root / "enhanced").rglob("*.png"))[0]
    png.write_bytes(png.read_bytes()[: png.stat().st_size // 2])
    hit["png"] = png
    npz = sorted((root / "predictions").rglob("*.npz"))
    if npz:
        npz[0].write_bytes(npz[0].read_bytes()[:40])
        hit["npz"] = npz[0]
    score = sorted((root / "scores").rglob("*.json"))[0]
    raw = bytearray(score.read_bytes())
    pos = next(i for i, b in enumerate(raw) if chr(b).isdigit() and chr(b) != "0")
    raw[pos] ^= 0x01  # e.g. '3' -> '2': still valid JSON, a different number
    score.write_bytes(bytes(raw))
    hit["score"] = score
    groups = sorted((root / "groups").rglob("*.npz"))  # every group result: the per-image scores are read again
    for g in groups:
        g.write_bytes(g.read_bytes()[:-7])
    if groups:
        hit["group"] = groups[0]
    return hit


def test_cache_entries_verified_and_bad_ones_removed(tmp_path, caplog):
    from ledbench.bench.cache import Cache

    cache = Cache(tmp_path)
    img = _rgb(9, 11)
    cache.put_enhanced("ab" * 32, img)
    cache.put_prediction("cd" * 32, {"boxes": np.arange(8, dtype=np.float32).reshape(2, 4)})
    cache.put_score("ef" * 32, {"psnr": 31.25})
    _corrupt_each_kind(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ledbench.cache"):
        assert not cache.has_enhanced("ab" * 32) and cache.get_enhanced("ab" * 32) is None
        assert cache.get_prediction("cd" * 32) is None
        assert cache.get_score("ef" * 32) is None
    warned = [r.getMessage() for r in caplog.records if r.name == "ledbench.cache"]
    assert len(warned) == 3 and all("corrupt entry" in m for m in warned)  # once per file, naming it
    assert any(str(cache.enhanced_path("ab" * 32)) in m for m in warned)
    assert not cache.enhanced_path("ab" * 32).exists() and cache.stats["corrupt"] == 3
    # a recomputed entry is a hit again; an entry without its digest (older versions) is a miss, not an error
    cache.put_enhanced("ab" * 32, img)
    assert np.array_equal(cache.get_enhanced("ab" * 32), img)
    legacy = cache.enhanced_path("12" * 32)
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_bytes(cache.enhanced_path("ab" * 32).read_bytes())
    assert not cache.has_enhanced("12" * 32) and legacy.exists()


def _run(tmp_path, tasks=("quality",), metrics=("psnr", "ssim")):
    from ledbench.bench.runner import RunConfig, run

    cfg = RunConfig(name="t", dataset="tiny_pairs", enhancers=("identity", "gamma"), tasks=tasks, metrics=metrics,
                    out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), quiet=True, device="cpu")
    return run(cfg)


def test_run_recomputes_corrupted_cache_entries_with_identical_numbers(tmp_path, caplog):
    from ledbench.bench.results import read_results

    first = read_results(_run(tmp_path).run_dir)
    damaged = _corrupt_each_kind(tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="ledbench.cache"):
        second = read_results(_run(tmp_path).run_dir)
    for kind in ("png", "score", "group"):
        assert any(str(damaged[kind]) in r.getMessage() for r in caplog.records), kind
    cols = ["enhancer", "metric", "value", "stderr"]
    assert first[cols].equals(second[cols])


def _worker(root: str, keys: list[str], log: str) -> None:
    import time

    from ledbench.bench.cache import Cache

    cache = Cache(root)
    for key in keys:
        def compute(key=key):
            with open(log, "a") as fh:
                fh.write(f"{os.getpid()} {key}\n")
            time.sleep(0.02)  # widen the window in which the other process would do the same work
            cache.put_score(key, {"v": float(int(key[:4], 16))})

        cache.once(key, lambda key=key: cache.get_score(key) is not None, compute)


def test_two_processes_share_one_cache_each_unit_computed_once(tmp_path):
    import multiprocessing as mp

    keys = [f"{i:04x}" + "0" * 60 for i in range(12)]
    log = tmp_path / "computed.log"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "cache"), order, str(log)))
             for order in (keys, keys[::-1])]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    done = [line.split()[1] for line in log.read_text().splitlines()]
    assert sorted(done) == sorted(keys)  # every unit exactly once
    assert len({line.split()[0] for line in log.read_text().splitlines()}) == 2  # both processes did work

    from ledbench.bench.cache import Cache

    cache = Cache(tmp_path / "cache")
    assert all(cache.get_score(k) == {"v": float(int(k[:4], 16))} for k in keys)


# -- C. inputs -----------------------------------------------------------------------------------------------------

def _hostile_folder(root: Path) -> Path:
    _save_png(root / "x.png", _rgb(8, 10, 1))
    from PIL import Image

    Image.fromarray(_rgb(8, 10, 2)).save(root / "x.jpg", quality=95)
    latin1 = os.fsencode(str(root)) + b"/caf\xe9.png"  # not valid UTF-8
    _save_png(Path(os.fsdecode(latin1)), _rgb(8, 10, 3))
    os.symlink("loop_b.png", root / "loop_a.png")
    os.symlink("loop_a.png", root / "loop_b.png")
    (root / "sub").mkdir()
    os.symlink("..", root / "sub" / "up")
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    return root


def test_hostile_folder(tmp_path):
    from ledbench.datasets import create_dataset

    root = _hostile_folder(tmp_path / "in")
    ds = create_dataset(f"folder:{root}")
    ids = [it.id for it in ds]
    assert len(ids) == len(set(ids)) == 4
    assert "x.png" in ids and "x.jpg" in ids and "corrupt" in ids
    assert any(i.startswith("caf") and os.fsencode(i) == b"caf\xe9" for i in ids)
    assert len(ds.manifest_hash()) == 64
    reasons = dict(ds.skipped_files)
    assert reasons[str(root / "loop_a.png")] == "symlink loop" == reasons[str(root / "loop_b.png")]
    assert "symlink loop" in reasons[str(root / "sub" / "up")]
    bad = next(it for it in ds if it.id == "corrupt")
    with pytest.raises(InputError, match="corrupt.png"):
        bad.load_input()
    # ledbench enhance: one output per input, never one overwriting the other; the corrupt image is reported and
    # the exit code says one image failed (the others are written)
    from ledbench.bench.cli import main

    out = tmp_path / "out"
    assert main(["enhance", "identity", str(root), str(out), "--quiet"]) == 1
    names = sorted(p.name for p in out.iterdir())
    assert "x.png.png" in names and "x.jpg.png" in names and len(names) == 3
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(out / "x.png.png")), _rgb(8, 10, 1))


def test_manifest_hash_unchanged_for_utf8_ids():
    import hashlib

    from ledbench.datasets import create_dataset

    ds = create_dataset("tiny_pairs")
    text = "\n".join(f"{r['id']}\t{r['input_sha256']}\t{r['reference_sha256'] or '-'}" for r in ds.manifest())
    assert ds.manifest_hash() == hashlib.sha256(text.encode("utf-8")).hexdigest()


def _coco(root: Path, annotations: list, images: list | None = None) -> str:
    _save_png(root / "images" / "val" / "a.png", _rgb(20, 30))
    data = {"images": images if images is not None else [{"id": 7, "file_name": "a.png", "width": 30, "height": 20}],
            "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "instances_val.json").write_text(json.dumps(data))
    return f"coco:{root}"


@pytest.mark.parametrize("ann, images, pattern", [
    (["not an object"], None, r"annotation #0 is a str"),
    ([{"id": 41, "image_id": 7, "bbox": [1, 2, 3, 4]}], None, r"annotation id 41 has no 'category_id'"),
    ([{"id": 42, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4, 5, 6, 7, 8]}], None,
     r"annotation id 42: 'bbox' must be 4 finite numbers"),
    ([{"id": 43, "image_id": 7, "category_id": 1, "bbox": [1, 2, -3, 4]}], None, r"annotation id 43: negative box"),
    ([{"id": 44, "image_id": 7, "category_id": "person", "bbox": [1, 2, 3, 4]}], None,
     r"annotation id 44: category_id must be an integer"),
    ([{"id": 45, "image_id": [7], "category_id": 1, "bbox": [1, 2, 3, 4]}], None,
     r"annotation id 45: image_id must be an integer"),
    ([{"id": 46, "image_id": 7, "category_id": 1, "bbox": ["1", 2, 3, 4]}], None, r"annotation id 46: 'bbox'"),
    ([], [{"id": 7, "file_name": "../../../../X/passwd.png"}], r"image id 7: file_name .* contains '\.\.'"),
    ([], [{"id": 8, "file_name": "/etc/a.png"}], r"image id 8: file_name .* absolute"),
    ([], [{"id": 9}], r"image id 9: file_name must be a non-empty string"),
    ({"0": 1}, None, r"'annotations' must be a list"),
])
def test_coco_defects_are_one_line_input_errors(tmp_path, ann, images, pattern):
    from ledbench.datasets import create_dataset

    with pytest.raises(InputError, match=pattern) as exc:
        len(create_dataset(_coco(tmp_path, ann, images)))
    assert "\n" not in str(exc.value) and "instances_val.json" in str(exc.value)


def test_coco_valid_file_still_loads(tmp_path):
    from ledbench.datasets import create_dataset

    ds = create_dataset(_coco(tmp_path, [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4]}]))
    target = ds[0].label("detection")
    assert ds[0].id == "a" and target["boxes"].tolist() == [[1, 2, 4, 6]] and target["area"].tolist() == [12]


# -- D. regress / report inputs ------------------------------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ledbench.bench.cli", *args], capture_output=True, text=True,
                          timeout=120)


def _results_dir(tmp_path: Path) -> Path:
    from ledbench.bench.results import RESULT_COLUMNS, ResultRow, csv_bytes

    run = tmp_path / "run"
    run.mkdir()
    rows = [ResultRow("identity", "h", "", "tiny", "m", "test", "quality", "quality", "t", "full_reference", metric,
                      value, 0.1, True, 3, 3) for metric, value in (("psnr", 20.5), ("ssim", 0.5))]
    (run / "results.csv").write_bytes(csv_bytes(rows, RESULT_COLUMNS))
    return run


def test_regress_and_report_refuse_non_results_files_with_exit_2(tmp_path):
    run = _results_dir(tmp_path)
    (tmp_path / "report.csv").write_text("enhancer,quality.psnr,quality.ssim\nidentity,20.5,0.5\n")
    (tmp_path / "per_image.csv").write_text("enhancer,dataset,split,task,task_model,protocol,metric,image_id,value\n"
                                            "identity,tiny,test,quality,quality,full_reference,psnr,a,20\n")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    for name, says in (("report.csv", "not a results file"), ("per_image.csv", "per-image"),
                       ("empty.csv", "empty"), ("binary.csv", "binary")):
        res = _cli("regress", str(run), "--baseline", str(tmp_path / name))
        assert res.returncode == 2, (name, res.stderr)
        assert says in res.stderr and "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
        res = _cli("report", str(tmp_path / name), "--out", str(tmp_path / "rep"))
        assert res.returncode == 2 and "Traceback" not in res.stderr, (name, res.stderr)
    assert _cli("regress", str(run), "--baseline", str(run / "results.csv")).returncode == 0
    res = _cli("regress", str(run), "--baseline", str(run / "results.csv"), "--tol", "psnrr=0.05")
    assert res.returncode == 2 and "did you mean 'psnr'" in res.stderr
    assert _cli("regress", str(run), "--baseline", str(run / "results.csv"), "--tol", "quality.ss*=1%").returncode == 0
    assert "exit codes" in _cli("regress", "--help").stdout
