"""The blend: per-customer model scores, shop-wide trend, then the business rules.

Final score of product i for customer u (before normalisation):
    s = (w_cf * cf_n + w_content * content_n + w_pop * pop + w_new * new) * (1 + boost * preferred)
cf_n / content_n are the customer's model scores divided by their maximum over the catalog;
pop / new are time-decayed popularity (customers once per product per day) and product newness
in [0, 1], both 0 for products with fewer than `trend_min_customers` distinct customers.
Customers without a profile get the shop-facing trending list (`fallback`, `cold_start`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.config import BlendWeights
from engine.events import FULL_WEIGHT
from engine.models import Profiles, ScoringModel
from engine.models.trend import CustomerEvidence, activity_anchor, newness, trending_rate
from engine.rules import Picker, preferred_categories
from engine.training import TrainingState


def customer_evidence(state: TrainingState, anchored: bool = False) -> CustomerEvidence:
    """The state's events counted once per customer, product and `trend_window_days`; ages
    from the state's `now`, or with `anchored` from the newest event with evidence behind it
    (`activity_anchor`: its product had `trend_min_customers` distinct customers in its
    window). Newer events are left out when anchored: they are no evidence yet (they count once
    some product reaches the minimum again; in a busy shop that is seconds)."""
    prep = state.prepared
    customers = state.event_customers
    items, weights, ages = prep.items, prep.weights / FULL_WEIGHT, prep.age_days
    if anchored:
        cfg = state.config
        anchor = activity_anchor(
            customers, items, ages, cfg.trend_min_customers, cfg.trend_window_days
        )
        keep = ages >= anchor
        customers, items, weights, ages = (
            customers[keep],
            items[keep],
            weights[keep],
            ages[keep] - anchor,
        )
    return CustomerEvidence.count(customers, items, weights, ages, state.config.trend_window_days)


@dataclass(frozen=True)
class ShopEvidence:
    """What a Scorer reads of a state's events whatever its blend weights: customer-window
    counts (`customer_evidence`), supported (m,) bool (>= trend_min_customers distinct customers
    within trend_support_days) and fallback (m,) float32 (`trending_rate`, top scaled to 1).
    Scorers of one state with different weights share it (blend fitting, the ranker windows)."""

    counted: CustomerEvidence
    supported: np.ndarray
    fallback: np.ndarray


def shop_evidence(state: TrainingState) -> ShopEvidence:
    """The ShopEvidence of `state`."""
    cfg = state.config
    m = len(state.catalog)
    counted = customer_evidence(state)
    rate = trending_rate(
        customer_evidence(state, anchored=True),
        m,
        cfg.trend_min_customers,
        cfg.trend_prior_half_life_days,
        cfg.trend_support_days,
    )
    top = rate.max() if m else 0.0
    return ShopEvidence(
        counted=counted,
        supported=counted.supported(m, cfg.trend_min_customers, cfg.trend_support_days),
        fallback=(rate / top if top > 0 else rate).astype(np.float32),
    )


def row_normalise(x: np.ndarray) -> np.ndarray:
    """Divide each row of `x` (in place) by its maximum when positive; returns `x`."""
    top = x.max(axis=1, keepdims=True) if x.shape[1] else np.zeros((x.shape[0], 1))
    x /= np.where(top > 0, top, 1.0)
    return x


def normalised(model: ScoringModel | None, weight: float, batch: Profiles) -> np.ndarray:
    """(b x m) float32 model scores clipped at 0 and max-normalised per row; zeros when the model
    is absent or has no weight in the blend."""
    b, m = batch.profiles.shape
    if model is None or not weight:
        return np.zeros((b, m), dtype=np.float32)
    raw = model.score(batch)
    raw = np.maximum(raw, 0.0, out=raw).astype(np.float32, copy=False)
    return row_normalise(raw)


class Scorer:
    """Blended scores with business rules for a fitted state, its models and blend weights.

    pop, new (m,): the blend's trend parts (popularity of customer-windows, newness); fallback
    (m,) float32: the shop-facing trending score (`trending_rate` scaled to a top of 1; 0 = not
    trending: too few distinct customers), also the list of customers without a profile;
    trend_part (m,): w_pop * pop + w_new * new; trend_vector (m,)
    float32: trend_part plus a tiny share of fallback that breaks ties. Read-only. evidence:
    shop_evidence(state) when already computed.
    """

    def __init__(
        self,
        state: TrainingState,
        cf: ScoringModel | None,
        content: ScoringModel | None,
        blend: BlendWeights,
        evidence: ShopEvidence | None = None,
    ) -> None:
        self.state = state
        self.blend = blend
        self.cf = cf
        if cf is not None and cf.tunes_popularity_exponent:
            if blend.cf_popularity_exponent != state.config.blend.cf_popularity_exponent:
                self.cf = cf.with_popularity_exponent(blend.cf_popularity_exponent)
        self.content = content
        m = len(state.catalog)
        shop = evidence if evidence is not None else shop_evidence(state)
        supported = shop.supported
        self.pop = shop.counted.popularity(blend.popularity_half_life_days, m, supported)
        self.new = (
            newness(state.first_seen_age, blend.newness_half_life_days) * supported
            if blend.newness
            else np.zeros(m)
        )
        self.fallback = shop.fallback
        self.trend_part = blend.popularity * self.pop + blend.newness * self.new
        self.trend_vector = (self.trend_part + 1e-6 * self.fallback).astype(np.float32)
        self.picker = Picker(state.category_codes, state.config.max_per_category)

    @property
    def cold_start(self) -> np.ndarray:
        """(m,) float32 scores of a customer without a profile: the trending list first
        (`fallback`), then the other products by their popularity (a millionth of a point)."""
        return (self.fallback + np.float32(1e-6) * self.pop).astype(np.float32)

    def components(self, batch: Profiles) -> tuple[np.ndarray, np.ndarray]:
        """(cf_n, content_n), each (b x m) float32 in [0, 1], per-customer max-normalised."""
        return (
            normalised(self.cf, self.blend.cf, batch),
            normalised(self.content, self.blend.content, batch),
        )

    def preferred(self, strengths: sp.csr_matrix) -> np.ndarray:
        """(b x C) bool: each customer's preferred categories."""
        return preferred_categories(strengths, self.state.category_onehot, self.state.config)

    def scores(
        self,
        batch: Profiles,
        excluded: sp.csr_matrix,
        category: str | None = None,
        keep_parts: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(final scores, -inf = not a candidate; cf_n; content_n; boosted mask), each (b x m).

        With keep_parts=False the cf_n / content_n arrays are overwritten (batch scoring).
        """
        bw = self.blend
        cf, ct = self.components(batch)
        w_cf, w_ct = np.float32(bw.cf), np.float32(bw.content)
        base = cf * w_cf if keep_parts else np.multiply(cf, w_cf, out=cf)
        base += ct * w_ct if keep_parts else np.multiply(ct, w_ct, out=ct)
        base += self.trend_vector[None, :]
        empty = np.flatnonzero(np.diff(batch.profiles.indptr) == 0)
        if len(empty):
            base[empty] = self.cold_start[None, :]
        boosted = np.zeros((0, 0), dtype=bool)
        cfg = self.state.config
        if cfg.category_boost and len(self.state.category_names):
            pref = self.preferred(batch.strengths)
            codes = self.state.category_codes
            table = np.ones((pref.shape[0], pref.shape[1] + 1), dtype=np.float32)
            table[:, :-1] += np.float32(cfg.category_boost) * pref
            base *= np.take(table, codes, axis=1)
            if keep_parts:
                boosted = np.take(np.hstack([pref, np.zeros((len(pref), 1), bool)]), codes, axis=1)
        base[excluded.nonzero()] = -np.inf
        if category is not None:
            base[:, self.state.catalog.categories != category] = -np.inf
        if boosted.shape != base.shape:
            boosted = np.zeros(base.shape, dtype=bool)
        return base, cf, ct, boosted
