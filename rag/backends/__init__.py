"""LLM runtimes behind one small interface; one module per backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

from rag.settings import Settings


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


class LLM(Protocol):
    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]:
        """Yield the reply's text pieces for OpenAI-style messages; fill `usage` when done."""
        ...


def load_llm(settings: Settings) -> LLM:
    if settings.backend == "llamacpp":
        from rag.backends.llamacpp import LlamaCppLLM

        return LlamaCppLLM(settings)
    raise ValueError(f"unknown backend {settings.backend!r}")
