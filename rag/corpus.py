"""Read corpora into Paper records: scraped daily-papers pages (.txt/.md), JSONL and CSV.

Malformed entries are reported as Problems (file and line) and skipped; nothing is merged silently.
"""

from __future__ import annotations

import codecs
import datetime
import csv
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

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


_DATE = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?!\d)")
_DAY_IN_NAME = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")


def iso_date(text: str) -> str:
    """A JSONL/CSV `date` ("2024-03-21", "2024-03", "May 2024", "2024-03-21T09:00") as YYYY-MM-DD, YYYY-MM or
    YYYY: the first valid date in it; "" when there is none."""
    for match in _DATE.finditer(text):
        year, month, day = (int(g) if g else 1 for g in match.groups())
        try:
            datetime.date(year, month, day)
        except ValueError:
            continue
        if 1900 <= year <= 2100:
            return "-".join(part for part in match.groups() if part)
    return ""


def page_date(file_name: str) -> str:
    """The day a page's file name carries ("daily-papers-2024-03-21.txt"); a lone year ("top-2000") is none."""
    match = _DAY_IN_NAME.search(file_name)
    return iso_date(match[0]) if match else ""


def day_number(date: str) -> int:
    """YYYY-MM-DD as the number YYYYMMDD for range filters; a missing month or day counts as the first."""
    if not date:
        return 0
    year, month, day = (date.split("-") + ["01", "01"])[:3]
    return int(year) * 10000 + int(month) * 100 + int(day)


def source_name(source: str) -> str:
    """The file name of a paper's source ('seeds/page.txt:12' -> 'page.txt')."""
    return Path(source.rpartition(":")[0] or source).name


def clean(text: str) -> str:
    """One line of printable text: control characters dropped, white space folded."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())


_BLOCK = 1 << 20


def check_text(path: Path) -> None:
    """Reject a binary or non-UTF-8 file before anything of it is ingested, reading it block by block."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    with path.open("rb") as f:
        first = True
        while block := f.read(_BLOCK):
            if first and b"\x00" in block[:8192]:
                raise UserError(f"{path}: binary file, not a text corpus")
            first = False
            try:
                decoder.decode(block)
            except UnicodeDecodeError as e:
                line = lines + block[: e.start].count(b"\n")
                raise UserError(f"{path}:{line}: not UTF-8 text; convert the file to UTF-8") from None
            lines += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UserError(f"{path}:{lines}: not UTF-8 text (truncated character at the end)") from None


def parse_page(text: str, source: str) -> Iterator[Paper | Problem]:
    """A scraped page: blank-line separated blocks; a short title block followed by a long abstract block.
    Blocks before the first paper are page chrome and skipped quietly. The page's date is the one in its file
    name (daily-papers-2024-03-21.txt): the page itself names the day without its year."""
    date = page_date(Path(source).name)
    blocks: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if blocks and blocks[-1][0] + len(blocks[-1][1]) == number:
                blocks[-1][1].append(line)
            else:
                blocks.append((number, [line]))
    started = False  # a paper was found: later stray blocks are problems, not chrome
    pending_title: tuple[int, str] | None = None
    for number, lines in blocks:
        # A title and its abstract may also share one block on adjacent lines.
        if len(lines) > 1 and _is_title(lines[0]) and _is_abstract(" ".join(lines[1:])):
            yield from _unused_title(started, pending_title, source)
            pending_title = (number, clean(lines[0]))
            lines, number = lines[1:], number + 1
        block = clean(" ".join(lines))
        if _is_abstract(block):
            if pending_title is None:
                if started:
                    yield Problem(source, number, "abstract without a title line; skipped")
                continue
            title_line, title = pending_title
            yield Paper(paper_id(title), title, block, source=f"{source}:{title_line}", date=date)
            started, pending_title = True, None
        else:
            yield from _unused_title(started, pending_title, source)
            pending_title = (number, block) if _is_title(block) else None
    yield from _unused_title(started, pending_title, source)


def _is_abstract(text: str) -> bool:
    return len(text.split()) >= ABSTRACT_MIN_WORDS


def _is_title(text: str) -> bool:
    return 0 < len(text.split()) <= TITLE_MAX_WORDS


def _unused_title(started: bool, pending: tuple[int, str] | None, source: str) -> Iterator[Problem]:
    """A title-like line with no abstract after it: chrome before the first paper, else a problem."""
    if pending and started:
        yield Problem(source, pending[0], f"no abstract after {pending[1][:60]!r}; skipped")


def _record(fields: dict, source: str, line: int) -> Paper | Problem:
    title = clean(str(fields.get("title") or ""))
    abstract = clean(str(fields.get("abstract") or ""))
    missing = [name for name, value in (("title", title), ("abstract", abstract)) if not value]
    if missing:
        return Problem(source, line, f"missing {' and '.join(missing)}; skipped")
    extra = {name: clean(str(fields.get(name) or "")) for name in ("url", "authors")}
    extra["date"] = iso_date(clean(str(fields.get("date") or "")))
    if isinstance(fields.get("authors"), list):
        extra["authors"] = ", ".join(clean(str(a)) for a in fields["authors"])
    return Paper(paper_id(title), title, abstract, source=f"{source}:{line}", **extra)


def parse_jsonl(lines: Iterable[str], source: str) -> Iterator[Paper | Problem]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as e:
            yield Problem(source, number, f"invalid JSON ({e.msg}); skipped")
            continue
        if not isinstance(fields, dict):
            yield Problem(source, number, "not a JSON object; skipped")
            continue
        yield _record(fields, source, number)


csv.field_size_limit(1 << 24)  # an abstract may be long; the default limit is 128 KiB


def parse_csv(lines: Iterable[str], source: str) -> Iterator[Paper | Problem]:
    reader = csv.DictReader(lines, strict=True)
    if not reader.fieldnames or not {"title", "abstract"} <= set(reader.fieldnames):
        raise UserError(f"{source}:1: a CSV corpus needs the columns 'title' and 'abstract'")
    while True:
        line = reader.line_num + 1  # where the record starts: it may span several lines
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise UserError(f"{source}:{line}: malformed CSV ({e})") from None
        yield _record(row, source, line)


def check_file(path: Path) -> None:
    """Everything that makes a whole file unusable is found here, before anything is ingested."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(f"{path}: unsupported corpus file (use {', '.join(sorted(SUFFIXES))})")
    try:
        check_text(path)
        if suffix == ".csv":  # a missing column or an unclosed quote spoils every later record
            with path.open(encoding="utf-8-sig", newline="") as f:
                for _ in parse_csv(f, str(path)):
                    pass
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None


def read_file(path: Path) -> Iterator[Paper | Problem]:
    """Papers and problems of one checked file, streamed: JSONL and CSV are read line by line."""
    suffix = path.suffix.lower()
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            if suffix == ".jsonl":
                yield from parse_jsonl(f, str(path))
            elif suffix == ".csv":
                yield from parse_csv(f, str(path))
            else:
                yield from parse_page(f.read(), str(path))
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None


def corpus_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not found:
                raise UserError(f"{path}: no corpus files ({', '.join(sorted(SUFFIXES))}) in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return list({f.resolve(): f for f in files}.values())  # a file named twice (or with its folder) is read once


class CorpusReader:
    """Streams the papers of files and folders; collects problems as it goes. A title seen twice keeps its
    first record and reports the second (the state kept per paper is its id and where it was read)."""

    def __init__(self, paths: list[Path]):
        self.files = corpus_files(paths)
        for file in self.files:  # a bad file stops the run before anything is ingested
            check_file(file)
        self.problems: list[Problem] = []

    def __iter__(self) -> Iterator[Paper]:
        first_seen: dict[str, str] = {}
        for file in self.files:
            for item in read_file(file):
                if isinstance(item, Problem):
                    self.problems.append(item)
                elif item.id in first_seen:
                    path, _, line = item.source.rpartition(":")
                    self.problems.append(Problem(path, int(line), f"duplicate title (first at {first_seen[item.id]}); skipped"))
                else:
                    first_seen[item.id] = item.source
                    yield item


def load(paths: list[Path]) -> Corpus:
    """The whole corpus in memory (small corpora, tests and evaluation); ingestion streams instead."""
    reader = CorpusReader(paths)
    papers = list(reader)
    return Corpus(papers, reader.problems)
