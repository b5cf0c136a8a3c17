"""Any OpenAI-compatible server (vLLM, llama.cpp's llama-server, OpenAI…) over HTTP: the server applies
its own chat template; its /embeddings endpoint can embed passages and questions too. Plain httpx: three endpoints
do not need the openai SDK."""

from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from typing import Iterator

import httpx
import numpy as np
from pydantic import SecretStr

from rag.backends.base import Usage, chunk_text, reply_yes_share, stream_request, yes_no_request
from rag.errors import UserError
from rag.settings import Settings


class OpenAIServer:
    """The HTTP side of an OpenAI-compatible server: its base URL, a key, bounded waits, and every failure as one
    line naming the URL and what the server is for ("LLM server", "embedding server")."""

    def __init__(self, url: str | None, api_key: SecretStr | None, timeout: float, role: str, url_setting: str,
                 model_setting: str):
        base = (url or "").rstrip("/")
        if not base:
            flag = url_setting.replace("_", "-")
            raise UserError(f"the {role} needs its URL: set RAG_{url_setting.upper()} or --{flag} "
                            "(e.g. http://127.0.0.1:8080/v1)")
        if not base.startswith(("http://", "https://")):
            raise UserError(f"{url_setting} must start with http:// or https:// (got {base!r})")
        self.base, self.role, self.timeout, self.model_setting = base, role, timeout, model_setting
        headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"} if api_key else {}
        # Every wait is bounded: a server that stops answering is an error, never a hang.
        self.client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10)))

    def served_model(self) -> str:
        """No model name given: the server's first (for llama-server or vLLM, its only) model."""
        url = f"{self.base}/models"
        with self.errors(url):
            response = self.client.get(url)
        self.check(response, url)
        try:
            return response.json()["data"][0]["id"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise UserError(f"the {self.role} at {url} lists no model; set RAG_{self.model_setting.upper()}") from None

    @contextmanager
    def errors(self, url: str) -> Iterator[None]:
        """Network failures as one line naming the URL."""
        try:
            yield
        except httpx.TimeoutException:
            raise UserError(f"the {self.role} at {url} did not answer within {self.timeout:g} s "
                            "(request_timeout)") from None
        except httpx.ConnectError as e:
            raise UserError(f"cannot connect to the {self.role} at {url}: {_reason(e)}") from None
        except httpx.HTTPError as e:
            raise UserError(f"the {self.role} at {url} failed: {_reason(e)}") from None

    def check(self, response: httpx.Response, url: str) -> None:
        if response.status_code != 200:
            response.read()  # a streamed response's body is not read yet
            raise UserError(f"the {self.role} at {url} answered {response.status_code}: {_message(response)}")


class OpenAILLM:
    def __init__(self, settings: Settings):
        self.server = OpenAIServer(settings.openai_url, settings.openai_api_key, settings.request_timeout,
                                   "LLM server", "openai_url", "openai_model")
        self.url = f"{self.server.base}/chat/completions"
        self.temperature = settings.temperature
        self.model = settings.openai_model or self.server.served_model()

    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]:
        request = {"model": self.model, **stream_request(messages, max_tokens, self.temperature)}
        with self.server.errors(self.url), self.server.client.stream("POST", self.url, json=request) as response:
            self.server.check(response, self.url)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise UserError(f"the LLM server at {self.url} did not stream its answer (content-type "
                                f"{response.headers.get('content-type')!r}); is it OpenAI-compatible?")
            for line in response.iter_lines():  # server-sent events: "data: {json}" lines, then "data: [DONE]"
                if not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise UserError(f"the LLM server at {self.url} sent a malformed event: {data[:80]!r}") from None
                if "error" in chunk:
                    raise UserError(f"the LLM server at {self.url} failed: {_message(chunk)}")
                yield from chunk_text(chunk, usage)

    def yes_probability(self, messages: list[dict]) -> float:
        with self.server.errors(self.url):
            response = self.server.client.post(self.url, json={"model": self.model, **yes_no_request(messages)})
        self.server.check(response, self.url)
        try:
            return reply_yes_share(response.json())
        except (ValueError, KeyError, IndexError, TypeError):
            raise UserError(f"the LLM server at {self.url} sent no top_logprobs; it must support "
                            "\"logprobs\" and \"top_logprobs\" in chat completions") from None


def _reason(error: Exception) -> str:
    """'[Errno 111] Connection refused' -> 'connection refused'."""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(error).strip()) or type(error).__name__
    return text[0].lower() + text[1:]


def _message(body: httpx.Response | dict, limit: int = 200) -> str:
    """The server's error message (OpenAI style {"error": {"message": ...}}) or the start of the body, on one line."""
    try:
        data = body if isinstance(body, dict) else body.json()
        error = data.get("error") or data.get("detail") or data
        text = error.get("message", error) if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        text = body.text
    text = " ".join(str(text).split()) or "(empty body)"
    return text if len(text) <= limit else text[:limit] + "…"


# Waits before a batch is sent again when the server is unreachable, busy (429) or failing (5xx): a restarting
# server gets two more chances, a dead one still fails within seconds.
RETRY_WAITS = (0.5, 1.0)
EMBEDDING_BATCH = 64  # texts per request
_TRANSIENT = {429, 500, 502, 503, 504}


class OpenAIEmbedder:
    """Vectors from an OpenAI-compatible /embeddings endpoint (llama.cpp's llama-server --embedding, vLLM,
    text-embeddings-inference, Ollama, OpenAI): batched, retried, made unit-length like the local ones."""

    def __init__(self, settings: Settings):
        self.server = OpenAIServer(settings.embedding_url, settings.embedding_api_key, settings.request_timeout,
                                   "embedding server", "embedding_url", "embedding_server_model")
        self.url = f"{self.server.base}/embeddings"
        self.model = settings.embedding_server_model or self.server.served_model()
        self.name = f"openai:{self.model}"

    def embed(self, texts: list[str]) -> np.ndarray:
        parts = [self._embed_batch(texts[i:i + EMBEDDING_BATCH]) for i in range(0, len(texts), EMBEDDING_BATCH)]
        vectors = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        for wait in (*RETRY_WAITS, None):  # None: the last attempt
            try:
                with self.server.errors(self.url):
                    response = self.server.client.post(self.url, json={"model": self.model, "input": batch})
                if response.status_code not in _TRANSIENT or wait is None:
                    break
            except UserError:
                if wait is None:
                    raise
            time.sleep(wait)
        self.server.check(response, self.url)
        try:
            rows = sorted(response.json()["data"], key=lambda row: row["index"])
            vectors = np.array([row["embedding"] for row in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError):
            raise UserError(f"the embedding server at {self.url} sent no embeddings; is it OpenAI-compatible?") from None
        if vectors.ndim != 2 or len(vectors) != len(batch):
            raise UserError(f"the embedding server at {self.url} sent {len(vectors)} vectors for {len(batch)} texts "
                            "(one pooled vector per text is needed)")
        return vectors
