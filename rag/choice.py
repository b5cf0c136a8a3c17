"""Choice questions, "Which gives the larger speedup: Chimera or Token Recycling?": each option is answered on its
own, from the paper that best matches it, and the answer states both facts side by side. Asked to compare two
papers in one go, the small model gave one paper's figure or neither (multi-hop keyword accuracy 0.14 on the test
split); asked about one option at a time it reads one paper, as it does for a factoid."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.retrieve import Filters, RetrievedPaper, Retriever

# "Which …: A or B?", "which …, A or B?", "Which … — the X one, or the Y one?": a question that asks which,
# then two options after a colon, a dash or a comma.
_CHOICE = re.compile(r"^\W*(?P<asked>(?:which|who)\b.+?)\s*(?::|\s[\u2014\u2013-]\s|,)\s*(?P<first>.+?),?\s+or\s+"
                     r"(?P<second>[^?]+?)\s*\?*\s*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Choice:
    asked: str  # "Which gives the larger speedup over plain autoregressive decoding"
    options: tuple[str, str]  # ("Chimera", "Token Recycling")


@dataclass(frozen=True)
class Option:
    text: str  # "Chimera"
    asked: str  # "Which gives the larger speedup"
    query: str  # what ranks its paper's sentences: "Chimera: Which gives the larger speedup?"
    query_vec: np.ndarray
    paper: RetrievedPaper


def choice(question: str) -> Choice | None:
    """The two options of a choice question, or None."""
    match = _CHOICE.match(question.strip())
    if not match or " or " in match["first"].casefold():
        return None
    options = tuple(re.sub(r"^(?:the|a|an)\s+", "", match[name].strip(), flags=re.IGNORECASE)
                    for name in ("first", "second"))
    return Choice(match["asked"].strip(), options) if all(options) else None


def option_papers(asked: Choice, retriever: Retriever, scope: list[str] | None, filters: Filters | None
                  ) -> list[Option] | None:
    """Each option with the paper its own words find ("Token Recycling"; what is asked would find any paper on
    speedups); None when two options point to the same paper ("did they use LoRA or full fine-tuning?" of one
    paper) or one finds none."""
    options = []
    for text in asked.options:
        found = retriever.search(text, 1, papers=scope, filters=filters).papers
        if not found:
            return None
        query = f"{text}: {asked.asked}?"
        options.append(Option(text, asked.asked, query, retriever.embedder.embed([query])[0], found[0]))
    return options if len({o.paper.paper_id for o in options}) == len(options) else None
