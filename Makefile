# The developer and user interface of the appliance. `make run` and `make test` are the two
# promises of the README: each works on a fresh clone with only Python 3.11+ and make.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test check format bench binary binary-onedir smoke release clean help

include models/models.mk

help:
	@echo "make run      set up (venv, models, sample data) and serve on 127.0.0.1:8000"
	@echo "make test     set up and run the test suite"
	@echo "make check    ruff format --check, ruff, mypy, import layers (lint-imports)"
	@echo "make bench    benchmarks (tests/bench), medians and ratios"
	@echo "make install  create .venv with the project and its dev tools"
	@echo "make binary   PyInstaller onedir .tar.gz + onefile executable in dist/"
	@echo "make smoke    run the newest built artifact end to end (packaging/smoke.sh)"
	@echo "make release  executables + offline wheelhouse + signed SHA256SUMS in dist/release-*"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install models
	$(PY) -m appliance serve

test: install models
	$(PY) -m pytest -q

check: install
	$(VENV)/bin/ruff format --check appliance tests
	$(VENV)/bin/ruff check appliance tests
	$(VENV)/bin/mypy appliance
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff format appliance tests
	$(VENV)/bin/ruff check --fix appliance tests

bench: install
	@for f in tests/bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

binary: models
	packaging/build.sh all

binary-onedir: models
	packaging/build.sh onedir

smoke:
	packaging/smoke.sh $(ARTIFACT)

# RELEASE_KEY=path/to/release_signing_key.pem (default: a development key in release-key/)
release: install models
	packaging/release.sh

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
