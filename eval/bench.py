"""Benchmark: the naive tutorial recipe (top-3 whole abstracts) against the product's pipeline, on the
same fixed questions, in one run: `python -m eval.bench [--per-type N]`.

Prints time to first token, total time and answer quality for both, and their ratio; writes the figures
into the "## Benchmark" section of eval/RESULTS.md."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from langchain_core.messages import convert_to_openai_messages
from langchain_core.prompts import ChatPromptTemplate

from eval import metrics
from eval.report import BENCH_SECTION, machine, table, write_section
from eval.run import QA, load_qa
from rag import corpus
from rag.backends import Usage
from rag.cite import resolve
from rag.grounding import is_refusal
from rag.cli import add_settings_flags, run_cli, settings_from_flags
from rag.pipeline import Pipeline
from rag.retrieve import Passage, RetrievedPaper
from rag.settings import PROJECT_ROOT

# The recipe most tutorials show: whole documents stuffed into a generic prompt.
NAIVE_PROMPT = ChatPromptTemplate.from_messages([
    ("system", "You are a helpful assistant. Use the following context to answer the question. "
               "Cite the documents you use as [1], [2] or [3]. If you don't know the answer, say that you don't know."),
    ("human", "Context:\n{context}\n\nQuestion: {question}\nAnswer:"),
])
NAIVE_DOCUMENTS = 3


def fixed_questions(items: list[QA], per_type: int) -> list[QA]:
    chosen = []
    for kind in dict.fromkeys(i.type for i in items):
        chosen += [i for i in items if i.type == kind][:per_type]
    return chosen


def naive_answer(pipeline: Pipeline, abstracts: dict[str, str], question: str) -> dict:
    start = time.perf_counter()
    papers = pipeline.retriever.search(question, NAIVE_DOCUMENTS, "dense").papers
    context = "\n\n".join(f"[{n}] {p.title}\n{abstracts[p.title]}" for n, p in enumerate(papers, start=1))
    messages = convert_to_openai_messages(NAIVE_PROMPT.format_messages(context=context, question=question))
    usage, pieces, first = Usage(), [], None
    for piece in pipeline.load_llm().stream(messages, pipeline.settings.max_answer_tokens, usage):
        first = first or time.perf_counter() - start
        pieces.append(piece)
    sources = [RetrievedPaper(p.paper_id, p.title, [Passage("", abstracts[p.title], 0, p.score, 0)]) for p in papers]
    cited = resolve("".join(pieces), sources)
    return {"text": cited.text, "titles": [c.title for c in cited.citations],
            "abstained": is_refusal(cited.text) or not cited.citations,
            "first_token_s": first, "total_s": time.perf_counter() - start, "prompt_tokens": usage.prompt_tokens}


def product_answer(pipeline: Pipeline, question: str) -> dict:
    answer = pipeline.ask(question)
    return {"text": answer.text, "titles": [c.title for c in answer.citations], "abstained": answer.abstained,
            "first_token_s": answer.timings.first_token_s, "total_s": answer.timings.total_s,
            "prompt_tokens": answer.timings.prompt_tokens}


def correct(item: QA, result: dict) -> bool:
    """Unanswerable: abstained. Else: cites a gold paper and (where given) states the keywords."""
    if not item.gold_titles:
        return result["abstained"]
    return (not result["abstained"] and bool(set(result["titles"]) & set(item.gold_titles))
            and metrics.keywords_ok(result["text"], item.answer_keywords))


def summarize(items: list[QA], results: list[dict]) -> dict:
    firsts = [r["first_token_s"] for r in results if r["first_token_s"] is not None]
    return {
        "first_token_p50": metrics.percentile(firsts, 50), "first_token_p95": metrics.percentile(firsts, 95),
        "total_p50": metrics.percentile([r["total_s"] for r in results], 50),
        "total_p95": metrics.percentile([r["total_s"] for r in results], 95),
        "prompt_tokens_p50": metrics.percentile([r["prompt_tokens"] for r in results if r["prompt_tokens"]], 50),
        "correct": metrics.mean([float(correct(i, r)) for i, r in zip(items, results)]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--qa", type=Path, default=PROJECT_ROOT / "eval" / "qa.jsonl")
    parser.add_argument("--per-type", type=int, default=3, help="questions taken from each question type")
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "eval" / "RESULTS.md")
    add_settings_flags(parser)
    args = parser.parse_args(argv)
    items = fixed_questions(load_qa(args.qa), args.per_type)
    pipeline = Pipeline(settings_from_flags(args))
    pipeline.ensure_index()
    abstracts = {p.title: p.abstract for p in corpus.load(pipeline.settings.corpus).papers}
    pipeline.load_llm()
    # Each recipe runs as one block, so each keeps its own system prompt in llama.cpp's prompt cache.
    naive = [naive_answer(pipeline, abstracts, i.question) for i in items]
    product = [product_answer(pipeline, i.question) for i in items]
    n, p = summarize(items, naive), summarize(items, product)
    rows = [[name, n[key], p[key]] for name, key in [
        ("time to first token p50 (s)", "first_token_p50"), ("time to first token p95 (s)", "first_token_p95"),
        ("total p50 (s)", "total_p50"), ("total p95 (s)", "total_p95"),
        ("prompt tokens p50", "prompt_tokens_p50"), ("correct answers", "correct")]]
    ratio = n["first_token_p50"] / p["first_token_p50"]
    text = "\n".join([
        BENCH_SECTION, "",
        f"Command: `python -m eval.bench {' '.join(sys.argv[1:] if argv is None else argv)}` ({len(items)} questions, {args.per_type} per type, one run, warm model)  ",
        f"Machine: {machine()}", "",
        table(["measure", f"naive (top-{NAIVE_DOCUMENTS} abstracts)", "product"], rows), "",
        f"Time to first token, naive / product (p50): **{ratio:.2f}x**", ""])
    print(text)
    write_section(args.results, BENCH_SECTION, text)
    return 0


if __name__ == "__main__":
    run_cli(main)
