"""The facade: question -> retrieve -> prompt -> generate -> cite, as a stream of events."""

from __future__ import annotations

import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Iterator

from rag import prompts
from rag.backends import LLM, Usage, load_llm
from rag.choice import Option, choice, option_papers
from rag.cite import Citation, resolve
from rag.corpus import clean
from rag.embeddings import Embedder, load_embedder, load_paper_embedder
from rag.errors import UserError
from rag.evidence import build_messages, names_paper, select_evidence, users_words
from rag.grounding import (Check, Verified, gives_nothing_asked, is_refusal, lacks_names, missing_names, names_nothing,
                           only_says_yes_or_no, refusal_probability, starts_refusal, states_no_quantity,
                           verify)
from rag.index import Index
from rag.listing import asks_every_paper, asks_which_paper, is_list_question, judge, key_sentences
from rag.quote import closest_sentences, find_quote, quoted_text
from rag.retrieve import Filters, Retrieval, RetrievedPaper, Retriever
from rag.settings import Settings
from rag.text import names, word_terms

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
    checks: list[Check] = field(default_factory=list)  # each sentence of `generated`: kept with its sources, or why not
    quoted: bool = False  # the text is a sentence of a source, quoted because the model's answer failed the checks
    reason: str = ""  # why the text differs from what the model said (a refusal, dropped sentences, a quote)
    closest: str = ""  # with a refusal: the evidence sentence closest to the question, which is not an answer

    def to_dict(self) -> dict:
        data = asdict(self)
        data["retrieved"] = [{"title": p.title, "paper_id": p.paper_id, "score": round(p.score, 4),
                              "snippet": p.passages[0].text} for p in self.retrieved]
        return data


@dataclass(frozen=True)
class Found:
    """First event of every answer: the papers found, before their evidence is read (~0.4 s of embedding)."""
    retrieval: Retrieval


@dataclass(frozen=True)
class Sources:
    """The papers as numbered in the answer ([1] is sources[0]), before any LLM token."""
    retrieval: Retrieval
    sources: list[RetrievedPaper]


@dataclass(frozen=True)
class Token:
    text: str


def clean_question(question: str) -> str:
    question = clean(question)
    if not question:
        raise UserError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise UserError(f"the question is too long ({len(question)} characters, at most {MAX_QUESTION_CHARS})")
    return question


def proper_names(question: str, papers: list[RetrievedPaper]) -> list[str]:
    """The question's names that the papers' passages write as names, never in lower case ("Mistral"; not
    "Prediction" of "Any papers on Protein Structure Prediction?")."""
    text = "\n".join(passage.text for paper in papers for passage in paper.passages)

    def as_name(name: str) -> bool:  # "Llama" is written "LLaMA"
        found = re.findall(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE)
        return bool(found) and not any(word.islower() for word in found)

    return [name for name in names(question) if as_name(name)]


@dataclass
class Pipeline:
    settings: Settings = field(default_factory=Settings)
    llm: LLM | None = None
    embedder: Embedder | None = None
    index: Index | None = None
    paper_embedder: Embedder | None = None  # None: the settings' (none when paper_rank_weight is 0)

    _loading: Future | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.embedder = self.embedder or load_embedder(self.settings)
        self.index = self.index or Index(self.settings)
        self.index.use_embedder(self.embedder.name)
        self.paper_embedder = self.paper_embedder or load_paper_embedder(self.settings)
        if self.paper_embedder:
            self.index.use_embedder(self.paper_embedder.name, papers=True)
        self.retriever = Retriever(self.index, self.embedder, self.settings, self.paper_embedder)

    def ensure_index(self, progress: bool = True) -> None:
        """Finish an interrupted ingest, or ingest the configured corpus when the index is empty (first use; not
        when a user removed every source)."""
        from rag.ingest import ingest, pending_file, unfinished_ingest
        from rag.library import emptied_marker

        unfinished = unfinished_ingest(self.settings)
        first_use = not self.index.count() and not emptied_marker(self.settings).exists()
        paths = unfinished or (self.settings.corpus if first_use else [])
        try:
            if paths:
                ingest(paths, self.settings, self.index, self.embedder, progress=progress,
                       paper_embedder=self.paper_embedder)
        except UserError as e:
            if not unfinished:
                raise
            raise UserError(f"cannot finish the interrupted ingest of {', '.join(map(str, paths))} ({e}); "
                            f"run rag.ingest again, or delete {pending_file(self.settings)}") from None

    def start_loading_llm(self) -> None:
        """Load the LLM in a background thread, so that a cold start retrieves (and shows the papers) meanwhile."""
        if self.llm is None and self._loading is None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-load")
            self._loading = pool.submit(load_llm, self.settings)
            pool.shutdown(wait=False)  # the thread ends when the load does

    def load_llm(self) -> LLM:
        """The LLM, loaded now, or when a background load was started, once that is done (its error raised)."""
        if self.llm is None:
            self.llm = self._loading.result() if self._loading else load_llm(self.settings)
        return self.llm

    def retrieve(self, question: str, k: int | None = None, filters: Filters | None = None) -> Retrieval:
        return self.retriever.search(clean_question(question), k, filters=filters)

    def list_candidates(self, question: str, *, papers: list[str] | None = None, filters: Filters | None = None,
                        k: int | None = None) -> Retrieval:
        """The papers judged for a "which papers …?" question. When it asks for every paper with a property, the
        papers that name a rare name of it ("Mistral", "LoRA") come first. Not within `papers` (a narrowing's
        scope), nor where the question describes its papers: there a name only describes them ("is there a way to
        upgrade an already-trained LM …" put papers naming "LM" first). Nor for a name more papers hold than are
        judged: "the LM pulls in stuff from a datastore …" put 15 first and pushed out the one survey on it."""
        retrieval = self.retriever.search(question, max(k or 0, self.settings.list_candidates), papers=papers,
                                          filters=filters)
        if papers is not None or not asks_every_paper(question):
            return retrieval
        rare = self.index.named_by_few(proper_names(question, retrieval.papers), self.settings.named_share,
                                       most=len(retrieval.papers))
        return self.retriever.naming_first(retrieval, rare, filters)

    def stream(self, question: str, k: int | None = None, retrieval_only: bool = False,
               papers: list[str] | None = None, listing: bool | None = None, filters: Filters | None = None
               ) -> Iterator[Found | Sources | Token | Answer]:
        """Answer `question` from the whole corpus, or only from `papers` (paper ids: a conversation's scope),
        and only from papers that pass `filters` (sources, dates). `listing` forces (True) or forbids (False)
        judging each candidate paper; None: the question decides."""
        start = time.perf_counter()
        question = clean_question(question)
        listing = not retrieval_only and (is_list_question(question) if listing is None else listing)
        k = k or self.settings.k
        retrieval = (self.list_candidates(question, papers=papers, filters=filters, k=k) if listing else
                     self.retriever.search(question, k, papers=papers, filters=filters))
        # A scope the user already accepted ("which of those …", "how big a FLOPs reduction does it get?") is not
        # gated by the question's similarity to it (0.14, 0.25): that says nothing about the answer. Nor is a list
        # of papers that name what the question does ("Which papers run experiments with a Mistral model (not just
        # mention it …)?": 0.22): each candidate is judged anyway.
        gated = papers is None
        scope, papers = papers, retrieval.papers
        yield Found(retrieval)
        answering = not (listing or retrieval_only)  # a list shows each candidate; the rest read evidence
        options, sources, abstracts = self._evidence(question, retrieval, scope, filters) if answering else (
            None, papers, {})
        yield Sources(retrieval, sources)
        timings = Timings(retrieve_ms=retrieval.ms)
        # the gate reads the passages' own first paper: reordering papers by their abstracts' words says nothing of
        # how near the question any passage is ("which of these papers are surveys …?" was refused at 0.298). A
        # question that names a paper is about it however far its words: "which models was Chimera tested on?" is
        # 0.17 from every passage.
        top = max(papers, key=lambda p: p.fused, default=None)
        gated = gated and not any(names_paper(question, p.title) for p in papers)
        unsupported = "" if retrieval_only else (
            ("no paper passes the filters" if filters and filters.where() else "no paper matches the question")
            if not sources else
            f"the best passage's similarity {top.score:.2f} is below min_score {self.settings.min_score}"
            if gated and top.score < self.settings.min_score and not (listing and self.index.named_by_few(
                proper_names(question, papers), self.settings.named_share)) else "")
        if retrieval_only or unsupported:
            timings.total_s = time.perf_counter() - start
            yield Answer(question, "" if retrieval_only else prompts.REFUSAL, [], papers, timings,
                         abstained=not retrieval_only, reason=unsupported)
            return
        usage = Usage()
        pieces: list[str] = []
        judged: list[tuple[str, float]] = []  # a list's lines and their P(yes)
        unsure: list[float] = []  # the probability of a refusal the model was asked to replace by its best answer
        generate = (self._list_pieces(retrieval, sources, judged) if listing else
                    self._option_pieces(options, sources, usage) if options else
                    self._answer_pieces(question, sources, usage, unsure))
        for piece in generate:
            if timings.first_token_s is None:
                timings.first_token_s = time.perf_counter() - start
            pieces.append(piece)
            yield Token(piece)
        raw = "".join(pieces)
        timings.prompt_tokens, timings.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        if listing:
            kept, reason = self._narrowed(judged) if scope else (raw, "")
            cited = resolve(kept, sources)
            answer = Answer(question, cited.text or prompts.REFUSAL, cited.citations, papers, timings,
                            cited.dropped_markers, not cited.citations, raw,
                            reason=reason if cited.citations else "no candidate paper was judged to match")
        else:
            answer = self._checked(question, raw, retrieval, sources, abstracts, timings, options)
            if unsure:
                answer.reason = "; ".join(filter(None, [
                    f"the model started to refuse, unsure (P {unsure[0]:.2f} < refusal_confidence "
                    f"{self.settings.refusal_confidence}), so it was asked for its best answer"
                    + ("" if answer.abstained else ", which the checks kept"), answer.reason]))
        timings.total_s = time.perf_counter() - start
        yield answer

    def _evidence(self, question: str, retrieval: Retrieval, scope: list[str] | None, filters: Filters | None
                  ) -> tuple[list[Option] | None, list[RetrievedPaper], dict[str, str]]:
        """The excerpts the model reads, and the abstracts the checks read. A choice question's options (each
        answered on its own) each get their paper's best sentences within an equal share of the budget."""
        budget = self.settings.evidence_tokens * 4
        asked = choice(question)
        options = option_papers(asked, self.retriever, scope, filters) if asked else None
        abstracts = self.index.abstracts([p.paper_id for p in retrieval.papers + [o.paper for o in options or []]])
        if options:
            sources = [paper for o in options for paper in select_evidence(
                o.asked_of_it, o.query_vec, [o.paper], abstracts, self.embedder, budget // len(options), 0)]
            if len(sources) == len(options):
                return options, sources, abstracts
        ranked_by = users_words(question) if scope and len(scope) == 1 else question
        vec = retrieval.query_vec if ranked_by == question else self.embedder.embed([ranked_by])[0]
        return None, select_evidence(ranked_by, vec, retrieval.papers, abstracts, self.embedder, budget,
                                     self.settings.evidence_rank_step), abstracts

    def _checked(self, question: str, raw: str, retrieval: Retrieval, sources: list[RetrievedPaper],
                 abstracts: dict[str, str], timings: Timings, options: list[Option] | None = None) -> Answer:
        """The model's answer after the claim checks; else a quoted evidence sentence; else the refusal. `options`:
        a choice question's, whose answer has one line per option (a line that refuses leaves the others) and whose
        names each belong to one option's paper ("tested on llama-2, or the lambda-shaped mask?")."""
        papers = retrieval.papers
        texts = [abstracts.get(p.paper_id, p.text) for p in sources]
        lacking = {n: found for n, (option, source, text) in enumerate(zip(options, sources, texts), start=1)
                   if (found := missing_names(option.question, [source], [text]).get(1))
                   } if options else missing_names(question, sources, texts)
        answered = "\n".join(line for line in raw.splitlines() if not is_refusal(line)) if options else raw
        if not answered.strip() or is_refusal(answered):
            checks, reason = [], "the model found no answer in the excerpts"
        else:
            verified = verify(answered, question, sources, texts, self.index.rare_words(word_terms(question)))
            checks = verified.checks
            dropped = [c for c in checks if c.dropped]
            says_yes_or_no = bool(verified.citations) and only_says_yes_or_no(question, checks)
            # A yes or no about a name its paper never mentions is no answer; nor is any answer when the name
            # carries a size or version ("llama2-13b"): the small model gives the paper's figure for another size.
            sized = {n: [name for name in found if re.search(r"\d", name)] for n, found in lacking.items()}
            unnamed = lacks_names(lacking if says_yes_or_no else sized, [c.n for c in verified.citations])
            if says_yes_or_no and not unnamed and (
                    quoted := self._source_says(question, raw, sources, verified, papers, timings)):
                return quoted
            titles = [c.title for c in verified.citations]
            unanswered = (states_no_quantity(question, verified.text, titles)
                          or names_nothing(question, verified.text, titles)
                          or gives_nothing_asked(question, verified.text) or unnamed) if verified.citations else None
            if verified.citations and not unanswered:
                reason = (f"{len(dropped)} of {len(checks)} sentences left out: "
                          + "; ".join(c.dropped for c in dropped)) if dropped else ""
                return Answer(question, verified.text, verified.citations, papers, timings,
                              verified.dropped_markers, False, raw, checks, reason=reason)
            reason = unanswered or "no sentence of the model's answer is supported by its sources" + (
                f" ({dropped[0].dropped})" if dropped else "")
        closest = ""
        if self.settings.quote_candidates:
            ranked = closest_sentences(question, sources)
            candidates = [(n, s) for n, s in ranked if n not in lacking][:self.settings.quote_candidates]
            quote = find_quote(self.load_llm(), question, candidates, sources, self.settings.quote_threshold)
            if quote:
                cited = resolve(quoted_text(quote.n, quote.sentence), sources)
                return Answer(question, cited.text, cited.citations, papers, timings, 0, False, raw, checks, True,
                              f"{reason}; quoting the source sentence judged to answer the question "
                              f"(P(yes) {quote.p_yes:.2f}) instead")
            skipped = lacks_names(lacking, sorted({n for n, _ in ranked[:self.settings.quote_candidates]}))
            if skipped and skipped not in reason:
                reason = f"{reason}; none of their sentences is quoted: {skipped}"
            if ranked:
                n, sentence = ranked[0]
                closest = f"“{sentence.strip()}” ({sources[n - 1].title})"
        return Answer(question, prompts.REFUSAL, [], papers, timings, 0, True, raw, checks, reason=reason,
                      closest=closest)

    def _source_says(self, question: str, raw: str, sources: list[RetrievedPaper], verified: Verified,
                     papers: list[RetrievedPaper], timings: Timings) -> Answer | None:
        """A bare yes or no, replaced by the cited sources' sentence closest to the question, quoted: the small model
        gets the polarity wrong ("Yes, it beats subword tokenizers" of a paper that reports worse perplexity). None
        when no sentence qualifies (a quantity asked, none stated)."""
        cited = sorted({c.n for c in verified.citations})
        closest = closest_sentences(question, [sources[n - 1] for n in cited], 1)
        if not closest:
            return None
        (k, sentence), = closest
        quoted = resolve(quoted_text(cited[k - 1], sentence), sources)
        return Answer(question, quoted.text, quoted.citations, papers, timings, 0, False, raw, verified.checks, True,
                      "the model's yes or no only restated the question, so nothing checked it; quoting the "
                      f"sentence of [{cited[k - 1]}] closest to the question instead")

    def _answer_pieces(self, question: str, sources: list[RetrievedPaper], usage: Usage, unsure: list[float]
                       ) -> Iterator[str]:
        """The model's answer; when it starts to refuse with a probability below refusal_confidence, its best
        answer instead (the reply started for it: prompts.ANSWER_PREFILL), and that probability goes in `unsure`.
        llama.cpp reuses the whole prompt for the second reply: it costs ~0.1 s more to its first token."""
        llm = self.load_llm()
        messages = build_messages(question, sources)
        pieces = llm.stream(messages, self.settings.max_answer_tokens, usage)
        first = next(pieces, "")
        refusing = refusal_probability(usage.first_token_top)
        if usage.first_token_top and starts_refusal(first) and refusing < self.settings.refusal_confidence:
            pieces.close()
            unsure.append(refusing)
            prefilled = [*messages, {"role": "assistant", "content": prompts.ANSWER_PREFILL}]
            pieces = llm.stream(prefilled, self.settings.max_answer_tokens, usage)
            first = prompts.ANSWER_PREFILL
        if first:
            yield first
        yield from pieces

    def _option_pieces(self, options: list[Option], sources: list[RetrievedPaper], usage: Usage) -> Iterator[str]:
        """One answer per option of a choice question, each from its own paper only, numbered as in `sources`,
        one line each."""
        for n, (option, source) in enumerate(zip(options, sources), start=1):
            part = Usage()
            if n > 1:
                yield "\n"
            messages = build_messages(option.asked_as, [source], n)
            yield from self.load_llm().stream(messages, self.settings.max_answer_tokens, part)
            usage.prompt_tokens += part.prompt_tokens
            usage.completion_tokens += part.completion_tokens

    def _narrowed(self, judged: list[tuple[str, float]]) -> tuple[str, str]:
        """The lines of a narrowing ("which of those …?") judged near the best one, and why others were left out.
        The papers the user saw share a topic, which lifts every P(yes): there the judge tells matches apart
        by comparison, not by its scale (10 dev narrowing turns: mean list F1 0.55 → 0.67 at a share of 0.6)."""
        best = max((p for _, p in judged), default=0.0)
        floor = self.settings.narrow_share * best
        out = [p for _, p in judged if p < floor]
        kept = "".join(line for line, p in judged if p >= floor)
        return kept, (f"{len(out)} of {len(judged)} papers left out: judged less likely to match (P(yes) "
                      f"{max(out):.2f} or less) than {self.settings.narrow_share:.0%} of the best one's "
                      f"({best:.2f})") if out else ""

    def _list_pieces(self, retrieval: Retrieval, candidates: list[RetrievedPaper],
                     judged: list[tuple[str, float]]) -> Iterator[str]:
        """One line per candidate the LLM judges a match: '- Title [n]: key sentence'; each also goes into
        `judged` with its P(yes)."""
        question = retrieval.query
        excerpts = key_sentences(retrieval.query_vec, candidates, self.embedder)
        numbers = {p.paper_id: n for n, p in enumerate(candidates, start=1)}
        threshold = self.settings.identify_threshold if asks_which_paper(question) else self.settings.list_threshold
        for rank, (paper, excerpt, p_yes) in enumerate(judge(self.load_llm(), question, candidates, excerpts)):
            if p_yes >= threshold + self.settings.list_rank_step * rank:
                line = f"- {paper.title} [{numbers[paper.paper_id]}]: {excerpt}\n"
                judged.append((line, p_yes))
                yield line

    def ask(self, question: str, **kwargs) -> Answer:
        for event in self.stream(question, **kwargs):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an answer")

