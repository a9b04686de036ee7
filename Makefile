# qimcore: every target installs what it needs into .venv (idempotent, quick when done).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.qimcore-installed
PROXY  := node_modules/.bin/configurable-http-proxy
PYTEST_ARGS ?=

.PHONY: help install data lint test test-fast hub hub-stop bench clean

help:
	@echo "make hub    install, fetch sample data, start JupyterHub on http://127.0.0.1:8000"
	@echo "make test   install, fetch sample data, lint, run the test suite and the notebooks"
	@echo "make data   fetch and verify the real CT samples into data_samples/"
	@echo "make bench  run benchmarks/, writing benchmarks/results/"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

$(PROXY): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) $(PROXY)

data: $(STAMP)
	$(PY) -m qimcore.data fetch

lint: $(STAMP)
	$(VENV)/bin/ruff check qimcore tests benchmarks notebooks jupyterhub_config.py

test: install data lint
	$(PY) -m pytest $(PYTEST_ARGS)
	$(PY) -m pytest --nbval-lax -p no:cacheprovider notebooks $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow and not hub" $(PYTEST_ARGS)

hub: install data
	@echo ""
	@echo "qimcore JupyterHub: http://$${QIMCORE_HUB_IP:-127.0.0.1}:$${QIMCORE_HUB_PORT:-8000}"
	@echo "First time: open http://$${QIMCORE_HUB_IP:-127.0.0.1}:$${QIMCORE_HUB_PORT:-8000}/hub/signup and sign up as"
	@echo "'$${QIMCORE_HUB_ADMIN:-admin}' (the admin; set QIMCORE_HUB_ADMIN to choose another name) with a"
	@echo "password of your choice (>= 10 characters). The admin is approved at once and approves other"
	@echo "sign-ups at /hub/authorize. Stop with Ctrl-C or 'make hub-stop'."
	@echo ""
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyterhub -f jupyterhub_config.py

hub-stop:
	-test -f .hub/jupyterhub.pid && kill $$(cat .hub/jupyterhub.pid)

bench: install data
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test,bench]"
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
