# Switchboard — the two commands a fresh machine needs are `make run` and `make test`.
# Each creates the virtual environment and installs the pinned dependencies itself.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Test processes: most test time is waiting on the broker (a consumer group join takes 3 s on the
# embedded broker), so four workers on two cores halve the wall time. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 4

.PHONY: run test test-unit lint format browser bench chaos eval train lock schemas deploy-gen migrate clean help

help:
	@echo "make run    - the whole pipeline on embedded defaults, with demo traffic (Ctrl-C stops)"
	@echo "make test   - lint, import contracts, type check, then the full test suite (real broker, SQLite and PostgreSQL)"
	@echo "make test-unit - lint and the fast unit tier (no broker, no database server)"
	@echo "make browser - install Debian's chromium for the console's browser tests (make test needs it)"
	@echo "make format - ruff format + the fixable ruff findings"
	@echo "make bench  - benchmarks, printed as ratios and written to bench/results.json"
	@echo "make chaos  - faults under webhook load on switchboard run's stack: lost/doubled per scenario, into bench/chaos.json"
	@echo "make eval   - classifier and planning (forecast, staffing) evaluation on ../shared/datasets"
	@echo "make train  - rebuild the shipped models from ../shared/datasets"
	@echo "make lock   - re-pin requirements.lock from pyproject.toml"

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/switchboard run

test: lint browser
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

# The console's browser tests drive Debian's Chromium (Playwright's Python client, pointed at it:
# no browser download). Installed here when missing: as root, or through sudo.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y --no-install-recommends chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y --no-install-recommends chromium; fi; }

test-unit: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 tests/unit

# The tree keeps its shape: one format, no print() in service code, the import contracts of
# pyproject.toml (services never import each other, shared imports no service, pure cores no I/O),
# and a type check of shared/ and the pure cores.
lint: $(STAMP)
	$(BIN)/ruff format --check --no-cache .
	$(BIN)/ruff check --no-cache .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format --no-cache .
	$(BIN)/ruff check --no-cache --fix .

# measured as deployed: the image sets MALLOC_ARENA_MAX=2 (see Dockerfile)
bench: $(STAMP)
	MALLOC_ARENA_MAX=2 $(BIN)/python -m bench

# each fault under steady signed webhook load (docs/runbook.md#chaos-suite-make-chaos)
chaos: $(STAMP)
	MALLOC_ARENA_MAX=2 $(BIN)/python -m tools.chaos

eval: $(STAMP)
	$(BIN)/python -m services.classifier.evaluate --all
	$(BIN)/python -m services.router.planning evaluate

train: $(STAMP)
	$(BIN)/python -m services.classifier.train

migrate: $(STAMP)
	$(BIN)/switchboard migrate

schemas: $(STAMP)
	$(BIN)/python -m shared.schemagen

deploy-gen: $(STAMP)
	$(BIN)/python -m tools.deploy_gen

lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet '.[test]'
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^switchboard' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) var .pytest_cache
