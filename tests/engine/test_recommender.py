"""Business rules, blend, cold start and fold-in on a hand-made shop."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from engine.config import CONFIGS, BlendWeights, EngineConfig
from engine.data import Events
from engine.recommender import Recommendation, Recommender
from tests.engine.helpers import catalog, events, shop_events

BASE = EngineConfig(
    name="test",
    cf="ease",
    ease_lambda=1.0,
    fit_blend=False,
    blend=BlendWeights(cf=1.0, content=0.4, popularity=0.1, newness=0.0),
)


def fitted(config: EngineConfig = BASE) -> Recommender:
    return Recommender(config).fit(catalog(), shop_events())


def ids(recs: list[Recommendation]) -> list[str]:
    return [r.product_id for r in recs]


def test_purchased_products_are_dropped() -> None:
    model = fitted()
    for user, bought in [("m0", {"A1", "A2", "A3", "G1"}), ("c1", {"B1", "B2", "B3"})]:
        got = ids(model.recommend(user, k=13))
        assert not bought & set(got)
        assert got
    assert set(model.recommend_batch(["m0"], k=13)[0]).isdisjoint({"A1", "A2", "A3", "G1"})


def test_exclusion_rule_purchased_vs_interacted() -> None:
    purchased = fitted(
        dataclasses.replace(BASE, exclude="purchased", max_per_category=None, exclude_cart=False)
    )
    interacted = fitted(dataclasses.replace(BASE, exclude="interacted", max_per_category=None))
    assert "A4" in ids(purchased.recommend("mix", k=13))
    assert "A2" in ids(purchased.recommend("mix", k=13))
    got = ids(interacted.recommend("mix", k=13))
    assert "A4" not in got and "A2" not in got and "A1" not in got
    assert "A4" not in purchased.recommend_batch(["mix"], k=13, exclude="interacted")[0]


def test_scores_are_normalised_top_one_and_descending() -> None:
    for user in ["m1", "c0", "b0", "mix", "nobody"]:
        recs = fitted().recommend(user, k=10)
        scores = [r.score for r in recs]
        assert scores[0] == pytest.approx(1.0)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        for r in recs:
            assert 0.0 <= r.collaborative_score <= 1.0 and 0.0 <= r.content_score <= 1.0
            assert r.reasons and all(0.0 <= x.weight <= 1.0 for x in r.reasons)
            assert sum(x.weight for x in r.reasons) <= 1.0 + 1e-6


def test_blend_weights_brief() -> None:
    config = dataclasses.replace(
        CONFIGS["brief"], category_boost=0.0, max_per_category=None, user_overlap_shrink=0.0
    )
    recs = Recommender(config).fit(catalog(), shop_events()).recommend("m1", k=6)
    raw = [0.4 * r.collaborative_score + 0.6 * r.content_score for r in recs]
    assert raw[0] > 0
    for r, value in zip(recs, raw, strict=True):
        assert r.score == pytest.approx(value / raw[0], abs=1e-5)
    assert {x.kind for x in recs[0].reasons} <= {"SIMILAR_CUSTOMERS", "CONTENT_MATCH"}


def test_category_boost_is_thirty_percent() -> None:
    plain = dataclasses.replace(BASE, category_boost=0.0, max_per_category=None)
    boosted = dataclasses.replace(BASE, category_boost=0.3, max_per_category=None)
    a = {r.product_id: r.score for r in fitted(plain).recommend("m1", k=13)}
    b = {r.product_id: r.score for r in fitted(boosted).recommend("m1", k=13)}
    mug, other = "A4", "G2"
    assert b[mug] / b[other] == pytest.approx(1.3 * a[mug] / a[other], rel=1e-6)
    assert b["C1"] / b[other] == pytest.approx(a["C1"] / a[other], rel=1e-6)
    reasons = {x.kind: x for x in fitted(boosted).recommend("m1", k=13)[0].reasons}
    assert reasons["PREFERRED_CATEGORY"].category == "Mugs"
    assert reasons["PREFERRED_CATEGORY"].weight == pytest.approx(0.3 / 1.3)


def test_category_cap_two_per_category_but_not_for_uncategorised() -> None:
    cfg = dataclasses.replace(
        BASE, blend=BlendWeights(cf=1.0, content=2.0, popularity=0.0, newness=0.0)
    )
    capped = fitted(cfg).recommend("g0", k=8)
    uncapped = fitted(dataclasses.replace(cfg, max_per_category=None)).recommend("g0", k=8)
    cats = dict(zip(catalog().product_ids.tolist(), catalog().categories.tolist(), strict=True))
    capped_counts: dict[str, int] = {}
    for r in capped:
        capped_counts[cats[r.product_id]] = capped_counts.get(cats[r.product_id], 0) + 1
    assert max(v for c, v in capped_counts.items() if c) <= 2
    assert max(sum(cats[r.product_id] == c for r in uncapped) for c in ("Mugs", "Candles")) > 2
    one = fitted(dataclasses.replace(cfg, max_per_category=1)).recommend("g0", k=8)
    assert sum(cats[r.product_id] == "Mugs" for r in one) == 1
    no_cat = fitted(cfg).recommend("m0", k=13)
    assert sum(cats[r.product_id] == "" for r in no_cat) == 2  # G2 and G3 (G1 bought) all kept


def test_cold_user_gets_trending() -> None:
    model = fitted()
    recs = model.recommend("nobody", k=5)
    assert ids(recs) == [p for p, _ in model.trending(5)][: len(recs)] or len(recs) == 5
    assert all([x.kind for x in r.reasons] == ["TRENDING"] for r in recs)
    assert not model.known_user("nobody") and model.known_user("m0")
    assert ids(model.recommend(None, k=3))[0] == model.trending(1)[0][0]


def test_trending_prefers_recent_events() -> None:
    rows = [(f"u{i}", "A1", "purchase", 1) for i in range(5)]
    rows += [(f"v{i}", "B1", "purchase", 28) for i in range(3)]
    model = Recommender(dataclasses.replace(BASE, max_per_category=None)).fit(
        catalog(), events(rows)
    )
    assert [p for p, _ in model.trending(2)] == ["B1", "A1"]
    assert model.trending(1, category="Mugs")[0][0] == "A1"
    assert model.trending(5, category="Bags") == []


def test_product_without_events_reachable_through_content() -> None:
    model = fitted()
    similar = dict(model.similar("N1", k=5))
    assert set(similar) >= {"A1", "A2", "A3"}
    assert "N1" in dict(model.similar("A1", k=5))
    content_first = dataclasses.replace(
        BASE, blend=BlendWeights(cf=0.2, content=1.0, popularity=0.0, newness=0.0)
    )
    recs = fitted(content_first).recommend("m0", k=3)
    assert "N1" in ids(recs)
    n1 = next(r for r in recs if r.product_id == "N1")
    assert n1.collaborative_score == 0.0 and n1.content_score > 0
    assert n1.reasons[0].kind in ("CONTENT_MATCH", "PREFERRED_CATEGORY")


def test_fold_in_purchase_disappears_at_once() -> None:
    model = fitted()
    before = ids(model.recommend("m1", k=5))
    top = before[0]
    extra = Events.from_records([("m1", top, "purchase", "2024-01-20T10:00:00")])
    after = ids(model.recommend("m1", k=5, extra_events=extra))
    assert top not in after and after
    viewed = Events.from_records([("m1", top, "view", "2024-01-20T10:00:00")])
    assert top in ids(model.recommend("m1", k=5, extra_events=viewed))


def test_fold_in_cart_adds_shift_towards_similar_products() -> None:
    model = fitted()
    before = ids(model.recommend("c0", k=3))
    assert "C2" not in before[:1]
    carts = Events.from_records(
        [
            ("c0", "C1", "cart_add", "2024-01-20T10:00:00"),
            ("c0", "C1", "cart_add", "2024-01-20T10:05:00"),
        ]
    )
    after = model.recommend("c0", k=3, extra_events=carts)
    assert ids(after)[0] == "C2"
    assert after[0].reasons[0].product_ids[0] == "C1"
    assert after[0].reasons[0].anchors[0].event == "cart_add"


def test_fold_in_unknown_user_and_unknown_products() -> None:
    model = fitted()
    extra = Events.from_records(
        [
            ("newbie", "B1", "purchase", "2024-01-20T10:00:00"),
            ("newbie", "ZZZ", "purchase", "2024-01-20T10:00:00"),
        ]
    )
    recs = model.recommend("newbie", k=3, extra_events=extra)
    assert "B1" not in ids(recs) and "ZZZ" not in ids(recs)
    assert ids(recs)[0] in ("B2", "B3")
    assert recs[0].reasons[0].kind != "TRENDING"
    only_unknown = Events.from_records([("m1", "ZZZ", "cart_add", "2024-01-20T10:00:00")])
    assert ids(model.recommend("m1", k=5, extra_events=only_unknown)) == ids(
        model.recommend("m1", k=5)
    )


def test_batch_matches_single_on_hand_shop() -> None:
    for config in (BASE, CONFIGS["brief"], CONFIGS["popularity"]):
        model = fitted(dataclasses.replace(config, fit_blend=False))
        users = ["m0", "m3", "c2", "b1", "g0", "mix", "nobody"]
        batch = model.recommend_batch(users, k=6)
        assert batch == [ids(model.recommend(u, k=6)) for u in users]


def test_category_filter_and_reason_details() -> None:
    model = fitted()
    recs = model.recommend("m1", k=5, category="Candles")
    assert recs and all(r.product_id.startswith("B") for r in recs)
    top = model.recommend("m1", k=1)[0]
    sim = next(x for x in top.reasons if x.kind == "SIMILAR_TO_PURCHASED")
    assert (
        sim.product_ids and set(sim.product_ids) <= {"A1", "A2", "G1"} and len(sim.product_ids) <= 3
    )
    names = model.names(sim.product_ids)
    assert all("CERAMIC MUG" in name or "GIFT CARD" in name for name in names)


def test_fit_is_deterministic_and_info() -> None:
    a, b = fitted(CONFIGS["default"]), fitted(CONFIGS["default"])
    users = ["m0", "c2", "mix", "nobody"]
    assert a.recommend_batch(users) == b.recommend_batch(users)
    info = a.info
    assert (info.users, info.products, info.events, info.config) == (18, 13, 53, "default")
    assert info.train_seconds >= 0
    assert np.isfinite(info.train_seconds)


def test_recency_window_ignores_old_events() -> None:
    rows = [(f"u{i}", "A1", "purchase", 1) for i in range(5)]
    rows += [(f"v{i}", "B1", "purchase", 28) for i in range(3)]
    windowed = dataclasses.replace(BASE, recency_window_days=10.0, max_idle_days=None)
    model = Recommender(windowed).fit(catalog(), events(rows))
    assert [p for p, _ in model.trending(3)] == ["B1"]
    assert not model.known_user("u0") and model.known_user("v0")


def test_recency_window_counts_shop_time_not_idle_time() -> None:
    """26 idle days between the two groups count as max_idle_days (7): both stay in a 10-day
    window, as an imported history stays the recent past of the first live events."""
    rows = [(f"u{i}", "A1", "purchase", 1) for i in range(5)]
    rows += [(f"v{i}", "B1", "purchase", 28) for i in range(3)]
    windowed = dataclasses.replace(BASE, recency_window_days=10.0, max_idle_days=7.0)
    model = Recommender(windowed).fit(catalog(), events(rows))
    assert sorted(p for p, _ in model.trending(3)) == ["A1", "B1"]
    assert model.known_user("u0") and model.known_user("v0")


def test_concurrent_reads_agree() -> None:
    model = fitted(CONFIGS["default"])
    users = ["m0", "m1", "c0", "c3", "b2", "g0", "mix", "nobody"] * 8
    expected = [ids(model.recommend(u)) for u in users]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda u: ids(model.recommend(u)), users))
    assert got == expected


def test_reason_evidence_counts_each_product_under_its_own_event() -> None:
    """A customer who bought three mugs and only viewed three candles: the anchors of each
    reason carry their own event type, and the counts split bought from viewed."""
    rows = [(f"m{i}", p, "purchase", 1 + i) for i in range(6) for p in ("A1", "A2", "A3", "A4")]
    rows += [(f"c{i}", p, "purchase", 1 + i) for i in range(6) for p in ("B1", "B2", "B3")]
    rows += [(f"x{i}", p, "purchase", 2) for i in range(3) for p in ("A1", "N1", "B1")]
    rows += [("u", "A1", "purchase", 20), ("u", "A2", "purchase", 20), ("u", "A3", "purchase", 20)]
    rows += [("u", "B1", "view", 21), ("u", "B2", "view", 21), ("u", "B3", "view", 21)]
    config = dataclasses.replace(CONFIGS["default"], fit_blend=False, max_per_category=None)
    model = Recommender(config).fit(catalog(), events(rows))
    recs = model.recommend("u", k=3)
    seen = {"A1": "purchase", "A2": "purchase", "A3": "purchase"}
    seen |= {"B1": "view", "B2": "view", "B3": "view"}
    checked = 0
    for rec in recs:
        for reason in rec.reasons:
            for anchor in reason.anchors:
                assert anchor.event == seen[anchor.product_id]
                checked += 1
            counts = dict(reason.anchor_counts)
            assert sum(counts.values()) >= len(reason.anchors)
            assert counts.get("purchase", 0) <= 3 and counts.get("view", 0) <= 3
            assert set(counts) <= {"purchase", "view"}
    assert checked > 0
