import json
import re
import subprocess

import pytest

from rag.errors import UserError
from rag.index import Index
from rag.ingest import ingest, pending_file, unfinished_ingest
from rag.pipeline import Pipeline

from conftest import SEED_FILE
from fakes import FakeEmbedder


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


def test_the_keyword_index_counts_each_word_once_per_paper_and_finds_the_rare_ones(settings, tmp_path):
    path = tmp_path / "c.jsonl"
    records = [{"title": "Paper A", "abstract": "Pruning keeps heads. " * 30 + "Wanda prunes weights."},
               {"title": "Paper B", "abstract": "Pruning drops heads. " * 30}]
    path.write_text("\n".join(json.dumps(r) for r in records))
    small = settings.model_copy(update={"chunk_chars": 200})
    ingest([path], small, Index(settings), FakeEmbedder(), progress=False)
    fresh = Index(settings.model_copy(update={"rare_share": 0.5}))
    assert fresh.keyword.load() and fresh.count() > 2  # from disk; several passages a paper, each counted once
    assert fresh.keyword.papers_with({"prune", "head", "wanda", "absent"}) == ({"prune": 2, "head": 2, "wanda": 1}, 2)
    assert fresh.rare_words({"prune", "wanda", "absent"}) == {"wanda"}
    records[0]["abstract"] += " It also uses Wanda."  # its new last passage is stored after Paper B's
    path.write_text("\n".join(json.dumps(r) for r in records))
    ingest([path], small, Index(settings), FakeEmbedder(), progress=False)
    edited = Index(settings.model_copy(update={"rare_share": 0.5}))
    assert edited.rare_words({"prune", "wanda"}) == {"wanda"}  # an edited paper's words may count twice, never less
    assert edited.keyword.papers_with({"prune", "wanda"})[0]["prune"] >= 2


def test_a_keyword_index_saved_without_paper_counts_is_rebuilt(settings):
    index = Index(settings)
    ingest([SEED_FILE], settings, index, FakeEmbedder(), progress=False)
    (index.keyword.folder / "ids.json").write_text(json.dumps(index.keyword.ids))  # the older format: ids only
    (index.keyword.folder / "paper_counts.npy").unlink()
    fresh = Index(settings)
    assert not fresh.keyword.load()
    assert fresh.rare_words({"wechsel"}) == {"wechsel"} and (fresh.keyword.folder / "paper_counts.npy").is_file()


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


class DyingEmbedder(FakeEmbedder):
    """Stops the process's work (like Ctrl-C) on its second batch."""

    def __init__(self):
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return super().embed(texts)


def test_an_interrupted_first_ingest_is_finished_before_answering(settings, fake_llm):
    settings = settings.model_copy(update={"batch_size": 16})
    with pytest.raises(KeyboardInterrupt):
        ingest(settings.corpus, settings, Index(settings), DyingEmbedder(), progress=False)
    partial = Index(settings).count()
    assert partial > 0 and unfinished_ingest(settings) == []  # its process (this one) still runs
    pending = json.loads(pending_file(settings).read_text())
    pending["pid"] = dead_pid()
    pending_file(settings).write_text(json.dumps(pending))
    assert unfinished_ingest(settings) == [p.resolve() for p in settings.corpus]
    pipeline = Pipeline(settings, llm=fake_llm, embedder=FakeEmbedder())
    pipeline.ensure_index(progress=False)
    assert Index(settings).count() > partial and unfinished_ingest(settings) == []
    fresh = settings.model_copy(update={"data_dir": settings.data_dir.parent / "fresh"})
    ingest(fresh.corpus, fresh, Index(fresh), FakeEmbedder(), progress=False)
    assert Index(settings).count() == Index(fresh).count()


def test_writes_are_split_to_chromas_batch_limit(settings, monkeypatch):
    index = Index(settings)
    monkeypatch.setattr(index.client, "get_max_batch_size", lambda: 7)
    report = ingest([SEED_FILE], settings, index, FakeEmbedder(), progress=False)
    assert index.count() == report.added > 7 * 20


def test_an_index_records_its_embedder_and_refuses_another(settings, fake_llm):
    """Vectors of another model live in another space: searching them would be silently wrong."""
    index = Index(settings)
    ingest(settings.corpus, settings, index, FakeEmbedder(), progress=False)
    assert index.collection.metadata["embedder"] == FakeEmbedder.name
    other = FakeEmbedder()
    other.name = "fake:another-model"
    expected = f"the index at {settings.chroma_dir} was made with the embedder fake, not fake:another-model"
    with pytest.raises(UserError, match=re.escape(expected)):
        Pipeline(settings, llm=fake_llm, embedder=other)
    with pytest.raises(UserError, match=re.escape(expected)):
        ingest(settings.corpus, settings, Index(settings), other, progress=False)
    assert Pipeline(settings, llm=fake_llm, embedder=FakeEmbedder()).ask("Which papers prune Llama?").citations


def test_an_index_made_before_embedders_were_recorded_takes_the_current_one(settings, fake_llm):
    index = Index(settings)
    index.collection.modify(metadata={"made by": "an older version"})
    Pipeline(settings, llm=fake_llm, embedder=FakeEmbedder(), index=index)
    assert Index(settings).collection.metadata == {"made by": "an older version", "embedder": "fake"}
