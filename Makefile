# Unimanager: `make run` serves the console (embedded mode), `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run run-distributed test test-fast test-integration bench lint schema sdk clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

run-distributed: setup
	$(PY) -m devtools.distributed --host $(HOST) --port $(PORT)

test: setup
	$(PY) -m pytest -m "not integration" -q
	$(PY) -m devtools.integration -q

test-fast: setup
	$(PY) -m pytest -m "not integration" -q

test-integration: setup
	$(PY) -m devtools.integration -q

bench: setup
	$(PY) -m bench

# Mutation testing of the rule modules, one after another (long; not part of `make test`).
# MODULES=statemachine picks some; MUTATION_CHILDREN=2 tests two mutants at once.
mutation: setup
	$(PY) -m devtools.mutation --max-children $(or $(MUTATION_CHILDREN),1) $(MODULES)

lint: setup
	$(VENV)/bin/ruff check .

schema: setup
	$(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml

# The Python client of the API, by an independent generator (openapi-python-client); a warning fails it.
sdk: setup
	$(PY) -m devtools.sdk var/sdk

clean:
	rm -rf $(VENV) node_modules var/static
