# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing and
# install from the hashed locks in requirements/: `make demo` only what driftcheck needs to run,
# `make test` the development tools too. `make lock` refreshes the locks (needs PyPI).

# The venv is built on the distribution's Python 3.11 where there is one that can make venvs
# (Debian's is compiled with profile-guided optimization and LTO: a check takes about a tenth less
# CPU time on it than on a plain source build such as pyenv's), else on python3.
# `make PYTHON=...` chooses.
SYSTEM_PYTHON := $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1 && echo /usr/bin/python3.11)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --quiet
LOCK_PYTHON := 3.11
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench browser schemas lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Hash-checked third-party packages, then driftcheck itself (no dependency resolution, no
# unpinned build backend: hatchling comes from the build lock).
$(RUNTIME_STAMP): $(BIN)/python pyproject.toml requirements/runtime.lock requirements/build.lock
	$(PIP) install --require-hashes -r requirements/build.lock -r requirements/runtime.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	$(BIN)/python -m compileall -q driftcheck
	touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml requirements/dev.lock requirements/build.lock
	$(PIP) install --require-hashes -r requirements/build.lock -r requirements/dev.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	$(BIN)/python -m compileall -q driftcheck
	touch $@ $(RUNTIME_STAMP)

# The HTML report is checked in Debian's Chromium; install it when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

demo: $(RUNTIME_STAMP)
	$(BIN)/driftcheck demo

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(DEV_STAMP) browser lint
	$(BIN)/pytest -q

bench: $(DEV_STAMP)
	$(BIN)/python bench/run.py

schemas: $(DEV_STAMP)
	$(BIN)/python -m driftcheck.schemas

# Universal locks (every platform's hashes) for Python $(LOCK_PYTHON), from PyPI only.
lock: $(DEV_STAMP)
	UV_NO_CONFIG=1 $(BIN)/uv pip compile pyproject.toml --universal --python-version $(LOCK_PYTHON) \
	  --generate-hashes --quiet -o requirements/runtime.lock
	UV_NO_CONFIG=1 $(BIN)/uv pip compile pyproject.toml --extra dev --universal \
	  --python-version $(LOCK_PYTHON) --generate-hashes --quiet -o requirements/dev.lock
	UV_NO_CONFIG=1 $(BIN)/uv pip compile requirements/build.in --universal \
	  --python-version $(LOCK_PYTHON) --generate-hashes --quiet -o requirements/build.lock

clean:
	rm -rf $(VENV) reports/demo
