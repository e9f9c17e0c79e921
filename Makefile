# Rulebook — the two Quickstart commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test check bench lint fmt clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(BIN)/.dev-installed: $(BIN)/.installed pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(BIN)/.installed  ## create .venv, install, and serve on http://$(HOST):$(PORT)
	@echo "Rulebook $$($(PY) -c 'import importlib.metadata as m; print(m.version("rulebook"))') is installed in $(VENV)."
	@echo "The HTTP service and review app arrive with the system-of-record issue; until then"
	@echo "try the engine:  $(BIN)/rulebook eval examples/mortgage.yaml --facts '{\"pirat\": 0.25, \"hirat\": 0.2, \"lvrat\": 0.8, \"chist\": 1, \"mhist\": 1, \"phist\": false, \"insurance\": false}'"
	@echo "Would serve: http://$(HOST):$(PORT)"

test: check  ## install dev dependencies and run the whole suite (lint, types, tests)

check: $(BIN)/.dev-installed  ## format check, lint, types, tests (what CI runs)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup -q

fmt: $(BIN)/.dev-installed  ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/.dev-installed  ## engine benchmark, results in bench/results/engine.json
	$(PY) -m bench.engine --out bench/results/engine.json

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
