"""The transformers and OpenAI-compatible backends, through the real pipeline (real embedder, real Chroma),
with a real small LLM: Qwen2.5-Coder-0.5B from the `test` extra. transformers runs it on the CPU (its GGUF
converted once into the cache); xllamacpp serves it over HTTP on loopback for the openai backend."""

import json
import re
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from rag.backends import Usage, load_llm
from rag.backends.openai import OpenAILLM
from rag.backends.transformers import TransformersLLM, converted
from rag.errors import UserError
from rag.weights import small_llm_model
from rag.pipeline import Answer, Pipeline, Token
from rag.settings import Settings

from conftest import SEEDS, free_port, run_module, serving_gguf

QUESTION = "How much higher throughput does FineQuant reach on the same number of GPUs?"
FINEQUANT = "FineQuant: Unlocking Efficiency with Fine-Grained Weight-Only Quantization for LLMs"
PRUNER = "LLM-Pruner: On the Structural Pruning of Large Language Models"
SPEECH = "Denoising LM: Pushing the Limits of Error Correction Models for Speech Recognition"
API_KEY = "test-key-4f1c"  # the server checks it: every request must carry it as a Bearer token
MAX_TOKENS = 64  # enough for the one-sentence answers; keeps the small model's answers quick


@pytest.fixture(scope="module")
def small_gguf() -> Path:
    return small_llm_model(progress=False)


@pytest.fixture(scope="module")
def server_url(small_gguf, tmp_path_factory) -> str:
    """Base URL (…/v1) of a real OpenAI-compatible server on loopback, stopped after the module."""
    with serving_gguf(small_gguf, tmp_path_factory.mktemp("server") / "stderr.log", API_KEY) as url:
        assert httpx.get(f"{url.removesuffix('/v1')}/health", timeout=10).json()["status"] == "ok"
        yield url


def backend_pipeline(real_pipeline: Pipeline, **settings) -> Pipeline:
    """The real retrieval of `real_pipeline` (same index, same embedder) with another LLM backend."""
    s = Settings(data_dir=real_pipeline.settings.data_dir, corpus=[SEEDS], max_answer_tokens=MAX_TOKENS, **settings)
    return Pipeline(s, embedder=real_pipeline.embedder, index=real_pipeline.index)


@pytest.fixture(scope="module")
def openai_pipeline(real_pipeline, server_url) -> Pipeline:
    pipeline = backend_pipeline(real_pipeline, backend="openai", openai_url=server_url, openai_api_key=API_KEY)
    pipeline.load_llm()
    return pipeline


@pytest.fixture(scope="module")
def transformers_pipeline(real_pipeline, small_gguf) -> Pipeline:
    pipeline = backend_pipeline(real_pipeline, backend="transformers", llm_model=small_gguf)
    pipeline.load_llm()  # the first run converts the GGUF into the cache (~1 min), later runs load the folder
    return pipeline


def judge_messages(topic: str, text: str) -> list[dict]:
    return [{"role": "user", "content": f"Text: {text}\n\nIs this text about {topic}? Answer yes or no."}]


def abstract(pipeline: Pipeline, title: str) -> str:
    paper = next(p for p in pipeline.retrieve(title, k=3).papers if p.title == title)
    return f"{title}. {paper.passages[0].text}"


def run_ask(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_module("rag.ask", *args, env=env)


def assert_cited_answer(answer: Answer, seed_titles: set[str]) -> None:
    cited = [c.title for c in answer.citations]
    assert not answer.abstained, answer.text
    assert FINEQUANT in cited and set(cited) <= seed_titles
    assert "3.65" in answer.text


# -- the openai backend, against the real server --------------------------------------------------------

def test_openai_backend_streams_an_answer_citing_corpus_titles(openai_pipeline, seed_titles):
    assert isinstance(openai_pipeline.llm, OpenAILLM)
    assert openai_pipeline.llm.model.endswith(".gguf")  # no model given: the one the server lists
    events = list(openai_pipeline.stream(QUESTION))
    tokens, answer = [e for e in events if isinstance(e, Token)], events[-1]
    assert len(tokens) > 3  # streamed piece by piece
    assert_cited_answer(answer, seed_titles)
    assert answer.timings.prompt_tokens > 100 and 0 < answer.timings.completion_tokens <= MAX_TOKENS


def test_openai_yes_probability_follows_the_text(openai_pipeline):
    llm, pruner = openai_pipeline.llm, abstract(openai_pipeline, PRUNER)
    on_topic = llm.yes_probability(judge_messages("pruning language models", pruner))
    off_topic = llm.yes_probability(judge_messages("cooking recipes", pruner))
    assert 0 <= off_topic < on_topic - 0.15 and on_topic <= 1


def test_openai_ask_cli_answers_with_a_cited_title(openai_pipeline, real_data_dir, server_url, seed_titles):
    result = run_ask("--json", QUESTION, "--data-dir", str(real_data_dir), "--backend", "openai",
                     "--openai-url", server_url, "--max-answer-tokens", str(MAX_TOKENS),
                     env={"RAG_OPENAI_API_KEY": API_KEY})
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    cited = [c["title"] for c in answer["citations"]]
    assert FINEQUANT in cited and set(cited) <= seed_titles and not answer["abstained"]


def test_chat_answers_through_the_openai_backend(openai_pipeline):
    from ui.app import ChatService

    service = ChatService(openai_pipeline)
    service.start_warm_up().join()
    assert "Ready" in service.status()
    started = service.start(QUESTION, 5, False, [], [], False)
    outputs = list(service.answer(started.pending, started.chat, []))
    streamed = [o.chat[-1]["content"] for o in outputs if not o.chat[-1]["content"].startswith("_")]
    final = streamed[-1]
    assert len(streamed) > 3  # token by token, then the final message
    assert "3.65" in final and "**Sources**" in final and "FineQuant" in final


# -- clear one-line errors ------------------------------------------------------------------------------

def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_connection_refused_names_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(UserError) as error:
        load_llm(Settings(backend="openai", openai_url=url))  # asks the server for its model at once
    assert one_line(error) == f"cannot connect to the LLM server at {url}/models: connection refused"
    llm = OpenAILLM(Settings(backend="openai", openai_url=url, openai_model="m"))  # no request yet
    with pytest.raises(UserError, match=f"cannot connect to the LLM server at {url}/chat/completions"):
        list(llm.stream([{"role": "user", "content": "hi"}], 5, Usage()))


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        llm = OpenAILLM(Settings(backend="openai", openai_url=url, openai_model="m", request_timeout=0.5))
        start = time.perf_counter()
        with pytest.raises(UserError) as error:
            llm.yes_probability([{"role": "user", "content": "hi"}])
        assert time.perf_counter() - start < 5
    assert one_line(error) == f"the LLM server at {url}/chat/completions did not answer within 0.5 s (request_timeout)"


def test_non_200_answers_give_the_status_and_the_servers_message(server_url):
    wrong_path = OpenAILLM(Settings(backend="openai", openai_url=server_url.replace("/v1", "/nope"),
                                    openai_api_key=API_KEY, openai_model="m"))
    with pytest.raises(UserError) as error:
        list(wrong_path.stream([{"role": "user", "content": "hi"}], 5, Usage()))
    assert one_line(error) == (f"the LLM server at {wrong_path.url} answered 404: File Not Found")
    with pytest.raises(UserError) as error:
        load_llm(Settings(backend="openai", openai_url=server_url, openai_api_key="wrong-key"))
    assert one_line(error) == f"the LLM server at {server_url}/models answered 401: Invalid API Key"


@contextmanager
def answering_server(status: int, content_type: str, body: bytes) -> Iterator[str]:
    """A tiny real HTTP server on loopback giving every POST the same answer; yields its …/v1 URL."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Fixed(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Fixed) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/v1"
        finally:
            server.shutdown()


def test_an_error_page_body_is_shortened_to_one_line():
    page = b"<html>\n<body>Internal   error\n" + b"x" * 1000 + b"</body></html>"
    with answering_server(500, "text/html", page) as url:
        llm = OpenAILLM(Settings(backend="openai", openai_url=url, openai_model="m", request_timeout=10))
        with pytest.raises(UserError) as error:
            llm.yes_probability([{"role": "user", "content": "hi"}])
    message = one_line(error)
    assert message.startswith(f"the LLM server at {url}/chat/completions answered 500: <html> <body>Internal error x")
    assert message.endswith("…") and len(message) < 320


@pytest.mark.parametrize("content_type, body, message", [
    ("application/json", b'{"choices": []}', "did not stream its answer (content-type 'application/json')"),
    ("text/event-stream", b"data: {not json\n\n", "sent a malformed event: '{not json'"),
])
def test_a_broken_stream_is_one_line(content_type, body, message):
    with answering_server(200, content_type, body) as url:
        llm = OpenAILLM(Settings(backend="openai", openai_url=url, openai_model="m", request_timeout=10))
        with pytest.raises(UserError) as error:
            list(llm.stream([{"role": "user", "content": "hi"}], 5, Usage()))
    assert one_line(error) == f"the LLM server at {url}/chat/completions {message}" + (
        "; is it OpenAI-compatible?" if "stream its" in message else "")


def test_openai_backend_without_url_or_with_a_bad_one_is_a_user_error():
    with pytest.raises(UserError, match="the LLM server needs its URL: set RAG_OPENAI_URL"):
        load_llm(Settings(backend="openai"))
    with pytest.raises(UserError, match="openai_url must start with http:// or https://"):
        load_llm(Settings(backend="openai", openai_url="127.0.0.1:8080/v1"))


def test_cli_turns_a_refused_connection_into_one_error_line(real_data_dir):
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = run_ask("what is MEXA?", "--data-dir", str(real_data_dir), "--backend", "openai", "--openai-url", url)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: cannot connect to the LLM server at {url}/models: connection refused"


def test_api_key_is_never_shown():
    settings = Settings(backend="openai", openai_url="http://127.0.0.1:1/v1", openai_api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings.model_dump())
    assert settings.openai_api_key.get_secret_value() == "sk-very-secret"


# -- the transformers backend, on the CPU ---------------------------------------------------------------

def test_transformers_backend_answers_with_a_real_citation(transformers_pipeline, seed_titles):
    assert isinstance(transformers_pipeline.llm, TransformersLLM)
    events = list(transformers_pipeline.stream(QUESTION))
    tokens, answer = [e for e in events if isinstance(e, Token)], events[-1]
    assert len(tokens) > 3
    assert_cited_answer(answer, seed_titles)
    assert answer.timings.prompt_tokens > 100 and 0 < answer.timings.completion_tokens <= MAX_TOKENS


def test_transformers_yes_probability_follows_the_text(transformers_pipeline):
    llm = transformers_pipeline.llm
    pruner, speech = abstract(transformers_pipeline, PRUNER), abstract(transformers_pipeline, SPEECH)
    topic = "pruning language models"
    relevant, irrelevant = llm.yes_probability(judge_messages(topic, pruner)), llm.yes_probability(
        judge_messages(topic, speech))
    assert 0 <= irrelevant < relevant - 0.1 and relevant <= 1


def test_both_backends_give_the_same_model_the_same_yes_probability(transformers_pipeline, openai_pipeline):
    """Same weights, and each applies the same chat template (transformers its tokenizer's, the server the
    GGUF's): the probabilities agree up to numerics."""
    messages = judge_messages("speech recognition", abstract(transformers_pipeline, SPEECH))
    assert transformers_pipeline.llm.yes_probability(messages) == pytest.approx(
        openai_pipeline.llm.yes_probability(messages), abs=0.08)


def test_both_backends_report_the_first_tokens_alternatives_and_continue_a_started_reply(transformers_pipeline,
                                                                                          openai_pipeline):
    """What an unsure refusal needs of a runtime: the first token's probabilities, and a reply that goes on from
    the start it was given (prompts.ANSWER_PREFILL)."""
    messages = [{"role": "user", "content": "Name one primary colour."},
                {"role": "assistant", "content": "The primary colour I name is"}]
    for pipeline in (transformers_pipeline, openai_pipeline):
        usage = Usage()
        reply = "".join(pipeline.llm.stream(messages, 6, usage))
        assert reply.split()[0].strip(".").casefold() in {"red", "blue", "yellow"}, reply  # continued, not anew
        (token, p), *others = usage.first_token_top
        assert reply.startswith(token) and 0 < p <= 1 and others and all(q <= p for _, q in others)


def test_transformers_ask_cli_loads_the_converted_folder(transformers_pipeline, small_gguf, real_data_dir,
                                                         seed_titles):
    folder = converted(small_gguf)  # done by the fixture already: the cached folder
    assert (folder / "config.json").is_file() and not list(folder.parent.glob(f"{folder.name}.partial-*"))
    result = run_ask("--json", QUESTION, "--data-dir", str(real_data_dir), "--backend", "transformers",
                     "--llm-model", str(folder), "--max-answer-tokens", str(MAX_TOKENS))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    cited = [c["title"] for c in answer["citations"]]
    assert FINEQUANT in cited and set(cited) <= seed_titles and not answer["abstained"]


def test_a_file_that_is_not_a_gguf_is_a_clear_error_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(UserError) as error:
        load_llm(Settings(backend="transformers", llm_model=bad))
    assert one_line(error).startswith(f"cannot convert {bad} for transformers: ")
    assert list((tmp_path / "cache" / "papers-rag" / "hf").iterdir()) == []  # no folder, no partial one


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match=re.escape(f"LLM model not found: {tmp_path / 'nope'}")):
        load_llm(Settings(backend="transformers", llm_model=tmp_path / "nope"))


def test_a_conversion_of_another_file_of_the_same_name_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    stale = tmp_path / "cache" / "papers-rag" / "hf" / "model"
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{}")  # converted from some other model.gguf
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(UserError, match="cannot convert"):
        converted(bad)


def test_llamacpp_starts_from_the_answer_prompts_saved_prefix(small_gguf, monkeypatch, tmp_path):
    from rag.backends.llamacpp import LlamaCppLLM, prefix_dir
    from rag.evidence import build_messages
    from conftest import source

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no prefix saved yet
    settings = Settings(llm_model=small_gguf, n_ctx=1024)
    LlamaCppLLM(settings)  # computes the prefix and saves it
    assert len(list(prefix_dir().glob("*.bin"))) == 1
    actions = []
    slot_action = LlamaCppLLM._slot_action
    monkeypatch.setattr(LlamaCppLLM, "_slot_action",
                        lambda self, action, name: actions.append((action, slot_action(self, action, name))) or
                        actions[-1][1])
    fresh = LlamaCppLLM(settings)  # a new llama.cpp context: its cache holds only what it restored
    assert actions == [("restore", True)]  # not computed and saved again
    usage = Usage()
    messages = build_messages("What is FineQuant?", [source(FINEQUANT, "FineQuant is a weight-only quantizer.")])
    "".join(fresh.stream(messages, 4, usage))
    assert usage.cached_tokens >= 50, usage  # the system message (~80 tokens) was not read again
