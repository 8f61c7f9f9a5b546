# One target per task; the same commands locally and in CI.
#
# Every install comes from uv.lock (every package, direct and transitive, pinned with its
# hashes) through uv, which is itself installed by hash from tools/uv.txt. `make lock`
# refreshes both deliberately; nothing else ever resolves a version.

# The Python the project is tested on is stated once, as requires-python in pyproject.toml.
PY_VERSION := $(shell sed -n 's/^requires-python = "==\([0-9]*\.[0-9]*\)\.\*"$$/\1/p' pyproject.toml)
PYTHON ?= $(shell command -v python$(PY_VERSION) || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV := $(TOOLS)/bin/uv
PYTEST := $(BIN)/python -m pytest
# uv uses the interpreter checked below and never downloads one; the project environment
# is .venv, whatever the caller's shell has activated.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
unexport VIRTUAL_ENV
# Which extras `uv sync` installs: the dev tools always, the load-test tools for `make bench`.
EXTRAS := --extra dev

.PHONY: python-check lock-check setup setup-loadtest lock upgrade run test test-embedded \
	test-postgres lint format faults fuzz statistics bench clean

## python-check: a clear message, not a stack trace, when the Python found is not the tested one
python-check:
	@if [ -z "$(PY_VERSION)" ]; then \
	  echo 'pyproject.toml has no requires-python = "==X.Y.*": the Makefile cannot tell which Python to use' >&2; \
	  exit 2; fi
	@if [ -z "$(PYTHON)" ] || ! "$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(PY_VERSION)".split("."))))' 2>/dev/null; then \
	  echo "Ketenpas is tested on Python $(PY_VERSION) (requires-python in pyproject.toml)," >&2; \
	  echo "but the one found is $(or $(PYTHON),none): $$("$(PYTHON)" -c 'import sys; print("Python " + sys.version.split()[0])' 2>/dev/null || echo 'not runnable')." >&2; \
	  echo "Install Python $(PY_VERSION), or name it: make PYTHON=/path/to/python$(PY_VERSION) ..." >&2; \
	  exit 2; fi

$(UV): tools/uv.txt | python-check
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --require-hashes --only-binary :all: -r tools/uv.txt
	touch $@

## lock-check: pyproject.toml and uv.lock must agree (uv's own check, with no network)
lock-check: $(UV)
	@$(UV) lock --check --offline --quiet 2>/dev/null || { \
	  echo "uv.lock does not match pyproject.toml: run 'make lock' and commit both files." >&2; \
	  exit 1; }

## setup: the project environment in .venv, exactly as locked (packages not in the lock are removed)
setup: python-check lock-check
	@# The build backend (setuptools) is locked like everything else: install the locked
	@# packages first, then build the project itself without isolation against them.
	$(UV) sync --locked --quiet --python $(PYTHON) $(EXTRAS) --no-install-project
	$(UV) sync --locked --quiet --python $(PYTHON) $(EXTRAS)

setup-loadtest: EXTRAS := --extra dev --extra loadtest
setup-loadtest: setup

## lock: resolve pyproject.toml into uv.lock again, keeping every pin that still fits
lock: $(UV)
	$(UV) lock
	$(UV) pip compile tools/uv.in --quiet --generate-hashes --universal \
	  --python-version $(PY_VERSION) --custom-compile-command 'make lock' -o tools/uv.txt

## upgrade: move every package (uv included) to its newest release allowed by pyproject.toml
upgrade: $(UV)
	$(UV) lock --upgrade
	$(UV) pip compile tools/uv.in --quiet --generate-hashes --universal --upgrade \
	  --python-version $(PY_VERSION) --custom-compile-command 'make lock' -o tools/uv.txt

## run: migrate, seed the demo port if empty, serve both services on SQLite under var/
run: setup
	$(BIN)/ketenpas db upgrade
	$(BIN)/ketenpas demo seed
	$(BIN)/ketenpas serve

## test: lint, then the suite on the embedded default, then on PostgreSQL + Redis
test: setup lint test-embedded test-postgres

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports --no-cache --no-logo

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

## faults: the fault tests alone (PostgreSQL crash, Redis stopped, a process killed), with figures
faults: setup
	rm -f var/faults-report.jsonl
	KETENPAS_TEST_BACKEND=postgres $(PYTEST) tests/faults
	@cat var/faults-report.jsonl

## fuzz: the hostile-input run (tests/fuzz) longer and drawn afresh, on both backends
FUZZ_EXAMPLES ?= 25
fuzz: setup
	@echo "== fuzz: embedded (SQLite + in-process cache), $(FUZZ_EXAMPLES) cases per operation and mode"
	KETENPAS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) KETENPAS_TEST_BACKEND=embedded $(PYTEST) -s tests/fuzz
	@$(BIN)/python -m tests.backends && { \
	  echo "== fuzz: PostgreSQL + Redis"; \
	  KETENPAS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) KETENPAS_TEST_BACKEND=postgres $(PYTEST) -s tests/fuzz; \
	} || { rc=$$?; [ $$rc -eq 3 ] && echo "== fuzz: PostgreSQL + Redis skipped (unreachable)" || exit $$rc; }

## statistics: the statistics of the inspection draws on 100,000 draws of each kind, every figure printed
STATISTICS_DRAWS ?= 100000
statistics: setup
	KETENPAS_TEST_BACKEND=embedded KETENPAS_STATISTICS_DRAWS=$(STATISTICS_DRAWS) $(PYTEST) -s tests/statistics

## bench: the benchmarks whose figures are in docs/benchmarks.md (each stops by itself)
bench: setup-loadtest
	$(BIN)/python -m loadtests.bench_audit_log
	$(BIN)/python -m loadtests.bench_credentials
	$(BIN)/python -m loadtests.bench_token_endpoint
	$(BIN)/python -m loadtests.bench_chain
	$(BIN)/python -m loadtests.bench_vrf
	$(BIN)/python -m loadtests.bench_rules
	$(BIN)/python -m loadtests.bench_access_log
	$(BIN)/python -m loadtests.bench_reconcile
	$(BIN)/python -m loadtests.bench_witness
	$(BIN)/python -m loadtests.bench_gate --watch-alerts

clean:
	rm -rf $(VENV) $(TOOLS) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
