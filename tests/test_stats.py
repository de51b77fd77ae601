"""Paired bootstrap statistics (ledbench.reports.stats) against scipy, pycocotools and hand computations.

Seed handling: ours draws ``default_rng(seed).integers(0, n, (B, n))``; ``scipy.stats.bootstrap(..., rng=seed)``
with ``batch=None`` draws the same indices, so with the same seed both give the same resamples (checked below); with
different seeds the two must agree within Monte-Carlo error (also checked).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ledbench.reports import stats as st
from ledbench.tasks.det_metrics import _STAT_INDEX, COCODetectionMetric, coco_eval, to_coco
from ledbench.tasks.seg_metrics import ConfusionMatrixMetric, scores_from_confusion

# --------------------------------------------------------------------------------------------------- helpers


def _mean_column(values: np.ndarray, higher: bool = True) -> st._Column:
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    ids = [f"i{k}" for k in range(values.shape[1])]
    return st._Column(("d", "s", "quality", "quality", "full_reference", "m"), higher,
                      [f"e{k}" for k in range(len(values))], ids, values, [], values)


def _our_ci(col: st._Column, method: str, seed: int, b: int, paired: bool = False):
    w = st.resample_counts(col.n, b, seed)
    th, hat = col.evaluate(w), col.point()
    jack = col.jackknife() if method == "bca" else None
    if paired:
        return st.bootstrap_interval(th[0] - th[1], hat[0] - hat[1], 0.95, method,
                                     None if jack is None else jack[0] - jack[1]), th[0] - th[1]
    return st.bootstrap_interval(th[0], hat[0], 0.95, method, None if jack is None else jack[0]), th[0]


def _scipy_ci(data, method: str, seed, b: int, paired: bool = False):
    if paired:
        res = sps.bootstrap(data, lambda x, y, axis=-1: x.mean(axis) - y.mean(axis), paired=True, vectorized=True,
                            n_resamples=b, method=method, rng=seed)
    else:
        res = sps.bootstrap(data, np.mean, vectorized=True, n_resamples=b, method=method, rng=seed)
    return res.confidence_interval.low, res.confidence_interval.high


# --------------------------------------------------------------------------------------------------- vs scipy


@pytest.mark.parametrize("method", ["percentile", "bca"])
@pytest.mark.parametrize("paired", [False, True])
def test_interval_equals_scipy_with_the_same_seed(method, paired):
    rng = np.random.default_rng(1)
    a = rng.gamma(2.0, 1.0, 40)
    b = a - 0.3 + rng.normal(0, 0.5, 40)
    col = _mean_column([a, b] if paired else [a])
    (lo, hi), _ = _our_ci(col, method, seed=7, b=2000, paired=paired)
    slo, shi = _scipy_ci((a, b) if paired else (a,), "BCa" if method == "bca" else method, 7, 2000, paired)
    assert lo == pytest.approx(slo, rel=1e-9, abs=1e-12)
    assert hi == pytest.approx(shi, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("method", ["percentile", "bca"])
@pytest.mark.parametrize("paired", [False, True])
def test_interval_agrees_with_scipy_within_monte_carlo_error(method, paired):
    rng = np.random.default_rng(2)
    a = rng.lognormal(0.0, 0.6, 50)
    b = a * 0.9 + rng.normal(0, 0.2, 50)
    col = _mean_column([a, b] if paired else [a])
    (lo, hi), theta_b = _our_ci(col, method, seed=11, b=4000, paired=paired)
    slo, shi = _scipy_ci((a, b) if paired else (a,), "BCa" if method == "bca" else method, 12345, 4000, paired)
    # the MC standard error of a 2.5% quantile from 4000 replicates is about 0.05 bootstrap SDs; allow 0.25
    sd = float(np.std(theta_b))
    assert abs(lo - slo) < 0.25 * sd
    assert abs(hi - shi) < 0.25 * sd
    assert lo != slo  # different streams really were used


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_coverage_of_paired_difference(method):
    """2,000 synthetic paired datasets with a known mean difference: the 95% interval covers it 95% +- 2%."""
    reps, n, b, true = 2000, 80, 1000, 0.4
    rng = np.random.default_rng(3)
    base = rng.normal(10.0, 2.0, (reps, n))  # shared per-image difficulty, cancels in the pairing
    diff = true + rng.gamma(2.0, 0.5, (reps, n)) - 1.0  # skewed, mean `true`
    other = base + diff
    w = st.resample_counts(n, b, seed=4)
    d = other - base
    d_b = d @ w.T / n
    d_hat = d.mean(1)
    jack = (d.sum(1, keepdims=True) - d) / (n - 1) if method == "bca" else None
    lo, hi = st.bootstrap_interval(d_b, d_hat, 0.95, method, jack)
    coverage = float(np.mean((lo <= true) & (true <= hi)))
    assert 0.93 <= coverage <= 0.97, coverage


def test_p_value_matches_interval_and_holm_by_hand():
    d = np.array([[0.1, 0.2, -0.05, 0.3] * 250, [-1.0] * 1000])
    p = st.p_value(d)
    assert p[0] == pytest.approx(2 * (1 + 250) / 1001)
    assert p[1] == pytest.approx(2 / 1001)
    raw = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # Holm by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    exp = np.array([0.03, 0.06, 0.06, 0.02, np.nan])
    np.testing.assert_allclose(st.holm(raw), exp)
    assert np.isnan(st.holm([np.nan])).all()


def test_rank_correlations_equal_scipy():
    rng = np.random.default_rng(5)
    for _ in range(20):
        x = rng.integers(0, 5, 9).astype(float)  # with ties
        y = x + rng.integers(-2, 3, 9)
        assert st.kendall_tau_b(x, y) == pytest.approx(sps.kendalltau(x, y).statistic, abs=1e-12)
        assert st.spearman_rho(x, y) == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-12)
    xs, ys = rng.normal(size=(7, 6)), rng.normal(size=(7, 6))
    np.testing.assert_allclose(st.kendall_tau_b(xs, ys), [sps.kendalltau(a, b).statistic for a, b in zip(xs, ys)])


# --------------------------------------------------------------------------------------------------- detection


def _det_case(rng, n_img=10, n_cat=3):
    preds, tgts = {}, {}
    for i in range(n_img):
        ng = int(rng.integers(0, 6))
        xy = rng.uniform(0, 200, (ng, 2))
        gb = np.c_[xy, xy + rng.uniform(5, 80, (ng, 2))]
        gl = rng.integers(1, n_cat + 1, ng)
        nd = int(rng.integers(0, 9))
        if ng:
            src = rng.integers(0, ng, nd)
            db = gb[src] + rng.normal(0, 8, (nd, 4))
            dl = np.where(rng.random(nd) < 0.8, gl[src], rng.integers(1, n_cat + 1, nd))
        else:
            xy2 = rng.uniform(0, 200, (nd, 2))
            db, dl = np.c_[xy2, xy2 + 20], rng.integers(1, n_cat + 1, nd)
        preds[f"im{i}"] = {"boxes": db, "labels": dl, "scores": rng.random(nd)}
        tgts[f"im{i}"] = {"boxes": gb, "labels": gl, "iscrowd": rng.random(ng) < 0.1}
    return preds, tgts


def _det_metric(preds, tgts) -> COCODetectionMetric:
    m = COCODetectionMetric()
    for k in tgts:
        m.update(preds[k], tgts[k], k)
    return m


def _old_compute(m: COCODetectionMetric) -> dict[str, float]:
    """The pre-sufficient-statistics compute(): pycocotools COCOeval summarize on the whole dataset."""
    gt, res = to_coco(m._preds, m._targets)
    if not gt["annotations"] or all(a["iscrowd"] for a in gt["annotations"]):
        return {k: math.nan for k in m.directions}
    if not res:
        return {k: 0.0 for k in m.directions}
    s, _ = coco_eval(gt, res)
    return {k: float(s[_STAT_INDEX[k]]) for k in m.directions}


def test_detection_compute_is_bit_identical_to_pycocotools_summarize():
    for seed in range(12):
        m = _det_metric(*_det_case(np.random.default_rng(seed)))
        new, old = m.compute(), _old_compute(m)
        for k in new:
            assert new[k] == old[k] or (math.isnan(new[k]) and math.isnan(old[k])), (seed, k, new[k], old[k])


def test_resampled_coco_map_equals_pycocotools_on_the_resampled_dataset():
    rng = np.random.default_rng(6)
    preds, tgts = _det_case(rng, n_img=12)
    m = _det_metric(preds, tgts)
    suff = m.sufficient_stats()
    ids = [str(i) for i in suff["image_ids"]]
    idx = st.resample_indices(len(ids), 4, seed=9)
    counts = np.stack([np.bincount(r, minlength=len(ids)) for r in idx]).astype(float)
    ours = m.reduce(suff, counts)
    for r, row in enumerate(idx):
        assert len(set(row)) < len(row)  # repeated images present
        # the resampled dataset, each drawn copy renamed: COCOeval on it is the reference
        p2 = {f"c{j}": preds[ids[i]] for j, i in enumerate(row)}
        t2 = {f"c{j}": tgts[ids[i]] for j, i in enumerate(row)}
        ref = _old_compute(_det_metric(p2, t2))
        for k in ("map50_95", "map50", "map75", "ar100"):
            assert ours[k][r] == pytest.approx(ref[k], abs=1e-12), (r, k)


# --------------------------------------------------------------------------------------------------- segmentation


def test_resampled_miou_equals_confusion_matrix_of_the_resample():
    rng = np.random.default_rng(7)
    m = ConfusionMatrixMetric()
    cms = {}
    for i in range(9):
        t = rng.integers(0, 3 + i % 4, (16, 20))
        t[rng.random(t.shape) < 0.1] = 255
        p = rng.integers(-1, 5, (16, 20))
        m.update(p, t, f"i{i}")
        cms[f"i{i}"] = (p, t)
    suff = m.sufficient_stats()
    assert m.reduce(suff, np.ones(9))["miou"] == m.compute()["miou"]
    idx = st.resample_indices(9, 5, seed=1)
    counts = np.stack([np.bincount(r, minlength=9) for r in idx]).astype(float)
    ours = m.reduce(suff, counts)
    from ledbench.tasks.seg_metrics import confusion_matrix

    n = m._n
    for r, row in enumerate(idx):
        total = sum(confusion_matrix(*cms[f"i{i}"], n) for i in row)
        ref = scores_from_confusion(total)
        assert ours["miou"][r] == pytest.approx(ref["miou"], abs=1e-15)
        assert ours["pixel_acc"][r] == pytest.approx(ref["pixel_acc"], abs=1e-15)


# --------------------------------------------------------------------------------------------------- run level


def _write_run(tmp_path, n_img=12):
    """A small run directory: quality psnr (per-image mean), detection and segmentation with stored statistics."""
    from ledbench.bench.results import PerImageRow, ResultRow, write_per_image, write_results

    rng = np.random.default_rng(8)
    rows, per = [], []
    base = dict(enhancer_config_hash="", weights_sha256="", dataset="toy", dataset_manifest_hash="h", split="test",
                task_config_hash="", stderr=math.nan, n_images=n_img, n_images_total=n_img)
    preds, tgts = _det_case(rng, n_img=n_img)
    for e, (shift, noise) in {"identity": (0.0, 30.0), "good": (2.0, 6.0), "bad": (-1.0, 40.0)}.items():
        psnr = 20 + shift + rng.normal(0, 1, n_img)
        rows.append(ResultRow(enhancer=e, task_kind="quality", task="quality", protocol="full_reference",
                              metric="psnr", value=float(np.mean(psnr)), higher_is_better=True, **base))
        per += [PerImageRow(e, "toy", "test", "quality", "quality", "full_reference", "psnr", f"im{i}", float(v))
                for i, v in enumerate(psnr)]
        p_e = {k: {**v, "boxes": v["boxes"] + rng.normal(0, noise / 10, v["boxes"].shape)} for k, v in preds.items()}
        m = _det_metric(p_e, tgts)
        for k, v in m.compute().items():
            rows.append(ResultRow(enhancer=e, task_kind="detection", task="det_x", protocol="pseudo_gt", metric=k,
                                  value=v, higher_is_better=True, **base))
        for iid, vals in m.per_image().items():
            per += [PerImageRow(e, "toy", "test", "detection", "det_x", "pseudo_gt", k, iid, float(v))
                    for k, v in vals.items()]
        st.save_sufficient_stats(tmp_path, m, enhancer=e, dataset="toy", split="test", task_kind="detection",
                                 task="det_x", protocol="pseudo_gt")
    write_results(tmp_path / "results.csv", rows)
    write_per_image(tmp_path / "per_image.csv", per)
    return tmp_path


def test_bootstrap_table_on_a_run(tmp_path):
    run = _write_run(tmp_path)
    df = st.bootstrap_run(run, n_resamples=500)
    assert set(st.STAT_COLUMNS) <= set(df.columns)
    # the bootstrap point estimate is the table value, for the per-image mean and for dataset-level mAP alike
    np.testing.assert_allclose(df["value_boot"], df["value"], rtol=1e-12)
    det = df[df["metric"] == "map50_95"].set_index("enhancer")
    assert det["dataset_level"].all()
    q = df[df["metric"] == "psnr"].set_index("enhancer")
    assert q.loc["good", "significant"] and q.loc["good", "delta"] > 0
    assert q.loc["identity", "delta"] == 0 and math.isnan(q.loc["identity", "p_value"])
    assert (q["ci_low"] <= q["value"]).all() and (q["value"] <= q["ci_high"]).all()
    assert q.loc["good", "mark"] == 1 and q.loc["good", "p_best"] > 0.95
    assert (df["p_holm"].dropna() >= df["p_value"].dropna()).all()
    bca = st.bootstrap_run(run, n_resamples=200, method="bca")  # jackknife through the COCO reducer too
    det_bca = bca[(bca["metric"] == "map50_95") & (bca["enhancer"] != "reference")]
    assert np.isfinite(det_bca["ci_low"]).all() and (det_bca["ci_low"] <= det_bca["ci_high"]).all()
    info = st.write_statistics(run, n_resamples=200)
    assert (run / "statistics.csv").is_file() and info["seed"] == 0 and info["n_resamples"] == 200


def test_compare_and_correlations(tmp_path):
    run = _write_run(tmp_path)
    cmp = st.compare(run, "good", "bad", n_resamples=300)
    psnr = cmp[cmp["metric"] == "psnr"].iloc[0]
    assert psnr["better"] == "good" and psnr["a_wins"] + psnr["b_wins"] + psnr["ties"] == psnr["n_images"]
    assert "good - bad" in st.format_compare(cmp)
    cor = st.correlations_run(run, n_resamples=200)
    assert {"kendall_tau", "tau_ci_low", "spearman_rho", "rho_ci_high"} <= set(cor.columns)
    with pytest.raises(Exception, match="not in this run"):
        st.compare(run, "good", "nope")


def test_indistinguishable_top_two_get_no_mark():
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1, 30)
    col = _mean_column([x, rng.permutation(x), x - 5.0])  # same mean: the top two cannot be told apart
    out = st._column_stats(col, st.BootstrapSettings(n_resamples=300, baseline="e2"), ranked_exclude=())
    assert out["e0"]["mark"] == 0 and out["e1"]["mark"] == 0
    assert out["e0"]["significant"] and out["e1"]["significant"]  # both clearly above the baseline e2


def test_sufficient_stats_round_trip(tmp_path):
    m = _det_metric(*_det_case(np.random.default_rng(10)))
    path = st.save_sufficient_stats(tmp_path, m, enhancer="a+b", dataset="toy", split="test", task_kind="detection",
                                    task="det_x", protocol="real_gt")
    loaded = st.load_sufficient_stats(tmp_path)
    s = loaded[("a+b", "toy", "test", "detection", "det_x", "real_gt", "map50", "")]  # last: severity (none)
    assert path.name == "det_x__real_gt__a+b__cocodetectionmetric.npz"
    w = np.ones(len(s.image_ids))
    assert float(s.reducer(s.arrays, w)["map50"]) == m.compute()["map50"]
    assert st.save_sufficient_stats(tmp_path, object(), enhancer="a", dataset="t", split="s", task_kind="q",
                                    task="q", protocol="p") is None


def test_bootstrap_speed_means():
    """Vectorised: 2,000 resamples of a 5,000-image, 12-enhancer mean column in well under a few seconds."""
    import time

    rng = np.random.default_rng(0)
    col = _mean_column(rng.normal(size=(12, 5000)))
    t0 = time.perf_counter()
    st._column_stats(col, st.BootstrapSettings(n_resamples=2000, baseline="e0"), ranked_exclude=("e0",))
    assert time.perf_counter() - t0 < 10.0


def test_bad_settings_are_one_line_errors():
    with pytest.raises(Exception, match="percentile or bca"):
        st.BootstrapSettings(method="bogus")
    with pytest.raises(Exception, match="level"):
        st.BootstrapSettings(level=95)
    assert isinstance(pd.DataFrame(), pd.DataFrame)


def test_tables_show_markers_intervals_and_caption(tmp_path):
    from ledbench.bench.results import read_results
    from ledbench.reports import tables

    run = _write_run(tmp_path)
    df = read_results(run)
    md = tables.format_table(df, fmt="md", stats="auto", n_resamples=300, ci="interval")
    assert "†" in md and "Holm" in md and "[" in md
    t = tables.build_table(df, stats="auto", n_resamples=300)
    j = t.col_keys.index(("quality", "psnr"))
    names = [k[0] for k in t.row_keys]
    good = t.cells[names.index("good")][j]
    assert good.significant and good.rank == 1 and good.ci is not None
    assert not t.cells[names.index("identity")][j].significant
    plain = tables.build_table(df)  # no stats: the value ranking as before
    assert all(c is None or not c.significant for row in plain.cells for c in row)
    tex = tables.format_table(df, fmt="tex", stats="auto", n_resamples=300, ci="pm")
    body = tex.split("\\begin{tabular}")[1].split("\\end{tabular}")[0]
    assert body.count("{") == body.count("}") and "$^\\dagger$" in body


def test_cli_compare(tmp_path, capsys):
    from ledbench.reports.report import compare_main

    run = _write_run(tmp_path)
    assert compare_main(str(run), "good", "identity", "psnr,map50", n_resamples=200) == 0
    out = capsys.readouterr().out
    assert "good - identity" in out and "psnr" in out and "map50" in out
    assert compare_main(str(run), "good", "nobody", n_resamples=200) == 2


def test_statistics_for_run_in_memory_equals_run_directory(tmp_path):
    from ledbench.bench.results import read_per_image, read_results

    run = _write_run(tmp_path)
    files = {f"stats/{p.name}": p.read_bytes() for p in (run / "stats").glob("*.npz")}
    boot, out, entry = st.statistics_for_run(read_results(run), read_per_image(run), files, n_resamples=200)
    ref = st.bootstrap_run(run, n_resamples=200)
    pd.testing.assert_frame_equal(boot, ref)
    assert set(out) == {"statistics.csv"} and entry["n_resamples"] == 200 and entry["seed"] == 0


# --------------------------------------------------------------------------------------------------- small n


def _brute_force_sign_flip_p(d) -> float:
    """Every sign pattern written out, in exact rational arithmetic (integer data: no rounding, no tolerance)."""
    from fractions import Fraction

    d = [Fraction(int(v)) for v in d]
    observed = abs(sum(d))
    hits = sum(abs(sum(s * v for s, v in zip(signs, d))) >= observed
               for signs in itertools.product((1, -1), repeat=len(d)))
    return hits / 2 ** len(d)


@pytest.mark.parametrize("n", [3, 5, 8])
def test_sign_flip_p_equals_brute_force_enumeration(n):
    rng = np.random.default_rng(20 + n)
    for _ in range(30):  # small integers: many exact ties between patterns, zeros included
        d = rng.integers(-4, 5, n).astype(float)
        assert st.sign_flip_p(d) == _brute_force_sign_flip_p(d), d
        scale = rng.uniform(0.01, 50.0)  # the same test on rescaled (non-integer) values: ties kept by the tolerance
        assert st.sign_flip_p(d * scale / 7.0) == _brute_force_sign_flip_p(d), (d, scale)
    rows = rng.integers(-9, 10, (4, n)).astype(float)  # vectorised over leading axes
    np.testing.assert_array_equal(st.sign_flip_p(rows), [_brute_force_sign_flip_p(r) for r in rows])


@pytest.mark.parametrize("n", [3, 5, 8, 12])
def test_sign_flip_p_equals_scipy_exact_permutation_test(n):
    rng = np.random.default_rng(40 + n)
    for shift in (0.0, 0.4, 1.5):
        x, y = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)
        ref = sps.permutation_test((x, y), lambda a, b, axis: a.mean(axis) - b.mean(axis),
                                   permutation_type="samples", vectorized=True, n_resamples=np.inf,
                                   alternative="two-sided")
        assert st.sign_flip_p(x - y) == pytest.approx(ref.pvalue, abs=1e-12)


def test_two_or_three_images_are_never_significant_although_the_bootstrap_says_so():
    d = np.array([[5.0, 5.1], [5.0, 5.1]])
    assert (st.sign_flip_p(d) == 0.5).all()  # 2 of the 4 patterns reach |mean|: 2/2^2
    col = _mean_column([[10.0, 11.0, 12.0], [15.0, 16.1, 17.3], [12.0, 13.5, 14.2]])
    w = st.resample_counts(3, 2000, 0)
    th = col.evaluate(w)
    assert st.p_value(th[1] - th[0]) < 0.01  # the percentile bootstrap: anti-conservative at n = 3
    out = st._column_stats(col, st.BootstrapSettings(baseline="e0"), ranked_exclude=("e0",))
    for e in ("e1", "e2"):
        assert out[e]["p_value"] == 0.25 and out[e]["p_holm"] == 0.5 and not out[e]["significant"]
        assert out[e]["test"] == st.EXACT_TEST
        assert out[e]["mark"] == 0 and "n=3 < 6" in out[e]["note"]
    assert math.isnan(out["e0"]["p_value"]) and out["e0"]["test"] == ""
    rng = np.random.default_rng(11)
    for _ in range(50):  # n = 2: never, whatever the data
        col2 = _mean_column(rng.normal(0, 1, (3, 2)) + [[0.0], [9.0], [-9.0]])
        out2 = st._column_stats(col2, st.BootstrapSettings(baseline="e0", n_resamples=100), ranked_exclude=("e0",))
        assert not out2["e1"]["significant"] and not out2["e2"]["significant"] and out2["e1"]["p_value"] >= 0.5


def test_marks_need_six_images_and_thirteen_keep_the_bootstrap():
    for n, marked in ((5, False), (6, True)):
        base = np.arange(n, dtype=float)
        col = _mean_column([base, base + 10.0, base + 5.0])  # all differences of one sign: smallest p
        out = st._column_stats(col, st.BootstrapSettings(baseline="e0", n_resamples=200), ranked_exclude=("e0",))
        assert out["e1"]["p_value"] == pytest.approx(2.0 / 2 ** n)
        assert (out["e1"]["mark"], out["e2"]["mark"]) == ((1, 2) if marked else (0, 0))
        assert ("no best / second mark" in out["e1"]["note"]) is not marked
    rng = np.random.default_rng(12)
    col = _mean_column(rng.normal(0, 1, (2, 13)) + [[0.0], [0.7]])
    s = st.BootstrapSettings(baseline="e0", n_resamples=500)
    out = st._column_stats(col, s, ranked_exclude=("e0",))
    th = col.evaluate(st.resample_counts(13, 500, 0))
    assert out["e1"]["test"] == st.BOOT_TEST and out["e1"]["p_value"] == st.p_value(th[1] - th[0])
    out12 = st._column_stats(col.subset(image_ids=col.image_ids[:12]), s, ranked_exclude=("e0",))
    assert out12["e1"]["test"] == st.EXACT_TEST
    off = st._column_stats(col.subset(image_ids=col.image_ids[:12]), st.BootstrapSettings(
        baseline="e0", n_resamples=500, exact_max_n=0), ranked_exclude=("e0",))
    assert off["e1"]["test"] == st.BOOT_TEST
    with pytest.raises(Exception, match="exact_max_n"):
        st.BootstrapSettings(exact_max_n=17)
    assert st.min_n_for_level(0.95) == 6 and st.min_n_for_level(0.99) == 8 and st.min_n_for_level(0.9) == 5


def test_dataset_level_columns_with_few_images_get_no_p_value(tmp_path):
    run = _write_run(tmp_path / "few", n_img=3)
    df = st.bootstrap_run(run, n_resamples=200)
    det = df[(df["metric"] == "map50") & (df["enhancer"] != "identity")]
    assert len(det) == 2 and det["dataset_level"].all()
    assert det["p_value"].isna().all() and det["p_holm"].isna().all() and not det["significant"].any()
    assert (det["mark"] == 0).all() and (det["test"] == "").all()
    assert det["note"].str.contains("n=3 < 6: no paired test can reach p < 0.05").all()
    assert det["note"].str.contains("no p-value").all()
    q = df[(df["metric"] == "psnr") & (df["enhancer"] != "identity")]
    assert (q["test"] == st.EXACT_TEST).all() and (q["p_value"] >= 0.25).all() and not q["significant"].any()
    assert df.attrs["bootstrap"]["exact_max_n"] == 12
    cmp = st.compare(run, "good", "identity", "psnr,map50", n_resamples=200)
    ps, mp = (cmp[cmp["metric"] == m].iloc[0] for m in ("psnr", "map50"))
    assert ps["test"] == st.EXACT_TEST and ps["p_value"] >= 0.25 and ps["better"] == ""
    assert math.isnan(mp["p_value"]) and mp["test"] == "" and mp["better"] == ""
    text = st.format_compare(cmp)
    assert "exact paired sign-flip test" in text and "n/a" in text
    big = st.bootstrap_run(_write_run(tmp_path / "big", n_img=14), n_resamples=200)
    assert (big[(big["metric"] == "map50") & (big["enhancer"] != "identity")]["test"] == st.BOOT_TEST).all()
    assert (big[(big["metric"] == "psnr") & (big["enhancer"] != "identity")]["test"] == st.BOOT_TEST).all()


def test_legend_names_the_test_and_the_small_n_rule(tmp_path):
    from ledbench.bench.results import read_results
    from ledbench.reports import tables

    md = tables.format_table(read_results(_write_run(tmp_path, n_img=3)), fmt="md", stats="auto", n_resamples=200)
    assert "two-sided p < 0.05 (exact sign-flip test for n ≤ 12, paired bootstrap above" in md
    assert "95% percentile intervals" in md and "and n ≥ 6" in md
    assert "fewer than 6 images: no paired test can reach that p" in md
    assert "†" not in md.split("† differs")[0]  # no cell marked with 3 images
