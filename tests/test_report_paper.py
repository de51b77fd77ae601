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
SEED1 = HERE / "data" / "report_runs" / "seed1"


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


# ------------------------------------------------------------------------------------------------ first-use walk


def _write_run(dest: Path, res: pd.DataFrame, per: pd.DataFrame | None = None) -> Path:
    """A run directory holding ``res`` (and ``per``) as ``ledbench run`` writes them (no ``source`` column)."""
    dest.mkdir(parents=True, exist_ok=True)
    res.drop(columns=["source"], errors="ignore").to_csv(dest / "results.csv", index=False)
    if per is not None:
        per.to_csv(dest / "per_image.csv", index=False)
    return dest


def _sweep_run(dest: Path) -> Path:
    """SEED0's quality rows at severities 1 and 3 (one manifest hash per level, as a sweep writes them)."""
    q = read_results(SEED0).query("task_kind == 'quality'")
    levels = [q.assign(severity=str(s), dataset_manifest_hash=f"sev{s}", value=q["value"] - s) for s in (1, 3)]
    return _write_run(dest, pd.concat(levels, ignore_index=True))


def _tables(tex: str) -> list[str]:
    return ["\\begin{table}" + x.split("\\end{table}")[0] + "\\end{table}\n" for x in tex.split("\\begin{table}")[1:]]


def test_cli_latex_and_html_captions_are_paper_ready(tmp_path):
    """No run-time cost in the LaTeX caption or the HTML legend (the terminal and Markdown keep it); a user caption
    ends its sentence before the generated text."""
    out = tmp_path / "rep"
    r = _cli("report", str(SEED0), "--format", "md,tex,html", "--out", str(out), "--caption", "My sweep",
             "--label", "tab:mine", "--n-resamples", "200")
    assert r.returncode == 0, r.stderr
    assert "statistics took" in r.stdout and "statistics took" in (out / "report.md").read_text()
    tex, page = (out / "report.tex").read_text(), unescape((out / "report.html").read_text())
    assert "statistics took" not in tex and "wall time" not in tex
    assert "statistics took" not in page and "of the run's" not in page
    assert "\\caption{My sweep. Columns: Image quality" in tex
    _check_latex(tex, "tab:mine")
    assert "<caption>My sweep. Columns: Image quality" in page


def test_cli_sweep_tables_get_distinct_labels_from_label(tmp_path):
    run = _sweep_run(tmp_path / "sweep")
    for label, want in (("tab:night", "tab:night"), (None, "tab:ledbench")):
        out = tmp_path / f"rep-{want}"
        r = _cli("report", str(run), "--format", "tex", "--out", str(out), "--no-stats",
                 *(["--label", label] if label else []))
        assert r.returncode == 0, r.stderr
        tex = (out / "report.tex").read_text()
        labels = re.findall(r"\\label\{([^}]*)\}", tex)
        assert labels == [want, f"{want}-psnr-sev", f"{want}-ssim-sev", f"{want}-lpips-sev"], labels
        for part, lab in zip(_tables(tex), labels):
            _check_latex(part, lab)


def test_split_tables_get_distinct_labels_without_label():
    df = tables.merge_runs(SEED0)
    tex = tables.format_table(df, fmt="tex", split_by="task_kind")
    labels = re.findall(r"\\label\{([^}]*)\}", tex)
    assert len(labels) == 4 and len(set(labels)) == 4 and labels[0] == "tab:ledbench-quality"
    assert tables.label_for("tab:x", "psnr", "sev") == "tab:x-psnr-sev"
    assert tables.label_for(None, "synth_mini@run 1") == "tab:ledbench-synth-mini-run-1"


def test_cli_several_runs_show_plus_minus_only_with_stderr_and_say_what_it_is(tmp_path):
    res1 = read_results(SEED1)
    res1.loc[res1.enhancer == "zero_dce", "enhancer"] = "zero_dce_b"  # a row only one run has: per-image SE
    other = _write_run(tmp_path / "other", res1)
    out = tmp_path / "rep"
    r = _cli("report", str(SEED0), str(SEED1), "--format", "md,tex", "--out", str(out), "--no-stats")
    assert r.returncode == 0, r.stderr
    md = (out / "report.md").read_text()
    assert "±" not in md and "±" not in r.stdout and "\\pm" not in (out / "report.tex").read_text()
    assert "mean over up to 2 runs" in md
    r = _cli("report", str(SEED0), str(SEED1), "--format", "md", "--out", str(out), "--no-stats", "--stderr")
    md = (out / "report.md").read_text()
    a = read_results(SEED0).query("enhancer == 'zero_dce' and metric == 'psnr'")["value"].iloc[0]
    b = read_results(SEED1).query("enhancer == 'zero_dce' and metric == 'psnr'")["value"].iloc[0]
    assert f"{(a + b) / 2:.2f} ± {abs(a - b) / 2:.2f}" in md  # sample SD / sqrt(2) of two values = |a - b| / 2
    assert "± standard error over runs" in md and "over images" not in md
    r = _cli("report", str(SEED0), str(other), "--format", "md", "--out", str(out), "--no-stats", "--stderr")
    md = (out / "report.md").read_text()
    se = read_results(SEED0).query("enhancer == 'zero_dce' and metric == 'psnr'")["stderr"].iloc[0]
    row = next(x for x in md.splitlines() if x.startswith("| zero_dce |"))
    assert row.split(" | ")[1].strip("*<ins>/") == f"{a:.2f} ± {se:.2f}", row  # one run: its per-image SE
    assert "over runs (sample SD / √runs; 0 when the runs agree) for a value averaged over several runs, over " \
           "images for a value from one run" in md


def test_cli_same_run_twice_is_read_once_with_a_note(tmp_path):
    out, alone = tmp_path / "rep", tmp_path / "alone"
    r = _cli("report", str(SEED0), str(SEED0), str(SEED0 / "results.csv"), "--format", "md", "--out",
             str(out), "--no-stats")
    assert r.returncode == 0, r.stderr
    notes = [x for x in r.stdout.splitlines() if x.startswith("note:")]
    assert len(notes) == 2 and "given twice: read once" in notes[0] and "is run" in notes[1], notes
    assert _cli("report", str(SEED0), "--format", "md", "--out", str(alone), "--no-stats").returncode == 0
    assert (out / "report.md").read_text() == (alone / "report.md").read_text()  # not a repeat: no mean, no ±


def test_cli_mixed_data_headers_name_the_dataset(tmp_path):
    """A plain run beside a sweep of the same dataset: no empty 'severity=' and every group names its dataset."""
    sweep = _sweep_run(tmp_path / "sweep")
    out = tmp_path / "rep"
    r = _cli("report", str(SEED0), str(sweep), "--format", "md,tex,html", "--out", str(out), "--no-stats")
    assert r.returncode == 0, r.stderr
    md, tex = (out / "report.md").read_text(), (out / "report.tex").read_text()
    html = unescape((out / "report.html").read_text())
    for text in (r.stdout, md, tex, html):
        assert not re.search(r"severity=(\s|[,:;)]|$)", text, re.M), text
        assert "dataset=synth\\_mini" in text or "dataset=synth_mini" in text
    assert "dataset=synth_mini, severity=3" in md and "n=4, dataset=synth_mini (PSNR" in md


def test_cli_grid_columns_come_from_every_run(tmp_path):
    """--grid-enhancers over two runs: each column's images from the run that saved them; a column without images
    anywhere is named in a note."""
    run1 = _run_with_images(tmp_path)
    shutil.rmtree(run1 / "images" / "dap_led")
    run2 = tmp_path / "run2"
    shutil.copytree(run1, run2)
    shutil.rmtree(run2 / "images")
    _images(run2 / "images", sorted(read_per_image(run1).image_id.astype(str).unique()), ["dap_led"])
    out = tmp_path / "rep"
    r = _cli("report", str(run1), str(run2), "--format", "grids", "--out", str(out), "--no-stats",
             "--grid-enhancers", "zero_dce,dap_led", "--grid-images", "best:psnr:2")
    assert r.returncode == 0, r.stderr
    assert "note:" not in r.stdout, r.stdout
    from PIL import Image

    with Image.open(out / "grids" / "grid_best_psnr.png") as im:  # input (identity), zero_dce, dap_led, reference
        assert im.width > 4 * 224, im.size
    shutil.rmtree(run2 / "images" / "dap_led")
    r = _cli("report", str(run1), str(run2), "--format", "grids", "--out", str(tmp_path / "rep2"), "--no-stats",
             "--grid-enhancers", "zero_dce,dap_led", "--grid-images", "best:psnr:2")
    assert r.returncode == 0, r.stderr
    assert "note: grid columns left out: dap_led (no saved images under" in r.stdout, r.stdout
    with Image.open(tmp_path / "rep2" / "grids" / "grid_best_psnr.png") as im:
        assert 3 * 224 < im.width < 4 * 224, im.size


def test_cli_unknown_baseline_is_one_line_listing_the_enhancers(tmp_path):
    out = tmp_path / "rep"
    r = _cli("report", str(SEED0), "--baseline", "nobody", "--out", str(out))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--baseline 'nobody'" in r.stderr and "input, zero_dce, clahe+richardson_lucy, dap_led" in r.stderr
    assert not out.exists()
    assert _cli("report", str(SEED0), "--baseline", "identity", "--out", str(out), "--n-resamples", "50").returncode \
        == 0  # identity and input both name the degraded input


def test_legend_without_anything_compared_says_so(tmp_path):
    """No enhancer beside the baseline: no '† ... across the 0 enhancers'; the plots note says what plots need."""
    res, per = read_results(SEED0), read_per_image(SEED0)
    keep = ["zero_dce", "dap_led"]  # no floor row: nothing to compare with
    run = _write_run(tmp_path / "run", res[res.enhancer.isin(keep)], per[per.enhancer.isin(keep)])
    r = _cli("report", str(run), "--format", "tex,plots", "--out", str(tmp_path / "rep"), "--n-resamples", "50",
             "--cols", "metric", "--rows", "enhancer")
    assert r.returncode == 0, r.stderr
    tex = (tmp_path / "rep" / "report.tex").read_text()
    for text in (r.stdout, tex):
        assert "0 enhancers" not in text and "differs from" not in text
        assert "no significance test: no enhancer to compare with the baseline identity" in text
    quality = _write_run(tmp_path / "q", res[res.task_kind == "quality"], per[per.task_kind == "quality"])
    r = _cli("report", str(quality), "--format", "plots", "--out", str(tmp_path / "rq"), "--no-stats")
    assert "note: no plots: the results allow none (plots need a downstream task" in r.stdout
    assert "a severity sweep" in r.stdout
