"""Top-k ranking metrics with binary relevance, as defined in EVALUATION.md."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
import scipy.sparse as sp


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


def ndcg_at_k(
    scores: np.ndarray, relevant: np.ndarray, k: int = 10, n_relevant: np.ndarray | None = None
) -> float:
    """Mean NDCG@k of score rows, as user_metrics' ndcg; scores (b x c), -inf = not a candidate;
    relevant (b x c) bool. n_relevant (b,) overrides relevant.sum(1) for the ideal DCG when the
    columns are a candidate pool rather than the catalog."""
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, 1)
    hits = np.take_along_axis(relevant, top, 1) & np.isfinite(np.take_along_axis(scores, top, 1))
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    counts = relevant.sum(1) if n_relevant is None else n_relevant
    ideal = np.cumsum(disc)[np.clip(counts, 1, k) - 1]
    return float(np.mean((hits * disc).sum(1) / ideal))


def intra_list_diversity(lists: Sequence[np.ndarray], vectors: sp.csr_matrix) -> float:
    """Mean over lists of 1 - mean pairwise cosine of the products' vectors (rows of `vectors`,
    L2-normalised, m x V); lists hold product indices, those with fewer than 2 are skipped.
    In [0, 1] for non-negative vectors: 1 = no two products of a list share a term."""
    values = []
    for items in lists:
        n = len(items)
        if n < 2:
            continue
        v = vectors[np.asarray(items)]
        sim = (v @ v.T).toarray()
        values.append(1.0 - (sim.sum() - np.trace(sim)) / (n * (n - 1)))
    return float(np.mean(values)) if values else 0.0
