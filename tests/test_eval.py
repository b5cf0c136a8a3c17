import json

import pytest

from eval import metrics
from eval.run import evaluate_retrieval, load_qa, main, summarize
from rag.corpus import load
from rag.errors import UserError
from rag.settings import PROJECT_ROOT

from conftest import SEEDS

QA_FILE = PROJECT_ROOT / "eval" / "qa.jsonl"


def test_qa_set_is_grounded_in_the_corpus():
    abstracts = {p.title: p.abstract.casefold() for p in load([SEEDS]).papers}
    items = load_qa(QA_FILE)
    counts = {t: sum(i.type == t for i in items) for t in {i.type for i in items}}
    assert len(items) >= 80 and min(counts.values()) >= 10, counts
    for item in items:
        assert set(item.gold_titles) <= set(abstracts), item.id
        assert bool(item.gold_titles) == (item.type != "unanswerable"), item.id
        for group in item.answer_keywords:
            assert any(k.casefold() in abstracts[t] for k in group for t in item.gold_titles), (item.id, group)


def test_metrics():
    assert metrics.retrieval_scores(["x", "g1", "g2"], {"g1", "g2", "g3"}) == {
        "hit@1": 0.0, "hit@5": 1.0, "mrr": 0.5, "recall@5": 2 / 3, "recall@10": 2 / 3}
    assert metrics.keywords_ok("It reaches 3.65x", [["3.65"], ["x", "times"]])
    assert not metrics.keywords_ok("It reaches 3.6", [["3.65"]])
    assert metrics.set_scores({"a", "b"}, {"a", "c", "d"}) == {"precision": 0.5, "recall": 1 / 3, "f1": 0.4}
    assert metrics.percentile([5, 1, 3, 2, 4], 50) == 3 and metrics.percentile([1, 2, 3, 4, 100], 95) == 100


def test_bad_qa_file_is_a_user_error(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"id": "a", "question": "q", "type": "riddle"}\n')
    with pytest.raises(UserError, match="unknown type 'riddle'"):
        load_qa(path)
    path.write_text('{"question": "q"}\n')
    with pytest.raises(UserError, match="qa.jsonl:1: not a QA record"):
        load_qa(path)


def test_run_on_an_unseen_file_writes_results_and_resumes_from_cache(fake_pipeline, monkeypatch, tmp_path):
    qa = tmp_path / "other.jsonl"
    pruner = "LLM-Pruner: On the Structural Pruning of Large Language Models"
    qa.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "question": "structural pruning of large language models", "type": "factoid",
         "gold_titles": [pruner], "answer_keywords": [["language"]]},
        {"id": "b", "question": "who wrote the paper on cooking?", "type": "unanswerable", "gold_titles": [],
         "answer_keywords": []},
    ]))
    monkeypatch.setattr("eval.run.Pipeline", lambda settings: fake_pipeline)
    out = tmp_path / "out"
    assert main(["--qa", str(qa), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["summary"]["retrieval"]["factoid"]["hybrid"]["hit@1"] == 1.0
    assert results["summary"]["answers"]["overall"]["hallucinated_citations"] == 0
    assert results["questions"][0]["cited_titles"] == [pruner] and results["questions"][0]["keywords_ok"]
    assert (out / "results.png").stat().st_size > 0 and "| factoid | hybrid |" in (out / "RESULTS.md").read_text()
    calls = len(fake_pipeline.llm.calls)
    notes = "## Experiments\n\nlead 3: measured, dropped.\n"
    (out / "RESULTS.md").write_text((out / "RESULTS.md").read_text() + "\n" + notes)
    assert main(["--qa", str(qa), "--out", str(out)]) == 0
    assert len(fake_pipeline.llm.calls) == calls  # every answer came from the cache
    assert notes in (out / "RESULTS.md").read_text()  # hand-written sections survive a new run


# Regression guard on the dev split: a little below the figures in eval/RESULTS.md (real embedder, real Chroma).
RETRIEVAL_FLOORS = {("factoid", "hit@1"): 0.85, ("paraphrase", "hit@5"): 0.9, ("title", "hit@1"): 0.95,
                    ("list", "recall@10"): 0.8, ("multi_hop", "recall@10"): 0.95, ("overall", "mrr"): 0.88}


def test_retrieval_quality_does_not_regress(real_pipeline):
    items = [item for item in load_qa(QA_FILE) if item.split == "dev"]
    summary = summarize(items, evaluate_retrieval(real_pipeline, items, progress=False), None, {})
    for (group, metric), floor in RETRIEVAL_FLOORS.items():
        assert summary["retrieval"][group]["hybrid"][metric] >= floor, (group, metric)


def test_split_selects_its_questions_and_records_without_a_split_belong_to_every_split(fake_pipeline, monkeypatch,
                                                                                        tmp_path):
    qa = tmp_path / "split.jsonl"
    rows = [{"id": s or "none", "question": f"structural pruning {s}", "type": "unanswerable", "split": s}
            for s in ("dev", "test", None)]
    qa.write_text("\n".join(json.dumps({k: v for k, v in r.items() if v is not None}) for r in rows))
    monkeypatch.setattr("eval.run.Pipeline", lambda settings: fake_pipeline)
    for split, ids in [("dev", ["dev", "none"]), ("test", ["test", "none"]), ("all", ["dev", "test", "none"])]:
        assert main(["--qa", str(qa), "--out", str(tmp_path / split), "--split", split, "--retrieval-only"]) == 0
        results = json.loads((tmp_path / split / "results.json").read_text())
        assert [q["id"] for q in results["questions"]] == ids
    report = (tmp_path / "all" / "RESULTS.md").read_text()
    assert "## Test split (2 questions" in report and "## Dev split (2 questions" in report
    qa.write_text(json.dumps({**rows[0], "split": "train"}))
    with pytest.raises(UserError, match="unknown split 'train'"):
        load_qa(qa)


def test_conversations_are_scored_turn_by_turn_through_the_chat(fake_pipeline, monkeypatch, tmp_path):
    from eval import conversations

    pruner = "LLM-Pruner: On the Structural Pruning of Large Language Models"
    path = tmp_path / "conversations.jsonl"
    path.write_text(json.dumps({"id": "c1", "kind": "same_subject", "split": "test", "turns": [
        {"question": "structural pruning of large language models", "type": "factoid", "gold_titles": [pruner]},
        {"question": "how was it evaluated?", "type": "factoid", "gold_titles": [pruner]},
        {"question": "who wrote it?", "type": "unanswerable"}]}) + "\n")
    monkeypatch.setattr(conversations, "Pipeline", lambda settings: fake_pipeline)
    assert conversations.main(["--qa", str(path), "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "conversations.json").read_text())
    assert [t["resolution"] for t in result["turns"]] == ["standalone", "subject", "subject"]
    assert result["turns"][1]["cited_titles"] == [pruner] and result["turns"][1]["correct"]
    assert result["summary"]["all"]["later_turns"]["n"] == 2
    assert "## Conversations" in (tmp_path / "RESULTS.md").read_text()
