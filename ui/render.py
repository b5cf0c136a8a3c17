"""Markdown shown by the browser chat: the sources panel, the chat messages of answers and errors.

Pure functions of the pipeline's data (no gradio), so they are unit-tested with the fakes. Titles and
passages are escaped: they are shown exactly as they are in the index, never as markup.
"""

from __future__ import annotations

import html
import re
from typing import Sequence

from rag.cite import Citation
from rag.conversation import Resolved
from rag.pipeline import Answer, Timings
from rag.retrieve import RetrievedPaper

_SPECIAL = re.compile(r"([\\`*_\[\]<>~$])")

EMPTY_PANEL = ("### Sources\n\nThe papers behind each answer appear here: the exact title, the passage used "
               "and its score.")


def escape(text: str) -> str:
    """Plain text that Markdown renders literally (one line: newlines become spaces)."""
    text = _SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return re.sub(r"^(\d+)([.)])|^([-=+#])", lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)


def escape_lines(text: str) -> str:
    """An answer (the model's text, or a list of titles and quoted sentences) shown as data, never markup: no
    HTML element, no link or image, whatever the corpus holds. Lines, bullets and [n] markers stay as they are,
    so API clients get the same readable text."""
    return html.escape(text, quote=False).replace("](", "]\\(").replace("![", "!\\[")


def source_numbers(sources: Sequence[RetrievedPaper]) -> dict[str, int]:
    """The [n] of each paper as the answer numbers it (the pipeline's Sources event): lets the panel show
    the numbers of the streamed markers before the answer is complete."""
    return {paper.paper_id: n for n, paper in enumerate(sources, start=1)}


_HOW = {
    "switched": "a new topic, as you said: earlier papers are left out",
    "narrowed": "narrowing the last list: each of its papers is judged again",
    "among": "a question about the last list's papers together: answered from them only",
    "subject": "a follow-up about the previous answer's paper",
    "position": "a follow-up about a paper of the previous answer, by its place",
    "description": "a follow-up about the paper of the previous answer that matches your description",
    "rewritten": "a follow-up rewritten by the model to stand on its own",
}


def resolution(resolved: Resolved | None) -> list[str]:
    """How a follow-up was understood: the question answered and the papers it was limited to."""
    if resolved is None or resolved.how == "standalone":
        return []
    lines = [f"**Answered as:** {escape(resolved.standalone)}  ", f"<sub>{_HOW[resolved.how]}</sub>", ""]
    if resolved.scope:
        lines += ["<sub>Among: " + "; ".join(escape(title) for _, title in resolved.scope) + "</sub>", ""]
    return lines


def _paper(label: str, title: str, score: float, passage: str | None) -> list[str]:
    lines = [f"**{label} {escape(title)}**  ", f"<sub>score {score:.2f}</sub>"]
    if passage:
        lines += ["", f"> {escape(passage)}"]
    return lines + [""]


def retrieved_panel(papers: Sequence[RetrievedPaper], numbers: dict[str, int], ms: float, *,
                    resolved: Resolved | None = None, answering: bool = True) -> str:
    """All papers found, best first, with their best passage: shown as soon as retrieval is done
    (before the first token), and as the whole answer of a retrieval-only question."""
    lines = ["### Sources", *resolution(resolved)]
    if not papers:
        return "\n".join(lines + ["No paper matches this question."])
    state = "the model is reading them…" if answering else "retrieval only, no answer generated."
    lines += [f"Found {len(papers)} papers in {ms:.0f} ms; {state}", ""]
    for paper in papers:
        n = numbers.get(paper.paper_id)
        passage = paper.passages[0].text if paper.passages else None
        lines += _paper(f"[{n}]" if n else "–", paper.title, paper.score, passage)
    return "\n".join(lines)


def answer_panel(answer: Answer, *, resolved: Resolved | None = None) -> str:
    """Cited papers first ([n], exact title, the passage used, score); the retrieved papers the answer
    does not cite below, collapsed."""
    lines = ["### Sources", *resolution(resolved)]
    cited_ids = {c.paper_id for c in answer.citations}
    if answer.citations:
        lines += [f"Cited by the answer ({len(answer.citations)}):", ""]
        for c in answer.citations:
            lines += _paper(f"[{c.n}]", c.title, c.score, c.snippet)
    else:
        lines += ["The answer cites no paper.", ""]
    lines += checks_section(answer)
    others = [p for p in answer.retrieved if p.paper_id not in cited_ids]
    if others:
        lines += [f"<details><summary>Retrieved but not cited ({len(others)})</summary>", ""]
        lines += [f"- {escape(p.title)} <sub>score {p.score:.2f}</sub>" for p in others]
        lines += ["", "</details>", ""]
    lines.append(f"<sub>{timings_line(answer.timings)}</sub>")
    return "\n".join(lines)


def checks_section(answer: Answer) -> list[str]:
    """Why the program changed or refused the model's answer, sentence by sentence."""
    if not answer.reason:
        return []
    what = "is a refusal" if answer.abstained else "differs from the model's"
    lines = [f"**Why the answer {what}:** {escape(answer.reason)}", ""]
    if answer.checks:
        lines += [f"<details><summary>The model's sentences, checked ({len(answer.checks)})</summary>", ""]
        for check in answer.checks:
            verdict = (f"✗ left out: {escape(check.dropped)}" if check.dropped
                       else "✓ kept, cites " + "".join(f"\\[{n}\\]" for n in check.cites))
            lines.append(f"- {escape(check.sentence)} <sub>{verdict}</sub>")
        lines += ["", "</details>", ""]
    return lines


def timings_line(t: Timings) -> str:
    parts = [f"retrieval {t.retrieve_ms:.0f} ms"]
    if t.first_token_s is not None:
        parts.append(f"first token {t.first_token_s:.1f} s")
    parts.append(f"total {t.total_s:.1f} s")
    return " · ".join(parts)


def citations_footer(citations: Sequence[Citation]) -> str:
    """The cited titles under an answer in the chat, like the CLI's source list."""
    if not citations:
        return ""
    return "\n".join(["**Sources**", *(f"[{c.n}] {escape(c.title)}" for c in citations)])


def answer_message(answer: Answer) -> str:
    """The final answer in the chat: it replaces the streamed text, so when the checks changed it the
    message says why."""
    parts = [escape_lines(answer.text)]
    if answer.reason:
        label = "Quoted from the source" if answer.quoted else "Checked" if not answer.abstained else "Why"
        parts.append(f"<sub>{label}: {escape(answer.reason)}.</sub>")
    if answer.closest:
        parts.append(f"<sub>Closest passage, not an answer: {escape(answer.closest)}</sub>")
    if footer := citations_footer(answer.citations):
        parts.append(footer)
    return "\n\n".join(parts)


def papers_message(papers: Sequence[RetrievedPaper], ms: float) -> str:
    """A retrieval-only answer: the matching papers, best first."""
    if not papers:
        return "No paper matches this question."
    lines = [f"Papers matching your question ({ms:.0f} ms, retrieval only):", ""]
    lines += [f"{n}. {escape(p.title)} <sub>{p.score:.2f}</sub>" for n, p in enumerate(papers, start=1)]
    return "\n".join(lines)


def error_message(message: str) -> str:
    """A one-line, readable message for the chat (never a traceback)."""
    message = message.strip().rstrip(".")
    return f"⚠ {message[:1].upper()}{message[1:]}."
