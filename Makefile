# Rulebook — the two Quickstart commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test check bench fmt clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) \
	  | sed -e 's|\$$(HOST)|$(HOST)|g' -e 's|\$$(PORT)|$(PORT)|g' \
	  | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'
	@echo "  HOST and PORT change the address, e.g. make run PORT=8080"

$(BIN)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/litellm.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(BIN)/.dev-installed: $(BIN)/.installed pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(BIN)/.installed  ## install, migrate, load the HMDA demo once, serve http://$(HOST):$(PORT)
	$(BIN)/rulebook db upgrade
	$(BIN)/rulebook demo load --if-empty --url http://$(HOST):$(PORT)
	@# Draft proposals for the review queue, once (the demo ruleset may not exist: ignore then).
	-@$(BIN)/rulebook proposals list --ruleset mortgage-approval 2>/dev/null | grep -q '^#' \
	  || $(BIN)/rulebook propose mortgage-approval --limit 3
	exec $(BIN)/rulebook serve --host $(HOST) --port $(PORT)

test: check  ## install dev dependencies and run the whole suite (lint, types, tests)

check: $(BIN)/.dev-installed /usr/bin/chromium  ## format check, lint, types, tests (what CI runs)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup -q

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
/usr/bin/chromium:
	apt-get update -q && apt-get install -y -q --no-install-recommends chromium

fmt: $(BIN)/.dev-installed  ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The import and HTTP benchmarks use this PostgreSQL (a schema of their own, dropped after).
BENCH_POSTGRES ?= $(or $(RULEBOOK_TEST_POSTGRES_URL),postgresql+psycopg://postgres@127.0.0.1:5432/test)

bench: $(BIN)/.dev-installed  ## engine, import, HTTP, backtest, proposer benchmarks and the proposer evaluation, JSON in bench/results/
	$(PY) -m bench.engine --out bench/results/engine.json
	$(PY) -m bench.history --out bench/results/history.json --postgres '$(BENCH_POSTGRES)'
	$(PY) -m bench.http --out bench/results/http.json --postgres '$(BENCH_POSTGRES)'
	$(PY) -m bench.backtest --out bench/results/backtest.json --postgres '$(BENCH_POSTGRES)' --sqlite --distinct
	$(PY) -m bench.proposer --out bench/results/proposer.json --postgres '$(BENCH_POSTGRES)' --sqlite
	$(BIN)/rulebook proposer evaluate --csv data/hmda_boston.csv --rounds 1 --out bench/results/evaluation.json

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
