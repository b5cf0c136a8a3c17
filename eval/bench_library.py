"""Library benchmark: `python -m eval.bench_library [--papers 10000]` (`make bench-library`; not in CI).

What a user of the Library tab waits for, in one run: adding the 78-paper seed page through the tab's own
service (first progress step, then answerable), the topic map of those 78 papers and of a synthetic library
(eval.bench_scale's corpus plus the seed page, ingested once under data/scale/ and reused), and retrieval
without and with filters at both sizes."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from eval import metrics
from eval.bench_scale import synthetic_corpus
from eval.report import LIBRARY_SECTION, machine, table, write_section
from eval.run import load_qa
from rag import library
from rag.cli import run_cli
from rag.embeddings import Embedder, load_embedder
from rag.index import Index
from rag.ingest import ingest
from rag.pipeline import Pipeline
from rag.retrieve import Filters, Retriever
from rag.settings import PROJECT_ROOT, Settings
from ui.library import LibraryService

SEED_PAGE = PROJECT_ROOT / "seeds" / "daily-papers-2024-03-21.txt"
FILTERS = {  # a selective one (78 papers of the synthetic library) and a broad one (about a third of it)
    "source filter (the seed page)": Filters(sources=(SEED_PAGE.name,)),
    "date filter (2024-03 to 2024-06)": Filters(since="2024-03", until="2024-06"),
}


def upload(settings: Settings, embedder: Embedder) -> dict:
    """Add the seed page through the Library tab's service into an empty index, as the browser does."""
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    pipeline = Pipeline(settings, embedder=embedder)
    service = LibraryService(pipeline)
    start = time.perf_counter()
    service.add([str(SEED_PAGE)])
    job = service.jobs[-1]
    while job.state == "waiting":
        time.sleep(0.01)
    bar_shown = time.perf_counter() - start
    while job.done == 0 and job.state not in ("done", "failed"):
        time.sleep(0.01)
    first_step = time.perf_counter() - start
    service.wait()
    done = time.perf_counter() - start
    if job.state != "done":
        raise RuntimeError(f"the upload failed: {job.error}")
    title = library.papers(pipeline.index)[0].title
    answerable = all(title in {p.title for p in pipeline.retriever.search(title, 3, mode).papers}
                     for mode in ("dense", "bm25"))
    return {"papers": job.total, "progress bar with the paper count (s)": bar_shown,
            "first progress step (s)": first_step, "added and answerable (s)": done,
            "a new paper found by dense and keyword search": answerable}


def timed_ms(work, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def retrieval_rows(settings: Settings, embedder: Embedder, questions: list[str]) -> dict[str, str]:
    """Retrieval p50 / p95 (ms) over `questions`, unfiltered and with each filter, and the ratio of p95s."""
    retriever = Retriever(Index(settings), embedder, settings)
    retriever.search(questions[0])  # loads the keyword index
    rows, base = {}, None
    for name, filters in {"no filter": None, **FILTERS}.items():
        retriever.search(questions[0], filters=filters)  # the filter's first use reads its passage ids
        times = [retriever.search(q, filters=filters).ms for q in questions]
        p50, p95 = metrics.percentile(times, 50), metrics.percentile(times, 95)
        base = base or p95
        rows[f"retrieval p50 / p95 (ms), {name}"] = f"{p50:.1f} / {p95:.1f} ({p95 / base:.2f}x)"
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_library", description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=10_000, help="papers in the synthetic library")
    parser.add_argument("--dir", type=Path, default=PROJECT_ROOT / "data" / "scale", help="corpora and indexes")
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "eval" / "RESULTS.md")
    args = parser.parse_args(argv)
    embedder = load_embedder(Settings())
    questions = [item.question for item in load_qa(PROJECT_ROOT / "eval" / "qa.jsonl")]

    seeds = Settings(data_dir=args.dir / "library-upload")
    uploaded = upload(seeds, embedder)

    corpus_file = args.dir / f"synthetic-{args.papers}.jsonl"
    if not corpus_file.is_file():
        synthetic_corpus(corpus_file, args.papers)
    big = Settings(data_dir=args.dir / f"library-{args.papers}")
    start = time.perf_counter()
    report = ingest([corpus_file, SEED_PAGE], big, Index(big), embedder)  # resumes; nothing to do once done
    ingest_s = time.perf_counter() - start

    sizes = {"78 seed papers": seeds, f"{report.papers:,} papers": big}
    columns = {}
    for name, settings in sizes.items():
        index = Index(settings)
        topic_ms = timed_ms(lambda: library.topic_map(index), repeat=3)  # the first imports scikit-learn
        columns[name] = {
            "topic map and labels, first / best of 3 (s)": f"{topic_ms[0] / 1000:.2f} / {min(topic_ms) / 1000:.2f}",
            "library table read (s)": min(timed_ms(lambda: library.papers(index), repeat=3)) / 1000,
            **retrieval_rows(settings, embedder, questions)}
    rows = [[f"upload of the seed page: {key}", value, ""] for key, value in uploaded.items()]
    rows += [[key, *(column[key] for column in columns.values())] for key in columns[next(iter(columns))]]
    rows.append(["ingest of the synthetic library in this run (s)", "", f"{ingest_s:.0f} ({report.summary()})"])
    text = "\n".join([
        LIBRARY_SECTION, "",
        f"Command: `python -m eval.bench_library {' '.join(sys.argv[1:] if argv is None else argv)}` (the table: "
        f"best of 3; retrieval over the {len(questions)} questions of eval/qa.jsonl; p95 ratio to "
        "unfiltered in brackets)  ",
        f"Machine: {machine()}", "",
        table(["measure", *columns], rows), ""])
    print(text)
    write_section(args.results, LIBRARY_SECTION, text)
    return 0


if __name__ == "__main__":
    run_cli(main)
