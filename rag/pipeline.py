"""The facade: question -> retrieve -> prompt -> generate -> cite, as a stream of events."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator

from langchain_core.messages import convert_to_openai_messages

from rag import prompts
from rag.backends import LLM, Usage, load_llm
from rag.cite import Citation, attribute, resolve
from rag.corpus import clean
from rag.embeddings import Embedder
from rag.errors import UserError
from rag.grounding import is_refusal, uncited_numbers, ungrounded_terms
from rag.index import Index
from rag.listing import is_list_question, judge, key_sentences
from rag.retrieve import Retrieval, RetrievedPaper, Retriever
from rag.settings import Settings

MAX_QUESTION_CHARS = 2000


@dataclass
class Timings:
    retrieve_ms: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    retrieved: list[RetrievedPaper]
    timings: Timings
    dropped_markers: int = 0
    abstained: bool = False
    generated: str = ""  # the LLM's own text, before the program's citation and abstention checks

    def to_dict(self) -> dict:
        data = asdict(self)
        data["retrieved"] = [{"title": p.title, "paper_id": p.paper_id, "score": round(p.score, 4),
                              "snippet": p.passages[0].text} for p in self.retrieved]
        return data


@dataclass(frozen=True)
class Sources:
    """First event of every answer: the papers found, before any LLM token. `sources` are the papers as
    numbered in the answer ([1] is sources[0])."""
    retrieval: Retrieval
    sources: list[RetrievedPaper]


@dataclass(frozen=True)
class Token:
    text: str


def check_question(question: str) -> str:
    question = clean(question)
    if not question:
        raise UserError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise UserError(f"the question is too long ({len(question)} characters, at most {MAX_QUESTION_CHARS})")
    return question


def names_paper(question: str, title: str) -> bool:
    """Whether the question names the paper: the part of its title before a colon ('MUSE' of 'MUSE: Machine
    Unlearning…'), or the whole title, as words of the question; a trailing plural s is optional."""
    name = title.split(":")[0].strip().rstrip("?").casefold()
    stem = name[:-1] if name.endswith("s") and not name.endswith("ss") else name
    return len(stem) >= 3 and re.search(rf"(?<!\w){re.escape(stem)}s?(?!\w)", question.casefold()) is not None


def select_evidence(papers: list[RetrievedPaper], budget_chars: int, lead: int = 1, question: str = ""
                    ) -> list[RetrievedPaper]:
    """Fill the prompt's evidence budget: first every passage of the papers the question names (round-robin),
    or else the best paper's first `lead` passages; then every other paper's best passage, the next round…
    Papers with no passage that fits are left out of the prompt (and cannot be cited)."""
    named = [names_paper(question, paper.title) for paper in papers]

    def priority(rank: int, depth: int) -> tuple:
        if named[rank]:
            return 0, depth, rank, depth
        round_ = max(0, depth - lead + 1) if rank == 0 and not any(named) else depth
        return 1, round_, rank, depth

    order = sorted(priority(rank, depth) for rank, paper in enumerate(papers) for depth in range(len(paper.passages)))
    chosen: dict[str, RetrievedPaper] = {}
    used = 0
    for *_, rank, depth in order:
        paper = papers[rank]
        passage = paper.passages[depth]
        cost = len(passage.text) + (0 if paper.paper_id in chosen else len(paper.title) + 8)
        if used + cost > budget_chars:
            continue
        used += cost
        chosen.setdefault(paper.paper_id, RetrievedPaper(paper.paper_id, paper.title)).passages.append(passage)
    return [chosen[p.paper_id] for p in papers if p.paper_id in chosen]


def build_messages(question: str, evidence: list[RetrievedPaper]) -> list[dict]:
    sources = "\n\n".join(
        prompts.format_source(n, paper.title, [p.text for p in sorted(paper.passages, key=lambda p: p.position)])
        for n, paper in enumerate(evidence, start=1))
    messages = prompts.ANSWER.format_messages(sources=sources, question=question)
    return convert_to_openai_messages(messages)


@dataclass
class Pipeline:
    settings: Settings = field(default_factory=Settings)
    llm: LLM | None = None
    embedder: Embedder | None = None
    index: Index | None = None

    def __post_init__(self):
        self.embedder = self.embedder or Embedder(self.settings.embedding_model)
        self.index = self.index or Index(self.settings)
        self.retriever = Retriever(self.index, self.embedder, self.settings)

    def ensure_index(self, progress: bool = True) -> None:
        """Finish an interrupted ingest, or ingest the configured corpus when the index is empty (first use)."""
        from rag.ingest import ingest, pending_file, unfinished_ingest

        unfinished = unfinished_ingest(self.settings)
        paths = unfinished or ([] if self.index.count() else self.settings.corpus)
        try:
            if paths:
                ingest(paths, self.settings, self.index, self.embedder, progress=progress)
        except UserError as e:
            if not unfinished:
                raise
            raise UserError(f"cannot finish the interrupted ingest of {', '.join(map(str, paths))} ({e}); "
                            f"run rag.ingest again, or delete {pending_file(self.settings)}") from None

    def load_llm(self) -> LLM:
        if self.llm is None:
            self.llm = load_llm(self.settings)
        return self.llm

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        return self.retriever.search(check_question(question), k)

    def stream(self, question: str, k: int | None = None, retrieval_only: bool = False
               ) -> Iterator[Sources | Token | Answer]:
        start = time.perf_counter()
        question = check_question(question)
        listing = not retrieval_only and is_list_question(question)
        k = k or self.settings.k
        retrieval = self.retriever.search(question, max(k, self.settings.list_candidates) if listing else k)
        papers = retrieval.papers
        sources = papers if listing or retrieval_only else select_evidence(
            papers, self.settings.evidence_tokens * 4, self.settings.lead_passages, question)
        yield Sources(retrieval, sources)
        timings = Timings(retrieve_ms=retrieval.ms)
        unsupported = not sources or papers[0].score < self.settings.min_score
        if retrieval_only or unsupported:
            timings.total_s = time.perf_counter() - start
            yield Answer(question, "" if retrieval_only else prompts.REFUSAL, [], papers, timings,
                         abstained=not retrieval_only)
            return
        usage = Usage()
        pieces: list[str] = []
        generate = self._list_pieces(retrieval, sources) if listing else self._answer_pieces(question, sources, usage)
        for piece in generate:
            if timings.first_token_s is None:
                timings.first_token_s = time.perf_counter() - start
            pieces.append(piece)
            yield Token(piece)
        raw = "".join(pieces)
        cited = resolve(raw, sources) if listing else attribute(raw, sources)
        evidence = "\n".join(p.text for p in sources)
        # Abstention by the program, not by the model: the answer must not be a refusal, must cite evidence,
        # every number and name in it must occur in the evidence, and every number in the sources its sentence
        # cites; otherwise the refusal is returned.
        abstained = (is_refusal(raw) or not cited.citations or bool(ungrounded_terms(cited.text, evidence))
                     or bool(uncited_numbers(cited.text, sources)))
        timings.total_s = time.perf_counter() - start
        timings.prompt_tokens, timings.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        text, citations = (prompts.REFUSAL, []) if abstained else (cited.text, cited.citations)
        yield Answer(question, text, citations, papers, timings, cited.dropped, abstained, raw)

    def _answer_pieces(self, question: str, sources: list[RetrievedPaper], usage: Usage) -> Iterator[str]:
        return self.load_llm().stream(build_messages(question, sources), self.settings.max_answer_tokens, usage)

    def _list_pieces(self, retrieval: Retrieval, candidates: list[RetrievedPaper]) -> Iterator[str]:
        """One line per candidate the LLM judges a match: '- Title [n]: key sentence'."""
        question = retrieval.query
        excerpts = key_sentences(retrieval.query_vec, candidates, self.embedder)
        numbers = {p.paper_id: n for n, p in enumerate(candidates, start=1)}
        for rank, (paper, excerpt, p_yes) in enumerate(judge(self.load_llm(), question, candidates, excerpts)):
            if p_yes >= self.settings.list_threshold + self.settings.list_rank_step * rank:
                yield f"- {paper.title} [{numbers[paper.paper_id]}]: {excerpt}\n"

    def ask(self, question: str, **kwargs) -> Answer:
        for event in self.stream(question, **kwargs):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an answer")
