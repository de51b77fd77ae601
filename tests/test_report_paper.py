"""Paper-ready report outputs (issue 14, item 3): display names with units and direction, the protocol / task model
/ n of each column group in every format, LaTeX caption / label / stderr, non-overlapping plot labels, choosable
grids with one floor column and zoomed crops, and arguments checked before anything is written.

Fixture: tests/data/report_runs/seed0 (4 images; quality, DPT depth, YOLO detection, SegFormer segmentation).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ledbench.bench.errors import ConfigError, InputError
from ledbench.bench.results import read_per_image, read_results
from ledbench.reports import grids, names, plots, tables
from ledbench.reports.report import check_grid_options, parse_grid_images

HERE = Path(__file__).resolve().parent
SEED0 = HERE / "data" / "report_runs" / "seed0"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ledbench.bench.cli", *args], capture_output=True, text=True,
                          timeout=120)


def _images(root: Path, ids: list[str], enhancers: list[str], size=(40, 56)) -> None:
    """<root>/<enhancer>/<id>.png: the reference is noise, the floor ``identity`` a dark copy, enhancers between."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for item in ids:
        ref = (rng.random((*size, 3)) * 200 + 30).astype(np.uint8)
        for j, (name, img) in enumerate([("identity", ref // 6), ("reference", ref)]
                                        + [(e, ref // (2 + k)) for k, e in enumerate(enhancers)]):
            (root / name / Path(item).parent).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / name / f"{item}.png")


# ------------------------------------------------------------------------------------------------ display names


@pytest.mark.parametrize("metric,hib,label", [
    ("psnr", True, "PSNR (dB) ↑"), ("ssim", True, "SSIM ↑"), ("niqe", False, "NIQE ↓"), ("lpips", False, "LPIPS ↓"),
    ("map50_95", True, "mAP50:95 ↑"), ("map50", True, "mAP50 ↑"), ("ar100", True, "AR100 ↑"),
    ("miou", True, "mIoU ↑"), ("pixel_acc", True, "pixel acc. ↑"), ("abs_rel", False, "AbsRel ↓"),
    ("delta1", True, "δ<1.25 ↑"), ("abs_rel_median", False, "AbsRel (median-aligned) ↓"),
    ("iou_car", True, "IoU car ↑"), ("my_new_metric", False, "my_new_metric ↓"),
])
def test_metric_labels(metric, hib, label):
    assert names.metric_label(metric, hib) == label


def test_group_label_names_model_protocol_and_n():
    assert names.group_label("detection", "det_yolo_fastest", "pseudo_gt", 8) == \
        "Detection: Yolo-Fastest 1.1, pseudo-GT (labels = the task model on the sharp reference), n=8"
    assert names.group_short("quality", "quality", "full_reference", 8) == "Image quality (full-reference, n=8)"
    assert names.group_short("detection", "det_custom", "real_gt", 3) == "det_custom (real GT, n=3)"


def test_every_format_shows_display_names_and_column_groups():
    df = tables.merge_runs(SEED0)
    md = tables.format_table(df, fmt="md")
    html = unescape(tables.format_table(df, fmt="html"))
    con = tables.console_table(df, stats=None)
    tex = tables.format_table(df, fmt="tex")
    for text in (md, html, con):
        assert "PSNR (dB) ↑" in text and "LPIPS ↓" in text and "mAP50:95 ↑" in text and "δ<1.25 ↑" in text
        assert "YOLO (ultralytics), pseudo-GT" in text and "n=4" in text
        assert "map50_95" not in text and "quality.psnr" not in text
    assert "pseudo-GT (labels = the task model on the sharp reference)" in md  # the protocol in words
    assert '<th class="group" colspan="3"' in html and "Image quality<br>full-reference, n=4</th>" in html
    assert "mAP50:95 $\\uparrow$" in tex and "$\\delta<$1.25" in tex and "map50\\_95" not in tex
    assert "\\multicolumn{3}{c}{Image quality (full-reference, n=4)}" in tex
    # CSV (for spreadsheets) and results.csv keep the raw names
    assert tables.format_table(df, fmt="csv").splitlines()[0].startswith("enhancer,quality.psnr ↑,quality.ssim ↑")
    assert set(read_results(SEED0)["metric"]) >= {"psnr", "map50_95"}


def test_column_groups_split_by_protocol_within_a_task():
    df = read_results(SEED0)
    df.loc[df.metric == "lpips", "protocol"] = "no_reference"  # as NIQE beside PSNR in the default run
    t = tables.build_table(df)
    assert [t.group_short(a) for a, _ in t.groups()][:2] == ["Image quality (full-reference, n=4)",
                                                            "Image quality (no-reference, n=4)"]
    con = tables.render_console(t).splitlines()
    assert "full-reference, n=4" in con[1] and "no-reference, n=4" in con[1] and "PSNR (dB) ↑" in con[2]


def test_metrics_as_rows_carry_their_own_direction_and_no_ranking():
    t = tables.build_table(tables.merge_runs(SEED0), rows="metric", cols="enhancer")
    assert not any(c is not None and c.rank for row in t.cells for c in row)  # a column mixes metrics
    md = tables.render_markdown(t)
    assert "| LPIPS ↓ |" in md and "| PSNR (dB) ↑ |" in md and "| dap_led |" in md.replace(" ↑", "")
    assert "not ranked" in md and "Measured: Image quality" in md
    assert "not ranked" in tables.render_console(t)


# ------------------------------------------------------------------------------------------------ LaTeX


def _check_latex(tex: str, label: str) -> None:
    """Structure a LaTeX compiler needs (no pdflatex here): booktabs rules, one caption and label, balanced
    braces outside escapes, every row with the table's column count."""
    assert tex.count("\\caption{") == 1 and tex.count(f"\\label{{{label}}}") == 1
    for cmd in ("\\toprule", "\\midrule", "\\bottomrule", "\\begin{table}", "\\end{table}"):
        assert cmd in tex
    plain = re.sub(r"\\[{}%$&#_]", "", tex)
    depth = 0
    for ch in plain:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert plain.count("$") % 2 == 0
    body = tex.split("\\begin{tabular}{")[1]
    spec, body = body.split("}", 1)
    ncol = len(spec)
    for line in body.split("\\end{tabular}")[0].splitlines():
        if not line.endswith("\\\\"):
            continue
        cells = line[:-2].split(" & ")
        width = sum(int(m.group(1)) if (m := re.match(r"\\multicolumn\{(\d+)\}", c.strip())) else 1 for c in cells)
        assert width == ncol, line


def test_latex_caption_label_stderr_and_structure():
    df = tables.merge_runs(SEED0)
    tex = tables.format_table(df, fmt="tex", caption="Night restoration, 100% synthetic & small.",
                              label="tab:night", show_stderr=True)
    _check_latex(tex, "tab:night")
    cap = tex.split("\\caption{")[1].split("}\n\\label")[0]
    assert cap.startswith("Night restoration, 100\\% synthetic \\& small.")
    assert "Detection: YOLO (ultralytics), pseudo-GT" in cap and "standard error over images" in cap
    assert "\\pm" in tex.split("\\midrule")[1]
    assert "\\textbf{" in tex and "\\underline{" in tex


def test_latex_caption_explains_significance_marker(tmp_path):
    tex = tables.format_table(tables.merge_runs(SEED0), fmt="tex", stats="auto", n_resamples=200)
    _check_latex(tex, "tab:ledbench")
    cap = tex.split("\\caption{")[1].split("\\label")[0]
    if "$^\\dagger$" in tex.split("\\midrule", 1)[1]:
        assert "$^\\dagger$ differs from" in cap and "95\\%" in cap


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles(tmp_path):
    tex = tables.format_table(tables.merge_runs(SEED0), fmt="tex", show_stderr=True)
    doc = "\\documentclass{article}\\usepackage{booktabs}\\usepackage[utf8]{inputenc}\\begin{document}\n" + tex \
        + "\\end{document}\n"
    (tmp_path / "t.tex").write_text(doc)
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "t.tex"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:]


# ------------------------------------------------------------------------------------------------ plots


def test_scatter_labels_do_not_overlap_and_axes_use_display_names(tmp_path, monkeypatch):
    base = dict(enhancer_config_hash="h", weights_sha256="", dataset="d", dataset_manifest_hash="m", split="test",
                task_config_hash="t", stderr=0.0, n_images=8, n_images_total=8, run_id="r")
    rows = []
    pts = {"identity": (9.8, 0.029), "gamma": (15.27, 0.0), "auto_gamma": (14.56, 0.0), "auto_gamma2": (14.9, 0.0005),
           "msr": (8.83, 0.0), "clahe": (13.43, 0.022), "wiener": (9.81, 0.007), "richardson_lucy": (9.78, 0.011)}
    for e, (q, m) in pts.items():
        rows.append(dict(base, enhancer=e, task_kind="quality", task="quality", protocol="full_reference",
                         metric="psnr", value=q, higher_is_better=True))
        rows.append(dict(base, enhancer=e, task_kind="detection", task="det_yolo_fastest", protocol="pseudo_gt",
                         metric="map50_95", value=m, higher_is_better=True))
    df = pd.DataFrame(rows)
    figs = []
    save = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, out, formats=("png",): figs.append(fig) or
                        save(fig, out, ("png",)))
    plots.plot_quality_vs_task(df, "psnr", "map50_95", tmp_path / "q")
    ax = figs[0].axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(pts)
    assert plots.label_overlaps(figs[0], ax.texts) == []
    assert ax.get_xlabel() == "PSNR (dB) ↑" and ax.get_ylabel() == "mAP50:95 ↑"
    # the check itself finds overlaps: two labels at one point
    ax.annotate("x", (10, 0.01))
    ax.annotate("x", (10, 0.01))
    assert plots.label_overlaps(figs[0], ax.texts[-2:]) == [("x", "x")]


def test_correlation_heat_map_column_labels_do_not_overlap(tmp_path, monkeypatch):
    """Long downstream names (label-free statistics of two task models) stay readable: one line each for model,
    protocol and metric, and no two column labels touch."""
    downstream = ["det_yolo_fastest.label_free.dets_per_image", "det_yolo_fastest.label_free.det_conf",
                  "seg_espnetv2.label_free.seg_entropy", "seg_espnetv2.label_free.seg_conf",
                  "seg_espnetv2.label_free.seg_classes"]
    cor = pd.DataFrame([dict(quality="niqe", downstream=d, kendall_tau=0.1 * i, tau_ci_low=-0.5, tau_ci_high=0.5,
                             n_enhancers=6) for i, d in enumerate(downstream)])
    figs = []
    save = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, out, formats=("png",): figs.append(fig) or
                        save(fig, out, ("png",)))
    plots.plot_correlations(cor, tmp_path / "c")
    ticks = figs[0].axes[0].get_xticklabels()
    assert ticks[0].get_text() == "Yolo-Fastest 1.1\n(label-free)\ndetections/image"
    assert plots.label_overlaps(figs[0], ticks) == []


# ------------------------------------------------------------------------------------------------ grids


def test_grid_shows_the_floor_once_and_a_zoomed_crop(tmp_path):
    _images(tmp_path / "imgs", ["a", "b"], ["e1", "e2"])
    (tmp_path / "imgs" / "input").mkdir()
    shutil.copy(tmp_path / "imgs" / "identity" / "a.png", tmp_path / "imgs" / "input" / "a.png")
    im = grids.grid_from_folders(tmp_path / "imgs", ["a", "b"], ["identity", "e1", "e2"], tmp_path / "g.png",
                                 crop="auto", tile_height=40)
    tiles = im.info["ledbench_tiles"]
    assert {c for _, c in tiles if not c.endswith(":below")} == {"identity", "e1", "e2", "reference"}  # no "input"
    assert ("a", "e1:below") in tiles and ("b", "reference:below") in tiles  # the crop sub-row
    plain = grids.grid_from_folders(tmp_path / "imgs", ["a"], ["e1"], None, tile_height=40)
    assert ("a", "e1:below") not in plain.info["ledbench_tiles"] and ("a", "input") in plain.info["ledbench_tiles"]


def test_auto_crop_finds_the_detail_that_differs():
    rng = np.random.default_rng(1)
    a = np.full((64, 64, 3), 100, np.uint8)
    b = a.copy()
    b[40:56, 8:24] = (rng.random((16, 16, 3)) * 255).astype(np.uint8)  # texture only in b, lower-left
    x, y, w, h = grids.auto_crop([a, b])
    assert x <= 8 / 64 and x + w >= 24 / 64 - 1e-9 and y <= 40 / 64 and y + h >= 56 / 64 - 1e-9 or \
        (x < 24 / 64 and x + w > 8 / 64 and y < 56 / 64 and y + h > 40 / 64)
    assert grids.parse_crop("auto") == "auto" and grids.parse_crop("0.1,0.2,0.3,0.4") == (0.1, 0.2, 0.3, 0.4)
    for bad in ("1,2", "0.5,0.5,0.6,0.1", "a,b,c,d", "0,0,0,1"):
        with pytest.raises(InputError, match="grid-crop"):
            grids.parse_crop(bad)


def test_grid_options_parse_and_validate():
    res, per = read_results(SEED0), read_per_image(SEED0)
    assert parse_grid_images("best:psnr") == ("best", "psnr", 3)
    assert parse_grid_images("worst:lpips:2") == ("worst", "lpips", 2)
    ids = sorted(per.image_id.astype(str).unique())[:2]
    assert parse_grid_images(",".join(ids)) == ids
    opts = check_grid_options(res, per, enhancers="dap_led,zero_dce", images="best:lpips:2")
    assert opts["enhancers"] == ["dap_led", "zero_dce"] and opts["metric"] == "lpips"
    with pytest.raises(ConfigError, match="grid-enhancers.*nobody"):
        check_grid_options(res, per, enhancers="nobody")
    with pytest.raises(ConfigError, match="grid-images.*nope"):
        check_grid_options(res, per, images="nope")
    with pytest.raises(ConfigError, match="no per-image values"):
        check_grid_options(res, per, images="best:psnrr")
    with pytest.raises(ConfigError, match="K must be"):
        parse_grid_images("best:psnr:x")


# ------------------------------------------------------------------------------------------------ CLI


def _run_with_images(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(SEED0, run)
    per = read_per_image(run)
    per.loc[per.enhancer == "input", "enhancer"] = "identity"  # as `ledbench run` writes the floor
    per.to_csv(run / "per_image.csv", index=False)
    res = pd.read_csv(run / "results.csv", keep_default_na=False)
    res.loc[res.enhancer == "input", "enhancer"] = "identity"
    res.to_csv(run / "results.csv", index=False)
    _images(run / "images", sorted(per.image_id.astype(str).unique()), ["zero_dce", "clahe+richardson_lucy",
                                                                       "dap_led"])
    return run


def test_cli_report_grids_chosen_and_validated_before_writing(tmp_path):
    run = _run_with_images(tmp_path)
    out = tmp_path / "rep"
    r = _cli("report", str(run), "--format", "tex,grids", "--out", str(out), "--grid-enhancers", "dap_led",
             "--grid-images", "best:psnr:2", "--grid-crop", "auto", "--label", "tab:x", "--caption", "Ours.",
             "--stderr", "--no-stats")
    assert r.returncode == 0, r.stderr
    listed = [x.strip().split(":")[0] for x in r.stdout.splitlines() if re.match(r"^\s*\w+: /", x)]
    assert "PSNR (dB) ↑" in r.stdout and listed == ["tex", "grids"], r.stdout
    assert sorted(p.name for p in (out / "grids").iterdir()) == ["grid_best_psnr.png"]
    from PIL import Image

    with Image.open(out / "grids" / "grid_best_psnr.png") as im:  # identity, dap_led, reference; 2 rows + crops
        assert 3 * 224 < im.width < 4 * 224 and im.height > 2 * 2 * 160  # tiles are 224 x 160
    tex = (out / "report.tex").read_text()
    _check_latex(tex, "tab:x")
    assert "\\caption{Ours. Columns:" in tex
    for bad, msg in ((["--rows", "2"], "--rows"), (["--grid-enhancers", "nobody"], "nobody"),
                     (["--grid-images", "best:psnr:0"], "K must be"), (["--grid-crop", "1,2"], "grid-crop")):
        dest = tmp_path / f"bad{len(msg)}{bad[0]}"
        r = _cli("report", str(run), "--format", "md,html", "--out", str(dest), *bad)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not dest.exists()  # nothing written


def test_cli_report_without_images_says_why(tmp_path):
    out = tmp_path / "rep"
    r = _cli("report", str(SEED0), "--format", "grids", "--out", str(out), "--no-stats")
    assert r.returncode == 0, r.stderr
    assert "save_images=true" in r.stdout and not any(x.strip().startswith("grids:") for x in r.stdout.splitlines())
    assert not (out / "grids").exists() and not (out / "plots").exists()
