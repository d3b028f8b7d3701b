# storyboard: every target installs what it needs into .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test lint demo golden schema clean faults bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n 2

faults: $(STAMP)
	STORYBOARD_FAULTS=full $(PY) -m pytest -q -n 2 tests/faults

bench: $(STAMP)
	$(PY) -m bench.run

lint: $(STAMP)
	$(VENV)/bin/ruff check storyboard tests scripts bench
	$(VENV)/bin/ruff format --check storyboard tests scripts bench
	$(VENV)/bin/mypy storyboard
	$(VENV)/bin/lint-imports

demo: $(STAMP)
	$(PY) scripts/demo.py

golden: $(STAMP)
	$(PY) -m tests.golden.regenerate

schema: $(STAMP)
	$(VENV)/bin/storyboard schema > schemas/storyboard.schema.json
	$(VENV)/bin/storyboard schema --include-file > schemas/include.schema.json

clean:
	rm -rf $(VENV) build .storyboard .pytest_cache .mypy_cache .ruff_cache
