"""Evaluate follow-ups on a conversations file through the same code path as the chat:
`python -m eval.conversations --qa eval/conversations.jsonl [--split dev|test|all] [--out DIR]`.

Each record is {"id", "kind", "split", "turns": [QA records without id]}; turns are asked in order in one
`Conversation`. Writes the "## Conversations" section of RESULTS.md and conversations.json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from eval import metrics
from eval.report import CONVERSATIONS_SECTION as SECTION
from eval.report import table, write_section
from eval.run import QA, SPLITS, TYPES, AnswerCache, score_answer
from rag.cli import add_settings_flags, run_cli, settings_from_flags
from rag.conversation import Conversation, answer_record
from rag.errors import UserError
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT

KINDS = ["same_subject", "narrow_list", "reference", "topic_switch", "unanswerable_followup"]


def load_conversations(path: Path) -> list[dict]:
    if not path.is_file():
        raise UserError(f"{path}: no such conversations file")
    conversations = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            turns = [QA(id=f"{data['id']}.{i}", question=t["question"], type=t["type"],
                        gold_titles=list(t.get("gold_titles", [])),
                        answer_keywords=[list(g) for g in t.get("answer_keywords", [])])
                     for i, t in enumerate(data["turns"], start=1)]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise UserError(f"{path}:{number}: not a conversation record ({type(e).__name__}: {e})") from None
        if data.get("kind") not in KINDS or data.get("split") not in (None, *SPLITS) or len(turns) < 2:
            raise UserError(f"{path}:{number}: needs a kind ({', '.join(KINDS)}), a split and 2+ turns")
        if any(t.type not in TYPES for t in turns):
            raise UserError(f"{path}:{number}: unknown turn type")
        conversations.append({"id": str(data["id"]), "kind": data["kind"], "split": data.get("split"), "turns": turns})
    if not conversations:
        raise UserError(f"{path}: no conversations")
    return conversations


def correct(item: QA, scored: dict) -> bool:
    """A turn is right when its keywords are there, its list has F1 >= 0.5, an unanswerable one is refused,
    and otherwise it cites a gold paper."""
    if item.type == "unanswerable":
        return scored["abstained"]
    if "keywords_ok" in scored:
        return scored["keywords_ok"]
    if item.type == "list":
        return scored["list_f1"] >= 0.5
    return not scored["abstained"] and scored["cited_gold"] > 0


def run_conversation(pipeline: Pipeline, conversation: dict) -> list[dict]:
    chat = Conversation(pipeline)
    return [answer_record(*chat.ask(item.question)) for item in conversation["turns"]]


def summarize(conversations: list[dict], turns: list[dict]) -> dict:
    first = [t for t in turns if t["turn"] == 1]
    later = [t for t in turns if t["turn"] > 1]

    def stats(rows: list[dict]) -> dict:
        answerable = [r for r in rows if r["type"] != "unanswerable"]
        cited = sum(len(r["cited_titles"]) for r in answerable)
        ttft = [r["first_token_s"] for r in rows if r["first_token_s"] is not None]
        return {
            "n": len(rows),
            "correct": metrics.mean([float(r["correct"]) for r in rows]),
            "keyword_accuracy": metrics.mean([float(r["keywords_ok"]) for r in rows if "keywords_ok" in r]),
            "list_precision": metrics.mean([r["list_precision"] for r in rows if "list_precision" in r]),
            "list_recall": metrics.mean([r["list_recall"] for r in rows if "list_recall" in r]),
            "abstention": metrics.mean([float(r["abstained"]) for r in rows if r["type"] == "unanswerable"]),
            "citation_precision": sum(r["cited_gold"] for r in answerable) / cited if cited else None,
            "first_token_p50": metrics.percentile(ttft, 50),
        }

    right = {c["id"]: all(t["correct"] for t in turns if t["conversation"] == c["id"]) for c in conversations}
    return {
        "first_turns": stats(first), "later_turns": stats(later),
        "by_kind": {kind: stats([t for t in later if t["kind"] == kind]) for kind in KINDS
                    if any(t["kind"] == kind for t in later)},
        "by_resolution": {how: stats([t for t in later if t["resolution"] == how])
                          for how in dict.fromkeys(t["resolution"] for t in later)},
        # First turns are mostly lists (fast); follow-ups mostly factoid: compare latency within a type.
        "first_token_by_type": {kind: {name: {key: stats([t for t in rows if t["type"] == kind])[key]
                                              for key in ("n", "first_token_p50")}
                                       for name, rows in (("first turns", first), ("later turns", later))}
                                for kind in TYPES if any(t["type"] == kind for t in turns)},
        "right_throughout": metrics.mean([float(v) for v in right.values()]),
    }


COLUMNS = ["n", "correct", "keyword_accuracy", "list_precision", "list_recall", "abstention", "citation_precision",
           "first_token_p50"]


def markdown(summaries: dict[str, dict], command: str) -> str:
    parts = [SECTION, "", f"Command: `{command}`. A turn is correct when its keywords are in the answer, a list "
             "has F1 >= 0.5, an unanswerable follow-up is refused, else it cites a gold paper.", ""]
    for name, summary in summaries.items():
        rows = [["first turns", *[summary["first_turns"][c] for c in COLUMNS]],
                ["later turns", *[summary["later_turns"][c] for c in COLUMNS]]]
        rows += [[f"later: {kind}", *[v[c] for c in COLUMNS]] for kind, v in summary["by_kind"].items()]
        rows += [[f"later, resolved as {how}", *[v[c] for c in COLUMNS]] for how, v in summary["by_resolution"].items()]
        latency = [[kind, *[v[name][key] for name in ("first turns", "later turns") for key in ("n", "first_token_p50")]]
                   for kind, v in summary["first_token_by_type"].items()]
        parts += [f"### {name} (conversations right throughout: {summary['right_throughout']:.2f})", "",
                  table(["turns", *COLUMNS], rows), "",
                  "First token p50 (s) by question type:", "",
                  table(["type", "first turns", "first turns p50", "later turns", "later turns p50"], latency), ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.conversations", description=__doc__.split("\n")[0])
    parser.add_argument("--qa", type=Path, required=True, help="conversations file (JSONL, see eval/conversations.jsonl)")
    parser.add_argument("--split", choices=[*SPLITS, "all"], default="all", help="one split only (default: all)")
    parser.add_argument("--out", type=Path, help="output folder (default: eval/out/<file name>)")
    add_settings_flags(parser)
    args = parser.parse_args(argv)
    conversations = [c for c in load_conversations(args.qa) if args.split == "all" or c["split"] in (None, args.split)]
    out = args.out or PROJECT_ROOT / "eval" / "out" / args.qa.stem
    pipeline = Pipeline(settings_from_flags(args))
    pipeline.ensure_index()
    corpus_titles = set(pipeline.index.titles())
    cache = AnswerCache(out / "cache" / "conversations.jsonl", pipeline.settings)
    turns = []
    for conversation in tqdm(conversations, desc="conversations"):
        asked = "\x1e".join(item.question for item in conversation["turns"])
        records = cache.get(asked, lambda: run_conversation(pipeline, conversation))
        for number, (item, record) in enumerate(zip(conversation["turns"], records), start=1):
            scored = score_answer(item, record, corpus_titles)
            turns.append({"conversation": conversation["id"], "kind": conversation["kind"], "split": conversation["split"],
                          "turn": number, "type": item.type, "question": item.question,
                          "standalone": record["standalone"], "resolution": record["resolution"],
                          "answer": record["text"], "first_token_s": record["timings"]["first_token_s"],
                          **scored, "correct": correct(item, scored)})
    groups = {name: [c for c in conversations if c["split"] in (None, name)] for name in ("test", "dev")}
    groups = {name: group for name, group in groups.items() if group and len(group) < len(conversations)}
    groups["all"] = conversations
    summaries = {name: summarize(group, [t for t in turns if t["conversation"] in {c["id"] for c in group}])
                 for name, group in groups.items()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "conversations.json").write_text(json.dumps({"summary": summaries, "turns": turns}, indent=1,
                                                       ensure_ascii=False))
    command = "python -m eval.conversations " + " ".join(sys.argv[1:] if argv is None else argv)
    write_section(out / "RESULTS.md", SECTION, markdown(summaries, command))
    print(f"wrote {out / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    run_cli(main)
