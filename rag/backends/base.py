"""What every LLM runtime shares: the interface, token usage, and reading OpenAI-format replies (llama.cpp
in-process and OpenAI-compatible servers both speak it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Protocol


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    # the first reply token's likeliest alternatives with their probabilities, when the runtime reports them
    first_token_top: list[tuple[str, float]] = field(default_factory=list)


class LLM(Protocol):
    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]:
        """Yield the reply's text pieces for OpenAI-style messages; fill `usage` when done."""
        ...

    def yes_probability(self, messages: list[dict]) -> float:
        """P(yes) / (P(yes) + P(no)) for the first token of the reply to a yes/no question."""
        ...


YES, NO = "yes", "no"
TOP_LOGPROBS = 10


def stream_request(messages: list[dict], max_tokens: int, temperature: float) -> dict:
    """A streamed chat completion that reports each token's top alternatives, so that the first one's are in
    `Usage.first_token_top` (llama.cpp, an answer prompt, one run: 13.0-13.2 tokens/s with them, 13.3-13.5 without)."""
    return {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "stream": True,
            "stream_options": {"include_usage": True}, "logprobs": True, "top_logprobs": TOP_LOGPROBS}


def yes_no_request(messages: list[dict]) -> dict:
    """One token, with the top alternatives' log-probabilities: enough to read P(yes)."""
    return {"messages": messages, "max_tokens": 1, "temperature": 0, "logprobs": True, "top_logprobs": TOP_LOGPROBS}


def chunk_text(chunk: dict, usage: Usage) -> Iterator[str]:
    """The text pieces of one streamed chat-completion chunk; its usage, when it carries one, goes to `usage`."""
    if chunk.get("usage"):
        usage.prompt_tokens = chunk["usage"].get("prompt_tokens") or 0
        usage.completion_tokens = chunk["usage"].get("completion_tokens") or 0
        usage.cached_tokens = (chunk["usage"].get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    for choice in chunk.get("choices") or []:
        if not usage.first_token_top and (tokens := (choice.get("logprobs") or {}).get("content")):
            usage.first_token_top = probabilities(tokens[0].get("top_logprobs") or [])
        if text := (choice.get("delta") or {}).get("content"):
            yield text


def reply_yes_share(reply: dict) -> float:
    """P(yes) among yes and no, from the first token's top log-probabilities of a `yes_no_request` reply.
    Raises KeyError, IndexError or TypeError when the reply carries none."""
    top = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    return yes_share(probabilities(top))


def probabilities(top_logprobs: list[dict]) -> list[tuple[str, float]]:
    """(token, probability) of OpenAI-format top_logprobs entries."""
    return [(t["token"], math.exp(t["logprob"])) for t in top_logprobs]


def yes_share(top: list[tuple[str, float]]) -> float:
    """From the first token's likeliest (token, probability) pairs: the share of 'yes' among yes and no."""
    words = [(token.strip().casefold(), p) for token, p in top]
    yes = sum(p for word, p in words if word == YES)
    no = sum(p for word, p in words if word == NO)
    return yes / (yes + no) if yes + no else 0.0
