"""Hugging Face transformers: a local model folder, or a GGUF converted once into a cached folder.
CUDA when there is one, else the CPU (float32 there: bf16 prefilled 4-5x slower on our CPU)."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from rag.backends.base import TOP_LOGPROBS, Usage, yes_share
from rag.errors import UserError, first_line
from rag.weights import cache_dir, default_llm_model
from rag.settings import Settings

try:
    import torch
    from transformers import (AutoModelForCausalLM, AutoTokenizer, GgufConfig, LogitsProcessor,
                              LogitsProcessorList, StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer)
except ImportError as e:
    raise UserError(f"backend transformers needs its extra ({e.name or e} is missing): "
                    "pip install -e '.[transformers]'") from None

SOURCE_STAMP = "converted-from.txt"


class TransformersLLM:
    def __init__(self, settings: Settings):
        path = settings.llm_model or default_llm_model()
        if not path.exists():
            raise UserError(f"LLM model not found: {path}")
        folder = converted(path) if path.is_file() else path
        cuda = torch.cuda.is_available()
        self.device = torch.device("cuda" if cuda else "cpu")
        dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else torch.float32
        if not cuda:
            torch.set_num_threads(settings.n_threads)  # per process: the embedder shares these threads
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot load a transformers model from {folder}: {first_line(e)}") from None
        if not self.tokenizer.chat_template:
            raise UserError(f"the model in {folder} has no chat template")
        self.model.to(self.device).eval()
        self.temperature = settings.temperature
        self.lock = threading.Lock()  # one generation at a time on the one model

    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]:
        inputs = self._encode(messages)
        prompt_tokens = inputs["input_ids"].shape[1]
        usage.prompt_tokens = prompt_tokens
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancelled = threading.Event()
        sampling = {"do_sample": True, "temperature": self.temperature} if self.temperature > 0 else {
            "do_sample": False, "temperature": None, "top_p": None, "top_k": None}  # greedy, without warnings
        errors: list[Exception] = []

        def run() -> None:
            try:
                with self.lock, torch.inference_mode():
                    output = self.model.generate(**inputs, **sampling, max_new_tokens=max_tokens, streamer=streamer,
                                                 stopping_criteria=StoppingCriteriaList([_Until(cancelled)]),
                                                 logits_processor=LogitsProcessorList([_FirstTop(self, usage)]),
                                                 pad_token_id=self.tokenizer.pad_token_id)
                usage.completion_tokens = output.shape[1] - prompt_tokens
            except Exception as e:  # surfaced in the consumer's thread
                errors.append(e)
                streamer.end()  # unblocks the consumer

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            for text in streamer:
                if text:
                    yield text
            thread.join()  # usage is filled when generate returns
            if errors:
                raise errors[0]
        finally:
            cancelled.set()  # the consumer stopped early: generation stops at the next token
            thread.join()

    def yes_probability(self, messages: list[dict]) -> float:
        inputs = self._encode(messages)
        with self.lock, torch.inference_mode():
            logits = self.model(**inputs, logits_to_keep=1).logits[0, -1]  # the first reply token only
        return yes_share(self.top_tokens(logits))

    def top_tokens(self, logits) -> list[tuple[str, float]]:
        """The likeliest next tokens with their probabilities, from one position's logits."""
        top = torch.topk(torch.softmax(logits.float(), dim=-1), TOP_LOGPROBS)
        return [(self.tokenizer.decode([int(i)]), float(p)) for p, i in zip(top.values, top.indices)]

    def _encode(self, messages: list[dict]):
        # a last assistant message is the start of the reply, continued (as llama.cpp does)
        prefilled = messages[-1]["role"] == "assistant"
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=not prefilled,
                                                  continue_final_message=prefilled, tokenize=True,
                                                  return_dict=True, return_tensors="pt").to(self.device)


class _FirstTop(LogitsProcessor):
    """Records the first generated token's top alternatives in `usage`, as llama.cpp's logprobs report them."""

    def __init__(self, llm: TransformersLLM, usage: Usage):
        self.llm, self.usage = llm, usage

    def __call__(self, input_ids, scores):
        if not self.usage.first_token_top:
            self.usage.first_token_top = self.llm.top_tokens(scores[0])
        return scores


class _Until(StoppingCriteria):
    """Stops generation once `event` is set."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def converted(gguf: Path) -> Path:
    """The GGUF as a safetensors folder, converted once: loading a GGUF dequantizes every tensor (a minute or
    more), loading the folder takes seconds. Written to a temp folder then renamed, so an interrupted
    conversion is never used. The folder records which file it came from: another or a changed GGUF of the
    same name is converted again."""
    folder = cache_dir() / "hf" / gguf.stem
    info = gguf.stat()
    source = f"{gguf.resolve()} {info.st_size} {info.st_mtime_ns}"
    if (folder / SOURCE_STAMP).is_file() and (folder / SOURCE_STAMP).read_text() == source:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    print(f"converting {gguf.name} for transformers once, into {folder} (a minute or more)…", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix=f"{folder.name}.partial-", dir=folder.parent))
    try:
        location = {"pretrained_model_name_or_path": gguf.parent, "gguf_file": gguf.name, "local_files_only": True}
        try:
            tokenizer = AutoTokenizer.from_pretrained(**location)
            # dequantize=True: plain float32 weights, which can be saved (packed GGUF blocks cannot).
            model = AutoModelForCausalLM.from_pretrained(**location, dtype=torch.float32,
                                                         quantization_config=GgufConfig(dequantize=True))
        except ImportError as e:  # gguf or accelerate
            raise UserError(f"converting a GGUF needs the transformers extra ({first_line(e)}): "
                            "pip install -e '.[transformers]'") from None
        except Exception as e:  # not a GGUF, or not one transformers can read
            raise UserError(f"cannot convert {gguf} for transformers: {first_line(e)}") from None
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        except OSError as e:  # e.g. a full disk: the 1.5B model needs ~7 GB there
            raise UserError(f"cannot write the converted model into {folder.parent}: {e.strerror or e}") from None
        (tmp / SOURCE_STAMP).write_text(source)
        shutil.rmtree(folder, ignore_errors=True)  # converted from another or an older file
        try:
            tmp.rename(folder)
        except OSError:
            if not folder.is_dir():  # else another process converted it meanwhile
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
