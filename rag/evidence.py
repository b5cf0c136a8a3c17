"""Evidence for the prompt: which sentences of the retrieved papers the model reads, within a budget.

On a CPU the prompt's length is the latency, so the prompt carries the sentences likeliest to answer, taken
from the retrieved papers' whole abstracts, not whole passages: a described paper's answer is often in a
sentence that shares few words with the question, and whole passages spend the budget on its neighbours.
Each paper's chosen sentences are shown in the abstract's order, under its title."""

from __future__ import annotations

import re

import numpy as np

from rag import prompts
from rag.embeddings import Embedder
from rag.retrieve import Passage, RetrievedPaper
from rag.text import (ASKS_NAMES, QUANTITY, asked_part, asks_method, content_terms, numbers, sentences, spelled_out,
                      states_method)

# Added to a sentence's score when the question asks for a quantity and the sentence states a number.
NUMBER_BONUS = 0.2
# Added to a sentence's score when the question asks how a paper does something and the sentence states what it
# proposes.
METHOD_BONUS = 0.1
# Added to every sentence of a paper the question names: all of it comes first.
NAMED_BONUS = 1.0
# How much of a sentence's answer score comes from the part of the question that asks (rag.text.asked_part)
# rather than the whole question. On the dev split the answer's sentence ranked first in its paper for 0.61 of
# described factoid/paraphrase questions by the whole question, 0.71 by the asking part; the answer's words were
# in the prompt for 0.80 of answerable questions at weight 0, 0.83 at 0.5 and 0.85 at 0.85.
ASKED_WEIGHT = 0.85


def names_paper(question: str, title: str) -> bool:
    """Whether the question names the paper: the part of its title before a colon ('MUSE' of 'MUSE: Machine
    Unlearning…'), or the whole title, as words of the question; a trailing plural s is optional."""
    name = title.split(":")[0].strip().rstrip("?").casefold()
    stem = name[:-1] if name.endswith("s") and not name.endswith("ss") else name
    return len(stem) >= 3 and re.search(rf"(?<!\w){re.escape(stem)}s?(?!\w)", question.casefold()) is not None


def short_name(title: str) -> str:
    """What a paper is called in a question: the part of its title before a colon, else the title."""
    head = title.split(":")[0].strip()
    return head if ":" in title and len(head) <= 60 else title


def about(question: str, title: str) -> str:
    """A follow-up scoped to one paper, as it is answered: "how was it evaluated? (about LLM-Pruner)"."""
    return f"{question.rstrip()} (about {short_name(title)})"


_ABOUT = re.compile(r"\s*\(about (?:(?!\(about ).)*\)$")  # a title may hold parentheses: "Do Not (Always) Look Right"


def users_words(question: str) -> str:
    """The question without the "(about X)" a conversation adds, which names the paper every sentence ranked is
    of: its title's words ranked first the sentences that repeat them. "did they try it on anything besides
    translation? (about Democratizing LLMs for Low-Resource Languages …)" lost the summarization sentence."""
    return _ABOUT.sub("", question)


# "the work that …", "how does that work?": abstracts write "our work", "prior work", so sentences holding the word
# are no likelier to answer.
_IGNORED_QUESTION_WORDS = {"work"}


def word_bonus(question: str, texts: list[str]) -> np.ndarray:
    """Added to a sentence's cosine similarity to rank it as an answer: the share of the question's words it
    holds (an acronym holds the words it stands for: "WER" of the sentence, "word error rate" of the question),
    plus NUMBER_BONUS for a number when the question asks for a quantity, plus METHOD_BONUS for a statement of
    what the paper proposes when the question asks what it did."""
    asked = content_terms(question) - _IGNORED_QUESTION_WORDS
    quantity = QUANTITY.search(question) is not None
    method = asks_method(question)
    return np.array([len(asked & held_terms(t, question)) / max(1, len(asked))
                     + NUMBER_BONUS * (quantity and bool(numbers(t))) + METHOD_BONUS * (method and states_method(t))
                     for t in texts], dtype=np.float32)


def held_terms(text: str, question: str) -> set[str]:
    """The terms of `text`, with the words of its acronyms the question spells out, and the question's acronyms
    it spells out."""
    return content_terms(text).union(*spelled_out(text, question).values()) | spelled_out(question, text).keys()


def answer_scores(question: str, similarity: np.ndarray, texts: list[str], vectors: np.ndarray,
                  embedder: Embedder) -> np.ndarray:
    """How likely each sentence is to answer: its cosine similarity plus word bonus, mostly to the clause that
    asks, partly to the whole question (`similarity`: the sentences' cosine to it; it holds the description)."""
    whole = similarity + word_bonus(question, texts)
    asked = asked_part(question)
    if asked == question:
        return whole
    return (1 - ASKED_WEIGHT) * whole + ASKED_WEIGHT * (vectors @ embedder.embed([asked])[0] + word_bonus(asked, texts))


def select_evidence(question: str, question_vec: np.ndarray, papers: list[RetrievedPaper], abstracts: dict[str, str],
                    embedder: Embedder, budget_chars: int, rank_step: float) -> list[RetrievedPaper]:
    """Fill the prompt's evidence budget with the best sentences of the papers' abstracts (`abstracts[paper_id]`:
    the title line, then the text). A paper ranked lower loses `rank_step` per rank; a paper the question
    names comes first. Papers with no sentence chosen are left out of the prompt (and cannot be cited)."""
    pool = [(rank, position, text) for rank, paper in enumerate(papers)
            for position, text in enumerate(dict.fromkeys(sentences(body(abstracts.get(paper.paper_id, paper.text)))))]
    if not pool:
        return []
    texts = [text for *_, text in pool]
    vectors = embedder.embed(texts)
    similarity = vectors @ question_vec
    answering = answer_scores(question, similarity, texts, vectors, embedder)
    named = [names_paper(question, paper.title) for paper in papers]
    scores = answering + np.array([NAMED_BONUS * named[rank] - rank_step * rank for rank, *_ in pool])
    chosen: dict[int, RetrievedPaper] = {}
    used = 0
    for i in np.argsort(-scores, kind="stable"):
        rank, position, text = pool[i]
        paper = papers[rank]
        cost = len(text) + 1 + (0 if rank in chosen else len(paper.title) + 8)
        if used + cost > budget_chars:
            continue
        used += cost
        chosen.setdefault(rank, RetrievedPaper(paper.paper_id, paper.title)).passages.append(
            Passage(f"{paper.paper_id}#{position}", text, position, float(similarity[i]), paper.fused,
                    float(answering[i])))
    return [chosen[rank] for rank in sorted(chosen)]


def body(abstract: str) -> str:
    """An abstract without its title line."""
    return abstract.split("\n", 1)[1] if "\n" in abstract else ""


def build_messages(question: str, evidence: list[RetrievedPaper], first: int = 1) -> list[dict]:
    """The answer prompt, its excerpts numbered from `first` (an option of a choice question is source [2])."""
    sources = "\n\n".join(
        prompts.format_source(n, paper.title, [p.text for p in sorted(paper.passages, key=lambda p: p.position)])
        for n, paper in enumerate(evidence, start=first))
    if ASKS_NAMES.search(question):
        question = f"{question.rstrip()} {prompts.NAMES_HINT}"
    return prompts.messages(prompts.ANSWER, sources=sources, question=question)
