# One command each for the loop. `make run` sets everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WHEELS ?= $(HOME)/.cache/qa-bot/wheels
LLAMA := llama-cpp-python==0.3.36
STAMP := $(VENV)/.installed

.PHONY: setup browser run test test-fast lint format bench eval clean
DATA ?= ../shared/data

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: letting pip choose pulls a multi-GB CUDA build.
	$(BIN)/pip install torch==2.13.0
	# llama-cpp-python has no wheel that loads here: compile it once and keep the wheel.
	@mkdir -p $(WHEELS)
	@ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || { \
	  echo "Compiling $(LLAMA) once (7-17 minutes on 2 cores); the wheel is kept in $(WHEELS)"; \
	  CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip wheel --no-deps -w $(WHEELS) $(LLAMA); }
	$(BIN)/pip install --find-links $(WHEELS) -e '.[dev]'
	touch $(STAMP)

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

test-fast: setup  ## everything but the tests that run the LLM
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check qa_bot ingest ui tests benchmarks
	$(BIN)/ruff format --check qa_bot ingest ui tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format qa_bot ingest ui tests benchmarks
	$(BIN)/ruff check --fix qa_bot ingest ui tests benchmarks

bench: setup  ## ours against the plain LangChain setup, side by side (needs ../shared/data)
	# The plain setup's LangChain packages, without their dependency pins (langchain-huggingface
	# would pull an older huggingface-hub than sentence-transformers runs on here).
	$(BIN)/pip install --quiet --no-deps langchain-text-splitters==1.1.3 langchain-huggingface==1.2.3 langchain-chroma==1.1.0
	$(BIN)/python benchmarks/bench.py --indosum $(DATA)/indosum/corpus.jsonl

eval: setup  ## full evaluation on the valid splits (JSON + PNG in eval-results/)
	$(BIN)/qa-bot eval --corpus $(DATA)/facqa/corpus.jsonl --qa $(DATA)/facqa/qa.jsonl
	$(BIN)/qa-bot eval --corpus $(DATA)/tydiqa_id/corpus.jsonl --qa $(DATA)/tydiqa_id/qa.jsonl
	$(BIN)/qa-bot eval --corpus $(DATA)/idk_mrc/corpus.jsonl --qa $(DATA)/idk_mrc/qa.jsonl
	$(BIN)/qa-bot eval --corpus $(DATA)/indosum/corpus.jsonl --qa benchmarks/crosslingual/qa.jsonl

clean:
	rm -rf $(VENV) .pytest_cache
