# One target per task; the same commands locally and in CI.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEV_STAMP := $(VENV)/.installed-dev
LOAD_STAMP := $(VENV)/.installed-loadtest
PYTEST := $(BIN)/python -m pytest

.PHONY: setup run test test-embedded test-postgres lint format bench clean

$(DEV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(LOAD_STAMP): $(DEV_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,loadtest]'
	touch $@

setup: $(DEV_STAMP)

## make run: migrate, seed the demo port if empty, serve both services on SQLite under var/
run: setup
	$(BIN)/ketenpas db upgrade
	$(BIN)/ketenpas demo seed
	$(BIN)/ketenpas serve

## make test: lint, then the suite on the embedded default, then on PostgreSQL + Redis
test: setup lint test-embedded test-postgres

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-embedded: setup
	@echo "== backend: embedded (SQLite + in-process cache)"
	KETENPAS_TEST_BACKEND=embedded $(PYTEST)

test-postgres: setup
	@$(BIN)/python -m tests.backends && { \
	  echo "== backend: PostgreSQL + Redis"; \
	  KETENPAS_TEST_BACKEND=postgres $(PYTEST); \
	} || { rc=$$?; [ $$rc -eq 3 ] && echo "== backend: PostgreSQL + Redis skipped (unreachable)" || exit $$rc; }

## make bench: the benchmarks whose figures are in the README (each stops by itself)
bench: $(LOAD_STAMP)
	$(BIN)/python -m loadtests.bench_audit_log
	$(BIN)/python -m loadtests.bench_credentials
	$(BIN)/python -m loadtests.bench_token_endpoint
	$(BIN)/python -m loadtests.bench_chain
	$(BIN)/python -m loadtests.bench_gate

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
