"""llama.cpp in-process through xllamacpp: the default CPU backend."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import urllib.request
from pathlib import Path
from typing import Iterator

from rag.backends.base import Usage, chunk_text, reply_yes_share, stream_request, yes_no_request
from rag.errors import UserError
from rag.prompts import SYSTEM
from rag.settings import Settings
from rag.weights import cache_dir, default_llm_model

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
        params.fit_params = False  # sizing layers to free GPU memory: 0.5 s of a 1.8 s load, and no GPU here
        params.slot_save_path = f"{prefix_dir()}/"  # llama.cpp appends the file name as is
        self.temperature = settings.temperature
        try:
            self.server = xllamacpp.Server(params)
        except RuntimeError:
            raise UserError(f"cannot load the LLM model file {path}: not a valid GGUF model, or too large "
                            f"for n_ctx={settings.n_ctx}") from None
        self.lock = threading.Lock()  # one generation at a time on the one model
        self.keep_prefix(path, SYSTEM)

    def keep_prefix(self, model: Path, system: str) -> None:
        """Start with the KV cache of prompts that begin with `system` (the answer prompt's): read from the file a
        previous process saved (~1 ms), else computed now and saved. Every answer reuses it, and a cold start
        then skips the ~1 s of reading it (make bench-cold). llama.cpp reuses only the tokens that match."""
        info = model.stat()
        key = hashlib.sha256(f"{model.resolve()}|{info.st_size}|{info.st_mtime_ns}|{system}".encode()).hexdigest()
        name = f"{model.stem}-{key[:16]}.bin"
        if (prefix_dir() / name).is_file() and self._slot_action("restore", name):
            return
        self.server.handle_chat_completions({"messages": [{"role": "system", "content": system},
                                                          {"role": "user", "content": ""}], "max_tokens": 1})
        self._slot_action("save", name)

    def _slot_action(self, action: str, filename: str) -> bool:
        """llama.cpp's slot save/restore, which xllamacpp serves only over its loopback HTTP endpoint."""
        request = urllib.request.Request(f"{self.server.listening_address}/slots/0?action={action}",
                                         data=json.dumps({"filename": filename}).encode(),
                                         headers={"Content-Type": "application/json"})
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
        try:
            with direct.open(request, timeout=10):
                return True
        except Exception:  # a cache: without it, the prefix is only computed again
            return False

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


def prefix_dir() -> Path:
    """Where llama.cpp's saved prompt prefixes live (a few MB each); a folder that cannot be made only means that
    nothing is saved there."""
    folder = cache_dir() / "llm-prefix"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    return folder
