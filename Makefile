# assets-core developer commands. GNU make; on a fresh clone only python3 is needed.
#   make demo    build the bi_dashboard example, show that nothing is stale, show status
#   make examples  build all three example projects (bi_dashboard, aml_compliance, ml_pipeline)
#   make test    lint, format check, the test suite and a strict build of the docs site
#   make docs    build the docs site into site/ (make docs-serve: live preview)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --quiet --disable-pip-version-check
RUFF := $(VENV)/bin/ruff
ASSETS := $(VENV)/bin/assets
# Material for MkDocs prints a banner about MkDocs 2.0 on every build unless told not to.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs
EXAMPLE := example_projects/bi_dashboard
EXAMPLES := bi_dashboard aml_compliance ml_pipeline

# Installs are recorded in stamp files inside the venv and redone when pyproject.toml changes.
STAMP_ALL := $(VENV)/.installed-all
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: help .venv demo examples test sysdeps lint format bench docs docs-serve clean

help:
	@echo "make demo     install (.[all]) and materialize, plan, status the bi_dashboard example"
	@echo "make examples install (.[all]) and materialize all three example projects"
	@echo "make test     install (.[dev]) and system packages, ruff check, ruff format --check, pytest,"
	@echo "              mkdocs build --strict"
	@echo "make docs     build the documentation site into site/ (make docs-serve: preview on :8000)"
	@echo "make bench    run the W1 benchmark workload"
	@echo "make lint     ruff check and ruff format --check"
	@echo "make format   ruff format and ruff check --fix"
	@echo "make clean    remove the examples' .assets folders and exported reports"

.venv: $(PY)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(STAMP_ALL): pyproject.toml | $(PY)
	$(PIP) install -e '.[all]'
	@touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PIP) install -e '.[dev]'
	@touch $@

demo: $(STAMP_ALL)
	$(ASSETS) -p $(EXAMPLE) materialize
	$(ASSETS) -p $(EXAMPLE) plan
	$(ASSETS) -p $(EXAMPLE) status

examples: $(STAMP_ALL)
	@for name in $(EXAMPLES); do \
		echo "== example_projects/$$name"; \
		$(ASSETS) -p example_projects/$$name materialize || exit 1; \
	done

# graphviz provides `dot` (lineage rendering); PostgreSQL server binaries back the catalog tests.
sysdeps:
	@missing=""; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		missing="$$missing postgresql"; \
	fi; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing system packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "warning: missing system packages:$$missing (install them, e.g. sudo apt-get install$$missing); tests that need them will fail" >&2; \
	fi

test: $(STAMP_DEV) sysdeps
	$(RUFF) check .
	$(RUFF) format --check .
	$(PY) -m pytest -n 2 -q
	$(MKDOCS) build --strict --quiet

# The CLI reference page is rendered from the `assets` command by docs/gen_cli.py.
docs: $(STAMP_DEV)
	$(MKDOCS) build --strict

docs-serve: $(STAMP_DEV)
	$(MKDOCS) serve

bench: $(STAMP_DEV)
	$(PY) bench/run.py --workload W1 --n 1000 --measure import build full noop incremental --repeats 3

lint: $(STAMP_DEV)
	$(RUFF) check .
	$(RUFF) format --check .

format: $(STAMP_DEV)
	$(RUFF) format .
	$(RUFF) check --fix .

clean:
	rm -rf example_projects/*/.assets example_projects/*/reports
