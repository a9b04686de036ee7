# qimcore: every target installs what it needs into .venv (idempotent, quick when done).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
comma  := ,
STAMP  := $(VENV)/.installed-all+test
HUB_STAMP := $(VENV)/.installed-all
PROXY  := node_modules/.bin/configurable-http-proxy
WARM   := $(VENV)/.qimcore-numba-warm
LABSET := $(VENV)/share/jupyter/lab/settings/overrides.json
PYTEST_ARGS ?=

.PHONY: help install data lint test test-fast hub hub-stop bench validate clean

help:
	@echo "make hub    install, fetch sample data, start JupyterHub on http://127.0.0.1:8000"
	@echo "make test   install, fetch sample data, lint, run the test suite and the notebooks"
	@echo "make data   fetch and verify the real CT samples into data_samples/"
	@echo "make bench  run benchmarks/, writing benchmarks/results/"
	@echo "make validate  sweep the phantom families, writing docs/accuracy.md"

# One stamp per set of extras: `make hub` installs what the hub serves, `make test` adds the test
# tools; each target depends on the stamp of the extras it uses.
$(VENV)/.installed-%: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[$(subst +,$(comma),$*)]"
	touch $@

$(PROXY): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# After an install stamp (listed first where used): compile the numba kernels once into a cache
# every user (hub accounts too) can read, point the python3 kernel spec at it (rerun when the
# sources change), and install JupyterLab settings for every user (no news pop-up).
$(WARM): pyproject.toml $(wildcard qimcore/*.py qimcore/*/*.py)
	$(PY) -m qimcore._warmup
	touch $@

$(LABSET): qimcore/jupyterlab_overrides.json
	install -D -m 644 $< $@

install: $(STAMP) $(PROXY) $(WARM) $(LABSET)

data: $(HUB_STAMP)
	$(PY) -m qimcore.data fetch

lint: $(STAMP)
	$(VENV)/bin/ruff check qimcore tests benchmarks validation notebooks tutorials hub docs jupyterhub_config.py

test: install data lint
	$(PY) -m pytest $(PYTEST_ARGS)
	$(PY) -m pytest --nbval-lax -p no:cacheprovider notebooks tutorials $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow and not hub" $(PYTEST_ARGS)

# The admin account's name: QIMCORE_HUB_ADMIN, else the user running `make hub`.
hub: export QIMCORE_HUB_ADMIN := $(or $(QIMCORE_HUB_ADMIN),$(shell id -un))
hub: $(HUB_STAMP) $(PROXY) $(WARM) $(LABSET) data
	@echo ""
	@echo "qimcore JupyterHub: http$${QIMCORE_HUB_SSL_CERT:+s}://$${QIMCORE_HUB_IP:-127.0.0.1}:$${QIMCORE_HUB_PORT:-8000} (admin: $$QIMCORE_HUB_ADMIN)"
	@echo "Stop with Ctrl-C or 'make hub-stop': the proxy and every user server shut down."
	@echo "While there is no admin yet, the hub prints a one-time link to create it (docs/hub.md)."
	@echo ""
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jupyterhub -f jupyterhub_config.py

hub-stop:
	@pidf="$${QIMCORE_HUB_STATE:-.hub}/jupyterhub.pid"; \
	if test -f "$$pidf" && kill -0 "$$(cat "$$pidf")" 2>/dev/null; then \
	  pid=$$(cat "$$pidf"); kill -TERM "$$pid"; \
	  for i in $$(seq 60); do kill -0 "$$pid" 2>/dev/null || break; sleep 1; done; \
	  if kill -0 "$$pid" 2>/dev/null; then echo "hub $$pid still running after 60 s"; exit 1; fi; \
	  echo "hub stopped: proxy and user servers shut down"; \
	else echo "no hub running (no live process in $$pidf)"; fi

bench: $(VENV)/.installed-all+test+bench data
	$(PY) benchmarks/run.py

validate: $(STAMP) data
	$(PY) -m validation

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
