"""First-use set-up, run by `make setup`: assemble the LLM file and index the seed corpus."""

from __future__ import annotations

from rag.cli import run_cli
from rag.weights import default_llm_model
from rag.pipeline import Pipeline
from rag.settings import Settings


def main() -> int:
    settings = Settings()
    if settings.llm_model is None:
        print(f"LLM: {default_llm_model()}")
    pipeline = Pipeline(settings)
    pipeline.ensure_index()
    print(f"index: {pipeline.index.count()} passages in {settings.chroma_url or settings.chroma_dir}")
    return 0


if __name__ == "__main__":
    run_cli(main)
