"""Through the real models: the shipped GGUF in llama.cpp, sentence-transformers and Chroma."""

import json
import subprocess
import sys

from conftest import PROJECT_ROOT

PRUNER = "LLM-Pruner: On the Structural Pruning of Large Language Models"


def test_ask_cli_cites_llm_pruner_and_only_corpus_titles(real_data_dir, real_pipeline, seed_titles):
    result = subprocess.run(
        [sys.executable, "-m", "rag.ask", "--json", "which papers prune Llama?", "--data-dir", str(real_data_dir)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    cited = [c["title"] for c in answer["citations"]]
    assert PRUNER in cited
    assert set(cited) <= seed_titles
    assert answer["timings"]["first_token_s"] > 0 and not answer["abstained"]


def test_real_llm_refuses_what_the_papers_do_not_say(real_pipeline):
    answer = real_pipeline.ask("What is the boiling point of water on Mars according to these papers?")
    assert answer.abstained and answer.citations == []
