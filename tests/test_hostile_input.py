"""Hostile and broken input: one clear line (exit code 2 in the CLIs), nothing lost or half-written."""

import json

import pytest

from rag import ask, ingest
from rag.errors import UserError
from rag.index import Index

from conftest import SEED_FILE, one_error_line, run_module


# -- questions ---------------------------------------------------------------------------------------

def test_20000_character_question_is_refused_in_one_line():
    line = one_error_line(run_module("rag.ask", "pruning " * 2500))
    assert line == "error: the question is too long (19999 characters, at most 2000)"


def test_control_characters_and_nul_bytes_are_dropped_from_questions(fake_pipeline):
    answer = fake_pipeline.ask("\x00which\x07 papers\x1b[31m prune\x00 Llama?\r\n")
    assert answer.question == "which papers [31m prune Llama?"
    assert answer.citations
    with pytest.raises(UserError, match="empty"):
        fake_pipeline.ask("\x00\x01\t\n\x1b")


# -- corpus files ------------------------------------------------------------------------------------

def test_a_bad_file_stops_the_ingest_before_anything_is_written(fake_cli, settings, tmp_path, capsys):
    good = tmp_path / "a.jsonl"
    good.write_text(json.dumps({"title": "Good paper", "abstract": "It works."}) + "\n")
    bad = tmp_path / "b.jsonl"
    bad.write_bytes(b'{"title": "T", "abstract": "fine"}\n' * 3 + b'{"title": "caf\xe9", "abstract": "x"}\n')
    with pytest.raises(UserError, match=r"b.jsonl:4: not UTF-8"):
        ingest.main([str(good), str(bad), *fake_cli])
    assert Index(settings).count() == 0


@pytest.mark.parametrize("name, content, message", [
    ("model.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file, not a text corpus"),
    ("latin1.csv", "title,abstract\nRésumé,Un résumé.\n".encode("latin-1"), "not UTF-8 text"),
])
def test_unreadable_files_are_one_line_in_the_cli(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert message in one_error_line(run_module("rag.ingest", str(path), "--data-dir", str(tmp_path / "d")))
    assert not (tmp_path / "d" / "bm25").exists()


def test_a_folder_without_corpus_files_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    line = one_error_line(run_module("rag.ingest", str(tmp_path / "empty"), "--data-dir", str(tmp_path / "d")))
    assert line.endswith("empty: no corpus files (.csv, .jsonl, .md, .txt) in this folder")


def test_messy_jsonl_keeps_the_good_records_and_reports_the_rest(fake_cli, settings, tmp_path, capsys):
    path = tmp_path / "messy.jsonl"
    rows = [{"title": "Kept", "abstract": "A good abstract."}, {"title": "", "abstract": "No title."},
            {"title": "No abstract"}, {"title": "Blank", "abstract": "   "}, {"abstract": "Missing title."},
            {"title": "kept", "abstract": "The same title again."}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert ingest.main([str(path), *fake_cli]) == 0
    out, err = capsys.readouterr()
    assert "1 papers: 1 added" in out and "5 records skipped" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert [line.split(": ", 2)[1] for line in warnings] == [
        f"{path}:2", f"{path}:3", f"{path}:4", f"{path}:5", f"{path}:6"]
    assert Index(settings).titles() == {"Kept"}


# -- state -------------------------------------------------------------------------------------------

def test_corrupted_chroma_folder_is_one_line_and_left_as_it_was(tmp_path):
    db = tmp_path / "d" / "chroma" / "chroma.sqlite3"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database" * 100)
    line = one_error_line(run_module("rag.ask", "pruning", "--retrieval-only", "--data-dir", str(tmp_path / "d")))
    assert "cannot open the index" in line and "move that folder away" in line
    assert db.read_bytes() == b"not a database" * 100


def test_damaged_keyword_index_is_rebuilt(fake_pipeline, settings):
    for file in (settings.data_dir / "bm25").rglob("*"):
        if file.is_file():
            file.write_bytes(b"\x00garbage")
    index = Index(settings)
    assert index.keyword_search("pruning", 3)
    assert len(index.keyword.ids) == index.count()


def test_unusable_data_folder_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = one_error_line(run_module("rag.ingest", str(SEED_FILE), "--data-dir", str(blocker / "data")))
    assert line.startswith(f"error: data folder {blocker / 'data'} is not usable")


def test_missing_or_corrupt_model_file_is_one_line(tmp_path):
    data = ["--data-dir", str(tmp_path / "d")]
    line = one_error_line(run_module("rag.ask", "q", "--llm-model", str(tmp_path / "none.gguf"), *data))
    assert line == f"error: LLM model file not found: {tmp_path / 'none.gguf'}"
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + bytes(range(256)) * 100)
    line = one_error_line(run_module("rag.ask", "q", "--llm-model", str(junk), *data))
    assert line.startswith(f"error: cannot load the LLM model file {junk}")


def test_cli_question_can_contain_newlines_and_escapes(fake_cli, capsys):
    assert ask.main(["pruning\n\x1b[2J LLM", "--retrieval-only", *fake_cli]) == 0
    assert capsys.readouterr().out.startswith("Papers found")
