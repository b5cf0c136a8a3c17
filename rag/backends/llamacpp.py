"""llama.cpp in-process through xllamacpp: the default CPU backend."""

from __future__ import annotations

import queue
import threading
from typing import Iterator

from rag.backends.base import Usage, chunk_text, reply_yes_share, stream_request, yes_no_request
from rag.errors import UserError
from rag.weights import default_llm_model
from rag.settings import Settings

_DONE = object()


class LlamaCppLLM:
    def __init__(self, settings: Settings):
        import xllamacpp

        path = settings.llm_model or default_llm_model()
        if not path.is_file():
            raise UserError(f"LLM model file not found: {path}")
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = settings.n_ctx
        params.cpuparams.n_threads = settings.n_threads
        params.cpuparams_batch.n_threads = settings.n_threads
        params.cache_prompt = True  # the shared system prompt is prefilled once
        params.verbosity = 0  # llama.cpp is chatty on stderr otherwise
        self.temperature = settings.temperature
        try:
            self.server = xllamacpp.Server(params)
        except RuntimeError:
            raise UserError(f"cannot load the LLM model file {path}: not a valid GGUF model, or too large "
                            f"for n_ctx={settings.n_ctx}") from None
        self.lock = threading.Lock()  # one generation at a time on the one model

    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]:
        request = stream_request(messages, max_tokens, self.temperature)
        pieces: queue.Queue = queue.Queue()
        cancelled = threading.Event()

        def on_chunk(chunk: dict) -> bool:
            pieces.put(chunk)
            return cancelled.is_set()  # True asks llama.cpp to stop

        def run() -> None:
            try:
                with self.lock:
                    self.server.handle_chat_completions(request, on_chunk)
            except Exception as e:  # surfaced in the consumer's thread
                pieces.put(e)
            finally:
                pieces.put(_DONE)

        threading.Thread(target=run, daemon=True).start()
        try:
            while (chunk := pieces.get()) is not _DONE:
                if isinstance(chunk, Exception):
                    raise chunk
                if "error" in chunk:
                    raise RuntimeError(f"llama.cpp: {chunk['error']}")
                yield from chunk_text(chunk, usage)
        finally:
            cancelled.set()

    def yes_probability(self, messages: list[dict]) -> float:
        with self.lock:
            reply = self.server.handle_chat_completions(yes_no_request(messages))
        if "error" in reply:
            raise RuntimeError(f"llama.cpp: {reply['error']}")
        try:
            return reply_yes_share(reply)
        except (KeyError, IndexError, TypeError):
            raise RuntimeError("llama.cpp sent no top_logprobs for a yes/no judgement") from None
