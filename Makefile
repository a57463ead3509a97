# The README's two commands: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# A regular (not editable) install, redone when the package changes: what users get from
# `pip install .`, without setuptools' editable-mode warnings.
SOURCES := setup.cfg pyproject.toml $(shell find geotile -name '*.py' -o -name py.typed)

$(VENV)/.installed: $(SOURCES) | $(BIN)/python
	rm -rf build  # stale copies of removed modules would go into the wheel
	$(BIN)/pip install -q .
	touch $@

$(VENV)/.installed-test: $(SOURCES) | $(BIN)/python
	rm -rf build
	$(BIN)/pip install -q '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/python examples/demo.py --output demo-output

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache build geotile.egg-info
