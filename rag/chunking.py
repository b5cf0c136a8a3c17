"""Split abstracts into sentence-aligned passages; each passage keeps its paper's id and exact title."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from rag.corpus import Paper, day_number, source_name

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter


def indexed_text(title: str, text: str) -> str:
    """What is embedded and keyword-indexed: the title gives every passage its paper's topic."""
    return f"{title}\n{text}"


@dataclass(frozen=True)
class Chunk:
    id: str
    paper_id: str
    title: str
    text: str
    position: int
    source: str = ""  # the file's name, as the library shows it and `rag.ingest --remove` takes it
    date: str = ""  # the paper's date as YYYY-MM-DD (or shorter), "" when unknown

    @property
    def indexed_text(self) -> str:
        return indexed_text(self.title, self.text)

    @property
    def metadata(self) -> dict:
        # `day` is the date as a number (YYYYMMDD, 0: unknown): Chroma compares numbers only.
        return {"paper_id": self.paper_id, "title": self.title, "position": self.position, "source": self.source,
                "date": self.date, "day": day_number(self.date)}


def make_splitter(chunk_chars: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    # Imported here: a question needs no splitter, and langchain's imports would delay every cold start.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_chars,
        chunk_overlap=chunk_overlap,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", " ", ""],
        keep_separator="end",
        strip_whitespace=True,
    )


def chunk_id(paper: Paper, text: str) -> str:
    """Content hash: the same passage of the same paper always gets the same id."""
    return hashlib.sha1(f"{paper.id}\x1f{paper.title}\x1f{text}".encode()).hexdigest()[:24]


def chunk_papers(papers: Iterable[Paper], splitter: RecursiveCharacterTextSplitter) -> Iterator[Chunk]:
    for paper in papers:
        seen: set[str] = set()
        for position, text in enumerate(splitter.split_text(paper.abstract)):
            cid = chunk_id(paper, text)
            if cid not in seen:  # an abstract repeating a sentence must not yield duplicate ids
                seen.add(cid)
                yield Chunk(cid, paper.id, paper.title, text, position, source_name(paper.source), paper.date)
