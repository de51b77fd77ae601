# The two commands of the README:
#   make run    -> creates .venv on first use, then `ledbench run` (the embedded default benchmark, offline)
#   make test   -> creates .venv on first use, then the test suite
# VENV can point elsewhere (.ci/run reuses one venv keyed by a hash of pyproject.toml).
VENV ?= .venv
PY := $(VENV)/bin/python
# markers: dependencies installed for this pyproject.toml; editable install pointing at this checkout
DEPS := $(VENV)/.deps-$(shell python3 scripts/deps_key.py)
LINK := $(VENV)/.src-$(shell echo '$(CURDIR)' | sha256sum | cut -c1-16)
PYTEST_ARGS ?=

.PHONY: run test venv lint clean-cache

$(DEPS):
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.deps-*
	@touch $@

$(LINK): $(DEPS)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.src-*
	@touch $@

venv: $(LINK)

run: $(LINK)
	$(VENV)/bin/ledbench run $(ARGS)

test: $(LINK)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(LINK)
	$(VENV)/bin/ruff check bench enhancers tasks datasets reports tests benchmarks scripts

clean-cache:
	rm -rf $${LEDBENCH_HOME:-$$HOME/.cache/ledbench}/cache
