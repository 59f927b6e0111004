"""From events to the matrices every model trains on.

prepare_events maps ids to indices and keeps known products and types; build_state turns the
prepared events into customer x product matrices (strengths, purchases, strongest event type),
category one-hots and first-seen ages. Nothing here knows a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.config import EngineConfig
from engine.data import Catalog, Events
from engine.events import EVENT_WEIGHTS, FULL_WEIGHT, PURCHASE, TYPE_CODES


@dataclass(frozen=True)
class PreparedEvents:
    """Events of known products/types; arrays (n,); age_days = days before `now`, >= 0."""

    users: np.ndarray
    items: np.ndarray
    codes: np.ndarray
    weights: np.ndarray
    age_days: np.ndarray

    def select(self, mask: np.ndarray) -> PreparedEvents:
        """Subset, same order."""
        return PreparedEvents(
            self.users[mask],
            self.items[mask],
            self.codes[mask],
            self.weights[mask],
            self.age_days[mask],
        )

    @staticmethod
    def empty() -> PreparedEvents:
        """Zero events."""
        none = np.zeros(0, dtype=np.int64)
        return PreparedEvents(np.zeros(0, dtype="<U1"), none, none, none * 1.0, none * 1.0)


def prepare_events(
    events: Events,
    product_index: dict[str, int],
    now: np.datetime64,
    window_days: float | None,
    max_idle_days: float | None = None,
) -> PreparedEvents:
    """Map ids to indices; drop unknown products/types, future events, events outside the window.

    With `max_idle_days`, ages are on the shop clock (`shop_clock_ages`, computed over the kept
    events) and the window applies to those ages.
    """
    n = len(events)
    items = np.fromiter(
        (product_index.get(p, -1) for p in events.product_ids.tolist()), np.int64, n
    )
    codes = np.fromiter((TYPE_CODES.get(t, 0) for t in events.types.tolist()), np.int64, n)
    age = (now - events.timestamps.astype("datetime64[s]")).astype("timedelta64[s]").astype(
        np.float64
    ) / 86400.0
    keep = (items >= 0) & (codes > 0) & (age >= 0)
    if max_idle_days is not None:
        age[keep] = shop_clock_ages(age[keep], max_idle_days)
    if window_days is not None:
        keep &= age <= window_days
    weight_of = np.zeros(max(TYPE_CODES.values()) + 1)
    for name, code in TYPE_CODES.items():
        weight_of[code] = EVENT_WEIGHTS[name]
    codes = codes[keep]
    return PreparedEvents(
        events.user_ids[keep].astype(str), items[keep], codes, weight_of[codes], age[keep]
    )


def decay(age_days: np.ndarray, half_life: float | None) -> np.ndarray:
    """2^(-age / half_life) per event; ones when half_life is None or 0."""
    return np.ones_like(age_days) if not half_life else np.exp2(-age_days / half_life)


def shop_clock_ages(age_days: np.ndarray, max_idle_days: float | None) -> np.ndarray:
    """(n,) ages in days on a clock that stops while the shop is idle: every gap between
    consecutive distinct event times (and between the newest event and now) longer than
    `max_idle_days` counts as `max_idle_days`. Order is kept; ages stay >= 0; None = wall clock.
    """
    if max_idle_days is None or len(age_days) == 0:
        return age_days
    times, inverse = np.unique(age_days, return_inverse=True)  # ascending age: newest first
    gaps = np.diff(times, prepend=0.0)
    return np.cumsum(np.minimum(gaps, max_idle_days))[inverse.reshape(-1)]


def csr(
    users: np.ndarray, items: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """(shape) float64 csr with duplicates summed and indices sorted."""
    mat = sp.csr_matrix((values.astype(np.float64), (users, items)), shape=shape)
    mat.sum_duplicates()
    mat.sort_indices()
    return mat


def profile_matrix(strengths: sp.csr_matrix) -> sp.csr_matrix:
    """Model input P = min(strength / purchase weight, 1): one purchase = 1, a view = 0.2."""
    p = strengths.copy()
    p.data = np.minimum(p.data / FULL_WEIGHT, 1.0)
    return p


@dataclass(frozen=True)
class TrainingState:
    """What the models and rules read, for n customers x m products; read-only.

    strengths (n x m): decayed event weights; purchased (n x m): 1 where bought; kinds (n x m):
    the highest event code per (customer, product); category_codes (m,): index into
    category_names or -1; first_seen_age (m,): days since a product's first event (inf: none).
    """

    config: EngineConfig
    catalog: Catalog
    product_index: dict[str, int]
    user_ids: np.ndarray
    user_index: dict[str, int]
    strengths: sp.csr_matrix
    purchased: sp.csr_matrix
    kinds: sp.csr_matrix
    category_codes: np.ndarray
    category_names: np.ndarray
    category_onehot: sp.csr_matrix
    first_seen_age: np.ndarray
    prepared: PreparedEvents
    event_customers: np.ndarray
    now: np.datetime64

    def gram_input(self) -> sp.csr_matrix:
        """(n x m) sqrt(min(decayed weight / purchase weight, 1)) for item-item Gram matrices,
        decayed with the config's gram half-life."""
        prep = self.prepared
        g = csr(
            self.event_customers,
            prep.items,
            prep.weights / FULL_WEIGHT * decay(prep.age_days, self.config.gram_half_life_days),
            self.strengths.shape,
        )
        g.data = np.sqrt(np.minimum(g.data, 1.0))
        return g


def build_state(
    config: EngineConfig,
    catalog: Catalog,
    prep: PreparedEvents,
    now: np.datetime64,
    product_index: dict[str, int],
) -> TrainingState:
    """The customer x product matrices and product facts of prepared events."""
    m = len(catalog)
    user_ids, uinv = np.unique(prep.users, return_inverse=True)
    n = len(user_ids)
    strengths = csr(
        uinv,
        prep.items,
        prep.weights * decay(prep.age_days, config.profile_half_life_days),
        (n, m),
    )
    is_purchase = prep.codes == TYPE_CODES[PURCHASE]
    purchased = csr(
        uinv[is_purchase], prep.items[is_purchase], np.ones(int(is_purchase.sum())), (n, m)
    )
    purchased.data[:] = 1.0
    order = np.lexsort((prep.codes, prep.items, uinv))
    last = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        key_u, key_i = uinv[order], prep.items[order]
        last[:-1] = (key_u[1:] != key_u[:-1]) | (key_i[1:] != key_i[:-1])
    sel = order[last]
    kinds = csr(uinv[sel], prep.items[sel], prep.codes[sel].astype(np.float64), (n, m))

    names, codes = np.unique(catalog.categories, return_inverse=True)
    codes = codes.astype(np.int64)
    if len(names) and names[0] == "":
        codes = codes - 1
        names = names[1:]
    has = codes >= 0
    onehot = sp.csr_matrix(
        (np.ones(int(has.sum())), (np.flatnonzero(has), codes[has])), shape=(m, max(len(names), 1))
    )
    first_seen = np.full(m, -np.inf)
    np.maximum.at(first_seen, prep.items, prep.age_days)
    first_seen[np.isneginf(first_seen)] = np.inf
    return TrainingState(
        config=config,
        catalog=catalog,
        product_index=product_index,
        user_ids=user_ids,
        user_index={u: i for i, u in enumerate(user_ids.tolist())},
        strengths=strengths,
        purchased=purchased,
        kinds=kinds,
        category_codes=codes,
        category_names=names,
        category_onehot=onehot,
        first_seen_age=first_seen,
        prepared=prep,
        event_customers=uinv.astype(np.int64),
        now=now,
    )
