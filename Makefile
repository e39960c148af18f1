# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install index run test check lint typecheck bench bench-peers eval rust-book clean

install: $(STAMP)

# Reinstall whenever the dependency list changes; the stamp keeps repeat runs instant.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# OCR (scanned PDF pages, images) needs Tesseract; without it those files are skipped
# with that reason, so a failed install does not stop the rest.
index: install
	-bash scripts/ensure-tesseract.sh
	$(BIN)/qa index

run: index
	$(BIN)/qa serve --host $(HOST) --port $(PORT)

# Lint and types first (seconds), then the whole suite against the real model.
test: install check
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-tesseract.sh
	$(BIN)/python -m pytest

check: lint typecheck

lint: install
	$(BIN)/ruff check qa tests benchmarks eval
	$(BIN)/ruff format --check qa tests benchmarks eval

typecheck: install
	$(BIN)/mypy

# Benchmarks print tables (see benchmarks/README.md); they take minutes, not seconds.
bench: install
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_ask.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_workers.py
	$(BIN)/python benchmarks/bench_extract.py

# Our retrieval against txtai's hybrid search, same model and questions, in one run.
# txtai brings its own dependencies, so it gets a venv of its own; torch pinned exactly
# (a loose requirement pulls the CUDA build).
PEERS ?= .venv-peers
$(PEERS)/.installed: pyproject.toml
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet 'torch==2.13.0' 'txtai==9.14.0' -e .
	touch $@

bench-peers: $(PEERS)/.installed
	$(PEERS)/bin/python benchmarks/bench_peers.py

# Retrieval quality on the SQuAD slice and the seed questions, three methods side by side.
eval: index
	$(BIN)/qa eval ../shared/datasets/squad2-dev-3articles.json --compare
	$(BIN)/qa eval eval/seed-questions.jsonl --compare
	$(BIN)/qa eval eval/suite.json --split dev --quiet

# The Rust book (Debian's rust-doc) for the optional `rustbook` corpus of eval/suite.json,
# and the same pages as mdBook Markdown sources for `rustbook-md`.
rust-book: install
	sh scripts/fetch-rust-book.sh
	$(BIN)/python eval/make_rustbook_markdown.py .rust-book .rust-book-md

clean:
	rm -rf $(VENV) $(PEERS) index .pytest_cache .mypy_cache .ruff_cache .hypothesis
