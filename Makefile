# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types pytest bench clean

# the compiled cores (src/**/*.pyx, and the .pxi files they include) are built by the editable install, so a changed one reinstalls
CORES := $(shell find src -name '*.pyx' -o -name '*.pxi')

$(STAMP): pyproject.toml setup.py $(CORES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tapeflow demo

test: $(STAMP) lint types pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts setup.py
	$(BIN)/ruff format --check src tests benchmarks scripts setup.py

types: $(STAMP)
	$(BIN)/mypy --strict src/tapeflow

pytest: $(STAMP)
	$(BIN)/pytest -q

# every benchmark with its peer (nautilus_trader, backtrader: the bench extra), one after another, and one table
$(VENV)/.bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(VENV)/.bench

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .mypy_cache .pytest_cache .ruff_cache
	find src \( -name '*.so' -o -name '*.c' \) -delete
