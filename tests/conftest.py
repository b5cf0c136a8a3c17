"""Deterministic fakes for the embedder and the LLM, so most tests run offline in seconds.
Tests that use the real models (the `real_pipeline` fixture, or a module of REAL_MODULES) are marked `real`:
`make test-fast` leaves them out for the edit loop; `make test` runs everything."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.backends import Usage
from rag.corpus import load
from rag.index import Index
from rag.pipeline import Pipeline
from rag.retrieve import Passage, RetrievedPaper
from rag.settings import PROJECT_ROOT, Settings

REAL_MODULES = {"test_backends", "test_crash_resume", "test_embeddings", "test_real_llm", "test_remote_chroma",
                "test_ui_browser", "test_weights"}
SEEDS = PROJECT_ROOT / "seeds"
SEED_FILE = next(SEEDS.glob("*.txt"))


def make_paper(n: int, passages: int = 1) -> RetrievedPaper:
    """A retrieved paper 'Title n' with `passages` filler passages."""
    return RetrievedPaper(f"id{n}", f"Title {n}",
                          [Passage(f"c{n}{i}", f"passage {n}.{i} " * 10, i, 0.5, 0.1 / (i + 1)) for i in range(passages)])


def source(title: str, text: str) -> RetrievedPaper:
    """A retrieved paper with one passage of `text`."""
    return RetrievedPaper(title.casefold(), title, [Passage(title + "0", text, 0, 0.5, 0.1)])


def run_module(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m <args>` in the project folder, as a user would run it."""
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          timeout=timeout, env={**os.environ, **(env or {})})


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """A CLI's answer to a user mistake: exit code 2 and one `error:` line, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """Ask a server to stop, and kill it if it has not within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: free unless another process takes it meanwhile


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
    """Replies with a fixed text, or by default quotes the first sentence of excerpt 1 and cites it;
    judges a paper a match when it shares a word with the request. Records the prompts it saw."""

    def __init__(self, reply: str | None = None):
        self.reply = reply
        self.calls: list[list[dict]] = []

    def stream(self, messages, max_tokens, usage: Usage):
        self.calls.append(messages)
        usage.prompt_tokens = sum(len(m["content"]) // 4 for m in messages)
        reply = self.reply
        if reply is None:
            first = messages[-1]["content"].split("[1] ", 1)[1].split("\n")[1]
            reply = first.split(". ")[0].rstrip(".") + " [1]."
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


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__ in REAL_MODULES or {"real_pipeline", "real_data_dir"} & set(item.fixturenames):
            item.add_marker(pytest.mark.real)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", corpus=[SEEDS], min_score=0.0)  # fake similarities are low


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def fake_cli(monkeypatch, settings) -> list[str]:
    """The CLIs, wired to the fake embedder and LLM; returns the flags that point them at the test index."""
    from rag import ask, ingest

    llm = FakeLLM()
    monkeypatch.setattr(ask, "Pipeline", lambda s: Pipeline(s, llm=llm, embedder=FakeEmbedder()))
    monkeypatch.setattr(ingest, "Embedder", lambda path: FakeEmbedder())
    return ["--data-dir", str(settings.data_dir)]


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
