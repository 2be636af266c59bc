# One command each for the loop. `make run` sets everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WHEELS ?= $(HOME)/.cache/qa-bot/wheels
STAMP := $(VENV)/.installed
# Which CPU features llama.cpp is compiled for: auto (chosen from /proc/cpuinfo, never
# -march=native and never AMX), avx2, or avx512[-vbmi][-vnni][-bf16]; see qa_bot/models/prepare/llama_build.py.
# What `make llama LLAMA_CPU=...` chose is kept in the venv, so later runs keep it.
LLAMA_CPU ?= $(or $(shell cat $(VENV)/qa-bot-llama-cpu 2>/dev/null),auto)
LLAMA_TAG := $(shell $(PYTHON) -P qa_bot/models/prepare/llama_build.py tag $(LLAMA_CPU) 2>/dev/null || echo unsupported)
LLAMA_STAMP := $(VENV)/.llama-$(LLAMA_TAG)

.PHONY: setup browser run test test-fast lint format bench bench-scale eval clean llama
DATA ?= ../shared/data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama-cpp-python has no wheel that loads here: compiled once per feature set, the wheel
# kept in a folder named after the features ($(WHEELS)/llama-cpp-python-<version>-<tag>-<flags digest>).
$(LLAMA_STAMP): qa_bot/models/prepare/llama_build.py | $(BIN)/python
	$(PYTHON) -P qa_bot/models/prepare/llama_build.py install --venv $(VENV) --wheels $(WHEELS) --cpu $(LLAMA_CPU)
	rm -f $(VENV)/.llama-*
	echo $(LLAMA_CPU) > $(VENV)/qa-bot-llama-cpu
	touch $@

$(STAMP): pyproject.toml $(LLAMA_STAMP)
	# The CPU build of torch first: letting pip choose pulls a multi-GB CUDA build.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

llama: | $(BIN)/python  ## install llama.cpp for LLAMA_CPU (auto, avx2, avx512...; kept for later runs), compiling it once
	rm -f $(VENV)/.llama-*
	$(MAKE) $(LLAMA_STAMP) LLAMA_CPU=$(LLAMA_CPU)

setup: $(STAMP)  ## install, then prepare the default models (once, with progress)
	$(BIN)/qa-bot setup

run: setup  ## ingest corpus/ and open the chat on http://127.0.0.1:7860
	$(BIN)/qa-bot ingest corpus
	$(BIN)/qa-bot serve

browser:  ## Debian's chromium for the browser tests (Playwright must not download its own)
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing chromium for the browser tests (about a minute)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: setup browser  ## the whole suite, slow end-to-end and browser tests included
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## the tests that need no real model (stand-ins from tests/fakes.py), in under a minute
	$(BIN)/python -m pytest -m "not slow and not models"

lint: $(STAMP)
	$(BIN)/ruff check qa_bot ingest ui tests benchmarks
	$(BIN)/ruff format --check qa_bot ingest ui tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format qa_bot ingest ui tests benchmarks
	$(BIN)/ruff check --fix qa_bot ingest ui tests benchmarks

bench: setup  ## ours against the plain LangChain setup, side by side (needs ../shared/data)
	# The plain setup's LangChain packages, without their dependency pins (langchain-huggingface
	# would pull an older huggingface-hub than sentence-transformers runs on here).
	$(BIN)/pip install --quiet --no-deps langchain-text-splitters==1.1.3 langchain-huggingface==1.2.3 langchain-chroma==1.1.0
	$(BIN)/python benchmarks/bench.py --indosum $(DATA)/indosum/corpus.jsonl
	# Wrong answers shown with a citation, ours and plain, on our real-news set and FacQA /
	# IDK-MRC valid (about an hour: the plain setup reads whole chunks).
	$(BIN)/python benchmarks/trust.py --data $(DATA) --limit 100

bench-scale: setup  ## ingest and retrieval cost at 10k-200k synthetic articles (hours; STEPS=1000,5000 for a quick run)
	$(BIN)/python benchmarks/scale.py --data $(DATA) $(if $(STEPS),--steps $(STEPS))

eval: setup  ## full evaluation on the valid splits (JSON + PNG in eval-results/)
	$(BIN)/qa-bot eval --corpus $(DATA)/facqa/corpus.jsonl --qa $(DATA)/facqa/qa.jsonl
	$(BIN)/qa-bot eval --corpus $(DATA)/tydiqa_id/corpus.jsonl --qa $(DATA)/tydiqa_id/qa.jsonl
	$(BIN)/qa-bot eval --corpus $(DATA)/idk_mrc/corpus.jsonl --qa $(DATA)/idk_mrc/qa.jsonl
	$(BIN)/qa-bot eval --corpus $(DATA)/indosum/corpus.jsonl --qa benchmarks/crosslingual/qa.jsonl

clean:
	rm -rf $(VENV) .pytest_cache
