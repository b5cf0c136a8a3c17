"""Evidence for the prompt: which passages of the retrieved papers the model reads, within a budget.

On a CPU the prompt's length is the latency, so the prompt carries sentence-aligned passages, not whole
abstracts: the papers the question names first, else the best paper's `lead` passages, then each other
paper's best passage, the next round..."""

from __future__ import annotations

import re

from langchain_core.messages import convert_to_openai_messages

from rag import prompts
from rag.retrieve import RetrievedPaper


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
