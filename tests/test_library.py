"""The library: papers per source with dates, paper-level ingest reports, removing a source, filters, topics."""

import json

import numpy as np
import pytest

from rag import ingest as ingest_cli
from rag import library
from rag.corpus import day_number, iso_date, page_date
from rag.errors import UserError
from rag.index import Index
from rag.ingest import ingest
from rag.pipeline import Pipeline
from rag.retrieve import Filters

from conftest import SEED_FILE
from fakes import FakeEmbedder, FakeLLM

RECORDS = [
    {"title": "Whale Song Transcription with Transformers", "date": "2024-05-02",
     "abstract": "We transcribe whale song with a transformer encoder trained on ocean recordings. " * 4},
    {"title": "Glacier Melt Forecasting from Satellite Images", "date": "2023-11-20",
     "abstract": "We forecast glacier melt from satellite images with a convolutional network. " * 4},
]


@pytest.fixture
def index(settings, tmp_path) -> Index:
    extra = tmp_path / "nature.jsonl"
    extra.write_text("\n".join(json.dumps(r) for r in RECORDS))
    index = Index(settings)
    ingest([SEED_FILE, extra], settings, index, FakeEmbedder(), progress=False)
    return index


def test_the_library_lists_every_paper_with_its_source_date_and_passages(index):
    papers = library.papers(index)
    assert len(papers) == 80
    whale = next(p for p in papers if p.title.startswith("Whale"))
    assert (whale.source, whale.date) == ("nature.jsonl", "2024-05-02") and whale.passages >= 1
    assert library.sources(papers) == {SEED_FILE.name: 78, "nature.jsonl": 2}
    assert {p.date for p in papers if p.source == SEED_FILE.name} == {"2024-03-21"}  # the page's file name


def test_ingest_reports_papers_added_unchanged_and_replaced(settings, tmp_path, index):
    path = tmp_path / "nature.jsonl"
    RECORDS_CHANGED = [RECORDS[0], {**RECORDS[1], "abstract": "A new abstract about glacier melt. " * 5},
                       {"title": "A Third Paper", "abstract": "Something else entirely, told at length. " * 5}]
    path.write_text("\n".join(json.dumps(r) for r in RECORDS_CHANGED))
    report = ingest([path], settings, index, FakeEmbedder(), progress=False)
    assert (report.papers_added, report.papers_replaced, report.papers_unchanged) == (1, 1, 1)
    assert "1 added, 1 replaced, 1 unchanged" in report.summary()


def test_removing_a_source_removes_its_papers_from_both_searches(index):
    assert index.keyword_search("whale song", 5)
    assert library.remove_source(index, "nature.jsonl") == 2
    assert not index.keyword_search("whale glacier", 5)
    assert not index.papers_where({"source": "nature.jsonl"})
    assert {p.source for p in library.papers(index)} == {SEED_FILE.name}
    with pytest.raises(UserError, match="no indexed papers come from 'nature.jsonl'"):
        library.remove_source(index, "nature.jsonl")


def test_a_library_emptied_by_its_user_stays_empty_after_a_restart(index, settings):
    library.remove_source(index, "nature.jsonl")
    assert not library.emptied_marker(settings).exists()  # not empty yet
    library.remove_source(index, SEED_FILE.name)
    restarted = Pipeline(settings, llm=FakeLLM(), embedder=FakeEmbedder())
    restarted.ensure_index(progress=False)  # would ingest the configured corpus (the seeds) on first use
    assert restarted.index.count() == 0 and library.papers(restarted.index) == []
    ingest([SEED_FILE], settings, restarted.index, FakeEmbedder(), progress=False)  # filled again by its user
    assert not library.emptied_marker(settings).exists()


def test_filters_limit_dense_and_keyword_retrieval(fake_pipeline, tmp_path):
    extra = tmp_path / "nature.jsonl"
    extra.write_text("\n".join(json.dumps(r) for r in RECORDS))
    ingest([extra], fake_pipeline.settings, fake_pipeline.index, fake_pipeline.embedder, progress=False)
    only_nature = Filters(sources=("nature.jsonl",))
    for mode in ("bm25", "dense"):
        found = fake_pipeline.retriever.search("transformer pruning of language models", 5, mode, filters=only_nature)
        assert found.papers and {p.title for p in found.papers} <= {r["title"] for r in RECORDS}
    in_2024 = fake_pipeline.retrieve("transformer glacier whale", 10, Filters(since="2024-04", until="2024")).papers
    assert [p.title for p in in_2024] == [RECORDS[0]["title"]]
    nothing = fake_pipeline.ask("whale song", filters=Filters(since="2030"))
    assert nothing.abstained and nothing.reason == "no paper passes the filters"


def test_a_filter_asked_before_an_ingest_sees_what_the_ingest_changed(index, settings, tmp_path):
    """The passage ids of a filter are kept between questions; writes must not leave them stale, even those
    that keep the count (a paper read again from another file moves there)."""
    moved = {"source": "more.jsonl"}
    vector = FakeEmbedder().embed([RECORDS[0]["abstract"]])[0]
    assert index.dense_search(vector, 5, moved) == [] and index.keyword_search("whale song", 5, moved) == []
    count = index.count()
    (tmp_path / "more.jsonl").write_text(json.dumps(RECORDS[0]))
    ingest([tmp_path / "more.jsonl"], settings, index, FakeEmbedder(), progress=False)
    assert index.count() == count
    assert index.get(index.dense_search(vector, 1, moved)).popitem()[1].title == RECORDS[0]["title"]
    assert set(index.keyword_search("whale song", 5, moved)) == set(index.papers_where(moved))
    library.remove_source(index, "more.jsonl")
    assert index.dense_search(vector, 5, moved) == [] and index.keyword_search("whale song", 5, moved) == []


def test_a_subset_read_while_another_thread_writes_is_not_kept(index, monkeypatch):
    where = {"source": "nature.jsonl"}
    read = index.collection.get

    def read_during_a_write(*args, **kwargs):
        index.add([], np.zeros((0, FakeEmbedder.dim)))  # another thread's write lands between the reads
        return read(*args, **kwargs)

    monkeypatch.setattr(index.collection, "get", read_during_a_write)
    assert len(index.subset(where).ids) == 2
    monkeypatch.setattr(index.collection, "get", read)
    calls = []
    monkeypatch.setattr(index.collection, "get", lambda *a, **k: calls.append(1) or read(*a, **k))
    index.subset(where), index.subset(where)
    assert len(calls) == 2  # read again (ids, then vectors), then kept


def test_a_kept_subset_and_chromas_own_filter_rank_alike(index, monkeypatch):
    """Filtered dense search ranks a kept subset's vectors itself; a subset too large to keep goes to Chroma."""
    from rag import index as index_module

    vector = FakeEmbedder().embed(["pruning large language models"])[0]
    seeds_only = {"source": SEED_FILE.name}
    kept = index.dense_search(vector, 8, seeds_only)
    monkeypatch.setattr(index_module, "_SUBSET_VECTORS", 0)
    index.invalidate_keyword_index()  # drops the kept subsets
    assert index.subset(seeds_only).vectors is None
    assert index.dense_search(vector, 8, seeds_only) == kept and len(kept) == 8
    assert set(kept) <= set(index.papers_where(seeds_only))


def test_a_date_range_leaves_out_undated_papers(fake_pipeline, tmp_path):
    extra = tmp_path / "undated.jsonl"
    extra.write_text(json.dumps({**RECORDS[0], "date": ""}))
    ingest([extra], fake_pipeline.settings, fake_pipeline.index, fake_pipeline.embedder, progress=False)
    assert fake_pipeline.retrieve("whale song", 3, Filters(sources=("undated.jsonl",))).papers
    assert fake_pipeline.retrieve("whale song", 3, Filters(sources=("undated.jsonl",), until="2030")).papers == []


@pytest.mark.parametrize("text, iso", [("2024-03-21", "2024-03-21"), ("2024-03-21T09:00:00Z", "2024-03-21"),
                                       ("2024-05", "2024-05"), ("May 2024", "2024"), ("unknown", ""), ("0042", ""),
                                       ("2024-13-45", ""), ("2024-02-30", "")])
def test_dates_are_read_as_iso(text, iso):
    assert iso_date(text) == iso


@pytest.mark.parametrize("name, date", [("daily-papers-2024-03-21.txt", "2024-03-21"), ("top-2000-papers.txt", ""),
                                        ("papers.md", "")])
def test_a_page_is_dated_by_the_day_in_its_file_name(name, date):
    assert page_date(name) == date


def test_day_numbers_order_dates_and_a_bad_filter_date_is_a_user_error():
    assert day_number("2024-03-21") == 20240321 and day_number("2024") == 20240101 and day_number("") == 0
    with pytest.raises(UserError, match="invalid date 'March' for since"):
        Filters(since="March")
    with pytest.raises(UserError, match="invalid date '2024-13-01' for until"):
        Filters(until="2024-13-01")
    assert Filters(until="2024-02").where() == [{"day": {"$gt": 0}}, {"day": {"$lte": 20240231}}]
    assert Filters(since=None, until=None).where() == []  # an API client's nulls


def test_topics_group_every_paper_once_with_distinct_labels(index):
    topics = library.topic_map(index)
    assert 2 <= len(topics.topics) <= 8
    titled = [t for topic in topics.topics for t in topic.papers]
    assert sorted(titled) == sorted(p.title for p in library.papers(index))
    assert all(topic.label for topic in topics.topics) and len({t.label for t in topics.topics}) == len(topics.topics)
    assert {n for *_, n, _ in topics.points} == set(range(len(topics.topics)))
    assert [len(t.papers) for t in topics.topics] == sorted((len(t.papers) for t in topics.topics), reverse=True)


@pytest.mark.parametrize("count", [3, 5, 7])
def test_a_small_library_still_gets_topics(settings, tmp_path, count):
    path = tmp_path / "few.jsonl"
    path.write_text("\n".join(json.dumps({"title": f"Paper {i}", "abstract": f"Study {i} of whales and glaciers. " * 5})
                              for i in range(count)))
    index = Index(settings)
    ingest([path], settings, index, FakeEmbedder(), progress=False)
    topics = library.topic_map(index)
    assert sum(len(t.papers) for t in topics.topics) == count and all(t.label for t in topics.topics)


def test_distinct_terms_skip_repeated_words():
    assert library.distinct_terms(["speech", "speech model", "tts", "model", "audio"], 3) == ["speech", "tts", "model"]


def test_ingest_cli_lists_and_removes_a_source(fake_cli, tmp_path, capsys):
    extra = tmp_path / "nature.jsonl"
    extra.write_text("\n".join(json.dumps(r) for r in RECORDS))
    assert ingest_cli.main([str(extra), *fake_cli]) == 0
    assert ingest_cli.main(["--list", *fake_cli]) == 0
    assert capsys.readouterr().out.endswith("     2  nature.jsonl\n")
    assert ingest_cli.main(["--remove", "nature.jsonl", *fake_cli]) == 0
    assert capsys.readouterr().out == "removed 2 papers of nature.jsonl\n"
    with pytest.raises(UserError, match="no indexed papers come from 'nature.jsonl'"):
        ingest_cli.main(["--remove", "nature.jsonl", *fake_cli])
    with pytest.raises(SystemExit):
        ingest_cli.main(["--list", "--remove", "x", *fake_cli])
    assert "give corpus paths, or --remove SOURCE, or --list" in capsys.readouterr().err
