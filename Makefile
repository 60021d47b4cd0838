# Xiaoer: `make run` installs and serves the demo shop; `make test` installs and runs every test.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.8
CHROMIUM := /usr/bin/chromium
export XIAOER_VENDOR_DIR ?= $(CURDIR)/node_modules

.PHONY: run test lint install install-dev lock browser clean bench format

$(UV):
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q "uv==$(UV_VERSION)"

$(VENV)/.runtime: $(UV) requirements.lock pyproject.toml
	$(UV) pip install -q --python $(BIN)/python -r requirements.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(UV) pip install -q --python $(BIN)/python -r requirements-dev.lock
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

install: $(VENV)/.runtime node_modules/.package-lock.json

install-dev: install $(VENV)/.dev

browser:
	@if [ ! -x $(CHROMIUM) ] || [ -z "$$(fc-list :lang=zh 2>/dev/null)" ]; then \
	  echo "Installing Debian's chromium and a CJK font for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

run: install
	$(BIN)/xiaoer demo

test: install-dev browser
	$(BIN)/python -m tests.run_all -n 2 --dist loadfile

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

lock: $(UV)
	$(UV) pip compile -q pyproject.toml --python-version 3.11 -o requirements.lock
	$(UV) pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements-dev.lock

bench: install-dev
	$(BIN)/python bench/nlp_eval.py

clean:
	rm -rf $(VENV) node_modules xiaoer-data test-artifacts
