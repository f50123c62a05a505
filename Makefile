# Lifechain: `make run` starts the system on the demo city; `make test` runs every check.
SHELL := /bin/bash
# The interpreter the virtual environment is made with. Distributions build their python3.11 with profile-guided
# optimisation and LTO, and our benchmarks ran 5-30% faster on Debian's than on a plain source build (pyenv's
# default), so the system's own interpreter comes first when it can make a virtual environment.
# `PYTHON=... make install` chooses another (remove .venv first).
PYTHON ?= $(firstword $(foreach p,/usr/bin/python3.11 python3.11,$(shell $(p) -c 'import ensurepip' 2>/dev/null && echo $(p))) python3.11)
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= ./var
export LIFECHAIN_DATA_DIR ?= $(DATA_DIR)
# Run the checkout's own sources even when the virtual environment is shared between git worktrees.
export PYTHONPATH := $(CURDIR)/src
# The bundle's TypeScript API types are generated from the server's OpenAPI (web/scripts/gen-api.mjs), so the API's
# shape (the app, each domain's views and schemas) is a source of the bundle too.
WEB_SOURCES := $(shell find web -type f -not -path 'web/node_modules/*' -not -path 'web/dist/*' -not -path 'web/test-results/*' 2>/dev/null) \
  $(wildcard src/lifechain/app.py src/lifechain/api.py src/lifechain/*/views.py src/lifechain/*/schemas.py)

.PHONY: run test lint typecheck pytest e2e bench install web city demo clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# The browser bundle is rebuilt only when its sources changed.
src/lifechain/web_dist/index.html: $(WEB_SOURCES)
	@if [ -f web/package.json ]; then \
	  cd web && npm ci --no-audit --no-fund && npm run build; \
	else echo "no web/ sources yet"; fi

web: src/lifechain/web_dist/index.html

city: install
	$(BIN)/lifechain city import builtin:helsinki --name helsinki --if-missing

demo: city
	$(BIN)/lifechain demo load --city helsinki

run: install web demo
	LIFECHAIN_DEMO_MODE=1 $(BIN)/lifechain serve --demo --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -m "not e2e"

e2e: install web
	@if [ -f web/package.json ]; then $(MAKE) -C . _e2e; else echo "no web/ sources yet"; fi

_e2e:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@# A CJK font so the zh-CN screenshots show characters, not boxes.
	@fc-list 2>/dev/null | grep -qi 'wqy\|noto sans cjk' || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei; }
	$(BIN)/pytest -m e2e

test: lint typecheck pytest e2e

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var src/lifechain/web_dist web/node_modules
