"""The Library tab's service: uploads ingested in the background with a report, browsing, removing, topics,
and who may change the library (the browser itself: test_ui_browser.py)."""

import json
import re
import threading

import pytest

from rag.errors import UserError
from ui import app as app_module
from ui import library as library_module
from ui.app import ChatService, is_loopback, read_users
from ui.library import LibraryService, safe_name, topic_frames

from conftest import SEED_FILE

RECORDS = [{"title": "Whale Song Transcription with Transformers", "date": "2024-05-02",
            "abstract": "We transcribe whale song with a transformer encoder trained on ocean recordings. " * 4},
           {"title": "Glacier Melt Forecasting from Satellite Images", "date": "2023-11-20",
            "abstract": "We forecast glacier melt from satellite images with a convolutional network. " * 4}]


@pytest.fixture
def library(fake_pipeline) -> LibraryService:
    return LibraryService(fake_pipeline)


def upload(tmp_path, name: str, text: str) -> str:
    path = tmp_path / "client" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return str(path)


def jsonl(records) -> str:
    return "\n".join(json.dumps(r) for r in records)


def test_an_upload_is_ingested_in_the_background_and_answerable_at_once(library, fake_pipeline, tmp_path):
    message = library.add([upload(tmp_path, "nature.jsonl", jsonl(RECORDS) + "\n{broken\n")])
    assert message.startswith("Adding 1 file in the background")
    library.wait()
    [job] = library.jobs
    assert (job.state, job.done, job.total) == ("done", 2, 2)
    assert job.report.papers_added == 2 and job.path == library.uploads / "nature.jsonl"
    report = library.jobs_html()
    assert "✓ <b>nature.jsonl</b>: 2 papers added, 0 replaced, 0 unchanged; 1 records skipped" in report
    assert "nature.jsonl:3: invalid JSON" in report and str(tmp_path) not in report
    for mode in ("bm25", "dense"):
        found = fake_pipeline.retriever.search("whale song transcription", 1, mode).papers
        assert found[0].title == RECORDS[0]["title"], mode
    assert library.source_names() == [SEED_FILE.name, "nature.jsonl"]


def test_the_same_file_again_adds_nothing(library, tmp_path):
    for _ in range(2):
        library.add([upload(tmp_path, "nature.jsonl", jsonl(RECORDS))])
        library.wait()
    assert [(j.report.papers_added, j.report.papers_unchanged) for j in library.jobs] == [(2, 0), (0, 2)]


def test_a_bad_file_gets_one_message_and_writes_nothing(library, fake_pipeline, tmp_path):
    count = fake_pipeline.index.count()
    library.add([upload(tmp_path, "table.csv", "name,text\nx,y\n")])
    library.wait()
    [job] = library.jobs
    assert job.state == "failed" and job.error == "table.csv:1: a CSV corpus needs the columns 'title' and 'abstract'"
    assert fake_pipeline.index.count() == count
    assert "✗ <b>table.csv</b>" in library.jobs_html()


def test_uploads_are_checked_before_anything_is_stored(library, tmp_path, monkeypatch):
    with pytest.raises(UserError, match="unsupported file type"):
        library.add([upload(tmp_path, "paper.pdf", "%PDF")])
    with pytest.raises(UserError, match="choose one or more files"):
        library.add([])
    monkeypatch.setattr(library_module, "MAX_UPLOAD_MB", 0)
    with pytest.raises(UserError, match="larger than the 0 MB limit per file"):
        library.add([upload(tmp_path, "nature.jsonl", jsonl(RECORDS))])
    assert not library.uploads.exists() and library.jobs == []


@pytest.mark.parametrize("name, safe", [("../../etc/passwd.csv", "passwd.csv"), ("my page (1).TXT", "my-page-1.txt"),
                                        ("..jsonl", "upload.jsonl"), ("/abs/x y.md", "x-y.md")])
def test_stored_names_never_carry_a_client_path(name, safe):
    assert safe_name(name) == safe


def test_the_chat_keeps_answering_while_a_file_is_ingested(library, fake_pipeline, tmp_path, monkeypatch):
    release, started = threading.Event(), threading.Event()
    embed = fake_pipeline.embedder.embed

    def slow_embed(texts):
        if any("whale" in t for t in texts):
            started.set()
            release.wait(30)
        return embed(texts)

    monkeypatch.setattr(fake_pipeline.embedder, "embed", slow_embed)
    library.add([upload(tmp_path, "nature.jsonl", jsonl(RECORDS))])
    assert started.wait(30) and library.busy()
    chat = ChatService(fake_pipeline)
    chat.start_warm_up().join()
    text, _ = chat.ask("how do they prune Llama?", 5, False)
    assert "[1]" in text and library.busy()
    assert "<progress" in library.jobs_html()
    release.set()
    library.wait()
    assert not library.busy()


def test_the_table_searches_and_sorts(library, tmp_path):
    library.add([upload(tmp_path, "nature.jsonl", jsonl(RECORDS))])
    library.wait()
    assert list(library.table("whale")["Title"]) == [RECORDS[0]["title"]]
    newest = library.table("", "Newest first")
    assert list(newest["Title"][:1]) == [RECORDS[0]["title"]] and list(newest["Date"])[-1] == "2023-11-20"
    assert library.summary().startswith("**80 papers** from 2 source files")


def test_removing_a_source_waits_for_no_ingest_and_updates_the_topics(library, fake_pipeline, tmp_path,
                                                                        monkeypatch):
    release = threading.Event()
    embed = fake_pipeline.embedder.embed
    monkeypatch.setattr(fake_pipeline.embedder, "embed", lambda texts: release.wait(30) and embed(texts))
    library.add([upload(tmp_path, "nature.jsonl", jsonl(RECORDS))])
    with pytest.raises(UserError, match="wait until the files being added are done"):
        library.remove("nature.jsonl")
    with pytest.raises(UserError, match="nature.jsonl is already being added"):
        library.add([upload(tmp_path, "nature.jsonl", jsonl(RECORDS))])
    release.set()
    library.wait()
    before = sum(len(t.papers) for t in library.topics().topics)
    assert library.remove("nature.jsonl") == "Removed the 2 papers of nature.jsonl."
    assert sum(len(t.papers) for t in library.topics().topics) == before - 2
    points, sizes, samples = topic_frames(library.topics())
    assert len(points) == before - 2 and sizes["papers"].sum() == before - 2 and len(samples) == len(sizes)
    # the plots colour topics in the order they meet them: the map's points and the bars must meet them alike
    assert list(dict.fromkeys(points["topic"])) == list(sizes["topic"])


def test_changing_the_library_can_be_off_with_its_reason(fake_pipeline, tmp_path):
    locked = LibraryService(fake_pipeline, can_change=False, why_not="log in first")
    with pytest.raises(UserError, match="log in first"):
        locked.add([upload(tmp_path, "nature.jsonl", jsonl(RECORDS))])
    with pytest.raises(UserError, match="log in first"):
        locked.remove(SEED_FILE.name)


def test_users_come_from_a_file_and_loopback_is_told_apart(tmp_path, monkeypatch):
    monkeypatch.delenv(app_module.USERS_FILE_ENV, raising=False)
    assert read_users() == []
    users = tmp_path / "users"
    users.write_text("# who may change the library\nada:secret\nbob:pa:ss\n")
    monkeypatch.setenv(app_module.USERS_FILE_ENV, str(users))
    assert read_users() == [("ada", "secret"), ("bob", "pa:ss")]
    users.write_text("ada\n")
    with pytest.raises(UserError, match="needs lines of the form user:password"):
        read_users()
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0")


def test_corpus_text_is_shown_as_data_never_markup(library, fake_pipeline, tmp_path):
    """A title or abstract carrying HTML, a script or a javascript: link is ingested, listed and answered
    with, and every place that shows it shows it literally."""
    hostile = {"title": "Pwned <img src=x onerror=alert(1)> [click](javascript:alert(2))",
               "abstract": "We study pwned <script>alert(3)</script> whales. ![t](http://evil.example/t.png) " * 4}
    library.add([upload(tmp_path, "hostile.jsonl", json.dumps(hostile))])
    library.wait()
    chat = ChatService(fake_pipeline)
    chat.start_warm_up().join()
    for question in ("which papers study pwned whales?", "we study pwned script whales"):
        text, panel = chat.ask(question, 3, False)
        for shown in (text, panel):  # escaped as an entity or by a backslash: rendered as the characters
            assert not re.search(r"(?<!\\)<(img|script)|(?<!\\)\]\((javascript|http)", shown), shown
        assert "pwned" in text.casefold()  # the hostile paper is in the answer, shown literally
    table = library.table("pwned")
    assert list(table["Title"]) == [hostile["title"]]  # the Dataframe shows strings as text, unrendered
    assert "<img" not in library.jobs_html() and "<img" not in library.summary()
