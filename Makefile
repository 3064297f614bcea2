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

# three passes so the suite fits CI's budget on two cores: the tests that wait only on the CPU on two workers (a file
# per worker, so a module's fixtures are built once); the `waits` tests (servers, venues, pools, browsers: mostly
# waiting) on two workers, apart from the CPU-bound ones; then the `serial` ones alone, with both cores for their
# servers and subprocesses (tests/conftest.py says which and why); `pytest -q` alone still runs everything in one process
pytest: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not serial and not waits"
	$(BIN)/pytest -q -n 2 --dist loadfile -m waits
	$(BIN)/pytest -q -m serial

# every benchmark with its peer (nautilus_trader, backtrader: the bench extra), one after another, and one table
$(VENV)/.bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(VENV)/.bench

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .mypy_cache .pytest_cache .ruff_cache
	find src \( -name '*.so' -o -name '*.c' \) -delete
