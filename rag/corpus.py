"""Read corpora into Paper records: scraped daily-papers pages (.txt/.md), JSONL and CSV.

Malformed entries are reported as Problems (file and line) and skipped; nothing is merged silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import UserError

PAGE_SUFFIXES = {".txt", ".md"}
SUFFIXES = PAGE_SUFFIXES | {".jsonl", ".csv"}

# A page line is an abstract when it is a long paragraph, a title when it is short.
ABSTRACT_MIN_WORDS = 25
TITLE_MAX_WORDS = 40


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    abstract: str
    source: str = ""
    url: str = ""
    authors: str = ""
    date: str = ""


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Corpus:
    papers: list[Paper] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def normalize_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def paper_id(title: str) -> str:
    return hashlib.sha1(normalize_title(title).encode()).hexdigest()[:16]


def clean(text: str) -> str:
    """One line of printable text: control characters dropped, white space folded."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise UserError(f"{path}: binary file, not a text corpus")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte {e.start}); convert the file to UTF-8") from None


def parse_page(text: str, source: str) -> Corpus:
    """A scraped page: blank-line separated blocks; a short title block followed by a long abstract block.
    Blocks before the first paper are page chrome and skipped quietly."""
    blocks: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if blocks and blocks[-1][0] + len(blocks[-1][1]) == number:
                blocks[-1][1].append(line)
            else:
                blocks.append((number, [line]))
    corpus = Corpus()
    pending_title: tuple[int, str] | None = None
    for number, lines in blocks:
        # A title and its abstract may also share one block on adjacent lines.
        if len(lines) > 1 and _is_title(lines[0]) and _is_abstract(" ".join(lines[1:])):
            _close_title(corpus, pending_title, source)
            pending_title = (number, clean(lines[0]))
            lines, number = lines[1:], number + 1
        block = clean(" ".join(lines))
        if _is_abstract(block):
            if pending_title is None:
                if corpus.papers:
                    corpus.problems.append(Problem(source, number, "abstract without a title line; skipped"))
                continue
            title_line, title = pending_title
            corpus.papers.append(Paper(paper_id(title), title, block, source=f"{source}:{title_line}"))
            pending_title = None
        else:
            _close_title(corpus, pending_title, source)
            pending_title = (number, block) if _is_title(block) else None
    _close_title(corpus, pending_title, source)
    return corpus


def _is_abstract(text: str) -> bool:
    return len(text.split()) >= ABSTRACT_MIN_WORDS


def _is_title(text: str) -> bool:
    return 0 < len(text.split()) <= TITLE_MAX_WORDS


def _close_title(corpus: Corpus, pending: tuple[int, str] | None, source: str) -> None:
    """A title-like line with no abstract after it: chrome before the first paper, else a problem."""
    if pending and corpus.papers:
        corpus.problems.append(Problem(source, pending[0], f"no abstract after {pending[1][:60]!r}; skipped"))


def _record(fields: dict, source: str, line: int, corpus: Corpus) -> None:
    title = clean(str(fields.get("title") or ""))
    abstract = clean(str(fields.get("abstract") or ""))
    missing = [name for name, value in (("title", title), ("abstract", abstract)) if not value]
    if missing:
        corpus.problems.append(Problem(source, line, f"missing {' and '.join(missing)}; skipped"))
        return
    extra = {name: clean(str(fields.get(name) or "")) for name in ("url", "authors", "date")}
    if isinstance(fields.get("authors"), list):
        extra["authors"] = ", ".join(clean(str(a)) for a in fields["authors"])
    corpus.papers.append(Paper(paper_id(title), title, abstract, source=f"{source}:{line}", **extra))


def parse_jsonl(text: str, source: str) -> Corpus:
    corpus = Corpus()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as e:
            corpus.problems.append(Problem(source, number, f"invalid JSON ({e.msg}); skipped"))
            continue
        if not isinstance(fields, dict):
            corpus.problems.append(Problem(source, number, "not a JSON object; skipped"))
            continue
        _record(fields, source, number, corpus)
    return corpus


def parse_csv(text: str, source: str) -> Corpus:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"title", "abstract"} <= set(reader.fieldnames):
        raise UserError(f"{source}:1: a CSV corpus needs the columns 'title' and 'abstract'")
    corpus = Corpus()
    for row in reader:
        _record(row, source, reader.line_num, corpus)
    return corpus


def read_file(path: Path) -> Corpus:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(f"{path}: unsupported corpus file (use {', '.join(sorted(SUFFIXES))})")
    text = read_text(path)
    if suffix == ".jsonl":
        return parse_jsonl(text, str(path))
    if suffix == ".csv":
        return parse_csv(text, str(path))
    return parse_page(text, str(path))


def corpus_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return files


def load(paths: list[Path]) -> Corpus:
    """Read every corpus file; a title seen twice keeps its first record and reports the second."""
    corpus = Corpus()
    first_seen: dict[str, str] = {}
    for file in corpus_files(paths):
        try:
            part = read_file(file)
        except OSError as e:
            raise UserError(f"{file}: cannot read ({e.strerror})") from None
        corpus.problems += part.problems
        for paper in part.papers:
            if paper.id in first_seen:
                path, _, line = paper.source.rpartition(":")
                corpus.problems.append(Problem(path, int(line), f"duplicate title (first at {first_seen[paper.id]}); skipped"))
                continue
            first_seen[paper.id] = paper.source
            corpus.papers.append(paper)
    return corpus
