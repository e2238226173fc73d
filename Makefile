# Guanxi developer commands. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export GUANXI_HOME ?= $(CURDIR)/var
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/guanxi

.DEFAULT_GOAL := help
.PHONY: help demo install install-dev install-bench test test-pg lint format openapi messages

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed ## Create .venv and install Guanxi from the lock file

install-dev: $(VENV)/.installed-dev ## Install Guanxi with test and lint tools

demo: install ## Load the demo shop into ./var and serve it with the worker (http://127.0.0.1:8000/)
	$(BIN)/guanxi demo

test: install-dev ## Run the whole suite (SQLite; set TEST_DATABASE_URL=postgres://… for PostgreSQL)
	$(BIN)/python -m pytest

test-pg: install-dev ## Run the whole suite on the local PostgreSQL
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest

install-bench: $(VENV)/.installed-dev ## Add the reference packages the benchmarks compare against
	$(BIN)/python -m pip install --quiet -r requirements-bench.lock

lint: install-dev ## ruff, mypy, the import-linter contracts and no model change without its migration
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy guanxi
	$(BIN)/lint-imports
	GUANXI_HOME=$$(mktemp -d) $(BIN)/guanxi manage makemigrations --check --dry-run

format: install-dev ## Format the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: install-dev ## Regenerate docs/api/openapi.json after an API change
	$(BIN)/guanxi manage export_openapi

messages: install-dev ## Refresh and compile the zh-Hans and en translation catalogues
	cd guanxi && ../$(BIN)/guanxi manage makemessages -l zh_Hans -l en --no-obsolete --no-location --no-wrap --ignore "tests/*" --ignore "static/vendor/*"
	cd guanxi && ../$(BIN)/guanxi manage compilemessages
