"""Features of (customer, candidate product) pairs for the learned ranker (engine/ranking.py).

RankingFacts holds what the features read besides the blend's own scores: per-product and
per-customer facts and the customers' last baskets, all computed from one TrainingState (the
sub-state before the ranker's window at training time, the full state when serving), so that a
feature means the same thing in both. Times are in days before the state's `now`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.events import FULL_WEIGHT
from engine.models.trend import decayed_popularity, newness
from engine.training import TrainingState

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "blend": ("blend_score", "blend_rank"),
    "parts": ("cf_score", "cf_rank", "content_score", "content_rank"),
    "popularity": ("pop_7d", "pop_30d", "pop_long"),
    "age": ("age_days", "newness_60d"),
    "price": ("log_price", "price_vs_usual"),
    "category": ("category_share", "preferred_category"),
    "customer": ("recency_days", "active_days", "basket_size", "distinct_products"),
    "co_purchase": ("co_purchase_last", "co_purchase_last_raw"),
}
FEATURES: tuple[str, ...] = tuple(f for group in FEATURE_GROUPS.values() for f in group)
_PRODUCT = ("pop_7d", "pop_30d", "pop_long", "age_days", "newness_60d", "log_price")
_CUSTOMER = ("recency_days", "active_days", "basket_size", "distinct_products", "usual_log_price")
_UNKNOWN_CUSTOMER = np.array([3650.0, 0.0, 0.0, 0.0, np.nan], dtype=np.float32)
MAX_AGE_DAYS = 3650.0
_CO_CELLS = 4_000_000


@dataclass(frozen=True)
class RankingFacts:
    """Facts of n customers x m products; read-only.

    product (m x 6) float32: columns _PRODUCT (popularity in [0, 1] or log counts, age in days
    capped at MAX_AGE_DAYS, log price; NaN price -> NaN). customer (n x 5) float32: columns
    _CUSTOMER (days since last event, log1p active days, events per active day, log1p distinct
    products, event-weighted mean log price, NaN without prices). last_items (n x m) csr: 1 on
    the products of each customer's last active day. users_items (n x m) / items_users (m x n)
    csr float32: 1 where a customer had any event on a product.
    """

    product: np.ndarray
    customer: np.ndarray
    last_items: sp.csr_matrix
    users_items: sp.csr_matrix
    items_users: sp.csr_matrix

    def problems(self, n: int, m: int) -> list[str]:
        """Where these arrays disagree with n customers x m products."""
        out = []
        if self.product.shape != (m, len(_PRODUCT)):
            out.append(f"ranking product facts are {self.product.shape}, not {(m, len(_PRODUCT))}")
        if self.customer.shape != (n, len(_CUSTOMER)):
            out.append(f"ranking customer facts are {self.customer.shape}, not {(n, 5)}")
        for name, shape in (
            ("last_items", (n, m)),
            ("users_items", (n, m)),
            ("items_users", (m, n)),
        ):
            if getattr(self, name).shape != shape:
                out.append(f"ranking {name} is {getattr(self, name).shape}, not {shape}")
        return out


def build_facts(state: TrainingState) -> RankingFacts:
    """The ranking facts of `state` (its prepared events, catalog and matrices)."""
    prep = state.prepared
    m = len(state.catalog)
    n = len(state.user_ids)
    w = prep.weights / FULL_WEIGHT
    binary = state.strengths.copy().astype(np.float32)
    binary.data[:] = 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_price = np.where(
            state.catalog.prices > 0, np.log(state.catalog.prices.astype(np.float64)), np.nan
        )
    product = np.column_stack(
        [
            decayed_popularity(prep.items, w, prep.age_days, 7.0, m),
            decayed_popularity(prep.items, w, prep.age_days, 30.0, m),
            np.log1p(np.asarray(binary.sum(0)).ravel()),
            np.minimum(state.first_seen_age, MAX_AGE_DAYS),
            newness(state.first_seen_age, 60.0),
            log_price,
        ]
    ).astype(np.float32)
    uinv = state.event_customers
    last_age = np.full(n, np.inf)
    np.minimum.at(last_age, uinv, prep.age_days)
    day = np.floor(prep.age_days).astype(np.int64)
    pairs = np.unique(uinv * (int(day.max(initial=0)) + 1) + day)
    active = np.bincount(pairs // (int(day.max(initial=0)) + 1), minlength=n)
    events = np.bincount(uinv, minlength=n)
    distinct = np.diff(binary.indptr)
    known = np.isfinite(log_price)
    priced = state.strengths @ sp.diags(known.astype(np.float64))
    total = np.asarray(priced.sum(1)).ravel()
    usual = (priced @ np.where(known, log_price, 0.0)) / np.where(total > 0, total, np.nan)
    customer = np.column_stack(
        [
            np.minimum(last_age, MAX_AGE_DAYS),
            np.log1p(active),
            events / np.maximum(active, 1),
            np.log1p(distinct),
            usual,
        ]
    ).astype(np.float32)
    recent = prep.age_days <= last_age[uinv] + 1.0
    last = sp.csr_matrix(
        (np.ones(int(recent.sum()), np.float32), (uinv[recent], prep.items[recent])), shape=(n, m)
    )
    last.sum_duplicates()
    last.data[:] = 1.0
    return RankingFacts(
        product=product,
        customer=customer,
        last_items=last,
        users_items=binary,
        items_users=binary.T.tocsr(),
    )


def co_purchase_counts(
    last_items: sp.csr_matrix, facts: RankingFacts, cols: np.ndarray
) -> np.ndarray:
    """(b x c) float32: ((last_items @ items_users) @ users_items)[u, cols[u, j]] for the b
    customers' last baskets (last_items, b x m, 0/1) and candidates cols (b x c): per basket
    product, the customers who touched it and the candidate. Integer counts, exact.

    Two ways, the cheaper for the batch: through the co-occurrence rows of the batch's
    distinct basket products (work: the events of their customers), or through each
    customer's co-customer counts dotted with the candidates' customers (work: the candidates'
    customers; customers in chunks of _CO_CELLS / n dense rows). Baskets of a few products
    favour the first, baskets of many popular products the second.
    """
    b, c = cols.shape
    iu, ui = facts.items_users, facts.users_items
    basket = sp.csr_matrix(last_items, dtype=np.float32)
    products, inverse = np.unique(basket.indices, return_inverse=True)
    customers = iu[products]
    via_products = float((customers @ np.diff(ui.indptr).astype(np.float64)).sum())
    via_candidates = float(np.diff(iu.indptr)[cols].sum()) + b * iu.shape[1]
    if via_products + b * len(products) <= via_candidates:
        compact = sp.csr_matrix(
            (basket.data, inverse.ravel(), basket.indptr), shape=(b, len(products))
        )
        return np.take_along_axis((compact @ (customers @ ui)).toarray(), cols, 1)
    out = np.empty((b, c), dtype=np.float32)
    step = max(1, _CO_CELLS // max(iu.shape[1], 1))
    for s in range(0, b, step):
        e = min(s + step, b)
        co = (basket[s:e] @ iu).toarray()
        cand = iu[cols[s:e].ravel()]
        pair = np.repeat(np.arange(cand.shape[0]), np.diff(cand.indptr))
        counts = cand.data * co[pair // c, cand.indices]
        out[s:e] = np.bincount(pair, weights=counts, minlength=cand.shape[0]).reshape(e - s, c)
    return out


def _ranks(values: np.ndarray) -> np.ndarray:
    """(b x c) float32 rank of each value within its row, 0 = largest."""
    order = np.argsort(-values, axis=1, kind="stable")
    out = np.empty(values.shape, dtype=np.float32)
    np.put_along_axis(out, order, np.arange(values.shape[1], dtype=np.float32)[None, :], 1)
    return out


def feature_block(
    facts: RankingFacts,
    state: TrainingState,
    rows: np.ndarray,
    strengths: sp.csr_matrix,
    cols: np.ndarray,
    final: np.ndarray,
    cf: np.ndarray,
    content: np.ndarray,
    preferred: np.ndarray | None,
    last_items: sp.csr_matrix | None = None,
) -> np.ndarray:
    """(b x c x len(FEATURES)) float32 features of b customers' c candidates `cols` (b x c).

    rows (b,): customer rows in `facts` / `state` or -1; strengths (b x m): their event
    strengths (fold-in included); final / cf / content (b x m): the blend's score and its
    normalised parts; preferred (b x C) bool or None; last_items (b x m) overrides the stored
    last baskets (fold-in). Missing values (no price) are NaN.
    """
    b, c = cols.shape
    take = np.take_along_axis
    blend_s = take(final, cols, 1).astype(np.float32)
    cf_s = take(cf, cols, 1).astype(np.float32)
    ct_s = take(content, cols, 1).astype(np.float32)
    prod = facts.product[cols]
    cust = np.where(
        (rows >= 0)[:, None], facts.customer[np.maximum(rows, 0)], _UNKNOWN_CUSTOMER[None, :]
    ).astype(np.float32)
    codes = state.category_codes[cols]
    if state.category_onehot.shape[1] and strengths.nnz:
        cat = (strengths @ state.category_onehot).toarray()
        cat /= np.maximum(cat.sum(1, keepdims=True), 1e-12)
        share = np.where(codes >= 0, take(cat, np.maximum(codes, 0), 1), 0.0)
    else:
        share = np.zeros((b, c))
    if preferred is not None and preferred.shape[1]:
        pref = (codes >= 0) & take(preferred, np.maximum(codes, 0), 1)
    else:
        pref = np.zeros((b, c), dtype=bool)
    if last_items is None:
        picked = np.maximum(rows, 0)
        last_items = facts.last_items[picked].multiply((rows >= 0)[:, None]).tocsr()
    raw_c = co_purchase_counts(last_items, facts, cols)
    size = np.maximum(np.diff(last_items.indptr), 1)[:, None]
    degree = np.expm1(prod[:, :, 2])
    co = raw_c / (size * np.sqrt(degree + 1.0))
    out = np.empty((b, c, len(FEATURES)), dtype=np.float32)
    columns = {
        "blend_score": blend_s,
        "blend_rank": _ranks(blend_s),
        "cf_score": cf_s,
        "cf_rank": _ranks(cf_s),
        "content_score": ct_s,
        "content_rank": _ranks(ct_s),
        "pop_7d": prod[:, :, 0],
        "pop_30d": prod[:, :, 1],
        "pop_long": prod[:, :, 2],
        "age_days": prod[:, :, 3],
        "newness_60d": prod[:, :, 4],
        "log_price": prod[:, :, 5],
        "price_vs_usual": prod[:, :, 5] - cust[:, 4:5],
        "category_share": share,
        "preferred_category": pref,
        "recency_days": np.broadcast_to(cust[:, 0:1], (b, c)),
        "active_days": np.broadcast_to(cust[:, 1:2], (b, c)),
        "basket_size": np.broadcast_to(cust[:, 2:3], (b, c)),
        "distinct_products": np.broadcast_to(cust[:, 3:4], (b, c)),
        "co_purchase_last": co,
        "co_purchase_last_raw": np.log1p(raw_c),
    }
    for j, name in enumerate(FEATURES):
        out[:, :, j] = columns[name]
    return out
