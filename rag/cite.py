"""Citations: the exact title of source n for each [n] marker of an answer.

Titles always come from the index, never from the model's text, so every cited title is a real corpus
title. Which source a sentence may cite is decided by `rag.grounding.verify`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.retrieve import RetrievedPaper
from rag.text import MARKER


@dataclass(frozen=True)
class Citation:
    n: int
    title: str
    paper_id: str
    snippet: str
    score: float


@dataclass(frozen=True)
class Cited:
    text: str  # the answer with every marker normalized to [n] and unknown markers removed
    citations: list[Citation]  # in order of first mention
    dropped_markers: int  # markers that pointed at no source


def resolve(text: str, sources: list[RetrievedPaper]) -> Cited:
    citations: dict[int, Citation] = {}
    dropped = 0

    def replace(match: re.Match) -> str:
        nonlocal dropped
        kept = []
        for number in (int(n) for n in re.findall(r"\d+", match.group(1))):
            if not 1 <= number <= len(sources):
                dropped += 1
                continue
            paper = sources[number - 1]
            citations.setdefault(number, Citation(number, paper.title, paper.paper_id,
                                                  paper.passages[0].text, paper.score))
            kept.append(f"[{number}]")
        return "".join(kept)

    cleaned = MARKER.sub(replace, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned).strip()  # no space left before punctuation
    return Cited(cleaned, list(citations.values()), dropped)
