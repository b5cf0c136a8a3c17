import json
import subprocess
import sys

import pytest

from rag import ask, ingest
from rag.pipeline import Answer, Timings, Token
from rag.prompts import REFUSAL

from conftest import PROJECT_ROOT, run_module


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_one_line_and_exit_2(question):
    result = run_module("rag.ask", question)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: the question is empty"
    assert "Traceback" not in result.stderr


def test_unreadable_corpus_path_is_one_line_and_exit_2(tmp_path):
    result = run_module("rag.ingest", str(tmp_path / "missing.jsonl"), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'missing.jsonl'}: no such file or folder"


def test_invalid_setting_is_one_line_and_exit_2():
    result = run_module("rag.ask", "q", "--k", "many")
    assert result.returncode == 2 and result.stderr.startswith("error: invalid setting k")


def test_ask_json_prints_the_answer_object(fake_cli, capsys):
    assert ask.main(["structural pruning of LLMs", "--json", *fake_cli]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"question", "text", "citations", "retrieved", "timings", "dropped_markers", "abstained",
                           "generated", "checks", "quoted", "reason", "closest"}
    assert answer["checks"] == [{"sentence": answer["text"].removesuffix(" [1].") + ".", "cites": [1], "dropped": None,
                                 "restates": False}]
    assert answer["citations"][0]["title"] == answer["retrieved"][0]["title"]
    assert answer["citations"][0]["n"] == 1 and answer["citations"][0]["snippet"]
    assert set(answer["timings"]) == {"retrieve_ms", "first_token_s", "total_s", "prompt_tokens", "completion_tokens"}


def test_ask_streams_then_lists_sources(fake_cli, capsys):
    assert ask.main(["structural pruning", "--k", "3", *fake_cli]) == 0
    out = capsys.readouterr().out
    found, answer = out.split("\n\n", 1)
    assert found.startswith("Papers found") and len(found.splitlines()) == 4
    assert "[1]." in answer.split("Sources:")[0]
    assert "Sources:\n  [1] " in answer


def test_retrieval_only_lists_papers(fake_cli, capsys):
    assert ask.main(["pruning", "--retrieval-only", *fake_cli]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Papers found") and "Sources:" not in out


def test_ingest_cli_reports_problems_and_counts(fake_cli, tmp_path, capsys):
    path = tmp_path / "c.jsonl"
    path.write_text('{"title": "T", "abstract": "A sentence."}\n{bad\n')
    assert ingest.main([str(path), *fake_cli]) == 0
    out, err = capsys.readouterr()
    assert "1 papers: 1 added, 0 replaced, 0 unchanged (1 passages added, 0 removed, 0 unchanged); 1 records skipped" in out
    assert f"warning: {path}:2: invalid JSON" in err


def test_every_setting_is_documented_in_the_readme():
    import re

    from rag.settings import Settings

    documented = set(re.findall(r"`RAG_([A-Z_0-9]+)`", (PROJECT_ROOT / "README.md").read_text()))
    assert {name.upper() for name in Settings.model_fields} <= documented


def test_output_cut_short_by_its_reader_ends_quietly(real_data_dir):
    """`rag.ask … | head`: the reader goes away, and the user sees no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "rag.ask", "--retrieval-only", "which papers prune Llama?",
                             "--data-dir", str(real_data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=PROJECT_ROOT)
    proc.stdout.close()  # before the first line is written
    _, stderr = proc.communicate(timeout=120)
    assert "Error" not in stderr.decode() and proc.returncode == 141, stderr.decode()


@pytest.mark.parametrize("streamed", [REFUSAL, ""])
def test_a_refusal_is_printed_once_with_its_reason(capsys, streamed):
    refusal = Answer("q?", REFUSAL, [], [], Timings(), abstained=True, reason="the model found no answer")
    ask.print_events([Token(streamed), refusal])
    out = capsys.readouterr().out
    assert out.count(REFUSAL) == 1 and "(why: the model found no answer)" in out
