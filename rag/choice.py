"""Questions about two papers, "Which gives the larger speedup: Chimera or Token Recycling?" or "Which benchmark do
NV-Embed and Mistral-SPLADE both report results on?": each paper is asked its own question, from the paper that
best matches it, and the answer states both facts side by side. Asked about two papers in one go, the small model
gave one paper's figure or neither (multi-hop keyword accuracy 0.14 on the test split); asked about one paper at a
time it reads one paper, as it does for a factoid."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.prompts import OPTION_QUESTION
from rag.retrieve import Filters, RetrievedPaper, Retriever
from rag.text import content_terms, occurs

# Content words an option needs to describe a paper when its title does not hold it ("the dynamic tokenization
# paper"); "GLUE" or "LoRA" name a thing, not a paper.
DESCRIPTION_TERMS = 3

# "Which …: A or B?", "which …, A or B?", "Which … — the X one, or the Y one?": a question that asks which,
# then two options after a colon, a dash or a comma.
_CHOICE = re.compile(r"^\W*(?P<asked>(?:which|who)\b.+?)\s*(?::|\s[\u2014\u2013-]\s|,)\s*(?P<first>.+?),?\s+or\s+"
                     r"(?P<second>[^?]+?)\s*\?*\s*$", re.IGNORECASE | re.DOTALL)

_SEPARATOR = r"(?::|\s[\u2014\u2013-]\s)"
_ASKS = r"(?:what|which|how|who|where|when)\b"
_PREPOSITION = r"(?:by|in|from|on|of|for|to|with)"
# "A and B are both about X - what … appears in both?", "Both A and B compare … - how small …?": the two papers,
# then what is asked of each after a colon or a dash.
_PAIR_FIRST = re.compile(rf"^\W*(?:both\s+)?(?P<pair>.+?)\s*{_SEPARATOR}\s*(?P<asked>{_ASKS}.+)$",
                         re.IGNORECASE | re.DOTALL)
# "What … is released by both A, and B?", "What model is used both by A and by B?": what is asked, then the papers.
_PAIR_LAST = re.compile(rf"^\W*(?P<head>{_ASKS}.+?)\s+both\s+(?P<pair>.+?)\s*\?*\s*$", re.IGNORECASE | re.DOTALL)
# "Which benchmark do A and B both report results on?": the papers between the verb and "both".
_PAIR_INSIDE = re.compile(rf"^\W*(?P<head>{_ASKS}.*?\b(?:do|does|did|are|were|is|was|have|has))\s+(?P<pair>.+?)\s+"
                          r"both\s+(?P<tail>[^?]+?)\s*\?*\s*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Choice:
    options: tuple[str, str]  # ("Chimera", "Token Recycling")
    questions: tuple[str, str]  # what each option's paper is asked, without the other option


@dataclass(frozen=True)
class Option:
    text: str  # "Chimera"
    question: str  # what its paper is asked; its words rank the paper's sentences too
    query_vec: np.ndarray
    paper: RetrievedPaper


def choice(question: str) -> Choice | None:
    """The two papers a question asks about ("A or B", "both A and B") with each one's question, or None."""
    question = question.strip()
    if match := _CHOICE.match(question):
        if " or " in match["first"].casefold():
            return None
        options = tuple(_without_article(match[name]) for name in ("first", "second"))
        return _asked_of_each(match["asked"].strip(), options) if all(options) else None
    if re.search(r"\bboth\b", question, re.IGNORECASE) is None:
        return None
    for pattern, build in ((_PAIR_FIRST, _asked_after), (_PAIR_INSIDE, _asked_around), (_PAIR_LAST, _asked_before)):
        if (match := pattern.match(question)) and (found := build(match)):
            return found
    return None


def _asked_after(match: re.Match) -> Choice | None:
    """"A and B are both about X - what appears in both?": "what appears in A?"; "how small are they?": "how small
    are they — what do the excerpts report for A?"."""
    pair = _split_pair(re.split(r"\s+(?:(?:are|were|is)\s+)?both\b", match["pair"], flags=re.IGNORECASE)[0])
    asked = match["asked"].strip().rstrip("?")
    if not pair:
        return None
    if re.search(r"\bboth\b", asked, re.IGNORECASE):
        return Choice(pair, tuple(re.sub(r"\bboth\b", o, asked, count=1, flags=re.IGNORECASE) + "?" for o in pair))
    return _asked_of_each(asked, pair)


def _asked_of_each(asked: str, options: tuple[str, str]) -> Choice:
    """"Which gives the larger speedup — what do the excerpts report for Chimera?": what is asked, of one option."""
    return Choice(options, tuple(OPTION_QUESTION.format(asked=asked, option=o) for o in options))


def _asked_around(match: re.Match) -> Choice | None:
    """"Which benchmark do A and B both report results on?": "Which benchmark do A report results on?"."""
    pair = _split_pair(match["pair"])
    return Choice(pair, tuple(f"{match['head']} {o} {match['tail']}?" for o in pair)) if pair else None


def _asked_before(match: re.Match) -> Choice | None:
    """"What model is used both by A and by B?": "What model is used by A?"."""
    pair = _split_pair(match["pair"])
    lead = re.match(rf"{_PREPOSITION}\s+", match["pair"], re.IGNORECASE)
    head = f"{match['head']} {lead.group(0).strip()}" if lead else match["head"]
    return Choice(pair, tuple(f"{head} {o}?" for o in pair)) if pair else None


def _split_pair(text: str) -> tuple[str, str] | None:
    """"A, and B" or "A and B" (at the first "and" outside brackets: a description may hold its own "and"), each
    without a leading preposition or article: ("the work on X", "the work that adds Y")."""
    parts = re.split(r",\s+and\s+", text, maxsplit=1)
    if len(parts) == 1:
        depth = 0
        for found in re.finditer(r"[()]|\s+and\s+", text):
            depth += {"(": 1, ")": -1}.get(found.group(0), 0)
            if found.group(0).strip() == "and" and depth == 0:
                parts = [text[:found.start()], text[found.end():]]
                break
    if len(parts) != 2:
        return None
    pair = tuple(_without_article(re.sub(rf"^{_PREPOSITION}\s+", "", p.strip(), flags=re.IGNORECASE)) for p in parts)
    return pair if all(pair) and pair[0].casefold() != pair[1].casefold() else None


def _without_article(text: str) -> str:
    return re.sub(r"^(?:the|a|an)\s+", "", text.strip(), flags=re.IGNORECASE)


def option_papers(asked: Choice, retriever: Retriever, scope: list[str] | None, filters: Filters | None
                  ) -> list[Option] | None:
    """Each option with the paper its own words find ("Token Recycling"; what is asked would find any paper on
    speedups); None when two options point to the same paper ("did they use LoRA or full fine-tuning?" of one
    paper), or an option is neither in its paper's title nor a description of one ("GLUE or SuperGLUE" are
    benchmarks, not papers)."""
    options = []
    for text, question in zip(asked.options, asked.questions):
        found = retriever.search(text, 1, papers=scope, filters=filters).papers
        if not found or not (occurs(text, found[0].title) or len(content_terms(text)) >= DESCRIPTION_TERMS):
            return None
        options.append(Option(text, question, retriever.embedder.embed([question])[0], found[0]))
    return options if len({o.paper.paper_id for o in options}) == len(options) else None
