"""The openai embedding backend: a real llama.cpp embedding server on loopback (the small Qwen GGUF, mean-pooled)
for ingest and retrieval through the CLIs; tiny local HTTP servers for its retries and errors."""

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import numpy as np
import pytest

from rag.backends.openai import EMBEDDING_BATCH, OpenAIEmbedder
from rag.corpus import load
from rag.embeddings import load_embedder
from rag.errors import UserError
from rag.settings import Settings
from rag.weights import small_llm_model

from conftest import SEED_FILE, free_port, one_error_line, run_module, serving_gguf

MEXA = "MEXA: Multilingual Evaluation of English-Centric LLMs via Cross-Lingual Alignment"


@pytest.fixture(scope="module")
def embedding_url(tmp_path_factory) -> Iterator[str]:
    with serving_gguf(small_llm_model(progress=False), tmp_path_factory.mktemp("server") / "stderr.log",
                      embedding=True) as url:
        yield url


@pytest.mark.real
def test_server_vectors_are_unit_length_batched_and_the_same_alone_or_in_a_batch(embedding_url):
    embedder = load_embedder(Settings(embedding_backend="openai", embedding_url=embedding_url))
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.name == f"openai:{embedder.model}" and embedder.model.endswith(".gguf")  # the one it serves
    texts = [f"pruning {i} percent of Llama" for i in range(70)]
    vectors = embedder.embed(texts)  # two requests: 64 and 6 texts
    assert len(texts) > EMBEDDING_BATCH and vectors.shape[0] == 70 and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    alone = embedder.embed([texts[69]])[0]
    assert float(alone @ vectors[69]) > 0.999
    assert float(vectors[0] @ vectors[69]) < 0.9999  # different texts, different vectors


@pytest.mark.real
def test_ingest_and_ask_through_the_embedding_server_and_the_index_keeps_its_embedder(embedding_url, tmp_path):
    seeds = load([SEED_FILE]).papers
    papers = [p for p in seeds if p.title == MEXA] + [p for p in seeds if p.title != MEXA][:2]
    corpus = tmp_path / "three.jsonl"
    corpus.write_text("".join(json.dumps({"title": p.title, "abstract": p.abstract}) + "\n" for p in papers))
    server = ["--embedding-backend", "openai", "--embedding-url", embedding_url]
    data = ["--data-dir", str(tmp_path / "data")]
    ingested = run_module("rag.ingest", str(corpus), *data, *server)
    assert ingested.returncode == 0, ingested.stderr
    asked = run_module("rag.ask", "--retrieval-only", "--json", "What is MEXA?", *data, *server)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["retrieved"][0]["title"] == MEXA
    local = one_error_line(run_module("rag.ask", "--retrieval-only", "What is MEXA?", *data))
    assert "was made with the embedder openai:" in local and "not local:" in local


@contextmanager
def http_server(statuses: list[int]) -> Iterator[tuple[str, list[int]]]:
    """An /embeddings server on loopback that answers with `statuses` in turn (the last one from then on):
    2-dimensional vectors on 200, an error body otherwise. Yields its base URL and the statuses it sent."""
    sent: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            texts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["input"]
            status = statuses[min(len(sent), len(statuses) - 1)]
            sent.append(status)
            body = ({"data": [{"index": i, "embedding": [3.0, 4.0]} for i in range(len(texts))]} if status == 200
                    else {"error": {"message": "model is loading"}})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", sent
    finally:
        server.shutdown()


def embedder_at(url: str) -> OpenAIEmbedder:
    return OpenAIEmbedder(Settings(embedding_backend="openai", embedding_url=url, embedding_server_model="m",
                                   request_timeout=5))


def test_a_busy_server_is_asked_again_and_its_vectors_are_made_unit_length():
    with http_server([503, 429, 200]) as (url, sent):
        vectors = embedder_at(url).embed(["a", "b"])
    assert sent == [503, 429, 200]
    assert np.allclose(vectors, [[0.6, 0.8], [0.6, 0.8]])


def test_a_failing_server_is_one_line_naming_it_after_bounded_retries():
    with http_server([500]) as (url, sent):
        with pytest.raises(UserError) as error:
            embedder_at(url).embed(["a"])
    assert sent == [500, 500, 500]
    assert str(error.value) == f"the embedding server at {url}/embeddings answered 500: model is loading"


def test_no_server_or_no_url_is_one_line():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(UserError) as error:
        embedder_at(url).embed(["a"])
    assert str(error.value) == f"cannot connect to the embedding server at {url}/embeddings: connection refused"
    with pytest.raises(UserError, match="the embedding server needs its URL: set RAG_EMBEDDING_URL or --embedding-url"):
        load_embedder(Settings(embedding_backend="openai"))
