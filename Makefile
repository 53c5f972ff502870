# Two commands on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

run: $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	$(BIN)/inferplan memory

test: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/python -m pytest -n auto

bench: $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python benchmarks/run_all.py
