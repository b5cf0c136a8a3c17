import json

import pytest

from rag.corpus import Corpus, CorpusReader, Problem, load, normalize_title, paper_id, parse_page
from rag.errors import UserError

from conftest import SEED_FILE


def test_seed_page_parses_into_78_papers_without_problems():
    corpus = load([SEED_FILE])
    assert len(corpus.papers) == 78
    assert corpus.problems == []
    titles = [p.title for p in corpus.papers]
    assert titles[0] == "ReAGent: Towards A Model-agnostic Feature Attribution Method for Generative Language Models"
    assert titles[-1].startswith("Impossible Distillation: from Low-Quality Model")
    assert "LLM-Pruner: On the Structural Pruning of Large Language Models" in titles
    assert all(len(p.abstract.split()) > 25 for p in corpus.papers)
    assert len({p.id for p in corpus.papers}) == 78
    assert not any(t in ("Subscribe", "Mar 21") for t in titles)


def test_paper_id_is_stable_under_case_and_punctuation():
    assert paper_id("LLM-Pruner: On Pruning") == paper_id("llm pruner  on pruning")
    assert normalize_title("A  B:c") == "a b c"
    assert paper_id("LLM-Pruner") != paper_id("LLM Pruned")


ABSTRACT = "This paper studies a thing. " * 10


def page(text: str) -> Corpus:
    items = list(parse_page(text, "page.txt"))
    return Corpus([i for i in items if not isinstance(i, Problem)], [i for i in items if isinstance(i, Problem)])


def test_page_reports_title_without_abstract_and_orphan_abstract():
    text = f"chrome\n\nTitle One\n\n{ABSTRACT}\n\nLonely Title\n\nTitle Two\n\n{ABSTRACT}\n\n{ABSTRACT}\n"
    corpus = page(text)
    assert [p.title for p in corpus.papers] == ["Title One", "Title Two"]
    messages = [str(p) for p in corpus.problems]
    assert messages[0].startswith("page.txt:7: no abstract after 'Lonely Title'")
    assert messages[1].startswith("page.txt:13: abstract without a title")


def test_page_accepts_title_directly_above_abstract():
    corpus = page(f"Adjacent Title\n{ABSTRACT}\n")
    assert [(p.title, p.abstract) for p in corpus.papers] == [("Adjacent Title", ABSTRACT.strip())]


def test_jsonl_reports_malformed_lines_and_keeps_good_ones(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [
        json.dumps({"title": "Good", "abstract": "Fine text.", "url": "http://x", "authors": ["A", "B"]}),
        "{not json",
        json.dumps({"title": "", "abstract": "no title"}),
        json.dumps({"title": "No abstract"}),
        json.dumps(["a list"]),
        json.dumps({"title": "good", "abstract": "same title, other case"}),
    ]
    path.write_text("\n".join(rows) + "\n")
    corpus = load([path])
    assert [(p.title, p.authors, p.url) for p in corpus.papers] == [("Good", "A, B", "http://x")]
    lines = [(p.line, p.message.split(" (")[0].split(";")[0]) for p in corpus.problems]
    assert lines == [(2, "invalid JSON"), (3, "missing title"), (4, "missing abstract"),
                     (5, "not a JSON object"), (6, "duplicate title")]


def test_csv_corpus(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('title,abstract,date\n"A, with comma","Text one.",2024-01-01\nB,,\n')
    corpus = load([path])
    assert [(p.title, p.date) for p in corpus.papers] == [("A, with comma", "2024-01-01")]
    assert [(p.line, p.message) for p in corpus.problems] == [(3, "missing abstract; skipped")]


def test_csv_without_required_columns_is_a_user_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("name,text\nx,y\n")
    with pytest.raises(UserError, match="columns 'title' and 'abstract'"):
        load([path])


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe\x00binary\x00", "binary file"),
    (b"Title\n\nabstract \xe9t\xe9\n", "not UTF-8"),
])
def test_unreadable_files_are_user_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        load([path])


def test_missing_path_and_unsupported_suffix(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load([tmp_path / "nope.jsonl"])
    (tmp_path / "x.pdf").write_text("x")
    with pytest.raises(UserError, match="unsupported corpus file"):
        load([tmp_path / "x.pdf"])


def test_folder_reads_supported_files_only(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"title": "T", "abstract": "A."}) + "\n")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    assert [p.title for p in load([tmp_path]).papers] == ["T"]


def test_csv_records_spanning_lines_crlf_and_bom(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes('\ufefftitle,abstract\r\n"Multi","line one\r\nline two"\r\nNo abstract,\r\n'.encode())
    corpus = load([path, tmp_path])  # the file and its folder: read once
    assert [(p.title, p.abstract) for p in corpus.papers] == [("Multi", "line one line two")]
    assert [(p.line, p.message) for p in corpus.problems] == [(4, "missing abstract; skipped")]


@pytest.mark.parametrize("content, message", [
    ('title,abstract\nA,"unclosed quote\nB,text\n', r"c.csv:2: malformed CSV"),
    ("title,abstract\nA," + "x" * 200_000 + "\n" + 'B,"bad"quote\n', r"c.csv:3: malformed CSV"),
])
def test_malformed_csv_stops_before_anything_is_read(tmp_path, content, message):
    path = tmp_path / "c.csv"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        CorpusReader([path])
