"""Architecture rules checked on the source: the core imports no plugin, and importing it does not import torch.

Layers (DESIGN.md "Layers"): the core (``ledbench.bench`` minus the orchestration modules) imports nothing from
the plugin packages ``ledbench.enhancers|tasks|datasets|reports``; the orchestration modules (runner, stages,
scoring, CLI, profiling, the run report) drive plugins through the registries and may import them. Imports are
read with :mod:`ast`, at module level and inside functions alike, so a lazy import counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PLUGINS = ("ledbench.enhancers", "ledbench.tasks", "ledbench.datasets", "ledbench.reports")
# orchestration layer: may import plugins (through the registries; report.md comes from ledbench.reports)
ORCHESTRATION = {"runner", "stages", "scoring", "cli", "profile"}


def core_modules() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in ORCHESTRATION and p.stem != "__init__")


def imported_modules(source: str, package: str = "ledbench.bench") -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, wherever it sits, plus ``import_module("...")``
    and ``__import__("...")`` calls with a literal name. ``from pkg import name`` yields ``pkg.name`` too, so
    ``from ledbench import tasks`` is caught."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
            found += [(node.lineno, f"{mod}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def plugin_imports(source: str, package: str = "ledbench.bench") -> list[str]:
    return sorted({f"line {line}: {mod}" for line, mod in imported_modules(source, package)
                   if any(mod == p or mod.startswith(p + ".") for p in PLUGINS)})


def test_checker_sees_every_import_form():
    src = ("import ledbench.tasks.quality\n"
           "from ledbench.datasets.io import read_depth\n"
           "from ledbench import reports\n"
           "from .. import enhancers\n"
           "def f():\n    from ..tasks.metrics import create_metric\n"
           "    importlib.import_module('ledbench.datasets.folder')\n"
           "from ledbench.bench.files import write_json\n"
           "from .errors import InputError\n")
    found = plugin_imports(src)
    assert {f.split(": ")[1] for f in found} == set([
        "ledbench.tasks.quality", "ledbench.datasets.io", "ledbench.datasets.io.read_depth", "ledbench.reports",
        "ledbench.enhancers", "ledbench.tasks.metrics", "ledbench.tasks.metrics.create_metric",
        "ledbench.datasets.folder"]), found


def test_core_list_is_the_core():
    core = core_modules()
    for name in ("cache", "config", "device", "errors", "files", "imageio", "paths", "plugin", "registry",
                 "results", "weights"):
        assert name in core, f"bench/{name}.py is missing or counted as orchestration"


@pytest.mark.parametrize("module", core_modules())
def test_core_imports_no_plugin(module):
    bad = plugin_imports((BENCH / f"{module}.py").read_text(encoding="utf-8"))
    assert not bad, (f"ledbench.bench.{module} is core and must not import plugin packages (move the code into the "
                     f"plugin, or the shared function into the core): {bad}")


def test_core_and_package_import_without_torch():
    mods = ["ledbench", "ledbench.bench"] + [f"ledbench.bench.{m}" for m in core_modules()]
    code = ("import importlib, sys\n"
            f"for m in {mods!r}:\n"
            "    importlib.import_module(m)\n"
            "    assert 'torch' not in sys.modules, m + ' imported torch'\n"
            "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
