"""Datasets on tiny trees made in tmp_path: robust I/O, LOL-Blur pairing and subsets, folders, COCO / YOLO / ExDark
labels, segmentation masks, depth GT, manifests, and the embedded synth_mini."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ledbench.bench.errors import ConfigError, InputError
from ledbench.bench.imageio import image_size, read_image
from ledbench.datasets import create_dataset, list_datasets
from ledbench.datasets.io import read_depth, read_label_map


def _rgb(h, w, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _save(path: Path, arr: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


# -- image I/O -----------------------------------------------------------------------------------------------------

def test_read_image_modes(tmp_path):
    rgb = _rgb(5, 7)
    assert np.array_equal(read_image(_save(tmp_path / "rgb.png", rgb)), rgb / np.float32(255))
    gray = rgb[..., 0]
    out = read_image(_save(tmp_path / "g.png", gray))
    assert out.shape == (5, 7, 3) and np.array_equal(out[..., 2], gray / np.float32(255))
    rgba = np.dstack([rgb, np.full((5, 7), 10, np.uint8)])
    assert np.array_equal(read_image(_save(tmp_path / "a.png", rgba)), rgb / np.float32(255))  # alpha dropped
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    pal.save(tmp_path / "p.png")
    assert np.allclose(read_image(tmp_path / "p.png"), np.asarray(pal.convert("RGB")) / 255.0)
    g16 = (np.arange(35, dtype=np.uint16).reshape(5, 7) * 1800)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    assert np.allclose(read_image(tmp_path / "g16.png")[..., 0], g16 / 65535.0, atol=1e-7)


def test_read_image_16bit_colour_keeps_all_bits(tmp_path):
    import cv2

    rgb16 = np.random.default_rng(1).integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])  # OpenCV writes BGR
    out = read_image(tmp_path / "c16.png")
    assert np.allclose(out, rgb16 / 65535.0, atol=1e-7)


def test_read_image_applies_exif_orientation(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    _save(tmp_path / "o.jpg", arr, exif=exif, quality=95)
    out = read_image(tmp_path / "o.jpg")
    assert out.shape == (40, 20, 3) and image_size(tmp_path / "o.jpg") == (40, 20)
    assert out[:18].mean() > 0.9 and out[22:].mean() < 0.1  # left half became the top half


@pytest.mark.parametrize("case", ["missing", "folder", "garbage", "truncated_png", "truncated_jpg", "empty"])
def test_bad_images_raise_input_error_naming_the_file(tmp_path, case):
    path = tmp_path / f"bad_{case}.png"
    if case == "folder":
        path.mkdir()
    elif case == "garbage":
        path.write_text("this is not an image")
    elif case == "empty":
        path.write_bytes(b"")
    elif case.startswith("truncated"):
        suffix = "png" if case.endswith("png") else "jpg"
        path = tmp_path / f"bad.{suffix}"
        _save(path, _rgb(64, 64))
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(InputError) as exc:
        read_image(path)
    assert str(path) in str(exc.value)


def test_read_label_map_keeps_palette_indices_and_rejects_colour(tmp_path):
    idx = np.array([[0, 1, 2], [255, 3, 1]], np.uint8)
    im = Image.fromarray(idx, mode="P")
    im.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    im.save(tmp_path / "m.png")
    assert np.array_equal(read_label_map(tmp_path / "m.png"), idx.astype(np.int64))
    _save(tmp_path / "c.png", _rgb(4, 4))
    with pytest.raises(InputError, match="colour image"):
        read_label_map(tmp_path / "c.png")


def test_read_depth_png16_and_npy(tmp_path):
    raw = np.array([[0, 256, 512], [2560, 65535, 1]], np.uint16)
    Image.fromarray(raw).save(tmp_path / "d.png")
    assert np.allclose(read_depth(tmp_path / "d.png", 256.0), raw / 256.0)
    np.save(tmp_path / "d.npy", np.array([[1.5, np.inf]], np.float32))
    d = read_depth(tmp_path / "d.npy")
    assert d[0, 0] == 1.5 and np.isnan(d[0, 1])
    (tmp_path / "bad.npy").write_bytes(b"nope")
    with pytest.raises(InputError, match="bad.npy"):
        read_depth(tmp_path / "bad.npy")


# -- LOL-Blur ------------------------------------------------------------------------------------------------------

def _lolblur_tree(root: Path, videos=("0012", "0017"), frames=4, size=(8, 12)) -> Path:
    for split in ("train", "test"):
        for v_i, video in enumerate(videos):
            for f in range(frames):
                for folder in ("low_blur_noise", "low_blur", "high_sharp_scaled"):
                    _save(root / split / folder / video / f"{f:04d}.png", _rgb(*size, seed=hash((folder, f)) % 1000))
    return root


def test_lolblur_pairs_default_folders_by_relative_path(tmp_path):
    root = _lolblur_tree(tmp_path / "LOLBlur")
    ds = create_dataset(f"lolblur:{root}")
    assert ds.split == "test" and ds.paired and len(ds) == 8
    assert [it.id for it in ds][:3] == ["0012/0000", "0012/0001", "0012/0002"]
    it = ds[5]
    assert Path(it.input).parts[-3:] == ("low_blur_noise", "0017", "0001.png")
    assert Path(it.reference).parts[-3:] == ("high_sharp_scaled", "0017", "0001.png")
    assert it.load_input().shape == it.load_reference().shape == (8, 12, 3)
    # other folders selectable; train split; ROOT may be the split folder itself
    other = create_dataset(f"lolblur:{root}", input="low_blur", split="train")
    assert Path(other[0].input).parts[-4:-2] == ("train", "low_blur")
    assert [it.id for it in create_dataset(f"lolblur:{root / 'test'}")] == [it.id for it in ds]
    unpaired = create_dataset(f"lolblur:{root}", reference="none")
    assert not unpaired.paired and len(unpaired) == 8


def test_lolblur_subsets_by_video_stride_frames_limit(tmp_path):
    root = _lolblur_tree(tmp_path / "L")
    assert [it.id for it in create_dataset(f"lolblur:{root}", videos="0017")] == [f"0017/{i:04d}" for i in range(4)]
    assert next(it.id for it in create_dataset(f"lolblur:{root}", videos=[17])) == "0017/0000"  # YAML dropped zeros
    assert [it.id for it in create_dataset(f"lolblur:{root}", stride=2)] == [
        "0012/0000", "0012/0002", "0017/0000", "0017/0002"]
    assert [it.id for it in create_dataset(f"lolblur:{root}", frames="1:3", videos="0012")] == [
        "0012/0001", "0012/0002"]
    assert len(create_dataset(f"lolblur:{root}", limit=3)) == 3
    with pytest.raises(InputError, match="no video matches"):
        len(create_dataset(f"lolblur:{root}", videos="9999"))


def test_lolblur_errors_name_the_files(tmp_path):
    root = _lolblur_tree(tmp_path / "L")
    missing = root / "test" / "high_sharp_scaled" / "0017" / "0002.png"
    missing.unlink()
    with pytest.raises(InputError) as exc:
        len(create_dataset(f"lolblur:{root}"))
    assert str(root / "test" / "low_blur_noise" / "0017" / "0002.png") in str(exc.value)
    assert len(create_dataset(f"lolblur:{root}", missing="skip")) == 7
    # mismatched sizes: error at load time naming both files
    _save(missing, _rgb(9, 12))
    it = next(i for i in create_dataset(f"lolblur:{root}") if i.id == "0017/0002")
    with pytest.raises(InputError) as exc:
        it.load_reference()
    assert str(missing) in str(exc.value) and "0002.png" in str(exc.value) and "mismatch" in str(exc.value)
    with pytest.raises(InputError):
        it.check_pair()
    with pytest.raises(ConfigError, match="not a LOL-Blur folder"):
        len(create_dataset(f"lolblur:{root}", input="low_blurr"))
    with pytest.raises(InputError, match="does not exist"):
        len(create_dataset(f"lolblur:{tmp_path / 'nowhere'}"))
    with pytest.raises(ConfigError, match="needs its folder"):
        len(create_dataset("lolblur"))


def test_manifest_hash_stable_and_content_sensitive(tmp_path):
    root = _lolblur_tree(tmp_path / "L", frames=2)
    h1 = create_dataset(f"lolblur:{root}").manifest_hash()
    assert create_dataset(f"lolblur:{root}").manifest_hash() == h1
    man = create_dataset(f"lolblur:{root}").manifest()
    assert man[0]["id"] == "0012/0000" and len(man[0]["input_sha256"]) == 64 and man[0]["reference_sha256"]
    assert create_dataset(f"lolblur:{root}", limit=2).manifest_hash() != h1
    _save(root / "test" / "low_blur_noise" / "0012" / "0001.png", _rgb(8, 12, seed=999))
    assert create_dataset(f"lolblur:{root}").manifest_hash() != h1


# -- folders -------------------------------------------------------------------------------------------------------

def test_folder_paired_unpaired_and_ambiguous(tmp_path):
    for name in ("a", "sub/b"):
        _save(tmp_path / "p" / "low" / f"{name}.png", _rgb(6, 6))
        _save(tmp_path / "p" / "sharp" / f"{name}.jpg", _rgb(6, 6, 1))
    ds = create_dataset(f"folder:{tmp_path / 'p'}")
    assert ds.paired and [it.id for it in ds] == ["a", "sub/b"]
    assert Path(ds[1].reference).name == "b.jpg"
    flat = create_dataset(f"folder:{tmp_path / 'p'}", paired=False)
    assert not flat.paired and len(flat) == 4
    real = create_dataset(f"real_lolblur:{tmp_path / 'p' / 'low'}")
    assert [it.id for it in real] == ["a", "sub/b"] and not real.paired
    _save(tmp_path / "p" / "low" / "a.jpg", _rgb(6, 6))
    with pytest.raises(InputError, match="share the id 'a'"):
        len(create_dataset(f"folder:{tmp_path / 'p'}"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        len(create_dataset(f"folder:{tmp_path / 'empty'}"))
    with pytest.raises(InputError, match="no input/reference"):
        len(create_dataset(f"folder:{tmp_path / 'empty'}", paired="true"))


# -- detection labels ----------------------------------------------------------------------------------------------

def _coco_tree(root: Path) -> Path:
    _save(root / "images" / "val" / "000001.jpg", _rgb(20, 30))
    _save(root / "images" / "val" / "000002.jpg", _rgb(20, 30, 1))
    data = {"images": [{"id": 7, "file_name": "000001.jpg", "width": 30, "height": 20},
                       {"id": 9, "file_name": "000002.jpg", "width": 30, "height": 20}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 18, "bbox": [2, 3, 10, 5], "area": 50,
                             "iscrowd": 0},
                            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0, 0, 4, 4], "area": 16,
                             "iscrowd": 1}],
            "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}]}
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_val.json").write_text(json.dumps(data))
    return root


def test_coco_labels_travel_with_items(tmp_path):
    root = _coco_tree(tmp_path / "coco")
    ds = create_dataset(f"coco:{root}")
    assert ds.label_kinds == {"detection"} and ds.class_names == {1: "person", 18: "dog"}
    assert [it.id for it in ds] == ["000001", "000002"]
    det = ds[0].label("detection")
    assert np.array_equal(det["boxes"], np.array([[2, 3, 12, 8], [0, 0, 4, 4]], np.float32))  # xywh -> xyxy
    assert det["labels"].tolist() == [18, 1] and det["iscrowd"].tolist() == [0, 1]
    assert ds[0].meta["coco_image_id"] == 7
    assert len(ds[1].label("detection")["boxes"]) == 0
    assert len(create_dataset(f"coco:{root}", include_empty=False)) == 1
    # degraded copies + sharp references keep the labels (paired, labelled)
    _save(root / "sharp" / "000001.png", _rgb(20, 30, 2))
    _save(root / "sharp" / "000002.png", _rgb(20, 30, 3))
    paired = create_dataset(f"coco:{root}", reference="sharp")
    assert paired.paired and paired[0].label("detection")["labels"].tolist() == [18, 1]
    (root / "images" / "val" / "000002.jpg").unlink()
    with pytest.raises(InputError, match="000002.jpg"):
        len(create_dataset(f"coco:{root}"))
    assert len(create_dataset(f"coco:{root}", missing="skip")) == 1


def test_yolo_labels_map_coco80_to_coco_ids(tmp_path):
    root = tmp_path / "y"
    _save(root / "images" / "val" / "x.jpg", _rgb(50, 100))
    (root / "labels" / "val").mkdir(parents=True)
    (root / "labels" / "val" / "x.txt").write_text("16 0.5 0.5 0.2 0.4\n0 0.1 0.2 0.2 0.2\n")
    ds = create_dataset(f"yolo:{root}")
    det = ds[0].label("detection")
    assert det["labels"].tolist() == [18, 1]  # COCO-80 index 16 is dog (id 18), 0 is person (id 1)
    assert np.allclose(det["boxes"], [[40, 15, 60, 35], [0, 5, 20, 15]])
    assert ds.class_names[18] == "dog"


def test_yolo_reads_the_coco8_asset(assets):
    root = assets / "images" / "coco8"
    ds = create_dataset(f"yolo:{root}", split="val")
    assert len(ds) == 4
    first = ds[0]
    det = first.label("detection")
    h, w = image_size(first.input)
    line = (root / "labels" / "val" / f"{first.id}.txt").read_text().split("\n")[0].split()
    cls, cx, cy, bw, bh = int(line[0]), *map(float, line[1:5])
    assert det["labels"][0] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
                                25, 27, 28][cls]
    assert np.allclose(det["boxes"][0], [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h],
                       atol=1e-3)


def test_exdark_converter_and_dataset(tmp_path):
    from ledbench.datasets.coco import exdark_to_coco

    root = tmp_path / "exdark"
    _save(root / "ExDark" / "People" / "2015_00001.png", _rgb(40, 60))
    _save(root / "ExDark" / "Table" / "2015_00002.jpg", _rgb(40, 60, 1))
    ann = root / "ExDark_Annno"
    (ann / "People").mkdir(parents=True)
    (ann / "Table").mkdir(parents=True)
    (ann / "People" / "2015_00001.png.txt").write_text(
        "% bbGt version=3\nPeople 10 5 20 30 0 0 0 0 0 0 0\nBicycle 1 2 3 4 0 0 0 0 0 0 0\n")
    (ann / "Table" / "2015_00002.jpg.txt").write_text("% bbGt version=3\nTable 0 0 60 40 0 0 0 0 0 0 0\n")
    coco = exdark_to_coco(root / "ExDark", ann)
    assert [im["file_name"] for im in coco["images"]] == ["People/2015_00001.png", "Table/2015_00002.jpg"]
    assert [(a["category_id"], a["bbox"]) for a in coco["annotations"]] == [
        (1, [10, 5, 20, 30]), (2, [1, 2, 3, 4]), (67, [0, 0, 60, 40])]
    ds = create_dataset(f"exdark:{root}")
    assert [it.id for it in ds] == ["People/2015_00001", "Table/2015_00002"]
    assert np.allclose(ds[0].label("detection")["boxes"][0], [10, 5, 30, 35])
    assert len(create_dataset(f"exdark:{root}", classes="Table")) == 1
    (ann / "Table" / "2015_00002.jpg.txt").write_text("Sofa 0 0 1 1\n")
    with pytest.raises(InputError, match="unknown ExDark class 'Sofa'"):
        exdark_to_coco(root / "ExDark", ann)


# -- segmentation --------------------------------------------------------------------------------------------------

def test_segmentation_generic_and_cityscapes_layouts(tmp_path):
    root = tmp_path / "seg"
    _save(root / "images" / "a.jpg", _rgb(4, 5))
    mask = np.array([[0, 1, 2, 255, 18]] * 4, np.uint8)
    _save(root / "masks" / "a.png", mask)
    ds = create_dataset(f"segmentation:{root}")
    assert ds.ignore_index == 255 and ds.class_names[0] == "road" and ds.label_kinds == {"segmentation"}
    seg = ds[0].label("segmentation")
    assert seg.dtype == np.int64 and np.array_equal(seg, mask)

    cs = tmp_path / "cityscapes"
    _save(cs / "leftImg8bit" / "val" / "bonn" / "bonn_000001_leftImg8bit.png", _rgb(2, 4))
    ids = np.array([[7, 26, 0, 33], [24, 9, 23, 11]], np.uint8)  # road car unlabeled bicycle / person parking sky bldg
    _save(cs / "gtFine" / "val" / "bonn" / "bonn_000001_gtFine_labelIds.png", ids)
    ds = create_dataset(f"cityscapes:{cs}")
    assert [it.id for it in ds] == ["bonn/bonn_000001"]
    assert ds[0].label("segmentation").tolist() == [[0, 13, 255, 18], [11, 255, 10, 2]]


def test_segmentation_errors(tmp_path):
    root = tmp_path / "seg"
    _save(root / "images" / "a.png", _rgb(4, 5))
    _save(root / "images" / "b.png", _rgb(4, 5))
    _save(root / "masks" / "a.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(InputError, match="b.png"):
        len(create_dataset(f"segmentation:{root}"))
    ds = create_dataset(f"segmentation:{root}", missing="skip")
    with pytest.raises(InputError, match="mask .*a.png.* is 5x5 but image"):
        ds[0].label("segmentation")


# -- depth ---------------------------------------------------------------------------------------------------------

def test_depth_png16_scale_and_valid_mask(tmp_path):
    root = tmp_path / "d"
    _save(root / "images" / "s" / "f1.png", _rgb(2, 3))
    _save(root / "images" / "s" / "f2.png", _rgb(2, 3))
    (root / "depth" / "s").mkdir(parents=True)
    Image.fromarray(np.array([[0, 256, 512], [25600, 1024, 0]], np.uint16)).save(root / "depth" / "s" / "f1.png")
    np.save(root / "depth" / "s" / "f2.npy", np.array([[1.0, np.nan, 3.0], [200.0, 0.5, -1]], np.float32))
    ds = create_dataset(f"depth:{root}", scale=256.0, max_depth=80.0)
    assert ds.label_kinds == {"depth"} and [it.id for it in ds] == ["s/f1", "s/f2"]
    t = ds[0].label("depth")
    assert np.allclose(t["depth"], [[0, 1, 2], [100, 4, 0]])
    assert t["valid"].tolist() == [[False, True, True], [False, True, False]]
    t2 = ds[1].label("depth")  # .npy divided by scale too
    assert np.allclose(t2["depth"][0, 0], 1 / 256) and t2["valid"].tolist() == [[True, False, True],
                                                                                [True, True, False]]
    np.save(root / "depth" / "s" / "f2.npy", np.ones((3, 3), np.float32))
    with pytest.raises(InputError, match="f2.npy.* is 3x3 but image"):
        create_dataset(f"depth:{root}")[1].label("depth")


# -- synth_mini and the registry ---------------------------------------------------------------------------------

def test_synth_mini_generates_once_and_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path / "home"))
    ds = create_dataset("synth_mini", n=2, size=64)
    assert [it.id for it in ds] == ["ultralytics/bus", "skimage/astronaut"] and ds.paired
    x, ref = ds[0].load_input(), ds[0].load_reference()
    assert x.shape == ref.shape and max(x.shape[:2]) == 64 and x.shape[0] % 16 == 0
    assert x.mean() < 0.6 * ref.mean()  # darkened
    params = json.loads(Path(ds[0].meta["params"]).read_text())
    assert params["severity"] == 3 and "kernel" in params
    h = ds.manifest_hash()
    stamp = os.stat(ds[0].input).st_mtime_ns
    again = create_dataset("synth_mini", n=2, size=64)
    assert again.manifest_hash() == h and os.stat(again[0].input).st_mtime_ns == stamp  # not regenerated
    # a damaged file is regenerated with identical bytes
    Path(ds[1].input).write_bytes(b"broken")
    assert create_dataset("synth_mini", n=2, size=64).manifest_hash() == h
    # another home -> same bytes (deterministic generation); another severity -> other images
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path / "home2"))
    assert create_dataset("synth_mini", n=2, size=64).manifest_hash() == h
    assert create_dataset("synth_mini", n=2, size=64, severity=5).manifest_hash() != h
    with pytest.raises(ConfigError, match="unknown image"):
        len(create_dataset("synth_mini", images="skimage/lena"))


def test_synth_mini_default_has_all_bundled_images(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path / "home"))
    ds = create_dataset("synth_mini", size=48)
    assert len(ds) == 8 and ds.label_kinds == frozenset()
    assert {it.id.split("/")[0] for it in ds} == {"skimage", "ultralytics"}


def test_registry_lists_builtins_and_rejects_unknown_keys():
    names = list_datasets()
    for name in ("synth_mini", "lolblur", "real_lolblur", "folder", "coco", "yolo", "exdark", "segmentation",
                 "cityscapes", "acdc", "dark_zurich", "depth"):
        assert name in names
    with pytest.raises(ConfigError, match="valid keys"):
        create_dataset("lolblur:/x", strde=2)


def test_corrupt_image_error_after_ultralytics_patches_pil(tmp_path):
    """ultralytics replaces PIL.Image.open at import; a corrupt file must still give InputError naming it."""
    pytest.importorskip("ultralytics")
    from ledbench.tasks.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    import ultralytics.utils.patches  # noqa: F401  (applies the patch)

    from ledbench.bench.errors import InputError
    from ledbench.bench.imageio import read_image

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    with pytest.raises(InputError, match="broken.png"):
        read_image(bad)


def test_one_subset_for_every_dataset(tmp_path):
    """limit / stride / offset live in one base config applied by Dataset.items (the manifest lists the result)."""
    from ledbench.bench.errors import ConfigError
    from ledbench.bench.imageio import write_png
    from ledbench.datasets import create_dataset

    for i in range(7):
        write_png(tmp_path / "low" / f"f{i}.png", np.full((8, 8, 3), i / 10, np.float32))
        write_png(tmp_path / "sharp" / f"f{i}.png", np.full((8, 8, 3), i / 10, np.float32))
    full = [it.id for it in create_dataset(f"folder:{tmp_path}")]
    assert full == [f"f{i}" for i in range(7)]
    sub = create_dataset(f"folder:{tmp_path}", stride=2, offset=1, limit=2)
    assert [it.id for it in sub] == ["f1", "f3"] == [r["id"] for r in sub.manifest()]
    assert [it.id for it in create_dataset("synth_mini", limit=3)] == [
        it.id for it in create_dataset("synth_mini")][:3]
    for bad in ({"limit": -1}, {"stride": 0}, {"offset": -2}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            create_dataset(f"folder:{tmp_path}", **bad)
