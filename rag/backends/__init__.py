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

    def yes_probability(self, messages: list[dict]) -> float:
        """P(yes) / (P(yes) + P(no)) for the first token of the reply to a yes/no question."""
        ...


YES, NO = "yes", "no"


def yes_share(top_logprobs: list[tuple[str, float]]) -> float:
    """From the first token's top (token, logprob) pairs: the share of 'yes' among yes and no."""
    import math

    words = [(token.strip().casefold(), math.exp(logprob)) for token, logprob in top_logprobs]
    yes = sum(p for word, p in words if word == YES)
    no = sum(p for word, p in words if word == NO)
    return yes / (yes + no) if yes + no else 0.0


def load_llm(settings: Settings) -> LLM:
    # Imported on demand: each backend pulls in its own heavy runtime.
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
