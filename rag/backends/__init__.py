"""LLM runtimes behind one small interface (`base.py`); one module per backend, imported on demand: each pulls
in its own heavy runtime. `openai.py` also holds the embedding server's client (`rag.embeddings.load_embedder`)."""

from __future__ import annotations

from rag.backends.base import LLM, Usage
from rag.settings import Settings

__all__ = ["LLM", "Usage", "load_llm"]


def load_llm(settings: Settings) -> LLM:
    if settings.backend == "llamacpp":
        from rag.backends.llamacpp import LlamaCppLLM

        return LlamaCppLLM(settings)
    if settings.backend == "transformers":
        from rag.backends.transformers import TransformersLLM

        return TransformersLLM(settings)
    if settings.backend == "openai":
        from rag.backends.openai import OpenAILLM

        return OpenAILLM(settings)
    raise ValueError(f"unknown backend {settings.backend!r}")
