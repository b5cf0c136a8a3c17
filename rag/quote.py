"""Quoted answers: when the model's own answer cannot be verified (or it says it does not know) while the
evidence holds the answer, the evidence sentence that answers the question is quoted verbatim instead.

The evidence sentences are ranked by rag.evidence's answer score (similarity and shared words, mostly with the
clause that asks; a number for a quantity question), and the best few are judged one by one with a
yes/no question, scored by P(yes), as the list judge does: a small model decides "does this sentence answer
that?" far more reliably than it writes a grounded answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag import prompts
from rag.backends import LLM
from rag.retrieve import RetrievedPaper
from rag.text import ASKS_NAMES, QUANTITY, asked_kinds, counts_what_is_asked, names_what_is_asked, states_quantity


@dataclass(frozen=True)
class Quote:
    n: int  # the source it comes from
    sentence: str
    p_yes: float


def closest_sentences(question: str, sources: list[RetrievedPaper], count: int | None = None
                      ) -> list[tuple[int, str]]:
    """The `count` (default: all) evidence sentences likeliest to answer the question, as (source number,
    sentence). A question that asks for a quantity is answered only by a sentence that states a number, of what
    it counts for a "how many" question ("GPT-3" does not say how many papers a survey covers); one that asks
    which models (datasets, languages …) only by a sentence that names one the question does not; one that asks
    when or about a license (rag.text.ASKED) only by a sentence that gives it."""
    quantity = QUANTITY.search(question) is not None
    named = ASKS_NAMES.search(question) is not None
    kinds = asked_kinds(question)
    pairs = [(n, passage) for n, paper in enumerate(sources, start=1) for passage in paper.passages
             if (not quantity or (states_quantity(passage.text) and counts_what_is_asked(passage.text, question)))
             and (not named or names_what_is_asked(passage.text, question))
             and all(kind.gives(passage.text) for kind in kinds)]
    if not pairs:
        return []
    scores = np.array([p.answer_score for _, p in pairs])
    return [(pairs[i][0], pairs[i][1].text) for i in np.argsort(-scores, kind="stable")[:count]]


def find_quote(llm: LLM, question: str, candidates: list[tuple[int, str]], sources: list[RetrievedPaper],
               threshold: float) -> Quote | None:
    """The first candidate sentence the model judges to answer the question with P(yes) >= threshold."""
    for n, sentence in candidates:
        p_yes = llm.yes_probability(prompts.messages(prompts.QUOTE_JUDGE, question=question,
                                                     title=sources[n - 1].title, sentence=sentence))
        if p_yes >= threshold:
            return Quote(n, sentence, p_yes)
    return None


def quoted_text(n: int, sentence: str) -> str:
    return f"“{sentence.strip()}” [{n}]"
