"""Shared test setup: an isolated LEDBENCH_HOME per session, offline flags, one thread, asset lookup and a count of
the tests skipped for missing assets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["YOLO_OFFLINE"] = "1"
os.environ["LEDBENCH_OFFLINE"] = "1"

sys.path.insert(0, str(Path(__file__).parent))  # helper modules beside the tests (asset_files, tiny_dataset)

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory):
    """Every test session gets its own cache root, so tests never touch the user's cache."""
    home = tmp_path_factory.mktemp("ledbench_home")
    old = os.environ.get("LEDBENCH_HOME")
    os.environ["LEDBENCH_HOME"] = str(home)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    yield home
    if old is None:
        os.environ.pop("LEDBENCH_HOME", None)
    else:
        os.environ["LEDBENCH_HOME"] = old


@pytest.fixture
def assets():
    """The first test-assets folder (tests/fixtures in a checkout; see ``ledbench.bench.paths.assets_dirs``), or
    skip. For one file use ``asset_files.require(...)``, which also looks in the other folders."""
    from ledbench.bench.paths import assets_dir

    path = assets_dir()
    if path is None:
        pytest.skip("missing asset tests/fixtures (and no $LEDBENCH_ASSETS or ../shared/assets)")
    return path


def pytest_terminal_summary(terminalreporter):
    """One line: how many tests were skipped because a weight file or asset is absent, and which files."""
    from asset_files import MISSING

    files = []
    for rep in terminalreporter.stats.get("skipped", []):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        if MISSING in reason:  # asset_files.require
            files.append(reason.split(MISSING, 1)[1].split()[0])
        elif "weights unavailable for " in reason:  # a WeightsUnavailable message: "... for NAME: ..."
            files.append(reason.split("weights unavailable for ", 1)[1].split(":")[0] + " weights")
    if files:
        names = ", ".join(sorted(set(files)))
        terminalreporter.write_line(f"{len(files)} tests skipped for missing weights/assets: {names}")
