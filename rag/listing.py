"""'Which papers ...?' questions: the answer is a set of papers, so each candidate is judged on its own
(one short yes/no check on its most relevant sentence) instead of hoping one generation enumerates them."""

from __future__ import annotations

import re
from typing import Iterator

import numpy as np

from rag import prompts
from rag.backends import LLM
from rag.choice import described_pair
from rag.text import asked_part, asking_clauses, counted_nouns, sentences
from rag.embeddings import Embedder
from rag.retrieve import RetrievedPaper

# "is there anything here on speculative decoding?", "what's in here on speech?", "what is there on …", "do you have
# anything about …";
# not "anything about its memory footprint?", which asks about a paper already named.
_HERE = r"(?:here|in\s+here|in\s+(?:this|the)\s+(?:collection|library|corpus|list))"
_ANYTHING_ON = (r"^\W*(?:and\s+)?(?:(?:(?:(?:is|are)\s+there|do\s+you\s+have)\s+(?:anything|something)|anything|"
                rf"something|what\s+do\s+you\s+have)\s+(?:else\s+)?(?:{_HERE}\s+)?|what(?:'s|\s+is)\s+(?:there\s+"
                rf"(?:{_HERE}\s+)?|{_HERE}\s+))(?:on|about|regarding|related\s+to|covering|dealing\s+with)\b"
                r"(?!.*\b(?:it|its|they|their|them)\b)")
# "I'm looking for work that …", "I need methods that …", "can you recommend models for …", opening the question: a
# request for a set of papers; not "show me the datasets" nor "do they suggest any methods …?", which ask about a
# paper.
_REQUEST = (r"^\W*(?:(?:hi|hello|hey|please|so|ok|okay|and)\W+)*(?:(?:can|could|would)\s+you\s+(?:please\s+)?)?"
            r"(?:(?:(?:i['’]?m|i\s+am|we['’]?re|we\s+are)\s+)?(?:looking|searching)\s+for|i\s+(?:need|want)(?:\s+to\s+"
            r"(?:find|see|read))?|(?:do\s+you\s+)?know(?:\s+of)?|show\s+me|find\s+me|point\s+me\s+to|recommend|"
            r"suggest)")
_REQUESTED_SET = (rf"{_REQUEST}\s+(?:(?:some|any|other|recent|related|relevant|good|more)\s+)?"
                  r"(?:(?!(?:the|this|that|these|those|its|their)\b)[\w-]+\s+)?(?:work|research|literature|methods|"
                  r"approaches|techniques|models|systems|frameworks|benchmarks|datasets|studies|articles)\b"
                  r"(?!\s+(?:(?:that|which)\s+)?(?:it|they|he|she|you|we)\b)")
# "which papers …", "papers on …", "any work on …", "are there studies …", "List the surveys …", "list them".
# "Work(s)", "studies" and "reviews" are verbs too ("which encoder works best", "the paper that reviews MoE"),
# "prior work" is one paper's background, and "movie reviews" and "news articles" are data, so they count only after
# words that ask for a set (or first).
_ASKS_FOR_A_SET = r"\b(?:which|what|any|other|list|all|some|related|recent|prior|existing|there|find|show|name|give)"
_PAPERS = re.compile(r"\bpapers\b|(?<!\bdo\s)(?<!\bdid\s)(?<!\bdoes\s)\bany\s+(?:work|research)\b"
                     rf"|{_ASKS_FOR_A_SET}\s+(?:works|studies)\b"
                     r"(?!\s+(?:the\s+)?(?:best|better|well|worse|faster|slower)\b)"
                     rf"|(?:{_ASKS_FOR_A_SET}\s+|^\W*)(?:(?:me|us|the|all|any|some|of|other|recent|systematic|"
                     r"literature|comprehensive|research|scientific)\s+){0,2}"
                     r"(?:surveys|reviews|overviews|articles|publications)\b(?!\s+(?:data|dataset|corpus)\b)"
                     rf"|{_ANYTHING_ON}|{_REQUESTED_SET}|[?.!]\s+(?:please\s+)?list\s+(?:all\s+(?:of\s+)?)?them\b",
                     re.IGNORECASE)


# "Which paper merges fine-tuned models after …?", "is there work on …?", "I'm looking for a model that reads charts",
# "I remember a model that … Which paper was that?": the answer is the paper(s) described, so the candidates are
# judged as for a list. The model, asked to name the paper, restated the question, refused or wrote only "[1]".
# ("Has anyone plugged …?" is left to the answer: on a fresh question the judge rated the right paper's background
# sentence 0.04, where the answer cited it.)
_IDENTIFY = re.compile(rf"{_REQUEST}\s+(?:a|an)\s+(?:[\w-]+\s+){{0,2}}(?:paper|work|study|method|approach|model|"
                       r"system|framework|benchmark|dataset)\b|"
                       r"^\W*(?:and\s+)?(?:(?:which|what)\s+(?:paper|work|study|article|publication)\b|"
                       r"(?:is|are)\s+there\s+(?:(?:a|an|any)\s+)?(?:(?!(?:that|which|the|this)\b)[\w-]+\s+){0,2}"
                       r"(?:paper|work|study|article|publication|method|approach|technique|model|system|framework|"
                       r"benchmark|dataset|way|algorithm|architecture|tool|trick|recipe|scheme|strategy|llm|network|"
                       r"agent|chatbot|tokenizer|encoder)s?\b)",
                       re.IGNORECASE)


# "How many papers does the survey review?" asks a number that one paper states, not for a set of papers.
_REVIEW = re.compile(r"\b(?:survey|review|overview|round-?up|meta-analysis)", re.IGNORECASE)


def is_list_question(question: str) -> bool:
    """Whether the answer is a set of papers: "which papers …", or which paper the question describes."""
    if _REVIEW.search(question) and any(_PAPERS.search(noun) for noun in counted_nouns(question)):
        return False
    if described_pair(question):  # "two papers …: one …, the other …. what does each keep?"
        return False
    return _PAPERS.search(question) is not None or asks_which_paper(question)


def asks_which_paper(question: str) -> bool:
    """A question that asks only which paper it describes (not "is there a method that …, and how fast is it?",
    not "are there any papers on …")."""
    return (_IDENTIFY.search(asked_part(question)) is not None and asking_clauses(question) <= 1
            and _PAPERS.search(question) is None)


# "Two papers …: one …, the other …", "a couple of speech papers …": a known number of papers the question describes,
# where a name is part of a description; not every paper that has some property.
_KNOWN_NUMBER = re.compile(r"\b(?:two|three|four|five|\d+|both|a\s+couple\s+of|a\s+few|several)\s+(?:[\w-]+\s+){0,2}"
                           r"(?:papers|works|studies)\b", re.IGNORECASE)


def asks_every_paper(question: str) -> bool:
    """Whether the question asks for every paper with a property ("which papers use LoRA?"), not for the papers it
    describes ("is there a way to …?", "two papers …: one …, the other …")."""
    return _PAPERS.search(question) is not None and _KNOWN_NUMBER.search(question) is None


def key_sentences(question_vec: np.ndarray, papers: list[RetrievedPaper], embedder: Embedder) -> list[str]:
    """Per paper, the sentence of its best passages closest to the question: the excerpt judged and shown."""
    groups = [[s for p in paper.passages[:2] for s in sentences(p.text)] for paper in papers]
    vectors = embedder.embed([s for group in groups for s in group])
    best, start = [], 0
    for group in groups:
        scores = vectors[start:start + len(group)] @ question_vec
        best.append(group[int(np.argmax(scores))])
        start += len(group)
    return best


def judge(llm: LLM, question: str, papers: list[RetrievedPaper], excerpts: list[str]
          ) -> Iterator[tuple[RetrievedPaper, str, float]]:
    """(paper, excerpt, probability that it matches), in the papers' order."""
    for paper, excerpt in zip(papers, excerpts):
        messages = prompts.messages(prompts.JUDGE, question=question, title=paper.title, excerpt=excerpt)
        yield paper, excerpt, llm.yes_probability(messages)
