import json

from rag.index import Index
from rag.ingest import ingest

from conftest import SEED_FILE, FakeEmbedder


def test_second_ingest_adds_nothing(settings):
    index = Index(settings)
    first = ingest([SEED_FILE], settings, index, FakeEmbedder(), progress=False)
    assert first.papers == 78 and first.added > 78 and first.removed == 0
    count = index.count()
    second = ingest([SEED_FILE], settings, Index(settings), FakeEmbedder(), progress=False)
    assert (second.added, second.removed, second.unchanged) == (0, 0, count)
    assert Index(settings).count() == count


def test_changed_abstract_replaces_only_its_own_chunks(settings, tmp_path):
    path = tmp_path / "c.jsonl"
    records = [{"title": "Paper A", "abstract": "Alpha one. " * 30}, {"title": "Paper B", "abstract": "Beta two. " * 30}]
    path.write_text("\n".join(json.dumps(r) for r in records))
    index = Index(settings)
    ingest([path], settings, index, FakeEmbedder(), progress=False)
    b_chunks = index.collection.get(where={"title": "Paper B"})["ids"]
    records[0]["abstract"] = "Gamma three. " * 40
    path.write_text("\n".join(json.dumps(r) for r in records))
    report = ingest([path], settings, index, FakeEmbedder(), progress=False)
    assert report.added > 0 and report.removed > 0
    stored = index.collection.get(where={"title": "Paper A"}, include=["documents"])["documents"]
    assert stored and all("Gamma" in d and "Alpha" not in d for d in stored)
    assert index.collection.get(where={"title": "Paper B"})["ids"] == b_chunks
    assert index.keyword_search("gamma", 5) and not index.keyword_search("alpha", 5)


def test_keyword_index_is_rebuilt_after_an_interrupted_ingest(settings):
    index = Index(settings)
    ingest([SEED_FILE], settings, index, FakeEmbedder(), progress=False)
    index.invalidate_keyword_index()  # what a crash between a batch and the rebuild leaves behind
    fresh = Index(settings)
    assert fresh.keyword_search("pruning", 3)
    assert len(fresh.keyword.ids) == fresh.count()
