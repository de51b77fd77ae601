"""Severity sweeps as one run: ``ledbench run dataset=synth:FOLDER severity=1,3`` against separate single-severity
runs (the same numbers), the ``severity`` column through regress, statistics and reports, and ``--allow-mismatch``
never averaging different data. Tiny images (64 x 48), fast enhancers, PSNR only, a private LEDBENCH_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ledbench.bench.errors import ConfigError

ENH = "enhancers=identity,gamma"
FAST = ["tasks=quality", "metrics=psnr", ENH, "-q", "workers=0"]


def _cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEDBENCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "ledbench.bench.cli", *args], capture_output=True, text=True,
                         timeout=300, env=env)
    if check:
        assert res.returncode == 0, res.stderr[-2000:]
    return res


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A synth folder with severities 1 and 3 of three random 64 x 48 images, one sweep run over both, and the
    single-level runs: ``folder:DIR/s1`` (the recipe before sweeps) and ``synth:DIR severity=3``."""
    from PIL import Image

    root = tmp_path_factory.mktemp("sweep")
    home, sharp, synth = root / "home", root / "sharp", root / "synth"
    sharp.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        img = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
        img[8:30, 10:40] = 120 + 40 * i
        Image.fromarray(img).save(sharp / f"img{i}.png")
    made = _cli(home, "synth", str(sharp), str(synth), "severity=1,3")
    assert f"ledbench run dataset=synth:{synth} severity=1,3" in made.stdout  # synth says how to run the sweep
    runs = {"sweep": root / "sweep", "s1": root / "s1", "s3": root / "s3", "f3": root / "f3"}
    _cli(home, "run", f"dataset=synth:{synth}", "severity=1,3", f"out={runs['sweep']}", *FAST)
    from ledbench.bench.run_config import load_run_config
    from ledbench.bench.runner import run

    fast = dict(tok.split("=", 1) for tok in FAST if "=" in tok)
    with pytest.MonkeyPatch.context() as mp:  # the single-level runs in process (saves interpreter start-ups)
        mp.setenv("LEDBENCH_HOME", str(home))
        for name, over in (("s1", {"dataset": f"folder:{synth / 's1'}"}),
                           ("s3", {"dataset": f"synth:{synth}", "severity": "3"}),
                           ("f3", {"dataset": f"folder:{synth / 's3'}"})):
            run(load_run_config(None, {**fast, **over, "out": str(runs[name]), "quiet": True}), log=lambda m: None)
    return {"home": home, "synth": synth, **runs}


def _psnr(run: Path) -> pd.DataFrame:
    from ledbench.bench.results import read_results

    df = read_results(run)
    return df[(df["metric"] == "psnr") & (df["protocol"] == "full_reference")]


def test_sweep_run_equals_separate_single_severity_runs(sweep):
    df = _psnr(sweep["sweep"])
    assert sorted(set(df["severity"])) == ["1", "3"]
    s1, s3 = _psnr(sweep["s1"]), _psnr(sweep["s3"])
    assert set(s1["severity"]) == {""}, "a run that is not a sweep has an empty severity"
    assert set(s3["severity"]) == {"3"}
    assert set(df.loc[df.severity == "3", "dataset_manifest_hash"]) == set(s3["dataset_manifest_hash"])
    assert df.loc[df.severity == "1", "dataset_manifest_hash"].iloc[0] != s3["dataset_manifest_hash"].iloc[0]
    for level, single in (("1", s1), ("3", s3)):
        got = df[df["severity"] == level].set_index("enhancer")
        want = single.set_index("enhancer")
        assert list(got.index) == ["identity", "gamma"]
        for enh in got.index:  # the same images, the same numbers (bit for bit)
            assert got.loc[enh, "value"] == want.loc[enh, "value"]
            assert got.loc[enh, "stderr"] == want.loc[enh, "stderr"]
            assert got.loc[enh, "n_images"] == got.loc[enh, "n_images_total"] == 3
    assert df.loc[(df.enhancer == "identity") & (df.severity == "3"), "value"].item() < \
        df.loc[(df.enhancer == "identity") & (df.severity == "1"), "value"].item()  # severity 3 is darker
    per = pd.read_csv(sweep["sweep"] / "per_image.csv", dtype=str, keep_default_na=False)
    assert set(per["severity"]) == {"1", "3"}
    assert all(i.startswith(f"s{s}/") for i, s in zip(per["image_id"], per["severity"]))
    report = (sweep["sweep"] / "report.md").read_text()
    assert "6 images at severities 1, 3" in report and "PSNR by severity" in report and "severity 3" in report
    import json

    manifest = json.loads((sweep["sweep"] / "manifest.json").read_text())
    assert manifest["dataset"]["severities"] == [1.0, 3.0] and manifest["run_config"]["severity"] == [1.0, 3.0]


def test_missing_severity_and_non_sweep_dataset_are_one_line_errors(sweep, tmp_path):
    res = _cli(sweep["home"], "run", f"dataset=synth:{sweep['synth']}", "severity=1,4", f"out={tmp_path / 'x'}",
               *FAST, check=False)
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "no severity 4" in err[0] and "present: 1, 3" in err[0], res.stderr
    from ledbench.bench.run_config import load_run_config

    with pytest.raises(ConfigError, match="severity.*synth:FOLDER"):
        load_run_config(None, {"dataset": "folder:/x", "severity": "1,3"})
    with pytest.raises(ConfigError, match="twice"):
        load_run_config(None, {"dataset": "synth:/x", "severity": "1,1"})
    assert load_run_config(None, {"dataset": "synth:/x", "severity": "1,3"}).severity == (1.0, 3.0)
    from ledbench.datasets import create_dataset

    ds = create_dataset(f"synth:{sweep['synth']}", limit=2)  # every level by default; limit applies per level
    assert [it.id for it in ds.items] == ["s1/img0", "s1/img1", "s3/img0", "s3/img1"]
    assert [it.severity for it in ds.items] == [1.0, 1.0, 3.0, 3.0]


def test_regress_keys_rows_by_severity_and_reads_old_baselines(sweep, tmp_path):
    from ledbench.reports.regress import regress

    code, text = regress(sweep["sweep"], sweep["sweep"] / "results.csv")
    assert code == 0 and "0 missing" in text
    base = pd.read_csv(sweep["sweep"] / "results.csv", dtype=str, keep_default_na=False)
    row = (base["enhancer"] == "gamma") & (base["severity"] == "3") & (base["metric"] == "psnr")
    assert row.sum() == 1
    base.loc[row, "value"] = repr(float(base.loc[row, "value"].item()) + 1.0)
    base.to_csv(tmp_path / "base.csv", index=False)
    code, text = regress(sweep["sweep"], tmp_path / "base.csv")
    worse = text.split("WORSE")[1].split("\n\n")[0]
    assert code == 1 and "1 worse" in text and "severity 3" in worse and "severity 1" not in worse
    # a baseline written before sweeps existed (no severity column) still matches a run that is not a sweep
    old = pd.read_csv(sweep["s1"] / "results.csv", dtype=str, keep_default_na=False).drop(columns="severity")
    old.to_csv(tmp_path / "old.csv", index=False)
    code, text = regress(sweep["s1"], tmp_path / "old.csv")
    assert code == 0 and "0 missing" in text and "0 new" in text


def test_statistics_pair_images_within_one_severity(sweep):
    stats = pd.read_csv(sweep["sweep"] / "statistics.csv", dtype={"severity": str}, keep_default_na=False)
    single = pd.read_csv(sweep["s1"] / "statistics.csv", keep_default_na=False)
    gamma = stats[(stats.enhancer == "gamma") & (stats.metric == "psnr")].set_index("severity")
    assert sorted(gamma.index) == ["1", "3"]
    assert (gamma["n_boot_images"] == 3).all()  # 3 images per level, never the 6 of both levels
    ref = single[(single.enhancer == "gamma") & (single.metric == "psnr")].iloc[0]
    for col in ("ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high", "p_value"):
        assert float(gamma.loc["1", col]) == pytest.approx(float(ref[col]), rel=1e-12, abs=1e-12), col
    from ledbench.reports.stats import bootstrap_run

    boot = bootstrap_run(sweep["sweep"], n_resamples=200)
    assert set(boot.loc[boot.metric == "psnr", "severity"]) == {"1", "3"}


def test_report_has_severity_pivot_and_integer_ticks(sweep, tmp_path, monkeypatch):
    from ledbench.bench.results import read_results
    from ledbench.reports import plots
    from ledbench.reports.report import build_report
    from ledbench.reports.sweep import severity_pivot

    df = read_results(sweep["sweep"])
    pivot = severity_pivot(df, "psnr")
    assert list(pivot.columns) == ["1", "3"] and list(pivot.index) == ["identity", "gamma"]
    for enh in pivot.index:
        for lev in pivot.columns:
            want = df[(df.enhancer == enh) & (df.severity == lev) & (df.metric == "psnr")]["value"].item()
            assert pivot.loc[enh, lev] == want
    written = build_report([sweep["sweep"]], "md,tex", tmp_path / "rep", stats=False)
    md = written["md"].read_text()
    assert "PSNR by severity" in md and "severity 1" in md and "severity 3" in md
    line = next(x for x in md.split("PSNR by severity")[1].splitlines() if x.startswith("| gamma"))
    assert line.split("|")[2].strip() == f"{pivot.loc['gamma', '1']:.2f}"
    assert "severity 3" in written["tex"].read_text()

    figs = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, out: figs.append(fig) or [Path(str(out) + ".png")])
    plots.plot_metric_vs_severity(df, "psnr", tmp_path / "sev")
    ax = figs[-1].axes[0]
    assert list(ax.get_xticks()) == [1.0, 3.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3"]
    from ledbench.bench.errors import InputError

    with pytest.raises(InputError, match="several severities"):  # a scatter never mixes levels silently
        plots.plot_quality_vs_task(df, "psnr", "psnr", tmp_path / "scatter")


def test_allow_mismatch_never_averages_severities(sweep, tmp_path):
    from ledbench.reports.tables import MergeMismatch, aggregate, merge_runs

    # the recipe before sweeps: two folder runs of different severities under one dataset name
    with pytest.raises(MergeMismatch, match="one sweep: ledbench run dataset=synth:FOLDER severity="):
        merge_runs(sweep["s1"], sweep["f3"])
    df = merge_runs(sweep["s1"], sweep["f3"], allow_mismatch=True)
    agg = aggregate(df[df.metric == "psnr"])
    assert (agg["n_runs"] == 1).all() and len(agg) == 4  # two enhancers x two data sets, nothing averaged
    assert sorted(set(agg["dataset"])) == ["folder@f3", "folder@s1"]
    s1, f3 = _psnr(sweep["s1"]).set_index("enhancer"), _psnr(sweep["f3"]).set_index("enhancer")
    got = agg.set_index(["dataset", "enhancer"])["value"]
    assert got["folder@s1", "gamma"] == s1.loc["gamma", "value"] and got["folder@f3", "gamma"] == f3.loc["gamma",
                                                                                                         "value"]
    # a sweep and a run of one of its levels: each level carries its own manifest hash, so they merge (level 3
    # of both runs is the same data) and the severity column keeps the levels apart
    agg = aggregate(merge_runs(sweep["sweep"], sweep["s3"]).query("metric == 'psnr'"))
    assert sorted(set(agg["severity"])) == ["1", "3"] and len(agg) == 4
    assert (agg.loc[agg.severity == "1", "n_runs"] == 1).all() and (agg.loc[agg.severity == "3", "n_runs"] == 2).all()
    # the CLI: --allow-mismatch shows both numbers, never their mean
    res = _cli(sweep["home"], "report", str(sweep["s1"]), str(sweep["f3"]), "--allow-mismatch", "--format", "md",
               "--out", str(tmp_path / "rep"))
    md = (tmp_path / "rep" / "report.md").read_text()
    mean = (s1.loc["gamma", "value"] + f3.loc["gamma", "value"]) / 2
    assert f"{s1.loc['gamma', 'value']:.2f}" in md and f"{f3.loc['gamma', 'value']:.2f}" in md, res.stdout
    assert f"{mean:.2f}" not in md


def test_synth_mini_sweep_generates_each_level(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDBENCH_HOME", str(tmp_path))
    from ledbench.datasets import create_dataset
    from ledbench.datasets.sweep import create_sweep_dataset

    ds = create_sweep_dataset("synth_mini", [1, 3], n=2, size=64)
    items = ds.items
    assert [it.severity for it in items] == [1.0, 1.0, 3.0, 3.0]
    assert [it.id.split("/")[0] for it in items] == ["s1", "s1", "s3", "s3"]
    one = create_dataset("synth_mini", n=2, size=64, severity=3)
    assert [it.input_hash() for it in items[2:]] == [it.input_hash() for it in one.items]
    assert items[0].input_hash() != items[2].input_hash()
    with pytest.raises(ConfigError, match="synth:FOLDER"):
        create_sweep_dataset("folder:/x", [1, 3])
