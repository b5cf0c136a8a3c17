"""Hybrid retrieval: BM25 and dense passages fused by reciprocal rank fusion, grouped by paper; the papers found
are then reranked with the paper embedder's ranking of their whole abstracts, fused the same way (when it is on),
and the first few by how many of the question's words their whole abstracts hold."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from rag.corpus import day_number, iso_date
from rag.embeddings import Embedder
from rag.errors import UserError
from rag.index import Index
from rag.settings import Settings
from rag.text import content_terms, occurs

Mode = Literal["hybrid", "bm25", "dense"]


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    text: str
    position: int
    similarity: float  # cosine similarity of passage (with title) and question
    fused: float  # reciprocal-rank-fusion score
    answer_score: float = 0.0  # an evidence sentence's: how likely it answers the question (rag.evidence)


@dataclass
class RetrievedPaper:
    paper_id: str
    title: str
    passages: list[Passage] = field(default_factory=list)  # best first

    @property
    def score(self) -> float:
        """Shown to users and used by thresholds: the best passage's cosine similarity."""
        return max(p.similarity for p in self.passages)

    @property
    def text(self) -> str:
        """The title and passages as the prompt shows them: what the answer's checks look in."""
        return "\n".join([self.title, *(p.text for p in self.passages)])

    @property
    def fused(self) -> float:
        return self.passages[0].fused


@dataclass
class Retrieval:
    query: str
    papers: list[RetrievedPaper]
    ms: float
    query_vec: np.ndarray  # the question's embedding, reused downstream


@dataclass(frozen=True)
class Filters:
    """The part of the library a user limits questions to: some source files, a date range (inclusive;
    YYYY, YYYY-MM or YYYY-MM-DD). A paper without a date is outside every date range."""
    sources: tuple[str, ...] = ()
    since: str = ""
    until: str = ""

    def __post_init__(self):
        for name in ("since", "until"):
            value = (getattr(self, name) or "").strip()  # None from an API client means no bound
            object.__setattr__(self, name, value)
            if value and iso_date(value) != value:
                raise UserError(f"invalid date {value!r} for {name}: use YYYY-MM-DD, YYYY-MM or YYYY")

    def where(self) -> list[dict]:
        """The Chroma conditions, to be and-ed."""
        conditions = []
        if self.sources:
            conditions.append({"source": {"$in": list(self.sources)}})
        if self.since or self.until:
            conditions.append({"day": {"$gt": 0}})  # an undated paper (day 0) is in no date range
        if self.since:
            conditions.append({"day": {"$gte": day_number(self.since)}})
        if self.until:  # through the last day of the year or month given
            parts = self.until.split("-")
            conditions.append({"day": {"$lte": day_number("-".join(parts + ["12", "31"][len(parts) - 1:]))}})
        return conditions


def where_clause(papers: list[str] | None, filters: Filters | None) -> dict | None:
    """A Chroma `where` for passages of `papers` (paper ids, a conversation's scope) that pass `filters`."""
    conditions = ([{"paper_id": {"$in": papers}}] if papers is not None else []) + (filters.where() if filters else [])
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def rrf(rankings: list[list[str]], k: int) -> dict[str, float]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    return scores


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, settings: Settings, paper_embedder: Embedder | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.paper_embedder = paper_embedder

    def search(self, query: str, k: int | None = None, mode: Mode = "hybrid", papers: list[str] | None = None,
               filters: Filters | None = None, query_vec: np.ndarray | None = None) -> Retrieval:
        """The `k` best papers for `query`; only among `papers` (paper ids) when given: a conversation's scope;
        only papers that pass `filters`. `query_vec`: the query's embedding, when it is known."""
        start = time.perf_counter()
        k = k or self.settings.k
        n = self.settings.candidates
        query_vec = self.embedder.embed([query])[0] if query_vec is None else query_vec
        where = where_clause(papers, filters)
        rankings = []
        if papers != []:  # an empty scope matches nothing (and Chroma refuses an empty $in)
            if mode in ("hybrid", "bm25"):
                rankings.append(self.index.keyword_search(query, n, where))
            if mode in ("hybrid", "dense"):
                rankings.append(self.index.dense_search(query_vec, n, where))
        fused = rrf(rankings, self.settings.rrf_k)
        chunks = self.index.get(list(fused))
        papers: dict[str, RetrievedPaper] = {}
        for cid in sorted(fused, key=fused.get, reverse=True):
            chunk = chunks.get(cid)
            if chunk is None:  # deleted between search and fetch
                continue
            paper = papers.setdefault(chunk.paper_id, RetrievedPaper(chunk.paper_id, chunk.title))
            paper.passages.append(Passage(cid, chunk.text, chunk.position,
                                          float(chunk.embedding @ query_vec), fused[cid]))
        ranked = sorted(papers.values(), key=lambda p: p.fused, reverse=True)
        if mode == "hybrid":
            ranked = self.rerank_by_words(query, self.rerank_papers(query, ranked))
        return Retrieval(query, ranked[:k], (time.perf_counter() - start) * 1000, query_vec)

    def naming_first(self, retrieval: Retrieval, names: list[str], filters: Filters | None = None) -> Retrieval:
        """The papers whose passages name one of `names` (a list question's rare names: "Mistral", "LoRA") first,
        found by BM25 on the name alone when the question's ranking missed them, then the other papers found; as
        many as before. "Which papers run experiments with a Mistral model?" had 1 of its 5 papers among 10
        candidates: the question's other words ranked papers about experiments."""
        if not names:
            return retrieval
        start = time.perf_counter()
        where = where_clause(None, filters)
        chunks = self.index.get(list(dict.fromkeys(cid for name in names for cid in
                                                   self.index.keyword_search(name, self.settings.candidates, where))))
        naming = list(dict.fromkeys(chunk.paper_id for chunk in chunks.values()
                                    if any(occurs(name, f"{chunk.title}\n{chunk.text}") for name in names)))
        if not naming:
            return retrieval
        found = {paper.paper_id: paper for paper in retrieval.papers}
        missing = [pid for pid in naming if pid not in found]
        if missing:
            found |= {paper.paper_id: paper for paper in
                      self.search(retrieval.query, len(missing), papers=missing, filters=filters,
                                  query_vec=retrieval.query_vec).papers}
        order = list(found)
        first = [found[pid] for pid in sorted((pid for pid in naming if pid in found), key=order.index)]
        rest = [paper for paper in retrieval.papers if paper.paper_id not in naming]
        papers = (first + rest)[:len(retrieval.papers)]
        return Retrieval(retrieval.query, papers, retrieval.ms + (time.perf_counter() - start) * 1000,
                         retrieval.query_vec)

    def rerank_by_words(self, query: str, ranked: list[RetrievedPaper]) -> list[RetrievedPaper]:
        """The first `word_rerank` papers reordered by how many of the query's content words their whole abstract
        holds; equals keep their order. A described paper's words are spread over its abstract, while the best
        passages may be another paper's that repeats a few of them ("draft", "LLM"). Dev paper hit@1: factoid
        64 → 67 of 69, paraphrase 35 → 43 of 49 at 3 (2: 41, 5: 42); none lost."""
        top = ranked[:self.settings.word_rerank]
        if len(top) < 2:
            return ranked
        terms = content_terms(query)
        abstracts = self.index.abstracts([p.paper_id for p in top])
        held = {p.paper_id: len(terms & content_terms(abstracts.get(p.paper_id, p.text))) for p in top}
        return sorted(top, key=lambda p: held[p.paper_id], reverse=True) + ranked[len(top):]

    def rerank_papers(self, query: str, ranked: list[RetrievedPaper]) -> list[RetrievedPaper]:
        """Fuse the passages' ranking of the papers with the paper embedder's ranking of their whole abstracts
        (reciprocal rank fusion of the two rankings, the second weighted by paper_rank_weight).
        A short passage seldom holds all of a description ("the voice model you can interrupt"); the abstract
        does. On the dev split it took paper hit@1 from 0.84 to 0.94, yet not the answers (eval/RESULTS.md): off by
        default."""
        if self.paper_embedder is None or not ranked:
            return ranked
        vectors = self.index.paper_vectors([p.paper_id for p in ranked])
        if len(vectors) < len(ranked):  # papers ingested before paper vectors, or with the ranking off
            return ranked
        question = self.paper_embedder.embed([self.settings.paper_query_prompt.format(question=query)])[0]
        by_abstract = sorted(ranked, key=lambda p: float(vectors[p.paper_id] @ question), reverse=True)
        scores = rrf([[p.paper_id for p in ranked]], self.settings.rrf_k)
        for paper_id, score in rrf([[p.paper_id for p in by_abstract]], self.settings.rrf_k).items():
            scores[paper_id] += self.settings.paper_rank_weight * score
        return sorted(ranked, key=lambda p: scores[p.paper_id], reverse=True)
