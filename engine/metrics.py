"""Top-k ranking metrics with binary relevance, as defined in EVALUATION.md."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def user_metrics(ranked: Sequence[str], relevant: Collection[str], k: int) -> dict[str, float]:
    """precision, recall, ndcg, hit_rate, map at k for one user; `relevant` must be non-empty."""
    top = list(ranked[:k])
    hits = [p in relevant for p in top]
    n_hit = sum(hits)
    dcg = sum(1.0 / math.log2(r + 2) for r, h in enumerate(hits) if h)
    ideal_hits = min(len(relevant), k)
    idcg = sum(1.0 / math.log2(r + 2) for r in range(ideal_hits))
    ap, seen = 0.0, 0
    for r, h in enumerate(hits):
        if h:
            seen += 1
            ap += seen / (r + 1)
    return {
        "precision": n_hit / k,
        "recall": n_hit / len(relevant),
        "ndcg": dcg / idcg,
        "hit_rate": 1.0 if n_hit else 0.0,
        "map": ap / ideal_hits,
    }


def aggregate(
    lists: Sequence[Sequence[str]], relevants: Sequence[Collection[str]], k: int, catalog_size: int
) -> dict[str, float]:
    """Means of user_metrics plus coverage = distinct recommended products / catalog size."""
    keys = ("precision", "recall", "ndcg", "hit_rate", "map")
    sums = dict.fromkeys(keys, 0.0)
    for ranked, rel in zip(lists, relevants, strict=True):
        for key, value in user_metrics(ranked, rel, k).items():
            sums[key] += value
    n = max(len(lists), 1)
    out = {key: sums[key] / n for key in keys}
    distinct = {p for ranked in lists for p in ranked[:k]}
    out["coverage"] = len(distinct) / catalog_size if catalog_size else 0.0
    return out
