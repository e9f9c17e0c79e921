# Rulebook — the two Quickstart commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test check bench fmt lock clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) \
	  | sed -e 's|\$$(HOST)|$(HOST)|g' -e 's|\$$(PORT)|$(PORT)|g' \
	  | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'
	@echo "  HOST and PORT change the address, e.g. make run PORT=8080"

# Everything installs from the hashed locks in requirements/ (make lock refreshes them): the build
# backend first; then the lock, with sdists (durable-rules) built from that backend rather than
# in pip's build isolation, which would fetch one unhashed; then the project without deps.
INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --no-build-isolation
LOCKED  := $(INSTALL) --require-hashes

$(BIN)/.installed: pyproject.toml requirements/build.txt requirements/lock.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(LOCKED) -r requirements/build.txt
	$(LOCKED) -r requirements/lock.txt
	$(INSTALL) --no-deps -e .
	touch $@

$(BIN)/.dev-installed: $(BIN)/.installed requirements/dev-lock.txt clients/python/pyproject.toml
	$(LOCKED) -r requirements/dev-lock.txt
	$(INSTALL) --no-deps -e clients/python
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
	$(BIN)/pytest -n 2 --dist loadgroup -q --durations=15

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
/usr/bin/chromium:
	apt-get update -q && apt-get install -y -q --no-install-recommends chromium

fmt: $(BIN)/.dev-installed  ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: $(BIN)/.dev-installed  ## re-lock requirements/*.txt from pyproject.toml (PyPI; UPGRADE=1: newest)
	$(PY) requirements/lock.py $(if $(UPGRADE),--upgrade)

# The import and HTTP benchmarks use this PostgreSQL (a schema of their own, dropped after).
BENCH_POSTGRES ?= $(or $(RULEBOOK_TEST_POSTGRES_URL),postgresql+psycopg://postgres@127.0.0.1:5432/test)

bench: $(BIN)/.dev-installed  ## engine, import, HTTP, backtest, proposer benchmarks, the proposer evaluation and the fault script, JSON in bench/results/
	$(PY) -m bench.engine --out bench/results/engine.json
	$(PY) -m bench.history --out bench/results/history.json --postgres '$(BENCH_POSTGRES)'
	$(PY) -m bench.http --out bench/results/http.json --postgres '$(BENCH_POSTGRES)'
	$(PY) -m bench.cpu --out bench/results/cpu.json --postgres '$(BENCH_POSTGRES)'
	$(PY) -m bench.group --out bench/results/group.json --postgres '$(BENCH_POSTGRES)'
	$(PY) -m bench.backtest --out bench/results/backtest.json --postgres '$(BENCH_POSTGRES)' --sqlite --distinct
	$(PY) -m bench.proposer --out bench/results/proposer.json --postgres '$(BENCH_POSTGRES)' --sqlite
	$(BIN)/rulebook proposer evaluate --csv rules/store/demo/hmda_boston.csv --rounds 1 --out bench/results/evaluation.json
	@# Faults are injected only into a PostgreSQL cluster the script starts itself (initdb, pg_ctl).
	$(PY) -m bench.faults --out bench/results/faults.json

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
