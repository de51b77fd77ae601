"""Shared test setup: an isolated LEDBENCH_HOME per session, offline flags, one thread, asset lookup."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["YOLO_OFFLINE"] = "1"
os.environ["LEDBENCH_OFFLINE"] = "1"

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
    """The shared assets folder, or skip."""
    from ledbench.bench.paths import assets_dir

    path = assets_dir()
    if path is None:
        pytest.skip("../shared/assets not present")
    return path
