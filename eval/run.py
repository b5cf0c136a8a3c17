"""Evaluate retrieval and answers on a QA file:
`python -m eval.run --qa FILE [--split dev|test|all] [--retrieval-only] [--limit N] [--out DIR]`.

A QA record may carry a `split`: `dev` (tune on it) or `test` (report only, never tune on it); records
without one belong to every split. The report gives each split its own tables.

Answers are cached per question (keyed by the question and a fingerprint of the code and settings),
so an interrupted run continues where it stopped."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from eval import metrics
from eval.report import write_report
from rag.cli import add_settings_flags, run_cli, settings_from_flags
from rag.errors import UserError
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings

TYPES = ["factoid", "paraphrase", "list", "title", "unanswerable", "multi_hop"]
RETRIEVERS = ["bm25", "dense", "hybrid"]
SPLITS = ["dev", "test"]
RETRIEVAL_DEPTH = 10


@dataclass(frozen=True)
class QA:
    id: str
    question: str
    type: str
    gold_titles: list[str]
    answer_keywords: list[list[str]]
    notes: str = ""
    split: str | None = None  # dev or test; None: in every split


def load_qa(path: Path) -> list[QA]:
    if not path.is_file():
        raise UserError(f"{path}: no such QA file")
    items, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            item = QA(id=str(data["id"]), question=data["question"], type=data["type"],
                      gold_titles=list(data.get("gold_titles", [])),
                      answer_keywords=[list(g) for g in data.get("answer_keywords", [])], notes=data.get("notes", ""),
                      split=data.get("split"))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise UserError(f"{path}:{number}: not a QA record ({type(e).__name__}: {e})") from None
        if item.type not in TYPES:
            raise UserError(f"{path}:{number}: unknown type {item.type!r} (one of {', '.join(TYPES)})")
        if item.split not in (None, *SPLITS):
            raise UserError(f"{path}:{number}: unknown split {item.split!r} (one of {', '.join(SPLITS)})")
        if item.id in seen:
            raise UserError(f"{path}:{number}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise UserError(f"{path}: no questions")
    return items


def evaluate_retrieval(pipeline: Pipeline, items: list[QA], progress: bool = True) -> dict[str, dict[str, dict]]:
    """Per question and retriever: the ranked titles and their scores against the gold titles."""
    results: dict[str, dict[str, dict]] = {}
    for item in tqdm(items, desc="retrieval", disable=not progress):
        results[item.id] = {}
        for mode in RETRIEVERS:
            retrieval = pipeline.retriever.search(item.question, RETRIEVAL_DEPTH, mode)
            ranked = [p.title for p in retrieval.papers]
            scores = metrics.retrieval_scores(ranked, set(item.gold_titles)) if item.gold_titles else {}
            results[item.id][mode] = {"ranked": ranked, "ms": retrieval.ms, **scores}
    return results


def fingerprint(settings: Settings) -> str:
    """Changes whenever the code or a setting that shapes an answer changes."""
    digest = hashlib.sha256(settings.model_dump_json(exclude={"data_dir", "corpus"}).encode())
    for source in sorted((PROJECT_ROOT / "rag").rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


class AnswerCache:
    """Answers already computed, in a JSONL file keyed by the code and settings fingerprint and by what was
    asked: an interrupted run continues where it stopped, and any code or setting change starts afresh."""

    def __init__(self, path: Path, settings: Settings):
        self.path = path
        self.prefix = fingerprint(settings)
        self.records: dict[str, dict] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                record = json.loads(line)
                self.records[record["key"]] = record["answer"]
        path.parent.mkdir(parents=True, exist_ok=True)

    def get(self, asked: str, compute) -> dict:
        key = hashlib.sha256(f"{self.prefix}\x1f{asked}".encode()).hexdigest()[:24]
        if key not in self.records:
            self.records[key] = compute()
            with self.path.open("a") as out:
                out.write(json.dumps({"key": key, "answer": self.records[key]}) + "\n")
        return self.records[key]


def evaluate_answers(pipeline: Pipeline, items: list[QA], cache_file: Path, progress: bool = True) -> dict[str, dict]:
    cache = AnswerCache(cache_file, pipeline.settings)
    return {item.id: cache.get(item.question, lambda: pipeline.ask(item.question).to_dict())
            for item in tqdm(items, desc="answers", disable=not progress)}


def score_answer(item: QA, answer: dict, corpus_titles: set[str]) -> dict:
    cited = [c["title"] for c in answer["citations"]]
    gold = set(item.gold_titles)
    record = {
        "abstained": answer["abstained"],
        "cited_titles": cited,
        "hallucinated_citations": sum(t not in corpus_titles for t in cited),
        "cited_gold": sum(t in gold for t in cited),
    }
    if item.answer_keywords:
        record["keywords_ok"] = not answer["abstained"] and metrics.keywords_ok(answer["text"], item.answer_keywords)
    if item.type == "list":
        record.update({f"list_{k}": v for k, v in metrics.set_scores(set(cited), gold).items()})
    return record


def summarize(items: list[QA], retrieval: dict, answers: dict | None, scored: dict) -> dict:
    by_type: dict[str, list[QA]] = defaultdict(list)
    for item in items:
        by_type[item.type].append(item)
    groups = {**{t: by_type[t] for t in TYPES if by_type[t]}, "overall": items}
    summary: dict = {"n": len(items), "retrieval": {}, "answers": {}, "latency": {}}
    for name, group in groups.items():
        answerable = [i for i in group if i.gold_titles]
        summary["retrieval"][name] = {
            mode: {m: metrics.mean([retrieval[i.id][mode][m] for i in answerable])
                   for m in ("hit@1", "hit@5", "mrr", "recall@5", "recall@10")}
            for mode in RETRIEVERS} if answerable else {}
        if answers is None:
            continue
        rows = [scored[i.id] for i in group]
        answerable_rows = [scored[i.id] for i in answerable]
        unanswerable_rows = [scored[i.id] for i in group if not i.gold_titles]
        cited = sum(len(r["cited_titles"]) for r in answerable_rows)
        summary["answers"][name] = {
            "n": len(group),
            "keyword_accuracy": metrics.mean([float(r["keywords_ok"]) for r in rows if "keywords_ok" in r]),
            "list_precision": metrics.mean([r["list_precision"] for r in rows if "list_precision" in r]),
            "list_recall": metrics.mean([r["list_recall"] for r in rows if "list_recall" in r]),
            "list_f1": metrics.mean([r["list_f1"] for r in rows if "list_f1" in r]),
            "abstention": metrics.mean([float(r["abstained"]) for r in unanswerable_rows]),
            "false_abstention": metrics.mean([float(r["abstained"]) for r in answerable_rows]),
            "citation_precision": sum(r["cited_gold"] for r in answerable_rows) / cited if cited else None,
            "hallucinated_citations": sum(r["hallucinated_citations"] for r in rows),
        }
    if answers is not None:
        timings = [answers[i.id]["timings"] for i in items]
        generated = [t for t in timings if t["first_token_s"] is not None]
        series = {
            "retrieval_ms": [t["retrieve_ms"] for t in timings],
            "first_token_s": [t["first_token_s"] for t in generated],
            "decode_tokens_per_s": [t["completion_tokens"] / (t["total_s"] - t["first_token_s"])
                                    for t in generated if t["completion_tokens"] > 1 and t["total_s"] > t["first_token_s"]],
            "total_s": [t["total_s"] for t in timings],
            "prompt_tokens": [t["prompt_tokens"] for t in generated],
        }
        summary["latency"] = {name: {"p50": metrics.percentile(v, 50), "p95": metrics.percentile(v, 95), "values": v}
                              for name, v in series.items()}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.split("\n")[0])
    parser.add_argument("--qa", type=Path, required=True, help="QA file (JSONL, see eval/qa.jsonl)")
    parser.add_argument("--split", choices=[*SPLITS, "all"], default="all",
                        help="questions of one split only (default: all, each split reported on its own)")
    parser.add_argument("--retrieval-only", action="store_true", help="measure retrieval only (no LLM)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--out", type=Path, help="output folder (default: eval/out/<qa file name>)")
    add_settings_flags(parser)
    args = parser.parse_args(argv)
    items = [i for i in load_qa(args.qa) if args.split == "all" or i.split in (None, args.split)][: args.limit]
    out = args.out or PROJECT_ROOT / "eval" / "out" / args.qa.stem
    pipeline = Pipeline(settings_from_flags(args))
    pipeline.ensure_index()
    corpus_titles = set(pipeline.index.titles())
    retrieval = evaluate_retrieval(pipeline, items)
    answers = None if args.retrieval_only else evaluate_answers(pipeline, items, out / "cache" / "answers.jsonl")
    scored = {i.id: score_answer(i, answers[i.id], corpus_titles) for i in items} if answers else {}
    summary = summarize(items, retrieval, answers, scored)
    summary["splits"] = {name: summarize(subset, retrieval, answers, scored) for name in SPLITS
                         if (subset := [i for i in items if i.split in (None, name)]) and len(subset) < len(items)}
    records = [{"id": i.id, "type": i.type, "split": i.split, "question": i.question, "gold_titles": i.gold_titles,
                "retrieved": {mode: retrieval[i.id][mode]["ranked"] for mode in RETRIEVERS},
                **({"answer": answers[i.id]["text"], "timings": answers[i.id]["timings"], **scored[i.id]}
                   if answers else {})} for i in items]
    command = "python -m eval.run " + " ".join(sys.argv[1:] if argv is None else argv)
    path = write_report(out, summary, records, command, pipeline.settings)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    run_cli(main)
