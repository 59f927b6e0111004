"""Shop-wide product signals: evidence from distinct customers, popularity, trending, newness.

One counting rule feeds every shop-wide signal: each customer counts once per product per
window (`CustomerEvidence`). From it come the blend's decayed popularity (m,) and the
shop-facing trending score (m,): a long-term prior (decayed distinct customers per day) plus the
latest window's distinct customers, each gated by a minimum number of distinct customers, so a
handful of customers cannot define what is popular.

Ages are days on the shop clock (`shop_clock_ages`): idle gaps longer than a few days count as
that many days, so a history imported from years ago is "recent" when the first live event
arrives instead of decaying to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.training import decay


def activity_anchor(
    customers: np.ndarray,
    items: np.ndarray,
    age_days: np.ndarray,
    min_customers: int,
    window_days: float,
) -> float:
    """Age in days of the newest event with evidence behind it: an event whose product had at
    least `min_customers` distinct customers in the same window (windows of `window_days`
    counted from the oldest event, so appending events never moves older windows). Arrays (n,);
    0 when no window of any product has that many customers.

    Trending measures time from here and leaves out newer events, so events that are no
    evidence (one or two customers clicking around after a quiet night, or after an imported
    history) neither move "now" nor join the latest window.
    """
    if len(age_days) == 0 or min_customers <= 1:
        return 0.0
    window = np.floor((age_days.max() - age_days) / window_days).astype(np.int64)
    order = np.lexsort((customers, window, items))
    i, w, c, a = items[order], window[order], customers[order], age_days[order]
    group = np.concatenate(([True], (i[1:] != i[:-1]) | (w[1:] != w[:-1])))
    new_customer = group | np.concatenate(([True], c[1:] != c[:-1]))
    group_id = np.cumsum(group) - 1
    distinct = np.bincount(group_id, weights=new_customer)
    backed = distinct[group_id] >= min_customers
    return float(a[backed].min()) if backed.any() else 0.0


@dataclass(frozen=True)
class CustomerEvidence:
    """Events reduced to one row per (customer, product, window): arrays (r,).

    customers: integer customer codes; items: product indices; weights: the strongest event's
    weight in the window as a share of a purchase (view 0.2 .. purchase 1.0); age_days: age of
    the newest event in the window; window: 0 = the latest `window_days`, 1 the one before, ...
    """

    customers: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    age_days: np.ndarray
    window: np.ndarray
    window_days: float

    @staticmethod
    def count(
        customers: np.ndarray,
        items: np.ndarray,
        weights: np.ndarray,
        age_days: np.ndarray,
        window_days: float,
    ) -> CustomerEvidence:
        """Reduce events (arrays (n,): integer customer codes, product indices, weights as a
        share of a purchase, ages in days) to one row per customer, product and window."""
        window = np.floor(age_days / window_days).astype(np.int64)
        if len(items) == 0:
            return CustomerEvidence(customers, items, weights, age_days, window, window_days)
        order = np.lexsort((window, items, customers))
        c, i, w = customers[order], items[order], window[order]
        starts = np.flatnonzero(
            np.concatenate(([True], (c[1:] != c[:-1]) | (i[1:] != i[:-1]) | (w[1:] != w[:-1])))
        )
        return CustomerEvidence(
            customers=c[starts],
            items=i[starts],
            weights=np.maximum.reduceat(weights[order], starts),
            age_days=np.minimum.reduceat(age_days[order], starts),
            window=w[starts],
            window_days=window_days,
        )

    def customers_per_product(self, m: int, max_age_days: float | None = None) -> np.ndarray:
        """(m,) int: distinct customers with an event on each product at most `max_age_days`
        old (None: any age)."""
        keep = self.age_days <= (np.inf if max_age_days is None else max_age_days)
        pairs = np.unique(self.customers[keep].astype(np.int64) * m + self.items[keep])
        return np.bincount(pairs % m, minlength=m) if m else np.zeros(0, np.int64)

    def decayed_sum(self, half_life: float | None, m: int) -> np.ndarray:
        """(m,) sum over rows of weight * 2^(-age / half_life): customer-windows, decayed."""
        return np.bincount(
            self.items, weights=self.weights * decay(self.age_days, half_life), minlength=m
        )

    def supported(self, m: int, min_customers: int, support_days: float | None) -> np.ndarray:
        """(m,) bool: products with >= `min_customers` distinct customers within `support_days`."""
        return self.customers_per_product(m, support_days) >= min_customers

    def popularity(
        self, half_life: float | None, m: int, supported: np.ndarray | None = None
    ) -> np.ndarray:
        """(m,) log1p(10 * decayed customer-windows) scaled so the max is 1 (0 without events,
        and 0 outside the bool mask `supported` when given)."""
        p = np.log1p(10.0 * self.decayed_sum(half_life, m))
        if supported is not None:
            p = np.where(supported, p, 0.0)
        top = p.max() if len(p) else 0.0
        return p / top if top > 0 else p


def trending_rate(
    evidence: CustomerEvidence,
    m: int,
    min_customers: int,
    prior_half_life_days: float,
    support_days: float,
) -> np.ndarray:
    """(m,) customers per day behind each product, 0 where fewer than `min_customers` distinct
    customers bought, carted or looked at it within `support_days` (days on the shop clock).

    rate = prior + recent: prior = decayed customer-windows * ln 2 / half-life (an exponential
    average per day); recent = customer weights in the latest window / window length, counted
    only with >= min_customers distinct customers in that window. A product bought today by
    many customers rises within the window; a few clicks move nothing.
    """
    if m == 0:
        return np.zeros(0)
    hl = prior_half_life_days
    prior = evidence.decayed_sum(hl, m) * np.log(2.0) / hl
    latest = evidence.window == 0
    recent_customers = np.bincount(evidence.items[latest], minlength=m)
    recent = np.bincount(evidence.items[latest], weights=evidence.weights[latest], minlength=m)
    recent = np.where(recent_customers >= min_customers, recent / evidence.window_days, 0.0)
    supported = evidence.supported(m, min_customers, support_days)
    return np.where(supported, prior + recent, 0.0)


def decayed_popularity(
    items: np.ndarray, weights: np.ndarray, age_days: np.ndarray, half_life: float | None, m: int
) -> np.ndarray:
    """(m,) log1p(10 * sum of decayed event weights) scaled so the max is 1 (0 when no events).

    Counts events, not customers: one customer's clicks add up. Shop-facing signals and the
    blend use `CustomerEvidence` instead; this stays for models that want raw event volume.
    """
    p = np.log1p(
        10.0 * np.bincount(items, weights=weights * decay(age_days, half_life), minlength=m)
    )
    top = p.max() if len(p) else 0.0
    return p / top if top > 0 else p


def newness(first_seen_age_days: np.ndarray, half_life: float) -> np.ndarray:
    """(m,) 2^(-age of first event / half-life); 0 for products without events (age = inf)."""
    with np.errstate(over="ignore"):
        return np.where(
            np.isfinite(first_seen_age_days),
            np.exp2(-np.minimum(first_seen_age_days, 1e6) / half_life),
            0.0,
        )
