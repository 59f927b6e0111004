"""Trending with evidence (distinct customers, a long-term prior, the shop clock) and the
open-cart rule, on hand-made shops."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from engine.config import CONFIGS, BlendWeights, EngineConfig
from engine.data import Catalog, Events
from engine.models.trend import CustomerEvidence, activity_anchor, trending_rate
from engine.recommender import Recommender
from engine.rules import open_cart
from engine.training import shop_clock_ages
from tests.engine.helpers import catalog, events, shop_events

CONFIG = EngineConfig(
    name="test",
    cf="ease",
    ease_lambda=1.0,
    fit_blend=False,
    blend=BlendWeights(cf=1.0, content=0.4, popularity=0.3, newness=0.3),
)


def shop(products: int = 40) -> Catalog:
    """P00..P39 in ten categories."""
    return catalog([(f"P{i:02d}", f"PRODUCT {i}", f"Cat{i % 10}") for i in range(products)])


def history() -> list[tuple[str, str, str, str]]:
    """Two years ago, customer h<c> shopping on day c + 1 of twelve: P00..P09 bought by 12..3
    customers each (P00 the bestseller), no product by three customers on one day."""
    rows = []
    for i in range(10):
        for c in range(12 - i):
            rows.append((f"h{c}", f"P{i:02d}", "purchase", f"2024-03-{c + 1:02d}T10:00:00"))
    return rows


def with_rows(base: list[tuple[str, str, str, str]], *more: tuple[str, str, str, str]) -> Events:
    return Events.from_records([*base, *more])


def trending(model: Recommender, k: int = 10) -> list[str]:
    return [p for p, _ in model.trending(k)]


def test_shop_clock_counts_long_idle_gaps_as_the_cap() -> None:
    ages = np.array([0.0, 0.5, 100.0, 101.0, 0.5])
    assert shop_clock_ages(ages, 7.0).tolist() == pytest.approx([0.0, 0.5, 7.5, 8.5, 0.5])
    assert shop_clock_ages(ages, None) is ages
    assert shop_clock_ages(np.array([3.0]), 1.0).tolist() == [1.0]  # the gap to now, too


def test_each_customer_counts_once_per_product_per_window() -> None:
    customers = np.array([0, 0, 0, 0, 1])
    items = np.array([5, 5, 5, 5, 5])
    weights = np.array([0.2, 0.4, 1.0, 0.2, 0.2])
    ages = np.array([0.1, 0.2, 0.3, 1.5, 0.9])
    ev = CustomerEvidence.count(customers, items, weights, ages, window_days=1.0)
    assert len(ev.items) == 3  # customer 0 in window 0 and 1, customer 1 in window 0
    assert ev.decayed_sum(None, 6)[5] == pytest.approx(1.0 + 0.2 + 0.2)
    assert ev.customers_per_product(6)[5] == 2
    assert ev.customers_per_product(6, max_age_days=1.0)[5] == 2
    assert ev.customers_per_product(6, max_age_days=0.5)[5] == 1


def test_two_customers_clicking_a_lot_do_not_trend_but_three_buyers_today_do() -> None:
    m = 4
    # product 0: a steady seller, one customer a day for 30 days; product 1: two customers
    # clicking 20 times each today; product 2: three different buyers today.
    customers = [*range(30), *[100] * 20, *[101] * 20, 200, 201, 202]
    items = [0] * 30 + [1] * 40 + [2] * 3
    weights = [1.0] * 30 + [0.4] * 40 + [1.0] * 3
    ages = [float(d) + 0.5 for d in range(30)] + [0.01] * 40 + [0.2] * 3
    ev = CustomerEvidence.count(
        np.array(customers), np.array(items), np.array(weights), np.array(ages), 1.0
    )
    rate = trending_rate(ev, m, min_customers=3, prior_half_life_days=14.0, support_days=56.0)
    assert rate[1] == 0.0 and rate[3] == 0.0  # no evidence: not trending at all
    assert rate[2] > rate[0] > 0  # three buyers today beat one a day
    lenient = trending_rate(ev, m, min_customers=2, prior_half_life_days=14.0, support_days=56.0)
    assert lenient[1] > 0  # the minimum is a setting


def test_clicks_without_evidence_do_not_move_the_activity_anchor() -> None:
    # product 7: three customers within a day, 5 days ago; product 9: two customers now
    customers = np.array([0, 1, 2, 3, 4, 3])
    items = np.array([7, 7, 7, 9, 9, 9])
    ages = np.array([5.1, 5.2, 5.3, 0.0, 0.1, 0.2])
    assert activity_anchor(customers, items, ages, 3, 1.0) == 5.1  # product 7's newest
    assert activity_anchor(customers, items, ages, 2, 1.0) == 0.0  # product 9 counts
    assert activity_anchor(customers, items, ages, 4, 1.0) == 0.0  # none has four: now
    spread = np.array([5.0, 6.5, 8.0, 0.0, 0.1, 0.2])  # product 7's customers days apart
    assert activity_anchor(customers, items, spread, 3, 1.0) == 0.0


def test_a_handful_of_clicks_does_not_change_trending_or_cold_start_lists() -> None:
    base = history()
    before = Recommender(CONFIG).fit(shop(), with_rows(base))
    # Two years later two test customers view and click ten obscure products for a minute.
    clicks = [
        (f"tester{c}", f"P{20 + i:02d}", kind, f"2026-06-01T12:00:{c * 20 + i:02d}")
        for c in range(2)
        for i in range(10)
        for kind in ("view", "click")
    ]
    after = Recommender(CONFIG).fit(shop(), with_rows(base, *clicks))
    assert trending(before) == trending(after)
    assert not {f"P{20 + i:02d}" for i in range(10)} & set(trending(after, 40))
    newcomer = [r.product_id for r in after.recommend("someone-new", k=10)]
    assert newcomer == trending(after)
    # every product of the cold-start list trends for a reason: enough customers
    assert set(trending(after)) <= {f"P{i:02d}" for i in range(10)}


def test_a_product_bought_by_many_customers_today_moves_up() -> None:
    base = history()
    before = Recommender(CONFIG).fit(shop(), with_rows(base))
    assert "P30" not in trending(before, 40)
    buys = [(f"new{c}", "P30", "purchase", f"2026-06-01T{9 + c // 2:02d}:00:00") for c in range(6)]
    after = Recommender(CONFIG).fit(shop(), with_rows(base, *buys))
    assert trending(after)[0] == "P30"
    assert trending(after)[1:] == [p for p in trending(before) if p != "P30"][:9]


def test_an_imported_history_stays_the_prior_of_the_first_live_events() -> None:
    """The demo defect: a live event years after the history made all history ~decayed to 0
    (relative to the newest event) and the model collapsed onto the live events."""
    base = history()
    live = ("visitor", "P39", "view", "2039-01-01T00:00:00")
    before = Recommender(CONFIG).fit(shop(), with_rows(base))
    after = Recommender(CONFIG).fit(shop(), with_rows(base, live))
    assert trending(after) == trending(before)[: len(trending(after))]
    assert trending(after)[0] == "P00"
    pop = after.scorer.pop
    assert pop.argmax() == 0 and pop[39] == 0.0  # one view is no popularity either
    wall = Recommender(dataclasses.replace(CONFIG, max_idle_days=None)).fit(
        shop(), with_rows(base, live)
    )
    assert wall.scorer.pop.max() < 1e-3 or wall.scorer.pop.argmax() != 0  # the old collapse


def test_a_product_in_the_open_cart_is_not_a_pick_until_configured_otherwise() -> None:
    model = Recommender(CONFIG).fit(catalog(), shop_events())
    plain = [r.product_id for r in model.recommend("m1", k=5)]
    pick = plain[0]
    cart = Events.from_records([("m1", pick, "cart_add", "2024-01-20T12:00:00")])
    carted = [r.product_id for r in model.recommend("m1", k=5, extra_events=cart)]
    assert pick not in carted and len(carted) == 5
    keep = Recommender(dataclasses.replace(CONFIG, exclude_cart=False)).fit(
        catalog(), shop_events()
    )
    assert pick in [r.product_id for r in keep.recommend("m1", k=5, extra_events=cart)]
    # "mix" added A2 to the cart at training time: out of single and batch lists
    assert "A2" not in [r.product_id for r in model.recommend("mix", k=13)]
    assert "A2" not in model.recommend_batch(["mix"], k=13)[0]
    assert "A2" in keep.recommend_batch(["mix"], k=13)[0]


def test_open_cart_is_the_products_added_and_never_bought() -> None:
    kinds = sp.csr_matrix(np.array([[1.0, 3.0, 4.0, 0.0], [3.0, 2.0, 0.0, 3.0]]))
    assert open_cart(kinds).toarray().tolist() == [[0, 1, 0, 0], [1, 0, 0, 1]]


def test_default_config_gates_the_blend_trend_parts_by_customers() -> None:
    rows = [(f"u{i}", "A1", "purchase", 1 + i) for i in range(4)]
    rows += [("solo", "N1", p, 20) for p in ("view", "click", "cart_add", "purchase")]
    model = Recommender(dataclasses.replace(CONFIGS["default"], fit_blend=False)).fit(
        catalog(), events(rows)
    )
    n1 = model.scorer.state.product_index["N1"]
    assert model.scorer.pop[n1] == 0.0 and model.scorer.new[n1] == 0.0
    assert trending(model) == ["A1"]
