# The developer and user interface of the appliance. `make run` and `make test` are the two
# promises of the README: each works on a fresh clone with only Python 3.11+ and make.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test check format bench binary binary-onedir smoke release clean help postgres browser vendor

include models/models.mk

help:
	@echo "make run      set up (venv, models, sample data) and serve on 127.0.0.1:8000"
	@echo "make test     set up and run the test suite (installs PostgreSQL as root with apt)"
	@echo "make check    ruff format --check, ruff, mypy, import layers (lint-imports)"
	@echo "make bench    benchmarks (tests/bench), medians and ratios"
	@echo "make install  create .venv with the project and its dev tools"
	@echo "make binary   PyInstaller onedir .tar.gz + onefile executable in dist/"
	@echo "make smoke    run the newest built artifact end to end (packaging/smoke.sh)"
	@echo "make vendor   re-vendor the console's npm assets (appliance/web/static/vendor)"
	@echo "make release  executables + offline wheelhouse + signed SHA256SUMS in dist/release-*"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install models reader-model
	$(PY) -m appliance serve

test: install models reader-model postgres browser
	$(PY) -m pytest -q

# The browser tests drive Debian's chromium (browsers are never downloaded). Installed here
# when it can be (root with apt-get); otherwise the tests skip and say why.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null)) || \
	  echo "could not install chromium: the browser tests will skip"; \
	else echo "no $(CHROMIUM) and not root with apt-get: the browser tests will skip"; fi

# Re-vendor the console's third-party assets from npm (checked against pinned sha256s).
vendor:
	$(PYTHON) packaging/vendor_assets.py

# PostgreSQL for the tests of the second storage engine (tests/postgres.py starts a throwaway
# cluster of its own): Debian's package where we can install it (root with apt), else those
# tests are skipped with the reason. No default cluster is created or started.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing PostgreSQL (Debian package) for its tests"; \
		mkdir -p /etc/postgresql-common/createcluster.d; \
		echo "create_main_cluster = false" \
			> /etc/postgresql-common/createcluster.d/appliance-tests.conf; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	else \
		echo "PostgreSQL is not installed (needs root with apt): its tests will be skipped"; \
	fi

check: install
	$(VENV)/bin/ruff format --check appliance tests models packaging
	$(VENV)/bin/ruff check appliance tests models packaging
	$(VENV)/bin/mypy appliance
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff format appliance tests models packaging
	$(VENV)/bin/ruff check --fix appliance tests models packaging

bench: install models reader-model
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
