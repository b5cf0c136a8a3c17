"""Checks that an answer says nothing the evidence does not: every number and every name in the answer
must occur in the excerpts (the question does not count: it may name what the papers never say), every
number in the very sources its sentence cites, and an answer that only says the excerpts lack the answer
is a refusal, whatever its words."""

from __future__ import annotations

import re

from rag.cite import MARKER, SENTENCE
from rag.prompts import REFUSAL
from rag.retrieve import RetrievedPaper

# How a model says the excerpts lack the answer, in its own words.
_REFUSAL_WORDS = re.compile(
    r"i don'?t know|(?:not|never) (?:mentioned|provided|stated|given|specified|available|included|found)"
    r"|do(?:es)? not (?:mention|state|provide|specify|contain|include|say)|cannot (?:be )?(?:determined|answer)"
    r"|no (?:information|mention)", re.IGNORECASE)

NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
# A capitalized or mixed-case word that does not start a sentence: names, models, datasets.
NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b([A-Z][\w-]*|[a-z]+[A-Z][\w-]*)")


def _occurs(term: str, support: str) -> bool:
    """Whole-word match; a number may run into letters (175 in OPT-175B) but not into digits (3 in 3.65)."""
    edge = r"(?![\d]|\.\d)" if term[0].isdigit() else r"(?!\w)"
    return re.search(rf"(?<![\w.]){re.escape(term.casefold())}{edge}", support) is not None


def ungrounded_terms(answer: str, evidence: str) -> list[str]:
    """Numbers and names of `answer` not found in `evidence`."""
    text = MARKER.sub(" ", answer)
    support = evidence.casefold()
    terms = NUMBER.findall(text) + [m.group(1) for m in NAME.finditer(text)]
    return [t for t in dict.fromkeys(terms) if not _occurs(t, support) and not _occurs(t.rstrip("s"), support)]


def uncited_numbers(answer: str, sources: list[RetrievedPaper]) -> list[str]:
    """Numbers of each cited sentence that the sources it cites do not contain ("101B parameters [1]" when
    101 is in source 2 only): a small model readily pairs a number with the wrong paper."""
    missing: list[str] = []
    for sentence in SENTENCE.split(answer):
        cited = {int(n) for m in MARKER.finditer(sentence) for n in re.findall(r"\d+", m.group(1))}
        support = "\n".join(p.text for n, p in enumerate(sources, start=1) if n in cited).casefold()
        if cited:
            missing += [t for t in NUMBER.findall(MARKER.sub(" ", sentence)) if not _occurs(t, support)]
    return missing


def is_refusal(answer: str) -> bool:
    return REFUSAL.casefold()[:20] in answer.casefold() or _REFUSAL_WORDS.search(answer) is not None
