"""Reports: golden tables, merge rules, plots, grids, HTML (headless Chromium) and regression checks.

Fixture: tests/data/report_runs/seed{0,1} (written by make_fixture.py there). Golden files: tests/golden/reports_*;
regenerate with ``LEDBENCH_UPDATE_GOLDEN=1 pytest tests/test_reports.py -k golden`` after an intended change (those
tests then fail on purpose), review the diff and rerun without the variable.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ledbench.bench.errors import ConfigError, InputError
from ledbench.bench.results import read_per_image, read_results
from ledbench.reports import grids, plots, regress, tables
from ledbench.reports.report import regress_main, report_main

HERE = Path(__file__).resolve().parent
RUNS = HERE / "data" / "report_runs"
SEED0, SEED1 = RUNS / "seed0", RUNS / "seed1"
GOLDEN = HERE / "golden"
CHROMIUM = "/usr/bin/chromium"


def _golden(name: str, text: str) -> None:
    """Compare with the golden file. ``LEDBENCH_UPDATE_GOLDEN=1`` rewrites it instead and fails the test, so an
    update never passes in the run that wrote it: review the diff, then rerun without the variable."""
    path = GOLDEN / name
    if os.environ.get("LEDBENCH_UPDATE_GOLDEN"):
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        pytest.fail(f"{'unchanged' if old == text else 'rewrote'} {path} (update mode never passes; review the diff "
                    f"and rerun without LEDBENCH_UPDATE_GOLDEN)")
    assert path.is_file(), f"missing golden file {path}; run with LEDBENCH_UPDATE_GOLDEN=1 once and review it"
    assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"


def _copy_run(src: Path, dst: Path, edit=None) -> Path:
    shutil.copytree(src, dst)
    if edit is not None:
        df = pd.read_csv(dst / "results.csv", dtype=str, keep_default_na=False)
        df = edit(df)
        df.to_csv(dst / "results.csv", index=False)
    return dst


def _raw(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "results.csv", keep_default_na=False)


# --------------------------------------------------------------------------------------------------- tables


@pytest.mark.parametrize("fmt", ["md", "tex", "csv"])
def test_golden_single_run(fmt):
    _golden(f"reports_seed0.{fmt}", tables.format_table(tables.merge_runs(SEED0), fmt=fmt))


@pytest.mark.parametrize("fmt", ["md", "tex", "csv"])
def test_golden_two_seeds(fmt):  # ± only when asked (show_stderr): here over the two runs
    _golden(f"reports_two_seeds.{fmt}", tables.format_table(tables.merge_runs(SEED0, SEED1), fmt=fmt,
                                                            show_stderr=True))


def test_golden_helper_fails_on_a_changed_file_and_in_update_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "GOLDEN", tmp_path)
    monkeypatch.delenv("LEDBENCH_UPDATE_GOLDEN", raising=False)
    (tmp_path / "t.md").write_text("| a |\n", encoding="utf-8")
    _golden("t.md", "| a |\n")
    with pytest.raises(AssertionError, match="differs"):
        _golden("t.md", "| b |\n")
    monkeypatch.setenv("LEDBENCH_UPDATE_GOLDEN", "1")
    with pytest.raises(pytest.fail.Exception, match="rewrote"):
        _golden("t.md", "| b |\n")
    assert (tmp_path / "t.md").read_text(encoding="utf-8") == "| b |\n"


def test_merged_values_are_mean_and_stderr_over_runs():
    t = tables.build_table(tables.merge_runs(SEED0, SEED1))
    a, b = _raw(SEED0), _raw(SEED1)
    j = t.col_keys.index(("quality", "psnr"))
    i = [k[0] for k in t.row_keys].index("zero_dce")
    sel = lambda d: float(d[(d.enhancer == "zero_dce") & (d.metric == "psnr")].value.iloc[0])
    va, vb = sel(a), sel(b)
    cell = t.cells[i][j]
    assert cell.n_runs == 2
    assert cell.value == pytest.approx((va + vb) / 2, abs=1e-12)
    assert cell.stderr == pytest.approx(abs(va - vb) / 2, abs=1e-12)  # std(ddof=1)/sqrt(2) for two values
    assert not t.show_stderr  # ± only when asked, for one run or several
    md = tables.render_markdown(t)
    assert "±" not in md and "mean over up to 2 runs" in md
    md = tables.format_table(tables.merge_runs(SEED0, SEED1), fmt="md", show_stderr=True)
    assert f"{cell.value:.2f} ± {cell.stderr:.2f}" in md and "± standard error over runs" in md
    assert "over images" not in md  # every row here averages both runs


def test_best_and_second_follow_direction_and_skip_floor_and_ceiling():
    t = tables.build_table(tables.merge_runs(SEED0))
    df = _raw(SEED0)
    names = [k[0] for k in t.row_keys]
    assert names[0] == "input" and names[-1] == "reference"
    for j, (task, metric) in enumerate(t.col_keys):
        sub = df[(df.metric == metric) & ~df.enhancer.isin(["input", "reference"])]
        hib = bool(sub.higher_is_better.iloc[0])
        assert t.higher_is_better[j] == hib
        order = sub.sort_values("value", ascending=not hib).enhancer.tolist()
        ranks = {names[i]: t.cells[i][j].rank for i in range(len(names))}
        assert ranks[order[0]] == 1 and ranks[order[1]] == 2, (metric, ranks, order)
        assert ranks["input"] == 0 and ranks["reference"] == 0
    lp = t.col_keys.index(("quality", "lpips"))
    assert not t.higher_is_better[lp]  # lower is better: the smallest LPIPS is bold
    md = tables.render_markdown(t)
    assert "LPIPS ↓" in md and "PSNR (dB) ↑" in md and "| reference | ∞ |" in md


def test_ties_share_the_mark():
    df = read_results(SEED0)
    df.loc[(df.metric == "ssim") & (df.enhancer == "zero_dce"), "value"] = 0.7441
    df.loc[(df.metric == "ssim") & (df.enhancer == "dap_led"), "value"] = 0.7442  # equal at 3 decimals
    t = tables.build_table(df)
    j = t.col_keys.index(("quality", "ssim"))
    marks = {k[0]: t.cells[i][j].rank for i, k in enumerate(t.row_keys)}
    assert marks["zero_dce"] == marks["dap_led"] == 1 and marks["clahe+richardson_lucy"] == 2


def test_columns_gain_protocol_only_where_ambiguous():
    df = read_results(SEED0)
    extra = df[df.task_kind == "depth"].copy()
    extra["protocol"] = "real_gt"
    extra["value"] = extra["value"] * 1.5
    t = tables.build_table(pd.concat([df, extra], ignore_index=True))
    assert t.col_fields == ["task", "protocol", "metric"]
    assert ("depth_dpt", "real_gt", "abs_rel") in t.col_keys and ("depth_dpt", "pseudo_gt", "abs_rel") in t.col_keys
    assert ("quality", "full_reference", "psnr") in t.col_keys
    assert tables.build_table(df).col_fields == ["task", "metric"]


def test_split_by_and_where_filter():
    df = tables.merge_runs(SEED0)
    out = tables.format_table(df, fmt="md", split_by="protocol")
    assert "**protocol: full_reference**" in out and "**protocol: pseudo_gt**" in out
    only = tables.format_table(df, fmt="csv", where={"task": "quality"})
    assert only.splitlines()[0] == "enhancer,quality.psnr ↑,quality.ssim ↑,quality.lpips ↓"
    with pytest.raises(ConfigError):
        tables.format_table(df, cols="task.nonsense")
    with pytest.raises(ConfigError):
        tables.format_table(df, fmt="docx")


def test_latex_is_escaped_and_balanced():
    tex = tables.format_table(tables.merge_runs(SEED0, SEED1), fmt="tex")
    assert "zero\\_dce" in tex and "\\toprule" in tex and "\\bottomrule" in tex and "$\\infty$" in tex
    body = tex.split("\\begin{tabular}")[1].split("\\end{tabular}")[0]
    assert body.count("{") == body.count("}")
    ncols = len(tables.build_table(tables.merge_runs(SEED0)).col_keys) + 1
    for line in body.splitlines():
        if line.endswith("\\\\") and "multicolumn" not in line:
            assert line.count(" & ") == ncols - 1, line


def test_console_table_lists_every_enhancer():
    out = tables.console_table(read_results(SEED0))
    for name in ("input", "zero_dce", "clahe+richardson_lucy", "dap_led", "reference"):
        assert name in out
    assert "PSNR (dB) ↑" in out and "LPIPS ↓" in out and "*" in out
    assert tables.console_table(read_results(SEED0).iloc[:0]) == "(no results)\n"


@pytest.mark.parametrize("column,fix", [
    ("dataset_manifest_hash", lambda d: d.assign(dataset_manifest_hash="ffff0000")),
    # the fixture files are results format 1 (task = kind), read through the compatibility rename
    ("protocol", lambda d: d.assign(protocol=d.protocol.where(d.task != "depth", "real_gt"))),
    ("task_config_hash", lambda d: d.assign(task_config_hash=d.task_config_hash + "x")),
    ("enhancer_config_hash", lambda d: d.assign(enhancer_config_hash=d.enhancer_config_hash + "x")),
])
def test_merge_refuses_mismatched_runs(tmp_path, column, fix):
    other = _copy_run(SEED1, tmp_path / "other", fix)
    with pytest.raises(tables.MergeMismatch) as err:
        tables.merge_runs(SEED0, other)
    assert column in str(err.value) and "allow_mismatch" in str(err.value)
    df = tables.merge_runs(SEED0, other, allow_mismatch=True)
    assert len(df) == len(_raw(SEED0)) * 2


# --------------------------------------------------------------------------------------------------- plots


def _check_png(path: Path, min_size=(200, 150)) -> None:
    from PIL import Image

    assert path.is_file() and path.stat().st_size > 2000
    with Image.open(path) as im:
        a = np.asarray(im.convert("L"), dtype=float)
    assert a.shape[1] >= min_size[0] and a.shape[0] >= min_size[1]
    assert a.std() > 5 and (a < 128).mean() > 0.003  # not blank: dark ink on the page


def _check_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 50


def test_plots_png_and_svg(tmp_path):
    df = tables.merge_runs(SEED0, SEED1)
    made = [
        plots.plot_quality_vs_task(df, "psnr", "map50_95", tmp_path / "q"),
        plots.plot_per_class(df, tmp_path / "pc", family="iou"),
        plots.plot_metric_vs_cost(df, "abs_rel", tmp_path / "c", costs={"zero_dce": 0.4, "dap_led": 12.0,
                                                                          "clahe+richardson_lucy": 30.0}),
    ]
    sev = []
    for s in (1, 2, 3):
        d = df.copy()
        d["dataset"] = f"synth_mini:severity={s}"
        d["value"] = d["value"] - 0.5 * s * (d["metric"] == "psnr")
        sev.append(d)
    made.append(plots.plot_metric_vs_severity(pd.concat(sev, ignore_index=True), "psnr", tmp_path / "s"))
    for png, svg in made:
        _check_png(png)
        _check_svg(svg)
    assert plots.per_class_metrics(df) == {"iou": ["iou_road", "iou_car", "iou_person"]}
    with pytest.raises(InputError, match="severity"):
        plots.plot_metric_vs_severity(df, "psnr", tmp_path / "none")
    with pytest.raises(InputError, match="no results for metric"):
        plots.plot_quality_vs_task(df, "psnr", "nope", tmp_path / "x")


def test_correlation_helpers_match_numpy():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    y = np.array([2.0, 1.0, 4.0, 3.0, 5.0])
    assert plots._pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert plots._pearson(plots._ranks(x), plots._ranks(y)) == pytest.approx(0.8)  # 1 - 6*4/(5*24)
    assert plots.severity_from_name("lolblur_sev3/test") == 3.0 and plots.severity_from_name("synth_mini") is None


# --------------------------------------------------------------------------------------------------- grids


def _write_images(root: Path, ids: list[str], enhancers: list[str], size=(48, 64)) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    h, w = size
    for k, item in enumerate(ids):
        ref = (rng.random((h, w, 3)) * 200 + 30).astype(np.uint8)
        for name, img in [("input", ref // 6), ("reference", ref)] + [(e, ref // (2 + j)) for j, e in
                                                                        enumerate(enhancers)]:
            (root / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / name / f"{item}.png")


def test_grid_from_folders_layout_and_missing_tiles(tmp_path):
    ids = ["img0", "img1"]
    _write_images(tmp_path / "imgs", ids, ["zero_dce", "dap_led"])
    (tmp_path / "imgs" / "dap_led" / "img1.png").unlink()
    out = tmp_path / "grid.png"
    im = grids.grid_from_folders(tmp_path / "imgs", ids, ["zero_dce", "dap_led"], out, tile_height=48)
    assert out.is_file()
    tile_w = 64  # 48 x 64 images at tile height 48 keep their width
    assert im.width > 4 * tile_w and im.height > 2 * 48
    _check_png(out, (4 * tile_w, 96))
    a = np.asarray(im)
    assert (np.abs(a.astype(int) - 235).sum(-1) == 0).sum() > 100  # the grey "missing" tile is there


def test_grid_overlays_draw_where_expected(tmp_path):
    img = np.full((40, 60, 3), 0.5, np.float32)
    seg = np.full((40, 60), 255, np.int64)
    seg[:, :30] = 0  # left half: class 0 (road, purple in the Cityscapes palette); right half ignored
    depth = np.tile(np.linspace(1.0, 10.0, 60, dtype=np.float32), (40, 1))
    det = {"boxes": np.array([[10.0, 10.0, 50.0, 30.0]]), "scores": np.array([0.9]), "labels": np.array([3])}
    rows = {"a": {"input": img, "seg": img, "det": img, "depth": img}}
    ov = {("a", "seg"): grids.Overlay("segmentation", seg, alpha=1.0),
          ("a", "det"): grids.Overlay("detection", det),
          ("a", "depth"): grids.Overlay("depth", depth)}
    im = grids.make_grid(rows, None, overlays=ov, tile_height=40, columns=["input", "seg", "det", "depth"])
    a = np.asarray(im).astype(int)
    tiles = im.info["ledbench_tiles"]
    px = lambda col, x, y: a[tiles[("a", col)][1] + y, tiles[("a", col)][0] + x]
    assert all(tiles[("a", c)][2:] == (60, 40) for c in ("input", "seg", "det", "depth"))
    assert np.all(np.abs(px("input", 10, 20) - 128) <= 1)
    assert tuple(px("seg", 10, 20)) == grids.CITYSCAPES_PALETTE[0]  # segmented half, alpha 1
    assert np.all(np.abs(px("seg", 50, 20) - 128) <= 1)  # ignore_index left as is
    assert not np.all(np.abs(px("det", 30, 10) - 128) <= 1)  # the top edge of the box at y = 10
    assert np.all(np.abs(px("det", 30, 20) - 128) <= 1)  # inside the box: untouched
    assert np.all(np.abs(px("depth", 10, 20) - 128) <= 1)  # depth goes to the sub-row, the image stays
    x, y, w, _h = tiles[("a", "depth:below")]
    row = a[y + 20, x: x + w]
    assert row[2].sum() > row[w // 2].sum() > row[-3].sum()  # near (left, 1 m) brighter than far (10 m)


def test_select_images_worst_best_gain():
    per = read_per_image(SEED0)
    res = read_results(SEED0)
    psnr = per[(per.metric == "psnr") & ~per.enhancer.isin(["input", "reference"])]
    means = {i: psnr[psnr.image_id == i].value.mean() for i in sorted(psnr.image_id.unique())}
    order = sorted(means, key=means.get)
    assert grids.select_images(per, "psnr", k=2, which="worst", results=res) == order[:2]
    assert grids.select_images(per, "psnr", k=1, which="best", higher_is_better=True) == order[-1:]
    lp = per[(per.metric == "lpips") & (per.enhancer == "dap_led")].set_index("image_id").value
    assert grids.select_images(per, "lpips", k=1, which="worst", enhancer="dap_led", results=res) == [lp.idxmax()]
    base = per[(per.metric == "lpips") & (per.enhancer == "input")].set_index("image_id").value
    gain = (base - lp).sort_values(ascending=False)  # lower is better: gain = input - enhancer
    assert grids.select_images(per, "lpips", k=4, which="gain", enhancer="dap_led", results=res) == list(gain.index)
    with pytest.raises(InputError, match="direction"):
        grids.select_images(per, "psnr")


# --------------------------------------------------------------------------------------------------- html report


def _fixture_report(tmp_path: Path) -> Path:
    per = read_per_image(SEED0)
    ids = sorted(per.image_id.unique())
    _write_images(tmp_path / "imgs", ids, ["zero_dce", "clahe+richardson_lucy", "dap_led"], size=(96, 128))
    out = tmp_path / "report"
    code = report_main([str(SEED0), str(SEED1)], ["md,tex,csv,html"], str(out), images_root=str(tmp_path / "imgs"),
                       quiet=True)
    assert code == 0
    return out / "report.html"


def test_report_main_writes_all_formats_self_contained(tmp_path, capsys):
    html = _fixture_report(tmp_path)
    d = html.parent
    for f in ("report.md", "report.tex", "report.csv"):
        assert (d / f).stat().st_size > 200
    assert (d / "report.md").read_text() == tables.format_table(tables.merge_runs(SEED0, SEED1), fmt="md")
    text = html.read_text()
    assert 'src="http' not in text and "href=\"http" not in text and "<link" not in text  # nothing to fetch
    assert text.count("data:image/png;base64,") >= 4  # plots and grids embedded
    assert text.count('<table class="ledbench">') == 1 and "dap_led" in text and "skipped" in text.lower()
    assert (d / "grids" / "grid_worst_psnr.png").is_file()
    _check_png(d / "grids" / "grid_worst_psnr.png")
    assert report_main([str(SEED0)], ["pdf"], str(tmp_path / "x"), quiet=True) == 2
    assert "unknown report format" in capsys.readouterr().err


@pytest.mark.browser
def test_html_report_in_headless_chromium(tmp_path):
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    html = _fixture_report(tmp_path)
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run(flags + ["--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120,
                         check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    root = dom.stdout
    assert 'data-errors="0"' in root, root[:500]
    n_img = root.count("<img ")
    assert n_img >= 4 and f'data-images-loaded="{n_img}/{n_img}"' in root  # every embedded image decoded
    assert root.count("<tr") >= 6 and "dap_led" in root and "PSNR (dB) ↑" in root
    shot = tmp_path / "shot.png"
    r = subprocess.run(flags + ["--window-size=1400,1800", f"--screenshot={shot}", html.as_uri()],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    _check_png(shot, (1000, 1000))
    if os.environ.get("LEDBENCH_SCREENSHOT"):
        shutil.copy(shot, os.environ["LEDBENCH_SCREENSHOT"])


# --------------------------------------------------------------------------------------------------- regress


@pytest.fixture
def baseline(tmp_path) -> Path:
    path = tmp_path / "baseline.csv"
    msg = regress.update_baseline(SEED0, path)
    assert "created" in msg and "50 rows" in msg
    return path


def _edit(tmp_path, fn) -> Path:
    return _copy_run(SEED0, tmp_path / "run", fn)


def _set(metric, enhancer, value):
    def fn(d):
        m = (d.metric == metric) & (d.enhancer == enhancer)
        d.loc[m, "value"] = str(value)
        return d
    return fn


def _value(metric, enhancer) -> float:
    d = _raw(SEED0)
    return float(d[(d.metric == metric) & (d.enhancer == enhancer)].value.iloc[0])


def test_regress_pass_on_identical_run(baseline):
    code, text = regress.regress(SEED0, baseline)
    assert code == 0 and text.splitlines()[1].startswith("PASS: 0 worse, 0 missing") and "50 within" in text


def test_regress_detects_regression_direction_aware(tmp_path, baseline):
    v = _value("lpips", "dap_led")  # lower is better: going up is worse
    run = _edit(tmp_path, _set("lpips", "dap_led", v + 0.02))
    code, text = regress.regress(run, baseline)
    assert code == 1 and "WORSE" in text and "lpips ↓" in text and "dap_led" in text and "--update-baseline" in text
    # the same +0.02 on a higher-is-better metric is an improvement
    run2 = _copy_run(SEED0, tmp_path / "run2", _set("ssim", "dap_led", _value("ssim", "dap_led") + 0.02))
    code, text = regress.regress(run2, baseline)
    assert code == 0 and "IMPROVED" in text and "ssim ↑" in text


def test_regress_tolerances(tmp_path, baseline):
    run = _edit(tmp_path, _set("psnr", "zero_dce", _value("psnr", "zero_dce") - 0.04))
    assert regress.regress(run, baseline)[0] == 1
    assert regress.regress(run, baseline, {"psnr": 0.05})[0] == 0
    assert regress.regress(run, baseline, {"quality.psnr": "1%"})[0] == 0  # 1% of ~18 dB
    assert regress.regress(run, baseline, {"ps*": 0.01})[0] == 1
    assert regress.regress(run, baseline, default_tol=0.1)[0] == 0
    assert regress.parse_tolerances(["psnr=0.05,lpips=2%"]) == {
        "psnr": regress.Tolerance(0.05), "lpips": regress.Tolerance(0.02, True)}
    with pytest.raises(ConfigError):
        regress.parse_tolerances(["psnr"])


def test_regress_missing_rows_and_nan(tmp_path, baseline):
    run = _edit(tmp_path, lambda d: d[~((d.metric == "miou") & (d.enhancer == "zero_dce"))])
    code, text = regress.regress(run, baseline)
    assert code == 1 and "MISSING" in text and "miou" in text.split("MISSING")[1]
    run2 = _copy_run(SEED0, tmp_path / "run2", _set("delta1", "dap_led", "nan"))
    code, text = regress.regress(run2, baseline)
    assert code == 1 and "delta1" in text
    # the reference's infinite PSNR equals itself; a changed dataset fails
    run3 = _copy_run(SEED0, tmp_path / "run3", lambda d: d.assign(dataset_manifest_hash="0bad"))
    code, text = regress.regress(run3, baseline)
    assert code == 1 and "DATASET CHANGED" in text
    assert regress.regress(run3, baseline, check_manifest=False)[0] == 0


def test_regress_main_and_update_baseline(tmp_path, capsys):
    base = tmp_path / "ci" / "baseline.csv"
    assert regress_main(str(SEED0), str(base), []) == 2  # no baseline yet: a user error naming the fix
    assert "--update-baseline" in capsys.readouterr().err
    assert regress_main(str(SEED0), str(base), [], update_baseline=True) == 0
    assert regress_main(str(SEED0), str(base), []) == 0
    run = _edit(tmp_path, _set("psnr", "dap_led", _value("psnr", "dap_led") - 1.0))
    assert regress_main(str(run), str(base), ["psnr=0.5"]) == 1
    assert "psnr ↑" in capsys.readouterr().out
    assert regress_main(str(run), str(base), ["psnr=2"]) == 0
    assert regress_main(str(run), str(base), [], update_baseline=True) == 0
    assert regress_main(str(run), str(base), []) == 0
    b = read_results(base)
    assert math.isinf(float(b[(b.enhancer == "reference") & (b.metric == "psnr")].value.iloc[0]))
    assert set(b.run_id) == {""}


def test_marks_are_honest_about_ties_the_floor_and_partial_columns():
    """Issue 14/12: no mark for an all-zero tie, none for a result worse than the degraded input, and a mean over
    fewer images than the dataset is shown as n=k/N (and not ranked against full columns without the bootstrap)."""
    base = dict(dataset="d", split="test", task_kind="detection", task="det", protocol="pseudo_gt",
                higher_is_better=True, stderr=math.nan, n_images_total=8)
    rows = [dict(base, enhancer="identity", metric="map50", value=0.30, n_images=8),
            dict(base, enhancer="a", metric="map50", value=0.10, n_images=8),   # worse than the floor
            dict(base, enhancer="b", metric="map50", value=0.05, n_images=8),
            dict(base, enhancer="identity", metric="ar100", value=0.0, n_images=8),
            dict(base, enhancer="a", metric="ar100", value=0.0, n_images=8),     # everyone tied at 0
            dict(base, enhancer="b", metric="ar100", value=0.0, n_images=8),
            dict(base, enhancer="identity", metric="map75", value=0.1, n_images=8),
            dict(base, enhancer="a", metric="map75", value=0.4, n_images=6),     # scored on 6 of 8 images
            dict(base, enhancer="b", metric="map75", value=0.3, n_images=8)]
    t = tables.build_table(pd.DataFrame(rows))
    marks = {(t.row_keys[i][0], t.col_keys[j][-1]): t.cells[i][j].rank
             for i in range(len(t.row_keys)) for j in range(len(t.col_keys)) if t.cells[i][j]}
    assert marks[("a", "map50")] == marks[("b", "map50")] == 0
    assert marks[("a", "ar100")] == marks[("b", "ar100")] == 0
    assert marks[("a", "map75")] == marks[("b", "map75")] == 0
    md = tables.render_markdown(t)
    assert "0.400 (n=6/8)" in md and "n=k/N" in md and "worse than the degraded input" in md


def test_aggregate_of_one_run_equals_the_grouped_path(monkeypatch):
    """One run (every key once) takes a vectorised path; it must give exactly the frame the grouped loop gives."""
    import pandas as pd

    from ledbench.bench.results import read_results
    from ledbench.reports import tables

    run = Path(__file__).parent / "data" / "report_runs" / "seed0"
    df = read_results(run)
    assert not df.duplicated([k for k in tables.KEY_COLUMNS if k in df.columns]).any()
    fast = tables.aggregate(df)
    monkeypatch.setattr(pd.DataFrame, "duplicated", lambda self, *a, **k: pd.Series([True] * len(self)))
    pd.testing.assert_frame_equal(fast, tables.aggregate(df), check_exact=True)
