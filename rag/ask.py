"""Ask a question about the indexed papers: `python -m rag.ask "which papers prune Llama?"`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Iterable

from rag.cli import add_filter_flags, add_settings_flags, filters_from_flags, run_cli, settings_from_flags
from rag.pipeline import Answer, Found, Pipeline, Token, clean_question


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.ask", description=__doc__.split(":")[0])
    parser.add_argument("question", help="your question, in quotes")
    parser.add_argument("--json", action="store_true", help="print the whole answer object as JSON")
    parser.add_argument("--retrieval-only", action="store_true", help="list the best-matching papers at once, no LLM")
    add_filter_flags(parser)
    add_settings_flags(parser)
    args = parser.parse_args(argv)
    question = clean_question(args.question)  # fail fast, before any model loads
    filters = filters_from_flags(args)
    pipeline = Pipeline(settings_from_flags(args))  # the index and the embedder: no torch, ~1 s
    if not args.retrieval_only and not pipeline.index.count():
        pipeline.load_llm()  # a bad model setting fails before a first, long ingest
    # Otherwise the LLM loads once the papers are printed: xllamacpp holds the GIL while it loads, so loading
    # it beside retrieval held the papers back ~1.5 s and brought the first token no sooner (make bench-cold).
    pipeline.ensure_index(progress=not args.json)
    events = pipeline.stream(question, retrieval_only=args.retrieval_only, filters=filters)
    if args.json:
        answer = next(e for e in events if isinstance(e, Answer))
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_events(events)
    # An answer that needed no LLM (a refusal below min_score) exits without loading it: loading it only to
    # check the setting cost ~2 s, and 2 of ~20 such runs hung at exit (every thread in a futex wait).
    return 0


def print_events(events: Iterable) -> None:
    """For people: the papers found, then the answer as it streams, then the checked answer and its sources."""
    out = sys.stdout
    streamed = ""
    for event in events:
        if isinstance(event, Found):
            out.write(f"Papers found ({event.retrieval.ms:.0f} ms):\n")
            for paper in event.retrieval.papers:
                out.write(f"  {paper.score:.2f}  {paper.title}\n")
            out.write("\n")
            out.flush()
        elif isinstance(event, Token):
            streamed += event.text
            out.write(event.text)
            out.flush()
        elif isinstance(event, Answer) and (event.text or event.abstained):
            print_citations(event, streamed)


def print_citations(answer: Answer, streamed: str) -> None:
    """After the streamed text: the checked answer when the checks changed it, and why; then the sources."""
    if answer.abstained:  # the refusal once: the model may have streamed it already
        refusal = "" if answer.text.strip() == streamed.strip() else f"{answer.text}\n"
        print(f"\n\n{refusal}(why: {answer.reason})")
        if answer.closest:
            print(f"Closest passage, not an answer: {answer.closest}")
        return
    if answer.text.strip() != streamed.strip():
        label = "Quoted from the source" if answer.quoted else "Checked answer"
        print(f"\n\n{label} ({answer.reason or 'citations re-attributed'}):\n{answer.text}")
    print("\n\nSources:")
    for c in answer.citations:
        print(f"  [{c.n}] {c.title}")
    t = answer.timings
    print(f"\n(retrieval {t.retrieve_ms:.0f} ms, first token {t.first_token_s or 0:.1f} s, total {t.total_s:.1f} s)",
          file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
