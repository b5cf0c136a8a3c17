"""Fixtures and helpers; the deterministic fake embedder and LLM (`fakes.py`) let most tests run offline in seconds.
Tests that use the real models (the `real_pipeline` fixture, or a module of REAL_MODULES) are marked `real`:
`make test-fast` leaves them out for the edit loop; `make test` runs everything."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from rag.corpus import load
from rag.index import Index
from rag.pipeline import Pipeline
from rag.retrieve import Passage, RetrievedPaper
from rag.settings import PROJECT_ROOT, Settings

from fakes import FakeEmbedder, FakeLLM

REAL_MODULES = {"test_backends", "test_crash_resume", "test_embeddings", "test_real_llm", "test_remote_chroma",
                "test_ui_browser", "test_weights", "test_embeddings_openai"}
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


# llama.cpp's server in a subprocess. One decode thread: two spin-waiting ones crawl (~1 token/s) when
# another process shares this 2-core CPU. Port 0: the OS picks a free port; the address is printed.
SERVE_GGUF = """
import sys, xllamacpp
model, api_key, embedding = sys.argv[1:]
params = xllamacpp.CommonParams()
params.model.path = model
params.hostnames = ["127.0.0.1"]
params.port = 0
params.api_keys = [api_key] if api_key else []
params.n_ctx = 4096
params.cpuparams.n_threads = 1
params.cpuparams_batch.n_threads = 2
params.verbosity = 0
if embedding == "embedding":
    params.embedding = True
    params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
server = xllamacpp.Server(params)
print(server.listening_address, flush=True)
sys.stdin.read()  # serves until the test closes stdin
"""


@contextlib.contextmanager
def serving_gguf(model: Path, log: Path, api_key: str = "", embedding: bool = False) -> Iterator[str]:
    """Base URL (…/v1) of a real OpenAI-compatible llama.cpp server on loopback, for the block; with
    `embedding`, it serves mean-pooled /embeddings instead of chat."""
    with log.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", SERVE_GGUF, str(model), api_key,
                                 "embedding" if embedding else "chat"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=PROJECT_ROOT)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        address = proc.stdout.readline().strip() if ready else ""
        assert address.startswith("http://127.0.0.1:"), f"server did not start: {log.read_text()[-2000:]}"
        yield f"{address}/v1"
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: free unless another process takes it meanwhile


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__ in REAL_MODULES or {"real_pipeline", "real_data_dir"} & set(item.fixturenames):
            item.add_marker(pytest.mark.real)


def fake_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, corpus=[SEEDS], min_score=0.0)  # fake similarities are low


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fake_settings(tmp_path / "data")


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def fake_cli(monkeypatch, settings) -> list[str]:
    """The CLIs, wired to the fake embedder and LLM; returns the flags that point them at the test index."""
    from rag import ask, ingest

    llm = FakeLLM()
    monkeypatch.setattr(ask, "Pipeline", lambda s: Pipeline(s, llm=llm, embedder=FakeEmbedder()))
    monkeypatch.setattr(ingest, "load_embedder", lambda settings: FakeEmbedder())
    return ["--data-dir", str(settings.data_dir)]


@pytest.fixture(scope="session")
def fake_index(tmp_path_factory) -> Path:
    """The seed corpus indexed once with the fake embedder (Chroma and BM25): each `fake_pipeline` starts from a
    copy of this data folder instead of ingesting again (~0.5 s a test)."""
    data_dir = tmp_path_factory.mktemp("fake-index") / "data"
    settings = fake_settings(data_dir)
    Pipeline(settings, llm=FakeLLM(), embedder=FakeEmbedder(), index=Index(settings)).ensure_index(progress=False)
    return data_dir


@pytest.fixture
def fake_pipeline(settings: Settings, fake_llm: FakeLLM, fake_index: Path) -> Pipeline:
    shutil.copytree(fake_index, settings.data_dir)
    pipeline = Pipeline(settings, llm=fake_llm, embedder=FakeEmbedder(), index=Index(settings))
    pipeline.ensure_index(progress=False)  # nothing to do: the copy is whole
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
