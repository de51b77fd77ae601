"""Print a short hash of the dependency spec in pyproject.toml (dependencies, extras, Python range).

Used to key the virtual environment (Makefile marker, .ci/run's shared venv), so that editing tool settings in
pyproject.toml does not trigger a reinstall of the 6 GB stack.
"""

import hashlib
import json
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
spec = [project["dependencies"], project.get("optional-dependencies", {}), project.get("requires-python")]
print(hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16])
