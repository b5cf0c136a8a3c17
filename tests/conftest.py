"""Fixtures and helpers; the deterministic fake embedder and LLM (`fakes.py`) let most tests run offline in seconds.
Tests that use the real models (the `real_pipeline` fixture, or a module of REAL_MODULES) are marked `real`:
`make test-fast` leaves them out for the edit loop; `make test` runs everything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rag.corpus import load
from rag.index import Index
from rag.pipeline import Pipeline
from rag.retrieve import Passage, RetrievedPaper
from rag.settings import PROJECT_ROOT, Settings

from fakes import FakeEmbedder, FakeLLM

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
