"""Print a short hash of the dependency spec in pyproject.toml (dependencies, extras, Python range).

Used to key the virtual environment (Makefile marker, .ci/run's shared venv), so that editing tool settings in
pyproject.toml does not trigger a reinstall of the 6 GB stack. Runs on the system Python before any venv exists:
tomllib on 3.11+, otherwise the text of pyproject.toml before its first ``[tool.`` table.
"""

import hashlib
import json

try:
    import tomllib
except ImportError:  # Python 3.10: no TOML parser in the standard library
    tomllib = None

if tomllib is not None:
    with open("pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    spec = json.dumps(
        [project["dependencies"], project.get("optional-dependencies", {}), project.get("requires-python")],
        sort_keys=True,
    )
else:
    with open("pyproject.toml", encoding="utf-8") as fh:
        spec = fh.read().split("\n[tool.")[0]
print(hashlib.sha256(spec.encode()).hexdigest()[:16])
