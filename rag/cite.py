"""Citations: the exact title of source n for each [n] marker of an answer.

Titles always come from the index, never from the model's text, so every cited title is a real corpus
title. Which source a sentence may cite is decided by `rag.grounding.verify`."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace as replace_field

from rag.retrieve import RetrievedPaper
from rag.text import MARKER, content_terms, marker_numbers, sentences


@dataclass(frozen=True)
class Citation:
    n: int
    title: str
    paper_id: str
    snippet: str  # the source's passage that shares most words with the sentences citing it
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
            citations.setdefault(number, Citation(number, paper.title, paper.paper_id, "", paper.score))
            kept.append(f"[{number}]")
        return "".join(kept)

    cleaned = MARKER.sub(replace, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned).strip()  # no space left before punctuation
    said = sentences(cleaned)
    for n, citation in citations.items():
        claims = " ".join(s for s in said if n in marker_numbers(s))
        citations[n] = replace_field(citation, snippet=supporting_passage(sources[n - 1], claims))
    return Cited(cleaned, list(citations.values()), dropped)


def supporting_passage(paper: RetrievedPaper, claims: str) -> str:
    """The passage of `paper` that shares most words with `claims`: the one a reader checks the answer against
    (the first, best-matching one when none shares a word)."""
    terms = content_terms(claims)
    return max(paper.passages, key=lambda p: len(terms & content_terms(p.text))).text
