"""Scale benchmark: `python -m eval.bench_scale [--papers 100000]` (`make bench-scale`; not in CI).

Writes a deterministic synthetic corpus (titles and abstracts recombined from the seed papers' sentences)
as JSONL, ingests it into its own index under data/scale/, and reports ingestion papers/s, peak memory,
index size on disk and retrieval latency against an index of the 78 seed papers. Re-running resumes an
interrupted ingest (ingestion is idempotent); the figures then cover only the remaining work."""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
from pathlib import Path

from eval import metrics
from eval.report import SCALE_SECTION, machine, table, write_section
from eval.run import load_qa
from rag.cli import add_settings_flags, run_cli, settings_from_flags
from rag.text import SENTENCE
from rag.corpus import load
from rag.embeddings import Embedder, load_embedder
from rag.index import Index
from rag.ingest import ingest
from rag.pipeline import Pipeline
from rag.retrieve import Retriever
from rag.settings import PROJECT_ROOT, Settings

SENTENCES_PER_ABSTRACT = (3, 4)  # ~600 characters: about two passages per paper


def synthetic_corpus(path: Path, papers: int, seed: int = 0) -> None:
    """`papers` JSONL records made of seed sentences; unique titles; dates spread over 2024; the same file for
    the same arguments."""
    seeds = load([PROJECT_ROOT / "seeds"]).papers
    sentences = [s for p in seeds for s in SENTENCE.split(p.abstract) if len(s.split()) >= 6]
    title_words = [w for p in seeds for w in p.title.replace(":", "").split()]
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for n in range(papers):
            title = " ".join(rng.sample(title_words, 7)) + f" ({n})"
            abstract = " ".join(rng.sample(sentences, rng.randint(*SENTENCES_PER_ABSTRACT)))
            date = f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}"
            f.write(json.dumps({"title": title, "abstract": abstract, "date": date}) + "\n")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process (this one by default), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class MemorySampler(threading.Thread):
    """Samples this process's resident memory every second while the ingest runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        start = time.perf_counter()
        while not self.stopped.wait(1.0):
            self.samples.append((time.perf_counter() - start, rss_mb()))

    def at_fractions(self, fractions: list[float]) -> list[float]:
        end = self.samples[-1][0] if self.samples else 0
        return [next((mb for t, mb in self.samples if t >= f * end), 0.0) for f in fractions]


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def retrieval_ms(settings: Settings, embedder: Embedder, questions: list[str]) -> dict:
    start = time.perf_counter()
    retriever = Retriever(Index(settings), embedder, settings)  # a fresh Index: measures opening it too
    retriever.search(questions[0])  # loads the keyword index from disk
    first = (time.perf_counter() - start) * 1000
    times = [retriever.search(q).ms for q in questions]
    return {"first query (ms, incl. opening the index)": first,
            "retrieval p50 (ms)": metrics.percentile(times, 50), "retrieval p95 (ms)": metrics.percentile(times, 95)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=PROJECT_ROOT / "data" / "scale", help="corpus and indexes")
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "eval" / "RESULTS.md")
    add_settings_flags(parser)
    args = parser.parse_args(argv)
    settings = settings_from_flags(args)
    corpus_file = args.dir / f"synthetic-{args.papers}.jsonl"
    if not corpus_file.is_file():
        synthetic_corpus(corpus_file, args.papers)
    embedder = load_embedder(settings)
    folder = re.sub(r"[^\w.-]+", "_", embedder.name)  # one index per embedder: an index keeps its embedder
    big = settings.model_copy(update={"data_dir": args.dir / f"index-{args.papers}-{folder}", "corpus": [corpus_file]})
    small = settings.model_copy(update={"data_dir": args.dir / f"index-seeds-{folder}"})

    big_index = Index(big)
    sampler = MemorySampler()
    sampler.start()
    start = time.perf_counter()
    report = ingest([corpus_file], big, big_index, embedder)
    seconds = time.perf_counter() - start
    sampler.stopped.set()
    print(report.summary())
    seeds = Pipeline(small, embedder=embedder)
    seeds.ensure_index(progress=False)

    questions = [item.question for item in load_qa(PROJECT_ROOT / "eval" / "qa.jsonl")]
    at_scale, at_seeds = retrieval_ms(big, embedder, questions), retrieval_ms(small, embedder, questions)
    rss = sampler.at_fractions([0.25, 0.5, 0.75, 1.0])
    rows = [
        ["papers ingested in this run", report.papers, ""],
        ["passages in the index", big_index.count(), seeds.index.count()],
        ["ingest time (s)", seconds, ""],
        ["papers/s", report.papers / seconds, ""],
        ["passages/s (embedded and written)", report.added / seconds, ""],
        ["resident memory at 25/50/75/100% of the ingest (MB)", " / ".join(f"{mb:.0f}" for mb in rss), ""],
        ["peak resident memory (MB)", max((mb for _, mb in sampler.samples), default=rss_mb()), ""],
        ["index on disk (MB)", disk_mb(big.data_dir), disk_mb(small.data_dir)],
    ] + [[name, at_scale[name], at_seeds[name]] for name in at_scale]
    text = "\n".join([
        SCALE_SECTION, "",
        f"Command: `python -m eval.bench_scale {' '.join(sys.argv[1:] if argv is None else argv)}` "
        f"(synthetic JSONL of {args.papers:,} papers, {SENTENCES_PER_ABSTRACT[0]}-{SENTENCES_PER_ABSTRACT[1]} "
        f"seed sentences each; retrieval over the {len(questions)} questions of eval/qa.jsonl; embedder "
        f"{embedder.name})  ",
        f"Machine: {machine()}", "",
        table(["measure", f"{args.papers:,} papers", "78 seed papers"], rows), ""])
    print(text)
    write_section(args.results, SCALE_SECTION, text)
    return 0


if __name__ == "__main__":
    run_cli(main)
