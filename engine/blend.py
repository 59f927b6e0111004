"""Fit the blend weights on a validation split of the training period: the last
`validation_days` (at most a quarter of the history).

A sub-model is trained on the events before the split; customers with novel products in the
validation window are scored exactly as in the offline protocol, and the weights are chosen by
coordinate ascent on NDCG@10 over small grids, keeping the configured defaults unless a change
improves validation NDCG by more than `min_gain` (relative).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from engine.config import BlendWeights
from engine.models import decayed_popularity, newness

if TYPE_CHECKING:
    from engine.recommender import _State

GRID: dict[str, tuple[float, ...]] = {
    "content": (0.0, 0.15, 0.3, 0.5, 0.8, 1.2),
    "popularity": (0.0, 0.2, 0.4, 0.8, 1.2, 2.0),
    "popularity_half_life_days": (3.0, 7.0, 14.0, 30.0, 60.0),
    "newness": (0.0, 0.2, 0.4, 0.8, 1.2),
    "newness_half_life_days": (30.0, 60.0, 120.0, 240.0),
}


def ndcg_at_k(
    scores: np.ndarray, relevant: np.ndarray, k: int = 10, n_relevant: np.ndarray | None = None
) -> float:
    """Mean NDCG@k; scores (b x c), -inf = not a candidate; relevant (b x c) bool.

    n_relevant (b,) overrides relevant.sum(1) for the ideal DCG when columns are a candidate pool.
    """
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, 1)
    hits = np.take_along_axis(relevant, top, 1) & np.isfinite(np.take_along_axis(scores, top, 1))
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    counts = relevant.sum(1) if n_relevant is None else n_relevant
    ideal = np.cumsum(disc)[np.clip(counts, 1, k) - 1]
    return float(np.mean((hits * disc).sum(1) / ideal))


def candidate_pool(per_user: list[np.ndarray], global_: list[np.ndarray], n: int) -> np.ndarray:
    """(b x c) sorted column indices: each user's top-n of every per_user matrix (b x m) plus
    the top-n of every global vector (m,); may contain duplicates (adjacent after sorting)."""
    b = per_user[0].shape[0]
    parts = [np.argpartition(-x, n - 1, axis=1)[:, :n] for x in per_user]
    shared = np.unique(np.concatenate([np.argpartition(-v, n - 1)[:n] for v in global_]))
    parts.append(np.broadcast_to(shared, (b, len(shared))))
    cols = np.concatenate(parts, axis=1)
    cols.sort(axis=1)
    return cols


def fit_blend(
    state: _State,
    build: Callable[..., _State],
    min_gain: float = 0.002,
    k: int = 10,
    pool: int = 200,
) -> BlendWeights | None:
    """Blend weights tuned on the validation window, or None when there is too little data."""
    from engine.recommender import Scorer, profile_matrix

    cfg = state.config
    prep = state.prepared
    m = len(state.catalog)
    if len(prep.age_days) == 0:
        return None
    days = min(cfg.validation_days, 0.25 * float(prep.age_days.max()))
    late = prep.age_days < days
    if not late.any() or late.all():
        return None
    early = prep.select(~late)
    early = dataclasses.replace(early, age_days=early.age_days - days)
    split_now = state.now - np.timedelta64(int(days * 86400), "s")
    sub_cfg = dataclasses.replace(cfg, fit_blend=False)
    sub = build(sub_cfg, state.catalog, early, split_now, state.product_index, state.content)
    late_ev = prep.select(late)
    rows = np.fromiter(
        (sub.user_index.get(u, -1) for u in late_ev.users.tolist()), np.int64, len(late_ev.users)
    )
    ok = rows >= 0
    if not ok.any():
        return None
    n_sub = len(sub.user_ids)
    rel = sp.csr_matrix((np.ones(int(ok.sum())), (rows[ok], late_ev.items[ok])), shape=(n_sub, m))
    rel.sum_duplicates()
    seen = sub.strengths.copy()
    seen.data[:] = 1.0
    rel = rel - rel.multiply(seen)
    rel.eliminate_zeros()
    users = np.flatnonzero(np.diff(rel.indptr) > 0)
    if len(users) < cfg.validation_min_users:
        return None
    cap = max(cfg.validation_min_users, min(cfg.validation_max_users, int(3e7 // max(m, 1))))
    if len(users) > cap:
        users = np.sort(np.random.default_rng(cfg.seed).choice(users, cap, replace=False))
    relevant = rel[users].toarray() > 0
    n_relevant = relevant.sum(1)
    strengths = sub.strengths[users]
    profiles = profile_matrix(strengths)
    probe = Scorer(sub, BlendWeights(cf=1.0, content=1.0, popularity=0.0, newness=0.0))
    cf, ct = probe.components(profiles, strengths, users)
    excluded = strengths.toarray() > 0
    w = sub.prepared.weights / 5.0
    pops = {
        h: decayed_popularity(sub.prepared.items, w, sub.prepared.age_days, h, m)
        for h in GRID["popularity_half_life_days"]
    }
    news = {h: newness(sub.first_seen_age, h) for h in GRID["newness_half_life_days"]}
    cols = candidate_pool(
        [np.where(excluded, -np.inf, cf), np.where(excluded, -np.inf, ct)],
        [*pops.values(), *news.values()],
        min(pool, m),
    )
    invalid = np.zeros(cols.shape, dtype=bool)
    invalid[:, 1:] = cols[:, 1:] == cols[:, :-1]
    invalid |= np.take_along_axis(excluded, cols, 1)
    rel_c = np.take_along_axis(relevant, cols, 1) & ~invalid
    cf_c = np.take_along_axis(cf, cols, 1).astype(np.float32)
    ct_c = np.take_along_axis(ct, cols, 1).astype(np.float32)
    factor = np.ones(cols.shape, dtype=np.float32)
    if cfg.category_boost and len(sub.category_names):
        pref = probe.preferred(strengths)
        codes = sub.category_codes[cols]
        factor += np.float32(cfg.category_boost) * (
            (codes >= 0) & np.take_along_axis(pref, np.maximum(codes, 0), 1)
        )
    pops_c = {h: v[cols].astype(np.float32) for h, v in pops.items()}
    news_c = {h: v[cols].astype(np.float32) for h, v in news.items()}

    def evaluate(p: dict[str, Any]) -> float:
        s = cf_c * np.float32(cfg.blend.cf) + np.float32(p["content"]) * ct_c
        s += np.float32(p["popularity"]) * pops_c[p["popularity_half_life_days"]]
        s += np.float32(p["newness"]) * news_c[p["newness_half_life_days"]]
        s *= factor
        s[invalid] = -np.inf
        return ndcg_at_k(s, rel_c, k, n_relevant)

    current = {key: getattr(cfg.blend, key) for key in GRID}
    for key, grid in GRID.items():
        if current[key] not in grid:
            current[key] = min(grid, key=lambda v, c=current[key]: abs(v - c))
    best = evaluate(current)
    for _ in range(2):
        changed = False
        for key, grid in GRID.items():
            for value in grid:
                if value == current[key]:
                    continue
                trial = dict(current, **{key: value})
                score = evaluate(trial)
                if score > best * (1.0 + min_gain):
                    best, current, changed = score, trial, True
        if not changed:
            break
    return dataclasses.replace(cfg.blend, **current)
