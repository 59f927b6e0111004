"""The learned second stage: it learns a planted signal, never reads past the training period,
round-trips through artifacts with the same lists, and the business rules still apply."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
import scipy.sparse as sp

from engine import artifacts
from engine.config import CONFIGS, EngineConfig
from engine.data import Catalog, Events
from engine.features import FEATURES, co_purchase_counts
from engine.metrics import ndcg_at_k
from engine.ranking import (
    TreeEnsemble,
    _train_lambdarank,
    _Window,
    _windows,
    fit_ranker,
    window_split,
)
from engine.recommender import Recommender, shared_fit
from engine.training import build_state, prepare_events

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from synthetic import generate

RANKED = dataclasses.replace(
    CONFIGS["ranked"],
    validation_min_users=20,
    ranker_candidates=60,
    ranker_rounds=15,
    ranker_window_days=21.0,
)


@pytest.fixture(scope="module")
def shop() -> tuple[Catalog, Events]:
    return generate(users=900, products=300, events=30_000, categories=8, seed=5)


@pytest.fixture(scope="module")
def ranked(shop: tuple[Catalog, Events]) -> Recommender:
    cat, ev = shop
    return Recommender(RANKED).fit(cat, ev)


def _planted(groups: int, c: int, seed: int) -> _Window:
    """Candidates whose label is 1 exactly when feature 'price_vs_usual' < -1; the blend score
    is noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(groups * c, len(FEATURES))).astype(np.float32)
    labels = (x[:, FEATURES.index("price_vs_usual")] < -1.0).reshape(groups, c)
    blend = rng.random((groups, c)).astype(np.float32)
    return _Window(
        x=x,
        y=labels.ravel().astype(np.float32),
        blend=blend,
        labels=labels,
        n_relevant=labels.sum(1),
        pop_long=np.zeros((groups, c), np.float32),
    )


def test_ranker_learns_a_planted_signal() -> None:
    train, test = _planted(200, 40, 0), _planted(100, 40, 1)
    cfg = dataclasses.replace(RANKED, ranker_rounds=20)
    trees = _train_lambdarank([train], np.ones(len(FEATURES), bool), 0.0, cfg)
    scores = trees.predict(test.x).reshape(test.labels.shape)
    learned = ndcg_at_k(scores, test.labels, 10, test.n_relevant)
    blend = ndcg_at_k(test.blend, test.labels, 10, test.n_relevant)
    assert learned > 0.95 > 0.5 > blend


def test_tree_arrays_predict_as_lightgbm_with_missing_values() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3000, 5))
    x[rng.random(x.shape) < 0.2] = np.nan
    y = (np.nan_to_num(x[:, 0]) + np.where(np.isnan(x[:, 1]), 1.0, x[:, 1]) > 0.5).astype(float)
    booster = lgb.train(
        {"objective": "lambdarank", "num_leaves": 7, "verbosity": -1, "num_threads": 1},
        lgb.Dataset(x, y, group=np.full(100, 30)),
        num_boost_round=10,
    )
    trees = TreeEnsemble.from_lightgbm(booster.dump_model())
    assert np.allclose(trees.predict(x), booster.predict(x), atol=1e-9)


def test_labels_come_only_from_the_window_before_the_cutoff(
    shop: tuple[Catalog, Events],
) -> None:
    cat, ev = shop
    cutoff = np.datetime64("2023-11-01T00:00:00")
    index = {p: i for i, p in enumerate(cat.product_ids.tolist())}
    state = build_state(RANKED, cat, prepare_events(ev, index, cutoff, None), cutoff, index)
    split = window_split(state, 21.0)
    assert split is not None
    (sub, _, _), rel, _ = split
    start = cutoff - np.timedelta64(21 * 86400, "s")
    assert sub.now == start
    late = (ev.timestamps >= start) & (ev.timestamps < cutoff)
    pairs = set(zip(ev.user_ids[late].tolist(), ev.product_ids[late].tolist(), strict=True))
    rows, cols = rel.nonzero()
    assert len(rows) and all(
        (str(sub.user_ids[r]), str(cat.product_ids[c])) in pairs
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
    )
    early = ev.select(ev.timestamps < start)
    assert sub.strengths.nnz == len(
        set(zip(early.user_ids.tolist(), early.product_ids.tolist(), strict=True))
    )


@pytest.mark.parametrize(("budget", "expected"), [(10**6, 3), (1, 2)])
def test_a_small_shop_learns_from_more_windows(
    shop: tuple[Catalog, Events], budget: int, expected: int
) -> None:
    """Windows go back in time until ranker_train_users customers are held (at least two,
    at most ranker_windows), each one the window before the previous one."""
    cat, ev = shop
    cutoff = np.datetime64("2023-11-01T00:00:00")
    index = {p: i for i, p in enumerate(cat.product_ids.tolist())}
    cfg = dataclasses.replace(RANKED, ranker_windows=3, ranker_train_users=budget)
    state = build_state(cfg, cat, prepare_events(ev, index, cutoff, None), cutoff, index)
    windows = _windows(state, None, cfg.blend, np.random.default_rng(0))
    assert len(windows) == expected
    split = window_split(state, 21.0)
    assert split is not None
    assert len(windows[0].n_relevant) == min(len(split[2]), cfg.ranker_max_users)
    _, report = fit_ranker(state, None, cfg.blend)
    assert len(report["window_customers"]) == expected


def test_events_after_the_cutoff_change_nothing(shop: tuple[Catalog, Events]) -> None:
    cat, ev = shop
    cutoff = np.datetime64("2023-11-01T00:00:00")
    before = Recommender(RANKED).fit(cat, ev.select(ev.timestamps < cutoff), now=cutoff)
    everything = Recommender(RANKED).fit(cat, ev, now=cutoff)
    assert before.ranker is not None and everything.ranker is not None
    for name in ("feature", "threshold", "value"):
        assert np.array_equal(
            getattr(before.ranker.trees, name), getattr(everything.ranker.trees, name)
        )
    users = np.unique(ev.user_ids)[:50].tolist()
    assert before.recommend_batch(users) == everything.recommend_batch(users)


def test_ranker_serves_and_batch_equals_single(
    ranked: Recommender, shop: tuple[Catalog, Events]
) -> None:
    info = ranked.info
    assert info.stage == "ranker" and ranked.ranker is not None
    assert info.ranker_bytes > 0 and 0 < info.ranker_seconds <= info.train_seconds
    users = [*np.unique(shop[1].user_ids)[:40].tolist(), "stranger"]
    single = [[r.product_id for r in ranked.recommend(u, k=10)] for u in users]
    assert ranked.recommend_batch(users, k=10) == single
    blend = Recommender(dataclasses.replace(RANKED, ranker=False)).fit(*shop)
    assert blend.info.stage == "blend"
    assert blend.recommend_batch(users, k=10) != single


def test_rules_apply_after_ranking(ranked: Recommender, shop: tuple[Catalog, Events]) -> None:
    cat, ev = shop
    categories = dict(zip(cat.product_ids.tolist(), cat.categories.tolist(), strict=True))
    for user in np.unique(ev.user_ids)[:40].tolist():
        recs = ranked.recommend(user, k=10)
        bought = set(ev.product_ids[(ev.user_ids == user) & (ev.types == "purchase")].tolist())
        assert len(recs) == 10 and not bought & {r.product_id for r in recs}
        per: dict[str, int] = {}
        for r in recs:
            per[categories[r.product_id]] = per.get(categories[r.product_id], 0) + 1
        assert max((v for c, v in per.items() if c), default=0) <= 2
        scores = [r.score for r in recs]
        assert scores[0] == 1.0 and scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        cat_name = categories[recs[0].product_id]
        only = ranked.recommend(user, k=5, category=cat_name)
        assert only and {categories[r.product_id] for r in only} == {cat_name}
    user = str(ev.user_ids[0])
    top = ranked.recommend(user, k=1)[0].product_id
    extra = Events.from_records([(user, top, "purchase", "2024-12-31T00:00:00")])
    assert top not in {r.product_id for r in ranked.recommend(user, k=10, extra_events=extra)}


def test_artifact_round_trip_keeps_the_ranker(
    ranked: Recommender, shop: tuple[Catalog, Events], tmp_path: Path
) -> None:
    artifacts.save(ranked, tmp_path / "v1")
    loaded = artifacts.load(tmp_path / "v1").recommender
    assert loaded.ranker is not None and loaded.info == ranked.info
    users = [*np.unique(shop[1].user_ids)[:40].tolist(), "stranger"]
    assert loaded.recommend_batch(users) == ranked.recommend_batch(users)
    for user in users[:10]:
        assert loaded.recommend(user, 10) == ranked.recommend(user, 10)
    names = {p.name for p in (tmp_path / "v1").iterdir()}
    assert all(n.endswith(".npy") or n == "manifest.json" for n in names)


def test_ranker_that_loses_is_switched_off(shop: tuple[Catalog, Events]) -> None:
    cfg: EngineConfig = dataclasses.replace(RANKED, ranker_must_win=True, ranker_rounds=1)
    model = Recommender(cfg).fit(*shop)
    info = model.info
    won = info.validation_ndcg_ranker > info.validation_ndcg_blend
    assert (model.ranker is not None) == won
    assert info.stage == ("ranker" if won else "blend")


def test_staged_models_recommend_as_their_own_fits(
    ranked: Recommender, shop: tuple[Catalog, Events]
) -> None:
    """evaluate fits default, default-blend and ranked once (shared_fit) and serves each stage
    (Recommender.staged): the lists must be those of each config's own fit."""
    must_win = dataclasses.replace(RANKED, name="must-win", ranker_must_win=True)
    blend = dataclasses.replace(RANKED, name="blend", ranker=False)
    shared = Recommender(shared_fit([must_win, blend, RANKED])).fit(*shop)
    users = [*np.unique(shop[1].user_ids)[:40].tolist(), "stranger"]
    for config in (must_win, blend, RANKED):
        own = Recommender(config).fit(*shop)
        staged = shared.staged(config)
        assert staged.info.stage == own.info.stage and staged.info.config == config.name
        assert staged.recommend_batch(users, k=10) == own.recommend_batch(users, k=10)
    with pytest.raises(ValueError, match="its own fit"):
        shared.staged(dataclasses.replace(RANKED, ranker_rounds=3))
    with pytest.raises(ValueError, match="shared_fit"):
        Recommender(blend).fit(*shop).staged(RANKED)


def test_co_purchase_counts_equal_the_co_occurrence_product(ranked: Recommender) -> None:
    facts = ranked.ranker.facts if ranked.ranker is not None else None
    assert facts is not None
    m = facts.users_items.shape[1]
    rng = np.random.default_rng(3)
    degree = np.diff(facts.items_users.indptr)
    rare = np.flatnonzero(degree == degree[degree > 0].min())[:5]
    small = sp.csr_matrix(
        (np.ones(len(rare), np.float32), (np.arange(len(rare)), rare)), shape=(len(rare), m)
    )
    popular = np.argsort(-np.diff(facts.items_users.indptr))[:40]
    large = sp.csr_matrix(
        (np.ones(3 * 40, np.float32), (np.repeat([0, 1, 2], 40), np.tile(popular, 3))), shape=(3, m)
    )
    for basket in (small, large):  # the cheaper way is through the products, then candidates
        cols = np.stack([rng.choice(m, 30, replace=False) for _ in range(basket.shape[0])])
        full = ((basket @ facts.items_users) @ facts.users_items).toarray()
        assert np.array_equal(
            co_purchase_counts(basket, facts, cols), np.take_along_axis(full, cols, 1)
        )
