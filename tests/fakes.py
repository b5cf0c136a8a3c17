"""Deterministic stand-ins for the embedder and the LLM: no model, no network, the same output every run."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from rag.backends import Usage


class FakeEmbedder:
    """Hashed bag of words: similar wording gives similar vectors, with no model at all."""

    name = "fake"
    dim = 256

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


class FakeLLM:
    """Replies with a fixed text, or by default quotes the first sentence of the first excerpt and cites it;
    judges a paper a match when it shares a word with the request. Records the prompts it saw."""

    def __init__(self, reply: str | None = None):
        self.reply = reply
        self.calls: list[list[dict]] = []
        self.first_token_top: list[tuple[str, float]] = []  # reported as llama.cpp's logprobs are, when set

    def stream(self, messages, max_tokens, usage: Usage):
        self.calls.append(messages)
        usage.prompt_tokens = sum(len(m["content"]) // 4 for m in messages)
        usage.first_token_top = usage.first_token_top or list(self.first_token_top)
        reply = self.reply
        if reply is None:  # the first excerpt, whatever its number ([2] for a choice question's second option)
            number, text = re.search(r"^\[(\d+)\] .*\n(.*)", messages[-1]["content"], re.MULTILINE).groups()
            reply = text.split(". ")[0].rstrip(".") + f" [{number}]."
        for word in re.findall(r"\S+\s*", reply):
            usage.completion_tokens += 1
            yield word

    def yes_probability(self, messages) -> float:
        self.calls.append(messages)
        request, paper = messages[-1]["content"].split("\n\nPaper: ", 1)
        words = lambda text: set(re.findall(r"[a-z]{5,}", text.lower()))  # noqa: E731
        return 1.0 if words(request) & words(paper.split("\n\nDoes")[0]) else 0.0


class ScriptedLLM(FakeLLM):
    """Replies with the next scripted text on each call and records max_tokens."""

    def __init__(self, *replies: str):
        super().__init__()
        self.replies = list(replies)
        self.max_tokens: list[int] = []

    def stream(self, messages, max_tokens, usage):
        self.max_tokens.append(max_tokens)
        self.reply = self.replies.pop(0)
        yield from super().stream(messages, max_tokens, usage)
