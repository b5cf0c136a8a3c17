"""Pure metric functions of the evaluation: retrieval ranks, answer quality, latency percentiles."""

from __future__ import annotations

import statistics


def first_gold_rank(ranked: list[str], gold: set[str]) -> int | None:
    """1-based rank of the first gold title, or None."""
    return next((i for i, title in enumerate(ranked, start=1) if title in gold), None)


def recall_at(ranked: list[str], gold: set[str], k: int) -> float:
    return len(set(ranked[:k]) & gold) / len(gold) if gold else 0.0


def retrieval_scores(ranked: list[str], gold: set[str]) -> dict[str, float]:
    rank = first_gold_rank(ranked, gold)
    return {
        "hit@1": float(rank == 1),
        "hit@5": float(rank is not None and rank <= 5),
        "mrr": 1.0 / rank if rank else 0.0,
        "recall@5": recall_at(ranked, gold, 5),
        "recall@10": recall_at(ranked, gold, 10),
    }


def keywords_ok(text: str, groups: list[list[str]]) -> bool:
    """Every keyword group has at least one of its strings in the text (case-insensitive)."""
    lowered = text.casefold()
    return all(any(k.casefold() in lowered for k in group) for group in groups)


def set_scores(predicted: set[str], gold: set[str]) -> dict[str, float]:
    hits = len(predicted & gold)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]
