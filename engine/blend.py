"""Fit the blend weights on a validation split of the training period: the last
`validation_days` (at most a quarter of the history).

A sub-model is trained on the events before the split; customers with novel products in the
validation window are scored exactly as in the offline protocol, and the weights are chosen by
coordinate ascent on NDCG@10 over small grids, keeping the configured defaults unless a change
improves validation NDCG by more than `min_gain` (relative). For models that tune a neighbour
popularity exponent, one ascent is run per exponent (EXPONENTS) and the best validation NDCG wins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.config import BlendWeights
from engine.metrics import ndcg_at_k
from engine.models import Profiles, ScoringModel, fit_model
from engine.models.trend import newness
from engine.scoring import Scorer, ShopEvidence, shop_evidence
from engine.training import TrainingState, build_state, profile_matrix

EXPONENTS: tuple[float, ...] = (0.0, 0.3, 0.6)
GRID: dict[str, tuple[float, ...]] = {
    "content": (0.0, 0.15, 0.3, 0.5, 0.8, 1.2),
    "popularity": (0.0, 0.2, 0.4, 0.8, 1.2, 2.0),
    "popularity_half_life_days": (3.0, 7.0, 14.0, 30.0, 60.0),
    "newness": (0.0, 0.2, 0.4, 0.8, 1.2),
    "newness_half_life_days": (30.0, 60.0, 120.0, 240.0),
}


def fit_blend(
    state: TrainingState,
    content: ScoringModel | None,
    min_gain: float = 0.002,
    k: int = 10,
    pool: int = 200,
    before: tuple[TrainingState, ScoringModel | None, ShopEvidence] | None = None,
) -> BlendWeights | None:
    """Blend weights tuned on the validation window, or None when there is too little data.

    content: the fitted content model (it depends on the catalog only, so it is shared);
    before: the sub-state before the window, its collaborative model and its shop evidence
    when already computed
    (the ranker's, engine/ranking.before_window); used when its split time is this one's.
    """
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
    if before is not None and before[0].now == split_now:
        sub, sub_cf, shop = before
    else:
        sub_cfg = dataclasses.replace(cfg, fit_blend=False)
        sub = build_state(sub_cfg, state.catalog, early, split_now, state.product_index)
        sub_cf = fit_model(sub_cfg.cf, sub, sub_cfg)
        shop = shop_evidence(sub)
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
    if len(users) > cfg.validation_max_users:
        rng = np.random.default_rng(cfg.seed)
        users = np.sort(rng.choice(users, cfg.validation_max_users, replace=False))
    tunes = sub_cf is not None and sub_cf.tunes_popularity_exponent
    exponents = EXPONENTS if tunes else (cfg.blend.cf_popularity_exponent,)
    supported = shop.supported
    pops = {h: shop.counted.popularity(h, m, supported) for h in GRID["popularity_half_life_days"]}
    news = {h: newness(sub.first_seen_age, h) * supported for h in GRID["newness_half_life_days"]}
    shared = np.unique(
        np.concatenate(
            [
                np.argpartition(-v, min(pool // 2, m) - 1)[: min(pool // 2, m)]
                for v in [*pops.values(), *news.values()]
            ]
        )
    )
    probe = Scorer(
        sub, sub_cf, content, BlendWeights(cf=0.0, content=1.0, popularity=0.0, newness=0.0), shop
    )
    blank = BlendWeights(cf=1.0, content=0.0, popularity=0.0, newness=0.0)
    scorers = {
        x: Scorer(sub, sub_cf, content, dataclasses.replace(blank, cf_popularity_exponent=x), shop)
        for x in exponents
    }
    size = int(np.clip(5_000_000 // max(m, 1), 16, 1000))
    parts = [
        _pooled_features(probe, scorers, rel, users[i : i + size], shared, min(pool, m))
        for i in range(0, len(users), size)
    ]
    cols = np.concatenate([p.cols for p in parts])
    invalid = np.concatenate([p.invalid for p in parts])
    rel_c = np.concatenate([p.relevant for p in parts])
    n_relevant = np.concatenate([p.n_relevant for p in parts])
    cf_c = {x: np.concatenate([p.cf[x] for p in parts]) for x in exponents}
    ct_c = np.concatenate([p.content for p in parts])
    factor = np.concatenate([p.factor for p in parts])
    pops_c = {h: v[cols].astype(np.float32) for h, v in pops.items()}
    news_c = {h: v[cols].astype(np.float32) for h, v in news.items()}

    def evaluate(p: dict[str, Any]) -> float:
        s = cf_c[p["cf_popularity_exponent"]] * np.float32(cfg.blend.cf)
        s += np.float32(p["content"]) * ct_c
        s += np.float32(p["popularity"]) * pops_c[p["popularity_half_life_days"]]
        s += np.float32(p["newness"]) * news_c[p["newness_half_life_days"]]
        s *= factor
        s[invalid] = -np.inf
        return ndcg_at_k(s, rel_c, k, n_relevant)

    start = {key: getattr(cfg.blend, key) for key in GRID}
    for key, values in GRID.items():
        if start[key] not in values:
            start[key] = min(values, key=lambda v, c=start[key]: abs(v - c))
    results = [
        _ascend(evaluate, dict(start, cf_popularity_exponent=x), min_gain) for x in exponents
    ]
    chosen = max(results, key=lambda r: r[0])[1]
    return dataclasses.replace(cfg.blend, **chosen)


def _ascend(
    evaluate: Callable[[dict[str, Any]], float], current: dict[str, Any], min_gain: float
) -> tuple[float, dict[str, Any]]:
    """Coordinate ascent over GRID from `current`; a move must gain > min_gain (relative)."""
    best = evaluate(current)
    for _ in range(2):
        changed = False
        for key, values in GRID.items():
            for value in values:
                if value == current[key]:
                    continue
                trial = dict(current, **{key: value})
                score = evaluate(trial)
                if score > best * (1.0 + min_gain):
                    best, current, changed = score, trial, True
        if not changed:
            break
    return best, current


@dataclass(frozen=True)
class _Pooled:
    """Validation features restricted to each user's candidate pool: every array (b x c)."""

    cols: np.ndarray
    invalid: np.ndarray
    relevant: np.ndarray
    n_relevant: np.ndarray
    cf: dict[float, np.ndarray]
    content: np.ndarray
    factor: np.ndarray


def _pooled_features(
    probe: Scorer,
    scorers: dict[float, Scorer],
    rel: sp.csr_matrix,
    users: np.ndarray,
    shared: np.ndarray,
    n: int,
) -> _Pooled:
    """CF (one per scorer) / content (probe) scores, exclusions, relevance and category boost of
    `users` on their pool: top-n of every per-user score plus the `shared` global candidates."""
    sub = probe.state
    cfg = sub.config
    strengths = sub.strengths[users]
    batch = Profiles(profile_matrix(strengths), strengths, users)
    relevant = rel[users].toarray() > 0
    excluded = strengths.toarray() > 0
    ct = probe.components(batch)[1]
    cfs = {x: sc.components(batch)[0] for x, sc in scorers.items()}
    per_user = [np.where(excluded, -np.inf, x) for x in [*cfs.values(), ct]]
    cols = np.concatenate(
        [
            *(np.argpartition(-x, n - 1, axis=1)[:, :n] for x in per_user),
            np.broadcast_to(shared, (len(users), len(shared))),
        ],
        axis=1,
    )
    cols = np.sort(cols, axis=1).astype(np.int32)
    invalid = np.zeros(cols.shape, dtype=bool)
    invalid[:, 1:] = cols[:, 1:] == cols[:, :-1]
    invalid |= np.take_along_axis(excluded, cols, 1)
    factor = np.ones(cols.shape, dtype=np.float32)
    if cfg.category_boost and len(sub.category_names):
        pref = probe.preferred(strengths)
        codes = sub.category_codes[cols]
        factor += np.float32(cfg.category_boost) * (
            (codes >= 0) & np.take_along_axis(pref, np.maximum(codes, 0), 1)
        )
    return _Pooled(
        cols=cols,
        invalid=invalid,
        relevant=np.take_along_axis(relevant, cols, 1) & ~invalid,
        n_relevant=relevant.sum(1),
        cf={x: np.take_along_axis(cf, cols, 1) for x, cf in cfs.items()},
        content=np.take_along_axis(ct, cols, 1).astype(np.float32),
        factor=factor,
    )
