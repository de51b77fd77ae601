"""report.md's tables built once per run and kept in the cache: a JSON round trip renders the same text, the
statistics' cost stays out of the stored data (tests/test_run_tables_cached.py: a whole cached run)."""

from __future__ import annotations

import json
from pathlib import Path

from ledbench.bench.results import read_results
from ledbench.reports import tables
from ledbench.reports.report import RunTables, run_markdown, run_tables

HERE = Path(__file__).resolve().parent
SEED0 = HERE / "data" / "report_runs" / "seed0"


def test_table_json_round_trip_renders_the_same_text():
    df = read_results(SEED0)
    for kwargs in ({"stats": "auto"}, {"stats": "auto", "ci": "interval"}, {"stats": None, "show_stderr": True}):
        t = tables.build_table(df, **kwargs)
        back = tables.Table.from_json(json.loads(json.dumps(t.to_json())))
        assert [[c and c.rank for c in row] for row in back.cells] == [[c and c.rank for c in row] for row in t.cells]
        # marks survive; with 4 images the bootstrap gives none (n < 6: no paired test reaches p < 0.05)
        assert any(c is not None and c.rank for row in back.cells for c in row) or kwargs["stats"] == "auto"
        for render in (tables.render_markdown, tables.render_console, tables.render_latex, tables.render_csv,
                       tables.render_html):
            assert render(back) == render(t)
    assert t.stats_note == ""  # stats=None: no bootstrap sentence


def test_run_tables_keep_the_legend_but_not_the_statistics_cost():
    df = read_results(SEED0)
    built = run_tables(df, tables.auto_statistics(df))
    assert built.table.stats_note
    built.table.stats_cost = tables.stats_cost(0.25, 10.0)
    assert "statistics took 0.25 s (2.5% of the run's 10.0 s wall time)" in tables.render_console(built.table)
    data = json.loads(json.dumps(built.to_json()))
    assert data["table"]["stats_cost"] == ""
    manifest = {"statistics": {"wall_s": 0.25}, "wall_time_s": 10}  # what the run's manifest says
    back = RunTables.from_json(data, manifest)
    assert run_markdown(None, manifest, tables=back) == run_markdown(None, manifest, tables=built)


def test_varies_within_matches_pandas_groupby_nunique():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(200):
        n = int(rng.integers(1, 10))
        df = pd.DataFrame({"a": [["x", "y", None][i] for i in rng.integers(0, 3, n)],
                           "b": [["p", "q"][i] for i in rng.integers(0, 2, n)],
                           "f": [["1", "2", None, float("nan")][i] for i in rng.integers(0, 4, n)]})
        expect = bool(df.groupby(["a", "b"], sort=False)["f"].nunique().max() > 1)
        assert tables._varies_within(df.to_dict("records"), ["a", "b"], "f") == expect
        outcomes.add(expect)
    assert outcomes == {True, False}
