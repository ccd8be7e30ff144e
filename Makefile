# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test lint bench docs install services clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $@

install: $(VENV)/.installed

## The main job: the example shop protected by antiscrape on 127.0.0.1:8000 (in-memory state).
demo: $(VENV)/.installed
	$(PY) -m example_apps.demo $(DEMO_ARGS)

## Installs everything, starts what the tests need (redis-server, Chromium), runs every suite.
test: $(VENV)/.installed
	bash scripts/ensure-test-services.sh
	$(PY) -m ruff check .
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .

## The documentation site (docs/, mkdocs.yml) into build/docs; --strict: a broken link fails.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

## Benchmarks: figures go to benchmarks/RESULTS.md by hand, from the printed tables.
bench: $(VENV)/.installed
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
