# Two set-up commands (see README.md): `make solve` and `make test`.
# Each creates or refreshes the local virtual environment .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.stamp-run
STAMP_TEST := $(VENV)/.stamp-test
STAMP_BENCH := $(VENV)/.stamp-bench

.PHONY: solve test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(STAMP_RUN)

$(STAMP_BENCH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $@ $(STAMP_RUN) $(STAMP_TEST)

## make solve: the main job, the assignment recomputed and verified
solve: $(STAMP_RUN)
	$(BIN)/handgrad solve

## make test: lint, format check, type check and the whole test suite twice: with BLAS's default
## thread count, then with BLAS held at one thread (results must hold under both)
test: $(STAMP_TEST)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest
	HANDGRAD_TEST_BLAS_THREADS=1 $(BIN)/pytest

## make bench: benchmarks beside their anchors; writes BENCHMARKS.md (not part of CI)
bench: $(STAMP_BENCH)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
