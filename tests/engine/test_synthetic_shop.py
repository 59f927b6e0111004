"""Mixed event types and categories (synthetic shop): kNN path, fold-in, batch == single."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.config import CONFIGS
from engine.data import Catalog, Events
from engine.evaluate import evaluate
from engine.recommender import Recommender

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from synthetic import generate

CUTOFF = np.datetime64("2023-11-01")


@pytest.fixture(scope="module")
def shop() -> tuple[Catalog, Events]:
    return generate(users=3000, products=1500, events=60_000, categories=12, seed=3)


def test_generator_is_seeded_and_realistic(shop: tuple[Catalog, Events]) -> None:
    cat, ev = shop
    again = generate(users=3000, products=1500, events=60_000, categories=12, seed=3)[1]
    assert np.array_equal(ev.product_ids, again.product_ids)
    assert set(np.unique(ev.types)) == {"view", "click", "cart_add", "purchase"}
    counts = np.unique(ev.product_ids, return_counts=True)[1]
    assert counts.max() > 20 * np.median(counts)
    assert np.all(np.diff(ev.timestamps.astype(np.int64)) >= 0)
    assert len(np.unique(cat.categories[cat.categories != ""])) == 12


@pytest.mark.parametrize("kind", ["item_knn", "ease"])
def test_batch_equals_single_with_categories(shop: tuple[Catalog, Events], kind: str) -> None:
    cat, ev = shop
    train = ev.select(ev.timestamps < CUTOFF)
    model = Recommender(dataclasses.replace(CONFIGS["default"], cf=kind)).fit(cat, train)
    users = [*np.unique(train.user_ids)[:120].tolist(), "stranger"]
    batch = model.recommend_batch(users, k=10)
    assert batch == [[r.product_id for r in model.recommend(u, k=10)] for u in users]
    categories = dict(zip(cat.product_ids.tolist(), cat.categories.tolist(), strict=True))
    for ranked in batch:
        per: dict[str, int] = {}
        for p in ranked:
            per[categories[p]] = per.get(categories[p], 0) + 1
        assert max((v for c, v in per.items() if c), default=0) <= 2
        assert len(ranked) == 10


def test_viewed_products_stay_candidates_but_purchases_do_not(shop: tuple[Catalog, Events]) -> None:
    cat, ev = shop
    model = Recommender(CONFIGS["default"]).fit(cat, ev)
    user = ev.user_ids[0]
    bought = set(ev.product_ids[(ev.user_ids == user) & (ev.types == "purchase")].tolist())
    got = {r.product_id for r in model.recommend(user, k=50)}
    assert not got & bought
    top = model.recommend(user, k=1)[0].product_id
    viewed = Events.from_records([(user, top, "view", "2024-01-02T00:00:00")])
    assert top in [r.product_id for r in model.recommend(user, k=3, extra_events=viewed)]
    bought_now = Events.from_records([(user, top, "purchase", "2024-01-02T00:00:00")])
    assert top not in [r.product_id for r in model.recommend(user, k=50, extra_events=bought_now)]


def test_default_beats_popularity_on_mixed_events(shop: tuple[Catalog, Events]) -> None:
    cat, ev = shop
    configs = {name: CONFIGS[name] for name in ("default", "popularity")}
    out = evaluate(cat, ev, CUTOFF, configs=configs, progress=None)
    assert out["eval_users"] > 500
    assert out["models"]["default"]["ndcg"] > out["models"]["popularity"]["ndcg"]
