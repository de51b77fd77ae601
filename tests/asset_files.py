"""Test assets by relative path: found in tests/fixtures, $LEDBENCH_ASSETS or ../shared/assets, else a counted skip.

``require("weights", "zero_dce", "Epoch99.pth")`` returns the path or skips the test with a reason that starts with
:data:`MISSING` (conftest counts those in the terminal summary) and says how to get the file. Files that are not in
``tests/fixtures`` are the ones whose license does not allow redistribution (see tests/fixtures/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledbench.bench.paths import find_asset

MISSING = "missing asset"

#: why a file is not in tests/fixtures, and where it comes from (folder prefix -> text)
NOT_SHIPPED = {
    "weights/zero_dce/": "CC BY-NC 4.0, not redistributed; Li-Chongyi/Zero-DCE Zero-DCE_code/snapshots/Epoch99.pth",
    "weights/zero_dce_pp/": "CC BY-NC 4.0, not redistributed; "
                            "Li-Chongyi/Zero-DCE_extension Zero-DCE++/snapshots_Zero_DCE++/Epoch99.pth",
    "weights/ruas/": "no license stated, not redistributed; KarelZhang/RUAS ckpt/",
    "images/lowlight/": "third-party low-light set (NPE/LIME), license unknown, not redistributed; "
                        "vis-opt-group/SCI data/",
}


def require(*parts: str) -> Path:
    """The asset ``parts`` (joined with /) from the first assets folder that has it, or skip the test."""
    path = find_asset(*parts)
    if path is None:
        rel = "/".join(parts)
        why = next((v for k, v in NOT_SHIPPED.items() if rel.startswith(k)), "not in tests/fixtures")
        pytest.skip(f"{MISSING} {rel} ({why}): put it under $LEDBENCH_ASSETS/{rel} (or ../shared/assets/{rel})")
    return path
