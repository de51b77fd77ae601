"""One source of truth per model name: the registries list exactly the architectures their catalogs register plus
the weight tags their classes declare, refuse unknown names and tags with suggestions, enforce their base classes,
and build the default benchmark's entries with the config hashes recorded in ``ci/baseline_default.csv``."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from ledbench.bench.errors import ConfigError, UnknownNameError
from ledbench.bench.plugin import WeightedPlugin, build_plan
from ledbench.bench.registry import Registry
from ledbench.bench.weights import WeightsSpec
from ledbench.datasets import DATASETS, create_dataset, list_datasets
from ledbench.enhancers import ENHANCERS, create_enhancer, list_enhancers
from ledbench.tasks import TASKS, create_task, list_tasks
from ledbench.tasks.metrics import METRICS, create_metric, list_metrics

ROOT = Path(__file__).resolve().parent.parent
REGISTRIES = {"enhancer": ENHANCERS, "task": TASKS, "metric": METRICS, "dataset": DATASETS}
BASES = {"enhancer": "ledbench.enhancers.base:Enhancer", "task": "ledbench.tasks.base:Task",
         "metric": "ledbench.tasks.metrics:Metric", "dataset": "ledbench.datasets.base:Dataset"}
LISTERS = {"enhancer": lambda: list_enhancers(cascades=False), "task": list_tasks, "metric": list_metrics,
           "dataset": list_datasets}


def _builtin_archs(reg: Registry) -> list[str]:
    return [n for n in reg.names() if "." not in n and reg.origin(n).startswith("ledbench.")]


# -- listed names == declared names ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["enhancer", "task"])
def test_listed_tags_are_exactly_the_declared_tags(kind):
    """Per class, the tags listed over all its registered names are its ``weights_tags``, each once; every listed
    ``arch.tag`` resolves to that class and tag (so a tag can neither be unlisted nor listed without working)."""
    reg, listed = REGISTRIES[kind], LISTERS[kind]()
    assert len(listed) == len(set(listed))
    archs = [n for n in listed if "." not in n]
    assert sorted(archs) == sorted(reg.names(exclude="*.*"))
    by_class: dict[type, list[str]] = {}
    for name in listed:
        arch, dot, tag = name.partition(".")
        cls = reg.get(name)
        assert cls is reg.get(arch)
        if dot:
            assert reg.lookup(name) == (arch, {**reg.entry(arch).meta, "tag": tag})
            by_class.setdefault(cls, []).append(tag)
    for arch in archs:
        cls = reg.get(arch)
        assert sorted(by_class.get(cls, [])) == sorted(cls.weights_tags), arch
        if cls.default_tag is not None:
            assert cls.default_tag in cls.weights_tags, f"{arch}: default tag {cls.default_tag!r} is not declared"


def test_tags_that_worked_unlisted_are_listed_now():
    enh, tasks = set(list_enhancers()), set(list_tasks())
    assert {"depth_dpt.large", "depth_anything.v2_small", "det_yolo.yolov8s", "det_yolo.yolo11s",
            "seg_segformer.b2_ade", "seg_segformer.b2_cityscapes", "seg_espnetv2.pascal_s2", "seg_yolo.yolo11n_seg",
            "det_yolo_fastest.v1.1_xl"} <= tasks
    assert {"sci.medium", "iat.lol_v1", "iat.exposure", "ruas.lol", "retinexformer.LOL_v1", "lednet.retrain",
            "darkir.m", "darkir.l", "nafnet.gopro_width32", "dap_led_small.noclip_synth"} <= enh
    # the shipped checkpoint is the small preset's: it is no tag of the base preset
    assert "dap_led.noclip_synth" not in enh
    with pytest.raises(ConfigError, match="noclip_synth"):
        create_enhancer("dap_led.noclip_synth")
    with pytest.raises(ConfigError, match="does not fit 'dap_led'"):
        create_enhancer("dap_led", weights="noclip_synth")


@pytest.mark.parametrize("kind", ["metric", "dataset"])
def test_untagged_registries_list_their_registered_names(kind):
    reg = REGISTRIES[kind]
    assert not reg.tags_enabled
    listed = LISTERS[kind]()
    assert listed == reg.names() and len(listed) == len(reg)
    assert all(reg.lookup(n)[0] == n and reg.tags(n) == {} for n in listed)


def test_default_run_and_baseline_names_are_listed():
    import yaml

    run = yaml.safe_load((ROOT / "bench" / "runs" / "default.yaml").read_text())
    enh = set(list_enhancers())
    stages = {s for n in run["enhancers"] for s in n.split("+")}
    assert stages <= enh, sorted(stages - enh)
    assert set(run["tasks"]) <= set(list_tasks())
    assert set(run["metrics"]) <= set(list_metrics())
    rows = list(csv.DictReader((ROOT / "ci" / "baseline_default.csv").open()))
    assert {r["enhancer"] for r in rows} - {"reference"} <= set(run["enhancers"])
    assert {r["task"] for r in rows} <= set(run["tasks"])  # results format 2: task = the task's registry name


# -- unknown names and tags --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,bad,suggested", [
    ("enhancer", "clahee", "clahe"), ("enhancer", "sci.mediun", "sci.medium"),
    ("task", "depth_dpt.larg", "depth_dpt.large"),
    ("task", "seg_espnetv2.pascal_2", "seg_espnetv2.pascal_s2"), ("metric", "psnrr", "psnr"),
    ("dataset", "synth_mni", "synth_mini")])
def test_unknown_names_and_tags_raise_with_suggestions(kind, bad, suggested):
    reg = REGISTRIES[kind]
    with pytest.raises(UnknownNameError, match=f"did you mean '{suggested}'"):
        reg.get(bad)
    assert bad not in reg


def test_unknown_tag_is_a_config_error_and_registers_nothing():
    before = list_enhancers()
    with pytest.raises(ConfigError, match="unknown enhancer tag 'typo' for 'gamma'.*declares no weight tags"):
        create_enhancer("gamma.typo")
    with pytest.raises(ConfigError, match="its tags: easy, medium, difficult"):
        create_enhancer("sci.hard")
    with pytest.raises(ConfigError, match="unknown task tag"):
        create_task("seg_espnetv2.voc")
    with pytest.raises(ConfigError, match="did you mean 'miou_voc'"):
        create_metric("miou.voc")
    with pytest.raises(ConfigError, match="unknown dataset"):
        create_dataset("synth_mini.x")
    assert list_enhancers() == before and "gamma.typo" not in ENHANCERS


def test_dotted_names_are_refused_where_dots_mean_tags():
    with pytest.raises(ValueError, match="declare the tag in the class's weights_tags"):
        ENHANCERS.register("sci.extra", "ledbench.enhancers.sci:SCIEnhancer")
    with pytest.raises(ValueError, match="'.' separates a weight tag"):
        TASKS.register("det_yolo.custom", "ledbench.tasks.ultralytics_yolo:YOLOTask")


# -- base classes ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_registry_enforces_its_base_class(kind):
    reg = REGISTRIES[kind]
    assert reg.base_cls == BASES[kind]
    name = f"not_a_{kind}_test"
    reg.register(name, "json:dumps", overwrite=True)
    try:
        with pytest.raises(TypeError, match=f"not a {BASES[kind].rpartition(':')[2]}"):
            reg.get(name)
    finally:
        reg._entries.pop(name)
    for n in _builtin_archs(reg):  # and every built-in passes it
        reg.get(n)


def test_missing_catalog_module_is_an_error():
    reg: Registry = Registry("thing", catalogs=("ledbench.no_such_catalog",))
    for _ in range(2):  # not skipped on a second try either
        with pytest.raises(ImportError, match="ledbench.no_such_catalog"):
            reg.names()


# -- tags declared by a class, applied once ------------------------------------------------------------------------

class _Toy(WeightedPlugin):
    @dataclasses.dataclass(frozen=True)
    class Config:
        width: int = 16
        depth: int = 2

    weights_tags = {"small": WeightsSpec(filename="toy_small.pth", config={"width": 8}),
                    "deep": WeightsSpec(filename="toy_deep.pth", config={"depth": 4}),
                    "plain": WeightsSpec(filename="toy_plain.pth")}
    default_tag = "small"


def test_plugin_tags_from_declaration_and_config_applied_once(monkeypatch):
    import importlib.metadata as md

    monkeypatch.setattr(md, "entry_points", lambda group=None: [
        md.EntryPoint(name="toy_ep", value=f"{__name__}:_Toy", group=group),
        md.EntryPoint(name="toy_ep.v2", value=f"{__name__}:_Toy", group=group)])
    reg: Registry = Registry("toy", base_cls=WeightedPlugin, entry_point_group="ledbench.toys", tags=True)
    reg.register("toy", _Toy)
    with pytest.warns(UserWarning, match="toy_ep.v2"):  # a dotted plugin name is skipped, the others load
        reg.names()
    reg.register("toy_deep", _Toy, config={"depth": 4})
    assert reg.names() == ["toy", "toy.deep", "toy.plain", "toy.small", "toy_deep", "toy_deep.deep",
                           "toy_deep.plain", "toy_deep.small", "toy_ep", "toy_ep.deep", "toy_ep.plain", "toy_ep.small"]
    assert reg.names("toy_d*") == ["toy_deep", "toy_deep.deep", "toy_deep.plain", "toy_deep.small"]
    reg.register("toy_w4", _Toy, config={"width": 4})  # the small tag needs width 8: not a tag of this preset
    assert reg.names("toy_w4*") == ["toy_w4", "toy_w4.deep", "toy_w4.plain"]

    def config(name, weights=None, **over):
        return dataclasses.asdict(build_plan(reg, name, weights, over)[1])

    assert config("toy") == {"width": 8, "depth": 2}  # the default tag's config
    assert config("toy.plain") == {"width": 16, "depth": 2}
    assert config("toy.deep") == {"width": 16, "depth": 4}
    assert config("toy_deep.small") == {"width": 8, "depth": 4}
    assert config("toy", weights="deep") == config("toy.deep")  # weights=TAG selects the tag
    assert config("toy.small", width=3) == {"width": 3, "depth": 2}  # the user's override wins
    assert build_plan(reg, "toy", "some/file.pth", {})[2:] == (None, "some/file.pth")
    with pytest.raises(ConfigError, match="does not fit 'toy_w4'"):
        build_plan(reg, "toy_w4", "small", {})


def test_builtin_tag_configs_reach_the_built_plugin():
    assert create_enhancer("nafnet.gopro_width32", pretrained=False).config.width == 32
    assert create_enhancer("nafnet", weights="gopro_width32", pretrained=False).config.width == 32
    assert create_enhancer("nafnet.gopro_width32", pretrained=False, width=8).config.width == 8
    assert create_enhancer("darkir.l", pretrained=False).config.width == 64
    assert create_enhancer("iat.exposure", pretrained=False).config.type == "exp"
    assert create_enhancer("iat", pretrained=False).config.type == "lol"
    pascal = create_task("seg_espnetv2.pascal", reuse=False)
    assert (pascal.config.dataset, pascal.dataset, pascal.input_size, pascal.num_classes) == ("pascal", "pascal",
                                                                                              (256, 256), 21)
    assert create_task("seg_espnetv2", weights="pascal", reuse=False).config == pascal.config


# -- cascades and wildcards --------------------------------------------------------------------------------------------

def test_cascades_and_wildcards_still_work():
    from ledbench.enhancers.base import Cascade

    got = list_enhancers("zero_dce*")
    assert got[:4] == ["zero_dce", "zero_dce.Epoch99", "zero_dce_pp", "zero_dce_pp.Epoch99"]
    assert "zero_dce+nafnet" in got and all(n.startswith("zero_dce") for n in got)
    cas = create_enhancer("gamma+clahe")
    assert isinstance(cas, Cascade) and [s.name for s in cas.stages] == ["gamma", "clahe"]
    with pytest.raises(UnknownNameError, match="unknown enhancer tag"):
        create_enhancer("gamma+clahe.x")


# -- the default benchmark's config hashes -------------------------------------------------------------------------

def _baseline_hashes(column: str, name_column: str) -> dict[str, str]:
    rows = csv.DictReader((ROOT / "ci" / "baseline_default.csv").open())
    return {r[name_column]: r[column] for r in rows if r[column]}


@pytest.mark.parametrize("name,expected", sorted(_baseline_hashes("enhancer_config_hash", "enhancer").items()))
def test_default_run_enhancer_config_hashes_are_unchanged(name, expected):
    """The config hash enters cache keys and results rows: naming and config resolution must keep it."""
    enh = create_enhancer(name)
    assert enh.config_hash == expected, json.dumps(enh.identity(), default=str)


@pytest.mark.parametrize("name,expected", sorted(_baseline_hashes("task_config_hash", "task").items()))
def test_default_run_task_config_hashes_are_unchanged(name, expected):
    task = create_task(name)
    assert task.config_hash == expected, json.dumps(task.identity(), default=str)
