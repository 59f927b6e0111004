"""Trending on the demo data before and after the events of issue 15's "Done when".

Fits the default config on the whole demo history (Online Retail, 2010-12..2011-12), as the
trainer does after `recommender demo`, then adds live events dated today and refits:
1. two new customers view and click ten obscure products (one customer each in the history)
   within one minute, 30 events: the trending list should not change;
2. then `--buyers` different customers of the history each buy one obscure product within three
   hours: it should move up.
Also checks that a new customer's "Recommended for you" (cold start) is the trending list.
Prints one JSON line: the lists (product names) and the bought product's rank before/after.
Usage: python -m bench.trending [DATA_DIR] [--buyers 12] [--min-customers 3] [--now ISO]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import CONFIGS, Catalog, Events, Recommender, load_dataset  # noqa: E402

DEFAULT_DIR = ROOT.parent / "shared" / "datasets" / "online-retail"


def concat(a: Events, b: Events) -> Events:
    """a's events followed by b's."""
    return Events(
        *(
            np.concatenate([getattr(a, f.name), getattr(b, f.name)])
            for f in dataclasses.fields(Events)
        )
    )


def obscure_products(catalog: Catalog, events: Events, count: int) -> list[str]:
    """`count` products with exactly one customer in `events`, by id (deterministic)."""
    pairs = np.unique(np.stack([events.product_ids, events.user_ids]), axis=1)
    ids, customers = np.unique(pairs[0], return_counts=True)
    known = set(catalog.product_ids.tolist())
    return [p for p in sorted(ids[customers == 1].tolist()) if p in known][:count]


def ranked(model: Recommender, k: int) -> list[str]:
    """Product ids of the top-k trending list."""
    return [pid for pid, _ in model.trending(k)]


def main() -> int:
    """Run the scenario and print its JSON line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("directory", nargs="?", default=str(DEFAULT_DIR))
    p.add_argument("--buyers", type=int, default=12)
    p.add_argument("--min-customers", type=int, default=None)
    p.add_argument("--now", default="2026-12-02T10:00:00", help="when the live events happen")
    p.add_argument("--k", type=int, default=10)
    a = p.parse_args()
    config = CONFIGS["default"]
    if a.min_customers is not None:
        config = dataclasses.replace(config, trend_min_customers=a.min_customers)
    catalog, history = load_dataset(a.directory)
    start = np.datetime64(a.now, "s")
    started = time.perf_counter()

    def fit(events: Events) -> Recommender:
        return Recommender(config).fit(catalog, events)

    base = fit(history)
    before = ranked(base, a.k)
    cold = [r.product_id for r in base.recommend("someone-new", k=a.k)]

    picks = obscure_products(catalog, history, 11)
    clicked, bought = picks[:10], picks[10]
    clicks: list[tuple[str, str, str, np.datetime64]] = []
    for c, customer in enumerate(("test-customer-a", "test-customer-b")):
        for n, product in enumerate(clicked):
            at = start + np.timedelta64(c * 2 + n * 5, "s")
            clicks.append((customer, product, "click", at))
            if n % 2 == c:
                clicks.append((customer, product, "view", at + np.timedelta64(1, "s")))
    after_clicks_events = concat(history, Events.from_records(clicks))
    after_clicks = fit(after_clicks_events)
    listed_clicks = ranked(after_clicks, a.k)

    regulars = sorted(set(history.user_ids.tolist()))[: a.buyers]
    purchases = [
        (customer, bought, "purchase", start + np.timedelta64(600 + 900 * i, "s"))
        for i, customer in enumerate(regulars)
    ]
    after_buys = fit(concat(after_clicks_events, Events.from_records(purchases)))
    listed_buys = ranked(after_buys, a.k)
    everything = [pid for pid, _ in after_buys.trending(len(catalog))]
    before_all = [pid for pid, _ in after_clicks.trending(len(catalog))]

    def names(ids: list[str]) -> list[str]:
        return [f"{pid} {name}" for pid, name in zip(ids, base.names(ids), strict=True)]

    print(
        json.dumps(
            {
                "dataset": Path(a.directory).name,
                "history_events": len(history),
                "live_click_events": len(clicks),
                "live_purchases": len(purchases),
                "min_customers": config.trend_min_customers,
                "before": names(before),
                "cold_start_is_trending": cold == before,
                "after_two_customers_click_ten_obscure_products": names(listed_clicks),
                "unchanged_by_clicks": listed_clicks == before,
                "clicked_products_in_top": sorted(set(clicked) & set(listed_clicks)),
                "after_many_customers_buy_one_product": names(listed_buys),
                "bought_product": names([bought])[0],
                "bought_rank_before": before_all.index(bought) + 1
                if bought in before_all
                else None,
                "bought_rank_after": everything.index(bought) + 1 if bought in everything else None,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
