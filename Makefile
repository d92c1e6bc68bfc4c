# nsconnect: `make run` serves the dashboard with a worker and a beat, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The web server's port: make run PORT=8001
PORT ?= 8000
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: install run test lint bench screenshots clean

install: $(STAMP) node_modules/.package-lock.json

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

.env:
	$(PY) -m nsconnect.localenv .env

# The database and the broker's messages live here: owner-only (the settings keep it so too).
var:
	mkdir -p var && chmod 700 var

# honcho is told to read no .env (--env /dev/null): its own reading let .env win over exported
# variables. The settings read .env themselves and fill in only what the environment leaves unset.
run: install .env var
	$(PY) manage.py migrate --no-input
	$(PY) manage.py ensure_admin
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile.dev start --env /dev/null --port $(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache

# The README's pictures, taken by the browser flows (tests/browser/test_flow_*.py) as they run.
screenshots: install
	NSCONNECT_README_PICTURES=$(CURDIR)/docs/screenshots $(PY) -m pytest -p no:cacheprovider tests/browser/test_flow_*.py

bench: install .env
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .mypy_cache .ruff_cache
