"""Any OpenAI-compatible server (vLLM, llama.cpp's llama-server, OpenAI…) over HTTP: the server applies
its own chat template. Plain httpx: two endpoints do not need the openai SDK."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Iterator

import httpx

from rag.backends.base import Usage, chunk_text, reply_yes_share, stream_request, yes_no_request
from rag.errors import UserError
from rag.settings import Settings


class OpenAILLM:
    def __init__(self, settings: Settings):
        base = (settings.openai_url or "").rstrip("/")
        if not base:
            raise UserError("backend openai needs the server's URL: set RAG_OPENAI_URL or --openai-url "
                            "(e.g. http://127.0.0.1:8080/v1)")
        if not base.startswith(("http://", "https://")):
            raise UserError(f"openai_url must start with http:// or https:// (got {base!r})")
        self.base = base
        self.url = f"{base}/chat/completions"
        self.temperature = settings.temperature
        self.timeout = settings.request_timeout
        key = settings.openai_api_key
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        # Every wait is bounded: a server that stops answering is an error, never a hang.
        self.client = httpx.Client(headers=headers, timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10)))
        self.model = settings.openai_model or self._served_model()

    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]:
        request = {"model": self.model, **stream_request(messages, max_tokens, self.temperature)}
        with self._errors(self.url), self.client.stream("POST", self.url, json=request) as response:
            self._check(response, self.url)
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
        with self._errors(self.url):
            response = self.client.post(self.url, json={"model": self.model, **yes_no_request(messages)})
        self._check(response, self.url)
        try:
            return reply_yes_share(response.json())
        except (ValueError, KeyError, IndexError, TypeError):
            raise UserError(f"the LLM server at {self.url} sent no top_logprobs; it must support "
                            "\"logprobs\" and \"top_logprobs\" in chat completions") from None

    def _served_model(self) -> str:
        """No model name given: the server's first (for llama-server or vLLM, its only) model."""
        url = f"{self.base}/models"
        with self._errors(url):
            response = self.client.get(url)
        self._check(response, url)
        try:
            return response.json()["data"][0]["id"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise UserError(f"the LLM server at {url} lists no model; set RAG_OPENAI_MODEL") from None

    @contextmanager
    def _errors(self, url: str) -> Iterator[None]:
        """Network failures as one line naming the URL."""
        try:
            yield
        except httpx.TimeoutException:
            raise UserError(f"the LLM server at {url} did not answer within {self.timeout:g} s "
                            "(request_timeout)") from None
        except httpx.ConnectError as e:
            raise UserError(f"cannot connect to the LLM server at {url}: {_reason(e)}") from None
        except httpx.HTTPError as e:
            raise UserError(f"the LLM server at {url} failed: {_reason(e)}") from None

    @staticmethod
    def _check(response: httpx.Response, url: str) -> None:
        if response.status_code != 200:
            response.read()  # a streamed response's body is not read yet
            raise UserError(f"the LLM server at {url} answered {response.status_code}: {_message(response)}")


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
