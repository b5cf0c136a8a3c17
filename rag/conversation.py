"""Follow-up questions: rewrite the newest question into a standalone one before retrieval.

"which of those use LoRA?" retrieves nothing useful on its own; one short LLM call turns it into
"Which papers that prune Llama use LoRA?" using the last turns of the conversation. The prompt is kept
small (the last questions and a short prefix of each answer) because every prompt token costs time on a CPU.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Sequence

from langchain_core.messages import convert_to_openai_messages

from rag import prompts
from rag.backends import LLM, Usage
from rag.text import MARKER

HISTORY_TURNS = 2  # turns of the conversation shown to the rewriter
ANSWER_PREFIX_CHARS = 160  # of each answer
MAX_REWRITE_TOKENS = 60
MAX_REWRITE_CHARS = 400  # longer replies are not a question: keep the user's own words

_LABEL = re.compile(r"^(?:standalone|rewritten|reformulated)?\s*(?:follow-up\s*)?question\s*:\s*", re.IGNORECASE)


class Turn(NamedTuple):
    question: str  # the (standalone) question that was answered
    answer: str


def compact(text: str, limit: int = ANSWER_PREFIX_CHARS) -> str:
    """The start of an answer without citation markers, cut at a word boundary."""
    text = " ".join(MARKER.sub("", text).split())
    text = re.sub(r"\s+([.,;:])", r"\1", text)
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def format_history(history: Sequence[Turn | tuple[str, str]], turns: int = HISTORY_TURNS) -> str:
    lines = []
    for question, answer in list(history)[-turns:]:
        lines.append(f"User: {question}")
        lines.append(f"Assistant: {compact(answer)}")
    return "\n".join(lines)


def build_condense_messages(history: Sequence[Turn | tuple[str, str]], question: str) -> list[dict]:
    messages = prompts.CONDENSE.format_messages(history=format_history(history), question=question)
    return convert_to_openai_messages(messages)


def clean_rewrite(reply: str, question: str) -> str:
    """The rewritten question from the model's reply; the original question when the reply is unusable."""
    line = next((line for line in reply.strip().splitlines() if line.strip()), "")
    line = _LABEL.sub("", line.strip()).strip().strip("\"'`“”*").strip()
    if not line or len(line) > MAX_REWRITE_CHARS:
        return question
    return line


def condense_question(llm: LLM, history: Sequence[Turn | tuple[str, str]], question: str) -> str:
    """The question rewritten to stand on its own; unchanged (and no LLM call) without history."""
    if not history:
        return question
    reply = "".join(llm.stream(build_condense_messages(history, question), max_tokens=MAX_REWRITE_TOKENS,
                               usage=Usage()))
    return clean_rewrite(reply, question)


def summarize_answer(text: str, titles: Sequence[str]) -> str:
    """What a turn's answer contributes to the rewrite prompt: its words, and the cited titles when the
    words say little (an answer of bare markers, or a retrieval-only list of papers)."""
    words = compact(text)
    if titles and len(words) < 80:
        return compact(f"{words} Papers: {'; '.join(titles)}".strip())
    return words
