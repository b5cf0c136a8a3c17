"""Write the evaluation's RESULTS.md, results.json and results.png."""

from __future__ import annotations

import json
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path

from rag.settings import Settings

BENCH_SECTION = "## Benchmark"  # written by eval.bench
SCALE_SECTION = "## Scale"  # written by eval.bench_scale
EXPERIMENTS_SECTION = "## Experiments"  # written by hand: what was tried and measured, kept or dropped
CONVERSATIONS_SECTION = "## Conversations"  # written by eval.conversations
COLD_SECTION = "## Cold start"  # written by eval.bench_cold
LIBRARY_SECTION = "## Library"  # written by eval.bench_library
ANSWER_COLUMNS = ["n", "keyword_accuracy", "list_precision", "list_recall", "list_f1", "abstention",
                  "false_abstention", "citation_precision", "hallucinated_citations"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, Python {platform.python_version()}"


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(summary: dict, command: str, settings: Settings) -> str:
    parts = [
        "# Evaluation results",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {machine()}  ",
        f"Settings: k={settings.k}, evidence_tokens={settings.evidence_tokens}, evidence_rank_step={settings.evidence_rank_step}, "
        f"chunk_chars={settings.chunk_chars}, candidates={settings.candidates}, rrf_k={settings.rrf_k}, "
        f"min_score={settings.min_score}, list_threshold={settings.list_threshold}, "
        f"list_rank_step={settings.list_rank_step}, quote_candidates={settings.quote_candidates}, "
        f"quote_threshold={settings.quote_threshold}",
        "",
    ]
    for name in ("test", "dev"):
        if split := summary.get("splits", {}).get(name):
            note = "report only: nothing was tuned on these questions" if name == "test" else "tuned on"
            parts += [f"## {name.capitalize()} split ({split['n']} questions, "
                      f"{note})", "", *tables(split, modes=["dense", "hybrid"])]
    parts += ["## All questions" if summary.get("splits") else "## Results", "", *tables(summary)]
    if summary["answers"]:
        parts += ["## Latency", "",
                  table(["measure", "p50", "p95"],
                        [[name, v["p50"], v["p95"]] for name, v in summary["latency"].items()]),
                  ""]
    return "\n".join(parts)


def tables(summary: dict, modes: list[str] | None = None) -> list[str]:
    """Retrieval (paper level, top 10) and answers, per question type."""
    metric_names = ["hit@1", "hit@5", "mrr", "recall@5", "recall@10"]
    rows = [[group, mode, *[values[m] for m in metric_names]]
            for group, by_mode in summary["retrieval"].items() for mode, values in by_mode.items()
            if modes is None or mode in modes]
    parts = ["Retrieval (paper level, top 10):", "", table(["type", "retriever", *metric_names], rows), ""]
    if summary["answers"]:
        parts += ["Answers:", "",
                  table(["type", *ANSWER_COLUMNS],
                        [[group, *[values[c] for c in ANSWER_COLUMNS]] for group, values in summary["answers"].items()]),
                  ""]
    return parts


def chart(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in summary["retrieval"] if g != "overall"]
    fig, axes = plt.subplots(1, 2 if summary["answers"] else 1, figsize=(12 if summary["answers"] else 7, 4.5),
                             squeeze=False)
    ax = axes[0][0]
    width = 0.25
    for i, mode in enumerate(["bm25", "dense", "hybrid"]):
        values = [summary["retrieval"][g].get(mode, {}).get("hit@5") or 0 for g in groups]
        ax.bar([x + i * width for x in range(len(groups))], values, width, label=f"{mode} hit@5")
    if summary["answers"]:
        quality = [summary["answers"][g]["keyword_accuracy"] if summary["answers"][g]["keyword_accuracy"] is not None
                   else summary["answers"][g]["list_f1"] if summary["answers"][g]["list_f1"] is not None
                   else summary["answers"][g]["abstention"] or 0 for g in groups]
        ax.plot([x + width for x in range(len(groups))], quality, "ko", label="answer quality*")
    ax.set_xticks([x + width for x in range(len(groups))], groups, rotation=20)
    ax.set_ylim(0, 1.05)
    ax.set_title("Quality per question type")
    ax.legend(fontsize=8, loc="lower left")
    if summary["answers"]:
        ax = axes[0][1]
        series = [summary["latency"]["first_token_s"]["values"], summary["latency"]["total_s"]["values"]]
        ax.boxplot(series, tick_labels=["time to first token", "total"])
        ax.set_ylabel("seconds")
        ax.set_title("Answer latency")
    fig.text(0.01, 0.01, "* keyword accuracy; list F1 for lists; abstention for unanswerable", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def section(text: str, heading: str) -> str:
    """The section under `heading` up to the next heading of the same level, or ''."""
    match = re.search(rf"^{re.escape(heading)}$", text, re.MULTILINE)
    return (text[match.start():].split("\n## ", 1)[0]).rstrip() + "\n" if match else ""


def write_section(path: Path, heading: str, text: str) -> None:
    """Replace (or append) one section of a markdown file, leaving the rest as it is."""
    old = path.read_text() if path.is_file() else "# Evaluation results\n"
    current = section(old, heading)
    new = old.replace(current, text.rstrip() + "\n") if current else old.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(new)


def write_report(out: Path, summary: dict, records: list[dict], command: str, settings: Settings) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"command": command, "summary": summary, "questions": records},
                                                 indent=1, ensure_ascii=False))
    chart(summary, out / "results.png")
    path = out / "RESULTS.md"
    old = path.read_text() if path.is_file() else ""
    headings = (CONVERSATIONS_SECTION, BENCH_SECTION, COLD_SECTION, LIBRARY_SECTION, SCALE_SECTION,
                EXPERIMENTS_SECTION)
    kept = "".join("\n" + section(old, heading) for heading in headings
                   if section(old, heading))
    path.write_text(markdown(summary, command, settings) + "\n![quality and latency](results.png)\n" + kept)
    return path
