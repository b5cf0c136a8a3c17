"""Reading OpenAI-format replies, shared by the llama.cpp and OpenAI-compatible backends."""

import math

import pytest

from rag.backends.base import Usage, chunk_text, reply_yes_share
from rag.grounding import refusal_probability


def test_a_streamed_chunk_gives_its_text_and_the_last_one_its_usage():
    usage = Usage()
    chunks = [{"choices": [{"delta": {"role": "assistant"}}]},
              {"choices": [{"delta": {"content": "180k"}}]},
              {"choices": [{"delta": {"content": " hours"}}, {"delta": None}]},
              {"choices": [], "usage": {"prompt_tokens": 387, "completion_tokens": 3,
                                        "prompt_tokens_details": {"cached_tokens": 120}}}]
    assert "".join(piece for chunk in chunks for piece in chunk_text(chunk, usage)) == "180k hours"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (387, 3, 120)
    list(chunk_text({"choices": None, "usage": {"prompt_tokens": 5, "prompt_tokens_details": None}}, usage))
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (5, 0, 0)


def test_the_first_streamed_tokens_alternatives_are_kept_with_their_probabilities():
    usage = Usage()
    def chunk(token, alternatives):
        top = [{"token": t, "logprob": math.log(p)} for t, p in alternatives]
        return {"choices": [{"delta": {"content": token}, "logprobs": {"content": [{"token": token,
                                                                                   "top_logprobs": top}]}}]}
    pieces = [chunk("I", [("I", 0.4), ("The", 0.35)]), chunk(" don't", [(" don't", 0.9)])]
    assert "".join(piece for c in pieces for piece in chunk_text(c, usage)) == "I don't"
    assert [t for t, _ in usage.first_token_top] == ["I", "The"]
    assert [p for _, p in usage.first_token_top] == pytest.approx([0.4, 0.35])
    assert refusal_probability(usage.first_token_top) == pytest.approx(0.4)


def test_the_yes_share_reads_the_first_tokens_alternatives():
    top = [{"token": " Yes", "logprob": math.log(0.6)}, {"token": "no", "logprob": math.log(0.2)},
           {"token": "Maybe", "logprob": math.log(0.2)}]
    reply = {"choices": [{"logprobs": {"content": [{"top_logprobs": top}]}}]}
    assert reply_yes_share(reply) == pytest.approx(0.75)
    with pytest.raises((KeyError, TypeError)):
        reply_yes_share({"choices": [{"logprobs": None}]})


def test_a_llamacpp_reply_without_logprobs_is_one_clear_error():
    import threading
    from types import SimpleNamespace

    from rag.backends.llamacpp import LlamaCppLLM

    llm = LlamaCppLLM.__new__(LlamaCppLLM)  # no model: only the reply handling is under test
    llm.lock = threading.Lock()
    llm.server = SimpleNamespace(handle_chat_completions=lambda request: {"choices": [{"logprobs": None}]})
    with pytest.raises(RuntimeError, match="no top_logprobs"):
        llm.yes_probability([{"role": "user", "content": "yes?"}])
