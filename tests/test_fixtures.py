"""tests/fixtures: every file matches SHA256SUMS, nothing is unlisted, and the lookup order finds them first."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ledbench.bench import paths

FIXTURES = Path(__file__).parent / "fixtures"
#: the 11 architectures with official-code fixtures (tests/fixtures/reference/README.md)
ARCHS = ["darkir", "lednet", "mimo_unet", "mimo_unet_plus", "nafnet", "restormer", "retinexformer", "ruas", "sci",
         "zero_dce", "zero_dce_pp"]


def _sums() -> dict[str, str]:
    rows = [line.split() for line in (FIXTURES / "SHA256SUMS").read_text().splitlines() if line.strip()]
    return {rel: digest for digest, rel in rows}


def test_every_fixture_matches_its_sha256_and_none_is_unlisted():
    sums = _sums()
    present = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*") if p.is_file()}
    assert present - set(sums) == {"SHA256SUMS", "README.md"}, "unlisted files: add them to SHA256SUMS"
    assert not set(sums) - present, "files listed in SHA256SUMS are missing"
    bad = [rel for rel, digest in sums.items() if hashlib.sha256((FIXTURES / rel).read_bytes()).hexdigest() != digest]
    assert not bad, f"changed fixtures: {bad}"


def test_readme_lists_every_file_with_its_sha256():
    readme = (FIXTURES / "README.md").read_text()
    missing = [rel for rel, digest in _sums().items() if f"| `{rel}` |" not in readme or f"`{digest}`" not in readme]
    assert not missing, missing


def test_all_official_code_fixtures_are_present():
    for arch in ARCHS:
        for name in ("state_dict.pth", "input.npy", "output.npy", "output_raw.npy", "meta.json"):
            assert (FIXTURES / "reference" / arch / name).is_file(), f"{arch}/{name}"


def test_lookup_finds_the_fixtures_first_and_can_leave_out_shared(monkeypatch, tmp_path):
    monkeypatch.delenv("LEDBENCH_ASSETS", raising=False)
    monkeypatch.setenv("LEDBENCH_NO_SHARED_ASSETS", "1")
    assert paths.assets_dirs() == [FIXTURES]
    assert paths.find_asset("reference", "nafnet", "input.npy") == FIXTURES / "reference" / "nafnet" / "input.npy"
    assert paths.find_asset("weights", "zero_dce", "Epoch99.pth") is None  # not redistributable: never in git
    # $LEDBENCH_ASSETS comes first; a file it lacks still comes from the fixtures
    (tmp_path / "reference" / "nafnet").mkdir(parents=True)
    (tmp_path / "reference" / "nafnet" / "input.npy").write_bytes(b"x")
    monkeypatch.setenv("LEDBENCH_ASSETS", str(tmp_path))
    assert paths.assets_dir() == tmp_path
    assert paths.find_asset("reference", "nafnet", "input.npy") == tmp_path / "reference" / "nafnet" / "input.npy"
    assert paths.find_asset("reference", "sci", "input.npy") == FIXTURES / "reference" / "sci" / "input.npy"
