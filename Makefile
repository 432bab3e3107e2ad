# Two targets a newcomer needs: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB_STAMP := web/node_modules/.installed
BUILD := src/livegate/web/static/build/player.js

.PHONY: run test setup setup-test lint typecheck web clean

run: setup
	$(BIN)/livegate serve --demo

test: setup-test
	$(BIN)/pytest -q -p no:cacheprovider

setup: $(STAMP) $(BUILD)

setup-test: setup
	@$(BIN)/python -c "import pytest, playwright, moto, nudenet" 2>/dev/null || $(BIN)/pip install -q -e ".[test,review-classifier]"
	@command -v ffmpeg >/dev/null || { echo "installing ffmpeg (Debian)"; (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg) >/dev/null 2>&1 || echo "warning: ffmpeg missing; ffmpeg-client tests will be skipped"; }
	@command -v chromium >/dev/null || { echo "installing chromium (Debian)"; (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || echo "warning: chromium missing; browser tests will be skipped"; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	@touch $(STAMP)

$(WEB_STAMP): web/package.json
	cd web && (test -f package-lock.json && npm ci --no-audit --no-fund || npm install --no-audit --no-fund)
	@touch $(WEB_STAMP)

$(BUILD): $(WEB_STAMP) $(wildcard web/src/*.ts)
	cd web && npm run build --silent

web: $(BUILD)

lint: setup-test
	$(BIN)/ruff check src tests bench

typecheck: setup-test
	$(BIN)/mypy

clean:
	rm -rf $(VENV) web/node_modules src/livegate/web/static/build
