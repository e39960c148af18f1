# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install index run test lint typecheck clean

install: $(STAMP)

# Reinstall whenever the dependency list changes; the stamp keeps repeat runs instant.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

index: install
	$(BIN)/qa index

run: index
	$(BIN)/qa serve --host $(HOST) --port $(PORT)

test: install
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check qa tests benchmarks
	$(BIN)/ruff format --check qa tests benchmarks

typecheck: install
	$(BIN)/mypy

clean:
	rm -rf $(VENV) index .pytest_cache .mypy_cache .ruff_cache .hypothesis
