"""Deterministic fakes for the embedder and the LLM, so most tests run offline in seconds.
Tests marked by the `real_pipeline` fixture use the real models and a real Chroma instead."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from rag.backends import Usage
from rag.corpus import load
from rag.index import Index
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings

SEEDS = PROJECT_ROOT / "seeds"
SEED_FILE = next(SEEDS.glob("*.txt"))


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
    """Replies with a fixed text (default: a claim citing source 1) and records the prompts it saw."""

    def __init__(self, reply: str = "The first source answers it [1]."):
        self.reply = reply
        self.calls: list[list[dict]] = []

    def stream(self, messages, max_tokens, usage: Usage):
        self.calls.append(messages)
        usage.prompt_tokens = sum(len(m["content"]) // 4 for m in messages)
        for word in re.findall(r"\S+\s*", self.reply):
            usage.completion_tokens += 1
            yield word


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", corpus=[SEEDS])


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def fake_pipeline(settings: Settings, fake_llm: FakeLLM) -> Pipeline:
    pipeline = Pipeline(settings, llm=fake_llm, embedder=FakeEmbedder(), index=Index(settings))
    pipeline.ensure_index(progress=False)
    return pipeline


@pytest.fixture(scope="session")
def seed_titles() -> set[str]:
    return {p.title for p in load([SEEDS]).papers}


@pytest.fixture(scope="session")
def real_data_dir(tmp_path_factory) -> Path:
    """One real index of the seed corpus (real embedder, real Chroma) shared by the slow tests."""
    return tmp_path_factory.mktemp("real") / "data"


@pytest.fixture(scope="session")
def real_pipeline(real_data_dir: Path) -> Pipeline:
    pipeline = Pipeline(Settings(data_dir=real_data_dir, corpus=[SEEDS]))
    pipeline.ensure_index(progress=False)
    return pipeline
