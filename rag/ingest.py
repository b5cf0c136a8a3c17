"""Ingest corpus files into the index: `python -m rag.ingest PATH...`.

Idempotent: chunk ids are content hashes, so re-ingesting the same file adds nothing and a changed
abstract replaces exactly its own chunks. Files are streamed and work is done in batches of papers, so
memory stays flat and an interrupted run (even `kill -9`) is finished by the next one."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

from tqdm import tqdm

from rag import library
from rag.chunking import chunk_papers, make_splitter
from rag.cli import add_settings_flags, run_cli, settings_from_flags
from rag.corpus import CorpusReader, Paper, Problem
from rag.embeddings import Embedder, load_embedder, load_paper_embedder
from rag.index import Index
from rag.settings import Settings


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass
class IngestReport:
    papers: int = 0
    papers_added: int = 0  # new to the index
    papers_replaced: int = 0  # indexed before with another abstract (or title spelling)
    papers_unchanged: int = 0
    added: int = 0  # passages
    removed: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.papers} papers: {self.papers_added} added, {self.papers_replaced} replaced, "
                f"{self.papers_unchanged} unchanged ({self.added} passages added, {self.removed} removed, "
                f"{self.unchanged} unchanged); {len(self.problems)} records skipped")


def pending_file(settings: Settings) -> Path:
    """Names the paths of an ingest that has started and not finished (killed, interrupted, failed)."""
    return settings.data_dir / "ingest-pending.json"


def unfinished_ingest(settings: Settings) -> list[Path]:
    """The paths of an ingest that stopped before it finished; none while its process still runs."""
    try:
        pending = json.loads(pending_file(settings).read_text())
        os.kill(pending["pid"], 0)
        return []  # still running (e.g. a long `rag.ingest` beside the chat)
    except ProcessLookupError:
        return [Path(p) for p in pending["paths"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def paper_version(paper: Paper) -> str:
    return hashlib.sha256(f"{paper.title}\n{paper.abstract}".encode()).hexdigest()[:16]


def add_paper_vectors(batch: list[Paper], index: Index, paper_embedder: Embedder, settings: Settings) -> None:
    """Embed the whole abstract of each paper of `batch` that has no paper vector of its current version."""
    stored = index.paper_versions([p.id for p in batch])
    versions = {p.id: paper_version(p) for p in batch}
    todo = {p.id: p for p in batch if stored.get(p.id) != versions[p.id]}.values()  # a file may repeat a paper
    if todo:
        texts = [settings.paper_document_prompt.format(title=p.title, abstract=p.abstract) for p in todo]
        index.add_paper_vectors([p.id for p in todo], [versions[p.id] for p in todo], paper_embedder.embed(texts))


def ingest(paths: list[Path], settings: Settings, index: Index | None = None, embedder: Embedder | None = None,
           progress: bool = True, on_batch: Callable[[IngestReport], None] | None = None,
           paper_embedder: Embedder | None = None) -> IngestReport:
    """Ingest `paths`; `on_batch` is called with the report so far after each batch of papers. Without a
    `paper_embedder`, the settings' one is loaded (none when paper_rank_weight is 0)."""
    reader = CorpusReader(paths)  # bad files stop the run here, before models load or anything is written
    index = index or Index(settings)
    embedder = embedder or load_embedder(settings)
    index.use_embedder(embedder.name)
    paper_embedder = paper_embedder or load_paper_embedder(settings)
    if paper_embedder:
        index.use_embedder(paper_embedder.name, papers=True)
    pending = pending_file(settings)
    pending.parent.mkdir(parents=True, exist_ok=True)
    pending.write_text(json.dumps({"pid": os.getpid(), "paths": [str(p.resolve()) for p in paths]}))
    report = IngestReport(problems=reader.problems)
    splitter = make_splitter(settings.chunk_chars, settings.chunk_overlap)
    with tqdm(unit="paper", desc="ingesting", disable=not progress) as bar:
        for batch in batched(reader, settings.batch_size):
            report.papers += len(batch)
            chunks = list(chunk_papers(batch, splitter))
            indexed = index.ids_by_paper([p.id for p in batch])
            existing = set().union(*indexed.values())
            new = [c for c in chunks if c.id not in existing]
            stale = sorted(existing - {c.id for c in chunks})
            index.delete(stale)
            if new:
                index.add(new, embedder.embed([c.indexed_text for c in new]))
            index.update_metadata([c for c in chunks if c.id in existing])  # the file it now comes from
            if paper_embedder:
                add_paper_vectors(batch, index, paper_embedder, settings)
            for paper in batch:
                ids = {c.id for c in chunks if c.paper_id == paper.id}
                if not indexed.get(paper.id):
                    report.papers_added += 1
                elif indexed[paper.id] == ids:
                    report.papers_unchanged += 1
                else:
                    report.papers_replaced += 1
            report.added += len(new)
            report.removed += len(stale)
            report.unchanged += len(chunks) - len(new)
            bar.update(len(batch))
            if on_batch:
                on_batch(report)
    if report.added or report.removed or not index.keyword_index_saved():
        index.rebuild_keyword_index()
    if report.added:
        library.emptied_marker(settings).unlink(missing_ok=True)
    pending.unlink()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="corpus files or folders (.txt/.md pages, .jsonl, .csv)")
    parser.add_argument("--remove", metavar="SOURCE", help="remove the papers read from this source file (its name, "
                        "as --list shows it) from the index")
    parser.add_argument("--list", action="store_true", help="list the source files in the index, with their papers")
    add_settings_flags(parser)
    args = parser.parse_args(argv)
    if bool(args.paths) + bool(args.remove) + args.list != 1:
        parser.error("give corpus paths, or --remove SOURCE, or --list")
    settings = settings_from_flags(args)
    if args.remove or args.list:
        index = Index(settings)
        if args.remove:
            print(f"removed {library.remove_source(index, args.remove)} papers of {args.remove}")
        for source, count in library.sources(library.papers(index)).items():
            print(f"{count:6d}  {source or '(source not recorded)'}")
        return 0
    report = ingest(args.paths, settings)
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(report.summary())
    return 0


if __name__ == "__main__":
    run_cli(main)
